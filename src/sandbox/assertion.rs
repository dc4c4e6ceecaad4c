//! Client assertions: reading one without trusting it (to find the client), F2's claim
//! pre-checks, then the lcobucci/jwt constraints every family applies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::keys::jwks::Jwk;
use crate::openemr::{
    ASSERTION_ALG, LEEWAY_SECS, MAX_ASSERTION_AGE_SECS, MAX_ASSERTION_HORIZON_SECS,
};

/// A compact JWS split into its parts and decoded, not yet verified.
pub struct ParsedAssertion {
    signing_input: String,
    signature: String,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ParsedAssertion {
    /// Parses `text` as lcobucci's parser would; `None` when it would throw (F1 then answers
    /// 401 invalid_client, as for an unknown client).
    pub fn parse(text: &str) -> Option<ParsedAssertion> {
        let mut parts = text.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = decode_object(header)?;
        let claims = decode_object(payload)?;
        let times_ok = ["iat", "nbf", "exp"]
            .iter()
            .all(|c| claims.get(*c).is_none_or(|v| number(v).is_some()));
        if !times_ok {
            return None;
        }
        Some(ParsedAssertion {
            signing_input: text[..text.len() - signature.len() - 1].to_string(),
            signature: signature.to_string(),
            header,
            claims,
        })
    }

    /// The `sub` claim: the client id F1 looks the client up by.
    pub fn subject(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }

    /// The `jti` claim.
    pub fn jti(&self) -> Option<&str> {
        self.claims.get("jti").and_then(Value::as_str)
    }

    /// The `kid` header, when it is a non-empty string.
    pub fn kid(&self) -> Option<&str> {
        self.header
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
    }

    /// The `exp` claim in whole seconds, when present.
    pub fn expiry(&self) -> Option<i64> {
        self.claims.get("exp").and_then(number).map(|e| e as i64)
    }

    fn time(&self, claim: &str) -> Option<f64> {
        self.claims.get(claim).and_then(number)
    }
}

fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// F2's pre-checks (`performAdditionalValidations`), run before the signature is looked at,
/// in its order; the hint of the first that fails. F3 also insists on `exp`.
pub fn precheck(
    assertion: &ParsedAssertion,
    client_id: &str,
    now: f64,
    exp_required: bool,
) -> Option<&'static str> {
    if assertion.claims.get("iss").and_then(Value::as_str) != Some(client_id) {
        return Some("Invalid issuer claim");
    }
    let exp = assertion.time("exp");
    if exp_required && exp.is_none() {
        return Some("Missing exp claim");
    }
    if exp.is_some_and(|exp| exp > now + MAX_ASSERTION_HORIZON_SECS as f64) {
        return Some("Token expiration exceeds maximum allowed time");
    }
    let oldest = now - MAX_ASSERTION_AGE_SECS as f64;
    if assertion.time("iat").is_some_and(|iat| iat < oldest) {
        return Some("Token issued too far in the past");
    }
    if !assertion.claims.contains_key("jti") {
        return Some("Missing jti claim");
    }
    None
}

/// The result of checking an assertion against a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every constraint holds.
    Valid,
    /// The named constraints failed: F1 answers 400 invalid_client.
    Invalid(Vec<&'static str>),
    /// The alg was right but the key set has no usable RSA key ("Malformed key object"):
    /// F1 answers 401 invalid_client.
    NoUsableKey,
}

/// What an assertion is checked against.
pub struct Expectations<'a> {
    pub client_id: &'a str,
    /// The token URL the `aud` must contain, byte for byte.
    pub token_url: &'a str,
    /// The key to verify with: F1 and F2 take the first RSA key of the set whatever the kid,
    /// F3 the one its kid names. `None` when the set has no usable one.
    pub key: Option<&'a Jwk>,
    /// Now, in Unix seconds.
    pub now: f64,
}

/// Checks every lcobucci constraint, collecting the failures as lcobucci does. The key is
/// only looked at once the `alg` header has passed, which is why on F1 an EC-only key set
/// gives 400 for ES384 but 401 for RS384.
pub fn check(assertion: &ParsedAssertion, expect: &Expectations<'_>) -> Verdict {
    let mut failed = Vec::new();
    match signature_ok(assertion, expect.key) {
        Some(true) => {}
        Some(false) => failed.push("signature or alg"),
        None => return Verdict::NoUsableKey,
    }
    if assertion.claims.get("iss").and_then(Value::as_str) != Some(expect.client_id) {
        failed.push("iss is not the client id");
    }
    if !audience_ok(assertion.claims.get("aud"), expect.token_url) {
        failed.push("aud does not contain the token URL");
    }
    failed.extend(time_failures(assertion, expect.now));
    if assertion.jti().is_none() {
        failed.push("jti is missing");
    }
    if failed.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid(failed)
    }
}

/// `Some(valid)`, or `None` when the alg is right but no usable RSA key exists.
fn signature_ok(assertion: &ParsedAssertion, key: Option<&Jwk>) -> Option<bool> {
    if assertion.header.get("alg").and_then(Value::as_str) != Some(ASSERTION_ALG) {
        return Some(false);
    }
    let key = key?;
    let decoding = key.decoding_key().ok()?;
    let verified = jsonwebtoken::crypto::verify(
        &assertion.signature,
        assertion.signing_input.as_bytes(),
        &decoding,
        Algorithm::RS384,
    );
    Some(verified.unwrap_or(false))
}

fn audience_ok(aud: Option<&Value>, token_url: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == token_url,
        Some(Value::Array(list)) => list.iter().any(|v| v.as_str() == Some(token_url)),
        _ => false,
    }
}

fn time_failures(assertion: &ParsedAssertion, now: f64) -> Vec<&'static str> {
    let leeway = LEEWAY_SECS as f64;
    let mut failed = Vec::new();
    if assertion.time("exp").is_some_and(|exp| now - leeway >= exp) {
        failed.push("exp is in the past");
    }
    if assertion.time("nbf").is_some_and(|nbf| nbf > now + leeway) {
        failed.push("nbf is in the future");
    }
    if assertion.time("iat").is_some_and(|iat| iat > now + leeway) {
        failed.push("iat is in the future");
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &str) -> String {
        URL_SAFE_NO_PAD.encode(value)
    }

    #[test]
    fn parse_refuses_what_lcobucci_refuses() {
        assert!(ParsedAssertion::parse("not-a-jwt").is_none());
        let bad_payload = format!("{}.{}.{}", encode(r#"{"alg":"RS384"}"#), encode("x"), "sig");
        assert!(ParsedAssertion::parse(&bad_payload).is_none());
        let text = format!(
            "{}.{}.",
            encode(r#"{"alg":"none"}"#),
            encode(r#"{"sub":"c"}"#)
        );
        let parsed = ParsedAssertion::parse(&text).unwrap();
        assert_eq!(parsed.subject(), Some("c"));
    }

    #[test]
    fn prechecks_run_in_openemr_order() {
        let parsed = |claims: &str| {
            let text = format!("{}.{}.", encode(r#"{"alg":"RS384"}"#), encode(claims));
            ParsedAssertion::parse(&text).unwrap()
        };
        let now = 1_000_000.0;
        let check = |claims: &str, exp_required| precheck(&parsed(claims), "c", now, exp_required);
        assert_eq!(
            check(r#"{"iss":"x","jti":"j"}"#, false),
            Some("Invalid issuer claim")
        );
        assert_eq!(check(r#"{"iss":"c","jti":"j"}"#, false), None);
        assert_eq!(
            check(r#"{"iss":"c","jti":"j"}"#, true),
            Some("Missing exp claim")
        );
        let far = r#"{"iss":"c","jti":"j","exp":1086401}"#;
        assert_eq!(
            check(far, false),
            Some("Token expiration exceeds maximum allowed time")
        );
        let old = r#"{"iss":"c","jti":"j","iat":999699}"#;
        assert_eq!(check(old, false), Some("Token issued too far in the past"));
        assert_eq!(check(r#"{"iss":"c"}"#, false), Some("Missing jti claim"));
    }

    #[test]
    fn audience_may_be_a_string_or_a_list() {
        let url = "http://h/oauth2/default/token";
        assert!(audience_ok(Some(&Value::from(url)), url));
        assert!(audience_ok(Some(&serde_json::json!([url, "x"])), url));
        assert!(!audience_ok(Some(&Value::from(format!("{url}/"))), url));
        assert!(!audience_ok(None, url));
    }
}
