//! Replaying one recorded exchange: placeholders filled in, bearer tokens obtained, the
//! recorded state change applied, the request rebuilt and sent to the sandbox.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::fixture::{Fixture, BASELINE_SCOPE};
use super::jwt;
use super::setup::{self, Step};

/// What the sandbox answered.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub www_authenticate: Option<String>,
    pub body: String,
}

const BOUNDARY: &str = "conformance-boundary-7f3a";

/// Turns a recorded line into the record for this run: our ports, client ids, fresh jtis and
/// timestamps relative to now (as JSON numbers).
pub fn instantiate(f: &Fixture, line: &str) -> Value {
    let port = f.sandbox.addr().port();
    let mut text = line
        .replace("127.0.0.1:8300", &format!("127.0.0.1:{port}"))
        .replace("localhost:8300", &format!("localhost:{port}"))
        .replace("127.0.0.1:8391", &f.jwks_server.to_string())
        .replace("127.0.0.1:8392", &f.refused.to_string())
        .replace("<client_id_2>", &f.clients[1])
        .replace("<client_id_3>", &f.clients[2])
        .replace("<client_id_4>", &f.clients[3])
        .replace("<client_id>", &f.clients[0])
        .replace("<jti_replayed>", "conformance-jti-replayed")
        .replace("<jti_burned>", "conformance-jti-burned")
        .replace("<jti>", &uuid::Uuid::new_v4().to_string())
        .replace("<boundary>", BOUNDARY);
    text = fill_timestamps(&text, chrono::Utc::now().timestamp());
    serde_json::from_str(&text).expect("a transcript line is JSON")
}

/// Replaces `"<timestamp>"`, `"<timestamp+N>"` and `"<timestamp-N>"` (quotes included) by
/// numbers.
fn fill_timestamps(text: &str, now: i64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\"<timestamp") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "\"<timestamp".len()..];
        let end = after.find(">\"");
        let offset = end.and_then(|e| match &after[..e] {
            "" => Some(0),
            o => o.parse::<i64>().ok(),
        });
        match (end, offset) {
            (Some(e), Some(offset)) => {
                out.push_str(&(now + offset).to_string());
                rest = &after[e + 2..];
            }
            _ => {
                out.push_str("\"<timestamp");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replays `record` against the sandbox.
pub async fn replay(f: &Fixture, record: &Value) -> Result<Answer, String> {
    f.reset_baseline().await;
    let id = record["id"].as_str().unwrap_or_default();
    let request = &record["request"];
    let mut headers = request["headers"].as_object().cloned().unwrap_or_default();
    let token = fill_authorization(f, request, &mut headers).await?;
    let steps = setup::steps(f, id, record["setup"].as_str())
        .ok_or_else(|| format!("no setup mapped for {:?}", record["setup"]))?;
    apply(f, &steps, token.as_deref()).await?;
    send(f, request, &headers).await
}

/// Fills the Authorization placeholders; returns the access token's id when one was used.
async fn fill_authorization(
    f: &Fixture,
    request: &Value,
    headers: &mut Map<String, Value>,
) -> Result<Option<String>, String> {
    let Some(value) = headers.get("Authorization").and_then(Value::as_str) else {
        return Ok(None);
    };
    let (prefix, placeholder) = value.split_once(' ').unwrap_or((value, ""));
    let (filled, jti) = match placeholder {
        "<access_token>" => obtain(f, Some(BASELINE_SCOPE)).await?,
        "<access_token_without_patient_scope>" => {
            obtain(f, Some("system/Practitioner.read")).await?
        }
        "<access_token_empty_scope>" => obtain(f, None).await?,
        "<forged_access_token>" => (jwt::forged_access_token(f), None),
        "<jwt>" => (
            jwt::assertion(f, &request["authorization_header_decoded"]),
            None,
        ),
        p if p.starts_with("<base64(") => {
            let client = if p.contains("client_id_4") { 3 } else { 0 };
            let pair = format!("{}:not-a-real-secret", f.clients[client]);
            (STANDARD.encode(pair), None)
        }
        other => (other.to_string(), None),
    };
    headers.insert("Authorization".into(), format!("{prefix} {filled}").into());
    Ok(jti)
}

/// A real access token from the sandbox for client 1, and its id.
async fn obtain(f: &Fixture, scope: Option<&str>) -> Result<(String, Option<String>), String> {
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        (
            "client_assertion_type",
            oemr_doctor::openemr::JWT_BEARER.to_string(),
        ),
        ("client_assertion", jwt::standard(f, &f.clients[0])),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let url = format!("{}/oauth2/default/token", f.sandbox.base_url());
    let response = f
        .http
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    let token = body["access_token"]
        .as_str()
        .ok_or_else(|| format!("could not obtain an access token: {body}"))?
        .to_string();
    let jti = jwt::payload(&token)["jti"].as_str().map(str::to_string);
    Ok((token, jti))
}

async fn apply(f: &Fixture, steps: &[Step], token_jti: Option<&str>) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Client(column, value) => f.set_client_column(column, value.clone()).await,
            Step::Global(name, value) => {
                oemr_doctor::sandbox::set_global(&f.db, name, value)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Step::TokenRow(assignment) => {
                let jti = token_jti.ok_or("the setup needs a bearer token")?;
                f.update_token_row(assignment, jti).await;
            }
        }
    }
    Ok(())
}

async fn send(
    f: &Fixture,
    request: &Value,
    headers: &Map<String, Value>,
) -> Result<Answer, String> {
    let method: reqwest::Method = request["method"].as_str().unwrap_or("GET").parse().unwrap();
    let url = format!(
        "{}{}",
        f.sandbox.site_addr(),
        request["path"].as_str().unwrap()
    );
    let mut builder = f.http.request(method, url);
    if let Some(query) = request["query"].as_object() {
        builder = builder.query(&fields(f, query));
    }
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value =
            HeaderValue::from_str(value.as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
        builder = builder.header(name, value);
    }
    if let Some(body) = body(f, request) {
        builder = builder.body(body);
    }
    let response = builder.send().await.map_err(|e| e.to_string())?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok(Answer {
        status: response.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        www_authenticate: header("www-authenticate"),
        body: response.text().await.map_err(|e| e.to_string())?,
    })
}

/// The request's fields, with assertions built.
fn fields(f: &Fixture, recorded: &Map<String, Value>) -> Vec<(String, String)> {
    recorded
        .iter()
        .map(|(name, value)| {
            let text = match (name.as_str(), value) {
                ("client_assertion", spec) => jwt::assertion(f, spec),
                (_, Value::String(s)) => s.clone(),
                (_, other) => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect()
}

fn body(f: &Fixture, request: &Value) -> Option<String> {
    if let Some(form) = request["body_form"].as_object() {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(fields(f, form));
        return Some(serializer.finish());
    }
    if let Some(parts) = request["body_multipart"].as_object() {
        let mut body = String::new();
        for (name, value) in fields(f, parts) {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n\
                 {value}\r\n"
            ));
        }
        return Some(body + &format!("--{BOUNDARY}--\r\n"));
    }
    let json = request["body_json"].as_object()?;
    let built: Map<String, Value> = fields(f, json)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Some(Value::Object(built).to_string())
}

#[cfg(test)]
mod tests {
    use super::fill_timestamps;

    #[test]
    fn timestamps_become_numbers() {
        let text = r#"{"iat":"<timestamp>","exp":"<timestamp+300>","x":"<timestamp-30>"}"#;
        assert_eq!(
            fill_timestamps(text, 1000),
            r#"{"iat":1000,"exp":1300,"x":970}"#
        );
        let kept = r#""<timestamp:YYYY>""#;
        assert_eq!(fill_timestamps(kept, 1), kept);
    }
}
