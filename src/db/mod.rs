//! OpenEMR's database: finding and opening it, and the rows oemr-doctor reads and patches.

pub mod clients;
pub mod globals;
pub mod sqlconf;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};

/// Where the database is: a URL, or an OpenEMR install whose `sqlconf.php` names it.
#[derive(Debug, Clone)]
pub enum DbSource {
    /// A `mysql://user:pass@host:port/db` URL.
    Url(String),
    /// An OpenEMR install directory and site.
    OpenemrDir { dir: PathBuf, site: String },
}

/// Why the database could not be reached or read.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0:?} is not a MySQL/MariaDB URL (mysql://USER:PASSWORD@HOST:PORT/DATABASE): {1}")]
    BadUrl(String, String),
    #[error("the URL {0} names no database; add /DATABASE (usually /openemr)")]
    NoDatabase(String),
    #[error(transparent)]
    SqlConf(#[from] sqlconf::SqlConfError),
    #[error("cannot connect to the database at {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("database query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("table {table} is missing from {target}; is this OpenEMR's database?")]
    MissingTable { table: &'static str, target: String },
}

/// An opened OpenEMR database and a printable (password-free) description of it.
pub struct Database {
    /// The connection pool.
    pub pool: MySqlPool,
    /// Where it is, with no password in it.
    pub target: String,
}

impl DbSource {
    /// Connection options and a password-free description.
    pub fn resolve(&self) -> Result<(MySqlConnectOptions, String), DbError> {
        match self {
            DbSource::Url(url) => from_url(url),
            DbSource::OpenemrDir { dir, site } => {
                let conf = sqlconf::read(dir, site)?;
                let target = format!(
                    "{}@{}:{}/{} (from {})",
                    conf.login,
                    conf.host,
                    conf.port,
                    conf.dbase,
                    sqlconf::path(dir, site).display()
                );
                let options = MySqlConnectOptions::new()
                    .host(&conf.host)
                    .port(conf.port)
                    .username(&conf.login)
                    .password(&conf.pass)
                    .database(&conf.dbase);
                Ok((with_site_tls(options, dir, site), target))
            }
        }
    }

    /// Opens the database, failing within a few seconds when it cannot be reached.
    pub async fn connect(&self) -> Result<Database, DbError> {
        let (options, target) = self.resolve()?;
        let pool = open_pool(options)
            .await
            .map_err(|detail| DbError::Connect {
                target: target.clone(),
                detail,
            })?;
        Ok(Database { pool, target })
    }
}

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// Opens a small pool, trying one connection first so the real cause (refused, access
/// denied, unknown database) is reported instead of a pool timeout.
pub async fn open_pool(options: MySqlConnectOptions) -> Result<MySqlPool, String> {
    use sqlx::ConnectOptions;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => return Err("no answer within 8 s (is the host reachable?)".to_string()),
        Ok(Err(e)) => return Err(describe(&e)),
        Ok(Ok(connection)) => drop(connection),
    }
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| describe(&e))
}

/// OpenEMR keeps the database's TLS files beside the site's OAuth keys; when they are there,
/// use them as OpenEMR does (the CA verified, the client certificate presented).
fn with_site_tls(
    options: MySqlConnectOptions,
    dir: &std::path::Path,
    site: &str,
) -> MySqlConnectOptions {
    let certificates = dir
        .join("sites")
        .join(site)
        .join("documents")
        .join("certificates");
    let file = |name: &str| Some(certificates.join(name)).filter(|p| p.is_file());
    let mut options = options;
    if let Some(ca) = file("mysql-ca") {
        options = options
            .ssl_mode(sqlx::mysql::MySqlSslMode::VerifyCa)
            .ssl_ca(ca);
    }
    if let (Some(cert), Some(key)) = (file("mysql-cert"), file("mysql-key")) {
        options = options.ssl_client_cert(cert).ssl_client_key(key);
    }
    options
}

fn from_url(url: &str) -> Result<(MySqlConnectOptions, String), DbError> {
    let shown = redact_url(url);
    let parsed = url::Url::parse(url).map_err(|e| DbError::BadUrl(shown.clone(), e.to_string()))?;
    if !matches!(parsed.scheme(), "mysql" | "mariadb") {
        let why = format!("scheme {:?}", parsed.scheme());
        return Err(DbError::BadUrl(shown, why));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        // Without this, "mysql:/user:pw@host/db" would quietly mean root@localhost.
        return Err(DbError::BadUrl(
            shown,
            "no host (write mysql://, with two slashes)".into(),
        ));
    }
    if parsed.path().trim_matches('/').is_empty() {
        return Err(DbError::NoDatabase(shown));
    }
    let normalised = url.replacen("mariadb://", "mysql://", 1);
    let options = MySqlConnectOptions::from_str(&normalised)
        .map_err(|e| DbError::BadUrl(shown.clone(), e.to_string()))?;
    Ok((options, shown))
}

/// A database URL with its password replaced by `***` (shown only with `--show-secrets`).
/// Malformed URLs are masked too: anything between the first `:` of the user part and the
/// last `@` is hidden.
pub fn redact_url(url: &str) -> String {
    if crate::secrets::shown() {
        return url.to_string();
    }
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.host_str().is_some_and(|h| !h.is_empty()) {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            return parsed.to_string();
        }
    }
    mask_userinfo(url)
}

fn mask_userinfo(text: &str) -> String {
    let Some(at) = text.rfind('@') else {
        return text.to_string();
    };
    let start = text
        .find("//")
        .map(|i| i + 2)
        .or_else(|| text.find(":/").map(|i| i + 2))
        .unwrap_or(0);
    let user_part = &text[start.min(at)..at];
    match user_part.find(':') {
        Some(colon) => format!("{}:***{}", &text[..start.min(at) + colon], &text[at..]),
        None => text.to_string(),
    }
}

/// A one-line cause for a connection error, without the URL (which may hold a password).
fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => format!("{io} (is MariaDB/MySQL running and reachable?)"),
        sqlx::Error::PoolTimedOut => "timed out after 8 s (is the host reachable?)".to_string(),
        sqlx::Error::Database(db) => db.message().to_string(),
        other => other.to_string(),
    }
}

impl Database {
    /// Wraps a query error, naming a missing table as such.
    pub fn query_error(&self, what: &'static str, table: &'static str, e: sqlx::Error) -> DbError {
        let missing =
            matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42S02"));
        if missing {
            DbError::MissingTable {
                table,
                target: self.target.clone(),
            }
        } else {
            DbError::Query { what, source: e }
        }
    }
}

/// Creates the OpenEMR tables oemr-doctor touches (migrations/), for scratch databases: the
/// sandbox, the demo and the tests. Never run against a real OpenEMR database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let shown = redact_url("mysql://openemr:hunter2@db:3306/openemr");
        assert_eq!(shown, "mysql://openemr:***@db:3306/openemr");
        let err = DbSource::Url("mysql://u:hunter2@db:3306".into())
            .resolve()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(matches!(err, DbError::NoDatabase(_)));
        let err = DbSource::Url("postgres://u:hunter2@db/x".into())
            .resolve()
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
