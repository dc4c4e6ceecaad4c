//! `oemr-doctor check`: run the staged probe and print its report.

use std::time::Duration;

use super::{db_source, Outcome};
use crate::cli::CheckArgs;
use crate::db::{redact_url, DbSource};
use crate::probe::{self, CheckConfig, ProbeOptions};
use crate::report::human;

/// Runs check; the exit code names the first failing stage.
pub async fn run(args: &CheckArgs) -> Outcome {
    let config = CheckConfig {
        base_url: args.base_url.clone(),
        site: args.site.clone(),
        client_id: args.client_id.clone(),
        key_path: args.key.clone(),
        jwks_path: args.jwks.clone(),
        scopes: args.scope.split_whitespace().map(str::to_string).collect(),
        db: db_source(&args.db, &args.site),
        fix_db_args: fix_db_args(args),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let options = ProbeOptions {
        family: args.family,
        clock_offset_secs: 0,
    };
    let report = probe::run_with(&config, options).await;
    print!("{}", human::render_with(&report, super::render_options()));
    Ok(report.exit_code())
}

/// How the printed fix commands reach the same database, with no password in them.
fn fix_db_args(args: &CheckArgs) -> String {
    let source = db_source(&args.db, &args.site);
    match source {
        Some(DbSource::OpenemrDir { dir, site }) => {
            format!(
                " --openemr-dir {} --site {site}",
                shell_word(&dir.display().to_string())
            )
        }
        Some(DbSource::Url(url)) if std::env::var("DATABASE_URL").ok().as_ref() == Some(&url) => {
            String::new()
        }
        Some(DbSource::Url(url)) => format!(" --db-url {}", shell_word(&redact_url(&url))),
        None => " --db-url mysql://USER:PASSWORD@HOST:PORT/DATABASE".to_string(),
    }
}

/// Quotes a word for a POSIX shell when it needs quoting.
pub fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:@=+,".contains(c));
    if plain && !word.is_empty() {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
