//! `oemr-doctor fix-scopes`: show a client's row, and patch its registered scopes (and
//! enablement and grant types) in one guarded transaction.

use std::fmt::Write as _;

use super::{db_source, Failure, Outcome};
use crate::cli::FixScopesArgs;
use crate::config::Profile;
use crate::db::clients::{ClientRow, ClientSelector, SelectError, UpdateError};
use crate::db::Database;
use crate::openemr::scopes::{self, edit_registered};
use crate::openemr::Family;

/// Grant types OpenEMR knows.
const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
];

/// Runs fix-scopes.
pub async fn run(args: &FixScopesArgs, profile: &Profile) -> Outcome {
    let site = args
        .site
        .clone()
        .or_else(|| profile.site.clone())
        .unwrap_or_else(|| "default".into());
    crate::openemr::urls::validate_site(&site).map_err(Failure::usage)?;
    let source = db_source(&args.db, profile, &site).ok_or_else(|| {
        Failure::usage(anyhow::anyhow!("no database given")).hint(
            "pass --db-url mysql://USER:PASSWORD@HOST:PORT/DATABASE (or set \
                DATABASE_URL), or --openemr-dir PATH",
        )
    })?;
    let db = source.connect().await.map_err(Failure::runtime)?;
    tracing::info!(database = %db.target, "connected");
    let selector = selector(args, profile)?;
    let before = db.find_client(&selector).await.map_err(select_failure)?;
    tracing::info!(client_id = %before.client_id, scope = ?before.scope, "client row read");
    let family = family_of(&db).await;
    tracing::info!(%family, "checking scopes against this version family");

    let after = planned_row(&before, args, family)?;
    if after == before {
        return finish(args, &before, &after, None, "nothing to change");
    }
    if !args.apply {
        return finish(args, &before, &after, None, "dry run: nothing was written");
    }
    let written = db
        .update_client(&before, &after)
        .await
        .map_err(update_failure)?;
    finish(args, &before, &after, Some(&written), "written")
}

/// Prints the outcome, as text or as the `--json` document.
fn finish(
    args: &FixScopesArgs,
    before: &ClientRow,
    after: &ClientRow,
    written: Option<&ClientRow>,
    outcome: &str,
) -> Outcome {
    if args.json {
        super::print_json(&json_document(before, after, written, outcome));
        return Ok(0);
    }
    print!("{}", describe(before));
    if after == before {
        println!("\nNothing to change.");
        return Ok(0);
    }
    print!("\n{}", diff(before, after));
    match written {
        None => println!("\nDry run: nothing was written. Add --apply to write this change."),
        Some(row) => {
            println!(
                "\nWritten: 1 row of oauth_clients updated; OpenEMR uses it from the next \
                token request."
            );
            print!("{}", describe(row));
        }
    }
    Ok(0)
}

/// fix-scopes' `--json` output, schema `oemr-doctor/fix-scopes/v1`: the row before, the change,
/// and the row after (null unless written).
fn json_document(
    before: &ClientRow,
    after: &ClientRow,
    written: Option<&ClientRow>,
    outcome: &str,
) -> serde_json::Value {
    let old = scopes::split_loose(before.scope_text());
    let new = scopes::split_loose(after.scope_text());
    serde_json::json!({
        "schema": "oemr-doctor/fix-scopes/v1",
        "outcome": outcome,
        "applied": written.is_some(),
        "before": before,
        "change": {
            "scope": {
                "from": before.scope,
                "to": after.scope,
                "added": new.iter().filter(|s| !old.contains(s)).collect::<Vec<_>>(),
                "removed": old.iter().filter(|s| !new.contains(s)).collect::<Vec<_>>(),
            },
            "is_enabled": { "from": before.is_enabled, "to": after.is_enabled },
            "grant_types": { "from": before.grant_types, "to": after.grant_types },
        },
        "after": written,
    })
}

fn selector(args: &FixScopesArgs, profile: &Profile) -> Result<ClientSelector, Failure> {
    match (&args.client, &args.client_id, &profile.client_id) {
        (Some(name), _, _) => Ok(ClientSelector::Name(name.clone())),
        (None, Some(id), _) | (None, None, Some(id)) => Ok(ClientSelector::Id(id.clone())),
        (None, None, None) => Err(Failure::usage(anyhow::anyhow!("no client given"))
            .hint("pass --client NAME or --client-id ID (or client_id in oemr-doctor.toml)")),
    }
}

async fn family_of(db: &Database) -> Family {
    match db.recorded_version().await {
        Ok(Some(version)) => Family::from_version(&version).unwrap_or(Family::F1),
        Ok(None) | Err(_) => {
            tracing::info!("no version recorded in the database; checking scopes as 6.1 to 7.0.3");
            Family::F1
        }
    }
}

/// The row as it will be after the requested change, or the reasons the change is refused.
fn planned_row(
    before: &ClientRow,
    args: &FixScopesArgs,
    family: Family,
) -> Result<ClientRow, Failure> {
    let mut after = before.clone();
    let add: Vec<&str> = args
        .add
        .iter()
        .flat_map(|a| scopes::split_loose(a))
        .collect();
    let remove: Vec<&str> = args
        .remove
        .iter()
        .flat_map(|r| scopes::split_loose(r))
        .collect();
    let set: Option<Vec<&str>> = args.set.as_deref().map(scopes::split_loose);
    if args.set.is_some() || !add.is_empty() || !remove.is_empty() {
        let incoming = set.iter().flatten().chain(add.iter());
        check_scopes(incoming.copied(), family)?;
        let text = edit_registered(before.scope_text(), args.set.as_deref(), &add, &remove);
        if text.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "the change would leave client {} with no registered scopes",
                before.client_id
            ))
            .hint("nothing was written; a client without scopes gets tokens that open nothing"));
        }
        warn_backend_misfits(&text);
        after.scope = Some(text);
    }
    if args.enable {
        after.is_enabled = true;
    }
    if let Some(types) = &args.grant_types {
        after.grant_types = Some(grant_types(types)?);
    }
    Ok(after)
}

fn check_scopes<'a>(
    incoming: impl Iterator<Item = &'a str>,
    family: Family,
) -> Result<(), Failure> {
    let problems: Vec<String> = incoming
        .filter_map(|s| scopes::validate(s, family).err())
        .map(|p| format!("  {p}"))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(anyhow::anyhow!(
        "refusing to write scopes OpenEMR {} cannot use:\n{}",
        family.versions(),
        problems.join("\n")
    ))
    .hint("nothing was written; correct the scopes named above"))
}

/// Scopes that are valid but wrong for a backend-services client: said on stderr, not refused.
fn warn_backend_misfits(scopes_text: &str) {
    for scope in scopes::split_loose(scopes_text) {
        if scope.starts_with("patient/") || scope.starts_with("launch") {
            eprintln!(
                "warning: {scope:?} is for apps launched with a patient; a client_credentials \
                 token carrying it can be put in patient context and refused"
            );
        } else if scope.starts_with("user/") {
            eprintln!(
                "warning: {scope:?} does nothing for a client_credentials token (system/ \
                scopes do)"
            );
        }
    }
}

fn grant_types(text: &str) -> Result<String, Failure> {
    let types: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(bad) = types.iter().find(|t| !GRANT_TYPES.contains(t)) {
        return Err(
            Failure::usage(anyhow::anyhow!("unknown grant type {bad:?}"))
                .hint(format!("use some of: {}", GRANT_TYPES.join(", "))),
        );
    }
    if types.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!("--grant-types is empty")));
    }
    Ok(types.join("|"))
}

fn yes_no(flag: bool) -> &'static str {
    if flag {
        "yes"
    } else {
        "no"
    }
}

fn set_or_not(value: &Option<String>, present: bool) -> String {
    match value {
        _ if present => "set".to_string(),
        Some(v) if !v.is_empty() => format!("unusable ({:?})", truncate(v, 20)),
        _ => "not set".to_string(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect::<String>()
        + if text.chars().count() > max {
            "..."
        } else {
            ""
        }
}

/// What matters in a client's row, one field a line.
pub fn describe(row: &ClientRow) -> String {
    let mut out = String::new();
    let text = row.scope_text();
    // Tabs and newlines are shown escaped, so they are visible and cannot break the layout.
    let scope_line = match text {
        "" => "(none)".to_string(),
        t if t.chars().any(|c| c.is_control()) => format!("{t:?}"),
        t => t.to_string(),
    };
    let _ = writeln!(out, "client_id     {}", row.client_id);
    let _ = writeln!(out, "client_name   {}", row.client_name);
    let _ = writeln!(out, "enabled       {}", yes_no(row.is_enabled));
    let _ = writeln!(out, "confidential  {}", yes_no(row.is_confidential));
    let _ = writeln!(
        out,
        "grant_types   {}",
        row.grant_types.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(
        out,
        "jwks          {}",
        set_or_not(&row.jwks, row.has_jwks())
    );
    let _ = writeln!(
        out,
        "jwks_uri      {}",
        row.jwks_uri
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or("not set")
    );
    let _ = writeln!(out, "scope         {scope_line}");
    let malformed = scopes::malformed_entries(row.scope_text());
    if !malformed.is_empty() {
        let _ = writeln!(
            out,
            "              (entries OpenEMR can never match: {})",
            malformed.join(", ")
        );
    }
    out
}

/// The change as a diff: scopes added and removed, the flags changed, and both strings.
pub fn diff(before: &ClientRow, after: &ClientRow) -> String {
    let mut out = format!(
        "Change for client {} ({}):\n",
        before.client_id, before.client_name
    );
    let old = scopes::split_loose(before.scope_text());
    let new = scopes::split_loose(after.scope_text());
    for scope in new.iter().filter(|s| !old.contains(s)) {
        let _ = writeln!(out, "  + {scope}");
    }
    for scope in old.iter().filter(|s| !new.contains(s)) {
        let _ = writeln!(out, "  - {scope}");
    }
    if before.scope != after.scope {
        let _ = writeln!(out, "  scope before: {:?}", before.scope_text());
        let _ = writeln!(out, "  scope after:  {:?}", after.scope_text());
    }
    if before.is_enabled != after.is_enabled {
        let _ = writeln!(
            out,
            "  enabled: {} -> {}",
            yes_no(before.is_enabled),
            yes_no(after.is_enabled)
        );
    }
    if before.grant_types != after.grant_types {
        let show = |g: &Option<String>| g.clone().unwrap_or_else(|| "(none)".into());
        let _ = writeln!(
            out,
            "  grant_types: {} -> {}",
            show(&before.grant_types),
            show(&after.grant_types)
        );
    }
    out
}

fn select_failure(error: SelectError) -> Failure {
    match error {
        SelectError::Db(e) => Failure::runtime(e),
        other => Failure::usage(other),
    }
}

fn update_failure(error: UpdateError) -> Failure {
    match error {
        UpdateError::Conflict { .. } => Failure::runtime(error),
        UpdateError::Select(e) => select_failure(e),
        UpdateError::Db(e) => Failure::runtime(e),
    }
}
