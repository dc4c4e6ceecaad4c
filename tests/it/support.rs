//! What every integration test shares: a scratch MariaDB database per test, and the binary.

use std::sync::atomic::{AtomicU32, Ordering};

use oemr_doctor::db::{Database, DbSource, MIGRATOR};
use sqlx::mysql::MySqlPool;
use sqlx::Executor;

/// The MariaDB server the tests use (an account allowed to create databases), without a
/// database name; `tests/setup-mariadb.sh` creates it.
pub fn server_url() -> String {
    std::env::var("OEMR_DOCTOR_TEST_DB")
        .unwrap_or_else(|_| "mysql://oemr_doctor:oemr_doctor@127.0.0.1:3306".to_string())
}

/// A database of its own for one test, with OpenEMR's tables, dropped when the test ends.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// A URL naming it.
    pub url: String,
    /// A pool on it, for setting up rows and reading them back.
    pub pool: MySqlPool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// Creates the database and its tables.
    pub async fn new() -> TestDb {
        let name = format!(
            "oemrdoc_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand_suffix()
        );
        let admin = MySqlPool::connect(&server_url())
            .await
            .expect("the test MariaDB is reachable (run tests/setup-mariadb.sh)");
        admin
            .execute(format!("CREATE DATABASE `{name}`").as_str())
            .await
            .unwrap();
        admin.close().await;
        let url = format!("{}/{name}", server_url());
        let pool = MySqlPool::connect(&url).await.unwrap();
        MIGRATOR.run(&pool).await.expect("migrations apply");
        TestDb { name, url, pool }
    }

    /// The same database through oemr-doctor's own layer.
    pub async fn database(&self) -> Database {
        DbSource::Url(self.url.clone()).connect().await.unwrap()
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        % 100_000
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, so the clean-up gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = MySqlPool::connect(&server_url()).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// The oemr-doctor binary, ready to run.
pub fn doctor() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("oemr-doctor").unwrap();
    cmd.env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// Inserts a client row as registration leaves it (plus the given flags).
pub async fn insert_client(pool: &MySqlPool, id: &str, name: &str, scope: &str, enabled: bool) {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_role, client_name, grant_types, scope, \
         is_confidential, is_enabled, register_date) VALUES (?, 'user', ?, 'authorization_code', ?, 1, ?, NOW())",
    )
    .bind(id)
    .bind(name)
    .bind(scope)
    .bind(enabled as i8)
    .execute(pool)
    .await
    .unwrap();
}

/// The registered scope column of a client.
pub async fn scope_of(pool: &MySqlPool, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT scope FROM oauth_clients WHERE client_id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A 127.0.0.1 port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `oemr-doctor keygen` into `dir` and returns the JWKS it wrote.
pub fn keygen_into(dir: &std::path::Path) -> String {
    doctor()
        .args(["keygen", "--out"])
        .arg(dir)
        .assert()
        .success();
    std::fs::read_to_string(dir.join("jwks.json")).unwrap()
}

/// A backend-services client as registration leaves it, enabled by an administrator.
pub async fn register_client(pool: &MySqlPool, id: &str, scope: &str, jwks: &str) {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_role, client_name, client_secret, \
         grant_types, scope, is_confidential, is_enabled, jwks, redirect_uri) VALUES (?, 'user', ?, \
         'Client-Secret-7f3a9c', 'authorization_code', ?, 1, 1, ?, 'https://localhost/unused')",
    )
    .bind(id)
    .bind(format!("{id} name"))
    .bind(scope)
    .bind(jwks)
    .execute(pool)
    .await
    .unwrap();
}
