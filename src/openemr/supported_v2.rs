//! The scopes a family F2 server supports (OpenEMR's `ServerScopeListEntity`, 7.0.4 on):
//! SMART v1 and v2 FHIR scopes, granular v2 category scopes, and the Standard-API scopes, in
//! the order the server lists them. Unlike F1 there are no `system/` Standard-API scopes.

use super::smart_v2::{any_contains, ParsedScope};

const OPENID_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "name",
    "address",
    "given_name",
    "family_name",
    "nickname",
    "phone",
    "phone_verified",
    "email",
    "email_verified",
    "offline_access",
    "api:oemr",
    "api:fhir",
    "api:port",
];

const SMART_SCOPES: &[&str] = &[
    "openid",
    "fhirUser",
    "online_access",
    "offline_access",
    "launch",
    "launch/patient",
    "api:oemr",
    "api:fhir",
    "api:port",
];

const BULK_SCOPES: &[&str] = &[
    "system/Patient.$export",
    "system/Group.$export",
    "system/*.$bulkdata-status",
    "system/*.$export",
];

/// Resources with v1 `.read` scopes.
const V1_READ: &[&str] = &[
    "AllergyIntolerance",
    "Appointment",
    "CarePlan",
    "CareTeam",
    "Condition",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Binary",
    "Encounter",
    "Goal",
    "Group",
    "Immunization",
    "Location",
    "Medication",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "ValueSet",
    "OperationDefinition",
];

/// Resources with v2 `.rs` scopes.
const V2_READ: &[&str] = &[
    "AllergyIntolerance",
    "CarePlan",
    "CareTeam",
    "Condition",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Goal",
    "Immunization",
    "Media",
    "MedicationDispense",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "QuestionnaireResponse",
    "RelatedPerson",
    "ServiceRequest",
    "Specimen",
];

/// The granular `?category=` restrictions offered on v2 read scopes.
const GRANULAR: &[(&str, &str)] = &[
    (
        "Condition",
        "http://hl7.org/fhir/us/core/CodeSystem/condition-category|health-concern",
    ),
    (
        "Condition",
        "http://terminology.hl7.org/CodeSystem/condition-category|encounter-diagnosis",
    ),
    (
        "Condition",
        "http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item",
    ),
    (
        "Observation",
        "http://hl7.org/fhir/us/core/CodeSystem/us-core-category|sdoh",
    ),
    (
        "Observation",
        "http://terminology.hl7.org/CodeSystem/observation-category|social-history",
    ),
    (
        "Observation",
        "http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
    ),
    (
        "Observation",
        "http://terminology.hl7.org/CodeSystem/observation-category|survey",
    ),
    (
        "Observation",
        "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
    ),
    (
        "DocumentReference",
        "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category|clinical-note",
    ),
];

/// Standard-API scopes (user and patient contexts only), v1 then v2.
const STANDARD_API: &[&str] = &[
    "patient/patient.read",
    "patient/appointment.read",
    "patient/encounter.read",
    "user/allergy.read",
    "user/allergy.write",
    "user/appointment.read",
    "user/appointment.write",
    "user/encounter.read",
    "user/encounter.write",
    "user/patient.read",
    "user/patient.write",
    "user/practitioner.read",
    "user/practitioner.write",
    "user/vital.read",
    "user/vital.write",
    "user/allergy.cruds",
    "user/appointment.cruds",
    "user/encounter.crus",
    "user/patient.crus",
    "user/practitioner.crus",
    "user/vital.crus",
    "patient/patient.s",
    "patient/encounter.rs",
    "patient/appointment.rs",
];

/// Every scope an F2 server supports, in its order, without repeats. `system_scopes`
/// mirrors global `rest_system_scopes_api`.
///
/// Limitation: the Standard-API part is cut to the resources a backend-services client is
/// likely to name; OpenEMR lists about thirty more, none of them usable with a system token.
pub fn f2_supported(system_scopes: bool) -> Vec<String> {
    let mut all: Vec<String> = OPENID_SCOPES.iter().map(|s| s.to_string()).collect();
    all.extend(SMART_SCOPES.iter().map(|s| s.to_string()));
    if system_scopes {
        all.extend(BULK_SCOPES.iter().map(|s| s.to_string()));
    }
    all.extend(f2_fhir_scopes(system_scopes));
    all.extend(STANDARD_API.iter().map(|s| s.to_string()));
    let mut seen = std::collections::HashSet::new();
    all.retain(|s| seen.insert(s.clone()));
    all
}

/// The FHIR resource scopes alone (v1, then v2, then granular v2), as the SMART
/// configuration lists them.
pub fn f2_fhir_scopes(system_scopes: bool) -> Vec<String> {
    let contexts: &[&str] = if system_scopes {
        &["patient", "user", "system"]
    } else {
        &["patient", "user"]
    };
    let mut scopes = Vec::new();
    for resource in V1_READ {
        scopes.extend(contexts.iter().map(|c| format!("{c}/{resource}.read")));
    }
    for resource in ["Patient", "Practitioner", "Organization"] {
        scopes.push(format!("user/{resource}.write"));
    }
    scopes.push("patient/DocumentReference.$docref".to_string());
    scopes.push("user/DocumentReference.$docref".to_string());
    for resource in V2_READ {
        scopes.extend(contexts.iter().map(|c| format!("{c}/{resource}.rs")));
    }
    for (resource, category) in GRANULAR {
        scopes.extend(
            contexts
                .iter()
                .map(|c| format!("{c}/{resource}.rs?category={category}")),
        );
    }
    scopes
}

/// Whether an F2 server accepts a requested scope: it parses, and some supported scope
/// contains it (so `.r`, `.s` and `.rs` subsets of a supported `.read` pass, `.sr` does not).
pub fn f2_accepts(scope: &str, system_scopes: bool) -> bool {
    let Ok(wanted) = ParsedScope::parse(scope) else {
        return false;
    };
    let supported: Vec<ParsedScope> = f2_supported(system_scopes)
        .iter()
        .filter_map(|s| ParsedScope::parse(s).ok())
        .collect();
    any_contains(&supported, &wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_system_scopes_follow_the_global() {
        let on = f2_supported(true);
        assert!(on.iter().any(|s| s == "system/Patient.read"));
        assert!(on.iter().any(|s| s == "system/Patient.rs"));
        assert!(on.iter().any(|s| s == "system/*.$export"));
        assert!(!f2_supported(false).iter().any(|s| s.starts_with("system/")));
        assert!(!on.iter().any(|s| s == "system/patient.read"));
    }

    #[test]
    fn acceptance_is_containment() {
        assert!(f2_accepts("system/Patient.rs", true));
        assert!(f2_accepts("system/Patient.r", true));
        assert!(f2_accepts("system/Patient.s", true));
        assert!(!f2_accepts("system/Patient.c", true));
        assert!(!f2_accepts("system/Patient.sr", true));
        assert!(!f2_accepts("system/*.read", true));
        assert!(!f2_accepts("system/patient.read", true));
        assert!(!f2_accepts("system/Patient.read", false));
        assert!(!f2_accepts("site:default", true));
        let lab = "system/Observation.rs?category=\
                   http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
        assert!(f2_accepts(lab, true));
    }
}
