//! One thin file per subcommand: parse what the arguments mean, call the modules that do the
//! work, print the result.

pub mod check;
pub mod completions;
pub mod demo;
pub mod fix_scopes;
pub mod inspect;
pub mod keygen;
pub mod sandbox;

use crate::cli::{Cli, Command};
use crate::config::{ConfigError, ConfigFile, Profile};

/// Runs the subcommand the command line names.
pub async fn run(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Keygen(args) => keygen::run(args, cli.quiet),
        Command::FixScopes(args) => fix_scopes::run(args, &profile(cli)?).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Check(args) => check::run(args, &profile(cli)?, cli.quiet).await,
        Command::Inspect(args) => inspect::run(args, &profile(cli)?).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

/// Prints a JSON document on stdout, the only thing stdout carries in `--json` mode.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("a JSON value always serialises")
    );
}

/// The JSON document a failing `--json` command prints on stdout, so scripts always get JSON.
pub fn failure_json(failure: &Failure) -> serde_json::Value {
    serde_json::json!({
        "schema": "oemr-doctor/error/v1",
        "error": failure.error.to_string(),
        "causes": failure.error.chain().skip(1).map(|c| c.to_string()).collect::<Vec<_>>(),
        "hint": failure.hint,
        "exit_code": failure.code,
    })
}

/// `error:` then one `caused by:` line per cause, then `hint:`, for stderr.
pub fn render_failure(failure: &Failure) -> String {
    let mut out = format!("error: {}\n", failure.error);
    for cause in failure.error.chain().skip(1) {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    if let Some(hint) = &failure.hint {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

/// A failure that ends a command, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// 1: oemr-doctor could not complete; 2: the user's input must change.
    pub code: i32,
    /// What went wrong, with its causes.
    pub error: anyhow::Error,
    /// The one thing to do about it, when known.
    pub hint: Option<String>,
}

impl Failure {
    /// A problem with the user's input (exit code 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
            hint: None,
        }
    }

    /// oemr-doctor could not complete (exit code 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
            hint: None,
        }
    }

    /// Adds the hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// What a command returns: the exit code on success, or the failure.
pub type Outcome = Result<i32, Failure>;

/// The configuration file's settings for `--target` (all unset when there is no file).
pub fn profile(cli: &Cli) -> Result<Profile, Failure> {
    let file = ConfigFile::find(cli.config.as_deref()).map_err(config_failure)?;
    if let Some(file) = &file {
        tracing::info!(path = %file.path.display(), target = ?cli.target, "configuration file");
    }
    let profile = match (&file, &cli.target) {
        (Some(file), target) => file.profile(target.as_deref()),
        (None, Some(target)) => Err(ConfigError::NoFile(target.clone())),
        (None, None) => Ok(Profile::default()),
    };
    profile.map_err(config_failure)
}

fn config_failure(error: ConfigError) -> Failure {
    match error {
        // A file that exists but cannot be read is this machine's problem; a path that names
        // nothing is the caller's.
        ConfigError::Read { ref source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
            Failure::runtime(error)
        }
        other => Failure::usage(other),
    }
}

/// Picks the database source: flags and environment first (`--db-url`/`DATABASE_URL` or
/// `--openemr-dir`), then the configuration file.
pub fn db_source(
    args: &crate::cli::DbArgs,
    profile: &Profile,
    site: &str,
) -> Option<crate::db::DbSource> {
    use crate::db::DbSource;
    let from_dir = |dir: &std::path::PathBuf| DbSource::OpenemrDir {
        dir: dir.clone(),
        site: site.to_string(),
    };
    match (&args.openemr_dir, &args.db_url) {
        (Some(dir), _) => Some(from_dir(dir)),
        (None, Some(url)) => Some(DbSource::Url(url.clone())),
        (None, None) => profile
            .openemr_dir
            .as_ref()
            .map(from_dir)
            .or_else(|| profile.db_url.clone().map(DbSource::Url)),
    }
}

/// How to draw reports on this stdout: colour as `--color`/NO_COLOR decided, Unicode marks only
/// on a terminal whose locale can show them (pipes and logs get ASCII marks).
pub fn render_options() -> crate::report::human::RenderOptions {
    let term = console::Term::stdout().is_term();
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default();
    let utf8 = locale.to_ascii_lowercase().contains("utf");
    crate::report::human::RenderOptions {
        color: console::colors_enabled(),
        unicode: term && utf8,
    }
}
