//! Everything under `/oauth2/`: the site and API gates, discovery, and the token endpoint's
//! client_credentials grant in F1's order of checks.

use std::collections::HashMap;

use axum::http::{header, Method};
use axum::response::Response;

use super::assertion::{self, Expectations, ParsedAssertion, Verdict};
use super::context::{site_exists, split_site, RequestContext};
use super::keyset::{self, KeySetError};
use super::store::{self, ClientRecord};
use super::{discovery, form, issue, reply, Incoming, Shared};
use crate::openemr::errors::OAuthError;
use crate::openemr::scopes::{f1_accepts, split_registered};
use crate::openemr::JWT_BEARER;

/// Routes an `/oauth2/...` request. An unknown site is an empty 500 (F1 dies bootstrapping
/// it); with every API global off, every path is an empty 404.
pub async fn dispatch_oauth2(shared: &Shared, incoming: Incoming) -> Response {
    let path = incoming.uri.path().to_string();
    let site_path = split_site(path.strip_prefix("/oauth2").unwrap_or(&path));
    if !site_exists(shared, site_path.site) {
        tracing::info!(
            site = site_path.site,
            "request for a site that does not exist"
        );
        return reply::empty(500);
    }
    let ctx = match RequestContext::load(shared, site_path.site, &incoming.headers).await {
        Ok(ctx) => ctx,
        Err(error) => return internal(error),
    };
    if !ctx.globals.any_api() {
        return reply::empty(404);
    }
    match site_path.rest {
        "token" => token_endpoint(shared, &ctx, incoming).await,
        ".well-known/openid-configuration" => discovery::openid_configuration(&ctx),
        "jwk" => discovery::server_jwk(shared),
        // Limitation: registration, authorize, introspection and the rest are not emulated.
        _ => reply::empty(404),
    }
}

fn internal(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "sandbox request failed");
    reply::empty(500)
}

/// Why a token request got no token.
enum Refusal {
    /// A league-format error answer.
    OAuth(OAuthError, &'static str),
    /// Where F1 dies with a PHP fatal error: an empty 500.
    Crash(&'static str),
    /// The sandbox itself failed.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(error: anyhow::Error) -> Refusal {
        Refusal::Internal(error)
    }
}

fn refuse(error: OAuthError, reason: &'static str) -> Refusal {
    Refusal::OAuth(error, reason)
}

async fn token_endpoint(shared: &Shared, ctx: &RequestContext, incoming: Incoming) -> Response {
    if incoming.method == Method::OPTIONS {
        return reply::empty(200);
    }
    let with_auth_header = incoming.headers.contains_key(header::AUTHORIZATION);
    let fields = form::fields(&incoming.method, &incoming.headers, &incoming.body);
    match grant(shared, ctx, &fields).await {
        Ok(response) => response,
        Err(Refusal::OAuth(error, reason)) => {
            tracing::info!(error = %error.error, reason, "token request refused");
            reply::oauth_error(&error, with_auth_header)
        }
        Err(Refusal::Crash(reason)) => {
            tracing::info!(reason, "token request crashes F1 (empty 500)");
            reply::empty(500)
        }
        Err(Refusal::Internal(error)) => internal(error),
    }
}

async fn grant(
    shared: &Shared,
    ctx: &RequestContext,
    fields: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    check_grant_fields(fields)?;
    let Some(text) = fields.get("client_assertion") else {
        return Err(Refusal::Crash("no client_assertion field"));
    };
    let assertion = ParsedAssertion::parse(text)
        .ok_or_else(|| refuse(OAuthError::invalid_client(401), "assertion is not a JWT"))?;
    let client = find_client(shared, &assertion).await?;
    validate_assertion(shared, ctx, &client, &assertion).await?;
    check_redirect_uri(&client, fields)?;
    let jti = assertion.jti().unwrap_or_default();
    // The jti is spent here, before scopes are looked at: an invalid_scope answer burns it.
    store::record_jti(&shared.db, jti, &client.client_id, assertion.expiry()).await?;
    let scopes = granted_scopes(ctx, &client, fields.get("scope"))?;
    let user = store::system_user_uuid(&shared.db)
        .await?
        .ok_or_else(|| refuse(OAuthError::not_set_up(), "oe-system user is missing"))?;
    let issuer = ctx.urls.oauth_base();
    let grant = issue::Grant {
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
/// F1 then tries without a session) is "Bad request".
fn check_grant_fields(fields: &HashMap<String, String>) -> Result<(), Refusal> {
    match fields.get("grant_type").map(String::as_str) {
        None | Some("authorization_code") => {
            return Err(refuse(
                OAuthError::bad_request(),
                "no grant_type in a form body",
            ))
        }
        Some("client_credentials") => {}
        Some(_) => return Err(refuse(OAuthError::unsupported_grant(), "grant_type")),
    }
    if fields.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return Err(refuse(
            OAuthError::assertion_type(),
            "client_assertion_type",
        ));
    }
    Ok(())
}

/// The client named by the assertion's `sub`, if it may use this grant at all.
async fn find_client(
    shared: &Shared,
    assertion: &ParsedAssertion,
) -> Result<ClientRecord, Refusal> {
    let unauthorized = |reason| refuse(OAuthError::invalid_client(401), reason);
    let sub = assertion
        .subject()
        .ok_or_else(|| unauthorized("assertion has no sub"))?;
    let client = store::client(&shared.db, sub)
        .await?
        .ok_or_else(|| unauthorized("no client has the assertion's sub as id"))?;
    if !client.is_confidential {
        return Err(unauthorized("client is not confidential"));
    }
    if !client.is_enabled {
        return Err(unauthorized("client is disabled (is_enabled = 0)"));
    }
    Ok(client)
}

async fn validate_assertion(
    shared: &Shared,
    ctx: &RequestContext,
    client: &ClientRecord,
    assertion: &ParsedAssertion,
) -> Result<(), Refusal> {
    let keys = keyset::load(shared, client).await.map_err(|e| match e {
        KeySetError::Unavailable(reason) => refuse(OAuthError::invalid_client(401), reason),
        KeySetError::NotJson => Refusal::Crash("client key material is not JSON"),
    })?;
    let token_url = ctx.urls.token();
    let expect = Expectations {
        client_id: &client.client_id,
        token_url: &token_url,
        keys: &keys,
        now: chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
    };
    let mut failed = match assertion::check(assertion, &expect) {
        Verdict::Valid => Vec::new(),
        Verdict::Invalid(failed) => failed,
        Verdict::NoUsableKey => {
            let reason = "no usable RSA key in the client key set";
            return Err(refuse(OAuthError::invalid_client(401), reason));
        }
    };
    if let Some(jti) = assertion.jti() {
        if store::jti_used(&shared.db, jti).await? {
            tracing::info!(client_id = %client.client_id, "jti reused: possible replay attack");
            failed.push("jti was already used");
        }
    }
    match failed.first() {
        None => Ok(()),
        Some(first) => {
            tracing::info!(client_id = %client.client_id, failures = ?failed, "assertion invalid");
            Err(refuse(OAuthError::invalid_client(400), first))
        }
    }
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
        let reason = "redirect_uri is not registered";
        Err(refuse(OAuthError::invalid_client(401), reason))
    }
}

/// Validates every requested scope against F1's current list (refusing the first unknown one),
/// then silently keeps only those in the client's registered scope column.
fn granted_scopes(
    ctx: &RequestContext,
    client: &ClientRecord,
    requested: Option<&String>,
) -> Result<Vec<String>, Refusal> {
    let requested: Vec<&str> = requested
        .map(|s| s.trim().split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let system_scopes = ctx.globals.system_scopes();
    if let Some(bad) = requested
        .iter()
        .find(|s| !f1_accepts(s, &requested, system_scopes))
    {
        return Err(refuse(
            OAuthError::invalid_scope(bad),
            "scope not supported",
        ));
    }
    let registered = split_registered(client.scope.as_deref().unwrap_or(""));
    let mut granted: Vec<String> = Vec::new();
    for scope in requested {
        if registered.contains(&scope) && !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_string());
        }
    }
    Ok(granted)
}
