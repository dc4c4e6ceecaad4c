//! The client assertion: the short-lived RS384 JWT a backend service signs to authenticate at
//! OpenEMR's token endpoint, and the local check that it obeys every rule before it is sent.
//!
//! The signed assertion is a secret (anyone holding it can trade it for a token until it
//! expires), so [`Assertion`] never prints it; only its claims are shown.

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};

use crate::keys::{jwks, PrivateKey};
use crate::openemr::{LEEWAY_SECS, SMART_MAX_ASSERTION_SECS};

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

/// One rule a client assertion breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionProblem {
    #[error("it is not a compact JWT: {0}")]
    NotJwt(String),
    #[error("alg is {0}; OpenEMR only accepts RS384")]
    Alg(String),
    #[error("the header has no kid (later OpenEMR versions require one)")]
    NoKid,
    #[error("the signature does not verify with the public key: {0}")]
    Signature(String),
    #[error("iss is {found:?}, not the client id {expected:?}")]
    Iss { found: String, expected: String },
    #[error("sub is {found:?}, not the client id {expected:?}")]
    Sub { found: String, expected: String },
    #[error("aud is {found:?}, not the token endpoint {expected:?}")]
    Aud { found: String, expected: String },
    #[error("exp is {0} s in the past")]
    Expired(i64),
    #[error("iat is {0} s in the future")]
    IssuedInFuture(i64),
    #[error("exp is {0} s after iat; SMART allows at most {SMART_MAX_ASSERTION_SECS}")]
    TooLong(i64),
    #[error("jti is empty")]
    NoJti,
}

/// Checks a compact assertion against every rule, returning each broken one.
pub fn validate(
    compact: &str,
    public: &RsaPublicKey,
    expected: &Expected<'_>,
    now: i64,
) -> Vec<AssertionProblem> {
    let header = match jsonwebtoken::decode_header(compact) {
        Ok(header) => header,
        Err(e) => return vec![AssertionProblem::NotJwt(e.to_string())],
    };
    let mut problems = Vec::new();
    if header.alg != Algorithm::RS384 {
        problems.push(AssertionProblem::Alg(format!("{:?}", header.alg)));
    }
    if header.kid.as_deref().unwrap_or("").is_empty() {
        problems.push(AssertionProblem::NoKid);
    }
    match verified_claims(compact, public, header.alg) {
        Ok(claims) => problems.extend(claim_problems(&claims, expected, now)),
        Err(problem) => problems.push(problem),
    }
    problems
}

/// Decodes the claims, checking only the signature (the claim rules are ours, named).
fn verified_claims(
    compact: &str,
    public: &RsaPublicKey,
    alg: Algorithm,
) -> Result<Claims, AssertionProblem> {
    let (n, e) = jwks::components(public);
    let key = DecodingKey::from_rsa_components(&n, &e)
        .map_err(|e| AssertionProblem::Signature(e.to_string()))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(compact, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| AssertionProblem::Signature(e.to_string()))
}

/// The claim rules: iss and sub are the client, aud is the endpoint exactly, the times are
/// sane within OpenEMR's leeway, and the lifetime is at most five minutes.
pub fn claim_problems(claims: &Claims, expected: &Expected<'_>, now: i64) -> Vec<AssertionProblem> {
    let mut problems = Vec::new();
    let client = expected.client_id.to_string();
    if claims.iss != expected.client_id {
        let found = claims.iss.clone();
        problems.push(AssertionProblem::Iss {
            found,
            expected: client.clone(),
        });
    }
    if claims.sub != expected.client_id {
        let found = claims.sub.clone();
        problems.push(AssertionProblem::Sub {
            found,
            expected: client,
        });
    }
    if claims.aud != expected.aud {
        problems.push(AssertionProblem::Aud {
            found: claims.aud.clone(),
            expected: expected.aud.to_string(),
        });
    }
    problems.extend(time_problems(claims, now));
    if claims.jti.trim().is_empty() {
        problems.push(AssertionProblem::NoJti);
    }
    problems
}

fn time_problems(claims: &Claims, now: i64) -> Vec<AssertionProblem> {
    let mut problems = Vec::new();
    if claims.exp + LEEWAY_SECS < now {
        problems.push(AssertionProblem::Expired(now - claims.exp));
    }
    if claims.iat > now + LEEWAY_SECS {
        problems.push(AssertionProblem::IssuedInFuture(claims.iat - now));
    }
    if claims.exp - claims.iat > SMART_MAX_ASSERTION_SECS {
        problems.push(AssertionProblem::TooLong(claims.exp - claims.iat));
    }
    problems
}

/// A secret shortened for evidence: its first 8 characters and its length.
pub fn shortened(secret: &str) -> String {
    let head: String = secret.chars().take(8).collect();
    format!("{head}... ({} chars)", secret.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKey {
        PrivateKey::generate(2048).unwrap()
    }

    const EXPECTED: Expected<'static> = Expected {
        client_id: "client-1",
        aud: "http://127.0.0.1:8300/oauth2/default/token",
    };

    #[test]
    fn a_built_assertion_passes_its_own_checks() {
        let key = key();
        let a = build(&key, "kid-1", &EXPECTED, 1_000_000).unwrap();
        assert_eq!(a.claims.exp - a.claims.iat, 300);
        assert_eq!(a.claims.iss, "client-1");
        assert_eq!(a.claims.sub, "client-1");
        let header = jsonwebtoken::decode_header(a.compact()).unwrap();
        assert_eq!(header.alg, Algorithm::RS384);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
        assert!(validate(a.compact(), &key.public(), &EXPECTED, 1_000_010).is_empty());
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
        let a = build(&key, "k", &EXPECTED, 1_000_000).unwrap();
        let problems = validate(a.compact(), &other.public(), &EXPECTED, 1_000_000);
        assert!(matches!(problems[..], [AssertionProblem::Signature(_)]));
        let fhir = Expected {
            aud: "http://127.0.0.1:8300/apis/default/fhir",
            ..EXPECTED
        };
        let problems = validate(a.compact(), &key.public(), &fhir, 1_000_000);
        assert!(matches!(&problems[..], [AssertionProblem::Aud { .. }]));
    }

    #[test]
    fn time_rules_use_the_leeway_and_the_five_minute_cap() {
        let claims = Claims {
            iss: "client-1".into(),
            sub: "client-1".into(),
            aud: EXPECTED.aud.into(),
            iat: 0,
            exp: 3600,
            jti: "j".into(),
        };
        let problems = claim_problems(&claims, &EXPECTED, 3650);
        assert_eq!(problems, vec![AssertionProblem::TooLong(3600)]);
        let problems = claim_problems(&claims, &EXPECTED, 3700 + 61);
        assert!(problems.contains(&AssertionProblem::Expired(161)));
        assert!(
            claim_problems(&claims, &EXPECTED, -61).contains(&AssertionProblem::IssuedInFuture(61))
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
