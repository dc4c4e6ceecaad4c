//! Which proxy, if any, a request goes through: `--proxy`, else the environment's
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` by the URL's scheme, and never for hosts that
//! `NO_PROXY` names. The HTTP client asks [`route`] for every request, so what `-v` logs is
//! what happens.

use std::net::IpAddr;

use url::Url;

use super::{NetError, NetworkOptions};

/// A proxy setting and where it came from (`--proxy`, `HTTPS_PROXY`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// The variable or flag that set it.
    pub origin: String,
    /// Its value as given.
    pub value: String,
}

/// The proxy variables of an environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// For `http://` URLs.
    pub http: Option<ProxySetting>,
    /// For `https://` URLs.
    pub https: Option<ProxySetting>,
    /// For either, when the scheme's own variable is unset.
    pub all: Option<ProxySetting>,
    /// Hosts to reach directly: comma-separated names, domains, IPs, CIDR ranges or `*`.
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// This process's variables.
    pub fn from_process() -> ProxyEnv {
        ProxyEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// The variables `lookup` gives; lower case wins over upper case, as curl reads them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let first = |names: &[&str]| {
            names.iter().find_map(|name| {
                let value = lookup(name).filter(|v| !v.trim().is_empty())?;
                let origin = name.to_string();
                Some(ProxySetting { origin, value })
            })
        };
        // Under CGI a request's `Proxy:` header arrives as HTTP_PROXY ("httpoxy"), so the
        // upper-case name is not trusted there.
        let cgi = lookup("REQUEST_METHOD").is_some();
        let http_names: &[&str] = if cgi {
            &["http_proxy"]
        } else {
            &["http_proxy", "HTTP_PROXY"]
        };
        ProxyEnv {
            http: first(http_names),
            https: first(&["https_proxy", "HTTPS_PROXY"]),
            all: first(&["all_proxy", "ALL_PROXY"]),
            no_proxy: first(&["no_proxy", "NO_PROXY"]).map(|s| s.value),
        }
    }
}

/// How one request travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight to the server; `bypass` names the `NO_PROXY` entry that excluded a proxy.
    Direct {
        /// The matching `NO_PROXY` entry, when a proxy was configured but skipped.
        bypass: Option<String>,
    },
    /// Through a proxy.
    Proxy {
        /// The proxy's URL.
        url: Url,
        /// Where the setting came from.
        origin: String,
    },
}

impl Route {
    /// The proxy URL, when there is one.
    pub fn proxy_url(&self) -> Option<&Url> {
        match self {
            Route::Proxy { url, .. } => Some(url),
            Route::Direct { .. } => None,
        }
    }

    /// One phrase for `-v` logs, with any proxy password hidden.
    pub fn describe(&self) -> String {
        match self {
            Route::Direct { bypass: None } => "direct (no proxy set)".to_string(),
            Route::Direct {
                bypass: Some(entry),
            } => {
                format!("direct (NO_PROXY entry {entry:?} matches)")
            }
            Route::Proxy { url, origin } => {
                format!("through proxy {} (from {origin})", redact(url))
            }
        }
    }
}

/// The route a request to `url` takes under `options`; an unusable proxy setting is an
/// error naming where it came from.
pub fn route(url: &Url, options: &NetworkOptions) -> Result<Route, NetError> {
    let Some(setting) = setting_for(url, options) else {
        return Ok(Route::Direct { bypass: None });
    };
    let proxy = parse_proxy(&setting)?;
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    if let Some(entry) = no_proxy_match(host, options.proxy_env.no_proxy.as_deref()) {
        return Ok(Route::Direct {
            bypass: Some(entry),
        });
    }
    Ok(Route::Proxy {
        url: proxy,
        origin: setting.origin,
    })
}

/// Checks every proxy setting that could apply, so that a bad one fails at start-up.
pub fn check_settings(options: &NetworkOptions) -> Result<(), NetError> {
    let env = &options.proxy_env;
    let flag = options.proxy.as_ref().map(|value| ProxySetting {
        origin: "--proxy".to_string(),
        value: value.clone(),
    });
    for setting in [&flag, &env.http, &env.https, &env.all]
        .into_iter()
        .flatten()
    {
        parse_proxy(setting)?;
    }
    Ok(())
}

fn setting_for(url: &Url, options: &NetworkOptions) -> Option<ProxySetting> {
    if let Some(value) = &options.proxy {
        return Some(ProxySetting {
            origin: "--proxy".to_string(),
            value: value.clone(),
        });
    }
    let env = &options.proxy_env;
    let own = match url.scheme() {
        "https" => env.https.clone(),
        "http" => env.http.clone(),
        _ => None,
    };
    own.or_else(|| env.all.clone())
}

/// Checks one proxy value, for a caller (the configuration file) that names the key itself.
pub fn check_value(value: &str) -> Result<(), String> {
    let setting = ProxySetting {
        origin: String::new(),
        value: value.to_string(),
    };
    match parse_proxy(&setting) {
        Ok(_) => Ok(()),
        Err(NetError::BadProxy { detail, .. }) => Err(format!("{value:?}: {detail}")),
        Err(other) => Err(other.to_string()),
    }
}

/// A proxy URL; a bare `host:port` means `http://host:port`, as curl and reqwest read it.
fn parse_proxy(setting: &ProxySetting) -> Result<Url, NetError> {
    let bad = |detail: &str| NetError::BadProxy {
        origin: setting.origin.clone(),
        value: setting.value.clone(),
        detail: detail.to_string(),
    };
    let value = setting.value.trim();
    let text = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&text).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http:// and https:// proxies are supported"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it names no host"));
    }
    Ok(url)
}

/// The `NO_PROXY` entry that covers `host`: `*`, the host itself, a parent domain (with or
/// without a leading dot or `*.`), an IP address or a CIDR range.
// Limitation: entries with a port (`host:8080`) are compared as written, so they only match
// a host spelled the same way; curl ignores such ports too.
fn no_proxy_match(host: &str, no_proxy: Option<&str>) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let ip: Option<IpAddr> = host.parse().ok();
    no_proxy?
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .find(|entry| entry_covers(entry, &host, ip))
        .map(str::to_string)
}

fn entry_covers(entry: &str, host: &str, ip: Option<IpAddr>) -> bool {
    let entry = entry.to_ascii_lowercase();
    if entry == "*" {
        return true;
    }
    if let (Some(ip), Ok(net)) = (ip, entry.parse::<ipnet::IpNet>()) {
        return net.contains(&ip);
    }
    let bare = entry.trim_matches(['[', ']']);
    if let (Some(ip), Ok(listed)) = (ip, bare.parse::<IpAddr>()) {
        return ip == listed;
    }
    let domain = entry.trim_start_matches("*.").trim_start_matches('.');
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// A proxy URL for logs: the password, if any, replaced.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(proxy: Option<&str>, vars: &[(&str, &str)]) -> NetworkOptions {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NetworkOptions {
            proxy: proxy.map(str::to_string),
            proxy_env: ProxyEnv::from_lookup(|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            }),
            ..NetworkOptions::default()
        }
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_scheme_picks_the_variable_and_the_flag_beats_them() {
        let opts = options(
            None,
            &[
                ("HTTPS_PROXY", "127.0.0.1:3128"),
                ("http_proxy", "http://127.0.0.1:8080"),
            ],
        );
        let https = route(&url("https://emr.test/"), &opts).unwrap();
        assert_eq!(
            https.describe(),
            "through proxy http://127.0.0.1:3128/ (from HTTPS_PROXY)"
        );
        let http = route(&url("http://emr.test/"), &opts).unwrap();
        assert_eq!(http.proxy_url().unwrap().port(), Some(8080));

        let flagged = NetworkOptions {
            proxy: Some("http://127.0.0.1:9".into()),
            ..opts
        };
        let via = route(&url("https://emr.test/"), &flagged).unwrap();
        assert_eq!(
            via.describe(),
            "through proxy http://127.0.0.1:9/ (from --proxy)"
        );
    }

    #[test]
    fn cgi_does_not_trust_upper_case_http_proxy() {
        let opts = options(None, &[("HTTP_PROXY", "x:1"), ("REQUEST_METHOD", "GET")]);
        let direct = route(&url("http://emr.test/"), &opts).unwrap();
        assert_eq!(direct, Route::Direct { bypass: None });
    }

    #[test]
    fn no_proxy_covers_names_domains_ips_and_ranges() {
        let list = Some("localhost, .example.org,*.corp.test 10.0.0.0/8,[::1],emr.test");
        assert_eq!(
            no_proxy_match("a.example.org", list).unwrap(),
            ".example.org"
        );
        assert_eq!(no_proxy_match("example.org", list).unwrap(), ".example.org");
        assert_eq!(no_proxy_match("x.corp.test", list).unwrap(), "*.corp.test");
        assert_eq!(no_proxy_match("10.1.2.3", list).unwrap(), "10.0.0.0/8");
        assert_eq!(no_proxy_match("::1", list).unwrap(), "[::1]");
        assert_eq!(no_proxy_match("EMR.test", list).unwrap(), "emr.test");
        assert_eq!(no_proxy_match("notemr.test", list), None);
        assert_eq!(no_proxy_match("11.0.0.1", list), None);
        assert_eq!(no_proxy_match("anything", Some("*")).unwrap(), "*");
    }

    #[test]
    fn a_bad_proxy_is_named_with_where_it_came_from() {
        let opts = options(Some("socks5://127.0.0.1:1080"), &[]);
        let err = check_settings(&opts).unwrap_err().to_string();
        assert!(
            err.contains("--proxy") && err.contains("socks5://"),
            "{err}"
        );
        let opts = options(None, &[("HTTPS_PROXY", "http://")]);
        let err = check_settings(&opts).unwrap_err().to_string();
        assert!(err.contains("HTTPS_PROXY"), "{err}");
    }

    #[test]
    fn proxy_passwords_are_hidden() {
        let shown = redact(&url("http://user:secret@127.0.0.1:3128"));
        assert_eq!(shown, "http://user:***@127.0.0.1:3128/");
    }
}
