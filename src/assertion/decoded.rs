//! A compact JWT taken apart without trusting it: header and claims as JSON, and the one
//! check that needs a key, whether the signature verifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Why a text is not a compact JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotJwt {
    #[error("it has {0} dot-separated parts, a compact JWT has 3")]
    Parts(usize),
    #[error("its {0} is not base64url")]
    Base64(&'static str),
    #[error("its {0} is not a JSON object")]
    Json(&'static str),
}

/// A JWT's header and claims. The compact text stays private: it is a credential.
#[derive(Clone)]
pub struct DecodedJwt {
    compact: String,
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for DecodedJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedJwt")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl DecodedJwt {
    /// Takes a compact JWT apart (surrounding whitespace and quotes are ignored).
    pub fn parse(text: &str) -> Result<DecodedJwt, NotJwt> {
        let compact = text.trim().trim_matches('"').to_string();
        let parts: Vec<&str> = compact.split('.').collect();
        if parts.len() != 3 {
            return Err(NotJwt::Parts(parts.len()));
        }
        let header = segment(parts[0], "header")?;
        let claims = segment(parts[1], "payload")?;
        Ok(DecodedJwt {
            compact,
            header,
            claims,
        })
    }

    /// The compact form. Secret: for verification and the token request only.
    pub fn compact(&self) -> &str {
        &self.compact
    }

    /// A header member as text.
    pub fn header_text(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim as text.
    pub fn claim_text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim in whole seconds (fractions are cut, as OpenEMR's library reads them).
    ///
    /// Values are clamped to ±10^13 s (hundreds of thousands of years), so a hostile or
    /// mistaken number (u64::MAX, 1e300, i64::MIN) can never overflow the time arithmetic; it
    /// still reads as absurdly far off, which is what the rules report.
    pub fn claim_secs(&self, name: &str) -> Option<i64> {
        const LIMIT: f64 = 1e13;
        let value = self.claims.get(name)?;
        let secs = value
            .as_f64()
            .or_else(|| value.as_str()?.trim().parse::<f64>().ok())?;
        secs.is_finite().then(|| secs.clamp(-LIMIT, LIMIT) as i64)
    }

    /// `aud` as a list: a string or an array of strings.
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The header's `alg`.
    pub fn alg(&self) -> &str {
        self.header_text("alg").unwrap_or("")
    }

    /// Whether the signature verifies with `key` under the header's algorithm (RSA ones).
    pub fn verifies_with(&self, key: &DecodingKey) -> bool {
        let Some(alg) = rsa_algorithm(self.alg()) else {
            return false;
        };
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(&self.compact, key, &validation).is_ok()
    }
}

fn rsa_algorithm(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        _ => return None,
    })
}

fn segment(part: &str, name: &'static str) -> Result<Map<String, Value>, NotJwt> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| NotJwt::Base64(name))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(NotJwt::Json(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_named() {
        assert_eq!(DecodedJwt::parse("abc").unwrap_err(), NotJwt::Parts(1));
        assert_eq!(
            DecodedJwt::parse("a.b.c").unwrap_err(),
            NotJwt::Base64("header")
        );
        assert_eq!(
            DecodedJwt::parse("YWJj.e30.x").unwrap_err(),
            NotJwt::Json("header")
        );
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS384"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"aud":["x","y"],"exp":1.5}"#);
        let jwt = DecodedJwt::parse(&format!("{header}.{claims}.sig")).unwrap();
        assert_eq!(jwt.audiences(), ["x", "y"]);
        assert_eq!(jwt.claim_secs("exp"), Some(1));
        assert!(!format!("{jwt:?}").contains("sig"));
    }
}
