//! Loading a client's key set: as F1's JsonWebKeySet does (`jwks_uri` when it is non-empty,
//! fetched anew every time whatever the HTTP status, else the `jwks` column; F2 is assumed
//! alike), and as F3's hardened one does (SSRF guard, size caps, strict kid match).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::store::ClientRecord;
use super::{uri_guard, Shared};
use crate::keys::jwks::{Jwk, Jwks, JwksError};
use crate::openemr::{
    F3_MAX_EXPONENT_BYTES, F3_MAX_JWKS_BYTES, F3_MAX_JWKS_KEYS, F3_MAX_MODULUS_BYTES,
};

/// Why no key set could be loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySetError {
    /// Nothing usable stored or served (no keys member, fetch failed): 401 invalid_client.
    Unavailable(&'static str),
    /// The text is not JSON at all: F1's loader hands null on and PHP dies, an empty 500.
    NotJson,
}

/// The client's keys, in the order they are listed (possibly none).
pub async fn load(shared: &Shared, client: &ClientRecord) -> Result<Vec<Jwk>, KeySetError> {
    let uri = client.jwks_uri.as_deref().unwrap_or("").trim();
    let text = if uri.is_empty() {
        stored_text(client)?
    } else {
        fetch(shared, uri).await?
    };
    match Jwks::parse(&text) {
        Ok(set) => Ok(set.keys),
        // An empty list loads fine; F1 only fails when it looks for an RSA key in it.
        Err(JwksError::Empty) => Ok(Vec::new()),
        Err(JwksError::Html | JwksError::NotJson(_)) => Err(KeySetError::NotJson),
        Err(JwksError::DoubleEncoded | JwksError::BareJwk | JwksError::NoKeys) => Err(
            KeySetError::Unavailable("decoded JSON has no \"keys\" member"),
        ),
    }
}

fn stored_text(client: &ClientRecord) -> Result<String, KeySetError> {
    match client.jwks.as_deref() {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(KeySetError::Unavailable("neither jwks nor jwks_uri is set")),
    }
}

async fn fetch(shared: &Shared, uri: &str) -> Result<String, KeySetError> {
    let failed = |error: reqwest::Error| {
        tracing::info!(%error, "fetching the client's jwks_uri failed");
        KeySetError::Unavailable("fetching jwks_uri failed")
    };
    let response = shared.http.get(uri).send().await.map_err(failed)?;
    response.text().await.map_err(failed)
}

/// F3's key set: loaded with the SSRF guard and size caps, and remembering its `jwks_uri` so
/// an unknown kid can refetch it once.
pub struct StrictKeySet {
    keys: Vec<Jwk>,
    uri: Option<String>,
}

/// Loads the client's key set as F3 does; every failure is a 401 invalid_client reason.
pub async fn load_strict(
    shared: &Shared,
    client: &ClientRecord,
) -> Result<StrictKeySet, &'static str> {
    let uri = client.jwks_uri.as_deref().unwrap_or("").trim();
    let (text, uri) = if uri.is_empty() {
        let stored = stored_text(client).map_err(|_| "neither jwks nor jwks_uri is set")?;
        (stored, None)
    } else {
        (fetch_guarded(shared, uri).await?, Some(uri.to_string()))
    };
    let keys = strict_keys(&text)?;
    Ok(StrictKeySet { keys, uri })
}

/// A document F3 accepts: a JSON object with a non-empty `keys` array of at most 50 objects.
fn strict_keys(text: &str) -> Result<Vec<Jwk>, &'static str> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "malformed JWKS: invalid JSON")?;
    let keys = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("malformed JWKS: missing or invalid keys")?;
    if keys.len() > F3_MAX_JWKS_KEYS {
        return Err("JWKS contains too many keys");
    }
    let keys: Vec<Jwk> = keys
        .iter()
        .filter_map(|k| k.as_object().cloned().map(Jwk))
        .collect();
    if keys.is_empty() {
        return Err("malformed JWKS: no valid keys");
    }
    Ok(keys)
}

/// The key `kid` names, with `use` absent or `sig` and `alg` absent or RS384; when none
/// matches, the `jwks_uri` is fetched once more (key rotation) before giving up.
pub async fn signing_key(
    shared: &Shared,
    set: &mut StrictKeySet,
    kid: &str,
) -> Result<Jwk, &'static str> {
    let mut found = find_strict(&set.keys, kid);
    if found.is_none() {
        if let Some(uri) = set.uri.clone() {
            set.keys = strict_keys(&fetch_guarded(shared, &uri).await?)?;
            found = find_strict(&set.keys, kid);
        }
    }
    let key = found.ok_or("no signing key for the assertion's kid")?;
    check_key_size(&key)?;
    Ok(key)
}

fn member<'a>(key: &'a Jwk, name: &str) -> Option<&'a str> {
    key.0.get(name).and_then(serde_json::Value::as_str)
}

fn find_strict(keys: &[Jwk], kid: &str) -> Option<Jwk> {
    keys.iter()
        .find(|k| {
            k.kid() == Some(kid)
                && member(k, "use").is_none_or(|u| u == "sig")
                && member(k, "alg").is_none_or(|a| a == crate::openemr::ASSERTION_ALG)
        })
        .cloned()
}

/// RSA only, `n` and `e` present, base64url, and within F3's size caps.
fn check_key_size(key: &Jwk) -> Result<(), &'static str> {
    if key.kty() != Some("RSA") {
        return Err("unsupported JWK key type");
    }
    let decoded = |name: &str| {
        let text = member(key, name)?;
        URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
    };
    let (n, e) = match (decoded("n"), decoded("e")) {
        (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => (n, e),
        _ => return Err("RSA JWK n or e missing or not base64url"),
    };
    if n.len() > F3_MAX_MODULUS_BYTES || e.len() > F3_MAX_EXPONENT_BYTES {
        return Err("RSA JWK parameters exceed permitted size");
    }
    Ok(())
}

/// Fetches a `jwks_uri` past the guard, connecting only to the checked addresses, following
/// no redirect, and reading at most the size cap.
async fn fetch_guarded(shared: &Shared, uri: &str) -> Result<String, &'static str> {
    let allow_loopback = shared.allow_loopback_jwks_uri;
    let destination = uri_guard::check(uri, allow_loopback)
        .await
        .inspect_err(|reason| {
            tracing::info!(reason, "refusing to fetch the client's jwks_uri");
        })?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&destination.host, &destination.addrs)
        .build()
        .map_err(|_| "fetching jwks_uri failed")?;
    let failed = |error: reqwest::Error| {
        tracing::info!(%error, "fetching the client's jwks_uri failed");
        "fetching jwks_uri failed"
    };
    let mut response = client.get(destination.url).send().await.map_err(failed)?;
    let too_big = "JWKS document exceeds the size cap";
    if response
        .content_length()
        .is_some_and(|n| n > F3_MAX_JWKS_BYTES as u64)
    {
        return Err(too_big);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        body.extend_from_slice(&chunk);
        if body.len() > F3_MAX_JWKS_BYTES {
            return Err(too_big);
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
