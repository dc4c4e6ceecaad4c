//! The public documents: OIDC discovery, SMART configuration, the FHIR CapabilityStatement and
//! the server's own JWKS, with F1's field sets and quirks.

use axum::response::Response;
use serde_json::{json, Value};

use super::context::RequestContext;
use super::{reply, Shared};
use crate::keys::jwks::components;
use crate::openemr::scopes::f1_supported;
use crate::openemr::urls::SiteUrls;

/// The version F1's composer.json reports in the CapabilityStatement.
const SOFTWARE_VERSION: &str = "7.0.3";

/// SMART capabilities F1 advertises (v1 only, no asymmetric client auth).
const SMART_CAPABILITIES: &[&str] = &[
    "launch-ehr",
    "context-banner",
    "context-ehr-patient",
    "context-style",
    "sso-openid-connect",
    "client-confidential-symmetric",
    "permission-user",
    "context-standalone-patient",
    "launch-standalone",
    "permission-patient",
    "permission-offline",
    "client-public",
];

const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "code token",
    "code id_token",
    "token id_token",
    "code token id_token",
];

/// `/oauth2/SITE/.well-known/openid-configuration`. Note what F1 gets wrong and clients must
/// not trust: no client_credentials grant, no private_key_jwt, RS256 listed for assertions.
pub fn openid_configuration(ctx: &RequestContext) -> Response {
    let urls = &ctx.urls;
    let oauth = urls.oauth_base();
    let body = json!({
        "issuer": oauth,
        "authorization_endpoint": format!("{oauth}/authorize"),
        "token_endpoint": urls.token(),
        "jwks_uri": urls.server_jwk(),
        "userinfo_endpoint": format!("{oauth}/userinfo"),
        "registration_endpoint": urls.registration(),
        "end_session_endpoint": format!("{oauth}/logout"),
        "introspection_endpoint": format!("{oauth}/introspect"),
        "scopes_supported": f1_supported(ctx.globals.system_scopes()),
        "response_types_supported": RESPONSE_TYPES,
        "code_challenge_methods_supported": ["S256", "plain"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "claims_supported": [
            "profile", "email", "email_verified", "phone", "phone_verified", "family_name",
            "given_name", "fhirUser", "locale", "api:oemr", "api:fhir", "api:port", "aud",
            "iat", "iss", "exp", "sub"
        ],
        "require_request_uri_registration": ["false"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS384"],
        "claims_locales_supported": ["en-US"],
        "ui_locales_supported": ["en-US"],
    });
    reply::plain_json(200, &body)
}

/// `/apis/SITE/fhir/.well-known/smart-configuration`, with F1's extra array around
/// `scopes_supported` and its registration endpoint.
pub fn smart_configuration(ctx: &RequestContext) -> Response {
    let urls = &ctx.urls;
    let oauth = urls.oauth_base();
    let body = json!({
        "authorization_endpoint": format!("{oauth}/authorize"),
        "token_endpoint": urls.token(),
        "registration_endpoint": urls.registration(),
        "scopes_supported": [smart_scopes(ctx.globals.system_scopes())],
        "response_types_supported": RESPONSE_TYPES,
        "introspection_endpoint": format!("{oauth}/introspect"),
        "capabilities": SMART_CAPABILITIES,
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["client_credentials", "authorization_code"],
    });
    reply::plain_json(200, &body)
}

/// The SMART document lists only the FHIR part of the scope list: everything before the
/// Standard-API block, which starts with a second `openid`.
fn smart_scopes(system_scopes: bool) -> Vec<&'static str> {
    let all = f1_supported(system_scopes);
    let second_openid = all
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == "openid")
        .nth(1)
        .map(|(i, _)| i)
        .unwrap_or(all.len());
    all[..second_openid].to_vec()
}

/// `/apis/SITE/fhir/metadata`: the CapabilityStatement, cut down to the resources the sandbox
/// serves but with F1's top-level layout, version and SMART oauth-uris extension.
pub fn metadata(urls: &SiteUrls) -> Response {
    let oauth = urls.oauth_base();
    let smart = "http://fhir-registry.smarthealthit.org/StructureDefinition";
    let uri = |url: String, name: &str| json!({"valueUri": url, "url": name});
    let mut extensions = vec![json!({
        "extension": [
            uri(urls.token(), "token"),
            uri(format!("{oauth}/authorize"), "authorize"),
            uri(urls.registration(), "register"),
            uri(format!("{oauth}/introspect"), "introspect"),
        ],
        "url": format!("{smart}/oauth-uris"),
    })];
    extensions.extend(
        SMART_CAPABILITIES
            .iter()
            .map(|c| json!({"valueCode": c, "url": format!("{smart}/capabilities")})),
    );
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": chrono::Local::now().format("%Y-%m-%d").to_string(),
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": {"name": "OpenEMR", "version": SOFTWARE_VERSION},
        "implementation": {"description": "OpenEMR FHIR API", "url": urls.fhir_base()},
        "fhirVersion": "4.0.1",
        "format": ["application/json"],
        "rest": [{
            "mode": "server",
            "security": {
                "extension": extensions,
                "service": [{
                    "coding": [{
                        "system": "http://hl7.org/fhir/restful-security-service",
                        "code": "SMART-on-FHIR"
                    }],
                    "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"
                }]
            },
            "resource": [capability("Patient"), capability("Practitioner")]
        }]
    });
    reply::plain_json(200, &body)
}

fn capability(resource: &str) -> Value {
    json!({
        "type": resource,
        "profile": format!("http://hl7.org/fhir/StructureDefinition/{resource}"),
        "interaction": [{"code": "search-type"}, {"code": "read"}],
        "updateCreate": false,
        "searchParam": [
            {"name": "_id", "type": "token"},
            {"name": "name", "type": "string"},
            {"name": "family", "type": "string"},
            {"name": "given", "type": "string"}
        ]
    })
}

/// `/oauth2/SITE/jwk`: the server's one signing key, `use` sig, no kid and no alg, pretty
/// printed as F1 prints it.
pub fn server_jwk(shared: &Shared) -> Response {
    let (n, e) = components(&shared.server_key.public());
    let body = json!({"keys": [{"kty": "RSA", "n": n, "e": e, "use": "sig"}]});
    let text = serde_json::to_string_pretty(&body).expect("JSON always serialises") + "\n";
    reply::json_text(200, "application/json", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_scopes_stop_before_the_standard_api_block() {
        let scopes = smart_scopes(true);
        assert_eq!(scopes.len(), 104);
        assert_eq!(scopes.last(), Some(&"user/ValueSet.read"));
        assert!(!smart_scopes(false).contains(&"system/Patient.read"));
    }
}
