//! The sandbox's reads and writes of OpenEMR's tables, one query per function, always against
//! the live rows (nothing is cached, as in F1).

use anyhow::Context;
use sqlx::Row;

use crate::db::Database;

/// The columns of an `oauth_clients` row the token endpoint consults.
#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client_id: String,
    pub is_confidential: bool,
    pub is_enabled: bool,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// Registered redirect URIs, pipe-separated.
    pub redirect_uri: Option<String>,
    /// Registered scopes, space-separated.
    pub scope: Option<String>,
    /// Registered grants, pipe-separated (enforced by F3 only).
    pub grant_types: Option<String>,
}

/// The client whose id is `client_id`, if any.
pub async fn client(db: &Database, client_id: &str) -> anyhow::Result<Option<ClientRecord>> {
    let row = sqlx::query(
        "SELECT client_id, CAST(is_confidential AS SIGNED) AS conf, \
         CAST(is_enabled AS SIGNED) AS enabled, jwks, jwks_uri, redirect_uri, scope, \
         grant_types \
         FROM oauth_clients WHERE client_id = ?",
    )
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await
    .context("reading oauth_clients")?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(ClientRecord {
        client_id: row.try_get("client_id")?,
        is_confidential: row.try_get::<i64, _>("conf")? == 1,
        is_enabled: row.try_get::<i64, _>("enabled")? == 1,
        jwks: row.try_get("jwks")?,
        jwks_uri: row.try_get("jwks_uri")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        grant_types: row.try_get("grant_types")?,
    }))
}

/// Whether any client ever used `jti` (F1 looks it up by jti alone, whatever its age).
pub async fn jti_used(db: &Database, jti: &str) -> anyhow::Result<bool> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jwt_grant_history WHERE jti = ?")
        .bind(jti)
        .fetch_one(&db.pool)
        .await
        .context("reading jwt_grant_history")?;
    Ok(count > 0)
}

/// Records an accepted assertion's jti, with its expiry when it had one.
pub async fn record_jti(
    db: &Database,
    jti: &str,
    client_id: &str,
    exp: Option<i64>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO jwt_grant_history (jti, client_id, jti_exp) VALUES (?, ?, FROM_UNIXTIME(?))",
    )
    .bind(jti)
    .bind(client_id)
    .bind(exp)
    .execute(&db.pool)
    .await
    .context("writing jwt_grant_history")?;
    Ok(())
}

/// The UUID of the `oe-system` user, the subject of every client_credentials token.
pub async fn system_user_uuid(db: &Database) -> anyhow::Result<Option<String>> {
    let uuid: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT uuid FROM users WHERE username = ? LIMIT 1")
            .bind(crate::openemr::SYSTEM_USERNAME)
            .fetch_optional(&db.pool)
            .await
            .context("reading users")?;
    Ok(uuid
        .flatten()
        .and_then(|bytes| uuid::Uuid::from_slice(&bytes).ok())
        .map(|u| u.hyphenated().to_string()))
}

/// The rows an issued access token leaves behind.
pub struct IssuedToken<'a> {
    pub jti: &'a str,
    pub user_uuid: &'a str,
    pub client_id: &'a str,
    /// The granted scopes as a JSON array.
    pub scope_json: &'a str,
}

/// Writes the `api_token` row and the `oauth_trusted_user` row the API layer later checks.
pub async fn save_issued(db: &Database, issued: &IssuedToken<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO api_token (user_id, token, expiry, client_id, scope) \
         VALUES (?, ?, NOW() + INTERVAL ? SECOND, ?, ?)",
    )
    .bind(issued.user_uuid)
    .bind(issued.jti)
    .bind(crate::openemr::ACCESS_TOKEN_TTL_SECS)
    .bind(issued.client_id)
    .bind(issued.scope_json)
    .execute(&db.pool)
    .await
    .context("writing api_token")?;
    save_trusted_user(db, issued).await
}

async fn save_trusted_user(db: &Database, issued: &IssuedToken<'_>) -> anyhow::Result<()> {
    let updated = sqlx::query(
        "UPDATE oauth_trusted_user SET scope = ?, time = NOW(), grant_type = 'client_credentials' \
         WHERE user_id = ? AND client_id = ?",
    )
    .bind(issued.scope_json)
    .bind(issued.user_uuid)
    .bind(issued.client_id)
    .execute(&db.pool)
    .await
    .context("updating oauth_trusted_user")?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO oauth_trusted_user (user_id, client_id, scope, persist_login, \
             grant_type) VALUES (?, ?, ?, 0, 'client_credentials')",
        )
        .bind(issued.user_uuid)
        .bind(issued.client_id)
        .bind(issued.scope_json)
        .execute(&db.pool)
        .await
        .context("writing oauth_trusted_user")?;
    }
    Ok(())
}

/// What the API layer learns from an access token's `api_token` row.
pub struct TokenState {
    pub revoked: bool,
    pub expired: bool,
}

/// The `api_token` row of the token whose id is `jti`, if there is one.
pub async fn token_state(db: &Database, jti: &str) -> anyhow::Result<Option<TokenState>> {
    let row = sqlx::query(
        "SELECT CAST(revoked AS SIGNED) AS revoked, \
         CAST(expiry IS NULL OR expiry <= NOW() AS SIGNED) AS expired \
         FROM api_token WHERE token = ?",
    )
    .bind(jti)
    .fetch_optional(&db.pool)
    .await
    .context("reading api_token")?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(TokenState {
        revoked: row.try_get::<i64, _>("revoked")? == 1,
        expired: row.try_get::<i64, _>("expired")? == 1,
    }))
}

/// Whether the (user, client) pair has an `oauth_trusted_user` row.
pub async fn trusted_user_exists(
    db: &Database,
    user_uuid: &str,
    client_id: &str,
) -> anyhow::Result<bool> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM oauth_trusted_user WHERE user_id = ? AND client_id = ?",
    )
    .bind(user_uuid)
    .bind(client_id)
    .fetch_one(&db.pool)
    .await
    .context("reading oauth_trusted_user")?;
    Ok(count > 0)
}
