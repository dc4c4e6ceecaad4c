//! What differs between the families for a client_credentials client: how the client assertion
//! is judged, and how the family is recognised from what a server publishes.
//!
//! Kept apart from `mod.rs` so the family list and these per-family rules can grow separately.

use serde_json::Value;

use super::Family;

use super::{MAX_ASSERTION_AGE_SECS, MAX_ASSERTION_HORIZON_SECS};

/// Smallest RSA modulus SMART and JOSE accept; newer JWT libraries refuse smaller keys.
pub const MIN_RSA_BITS: usize = 2048;

impl Family {
    /// Whether the family has the client_credentials grant at all.
    pub fn has_client_credentials(self) -> bool {
        self != Family::F0
    }

    /// Whether the assertion header must carry a `kid` that names a registered key.
    pub fn requires_kid(self) -> bool {
        self == Family::F3
    }

    /// Whether the server ignores `kid` and verifies with the first RSA key of the set.
    pub fn uses_first_rsa_key(self) -> bool {
        matches!(self, Family::F1 | Family::F2)
    }

    /// Whether `exp` must be present.
    pub fn requires_exp(self) -> bool {
        self == Family::F3
    }

    /// How far ahead `exp` may be, when the family caps it.
    pub fn max_exp_ahead(self) -> Option<i64> {
        matches!(self, Family::F2 | Family::F3).then_some(MAX_ASSERTION_HORIZON_SECS)
    }

    /// How old `iat` may be, when the family checks it.
    pub fn max_iat_age(self) -> Option<i64> {
        matches!(self, Family::F2 | Family::F3).then_some(MAX_ASSERTION_AGE_SECS)
    }

    /// Whether `oauth_clients.grant_types` must list client_credentials.
    pub fn enforces_grant_types(self) -> bool {
        self == Family::F3
    }

    /// Whether the family knows SMART v2 scopes (`.rs`, `.cruds`).
    pub fn knows_v2_scopes(self) -> bool {
        matches!(self, Family::F2 | Family::F3)
    }

    /// Whether user/ and patient/ scopes are dropped from client_credentials tokens.
    pub fn drops_user_scopes(self) -> bool {
        self == Family::F3
    }
}

/// What a server published that tells its family, each piece optional.
#[derive(Debug, Clone, Default)]
pub struct Fingerprints<'a> {
    /// `software.version` of `/fhir/metadata`.
    pub metadata_version: Option<&'a str>,
    /// The SMART configuration document.
    pub smart_configuration: Option<&'a Value>,
    /// The version the database's `version` table records (`major.minor.patch`).
    pub database_version: Option<&'a str>,
}

/// The family a server belongs to, and the facts that decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    /// The family, when the facts name one.
    pub family: Option<Family>,
    /// One line per fact used, for reports.
    pub basis: Vec<String>,
}

/// Whether a SMART configuration carries F2's additions (issuer, jwks_uri, asymmetric auth).
pub fn smart_says_f2(smart: &Value) -> bool {
    let asymmetric = smart
        .get("capabilities")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|v| v == "client-confidential-asymmetric"));
    smart.get("issuer").is_some() || smart.get("jwks_uri").is_some() || asymmetric
}

/// Picks the family from the fingerprints. The database's version table is the truth when it
/// is there (6.1.0 reports a stale "6.0.0" in its metadata); the SMART configuration's F2
/// additions lift an F1 reading to F2 (8.x reports no version at all).
pub fn detect(prints: &Fingerprints<'_>) -> Detected {
    let mut basis = Vec::new();
    let from_db = prints.database_version.and_then(|v| {
        basis.push(format!("database version table: {v}"));
        family_of_release(v)
    });
    let from_metadata = prints.metadata_version.and_then(|v| {
        basis.push(format!("/fhir/metadata software.version: {v}"));
        Family::from_version(v)
    });
    let f2_marks = prints.smart_configuration.is_some_and(smart_says_f2);
    if prints.smart_configuration.is_some() {
        let marks = if f2_marks {
            "has F2 marks (issuer, jwks_uri or client-confidential-asymmetric)"
        } else {
            "has no F2 marks (no issuer, jwks_uri or client-confidential-asymmetric)"
        };
        basis.push(format!("SMART configuration {marks}"));
    }
    let family = match (from_db, from_metadata) {
        (Some(f), _) => Some(f),
        (None, Some(f)) if f2_marks && f < Family::F2 => Some(Family::F2),
        (None, Some(f)) => Some(f),
        (None, None) if f2_marks => Some(Family::F2),
        (None, None) => None,
    };
    Detected { family, basis }
}

/// The family of a release number read from the database, where 6.0.x really is 6.0 and
/// 8.3 development builds (master from mid-2026 on) carry F3's changes.
pub fn family_of_release(version: &str) -> Option<Family> {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next().flatten().unwrap_or(0));
    match (major, minor) {
        (6, 0) => Some(Family::F0),
        // Limitation: F3 is unreleased; 8.3 and later are read as F3 because the late-2026
        // master files that define it carry that version.
        (8, 3..) => Some(Family::F3),
        _ => Family::from_version(version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_database_version_wins_and_knows_6_0() {
        let prints = Fingerprints {
            metadata_version: Some("6.0.0"),
            database_version: Some("6.0.0"),
            ..Fingerprints::default()
        };
        assert_eq!(detect(&prints).family, Some(Family::F0));
        let prints = Fingerprints {
            metadata_version: Some("6.0.0"),
            ..Fingerprints::default()
        };
        assert_eq!(detect(&prints).family, Some(Family::F1));
        assert_eq!(family_of_release("8.3.0-dev"), Some(Family::F3));
        assert_eq!(family_of_release("8.0.0"), Some(Family::F2));
    }

    #[test]
    fn smart_marks_lift_to_f2() {
        let smart = json!({"issuer": "x", "capabilities": []});
        let prints = Fingerprints {
            metadata_version: Some("7.0.3"),
            smart_configuration: Some(&smart),
            ..Fingerprints::default()
        };
        assert_eq!(detect(&prints).family, Some(Family::F2));
        let smart = json!({"capabilities": ["client-confidential-asymmetric"]});
        let prints = Fingerprints {
            smart_configuration: Some(&smart),
            ..Fingerprints::default()
        };
        let detected = detect(&prints);
        assert_eq!(detected.family, Some(Family::F2));
        assert!(detected.basis[0].contains("has F2 marks"));
    }

    #[test]
    fn families_parse_and_carry_their_rules() {
        assert_eq!(Family::from_name("F3"), Some(Family::F3));
        assert!(Family::F3.requires_kid() && !Family::F2.requires_kid());
        assert!(Family::F2.uses_first_rsa_key());
        assert_eq!(Family::F1.max_exp_ahead(), None);
        assert_eq!(Family::F2.max_iat_age(), Some(300));
    }
}
