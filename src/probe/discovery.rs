//! Stage 4, discovery: the SMART configuration (for the token endpoint, which is also the
//! assertion's aud) and the CapabilityStatement (for the version, hence the family).
//!
//! F1 leaves client_credentials and private_key_jwt out of its SMART configuration and lists
//! algorithms it then refuses, so those lists are not judged.

use serde_json::Value;

use crate::openemr::Family;

use super::context::Context;
use super::database::origin;
use super::http::{Answer, BodyKind, Http};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Discovery;

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
    let smart = match http.get(&urls.smart_configuration(), None).await {
        Ok(answer) => answer,
        Err(e) => {
            ctx.discovery.unreachable = Some(e.to_string());
            return StageOutcome::fail(STAGE, e.to_string())
                .fix("check --base-url, and that OpenEMR is running and reachable from here");
        }
    };
    let smart = match json_document(&smart, "SMART configuration") {
        Ok(json) => json,
        Err(outcome) => return outcome,
    };
    let metadata = metadata(http, &urls.metadata()).await;
    record(ctx, &smart, &metadata);
    judge(ctx, &urls.token(), &metadata)
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
            "turn on \"Enable OpenEMR Standard FHIR REST API\" in Administration > Config > Connectors",
        ),
        (400, BodyKind::Empty) => fail(
            format!("{} answered 400 with an empty body: OpenEMR does not know this site id", answer.url),
            "pass the right --site (the folder name under sites/, usually default)",
        ),
        (_, BodyKind::Html(_)) => fail(
            format!("{} answered an HTML page, not the {what} JSON: a login page or a proxy, not OpenEMR's API", answer.url),
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
            format!("{} answered HTTP {status} instead of the {what}", answer.url),
            "check the OpenEMR server's error log",
        ),
    }
}

/// The CapabilityStatement, or why it could not be read (not fatal: the version is extra).
async fn metadata(http: &Http, url: &str) -> Result<Value, String> {
    let answer = http.get(url, None).await.map_err(|e| e.to_string())?;
    json_document(&answer, "CapabilityStatement").map_err(|o| o.finding)
}

fn record(ctx: &mut Context<'_>, smart: &Value, metadata: &Result<Value, String>) {
    let from_metadata = metadata.as_ref().ok().and_then(metadata_token_url);
    ctx.discovery.token_endpoint = smart
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
    ctx.discovery.family = version.as_deref().and_then(Family::from_version);
    ctx.discovery.version = version;
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
    let version = match (&facts.version, facts.family) {
        (Some(v), Some(f)) => format!("OpenEMR {v}, family {f}"),
        (Some(v), None) => format!("OpenEMR reports version {v:?} (family unknown)"),
        _ => "version unknown".to_string(),
    };
    let mut evidence = Vec::new();
    if let Err(why) = metadata {
        evidence.push(format!("CapabilityStatement not read: {why}"));
    }
    let Some(advertised) = &facts.token_endpoint else {
        return StageOutcome::warn(STAGE, "the server advertises no token_endpoint")
            .evidence(version)
            .evidence_lines(evidence)
            .fix(format!("the assertion aud falls back to {expected_token}"));
    };
    if advertised != expected_token {
        return endpoint_mismatch(advertised, expected_token)
            .evidence(version)
            .evidence_lines(evidence);
    }
    StageOutcome::pass(STAGE, format!("token endpoint {advertised}; {version}"))
        .evidence_lines(evidence)
}

fn endpoint_mismatch(advertised: &str, expected: &str) -> StageOutcome {
    let (a, e) = (origin(advertised), origin(expected).unwrap_or_default());
    let finding = if a.as_deref() != Some(e.as_str()) {
        format!(
            "the server advertises token endpoint {advertised} but you reach it at {}: the \
             assertion aud must be the advertised URL",
            e
        )
    } else {
        format!("the advertised token endpoint {advertised} differs from {expected}")
    };
    StageOutcome::warn(STAGE, finding)
        .evidence(format!(
            "aud will be {advertised}; the request goes to {expected}"
        ))
        .fix(format!(
            "if clients reach OpenEMR at {}, set Site Address (site_addr_oath) to it in \
             Administration > Config > Connectors",
            e
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Status;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            url: "http://127.0.0.1:9/apis/default/fhir/metadata".into(),
            status,
            location: None,
            body: body.into(),
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
