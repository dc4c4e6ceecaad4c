//! Authenticating the client by its assertion, in each family's order: F1's constraints on
//! the first RSA key; F2's claim pre-checks first; F3's strict kid and hardened key set.

use super::assertion::{self, Expectations, ParsedAssertion, Verdict};
use super::context::RequestContext;
use super::keyset::{self, KeySetError};
use super::refusal::{refuse, unusable_client, Refusal};
use super::store::{self, ClientRecord};
use super::Shared;
use crate::keys::jwks::Jwk;
use crate::openemr::errors::OAuthError;

/// Checks the assertion of `client`; `Ok` once it is authenticated (its jti not yet stored).
pub async fn authenticate(
    shared: &Shared,
    ctx: &RequestContext,
    client: &ClientRecord,
    assertion: &ParsedAssertion,
) -> Result<(), Refusal> {
    let key = if shared.profile.strict_keys() {
        Some(strict_key(shared, client, assertion).await?)
    } else {
        legacy_key(shared, client).await?
    };
    if shared.profile.claim_prechecks() {
        let exp_required = shared.profile.strict_keys();
        if let Some(hint) = assertion::precheck(assertion, &client.client_id, now(), exp_required) {
            return Err(refuse(OAuthError::invalid_request(hint), hint));
        }
    }
    constraints(shared, ctx, client, assertion, key.as_ref()).await
}

fn now() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

/// F1 and F2: the first `kty: RSA` key of the set, whatever the kid.
async fn legacy_key(shared: &Shared, client: &ClientRecord) -> Result<Option<Jwk>, Refusal> {
    let keys = keyset::load(shared, client).await.map_err(|e| match e {
        KeySetError::Unavailable(reason) => unusable_client(reason),
        KeySetError::NotJson => Refusal::Crash("client key material is not JSON"),
    })?;
    Ok(keys.into_iter().find(|k| k.kty() == Some("RSA")))
}

/// F3: a `kid` header, and the key it names in the hardened key set.
async fn strict_key(
    shared: &Shared,
    client: &ClientRecord,
    assertion: &ParsedAssertion,
) -> Result<Jwk, Refusal> {
    let mut set = keyset::load_strict(shared, client)
        .await
        .map_err(unusable_client)?;
    let kid = assertion
        .kid()
        .ok_or_else(|| unusable_client("JWT missing kid header"))?;
    keyset::signing_key(shared, &mut set, kid)
        .await
        .map_err(unusable_client)
}

/// lcobucci's constraints and the replay check: 400 invalid_client for any failure, 401 when
/// the set has no usable key.
async fn constraints(
    shared: &Shared,
    ctx: &RequestContext,
    client: &ClientRecord,
    assertion: &ParsedAssertion,
    key: Option<&Jwk>,
) -> Result<(), Refusal> {
    let token_url = ctx.urls.token();
    let expect = Expectations {
        client_id: &client.client_id,
        token_url: &token_url,
        key,
        now: now(),
    };
    let mut failed = match assertion::check(assertion, &expect) {
        Verdict::Valid => Vec::new(),
        Verdict::Invalid(failed) => failed,
        Verdict::NoUsableKey => {
            return Err(unusable_client("no usable RSA key in the client key set"));
        }
    };
    if let Some(jti) = assertion.jti() {
        if store::jti_used(&shared.db, jti).await? {
            tracing::info!(client_id = %client.client_id, "jti reused: possible replay attack");
            failed.push("jti was already used");
        }
    }
    match failed.first() {
        None => Ok(()),
        Some(first) => {
            tracing::info!(client_id = %client.client_id, failures = ?failed, "assertion invalid");
            Err(refuse(OAuthError::invalid_client(400), first))
        }
    }
}
