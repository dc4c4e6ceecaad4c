//! OpenEMR's scope vocabulary: what a scope string looks like, which ones a server supports,
//! and how a registered scope list is split, joined and compared.

use super::Family;

/// Every scope an F1 server with system scopes switched on lists in its OpenID
/// configuration, in the order and with the repeats the server sends.
const F1_SUPPORTED: &str = include_str!("f1_supported_scopes.txt");

/// FHIR resources OpenEMR serves in some version; a scope naming any other is refused.
const FHIR_RESOURCES: &[&str] = &[
    "AllergyIntolerance",
    "Appointment",
    "Binary",
    "CarePlan",
    "CareTeam",
    "Condition",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Goal",
    "Group",
    "Immunization",
    "Location",
    "Media",
    "Medication",
    "MedicationDispense",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "ServiceRequest",
    "Specimen",
    "ValueSet",
];

/// The scopes an F1 server supports; `system_scopes` mirrors global `rest_system_scopes_api`.
///
/// With system scopes off, F1 drops every FHIR `system/` scope (PascalCase resources and the
/// bulk-export ones) but keeps the Standard-API `system/<lowercase>` scopes.
pub fn f1_supported(system_scopes: bool) -> Vec<&'static str> {
    F1_SUPPORTED
        .lines()
        .filter(|s| !s.is_empty())
        .filter(|s| system_scopes || !is_fhir_system_scope(s))
        .collect()
}

/// Whether F1 accepts `scope` in a request whose whole scope string is `request`.
///
/// F1 only loads its FHIR scope list when the request names `fhirUser` or `api:fhir`, or names
/// neither `api:oemr` nor `api:port`; so `api:oemr system/Patient.read` is refused.
pub fn f1_accepts(scope: &str, request: &[&str], system_scopes: bool) -> bool {
    if scope.starts_with("site:") {
        return true;
    }
    let fhir_loaded = request.iter().any(|s| *s == "fhirUser" || *s == "api:fhir")
        || !request.iter().any(|s| *s == "api:oemr" || *s == "api:port");
    if is_fhir_resource_scope(scope) && !fhir_loaded {
        return false;
    }
    f1_supported(system_scopes).contains(&scope)
}

/// The FHIR resources an F1 server has a `system/<R>.read` scope for, in its own order: the
/// resources its FHIR routes serve.
pub fn f1_system_read_resources() -> Vec<&'static str> {
    f1_supported(true)
        .into_iter()
        .filter_map(|s| s.strip_prefix("system/")?.strip_suffix(".read"))
        .filter(|r| r.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect()
}

/// A FHIR resource scope under `system/` (PascalCase resource or a `*` bulk scope).
pub fn is_fhir_system_scope(scope: &str) -> bool {
    scope
        .strip_prefix("system/")
        .is_some_and(is_fhir_resource_part)
}

fn is_fhir_resource_scope(scope: &str) -> bool {
    ["system/", "user/", "patient/"]
        .iter()
        .filter_map(|p| scope.strip_prefix(p))
        .any(is_fhir_resource_part)
}

fn is_fhir_resource_part(rest: &str) -> bool {
    rest.starts_with('*') || rest.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Splits a registered scope column the way F1 does: on single spaces, keeping the empty and
/// whitespace-laden entries that then never match anything.
pub fn split_registered(column: &str) -> Vec<&str> {
    column.split(' ').collect()
}

/// Splits a scope list written by a person: any run of whitespace separates scopes.
pub fn split_loose(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

/// Entries of a registered scope column that OpenEMR can never match: empty ones from double
/// or edge spaces, and ones carrying tabs or newlines.
pub fn malformed_entries(column: &str) -> Vec<String> {
    split_registered(column)
        .into_iter()
        .filter(|s| s.is_empty() || s.chars().any(char::is_whitespace))
        .map(|s| format!("{s:?}"))
        .collect()
}

/// The scope a system client needs for `GET /fhir/<resource>` on an F1 server.
pub fn f1_required_for_search(resource: &str) -> String {
    format!("system/{resource}.read")
}

/// Why a scope string is not one OpenEMR can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeProblem {
    #[error("scope {0:?} is empty or holds whitespace")]
    Whitespace(String),
    #[error("scope {0:?} is a wildcard; OpenEMR has no system/*.read, name each resource")]
    Wildcard(String),
    #[error(
        "scope {0:?} is a Standard-API lowercase spelling, useless to a system client; \
        FHIR needs {1:?}"
    )]
    Lowercase(String, String),
    #[error("scope {0:?} is a SMART v2 scope, which {1} does not know; use {2:?}")]
    V2OnV1(String, Family, String),
    #[error("scope {0:?} has permission letters out of cruds order or repeated")]
    BadV2Letters(String),
    #[error("scope {0:?} is not a scope OpenEMR knows")]
    Unknown(String),
}

/// Checks one scope for a registered scope column, against the rules of `family`.
pub fn validate(scope: &str, family: Family) -> Result<(), ScopeProblem> {
    if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ScopeProblem::Whitespace(scope.to_string()));
    }
    let Some((context, rest)) = split_context(scope) else {
        return validate_plain(scope);
    };
    let Some((resource, permission)) = rest.split_once('.') else {
        return Err(ScopeProblem::Unknown(scope.to_string()));
    };
    if resource == "*" && !permission.starts_with('$') {
        return Err(ScopeProblem::Wildcard(scope.to_string()));
    }
    let well_formed = resource
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*');
    if resource.is_empty() || !well_formed {
        return Err(ScopeProblem::Unknown(scope.to_string()));
    }
    validate_permission(scope, context, resource, permission, family)
}

fn split_context(scope: &str) -> Option<(&str, &str)> {
    ["system", "user", "patient"].into_iter().find_map(|c| {
        scope
            .strip_prefix(c)?
            .strip_prefix('/')
            .map(|rest| (c, rest))
    })
}

fn validate_plain(scope: &str) -> Result<(), ScopeProblem> {
    let site_ok = scope.strip_prefix("site:").is_some_and(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    });
    let plain = super::supported_v2::OPENID_SCOPES
        .iter()
        .chain(super::supported_v2::SMART_SCOPES);
    if plain.into_iter().any(|p| *p == scope) || site_ok {
        Ok(())
    } else {
        Err(ScopeProblem::Unknown(scope.to_string()))
    }
}

fn validate_permission(
    scope: &str,
    context: &str,
    resource: &str,
    permission: &str,
    family: Family,
) -> Result<(), ScopeProblem> {
    let fhir_resource = resource.starts_with(|c: char| c.is_ascii_uppercase()) || resource == "*";
    // F1 lists system/<lowercase> Standard-API scopes, but the system role is refused on /api/
    // in every version, so for a backend-services client they only ever mean a misspelling.
    if !fhir_resource && context == "system" {
        return Err(lowercase(scope, context, resource, permission));
    }
    if !fhir_resource {
        let standard = super::scopes::f1_supported(true).contains(&scope);
        return if standard {
            Ok(())
        } else {
            Err(lowercase(scope, context, resource, permission))
        };
    }
    if resource != "*" && !FHIR_RESOURCES.contains(&resource) {
        return Err(ScopeProblem::Unknown(scope.to_string()));
    }
    if permission.starts_with('$') || permission == "read" || permission == "write" {
        return Ok(());
    }
    let letters = permission.split('?').next().unwrap_or("");
    if !is_cruds_subset(letters) {
        return Err(
            if letters.chars().all(|c| "cruds".contains(c)) && !letters.is_empty() {
                ScopeProblem::BadV2Letters(scope.to_string())
            } else {
                ScopeProblem::Unknown(scope.to_string())
            },
        );
    }
    if family <= Family::F1 {
        let v1 = if letters.contains(['c', 'u', 'd']) {
            "write"
        } else {
            "read"
        };
        return Err(ScopeProblem::V2OnV1(
            scope.to_string(),
            family,
            format!("{context}/{resource}.{v1}"),
        ));
    }
    Ok(())
}

fn lowercase(scope: &str, context: &str, resource: &str, permission: &str) -> ScopeProblem {
    let fhir = fhir_name(resource);
    ScopeProblem::Lowercase(scope.to_string(), format!("{context}/{fhir}.{permission}"))
}

/// The FHIR (PascalCase) spelling of a Standard-API resource name, where one is known.
fn fhir_name(resource: &str) -> String {
    let known = [
        ("allergy", "AllergyIntolerance"),
        ("medical_problem", "Condition"),
        ("vital", "Observation"),
        ("prescription", "MedicationRequest"),
        ("document", "DocumentReference"),
    ];
    if let Some((_, fhir)) = known.iter().find(|(api, _)| *api == resource) {
        return fhir.to_string();
    }
    let mut chars = resource.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn is_cruds_subset(letters: &str) -> bool {
    !letters.is_empty() && super::smart_v2::is_ordered_cruds(letters)
}

/// A registered scope list edited as fix-scopes does: entries normalised (one ASCII space
/// between scopes, no duplicates, no empty entries), `set` replacing everything, then `remove`
/// and `add` applied in order.
pub fn edit_registered(current: &str, set: Option<&str>, add: &[&str], remove: &[&str]) -> String {
    let base = set.unwrap_or(current);
    let mut scopes: Vec<&str> = Vec::new();
    for scope in split_loose(base).into_iter().chain(add.iter().copied()) {
        if !scopes.contains(&scope) && !remove.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_list_depends_on_the_system_scope_global() {
        assert!(f1_supported(true).contains(&"system/Patient.read"));
        assert!(!f1_supported(false).contains(&"system/Patient.read"));
        assert!(f1_supported(false).contains(&"system/patient.read"));
    }

    #[test]
    fn f1_api_oemr_quirk_refuses_fhir_scopes() {
        let req = ["api:oemr", "system/Patient.read"];
        assert!(!f1_accepts("system/Patient.read", &req, true));
        let req = ["api:oemr", "api:fhir", "system/Patient.read"];
        assert!(f1_accepts("system/Patient.read", &req, true));
        assert!(f1_accepts("site:anything", &req, true));
    }

    #[test]
    fn validation_names_each_kind_of_fault() {
        assert_eq!(validate("system/Patient.read", Family::F1), Ok(()));
        assert_eq!(validate("system/*.$export", Family::F1), Ok(()));
        assert!(matches!(
            validate("system/*.read", Family::F1),
            Err(ScopeProblem::Wildcard(_))
        ));
        assert!(matches!(
            validate("system/Patient.rs", Family::F1),
            Err(ScopeProblem::V2OnV1(_, _, ref s)) if s == "system/Patient.read"
        ));
        assert_eq!(validate("system/Patient.rs", Family::F2), Ok(()));
        assert!(matches!(
            validate("system/Patient.sr", Family::F2),
            Err(ScopeProblem::BadV2Letters(_))
        ));
        assert!(matches!(
            validate("system/patient.read", Family::F2),
            Err(ScopeProblem::Lowercase(_, ref s)) if s == "system/Patient.read"
        ));
        assert!(matches!(
            validate("system/Patient.read\n", Family::F1),
            Err(ScopeProblem::Whitespace(_))
        ));
        assert!(matches!(
            validate("bogus", Family::F1),
            Err(ScopeProblem::Unknown(_))
        ));
        assert!(matches!(
            validate("system/Bogus.read", Family::F1),
            Err(ScopeProblem::Unknown(_))
        ));
    }

    #[test]
    fn edits_normalise_the_list() {
        let edited = edit_registered(
            "openid  api:fhir\nopenid ",
            None,
            &["system/Patient.read"],
            &[],
        );
        assert_eq!(edited, "openid api:fhir system/Patient.read");
        let edited = edit_registered("a b c", None, &[], &["b"]);
        assert_eq!(edited, "a c");
        assert_eq!(
            edit_registered("a b", Some("c  d c"), &["e"], &["d"]),
            "c e"
        );
    }

    #[test]
    fn malformed_entries_are_found() {
        assert!(malformed_entries("openid api:fhir").is_empty());
        assert_eq!(malformed_entries("openid  api:fhir").len(), 1);
        assert_eq!(malformed_entries("openid system/Patient.read\n").len(), 1);
    }
}
