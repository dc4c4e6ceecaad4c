//! `oemr-doctor check`: run the staged probe and print its report.

use std::time::Duration;

use super::{db_source, Failure, Outcome};
use crate::cli::CheckArgs;
use crate::config::Profile;
use crate::db::{redact_url, DbSource};
use crate::probe::{self, CheckConfig, ProbeOptions, StageId, Status};
use crate::report::human;

/// Runs check; the exit code names the first failing stage.
pub async fn run(args: &CheckArgs, profile: &Profile, quiet: bool) -> Outcome {
    if args.list_stages {
        print!("{}", stage_list());
        return Ok(0);
    }
    let only = only_stages(&args.only)?;
    let config = resolve(args, profile)?;
    log_effective(&config);
    let options = ProbeOptions {
        family: args.family,
        clock_offset_secs: 0,
        last_stage: only.iter().max().copied(),
    };
    let mut report = probe::run_with(&config, options).await;
    // Stages run only because a chosen one needs them are shown when they fail, as the cause.
    if !only.is_empty() {
        report
            .stages
            .retain(|s| only.contains(&s.stage) || s.status == Status::Fail);
    }
    if quiet && !args.json {
        report.stages.retain(|s| s.status != Status::Pass);
    }
    if args.json {
        let mut document = crate::report::json::render(&report);
        document["target"] = serde_json::json!({
            "base_url": config.base_url,
            "site": config.site,
            "client_id": config.client_id,
            "scopes": config.scopes,
        });
        super::print_json(&document);
    } else {
        print!("{}", human::render_with(&report, super::render_options()));
    }
    Ok(report.exit_code())
}

/// `--list-stages`: each stage, its exit code, and what it checks.
fn stage_list() -> String {
    StageId::ALL
        .iter()
        .map(|s| {
            format!(
                "{:<10} {:>3}  {}\n",
                s.name(),
                s.exit_code(),
                s.description()
            )
        })
        .collect()
}

/// The stages `--only` names, refusing unknown names with the list of known ones.
fn only_stages(names: &[String]) -> Result<Vec<StageId>, Failure> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|name| {
            StageId::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = StageId::ALL.iter().map(|s| s.name()).collect();
                Failure::usage(anyhow::anyhow!("--only: unknown stage {name:?}"))
                    .hint(format!("stages are: {}", known.join(", ")))
            })
        })
        .collect()
}

/// Flags and environment first, then the configuration file, then the built-in defaults.
pub fn resolve(args: &CheckArgs, profile: &Profile) -> Result<CheckConfig, Failure> {
    let p = profile.clone();
    let base_url = required(
        args.base_url.clone().or(p.base_url),
        "--base-url",
        "BASE_URL",
        "base_url",
    )?;
    let client_id = required(
        args.client_id.clone().or(p.client_id),
        "--client-id",
        "CLIENT_ID",
        "client_id",
    )?;
    let key_path = required(args.key.clone().or(p.key), "--key", "KEY", "key")?;
    let site = args
        .site
        .clone()
        .or(p.site)
        .unwrap_or_else(|| "default".to_string());
    let scope = args
        .scope
        .clone()
        .or(p.scope)
        .unwrap_or_else(|| "system/Patient.read".into());
    let timeout = args.timeout.or(p.timeout).unwrap_or(15).max(1);
    let db = db_source(&args.db, profile, &site);
    Ok(CheckConfig {
        fix_db_args: fix_db_args(db.as_ref()),
        base_url,
        site,
        client_id,
        key_path,
        jwks_path: args.jwks.clone().or(p.jwks),
        scopes: scope.split_whitespace().map(str::to_string).collect(),
        db,
        timeout: Duration::from_secs(timeout),
    })
}

fn required<T>(value: Option<T>, flag: &str, env: &str, key: &str) -> Result<T, Failure> {
    value.ok_or_else(|| {
        Failure::usage(anyhow::anyhow!("{flag} is required")).hint(format!(
            "pass {flag}, set OEMR_DOCTOR_{env}, or set {key} in oemr-doctor.toml"
        ))
    })
}

/// `-v` shows the configuration in effect, with the database password hidden.
fn log_effective(config: &CheckConfig) {
    let db = config.db.as_ref().map(|source| match source {
        DbSource::Url(url) => redact_url(url),
        DbSource::OpenemrDir { dir, site } => format!("{} (site {site})", dir.display()),
    });
    tracing::info!(
        base_url = %config.base_url,
        site = %config.site,
        client_id = %config.client_id,
        key = %config.key_path.display(),
        jwks = ?config.jwks_path,
        scopes = ?config.scopes,
        db = ?db,
        timeout_secs = config.timeout.as_secs(),
        "effective configuration"
    );
}

/// How the printed fix commands reach the same database, with no password in them.
fn fix_db_args(source: Option<&DbSource>) -> String {
    match source {
        Some(DbSource::OpenemrDir { dir, site }) => {
            format!(
                "--openemr-dir {} --site {site}",
                shell_word(&dir.display().to_string())
            )
        }
        Some(DbSource::Url(url)) if std::env::var("DATABASE_URL").ok().as_ref() == Some(url) => {
            String::new()
        }
        // The password is replaced by a placeholder the user fills in, never printed.
        Some(DbSource::Url(url)) => {
            let placeholder = redact_url(url).replacen(":***@", ":PASSWORD@", 1);
            format!("--db-url {}", shell_word(&placeholder))
        }
        None => "--db-url mysql://USER:PASSWORD@HOST:PORT/DATABASE".to_string(),
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
