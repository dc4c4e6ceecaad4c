//! Everything under `/apis/`: the site check, the public FHIR documents, the bearer check and
//! the FHIR routes, in the order OpenEMR's dispatcher applies them.

use std::sync::LazyLock;

use axum::http::Method;
use axum::response::Response;
use serde_json::Value;

use super::answers::{self, Area};
use super::bearer::{self, AccessClaims};
use super::context::{site_exists, split_site, RequestContext};
use super::profile::Profile;
use super::{discovery, patient, reply, Incoming, Shared};
use crate::openemr::smart_v2::scopes_allow;

/// The FHIR resources F1 routes: those it has a `system/<R>.read` scope for, taken from the
/// same recorded list the scope rules use, except Binary, whose route the sandbox does not
/// emulate. Any other FHIR path is an empty 404. Only Patient has data in the sandbox: searches of the others find
/// nothing and reads of them are 404.
static RESOURCES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    crate::openemr::scopes::f1_system_read_resources()
        .into_iter()
        .filter(|r| *r != "Binary")
        .collect()
});

/// Routes an `/apis/...` request. An unknown site is refused before anything else.
pub async fn dispatch_apis(shared: &Shared, incoming: Incoming) -> Response {
    let profile = shared.profile;
    let path = incoming.uri.path().to_string();
    let after = path.strip_prefix("/apis").unwrap_or(&path);
    let site_path = split_site(after, profile);
    if !site_exists(shared, site_path.site) {
        return answers::unknown_site(profile, Area::Apis);
    }
    let ctx = match RequestContext::load(shared, site_path.site, &incoming.headers).await {
        Ok(ctx) => ctx,
        Err(error) => return answers::internal(error),
    };
    let fhir_path = site_path.rest.strip_prefix("fhir/");
    if let Some(public) = fhir_path.and_then(|p| public_document(shared, &ctx, p)) {
        return public;
    }
    let claims = match bearer::check(shared, &incoming.headers, &ctx.urls).await {
        Ok(claims) => claims,
        Err(refusal) => return answers::bearer(profile, refusal),
    };
    let fhir_gated = profile.gates_fhir_on_its_global() && !ctx.globals.on("rest_fhir_api");
    match fhir_path {
        // Every client_credentials token has the system role, which OpenEMR keeps off /api/.
        None if site_path.rest.starts_with("api/") => answers::system_role_on_api(profile),
        None => answers::unknown_route(profile),
        Some(_) if fhir_gated => reply::empty(501),
        Some(fhir_path) => fhir_route(shared, &ctx, &incoming, &claims, fhir_path).await,
    }
}

/// The documents served without a token, or `None` when `path` is not one of them. F1 gates
/// them on `rest_fhir_api`; F2 serves them whatever the globals say.
fn public_document(shared: &Shared, ctx: &RequestContext, path: &str) -> Option<Response> {
    let gated = shared.profile.gates_fhir_on_its_global() && !ctx.globals.on("rest_fhir_api");
    match path {
        "metadata" | ".well-known/smart-configuration" if gated => Some(reply::empty(501)),
        "metadata" => Some(discovery::metadata(shared.profile, &ctx.urls)),
        ".well-known/smart-configuration" => {
            Some(discovery::smart_configuration(shared.profile, ctx))
        }
        _ => None,
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
        return answers::unknown_route(shared.profile);
    }
    if !scope_allows(shared.profile, claims, &incoming.method, resource, id) {
        tracing::info!(resource, "token lacks the scope this route needs");
        return answers::missing_scope(shared.profile);
    }
    if incoming.method != Method::GET {
        // Limitation: writes are not emulated.
        return reply::empty(405);
    }
    let result = match id {
        Some(id) => read(shared, resource, id).await,
        None => search(shared, ctx, incoming, resource).await,
    };
    result.unwrap_or_else(answers::internal)
}

/// F1 wants the literal `system/<R>.read` (or `.write`); F2 a system scope whose v2
/// permissions hold the letter the operation needs (`s` to search, `r` to read by id).
fn scope_allows(
    profile: Profile,
    claims: &AccessClaims,
    method: &Method,
    resource: &str,
    id: Option<&str>,
) -> bool {
    if !profile.permission_scopes() {
        let permission = if *method == Method::GET {
            "read"
        } else {
            "write"
        };
        return claims
            .scopes
            .contains(&format!("system/{resource}.{permission}"));
    }
    let letter = match (method, id) {
        (&Method::GET, Some(_)) => 'r',
        (&Method::GET, None) => 's',
        (&Method::POST, _) => 'c',
        (&Method::DELETE, _) => 'd',
        _ => 'u',
    };
    scopes_allow(&claims.scopes, "system", resource, letter)
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
    let bundle = patient::bundle(&self_url, found);
    Ok(answers::json(shared.profile, 200, &bundle))
}

async fn read(shared: &Shared, resource: &str, id: &str) -> anyhow::Result<Response> {
    let found = match resource {
        "Patient" => patient::read(&shared.db, id).await?,
        _ => None,
    };
    Ok(match found {
        Some(resource) => answers::json(shared.profile, 200, &resource),
        // F1 answers an unknown id with an empty JSON list (F2 assumed alike).
        None => answers::json(shared.profile, 404, &Value::Array(Vec::new())),
    })
}
