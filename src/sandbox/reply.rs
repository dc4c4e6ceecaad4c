//! The kinds of answer the sandbox gives, with the headers OpenEMR sends with each.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::openemr::errors::{php_json, ApiError, OAuthError};

/// PHP's default content type, which OpenEMR's bare-status answers carry.
const PHP_DEFAULT_TYPE: &str = "text/html; charset=UTF-8";

fn build(status: u16, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let value = HeaderValue::from_str(content_type).expect("content types are ASCII");
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}

/// A bare status with an empty body: what F1 sends when PHP dies or a check just exits.
pub fn empty(status: u16) -> Response {
    build(status, PHP_DEFAULT_TYPE, String::new())
}

/// JSON written the way PHP's `json_encode` writes it, slashes escaped (OAuth2 answers).
pub fn php_json_body(status: u16, value: &Value) -> Response {
    build(status, "application/json", php_json(value))
}

/// JSON with slashes left alone, as F1's FHIR layer and discovery writers send it.
pub fn plain_json(status: u16, value: &Value) -> Response {
    build(status, "application/json", value.to_string())
}

/// Text already serialised as JSON.
pub fn json_text(status: u16, content_type: &str, text: String) -> Response {
    build(status, content_type, text)
}

/// A league-format OAuth2 error. `with_auth_header` mirrors league's rule: an
/// `invalid_client` answer to a request that carried an Authorization header becomes a 401
/// with a Basic challenge.
pub fn oauth_error(error: &OAuthError, with_auth_header: bool) -> Response {
    let challenge = with_auth_header && error.error == "invalid_client";
    let status = if challenge { 401 } else { error.status };
    let mut response = build(status, "application/json", error.body());
    if challenge {
        let value = HeaderValue::from_static("Basic realm=\"OAuth\"");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// An answer of F2's exception listener (`{"error":"An error occurred",...}`).
pub fn api_error(error: &ApiError) -> Response {
    build(error.status, "application/json", error.body())
}

/// A plain-text body, as PHP prints an exception message nobody caught as JSON.
pub fn text(status: u16, body: String) -> Response {
    build(status, "text/plain; charset=UTF-8", body)
}
