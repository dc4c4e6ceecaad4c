//! Rows of `oauth_clients`: finding a client and patching its registered fields safely.

use sqlx::Row;

use super::{Database, DbError};

/// How the user names the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSelector {
    /// By `client_name`.
    Name(String),
    /// By `client_id`.
    Id(String),
}

impl std::fmt::Display for ClientSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSelector::Name(name) => write!(f, "client name {name:?}"),
            ClientSelector::Id(id) => write!(f, "client id {id:?}"),
        }
    }
}

/// The fields of an `oauth_clients` row that decide whether client_credentials works.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientRow {
    pub client_id: String,
    pub client_name: String,
    pub is_enabled: bool,
    pub is_confidential: bool,
    pub grant_types: Option<String>,
    pub scope: Option<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
}

impl ClientRow {
    /// The registered scope column, empty when NULL.
    pub fn scope_text(&self) -> &str {
        self.scope.as_deref().unwrap_or("")
    }

    /// Whether an inline JWKS is stored (anything but NULL, '' or the UI's `""`).
    pub fn has_jwks(&self) -> bool {
        self.jwks
            .as_deref()
            .is_some_and(|j| !matches!(j.trim(), "" | "\"\"" | "null"))
    }

    /// Whether a jwks_uri is stored.
    pub fn has_jwks_uri(&self) -> bool {
        self.jwks_uri
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
    }
}

/// Why no single client was selected.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no client with {selector} in oauth_clients{}", known_list(.known))]
    NotFound {
        selector: ClientSelector,
        known: Vec<(String, String)>,
    },
    #[error("{} clients are named {name:?}; pick one with --client-id:{}", .matches.len(), list(.matches))]
    Ambiguous {
        name: String,
        matches: Vec<(String, String)>,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

fn list(rows: &[(String, String)]) -> String {
    rows.iter()
        .map(|(id, name)| format!("\n  {id}  ({name})"))
        .collect()
}

fn known_list(rows: &[(String, String)]) -> String {
    if rows.is_empty() {
        "; the table has no clients at all".to_string()
    } else {
        format!("; the clients there are:{}", list(rows))
    }
}

const COLUMNS: &str = "client_id, client_name, CAST(is_enabled AS SIGNED) AS is_enabled, \
CAST(is_confidential AS SIGNED) AS is_confidential, grant_types, scope, jwks, jwks_uri";

fn row_to_client(row: &sqlx::mysql::MySqlRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        client_id: row.try_get("client_id")?,
        client_name: row.try_get("client_name")?,
        is_enabled: row.try_get::<i64, _>("is_enabled")? == 1,
        is_confidential: row.try_get::<i64, _>("is_confidential")? == 1,
        grant_types: row.try_get("grant_types")?,
        scope: row.try_get("scope")?,
        jwks: row.try_get("jwks")?,
        jwks_uri: row.try_get("jwks_uri")?,
    })
}

impl Database {
    /// Finds exactly one client, or says why there is not exactly one.
    pub async fn find_client(&self, selector: &ClientSelector) -> Result<ClientRow, SelectError> {
        let (column, value) = match selector {
            ClientSelector::Name(name) => ("client_name", name),
            ClientSelector::Id(id) => ("client_id", id),
        };
        // BINARY: the column collation ignores case and trailing spaces, a name does not.
        let sql = format!("SELECT {COLUMNS} FROM oauth_clients WHERE BINARY {column} = ?");
        let rows = sqlx::query(&sql)
            .bind(value)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.query_error("reading oauth_clients", "oauth_clients", e))?;
        let clients = rows
            .iter()
            .map(row_to_client)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| DbError::Query {
                what: "decoding an oauth_clients row",
                source,
            })?;
        match clients.len() {
            1 => Ok(clients.into_iter().next().expect("one row")),
            0 => Err(SelectError::NotFound {
                selector: selector.clone(),
                known: self.client_names().await?,
            }),
            _ => Err(SelectError::Ambiguous {
                name: value.clone(),
                matches: clients
                    .into_iter()
                    .map(|c| (c.client_id, c.client_name))
                    .collect(),
            }),
        }
    }

    /// Up to 20 (client_id, client_name) pairs, to help a user who named a missing client.
    async fn client_names(&self) -> Result<Vec<(String, String)>, DbError> {
        sqlx::query_as(
            "SELECT client_id, client_name FROM oauth_clients ORDER BY client_name LIMIT 20",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.query_error("listing oauth_clients", "oauth_clients", e))
    }

    /// Writes new values into a client's row, in one transaction, only if the row still holds
    /// `before`; a change made meanwhile by someone else is refused and nothing is written.
    pub async fn update_client(
        &self,
        before: &ClientRow,
        after: &ClientRow,
    ) -> Result<ClientRow, UpdateError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.tx_error(e))?;
        // Byte comparison, so an edit that only changed case or trailing spaces still counts.
        let result = sqlx::query(
            "UPDATE oauth_clients SET scope = ?, is_enabled = ?, grant_types = ? \
             WHERE BINARY client_id = ? AND BINARY scope <=> BINARY ? AND is_enabled = ? \
             AND BINARY grant_types <=> BINARY ?",
        )
        .bind(&after.scope)
        .bind(after.is_enabled as i8)
        .bind(&after.grant_types)
        .bind(&before.client_id)
        .bind(&before.scope)
        .bind(before.is_enabled as i8)
        .bind(&before.grant_types)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.tx_error(e))?;
        if result.rows_affected() != 1 {
            tx.rollback().await.map_err(|e| self.tx_error(e))?;
            return Err(UpdateError::Conflict {
                client_id: before.client_id.clone(),
            });
        }
        tx.commit().await.map_err(|e| self.tx_error(e))?;
        let written = self
            .find_client(&ClientSelector::Id(before.client_id.clone()))
            .await?;
        Ok(written)
    }

    fn tx_error(&self, e: sqlx::Error) -> UpdateError {
        UpdateError::Db(self.query_error("updating oauth_clients", "oauth_clients", e))
    }
}

/// Why a client row was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(
        "client {client_id} changed in the database while oemr-doctor was working; nothing was \
         written. Run the command again to see the new values."
    )]
    Conflict { client_id: String },
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Db(DbError),
}
