//! Snapshots of the human report, for a healthy run and each kind of failure, as a person reads
//! it (no colour, ASCII marks). Ports, times, kids, jtis, paths and database names are filtered.

use crate::e2e::sandbox_on;
use crate::support::{closed_port, doctor, keygen_into, register_client, TestDb};

const PATIENT: &str = "system/Patient.read";

fn filtered() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in [
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\(\d+ ms\)", "([T] ms)"),
        (r"iat=\d+ exp=\d+", "iat=[T] exp=[T]"),
        (r"\b(iat|exp|nbf)=\d+", "$1=[T]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[UUID]",
        ),
        (r"[A-Za-z0-9_-]{43}", "[KID]"),
        (r"eyJ[A-Za-z0-9_-]*\.\.\. \(\d+ chars\)", "[TOKEN]"),
        (r"oemrdoc_t_[0-9_]+", "[DB]"),
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
        (r"offset [-+]?\d+ s", "offset [N] s"),
        (r"\d+ s (ahead|behind)", "[N] s $1"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// One registered client against an F1 sandbox, and the check command for it.
struct Scene {
    db: TestDb,
    sandbox: oemr_doctor::sandbox::Sandbox,
    keys: tempfile::TempDir,
}

impl Scene {
    async fn new(scope: &str) -> Scene {
        let db = TestDb::new().await;
        let sandbox = sandbox_on(&db).await;
        let keys = tempfile::tempdir().unwrap();
        let jwks = keygen_into(keys.path());
        register_client(&db.pool, "snap-client", scope, &jwks).await;
        Scene { db, sandbox, keys }
    }

    async fn sql(&self, statement: &str) {
        sqlx::query(statement).execute(&self.db.pool).await.unwrap();
    }

    fn check(&self, key_dir: &std::path::Path) -> String {
        let output = doctor()
            .args([
                "check",
                "--base-url",
                &self.sandbox.base_url(),
                "--client-id",
                "snap-client",
            ])
            .arg("--key")
            .arg(key_dir.join("private-key.pem"))
            .env("DATABASE_URL", &self.db.url)
            .output()
            .unwrap();
        let code = output.status.code().unwrap();
        format!(
            "{}exit code {code}\n",
            String::from_utf8(output.stdout).unwrap()
        )
    }

    async fn snapshot(self, name: &str, key_dir: Option<&std::path::Path>) {
        let report = self.check(key_dir.unwrap_or(self.keys.path()));
        filtered().bind(|| insta::assert_snapshot!(name, report));
        self.sandbox.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_healthy() {
    let scene = Scene::new(&format!("openid api:fhir {PATIENT}")).await;
    scene.snapshot("healthy", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_dropped_scope() {
    let scene = Scene::new("openid api:fhir system/*.$export").await;
    scene.snapshot("dropped_scope", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_disabled_client() {
    let scene = Scene::new(PATIENT).await;
    scene.sql("UPDATE oauth_clients SET is_enabled = 0").await;
    scene.snapshot("disabled_client", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_wrong_key() {
    let scene = Scene::new(PATIENT).await;
    let other = tempfile::tempdir().unwrap();
    keygen_into(other.path());
    scene.snapshot("wrong_key", Some(other.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_system_scopes_off() {
    let scene = Scene::new(PATIENT).await;
    scene
        .sql("UPDATE globals SET gl_value = '0' WHERE gl_name = 'rest_system_scopes_api'")
        .await;
    scene.snapshot("system_scopes_off", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_apis_off() {
    let scene = Scene::new(PATIENT).await;
    scene
        .sql(
            "UPDATE globals SET gl_value = '0' WHERE gl_name IN ('rest_api', 'rest_fhir_api', \
            'rest_portal_api')",
        )
        .await;
    scene.snapshot("apis_off", None).await;
}

#[test]
fn report_unreachable() {
    let keys = tempfile::tempdir().unwrap();
    keygen_into(keys.path());
    let output = doctor()
        .args([
            "check",
            "--base-url",
            &format!("http://127.0.0.1:{}", closed_port()),
        ])
        .args(["--client-id", "snap-client", "--key"])
        .arg(keys.path().join("private-key.pem"))
        .output()
        .unwrap();
    let report = format!(
        "{}exit code {}\n",
        String::from_utf8(output.stdout).unwrap(),
        output.status.code().unwrap()
    );
    filtered().bind(|| insta::assert_snapshot!("unreachable", report));
}
