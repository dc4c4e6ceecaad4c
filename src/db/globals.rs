//! The OpenEMR globals that gate the API, and the version the database records.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Database, DbError};

/// Globals that decide whether the OAuth2 and FHIR API answer at all.
pub const API_GLOBALS: &[&str] = &[
    "rest_api",
    "rest_fhir_api",
    "rest_portal_api",
    "rest_system_scopes_api",
    "site_addr_oath",
    "oauth_app_manual_approval",
];

/// The API globals as stored; a missing row means OpenEMR's default (`0` or empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiGlobals(pub BTreeMap<String, String>);

impl ApiGlobals {
    /// The stored value, or the empty string OpenEMR treats a missing row as.
    pub fn value(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    /// OpenEMR's truthiness for an API switch.
    pub fn on(&self, name: &str) -> bool {
        !matches!(self.value(name).trim(), "" | "0")
    }

    /// System scopes exist only when the global is exactly the string `1`.
    pub fn system_scopes(&self) -> bool {
        self.value("rest_system_scopes_api") == "1"
    }

    /// Whether any of the three API switches is on (else every /oauth2 URL is 404).
    pub fn any_api(&self) -> bool {
        ["rest_api", "rest_fhir_api", "rest_portal_api"]
            .iter()
            .any(|g| self.on(g))
    }
}

impl Database {
    /// Reads the API globals.
    pub async fn api_globals(&self) -> Result<ApiGlobals, DbError> {
        let rows = sqlx::query("SELECT gl_name, gl_value FROM globals WHERE gl_index = 0")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_error("reading globals", "globals", e))?;
        let mut map = BTreeMap::new();
        for row in rows {
            let name: String = row.try_get(0).map_err(|e| decode("globals", e))?;
            if API_GLOBALS.contains(&name.as_str()) {
                let value: String = row.try_get(1).map_err(|e| decode("globals", e))?;
                map.insert(name, value);
            }
        }
        Ok(ApiGlobals(map))
    }

    /// The version in table `version` (`major.minor.patch`), if the table has a row.
    pub async fn recorded_version(&self) -> Result<Option<String>, DbError> {
        let row = sqlx::query(
            "SELECT CAST(v_major AS SIGNED), CAST(v_minor AS SIGNED), CAST(v_patch AS SIGNED), \
             v_tag FROM version LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.query_error("reading version", "version", e))?;
        let Some(row) = row else { return Ok(None) };
        let part = |i| row.try_get::<i64, _>(i).map_err(|e| decode("version", e));
        let tag: String = row.try_get(3).map_err(|e| decode("version", e))?;
        Ok(Some(format!(
            "{}.{}.{}{}",
            part(0)?,
            part(1)?,
            part(2)?,
            tag
        )))
    }

    /// Whether the `oe-system` user every client_credentials token runs as exists.
    pub async fn system_user_exists(&self) -> Result<bool, DbError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind(crate::openemr::SYSTEM_USERNAME)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.query_error("reading users", "users", e))?;
        Ok(count > 0)
    }
}

fn decode(what: &'static str, source: sqlx::Error) -> DbError {
    DbError::Query { what, source }
}
