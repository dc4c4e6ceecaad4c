//! What each request needs to know before it is routed: the site named in its path, the
//! globals as they are right now, and the address OpenEMR believes it is served at.

use axum::http::{header, HeaderMap};

use super::profile::Profile;
use super::Shared;
use crate::db::globals::ApiGlobals;
use crate::openemr::urls::SiteUrls;

/// A request's path split into the site and what follows it.
pub struct SitePath<'a> {
    /// The first segment after `oauth2/` or `apis/`.
    pub site: &'a str,
    /// The segments after the site, without a leading slash.
    pub rest: &'a str,
}

/// Splits `/oauth2/SITE/rest` or `/apis/SITE/rest` (the prefix already stripped). A lone
/// segment (`/oauth2/token`) is a site with nothing after it on F1, but F2 reads it as the
/// path under site `default` (read from its source; not observed).
pub fn split_site(after_prefix: &str, profile: Profile) -> SitePath<'_> {
    let trimmed = after_prefix.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((site, rest)) => SitePath { site, rest },
        None if profile.lone_segment_is_default_site() => SitePath {
            site: "default",
            rest: trimmed,
        },
        None => SitePath {
            site: trimmed,
            rest: "",
        },
    }
}

/// Whether `site` exists, as `sites/<id>` would on disk (case-sensitive, like Linux).
pub fn site_exists(shared: &Shared, site: &str) -> bool {
    crate::openemr::urls::validate_site(site).is_ok() && shared.sites.iter().any(|s| s == site)
}

/// The state one request runs in.
pub struct RequestContext {
    /// The globals, read for this request.
    pub globals: ApiGlobals,
    /// The URLs of the requested site, built on the address OpenEMR computes.
    pub urls: SiteUrls,
}

impl RequestContext {
    /// Reads the globals and works out the site's URLs for this request.
    pub async fn load(
        shared: &Shared,
        site: &str,
        headers: &HeaderMap,
    ) -> anyhow::Result<RequestContext> {
        let globals = shared.db.api_globals().await?;
        let site_addr = site_address(&globals, headers);
        let base = format!("{site_addr}{}", shared.webroot);
        let urls = SiteUrls {
            base,
            site: site.to_string(),
        };
        Ok(RequestContext { globals, urls })
    }
}

/// `site_addr_oath`, or when it is empty what F1 fills in per request: scheme `http` (what the
/// observed server used) and the last X-Forwarded-Host, else the Host header.
fn site_address(globals: &ApiGlobals, headers: &HeaderMap) -> String {
    let configured = globals.value("site_addr_oath").trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let forwarded = header_text(headers, "x-forwarded-host")
        .and_then(|v| v.split(',').next_back().map(|h| h.trim().to_string()))
        .filter(|h| !h.is_empty());
    let host = forwarded
        .or_else(|| header_text(headers, header::HOST.as_str()))
        .unwrap_or_default();
    format!("http://{}", host.trim_end_matches('/'))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globals(addr: &str) -> ApiGlobals {
        let mut g = ApiGlobals::default();
        g.0.insert("site_addr_oath".into(), addr.into());
        g
    }

    #[test]
    fn configured_address_wins_over_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:1".parse().unwrap());
        let g = globals("http://emr.test/");
        assert_eq!(site_address(&g, &headers), "http://emr.test");
    }

    #[test]
    fn empty_address_follows_forwarded_host_then_host() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "localhost:8300".parse().unwrap());
        assert_eq!(
            site_address(&globals(""), &headers),
            "http://localhost:8300"
        );
        headers.insert("x-forwarded-host", "a.test, b.test".parse().unwrap());
        assert_eq!(site_address(&globals(""), &headers), "http://b.test");
    }

    #[test]
    fn site_is_the_first_segment() {
        let f1 = Profile::new(crate::openemr::Family::F1);
        let p = split_site("default/fhir/Patient", f1);
        assert_eq!((p.site, p.rest), ("default", "fhir/Patient"));
        let p = split_site("default", f1);
        assert_eq!((p.site, p.rest), ("default", ""));
        let f2 = Profile::new(crate::openemr::Family::F2);
        let p = split_site("token", f2);
        assert_eq!((p.site, p.rest), ("default", "token"));
    }
}
