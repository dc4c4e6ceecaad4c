//! Everything under `/apis/`: the site check, the public FHIR documents, the bearer check and
//! the FHIR Patient and Practitioner routes, in the order F1's dispatcher applies them.

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use super::bearer::{self, AccessClaims, BearerRefusal};
use super::context::{site_exists, split_site, RequestContext};
use super::{discovery, patient, reply, Incoming, Shared};
use crate::openemr::errors::OAuthError;

/// The FHIR resources F1 routes; any other FHIR path is an empty 404. Only Patient has data
/// in the sandbox: searches of the others find nothing and reads of them are 404.
const RESOURCES: &[&str] = &[
    "AllergyIntolerance",
    "Appointment",
    "CarePlan",
    "CareTeam",
    "Condition",
    "Coverage",
    "Device",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Goal",
    "Group",
    "Immunization",
    "Location",
    "Medication",
    "MedicationRequest",
    "Observation",
    "Organization",
    "Patient",
    "Person",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "ValueSet",
];

/// Routes an `/apis/...` request. An unknown site is an empty 400, before anything else.
pub async fn dispatch_apis(shared: &Shared, incoming: Incoming) -> Response {
    let path = incoming.uri.path().to_string();
    let site_path = split_site(path.strip_prefix("/apis").unwrap_or(&path));
    if !site_exists(shared, site_path.site) {
        return reply::empty(400);
    }
    let ctx = match RequestContext::load(shared, site_path.site, &incoming.headers).await {
        Ok(ctx) => ctx,
        Err(error) => return internal(error),
    };
    let fhir_path = site_path.rest.strip_prefix("fhir/");
    if let Some(public) = fhir_path.and_then(|p| public_document(&ctx, p)) {
        return public;
    }
    let claims = match bearer::check(shared, &incoming.headers, &ctx.urls.site).await {
        Ok(claims) => claims,
        Err(refusal) => return bearer_refusal(refusal),
    };
    match fhir_path {
        // Every client_credentials token has the system role, which F1 keeps off /api/.
        None if site_path.rest.starts_with("api/") => reply::empty(401),
        None => reply::empty(404),
        Some(_) if !ctx.globals.on("rest_fhir_api") => reply::empty(501),
        Some(fhir_path) => fhir_route(shared, &ctx, &incoming, &claims, fhir_path).await,
    }
}

fn internal(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "sandbox request failed");
    reply::empty(500)
}

/// The documents served without a token, or `None` when `path` is not one of them.
fn public_document(ctx: &RequestContext, path: &str) -> Option<Response> {
    let fhir_on = ctx.globals.on("rest_fhir_api");
    match path {
        "metadata" | ".well-known/smart-configuration" if !fhir_on => Some(reply::empty(501)),
        "metadata" => Some(discovery::metadata(&ctx.urls)),
        ".well-known/smart-configuration" => Some(discovery::smart_configuration(ctx)),
        _ => None,
    }
}

fn bearer_refusal(refusal: BearerRefusal) -> Response {
    match refusal {
        BearerRefusal::Denied(hint) => {
            tracing::info!(hint, "bearer token refused");
            reply::oauth_error(&OAuthError::access_denied(hint), false)
        }
        BearerRefusal::Empty(status) => {
            tracing::info!(status, "bearer token refused by OpenEMR's own checks");
            reply::empty(status)
        }
        BearerRefusal::NotTrusted => {
            // F1's own spelling, space included.
            let body = json!({
                "error": "invalid _request",
                "error_description": "Refresh Token revoked or logged out",
                "message": "Refresh Token revoked or logged out",
            });
            reply::php_json_body(400, &body)
        }
        BearerRefusal::Internal(error) => internal(error),
    }
}

async fn fhir_route(
    shared: &Shared,
    ctx: &RequestContext,
    incoming: &Incoming,
    claims: &AccessClaims,
    fhir_path: &str,
) -> Response {
    let mut segments = fhir_path.split('/');
    let resource = segments.next().unwrap_or_default();
    let id = segments.next();
    if !RESOURCES.contains(&resource) || segments.next().is_some() {
        return reply::empty(404);
    }
    let permission = if incoming.method == Method::GET {
        "read"
    } else {
        "write"
    };
    // F1 wants the literal scope string; anything else is an empty 401.
    let required = format!("system/{resource}.{permission}");
    if !claims.scopes.contains(&required) {
        tracing::info!(required, "token lacks the scope this route needs");
        return reply::empty(401);
    }
    if incoming.method != Method::GET {
        // Limitation: writes are not emulated.
        return reply::empty(405);
    }
    let result = match id {
        Some(id) => read(shared, resource, id).await,
        None => search(shared, ctx, incoming, resource).await,
    };
    result.unwrap_or_else(internal)
}

async fn search(
    shared: &Shared,
    ctx: &RequestContext,
    incoming: &Incoming,
    resource: &str,
) -> anyhow::Result<Response> {
    let query: Vec<(String, String)> = incoming
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let found = match resource {
        "Patient" => patient::search(&shared.db, &query).await?,
        _ => Vec::new(),
    };
    let self_url = format!("{}/{resource}", ctx.urls.fhir_base());
    Ok(reply::plain_json(200, &patient::bundle(&self_url, found)))
}

async fn read(shared: &Shared, resource: &str, id: &str) -> anyhow::Result<Response> {
    let found = match resource {
        "Patient" => patient::read(&shared.db, id).await?,
        _ => None,
    };
    Ok(match found {
        Some(resource) => reply::plain_json(200, &resource),
        // F1 answers an unknown id with an empty JSON list.
        None => reply::plain_json(404, &Value::Array(Vec::new())),
    })
}
