//! The path that matters most, end to end on a real MariaDB and the sandbox: a client whose
//! registered scopes lack system/Patient.read, found by check, fixed by fix-scopes, then healthy.

use std::net::{Ipv4Addr, SocketAddr};

use oemr_doctor::db::DbSource;
use oemr_doctor::openemr::Family;
use oemr_doctor::sandbox::{prepare_database, set_global, Sandbox, SandboxConfig};

use crate::support::{doctor, scope_of, TestDb};

const CLIENT: &str = "e2e-client-id";

/// A sandbox on a fresh database, with site_addr_oath set to its address.
pub async fn sandbox_on(db: &TestDb) -> Sandbox {
    let database = db.database().await;
    prepare_database(&database, "").await.unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        db: DbSource::Url(db.url.clone()),
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        sites: vec!["default".into()],
        webroot: String::new(),
        family: Family::F1,
        allow_loopback_jwks_uri: true,
    })
    .await
    .unwrap();
    set_global(&database, "site_addr_oath", &sandbox.base_url())
        .await
        .unwrap();
    sandbox
}

fn run(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    let text = |b: &Vec<u8>| String::from_utf8(b.clone()).unwrap();
    (code, text(&output.stdout), text(&output.stderr))
}

/// The `oemr-doctor fix-scopes ...` command the report prints, as arguments.
fn printed_fix(report: &str) -> Vec<String> {
    let start = report
        .find("oemr-doctor fix-scopes")
        .expect("the report prints the fix-scopes command");
    let line = report[start..].lines().next().unwrap();
    let line = line.trim_end_matches(|c: char| c == '`' || c == '.' || c.is_whitespace());
    line.split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('`').to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_scope_is_found_fixed_and_the_check_then_passes() {
    let db = TestDb::new().await;
    let sandbox = sandbox_on(&db).await;
    let keys = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(doctor().args(["keygen", "--out"]).arg(keys.path()));
    assert_eq!(code, 0, "{stderr}");
    let jwks = std::fs::read_to_string(keys.path().join("jwks.json")).unwrap();

    // As registration leaves it for bulk export, then enabled by an administrator.
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_role, client_name, grant_types, scope, \
         is_confidential, is_enabled, jwks, redirect_uri) VALUES (?, 'user', 'e2e', \
         'authorization_code', 'openid api:fhir system/*.$export system/Binary.read', 1, 1, ?, \
         'https://localhost/unused')",
    )
    .bind(CLIENT)
    .bind(&jwks)
    .execute(&db.pool)
    .await
    .unwrap();

    let check = || {
        let mut cmd = doctor();
        cmd.args([
            "check",
            "--base-url",
            &sandbox.base_url(),
            "--client-id",
            CLIENT,
            "--key",
        ])
        .arg(keys.path().join("private-key.pem"))
        .arg("--jwks")
        .arg(keys.path().join("jwks.json"))
        .env("DATABASE_URL", &db.url);
        cmd
    };

    let (code, report, stderr) = run(&mut check());
    assert_eq!(
        code, 17,
        "the Patient read is the failing stage:\n{report}\n{stderr}"
    );
    assert!(report.contains("system/Patient.read"), "{report}");
    assert!(
        report.contains("oauth_clients.scope"),
        "blames the registered scopes:\n{report}"
    );
    let fix = printed_fix(&report);
    assert_eq!(
        fix,
        [
            "fix-scopes",
            "--client-id",
            CLIENT,
            "--add",
            "system/Patient.read",
            "--apply"
        ],
        "{report}"
    );

    let (code, out, stderr) = run(doctor().args(&fix).env("DATABASE_URL", &db.url));
    assert_eq!(code, 0, "{out}{stderr}");
    assert_eq!(
        scope_of(&db.pool, CLIENT).await.as_deref(),
        Some("openid api:fhir system/*.$export system/Binary.read system/Patient.read")
    );

    let (code, report, stderr) = run(&mut check());
    assert_eq!(code, 0, "healthy after the fix:\n{report}\n{stderr}");
    for stage in [
        "inputs",
        "keys",
        "database",
        "discovery",
        "assertion",
        "token",
        "scopes",
        "patient",
    ] {
        assert!(report.contains(stage), "stage {stage} reported:\n{report}");
    }
    sandbox.stop().await;
}
