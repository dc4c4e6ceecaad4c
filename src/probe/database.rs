//! Stage 3, database: the client's row and the server's API settings, read straight from
//! OpenEMR's tables. Blockers fail with their one fix; scope gaps only warn, because the
//! server still issues a token (without them).

use url::Url;

use crate::db::clients::{ClientRow, ClientSelector};
use crate::db::globals::ApiGlobals;
use crate::openemr::{scopes, smart_v2, Family, SYSTEM_USERNAME};

use super::token::{grant_types_refused, grant_types_text};

use super::context::{Context, DbFacts};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Database;

/// Where in OpenEMR's UI the API switches are.
const CONNECTORS: &str = "Administration > Config > Connectors";

/// Reads what the later stages need from the database, when one was given. Runs before the
/// keys stage, which compares the private key with the row's JWKS.
pub async fn gather(ctx: &mut Context<'_>) {
    let Some(source) = &ctx.config.db else { return };
    let db = match source.connect().await {
        Ok(db) => db,
        Err(e) => {
            ctx.db = Some(DbFacts {
                error: Some(e.to_string()),
                ..DbFacts::default()
            });
            return;
        }
    };
    let mut facts = DbFacts {
        target: db.target.clone(),
        ..DbFacts::default()
    };
    let selector = ClientSelector::Id(ctx.config.client_id.clone());
    match db.find_client(&selector).await {
        Ok(row) => facts.client = Some(row),
        Err(e) => facts.client_error = Some(e.to_string()),
    }
    let read = |e: crate::db::DbError| e.to_string();
    match db.api_globals().await {
        Ok(globals) => facts.globals = Some(globals),
        Err(e) => facts.error = Some(read(e)),
    }
    facts.system_user = db.system_user_exists().await.ok();
    facts.version = db.recorded_version().await.ok().flatten();
    db.pool.close().await;
    ctx.db = Some(facts);
}

/// Judges what [`gather`] read.
pub fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let Some(facts) = ctx.db.clone() else {
        return StageOutcome::skipped(STAGE, "skipped: not asked (no database given)");
    };
    if let Some(error) = &facts.error {
        return StageOutcome::fail(STAGE, format!("cannot read the database: {error}"))
            .fix("check --db-url / DATABASE_URL (or --openemr-dir) and that the server is up");
    }
    let Some(client) = &facts.client else {
        return client_missing(&facts);
    };
    let globals = facts.globals.clone().unwrap_or_default();
    let evidence = background(&facts, client, &globals);
    let outcome = blocker(ctx, client, &globals)
        .or_else(|| grant_types_warning(ctx, client))
        .or_else(|| scope_warning(ctx, client))
        .or_else(|| site_address_warning(ctx, &globals))
        .or_else(|| jwks_uri_guard_warning(ctx, client))
        .unwrap_or_else(|| healthy(client));
    outcome.evidence_lines(evidence)
}

fn client_missing(facts: &DbFacts) -> StageOutcome {
    let text = facts.client_error.clone().unwrap_or_default();
    let mut lines = text.lines();
    let finding = lines.next().unwrap_or("client not found").to_string();
    StageOutcome::fail(STAGE, finding)
        .evidence_lines(lines.map(|l| l.trim().to_string()))
        .evidence(format!("database: {}", facts.target))
        .fix("check --client-id against Admin > System > API Clients, or register the client")
}

fn background(facts: &DbFacts, client: &ClientRow, globals: &ApiGlobals) -> Vec<String> {
    let mut lines = vec![format!("database: {}", facts.target)];
    lines.push(format!(
        "client {:?} ({}): enabled={} confidential={}",
        client.client_id, client.client_name, client.is_enabled, client.is_confidential
    ));
    lines.push(format!("registered scopes: {:?}", client.scope_text()));
    for name in crate::db::globals::API_GLOBALS {
        lines.push(format!("global {name} = {:?}", globals.value(name)));
    }
    if let Some(version) = &facts.version {
        let family =
            Family::from_version(version).map_or(String::new(), |f| format!(", family {f}"));
        lines.push(format!("version table: {version}{family}"));
    }
    if facts.system_user == Some(true) {
        lines.push(format!("user {SYSTEM_USERNAME} present"));
    }
    lines
}

/// The first definitive blocker, with its one fix.
fn blocker(ctx: &Context<'_>, client: &ClientRow, globals: &ApiGlobals) -> Option<StageOutcome> {
    let id = &client.client_id;
    if !globals.any_api() {
        let finding = "every OpenEMR API is switched off (rest_api, rest_fhir_api and \
                       rest_portal_api are all off): /oauth2 answers 404";
        return Some(fail(finding, enable_fhir_fix()));
    }
    // Only F1 gates /fhir on this global; from F2 on the FHIR routes answer without it.
    if !globals.on("rest_fhir_api") && ctx.family() < Family::F2 {
        let finding = "the FHIR API is switched off (rest_fhir_api): /fhir answers 501";
        return Some(fail(finding, enable_fhir_fix()));
    }
    if wants_system_scopes(ctx) && !globals.system_scopes() {
        let value = globals.value("rest_system_scopes_api");
        let finding = format!(
            "FHIR system scopes are off (rest_system_scopes_api is {value:?}, must be \"1\"): \
             every system/ scope is refused as invalid_scope"
        );
        let fix = format!("turn on \"Enable OpenEMR FHIR System Scopes\" in {CONNECTORS}");
        return Some(fail(finding, fix));
    }
    if !client.is_enabled {
        let finding = format!("client {id} exists but is disabled (is_enabled = 0)");
        let fix = format!(
            "{} (or enable it in Admin > System > API Clients)",
            ctx.fix_scopes_command("--enable")
        );
        return Some(fail(finding, fix));
    }
    if !client.is_confidential {
        let finding =
            format!("client {id} is a public client; client_credentials needs a confidential one");
        let fix = "register the client again as a confidential (private) app with a JWKS";
        return Some(fail(finding, fix));
    }
    if !client.has_jwks() && !client.has_jwks_uri() {
        let finding =
            format!("client {id} has neither jwks nor jwks_uri: no key to verify assertions with");
        let fix = "register the client's public key (oemr-doctor keygen prints a JWKS)";
        return Some(fail(finding, fix));
    }
    grant_types_blocker(ctx, client).or_else(|| system_user_blocker(ctx))
}

/// F3 refuses a client whose grant_types lacks client_credentials.
fn grant_types_blocker(ctx: &Context<'_>, client: &ClientRow) -> Option<StageOutcome> {
    let stored = client.grant_types.clone().unwrap_or_default();
    if ctx.known_family() != Some(Family::F3) || !grant_types_refused(&stored) {
        return None;
    }
    let finding = format!(
        "{} (OpenEMR F3 answers 400 unauthorized_client)",
        grant_types_text(&stored)
    );
    Some(fail(finding, ctx.fix_grant_types()))
}

/// Before F3 grant_types is not checked, but a hand-edited value breaks at the upgrade.
fn grant_types_warning(ctx: &Context<'_>, client: &ClientRow) -> Option<StageOutcome> {
    let stored = client.grant_types.clone().unwrap_or_default();
    let hand_edited = stored.contains(' ') || stored.contains(',');
    if !hand_edited || !grant_types_refused(&stored) {
        return None;
    }
    let finding = format!(
        "{}; this version ignores grant_types, OpenEMR master (F3) refuses the client",
        grant_types_text(&stored)
    );
    Some(StageOutcome::warn(STAGE, finding).fix(ctx.fix_grant_types()))
}

fn system_user_blocker(ctx: &Context<'_>) -> Option<StageOutcome> {
    if ctx.db.as_ref()?.system_user != Some(false) {
        return None;
    }
    let finding = format!(
        "user {SYSTEM_USERNAME} is missing: every client_credentials token request ends in HTTP 500"
    );
    Some(fail(
        finding,
        "rerun OpenEMR's upgrade or setup, which creates the oe-system user",
    ))
}

fn fail(finding: impl Into<String>, fix: impl Into<String>) -> StageOutcome {
    StageOutcome::fail(STAGE, finding).fix(fix)
}

fn enable_fhir_fix() -> String {
    format!("turn on \"Enable OpenEMR Standard FHIR REST API\" in {CONNECTORS}")
}

fn wants_system_scopes(ctx: &Context<'_>) -> bool {
    ctx.config
        .scopes
        .iter()
        .any(|s| scopes::is_fhir_system_scope(s))
}

/// Requested scopes the registered column does not hold (F1 matches exact strings).
pub fn missing_scopes(requested: &[String], registered: &str) -> Vec<String> {
    let entries = scopes::split_registered(registered);
    requested
        .iter()
        .filter(|s| !s.starts_with("site:"))
        .filter(|s| !entries.contains(&s.as_str()))
        .cloned()
        .collect()
}

/// [`missing_scopes`] by the family's rules: from F2 on, a registered scope covers the
/// requested scopes it contains (`system/Patient.read` covers `system/Patient.rs`).
fn missing_for(family: Family, requested: &[String], registered: &str) -> Vec<String> {
    let exact = missing_scopes(requested, registered);
    if family < Family::F2 {
        return exact;
    }
    let Ok(held) = smart_v2::parse_registered(registered) else {
        return exact;
    };
    exact
        .into_iter()
        .filter(|s| {
            smart_v2::ParsedScope::parse(s).map_or(true, |w| !smart_v2::any_contains(&held, &w))
        })
        .collect()
}

fn scope_warning(ctx: &Context<'_>, client: &ClientRow) -> Option<StageOutcome> {
    let family = ctx.family();
    if family >= Family::F2 {
        if let Err(e) = smart_v2::parse_registered(client.scope_text()) {
            // F2 parses the column strictly and answers every token request with HTTP 500.
            let finding = format!(
                "oauth_clients.scope is malformed for {family} ({e}): every token request for \
                 this client fails with HTTP 500"
            );
            let wanted = scopes::split_loose(client.scope_text())
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>();
            return Some(StageOutcome::fail(STAGE, finding).fix(ctx.fix_scopes_add(&wanted)));
        }
    }
    let missing = missing_for(ctx.family(), &ctx.config.scopes, client.scope_text());
    let malformed = scopes::malformed_entries(client.scope_text());
    if missing.is_empty() && malformed.is_empty() {
        return None;
    }
    // A scope can be in the column and still never match, glued to a neighbour by a tab or
    // newline: name that apart from a scope that is simply absent.
    let loose = scopes::split_loose(client.scope_text());
    let (glued, absent): (Vec<&String>, Vec<&String>) =
        missing.iter().partition(|s| loose.contains(&s.as_str()));
    let names = |list: &[&String]| {
        list.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let finding = match (absent.is_empty(), glued.is_empty()) {
        (true, true) => "oauth_clients.scope has malformed entries that never match".to_string(),
        (true, false) => format!(
            "oauth_clients.scope holds {} but with malformed separators (tab, newline or double \
             space), so OpenEMR never matches it: the token will be issued without it",
            names(&glued)
        ),
        _ => format!(
            "oauth_clients.scope lacks {}: the token will be issued without it",
            names(&absent)
        ),
    };
    let evidence = malformed
        .iter()
        .map(|m| format!("malformed entry {m} (double space, tab or newline)"));
    let fix = if missing.is_empty() {
        ctx.fix_scopes_add(&ctx.config.scopes)
    } else {
        ctx.fix_scopes_add(&missing)
    };
    Some(
        StageOutcome::warn(STAGE, finding)
            .evidence_lines(evidence)
            .fix(fix),
    )
}

/// The origin (scheme, host, port) of a URL, for comparisons.
pub fn origin(url: &str) -> Option<String> {
    let parsed = Url::parse(url.trim()).ok()?;
    Some(parsed.origin().ascii_serialization())
}

fn site_address_warning(ctx: &Context<'_>, globals: &ApiGlobals) -> Option<StageOutcome> {
    let site_addr = globals.value("site_addr_oath").trim();
    let base = &ctx.urls.as_ref()?.base;
    if site_addr.is_empty() {
        return Some(empty_site_address(base));
    }
    if origin(site_addr) == origin(base) {
        return None;
    }
    let finding = format!(
        "Site Address (site_addr_oath) is {site_addr} but you reach the server at {base}: \
         OpenEMR expects the assertion aud under {site_addr}"
    );
    let fix = format!(
        "set Site Address in {CONNECTORS} to the origin clients use (for example {})",
        origin(base).unwrap_or_default()
    );
    Some(StageOutcome::warn(STAGE, finding).fix(fix))
}

/// F3 fetches a jwks_uri only over https and only from public addresses (its SSRF guard), so
/// a plain-http or loopback/private jwks_uri that works on F1/F2 stops working there.
fn jwks_uri_guard_warning(ctx: &Context<'_>, client: &ClientRow) -> Option<StageOutcome> {
    if !ctx.family().requires_kid() || !client.has_jwks_uri() {
        return None;
    }
    let uri = client.jwks_uri.as_deref().unwrap_or_default().trim();
    let parsed = Url::parse(uri).ok()?;
    let private = match parsed.host()? {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local()
        }
    };
    let why = match (parsed.scheme() != "https", private) {
        (false, false) => return None,
        (true, _) => "it is not https",
        (false, true) => "it points at a loopback or private address",
    };
    let finding = format!(
        "jwks_uri {uri} will be refused by {} ({why}): its guard fetches only https URLs on \
         public addresses",
        ctx.family()
    );
    Some(
        StageOutcome::warn(STAGE, finding)
            .fix("serve the JWKS over https from a public address, or register it inline (jwks)"),
    )
}

/// An empty Site Address makes OpenEMR build the expected aud from each request's scheme and
/// Host, which behind a TLS-terminating proxy is `http://...` while clients sign `https://...`.
fn empty_site_address(base: &str) -> StageOutcome {
    let finding = "Site Address (site_addr_oath) is empty: OpenEMR derives the expected aud \
                   from each request's scheme and Host, which breaks behind a TLS proxy or \
                   with several host names";
    let fix = format!(
        "set Site Address in {CONNECTORS} to the public origin clients use (for example {})",
        origin(base).unwrap_or_default()
    );
    StageOutcome::warn(STAGE, finding).fix(fix)
}

fn healthy(client: &ClientRow) -> StageOutcome {
    let keys = if client.has_jwks_uri() {
        "jwks_uri"
    } else {
        "jwks"
    };
    let finding = format!(
        "client enabled and confidential, {keys} registered, registered scopes cover the request"
    );
    StageOutcome::pass(STAGE, finding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scopes_match_exact_strings() {
        let requested = vec![
            "system/Patient.read".to_string(),
            "site:default".to_string(),
        ];
        assert!(missing_scopes(&requested, "openid system/Patient.read").is_empty());
        assert_eq!(
            missing_scopes(&requested, "openid system/Patient.read\n"),
            vec!["system/Patient.read"]
        );
        assert_eq!(
            missing_scopes(&requested, "openid user/Patient.read"),
            vec!["system/Patient.read"]
        );
    }

    #[test]
    fn origins_ignore_paths() {
        assert_eq!(
            origin("https://localhost:9300/openemr"),
            Some("https://localhost:9300".into())
        );
        assert_ne!(origin("http://a:80"), origin("https://a"));
    }
}
