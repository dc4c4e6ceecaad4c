//! The family the sandbox plays, as the questions the request handlers ask of it. Every
//! behaviour that differs between OpenEMR families is decided here (what to check) or in
//! `answers.rs` (what a refusal looks like), so the handlers read the same for all families.

use crate::openemr::Family;

/// The behaviour of one OpenEMR family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub family: Family,
}

impl Profile {
    /// The profile of `family`.
    pub fn new(family: Family) -> Profile {
        Profile { family }
    }

    /// Symfony stack (F2 on): JSON error bodies from its exception listener, slashes escaped
    /// in every JSON document, `/apis/` not gated per API.
    pub fn symfony(self) -> bool {
        self.family >= Family::F2
    }

    /// Whether `grant_type=client_credentials` exists at all (6.0 has no such grant).
    pub fn has_client_credentials(self) -> bool {
        self.family >= Family::F1
    }

    /// `software.version` in the CapabilityStatement: composer.json's version. 6.0 (and 6.1,
    /// whose composer.json was stale) say 6.0.0; F2 is played as 7.0.4; 8.x, and so the
    /// late-2026 master F3 stands for, sends no version at all.
    pub fn software_version(self) -> Option<&'static str> {
        match self.family {
            Family::F0 => Some("6.0.0"),
            Family::F1 => Some("7.0.3"),
            Family::F2 => Some("7.0.4"),
            Family::F3 => None,
        }
    }

    /// The smart-configuration fields added by the 7.0.0.2 patch (PKCE methods, grant types).
    pub fn smart_patch_fields(self) -> bool {
        self.family >= Family::F1
    }

    /// F2's SMART additions: issuer, jwks_uri, asymmetric client auth, permission-v2, and no
    /// registration endpoint in the SMART document.
    pub fn smart_v2(self) -> bool {
        self.symfony()
    }

    /// A missing `client_assertion` with the right type: F1 dies (empty 500), F2 refuses it.
    pub fn refuses_missing_assertion(self) -> bool {
        self.symfony()
    }

    /// F2's claim pre-checks (issuer, exp horizon, iat age, jti) answered `invalid_request`.
    pub fn claim_prechecks(self) -> bool {
        self.symfony()
    }

    /// F3: `exp` required, `kid` required and matched exactly, hardened key set loading.
    pub fn strict_keys(self) -> bool {
        self.family >= Family::F3
    }

    /// F3: `oauth_clients.grant_types` must allow client_credentials.
    pub fn enforces_grant_types(self) -> bool {
        self.family >= Family::F3
    }

    /// F3: user/ and patient/ scopes are dropped from client_credentials tokens.
    pub fn drops_user_and_patient_scopes(self) -> bool {
        self.family >= Family::F3
    }

    /// F1 appends `site:SITE` to every token's scopes and checks it on `/apis/`.
    pub fn site_scope_in_token(self) -> bool {
        !self.symfony()
    }

    /// F2 access tokens carry `iss` (the OAuth issuer).
    pub fn issuer_in_token(self) -> bool {
        self.symfony()
    }

    /// Whether a granted scope is left out of the token response's `scope`: F1 hides any
    /// scope containing `:`, F2 only `api:` ones.
    pub fn hides_in_response(self, scope: &str) -> bool {
        if self.symfony() {
            scope.starts_with("api:")
        } else {
            scope.contains(':')
        }
    }

    /// F2 reads a path with one segment after `/oauth2/` or `/apis/` as site `default`.
    pub fn lone_segment_is_default_site(self) -> bool {
        self.symfony()
    }

    /// F1 answers FHIR routes (public ones included) 501 when `rest_fhir_api` is off.
    pub fn gates_fhir_on_its_global(self) -> bool {
        !self.symfony()
    }

    /// F1 checks scopes by literal `system/<R>.read`; F2 by v2 permission letters.
    pub fn permission_scopes(self) -> bool {
        self.symfony()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_differ_where_openemr_does() {
        let f1 = Profile::new(Family::F1);
        let f2 = Profile::new(Family::F2);
        let f3 = Profile::new(Family::F3);
        assert!(!Profile::new(Family::F0).has_client_credentials());
        assert!(f1.hides_in_response("site:default"));
        assert!(!f2.hides_in_response("site:default"));
        assert!(f2.hides_in_response("api:fhir"));
        assert!(!f2.strict_keys() && f3.strict_keys());
        assert!(f3.claim_prechecks() && !f1.claim_prechecks());
    }
}
