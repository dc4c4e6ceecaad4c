//! Stage 7, scopes: what the token was granted against what was requested. OpenEMR drops a
//! requested scope that is not in the client's registered list without an error, so a
//! dropped scope is named here, before the API call it breaks.

use crate::openemr::scopes::split_registered;

use super::context::{Context, TokenFacts};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Scopes;

/// Compares granted and requested scopes.
pub fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let facts = ctx.token.clone().expect("the token stage got a token");
    ctx.dropped = dropped(&ctx.config.scopes, &facts);
    let evidence = granted_evidence(&facts);
    if ctx.dropped.is_empty() {
        return StageOutcome::pass(STAGE, "every requested scope was granted")
            .evidence_lines(evidence);
    }
    let finding = format!("requested but not granted: {}", ctx.dropped.join(" "));
    let (cause, known) = cause(ctx);
    StageOutcome::warn(STAGE, finding)
        .evidence_lines(evidence)
        .evidence(cause)
        .fix(fix(ctx, known))
}

/// Requested scopes the token lacks. Scopes with a `:` are left out: F1 hides them from the
/// answer's `scope` string and always adds `api:fhir` and `site:SITE` to the token.
pub fn dropped(requested: &[String], facts: &TokenFacts) -> Vec<String> {
    let in_token = |s: &String| {
        facts.granted.contains(s)
            || facts
                .claim_scopes
                .as_ref()
                .is_some_and(|claims| claims.contains(s))
    };
    requested
        .iter()
        .filter(|s| !s.contains(':'))
        .filter(|s| !in_token(s))
        .cloned()
        .collect()
}

fn granted_evidence(facts: &TokenFacts) -> Vec<String> {
    let mut lines = vec![format!("granted (scope): {:?}", facts.granted.join(" "))];
    match &facts.claim_scopes {
        Some(claims) => lines.push(format!("access token scopes claim: {:?}", claims.join(" "))),
        None => lines.push("the access token's scopes claim could not be read".to_string()),
    }
    lines
}

/// Whether every dropped scope is a user/ or patient/ one that F3 strips from this grant.
fn stripped_by_f3(ctx: &Context<'_>) -> bool {
    let user_or_patient = |s: &String| s.starts_with("user/") || s.starts_with("patient/");
    ctx.family().drops_user_scopes() && ctx.dropped.iter().all(user_or_patient)
}

/// The cause of the drop, and whether the database proves it.
fn cause(ctx: &Context<'_>) -> (String, bool) {
    if stripped_by_f3(ctx) {
        let text = "cause: OpenEMR master (F3) drops user/ and patient/ scopes from \
                    client_credentials tokens; a backend service gets system/ scopes only";
        return (text.to_string(), true);
    }
    let Some(row) = ctx.client_row() else {
        let text = "cause (likely): the client's registered scopes (oauth_clients.scope) lack \
                    them; OpenEMR drops unregistered scopes silently";
        return (text.to_string(), false);
    };
    let entries = split_registered(row.scope_text());
    let unregistered: Vec<&str> = ctx
        .dropped
        .iter()
        .map(String::as_str)
        .filter(|s| !entries.contains(s))
        .collect();
    if unregistered.is_empty() {
        let text = format!(
            "oauth_clients.scope holds them ({:?}), yet they were dropped",
            row.scope_text()
        );
        return (text, false);
    }
    let text = format!(
        "cause: oauth_clients.scope for {} lacks {} (registered: {:?})",
        row.client_id,
        unregistered.join(" "),
        row.scope_text()
    );
    (text, true)
}

fn fix(ctx: &Context<'_>, known: bool) -> String {
    if stripped_by_f3(ctx) {
        // Registering them changes nothing: the server strips them from this grant.
        let system: Vec<String> = ctx
            .dropped
            .iter()
            .filter_map(|s| s.split_once('/').map(|(_, rest)| format!("system/{rest}")))
            .collect();
        return format!("request {} instead (and register them)", system.join(" "));
    }
    let command = ctx.fix_scopes_add(&ctx.dropped);
    if known || ctx.client_row().is_none() {
        format!("{command}, then request a new token")
    } else {
        format!("check the server version's scope rules; {command} rewrites the column cleanly")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_colon_scopes_are_not_counted_as_dropped() {
        let requested: Vec<String> = [
            "api:fhir",
            "system/Patient.read",
            "system/Practitioner.read",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let facts = TokenFacts {
            access_token: String::new(),
            granted: vec!["system/Practitioner.read".into()],
            claim_scopes: None,
        };
        assert_eq!(dropped(&requested, &facts), vec!["system/Patient.read"]);
    }
}
