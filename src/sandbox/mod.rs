//! The OpenEMR sandbox: an emulator of OpenEMR's OAuth2 and FHIR Patient endpoints as one
//! chosen family answers them (F0 = 6.0, F1 = 6.1.0 to 7.0.3, F2 = 7.0.4 to 8.x, F3 = master
//! late 2026), for development and tests.
//!
//! It is **not OpenEMR** and holds no real data: it serves one seeded test patient from a scratch
//! database, on the loopback interface only. It reproduces what a real server of the family
//! answers to a SMART Backend Services (client_credentials) client, including its quirks and its
//! unhelpful error answers, so that oemr-doctor can be developed and tested without a PHP stack.
//! The recorded exchanges in `shared/openemr/f1-transcripts.jsonl` are replayed against it (as
//! F1) by the conformance test; `CONFORMANCE.md` beside this file says what each family does
//! and what it does not reproduce. Family differences live in `profile.rs` (what is checked)
//! and `answers.rs` (what a refusal looks like).
//!
//! Like OpenEMR it reads the globals and the client rows from the database on every request,
//! so a change to a row takes effect on the next request, without a restart.

mod answers;
mod assertion;
mod bearer;
mod client_auth;
mod context;
mod discovery;
mod fhir;
mod form;
mod grant_scopes;
mod issue;
mod keyset;
mod patient;
mod profile;
mod refusal;
mod reply;
mod seed;
mod store;
mod tls;
mod token;
mod uri_guard;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::db::{Database, DbSource};
use crate::keys::PrivateKey;
use crate::openemr::Family;
use profile::Profile;

pub use seed::{prepare_database, prepare_database_for, set_global, SEEDED_PATIENT_UUID};
pub use tls::TlsIdentity;

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The scratch database holding OpenEMR's tables (see [`prepare_database`]).
    pub db: DbSource,
    /// Where to listen; must be a loopback address (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The site ids that exist, as `sites/<id>` directories would on a real install.
    pub sites: Vec<String>,
    /// The web root OpenEMR is served under: `""` or a path such as `/openemr`.
    pub webroot: String,
    /// The OpenEMR family to behave as.
    pub family: Family,
    /// F3 only: let a client's `jwks_uri` point at a loopback address (over http too), which
    /// F3 itself refuses; on for tests and local development, where the JWKS is served on
    /// 127.0.0.1. Off, the sandbox refuses loopback like F3.
    pub allow_loopback_jwks_uri: bool,
}

impl SandboxConfig {
    /// A config for one `default` site at the root of `bind`, as family F1, with loopback
    /// `jwks_uri`s allowed.
    pub fn new(db: DbSource, bind: SocketAddr) -> SandboxConfig {
        SandboxConfig {
            db,
            bind,
            sites: vec!["default".to_string()],
            webroot: String::new(),
            family: Family::F1,
            allow_loopback_jwks_uri: true,
        }
    }
}

/// What every request handler shares.
struct Shared {
    db: Database,
    sites: Vec<String>,
    webroot: String,
    /// The family being played.
    profile: Profile,
    /// See [`SandboxConfig::allow_loopback_jwks_uri`].
    allow_loopback_jwks_uri: bool,
    /// The server's own signing key (OpenEMR's `oaprivate.key`), made at start.
    server_key: PrivateKey,
    /// Fetches client `jwks_uri`s, anew on every token request as F1 does (F3 builds a
    /// guarded client per fetch instead).
    http: reqwest::Client,
}

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    webroot: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Sandbox {
    /// Checks the config, connects to the database, makes the server key, binds and starts
    /// serving plain HTTP in the background; returns as soon as the socket listens.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        Sandbox::start_with(config, None).await
    }

    /// The same, serving HTTPS with `identity`.
    pub async fn start_tls(
        config: SandboxConfig,
        identity: TlsIdentity,
    ) -> anyhow::Result<Sandbox> {
        Sandbox::start_with(config, Some(identity)).await
    }

    async fn start_with(
        config: SandboxConfig,
        identity: Option<TlsIdentity>,
    ) -> anyhow::Result<Sandbox> {
        let webroot = check_config(&config)?;
        // A bad certificate or key is reported before anything else is set up.
        let tls = identity.map(|i| i.server_config()).transpose()?;
        let db = config
            .db
            .connect()
            .await
            .context("the sandbox cannot open its database")?;
        let server_key = tokio::task::spawn_blocking(|| PrivateKey::generate(2048))
            .await
            .context("generating the sandbox's signing key")??;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .user_agent("oemr-doctor-sandbox")
            .build()
            .context("building the sandbox's HTTP client")?;
        let shared = Arc::new(Shared {
            db,
            sites: config.sites.clone(),
            webroot: webroot.clone(),
            profile: Profile::new(config.family),
            allow_loopback_jwks_uri: config.allow_loopback_jwks_uri,
            server_key,
            http,
        });
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("the sandbox cannot listen on {}", config.bind))?;
        let addr = listener.local_addr()?;
        let app = router(shared);
        let (scheme, (shutdown, task)) = match tls {
            None => ("http", serve(listener, app)),
            Some(tls) => ("https", serve(tls::TlsListener::new(listener, tls)?, app)),
        };
        let family = config.family;
        tracing::info!(%addr, %scheme, %webroot, %family, "OpenEMR sandbox (an emulator) \
            listening");
        Ok(Sandbox {
            addr,
            scheme,
            webroot,
            shutdown,
            task,
        })
    }

    /// The address clients reach OpenEMR at: `http://127.0.0.1:PORT` (or `https://`) plus
    /// the web root.
    pub fn base_url(&self) -> String {
        format!("{}{}", self.site_addr(), self.webroot)
    }

    /// The value global `site_addr_oath` should hold for this sandbox: scheme, host and port
    /// only, because OpenEMR appends the web root itself.
    pub fn site_addr(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The socket address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Serves until Ctrl-C, then stops.
    pub async fn run_until_ctrl_c(self) -> anyhow::Result<()> {
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        tracing::info!("stopping the OpenEMR sandbox");
        self.stop().await;
        Ok(())
    }
}

/// Refuses non-loopback binds and bad site ids; returns the normalised web root.
fn check_config(config: &SandboxConfig) -> anyhow::Result<String> {
    if !config.bind.ip().is_loopback() {
        bail!(
            "the sandbox only listens on loopback (127.0.0.1 or ::1), not {}: it is a test \
             emulator with known keys and no access control worth the name",
            config.bind.ip()
        );
    }
    if config.sites.is_empty() {
        bail!("the sandbox needs at least one site (usually \"default\")");
    }
    for site in &config.sites {
        crate::openemr::urls::validate_site(site)?;
    }
    let webroot = config.webroot.trim_end_matches('/');
    if !webroot.is_empty() && !webroot.starts_with('/') {
        bail!("the web root must be empty or start with '/', not {webroot:?}");
    }
    Ok(webroot.to_string())
}

fn serve<L>(listener: L, app: Router) -> (oneshot::Sender<()>, JoinHandle<()>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = signal.await;
            })
            .await;
        if let Err(error) = result {
            tracing::error!(%error, "the sandbox server stopped");
        }
    });
    (shutdown, task)
}

/// Every path goes to one of two dispatchers, as OpenEMR's rewrite rules send everything under
/// `oauth2/` and `apis/` to one PHP script each, which then reads the site from the path.
fn router(shared: Arc<Shared>) -> Router {
    let inner = Router::new()
        .route("/oauth2/{*rest}", axum::routing::any(oauth2))
        .route("/apis/{*rest}", axum::routing::any(apis))
        .fallback(|| async { reply::empty(404) })
        .with_state(shared.clone());
    if shared.webroot.is_empty() {
        inner
    } else {
        Router::new()
            .nest(&shared.webroot, inner)
            .fallback(|| async { reply::empty(404) })
    }
}

/// The parts of a request the dispatchers read.
struct Incoming {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Incoming {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

async fn oauth2(State(shared): State<Arc<Shared>>, incoming: Incoming) -> Response {
    token::dispatch_oauth2(&shared, incoming).await
}

async fn apis(State(shared): State<Arc<Shared>>, incoming: Incoming) -> Response {
    fhir::dispatch_apis(&shared, incoming).await
}
