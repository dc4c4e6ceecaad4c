//! fix-scopes against a real MariaDB: showing, planning, applying, and refusing.

use oemr_doctor::db::clients::{ClientSelector, UpdateError};

use crate::support::{closed_port, doctor, insert_client, scope_of, TestDb};

fn text(output: &std::process::Output) -> (String, String) {
    let out = String::from_utf8(output.stdout.clone()).unwrap();
    let err = String::from_utf8(output.stderr.clone()).unwrap();
    (out, err)
}

#[tokio::test]
async fn shows_the_row_when_no_change_is_asked() {
    let db = TestDb::new().await;
    insert_client(
        &db.pool,
        "cid-1",
        "nightly-export",
        "openid api:fhir",
        false,
    )
    .await;
    let output = doctor()
        .args([
            "fix-scopes",
            "--client",
            "nightly-export",
            "--db-url",
            &db.url,
        ])
        .output()
        .unwrap();
    let (out, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(out.contains("client_id     cid-1"), "{out}");
    assert!(out.contains("enabled       no"), "{out}");
    assert!(out.contains("jwks          not set"), "{out}");
    assert!(out.contains("scope         openid api:fhir"), "{out}");
    assert!(out.contains("Nothing to change"), "{out}");
}

#[tokio::test]
async fn dry_run_shows_the_diff_and_writes_nothing() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid  api:fhir", true).await;
    let output = doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "cid-1",
            "--add",
            "system/Patient.read",
        ])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let (out, _) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("  + system/Patient.read"), "{out}");
    assert!(
        out.contains("scope after:  \"openid api:fhir system/Patient.read\""),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was written"), "{out}");
    assert_eq!(
        scope_of(&db.pool, "cid-1").await.as_deref(),
        Some("openid  api:fhir")
    );
}

#[tokio::test]
async fn apply_writes_a_normalised_scope_string() {
    let db = TestDb::new().await;
    insert_client(
        &db.pool,
        "cid-1",
        "svc",
        "openid api:fhir\nuser/Patient.read ",
        true,
    )
    .await;
    let output = doctor()
        .args([
            "fix-scopes",
            "--client",
            "svc",
            "--db-url",
            &db.url,
            "--apply",
        ])
        .args([
            "--add",
            "system/Patient.read system/Encounter.read",
            "--remove",
            "user/Patient.read",
        ])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("Written: 1 row"), "{out}");
    assert_eq!(
        scope_of(&db.pool, "cid-1").await.as_deref(),
        Some("openid api:fhir system/Patient.read system/Encounter.read")
    );

    let again = doctor()
        .args([
            "fix-scopes",
            "--client",
            "svc",
            "--db-url",
            &db.url,
            "--apply",
        ])
        .args(["--add", "system/Patient.read"])
        .output()
        .unwrap();
    assert!(text(&again).0.contains("Nothing to change"));
}

#[tokio::test]
async fn set_enable_and_grant_types_are_written_together() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid", false).await;
    doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "cid-1",
            "--db-url",
            &db.url,
            "--apply",
        ])
        .args([
            "--set",
            "system/Patient.read  system/Patient.read",
            "--enable",
        ])
        .args(["--grant-types", "client_credentials refresh_token"])
        .assert()
        .success();
    let (scope, enabled, grants): (String, i64, String) = sqlx::query_as(
        "SELECT scope, CAST(is_enabled AS SIGNED), grant_types FROM oauth_clients WHERE \
            client_id = 'cid-1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(scope, "system/Patient.read");
    assert_eq!(enabled, 1);
    assert_eq!(grants, "client_credentials|refresh_token");
}

#[tokio::test]
async fn bad_scopes_are_named_and_nothing_is_written() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid", true).await;
    for (scope, named) in [
        ("system/*.read", "wildcard"),
        ("system/Bogus.read", "not a scope OpenEMR knows"),
        ("system/Patient.rs", "SMART v2"),
        ("System/Patient.read", "not a scope OpenEMR knows"),
    ] {
        let output = doctor()
            .args([
                "fix-scopes",
                "--client-id",
                "cid-1",
                "--db-url",
                &db.url,
                "--apply",
            ])
            .args(["--add", &format!("system/Patient.read {scope}")])
            .output()
            .unwrap();
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{scope}: {err}");
        assert!(err.contains(scope) && err.contains(named), "{scope}: {err}");
        assert_eq!(scope_of(&db.pool, "cid-1").await.as_deref(), Some("openid"));
    }
    let bad_grant = doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "cid-1",
            "--db-url",
            &db.url,
            "--grant-types",
            "magic",
        ])
        .output()
        .unwrap();
    assert_eq!(bad_grant.status.code(), Some(2));
    assert!(text(&bad_grant).1.contains("unknown grant type \"magic\""));
}

#[tokio::test]
async fn unknown_and_ambiguous_names_are_refused() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-a", "twin", "openid", true).await;
    insert_client(&db.pool, "cid-b", "twin", "openid", true).await;

    let output = doctor()
        .args([
            "fix-scopes",
            "--client",
            "twin",
            "--db-url",
            &db.url,
            "--add",
            "api:fhir",
            "--apply",
        ])
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(err.contains("2 clients are named \"twin\""), "{err}");
    assert!(err.contains("cid-a") && err.contains("cid-b"), "{err}");
    assert_eq!(scope_of(&db.pool, "cid-a").await.as_deref(), Some("openid"));

    let output = doctor()
        .args(["fix-scopes", "--client", "nobody", "--db-url", &db.url])
        .output()
        .unwrap();
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        err.contains("no client with client name \"nobody\""),
        "{err}"
    );
    assert!(err.contains("cid-a  (twin)"), "{err}");
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let url = format!(
        "mysql://someone:s3cret-pw@127.0.0.1:{}/openemr",
        closed_port()
    );
    let output = doctor()
        .args(["fix-scopes", "--client", "svc", "--db-url", &url])
        .output()
        .unwrap();
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(err.contains("someone:***@127.0.0.1"), "{err}");
    assert!(!format!("{out}{err}").contains("s3cret-pw"));
}

#[test]
fn no_database_is_a_usage_error() {
    let output = doctor()
        .args(["fix-scopes", "--client", "svc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("no database given"));
}

#[tokio::test]
async fn credentials_come_from_sqlconf_php() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid", true).await;
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("sites/clinic2");
    std::fs::create_dir_all(&site).unwrap();
    let conf = format!(
        "<?php\n$host = '127.0.0.1';\n$port = '3306';\n$login = 'oemr_doctor';\n\
         $pass = 'oemr_doctor';\n$dbase = '{}';\n$config = 1;\n",
        db.name
    );
    std::fs::write(site.join("sqlconf.php"), conf).unwrap();
    let output = doctor()
        .args([
            "fix-scopes",
            "--client",
            "svc",
            "--site",
            "clinic2",
            "--openemr-dir",
        ])
        .arg(dir.path())
        .args(["--add", "system/Patient.read", "--apply"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(
        scope_of(&db.pool, "cid-1").await.as_deref(),
        Some("openid system/Patient.read")
    );

    let missing = doctor()
        .args([
            "fix-scopes",
            "--client",
            "svc",
            "--site",
            "nosuch",
            "--openemr-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).1.contains("sites/nosuch/sqlconf.php"));
}

#[tokio::test]
async fn a_change_made_meanwhile_is_detected_and_nothing_is_written() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid", true).await;
    let database = db.database().await;
    let before = database
        .find_client(&ClientSelector::Id("cid-1".into()))
        .await
        .unwrap();
    let mut after = before.clone();
    after.scope = Some("openid system/Patient.read".into());

    sqlx::query("UPDATE oauth_clients SET scope = 'openid api:oemr' WHERE client_id = 'cid-1'")
        .execute(&db.pool)
        .await
        .unwrap();
    let result = database.update_client(&before, &after).await;
    assert!(
        matches!(result, Err(UpdateError::Conflict { .. })),
        "{result:?}"
    );
    assert_eq!(
        scope_of(&db.pool, "cid-1").await.as_deref(),
        Some("openid api:oemr")
    );
}
