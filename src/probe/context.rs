//! What the stages learn and hand on to later stages: the loaded key, what the database says,
//! what the server advertises, the assertion and the token. Secrets live here only in memory.

use serde_json::Value;

use crate::assertion::Assertion;
use crate::db::clients::ClientRow;
use crate::db::globals::ApiGlobals;
use crate::keys::jwks::Jwks;
use crate::keys::PrivateKey;
use crate::openemr::family_rules::{family_of_release, Detected};
use crate::openemr::fault::Fault;
use crate::openemr::urls::SiteUrls;
use crate::openemr::Family;

use super::http::Http;
use super::{CheckConfig, ProbeOptions, StageId, Status};

/// How the private key relates to the key set the server verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMatch {
    /// No key set to compare with.
    NoJwks,
    /// The key set could not be read; `why` names the fault, `source` where it came from.
    Unusable { source: String, why: String },
    /// No key of the set has the private key's modulus.
    Mismatch { source: String, detail: String },
    /// Key `index` (0-based) matches; `first_rsa` says whether it is the one F1/F2 use.
    Matched {
        source: String,
        kid: Option<String>,
        index: usize,
        first_rsa: bool,
    },
}

/// What the database says about the client and the server's settings.
#[derive(Debug, Clone, Default)]
pub struct DbFacts {
    /// Where it is (no password).
    pub target: String,
    /// Why it could not be read at all.
    pub error: Option<String>,
    /// The client's row.
    pub client: Option<ClientRow>,
    /// Why the row was not found (the lines of the lookup error).
    pub client_error: Option<String>,
    /// The API globals.
    pub globals: Option<ApiGlobals>,
    /// Whether the oe-system user exists.
    pub system_user: Option<bool>,
    /// The version the database records.
    pub version: Option<String>,
}

/// What discovery found.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryFacts {
    /// The advertised token endpoint.
    pub token_endpoint: Option<String>,
    /// The version the CapabilityStatement reports.
    pub version: Option<String>,
    /// Its behaviour family, and the facts that decided it.
    pub detected: Option<Detected>,
    /// The SMART configuration document.
    pub smart: Option<Value>,
    /// The server's clock minus this machine's, from the Date header.
    pub server_offset: Option<i64>,
    /// Set when the server could not be reached at all.
    pub unreachable: Option<String>,
    /// Set when the base URL answered with a page that is not OpenEMR's API (a login page, a
    /// proxy): no credential is sent there.
    pub not_openemr: Option<String>,
}

/// The token answer's content.
#[derive(Clone, Default)]
pub struct TokenFacts {
    /// The access token. Secret.
    pub access_token: String,
    /// The `scope` string of the answer, split.
    pub granted: Vec<String>,
    /// The `scopes` claim of the access token (read without verifying), when it decodes.
    pub claim_scopes: Option<Vec<String>>,
}

impl std::fmt::Debug for TokenFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The access token is a bearer credential: never in debug output.
        f.debug_struct("TokenFacts")
            .field("granted", &self.granted)
            .field("claim_scopes", &self.claim_scopes)
            .finish_non_exhaustive()
    }
}

/// Everything one check run knows so far.
pub struct Context<'a> {
    pub config: &'a CheckConfig,
    pub options: ProbeOptions,
    pub http: Result<Http, String>,
    pub urls: Option<SiteUrls>,
    pub key: Option<PrivateKey>,
    pub key_match: KeyMatch,
    /// The registered key set, when it could be read.
    pub registered: Option<Jwks>,
    /// What is wrong with the registered key set.
    pub key_faults: Vec<Fault>,
    /// The kid the assertion carries.
    pub kid: Option<String>,
    /// `None` when no database was given.
    pub db: Option<DbFacts>,
    pub discovery: DiscoveryFacts,
    pub assertion: Option<Assertion>,
    /// Rules the assertion broke locally.
    pub assertion_faults: Vec<Fault>,
    pub token: Option<TokenFacts>,
    /// Requested scopes the token came back without.
    pub dropped: Vec<String>,
    statuses: Vec<(StageId, Status)>,
}

impl<'a> Context<'a> {
    /// A fresh context for `config`.
    pub fn new(config: &'a CheckConfig, options: ProbeOptions) -> Context<'a> {
        Context {
            config,
            http: Http::with_clock_offset(&config.network, options.clock_offset_secs),
            options,
            urls: None,
            key: None,
            key_match: KeyMatch::NoJwks,
            registered: None,
            key_faults: Vec::new(),
            kid: None,
            db: None,
            discovery: DiscoveryFacts::default(),
            assertion: None,
            assertion_faults: Vec::new(),
            token: None,
            dropped: Vec::new(),
            statuses: Vec::new(),
        }
    }

    /// This machine's clock as the probe reads it (offset only to reproduce drift).
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.options.clock_offset_secs
    }

    /// The family as far as it is known: `--family`, then the database's version table,
    /// then what discovery detected.
    pub fn known_family(&self) -> Option<Family> {
        let from_db = || {
            let version = self.db.as_ref()?.version.as_deref()?;
            family_of_release(version)
        };
        let detected = || self.discovery.detected.as_ref()?.family;
        self.options.family.or_else(from_db).or_else(detected)
    }

    /// The family whose rules apply: the known one, else F1 (the family the sandbox and most
    /// installs in the field have).
    pub fn family(&self) -> Family {
        self.known_family().unwrap_or(Family::F1)
    }

    /// Remembers a stage's status for the stages after it.
    pub fn record(&mut self, stage: StageId, status: Status) {
        self.statuses.push((stage, status));
    }

    /// The status a stage ended with, if it ran.
    pub fn status(&self, stage: StageId) -> Option<Status> {
        self.statuses
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, status)| *status)
    }

    /// The client's database row, when the database was read and it has one.
    pub fn client_row(&self) -> Option<&ClientRow> {
        self.db.as_ref()?.client.as_ref()
    }

    /// The API globals, when the database was read.
    pub fn globals(&self) -> Option<&ApiGlobals> {
        self.db.as_ref()?.globals.as_ref()
    }

    /// The requested scopes, as strings.
    pub fn scopes(&self) -> Vec<&str> {
        self.config.scopes.iter().map(String::as_str).collect()
    }

    /// The `fix-scopes` command that adds `scopes` to the registered ones.
    ///
    /// Each scope is spelled as this family can store it (a SMART v2 scope on a v1-only server
    /// becomes its v1 form), so the command is one fix-scopes accepts.
    pub fn fix_scopes_add(&self, scopes: &[String]) -> String {
        use crate::openemr::scopes::{validate, ScopeProblem};
        let family = self.family();
        let storable: Vec<String> = scopes
            .iter()
            .map(|s| match validate(s, family) {
                Err(ScopeProblem::V2OnV1(_, _, v1)) | Err(ScopeProblem::Lowercase(_, v1)) => v1,
                _ => s.clone(),
            })
            .collect();
        let list = storable.join(" ");
        let quoted = if storable.len() > 1 {
            format!("\"{list}\"")
        } else {
            list
        };
        self.fix_scopes_command(&format!("--add {quoted}"))
    }

    /// The `fix-scopes` command that stores grant_types the way F3 reads it: the grant types
    /// already listed (however they were separated) plus client_credentials.
    pub fn fix_grant_types(&self) -> String {
        const KNOWN: [&str; 4] = [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "password",
        ];
        let stored = self
            .client_row()
            .and_then(|r| r.grant_types.clone())
            .unwrap_or_default();
        let mut types: Vec<&str> = stored
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|t| KNOWN.contains(t))
            .collect();
        if !types.contains(&"client_credentials") {
            types.push("client_credentials");
        }
        let list = types.join(" ");
        let arg = if types.len() > 1 {
            format!("\"{list}\"")
        } else {
            list
        };
        self.fix_scopes_command(&format!("--grant-types {arg}"))
    }

    /// `oemr-doctor fix-scopes` for this client with `args`, reaching the same database.
    pub fn fix_scopes_command(&self, args: &str) -> String {
        let db = match self.config.fix_db_args.trim() {
            "" => String::new(),
            extra => format!(" {extra}"),
        };
        format!(
            "oemr-doctor fix-scopes --client-id {} {args} --apply{db}",
            self.config.client_id
        )
    }
}
