//! Every field case of shared/cases/field-cases.md (F07 aside, which is about registration)
//! as a regression test: the minimal input built, check or inspect run against the sandbox
//! of the right family, the stage or fault it blames and the fix it prints asserted. Several
//! members of each fault's family are tried, not only the reported input.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, StageId, Status};
use serde_json::json;

use crate::check_world::{assert_has, run, stage, text, World, CLIENT};

mod clock_and_scopes;
mod keys;

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

pub fn world_jwks(world: &World) -> std::path::PathBuf {
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
