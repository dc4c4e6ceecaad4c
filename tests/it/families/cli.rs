//! `oemr-doctor sandbox --family`: the flag reaches the server and its banner names it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::TestDb;

#[tokio::test]
async fn the_sandbox_command_plays_the_family_it_is_given() {
    let db = TestDb::new().await;
    let binary = assert_cmd::cargo::cargo_bin("oemr-doctor");
    let mut child = Command::new(binary)
        .args(["sandbox", "--init", "--port", "0", "--family", "f2"])
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("Press Ctrl-C");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .unwrap();
    let base = banner.iter().find_map(|l| {
        l.trim()
            .strip_prefix("base URL")
            .map(|b| b.trim().to_string())
    });
    let metadata = match &base {
        Some(base) => crate::sandbox::http()
            .get(format!("{base}/apis/default/fhir/metadata"))
            .send()
            .await
            .ok(),
        None => None,
    };
    // Ours to stop, by its own handle.
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        banner[0].contains("F2 (7.0.4 to 8.x)"),
        "banner: {banner:?}"
    );
    let metadata: serde_json::Value = metadata
        .expect("the sandbox answered")
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["software"]["version"], "7.0.4");
    let version: (i32, i32, i32) = sqlx::query_as("SELECT v_major, v_minor, v_patch FROM version")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(version, (7, 0, 4), "--init seeds the family's version");
}
