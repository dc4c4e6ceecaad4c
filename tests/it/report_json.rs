//! check --json: one versioned document on stdout, stages and a summary, and the fix commands
//! safe to run unattended listed apart.

use serde_json::Value;

use crate::e2e::sandbox_on;
use crate::support::{doctor, keygen_into, register_client, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_names_the_failing_stage_and_the_unattended_fix() {
    let db = TestDb::new().await;
    let sandbox = sandbox_on(&db).await;
    let keys = tempfile::tempdir().unwrap();
    let jwks = keygen_into(keys.path());
    register_client(&db.pool, "json-client", "openid api:fhir", &jwks).await;
    let check = || {
        let mut cmd = doctor();
        cmd.args([
            "check",
            "--json",
            "--base-url",
            &sandbox.base_url(),
            "--client-id",
            "json-client",
        ])
        .arg("--key")
        .arg(keys.path().join("private-key.pem"))
        .env("DATABASE_URL", &db.url);
        cmd.output().unwrap()
    };

    let output = check();
    assert_eq!(output.status.code(), Some(17));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let document: Value = serde_json::from_str(&stdout).expect("stdout is only the JSON document");
    assert_eq!(document["schema"], "oemr-doctor/check/v1");
    assert_eq!(document["summary"]["status"], "failed");
    assert_eq!(document["summary"]["first_failure"], "patient");
    assert_eq!(document["summary"]["exit_code"], 17);
    let ids: Vec<&str> = document["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "inputs",
            "keys",
            "database",
            "discovery",
            "assertion",
            "token",
            "scopes",
            "patient"
        ]
    );
    let patient = &document["stages"][7];
    assert_eq!(patient["status"], "fail");
    assert!(patient["duration_ms"].is_u64());
    assert!(patient["hint"].as_str().unwrap().contains("fix-scopes"));
    assert_eq!(
        document["fixes"]["unattended"],
        serde_json::json!([
            "oemr-doctor fix-scopes --client-id json-client --add system/Patient.read --apply"
        ])
    );
    assert_eq!(document["target"]["client_id"], "json-client");

    doctor()
        .args([
            "fix-scopes",
            "--client-id",
            "json-client",
            "--add",
            "system/Patient.read",
            "--apply",
        ])
        .env("DATABASE_URL", &db.url)
        .assert()
        .success();
    let healthy: Value = serde_json::from_slice(&check().stdout).unwrap();
    assert_eq!(healthy["summary"]["status"], "healthy");
    assert_eq!(healthy["summary"]["exit_code"], 0);
    assert_eq!(healthy["fixes"]["unattended"], serde_json::json!([]));
    sandbox.stop().await;
}
