//! What scripts rely on: --json documents on stdout alone, errors as JSON too, completions and
//! man pages generated from the argument definitions, secrets shown only when asked.

use oemr_doctor::keys::jwks::thumbprint;
use oemr_doctor::keys::PrivateKey;
use serde_json::Value;

use crate::support::{closed_port, doctor, insert_client, scope_of, TestDb};

fn json_stdout(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{stdout}"))
}

#[test]
fn keygen_json_describes_the_files_and_never_holds_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = doctor()
        .args(["keygen", "--json", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let document = json_stdout(&output);
    assert_eq!(document["schema"], "oemr-doctor/keygen/v1");
    let key = PrivateKey::load(&dir.path().join("private-key.pem")).unwrap();
    assert_eq!(document["kid"], thumbprint(&key.public()));
    assert_eq!(document["jwks"]["keys"][0]["kid"], document["kid"]);
    assert_eq!(
        document["registration"]["body"]["application_type"],
        "private"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("PRIVATE KEY"));

    let again = doctor()
        .args(["keygen", "--json", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let error = json_stdout(&again);
    assert_eq!(error["schema"], "oemr-doctor/error/v1");
    assert_eq!(error["exit_code"], 2);
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains("refusing to overwrite"));
}

#[tokio::test]
async fn fix_scopes_json_gives_the_row_before_the_change_and_the_row_after() {
    let db = TestDb::new().await;
    insert_client(&db.pool, "cid-1", "svc", "openid api:fhir", true).await;
    let run = |apply: bool| {
        let mut cmd = doctor();
        cmd.args([
            "fix-scopes",
            "--json",
            "--client-id",
            "cid-1",
            "--add",
            "system/Patient.read",
        ])
        .args(["--db-url", &db.url]);
        if apply {
            cmd.arg("--apply");
        }
        cmd.output().unwrap()
    };

    let dry = json_stdout(&run(false));
    assert_eq!(dry["schema"], "oemr-doctor/fix-scopes/v1");
    assert_eq!(dry["applied"], false);
    assert_eq!(dry["before"]["scope"], "openid api:fhir");
    assert_eq!(
        dry["change"]["scope"]["added"],
        serde_json::json!(["system/Patient.read"])
    );
    assert_eq!(dry["after"], Value::Null);
    assert_eq!(
        scope_of(&db.pool, "cid-1").await.as_deref(),
        Some("openid api:fhir")
    );

    let applied = json_stdout(&run(true));
    assert_eq!(applied["applied"], true);
    assert_eq!(
        applied["after"]["scope"],
        "openid api:fhir system/Patient.read"
    );
    assert_eq!(applied["after"]["client_id"], "cid-1");
}

#[test]
fn database_passwords_show_only_with_show_secrets() {
    let url = format!(
        "mysql://someone:pw-7731@127.0.0.1:{}/openemr",
        closed_port()
    );
    let hidden = doctor()
        .args(["fix-scopes", "--json", "--client", "x", "--db-url", &url])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&hidden.stdout),
        String::from_utf8_lossy(&hidden.stderr)
    );
    assert_eq!(json_stdout(&hidden)["exit_code"], 1);
    assert!(!all.contains("pw-7731"), "{all}");

    let shown = doctor()
        .args([
            "--show-secrets",
            "fix-scopes",
            "--client",
            "x",
            "--db-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stderr).contains("someone:pw-7731@"));
}

#[test]
fn completions_and_man_pages_come_from_the_argument_definitions() {
    let bash = doctor().args(["completions", "bash"]).output().unwrap();
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(
        script.contains("fix-scopes") && script.contains("--client-id"),
        "{script}"
    );

    let page = doctor().arg("man").output().unwrap();
    let page = String::from_utf8(page.stdout).unwrap();
    assert!(page.contains(".TH oemr-doctor 1"), "{page}");

    let dir = tempfile::tempdir().unwrap();
    doctor()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let check = std::fs::read_to_string(dir.path().join("oemr-doctor-check.1")).unwrap();
    assert!(
        check.contains("first failing stage: patient"),
        "exit codes are in the check page"
    );
}

#[test]
fn list_stages_only_and_quiet_shape_the_check_report() {
    let listed = doctor().args(["check", "--list-stages"]).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
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
    assert!(listed.contains("patient     17"), "{listed}");

    let keys = tempfile::tempdir().unwrap();
    crate::support::keygen_into(keys.path());
    let base = format!("http://127.0.0.1:{}", closed_port());
    let check = |extra: &[&str]| {
        let out = doctor()
            .args(extra)
            .args(["check", "--base-url", &base, "--client-id", "c", "--key"])
            .arg(keys.path().join("private-key.pem"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };

    // Only inputs asked: nothing after it runs, so no network and a healthy exit.
    let (code, out) = check(&["--color", "never"]);
    assert_eq!(code, 13);
    let only = doctor()
        .args([
            "check",
            "--only",
            "inputs",
            "--base-url",
            &base,
            "--client-id",
            "c",
            "--key",
        ])
        .arg(keys.path().join("private-key.pem"))
        .output()
        .unwrap();
    let only_out = String::from_utf8(only.stdout).unwrap();
    assert_eq!(only.status.code(), Some(0), "{only_out}");
    assert!(
        only_out.contains("inputs") && !only_out.contains("discovery"),
        "{only_out}"
    );
    assert!(out.contains("discovery"), "{out}");

    let (code, quiet) = check(&["-q"]);
    assert_eq!(code, 13);
    assert!(
        !quiet.contains("[ok]"),
        "quiet shows only what is not a pass:\n{quiet}"
    );
    assert!(
        quiet.contains("[FAIL] discovery") && quiet.contains("result: failed"),
        "{quiet}"
    );

    let bad = doctor()
        .args(["check", "--only", "tokn", "--base-url", &base])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown stage \"tokn\""));
}
