//! The causes behind each kind of token refusal, narrowed with what the earlier stages found.
//! A cause the evidence proves is reported as the finding; otherwise the candidates are
//! listed, most likely first.

use crate::openemr::errors::ErrorBody;
use crate::openemr::{scopes, SYSTEM_USERNAME};

use super::super::context::{Context, KeyMatch};
use super::super::http::Answer;
use super::super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Token;
const CONNECTORS: &str = "Administration > Config > Connectors";

/// One possible cause and its fix.
pub struct Cause {
    text: String,
    fix: String,
}

pub fn cause(text: impl Into<String>, fix: impl Into<String>) -> Cause {
    Cause {
        text: text.into(),
        fix: fix.into(),
    }
}

/// Turns proven causes and candidates into an outcome under `headline`.
pub fn outcome(headline: &str, proven: Vec<Cause>, candidates: Vec<Cause>) -> StageOutcome {
    let mut proven = proven.into_iter();
    if let Some(first) = proven.next() {
        let others = proven
            .chain(candidates)
            .map(|c| format!("also possible: {}", c.text));
        return StageOutcome::fail(STAGE, format!("{headline}: {}", first.text))
            .evidence_lines(others)
            .fix(first.fix);
    }
    let fix = candidates
        .first()
        .map(|c| format!("{} (OpenEMR's PHP error log names the exact cause)", c.fix));
    let listed = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| format!("candidate {}: {}", i + 1, c.text));
    let mut outcome =
        StageOutcome::fail(STAGE, format!("{headline}; candidates, most likely first"))
            .evidence_lines(listed);
    outcome.fix = fix;
    outcome
}

/// 400 invalid_client: the server read the assertion and refused its content.
pub fn assertion_rejected(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    let mut proven = Vec::new();
    let mut candidates = Vec::new();
    let skew = answer.server_offset().or(ctx.discovery.server_offset);
    if let Some(offset) = skew.filter(|o| o.abs() > crate::openemr::LEEWAY_SECS) {
        proven.push(cause(
            super::super::assertion::skew_text(-offset),
            "synchronise this machine's clock (NTP; container and VM clocks drift), then retry",
        ));
    }
    match &ctx.key_match {
        KeyMatch::Mismatch { source, detail } => proven.push(cause(
            format!(
                "the assertion is signed with a key that is not in the registered key set \
                ({source}: {detail})"
            ),
            "sign with the private key whose public half is registered, or register this key's \
                public JWK",
        )),
        KeyMatch::Matched {
            first_rsa: false,
            index,
            source,
            ..
        } => proven.push(cause(
            format!(
                "OpenEMR verifies with the first RSA key of {source}, and this key is key \
                #{}",
                index + 1
            ),
            "move this key to the front of the key set",
        )),
        KeyMatch::NoJwks => candidates.push(cause(
            "the signature does not verify: the registered key set may not hold this key (none \
                was at hand to compare)",
            "pass --jwks with the registered key set, or the database, to compare the key",
        )),
        _ => {}
    }
    aud_causes(ctx, &mut proven, &mut candidates);
    if skew.is_none() {
        candidates.push(cause(
            "this machine's clock differs from the server's by more than 60 s (iat/exp)",
            "synchronise both clocks (NTP)",
        ));
    }
    outcome(
        "the server refused the assertion (400 invalid_client)",
        proven,
        candidates,
    )
}

/// The aud the server expects, when its Site Address is known: site_addr_oath, the web root,
/// then `/oauth2/SITE/token`.
pub fn expected_aud(ctx: &Context<'_>) -> Option<String> {
    let site_addr = ctx
        .globals()?
        .value("site_addr_oath")
        .trim()
        .trim_end_matches('/');
    if site_addr.is_empty() {
        return None;
    }
    let urls = ctx.urls.as_ref()?;
    let webroot = url::Url::parse(&urls.base)
        .ok()?
        .path()
        .trim_end_matches('/')
        .to_string();
    Some(format!("{site_addr}{webroot}/oauth2/{}/token", urls.site))
}

fn aud_causes(ctx: &Context<'_>, proven: &mut Vec<Cause>, candidates: &mut Vec<Cause>) {
    let Some(aud) = ctx.assertion.as_ref().map(|a| a.claims.aud.clone()) else {
        return;
    };
    match expected_aud(ctx) {
        Some(expected) if expected != aud => proven.push(cause(
            format!("aud is {aud} but the server expects {expected} (built from its Site Address)"),
            format!(
                "sign aud as {expected}, or set Site Address in {CONNECTORS} to the origin \
                clients use"
            ),
        )),
        Some(_) => {}
        None => candidates.push(cause(
            format!(
                "the server expects another aud than {aud} (it builds it from its Site \
                Address, or from the request's Host when that is empty, as behind a TLS proxy)"
            ),
            format!(
                "set Site Address (site_addr_oath) in {CONNECTORS} to the public origin \
                and sign aud with the advertised token endpoint"
            ),
        )),
    }
}

/// 401 invalid_client: the server did not accept the client itself.
pub fn client_refused(ctx: &Context<'_>) -> StageOutcome {
    let headline = "the server refused the client (401 invalid_client: a registration problem)";
    let mut proven = registration_causes(ctx);
    let key_fault = ctx.key_faults.iter().find(|f| f.is_refused());
    let default_fix = "store a JSON key set {\"keys\":[...]} holding the client's public RSA JWK";
    let fix = key_fault.map_or(default_fix.to_string(), |f| f.fix.clone());
    match (&ctx.key_match, key_fault) {
        (KeyMatch::Unusable { source, why }, _) => proven.push(cause(
            format!("the registered key set ({source}) is unusable: {why}"),
            fix,
        )),
        (_, Some(fault)) => proven.push(cause(
            format!(
                "the registered key set has no usable RSA key: {}",
                fault.what
            ),
            fix,
        )),
        _ => {}
    }
    let db_read = ctx.db.as_ref().is_some_and(|d| d.error.is_none());
    let candidates = if db_read {
        row_blind_spots(ctx)
    } else {
        registration_candidates(ctx)
    };
    outcome(headline, proven, candidates)
}

fn registration_causes(ctx: &Context<'_>) -> Vec<Cause> {
    let id = &ctx.config.client_id;
    let Some(facts) = ctx.db.as_ref().filter(|d| d.error.is_none()) else {
        return Vec::new();
    };
    let Some(row) = &facts.client else {
        return vec![cause(
            format!("client {id} does not exist in oauth_clients"),
            "check --client-id against Admin > System > API Clients",
        )];
    };
    let mut found = Vec::new();
    if !row.is_enabled {
        found.push(cause(
            format!("client {id} is disabled (is_enabled = 0; new system clients start disabled)"),
            format!(
                "{} (or enable it in Admin > System > API Clients)",
                ctx.fix_scopes_command("--enable")
            ),
        ));
    }
    if !row.is_confidential {
        found.push(cause(
            format!("client {id} is not confidential"),
            "register it again as a confidential (private) app with a JWKS",
        ));
    }
    if !row.has_jwks() && !row.has_jwks_uri() {
        found.push(cause(
            format!("client {id} has neither jwks nor jwks_uri"),
            "register the client's public key set",
        ));
    }
    found
}

fn row_blind_spots(ctx: &Context<'_>) -> Vec<Cause> {
    let uri = ctx
        .client_row()
        .and_then(|r| r.jwks_uri.clone())
        .filter(|u| !u.trim().is_empty());
    match uri {
        Some(uri) => vec![cause(
            format!(
                "the server cannot fetch the jwks_uri {uri} (it fetches it on every token request)"
            ),
            "make the jwks_uri reachable from the OpenEMR server",
        )],
        None => Vec::new(),
    }
}

fn registration_candidates(ctx: &Context<'_>) -> Vec<Cause> {
    let id = &ctx.config.client_id;
    vec![
        cause(
            format!("client {id} is disabled (new system clients start disabled)"),
            "enable it in Admin > System > API Clients (give --db-url so oemr-doctor can check)",
        ),
        cause(
            format!("no client {id} is registered on this server"),
            "check --client-id",
        ),
        cause(
            "the registered key set is missing or unusable (no RSA key, not a \
            {\"keys\":[...]} object, jwks_uri unreachable)",
            "register the client's public key \
                set",
        ),
        cause(
            "the client is not confidential",
            "register it as a confidential (private) app",
        ),
    ]
}

/// 400 invalid_scope: the server does not support a requested scope right now.
pub fn scope_refused(ctx: &Context<'_>, error: Option<&ErrorBody>) -> StageOutcome {
    let scope = error
        .and_then(ErrorBody::refused_scope)
        .unwrap_or_else(|| "?".into());
    let requested = ctx.scopes();
    let headline = format!("the server refused scope {scope} (400 invalid_scope)");
    let quirk = requested.contains(&"api:oemr") && !requested.contains(&"api:fhir");
    if quirk && names_fhir_resource(&scope) {
        let text = "OpenEMR 7.0.3 and older load no FHIR scopes when the request names \
            api:oemr without api:fhir";
        return outcome(
            &headline,
            vec![cause(
                text,
                "add api:fhir to the requested scopes, or drop api:oemr",
            )],
            vec![],
        );
    }
    let fault = crate::assertion::request_scopes::scope_fault(&scope, ctx.family());
    if let Some(fault) = fault {
        return outcome(&headline, vec![cause(fault.what, fault.fix)], vec![]);
    }
    if !scopes::is_fhir_system_scope(&scope) {
        return outcome(
            &headline,
            vec![cause(
                "OpenEMR does not support this scope",
                "remove it from --scope",
            )],
            vec![],
        );
    }
    let fix = format!("turn on \"Enable OpenEMR FHIR System Scopes\" in {CONNECTORS}");
    match ctx
        .globals()
        .map(|g| g.value("rest_system_scopes_api").to_string())
    {
        Some(value) if value != "1" => outcome(
            &headline,
            vec![cause(
                format!(
                    "FHIR system scopes are off: global rest_system_scopes_api is \
                {value:?}, it must be \"1\""
                ),
                fix,
            )],
            vec![],
        ),
        Some(_) => outcome(
            &headline,
            vec![],
            vec![cause(
                "this server version does not support \
            the scope",
                "remove it from --scope",
            )],
        ),
        None => outcome(
            &headline,
            vec![],
            vec![cause(
                "FHIR system scopes are off (global rest_system_scopes_api must be \"1\")",
                fix,
            )],
        ),
    }
}

/// Whether a scope names a FHIR resource (PascalCase or `*`) in any context.
fn names_fhir_resource(scope: &str) -> bool {
    scope
        .split_once('/')
        .is_some_and(|(_, rest)| rest.starts_with(|c: char| c.is_ascii_uppercase() || c == '*'))
}

/// 404 with an empty or JSON body on the token URL: the APIs are off (not a wrong URL).
pub fn apis_off(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    let confirmed = ctx.globals().map(|g| !g.any_api());
    if confirmed == Some(false) {
        return wrong_token_url(answer);
    }
    let finding = format!(
        "OpenEMR's APIs are switched off: {} answered 404 (every /oauth2 URL does while rest_api, \
         rest_fhir_api and rest_portal_api are all off); this is not a wrong URL",
        answer.url
    );
    let mut outcome = StageOutcome::fail(STAGE, finding)
        .evidence(answer.describe())
        .fix(format!(
            "turn on \"Enable OpenEMR Standard FHIR REST API\" in {CONNECTORS}, then \
            enable the client"
        ));
    if confirmed == Some(true) {
        outcome = outcome.evidence("the database confirms: all three API globals are off");
    }
    outcome
}

/// 404 while the database shows an API switched on: this URL is not the token endpoint, most
/// often for a missing web root (/openemr) or a wrong site.
fn wrong_token_url(answer: &Answer) -> StageOutcome {
    let finding = format!(
        "{} answered 404, yet the database shows the APIs switched on: this is not the token \
         endpoint (a missing web root such as /openemr, or a wrong site)",
        answer.url
    );
    StageOutcome::fail(STAGE, finding)
        .evidence(answer.describe())
        .fix("pass --base-url with the install's web root (for example https://host/openemr) and the right --site")
}

/// 500: OpenEMR crashed while handling the request.
pub fn server_error(ctx: &Context<'_>, answer: &Answer) -> StageOutcome {
    let headline = "the server failed with HTTP 500";
    let not_set_up = ErrorBody::parse(&answer.body).is_some_and(|e| e.error == "server_error");
    let user_missing = ctx.db.as_ref().and_then(|d| d.system_user) == Some(false);
    let user_cause = || {
        cause(
            format!("user {SYSTEM_USERNAME} is missing; every client_credentials token runs as it"),
            "rerun OpenEMR's setup or upgrade, which creates the oe-system user",
        )
    };
    let key_cause =
        |source: &str, why: &str| {
            cause(
        format!("the registered key material is broken ({source}: {why}); OpenEMR crashes \
            reading it"),
        "store valid JSON {\"keys\":[...]} in oauth_clients.jwks, or make jwks_uri serve it",
    )
        };
    let mut proven = Vec::new();
    if not_set_up || user_missing {
        proven.push(user_cause());
    }
    if let KeyMatch::Unusable { source, why } = &ctx.key_match {
        if !source.starts_with("--jwks") {
            proven.push(key_cause(source, why));
        }
    }
    let candidates = if proven.is_empty() {
        vec![
            key_cause(
                "jwks column or jwks_uri",
                "malformed JSON, or a jwks_uri answering HTML or 404",
            ),
            user_cause(),
        ]
    } else {
        vec![]
    };
    outcome(headline, proven, candidates).evidence(answer.describe())
}
