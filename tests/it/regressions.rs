//! Inputs that once went wrong, kept as tests so they stay right.

use oemr_doctor::db::clients::{ClientSelector, UpdateError};

use crate::support::{closed_port, doctor, insert_client, scope_of, TestDb};

fn run(cmd: &mut assert_cmd::Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), all)
}

#[tokio::test]
async fn lowercase_standard_api_system_scopes_are_refused() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "good", "svc", "openid api:fhir", true).await;
    let (code, out) = run(doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "good",
            "--add",
            "system/patient.read",
            "--apply",
        ])
        .args(["--db-url", &db.url]));
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("system/patient.read") && out.contains("\"system/Patient.read\""),
        "{out}"
    );
    assert_eq!(
        scope_of(&db.pool, "good").await.as_deref(),
        Some("openid api:fhir")
    );
}

#[tokio::test]
async fn a_concurrent_edit_of_only_letter_case_is_still_a_conflict() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "good", "svc", "openid system/patient.read", true).await;
    let database = db.database().await;
    let before = database
        .find_client(&ClientSelector::Id("good".into()))
        .await
        .unwrap();
    let mut after = before.clone();
    after.scope = Some("openid system/patient.read system/Encounter.read".into());
    sqlx::query(
        "UPDATE oauth_clients SET scope = 'openid system/Patient.read' WHERE client_id = 'good'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let result = database.update_client(&before, &after).await;
    assert!(
        matches!(result, Err(UpdateError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(
        scope_of(&db.pool, "good").await.as_deref(),
        Some("openid system/Patient.read")
    );
}

#[tokio::test]
async fn client_ids_match_exactly() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "good", "svc", "openid", true).await;
    for wrong in ["GOOD", "good "] {
        let (code, out) =
            run(doctor().args(["fix-scopes", "--client-id", wrong, "--db-url", &db.url]));
        assert_eq!(code, 2, "{wrong:?}: {out}");
        assert!(
            out.contains("no client with client id") && out.contains("good  (svc)"),
            "{out}"
        );
    }
}

#[tokio::test]
async fn a_change_that_empties_the_scopes_is_refused_and_odd_scopes_are_warned_about() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "good", "svc", "openid", true).await;
    let (code, out) = run(doctor().args([
        "fix-scopes",
        "--client-id",
        "good",
        "--remove",
        "openid",
        "--apply",
        "--db-url",
        &db.url,
    ]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no registered scopes"), "{out}");
    assert_eq!(scope_of(&db.pool, "good").await.as_deref(), Some("openid"));

    let (code, out) = run(doctor().args([
        "fix-scopes",
        "--client-id",
        "good",
        "--add",
        "patient/Patient.read",
        "--db-url",
        &db.url,
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("warning: \"patient/Patient.read\""), "{out}");
}

#[test]
fn a_base_url_with_credentials_is_refused_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    doctor()
        .args(["keygen", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let base = format!("http://user:pw-4411@127.0.0.1:{}", closed_port());
    let (code, out) = run(doctor()
        .args(["check", "--base-url", &base, "--client-id", "c", "--key"])
        .arg(dir.path().join("private-key.pem")));
    assert_eq!(code, 10, "{out}");
    assert!(out.contains("user name or password"), "{out}");
    assert!(!out.contains("pw-4411"), "{out}");
}

#[test]
fn a_database_url_with_one_slash_is_refused_without_echoing_the_password() {
    let (code, out) = run(doctor().args([
        "fix-scopes",
        "--client-id",
        "good",
        "--db-url",
        "mysql:/someone:pw-5512@127.0.0.1/x",
    ]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no host"), "{out}");
    assert!(!out.contains("pw-5512"), "{out}");
}

#[test]
fn a_site_cannot_climb_out_of_the_sites_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = run(doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "good",
            "--site",
            "../sites/default",
            "--openemr-dir",
        ])
        .arg(dir.path()));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("not a valid OpenEMR site id"), "{out}");
}

fn key_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    crate::support::keygen_into(dir.path());
    dir
}

#[test]
fn a_bad_site_and_a_missing_jwks_file_get_their_own_fixes() {
    let keys = key_dir();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let (code, out) = run(doctor()
        .args([
            "check",
            "--base-url",
            &base,
            "--site",
            "../x",
            "--client-id",
            "c",
            "--key",
        ])
        .arg(keys.path().join("private-key.pem")));
    assert_eq!(code, 10, "{out}");
    assert!(out.contains("fix: pass --site"), "{out}");

    let (_, out) = run(doctor()
        .args(["check", "--base-url", &base, "--client-id", "c", "--key"])
        .arg(keys.path().join("private-key.pem"))
        .args(["--jwks", "/nonexistent/jwks.json"]));
    assert!(out.contains("fix: check the --jwks path"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_glued_by_a_tab_is_named_as_malformed_and_an_empty_site_address_warned() {
    let db = TestDb::new().await;
    let sandbox = crate::e2e::sandbox_on(&db).await;
    let keys = key_dir();
    let jwks = std::fs::read_to_string(keys.path().join("jwks.json")).unwrap();
    crate::support::register_client(
        &db.pool,
        "glued",
        " openid\tsystem/Patient.read\n api:fhir ",
        &jwks,
    )
    .await;
    let check = || {
        let mut cmd = doctor();
        cmd.args([
            "check",
            "--base-url",
            &sandbox.base_url(),
            "--client-id",
            "glued",
            "--key",
        ])
        .arg(keys.path().join("private-key.pem"))
        .env("DATABASE_URL", &db.url);
        run(&mut cmd)
    };
    let (code, out) = check();
    assert_eq!(code, 17, "{out}");
    assert!(
        out.contains("holds system/Patient.read but with malformed separators"),
        "{out}"
    );

    sqlx::query("UPDATE globals SET gl_value = '' WHERE gl_name = 'site_addr_oath'")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE oauth_clients SET scope = 'openid system/Patient.read' WHERE client_id = 'glued'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (code, out) = check();
    assert_eq!(code, 0, "healthy, with a warning:\n{out}");
    assert!(
        out.contains("Site Address (site_addr_oath) is empty"),
        "{out}"
    );
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_cut_off_and_each_exchange_is_logged_at_v() {
    use axum::body::Body;
    // More than the probe reads; a server streaming without end is cut off the same way.
    let app = axum::Router::new().fallback(|| async {
        axum::response::Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(vec![b'['; 5 * 1024 * 1024]))
            .unwrap()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let keys = key_dir();
    let (code, out) = run(doctor()
        .args([
            "-v",
            "check",
            "--base-url",
            &format!("http://{addr}"),
            "--client-id",
            "c",
            "--key",
        ])
        .arg(keys.path().join("private-key.pem")));
    task.abort();
    assert_eq!(code, 13, "{out}");
    assert!(out.contains("sent more than 4 MiB"), "{out}");
    assert!(out.contains("exchange method=GET"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_exchange_is_warned_about_at_the_stage_that_made_it() {
    let app = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
        axum::http::StatusCode::NOT_FOUND
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let keys = key_dir();
    let (code, out) = run(doctor()
        .args([
            "check",
            "--only",
            "discovery",
            "--slow",
            "1",
            "--base-url",
            &format!("http://{addr}"),
        ])
        .args(["--client-id", "c", "--key"])
        .arg(keys.path().join("private-key.pem")));
    task.abort();
    assert_eq!(code, 13, "{out}");
    let discovery = out.split("discovery").nth(1).unwrap_or_default();
    assert!(
        discovery.contains("took 1.3 s to answer (more than 1 s)"),
        "{out}"
    );
}
