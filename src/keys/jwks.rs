//! JSON Web Keys: publishing the client's public key, reading a registered key set, and
//! matching a private key to the keys a server will verify with.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Why a key set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("it is an HTML page, not a JWKS")]
    Html,
    #[error("it is not JSON ({0})")]
    NotJson(String),
    #[error("it is a JSON string holding JSON (encoded twice); store the object itself")]
    DoubleEncoded,
    #[error("it is a single JWK, not a key set; wrap it as {{\"keys\":[...]}}")]
    BareJwk,
    #[error("it has no \"keys\" array")]
    NoKeys,
    #[error("its \"keys\" array is empty")]
    Empty,
}

/// Why one JWK cannot serve as an RSA verification key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("kty is {0:?}, not RSA")]
    NotRsa(String),
    #[error("member {0:?} is missing")]
    Missing(&'static str),
    #[error("member {0:?} is not base64url")]
    NotBase64Url(&'static str),
}

/// One JSON Web Key, kept as the JSON object it was so nothing is lost or reordered.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk(pub Map<String, Value>);

impl Jwk {
    fn text(&self, member: &str) -> Option<&str> {
        self.0.get(member).and_then(Value::as_str)
    }

    /// The key type, `kty`.
    pub fn kty(&self) -> Option<&str> {
        self.text("kty")
    }

    /// The key id, `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.text("kid")
    }

    /// Whether the key publishes private members (`d`, `p`, `q`, ...).
    pub fn has_private_members(&self) -> bool {
        ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .any(|m| self.0.contains_key(*m))
    }

    /// The RSA public key the JWK describes.
    pub fn rsa_public(&self) -> Result<RsaPublicKey, JwkError> {
        match self.kty() {
            Some("RSA") => {}
            Some(other) => return Err(JwkError::NotRsa(other.to_string())),
            None => return Err(JwkError::Missing("kty")),
        }
        let n = self.number("n")?;
        let e = self.number("e")?;
        RsaPublicKey::new(n, e).map_err(|_| JwkError::NotBase64Url("n"))
    }

    fn number(&self, member: &'static str) -> Result<BigUint, JwkError> {
        let text = self.text(member).ok_or(JwkError::Missing(member))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| JwkError::NotBase64Url(member))?;
        Ok(BigUint::from_bytes_be(&bytes))
    }

    /// A verification key for jsonwebtoken.
    pub fn decoding_key(&self) -> Result<jsonwebtoken::DecodingKey, JwkError> {
        let key = self.rsa_public()?;
        let (n, e) = components(&key);
        jsonwebtoken::DecodingKey::from_rsa_components(&n, &e)
            .map_err(|_| JwkError::NotBase64Url("n"))
    }
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwks {
    /// The keys, in the order the set lists them (the order F1 and F2 servers care about).
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Reads a key set from JSON text, naming the shape it has when it is not one.
    pub fn parse(text: &str) -> Result<Jwks, JwksError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('<') {
            return Err(JwksError::Html);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| JwksError::NotJson(e.to_string()))?;
        Jwks::from_value(value)
    }

    /// Reads a key set from parsed JSON.
    pub fn from_value(value: Value) -> Result<Jwks, JwksError> {
        let object = match value {
            Value::Object(object) => object,
            Value::String(inner) if inner.trim_start().starts_with('{') => {
                return Err(JwksError::DoubleEncoded)
            }
            _ => return Err(JwksError::NoKeys),
        };
        let Some(keys) = object.get("keys") else {
            return Err(if object.contains_key("kty") {
                JwksError::BareJwk
            } else {
                JwksError::NoKeys
            });
        };
        let Value::Array(keys) = keys else {
            return Err(JwksError::NoKeys);
        };
        if keys.is_empty() {
            return Err(JwksError::Empty);
        }
        let keys = keys
            .iter()
            .map(|k| Jwk(k.as_object().cloned().unwrap_or_default()))
            .collect();
        Ok(Jwks { keys })
    }

    /// Index of the first key with `kty` RSA: the one F1 and F2 verify with, whatever the kid.
    pub fn first_rsa(&self) -> Option<usize> {
        self.keys.iter().position(|k| k.kty() == Some("RSA"))
    }

    /// Index of the key whose modulus and exponent equal `public`'s.
    pub fn find(&self, public: &RsaPublicKey) -> Option<usize> {
        self.keys.iter().position(|k| {
            k.rsa_public()
                .is_ok_and(|p| p.n() == public.n() && p.e() == public.e())
        })
    }

    /// The set as pretty JSON.
    pub fn to_json(&self) -> String {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|k| Value::Object(k.0.clone()))
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "keys": keys }))
            .expect("a JSON value always serialises")
    }
}

/// Modulus and exponent as unpadded base64url, as JWKs carry them.
pub fn components(key: &RsaPublicKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    )
}

/// RFC 7638 thumbprint of an RSA key: base64url SHA-256 of its canonical JWK.
pub fn thumbprint(key: &RsaPublicKey) -> String {
    let (n, e) = components(key);
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The public JWK oemr-doctor publishes: kid is the thumbprint, for RS384 signatures.
pub fn public_jwk(key: &RsaPublicKey) -> Jwk {
    let (n, e) = components(key);
    let mut map = Map::new();
    map.insert("kty".into(), "RSA".into());
    map.insert("n".into(), n.into());
    map.insert("e".into(), e.into());
    map.insert("kid".into(), thumbprint(key).into());
    map.insert("alg".into(), "RS384".into());
    map.insert("use".into(), "sig".into());
    Jwk(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // The worked example of RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let n = BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(n).unwrap());
        let key = RsaPublicKey::new(n, BigUint::from(65537u32)).unwrap();
        assert_eq!(
            thumbprint(&key),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn shapes_that_are_not_key_sets_are_named() {
        assert_eq!(Jwks::parse("<html>"), Err(JwksError::Html));
        assert_eq!(
            Jwks::parse(r#""{\"keys\":[]}""#),
            Err(JwksError::DoubleEncoded)
        );
        assert_eq!(Jwks::parse(r#"{"kty":"RSA"}"#), Err(JwksError::BareJwk));
        assert_eq!(Jwks::parse(r#"{"keys":[]}"#), Err(JwksError::Empty));
        assert!(matches!(Jwks::parse("{"), Err(JwksError::NotJson(_))));
    }

    #[test]
    fn jwk_members_are_checked() {
        let set =
            Jwks::parse(r#"{"keys":[{"kty":"EC"},{"kty":"RSA","n":"!!","e":"AQAB"}]}"#).unwrap();
        assert_eq!(set.first_rsa(), Some(1));
        assert_eq!(set.keys[0].rsa_public(), Err(JwkError::NotRsa("EC".into())));
        assert_eq!(set.keys[1].rsa_public(), Err(JwkError::NotBase64Url("n")));
    }
}
