//! Token refusals that only some families give, each named with its cause: F0's missing
//! grant, F2's and F3's `invalid_request` hints on the assertion, F3's grant_types check, and
//! F2's plain-text 500 on a malformed registered scope column.

use crate::openemr::errors::ErrorBody;
use crate::openemr::{grants, Family};

use super::super::context::Context;
use super::super::http::Answer;
use super::super::StageOutcome;
use super::causes::{self, cause, outcome};

/// 401 invalid_client, with the registered key set's own faults added as proven causes.
pub fn client_refused(ctx: &Context<'_>) -> StageOutcome {
    let mut outcome = causes::client_refused(ctx);
    let finding = outcome.finding.clone();
    let extra = ctx
        .key_faults
        .iter()
        .filter(|f| f.is_refused())
        .filter(|f| !finding.contains(&f.what));
    for fault in extra {
        outcome = outcome.evidence(format!(
            "registered key set: {} (fix: {})",
            fault.what, fault.fix
        ));
    }
    outcome
}

/// 400 invalid_request: on F2 and F3 the hint names the broken assertion rule; on every
/// family a wrong client_assertion_type says "assertion type is not supported".
pub fn invalid_request(ctx: &Context<'_>, error: Option<&ErrorBody>) -> StageOutcome {
    let hint = error.and_then(|e| e.hint.clone()).unwrap_or_default();
    let family = ctx.family();
    let (text, fix) = match hint.as_str() {
        h if h.contains("assertion type") => (
            "the server did not see client_assertion_type=…jwt-bearer in a form body".to_string(),
            "send client_assertion_type and client_assertion as \
             application/x-www-form-urlencoded fields"
                .to_string(),
        ),
        h if h.contains("issuer") => (
            "iss is not the client id (F2 and later check it before the signature)".to_string(),
            "set iss = sub = the client id".to_string(),
        ),
        h if h.contains("expiration exceeds") => (
            "exp is more than 24 h ahead; OpenEMR 7.0.4 and later refuse that".to_string(),
            "use exp = now + 300".to_string(),
        ),
        h if h.contains("too far in the past") => (
            "iat is older than 5 minutes by the server's clock: this machine's clock is \
             behind, or the assertion was reused"
                .to_string(),
            "sign a fresh assertion for every request and synchronise the clock (NTP)".to_string(),
        ),
        h if h.contains("Missing jti") => (
            "the assertion has no jti".to_string(),
            "set a fresh random jti on every assertion".to_string(),
        ),
        h if h.contains("Missing exp") => (
            "the assertion has no exp; OpenEMR master (F3) requires it".to_string(),
            "set exp = now + 300".to_string(),
        ),
        "" => (
            "\"Bad request\": the server found no grant_type in a form body".to_string(),
            "POST the fields as application/x-www-form-urlencoded".to_string(),
        ),
        other => (
            format!("hint {other:?}"),
            "check OpenEMR's error log for the request".to_string(),
        ),
    };
    let headline = format!("the server refused the request (400 invalid_request, {family})");
    outcome(&headline, vec![cause(text, fix)], vec![]).evidence(format!("hint: {hint:?}"))
}

/// 400 unauthorized_client: F3 checks `oauth_clients.grant_types`.
pub fn grant_type_refused(ctx: &Context<'_>) -> StageOutcome {
    let headline = "the server refused the grant (400 unauthorized_client)";
    let fix = ctx.fix_grant_types();
    let Some(row) = ctx.client_row() else {
        let text = "oauth_clients.grant_types does not list client_credentials (OpenEMR master \
                    enforces it)";
        return outcome(headline, vec![], vec![cause(text, fix)]);
    };
    let stored = row.grant_types.clone().unwrap_or_default();
    outcome(
        headline,
        vec![cause(grant_types_text(&stored), fix)],
        vec![],
    )
}

/// What is wrong with a stored grant_types value for this grant.
pub fn grant_types_text(stored: &str) -> String {
    if stored.contains(' ') || stored.contains(',') {
        format!(
            "grant_types {stored:?} is not |-separated; OpenEMR splits on | and treats this \
             client as authorization_code-only"
        )
    } else {
        format!("grant_types {stored:?} does not list client_credentials")
    }
}

/// Whether a stored grant_types value fails F3's check.
pub fn grant_types_refused(stored: &str) -> bool {
    !grants::grant_allowed(stored, grants::CLIENT_CREDENTIALS)
}

/// 400 unsupported_grant_type: F0 (OpenEMR 6.0) has no client_credentials grant.
pub fn no_grant(ctx: &Context<'_>) -> StageOutcome {
    let known = ctx.known_family();
    let text = match known {
        Some(Family::F0) | None => "this server has no client_credentials grant: it is OpenEMR \
                                    6.0 (family F0)"
            .to_string(),
        Some(f) => {
            format!("the server has no client_credentials grant, although it looks like {f}")
        }
    };
    outcome(
        "the server refused the grant type (400 unsupported_grant_type)",
        vec![cause(
            text,
            "upgrade OpenEMR to 6.1.0 or later (7.0.x recommended)",
        )],
        vec![],
    )
}

/// F2 answers a registered scope column it cannot parse with a plain-text 500.
pub fn is_scope_format_crash(body: &str) -> bool {
    body.contains("Invalid scope format") || body.contains("Invalid permission string")
}

/// The plain-text 500 of a malformed `oauth_clients.scope`.
pub fn malformed_scope_column(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    let text = "the registered scope column (oauth_clients.scope) is malformed: OpenEMR 7.0.4 \
                and later crash parsing it (a double, leading or trailing space, or a bad entry)";
    let fix = ctx.fix_scopes_command("--add system/Patient.read");
    outcome(
        "the server failed with HTTP 500",
        vec![cause(
            text,
            format!("{fix} (rewrites the column with single spaces)"),
        )],
        vec![],
    )
    .evidence(answer.describe())
}
