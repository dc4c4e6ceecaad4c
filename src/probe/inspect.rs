//! `inspect`: judges what the user's own code produced (a client assertion, and the token
//! request that carried it) by the same rules the staged check applies to its own, against
//! whatever is at hand: the server's discovery, the registered keys, the database. Every
//! fault is collected; nothing stops at the first. Nothing is sent to the token endpoint.

use std::path::PathBuf;
use std::time::Duration;

use crate::assertion::request::{self, CapturedRequest, RequestContext};
use crate::assertion::{rules, shortened, DecodedJwt, RuleContext};
use crate::db::clients::{ClientRow, ClientSelector};
use crate::db::globals::ApiGlobals;
use crate::db::DbSource;
use crate::keys::jwks::Jwks;
use crate::openemr::family_rules::{detect, family_of_release, Fingerprints};
use crate::openemr::fault::Fault;
use crate::openemr::urls::SiteUrls;
use crate::openemr::Family;

use super::discovery::{self, DiscoveryError};
use super::http::Http;
use super::inspect_server as server;
use super::keys::{self, FetchedKeySet};

/// What to inspect and what to compare it with.
#[derive(Debug, Clone, Default)]
pub struct InspectInput {
    /// The compact assertion, when given apart from the request.
    pub assertion: Option<String>,
    /// The token request as captured.
    pub request: Option<CapturedRequest>,
    /// OpenEMR's address, for its discovery.
    pub base_url: Option<String>,
    /// The site id.
    pub site: String,
    /// The client id; the assertion's sub otherwise.
    pub client_id: Option<String>,
    /// The registered JWKS, as a file.
    pub jwks_path: Option<PathBuf>,
    /// The database.
    pub db: Option<DbSource>,
    /// The family whose rules apply, instead of the detected one.
    pub family: Option<Family>,
    /// Timeout of each network request.
    pub timeout: Duration,
}

/// What inspect found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// The family whose rules were applied.
    pub family: String,
    /// Why that family.
    pub family_basis: Vec<String>,
    /// What the assertion says and what it was compared with (no secrets).
    pub facts: Vec<String>,
    /// Every fault, refused ones first.
    pub faults: Vec<Fault>,
}

/// What inspect gathered before judging.
#[derive(Default)]
pub(super) struct Gathered {
    pub facts: Vec<String>,
    pub faults: Vec<Fault>,
    pub token_endpoint: Option<String>,
    pub metadata_version: Option<String>,
    pub smart: Option<serde_json::Value>,
    pub server_offset: Option<i64>,
    pub client: Option<ClientRow>,
    pub globals: Option<ApiGlobals>,
    pub db_version: Option<String>,
    pub jti_used: Option<bool>,
    pub keys: Option<FetchedKeySet>,
}

/// Inspects; never fails: what cannot be read is a fact line.
pub async fn inspect(input: &InspectInput) -> Inspection {
    let http = Http::new(input.timeout).ok();
    let text = assertion_text(input);
    let jwt = text.as_deref().map(DecodedJwt::parse);
    let mut gathered = Gathered::default();
    if let Some(text) = &text {
        gathered
            .facts
            .push(format!("assertion: {}", shortened(text)));
    }
    let client_id = input.client_id.clone().or_else(|| {
        let jwt = jwt.as_ref()?.as_ref().ok()?;
        jwt.claim_text("sub").map(str::to_string)
    });
    let urls = discover(input, http.as_ref(), &mut gathered).await;
    let jti = jwt
        .as_ref()
        .and_then(|j| j.as_ref().ok()?.claim_text("jti").map(str::to_string));
    server::read_database(input, client_id.as_deref(), jti.as_deref(), &mut gathered).await;
    let (family, basis) = family(input, &gathered);
    gathered.keys = registered_keys(input, http.as_ref(), &gathered, family).await;
    let mut faults = std::mem::take(&mut gathered.faults);
    faults.extend(request_faults(input, &gathered, family));
    match &jwt {
        Some(Ok(jwt)) => {
            gathered.facts.extend(claim_facts(jwt));
            faults.extend(assertion_faults(
                jwt,
                input,
                client_id.as_deref(),
                &urls,
                &gathered,
                family,
            ));
        }
        Some(Err(e)) => faults.push(Fault::refused(
            "not-jwt",
            format!("the assertion is not a compact JWT: {e} (401 invalid_client)"),
            "send the signed JWT itself (header.payload.signature) as client_assertion",
        )),
        None => {}
    }
    if let Some(keys) = &gathered.keys {
        gathered
            .facts
            .push(format!("registered keys: {}", keys.source));
        faults.extend(keys.faults.iter().cloned());
    }
    faults.extend(server::client_faults(
        &gathered.client,
        &gathered.globals,
        family,
        client_id.as_deref(),
    ));
    Inspection {
        family: family.to_string(),
        family_basis: basis,
        facts: gathered.facts,
        faults: ordered(faults),
    }
}

/// The assertion: given apart, else the request's client_assertion field, else a Bearer
/// header that holds a JWT (the assertion in the wrong place is still judged).
fn assertion_text(input: &InspectInput) -> Option<String> {
    if let Some(text) = input.assertion.as_ref().filter(|t| !t.trim().is_empty()) {
        return Some(text.trim().to_string());
    }
    let request = input.request.as_ref()?;
    if let Some(field) = request.fields().get("client_assertion") {
        return Some(field.clone());
    }
    let header = request.header("authorization")?;
    let (scheme, token) = header.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && token.matches('.').count() == 2)
        .then(|| token.trim().to_string())
}

async fn discover(input: &InspectInput, http: Option<&Http>, g: &mut Gathered) -> Option<SiteUrls> {
    let base = input.base_url.as_deref()?;
    let urls = match SiteUrls::new(base, &input.site) {
        Ok(urls) => urls,
        Err(e) => {
            g.facts.push(format!("--base-url not used: {e}"));
            return None;
        }
    };
    match discovery::fetch(http?, &urls).await {
        Ok(found) => {
            let endpoint = found.token_endpoint.clone().unwrap_or_else(|| urls.token());
            g.facts
                .push(format!("token endpoint (discovery): {endpoint}"));
            g.token_endpoint = Some(endpoint);
            g.metadata_version = found.version;
            g.smart = Some(found.smart);
            g.server_offset = found.server_offset;
        }
        Err(DiscoveryError::Unreachable(e)) => g.facts.push(format!("discovery not read: {e}")),
        Err(DiscoveryError::Wrong(o) | DiscoveryError::NotOpenemr(o)) => {
            g.facts.push(format!("discovery not read: {}", o.finding))
        }
    }
    Some(urls)
}

fn family(input: &InspectInput, g: &Gathered) -> (Family, Vec<String>) {
    if let Some(family) = input.family {
        return (family, vec!["set by --family".to_string()]);
    }
    let prints = Fingerprints {
        metadata_version: g.metadata_version.as_deref(),
        smart_configuration: g.smart.as_ref(),
        database_version: g.db_version.as_deref(),
    };
    let detected = detect(&prints);
    let from_db = g.db_version.as_deref().and_then(family_of_release);
    match from_db.or(detected.family) {
        Some(family) => (family, detected.basis),
        None => {
            let mut basis = detected.basis;
            basis.push("nothing tells the version: F1 rules (give --base-url or --family)".into());
            (Family::F1, basis)
        }
    }
}

async fn registered_keys(
    input: &InspectInput,
    http: Option<&Http>,
    g: &Gathered,
    family: Family,
) -> Option<FetchedKeySet> {
    if let Some(path) = &input.jwks_path {
        return Some(keys::read_file(path, family));
    }
    let row = g.client.as_ref()?;
    if row.has_jwks_uri() {
        let uri = row.jwks_uri.clone().unwrap_or_default();
        return Some(keys::fetch_uri(http?, uri.trim(), family).await);
    }
    let column = row.jwks.clone().filter(|_| row.has_jwks())?;
    Some(keys::from_text(
        "oauth_clients.jwks column".into(),
        &column,
        None,
        family,
    ))
}

fn request_faults(input: &InspectInput, g: &Gathered, family: Family) -> Vec<Fault> {
    let Some(captured) = &input.request else {
        return Vec::new();
    };
    let ctx = RequestContext {
        family,
        token_endpoint: g.token_endpoint.as_deref(),
        site: &input.site,
    };
    request::check(captured, &ctx)
}

fn assertion_faults(
    jwt: &DecodedJwt,
    input: &InspectInput,
    client_id: Option<&str>,
    urls: &Option<SiteUrls>,
    g: &Gathered,
    family: Family,
) -> Vec<Fault> {
    let site_addr_token = server::site_addr_token(g.globals.as_ref(), urls.as_ref(), &input.site);
    let keys: Option<&Jwks> = g.keys.as_ref().and_then(|k| k.set.as_ref().ok());
    let ctx = RuleContext {
        family,
        client_id,
        token_endpoint: g.token_endpoint.as_deref(),
        site_addr_token: site_addr_token.as_deref(),
        site: &input.site,
        now: chrono::Utc::now().timestamp(),
        server_offset: g.server_offset,
        keys,
        jti_used: g.jti_used,
    };
    rules::check(jwt, &ctx)
}

fn claim_facts(jwt: &DecodedJwt) -> Vec<String> {
    let now = chrono::Utc::now().timestamp();
    let relative = |name| match jwt.claim_secs(name) {
        Some(t) => format!("{name}=now{:+}s", t - now),
        None => format!("{name} absent"),
    };
    vec![
        format!(
            "header: alg={} kid={}",
            jwt.alg(),
            jwt.header_text("kid").unwrap_or("(none)")
        ),
        format!(
            "claims: iss={} sub={} aud={}",
            jwt.claim_text("iss").unwrap_or("(none)"),
            jwt.claim_text("sub").unwrap_or("(none)"),
            jwt.audiences().join(",")
        ),
        format!(
            "{} {} {} jti={}",
            relative("iat"),
            relative("exp"),
            relative("nbf"),
            jwt.claim_text("jti").unwrap_or("(none)")
        ),
    ]
}

/// Refused faults first, duplicates dropped, otherwise in the order found.
fn ordered(faults: Vec<Fault>) -> Vec<Fault> {
    let mut unique: Vec<Fault> = Vec::new();
    for fault in faults {
        if !unique
            .iter()
            .any(|f| f.code == fault.code && f.what == fault.what)
        {
            unique.push(fault);
        }
    }
    unique.sort_by_key(|f| f.severity);
    unique
}

/// The client selector for a client id.
pub fn selector(client_id: &str) -> ClientSelector {
    ClientSelector::Id(client_id.to_string())
}
