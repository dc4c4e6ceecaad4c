//! Inputs a second round of testing broke, kept as tests.

use oemr_doctor::openemr::Family;
use serde_json::{json, Value};

use crate::check_world::{run, World};
use crate::support::{closed_port, doctor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_time_claims_and_an_empty_assertion_never_pass_or_panic() {
    let world = World::new(Family::F2, "system/Patient.read").await;
    for exp in [
        json!(9999999999999999999u64),
        json!(1e300),
        json!(i64::MIN),
        json!(-1e300),
    ] {
        let mut claims = world.claims();
        claims["exp"] = exp.clone();
        claims["iat"] = exp.clone();
        let jwt = world.assertion(&claims);
        let (code, out, err) = run(world.inspect().arg(&jwt));
        assert!(
            code == 20 || code == 21,
            "exp {exp}: exit {code}\n{out}{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    for empty in ["", "   "] {
        let (code, _, err) = run(world.inspect().arg(empty));
        assert_eq!(code, 2, "an empty assertion is a usage error: {err}");
        assert!(err.contains("the assertion given is empty"), "{err}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattended_fix_is_one_fix_scopes_accepts() {
    let world = World::new(Family::F1, "openid").await;
    let (code, out, _) = run(world.check("system/Patient.rs").arg("--json"));
    assert_ne!(code, 0, "{out}");
    let document: Value = serde_json::from_str(&out).unwrap();
    let hint = document["stages"][2]["hint"].as_str().unwrap().to_string();
    assert!(
        hint.contains("--add system/Patient.read "),
        "F1 stores the v1 spelling: {hint}"
    );
    // The command as printed, with the database given the way the placeholder asks for.
    let command = hint.split(" --db-url").next().unwrap();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let (code, out, err) = run(doctor().args(&args).env("DATABASE_URL", &world.db.url));
    assert_eq!(code, 0, "the printed command runs: {out}{err}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_with_only_the_fhir_global_off_is_not_a_database_failure() {
    let world = World::new(Family::F2, "system/Patient.read").await;
    world.global("rest_fhir_api", "0").await;
    let (code, out, _) = run(&mut world.check("system/Patient.read"));
    assert_eq!(code, 0, "F2 answers FHIR without that global:\n{out}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_refuses_a_malformed_scope_column_at_the_database_stage() {
    let world = World::new(Family::F2, "system/Patient.read").await;
    world
        .set_client("scope", Some("openid  system/Patient.read "))
        .await;
    let (code, out, _) = run(&mut world.check("system/Patient.read"));
    assert_eq!(code, 12, "{out}");
    assert!(
        out.contains("every token request for this client fails with HTTP 500"),
        "{out}"
    );
    world.stop().await;
}

#[test]
fn json_mode_prints_a_document_for_argument_errors_too() {
    for args in [
        vec!["keygen", "--bits", "1024", "--json"],
        vec!["check", "--json", "--bogus"],
    ] {
        let out = doctor().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let document: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is a JSON document ({e})"));
        assert_eq!(document["schema"], "oemr-doctor/error/v1");
        assert_eq!(document["exit_code"], 2);
    }
}

#[test]
fn a_dead_proxy_is_named_as_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::keygen_into(dir.path());
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let out = doctor()
        .args([
            "check",
            "--base-url",
            &format!("http://127.0.0.1:{}", closed_port()),
        ])
        .args(["--client-id", "c", "--proxy", &proxy, "--key"])
        .arg(dir.path().join("private-key.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(13), "{text}");
    assert!(
        text.contains(&format!("cannot reach the proxy {proxy}")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_web_root_is_not_called_apis_switched_off() {
    use oemr_doctor::db::DbSource;
    use oemr_doctor::sandbox::{prepare_database, set_global, Sandbox, SandboxConfig};
    let db = crate::support::TestDb::new().await;
    let database = db.database().await;
    prepare_database(&database, "").await.unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        webroot: "/openemr".into(),
        ..SandboxConfig::new(
            DbSource::Url(db.url.clone()),
            "127.0.0.1:0".parse().unwrap(),
        )
    })
    .await
    .unwrap();
    set_global(&database, "site_addr_oath", &sandbox.site_addr())
        .await
        .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let jwks = crate::support::keygen_into(keys.path());
    crate::support::register_client(&db.pool, "wr-client", "system/Patient.read", &jwks).await;
    let (code, out, _) = run(doctor()
        .args([
            "check",
            "--base-url",
            &sandbox.site_addr(),
            "--client-id",
            "wr-client",
            "--key",
        ])
        .arg(keys.path().join("private-key.pem"))
        .env("DATABASE_URL", &db.url));
    assert_eq!(code, 13, "{out}");
    assert!(!out.contains("APIs are switched off"), "{out}");
    assert!(
        out.contains("not the token endpoint (a missing web root"),
        "{out}"
    );
    sandbox.stop().await;
}
