//! Stage 4, discovery: the SMART configuration (for the token endpoint, which is also the
//! assertion's aud) and the CapabilityStatement (for the version, hence the family).
//!
//! F1 leaves client_credentials and private_key_jwt out of its SMART configuration and lists
//! algorithms it then refuses, so those lists are not judged.

use serde_json::Value;

use crate::openemr::family_rules::{detect, Fingerprints};
use crate::openemr::urls::SiteUrls;
use crate::openemr::{scopes, Family};

use super::context::Context;
use super::database::origin;
use super::http::{Answer, BodyKind, Http};
use super::{StageId, StageOutcome, Status};

const STAGE: StageId = StageId::Discovery;

/// What discovery learned, for check and inspect alike.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The SMART configuration.
    pub smart: Value,
    /// The CapabilityStatement, or why it could not be read.
    pub metadata: Result<Value, String>,
    /// The advertised token endpoint (SMART, else the CapabilityStatement).
    pub token_endpoint: Option<String>,
    /// `software.version` of the CapabilityStatement.
    pub version: Option<String>,
    /// The server's clock minus this machine's.
    pub server_offset: Option<i64>,
}

/// Why discovery could not be read: the server gave no answer, or a wrong one.
#[derive(Debug, Clone)]
pub enum DiscoveryError {
    /// No HTTP answer at all.
    Unreachable(String),
    /// An answer that is not the document; the outcome names it.
    Wrong(Box<StageOutcome>),
    /// An HTML page: whatever answers there is not OpenEMR's API.
    NotOpenemr(Box<StageOutcome>),
}

/// Fetches the SMART configuration and the CapabilityStatement of a site.
pub async fn fetch(http: &Http, urls: &SiteUrls) -> Result<Discovered, DiscoveryError> {
    let answer = http
        .get(&urls.smart_configuration(), None)
        .await
        .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
    let server_offset = answer.server_offset();
    let smart = json_document(&answer, "SMART configuration").map_err(|o| {
        if matches!(answer.kind(), BodyKind::Html(_)) {
            DiscoveryError::NotOpenemr(Box::new(o))
        } else {
            DiscoveryError::Wrong(Box::new(o))
        }
    })?;
    let metadata = metadata(http, &urls.metadata()).await;
    let from_metadata = metadata.as_ref().ok().and_then(metadata_token_url);
    let token_endpoint = smart
        .get("token_endpoint")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(from_metadata);
    let version = metadata
        .as_ref()
        .ok()
        .and_then(|m| m.pointer("/software/version"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Discovered {
        smart,
        metadata,
        token_endpoint,
        version,
        server_offset,
    })
}

/// Fetches both documents and records what they advertise.
pub async fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let urls = ctx
        .urls
        .clone()
        .expect("inputs passed, so the URLs are known");
    let http = match &ctx.http {
        Ok(http) => http,
        Err(e) => return StageOutcome::fail(STAGE, e.clone()),
    };
    let found = match fetch(http, &urls).await {
        Ok(found) => found,
        Err(DiscoveryError::Unreachable(e)) => {
            ctx.discovery.unreachable = Some(e.clone());
            return StageOutcome::fail(STAGE, e)
                .fix("check --base-url, and that OpenEMR is running and reachable from here");
        }
        Err(DiscoveryError::Wrong(outcome)) => return *outcome,
        Err(DiscoveryError::NotOpenemr(outcome)) => {
            ctx.discovery.not_openemr = Some(outcome.finding.clone());
            return *outcome;
        }
    };
    record(ctx, &found);
    let outcome = judge(ctx, &urls.token(), &found.metadata);
    with_tls_facts(outcome, &urls.base, &ctx.config.network).await
}

/// For an https base URL, the TLS version and certificate from a handshake of our own (the
/// HTTP client does not expose them); SMART asks for TLS 1.2 or later.
async fn with_tls_facts(
    outcome: StageOutcome,
    base: &str,
    options: &crate::net::NetworkOptions,
) -> StageOutcome {
    let Ok(url) = url::Url::parse(base) else {
        return outcome;
    };
    match crate::net::probe_tls(&url, options).await {
        Ok(None) => outcome,
        Ok(Some(facts)) => {
            let mut line = format!("TLS: {}, {}", facts.version, facts.cipher_suite);
            if let Some(cert) = &facts.certificate {
                let (subject, issuer, until) = (&cert.subject, &cert.issuer, &cert.not_after);
                line.push_str(&format!(
                    "; certificate {subject}, issued by {issuer}, valid until {until}"
                ));
            }
            let outcome = outcome.evidence(line);
            match (facts.version.meets_smart_minimum(), outcome.status) {
                (false, Status::Pass) => StageOutcome {
                    status: Status::Warn,
                    finding: format!(
                        "the server negotiated {}; SMART asks for TLS 1.2 or later",
                        facts.version
                    ),
                    fix: Some("enable TLS 1.2 or 1.3 on the server or its proxy".into()),
                    ..outcome
                },
                _ => outcome,
            }
        }
        Err(e) => outcome.evidence(format!("TLS: a handshake of our own failed: {e}")),
    }
}

/// The JSON of a discovery answer, or the failure that names what came instead.
pub fn json_document(answer: &Answer, what: &str) -> Result<Value, StageOutcome> {
    let seen = answer.describe();
    let fail = |finding: String, fix: &str| {
        Err(StageOutcome::fail(STAGE, finding)
            .evidence(seen.clone())
            .fix(fix))
    };
    if answer.is_redirect() {
        let to = answer.location.clone().unwrap_or_default();
        let finding = format!("{} redirects to {to} (not followed)", answer.url);
        return fail(
            finding,
            "use the address the server redirects to as --base-url",
        );
    }
    let kind = answer.kind();
    match (answer.status, &kind) {
        (200, BodyKind::Json(value)) => Ok(value.clone()),
        (501, _) => fail(
            format!("the FHIR API is switched off: {} answered 501", answer.url),
            "turn on \"Enable OpenEMR Standard FHIR REST API\" in Administration > Config > \
                Connectors",
        ),
        (400, BodyKind::Json(body)) if body.to_string().contains("site error") => fail(
            format!(
                "{} answered 400 \"api site error\": OpenEMR does not know this site id",
                answer.url
            ),
            "pass the right --site (the folder name under sites/, usually default)",
        ),
        (400, BodyKind::Empty) => fail(
            format!(
                "{} answered 400 with an empty body: OpenEMR does not know this site id",
                answer.url
            ),
            "pass the right --site (the folder name under sites/, usually default)",
        ),
        (_, BodyKind::Html(_)) => fail(
            format!(
                "{} answered an HTML page, not the {what} JSON: a login page or a proxy, \
                not OpenEMR's API",
                answer.url
            ),
            "check --base-url: it must be the OpenEMR install's address (with its web root)",
        ),
        (404, _) => fail(
            format!("{what} not found (404) at {}", answer.url),
            "check --base-url (web root such as /openemr) and --site",
        ),
        (200, _) => fail(
            format!("{} answered 200 but not with JSON", answer.url),
            "check --base-url: something other than OpenEMR answers there",
        ),
        (status, _) => fail(
            format!(
                "{} answered HTTP {status} instead of the {what}",
                answer.url
            ),
            "check the OpenEMR server's error log",
        ),
    }
}

/// The CapabilityStatement, or why it could not be read (not fatal: the version is extra).
async fn metadata(http: &Http, url: &str) -> Result<Value, String> {
    let answer = http.get(url, None).await.map_err(|e| e.to_string())?;
    json_document(&answer, "CapabilityStatement").map_err(|o| o.finding)
}

fn record(ctx: &mut Context<'_>, found: &Discovered) {
    let db_version = ctx.db.as_ref().and_then(|d| d.version.clone());
    let prints = Fingerprints {
        metadata_version: found.version.as_deref(),
        smart_configuration: Some(&found.smart),
        database_version: db_version.as_deref(),
    };
    ctx.discovery.detected = Some(detect(&prints));
    ctx.discovery.token_endpoint = found.token_endpoint.clone();
    ctx.discovery.version = found.version.clone();
    ctx.discovery.smart = Some(found.smart.clone());
    ctx.discovery.server_offset = found.server_offset;
}

/// The `token` URI of the SMART oauth-uris extension in a CapabilityStatement.
fn metadata_token_url(metadata: &Value) -> Option<String> {
    let extensions = metadata.pointer("/rest/0/security/extension")?.as_array()?;
    extensions
        .iter()
        .filter_map(|e| e.get("extension")?.as_array())
        .flatten()
        .find(|e| e.get("url").and_then(Value::as_str) == Some("token"))
        .and_then(|e| e.get("valueUri")?.as_str())
        .map(str::to_string)
}

fn judge(
    ctx: &Context<'_>,
    expected_token: &str,
    metadata: &Result<Value, String>,
) -> StageOutcome {
    let facts = &ctx.discovery;
    let (family_line, basis) = family_lines(ctx);
    let mut evidence = basis;
    if let Err(why) = metadata {
        evidence.push(format!("CapabilityStatement not read: {why}"));
    }
    if ctx.known_family() == Some(Family::F0) {
        return StageOutcome::fail(
            STAGE,
            format!("{family_line}: OpenEMR 6.0 has no client_credentials grant at all"),
        )
        .evidence_lines(evidence)
        .fix("upgrade OpenEMR to 6.1.0 or later (7.0.x recommended) for SMART Backend Services");
    }
    let Some(advertised) = &facts.token_endpoint else {
        return StageOutcome::warn(STAGE, "the server advertises no token_endpoint")
            .evidence(family_line)
            .evidence_lines(evidence)
            .fix(format!("the assertion aud falls back to {expected_token}"));
    };
    let no_system = no_system_scopes(ctx);
    if advertised != expected_token {
        return endpoint_mismatch(advertised, expected_token)
            .evidence(family_line)
            .evidence_lines(evidence)
            .evidence_lines(no_system.map(|o| o.finding));
    }
    let passed = format!("token endpoint {advertised}; {family_line}");
    match no_system {
        Some(warning) => warning.evidence(passed).evidence_lines(evidence),
        None => StageOutcome::pass(STAGE, passed).evidence_lines(evidence),
    }
}

/// A warning when FHIR system scopes are requested and scopes_supported lists none: the
/// server has them switched off, and the token request will be refused as invalid_scope.
fn no_system_scopes(ctx: &Context<'_>) -> Option<StageOutcome> {
    let listed = ctx.discovery.smart.as_ref()?.get("scopes_supported")?;
    let mut flat = Vec::new();
    flatten(listed, &mut flat);
    let wanted = ctx
        .config
        .scopes
        .iter()
        .any(|s| scopes::is_fhir_system_scope(s));
    if !wanted || flat.iter().any(|s| scopes::is_fhir_system_scope(s)) {
        return None;
    }
    Some(
        StageOutcome::warn(
            STAGE,
            "scopes_supported lists no FHIR system/ scopes: FHIR system scopes are switched \
             off (rest_system_scopes_api), so every system/ scope will be refused",
        )
        .fix(
            "turn on \"Enable OpenEMR FHIR System Scopes\" in Administration > Config > \
             Connectors, then retry",
        ),
    )
}

/// The strings of a scopes_supported value, which OpenEMR nests one array too deep.
fn flatten<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        _ => {}
    }
}

/// "OpenEMR 7.0.3, family F1 (...)" and the facts behind it.
fn family_lines(ctx: &Context<'_>) -> (String, Vec<String>) {
    let version = ctx.discovery.version.as_deref();
    let detected = ctx.discovery.detected.clone().unwrap_or_default();
    let family = ctx.known_family();
    let line = match (version, family) {
        (Some(v), Some(f)) => format!("OpenEMR {v}, family {f}"),
        (None, Some(f)) => format!("OpenEMR family {f}"),
        (Some(v), None) => format!("OpenEMR reports version {v:?} (family unknown, F1 rules)"),
        (None, None) => "version unknown (F1 rules apply)".to_string(),
    };
    let mut basis = detected.basis;
    if ctx.options.family.is_some() {
        basis.push("family set by --family".to_string());
    }
    (line, basis)
}

fn endpoint_mismatch(advertised: &str, expected: &str) -> StageOutcome {
    let (a, e) = (origin(advertised), origin(expected).unwrap_or_default());
    let finding = match &a {
        None => format!(
            "the server advertises token endpoint {advertised:?}, which has no scheme or host: \
             Site Address (site_addr_oath) is probably empty behind a proxy"
        ),
        Some(a) if scheme(a) != scheme(&e) && host(a) == host(&e) => format!(
            "the server advertises token endpoint {advertised} ({}) while you connected over \
             {}: Site Address is probably empty behind a TLS proxy, so OpenEMR builds its \
             URLs, and the aud it expects, from the plain hop",
            scheme(a),
            scheme(&e)
        ),
        Some(a) if *a != e => format!(
            "the server advertises token endpoint {advertised} but you reach it at {e}: the \
             assertion aud must be the advertised URL exactly{}",
            if a.contains("localhost") || a.contains("127.0.0.1") {
                format!(" (Site Address still holds {a})")
            } else {
                String::new()
            }
        ),
        Some(_) => format!("the advertised token endpoint {advertised} differs from {expected}"),
    };
    StageOutcome::warn(STAGE, finding)
        .evidence(format!(
            "aud will be {advertised}; the request goes to {expected}"
        ))
        .fix(format!(
            "if clients reach OpenEMR at {e}, set Site Address (site_addr_oath) to it in \
             Administration > Config > Connectors (or OPENEMR_SETTING_site_addr_oath)"
        ))
}

fn scheme(origin: &str) -> &str {
    origin.split("://").next().unwrap_or("")
}

fn host(origin: &str) -> &str {
    origin.split("://").nth(1).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Status;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            url: "http://127.0.0.1:9/apis/default/fhir/metadata".into(),
            status,
            body: body.into(),
            ..Answer::default()
        }
    }

    #[test]
    fn non_json_answers_are_named_with_their_url() {
        let outcome = json_document(&answer(501, ""), "x").unwrap_err();
        assert!(
            outcome.finding.contains("FHIR API is switched off"),
            "{outcome:?}"
        );
        assert!(outcome.finding.contains("127.0.0.1:9"));
        let outcome = json_document(&answer(200, "<html><title>Login</title>"), "x").unwrap_err();
        assert!(outcome.finding.contains("HTML page"));
        assert_eq!(outcome.status, Status::Fail);
    }

    #[test]
    fn a_localhost_site_address_is_named() {
        let outcome = endpoint_mismatch(
            "https://localhost:9300/oauth2/default/token",
            "https://emr.example.org/oauth2/default/token",
        );
        assert_eq!(outcome.status, Status::Warn);
        assert!(outcome.finding.contains("https://localhost:9300"));
        assert!(outcome.finding.contains("https://emr.example.org"));
    }

    #[test]
    fn the_token_url_is_read_from_metadata() {
        let doc = serde_json::json!({"rest":[{"security":{"extension":[{"extension":[
            {"url":"token","valueUri":"http://h/oauth2/default/token"}]}]}}]});
        assert_eq!(
            metadata_token_url(&doc).as_deref(),
            Some("http://h/oauth2/default/token")
        );
    }
}
