//! Which certificates are trusted: the public roots reqwest ships (Mozilla's, through
//! webpki-roots), plus the `--ca-cert` file; or nothing is checked at all with `--insecure`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::{self, SectionKind};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{NetError, NetworkOptions};

/// Reads the certificates of a `--ca-cert` file, refusing one that holds none.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bytes = std::fs::read(path).map_err(|source| NetError::CaCertUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let sections = pem_sections(path, &bytes)?;
    let (certs, others): (Vec<_>, Vec<_>) = sections
        .into_iter()
        .partition(|(kind, _)| *kind == SectionKind::Certificate);
    if certs.is_empty() {
        return Err(NetError::CaCertNoCertificate {
            path: path.to_path_buf(),
            found: found_kinds(&others),
        });
    }
    let certs: Vec<_> = certs
        .into_iter()
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    check_parses(path, &certs)?;
    Ok(certs)
}

fn pem_sections(path: &Path, bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, NetError> {
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(NetError::CaCertNotPem {
            path: path.to_path_buf(),
        });
    }
    let mut reader = std::io::Cursor::new(bytes);
    let mut sections = Vec::new();
    loop {
        match pem::from_buf(&mut reader) {
            Ok(Some(section)) => sections.push(section),
            Ok(None) => return Ok(sections),
            Err(error) => {
                return Err(NetError::CaCertDamaged {
                    path: path.to_path_buf(),
                    detail: error.to_string(),
                })
            }
        }
    }
}

fn found_kinds(sections: &[(SectionKind, Vec<u8>)]) -> String {
    if sections.is_empty() {
        return "no PEM block it knows".to_string();
    }
    let kinds: Vec<String> = sections
        .iter()
        .map(|(kind, _)| format!("{kind:?}"))
        .collect();
    format!("only {}", kinds.join(", "))
}

/// A certificate whose PEM is fine but whose DER is not would otherwise fail later, inside
/// the HTTP client, with a message that no longer names the file.
fn check_parses(path: &Path, certs: &[CertificateDer<'static>]) -> Result<(), NetError> {
    for (index, cert) in certs.iter().enumerate() {
        let mut store = RootCertStore::empty();
        store
            .add(cert.clone())
            .map_err(|error| NetError::CaCertRejected {
                path: path.to_path_buf(),
                index: index + 1,
                detail: error.to_string(),
            })?;
    }
    Ok(())
}

/// The rustls client configuration matching what [`super::build_client`] trusts, for a
/// handshake of our own.
pub fn client_config(options: &NetworkOptions) -> Result<ClientConfig, NetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::TlsSetup(e.to_string()))?;
    if options.insecure {
        let verifier = Arc::new(AnyCertificate(provider));
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth());
    }
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &options.ca_cert {
        for cert in read_ca_file(path)? {
            roots
                .add(cert)
                .map_err(|e| NetError::TlsSetup(e.to_string()))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `--insecure`: every certificate passes; signatures are still checked so that the
/// handshake itself is a real one.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
