//! The staged check: each stage is one module, in the order the stages run, so this folder
//! reads as the list of checks. A failing stage is a result, not a Rust error.

use std::path::PathBuf;
use std::time::Duration;

use crate::db::DbSource;

/// Everything `check` needs to probe one client against one OpenEMR site.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The install's address, such as `https://emr.example.org` or `http://host/openemr`.
    pub base_url: String,
    /// The site id.
    pub site: String,
    /// The client id the assertion names.
    pub client_id: String,
    /// The client's private key (PKCS#8 or PKCS#1 PEM).
    pub key_path: PathBuf,
    /// A local copy of the registered JWKS, when the user has one.
    pub jwks_path: Option<PathBuf>,
    /// The scopes to request, in order.
    pub scopes: Vec<String>,
    /// The database, to look at the server side too.
    pub db: Option<DbSource>,
    /// The arguments that make `oemr-doctor fix-scopes` reach the same database, already
    /// redacted, for the fix commands the report prints (empty when DATABASE_URL does it).
    pub fix_db_args: String,
    /// Timeout of each network request.
    pub timeout: Duration,
}

/// Outcome of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The stage found nothing wrong.
    Pass,
    /// Something is off but does not stop the flow.
    Warn,
    /// The stage failed; later stages that depend on it are skipped.
    Fail,
    /// Not run: an earlier stage failed, or the stage has nothing to look at.
    Skipped,
}

/// The stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageId {
    Inputs,
    Keys,
    Database,
    Discovery,
    Assertion,
    Token,
    Scopes,
    Patient,
}

impl StageId {
    /// Every stage, in order.
    pub const ALL: [StageId; 8] = [
        StageId::Inputs,
        StageId::Keys,
        StageId::Database,
        StageId::Discovery,
        StageId::Assertion,
        StageId::Token,
        StageId::Scopes,
        StageId::Patient,
    ];

    /// The stage's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            StageId::Inputs => "inputs",
            StageId::Keys => "keys",
            StageId::Database => "database",
            StageId::Discovery => "discovery",
            StageId::Assertion => "assertion",
            StageId::Token => "token",
            StageId::Scopes => "scopes",
            StageId::Patient => "patient",
        }
    }

    /// The exit code `check` ends with when this is the first failing stage.
    pub fn exit_code(self) -> i32 {
        10 + StageId::ALL
            .iter()
            .position(|s| *s == self)
            .expect("listed") as i32
    }
}

/// What one stage found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageOutcome {
    pub stage: StageId,
    pub status: Status,
    /// One line: what was found.
    pub finding: String,
    /// Supporting facts, one per line (never secrets).
    pub evidence: Vec<String>,
    /// The one fix, on failure or warning.
    pub fix: Option<String>,
    /// How long the stage took.
    #[serde(skip)]
    pub duration: Duration,
}

/// The whole check.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub stages: Vec<StageOutcome>,
}

impl Report {
    /// The first failing stage, if any.
    pub fn first_failure(&self) -> Option<&StageOutcome> {
        self.stages.iter().find(|s| s.status == Status::Fail)
    }

    /// 0 when healthy (warnings included), else the first failing stage's code.
    pub fn exit_code(&self) -> i32 {
        self.first_failure().map_or(0, |s| s.stage.exit_code())
    }
}
