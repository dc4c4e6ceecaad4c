//! What the field-case and inspect tests share: a sandbox of one OpenEMR family on 127.0.0.1
//! with a registered client and its key, assertions signed at test time, and the binary.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, Header};
use oemr_doctor::db::DbSource;
use oemr_doctor::keys::jwks::{public_jwk, thumbprint, Jwks};
use oemr_doctor::keys::PrivateKey;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{CheckConfig, Report, StageId, StageOutcome};
use oemr_doctor::report::human;
use oemr_doctor::sandbox::{prepare_database_for, set_global, Sandbox, SandboxConfig};
use serde_json::{json, Value};

use crate::support::{doctor, TestDb};

/// The client every world registers.
pub const CLIENT: &str = "field-client-1";

/// A sandbox of one family, a client registered with `key`'s JWKS, the database.
pub struct World {
    pub db: TestDb,
    pub sandbox: Sandbox,
    pub key: PrivateKey,
    pub dir: tempfile::TempDir,
    pub key_path: PathBuf,
}

impl World {
    /// A healthy client (enabled, confidential, grant_types client_credentials) with `scope`.
    pub async fn new(family: Family, scope: &str) -> World {
        let db = TestDb::new().await;
        let bind = "127.0.0.1:0".parse().unwrap();
        let config = SandboxConfig {
            family,
            ..SandboxConfig::new(DbSource::Url(db.url.clone()), bind)
        };
        let sandbox = Sandbox::start(config).await.unwrap();
        prepare_database_for(&db.database().await, &sandbox.site_addr(), family)
            .await
            .unwrap();
        let key = PrivateKey::generate(2048).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("client.pem");
        std::fs::write(&key_path, key.pkcs8_pem()).unwrap();
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, client_role, client_name, grant_types, scope, \
             is_confidential, is_enabled, jwks, register_date) \
             VALUES (?, 'user', 'field case', 'client_credentials', ?, 1, 1, ?, NOW())",
        )
        .bind(CLIENT)
        .bind(scope)
        .bind(jwks_of(&[&key]))
        .execute(&db.pool)
        .await
        .unwrap();
        World {
            db,
            sandbox,
            key,
            dir,
            key_path,
        }
    }

    /// The address clients reach the sandbox at.
    pub fn base(&self) -> String {
        self.sandbox.base_url()
    }

    /// The token URL the sandbox advertises (its Site Address is its own address).
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/default/token", self.base())
    }

    /// The kid of the registered key.
    pub fn kid(&self) -> String {
        thumbprint(&self.key.public())
    }

    /// A check of this client with the database.
    pub fn config(&self, scope: &str) -> CheckConfig {
        CheckConfig {
            base_url: self.base(),
            site: "default".to_string(),
            client_id: CLIENT.to_string(),
            key_path: self.key_path.clone(),
            jwks_path: None,
            scopes: scope.split_whitespace().map(str::to_string).collect(),
            db: Some(DbSource::Url(self.db.url.clone())),
            fix_db_args: String::new(),
            network: oemr_doctor::net::NetworkOptions {
                timeout: std::time::Duration::from_secs(5),
                ..Default::default()
            },
        }
    }

    /// Sets an OpenEMR global.
    pub async fn global(&self, name: &str, value: &str) {
        set_global(&self.db.database().await, name, value)
            .await
            .unwrap();
    }

    /// Sets one column of the client's row.
    pub async fn set_client(&self, column: &str, value: Option<&str>) {
        let query = format!("UPDATE oauth_clients SET {column} = ? WHERE client_id = ?");
        sqlx::query(&query)
            .bind(value)
            .bind(CLIENT)
            .execute(&self.db.pool)
            .await
            .unwrap();
    }

    /// `oemr-doctor check` on this client, with the database.
    pub fn check(&self, scope: &str) -> assert_cmd::Command {
        let mut cmd = doctor();
        cmd.args(["check", "--base-url", &self.base(), "--client-id", CLIENT])
            .args(["--scope", scope, "--timeout", "5", "--db-url", &self.db.url])
            .arg("--key")
            .arg(&self.key_path);
        cmd
    }

    /// `oemr-doctor inspect` against this sandbox's discovery.
    pub fn inspect(&self) -> assert_cmd::Command {
        let mut cmd = doctor();
        cmd.args(["inspect", "--base-url", &self.base(), "--timeout", "5"]);
        cmd
    }

    /// Valid assertion claims for this client and the advertised token URL.
    pub fn claims(&self) -> Value {
        claims(&self.token_url())
    }

    /// A valid RS384 assertion with the registered kid.
    pub fn assertion(&self, claims: &Value) -> String {
        sign(&self.key, Algorithm::RS384, Some(&self.kid()), claims)
    }

    pub async fn stop(self) {
        self.sandbox.stop().await;
    }
}

/// A JWKS of `keys`' public JWKs (kid = thumbprint, alg RS384, use sig).
pub fn jwks_of(keys: &[&PrivateKey]) -> String {
    Jwks {
        keys: keys.iter().map(|k| public_jwk(&k.public())).collect(),
    }
    .to_json()
}

/// Valid claims for [`CLIENT`] and `aud`, issued now for 300 s, with a fresh jti.
pub fn claims(aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": CLIENT, "sub": CLIENT, "aud": aud,
        "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// Signs `claims` with `alg` and an optional kid.
pub fn sign(key: &PrivateKey, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &key.encoding_key()).unwrap()
}

/// Exit code, stdout and stderr of a finished command.
pub fn run(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let output = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// A stage of a report.
pub fn stage(report: &Report, id: StageId) -> &StageOutcome {
    report.stages.iter().find(|s| s.stage == id).unwrap()
}

/// The rendered report, for assertion messages.
pub fn text(report: &Report) -> String {
    human::render(report, false)
}

/// Asserts `haystack` holds every needle, showing it when not.
pub fn assert_has(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "missing {needle:?} in:\n{haystack}"
        );
    }
}
