//! The network layer shared by every request oemr-doctor makes: one HTTP client built from
//! [`NetworkOptions`] (timeouts, trust, proxies), plain words for why a request failed, a TLS
//! handshake of our own that reports the negotiated version, and the `-v` log line of an
//! exchange.

mod client;
mod failure;
mod options;
pub mod proxy;
mod tls;
mod trust;

use std::path::PathBuf;

use reqwest::header::HeaderMap;

pub use client::build_client;
pub use failure::{classify, classify_source, describe_error, describe_kind, FailureKind};
pub use options::{
    human_duration, NetworkOptions, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_SLOW_SECS,
    DEFAULT_TIMEOUT_SECS,
};
pub use proxy::{route, ProxyEnv, ProxySetting, Route};
pub use tls::{probe_tls, CertificateFacts, TlsFacts, TlsVersion};
pub use trust::read_ca_file;

/// Why the network layer could not be set up, or a handshake of our own failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot read the CA certificate file {}: {source}", path.display())]
    CaCertUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the CA certificate file {} is not PEM: it has no -----BEGIN CERTIFICATE----- line",
        path.display()
    )]
    CaCertNotPem { path: PathBuf },
    #[error("the CA certificate file {} holds no certificate ({found})", path.display())]
    CaCertNoCertificate { path: PathBuf, found: String },
    #[error("the CA certificate file {} has a damaged PEM block: {detail}", path.display())]
    CaCertDamaged { path: PathBuf, detail: String },
    #[error("certificate {index} in the CA certificate file {} is not usable: {detail}",
        path.display())]
    CaCertRejected {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    #[error("{origin} is not a usable proxy ({value:?}): {detail}")]
    BadProxy {
        origin: String,
        value: String,
        detail: String,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("cannot set up TLS: {0}")]
    TlsSetup(String),
    #[error("{0} names no host to connect to")]
    NoHost(String),
    #[error("cannot connect to {target}: {detail}")]
    Unreachable { target: String, detail: String },
    #[error("connect timeout after {after} reaching {target} (TCP and TLS handshake)")]
    ConnectTimeout { target: String, after: String },
    #[error("TLS handshake with {target} failed: {detail}")]
    Handshake {
        target: String,
        kind: FailureKind,
        detail: String,
    },
    #[error("the proxy {proxy} gave no tunnel: {detail}")]
    ProxyTunnel { proxy: String, detail: String },
}

/// Response headers that carry no credential and help explain an answer; `-v` logs these and
/// only these (never `Authorization`, `Cookie`, `Set-Cookie` or a body).
pub const SAFE_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "date",
    "location",
    "www-authenticate",
    "server",
    "cache-control",
    "retry-after",
];

/// The loggable headers of an answer, as `name: value` pairs in [`SAFE_RESPONSE_HEADERS`]
/// order.
pub fn safe_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    SAFE_RESPONSE_HEADERS
        .iter()
        .flat_map(|name| {
            headers.get_all(*name).iter().map(move |value| {
                let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.to_string(), text)
            })
        })
        .collect()
}

/// Logs one exchange at info level (`-v`): method, URL, status and the safe headers.
pub fn log_exchange(method: &str, url: &str, status: u16, headers: &HeaderMap) {
    let shown: Vec<String> = safe_headers(headers)
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    tracing::info!(
        %method,
        url = %strip_userinfo(url),
        status,
        headers = %shown.join("; "),
        "exchange"
    );
}

/// A URL with any `user:password@` taken out, for logs.
fn strip_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn only_safe_headers_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("set-cookie", HeaderValue::from_static("OpenEMR=abc"));
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("www-authenticate", HeaderValue::from_static("Bearer"));
        let kept = safe_headers(&headers);
        assert_eq!(
            kept,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("www-authenticate".to_string(), "Bearer".to_string()),
            ]
        );
    }

    #[test]
    fn credentials_in_urls_are_not_logged() {
        assert_eq!(
            strip_userinfo("https://u:p@127.0.0.1/x"),
            "https://127.0.0.1/x"
        );
        assert_eq!(strip_userinfo("http://127.0.0.1/x"), "http://127.0.0.1/x");
    }
}
