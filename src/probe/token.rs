//! Stage 6, token: posts the assertion to the token URL reachable from the base URL and names
//! what the answer means. OpenEMR gives every client-authentication failure the same body, so
//! the cause is narrowed with what the keys and database stages found.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::assertion::shortened;
use crate::openemr::errors::ErrorBody;
use crate::openemr::JWT_BEARER;

use super::context::{Context, TokenFacts};
use super::http::{Answer, BodyKind};
use super::{StageId, StageOutcome};

mod access;
mod causes;
mod family_causes;

pub use causes::expected_aud;
pub use family_causes::{grant_types_refused, grant_types_text};

const STAGE: StageId = StageId::Token;

/// Requests a token with the assertion built by the previous stage.
pub async fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let url = ctx.urls.as_ref().expect("inputs passed").token();
    let assertion = ctx.assertion.as_ref().expect("assertion stage passed");
    let aud = assertion.claims.aud.clone();
    let scope = ctx.config.scopes.join(" ");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.compact()),
        ("scope", scope.as_str()),
    ];
    let http = match &ctx.http {
        Ok(http) => http,
        Err(e) => return StageOutcome::fail(STAGE, e.clone()),
    };
    let answer = match http.post_form(&url, &form).await {
        Ok(answer) => answer,
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()),
    };
    let (outcome, token) = classify(ctx, &answer);
    let outcome = match &token {
        Some(facts) => access::verify(ctx, http, facts, outcome).await,
        None => outcome,
    };
    ctx.token = token;
    let mut outcome = outcome.evidence(format!("POST {url} -> HTTP {}", answer.status));
    if aud != url {
        outcome = outcome.evidence(format!(
            "assertion aud {aud} (the advertised token endpoint)"
        ));
    }
    outcome
}

/// Names what a token answer means; the token facts come back only on success.
pub fn classify(ctx: &Context<'_>, answer: &Answer) -> (StageOutcome, Option<TokenFacts>) {
    if answer.status == 200 {
        if let Some(facts) = token_facts(answer) {
            return (issued(answer, &facts), Some(facts));
        }
    }
    (refused(ctx, answer), None)
}

fn token_facts(answer: &Answer) -> Option<TokenFacts> {
    let json = answer.json()?;
    let access_token = json.get("access_token")?.as_str()?.to_string();
    let granted = json
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let claim_scopes = claim_scopes(&access_token);
    Some(TokenFacts {
        access_token,
        granted,
        claim_scopes,
    })
}

/// The `scopes` claim of an access token, read without verifying it (only the server can).
pub fn claim_scopes(access_token: &str) -> Option<Vec<String>> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let scopes = claims.get("scopes")?.as_array()?;
    Some(
        scopes
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

fn issued(answer: &Answer, facts: &TokenFacts) -> StageOutcome {
    let json = answer.json().unwrap_or_default();
    let token_type = json
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let expires = json
        .get("expires_in")
        .map(|v| v.to_string())
        .unwrap_or_else(|| "?".into());
    let finding = format!("access token issued ({token_type}, expires in {expires} s)");
    let outcome = if token_type == "Bearer" {
        StageOutcome::pass(STAGE, finding)
    } else {
        StageOutcome::warn(STAGE, format!("{finding}: token_type is not Bearer"))
            .fix("check what answers at the token URL: OpenEMR always says Bearer")
    };
    outcome
        .evidence(format!("access token: {}", shortened(&facts.access_token)))
        .evidence(format!("granted scope: {:?}", facts.granted.join(" ")))
}

fn refused(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    if answer.is_redirect() {
        let to = answer.location.clone().unwrap_or_default();
        return StageOutcome::fail(
            STAGE,
            format!("{} redirects to {to} (not followed)", answer.url),
        )
        .fix("use the address the server redirects to as --base-url");
    }
    let kind = answer.kind();
    let error = ErrorBody::parse(&answer.body);
    let code = error.as_ref().map(|e| e.error.as_str());
    match (answer.status, code, &kind) {
        (400, Some("invalid_client"), _) => causes::assertion_rejected(ctx, answer),
        (401, Some("invalid_client"), _) => family_causes::client_refused(ctx),
        (400, Some("invalid_scope"), _) => causes::scope_refused(ctx, error.as_ref()),
        (400, Some("invalid_request"), _) => family_causes::invalid_request(ctx, error.as_ref()),
        (400, Some("unauthorized_client"), _) => family_causes::grant_type_refused(ctx),
        (400, Some("unsupported_grant_type"), _) => family_causes::no_grant(ctx),
        (404, _, BodyKind::Empty | BodyKind::Json(_)) => causes::apis_off(ctx, answer),
        (500, _, BodyKind::Text) if family_causes::is_scope_format_crash(&answer.body) => {
            family_causes::malformed_scope_column(ctx, answer)
        }
        (500, _, BodyKind::Empty | BodyKind::Json(_) | BodyKind::Text) => {
            causes::server_error(ctx, answer)
        }
        (_, _, BodyKind::Html(title)) => html_answer(answer, title.as_deref()),
        (status, Some(code), _) => other_error(status, code, error.as_ref()),
        (200, None, _) => StageOutcome::fail(STAGE, "HTTP 200 but no access_token in the answer")
            .evidence(answer.describe()),
        _ => StageOutcome::fail(STAGE, format!("unexpected answer HTTP {}", answer.status))
            .evidence(answer.describe()),
    }
}

fn html_answer(answer: &Answer, title: Option<&str>) -> StageOutcome {
    let title = title.map_or(String::new(), |t| format!(" ({t:?})"));
    StageOutcome::fail(
        STAGE,
        format!(
            "HTTP {} with an HTML page{title}: not an OpenEMR API answer (a login page or a proxy)",
            answer.status
        ),
    )
    .fix("check --base-url: the token URL must reach OpenEMR's /oauth2 endpoint directly")
}

fn other_error(status: u16, code: &str, error: Option<&ErrorBody>) -> StageOutcome {
    let hint = error
        .and_then(|e| e.hint.clone().or(e.error_description.clone()))
        .unwrap_or_default();
    StageOutcome::fail(STAGE, format!("HTTP {status} {code}: {hint}"))
        .fix("check OpenEMR's PHP error log for the request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scopes_claim_is_read_without_verifying() {
        let payload =
            URL_SAFE_NO_PAD.encode(r#"{"scopes":["system/Patient.read","site:default"]}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(
            claim_scopes(&token),
            Some(vec!["system/Patient.read".into(), "site:default".into()])
        );
        assert_eq!(claim_scopes("garbage"), None);
    }
}
