//! Stage 8, patient: the API call the setup exists for, `GET {fhir}/Patient` with the token.

use serde_json::Value;

use super::context::Context;
use super::http::{Answer, BodyKind};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Patient;

/// The scope an F1 server checks for a Patient search.
const PATIENT_READ: &str = "system/Patient.read";

/// Searches Patient with the access token.
pub async fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let url = ctx.urls.as_ref().expect("inputs passed").patient_search();
    let token = ctx.token.as_ref().expect("the token stage got a token");
    let http = match &ctx.http {
        Ok(http) => http,
        Err(e) => return StageOutcome::fail(STAGE, e.clone()),
    };
    let outcome = match http.get(&url, Some(&token.access_token)).await {
        Ok(answer) => judge(ctx, &answer).evidence(format!("GET {url} -> HTTP {}", answer.status)),
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()),
    };
    let api = format!(
        "{}/apis/{}/api/patient",
        ctx.urls.as_ref().expect("inputs passed").base,
        ctx.config.site
    );
    match http.get(&api, Some(&token.access_token)).await {
        Ok(answer) => outcome.evidence(standard_api_line(&answer)),
        Err(_) => outcome,
    }
}

/// What the Standard REST API says to the same token: it refuses system tokens on every
/// family, which is expected and not a scope problem.
fn standard_api_line(answer: &Answer) -> String {
    match answer.status {
        200 => format!(
            "GET {} -> HTTP 200 (the Standard API accepted a system token)",
            answer.url
        ),
        status => format!(
            "GET {} -> HTTP {status}: expected, the Standard REST API (/api/) refuses \
             backend-services tokens (F1: 401 empty, F2: 403); it needs a user token \
             (authorization code), and no scope such as api:oemr changes that",
            answer.url
        ),
    }
}

/// Names what the Patient answer means.
pub fn judge(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    let kind = answer.kind();
    match (answer.status, &kind) {
        (200, BodyKind::Json(bundle)) => bundle_outcome(bundle, answer),
        (401, BodyKind::Empty) => scope_missing(ctx),
        (401, BodyKind::Json(body)) if is_f2_unauthorized(body) => f2_scope_missing(ctx),
        (401, BodyKind::Json(body)) => token_rejected(body),
        (403, _) => StageOutcome::fail(STAGE, format!("HTTP 403: {}", answer.describe()))
            .fix("the FHIR API refused the token's role; check the client's registration"),
        (501, _) => StageOutcome::fail(
            STAGE,
            format!(
                "the FHIR API is switched off: {} \
            answered 501",
                answer.url
            ),
        )
        .fix(
            "turn on \"Enable OpenEMR Standard FHIR REST API\" in Administration > Config \
                > Connectors",
        ),
        (400, BodyKind::Empty) => StageOutcome::fail(
            STAGE,
            "HTTP 400 with an empty body: \
            OpenEMR does not know this site id",
        )
        .fix("pass the right --site"),
        (_, BodyKind::Html(title)) => StageOutcome::fail(
            STAGE,
            format!(
                "HTTP {} with an HTML page{}: not an OpenEMR API answer",
                answer.status,
                title
                    .as_ref()
                    .map_or(String::new(), |t| format!(" ({t:?})"))
            ),
        )
        .fix("check --base-url: a login page or a proxy answers instead of the FHIR API"),
        _ => StageOutcome::fail(STAGE, format!("unexpected answer: {}", answer.describe())),
    }
}

fn bundle_outcome(bundle: &Value, answer: &Answer) -> StageOutcome {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return StageOutcome::fail(
            STAGE,
            format!("HTTP 200 but not a FHIR Bundle: {}", answer.describe()),
        );
    }
    let total = bundle
        .get("total")
        .map_or_else(|| "?".to_string(), Value::to_string);
    StageOutcome::pass(
        STAGE,
        format!("Patient search answered a Bundle, total {total}"),
    )
}

/// 401 with an empty body: the token is valid but lacks the scope the route checks.
fn scope_missing(ctx: &Context<'_>) -> StageOutcome {
    let headline = format!("401 with an empty body: the token lacks {PATIENT_READ}");
    if ctx.dropped.iter().any(|s| s == PATIENT_READ) {
        let fix = ctx.fix_scopes_add(&[PATIENT_READ.to_string()]);
        return StageOutcome::fail(
            STAGE,
            format!("{headline} (requested, but dropped: the client's registered scopes lack it)"),
        )
        .evidence("cause: oauth_clients.scope, which OpenEMR intersects with the request")
        .fix(format!("{fix}, then request a new token"));
    }
    if !ctx.config.scopes.iter().any(|s| s == PATIENT_READ) {
        return StageOutcome::fail(STAGE, format!("{headline} (it was not requested)"))
            .fix(format!("request {PATIENT_READ} (add it to --scope)"));
    }
    StageOutcome::fail(
        STAGE,
        "401 with an empty body although the token holds system/Patient.read",
    )
    .evidence("OpenEMR answers so when the token's api_token row is missing or expired")
    .fix("request a new token; if it persists, check the api_token table and OpenEMR's error log")
}

/// F2's JSON `{"message":"Unauthorized"}`: the token has no scope covering the search.
fn is_f2_unauthorized(body: &Value) -> bool {
    body.get("message").and_then(Value::as_str) == Some("Unauthorized")
}

fn f2_scope_missing(ctx: &Context<'_>) -> StageOutcome {
    let granted = ctx
        .token
        .as_ref()
        .and_then(|t| t.claim_scopes.clone())
        .unwrap_or_default();
    let patient: Vec<&String> = granted
        .iter()
        .filter(|s| s.starts_with("system/Patient."))
        .collect();
    let finding = match patient.first() {
        Some(scope) => format!(
            "401 Unauthorized: the token's {scope} does not cover a Patient search (F2 needs \
             .read, .rs or .s; .r alone is a read by id)"
        ),
        None => "401 Unauthorized: the token has no system/Patient scope".to_string(),
    };
    let fix = if ctx.dropped.iter().any(|s| s.starts_with("system/Patient.")) {
        format!(
            "{}, then request a new token",
            ctx.fix_scopes_add(&[PATIENT_READ.to_string()])
        )
    } else {
        format!("request {PATIENT_READ} (or system/Patient.rs) and register it for the client")
    };
    StageOutcome::fail(STAGE, finding).fix(fix)
}

fn token_rejected(body: &Value) -> StageOutcome {
    let hint = body
        .get("hint")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no hint");
    StageOutcome::fail(
        STAGE,
        format!("the server rejected the access token: {hint}"),
    )
    .fix("request a new token; if it persists, check OpenEMR's error log")
}
