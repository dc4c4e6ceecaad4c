//! `oemr-doctor check`: run the staged probe and print its report.

use std::time::Duration;

use super::{db_source, Failure, Outcome};
use crate::cli::CheckArgs;
use crate::config::Profile;
use crate::db::{redact_url, DbSource};
use crate::net::{self, NetworkOptions, ProxyEnv};
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
        network: network_options(args, profile)?,
    })
}

/// The network settings of `check`, resolved like [`resolve`]: flags and environment, then
/// the configuration file, then the defaults. A `--ca-cert` file that cannot be used and an
/// unusable proxy (flag, file or environment) are usage errors, found before any request.
pub fn network_options(args: &CheckArgs, profile: &Profile) -> Result<NetworkOptions, Failure> {
    let net = &args.network;
    let p = profile.clone();
    let secs = |flag: Option<u64>, file: Option<u64>, default: u64| {
        Duration::from_secs(flag.or(file).unwrap_or(default).max(1))
    };
    let options = NetworkOptions {
        connect_timeout: secs(
            net.connect_timeout,
            p.connect_timeout,
            net::DEFAULT_CONNECT_TIMEOUT_SECS,
        ),
        timeout: secs(args.timeout, p.timeout, net::DEFAULT_TIMEOUT_SECS),
        slow_after: secs(net.slow, p.slow, net::DEFAULT_SLOW_SECS),
        ca_cert: net.ca_cert.clone().or(p.ca_cert),
        // A flag can only switch it on, so the file's `insecure = true` is undone by editing
        // the file, not by a flag.
        insecure: net.insecure || p.insecure.unwrap_or(false),
        proxy: net.proxy.clone().or(p.proxy),
        proxy_env: ProxyEnv::from_process(),
    };
    check_network_options(&options)?;
    Ok(options)
}

fn check_network_options(options: &NetworkOptions) -> Result<(), Failure> {
    if let Some(path) = &options.ca_cert {
        net::read_ca_file(path).map_err(|e| {
            Failure::usage(e).hint(
                "--ca-cert (OEMR_DOCTOR_CA_CERT, ca_cert) takes a PEM file with one or more \
                 -----BEGIN CERTIFICATE----- blocks",
            )
        })?;
    }
    net::proxy::check_settings(options).map_err(|e| {
        Failure::usage(e)
            .hint("a proxy is written http://HOST:PORT (or http://USER:PASS@HOST:PORT)")
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
        timeout_secs = config.network.timeout.as_secs(),
        connect_timeout_secs = config.network.connect_timeout.as_secs(),
        insecure = config.network.insecure,
        ca_cert = ?config.network.ca_cert,
        "effective configuration"
    );
    if let Ok(url) = url::Url::parse(&config.base_url) {
        match crate::net::route(&url, &config.network) {
            Ok(route) => tracing::info!(route = %route.describe(), "network route"),
            Err(e) => tracing::info!(error = %e, "network route"),
        }
    }
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
