//! The public documents: OIDC discovery, SMART configuration, the FHIR CapabilityStatement and
//! the server's own JWKS, with each family's field sets and quirks.

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::answers;
use super::context::RequestContext;
use super::profile::Profile;
use super::{reply, Shared};
use crate::keys::jwks::components;
use crate::openemr::scopes::f1_supported;
use crate::openemr::supported_v2::f2_supported;
use crate::openemr::urls::SiteUrls;

/// SMART capabilities F2 adds to F1's.
const SMART_V2_CAPABILITIES: &[&str] = &[
    "client-confidential-asymmetric",
    "permission-v1",
    "permission-v2",
    "authorize-post",
    "context-ehr-encounter",
];

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
pub fn openid_configuration(profile: Profile, ctx: &RequestContext) -> Response {
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
        "scopes_supported": supported(profile, ctx.globals.system_scopes()),
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
    answers::json(profile, 200, &body)
}

/// The whole supported scope list of the family.
fn supported(profile: Profile, system_scopes: bool) -> Vec<String> {
    if profile.permission_scopes() {
        f2_supported(system_scopes)
    } else {
        let f1 = f1_supported(system_scopes);
        f1.into_iter().map(str::to_string).collect()
    }
}

fn capabilities(profile: Profile) -> Vec<&'static str> {
    let mut all = SMART_CAPABILITIES.to_vec();
    if profile.smart_v2() {
        all.extend(SMART_V2_CAPABILITIES);
    }
    all
}

/// `/apis/SITE/fhir/.well-known/smart-configuration`, with the extra array around
/// `scopes_supported` every family has. F1 lists its registration endpoint; F2 drops it and
/// adds issuer (the FHIR base), jwks_uri and its client authentication methods; 6.0 predates
/// the PKCE and grant-type fields.
pub fn smart_configuration(profile: Profile, ctx: &RequestContext) -> Response {
    let urls = &ctx.urls;
    let oauth = urls.oauth_base();
    let system_scopes = ctx.globals.system_scopes();
    let mut body = Map::new();
    if profile.smart_v2() {
        body.insert("issuer".into(), urls.fhir_base().into());
        body.insert("jwks_uri".into(), urls.server_jwk().into());
    }
    body.insert(
        "authorization_endpoint".into(),
        format!("{oauth}/authorize").into(),
    );
    body.insert("token_endpoint".into(), urls.token().into());
    if !profile.smart_v2() {
        body.insert("registration_endpoint".into(), urls.registration().into());
    }
    body.insert(
        "scopes_supported".into(),
        json!([smart_scopes(profile, system_scopes)]),
    );
    body.insert("response_types_supported".into(), json!(RESPONSE_TYPES));
    body.insert(
        "introspection_endpoint".into(),
        format!("{oauth}/introspect").into(),
    );
    body.insert("capabilities".into(), json!(capabilities(profile)));
    if profile.smart_patch_fields() {
        body.insert("code_challenge_methods_supported".into(), json!(["S256"]));
        let grants = json!(["client_credentials", "authorization_code"]);
        body.insert("grant_types_supported".into(), grants);
    }
    if profile.smart_v2() {
        let methods = json!(["client_secret_basic", "private_key_jwt"]);
        body.insert("token_endpoint_auth_methods_supported".into(), methods);
    }
    answers::json(profile, 200, &Value::Object(body))
}

/// F2's SMART document: its supported list without the Standard-API scopes.
fn smart_scopes(profile: Profile, system_scopes: bool) -> Vec<String> {
    if !profile.permission_scopes() {
        let f1 = f1_smart_scopes(system_scopes);
        return f1.into_iter().map(str::to_string).collect();
    }
    let standard_api = |s: &String| {
        ["patient/", "user/", "system/"].iter().any(|c| {
            s.strip_prefix(c)
                .is_some_and(|r| r.contains('.') && r.starts_with(char::is_lowercase))
        })
    };
    let mut all = f2_supported(system_scopes);
    all.retain(|s| !standard_api(s));
    all
}

/// The SMART document lists only the FHIR part of the scope list: everything before the
/// Standard-API block, which starts with a second `openid`.
fn f1_smart_scopes(system_scopes: bool) -> Vec<&'static str> {
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
pub fn metadata(profile: Profile, urls: &SiteUrls) -> Response {
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
        capabilities(profile)
            .iter()
            .map(|c| json!({"valueCode": c, "url": format!("{smart}/capabilities")})),
    );
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": chrono::Local::now().format("%Y-%m-%d").to_string(),
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": software(profile),
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
    answers::json(profile, 200, &body)
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

/// The CapabilityStatement's `software`, without `version` where the family sends none.
fn software(profile: Profile) -> Value {
    match profile.software_version() {
        Some(version) => json!({"name": "OpenEMR", "version": version}),
        None => json!({"name": "OpenEMR"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_scopes_stop_before_the_standard_api_block() {
        let scopes = f1_smart_scopes(true);
        assert_eq!(scopes.len(), 104);
        assert_eq!(scopes.last(), Some(&"user/ValueSet.read"));
        assert!(!f1_smart_scopes(false).contains(&"system/Patient.read"));
        let f2 = smart_scopes(Profile::new(crate::openemr::Family::F2), true);
        assert!(f2.iter().any(|s| s == "system/Patient.rs"));
        assert!(f2.iter().any(|s| s == "launch/patient"));
        assert!(!f2.iter().any(|s| s == "user/patient.read"));
    }
}
