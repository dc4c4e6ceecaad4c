//! The aud rule: OpenEMR compares aud byte for byte with the token URL it builds from its Site
//! Address, so each way an aud can differ (FHIR base, issuer, trailing slash, scheme, host,
//! port, path) is named as such.

use url::Url;

use super::decoded::DecodedJwt;
use super::rules::RuleContext;
use crate::openemr::fault::Fault;

/// The faults of the assertion's aud.
pub fn aud_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let auds = jwt.audiences();
    if auds.is_empty() {
        let fix = match ctx.token_endpoint {
            Some(t) => format!("set aud to the token endpoint exactly: {t}"),
            None => "set aud to the token endpoint exactly (…/oauth2/SITE/token)".to_string(),
        };
        return vec![Fault::refused(
            "aud-missing",
            "the assertion has no aud",
            fix,
        )];
    }
    let Some(expected) = ctx.token_endpoint.or(ctx.site_addr_token) else {
        return shape_faults(&auds[0], ctx.site);
    };
    if auds.iter().any(|a| a == expected) {
        return site_address_faults(expected, ctx).into_iter().collect();
    }
    vec![mismatch(&auds[0], expected, ctx.site)]
}

fn mismatch(aud: &str, expected: &str, site: &str) -> Fault {
    let differences = differences(aud, expected, site);
    let origin_only = differences
        .iter()
        .all(|d| d.starts_with("scheme") || d.starts_with("host") || d.starts_with("port"));
    let mut fix = format!("set aud to the token_endpoint string exactly: {expected}");
    if origin_only {
        fix.push_str(
            ", whichever address you POST to — or set Site Address (site_addr_oath) to the \
             origin your clients use",
        );
    }
    let what = format!(
        "aud is {aud} but the token endpoint is {expected}: {}",
        differences.join("; ")
    );
    Fault::refused(code(&differences), what, fix)
}

fn code(differences: &[String]) -> &'static str {
    let first = differences.first().map(String::as_str).unwrap_or("");
    match first {
        d if d.contains("FHIR base") => "aud-fhir-base",
        d if d.contains("issuer") => "aud-issuer",
        d if d.contains("trailing slash") => "aud-trailing-slash",
        d if d.starts_with("scheme") => "aud-scheme",
        d if d.starts_with("host") || d.starts_with("port") => "aud-host",
        _ => "aud-path",
    }
}

/// How `aud` differs from `expected`, most telling first.
pub fn differences(aud: &str, expected: &str, site: &str) -> Vec<String> {
    if aud.trim_end_matches('/') == expected && aud != expected {
        return vec!["it has a trailing slash".to_string()];
    }
    let (Ok(a), Ok(e)) = (Url::parse(aud), Url::parse(expected)) else {
        return vec!["it is not an absolute URL".to_string()];
    };
    let mut found = path_difference(a.path(), e.path(), site)
        .into_iter()
        .collect::<Vec<_>>();
    if a.scheme() != e.scheme() {
        found.push(format!(
            "scheme {} where the server expects {} (behind a TLS proxy with an empty Site \
             Address OpenEMR builds http:// URLs)",
            a.scheme(),
            e.scheme()
        ));
    }
    if a.host_str() != e.host_str() {
        found.push(format!(
            "host {} where the server expects {} (OpenEMR compares strings: localhost, \
             127.0.0.1 and a container name all differ)",
            a.host_str().unwrap_or(""),
            e.host_str().unwrap_or("")
        ));
    }
    if a.port_or_known_default() != e.port_or_known_default() || a.port() != e.port() {
        found.push(format!(
            "port {} where the server expects {}",
            a.port().map_or("(none)".into(), |p| p.to_string()),
            e.port().map_or("(none)".into(), |p| p.to_string())
        ));
    }
    if found.is_empty() {
        found.push("the strings differ".to_string());
    }
    found
}

fn path_difference(path: &str, expected: &str, site: &str) -> Option<String> {
    if path == expected {
        return None;
    }
    let path = path.trim_end_matches('/');
    if path.contains("/apis/") && path.contains("/fhir") {
        return Some(
            "it is the FHIR base URL (the \"Aud URI\" the registration page shows is for \
             authorize requests; an assertion's aud is the token URL)"
                .to_string(),
        );
    }
    if path.ends_with(&format!("/oauth2/{site}")) {
        return Some("it is the OAuth issuer, not the token endpoint".to_string());
    }
    if path.contains("/apis/") && path.contains("/oauth2/") {
        return Some("its path puts /oauth2 under /apis; OAuth lives at /oauth2/SITE".to_string());
    }
    Some(format!("path {path} where the server expects {expected}"))
}

/// Without the server's token endpoint, the aud can still be judged by OpenEMR's layout.
fn shape_faults(aud: &str, site: &str) -> Vec<Fault> {
    let path = Url::parse(aud)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let wanted = format!("/oauth2/{site}/token");
    if path.ends_with(&wanted) && !path.contains("/apis/") {
        return Vec::new();
    }
    let why = if aud.ends_with('/') && path.trim_end_matches('/').ends_with(&wanted) {
        "it has a trailing slash".to_string()
    } else {
        path_difference(&path, &wanted, site).unwrap_or_default()
    };
    let what = format!("aud is {aud}, not an OpenEMR token URL (…{wanted}): {why}");
    let differences = vec![why];
    let fix = "set aud to the token_endpoint of …/fhir/.well-known/smart-configuration, exactly";
    vec![Fault::refused(code(&differences), what, fix)]
}

fn site_address_faults(aud: &str, ctx: &RuleContext<'_>) -> Option<Fault> {
    let built = ctx.site_addr_token?;
    if built == aud {
        return None;
    }
    Some(Fault::refused(
        "aud-site-address",
        format!("aud is the advertised {aud}, but the Site Address in the database builds {built}"),
        "set aud to the URL built from Site Address (site_addr_oath), or correct Site Address",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "https://emr.test/oauth2/default/token";

    #[test]
    fn each_way_to_differ_is_named() {
        let d = |aud| differences(aud, TOKEN, "default").join("; ");
        assert!(d("https://emr.test/apis/default/fhir").contains("FHIR base"));
        assert!(d("https://emr.test/apis/default/fhir/").contains("FHIR base"));
        assert_eq!(
            d("https://emr.test/oauth2/default/token/"),
            "it has a trailing slash"
        );
        assert!(d("http://emr.test/oauth2/default/token").starts_with("scheme http"));
        assert!(d("https://localhost/oauth2/default/token").starts_with("host localhost"));
        assert!(d("https://emr.test/oauth2/default").contains("issuer"));
        assert!(d("https://emr.test:9300/oauth2/default/token").starts_with("port 9300"));
    }
}
