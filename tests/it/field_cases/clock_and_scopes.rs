//! Field cases about time, scopes and addresses: F21, F23, F26 and G01 to G11.

use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, ProbeOptions, StageId, Status};
use serde_json::json;

use super::PATIENT;
use crate::check_world::{assert_has, run, stage, text, World, CLIENT};

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
    assert_has(
        &out,
        &[
            "grant_types \"client_credentials refresh_token\" is not |-separated",
            "400 unauthorized_client",
            // The fix keeps refresh_token and stores the list |-separated.
            &format!(
                "oemr-doctor fix-scopes --client-id {CLIENT} --grant-types \
                 \"client_credentials refresh_token\" --apply"
            ),
        ],
    );
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
