//! F3's guard on a client's `jwks_uri` (OpenEMR's `OidcUrlValidator` with production flags):
//! https only, no credentials in the URL, and every address the host resolves to public.
//!
//! The sandbox adds one allowance of its own, `allow_loopback_jwks_uri`: a loopback host may
//! then be fetched, over http too, so that tests and local development can serve a JWKS on
//! 127.0.0.1. Off, loopback is refused as OpenEMR refuses it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::Url;

/// Where a guarded fetch may connect: the host name and the checked addresses, so the
/// connection goes to exactly the addresses that were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: Url,
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Checks `uri` and resolves its host; the reason when it must not be fetched.
pub async fn check(uri: &str, allow_loopback: bool) -> Result<Destination, &'static str> {
    let url = Url::parse(uri).map_err(|_| "jwks_uri is malformed")?;
    check_shape(&url, allow_loopback)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = resolve(&url, port).await?;
    if addrs.is_empty() {
        return Err("jwks_uri host could not be resolved");
    }
    if let Some(bad) = addrs.iter().find(|a| !ip_allowed(a.ip(), allow_loopback)) {
        tracing::info!(addr = %bad.ip(), "jwks_uri resolves to a private or local address");
        return Err("jwks_uri host is a private/local address");
    }
    Ok(Destination { url, host, addrs })
}

/// Scheme, credentials and host, before any name is looked up: plain http is only ever
/// allowed for a loopback host named literally, and only with the allowance.
fn check_shape(url: &Url, allow_loopback: bool) -> Result<(), &'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("jwks_uri must not contain credentials");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("jwks_uri host is required");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_loopback && names_loopback(url) => Ok(()),
        _ => Err("jwks_uri must use https"),
    }
}

fn names_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The addresses of the URL's host: the literal itself, or what the system resolver says.
async fn resolve(url: &Url, port: u16) -> Result<Vec<SocketAddr>, &'static str> {
    let failed = "jwks_uri host could not be resolved";
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map(Iterator::collect)
            .map_err(|_| failed),
        None => Err(failed),
    }
}

/// Whether an address is public (PHP's `FILTER_FLAG_NO_PRIV_RANGE | FILTER_FLAG_NO_RES_RANGE`),
/// or loopback with the allowance.
pub fn ip_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => !v4.is_loopback() && v4_public(v4),
            None => v6_public(v6),
        },
    }
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let shared = a == 100 && (64..128).contains(&b);
    let reserved = a == 0 || a >= 240;
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || shared
        || reserved)
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    !(ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(uri: &str, allow: bool) -> Result<(), &'static str> {
        check_shape(&Url::parse(uri).unwrap(), allow)
    }

    #[test]
    fn https_is_required_except_for_allowed_loopback() {
        assert!(shape("https://keys.example.org/jwks.json", false).is_ok());
        assert!(shape("http://keys.example.org/jwks.json", true).is_err());
        assert!(shape("http://127.0.0.1:9/jwks.json", false).is_err());
        assert!(shape("http://127.0.0.1:9/jwks.json", true).is_ok());
        assert!(shape("http://localhost:9/jwks.json", true).is_ok());
        assert!(shape("https://user:pw@keys.example.org/", false).is_err());
        assert!(shape("ftp://keys.example.org/", true).is_err());
    }

    #[test]
    fn only_public_addresses_pass() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!ip_allowed(ip(private), true), "{private}");
        }
        assert!(!ip_allowed(ip("127.0.0.1"), false));
        assert!(ip_allowed(ip("127.0.0.1"), true));
        assert!(!ip_allowed(ip("::1"), false));
        assert!(ip_allowed(ip("93.184.216.34"), false));
        assert!(ip_allowed(ip("2606:4700::1111"), false));
    }

    #[tokio::test]
    async fn literal_loopback_is_refused_without_the_allowance() {
        let refused = check("https://127.0.0.1:9/jwks.json", false).await;
        assert_eq!(refused, Err("jwks_uri host is a private/local address"));
        let allowed = check("http://127.0.0.1:9/jwks.json", true).await.unwrap();
        assert_eq!(allowed.addrs, vec!["127.0.0.1:9".parse().unwrap()]);
    }
}
