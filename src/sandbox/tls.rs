//! HTTPS for the sandbox: a certificate chain and key given as PEM, and a listener that does
//! each TLS handshake in a task of its own, so that one client that never finishes its
//! handshake cannot hold up the others.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take over its handshake before the sandbox drops it.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// The certificate chain (leaf first) and private key the sandbox serves HTTPS with.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    tls12_only: bool,
}

impl fmt::Debug for TlsIdentity {
    /// The key stays out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_chain_pem_bytes", &self.cert_chain_pem.len())
            .field("tls12_only", &self.tls12_only)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// An identity from PEM text held in memory.
    pub fn from_pem(cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        TlsIdentity {
            cert_chain_pem: cert_chain_pem.into(),
            key_pem: key_pem.into(),
            tls12_only: false,
        }
    }

    /// An identity from a certificate chain file and a key file, both PEM.
    pub fn from_files(cert_chain: &Path, key: &Path) -> anyhow::Result<TlsIdentity> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("cannot read the {what} {}", path.display()))
        };
        Ok(TlsIdentity::from_pem(
            read(cert_chain, "TLS certificate file")?,
            read(key, "TLS key file")?,
        ))
    }

    /// Offers TLS 1.2 only, as an older server would; TLS 1.3 is refused.
    pub fn tls12_only(mut self) -> TlsIdentity {
        self.tls12_only = true;
        self
    }

    /// The rustls configuration, with both PEMs checked.
    pub(crate) fn server_config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let chain = CertificateDer::pem_slice_iter(&self.cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .context("the TLS certificate file is not valid PEM")?;
        if chain.is_empty() {
            bail!("the TLS certificate file holds no CERTIFICATE block");
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .context("the TLS key file holds no PEM private key")?;
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .context("choosing TLS versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the TLS key does not fit the certificate, or is of a kind not served")?;
        Ok(Arc::new(config))
    }
}

/// A listener that hands axum connections whose TLS handshake has finished.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    accepting: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` in the background.
    pub(crate) fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let addr = tcp.local_addr()?;
        let (done, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), done));
        Ok(TlsListener {
            ready,
            addr,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

type Ready = mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>;

async fn accept_loop(tcp: TcpListener, acceptor: TlsAcceptor, done: Ready) {
    while !done.is_closed() {
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "the sandbox could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let done = done.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_LIMIT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = done.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
