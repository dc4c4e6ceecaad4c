//! keygen: the files it writes, their modes, the kid, and what it refuses.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use oemr_doctor::keys::jwks::{thumbprint, Jwks};
use oemr_doctor::keys::PrivateKey;

use crate::support::doctor;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn writes_a_key_pair_and_a_jwks_whose_kid_is_the_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/keys");
    let assert = doctor()
        .args([
            "keygen",
            "--base-url",
            "https://emr.example.org/openemr",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();

    let private = out.join("private-key.pem");
    assert_eq!(mode(&private), 0o600);
    let pem = std::fs::read_to_string(&private).unwrap();
    assert!(
        oemr_doctor::keys::pem_label(&pem) == Some("PRIVATE KEY"),
        "PKCS#8 expected"
    );
    let key = PrivateKey::load(&private).unwrap();
    assert_eq!(key.bits(), 2048);

    let jwks = Jwks::parse(&std::fs::read_to_string(out.join("jwks.json")).unwrap()).unwrap();
    let jwk = &jwks.keys[0];
    let kid = thumbprint(&key.public());
    assert_eq!(jwk.kid(), Some(kid.as_str()));
    assert_eq!(jwk.0["alg"], "RS384");
    assert_eq!(jwk.0["use"], "sig");
    assert_eq!(
        jwk.0.keys().collect::<Vec<_>>(),
        ["kty", "n", "e", "kid", "alg", "use"]
    );
    assert_eq!(jwks.find(&key.public()), Some(0));
    assert!(!jwk.has_private_members());

    let public = std::fs::read_to_string(out.join("public-key.pem")).unwrap();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(stdout.contains(&kid), "{stdout}");
    assert!(stdout.contains("https://emr.example.org/openemr/oauth2/default/registration"));
    assert!(stdout.contains("\"application_type\": \"private\""));
    assert!(
        !stdout.contains("PRIVATE KEY"),
        "the private key must never be printed"
    );
}

#[test]
fn never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    doctor()
        .args(["keygen", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let before = std::fs::read(dir.path().join("private-key.pem")).unwrap();

    let assert = doctor()
        .args(["keygen", "--out"])
        .arg(dir.path())
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("private-key.pem")).unwrap(),
        before
    );

    doctor()
        .args(["keygen", "--force", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let after = std::fs::read(dir.path().join("private-key.pem")).unwrap();
    assert_ne!(after, before);
    assert_eq!(mode(&dir.path().join("private-key.pem")), 0o600);
    let key = PrivateKey::load(&dir.path().join("private-key.pem")).unwrap();
    let jwks = std::fs::read_to_string(dir.path().join("jwks.json")).unwrap();
    assert_eq!(
        Jwks::parse(&jwks).unwrap().find(&key.public()),
        Some(0),
        "files match"
    );
}

#[test]
fn refuses_keys_under_2048_bits_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let assert = doctor()
        .args(["keygen", "--bits", "1024", "--out"])
        .arg(dir.path())
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("1024-bit keys are refused"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn makes_3072_bit_keys() {
    let dir = tempfile::tempdir().unwrap();
    doctor()
        .args(["keygen", "--bits", "3072", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let key = PrivateKey::load(&dir.path().join("private-key.pem")).unwrap();
    assert_eq!(key.bits(), 3072);
}

#[test]
fn pkcs1_keys_load_and_broken_ones_are_named() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(2048).unwrap();
    let rsa_key = rsa::RsaPrivateKey::from_pkcs8_pem(&key.pkcs8_pem()).unwrap();
    let pkcs1 = rsa_key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let path = dir.path().join("pkcs1.pem");
    std::fs::write(&path, pkcs1.as_bytes()).unwrap();
    let loaded = PrivateKey::load(&path).unwrap();
    assert_eq!(loaded.format, "PKCS#1");
    assert_eq!(thumbprint(&loaded.public()), thumbprint(&key.public()));

    let truncated = dir.path().join("truncated.pem");
    let text = key.pkcs8_pem();
    std::fs::write(&truncated, &text[..text.len() / 2]).unwrap();
    let err = PrivateKey::load(&truncated).unwrap_err().to_string();
    assert!(
        err.contains("does not decode") || err.contains("not a PEM"),
        "{err}"
    );

    let missing = PrivateKey::load(&dir.path().join("nope.pem"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("cannot read key file") && missing.contains("nope.pem"),
        "{missing}"
    );
}

#[test]
fn quiet_keygen_prints_the_kid_and_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = doctor()
        .args(["-q", "keygen", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.contains("kid ") && text.contains("jwks.json"),
        "{text}"
    );
    assert!(!text.contains("registration"), "{text}");
}
