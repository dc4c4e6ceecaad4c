//! A TLS handshake of our own with the server, to report what reqwest does not expose: the
//! negotiated protocol version (SMART asks for TLS 1.2 or later), the cipher suite and the
//! server's certificate. It trusts what the HTTP client trusts and takes the same proxy.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use rustls::pki_types::ServerName;
use rustls::ProtocolVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

use super::failure::classify_source;
use super::options::human_duration;
use super::proxy::{redact, route, Route};
use super::trust::client_config;
use super::{NetError, NetworkOptions};

/// A TLS protocol version that was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
    /// Anything else rustls may name in future.
    Other(String),
}

impl TlsVersion {
    /// Whether SMART's floor of TLS 1.2 is met.
    pub fn meets_smart_minimum(&self) -> bool {
        matches!(self, TlsVersion::Tls12 | TlsVersion::Tls13)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsVersion::Tls12 => f.write_str("TLS 1.2"),
            TlsVersion::Tls13 => f.write_str("TLS 1.3"),
            TlsVersion::Other(name) => f.write_str(name),
        }
    }
}

/// The server's leaf certificate, as far as a report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Subject distinguished name, such as `CN=emr.example.org`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// End of validity, RFC 3339 in UTC.
    pub not_after: String,
}

/// What one handshake showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// The negotiated protocol version.
    pub version: TlsVersion,
    /// The negotiated cipher suite, as IANA names it (`TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// The leaf certificate, when it could be read.
    pub certificate: Option<CertificateFacts>,
}

/// Handshakes with `url`'s host and port; `None` for a URL that is not `https`. Connecting
/// and the handshake share the connect timeout, as in the HTTP client.
pub async fn probe_tls(url: &Url, options: &NetworkOptions) -> Result<Option<TlsFacts>, NetError> {
    if url.scheme() != "https" {
        return Ok(None);
    }
    let target = authority(url)?;
    let name = server_name(url)?;
    let config = Arc::new(client_config(options)?);
    let handshake = async {
        let tcp = open(url, &target, options).await?;
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|error| NetError::Handshake {
                target: target.clone(),
                kind: classify_source(&error),
                detail: error.to_string(),
            })
    };
    let stream = tokio::time::timeout(options.connect_timeout, handshake)
        .await
        .map_err(|_| NetError::ConnectTimeout {
            target: target.clone(),
            after: human_duration(options.connect_timeout),
        })??;
    Ok(Some(facts(stream.get_ref().1)))
}

fn authority(url: &Url) -> Result<String, NetError> {
    let host = url
        .host()
        .ok_or_else(|| NetError::NoHost(url.to_string()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    Ok(format!("{host}:{port}"))
}

fn server_name(url: &Url) -> Result<ServerName<'static>, NetError> {
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    ServerName::try_from(host.to_string()).map_err(|_| NetError::NoHost(url.to_string()))
}

/// A TCP connection to the server, straight or through an HTTP proxy's `CONNECT` tunnel.
async fn open(url: &Url, target: &str, options: &NetworkOptions) -> Result<TcpStream, NetError> {
    let unreachable = |to: &str, error: std::io::Error| NetError::Unreachable {
        target: to.to_string(),
        detail: error.to_string(),
    };
    match route(url, options)? {
        Route::Direct { .. } => TcpStream::connect(target)
            .await
            .map_err(|e| unreachable(target, e)),
        Route::Proxy { url: proxy, .. } => {
            // Limitation: a TLS connection to the proxy itself (an https:// proxy) is not
            // made here; the HTTP client supports one, this handshake reports the error.
            if proxy.scheme() != "http" {
                return Err(NetError::ProxyTunnel {
                    proxy: redact(&proxy),
                    detail: "only http:// proxies are supported for the TLS check".into(),
                });
            }
            let at = authority(&proxy)?;
            let mut tcp = TcpStream::connect(&at)
                .await
                .map_err(|e| unreachable(&at, e))?;
            tunnel(&mut tcp, &proxy, target).await?;
            Ok(tcp)
        }
    }
}

/// Asks the proxy for a tunnel to `target` and reads its answer up to the blank line.
async fn tunnel(tcp: &mut TcpStream, proxy: &Url, target: &str) -> Result<(), NetError> {
    let failed = |detail: String| NetError::ProxyTunnel {
        proxy: redact(proxy),
        detail,
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if !proxy.username().is_empty() {
        let user = urlencoding_decode(proxy.username());
        let pass = urlencoding_decode(proxy.password().unwrap_or(""));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| failed(e.to_string()))?;
    let head = read_head(tcp).await.map_err(|e| failed(e.to_string()))?;
    let status = head.lines().next().unwrap_or("").to_string();
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        _ => Err(failed(format!("it answered {status:?}"))),
    }
}

/// The proxy's answer head, byte by byte so that nothing of the tunnel is read with it.
async fn read_head(tcp: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(std::io::Error::other("an answer head of over 16 KiB"));
        }
        let byte = tcp.read_u8().await?;
        head.push(byte);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// URL userinfo is percent-encoded; the header wants it as typed.
fn urlencoding_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn facts(connection: &rustls::ClientConnection) -> TlsFacts {
    let version = match connection.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
        Some(ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
        other => TlsVersion::Other(format!("{other:?}")),
    };
    let cipher_suite = connection
        .negotiated_cipher_suite()
        .map(|suite| format!("{:?}", suite.suite()))
        .unwrap_or_default();
    let certificate = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| certificate_facts(leaf));
    TlsFacts {
        version,
        cipher_suite,
        certificate,
    }
}

fn certificate_facts(der: &[u8]) -> Option<CertificateFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)?;
    Some(CertificateFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: not_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}
