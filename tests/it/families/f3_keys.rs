//! F3's client keys: a `kid` header is required and must name a usable key exactly, an
//! unknown kid refetches the `jwks_uri` once, and the `jwks_uri` itself is guarded (https
//! and public addresses, loopback only with the sandbox's allowance) and size-capped.

use oemr_doctor::openemr::Family;
use serde_json::{json, Value};

use super::harness::World;
use super::jwks_server::JwksServer;

/// Requests a token with the standard claims under `header`.
async fn status_with_header(world: &World, header: &Value) -> (u16, Value) {
    let assertion = world.sign(header, &world.claims());
    let answer = world.request_token(&assertion, "system/Patient.read").await;
    (answer.status, answer.json())
}

#[tokio::test]
async fn kid_is_required_and_matched_exactly() {
    let world = World::start(Family::F3).await;
    let (status, body) = status_with_header(&world, &json!({"alg": "RS384"})).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let other = json!({"alg": "RS384", "kid": "another-kid"});
    assert_eq!(status_with_header(&world, &other).await.0, 401);
    assert_eq!(status_with_header(&world, &world.header()).await.0, 200);

    let f2 = World::start(Family::F2).await;
    let (status, _) = status_with_header(&f2, &json!({"alg": "RS384"})).await;
    assert_eq!(status, 200, "F2 ignores kid");
}

#[tokio::test]
async fn the_jwk_must_be_for_signing_with_rs384() {
    let world = World::start(Family::F3).await;
    let edits: [(&str, Option<&str>, u16); 4] = [
        ("use", Some("enc"), 401),
        ("alg", Some("RS256"), 401),
        ("use", None, 200),
        ("alg", None, 200),
    ];
    for (member, value, expected) in edits {
        let mut jwk = world.jwk();
        match value {
            Some(v) => jwk[member] = v.into(),
            None => {
                jwk.as_object_mut().unwrap().remove(member);
            }
        }
        world.set_client("jwks", Some(&world.jwks(&[jwk]))).await;
        let (status, _) = status_with_header(&world, &world.header()).await;
        assert_eq!(status, expected, "{member} = {value:?}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_uri_once() {
    let world = World::start(Family::F3).await;
    let mut stale = world.jwk();
    stale["kid"] = "old-kid".into();
    let rotated = JwksServer::start(vec![
        world.jwks(&[stale.clone()]),
        world.jwks(&[world.jwk()]),
    ])
    .await;
    world.set_client("jwks", None).await;
    world.set_client("jwks_uri", Some(&rotated.url())).await;
    assert_eq!(status_with_header(&world, &world.header()).await.0, 200);
    assert_eq!(
        rotated.fetches(),
        2,
        "fetched, then refetched for the new kid"
    );

    let never = JwksServer::start(vec![world.jwks(&[stale])]).await;
    world.set_client("jwks_uri", Some(&never.url())).await;
    assert_eq!(status_with_header(&world, &world.header()).await.0, 401);
    assert_eq!(never.fetches(), 2, "one refetch, then refused");
}

#[tokio::test]
async fn loopback_jwks_uri_needs_the_allowance() {
    let world = World::start_with(Family::F3, |c| c.allow_loopback_jwks_uri = false).await;
    let server = JwksServer::start(vec![world.jwks(&[world.jwk()])]).await;
    world.set_client("jwks", None).await;
    for uri in [server.url(), server.https_localhost_url()] {
        world.set_client("jwks_uri", Some(&uri)).await;
        let (status, body) = status_with_header(&world, &world.header()).await;
        assert_eq!(
            (status, &body["error"]),
            (401, &json!("invalid_client")),
            "{uri}"
        );
    }
    assert_eq!(server.fetches(), 0, "refused before any connection");

    let f2 = World::start_with(Family::F2, |c| c.allow_loopback_jwks_uri = false).await;
    let f2_server = JwksServer::start(vec![f2.jwks(&[f2.jwk()])]).await;
    f2.set_client("jwks", None).await;
    f2.set_client("jwks_uri", Some(&f2_server.url())).await;
    assert_eq!(
        status_with_header(&f2, &f2.header()).await.0,
        200,
        "F2 has no guard"
    );
}

#[tokio::test]
async fn oversized_key_sets_and_keys_are_refused() {
    let world = World::start(Family::F3).await;
    let mut huge = world.jwk();
    huge["x-padding"] = "a".repeat(300 * 1024).into();
    let too_big = JwksServer::start(vec![world.jwks(&[huge, world.jwk()])]).await;
    world.set_client("jwks", None).await;
    world.set_client("jwks_uri", Some(&too_big.url())).await;
    assert_eq!(status_with_header(&world, &world.header()).await.0, 401);

    let mut many: Vec<Value> = (0..50).map(|i| json!({"kty": "RSA", "kid": i})).collect();
    many.push(world.jwk());
    world.set_client("jwks_uri", None).await;
    world.set_client("jwks", Some(&world.jwks(&many))).await;
    assert_eq!(status_with_header(&world, &world.header()).await.0, 401);

    let mut wide = world.jwk();
    wide["n"] = "A".repeat(1400).into();
    world.set_client("jwks", Some(&world.jwks(&[wide]))).await;
    assert_eq!(status_with_header(&world, &world.header()).await.0, 401);
}

#[tokio::test]
async fn a_jwks_that_is_not_json_is_a_401_not_a_crash() {
    let world = World::start(Family::F3).await;
    world.set_client("jwks", Some("{\"keys\":[{\"kty\":")).await;
    let (status, body) = status_with_header(&world, &world.header()).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
}
