//! The check probe end to end: bad inputs and unreachable or wrong servers without a sandbox,
//! then the field cases against the F1 sandbox on 127.0.0.1 with a real MariaDB.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oemr_doctor::db::DbSource;
use oemr_doctor::keys::jwks::{public_jwk, thumbprint, Jwks};
use oemr_doctor::keys::PrivateKey;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, CheckConfig, Report, StageId, StageOutcome, Status};
use oemr_doctor::report::human;
use oemr_doctor::sandbox::{prepare_database, set_global, Sandbox, SandboxConfig};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use crate::support::{closed_port, TestDb};

const CLIENT: &str = "probe-client-1";
const PATIENT_READ: &str = "system/Patient.read";

/// A key pair on disk, in a directory removed when the test ends.
struct KeyFiles {
    dir: tempfile::TempDir,
    key: PrivateKey,
    path: PathBuf,
}

fn key_files() -> KeyFiles {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(2048).unwrap();
    let path = dir.path().join("client.pem");
    std::fs::write(&path, key.pkcs8_pem()).unwrap();
    KeyFiles { dir, key, path }
}

fn jwks_json(keys: &[&PrivateKey]) -> String {
    Jwks {
        keys: keys.iter().map(|k| public_jwk(&k.public())).collect(),
    }
    .to_json()
}

fn config(base_url: &str, key_path: &Path) -> CheckConfig {
    CheckConfig {
        base_url: base_url.to_string(),
        site: "default".to_string(),
        client_id: CLIENT.to_string(),
        key_path: key_path.to_path_buf(),
        jwks_path: None,
        scopes: vec![PATIENT_READ.to_string()],
        db: None,
        fix_db_args: String::new(),
        network: oemr_doctor::net::NetworkOptions {
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
    }
}

fn stage(report: &Report, id: StageId) -> &StageOutcome {
    report.stages.iter().find(|s| s.stage == id).unwrap()
}

/// Asserts a stage's status, showing the whole report when it differs.
fn assert_status(report: &Report, id: StageId, status: Status) {
    let outcome = stage(report, id);
    assert_eq!(
        outcome.status,
        status,
        "stage {}:\n{}",
        id.name(),
        human::render(report, false)
    );
}

/// No secret of the run may reach the rendered report.
fn assert_no_secrets(report: &Report, key: &PrivateKey) {
    let text = human::render(report, false);
    let pem = key.pkcs8_pem();
    let body_line = pem.lines().nth(1).unwrap();
    assert!(
        !text.contains(body_line),
        "private key material in the report"
    );
    assert!(
        !text.contains("eyJhbGciOiJSUzM4NCI"),
        "an assertion in the report"
    );
}

#[tokio::test]
async fn an_encrypted_key_fails_keys_and_skips_the_assertion() {
    let files = key_files();
    let path = files.dir.path().join("enc.pem");
    let pem = oemr_doctor::keys::pem_block("ENCRYPTED PRIVATE KEY", "MIIB");
    std::fs::write(&path, pem).unwrap();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let report = probe::run(&config(&base, &path)).await;

    assert_status(&report, StageId::Keys, Status::Fail);
    assert!(stage(&report, StageId::Keys).finding.contains("encrypted"));
    let assertion = stage(&report, StageId::Assertion);
    assert_eq!(assertion.status, Status::Skipped);
    assert!(assertion.finding.contains("keys"), "{}", assertion.finding);
    assert_eq!(report.exit_code(), StageId::Keys.exit_code());
}

#[tokio::test]
async fn a_missing_key_file_and_a_wildcard_scope_fail_inputs() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let report = probe::run(&config(&base, Path::new("/nonexistent/key.pem"))).await;
    assert_status(&report, StageId::Inputs, Status::Fail);
    assert!(stage(&report, StageId::Inputs)
        .finding
        .contains("does not exist"));
    assert!(report.stages[1..]
        .iter()
        .all(|s| s.status == Status::Skipped));
    assert_eq!(report.exit_code(), 10);

    let files = key_files();
    let mut wild = config(&base, &files.path);
    wild.scopes = vec!["system/*.read".to_string()];
    let report = probe::run(&wild).await;
    assert_status(&report, StageId::Inputs, Status::Fail);
    assert!(stage(&report, StageId::Inputs).evidence[0].contains("wildcard"));
}

#[tokio::test]
async fn a_base_url_inside_the_fhir_api_is_named() {
    let files = key_files();
    let report = probe::run(&config("http://127.0.0.1:9/apis/default/fhir", &files.path)).await;
    let inputs = stage(&report, StageId::Inputs);
    assert_eq!(inputs.status, Status::Fail);
    assert!(
        inputs.finding.contains("\"http://127.0.0.1:9\""),
        "{}",
        inputs.finding
    );
}

#[tokio::test]
async fn a_1024_bit_key_fails_the_keys_stage() {
    let files = key_files();
    let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
    let path = files.dir.path().join("small.pem");
    std::fs::write(
        &path,
        small.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let report = probe::run(&config(&base, &path)).await;

    assert_status(&report, StageId::Keys, Status::Fail);
    let keys = stage(&report, StageId::Keys);
    assert!(keys.finding.contains("1024 bits"), "{}", keys.finding);
    assert!(keys.fix.as_deref().unwrap().contains("2048"));
}

#[tokio::test]
async fn a_jwks_kid_naming_the_key_with_another_modulus_is_explicit() {
    let files = key_files();
    let other = PrivateKey::generate(2048).unwrap();
    let own_kid = thumbprint(&files.key.public());
    let mut set = Jwks {
        keys: vec![public_jwk(&other.public())],
    };
    set.keys[0].0.insert("kid".into(), own_kid.clone().into());
    let jwks_path = files.dir.path().join("jwks.json");
    std::fs::write(&jwks_path, set.to_json()).unwrap();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let mut config = config(&base, &files.path);
    config.jwks_path = Some(jwks_path);
    let report = probe::run(&config).await;

    assert_status(&report, StageId::Keys, Status::Fail);
    let keys = stage(&report, StageId::Keys);
    assert!(
        keys.finding.contains("not in the registered key set"),
        "{}",
        keys.finding
    );
    let detail = keys.evidence.join("\n");
    assert!(
        detail.contains(&format!(
            "kid {own_kid:?} matches this key's thumbprint but its modulus differs"
        )),
        "{detail}"
    );
}

#[tokio::test]
async fn a_matching_key_second_in_the_jwks_warns() {
    let files = key_files();
    let other = PrivateKey::generate(2048).unwrap();
    let jwks_path = files.dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks_json(&[&other, &files.key])).unwrap();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let mut config = config(&base, &files.path);
    config.jwks_path = Some(jwks_path);
    let report = probe::run(&config).await;

    assert_status(&report, StageId::Keys, Status::Warn);
    assert!(stage(&report, StageId::Keys)
        .finding
        .contains("first RSA key"));
}

#[tokio::test]
async fn an_unreachable_server_is_named_and_later_network_stages_skip() {
    let files = key_files();
    let base = format!("http://127.0.0.1:{}", closed_port());
    let report = probe::run(&config(&base, &files.path)).await;

    assert_status(&report, StageId::Discovery, Status::Fail);
    let discovery = stage(&report, StageId::Discovery);
    assert!(
        discovery.finding.contains("connection refused"),
        "{}",
        discovery.finding
    );
    assert!(discovery.finding.contains(&format!(
        "{base}/apis/default/fhir/.well-known/smart-configuration"
    )));
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Skipped);
    assert!(token.finding.contains("discovery"), "{}", token.finding);
    assert_eq!(stage(&report, StageId::Database).status, Status::Skipped);
    assert_eq!(report.exit_code(), StageId::Discovery.exit_code());
}

/// Serves the same HTML login page on every path, as a misrouted proxy would, counting the
/// POSTs it receives.
async fn login_page_server() -> (SocketAddr, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let page = "<!DOCTYPE html><html><head><title>OpenEMR Login</title></head><body></body></html>";
    let posts = Arc::new(AtomicUsize::new(0));
    let seen = posts.clone();
    let app = axum::Router::new().fallback(move |method: axum::http::Method| {
        let seen = seen.clone();
        async move {
            if method == axum::http::Method::POST {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            axum::response::Html(page)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, posts, task)
}

#[tokio::test]
async fn an_html_page_instead_of_json_is_named_and_gets_no_assertion() {
    let files = key_files();
    let (addr, posts, task) = login_page_server().await;
    let base = format!("http://{addr}");
    let report = probe::run(&config(&base, &files.path)).await;
    task.abort();

    assert_status(&report, StageId::Discovery, Status::Fail);
    let discovery = stage(&report, StageId::Discovery);
    assert!(
        discovery.finding.contains("HTML page"),
        "{}",
        discovery.finding
    );
    assert!(discovery.evidence.join(" ").contains("OpenEMR Login"));
    // Whatever answers there is not OpenEMR: a signed assertion must not be sent to it.
    let token = stage(&report, StageId::Token);
    assert_eq!(token.status, Status::Skipped);
    assert!(
        token.finding.contains("not OpenEMR's API"),
        "{}",
        token.finding
    );
    assert_eq!(posts.load(Ordering::SeqCst), 0, "no POST reached the page");
}

/// A sandbox with a client registered for `scope`, its key on disk, and the database.
struct World {
    db: TestDb,
    sandbox: Sandbox,
    files: KeyFiles,
}

impl World {
    async fn new(scope: &str, enabled: bool) -> World {
        let db = TestDb::new().await;
        let sandbox = Sandbox::start(SandboxConfig {
            db: DbSource::Url(db.url.clone()),
            bind: "127.0.0.1:0".parse().unwrap(),
            sites: vec!["default".to_string()],
            webroot: String::new(),
            family: Family::F1,
            allow_loopback_jwks_uri: true,
        })
        .await
        .unwrap();
        prepare_database(&db.database().await, &sandbox.site_addr())
            .await
            .unwrap();
        let files = key_files();
        insert_client(&db, scope, enabled, &jwks_json(&[&files.key])).await;
        World { db, sandbox, files }
    }

    fn config(&self) -> CheckConfig {
        let mut config = config(&self.sandbox.base_url(), &self.files.path);
        config.db = Some(DbSource::Url(self.db.url.clone()));
        config.fix_db_args = "--db-url mysql://oemr_doctor:***@127.0.0.1:3306/x".to_string();
        config
    }

    async fn global(&self, name: &str, value: &str) {
        set_global(&self.db.database().await, name, value)
            .await
            .unwrap();
    }

    async fn stop(self) {
        self.sandbox.stop().await;
    }
}

async fn insert_client(db: &TestDb, scope: &str, enabled: bool, jwks: &str) {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_role, client_name, grant_types, scope, \
         is_confidential, is_enabled, jwks, register_date) \
         VALUES (?, 'user', 'probe test', 'client_credentials', ?, 1, ?, ?, NOW())",
    )
    .bind(CLIENT)
    .bind(scope)
    .bind(enabled as i8)
    .bind(jwks)
    .execute(&db.pool)
    .await
    .unwrap();
}

const REGISTERED: &str = "openid api:fhir system/Patient.read system/Practitioner.read";

#[tokio::test]
async fn a_healthy_setup_passes_every_stage() {
    let world = World::new(REGISTERED, true).await;
    let report = probe::run(&world.config()).await;
    let text = human::render(&report, false);
    world.stop().await;

    for id in StageId::ALL {
        assert_status(&report, id, Status::Pass);
    }
    assert_eq!(report.exit_code(), 0);
    assert!(
        stage(&report, StageId::Patient).finding.contains("total 1"),
        "{text}"
    );
    assert!(text.ends_with("result: healthy (exit code 0)\n"), "{text}");
}

#[tokio::test]
async fn a_dropped_scope_warns_then_fails_patient_with_the_fix_scopes_command() {
    let world = World::new("openid api:fhir system/Practitioner.read", true).await;
    let report = probe::run(&world.config()).await;
    let key = world.files.key.pkcs8_pem();
    world.stop().await;

    let fix = format!(
        "oemr-doctor fix-scopes --client-id {CLIENT} --add system/Patient.read --apply \
         --db-url mysql://oemr_doctor:***@127.0.0.1:3306/x"
    );
    assert_status(&report, StageId::Database, Status::Warn);
    assert_status(&report, StageId::Token, Status::Pass);
    assert_status(&report, StageId::Scopes, Status::Warn);
    let scopes = stage(&report, StageId::Scopes);
    assert_eq!(
        scopes.finding,
        "requested but not granted: system/Patient.read"
    );
    assert!(scopes
        .evidence
        .join("\n")
        .contains("cause: oauth_clients.scope"));
    assert!(scopes.fix.as_deref().unwrap().starts_with(&fix));

    assert_status(&report, StageId::Patient, Status::Fail);
    let patient = stage(&report, StageId::Patient);
    assert!(
        patient
            .finding
            .contains("the token lacks system/Patient.read"),
        "{}",
        patient.finding
    );
    assert!(patient.finding.contains("registered scopes lack it"));
    assert!(patient.fix.as_deref().unwrap().starts_with(&fix));
    assert_eq!(report.exit_code(), StageId::Patient.exit_code());
    assert!(!human::render(&report, false).contains(key.lines().nth(1).unwrap()));
}

#[tokio::test]
async fn a_disabled_client_fails_database_and_token_with_the_enable_fix() {
    let world = World::new(REGISTERED, false).await;
    let report = probe::run(&world.config()).await;
    assert_no_secrets(&report, &world.files.key);
    world.stop().await;

    assert_status(&report, StageId::Database, Status::Fail);
    let database = stage(&report, StageId::Database);
    assert!(
        database.finding.contains("disabled"),
        "{}",
        database.finding
    );
    assert!(database.fix.as_deref().unwrap().contains(&format!(
        "oemr-doctor fix-scopes --client-id {CLIENT} --enable --apply"
    )));
    assert_status(&report, StageId::Token, Status::Fail);
    let token = stage(&report, StageId::Token);
    assert!(
        token.finding.contains("401 invalid_client"),
        "{}",
        token.finding
    );
    assert!(token.finding.contains("disabled"), "{}", token.finding);
    assert_eq!(report.exit_code(), StageId::Database.exit_code());
}

#[tokio::test]
async fn a_localhost_site_address_is_named_in_discovery_and_database() {
    let world = World::new(REGISTERED, true).await;
    let port = world.sandbox.addr().port();
    let localhost = format!("http://localhost:{port}");
    world.global("site_addr_oath", &localhost).await;
    let report = probe::run(&world.config()).await;
    world.stop().await;

    let base = format!("http://127.0.0.1:{port}");
    assert_status(&report, StageId::Discovery, Status::Warn);
    let discovery = stage(&report, StageId::Discovery);
    assert!(
        discovery
            .finding
            .contains(&format!("{localhost}/oauth2/default/token")),
        "{}",
        discovery.finding
    );
    assert!(discovery.finding.contains(&base));
    assert_status(&report, StageId::Database, Status::Warn);
    let database = stage(&report, StageId::Database);
    assert!(database.finding.contains(&localhost) && database.finding.contains(&base));
    // The assertion names the advertised endpoint, so the server accepts it.
    let assertion = stage(&report, StageId::Assertion);
    assert!(assertion
        .finding
        .contains(&format!("aud {localhost}/oauth2/default/token")));
    assert_status(&report, StageId::Token, Status::Pass);
    assert_eq!(report.exit_code(), 0);
}

#[tokio::test]
async fn system_scopes_switched_off_are_named_at_the_token_stage() {
    let world = World::new(REGISTERED, true).await;
    world.global("rest_system_scopes_api", "0").await;
    let report = probe::run(&world.config()).await;
    world.stop().await;

    assert_status(&report, StageId::Database, Status::Fail);
    assert!(stage(&report, StageId::Database)
        .finding
        .contains("rest_system_scopes_api"));
    assert_status(&report, StageId::Token, Status::Fail);
    let token = stage(&report, StageId::Token);
    assert!(
        token
            .finding
            .contains("refused scope system/Patient.read (400 invalid_scope)"),
        "{}",
        token.finding
    );
    assert!(
        token.finding.contains("rest_system_scopes_api is \"0\""),
        "{}",
        token.finding
    );
    assert!(token.fix.as_deref().unwrap().contains("FHIR System Scopes"));
}

#[tokio::test]
async fn every_api_switched_off_is_named_as_such_not_as_a_wrong_url() {
    let world = World::new(REGISTERED, true).await;
    for name in ["rest_api", "rest_fhir_api", "rest_portal_api"] {
        world.global(name, "0").await;
    }
    let report = probe::run(&world.config()).await;
    world.stop().await;

    assert_status(&report, StageId::Database, Status::Fail);
    assert_status(&report, StageId::Discovery, Status::Fail);
    assert!(stage(&report, StageId::Discovery).finding.contains("501"));
    assert_status(&report, StageId::Token, Status::Fail);
    let token = stage(&report, StageId::Token);
    assert!(
        token.finding.contains("APIs are switched off"),
        "{}",
        token.finding
    );
    assert!(token.finding.contains("404"));
    assert!(token.finding.contains("not a wrong URL"));
    assert!(token.evidence.join("\n").contains("database confirms"));
}

#[tokio::test]
async fn a_wrong_key_is_named_by_the_keys_stage_and_the_token_refusal() {
    let world = World::new(REGISTERED, true).await;
    let other = PrivateKey::generate(2048).unwrap();
    sqlx::query("UPDATE oauth_clients SET jwks = ? WHERE client_id = ?")
        .bind(jwks_json(&[&other]))
        .bind(CLIENT)
        .execute(&world.db.pool)
        .await
        .unwrap();
    let report = probe::run(&world.config()).await;
    world.stop().await;

    assert_status(&report, StageId::Keys, Status::Fail);
    let keys = stage(&report, StageId::Keys);
    assert!(
        keys.finding.contains("oauth_clients.jwks column"),
        "{}",
        keys.finding
    );
    assert_status(&report, StageId::Token, Status::Fail);
    let token = stage(&report, StageId::Token);
    assert!(
        token.finding.contains("400 invalid_client"),
        "{}",
        token.finding
    );
    assert!(
        token.finding.contains("not in the registered key set"),
        "{}",
        token.finding
    );
    assert_eq!(report.exit_code(), StageId::Keys.exit_code());
}

#[tokio::test]
async fn a_jwks_uri_serving_html_is_named_behind_the_empty_500() {
    let world = World::new(REGISTERED, true).await;
    let (addr, _, task) = login_page_server().await;
    let uri = format!("http://{addr}/jwks.json");
    sqlx::query("UPDATE oauth_clients SET jwks = NULL, jwks_uri = ? WHERE client_id = ?")
        .bind(&uri)
        .bind(CLIENT)
        .execute(&world.db.pool)
        .await
        .unwrap();
    let report = probe::run(&world.config()).await;
    task.abort();
    world.stop().await;

    assert_status(&report, StageId::Keys, Status::Fail);
    let keys = stage(&report, StageId::Keys);
    assert!(
        keys.finding.contains(&format!("jwks_uri {uri}")),
        "{}",
        keys.finding
    );
    assert!(keys.finding.contains("HTML page"), "{}", keys.finding);
    assert_status(&report, StageId::Token, Status::Fail);
    let token = stage(&report, StageId::Token);
    assert!(token.finding.contains("HTTP 500"), "{}", token.finding);
    assert!(
        token.finding.contains("registered key material is broken"),
        "{}",
        token.finding
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_named_as_a_timeout() {
    let files = key_files();
    // Accepts connections and never answers: the probe must give up after its timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = config(&format!("http://{addr}"), &files.path);
    config.network.timeout = Duration::from_secs(1);
    let report = probe::run(&config).await;
    task.abort();

    assert_status(&report, StageId::Discovery, Status::Fail);
    let discovery = stage(&report, StageId::Discovery);
    assert!(
        discovery.finding.contains("no complete answer within 1 s"),
        "{}",
        discovery.finding
    );
    assert!(discovery.finding.contains(&addr.to_string()));
    assert_eq!(stage(&report, StageId::Token).status, Status::Skipped);
}
