//! A client `jwks_uri` on 127.0.0.1 that serves a sequence of documents (the last one from
//! then on) and counts its fetches, to show when and how often the sandbox fetches.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use axum::Router;

/// The documents still to serve, and the number of fetches so far.
#[derive(Default)]
struct Served {
    documents: Mutex<VecDeque<String>>,
    fetches: AtomicUsize,
}

/// A running JWKS server.
pub struct JwksServer {
    addr: SocketAddr,
    served: Arc<Served>,
}

impl JwksServer {
    /// Serves `documents` in turn at `/jwks.json`, repeating the last.
    pub async fn start(documents: Vec<String>) -> JwksServer {
        let served = Arc::new(Served {
            documents: Mutex::new(documents.into()),
            fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/jwks.json", get(next_document))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        JwksServer { addr, served }
    }

    /// `http://127.0.0.1:PORT/jwks.json`.
    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    /// The same document named by `localhost` over https (which nothing here serves).
    pub fn https_localhost_url(&self) -> String {
        format!("https://localhost:{}/jwks.json", self.addr.port())
    }

    /// How many times the document was fetched.
    pub fn fetches(&self) -> usize {
        self.served.fetches.load(Ordering::SeqCst)
    }
}

async fn next_document(
    State(served): State<Arc<Served>>,
) -> ([(header::HeaderName, &'static str); 1], String) {
    served.fetches.fetch_add(1, Ordering::SeqCst);
    let mut documents = served.documents.lock().unwrap();
    let document = if documents.len() > 1 {
        documents.pop_front().unwrap_or_default()
    } else {
        documents.front().cloned().unwrap_or_default()
    };
    ([(header::CONTENT_TYPE, "application/json")], document)
}
