//! The state change each recorded exchange was made under, mapped by id. The records describe
//! it in prose (`setup`); here it is spelled out as the rows and globals to write.

use super::fixture::Fixture;

/// One change made just before an exchange.
pub enum Step {
    /// A column of the baseline client (`None` is NULL).
    Client(&'static str, Option<String>),
    /// A global.
    Global(&'static str, String),
    /// An assignment on the `api_token` row of the bearer token the exchange uses.
    TokenRow(&'static str),
}

fn jwks(f: &Fixture, names: &[&str]) -> Step {
    Step::Client("jwks", Some(f.keys.jwks(names)))
}

fn jwks_uri(f: &Fixture, path: &str) -> Vec<Step> {
    vec![
        Step::Client("jwks", None),
        Step::Client("jwks_uri", Some(f.jwks_url(path))),
    ]
}

fn client(column: &'static str, value: &str) -> Step {
    Step::Client(column, Some(value.to_string()))
}

fn global(name: &'static str, value: &str) -> Step {
    Step::Global(name, value.to_string())
}

/// The steps for exchange `id`; `None` when the id has a setup this file does not know.
pub fn steps(f: &Fixture, id: &str, described: Option<&str>) -> Option<Vec<Step>> {
    let ours_modified = |edit: fn(&mut serde_json::Value)| {
        let mut key = f.keys.jwk("ours");
        edit(&mut key);
        client("jwks", &serde_json::json!({ "keys": [key] }).to_string())
    };
    let refused = format!("http://{}/jwks.json", f.refused);
    let steps = match id {
        "tok-client-disabled-after-registration" | "state-disabled" => {
            vec![client("is_enabled", "0")]
        }
        "state-not-confidential" => vec![client("is_confidential", "0")],
        "state-jwks-empty-string" => vec![client("jwks", "")],
        "state-jwks-null" => vec![Step::Client("jwks", None)],
        "state-jwks-json-empty-string" => vec![client("jwks", "\"\"")],
        "state-jwks-malformed-json" => vec![client("jwks", "{\"keys\":[{\"kty\":\"RSA\",")],
        "state-jwks-bare-jwk" => vec![client("jwks", &f.keys.jwk("ours").to_string())],
        "state-jwks-keys-empty" => vec![client("jwks", "{\"keys\": []}")],
        "state-jwks-ec-only-rs384" | "state-jwks-ec-only-es384" => vec![jwks(f, &["ec"])],
        "state-jwks-other-then-ours" | "state-jwks-other-then-ours-kid-other" => {
            vec![jwks(f, &["other", "ours"])]
        }
        "state-jwks-ours-then-other" => vec![jwks(f, &["ours", "other"])],
        "state-jwks-ec-then-ours" => vec![jwks(f, &["ec", "ours"])],
        "state-jwks-rsa-missing-e" => vec![ours_modified(|k| {
            k.as_object_mut().unwrap().remove("e");
        })],
        "state-jwks-rsa-use-enc-alg-rs256" => vec![ours_modified(|k| {
            k["use"] = "enc".into();
            k["alg"] = "RS256".into();
        })],
        "state-jwks-uri-good" => jwks_uri(f, "good.json"),
        "state-jwks-uri-good-text-plain" => jwks_uri(f, "good-as-text.json"),
        "state-jwks-uri-html" => jwks_uri(f, "page.html"),
        "state-jwks-uri-bare-jwk" => jwks_uri(f, "bare.json"),
        "state-jwks-uri-404" => jwks_uri(f, "missing.json"),
        "state-jwks-uri-404-json-body" => jwks_uri(f, "missing-json.json"),
        "state-jwks-uri-500-valid-jwks" => jwks_uri(f, "good-but-500.json"),
        "state-jwks-uri-other-then-ours" => jwks_uri(f, "other-then-ours.json"),
        "state-jwks-uri-refused" => vec![Step::Client("jwks", None), client("jwks_uri", &refused)],
        "state-jwks-uri-empty-string-jwks-ours" => vec![client("jwks_uri", "")],
        "state-jwks-ours-and-uri-other" => vec![client("jwks_uri", &f.jwks_url("other.json"))],
        "state-jwks-other-and-uri-ours" => vec![
            jwks(f, &["other"]),
            client("jwks_uri", &f.jwks_url("good.json")),
        ],
        "state-jwks-ours-and-uri-refused" => vec![client("jwks_uri", &refused)],
        "state-scope-patched" => vec![client(
            "scope",
            "openid api:fhir system/Patient.read system/Practitioner.read system/Observation.read",
        )],
        "state-scope-trailing-newline" => {
            vec![client("scope", "openid api:fhir system/Patient.read\n")]
        }
        "state-scope-double-space" => vec![client("scope", "openid api:fhir  system/Patient.read")],
        // Clients 3 and 4 are registered and enabled in the baseline already.
        "state-jwks-double-encoded-from-registration"
        | "tok-client-secret-basic-real-secret"
        | "tok-client-secret-post-real-secret"
        | "tok-assertion-plus-basic-real-secret"
        | "tok-assertion-plus-client-secret-field" => Vec::new(),
        "fhir-patient-token-expired-in-db" => {
            vec![Step::TokenRow("expiry = NOW() - INTERVAL 1 HOUR")]
        }
        "fhir-patient-token-revoked" => vec![Step::TokenRow("revoked = 1")],
        _ => return global_steps(f, id, described),
    };
    Some(steps)
}

fn global_steps(f: &Fixture, id: &str, described: Option<&str>) -> Option<Vec<Step>> {
    let localhost = f.sandbox.site_addr().replace("127.0.0.1", "localhost");
    let steps = if id.starts_with("glob-system-scopes-off-") {
        vec![global("rest_system_scopes_api", "0")]
    } else if id.starts_with("glob-fhir-api-off-") {
        vec![global("rest_fhir_api", "0")]
    } else if id.starts_with("glob-all-api-off-") {
        ["rest_api", "rest_fhir_api", "rest_portal_api"]
            .map(|g| global(g, "0"))
            .into()
    } else if id.starts_with("glob-site-addr-empty-") {
        vec![global("site_addr_oath", "")]
    } else if id.starts_with("glob-site-addr-localhost-") {
        vec![global("site_addr_oath", &localhost)]
    } else if described.is_some_and(|d| d.contains(" = ")) {
        // A recorded state change nobody mapped: refuse to replay it under the wrong state.
        return None;
    } else {
        Vec::new()
    };
    Some(steps)
}
