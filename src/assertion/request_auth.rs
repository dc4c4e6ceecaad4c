//! Credentials in the wrong place: an Authorization header (a Basic secret, or the assertion
//! as a Bearer token) and client secrets in form fields. OpenEMR's client_credentials grant
//! reads only the client_assertion form field; everything else is ignored or refused.

use std::collections::HashMap;

use super::request::CapturedRequest;
use crate::openemr::fault::Fault;
use crate::openemr::JWT_BEARER;

/// Faults of the Authorization header. Its value is a credential and is never quoted.
pub fn authorization_faults(
    request: &CapturedRequest,
    fields: &HashMap<String, String>,
) -> Vec<Fault> {
    let Some(value) = request.header("authorization") else {
        return Vec::new();
    };
    let scheme = value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let has_assertion = fields
        .get("client_assertion")
        .is_some_and(|a| !a.trim().is_empty());
    match (scheme.as_str(), has_assertion) {
        ("basic", false) => vec![secret_instead_of_jwt(
            "an HTTP Basic client_id:secret header",
        )],
        ("bearer", false) => vec![Fault::refused(
            "assertion-in-header",
            "the request sends a token in an Authorization: Bearer header and no \
             client_assertion field: the assertion must go in the form body, not in a header",
            format!(
                "remove the Authorization header; send client_assertion=<the JWT> and \
                 client_assertion_type={JWT_BEARER} in the form body"
            ),
        )],
        (_, false) => vec![secret_instead_of_jwt("an Authorization header")],
        (_, true) => vec![Fault::warning(
            "authorization-header",
            "the request also carries an Authorization header; OpenEMR ignores it, but \
             answers every invalid_client with 401 instead of 400 because of it",
            "drop the Authorization header: the client_assertion field is the credential",
        )],
    }
}

/// The fault of sending a secret where OpenEMR wants a signed JWT.
pub fn secret_instead_of_jwt(how: &str) -> Fault {
    Fault::refused(
        "secret-not-assertion",
        format!(
            "the client authenticates with {how}; OpenEMR's client_credentials grant needs a \
             signed JWT, not a secret (400 invalid_request \"assertion type is not supported\")"
        ),
        format!(
            "drop the secret; send client_assertion_type={JWT_BEARER} plus \
             client_assertion=<RS384 JWT signed with the registered key> (and scope) in the \
             form body"
        ),
    )
}

/// Faults of secret-bearing form fields.
pub fn secret_field_faults(fields: &HashMap<String, String>) -> Vec<Fault> {
    if !fields.contains_key("client_secret") {
        return Vec::new();
    }
    let has_assertion = fields
        .get("client_assertion")
        .is_some_and(|a| !a.trim().is_empty());
    if !has_assertion {
        return vec![secret_instead_of_jwt(
            "client_id and client_secret form fields",
        )];
    }
    vec![Fault::warning(
        "secret-field",
        "the body also sends client_secret; OpenEMR ignores it for this grant",
        "stop sending the client secret: it only widens where it can leak",
    )]
}
