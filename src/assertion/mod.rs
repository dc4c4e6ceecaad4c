//! The client assertion: the short-lived RS384 JWT a backend service signs to authenticate at
//! OpenEMR's token endpoint, and the local check that it obeys every rule before it is sent.
//!
//! The signed assertion is a secret (anyone holding it can trade it for a token until it
//! expires), so [`Assertion`] never prints it; only its claims are shown.

pub mod audience;
pub mod decoded;
pub mod request;
mod request_auth;
pub mod request_scopes;
pub mod rules;
mod signing;

use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::keys::PrivateKey;
use crate::openemr::SMART_MAX_ASSERTION_SECS;

pub use decoded::DecodedJwt;
pub use rules::RuleContext;

/// The claims of a client assertion, as SMART Backend Services defines them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The client id.
    pub iss: String,
    /// The client id again.
    pub sub: String,
    /// The token endpoint, exactly as the server advertises it.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expiry, Unix seconds; never more than five minutes after `iat`.
    pub exp: i64,
    /// A fresh id; OpenEMR refuses any jti it has seen before, from any client.
    pub jti: String,
}

/// A signed client assertion and what it says.
#[derive(Clone)]
pub struct Assertion {
    compact: String,
    /// The `kid` header.
    pub kid: String,
    /// The claims it carries.
    pub claims: Claims,
}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The compact form is a bearer credential: never in debug output.
        f.debug_struct("Assertion")
            .field("kid", &self.kid)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl Assertion {
    /// The compact JWT, for the token request body only. Secret.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    /// The claims as `name=value` lines for a report.
    pub fn claim_lines(&self) -> Vec<String> {
        let c = &self.claims;
        vec![
            format!("header: alg=RS384 kid={}", self.kid),
            format!("iss=sub={}", c.iss),
            format!("aud={}", c.aud),
            format!(
                "iat={} exp={} (valid {} s) jti={}",
                c.iat,
                c.exp,
                c.exp - c.iat,
                c.jti
            ),
        ]
    }
}

/// The tool itself could not sign (a broken key that loaded anyway).
#[derive(Debug, thiserror::Error)]
#[error("could not sign the client assertion: {0}")]
pub struct SignError(String);

/// What the assertion must say for this client and server.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The client id, for iss and sub.
    pub client_id: &'a str,
    /// The advertised token endpoint, for aud.
    pub aud: &'a str,
}

/// Signs a fresh assertion: RS384, `kid` in the header, five minutes of validity, new jti.
pub fn build(
    key: &PrivateKey,
    kid: &str,
    expected: &Expected<'_>,
    now: i64,
) -> Result<Assertion, SignError> {
    let claims = Claims {
        iss: expected.client_id.to_string(),
        sub: expected.client_id.to_string(),
        aud: expected.aud.to_string(),
        iat: now,
        exp: now + SMART_MAX_ASSERTION_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let mut header = Header::new(Algorithm::RS384);
    header.kid = Some(kid.to_string());
    let compact = jsonwebtoken::encode(&header, &claims, &key.encoding_key())
        .map_err(|e| SignError(e.to_string()))?;
    Ok(Assertion {
        compact,
        kid: kid.to_string(),
        claims,
    })
}

/// A secret shortened for evidence: its first 8 characters and its length.
pub fn shortened(secret: &str) -> String {
    let head: String = secret.chars().take(8).collect();
    format!("{head}... ({} chars)", secret.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openemr::Family;

    fn key() -> PrivateKey {
        PrivateKey::generate(2048).unwrap()
    }

    const EXPECTED: Expected<'static> = Expected {
        client_id: "client-1",
        aud: "http://127.0.0.1:8300/oauth2/default/token",
    };

    #[test]
    fn a_built_assertion_passes_its_own_rules() {
        let key = key();
        let a = build(&key, "kid-1", &EXPECTED, 1_000_000).unwrap();
        assert_eq!(a.claims.exp - a.claims.iat, 300);
        assert_eq!(a.claims.iss, "client-1");
        let header = jsonwebtoken::decode_header(a.compact()).unwrap();
        assert_eq!(header.alg, Algorithm::RS384);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
        let jwt = DecodedJwt::parse(a.compact()).unwrap();
        let set = crate::keys::jwks::Jwks {
            keys: vec![crate::keys::jwks::public_jwk(&key.public())],
        };
        for family in [Family::F1, Family::F2, Family::F3] {
            let ctx = context(family, Some(&set), 1_000_010);
            let faults = rules::check(&jwt, &ctx);
            // Only the kid differs from the thumbprint kid of the JWK.
            assert!(faults.iter().all(|f| f.code == "kid-unknown"), "{faults:?}");
        }
    }

    fn context(
        family: Family,
        keys: Option<&crate::keys::jwks::Jwks>,
        now: i64,
    ) -> RuleContext<'_> {
        RuleContext {
            family,
            client_id: Some("client-1"),
            token_endpoint: Some(EXPECTED.aud),
            site_addr_token: None,
            site: "default",
            now,
            server_offset: None,
            keys,
            jti_used: None,
        }
    }

    #[test]
    fn each_assertion_gets_a_fresh_jti() {
        let key = key();
        let a = build(&key, "k", &EXPECTED, 1).unwrap();
        let b = build(&key, "k", &EXPECTED, 1).unwrap();
        assert_ne!(a.claims.jti, b.claims.jti);
    }

    #[test]
    fn a_foreign_key_and_a_wrong_aud_are_named() {
        let (key, other) = (key(), key());
        let fhir = Expected {
            aud: "http://127.0.0.1:8300/apis/default/fhir",
            ..EXPECTED
        };
        let a = build(&key, "k", &fhir, 1_000_000).unwrap();
        let jwt = DecodedJwt::parse(a.compact()).unwrap();
        let set = crate::keys::jwks::Jwks {
            keys: vec![crate::keys::jwks::public_jwk(&other.public())],
        };
        let faults = rules::check(&jwt, &context(Family::F1, Some(&set), 1_000_000));
        let codes: Vec<&str> = faults.iter().map(|f| f.code).collect();
        assert!(
            codes.contains(&"signature") && codes.contains(&"aud-fhir-base"),
            "{codes:?}"
        );
    }

    #[test]
    fn shortened_secrets_keep_eight_characters() {
        assert_eq!(shortened("abcdefghijkl"), "abcdefgh... (12 chars)");
    }

    #[test]
    fn debug_output_hides_the_compact_form() {
        let key = key();
        let a = build(&key, "k", &EXPECTED, 1).unwrap();
        assert!(!format!("{a:?}").contains(a.compact()));
    }
}
