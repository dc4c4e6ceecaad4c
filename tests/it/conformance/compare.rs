//! Comparing the sandbox's answer with the recorded one: what a client can tell apart (status,
//! content type, challenge, error fields, body shape), not values that differ by nature (URLs,
//! times, keys, token ids).

use serde_json::Value;

use super::exchange::Answer;
use super::jwt;

/// Fields whose values must match exactly whenever the recording has them.
const EXACT_FIELDS: &[&str] = &[
    "error",
    "error_description",
    "hint",
    "message",
    "scope",
    "token_type",
    "expires_in",
    "resourceType",
    "type",
    "total",
];

/// Every difference between `recorded` (a record's `response`) and `answer`.
pub fn differences(recorded: &Value, answer: &Answer) -> Vec<String> {
    let mut found = Vec::new();
    let status = recorded["status"].as_u64().unwrap_or_default() as u16;
    if status != answer.status {
        found.push(format!("status {} instead of {status}", answer.status));
    }
    let want_type = main_type(recorded["content_type"].as_str().unwrap_or(""));
    let got_type = main_type(&answer.content_type);
    if want_type != got_type {
        found.push(format!(
            "content type {got_type:?} instead of {want_type:?}"
        ));
    }
    let challenge = recorded["www_authenticate"].as_str();
    if challenge != answer.www_authenticate.as_deref() {
        found.push(format!(
            "WWW-Authenticate {:?} instead of {challenge:?}",
            answer.www_authenticate
        ));
    }
    found.extend(body_differences(&recorded["body"], &answer.body));
    if let Some(decoded) = recorded["decoded"]["access_token"].as_object() {
        found.extend(token_differences(decoded, &answer.body));
    }
    found
}

fn main_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn body_differences(recorded: &Value, body: &str) -> Vec<String> {
    match recorded {
        Value::String(text) if text.is_empty() => match body.is_empty() {
            true => Vec::new(),
            false => vec![format!("a body ({} bytes) instead of none", body.len())],
        },
        Value::Object(want) => match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(got)) => object_differences(want, &got),
            _ => vec![format!("body is not a JSON object: {}", preview(body))],
        },
        Value::Array(want) => match serde_json::from_str::<Value>(body) {
            Ok(Value::Array(got)) if got.is_empty() == want.is_empty() => Vec::new(),
            _ => vec![format!("body is not a like JSON list: {}", preview(body))],
        },
        other => vec![format!(
            "recorded body {other} is not handled by the comparison"
        )],
    }
}

fn object_differences(
    want: &serde_json::Map<String, Value>,
    got: &serde_json::Map<String, Value>,
) -> Vec<String> {
    let mut found = Vec::new();
    let want_keys: Vec<&String> = want.keys().collect();
    let got_keys: Vec<&String> = got.keys().collect();
    if want_keys != got_keys {
        found.push(format!("keys {got_keys:?} instead of {want_keys:?}"));
    }
    for field in EXACT_FIELDS {
        if let Some(value) = want.get(*field) {
            if got.get(*field) != Some(value) {
                found.push(format!("{field} {:?} instead of {value}", got.get(*field)));
            }
        }
    }
    found
}

/// The issued access token's header and claim names, and its `scopes` list.
fn token_differences(decoded: &serde_json::Map<String, Value>, body: &str) -> Vec<String> {
    let Ok(parsed) = serde_json::from_str::<Value>(body) else {
        return vec!["no token response to compare the access token with".into()];
    };
    let token = parsed["access_token"].as_str().unwrap_or_default();
    let mut found = Vec::new();
    if jwt::header(token) != decoded["header"] {
        found.push(format!("access token header {}", jwt::header(token)));
    }
    let claims = jwt::payload(token);
    let names = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    if names(&claims) != names(&decoded["claims"]) {
        found.push(format!("access token claims {:?}", names(&claims)));
    }
    if claims["scopes"] != decoded["claims"]["scopes"] {
        found.push(format!("access token scopes {}", claims["scopes"]));
    }
    if !claims["exp"].is_f64() {
        found.push("access token exp is not a float".into());
    }
    found
}

fn preview(body: &str) -> String {
    let cut: String = body.chars().take(120).collect();
    format!("{cut:?}")
}
