//! Configuration: flags over environment over the file, named targets, and errors that name
//! the key at fault.

use std::path::Path;

use crate::support::{closed_port, doctor};

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("oemr-doctor.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn output(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// A key file, so check gets past its inputs.
fn key_in(dir: &Path) -> std::path::PathBuf {
    doctor()
        .args(["keygen", "--out"])
        .arg(dir)
        .assert()
        .success();
    dir.join("private-key.pem")
}

#[test]
fn flags_beat_environment_which_beats_the_file_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path());
    let (file_port, env_port, flag_port) = (closed_port(), closed_port() + 1, closed_port() + 2);
    let config = write(
        dir.path(),
        &format!(
            "client_id = \"from-file\"\nkey = {key:?}\n\n[targets.clinic2]\nbase_url = \
             \"http://127.0.0.1:{file_port}\"\nsite = \"clinic2\"\n"
        ),
    );
    let check = || {
        let mut cmd = doctor();
        cmd.args(["--config"])
            .arg(&config)
            .args(["--target", "clinic2", "check"]);
        cmd
    };

    let (code, out, _) = output(&mut check());
    assert_eq!(
        code, 13,
        "the server is unreachable, so discovery fails:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "base http://127.0.0.1:{file_port}, site clinic2, client from-file"
        )),
        "{out}"
    );

    let env_url = format!("http://127.0.0.1:{env_port}");
    let (_, out, _) = output(check().env("OEMR_DOCTOR_BASE_URL", &env_url));
    assert!(
        out.contains(&format!("base {env_url}, site clinic2")),
        "{out}"
    );

    let flag_url = format!("http://127.0.0.1:{flag_port}");
    let (_, out, _) = output(
        check()
            .env("OEMR_DOCTOR_BASE_URL", &env_url)
            .args(["--base-url", &flag_url]),
    );
    assert!(
        out.contains(&format!("base {flag_url}, site clinic2")),
        "{out}"
    );
}

#[test]
fn the_file_in_the_working_directory_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path());
    let port = closed_port();
    write(
        dir.path(),
        &format!("base_url = \"http://127.0.0.1:{port}\"\nclient_id = \"c\"\nkey = {key:?}\n"),
    );
    let (code, out, _) = output(
        doctor()
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .arg("check"),
    );
    assert_eq!(code, 13, "{out}");
    assert!(
        out.contains(&format!("base http://127.0.0.1:{port}")),
        "{out}"
    );
}

#[test]
fn unknown_keys_bad_values_and_unknown_targets_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (text, named) in [
        ("base_ulr = \"https://x\"", "base_ulr"),
        ("timeout = \"soon\"", "timeout"),
        ("[targets.a]\nbase_url = \"ftp://x\"", "targets.a.base_url"),
        ("[targets.a]\ntimeout = 0", "targets.a.timeout"),
    ] {
        let config = write(dir.path(), text);
        let (code, _, err) = output(doctor().arg("--config").arg(&config).arg("check"));
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(named), "{text}: {err}");
    }
    let config = write(dir.path(), "[targets.east]\nsite = \"east\"\n");
    let (code, _, err) = output(
        doctor()
            .arg("--config")
            .arg(&config)
            .args(["--target", "west", "check"]),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no target \"west\"") && err.contains("east"),
        "{err}"
    );

    let missing = dir.path().join("nope.toml");
    let (code, _, err) = output(doctor().arg("--config").arg(&missing).arg("check"));
    assert_eq!(code, 2, "a --config naming no file is the caller's mistake");
    assert!(err.contains("nope.toml"), "{err}");
}

#[test]
fn a_missing_setting_says_every_place_it_can_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = output(
        doctor()
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .args(["check", "--client-id", "c"]),
    );
    assert_eq!(code, 2);
    assert!(err.contains("--base-url is required"), "{err}");
    assert!(
        err.contains("OEMR_DOCTOR_BASE_URL") && err.contains("oemr-doctor.toml"),
        "{err}"
    );
}

#[test]
fn verbose_shows_the_effective_configuration_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_in(dir.path());
    let db = format!("mysql://u:hunter22@127.0.0.1:{}/openemr", closed_port());
    let (_, _, err) = output(
        doctor()
            .args([
                "-v",
                "check",
                "--base-url",
                &format!("http://127.0.0.1:{}", closed_port()),
            ])
            .args(["--client-id", "c", "--db-url", &db, "--key"])
            .arg(&key),
    );
    assert!(err.contains("effective configuration"), "{err}");
    assert!(err.contains("u:***@127.0.0.1"), "{err}");
    assert!(!err.contains("hunter22"), "{err}");
}
