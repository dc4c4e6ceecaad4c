//! F3's grant and claim rules: `grant_types` must allow client_credentials, `exp` is
//! required, and user/ and patient/ scopes never reach a client_credentials token.

use oemr_doctor::openemr::errors::{GRANT_NOT_REGISTERED_HINT, UNAUTHORIZED_CLIENT};
use oemr_doctor::openemr::Family;

use super::harness::World;

#[tokio::test]
async fn grant_types_must_list_client_credentials_pipe_separated() {
    let world = World::start(Family::F3).await;
    let refused = ["", "authorization_code", "client_credentials refresh_token"];
    for stored in refused {
        world.set_client("grant_types", Some(stored)).await;
        let answer = world.request("system/Patient.read").await;
        answer.assert_oauth(400, "unauthorized_client", Some(GRANT_NOT_REGISTERED_HINT));
        assert_eq!(answer.json()["error_description"], UNAUTHORIZED_CLIENT);
    }
    world.set_client("grant_types", None).await;
    let answer = world.request("system/Patient.read").await;
    assert_eq!(answer.status, 400, "NULL is authorization_code only");
    world
        .set_client("grant_types", Some("authorization_code|client_credentials"))
        .await;
    let answer = world.request("system/Patient.read").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn f2_does_not_look_at_grant_types() {
    let world = World::start(Family::F2).await;
    world
        .set_client("grant_types", Some("authorization_code"))
        .await;
    let answer = world.request("system/Patient.read").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn exp_is_required() {
    let world = World::start(Family::F3).await;
    let mut claims = world.claims();
    claims.as_object_mut().unwrap().remove("exp");
    let assertion = world.sign(&world.header(), &claims);
    let answer = world.request_token(&assertion, "system/Patient.read").await;
    answer.assert_oauth(400, "invalid_request", Some("Missing exp claim"));
}

#[tokio::test]
async fn user_and_patient_scopes_are_dropped() {
    let world = World::start(Family::F3).await;
    let scopes = "system/Patient.read user/Patient.read patient/Patient.read";
    world.set_client("scope", Some(scopes)).await;
    let answer = world.request(scopes).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["scope"], "system/Patient.read");

    let f2 = World::start(Family::F2).await;
    f2.set_client("scope", Some(scopes)).await;
    let answer = f2.request(scopes).await;
    assert_eq!(answer.json()["scope"], scopes, "F2 keeps them");
}
