//! The HTTP client every request of a run goes through: no redirects followed (a redirect is
//! a finding), separate connect and total timeouts, the trust and proxy settings applied.

use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::{Certificate, Client, Proxy};

use super::proxy::{self, route};
use super::trust::read_ca_file;
use super::{NetError, NetworkOptions};

/// The client for `options`; a drop-in for a plain `reqwest::Client` with a timeout.
pub fn build_client(options: &NetworkOptions) -> Result<Client, NetError> {
    let mut builder = Client::builder()
        .redirect(Policy::none())
        .connect_timeout(options.connect_timeout)
        .timeout(options.timeout)
        .user_agent(concat!("oemr-doctor/", env!("CARGO_PKG_VERSION")))
        .proxy(proxy_from(options)?);
    if let Some(path) = &options.ca_cert {
        for der in read_ca_file(path)? {
            let cert = Certificate::from_der(&der).map_err(NetError::Client)?;
            builder = builder.add_root_certificate(cert);
        }
    }
    if options.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder.build().map_err(NetError::Client)
}

/// One proxy rule that asks [`route`] per request, so reqwest's own reading of the
/// environment is replaced by the one `-v` reports.
fn proxy_from(options: &NetworkOptions) -> Result<Proxy, NetError> {
    proxy::check_settings(options)?;
    let options = Arc::new(options.clone());
    Ok(Proxy::custom(move |url| {
        // Settings were checked above, so an error here cannot happen; direct is the safe
        // reading of one anyway.
        route(url, &options).ok()?.proxy_url().cloned()
    }))
}
