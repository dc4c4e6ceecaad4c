//! The shape of OpenEMR's OAuth2 error answers (league/oauth2-server's format), produced by the
//! sandbox and read back by the probe.

use serde::Deserialize;

/// `error_description` of every client-authentication failure.
pub const CLIENT_AUTH_FAILED: &str = "Client authentication failed";
/// `error_description` of a generic `invalid_request`.
pub const INVALID_REQUEST: &str = "The request is missing a required parameter, includes an \
invalid parameter value, includes a parameter more than once, or is otherwise malformed.";
/// `error_description` when grant_type is missing or the body is not a form.
pub const BAD_REQUEST: &str = "Bad request";
/// Hint when client_assertion_type is missing or wrong.
pub const ASSERTION_TYPE_HINT: &str = "assertion type is not supported";
/// `error_description` of `unsupported_grant_type`.
pub const UNSUPPORTED_GRANT: &str =
    "The authorization grant type is not supported by the authorization server.";
/// Hint of `unsupported_grant_type`.
pub const UNSUPPORTED_GRANT_HINT: &str = "Check that all required parameters have been provided";
/// `error_description` of `invalid_scope`.
pub const INVALID_SCOPE: &str = "The requested scope is invalid, unknown, or malformed";
/// `error_description` of `server_error`.
pub const SERVER_ERROR: &str = "The authorization server encountered an unexpected condition \
which prevented it from fulfilling the request: Server was not properly setup";
/// `error_description` of `access_denied` on the resource server.
pub const ACCESS_DENIED: &str = "The resource owner or authorization server denied the request.";

/// `error_description` of `unauthorized_client` (F3's grant_types guard).
pub const UNAUTHORIZED_CLIENT: &str =
    "The authenticated client is not authorized to use this authorization grant type.";
/// Hint of `unauthorized_client` for the client_credentials grant.
pub const GRANT_NOT_REGISTERED_HINT: &str =
    "Grant type client_credentials is not registered for this client.";

/// `error` of every F2 answer written by its exception listener rather than by league.
pub const F2_GENERIC_ERROR: &str = "An error occurred";
/// F2's message when every API global is off (HTTP 404 on `/oauth2/`).
pub const API_DISABLED: &str = "OpenEMR Error: API is disabled";
/// F2's message for a site id that is invalid or has no `sites/<id>` (HTTP 400).
pub const SITE_ERROR: &str = "OpenEMR Error: api site error, so forced exit.  Please ensure \
that the site is set up correctly in the OpenEMR configuration.";
/// F2's message when the token lacks the scope a FHIR route needs (HTTP 401).
pub const UNAUTHORIZED: &str = "Unauthorized";
/// F2's message when a token's role may not call the route, e.g. a system token on `/api/`
/// (HTTP 403).
pub const INSUFFICIENT_PERMISSIONS: &str =
    "OpenEMR Error: API call failed due to insufficient permissions for the requested resource.";
/// F2's message when the token's `api_token` row is missing or expired (HTTP 401).
pub const INVALID_OR_EXPIRED_TOKEN: &str =
    "OpenEMR Error: API call failed due to invalid token or expired token.";
/// Message when the token's `oauth_trusted_user` row is gone (HTTP 400, every family).
pub const TRUSTED_USER_GONE: &str = "Refresh Token revoked or logged out";
/// F2's message for a path no route matches (HTTP 404).
pub const ROUTE_NOT_FOUND: &str = "Route not found";

/// One answer of F2's exception listener: `{"error":"An error occurred","message":…,
/// "code":…}`, used on `/apis/` and for `/oauth2/` failures league does not format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The exception's message.
    pub message: String,
    /// The exception's code (0 for Symfony's HTTP exceptions).
    pub code: i64,
}

impl ApiError {
    /// An answer with exception code 0.
    pub fn new(status: u16, message: &str) -> ApiError {
        let message = message.to_string();
        ApiError {
            status,
            message,
            code: 0,
        }
    }

    /// The body as Symfony's JsonResponse writes it (slashes escaped).
    pub fn body(&self) -> String {
        let value = serde_json::json!({
            "error": F2_GENERIC_ERROR,
            "message": self.message,
            "code": self.code,
        });
        php_json(&value)
    }
}

/// One OAuth2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: u16,
    /// The `error` code.
    pub error: String,
    /// The `error_description` (repeated as `message`).
    pub description: String,
    /// The optional `hint`.
    pub hint: Option<String>,
}

impl OAuthError {
    fn new(status: u16, error: &str, description: &str, hint: Option<String>) -> OAuthError {
        let (error, description) = (error.to_string(), description.to_string());
        OAuthError {
            status,
            error,
            description,
            hint,
        }
    }

    /// `invalid_client` with the given status (401 for registration problems, 400 for
    /// assertion content, 401 again whenever the request carried an Authorization header).
    pub fn invalid_client(status: u16) -> OAuthError {
        OAuthError::new(status, "invalid_client", CLIENT_AUTH_FAILED, None)
    }

    /// 400 `invalid_request` for a missing or wrong client_assertion_type.
    pub fn assertion_type() -> OAuthError {
        let hint = Some(ASSERTION_TYPE_HINT.to_string());
        OAuthError::new(400, "invalid_request", INVALID_REQUEST, hint)
    }

    /// 400 `invalid_request` with the generic description and `hint` (F2's assertion
    /// pre-checks: "Invalid issuer claim", "Missing jti claim", ...).
    pub fn invalid_request(hint: &str) -> OAuthError {
        let hint = Some(hint.to_string());
        OAuthError::new(400, "invalid_request", INVALID_REQUEST, hint)
    }

    /// 400 `unauthorized_client`: F3's client lacks client_credentials in `grant_types`.
    pub fn unauthorized_client() -> OAuthError {
        let hint = Some(GRANT_NOT_REGISTERED_HINT.to_string());
        OAuthError::new(400, "unauthorized_client", UNAUTHORIZED_CLIENT, hint)
    }

    /// 400 `invalid_request` "Bad request": no grant_type in a form body.
    pub fn bad_request() -> OAuthError {
        OAuthError::new(400, "invalid_request", BAD_REQUEST, None)
    }

    /// 400 `unsupported_grant_type`.
    pub fn unsupported_grant() -> OAuthError {
        let hint = Some(UNSUPPORTED_GRANT_HINT.to_string());
        OAuthError::new(400, "unsupported_grant_type", UNSUPPORTED_GRANT, hint)
    }

    /// 400 `invalid_scope` naming the first refused scope.
    pub fn invalid_scope(scope: &str) -> OAuthError {
        let hint = Some(format!("Check the `{scope}` scope"));
        OAuthError::new(400, "invalid_scope", INVALID_SCOPE, hint)
    }

    /// 500 `server_error`: the oe-system user is missing.
    pub fn not_set_up() -> OAuthError {
        OAuthError::new(500, "server_error", SERVER_ERROR, None)
    }

    /// 401 `access_denied` from the resource server, with its hint.
    pub fn access_denied(hint: &str) -> OAuthError {
        OAuthError::new(401, "access_denied", ACCESS_DENIED, Some(hint.to_string()))
    }

    /// The body exactly as PHP's `json_encode` writes it: keys in league's order, `/` escaped.
    pub fn body(&self) -> String {
        let mut map = serde_json::Map::new();
        map.insert("error".into(), self.error.clone().into());
        map.insert("error_description".into(), self.description.clone().into());
        if let Some(hint) = &self.hint {
            map.insert("hint".into(), hint.clone().into());
        }
        map.insert("message".into(), self.description.clone().into());
        php_json(&serde_json::Value::Object(map))
    }
}

/// Serialises JSON the way PHP's default `json_encode` does (slashes escaped).
pub fn php_json(value: &serde_json::Value) -> String {
    value.to_string().replace('/', "\\/")
}

/// The fields of an error answer as the probe reads them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The `error` code.
    pub error: String,
    /// `error_description`, when sent.
    #[serde(default)]
    pub error_description: Option<String>,
    /// `hint`, when sent.
    #[serde(default)]
    pub hint: Option<String>,
    /// `message`, when sent.
    #[serde(default)]
    pub message: Option<String>,
}

impl ErrorBody {
    /// Reads an OAuth2 error body; `None` when the text is not one.
    pub fn parse(text: &str) -> Option<ErrorBody> {
        serde_json::from_str(text).ok()
    }

    /// The scope named by an `invalid_scope` hint ("Check the `X` scope").
    pub fn refused_scope(&self) -> Option<String> {
        let hint = self.hint.as_deref()?;
        let start = hint.find('`')? + 1;
        let end = start + hint[start..].find('`')?;
        Some(hint[start..end].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_php_output() {
        assert_eq!(
            OAuthError::invalid_scope("system/Bogus.read").body(),
            "{\"error\":\"invalid_scope\",\"error_description\":\"The requested scope is invalid, \
unknown, or malformed\",\"hint\":\"Check the `system\\/Bogus.read` scope\",\"message\":\"The \
requested scope is invalid, unknown, or malformed\"}"
        );
    }

    #[test]
    fn refused_scope_is_read_from_the_hint() {
        let body = ErrorBody::parse(&OAuthError::invalid_scope("system/*.read").body()).unwrap();
        assert_eq!(body.refused_scope().as_deref(), Some("system/*.read"));
    }
}
