//! One sandbox of a chosen family with one registered backend-services client, and the
//! requests the family tests send to it.

use jsonwebtoken::Algorithm;
use oemr_doctor::db::Database;
use oemr_doctor::keys::jwks::public_jwk;
use oemr_doctor::keys::PrivateKey;
use oemr_doctor::openemr::{Family, JWT_BEARER};
use oemr_doctor::sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

use crate::conformance::jwt::{header, payload, sign_compact};
use crate::sandbox::{http, started_with};
use crate::support::TestDb;

/// The client every family test registers.
pub const CLIENT: &str = "family-test-client";
/// The kid of its key, in the JWKS and in assertion headers.
pub const KID: &str = "family-test-kid";
/// Its registered scopes.
pub const REGISTERED: &str = "openid api:fhir system/Patient.read system/Practitioner.read";

/// What the sandbox answered.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// Asserts a league-format OAuth2 error: status, JSON type, `error` and `hint`.
    pub fn assert_oauth(&self, status: u16, error: &str, hint: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/json");
        let body = self.json();
        assert_eq!(body["error"], error, "{}", self.body);
        assert_eq!(body["hint"].as_str(), hint, "{}", self.body);
        assert_eq!(body["message"], body["error_description"]);
    }

    /// Asserts an F2 exception-listener answer: exactly `error`, `message`, `code` (0).
    pub fn assert_api_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.content_type, "application/json");
        let body = self.json();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["error", "message", "code"]);
        assert_eq!(body["error"], "An error occurred");
        assert_eq!(body["message"], message);
        assert_eq!(body["code"], 0);
    }
}

/// A sandbox of one family, its database and the client's key.
pub struct World {
    pub test_db: TestDb,
    pub db: Database,
    pub sandbox: Sandbox,
    pub key: PrivateKey,
}

impl World {
    /// A sandbox of `family` with the client registered (inline JWKS, enabled, grant_types
    /// `client_credentials`).
    pub async fn start(family: Family) -> World {
        World::start_with(family, |_| {}).await
    }

    /// Like [`World::start`], with the config adjusted by `edit`.
    pub async fn start_with(family: Family, edit: impl FnOnce(&mut SandboxConfig)) -> World {
        let test_db = TestDb::new().await;
        let (db, sandbox) = started_with(&test_db, |config| {
            config.family = family;
            edit(config);
        })
        .await;
        let key = tokio::task::spawn_blocking(|| PrivateKey::generate(2048))
            .await
            .unwrap()
            .unwrap();
        let world = World {
            test_db,
            db,
            sandbox,
            key,
        };
        world.register().await;
        world
    }

    async fn register(&self) {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, client_role, client_name, grant_types, \
             scope, is_confidential, jwks, is_enabled, register_date) \
             VALUES (?, 'user', 'family test', 'client_credentials', ?, 1, ?, 1, NOW())",
        )
        .bind(CLIENT)
        .bind(REGISTERED)
        .bind(self.jwks(&[self.jwk()]))
        .execute(&self.test_db.pool)
        .await
        .unwrap();
    }

    /// The client's public JWK, with kid, `alg` RS384 and `use` sig.
    pub fn jwk(&self) -> Value {
        let mut jwk = Value::Object(public_jwk(&self.key.public()).0);
        jwk["kid"] = KID.into();
        jwk["alg"] = "RS384".into();
        jwk["use"] = "sig".into();
        jwk
    }

    /// A key set of `keys`, as JSON text.
    pub fn jwks(&self, keys: &[Value]) -> String {
        json!({ "keys": keys }).to_string()
    }

    /// Sets one column of the client (`None` writes NULL).
    pub async fn set_client(&self, column: &str, value: Option<&str>) {
        let sql = format!("UPDATE oauth_clients SET {column} = ? WHERE client_id = ?");
        sqlx::query(&sql)
            .bind(value)
            .bind(CLIENT)
            .execute(&self.test_db.pool)
            .await
            .unwrap();
    }

    /// The token endpoint, which is also the assertion's `aud`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/default/token", self.sandbox.base_url())
    }

    /// Valid assertion claims: iss = sub = client, aud, a fresh jti, iat now, exp in 300 s.
    pub fn claims(&self) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": CLIENT, "sub": CLIENT, "aud": self.token_url(),
            "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 300})
    }

    /// The header every valid assertion carries.
    pub fn header(&self) -> Value {
        json!({"alg": "RS384", "typ": "JWT", "kid": KID})
    }

    /// `header.claims` signed RS384 with the client's key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign_compact(header, claims, Algorithm::RS384, &self.key.encoding_key())
    }

    /// A valid assertion.
    pub fn assertion(&self) -> String {
        self.sign(&self.header(), &self.claims())
    }

    /// POSTs a client_credentials request carrying `assertion` and `scope`.
    pub async fn request_token(&self, assertion: &str, scope: &str) -> Answer {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", scope),
        ];
        self.post_form(&form).await
    }

    /// POSTs a client_credentials request with a valid assertion for `scope`.
    pub async fn request(&self, scope: &str) -> Answer {
        self.request_token(&self.assertion(), scope).await
    }

    /// POSTs `form` to the token endpoint.
    pub async fn post_form(&self, form: &[(&str, &str)]) -> Answer {
        let response = http()
            .post(self.token_url())
            .form(form)
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// An access token for `scope` (asserting the request succeeds).
    pub async fn token(&self, scope: &str) -> String {
        let answer = self.request(scope).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["access_token"].as_str().unwrap().to_string()
    }

    /// GETs a path under the base URL, with a bearer token when given.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.sandbox.base_url());
        let mut request = http().get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    /// Sets a global.
    pub async fn set_global(&self, name: &str, value: &str) {
        oemr_doctor::sandbox::set_global(&self.db, name, value)
            .await
            .unwrap();
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Answer {
        status: response.status().as_u16(),
        content_type,
        body: response.text().await.unwrap(),
    }
}

/// The claims of an access token (not verified).
pub fn token_claims(token: &str) -> Value {
    payload(token)
}

/// The header of an access token.
pub fn token_header(token: &str) -> Value {
    header(token)
}
