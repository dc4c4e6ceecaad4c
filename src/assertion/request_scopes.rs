//! The scope field of a token request, judged by the family's scope grammar: missing scopes,
//! wildcards, SMART v2 suffixes on v1 servers, Standard-API spellings and old documentation
//! names.

use std::collections::HashMap;

use crate::openemr::fault::Fault;
use crate::openemr::scopes::{self, ScopeProblem};
use crate::openemr::Family;

/// Scopes from old OpenEMR documentation that current servers do not know, and what to use.
const RENAMED: &[(&str, &str)] = &[("system/Document.read", "system/Binary.read")];

/// The faults of the `scope` field.
pub fn scope_faults(fields: &HashMap<String, String>, family: Family) -> Vec<Fault> {
    let requested = fields.get("scope").map(String::as_str).unwrap_or("").trim();
    if requested.is_empty() {
        return vec![Fault::refused(
            "scope-missing",
            "no scope requested: OpenEMR issues a token with no scope, and every FHIR call \
             with it fails 401",
            "send scope=system/Patient.read (and the other system/ scopes you need)",
        )];
    }
    requested
        .split(' ')
        .filter_map(|scope| scope_fault(scope, family))
        .collect()
}

/// The fault of one requested scope, if any.
pub fn scope_fault(scope: &str, family: Family) -> Option<Fault> {
    if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == scope) {
        return Some(Fault::refused(
            "scope-old-docs",
            format!(
                "scope {scope:?} is from old OpenEMR docs; current servers refuse it \
                (invalid_scope)"
            ),
            format!("request {new} to download export files"),
        ));
    }
    let problem = scopes::validate(scope, family).err()?;
    Some(match &problem {
        ScopeProblem::Lowercase(_, fhir) if family == Family::F1 => Fault::refused(
            "scope-lowercase",
            format!("{problem}: F1 accepts it, but only for /api/, which refuses system tokens"),
            format!("request {fhir} (FHIR resource names from scopes_supported)"),
        ),
        ScopeProblem::Lowercase(_, fhir) => Fault::refused(
            "scope-lowercase",
            format!("{problem} (invalid_scope on {family})"),
            format!("request {fhir} (FHIR resource names from scopes_supported)"),
        ),
        ScopeProblem::Wildcard(_) => Fault::refused(
            "scope-wildcard",
            format!("{problem} (invalid_scope)"),
            "request explicit scopes from scopes_supported, e.g. system/Patient.read, and \
             register the same strings in oauth_clients.scope",
        ),
        ScopeProblem::V2OnV1(_, _, v1) => Fault::refused(
            "scope-v2",
            format!("{problem} (invalid_scope)"),
            format!("request {v1}"),
        ),
        _ => Fault::refused(
            "scope-unknown",
            format!("{problem} (invalid_scope)"),
            "request scopes the server lists in scopes_supported",
        ),
    })
}
