//! Field cases about the registered keys: F13 (TLS), F15 (shape), F16 (kid), F17 (algorithm),
//! F18 (key size), F20 (PEM and private members).

use jsonwebtoken::Algorithm;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, StageId, Status};
use serde_json::json;

use super::{world_jwks, PATIENT};
use crate::check_world::{assert_has, run, stage, text, World};

/// Serves `body` as `content_type` on every path of 127.0.0.1, as a jwks_uri host would.
async fn jwks_host(
    body: &'static str,
    content_type: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().fallback(move || async move {
        ([(axum::http::header::CONTENT_TYPE, content_type)], body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/jwks.json"), task)
}

/// An https server on 127.0.0.1 with a self-signed certificate made now (openssl s_server).
struct SelfSignedHost {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl SelfSignedHost {
    fn start() -> SelfSignedHost {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(dir.path().join("k.pem"))
            .arg("-out")
            .arg(dir.path().join("c.pem"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let port = crate::support::closed_port();
        let child = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("-cert")
            .arg(dir.path().join("c.pem"))
            .arg("-key")
            .arg(dir.path().join("k.pem"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SelfSignedHost {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for SelfSignedHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// F13: a jwks_uri whose TLS chain does not verify (self-signed, made at test time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f13_a_jwks_uri_with_an_unverifiable_tls_chain_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let host = SelfSignedHost::start();
    let uri = format!("https://127.0.0.1:{}/jwks.json", host.port);
    world.set_client("jwks", None).await;
    world.set_client("jwks_uri", Some(&uri)).await;
    let report = probe::run(&world.config(PATIENT)).await;
    drop(host);
    world.stop().await;
    let all = text(&report);
    let keys = stage(&report, StageId::Keys);
    assert_eq!(keys.status, Status::Fail, "{all}");
    assert_has(
        &keys.finding,
        &["jwks_uri TLS chain cannot be verified", &uri],
    );
    assert!(
        keys.fix
            .as_deref()
            .unwrap()
            .contains("full certificate chain"),
        "{all}"
    );
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Fail, "{all}");
    assert_has(
        &token.finding,
        &["401 invalid_client", "TLS chain cannot be verified"],
    );
}

/// F15: a key set that is not {"keys":[...]}: a bare JWK at a jwks_uri or in the column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f15_a_bare_jwk_instead_of_a_key_set_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let set: serde_json::Value =
        serde_json::from_str(&crate::check_world::jwks_of(&[&world.key])).unwrap();
    let bare: &'static str = Box::leak(set["keys"][0].to_string().into_boxed_str());
    let (uri, task) = jwks_host(bare, "application/json").await;
    world.set_client("jwks", None).await;
    world.set_client("jwks_uri", Some(&uri)).await;
    let by_uri = probe::run(&world.config(PATIENT)).await;
    task.abort();
    world.set_client("jwks_uri", None).await;
    world.set_client("jwks", Some(bare)).await;
    let by_column = probe::run(&world.config(PATIENT)).await;
    world.stop().await;
    for report in [by_uri, by_column] {
        let all = text(&report);
        let keys = stage(&report, StageId::Keys);
        assert_eq!(keys.status, Status::Fail, "{all}");
        assert!(keys.finding.contains("single JWK, not a key set"), "{all}");
        assert!(
            keys.fix
                .as_deref()
                .unwrap()
                .contains("{\"keys\":[<public JWK>]}"),
            "{all}"
        );
        assert!(
            stage(&report, StageId::Token)
                .finding
                .contains("401 invalid_client"),
            "{all}"
        );
    }
}

/// F16: kid missing or not in the JWKS: refused on F3, a warning on F1 and F2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f16_a_missing_or_foreign_kid_is_refused_on_f3_and_warned_before() {
    let world = World::new(Family::F3, PATIENT).await;
    let jwks = world_jwks(&world);
    let no_kid = crate::check_world::sign(&world.key, Algorithm::RS384, None, &world.claims());
    let kid_one =
        crate::check_world::sign(&world.key, Algorithm::RS384, Some("1"), &world.claims());
    for (family, expected) in [("f1", 21), ("f2", 21), ("f3", 20)] {
        let (code, out, _) = run(world
            .inspect()
            .arg(&no_kid)
            .args(["--family", family])
            .arg("--jwks")
            .arg(&jwks));
        assert_eq!(code, expected, "{family}: {out}");
        assert_has(
            &out,
            &[
                "[kid-missing]",
                "put the registered key's kid in the JWT header",
            ],
        );
    }
    // The F3 sandbox's database names its family; the foreign kid is refused.
    let (code, out, _) = run(world
        .inspect()
        .arg(&kid_one)
        .args(["--db-url", &world.db.url]));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "family F3",
            "[kid-unknown]",
            "assertion kid \"1\" is not in the JWKS",
            &world.kid(),
        ],
    );
    let (code, out, _) = run(world
        .inspect()
        .arg(&kid_one)
        .args(["--family", "f1"])
        .arg("--jwks")
        .arg(&jwks));
    world.stop().await;
    assert_eq!(code, 21, "{out}");
    assert_has(
        &out,
        &[
            "[kid-unknown]",
            "ignores kid and still verifies, but F3 refuses it",
        ],
    );
}

/// F17: RS256 (the library default), a JWK labelled RS256, or an EC key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f17_a_wrong_algorithm_or_key_type_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let rs256 = crate::check_world::sign(
        &world.key,
        Algorithm::RS256,
        Some(&world.kid()),
        &world.claims(),
    );
    let mut set: serde_json::Value =
        serde_json::from_str(&crate::check_world::jwks_of(&[&world.key])).unwrap();
    set["keys"][0]["alg"] = json!("RS256");
    let labelled = world.dir.path().join("rs256.json");
    std::fs::write(&labelled, set.to_string()).unwrap();
    let (code, out, _) = run(world.inspect().arg(&rs256).arg("--jwks").arg(&labelled));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[alg]",
            "assertion alg is RS256; OpenEMR accepts only RS384",
            "[jwks-alg]",
            "set the JWK's alg to RS384",
        ],
    );
    for alg in [Algorithm::RS512, Algorithm::PS384] {
        let jwt = crate::check_world::sign(&world.key, alg, Some(&world.kid()), &world.claims());
        let (code, out, _) = run(world.inspect().arg(&jwt));
        assert_eq!(code, 20, "{out}");
        assert!(out.contains(&format!("assertion alg is {alg:?}")), "{out}");
    }
    let ec = world.dir.path().join("ec.json");
    std::fs::write(
        &ec,
        r#"{"keys":[{"kty":"EC","crv":"P-384","x":"AQAB","y":"AQAB","kid":"ec-1"}]}"#,
    )
    .unwrap();
    let (code, out, _) = run(world
        .inspect()
        .arg(world.assertion(&world.claims()))
        .arg("--jwks")
        .arg(&ec));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &["[jwks-no-rsa]", "[jwks-not-rsa]", "ES384 is not supported"],
    );
}

/// F18: RSA keys under 2048 bits, a 2047-bit modulus named as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f18_short_rsa_keys_are_named_with_their_exact_size() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let world = World::new(Family::F1, PATIENT).await;
    let short = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2047).unwrap();
    let path = world.dir.path().join("short.pem");
    std::fs::write(
        &path,
        short.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let mut config = world.config(PATIENT);
    config.key_path = path;
    let report = probe::run(&config).await;
    let keys = stage(&report, StageId::Keys);
    assert_eq!(keys.status, Status::Fail, "{}", text(&report));
    assert!(
        keys.finding.contains("modulus is 2047 bits"),
        "{}",
        keys.finding
    );
    assert!(keys.fix.as_deref().unwrap().contains("oemr-doctor keygen"));

    let small = oemr_doctor::keys::PrivateKey::from_pem(
        &rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024)
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap(),
        std::path::Path::new("small.pem"),
    )
    .unwrap();
    let jwks = world.dir.path().join("small.json");
    std::fs::write(&jwks, crate::check_world::jwks_of(&[&small])).unwrap();
    // Signing libraries refuse such keys too, so the assertion is signed with another key.
    let jwt = world.assertion(&world.claims());
    let (code, out, _) = run(world.inspect().arg(&jwt).arg("--jwks").arg(&jwks));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[jwks-small-key]",
            "1024-bit RSA modulus",
            "F1 still accepts it",
        ],
    );
}

/// F20: PEM text in a JWK's n, and private members published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f20_pem_in_a_jwk_and_published_private_members_are_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let mut set: serde_json::Value =
        serde_json::from_str(&crate::check_world::jwks_of(&[&world.key])).unwrap();
    set["keys"][0]["d"] = json!("AQAB");
    let leaked = world.dir.path().join("leaked.json");
    std::fs::write(&leaked, set.to_string()).unwrap();
    let pem = world.dir.path().join("pem.json");
    let pem_set = json!({"keys":[{"kty":"RSA","n": world.key.public_pem(),"e":"AQAB","kid":"k"}]});
    std::fs::write(&pem, pem_set.to_string()).unwrap();
    let jwt = world.assertion(&world.claims());
    let (code, out, _) = run(world.inspect().arg(&jwt).arg("--jwks").arg(&pem));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[jwks-not-base64url]",
            "n is not base64url (it looks like PEM text)",
            "convert the public key to JWK form",
        ],
    );
    let (code, out, _) = run(world.inspect().arg(&jwt).arg("--jwks").arg(&leaked));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[jwks-private-members]",
            "private member(s) d",
            "rotate the key now",
        ],
    );
    // check names it too, at the keys stage.
    let mut config = world.config(PATIENT);
    config.jwks_path = Some(leaked);
    let report = probe::run(&config).await;
    world.stop().await;
    let keys = stage(&report, StageId::Keys);
    assert_eq!(keys.status, Status::Fail, "{}", text(&report));
    assert!(
        keys.finding.contains("private member(s) d"),
        "{}",
        keys.finding
    );
}
