//! Which requested scopes a token gets: every one must be supported (else `invalid_scope`
//! naming the first that is not), then those the client did not register are dropped
//! silently. F1 compares exact strings; F2 parses and compares by containment; F3 also drops
//! user/ and patient/ scopes for this grant.

use super::context::RequestContext;
use super::profile::Profile;
use super::refusal::{refuse, Refusal};
use super::store::ClientRecord;
use crate::openemr::errors::OAuthError;
use crate::openemr::scopes::{f1_accepts, split_registered};
use crate::openemr::smart_v2::{any_contains, parse_registered, ParsedScope};
use crate::openemr::supported_v2::f2_accepts;

/// The scopes granted for `requested` (the raw `scope` field).
pub fn granted(
    profile: Profile,
    ctx: &RequestContext,
    client: &ClientRecord,
    requested: Option<&String>,
) -> Result<Vec<String>, Refusal> {
    let requested: Vec<&str> = requested
        .map(|s| s.trim().split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let system_scopes = ctx.globals.system_scopes();
    let supported = |scope: &str| {
        if profile.permission_scopes() {
            f2_accepts(scope, system_scopes)
        } else {
            f1_accepts(scope, &requested, system_scopes)
        }
    };
    if let Some(bad) = requested.iter().find(|s| !supported(s)) {
        return Err(refuse(
            OAuthError::invalid_scope(bad),
            "scope not supported",
        ));
    }
    let registered = client.scope.as_deref().unwrap_or("");
    let mut granted = if profile.permission_scopes() {
        registered_by_containment(&requested, registered)?
    } else {
        registered_exactly(&requested, registered)
    };
    if profile.drops_user_and_patient_scopes() {
        granted.retain(|s| !s.starts_with("user/") && !s.starts_with("patient/"));
    }
    Ok(granted)
}

/// F1: kept when the registered column, split on single spaces, holds the exact string.
fn registered_exactly(requested: &[&str], registered: &str) -> Vec<String> {
    let registered = split_registered(registered);
    let mut granted: Vec<String> = Vec::new();
    for scope in requested {
        if registered.contains(scope) && !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_string());
        }
    }
    granted
}

/// F2: kept when a registered scope contains it; a registered entry OpenEMR cannot parse
/// aborts the request (plain-text 500).
fn registered_by_containment(requested: &[&str], registered: &str) -> Result<Vec<String>, Refusal> {
    // Limitation: an empty or NULL column is taken as no scopes; whether F2 parses it as
    // one empty entry (and answers 500) is not known.
    if registered.is_empty() {
        return Ok(Vec::new());
    }
    let registered = parse_registered(registered).map_err(Refusal::ScopeFormat)?;
    let mut granted: Vec<String> = Vec::new();
    for scope in requested {
        let Ok(wanted) = ParsedScope::parse(scope) else {
            continue;
        };
        if any_contains(&registered, &wanted) && !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_string());
        }
    }
    Ok(granted)
}
