//! The staged check: each stage is one module, in the order the stages run, so this folder
//! reads as the list of checks. A failing stage is a result, not a Rust error.

mod context;
pub mod http;

mod assertion;
mod database;
pub mod discovery;
mod inputs;
pub mod inspect;
mod inspect_server;
pub mod keys;
mod patient;
mod scopes;
mod token;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::db::DbSource;
use crate::openemr::Family;
use context::Context;

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
    /// Timeouts, trust and proxies for every request.
    pub network: crate::net::NetworkOptions,
}

/// How a check runs, beside what it checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeOptions {
    /// The family whose rules apply, instead of the detected one.
    pub family: Option<Family>,
    /// Seconds added to this machine's clock, to reproduce a client whose clock drifted.
    pub clock_offset_secs: i64,
    /// The last stage to run (`check --only` needs no stage after the ones it names).
    pub last_stage: Option<StageId>,
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

    /// The stage named `name`, as `--only` spells it.
    pub fn from_name(name: &str) -> Option<StageId> {
        StageId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What the stage checks, for `--list-stages`.
    pub fn description(self) -> &'static str {
        match self {
            StageId::Inputs => "the base URL, site, client id, scopes and key file make sense",
            StageId::Keys => {
                "the private key loads, is 2048 bits or more, and is in the registered JWKS"
            }
            StageId::Database => {
                "the client row and the globals that gate the API (with a database)"
            }
            StageId::Discovery => "smart-configuration and metadata: token endpoint and version",
            StageId::Assertion => {
                "an RS384 client assertion is built and checked against the family's rules"
            }
            StageId::Token => "the token request, its answer classified into causes",
            StageId::Scopes => "the granted scopes against the requested ones",
            StageId::Patient => "a FHIR Patient search with the access token",
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

impl StageOutcome {
    fn new(stage: StageId, status: Status, finding: impl Into<String>) -> StageOutcome {
        StageOutcome {
            stage,
            status,
            finding: finding.into(),
            evidence: Vec::new(),
            fix: None,
            duration: Duration::ZERO,
        }
    }

    /// A passing outcome.
    pub fn pass(stage: StageId, finding: impl Into<String>) -> StageOutcome {
        StageOutcome::new(stage, Status::Pass, finding)
    }

    /// A warning.
    pub fn warn(stage: StageId, finding: impl Into<String>) -> StageOutcome {
        StageOutcome::new(stage, Status::Warn, finding)
    }

    /// A failure.
    pub fn fail(stage: StageId, finding: impl Into<String>) -> StageOutcome {
        StageOutcome::new(stage, Status::Fail, finding)
    }

    /// A stage that did not run, and why.
    pub fn skipped(stage: StageId, why: impl Into<String>) -> StageOutcome {
        StageOutcome::new(stage, Status::Skipped, why)
    }

    /// Adds one evidence line.
    pub fn evidence(mut self, line: impl Into<String>) -> StageOutcome {
        self.evidence.push(line.into());
        self
    }

    /// Adds evidence lines.
    pub fn evidence_lines(mut self, lines: impl IntoIterator<Item = String>) -> StageOutcome {
        self.evidence.extend(lines);
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> StageOutcome {
        self.fix = Some(fix.into());
        self
    }
}

/// Runs every stage in order against the configured client and server.
///
/// Never fails: whatever goes wrong, including the database or server being unreachable, is a
/// stage outcome in the report.
pub async fn run(config: &CheckConfig) -> Report {
    run_with(config, ProbeOptions::default()).await
}

/// [`run`] with options.
pub async fn run_with(config: &CheckConfig, options: ProbeOptions) -> Report {
    let mut ctx = Context::new(config, options);
    let mut report = Report::default();
    let wanted = |stage: &StageId| options.last_stage.is_none_or(|last| *stage <= last);
    for stage in StageId::ALL.into_iter().filter(wanted) {
        let started = Instant::now();
        let mut outcome = match blocker(&ctx, stage) {
            Some(why) => StageOutcome::skipped(stage, why),
            None => run_stage(&mut ctx, stage).await,
        };
        outcome.duration = started.elapsed();
        let outcome = network_notes(&ctx, stage, outcome);
        ctx.record(stage, outcome.status);
        report.stages.push(outcome);
    }
    report
}

/// Adds what the network layer noticed to a stage: exchanges slower than `--slow`, and on the
/// inputs stage the `--insecure` warning, so neither can pass unseen.
fn network_notes(ctx: &Context<'_>, stage: StageId, mut outcome: StageOutcome) -> StageOutcome {
    let mut notes = ctx.http.as_ref().map(|h| h.take_slow()).unwrap_or_default();
    if stage == StageId::Inputs {
        notes.extend(ctx.config.network.insecure_warning().map(str::to_string));
    }
    if notes.is_empty() {
        return outcome;
    }
    if outcome.status == Status::Pass {
        outcome.status = Status::Warn;
        outcome.fix = Some(
            match ctx.config.network.insecure && stage == StageId::Inputs {
                true => "drop --insecure; trust the server's CA with --ca-cert PATH instead".into(),
                false => {
                    "look at the server's load or the network path; --slow SECS sets the threshold"
                        .into()
                }
            },
        );
    }
    outcome.evidence.extend(notes);
    outcome
}

async fn run_stage(ctx: &mut Context<'_>, stage: StageId) -> StageOutcome {
    match stage {
        StageId::Inputs => inputs::run(ctx),
        StageId::Keys => {
            database::gather(ctx).await;
            keys::run(ctx).await
        }
        StageId::Database => database::run(ctx),
        StageId::Discovery => discovery::run(ctx).await,
        StageId::Assertion => assertion::run(ctx),
        StageId::Token => token::run(ctx).await,
        StageId::Scopes => scopes::run(ctx),
        StageId::Patient => patient::run(ctx).await,
    }
}

/// Why `stage` cannot run, naming the earlier stage it depends on.
fn blocker(ctx: &Context<'_>, stage: StageId) -> Option<String> {
    let failed = |s: StageId| ctx.status(s) == Some(Status::Fail);
    let skipped = |s: StageId| ctx.status(s) == Some(Status::Skipped);
    let because = |s: StageId, what: &str| format!("skipped: stage {} {what}", s.name());
    if stage != StageId::Inputs && failed(StageId::Inputs) {
        return Some(because(StageId::Inputs, "failed"));
    }
    match stage {
        StageId::Database if ctx.config.db.is_none() => {
            Some("skipped: not asked (no database given)".to_string())
        }
        StageId::Assertion if ctx.key.is_none() => Some(because(
            StageId::Keys,
            "failed: no usable private key to sign with",
        )),
        StageId::Token | StageId::Patient if ctx.discovery.unreachable.is_some() => {
            Some(because(StageId::Discovery, "could not reach the server"))
        }
        StageId::Token | StageId::Patient if ctx.discovery.not_openemr.is_some() => Some(because(
            StageId::Discovery,
            "found a web page, not OpenEMR's API, so no assertion is sent there",
        )),
        StageId::Token if failed(StageId::Assertion) || skipped(StageId::Assertion) => Some(
            because(StageId::Assertion, "did not produce a valid assertion"),
        ),
        StageId::Scopes | StageId::Patient if ctx.token.is_none() => {
            Some(because(StageId::Token, "did not get an access token"))
        }
        _ => None,
    }
}
