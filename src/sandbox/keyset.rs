//! Loading a client's key set as F1's JsonWebKeySet does: `jwks_uri` when it is non-empty
//! (fetched anew every time, whatever the HTTP status), else the `jwks` column.

use super::store::ClientRecord;
use super::Shared;
use crate::keys::jwks::{Jwk, Jwks, JwksError};

/// Why no key set could be loaded.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySetError {
    /// Nothing usable stored or served (no keys member, fetch failed): 401 invalid_client.
    Unavailable(&'static str),
    /// The text is not JSON at all: F1's loader hands null on and PHP dies, an empty 500.
    NotJson,
}

/// The client's keys, in the order they are listed (possibly none).
pub async fn load(shared: &Shared, client: &ClientRecord) -> Result<Vec<Jwk>, KeySetError> {
    let uri = client.jwks_uri.as_deref().unwrap_or("").trim();
    let text = if uri.is_empty() {
        stored_text(client)?
    } else {
        fetch(shared, uri).await?
    };
    match Jwks::parse(&text) {
        Ok(set) => Ok(set.keys),
        // An empty list loads fine; F1 only fails when it looks for an RSA key in it.
        Err(JwksError::Empty) => Ok(Vec::new()),
        Err(JwksError::Html | JwksError::NotJson(_)) => Err(KeySetError::NotJson),
        Err(JwksError::DoubleEncoded | JwksError::BareJwk | JwksError::NoKeys) => Err(
            KeySetError::Unavailable("decoded JSON has no \"keys\" member"),
        ),
    }
}

fn stored_text(client: &ClientRecord) -> Result<String, KeySetError> {
    match client.jwks.as_deref() {
        Some(text) if !text.is_empty() => Ok(text.to_string()),
        _ => Err(KeySetError::Unavailable("neither jwks nor jwks_uri is set")),
    }
}

async fn fetch(shared: &Shared, uri: &str) -> Result<String, KeySetError> {
    let failed = |error: reqwest::Error| {
        tracing::info!(%error, "fetching the client's jwks_uri failed");
        KeySetError::Unavailable("fetching jwks_uri failed")
    };
    let response = shared.http.get(uri).send().await.map_err(failed)?;
    response.text().await.map_err(failed)
}
