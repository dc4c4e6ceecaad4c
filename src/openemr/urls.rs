//! OpenEMR's URL layout: everything hangs off the site address, the web root and the site id.

use url::Url;

/// A base URL that cannot be used to reach an OpenEMR install.
#[derive(Debug, thiserror::Error)]
pub enum BaseUrlError {
    #[error("{0:?} is not a URL: {1}")]
    Parse(String, url::ParseError),
    #[error("{0:?} uses scheme {1:?}; OpenEMR is reached over http or https")]
    Scheme(String, String),
    #[error("{0:?} carries a query or fragment; give the address of the install only")]
    Extra(String),
    #[error(
        "{0:?} carries a user name or password; OpenEMR's API does not use them (they would be \
         sent as HTTP Basic credentials): give the address without them"
    )]
    UserInfo(String),
    #[error(
        "{url:?} already points inside OpenEMR ({inside}); give the install's address, such as \
            {suggestion:?}"
    )]
    Inside {
        url: String,
        inside: String,
        suggestion: String,
    },
    #[error("site {0:?} is not a valid OpenEMR site id (letters, digits, '-' and '.')")]
    Site(String),
}

/// The endpoints of one OpenEMR site, built from its base address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteUrls {
    /// Scheme, host, port and web root, without a trailing slash.
    pub base: String,
    /// The site id, `default` on most installs.
    pub site: String,
}

impl SiteUrls {
    /// Parses a base address such as `https://emr.example.org` or `http://host/openemr`.
    pub fn new(base: &str, site: &str) -> Result<SiteUrls, BaseUrlError> {
        validate_site(site)?;
        let url = Url::parse(base.trim()).map_err(|e| BaseUrlError::Parse(base.to_string(), e))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(BaseUrlError::Scheme(
                base.to_string(),
                url.scheme().to_string(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            let mut shown = url.clone();
            let _ = shown.set_password(None);
            let _ = shown.set_username("");
            return Err(BaseUrlError::UserInfo(shown.to_string()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::Extra(base.to_string()));
        }
        let trimmed = url.as_str().trim_end_matches('/').to_string();
        reject_inner_paths(base, &trimmed)?;
        Ok(SiteUrls {
            base: trimmed,
            site: site.to_string(),
        })
    }

    /// `BASE/oauth2/SITE`, the OAuth2 base and OIDC issuer.
    pub fn oauth_base(&self) -> String {
        format!("{}/oauth2/{}", self.base, self.site)
    }

    /// The token endpoint, which is also the `aud` a client assertion must carry.
    pub fn token(&self) -> String {
        format!("{}/token", self.oauth_base())
    }

    /// The server's own signing keys (note: `jwk`, not `jwks`).
    pub fn server_jwk(&self) -> String {
        format!("{}/jwk", self.oauth_base())
    }

    /// The OIDC discovery document.
    pub fn openid_configuration(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.oauth_base())
    }

    /// The dynamic client registration endpoint.
    pub fn registration(&self) -> String {
        format!("{}/registration", self.oauth_base())
    }

    /// `BASE/apis/SITE/fhir`, the FHIR base.
    pub fn fhir_base(&self) -> String {
        format!("{}/apis/{}/fhir", self.base, self.site)
    }

    /// The SMART configuration, under the FHIR base.
    pub fn smart_configuration(&self) -> String {
        format!("{}/.well-known/smart-configuration", self.fhir_base())
    }

    /// The FHIR CapabilityStatement.
    pub fn metadata(&self) -> String {
        format!("{}/metadata", self.fhir_base())
    }

    /// The FHIR Patient search.
    pub fn patient_search(&self) -> String {
        format!("{}/Patient", self.fhir_base())
    }
}

/// Checks a site id the way OpenEMR does before it looks for `sites/<id>`.
pub fn validate_site(site: &str) -> Result<(), BaseUrlError> {
    let ok = !site.is_empty()
        && site
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && site != "."
        && site != "..";
    if ok {
        Ok(())
    } else {
        Err(BaseUrlError::Site(site.to_string()))
    }
}

fn reject_inner_paths(original: &str, trimmed: &str) -> Result<(), BaseUrlError> {
    for marker in ["/apis/", "/oauth2/", "/interface/"] {
        if let Some(pos) = trimmed.find(marker) {
            return Err(BaseUrlError::Inside {
                url: original.to_string(),
                inside: marker.trim_matches('/').to_string(),
                suggestion: trimmed[..pos].to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_layout() {
        let urls = SiteUrls::new("http://host/openemr/", "default").unwrap();
        assert_eq!(urls.token(), "http://host/openemr/oauth2/default/token");
        assert_eq!(
            urls.smart_configuration(),
            "http://host/openemr/apis/default/fhir/.well-known/smart-configuration"
        );
    }

    #[test]
    fn bad_bases_are_named() {
        assert!(matches!(
            SiteUrls::new("ftp://x", "default"),
            Err(BaseUrlError::Scheme(..))
        ));
        assert!(matches!(
            SiteUrls::new("nonsense", "default"),
            Err(BaseUrlError::Parse(..))
        ));
        let err = SiteUrls::new("https://h/apis/default/fhir", "default").unwrap_err();
        assert!(err.to_string().contains("\"https://h\""), "{err}");
        assert!(matches!(
            SiteUrls::new("https://h", "../x"),
            Err(BaseUrlError::Site(..))
        ));
    }
}
