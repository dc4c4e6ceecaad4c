//! Client assertions rebuilt from the recorded decoded form, signed as the record says, and the
//! forged access token of the FHIR exchanges.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

use super::fixture::Fixture;

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The compact JWT a recorded `client_assertion` stands for. Literal strings are sent as they
/// are, except the two shorthands the recording used.
pub fn assertion(f: &Fixture, spec: &Value) -> String {
    match spec {
        Value::String(text) if text == "<jwt>" => standard(f, &f.clients[0]),
        Value::String(text) if text.starts_with("<header ") => garbage_payload(),
        Value::String(text) => text.clone(),
        _ => {
            let decoded = spec.get("decoded").unwrap_or(spec);
            let signature = decoded
                .get("signature")
                .or_else(|| spec.get("signature"))
                .and_then(Value::as_str)
                .expect("a decoded assertion names its signature");
            sign(f, &decoded["header"], &decoded["claims"], signature)
        }
    }
}

/// A valid RS384 assertion for `client_id`, signed with key "ours".
pub fn standard(f: &Fixture, client_id: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = json!({"alg": "RS384", "kid": "kid-ours", "typ": "JWT"});
    let claims = json!({
        "iss": client_id, "sub": client_id,
        "aud": format!("{}/oauth2/default/token", f.sandbox.site_addr()),
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 300,
    });
    sign(f, &header, &claims, "RS384 with key \"ours\"")
}

/// Three base64url segments whose payload is not JSON.
fn garbage_payload() -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS384"}"#);
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode("not-json"),
        URL_SAFE_NO_PAD.encode("sig")
    )
}

/// Signs `header.claims` as `how` says: `ALG with key "NAME"`, `none (...)`, or a signature
/// with two bytes flipped afterwards.
pub fn sign(f: &Fixture, header: &Value, claims: &Value, how: &str) -> String {
    let input = format!("{}.{}", encode_json(header), encode_json(claims));
    if how.starts_with("none") {
        return format!("{input}.");
    }
    let alg_name = how.split_whitespace().next().unwrap_or("RS384");
    let key_name = how.split('"').nth(1).unwrap_or("ours");
    let alg: Algorithm = alg_name.parse().expect("a JOSE algorithm name");
    let key = encoding_key(f, key_name);
    let mut signature = signature_of(&input, alg, &key);
    if how.contains("flipped") {
        let mut bytes = URL_SAFE_NO_PAD.decode(&signature).unwrap();
        bytes[10] ^= 0xff;
        bytes[20] ^= 0xff;
        signature = URL_SAFE_NO_PAD.encode(bytes);
    }
    format!("{input}.{signature}")
}

/// `header.claims.signature`, signed with `alg` and `key`: a compact JWS.
pub fn sign_compact(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let input = format!("{}.{}", encode_json(header), encode_json(claims));
    let signature = signature_of(&input, alg, key);
    format!("{input}.{signature}")
}

fn signature_of(input: &str, alg: Algorithm, key: &EncodingKey) -> String {
    jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap()
}

fn encoding_key(f: &Fixture, name: &str) -> EncodingKey {
    match name {
        "ec" => EncodingKey::from_ec_der(&f.keys.ec_pkcs8),
        "other" => f.keys.other.encoding_key(),
        _ => f.keys.ours.encoding_key(),
    }
}

/// An access-token-shaped RS256 JWT signed by a client key instead of the server's.
pub fn forged_access_token(f: &Fixture) -> String {
    let now = chrono::Utc::now().timestamp() as f64;
    let header = json!({"typ": "JWT", "alg": "RS256"});
    let claims = json!({
        "aud": f.clients[0], "jti": "f".repeat(80), "iat": now, "nbf": now,
        "exp": now + 300.0, "sub": uuid::Uuid::new_v4().to_string(),
        "scopes": ["system/Patient.read", "site:default"],
    });
    sign(f, &header, &claims, "RS256 with key \"ours\"")
}

/// The payload of a compact JWT.
pub fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// The header of a compact JWT.
pub fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
