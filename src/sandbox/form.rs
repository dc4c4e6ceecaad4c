//! Reading a token request's fields the way PHP fills `$_POST`: only from a POST with a form
//! or multipart body. Anything else (a JSON body, a GET with a query) yields no fields at all,
//! which is why F1 answers such requests "Bad request".

use std::collections::HashMap;

use axum::http::{header, HeaderMap, Method};

/// The parsed body fields; a repeated name keeps its last value, as in PHP.
pub fn fields(method: &Method, headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    if method != Method::POST {
        return HashMap::new();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => form_urlencoded::parse(body).into_owned().collect(),
        "multipart/form-data" => boundary(content_type)
            .map(|b| multipart(body, &b))
            .unwrap_or_default(),
        _ => HashMap::new(),
    }
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The text fields of a multipart body (file parts are kept too; PHP would not, but a token
/// request has none).
fn multipart(body: &[u8], boundary: &str) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    text.split(delimiter.as_str())
        .filter_map(part_field)
        .collect()
}

fn part_field(part: &str) -> Option<(String, String)> {
    let part = part.strip_prefix("\r\n")?;
    let (head, value) = part.split_once("\r\n\r\n")?;
    let disposition = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    let name = disposition.split(';').find_map(|p| {
        p.trim()
            .strip_prefix("name=")
            .map(|n| n.trim_matches('"').to_string())
    })?;
    let value = value.strip_suffix("\r\n").unwrap_or(value);
    Some((name, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    #[test]
    fn form_and_multipart_bodies_are_read() {
        let h = headers("application/x-www-form-urlencoded");
        let f = fields(
            &Method::POST,
            &h,
            b"grant_type=client_credentials&scope=a+b",
        );
        assert_eq!(f["scope"], "a b");
        let h = headers("multipart/form-data; boundary=XyZ");
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"scope\"\r\n\r\n\
                    openid\r\n--XyZ--\r\n";
        let f = fields(&Method::POST, &h, body.as_bytes());
        assert_eq!(f["scope"], "openid");
    }

    #[test]
    fn json_bodies_and_gets_yield_nothing() {
        let h = headers("application/json");
        assert!(fields(&Method::POST, &h, br#"{"grant_type":"x"}"#).is_empty());
        let h = headers("application/x-www-form-urlencoded");
        assert!(fields(&Method::GET, &h, b"grant_type=x").is_empty());
    }
}
