//! F2's API layer: JSON 401s for bad tokens and missing scopes, search needing the `s`
//! permission, and the 403 for a system token on the Standard API.

use oemr_doctor::openemr::errors::{ACCESS_DENIED, INSUFFICIENT_PERMISSIONS, UNAUTHORIZED};
use oemr_doctor::openemr::Family;
use oemr_doctor::sandbox::SEEDED_PATIENT_UUID;

use super::harness::World;

const SEARCH: &str = "/apis/default/fhir/Patient";

#[tokio::test]
async fn bad_bearer_tokens_are_one_json_401() {
    let world = World::start(Family::F2).await;
    world
        .get(SEARCH, None)
        .await
        .assert_api_error(401, ACCESS_DENIED);
    let garbage = world.get(SEARCH, Some("not.a.jwt")).await;
    garbage.assert_api_error(401, ACCESS_DENIED);

    let token = world.token("system/Patient.read").await;
    sqlx::query("UPDATE api_token SET revoked = 1")
        .execute(&world.test_db.pool)
        .await
        .unwrap();
    let revoked = world.get(SEARCH, Some(&token)).await;
    revoked.assert_api_error(401, ACCESS_DENIED);
}

#[tokio::test]
async fn search_needs_the_s_permission() {
    let world = World::start(Family::F2).await;
    world
        .set_client(
            "scope",
            Some("system/Patient.read system/Patient.rs system/Patient.s system/Patient.r"),
        )
        .await;
    for scope in [
        "system/Patient.read",
        "system/Patient.rs",
        "system/Patient.s",
    ] {
        let token = world.token(scope).await;
        let answer = world.get(SEARCH, Some(&token)).await;
        assert_eq!(answer.status, 200, "{scope}: {}", answer.body);
        let bundle = answer.json();
        assert_eq!(
            (bundle["type"].as_str(), bundle["total"].as_i64()),
            (Some("collection"), Some(1))
        );
        assert!(answer.body.contains("\\/apis\\/default\\/fhir\\/Patient"));
    }
    let read_only = world.token("system/Patient.r").await;
    let search = world.get(SEARCH, Some(&read_only)).await;
    search.assert_api_error(401, UNAUTHORIZED);
    let by_id = format!("{SEARCH}/{SEEDED_PATIENT_UUID}");
    let read = world.get(&by_id, Some(&read_only)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["id"], SEEDED_PATIENT_UUID);
}

#[tokio::test]
async fn a_token_without_the_scope_is_unauthorized() {
    let world = World::start(Family::F2).await;
    let token = world.token("system/Practitioner.read").await;
    world
        .get(SEARCH, Some(&token))
        .await
        .assert_api_error(401, UNAUTHORIZED);
    let practitioners = world
        .get("/apis/default/fhir/Practitioner", Some(&token))
        .await;
    assert_eq!(practitioners.status, 200);
}

#[tokio::test]
async fn a_system_token_on_the_standard_api_is_403() {
    let world = World::start(Family::F2).await;
    let token = world.token("system/Patient.read").await;
    let answer = world.get("/apis/default/api/patient", Some(&token)).await;
    answer.assert_api_error(403, INSUFFICIENT_PERMISSIONS);
}

#[tokio::test]
async fn a_token_from_another_site_is_refused() {
    let world = World::start_with(Family::F2, |config| {
        config.sites = vec!["default".into(), "clinic2".into()];
    })
    .await;
    let token = world.token("system/Patient.read").await;
    let other = world.get("/apis/clinic2/fhir/Patient", Some(&token)).await;
    other.assert_api_error(401, ACCESS_DENIED);
}
