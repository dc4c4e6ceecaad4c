//! Secrets never reach any output: every command at -vv, against the sandbox, healthy and
//! failing, with the private key, the database password, the client secret, assertions and
//! access tokens all looked for in stdout and stderr.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Executor;

use crate::e2e::sandbox_on;
use crate::support::{doctor, keygen_into, register_client, server_url, TestDb};

const DB_PASSWORD: &str = "Db-Pass-Secret-5b81";
const CLIENT_SECRET: &str = "Client-Secret-7f3a9c";

/// A database account of its own, so its password is a string no other output contains.
async fn secret_account(db: &TestDb) -> String {
    let user = format!("sec_{}", &db.name[db.name.len() - 6..]);
    let admin = sqlx::MySqlPool::connect(&server_url()).await.unwrap();
    for sql in [
        format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'"),
        format!("GRANT ALL ON `{}`.* TO '{user}'@'127.0.0.1'", db.name),
        format!("GRANT ALL ON `oemr\\_doctor\\_demo\\_%`.* TO '{user}'@'127.0.0.1'"),
    ] {
        admin.execute(sql.as_str()).await.unwrap();
    }
    format!("mysql://{user}:{DB_PASSWORD}@127.0.0.1:3306")
}

async fn drop_account(server: &str) {
    let user = server
        .split("//")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    let admin = sqlx::MySqlPool::connect(&server_url()).await.unwrap();
    admin
        .execute(format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'").as_str())
        .await
        .unwrap();
}

/// A compact JWT (three base64url parts) anywhere in the text.
fn full_jwt(text: &str) -> Option<String> {
    text.match_indices("eyJ").find_map(|(at, _)| {
        let run: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        (run.matches('.').count() == 2 && run.len() > 60).then_some(run)
    })
}

fn assert_clean(what: &str, text: &str, key_pem: &str) {
    assert!(
        !text.contains(DB_PASSWORD),
        "{what}: database password leaked:\n{text}"
    );
    assert!(
        !text.contains(CLIENT_SECRET),
        "{what}: client secret leaked:\n{text}"
    );
    for line in key_pem.lines().filter(|l| l.len() > 40) {
        assert!(!text.contains(line), "{what}: private key leaked:\n{text}");
    }
    assert!(
        full_jwt(text).is_none(),
        "{what}: a JWT leaked: {:?}",
        full_jwt(text)
    );
}

fn output_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_prints_a_secret_even_at_vv() {
    let db = TestDb::new().await;
    let server = secret_account(&db).await;
    let db_url = format!("{server}/{}", db.name);
    let sandbox = sandbox_on(&db).await;
    let keys = tempfile::tempdir().unwrap();
    let keygen = output_of(doctor().args(["-vv", "keygen", "--out"]).arg(keys.path()));
    let key_pem = std::fs::read_to_string(keys.path().join("private-key.pem")).unwrap();
    assert_clean("keygen", &keygen, &key_pem);
    let jwks = std::fs::read_to_string(keys.path().join("jwks.json")).unwrap();
    register_client(&db.pool, "sec-client", "openid api:fhir", &jwks).await;

    let check = |extra: &[&str]| {
        let mut cmd = doctor();
        cmd.args([
            "-vv",
            "check",
            "--base-url",
            &sandbox.base_url(),
            "--client-id",
            "sec-client",
        ])
        .arg("--key")
        .arg(keys.path().join("private-key.pem"))
        .args(["--db-url", &db_url])
        .args(extra);
        output_of(&mut cmd)
    };
    let failing = check(&[]);
    assert!(
        failing.contains("result: failed at stage patient"),
        "{failing}"
    );
    assert_clean("check (dropped scope)", &failing, &key_pem);
    assert_clean(
        "check --json (dropped scope)",
        &check(&["--json"]),
        &key_pem,
    );

    for args in [
        vec!["fix-scopes", "--client-id", "sec-client"],
        vec![
            "fix-scopes",
            "--client-id",
            "sec-client",
            "--add",
            "system/Patient.read",
            "--json",
        ],
        vec![
            "fix-scopes",
            "--client-id",
            "sec-client",
            "--add",
            "system/Patient.read",
            "--apply",
        ],
    ] {
        let out = output_of(doctor().arg("-vv").args(&args).args(["--db-url", &db_url]));
        assert_clean(&args.join(" "), &out, &key_pem);
    }
    let healthy = check(&[]);
    assert!(healthy.contains("result: healthy"), "{healthy}");
    assert_clean("check (healthy)", &healthy, &key_pem);

    let other = tempfile::tempdir().unwrap();
    keygen_into(other.path());
    let wrong_key = output_of(
        doctor()
            .args([
                "-vv",
                "check",
                "--base-url",
                &sandbox.base_url(),
                "--client-id",
                "sec-client",
            ])
            .arg("--key")
            .arg(other.path().join("private-key.pem"))
            .args(["--db-url", &db_url]),
    );
    assert!(wrong_key.contains("result: failed"), "{wrong_key}");
    assert_clean("check (wrong key)", &wrong_key, &key_pem);

    let unreachable = output_of(
        doctor()
            .args(["-vv", "fix-scopes", "--client-id", "x", "--db-url"])
            .arg(format!("{server}/no_such_database")),
    );
    assert_clean("fix-scopes (unknown database)", &unreachable, &key_pem);

    let demo = output_of(doctor().args(["-vv", "demo", "--db-url", &server]));
    assert!(demo.contains("check passes end to end"), "{demo}");
    assert_clean("demo", &demo, &key_pem);

    sandbox.stop().await;
    assert_clean("sandbox", &sandbox_log(&db_url).await, &key_pem);
    drop_account(&server).await;
}

/// Runs `oemr-doctor -vv sandbox` as a process, has it issue a token, and returns its log.
async fn sandbox_log(db_url: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("oemr-doctor");
    let mut child = Command::new(bin)
        .args(["-vv", "sandbox", "--port", "0", "--db-url", db_url])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let base = read_base_url(&mut stdout);
    let keys = tempfile::tempdir().unwrap();
    keygen_into(keys.path());
    let _ = output_of(
        doctor()
            .args([
                "check",
                "--base-url",
                &base,
                "--client-id",
                "sec-client",
                "--key",
            ])
            .arg(keys.path().join("private-key.pem")),
    );
    child.kill().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    log
}

fn read_base_url(stdout: &mut impl Read) -> String {
    let started = Instant::now();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while started.elapsed() < Duration::from_secs(20) {
        let n = stdout.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some(line) = seen
            .lines()
            .find(|l| l.trim_start().starts_with("base URL"))
        {
            if seen.contains("Press Ctrl-C") {
                return line.split_whitespace().last().unwrap().to_string();
            }
        }
        if n == 0 {
            break;
        }
    }
    panic!("the sandbox did not print its base URL:\n{seen}");
}
