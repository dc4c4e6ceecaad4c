//! What OpenEMR does with a client's registered key set (inline `jwks` or `jwks_uri`), as
//! rules: the shape it must have, the keys it can use, and what must never be published.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::BigUint;

use super::family_rules::MIN_RSA_BITS;
use super::fault::Fault;
use super::Family;
use crate::keys::jwks::{Jwk, Jwks, JwksError};

/// Members that make a JWK a private key.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k"];

/// Every fault of a key set served with `content_type` (for a jwks_uri), judged for `family`.
pub fn lint(text: &str, content_type: Option<&str>, family: Family) -> Vec<Fault> {
    let mut faults = content_type_fault(content_type)
        .into_iter()
        .collect::<Vec<_>>();
    match Jwks::parse(text) {
        Ok(set) => faults.extend(set_faults(&set, family)),
        Err(e) => faults.push(shape_fault(&e)),
    }
    faults
}

fn content_type_fault(content_type: Option<&str>) -> Option<Fault> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    if essence == "application/json" || essence == "application/jwk-set+json" {
        return None;
    }
    let what = format!("the key set is served as {essence:?}, not application/json");
    let fix = "serve the JWKS with Content-Type: application/json";
    Some(Fault::warning("jwks-content-type", what, fix))
}

fn shape_fault(error: &JwksError) -> Fault {
    let fix = match error {
        JwksError::Html => {
            "serve the JWKS itself ({\"keys\":[...]}) at jwks_uri, not a web page or login"
        }
        JwksError::DoubleEncoded => "store the key set as a JSON object, not as a JSON string",
        _ => "publish {\"keys\":[<public JWK>]} as application/json",
    };
    let code = match error {
        JwksError::Html => "jwks-html",
        JwksError::BareJwk => "jwks-bare-jwk",
        _ => "jwks-shape",
    };
    Fault::refused(code, format!("the key set is not usable: {error}"), fix)
}

fn set_faults(set: &Jwks, family: Family) -> Vec<Fault> {
    let mut faults = Vec::new();
    for (index, key) in set.keys.iter().enumerate() {
        faults.extend(key_faults(key, index, family));
    }
    faults.extend(duplicate_kids(set));
    if set.first_rsa().is_none() {
        let what = "the key set holds no RSA key; OpenEMR verifies RS384 with RSA keys only";
        let fix = "register an RSA public key (oemr-doctor keygen makes one)";
        faults.push(Fault::refused("jwks-no-rsa", what, fix));
    }
    faults
}

fn label(key: &Jwk, index: usize) -> String {
    match key.kid() {
        Some(kid) => format!("key #{} (kid {kid:?})", index + 1),
        None => format!("key #{} (no kid)", index + 1),
    }
}

fn key_faults(key: &Jwk, index: usize, family: Family) -> Vec<Fault> {
    let name = label(key, index);
    let mut faults = private_members(key, &name).into_iter().collect::<Vec<_>>();
    match key.kty() {
        Some("RSA") => faults.extend(rsa_faults(key, &name, family)),
        Some(kty) => faults.push(Fault::warning(
            "jwks-not-rsa",
            format!("{name} is kty {kty:?}; OpenEMR skips it (RS384 with RSA keys only)"),
            "sign with an RSA key and register its public JWK (ES384 is not supported)",
        )),
        None => faults.push(Fault::refused(
            "jwks-no-kty",
            format!("{name} has no kty"),
            "give every key \"kty\":\"RSA\"",
        )),
    }
    faults
}

fn private_members(key: &Jwk, name: &str) -> Option<Fault> {
    let found: Vec<&str> = PRIVATE_MEMBERS
        .iter()
        .copied()
        .filter(|m| key.0.contains_key(*m))
        .collect();
    if found.is_empty() {
        return None;
    }
    let what = format!(
        "{name} publishes private member(s) {}: the private key is exposed",
        found.join(", ")
    );
    let fix = "remove the private members from the registered key set and rotate the key now";
    Some(Fault::refused("jwks-private-members", what, fix))
}

fn rsa_faults(key: &Jwk, name: &str, family: Family) -> Vec<Fault> {
    let mut faults = Vec::new();
    for member in ["n", "e"] {
        if let Some(fault) = number_fault(key, member, name) {
            faults.push(fault);
        }
    }
    if let Some(bits) = modulus_bits(key) {
        if bits < MIN_RSA_BITS {
            faults.push(Fault::refused(
                "jwks-small-key",
                format!(
                    "{name} has a {bits}-bit RSA modulus; SMART and JOSE require at least \
                     {MIN_RSA_BITS} and newer OpenEMR builds refuse it (F1 still accepts it)"
                ),
                "make a new key (oemr-doctor keygen) and register its JWKS",
            ));
        }
    }
    faults.extend(f3_selection_faults(key, name, family));
    faults
}

fn number_fault(key: &Jwk, member: &'static str, name: &str) -> Option<Fault> {
    let Some(value) = key.0.get(member) else {
        let what = format!("{name} has no {member:?}");
        return Some(Fault::refused(
            "jwks-missing-member",
            what,
            "publish the full public JWK",
        ));
    };
    let text = value.as_str().unwrap_or("");
    if decode(text).is_some() {
        return None;
    }
    let looks_pem = text.contains("BEGIN") || text.contains('\n');
    let what = if looks_pem {
        format!("{name}: {member} is not base64url (it looks like PEM text)")
    } else {
        format!("{name}: {member} is not base64url")
    };
    let fix = "convert the public key to JWK form (base64url big-endian n and e), e.g. \
               oemr-doctor keygen";
    Some(Fault::refused("jwks-not-base64url", what, fix))
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

/// The modulus size in bits, leading zero bytes ignored.
pub fn modulus_bits(key: &Jwk) -> Option<usize> {
    let bytes = decode(key.0.get("n")?.as_str()?)?;
    Some(BigUint::from_bytes_be(&bytes).bits())
}

/// F3 picks the key by kid and skips keys labelled for another use or algorithm.
fn f3_selection_faults(key: &Jwk, name: &str, family: Family) -> Vec<Fault> {
    let f3 = family == Family::F3;
    let mut faults = Vec::new();
    if key.kid().is_none() {
        faults.push(Fault::either(
            f3,
            "jwks-no-kid",
            format!("{name} has no kid; OpenEMR F3 picks the key by the assertion's kid"),
            "give the key a kid (oemr-doctor keygen uses the RFC 7638 thumbprint) and put it \
             in the assertion header",
        ));
    }
    if let Some(alg) = key.0.get("alg").and_then(|v| v.as_str()) {
        if alg != "RS384" {
            faults.push(Fault::either(
                f3,
                "jwks-alg",
                format!("{name} says alg {alg:?}; OpenEMR signs and verifies RS384 only"),
                "set the JWK's alg to RS384, or leave it out",
            ));
        }
    }
    if let Some(usage) = key.0.get("use").and_then(|v| v.as_str()) {
        if usage != "sig" {
            faults.push(Fault::either(
                f3,
                "jwks-use",
                format!("{name} says use {usage:?}; a signing key needs \"sig\""),
                "set the JWK's use to sig, or leave it out",
            ));
        }
    }
    faults
}

fn duplicate_kids(set: &Jwks) -> Vec<Fault> {
    let kids: Vec<&str> = set.keys.iter().filter_map(Jwk::kid).collect();
    let mut seen: Vec<&str> = Vec::new();
    let mut faults = Vec::new();
    for kid in &kids {
        if seen.contains(kid) && !faults.iter().any(|f: &Fault| f.what.contains(kid)) {
            faults.push(Fault::warning(
                "jwks-duplicate-kid",
                format!("kid {kid:?} appears more than once in the key set"),
                "give every key its own kid (the RFC 7638 thumbprint is unique)",
            ));
        }
        seen.push(kid);
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(faults: &[Fault]) -> Vec<&'static str> {
        faults.iter().map(|f| f.code).collect()
    }

    #[test]
    fn shapes_and_members_are_named() {
        let bare = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"k"}"#;
        assert_eq!(codes(&lint(bare, None, Family::F1)), ["jwks-bare-jwk"]);
        let html = lint("<html></html>", Some("text/html"), Family::F1);
        assert_eq!(codes(&html), ["jwks-content-type", "jwks-html"]);
        let pem = r#"{"keys":[{"kty":"RSA","n":"-----BEGIN PUBLIC KEY-----\nMII","e":"AQAB","kid":"k","d":"AQAB"}]}"#;
        let faults = lint(pem, None, Family::F1);
        assert!(codes(&faults).contains(&"jwks-private-members"));
        let b64 = faults
            .iter()
            .find(|f| f.code == "jwks-not-base64url")
            .unwrap();
        assert!(b64.what.contains("PEM"), "{b64:?}");
    }

    #[test]
    fn ec_only_and_duplicate_kids() {
        let set = r#"{"keys":[{"kty":"EC","kid":"a"},{"kty":"EC","kid":"a"}]}"#;
        let faults = lint(set, Some("application/json"), Family::F2);
        let codes = codes(&faults);
        assert!(codes.contains(&"jwks-no-rsa") && codes.contains(&"jwks-duplicate-kid"));
    }
}
