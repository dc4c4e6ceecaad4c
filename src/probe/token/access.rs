//! The access token a successful answer carries: verified against the server's own key
//! (`/oauth2/SITE/jwk`, RS256), its lifetime and its scopes listed. The token itself is a
//! bearer credential and is never shown.

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::super::context::{Context, TokenFacts};
use super::super::http::Http;
use super::super::{StageId, StageOutcome, Status};
use crate::keys::jwks::Jwks;

const STAGE: StageId = StageId::Token;

/// Adds what the access token proves to a passing outcome; warns when it does not verify.
pub async fn verify(
    ctx: &Context<'_>,
    http: &Http,
    facts: &TokenFacts,
    outcome: StageOutcome,
) -> StageOutcome {
    let url = ctx.urls.as_ref().expect("inputs passed").server_jwk();
    let verdict = match http.get(&url, None).await {
        Ok(answer) => check(&answer.body, &facts.access_token),
        Err(e) => Err(format!("cannot fetch the server's key: {e}")),
    };
    match verdict {
        Ok(claims) => outcome.evidence_lines(claim_lines(&url, &claims)),
        Err(why) if outcome.status == Status::Pass => {
            let mut warned = StageOutcome::warn(
                STAGE,
                format!("access token issued, but it does not verify with {url}: {why}"),
            )
            .fix("compare --base-url and --site with the server that issued it");
            warned.evidence = outcome.evidence;
            warned
        }
        Err(why) => outcome.evidence(format!("access token not verified: {why}")),
    }
}

/// The verified claims, or why verification failed.
fn check(server_jwks: &str, token: &str) -> Result<Value, String> {
    let set = Jwks::parse(server_jwks).map_err(|e| format!("the server's key set: {e}"))?;
    let key = set
        .keys
        .first()
        .ok_or("the server's key set is empty")?
        .decoding_key()
        .map_err(|e| format!("the server's key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn claim_lines(url: &str, claims: &Value) -> Vec<String> {
    let number = |name| claims.get(name).and_then(Value::as_f64).map(|f| f as i64);
    let lifetime = match (number("exp"), number("iat")) {
        (Some(exp), Some(iat)) => format!(", lifetime {} s", exp - iat),
        _ => String::new(),
    };
    let scopes: Vec<&str> = claims
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    vec![
        format!("access token verified with the server key at {url} (RS256{lifetime})"),
        format!("access token scopes: {}", scopes.join(" ")),
    ]
}
