//! The command line: every argument, with the doc comments that are its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::openemr::Family;

/// Set up, diagnose and repair OpenEMR SMART Backend Services (client_credentials) clients.
#[derive(Debug, Parser)]
#[command(name = "oemr-doctor", version, about, long_about = None)]
pub struct Cli {
    /// More log output on stderr: -v for each step, -vv for everything (or set RUST_LOG).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// When to colour the output (NO_COLOR is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Print only what scripts need: the result, errors and warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show secrets (database passwords, tokens) in output and logs instead of hiding them.
    #[arg(long, global = true)]
    pub show_secrets: bool,

    /// Configuration file [default: ./oemr-doctor.toml, else ~/.config/oemr-doctor/oemr-doctor.toml].
    #[arg(long, global = true, env = "OEMR_DOCTOR_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// A named [targets.NAME] section of the configuration file to use.
    #[arg(long, global = true, env = "OEMR_DOCTOR_TARGET", value_name = "NAME")]
    pub target: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make an RSA key pair and the JWKS to register with OpenEMR.
    Keygen(KeygenArgs),
    /// Show or patch a client's registered scopes (and enablement) in OpenEMR's database.
    FixScopes(FixScopesArgs),
    /// Probe a client end to end and say which stage fails, why, and the fix.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
    /// Judge what your own code produced (an assertion, a token request) by OpenEMR's rules.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Serve an emulation of OpenEMR's OAuth2 and FHIR Patient endpoints on 127.0.0.1.
    #[command(long_about = SANDBOX_ABOUT)]
    Sandbox(SandboxArgs),
    /// Show the whole flow against a sandbox in a scratch database, and what each step proves.
    Demo(DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(CompletionsArgs),
    /// Write man pages generated from these argument definitions.
    Man(ManArgs),
}

impl Command {
    /// Whether the command was asked for machine-readable JSON on stdout.
    pub fn json(&self) -> bool {
        match self {
            Command::Keygen(args) => args.json,
            Command::FixScopes(args) => args.json,
            Command::Check(args) => args.json,
            _ => false,
        }
    }
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write oemr-doctor.1 and one page per subcommand into; without it the main
    /// page goes to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The exit codes of `check`, printed under its help.
pub const CHECK_EXIT_CODES: &str = "\
Exit codes:
   0  healthy (warnings included)
   1  oemr-doctor itself could not run (I/O, unexpected failure)
   2  usage error (bad or missing arguments)
  10  first failing stage: inputs
  11  first failing stage: keys
  12  first failing stage: database
  13  first failing stage: discovery
  14  first failing stage: assertion
  15  first failing stage: token
  16  first failing stage: scopes
  17  first failing stage: patient";

/// The exit codes and examples of `inspect`, printed under its help.
pub const INSPECT_HELP: &str = "\
Every fault found is named with its fix, not just the first. The assertion, secrets and \
header values are never printed in full. Nothing is sent to the token endpoint.

Examples:
  oemr-doctor inspect \"$JWT\" --base-url https://emr.example.org
  my-client --dump-request | oemr-doctor inspect --request - --jwks jwks.json
  oemr-doctor inspect --assertion-file a.jwt --header 'Authorization: Basic ...' \\
      --body 'grant_type=client_credentials' --family f2

Exit codes:
   0  no fault found
   1  oemr-doctor itself could not run (I/O, unexpected failure)
   2  usage error (bad or missing arguments)
  20  faults found that OpenEMR refuses (or that expose a secret)
  21  only warnings: accepted by this OpenEMR, refused by other versions or servers";

const SANDBOX_ABOUT: &str = "\
Serve an emulation of OpenEMR's OAuth2 and FHIR Patient endpoints on 127.0.0.1.

This is an emulator for development and testing, not OpenEMR: it reproduces how one OpenEMR \
family (--family: f0 = 6.0, f1 = 6.1.0 to 7.0.3, f2 = 7.0.4 to 8.x, f3 = master late 2026) \
answers the client_credentials grant, discovery and FHIR Patient reads, using the real OpenEMR \
tables (oauth_clients, globals, jwt_grant_history, api_token) in the database you \
give it. Point it at a scratch database, never at a production OpenEMR database.";

/// Where OpenEMR's database is.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL, mysql://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "openemr_dir"
    )]
    pub db_url: Option<String>,

    /// OpenEMR install directory; credentials are read from sites/SITE/sqlconf.php.
    #[arg(long, env = "OEMR_DOCTOR_OPENEMR_DIR", value_name = "PATH")]
    pub openemr_dir: Option<PathBuf>,
}

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// RSA modulus size; keys under 2048 bits are refused.
    #[arg(long, default_value_t = 2048, value_parser = parse_bits)]
    pub bits: usize,

    /// Directory to write private-key.pem, public-key.pem and jwks.json into.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out: PathBuf,

    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,

    /// OpenEMR's address, to print the registration URL for it.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Site id, for the registration URL.
    #[arg(long, default_value = "default")]
    pub site: String,

    /// client_name for the registration body.
    #[arg(long, default_value = "oemr-doctor backend service")]
    pub client_name: String,

    /// Print a JSON document (schema oemr-doctor/keygen/v1) on stdout instead of the text.
    #[arg(long)]
    pub json: bool,
}

fn parse_bits(text: &str) -> Result<usize, String> {
    let bits: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of bits"))?;
    match bits {
        2048 | 3072 | 4096 => Ok(bits),
        b if b < 2048 => Err(format!("{b}-bit keys are refused: use 2048, 3072 or 4096")),
        b => Err(format!("{b} is not offered: use 2048, 3072 or 4096")),
    }
}

/// Arguments of `fix-scopes`.
#[derive(Debug, Args)]
pub struct FixScopesArgs {
    /// The client, by client_name.
    #[arg(long, value_name = "NAME", conflicts_with = "client_id")]
    pub client: Option<String>,

    /// The client, by client_id.
    #[arg(long, env = "OEMR_DOCTOR_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    #[command(flatten)]
    pub db: DbArgs,

    /// Site id, for --openemr-dir [default: default].
    #[arg(long, env = "OEMR_DOCTOR_SITE")]
    pub site: Option<String>,

    /// Scopes to add (space-separated; repeatable).
    #[arg(long, value_name = "SCOPES", conflicts_with = "set")]
    pub add: Vec<String>,

    /// Scopes to remove (space-separated; repeatable).
    #[arg(long, value_name = "SCOPES", conflicts_with = "set")]
    pub remove: Vec<String>,

    /// Replace the registered scopes with exactly these (space-separated).
    #[arg(long, value_name = "SCOPES")]
    pub set: Option<String>,

    /// Also enable the client (is_enabled = 1), as Admin > System > API Clients does.
    #[arg(long)]
    pub enable: bool,

    /// Set grant_types (space, comma or | separated; stored |-separated as OpenEMR reads it).
    #[arg(long, value_name = "TYPES")]
    pub grant_types: Option<String>,

    /// Write the change; without it the change is only shown.
    #[arg(long)]
    pub apply: bool,

    /// Print a JSON document (schema oemr-doctor/fix-scopes/v1) on stdout instead of the text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `check`. Each may also come from the environment or the configuration file.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// OpenEMR's address, such as https://emr.example.org or http://host/openemr.
    #[arg(long, env = "OEMR_DOCTOR_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Site id [default: default].
    #[arg(long, env = "OEMR_DOCTOR_SITE")]
    pub site: Option<String>,

    /// The client id to probe.
    #[arg(long, env = "OEMR_DOCTOR_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,

    /// The client's private key (PKCS#8 or PKCS#1 PEM).
    #[arg(long, env = "OEMR_DOCTOR_KEY", value_name = "PATH")]
    pub key: Option<PathBuf>,

    /// The JWKS registered for the client, to compare the key with.
    #[arg(long, env = "OEMR_DOCTOR_JWKS", value_name = "PATH")]
    pub jwks: Option<PathBuf>,

    /// Scopes to request, space-separated [default: system/Patient.read].
    #[arg(long, env = "OEMR_DOCTOR_SCOPE")]
    pub scope: Option<String>,

    #[command(flatten)]
    pub db: DbArgs,

    /// Judge by this family's rules instead of the detected one: f0 (6.0), f1 (6.1.0 to
    /// 7.0.3), f2 (7.0.4 to 8.x) or f3 (master, late 2026).
    #[arg(long, value_name = "FAMILY", value_parser = parse_family)]
    pub family: Option<Family>,

    /// Seconds each network request may take [default: 15].
    #[arg(long, env = "OEMR_DOCTOR_TIMEOUT", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<u64>,

    /// Print a JSON document (schema oemr-doctor/check/v1) on stdout instead of the report.
    #[arg(long)]
    pub json: bool,

    /// Report only these stages (comma-separated, see --list-stages); the stages they need
    /// still run, and show up only if they fail.
    #[arg(long, value_delimiter = ',', value_name = "STAGES")]
    pub only: Vec<String>,

    /// List the stages, what each checks and its exit code, and exit.
    #[arg(long)]
    pub list_stages: bool,

    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The client assertion (a compact JWT); `-` reads it from stdin.
    #[arg(value_name = "ASSERTION", conflicts_with = "assertion_file")]
    pub assertion: Option<String>,

    /// Read the assertion from a file (`-` for stdin).
    #[arg(long, value_name = "PATH")]
    pub assertion_file: Option<PathBuf>,

    /// The token request as captured: raw HTTP text (request line, headers, blank line,
    /// body) in a file, or `-` for stdin.
    #[arg(long, value_name = "PATH")]
    pub request: Option<PathBuf>,

    /// A header of the token request, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// The token request's body as sent; `@PATH` reads it from a file.
    #[arg(long, value_name = "BODY")]
    pub body: Option<String>,

    /// The URL the token request was posted to.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// OpenEMR's address, to compare with what its discovery advertises.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,

    /// Site id.
    #[arg(long, default_value = "default")]
    pub site: String,

    /// The client id (default: the assertion's sub).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// The JWKS registered for the client.
    #[arg(long, value_name = "PATH")]
    pub jwks: Option<PathBuf>,

    #[command(flatten)]
    pub db: DbArgs,

    /// Judge by this family's rules instead of the detected one: f0 (6.0), f1 (6.1.0 to
    /// 7.0.3), f2 (7.0.4 to 8.x) or f3 (master, late 2026).
    #[arg(long, value_name = "FAMILY", value_parser = parse_family)]
    pub family: Option<Family>,

    /// Seconds each network request may take.
    #[arg(long, default_value_t = 15, value_name = "SECS")]
    pub timeout: u64,
}

/// How `check` reaches OpenEMR over the network. Each may also come from the environment or
/// the configuration file.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Network")]
pub struct NetworkArgs {
    /// Seconds to open a connection, TLS handshake included [default: 5].
    #[arg(long, env = "OEMR_DOCTOR_CONNECT_TIMEOUT", value_name = "SECS",
          value_parser = parse_secs)]
    pub connect_timeout: Option<u64>,

    /// Warn about any exchange that takes longer than this many seconds [default: 3].
    #[arg(long, env = "OEMR_DOCTOR_SLOW", value_name = "SECS", value_parser = parse_secs)]
    pub slow: Option<u64>,

    /// PEM file of CA certificates to trust besides the public roots, for a server with a
    /// private CA or a self-signed certificate.
    #[arg(long, env = "OEMR_DOCTOR_CA_CERT", value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,

    /// DANGEROUS: accept any TLS certificate, with no check of its issuer, name or dates, so
    /// that anyone on the path can read and change the traffic. Every run with it says so in
    /// a warning. Use it only to look past a certificate problem, never in production.
    #[arg(long, env = "OEMR_DOCTOR_INSECURE")]
    pub insecure: bool,

    /// Proxy for every request, http://HOST:PORT, instead of HTTPS_PROXY/HTTP_PROXY/ALL_PROXY
    /// (NO_PROXY still applies).
    #[arg(long, env = "OEMR_DOCTOR_PROXY", value_name = "URL")]
    pub proxy: Option<String>,
}

fn parse_secs(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("must be at least 1 second".to_string()),
        Ok(secs) => Ok(secs),
        Err(_) => Err(format!("{text:?} is not a whole number of seconds")),
    }
}

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Scratch database for the sandbox's OpenEMR tables, mysql://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub db_url: String,

    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8300)]
    pub port: u16,

    /// Sites that exist (repeatable).
    #[arg(long = "site", default_value = "default")]
    pub sites: Vec<String>,

    /// Web root the install lives under, such as /openemr.
    #[arg(long, default_value = "")]
    pub webroot: String,

    /// Create the tables and seed a fresh install (API switched on, one patient) first.
    #[arg(long)]
    pub init: bool,

    /// OpenEMR family to behave as: f0 (6.0), f1 (6.1.0 to 7.0.3), f2 (7.0.4 to 8.x) or f3
    /// (master, late 2026).
    #[arg(long, default_value = "f1", value_parser = parse_family)]
    pub family: Family,

    /// Serve HTTPS with this certificate chain (PEM, leaf first) instead of plain HTTP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn parse_family(name: &str) -> Result<Family, String> {
    Family::from_name(name).ok_or_else(|| format!("{name:?} is not one of f0, f1, f2, f3"))
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// MariaDB/MySQL server to make the scratch database on (an account that may create and
    /// drop databases), mysql://USER:PASSWORD@HOST:PORT.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub db_url: Option<String>,

    /// Keep the scratch database and key files afterwards, to look at them.
    #[arg(long)]
    pub keep: bool,
}
