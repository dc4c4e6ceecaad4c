//! Why a token request got no token, and how each reason is answered.

use axum::response::Response;

use super::{answers, reply};
use crate::openemr::errors::OAuthError;
use crate::openemr::smart_v2::ScopeFormatError;

/// Why a token request got no token.
pub enum Refusal {
    /// A league-format error answer, with the reason for the log.
    OAuth(OAuthError, &'static str),
    /// Where F1 dies with a PHP fatal error: an empty 500.
    Crash(&'static str),
    /// F2 could not parse the client's registered scopes: a plain-text 500.
    ScopeFormat(ScopeFormatError),
    /// The sandbox itself failed.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(error: anyhow::Error) -> Refusal {
        Refusal::Internal(error)
    }
}

/// A league-format refusal.
pub fn refuse(error: OAuthError, reason: &'static str) -> Refusal {
    Refusal::OAuth(error, reason)
}

/// `invalid_client` 401: the client or its keys cannot be used at all.
pub fn unusable_client(reason: &'static str) -> Refusal {
    refuse(OAuthError::invalid_client(401), reason)
}

impl Refusal {
    /// The answer; `with_auth_header` says whether the request carried an Authorization
    /// header (league then turns invalid_client into a 401 with a challenge).
    pub fn answer(self, with_auth_header: bool) -> Response {
        match self {
            Refusal::OAuth(error, reason) => {
                tracing::info!(error = %error.error, reason, "token request refused");
                reply::oauth_error(&error, with_auth_header)
            }
            Refusal::Crash(reason) => {
                tracing::info!(reason, "token request crashes F1 (empty 500)");
                reply::empty(500)
            }
            Refusal::ScopeFormat(error) => {
                tracing::info!(%error, "registered scope column cannot be parsed");
                reply::text(500, error.to_string())
            }
            Refusal::Internal(error) => answers::internal(error),
        }
    }
}
