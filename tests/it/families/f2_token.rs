//! F2's token endpoint: the claim pre-checks answered `invalid_request` before the signature
//! is looked at, the refused missing assertion, and the token it issues.

use oemr_doctor::openemr::errors::ASSERTION_TYPE_HINT;
use oemr_doctor::openemr::{Family, JWT_BEARER};
use serde_json::Value;

use super::harness::{token_claims, token_header, World, CLIENT};

/// Sends claims edited by `edit`, signed with a broken signature when `garbage` is set.
async fn send_claims(world: &World, edit: impl FnOnce(&mut Value), garbage: bool) -> Value {
    let mut claims = world.claims();
    edit(&mut claims);
    let mut assertion = world.sign(&world.header(), &claims);
    if garbage {
        assertion = format!("{}.c2lnbmF0dXJl", assertion.rsplit_once('.').unwrap().0);
    }
    let answer = world.request_token(&assertion, "system/Patient.read").await;
    assert!(answer.content_type.starts_with("application/json"));
    serde_json::json!({"status": answer.status, "body": answer.json()})
}

/// An edit of the assertion claims.
type ClaimsEdit = Box<dyn FnOnce(&mut Value)>;

fn hint_of(result: &Value) -> (&Value, &Value, &Value) {
    (
        &result["status"],
        &result["body"]["error"],
        &result["body"]["hint"],
    )
}

#[tokio::test]
async fn claim_prechecks_answer_invalid_request_before_the_signature() {
    let world = World::start(Family::F2).await;
    let now = chrono::Utc::now().timestamp();
    let cases: [(&str, ClaimsEdit); 4] = [
        (
            "Invalid issuer claim",
            Box::new(|c| c["iss"] = "someone-else".into()),
        ),
        (
            "Token expiration exceeds maximum allowed time",
            Box::new(move |c| c["exp"] = (now + 48 * 3600).into()),
        ),
        (
            "Token issued too far in the past",
            Box::new(move |c| c["iat"] = (now - 360).into()),
        ),
        (
            "Missing jti claim",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
    ];
    for (hint, edit) in cases {
        // A broken signature changes nothing: these checks come first.
        let result = send_claims(&world, edit, true).await;
        assert_eq!(
            hint_of(&result),
            (&400.into(), &"invalid_request".into(), &hint.into())
        );
    }
}

#[tokio::test]
async fn f1_knows_none_of_the_prechecks() {
    let world = World::start(Family::F1).await;
    let result = send_claims(&world, |c| c["iss"] = "someone-else".into(), false).await;
    assert_eq!(result["status"], 400);
    assert_eq!(result["body"]["error"], "invalid_client");
    let far = chrono::Utc::now().timestamp() + 48 * 3600;
    let result = send_claims(&world, |c| c["exp"] = far.into(), false).await;
    assert_eq!(result["status"], 200, "F1 accepts any exp horizon");
}

#[tokio::test]
async fn exp_may_be_missing_and_a_bad_signature_is_still_invalid_client() {
    let world = World::start(Family::F2).await;
    let result = send_claims(
        &world,
        |c| {
            c.as_object_mut().unwrap().remove("exp");
        },
        false,
    )
    .await;
    assert_eq!(result["status"], 200, "{}", result["body"]);
    let result = send_claims(&world, |_| {}, true).await;
    assert_eq!(hint_of(&result).0, 400);
    assert_eq!(result["body"]["error"], "invalid_client");
}

#[tokio::test]
async fn a_missing_assertion_is_refused_like_a_missing_assertion_type() {
    let world = World::start(Family::F2).await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("scope", "system/Patient.read"),
    ];
    let answer = world.post_form(&form).await;
    answer.assert_oauth(400, "invalid_request", Some(ASSERTION_TYPE_HINT));
}

#[tokio::test]
async fn tokens_carry_iss_and_no_site_scope() {
    let world = World::start(Family::F2).await;
    let answer = world.request("openid api:fhir system/Patient.read").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type, "application/json; charset=UTF-8");
    let body = answer.json();
    assert_eq!(
        body["scope"], "openid system/Patient.read",
        "api: is hidden"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token_header(token)["alg"], "RS256");
    let claims = token_claims(token);
    let issuer = format!("{}/oauth2/default", world.sandbox.base_url());
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(
        claims["scopes"],
        serde_json::json!(["openid", "api:fhir", "system/Patient.read"])
    );
}

#[tokio::test]
async fn a_lone_segment_after_oauth2_is_the_default_site() {
    let world = World::start(Family::F2).await;
    let url = format!("{}/oauth2/jwk", world.sandbox.base_url());
    let response = crate::sandbox::http().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let jwk: Value = response.json().await.unwrap();
    assert_eq!(jwk["keys"][0]["kty"], "RSA");
}
