//! The world the transcripts were recorded in, rebuilt on loopback: a prepared database, the
//! sandbox, the clients with their keys, and a small server playing the clients' `jwks_uri`.

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use oemr_doctor::db::{Database, DbSource};
use oemr_doctor::keys::jwks::components;
use oemr_doctor::keys::PrivateKey;
use oemr_doctor::sandbox::{prepare_database, set_global, Sandbox, SandboxConfig};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::support::TestDb;

/// The registered scope of the baseline clients.
pub const BASELINE_SCOPE: &str = "openid api:fhir system/Patient.read system/Practitioner.read";

/// The signing keys the recording used.
pub struct Keys {
    pub ours: PrivateKey,
    pub other: PrivateKey,
    /// PKCS#8 DER of the EC P-384 key, and its public coordinates.
    pub ec_pkcs8: Vec<u8>,
    pub ec_xy: (String, String),
}

impl Keys {
    fn generate() -> Keys {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P384_SHA384_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("EC key generation");
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("EC key loads");
        let point = pair.public_key().as_ref();
        let x = URL_SAFE_NO_PAD.encode(&point[1..49]);
        let y = URL_SAFE_NO_PAD.encode(&point[49..97]);
        Keys {
            ours: PrivateKey::generate(2048).unwrap(),
            other: PrivateKey::generate(2048).unwrap(),
            ec_pkcs8: pkcs8.as_ref().to_vec(),
            ec_xy: (x, y),
        }
    }

    /// The modulus of a named RSA key, for the `<n:…>` placeholders.
    pub fn modulus(&self, name: &str) -> String {
        let key = if name == "other" {
            &self.other
        } else {
            &self.ours
        };
        components(&key.public()).0
    }

    /// The JWK the recording registered for `name` ("ours", "other" or "ec").
    pub fn jwk(&self, name: &str) -> Value {
        match name {
            "ec" => json!({"kty": "EC", "kid": "kid-ec", "alg": "ES384", "use": "sig",
                "crv": "P-384", "x": self.ec_xy.0, "y": self.ec_xy.1}),
            _ => json!({"kty": "RSA", "kid": format!("kid-{name}"), "alg": "RS384",
                "use": "sig", "n": self.modulus(name), "e": "AQAB"}),
        }
    }

    /// A key set of the named keys, as JSON text.
    pub fn jwks(&self, names: &[&str]) -> String {
        let keys: Vec<Value> = names.iter().map(|n| self.jwk(n)).collect();
        json!({ "keys": keys }).to_string()
    }
}

/// Everything one conformance run shares.
pub struct Fixture {
    pub test_db: TestDb,
    pub db: Database,
    pub sandbox: Sandbox,
    pub keys: Keys,
    /// `<client_id>`, `<client_id_2>`, `<client_id_3>`, `<client_id_4>`.
    pub clients: [String; 4],
    pub jwks_server: SocketAddr,
    /// A loopback port nothing listens on.
    pub refused: SocketAddr,
    pub http: reqwest::Client,
}

impl Fixture {
    /// Prepares the database, starts the sandbox and the JWKS server, registers the clients.
    pub async fn start() -> Fixture {
        let test_db = TestDb::new().await;
        let db = test_db.database().await;
        prepare_database(&db, "").await.unwrap();
        let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let config = SandboxConfig::new(DbSource::Url(test_db.url.clone()), bind);
        let sandbox = Sandbox::start(config).await.unwrap();
        let keys = tokio::task::spawn_blocking(Keys::generate).await.unwrap();
        let jwks_server = serve_jwks(&keys).await;
        let refused = closed_port().await;
        let clients = std::array::from_fn(|i| format!("conformance-client-{}", i + 1));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let fixture = Fixture {
            test_db,
            db,
            sandbox,
            keys,
            clients,
            jwks_server,
            refused,
            http,
        };
        fixture.register_clients().await;
        fixture
    }

    async fn register_clients(&self) {
        let ours = self.keys.jwks(&["ours"]);
        // Client 3 was registered with its jwks given as a string, stored double-encoded.
        let double = Value::String(ours.clone()).to_string();
        let rows = [
            (&self.clients[0], ours.clone(), BASELINE_SCOPE),
            (&self.clients[1], self.keys.jwks(&["other"]), BASELINE_SCOPE),
            (&self.clients[2], double, BASELINE_SCOPE),
            (
                &self.clients[3],
                ours,
                "openid api:fhir system/Patient.read",
            ),
        ];
        for (id, jwks, scope) in rows {
            sqlx::query(
                "INSERT INTO oauth_clients (client_id, client_role, client_name, \
                 client_secret, redirect_uri, grant_types, scope, site_id, is_confidential, \
                 jwks, is_enabled) VALUES (?, 'user', ?, 'not-a-real-secret', ?, \
                 'authorization_code', ?, 'default', 1, ?, 1)",
            )
            .bind(id)
            .bind(format!("name of {id}"))
            .bind(format!("{}/unused-callback", self.sandbox.site_addr()))
            .bind(scope)
            .bind(jwks)
            .execute(&self.test_db.pool)
            .await
            .unwrap();
        }
    }

    /// Puts client 1 and the globals back the way the recording kept them between exchanges.
    pub async fn reset_baseline(&self) {
        sqlx::query(
            "UPDATE oauth_clients SET is_enabled = 1, is_confidential = 1, jwks = ?, \
             jwks_uri = NULL, scope = ? WHERE client_id = ?",
        )
        .bind(self.keys.jwks(&["ours"]))
        .bind(BASELINE_SCOPE)
        .bind(&self.clients[0])
        .execute(&self.test_db.pool)
        .await
        .unwrap();
        let globals = [
            ("rest_api", "1".to_string()),
            ("rest_fhir_api", "1".to_string()),
            ("rest_portal_api", "0".to_string()),
            ("rest_system_scopes_api", "1".to_string()),
            ("site_addr_oath", self.sandbox.site_addr()),
        ];
        for (name, value) in globals {
            set_global(&self.db, name, &value).await.unwrap();
        }
    }

    /// Sets one column of client 1 (`None` writes NULL).
    pub async fn set_client_column(&self, column: &str, value: Option<String>) {
        let sql = format!("UPDATE oauth_clients SET {column} = ? WHERE client_id = ?");
        sqlx::query(&sql)
            .bind(value)
            .bind(&self.clients[0])
            .execute(&self.test_db.pool)
            .await
            .unwrap();
    }

    /// Runs one statement on the `api_token` row of the token with id `jti`.
    pub async fn update_token_row(&self, assignment: &str, jti: &str) {
        let sql = format!("UPDATE api_token SET {assignment} WHERE token = ?");
        sqlx::query(&sql)
            .bind(jti)
            .execute(&self.test_db.pool)
            .await
            .unwrap();
    }

    /// A URL on the JWKS server.
    pub fn jwks_url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.jwks_server)
    }
}

/// The documents the recording's `jwks_uri` server served, one per failure shape.
async fn serve_jwks(keys: &Keys) -> SocketAddr {
    let ours = keys.jwks(&["ours"]);
    let json = |status: StatusCode, body: String| {
        move || async move { (status, [(header::CONTENT_TYPE, "application/json")], body) }
    };
    let text = |status: StatusCode, kind: &'static str, body: String| {
        move || async move { (status, [(header::CONTENT_TYPE, kind)], body).into_response() }
    };
    let app = Router::new()
        .route("/good.json", get(json(StatusCode::OK, ours.clone())))
        .route(
            "/good-as-text.json",
            get(text(StatusCode::OK, "text/plain", ours.clone())),
        )
        .route(
            "/page.html",
            get(text(
                StatusCode::OK,
                "text/html",
                "<html><body>hi</body></html>".into(),
            )),
        )
        .route(
            "/bare.json",
            get(json(StatusCode::OK, keys.jwk("ours").to_string())),
        )
        .route(
            "/missing.json",
            get(text(StatusCode::NOT_FOUND, "text/html", "Not Found".into())),
        )
        .route(
            "/missing-json.json",
            get(json(
                StatusCode::NOT_FOUND,
                r#"{"error":"not found"}"#.into(),
            )),
        )
        .route(
            "/good-but-500.json",
            get(json(StatusCode::INTERNAL_SERVER_ERROR, ours)),
        )
        .route(
            "/other-then-ours.json",
            get(json(StatusCode::OK, keys.jwks(&["other", "ours"]))),
        )
        .route(
            "/other.json",
            get(json(StatusCode::OK, keys.jwks(&["other"]))),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A loopback port that was free a moment ago, so connecting to it is refused.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}
