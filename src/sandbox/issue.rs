//! Issuing an access token for a client_credentials grant: the RS256 JWT, the optional
//! id_token, the database rows OpenEMR writes, and the response in league's key order.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use jsonwebtoken::{Algorithm, Header};
use rand::RngCore;
use serde_json::{json, Map, Value};

use super::profile::Profile;
use super::store::{self, IssuedToken};
use super::{reply, Shared};
use crate::openemr::errors::php_json;
use crate::openemr::ACCESS_TOKEN_TTL_SECS;

/// What a successful grant hands out.
pub struct Grant<'a> {
    pub profile: Profile,
    pub client_id: &'a str,
    /// The `oe-system` user's UUID.
    pub user_uuid: &'a str,
    pub site: &'a str,
    /// The OAuth issuer (`BASE/oauth2/SITE`), for the id_token (and F2's access tokens).
    pub issuer: &'a str,
    /// Requested scopes that survived validation and the registered-scope intersection.
    pub scopes: Vec<String>,
}

/// Mints the tokens, writes `api_token` and `oauth_trusted_user`, and answers 200.
pub async fn issue(shared: &Shared, grant: &Grant<'_>) -> anyhow::Result<Response> {
    let token_id = token_id();
    let mut scopes = grant.scopes.clone();
    if grant.profile.site_scope_in_token() {
        // F1 always appends the site scope, which the API layer later matches to the URL.
        scopes.push(format!("site:{}", grant.site));
    }
    let access_token = sign(shared, &access_claims(grant, &token_id, &scopes))?;
    let scope_json = serde_json::to_string(&scopes)?;
    let issued = IssuedToken {
        jti: &token_id,
        user_uuid: grant.user_uuid,
        client_id: grant.client_id,
        scope_json: &scope_json,
    };
    store::save_issued(&shared.db, &issued).await?;
    let mut body = Map::new();
    if grant.scopes.iter().any(|s| s == "openid") {
        body.insert("id_token".into(), sign(shared, &id_claims(grant))?.into());
    }
    body.insert("scope".into(), shown_scope(grant).into());
    body.insert("token_type".into(), "Bearer".into());
    body.insert("expires_in".into(), ACCESS_TOKEN_TTL_SECS.into());
    body.insert("access_token".into(), access_token.into());
    Ok(token_response(php_json(&Value::Object(body))))
}

/// 80 hex characters, like league's token identifiers.
fn token_id() -> String {
    let mut bytes = [0u8; 40];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix time with microseconds: F1 writes iat, nbf and exp as floats.
fn now_float() -> f64 {
    let micros = chrono::Utc::now().timestamp_micros();
    (micros as f64) / 1_000_000.0
}

fn access_claims(grant: &Grant<'_>, token_id: &str, scopes: &[String]) -> Value {
    let now = now_float();
    let mut claims = json!({
        "aud": grant.client_id,
        "jti": token_id,
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TOKEN_TTL_SECS as f64,
        "sub": grant.user_uuid,
        "scopes": scopes,
    });
    if grant.profile.issuer_in_token() {
        // Where F2 puts iss among the claims is not known; last is a guess.
        claims["iss"] = grant.issuer.into();
    }
    claims
}

fn id_claims(grant: &Grant<'_>) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "aud": grant.client_id,
        "iss": grant.issuer,
        "iat": now,
        "exp": now + ACCESS_TOKEN_TTL_SECS,
        "sub": grant.user_uuid,
    });
    if grant.scopes.iter().any(|s| s == "api:fhir") {
        claims["api:fhir"] = true.into();
    }
    claims
}

fn sign(shared: &Shared, claims: &Value) -> anyhow::Result<String> {
    let key = shared.server_key.encoding_key();
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &key,
    )?)
}

/// The response's `scope`: granted scopes without those the family hides there (F1 any
/// containing ':', F2 those starting `api:`).
fn shown_scope(grant: &Grant<'_>) -> String {
    grant
        .scopes
        .iter()
        .filter(|s| !grant.profile.hides_in_response(s))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn token_response(body: String) -> Response {
    let mut response = reply::json_text(200, "application/json; charset=UTF-8", body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_scope_hides_colon_scopes() {
        let grant = Grant {
            profile: Profile::new(crate::openemr::Family::F1),
            client_id: "c",
            user_uuid: "u",
            site: "default",
            issuer: "i",
            scopes: ["openid", "api:fhir", "system/Patient.read"]
                .map(String::from)
                .into(),
        };
        assert_eq!(shown_scope(&grant), "openid system/Patient.read");
    }

    #[test]
    fn token_ids_are_80_hex_characters() {
        let id = token_id();
        assert_eq!(id.len(), 80);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
