//! What each kind of refusal looks like in each family: F1 mostly exits with a bare status,
//! F2's exception listener writes `{"error":"An error occurred","message":…,"code":…}`.

use axum::response::Response;
use serde_json::Value;

use super::bearer::BearerRefusal;
use super::profile::Profile;
use super::reply;
use crate::openemr::errors::{
    php_json, ApiError, OAuthError, ACCESS_DENIED, API_DISABLED, INSUFFICIENT_PERMISSIONS,
    INVALID_OR_EXPIRED_TOKEN, ROUTE_NOT_FOUND, SITE_ERROR, TRUSTED_USER_GONE, UNAUTHORIZED,
};

/// Which dispatcher a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    OAuth2,
    Apis,
}

/// A site id that is invalid or has no `sites/<id>`. F1's `/oauth2/` dies bootstrapping it
/// (empty 500), its `/apis/` exits 400; F2 answers 400 JSON on both.
pub fn unknown_site(profile: Profile, area: Area) -> Response {
    if profile.symfony() {
        return reply::api_error(&ApiError::new(400, SITE_ERROR));
    }
    match area {
        Area::OAuth2 => reply::empty(500),
        Area::Apis => reply::empty(400),
    }
}

/// Every API global off: every `/oauth2/` path is 404 (F1 empty, F2 JSON).
pub fn api_disabled(profile: Profile) -> Response {
    if profile.symfony() {
        reply::api_error(&ApiError::new(404, API_DISABLED))
    } else {
        reply::empty(404)
    }
}

/// A bearer token the API layer did not accept.
pub fn bearer(profile: Profile, refusal: BearerRefusal) -> Response {
    if profile.symfony() {
        return bearer_f2(refusal);
    }
    match refusal {
        BearerRefusal::Invalid(hint) => reply::oauth_error(&OAuthError::access_denied(hint), false),
        BearerRefusal::Revoked => {
            let error = OAuthError::access_denied("Access token has been revoked");
            reply::oauth_error(&error, false)
        }
        BearerRefusal::WrongSite => reply::empty(400),
        BearerRefusal::NotTrusted => {
            // F1's own spelling, space included.
            let body = serde_json::json!({
                "error": "invalid _request",
                "error_description": TRUSTED_USER_GONE,
                "message": TRUSTED_USER_GONE,
            });
            reply::php_json_body(400, &body)
        }
        BearerRefusal::NoTokenRow => reply::empty(401),
        BearerRefusal::Internal(error) => internal(error),
    }
}

/// F2 loses league's hint: every validation failure is the same 401 message.
fn bearer_f2(refusal: BearerRefusal) -> Response {
    let error = match refusal {
        BearerRefusal::Invalid(_) | BearerRefusal::Revoked | BearerRefusal::WrongSite => {
            ApiError::new(401, ACCESS_DENIED)
        }
        BearerRefusal::NotTrusted => ApiError::new(400, TRUSTED_USER_GONE),
        BearerRefusal::NoTokenRow => ApiError::new(401, INVALID_OR_EXPIRED_TOKEN),
        BearerRefusal::Internal(error) => return internal(error),
    };
    reply::api_error(&error)
}

/// The token lacks the scope the route needs (F1 empty 401, F2 JSON "Unauthorized").
pub fn missing_scope(profile: Profile) -> Response {
    if profile.symfony() {
        reply::api_error(&ApiError::new(401, UNAUTHORIZED))
    } else {
        reply::empty(401)
    }
}

/// A client_credentials (system role) token on the Standard API `/api/`.
pub fn system_role_on_api(profile: Profile) -> Response {
    if profile.symfony() {
        reply::api_error(&ApiError::new(403, INSUFFICIENT_PERMISSIONS))
    } else {
        reply::empty(401)
    }
}

/// A path under `/apis/SITE/` that no route matches.
pub fn unknown_route(profile: Profile) -> Response {
    if profile.symfony() {
        reply::api_error(&ApiError::new(404, ROUTE_NOT_FOUND))
    } else {
        reply::empty(404)
    }
}

/// A JSON document: F1's FHIR and discovery writers leave slashes alone, F2's Symfony
/// JsonResponse escapes them.
pub fn json(profile: Profile, status: u16, value: &Value) -> Response {
    if profile.symfony() {
        reply::json_text(status, "application/json", php_json(value))
    } else {
        reply::plain_json(status, value)
    }
}

/// The sandbox itself failed: logged, and an empty 500.
pub fn internal(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "sandbox request failed");
    reply::empty(500)
}
