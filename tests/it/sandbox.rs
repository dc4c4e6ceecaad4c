//! Sandbox behaviours the recorded transcripts cannot show: where it may listen, that it reads
//! the database on every request, its web root and sites, and a whole grant end to end.

use std::net::SocketAddr;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use oemr_doctor::db::{Database, DbSource};
use oemr_doctor::keys::jwks::public_jwk;
use oemr_doctor::keys::PrivateKey;
use oemr_doctor::openemr::JWT_BEARER;
use oemr_doctor::sandbox::{
    prepare_database, prepare_database_for, set_global, Sandbox, SandboxConfig, SEEDED_PATIENT_UUID,
};
use serde_json::{json, Value};

use crate::support::TestDb;

const CLIENT: &str = "sandbox-test-client";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn started(test_db: &TestDb, webroot: &str, sites: &[&str]) -> (Database, Sandbox) {
    started_with(test_db, |config| {
        config.webroot = webroot.to_string();
        config.sites = sites.iter().map(|s| s.to_string()).collect();
    })
    .await
}

/// A prepared database of `config.family` and a sandbox on it, with `site_addr_oath` set to
/// the sandbox's address; `edit` adjusts the default config first.
pub async fn started_with(
    test_db: &TestDb,
    edit: impl FnOnce(&mut SandboxConfig),
) -> (Database, Sandbox) {
    let db = test_db.database().await;
    let mut config = SandboxConfig::new(DbSource::Url(test_db.url.clone()), loopback());
    edit(&mut config);
    prepare_database_for(&db, "", config.family).await.unwrap();
    let sandbox = Sandbox::start(config).await.unwrap();
    set_global(&db, "site_addr_oath", &sandbox.site_addr())
        .await
        .unwrap();
    (db, sandbox)
}

/// An HTTP client that never goes through a proxy.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(url: &str) -> (u16, String) {
    let response = http().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn refuses_to_listen_beyond_loopback() {
    let db = DbSource::Url("mysql://nobody@127.0.0.1:1/never_opened".into());
    let config = SandboxConfig::new(db, "0.0.0.0:0".parse().unwrap());
    let error = Sandbox::start(config).await.err().expect("a refusal");
    assert!(
        error.to_string().contains("only listens on loopback"),
        "{error}"
    );
}

#[tokio::test]
async fn reads_the_globals_on_every_request() {
    let test_db = TestDb::new().await;
    let (db, sandbox) = started(&test_db, "", &["default"]).await;
    let discovery = format!(
        "{}/oauth2/default/.well-known/openid-configuration",
        sandbox.base_url()
    );
    assert_eq!(get(&discovery).await.0, 200);
    for global in ["rest_api", "rest_fhir_api"] {
        set_global(&db, global, "0").await.unwrap();
    }
    assert_eq!(get(&discovery).await, (404, String::new()));
    set_global(&db, "rest_api", "1").await.unwrap();
    set_global(&db, "site_addr_oath", "http://emr.test:1")
        .await
        .unwrap();
    let (status, body) = get(&discovery).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["issuer"], "http://emr.test:1/oauth2/default");
    sandbox.stop().await;
}

#[tokio::test]
async fn serves_under_the_web_root_and_only_known_sites() {
    let test_db = TestDb::new().await;
    let (_db, sandbox) = started(&test_db, "/openemr", &["default", "clinic2"]).await;
    assert!(sandbox.base_url().ends_with("/openemr"));
    let smart = |site: &str| {
        format!(
            "{}/apis/{site}/fhir/.well-known/smart-configuration",
            sandbox.base_url()
        )
    };
    let (status, body) = get(&smart("clinic2")).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    let expected = format!("{}/oauth2/clinic2/token", sandbox.base_url());
    assert_eq!(body["token_endpoint"], expected.as_str());
    assert_eq!(get(&smart("Clinic2")).await.0, 400);
    let outside = format!("{}/apis/default/fhir/metadata", sandbox.site_addr());
    assert_eq!(get(&outside).await.0, 404);
    sandbox.stop().await;
}

#[tokio::test]
async fn preparing_twice_seeds_once() {
    let test_db = TestDb::new().await;
    let db = test_db.database().await;
    prepare_database(&db, "").await.unwrap();
    prepare_database(&db, "http://x.test").await.unwrap();
    for table in ["users", "patient_data", "version"] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&test_db.pool)
            .await
            .unwrap();
        assert_eq!(count, 1, "rows in {table}");
    }
    let globals = db.api_globals().await.unwrap();
    assert_eq!(globals.value("site_addr_oath"), "http://x.test");
    assert!(globals.system_scopes());
}

async fn register(test_db: &TestDb, key: &PrivateKey, scope: &str) {
    let jwks = json!({ "keys": [public_jwk(&key.public()).0] }).to_string();
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_name, scope, jwks, is_enabled) \
         VALUES (?, 'sandbox test', ?, ?, 1)",
    )
    .bind(CLIENT)
    .bind(scope)
    .bind(jwks)
    .execute(&test_db.pool)
    .await
    .unwrap();
}

async fn request_token(sandbox: &Sandbox, key: &PrivateKey, scope: &str) -> Value {
    let token_url = format!("{}/oauth2/default/token", sandbox.base_url());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": CLIENT, "sub": CLIENT, "aud": token_url,
        "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 60});
    let assertion =
        jsonwebtoken::encode(&Header::new(Algorithm::RS384), &claims, &key.encoding_key()).unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &assertion),
        ("scope", scope),
    ];
    let response = http().post(token_url).form(&form).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_patched_client_row_takes_effect_on_the_next_request() {
    let test_db = TestDb::new().await;
    let (_db, sandbox) = started(&test_db, "", &["default"]).await;
    let key = tokio::task::spawn_blocking(|| PrivateKey::generate(2048))
        .await
        .unwrap()
        .unwrap();
    register(&test_db, &key, "openid").await;
    let body = request_token(&sandbox, &key, "system/Patient.read").await;
    assert_eq!(body["scope"], "");
    sqlx::query("UPDATE oauth_clients SET scope = 'system/Patient.read' WHERE client_id = ?")
        .bind(CLIENT)
        .execute(&test_db.pool)
        .await
        .unwrap();
    let body = request_token(&sandbox, &key, "system/Patient.read").await;
    assert_eq!(body["scope"], "system/Patient.read");
    sandbox.stop().await;
}

#[tokio::test]
async fn an_issued_token_verifies_with_the_server_jwk_and_reads_the_patient() {
    let test_db = TestDb::new().await;
    let (_db, sandbox) = started(&test_db, "", &["default"]).await;
    let key = tokio::task::spawn_blocking(|| PrivateKey::generate(2048))
        .await
        .unwrap()
        .unwrap();
    register(&test_db, &key, "system/Patient.read").await;
    let body = request_token(&sandbox, &key, "system/Patient.read").await;
    let token = body["access_token"].as_str().unwrap();

    let (_, jwk) = get(&format!("{}/oauth2/default/jwk", sandbox.base_url())).await;
    let jwk: Value = serde_json::from_str(&jwk).unwrap();
    let server = &jwk["keys"][0];
    let decoding = DecodingKey::from_rsa_components(
        server["n"].as_str().unwrap(),
        server["e"].as_str().unwrap(),
    )
    .unwrap();
    // F1 writes exp as a float, which jsonwebtoken's own exp check does not read.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.set_audience(&[CLIENT]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims;
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(claims["exp"].as_f64().unwrap() > now + 250.0);
    assert_eq!(
        claims["scopes"],
        json!(["system/Patient.read", "site:default"])
    );

    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_token WHERE token = ?")
        .bind(claims["jti"].as_str().unwrap())
        .fetch_one(&test_db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);

    let patient = format!(
        "{}/apis/default/fhir/Patient/{SEEDED_PATIENT_UUID}",
        sandbox.base_url()
    );
    let response = http().get(patient).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let patient: Value = response.json().await.unwrap();
    assert_eq!(patient["name"][0]["family"], "Probe");
    sandbox.stop().await;
}

#[tokio::test]
async fn stop_closes_the_port() {
    let test_db = TestDb::new().await;
    let (_db, sandbox) = started(&test_db, "", &["default"]).await;
    let url = format!("{}/oauth2/default/jwk", sandbox.base_url());
    assert_eq!(get(&url).await.0, 200);
    sandbox.stop().await;
    assert!(http().get(url).send().await.is_err());
}
