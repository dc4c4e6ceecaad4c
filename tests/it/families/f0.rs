//! F0 (OpenEMR 6.0): no client_credentials grant; discovery as the older F1 documents.

use oemr_doctor::openemr::errors::{UNSUPPORTED_GRANT, UNSUPPORTED_GRANT_HINT};
use oemr_doctor::openemr::Family;

use super::harness::World;

#[tokio::test]
async fn client_credentials_is_an_unsupported_grant() {
    let world = World::start(Family::F0).await;
    let answer = world.request("system/Patient.read").await;
    answer.assert_oauth(400, "unsupported_grant_type", Some(UNSUPPORTED_GRANT_HINT));
    assert_eq!(answer.json()["error_description"], UNSUPPORTED_GRANT);
    let jtis: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jwt_grant_history")
        .fetch_one(&world.test_db.pool)
        .await
        .unwrap();
    assert_eq!(jtis, 0, "the assertion is never looked at");
}

#[tokio::test]
async fn discovery_reports_6_0_0_without_the_later_smart_fields() {
    let world = World::start(Family::F0).await;
    let metadata = world.get("/apis/default/fhir/metadata", None).await;
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.json()["software"]["version"], "6.0.0");

    let smart = world
        .get("/apis/default/fhir/.well-known/smart-configuration", None)
        .await;
    assert_eq!(smart.status, 200);
    let smart = smart.json();
    assert!(smart["registration_endpoint"].is_string());
    assert!(smart.get("grant_types_supported").is_none());
    assert!(smart.get("code_challenge_methods_supported").is_none());
    assert!(smart.get("issuer").is_none());

    let oidc = world
        .get("/oauth2/default/.well-known/openid-configuration", None)
        .await;
    assert_eq!(oidc.json()["token_endpoint"], world.token_url().as_str());
}
