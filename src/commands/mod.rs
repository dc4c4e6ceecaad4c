//! One thin file per subcommand: parse what the arguments mean, call the modules that do the
//! work, print the result.

pub mod check;
pub mod demo;
pub mod fix_scopes;
pub mod inspect;
pub mod keygen;
pub mod sandbox;

use crate::cli::Command;

/// Runs one subcommand.
pub async fn run(command: &Command) -> Outcome {
    match command {
        Command::Keygen(args) => keygen::run(args),
        Command::FixScopes(args) => fix_scopes::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Demo(args) => demo::run(args).await,
    }
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

/// Picks the database source from `--db-url`/`DATABASE_URL` or `--openemr-dir` and `--site`.
pub fn db_source(args: &crate::cli::DbArgs, site: &str) -> Option<crate::db::DbSource> {
    use crate::db::DbSource;
    if let Some(dir) = &args.openemr_dir {
        return Some(DbSource::OpenemrDir {
            dir: dir.clone(),
            site: site.to_string(),
        });
    }
    args.db_url.clone().map(DbSource::Url)
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
