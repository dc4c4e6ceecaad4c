//! Every field case of shared/cases/field-cases.md (F07 aside, which is about registration)
//! as a regression test: the minimal input built, check or inspect run against the sandbox
//! of the right family, the stage or fault it blames and the fix it prints asserted. Several
//! members of each fault's family are tried, not only the reported input.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, ProbeOptions, StageId, Status};
use serde_json::json;

use crate::check_world::{assert_has, run, stage, text, World, CLIENT};

const PATIENT: &str = "system/Patient.read";

/// F01: a client secret (Basic header, or form fields) instead of an assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f01_a_client_secret_instead_of_an_assertion_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT}:s3cr3t-value"))
    );
    let (code, out, _) = run(world.inspect().args([
        "--url",
        &world.token_url(),
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--header",
        &format!("Authorization: {basic}"),
        "--body",
        "grant_type=client_credentials",
    ]));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[secret-not-assertion]",
            "needs a signed JWT, not a secret",
            "drop the secret",
            "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ],
    );
    assert!(
        !out.contains("s3cr3t-value") && !out.contains(&basic),
        "{out}"
    );

    // The same fault with the secret in form fields.
    let body = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret=s3cr3t-value&scope={PATIENT}");
    let (code, out, _) = run(world.inspect().args([
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--body",
        &body,
    ]));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "client_id and client_secret form fields",
            "[assertion-type]",
            "[assertion-missing]",
        ],
    );
    assert!(!out.contains("s3cr3t-value"), "{out}");
}

/// F02: the assertion sent as `Authorization: Bearer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f02_an_assertion_in_a_bearer_header_is_named_and_still_judged() {
    let world = World::new(Family::F1, PATIENT).await;
    let jwt = world.assertion(&world.claims());
    let (code, out, _) = run(world
        .inspect()
        .args([
            "--header",
            "Content-Type: application/x-www-form-urlencoded",
            "--header",
            &format!("Authorization: Bearer {jwt}"),
            "--body",
            &format!("grant_type=client_credentials&scope={PATIENT}"),
            "--jwks",
        ])
        .arg(world_jwks(&world)));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[assertion-in-header]",
            "must go in the form body, not in a header",
            "remove the Authorization header",
        ],
    );
    // The JWT itself is fine: no claim fault is reported for it, and it is never echoed.
    for code in ["[alg]", "[aud-", "[signature]", "[iss]"] {
        assert!(!out.contains(code), "{code} in {out}");
    }
    assert!(!out.contains(&jwt), "{out}");
}

fn world_jwks(world: &World) -> std::path::PathBuf {
    let path = world.dir.path().join("jwks.json");
    std::fs::write(&path, crate::check_world::jwks_of(&[&world.key])).unwrap();
    path
}

/// F03 (and G02's variant): the registered scopes lack the requested system scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f03_unregistered_scopes_are_named_with_the_fix_scopes_command_on_f1_and_f2() {
    for (family, registered) in [
        (Family::F1, "openid api:fhir user/Patient.read"),
        (Family::F2, "openid api:fhir user/Patient.read"),
        (Family::F1, "openid api:fhir"),
    ] {
        let world = World::new(family, registered).await;
        let report = probe::run(&world.config(PATIENT)).await;
        world.stop().await;
        let all = text(&report);
        assert_eq!(stage(&report, StageId::Token).status, Status::Pass, "{all}");
        let scopes = stage(&report, StageId::Scopes);
        assert_eq!(scopes.status, Status::Warn, "{all}");
        assert_eq!(
            scopes.finding,
            "requested but not granted: system/Patient.read"
        );
        let patient = stage(&report, StageId::Patient);
        assert_eq!(patient.status, Status::Fail, "{all}");
        let fix = format!("oemr-doctor fix-scopes --client-id {CLIENT} --add {PATIENT} --apply");
        assert!(
            patient.fix.as_deref().unwrap().starts_with(&fix),
            "{family:?}: {all}"
        );
        assert_eq!(report.exit_code(), 17);
    }
}

/// F04: aud set to the FHIR base (with or without slash), or to other near misses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f04_every_wrong_aud_is_named_against_the_advertised_token_endpoint() {
    let world = World::new(Family::F1, PATIENT).await;
    let base = world.base();
    let port = world.sandbox.addr().port();
    let cases = [
        (
            format!("{base}/apis/default/fhir"),
            "[aud-fhir-base]",
            "FHIR base URL",
        ),
        (
            format!("{base}/apis/default/fhir/"),
            "[aud-fhir-base]",
            "FHIR base URL",
        ),
        (
            format!("{base}/oauth2/default/token/"),
            "[aud-trailing-slash]",
            "trailing slash",
        ),
        (
            format!("https://127.0.0.1:{port}/oauth2/default/token"),
            "[aud-scheme]",
            "scheme https",
        ),
        (
            format!("http://localhost:{port}/oauth2/default/token"),
            "[aud-host]",
            "host localhost",
        ),
        (
            format!("{base}/oauth2/default"),
            "[aud-issuer]",
            "OAuth issuer",
        ),
    ];
    for (aud, code_name, words) in cases {
        let mut claims = world.claims();
        claims["aud"] = json!(aud);
        let jwt = world.assertion(&claims);
        let (code, out, _) = run(world.inspect().arg(&jwt));
        assert_eq!(code, 20, "{aud}: {out}");
        let fix = format!(
            "fix: set aud to the token_endpoint string exactly: {}",
            world.token_url()
        );
        assert_has(&out, &[code_name, words, &fix]);
    }
    world.stop().await;
}

/// F05: a freshly registered system client is disabled; on F1 and F2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f05_a_disabled_client_is_named_with_its_enable_fix() {
    for family in [Family::F1, Family::F2] {
        let world = World::new(family, PATIENT).await;
        world.set_client("is_enabled", Some("0")).await;
        let (code, out, _) = run(&mut world.check(PATIENT));
        world.stop().await;
        assert_eq!(code, 12, "{out}");
        assert_has(
            &out,
            &[
                &format!("client {CLIENT} exists but is disabled"),
                &format!("oemr-doctor fix-scopes --client-id {CLIENT} --enable --apply"),
                "401 invalid_client",
                "Admin > System > API Clients",
            ],
        );
    }
}

/// F06: FHIR system scopes switched off: discovery warns, the token is invalid_scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f06_system_scopes_off_are_named_in_discovery_and_token() {
    for family in [Family::F1, Family::F2] {
        let world = World::new(family, PATIENT).await;
        world.global("rest_system_scopes_api", "0").await;
        let mut config = world.config(PATIENT);
        config.db = None;
        let report = probe::run(&config).await;
        world.stop().await;
        let all = text(&report);
        let discovery = stage(&report, StageId::Discovery);
        assert_eq!(discovery.status, Status::Warn, "{all}");
        assert!(
            discovery
                .finding
                .contains("scopes_supported lists no FHIR system/ scopes"),
            "{all}"
        );
        let token = stage(&report, StageId::Token);
        assert_eq!(token.status, Status::Fail, "{all}");
        assert_has(
            &all,
            &[
                "refused scope system/Patient.read (400 invalid_scope)",
                "Enable OpenEMR FHIR System Scopes",
            ],
        );
    }
}

/// F12: the client posts to an internal name and signs that name as aud.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_an_aud_for_another_host_name_is_named_with_the_site_address_fix() {
    let world = World::new(Family::F2, PATIENT).await;
    let port = world.sandbox.addr().port();
    let public = format!("http://localhost:{port}");
    world.global("site_addr_oath", &public).await;
    // The job reaches the server as 127.0.0.1 and signs that as aud.
    let internal = format!("http://127.0.0.1:{port}/oauth2/default/token");
    let mut claims = world.claims();
    claims["aud"] = json!(internal);
    let jwt = world.assertion(&claims);
    let (code, out, _) = run(world.inspect().arg(&jwt).args(["--url", &internal]));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[aud-host]",
            &format!("the token endpoint is {public}/oauth2/default/token"),
            "whichever address you POST to",
            "Site Address",
        ],
    );
    // check itself names the two addresses and signs the advertised one.
    let report = probe::run(&world.config(PATIENT)).await;
    world.stop().await;
    let discovery = stage(&report, StageId::Discovery);
    assert_eq!(discovery.status, Status::Warn, "{}", text(&report));
    assert_has(&discovery.finding, &[&public, &format!("127.0.0.1:{port}")]);
    assert_eq!(
        stage(&report, StageId::Token).status,
        Status::Pass,
        "{}",
        text(&report)
    );
}

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

/// F21: the client's clock runs ahead of the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f21_a_clock_ahead_of_the_server_is_named_from_the_date_header() {
    let world = World::new(Family::F1, PATIENT).await;
    let options = ProbeOptions {
        clock_offset_secs: 180,
        ..ProbeOptions::default()
    };
    let report = probe::run_with(&world.config(PATIENT), options).await;
    let all = text(&report);
    assert_eq!(
        stage(&report, StageId::Assertion).status,
        Status::Warn,
        "{all}"
    );
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Fail, "{all}");
    assert_has(
        &token.finding,
        &[
            "400 invalid_client",
            "s ahead of the server's (HTTP Date header); OpenEMR allows 60 s",
        ],
    );
    assert!(token.finding.contains("clock is 18"), "{all}");
    assert!(token.fix.as_deref().unwrap().contains("NTP"), "{all}");

    let mut claims = world.claims();
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now + 180);
    claims["nbf"] = json!(now + 180);
    claims["exp"] = json!(now + 480);
    let (code, out, _) = run(world.inspect().arg(world.assertion(&claims)));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[iat-future]",
            "[nbf-future]",
            "ahead of the server's clock (its Date header)",
            "synchronise the client's clock (NTP",
        ],
    );
}

/// F23: exp far ahead, iat missing: family-aware.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f23_long_lived_assertions_are_judged_by_family() {
    let world = World::new(Family::F2, PATIENT).await;
    let now = chrono::Utc::now().timestamp();
    let mut far = world.claims();
    far["exp"] = json!(now + 172_800);
    far.as_object_mut().unwrap().remove("iat");
    let far = world.assertion(&far);
    // Detected as F2 from its discovery: refused.
    let (code, out, _) = run(world.inspect().arg(&far));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "family F2",
            "[exp-too-far]",
            "exp is 48 h ahead; F2 (7.0.4 to 8.x) refuses more than 24 h",
            "use exp = now + 300 and include iat",
            "[iat-missing]",
        ],
    );
    let (code, out, _) = run(world.inspect().arg(&far).args(["--family", "f1"]));
    assert_eq!(code, 21, "{out}");
    assert_has(&out, &["[exp-too-far]", "F1 (6.1.0 to 7.0.3) accepts it"]);
    let mut hour = world.claims();
    hour["exp"] = json!(now + 3600);
    let hour = world.assertion(&hour);
    for family in ["f1", "f2", "f3"] {
        let (code, out, _) = run(world.inspect().arg(&hour).args(["--family", family]));
        assert_eq!(code, 21, "{family}: {out}");
        assert_has(
            &out,
            &[
                "[exp-long]",
                "SMART asks for at most 300 s",
                "use exp = now + 300",
            ],
        );
    }
    world.stop().await;
}

/// F26: wildcards and SMART v2 suffixes the server does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f26_unknown_scope_syntax_is_named_with_the_explicit_scope() {
    let world = World::new(Family::F1, PATIENT).await;
    let (code, out, _) = run(&mut world.check("system/*.read"));
    assert_eq!(code, 10, "{out}");
    assert_has(
        &out,
        &[
            "wildcard",
            "request explicit scopes from scopes_supported, e.g. system/Patient.read",
        ],
    );
    let report = probe::run(&world.config("system/Patient.rs")).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(
        stage(&report, StageId::Inputs).status,
        Status::Warn,
        "{all}"
    );
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Fail, "{all}");
    assert_has(
        &token.finding,
        &[
            "refused scope system/Patient.rs (400 invalid_scope)",
            "SMART v2 scope",
        ],
    );
    assert_eq!(
        token.fix.as_deref(),
        Some("request system/Patient.read"),
        "{all}"
    );
}

/// G01: every API switch off: /oauth2 answers 404 while FHIR discovery answers (F2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g01_apis_switched_off_are_not_reported_as_a_wrong_url() {
    let world = World::new(Family::F2, PATIENT).await;
    for name in ["rest_api", "rest_fhir_api", "rest_portal_api"] {
        world.global(name, "0").await;
    }
    let mut config = world.config(PATIENT);
    config.db = None;
    let report = probe::run(&config).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(
        stage(&report, StageId::Discovery).status,
        Status::Pass,
        "{all}"
    );
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Fail, "{all}");
    assert_has(
        &token.finding,
        &["APIs are switched off", "404", "not a wrong URL"],
    );
    assert!(token
        .fix
        .as_deref()
        .unwrap()
        .contains("Enable OpenEMR Standard FHIR REST API"));
    assert_eq!(report.exit_code(), 15);
}

/// G03: Site Address empty behind a TLS proxy: the server builds http:// URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g03_an_https_aud_against_an_http_site_address_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    world.global("site_addr_oath", "").await;
    let port = world.sandbox.addr().port();
    let mut claims = world.claims();
    claims["aud"] = json!(format!("https://127.0.0.1:{port}/oauth2/default/token"));
    let (code, out, _) = run(world.inspect().arg(world.assertion(&claims)));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[aud-scheme]",
            "scheme https where the server expects http",
            "TLS proxy with an empty Site Address",
        ],
    );
}

/// G04: Site Address still holds the development value after a move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g04_a_stale_localhost_site_address_is_named_explicitly() {
    let world = World::new(Family::F1, PATIENT).await;
    world
        .global("site_addr_oath", "https://localhost:9300")
        .await;
    let report = probe::run(&world.config(PATIENT)).await;
    let discovery = stage(&report, StageId::Discovery);
    assert_eq!(discovery.status, Status::Warn, "{}", text(&report));
    assert_has(
        &discovery.finding,
        &[
            "https://localhost:9300/oauth2/default/token",
            "Site Address still holds https://localhost:9300",
        ],
    );
    let database = stage(&report, StageId::Database);
    assert!(
        database.finding.contains("https://localhost:9300"),
        "{}",
        text(&report)
    );
    // The client signed its own base URL as aud.
    let mut claims = world.claims();
    claims["aud"] = json!(world.token_url());
    let (code, out, _) = run(world.inspect().arg(world.assertion(&claims)));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "the token endpoint is https://localhost:9300/oauth2/default/token",
            "host 127.0.0.1 where the server expects localhost",
            "set Site Address",
        ],
    );
}

/// G06: grant_types hand-edited with spaces: refused on F3, a warning before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g06_space_separated_grant_types_are_refused_on_f3_and_warned_before() {
    let value = "client_credentials refresh_token";
    let world = World::new(Family::F3, PATIENT).await;
    world.set_client("grant_types", Some(value)).await;
    let (code, out, _) = run(&mut world.check(PATIENT));
    world.stop().await;
    assert_eq!(code, 12, "{out}");
    assert_has(&out, &[
        "grant_types \"client_credentials refresh_token\" is not |-separated",
        "400 unauthorized_client",
        &format!("oemr-doctor fix-scopes --client-id {CLIENT} --grant-types client_credentials --apply"),
    ]);
    let world = World::new(Family::F1, PATIENT).await;
    world.set_client("grant_types", Some(value)).await;
    let report = probe::run(&world.config(PATIENT)).await;
    world.stop().await;
    let database = stage(&report, StageId::Database);
    assert_eq!(database.status, Status::Warn, "{}", text(&report));
    assert!(
        database
            .finding
            .contains("OpenEMR master (F3) refuses the client"),
        "{}",
        database.finding
    );
    assert_eq!(report.exit_code(), 0, "{}", text(&report));
}

/// G07: a backend-services token on the Standard REST API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g07_the_standard_api_refusing_system_tokens_is_explained_not_failed() {
    for (family, status) in [(Family::F2, "HTTP 403"), (Family::F1, "HTTP 401")] {
        let world = World::new(family, PATIENT).await;
        let report = probe::run(&world.config(PATIENT)).await;
        world.stop().await;
        let patient = stage(&report, StageId::Patient);
        assert_eq!(patient.status, Status::Pass, "{}", text(&report));
        let evidence = patient.evidence.join("\n");
        assert_has(
            &evidence,
            &[
                "/apis/default/api/patient",
                status,
                "refuses backend-services tokens",
                "needs a user token",
            ],
        );
    }
}

/// G09: Standard-API lowercase spellings in FHIR scopes: F2 refuses, F1 grants uselessly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g09_lowercase_scope_spellings_are_named_on_f1_and_f2() {
    let scopes = "system/patient.read system/encounter.read";
    let world = World::new(Family::F2, scopes).await;
    let report = probe::run(&world.config(scopes)).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(
        stage(&report, StageId::Inputs).status,
        Status::Warn,
        "{all}"
    );
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Fail, "{all}");
    assert!(
        token.finding.contains("refused scope system/patient.read"),
        "{all}"
    );
    assert!(
        token
            .fix
            .as_deref()
            .unwrap()
            .contains("request system/Patient.read"),
        "{all}"
    );

    let world = World::new(Family::F1, scopes).await;
    let report = probe::run(&world.config(scopes)).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(stage(&report, StageId::Token).status, Status::Pass, "{all}");
    let patient = stage(&report, StageId::Patient);
    assert_eq!(patient.status, Status::Fail, "{all}");
    assert!(
        patient
            .finding
            .contains("the token lacks system/Patient.read"),
        "{all}"
    );
    assert!(
        patient
            .fix
            .as_deref()
            .unwrap()
            .contains("request system/Patient.read"),
        "{all}"
    );
}

/// G10: bulk-export scopes copied from old docs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g10_old_documentation_scopes_point_at_their_replacement() {
    let scopes = "system/Group.$export system/*.$bulkdata-status system/Document.read";
    let world = World::new(Family::F2, scopes).await;
    let (code, out, _) = run(&mut world.check(scopes));
    assert_eq!(code, 10, "{out}");
    assert_has(
        &out,
        &[
            "system/Document.read\" is from old OpenEMR docs",
            "request system/Binary.read",
        ],
    );
    let body = format!(
        "grant_type=client_credentials&scope={}",
        scopes.replace(' ', "+").replace('$', "%24")
    );
    let (code, out, _) = run(world.inspect().args([
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--body",
        &body,
    ]));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(&out, &["[scope-old-docs]", "request system/Binary.read"]);
    assert!(!out.contains("Group.$export\" is"), "{out}");
}

/// G11: the token URL built under the FHIR/API base.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g11_a_token_url_under_the_api_base_is_named() {
    let world = World::new(Family::F1, PATIENT).await;
    let wrong = format!("{}/apis/default/oauth2/default/token", world.base());
    let jwt = world.assertion(&world.claims());
    let body = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}&scope={PATIENT}"
    );
    let (code, out, _) = run(world.inspect().args([
        "--url",
        &wrong,
        "--header",
        "Content-Type: application/x-www-form-urlencoded",
        "--body",
        &body,
    ]));
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &[
            "[post-target]",
            "/apis/default/oauth2/default/token",
            "OAuth lives under /oauth2/SITE/",
            &format!("POST to {}", world.token_url()),
        ],
    );
    assert_eq!(
        out.matches("[FAIL]").count(),
        1,
        "only the target is wrong: {out}"
    );
    let (code, out, _) = run(crate::support::doctor()
        .args([
            "check",
            "--base-url",
            &format!("{}/apis/default", world.base()),
            "--client-id",
            CLIENT,
        ])
        .arg("--key")
        .arg(&world.key_path));
    world.stop().await;
    assert_eq!(code, 10, "{out}");
    assert!(
        out.contains("already points inside OpenEMR (apis)"),
        "{out}"
    );
}
