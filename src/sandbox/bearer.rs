//! Checking an API request's bearer token: league's BearerTokenValidator (with its hints),
//! then OpenEMR's own checks of the token's site and the database rows.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use super::{store, Shared};
use crate::keys::jwks::components;
use crate::openemr::urls::SiteUrls;

/// The claims of a verified access token that the API layer uses.
pub struct AccessClaims {
    pub jti: String,
    pub client_id: String,
    pub user_uuid: String,
    pub scopes: Vec<String>,
    /// `iss` (F2 tokens only; empty otherwise).
    pub issuer: String,
}

/// Why a bearer token was not accepted; `answers::bearer` renders it per family.
pub enum BearerRefusal {
    /// league's validator refused it (missing header, bad signature, expired), with its hint.
    Invalid(&'static str),
    /// The `api_token` row says revoked.
    Revoked,
    /// Issued for another site: F1's `site:` scope, F2's per-site signing key.
    WrongSite,
    /// No `oauth_trusted_user` row for the token's user and client.
    NotTrusted,
    /// The `api_token` row is missing or expired.
    NoTokenRow,
    /// The sandbox itself failed.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for BearerRefusal {
    fn from(error: anyhow::Error) -> BearerRefusal {
        BearerRefusal::Internal(error)
    }
}

/// Checks the request's token for the site of `urls`, in the family's order.
pub async fn check(
    shared: &Shared,
    headers: &HeaderMap,
    urls: &SiteUrls,
) -> Result<AccessClaims, BearerRefusal> {
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or(BearerRefusal::Invalid("Missing \"Authorization\" header"))?;
    let text = String::from_utf8_lossy(header.as_bytes()).to_string();
    let claims = verify(shared, strip_bearer(&text))?;
    if shared.profile.issuer_in_token() && !issued_here(&claims, urls) {
        return Err(BearerRefusal::WrongSite);
    }
    let state = store::token_state(&shared.db, &claims.jti).await?;
    if state.as_ref().is_some_and(|s| s.revoked) {
        return Err(BearerRefusal::Revoked);
    }
    let site_scope = format!("site:{}", urls.site);
    if shared.profile.site_scope_in_token() && !claims.scopes.contains(&site_scope) {
        return Err(BearerRefusal::WrongSite);
    }
    if !store::trusted_user_exists(&shared.db, &claims.user_uuid, &claims.client_id).await? {
        return Err(BearerRefusal::NotTrusted);
    }
    if state.is_none_or(|s| s.expired) {
        return Err(BearerRefusal::NoTokenRow);
    }
    Ok(claims)
}

/// F2 verifies with the site's own key, so a token from another site fails its signature.
/// Limitation: the sandbox signs for every site with one key, so it compares the site in the
/// token's `iss` instead; the answer is the same 401.
fn issued_here(claims: &AccessClaims, urls: &SiteUrls) -> bool {
    let suffix = format!("/oauth2/{}", urls.site);
    claims.issuer.ends_with(&suffix)
}

/// league strips a leading `Bearer ` (case-sensitive) and trims; anything else stays, so a
/// lowercase `bearer ` ends up inside the "JWT" and fails base64 decoding.
fn strip_bearer(header: &str) -> &str {
    let start = header.trim_start();
    start
        .strip_prefix("Bearer")
        .filter(|rest| rest.starts_with(char::is_whitespace))
        .unwrap_or(header)
        .trim()
}

/// Parses with lcobucci's messages as hints, then checks signature and times.
fn verify(shared: &Shared, token: &str) -> Result<AccessClaims, BearerRefusal> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(BearerRefusal::Invalid("The JWT string must have two dots"));
    }
    let header = decode_part(parts[0])?;
    let claims = decode_part(parts[1])?;
    let (n, e) = components(&shared.server_key.public());
    let key = DecodingKey::from_rsa_components(&n, &e)
        .map_err(|e| BearerRefusal::Internal(anyhow::anyhow!("server key: {e}")))?;
    let signed = header.get("alg").and_then(Value::as_str) == Some("RS256")
        && jsonwebtoken::crypto::verify(
            parts[2],
            &token.as_bytes()[..parts[0].len() + parts[1].len() + 1],
            &key,
            Algorithm::RS256,
        )
        .unwrap_or(false);
    if !signed || !times_ok(&claims) {
        return Err(BearerRefusal::Invalid("Access token could not be verified"));
    }
    Ok(access_claims(&claims))
}

fn decode_part(segment: &str) -> Result<Map<String, Value>, BearerRefusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| {
            BearerRefusal::Invalid(
                "Error while decoding from Base64Url, invalid base64 characters detected",
            )
        })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(BearerRefusal::Invalid("Error while decoding from JSON")),
    }
}

/// league's LooseValidAt without leeway: not expired, not used before nbf or iat.
fn times_ok(claims: &Map<String, Value>) -> bool {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let time = |name: &str| claims.get(name).and_then(Value::as_f64);
    time("exp").is_none_or(|exp| now < exp)
        && time("nbf").is_none_or(|nbf| nbf <= now)
        && time("iat").is_none_or(|iat| iat <= now)
}

fn access_claims(claims: &Map<String, Value>) -> AccessClaims {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let scopes = claims
        .get("scopes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    AccessClaims {
        jti: text("jti"),
        client_id: text("aud"),
        user_uuid: text("sub"),
        scopes,
        issuer: text("iss"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_capitalised_bearer_prefix_is_stripped() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("Bearer "), "");
        assert_eq!(strip_bearer("bearer abc"), "bearer abc");
        assert_eq!(strip_bearer("Bearerabc"), "Bearerabc");
    }
}
