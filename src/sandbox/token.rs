//! Everything under `/oauth2/`: the site and API gates, discovery, and the token endpoint's
//! client_credentials grant in OpenEMR's order of checks.

use std::collections::HashMap;

use axum::http::{header, Method};
use axum::response::Response;

use super::answers::{self, Area};
use super::assertion::ParsedAssertion;
use super::context::{site_exists, split_site, RequestContext};
use super::refusal::{refuse, unusable_client, Refusal};
use super::store::{self, ClientRecord};
use super::{client_auth, discovery, form, grant_scopes, issue, reply, Incoming, Shared};
use crate::openemr::errors::OAuthError;
use crate::openemr::grants::{grant_allowed, CLIENT_CREDENTIALS};
use crate::openemr::JWT_BEARER;

/// Routes an `/oauth2/...` request: the site first, then the API switches, then the path.
pub async fn dispatch_oauth2(shared: &Shared, incoming: Incoming) -> Response {
    let profile = shared.profile;
    let path = incoming.uri.path().to_string();
    let site_path = split_site(path.strip_prefix("/oauth2").unwrap_or(&path), profile);
    if !site_exists(shared, site_path.site) {
        tracing::info!(
            site = site_path.site,
            "request for a site that does not exist"
        );
        return answers::unknown_site(profile, Area::OAuth2);
    }
    let ctx = match RequestContext::load(shared, site_path.site, &incoming.headers).await {
        Ok(ctx) => ctx,
        Err(error) => return answers::internal(error),
    };
    if !ctx.globals.any_api() {
        return answers::api_disabled(profile);
    }
    match site_path.rest {
        "token" => token_endpoint(shared, &ctx, incoming).await,
        ".well-known/openid-configuration" => discovery::openid_configuration(profile, &ctx),
        "jwk" => discovery::server_jwk(shared),
        // Limitation: registration, authorize, introspection and the rest are not emulated.
        _ => reply::empty(404),
    }
}

async fn token_endpoint(shared: &Shared, ctx: &RequestContext, incoming: Incoming) -> Response {
    if incoming.method == Method::OPTIONS {
        return reply::empty(200);
    }
    let with_auth_header = incoming.headers.contains_key(header::AUTHORIZATION);
    let fields = form::fields(&incoming.method, &incoming.headers, &incoming.body);
    match grant(shared, ctx, &fields).await {
        Ok(response) => response,
        Err(refusal) => refusal.answer(with_auth_header),
    }
}

async fn grant(
    shared: &Shared,
    ctx: &RequestContext,
    fields: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    check_grant_fields(shared, fields)?;
    let assertion = ParsedAssertion::parse(assertion_text(shared, fields)?)
        .ok_or_else(|| unusable_client("assertion is not a JWT"))?;
    let client = find_client(shared, &assertion).await?;
    client_auth::authenticate(shared, ctx, &client, &assertion).await?;
    check_redirect_uri(&client, fields)?;
    let jti = assertion.jti().unwrap_or_default();
    // The jti is spent here, before scopes are looked at: an invalid_scope answer burns it.
    store::record_jti(&shared.db, jti, &client.client_id, assertion.expiry()).await?;
    check_grant_types(shared, &client)?;
    let scopes = grant_scopes::granted(shared.profile, ctx, &client, fields.get("scope"))?;
    let user = store::system_user_uuid(&shared.db)
        .await?
        .ok_or_else(|| refuse(OAuthError::not_set_up(), "oe-system user is missing"))?;
    let issuer = ctx.urls.oauth_base();
    let grant = issue::Grant {
        profile: shared.profile,
        client_id: &client.client_id,
        user_uuid: &user,
        site: &ctx.urls.site,
        issuer: &issuer,
        scopes,
    };
    let response = issue::issue(shared, &grant).await?;
    tracing::info!(client_id = %client.client_id, "access token issued");
    Ok(response)
}

/// grant_type and client_assertion_type. A missing grant_type (or authorization_code, which
/// OpenEMR then tries without a session) is "Bad request"; 6.0 has no client_credentials.
fn check_grant_fields(shared: &Shared, fields: &HashMap<String, String>) -> Result<(), Refusal> {
    let unsupported = || refuse(OAuthError::unsupported_grant(), "grant_type");
    match fields.get("grant_type").map(String::as_str) {
        None | Some("authorization_code") => {
            return Err(refuse(
                OAuthError::bad_request(),
                "no grant_type in a form body",
            ))
        }
        Some(CLIENT_CREDENTIALS) if shared.profile.has_client_credentials() => {}
        Some(_) => return Err(unsupported()),
    }
    if fields.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return Err(refuse(
            OAuthError::assertion_type(),
            "client_assertion_type",
        ));
    }
    Ok(())
}

/// The `client_assertion` field. Missing, F1 dies on a TypeError (empty 500) while F2 refuses
/// it like a wrong assertion type.
fn assertion_text<'a>(
    shared: &Shared,
    fields: &'a HashMap<String, String>,
) -> Result<&'a str, Refusal> {
    match fields.get("client_assertion") {
        Some(text) => Ok(text),
        None if shared.profile.refuses_missing_assertion() => Err(refuse(
            OAuthError::assertion_type(),
            "no client_assertion field",
        )),
        None => Err(Refusal::Crash("no client_assertion field")),
    }
}

/// The client named by the assertion's `sub`, if it may use this grant at all.
async fn find_client(
    shared: &Shared,
    assertion: &ParsedAssertion,
) -> Result<ClientRecord, Refusal> {
    let sub = assertion
        .subject()
        .ok_or_else(|| unusable_client("assertion has no sub"))?;
    let client = store::client(&shared.db, sub)
        .await?
        .ok_or_else(|| unusable_client("no client has the assertion's sub as id"))?;
    if !client.is_confidential {
        return Err(unusable_client("client is not confidential"));
    }
    if !client.is_enabled {
        return Err(unusable_client("client is disabled (is_enabled = 0)"));
    }
    Ok(client)
}

/// A `redirect_uri` field, when sent, must be one of the client's registered ones.
fn check_redirect_uri(
    client: &ClientRecord,
    fields: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let Some(sent) = fields.get("redirect_uri") else {
        return Ok(());
    };
    let registered = client.redirect_uri.as_deref().unwrap_or("");
    if registered.split('|').any(|r| r == sent) {
        Ok(())
    } else {
        Err(unusable_client("redirect_uri is not registered"))
    }
}

/// F3 refuses a client whose stored `grant_types` lacks client_credentials. Where F3 runs
/// this guard is not known; here it runs once the client is authenticated, after its jti is
/// stored, as a guard inside the grant would.
fn check_grant_types(shared: &Shared, client: &ClientRecord) -> Result<(), Refusal> {
    let stored = client.grant_types.as_deref().unwrap_or("");
    if !shared.profile.enforces_grant_types() || grant_allowed(stored, CLIENT_CREDENTIALS) {
        return Ok(());
    }
    let reason = "grant_types lacks client_credentials";
    Err(refuse(OAuthError::unauthorized_client(), reason))
}
