//! The server side of `inspect`: what the database says about the client the assertion names
//! (enabled, confidential, keys, grant_types), the API switches, the Site Address and whether
//! the assertion's jti was already spent.

use crate::db::clients::ClientRow;
use crate::db::globals::ApiGlobals;
use crate::db::{Database, DbError};
use crate::openemr::fault::Fault;
use crate::openemr::urls::SiteUrls;
use crate::openemr::Family;

use super::inspect::{selector, InspectInput};
use super::token::{grant_types_refused, grant_types_text};

/// Reads the client row, the globals, the version and the jti's history into `g`.
pub(super) async fn read_database(
    input: &InspectInput,
    client_id: Option<&str>,
    jti: Option<&str>,
    g: &mut super::inspect::Gathered,
) {
    let Some(source) = &input.db else { return };
    let db = match source.connect().await {
        Ok(db) => db,
        Err(e) => {
            g.facts.push(format!("database not read: {e}"));
            return;
        }
    };
    g.facts.push(format!("database: {}", db.target));
    if let Some(id) = client_id {
        match db.find_client(&selector(id)).await {
            Ok(row) => g.client = Some(row),
            Err(e) => g.faults.push(Fault::refused(
                "client-unknown",
                format!(
                    "{} (the server answers 401 invalid_client)",
                    first_line(&e.to_string())
                ),
                "use the client_id OpenEMR issued as iss and sub, or register the client",
            )),
        }
    }
    g.globals = db.api_globals().await.ok();
    g.db_version = db.recorded_version().await.ok().flatten();
    if let Some(jti) = jti {
        g.jti_used = jti_seen(&db, jti).await.ok();
    }
    db.pool.close().await;
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// Whether `jti` is in jwt_grant_history (OpenEMR looks it up by jti alone).
pub async fn jti_seen(db: &Database, jti: &str) -> Result<bool, DbError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jwt_grant_history WHERE jti = ?")
        .bind(jti)
        .fetch_one(&db.pool)
        .await
        .map_err(|e| db.query_error("reading jwt_grant_history", "jwt_grant_history", e))?;
    Ok(count > 0)
}

/// The token URL the server builds from its Site Address: site_addr_oath, the web root of
/// the base URL, `/oauth2/SITE/token`.
pub fn site_addr_token(
    globals: Option<&ApiGlobals>,
    urls: Option<&SiteUrls>,
    site: &str,
) -> Option<String> {
    let site_addr = globals?
        .value("site_addr_oath")
        .trim()
        .trim_end_matches('/');
    if site_addr.is_empty() {
        return None;
    }
    let webroot = urls
        .and_then(|u| url::Url::parse(&u.base).ok())
        .map(|u| u.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    Some(format!("{site_addr}{webroot}/oauth2/{site}/token"))
}

/// What the client's row and the API switches break, on `family`.
pub fn client_faults(
    client: &Option<ClientRow>,
    globals: &Option<ApiGlobals>,
    family: Family,
    client_id: Option<&str>,
) -> Vec<Fault> {
    let mut faults = globals.as_ref().map(global_faults).unwrap_or_default();
    let Some(row) = client else { return faults };
    let id = client_id.unwrap_or(&row.client_id);
    if !row.is_enabled {
        faults.push(Fault::refused(
            "client-disabled",
            format!("client {id} exists but is disabled (is_enabled = 0): 401 invalid_client"),
            format!(
                "enable it in Admin > System > API Clients, or oemr-doctor fix-scopes \
                 --client-id {id} --enable --apply"
            ),
        ));
    }
    if !row.is_confidential {
        faults.push(Fault::refused(
            "client-public",
            format!("client {id} is not confidential: 401 invalid_client"),
            "register it again as a confidential (private) app with a JWKS",
        ));
    }
    if !row.has_jwks() && !row.has_jwks_uri() {
        faults.push(Fault::refused(
            "client-no-keys",
            format!("client {id} has neither jwks nor jwks_uri: 401 invalid_client"),
            "register the client's public key set (oemr-doctor keygen prints one)",
        ));
    }
    faults.extend(grant_type_fault(row, family, id));
    faults
}

fn grant_type_fault(row: &ClientRow, family: Family, id: &str) -> Option<Fault> {
    let stored = row.grant_types.clone().unwrap_or_default();
    let hand_edited = stored.contains(' ') || stored.contains(',');
    let refused = family.enforces_grant_types();
    if !grant_types_refused(&stored) || !(refused || hand_edited) {
        return None;
    }
    Some(Fault::either(
        refused,
        "grant-types",
        format!(
            "{} (F3 answers 400 unauthorized_client)",
            grant_types_text(&stored)
        ),
        format!("oemr-doctor fix-scopes --client-id {id} --grant-types client_credentials --apply"),
    ))
}

fn global_faults(globals: &ApiGlobals) -> Vec<Fault> {
    let connectors = "Administration > Config > Connectors";
    let mut faults = Vec::new();
    if !globals.any_api() {
        faults.push(Fault::refused(
            "apis-off",
            "every OpenEMR API is switched off: /oauth2 answers 404",
            format!("turn on \"Enable OpenEMR Standard FHIR REST API\" in {connectors}"),
        ));
    }
    if !globals.system_scopes() {
        faults.push(Fault::refused(
            "system-scopes-off",
            "FHIR system scopes are off (rest_system_scopes_api): every system/ scope is \
             invalid_scope",
            format!("turn on \"Enable OpenEMR FHIR System Scopes\" in {connectors}"),
        ));
    }
    faults
}
