//! Plain words for why a request got no answer: which timeout fired and after how long, or
//! what was wrong with the server's certificate and what to do about it.

use std::error::Error as StdError;
use std::time::Duration;

use rustls::{AlertDescription, CertificateError};

use super::options::human_duration;
use super::NetworkOptions;

/// Why a request failed, as far as the user can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// No connection (TCP and TLS handshake) within the connect timeout.
    ConnectTimeout,
    /// Connected, but no complete answer within the total timeout.
    AnswerTimeout,
    /// Nothing listens there.
    Refused,
    /// The chain does not lead to a trusted root (self-signed, private CA, missing
    /// intermediate).
    UntrustedCertificate,
    /// The certificate is for another name.
    HostnameMismatch,
    /// The certificate's validity ended.
    Expired,
    /// The certificate's validity has not begun (or this machine's clock is behind).
    NotYetValid,
    /// The server offers no TLS version or cipher suite we accept (TLS 1.2 is the floor).
    TlsTooOld,
    /// Another TLS problem, in rustls's words.
    OtherTls(String),
    /// Anything else, in the innermost error's words.
    Other(String),
}

/// Sorts a reqwest error into a [`FailureKind`].
pub fn classify(error: &reqwest::Error) -> FailureKind {
    if error.is_timeout() {
        return if error.is_connect() {
            FailureKind::ConnectTimeout
        } else {
            FailureKind::AnswerTimeout
        };
    }
    classify_source(error)
}

/// Sorts any error chain (a handshake of our own included) into a [`FailureKind`].
pub fn classify_source(error: &(dyn StdError + 'static)) -> FailureKind {
    if let Some(tls) = find_rustls(error) {
        return tls_kind(tls);
    }
    if chain(error).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    }) {
        return FailureKind::Refused;
    }
    FailureKind::Other(
        chain(error)
            .last()
            .map(|e| e.to_string())
            .unwrap_or_default(),
    )
}

/// One sentence for a failed request to `url`.
pub fn describe_error(error: &reqwest::Error, options: &NetworkOptions, url: &str) -> String {
    describe_kind(&classify(error), options, url)
}

/// One sentence for a [`FailureKind`], with the hint that fits it.
pub fn describe_kind(kind: &FailureKind, options: &NetworkOptions, url: &str) -> String {
    let trust_hint = "pass --ca-cert FILE with the CA that signed it (or, only to look \
                      further, --insecure)";
    match kind {
        FailureKind::ConnectTimeout => format!(
            "{url}: connect timeout after {} (no TCP connection and TLS handshake in that \
             time; is the host reachable, or a firewall dropping packets?)",
            seconds(options.connect_timeout)
        ),
        FailureKind::AnswerTimeout => format!(
            "{url}: no complete answer within {} (connected, but the server did not finish \
             answering; raise --timeout if it is just slow)",
            seconds(options.timeout)
        ),
        FailureKind::Refused => {
            format!("{url}: connection refused (is the server running and listening there?)")
        }
        FailureKind::UntrustedCertificate => format!(
            "{url}: the server's certificate is not trusted (self-signed or signed by an \
             unknown CA); {trust_hint}"
        ),
        FailureKind::HostnameMismatch => format!(
            "{url}: the server's certificate is for another name than the one in the URL; \
             use the name the certificate was issued for, or reissue it for this one"
        ),
        FailureKind::Expired => {
            format!("{url}: the server's certificate has expired; renew it on the server")
        }
        FailureKind::NotYetValid => {
            format!("{url}: the server's certificate is not valid yet (check this machine's clock)")
        }
        FailureKind::TlsTooOld => format!(
            "{url}: the server offers no TLS version we accept; SMART requires TLS 1.2 or \
             later"
        ),
        FailureKind::OtherTls(detail) => format!("{url}: TLS failed: {detail}"),
        FailureKind::Other(detail) => format!("{url}: request failed: {detail}"),
    }
}

fn seconds(duration: Duration) -> String {
    human_duration(duration)
}

fn tls_kind(error: &rustls::Error) -> FailureKind {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                FailureKind::UntrustedCertificate
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                FailureKind::HostnameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                FailureKind::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                FailureKind::NotYetValid
            }
            other => FailureKind::OtherTls(format!("invalid certificate: {other:?}")),
        },
        E::PeerIncompatible(_)
        | E::AlertReceived(AlertDescription::ProtocolVersion)
        | E::AlertReceived(AlertDescription::HandshakeFailure) => FailureKind::TlsTooOld,
        other => FailureKind::OtherTls(other.to_string()),
    }
}

/// The rustls error in a chain.
fn find_rustls<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    chain(error).find_map(|e| e.downcast_ref::<rustls::Error>())
}

/// An error and its causes. `io::Error` hides the error it wraps from `source()` (and
/// reqwest nests them: an `Other` around the `InvalidData` that holds rustls's error), so
/// each one is opened with `get_ref()`.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let current = next?;
        let wrapped = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn StdError + 'static));
        next = wrapped.or_else(|| current.source());
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_timeout_names_itself_and_its_length() {
        let options = NetworkOptions::default();
        let connect = describe_kind(&FailureKind::ConnectTimeout, &options, "https://h/x");
        assert!(
            connect.starts_with("https://h/x: connect timeout after 5 s"),
            "{connect}"
        );
        let answer = describe_kind(&FailureKind::AnswerTimeout, &options, "https://h/x");
        assert!(
            answer.starts_with("https://h/x: no complete answer within 15 s"),
            "{answer}"
        );
    }

    #[test]
    fn rustls_errors_inside_io_errors_are_found() {
        let inner = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        // As reqwest hands it over: one io::Error inside another.
        let io = std::io::Error::other(io);
        assert_eq!(classify_source(&io), FailureKind::UntrustedCertificate);
        let inner = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        assert_eq!(classify_source(&io), FailureKind::Expired);
    }

    #[test]
    fn an_untrusted_certificate_hints_at_ca_cert_and_insecure() {
        let line = describe_kind(
            &FailureKind::UntrustedCertificate,
            &NetworkOptions::default(),
            "https://127.0.0.1:1/",
        );
        assert!(
            line.contains("--ca-cert") && line.contains("--insecure"),
            "{line}"
        );
    }
}
