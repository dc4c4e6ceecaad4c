//! F2 discovery and gates: the SMART v2 configuration, the 7.0.4 CapabilityStatement, and the
//! JSON answers for a disabled API and an unknown site.

use oemr_doctor::openemr::errors::{API_DISABLED, SITE_ERROR};
use oemr_doctor::openemr::Family;

use super::harness::World;

#[tokio::test]
async fn smart_configuration_is_the_v2_document() {
    let world = World::start(Family::F2).await;
    let answer = world
        .get("/apis/default/fhir/.well-known/smart-configuration", None)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    // Symfony's JsonResponse escapes slashes.
    assert!(answer.body.contains("http:\\/\\/"), "{}", answer.body);
    let smart = answer.json();
    let base = world.sandbox.base_url();
    assert_eq!(smart["issuer"], format!("{base}/apis/default/fhir"));
    assert_eq!(smart["jwks_uri"], format!("{base}/oauth2/default/jwk"));
    assert_eq!(
        smart["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "private_key_jwt"])
    );
    assert!(smart.get("registration_endpoint").is_none());
    let capabilities: Vec<&str> = smart["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(capabilities.contains(&"client-confidential-asymmetric"));
    assert!(capabilities.contains(&"permission-v2"));
    // Still nested one array deep, as in every family.
    let scopes = smart["scopes_supported"][0].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "system/Patient.rs"));
    assert!(scopes.iter().any(|s| s == "system/Patient.read"));
}

#[tokio::test]
async fn metadata_and_openid_configuration_speak_7_0_4() {
    let world = World::start(Family::F2).await;
    let metadata = world.get("/apis/default/fhir/metadata", None).await;
    assert_eq!(metadata.json()["software"]["version"], "7.0.4");
    let oidc = world
        .get("/oauth2/default/.well-known/openid-configuration", None)
        .await;
    assert_eq!(oidc.status, 200);
    let oidc = oidc.json();
    let scopes = oidc["scopes_supported"].as_array().unwrap();
    assert!(scopes.iter().any(|s| s == "system/Observation.rs"));
    assert!(!scopes.iter().any(|s| s == "system/patient.read"));
    let grants = oidc["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == "client_credentials"));
}

#[tokio::test]
async fn api_switched_off_is_a_json_404_while_fhir_discovery_answers() {
    let world = World::start(Family::F2).await;
    for global in ["rest_api", "rest_fhir_api", "rest_portal_api"] {
        world.set_global(global, "0").await;
    }
    let token = world.request("system/Patient.read").await;
    token.assert_api_error(404, API_DISABLED);
    let jwk = world.get("/oauth2/default/jwk", None).await;
    jwk.assert_api_error(404, API_DISABLED);

    for path in ["metadata", ".well-known/smart-configuration"] {
        let answer = world.get(&format!("/apis/default/fhir/{path}"), None).await;
        assert_eq!(answer.status, 200, "{path}");
    }
    let patient = world.get("/apis/default/fhir/Patient", None).await;
    assert_eq!(patient.status, 401);
}

#[tokio::test]
async fn fhir_is_not_gated_on_its_own_global() {
    let world = World::start(Family::F2).await;
    world.set_global("rest_fhir_api", "0").await;
    let token = world.token("system/Patient.read").await;
    let answer = world.get("/apis/default/fhir/Patient", Some(&token)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["total"], 1);
    let smart = world
        .get("/apis/default/fhir/.well-known/smart-configuration", None)
        .await;
    assert_eq!(smart.status, 200);
}

#[tokio::test]
async fn an_unknown_site_is_a_json_400_on_both_dispatchers() {
    let world = World::start(Family::F2).await;
    let oauth = world.get("/oauth2/nosuchsite/jwk", None).await;
    oauth.assert_api_error(400, SITE_ERROR);
    let apis = world.get("/apis/nosuchsite/fhir/metadata", None).await;
    apis.assert_api_error(400, SITE_ERROR);
}
