//! What the network layer is told: timeouts, trust, proxies. One value for the whole run, so
//! the HTTP client and the TLS handshake of our own judge servers alike.

use std::path::PathBuf;
use std::time::Duration;

use super::proxy::ProxyEnv;

/// Seconds to open a connection (TCP and the TLS handshake) before giving up.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 5;
/// Seconds one request may take from start to its whole answer.
pub const DEFAULT_TIMEOUT_SECS: u64 = 15;
/// Seconds after which an exchange that did finish is reported as slow.
pub const DEFAULT_SLOW_SECS: u64 = 3;

/// How oemr-doctor talks to OpenEMR over the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    /// Time to connect, including the TLS handshake.
    pub connect_timeout: Duration,
    /// Time for one whole request: connect, send, and read the full answer.
    pub timeout: Duration,
    /// An exchange that takes longer than this is worth a warning, not a failure.
    pub slow_after: Duration,
    /// A PEM file of certificates trusted on top of the built-in public roots.
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate: no chain, name or date checks. Callers must say so loudly.
    pub insecure: bool,
    /// A proxy for every request (`--proxy`), instead of the environment's `*_PROXY`.
    /// `NO_PROXY` still applies to it.
    pub proxy: Option<String>,
    /// The proxy variables of the environment, read once so that a run (and a test) sees
    /// one consistent set.
    pub proxy_env: ProxyEnv,
}

impl Default for NetworkOptions {
    /// The built-in defaults, with no proxy variables at all.
    fn default() -> NetworkOptions {
        NetworkOptions {
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            slow_after: Duration::from_secs(DEFAULT_SLOW_SECS),
            ca_cert: None,
            insecure: false,
            proxy: None,
            proxy_env: ProxyEnv::default(),
        }
    }
}

impl NetworkOptions {
    /// The defaults with this process's proxy variables.
    pub fn from_process_env() -> NetworkOptions {
        NetworkOptions {
            proxy_env: ProxyEnv::from_process(),
            ..NetworkOptions::default()
        }
    }

    /// The warning every run with `--insecure` must show, so that it never passes unseen.
    pub fn insecure_warning(&self) -> Option<&'static str> {
        self.insecure.then_some(
            "--insecure is on: TLS certificates are not checked, so this run cannot tell \
             a real OpenEMR from anyone in between; never use it in production",
        )
    }

    /// A warning line when an exchange that finished took longer than `slow_after`.
    pub fn slow_warning(&self, url: &str, took: Duration) -> Option<String> {
        (took > self.slow_after).then(|| {
            format!(
                "{url} took {} to answer (more than {}): the server or the network is slow",
                human_duration(took),
                human_duration(self.slow_after)
            )
        })
    }
}

/// A duration as people say it: "5 s", "1.5 s", "250 ms".
pub fn human_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis % 1000 == 0 {
        format!("{} s", millis / 1000)
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }

    #[test]
    fn insecure_runs_carry_a_warning() {
        assert_eq!(NetworkOptions::default().insecure_warning(), None);
        let insecure = NetworkOptions {
            insecure: true,
            ..NetworkOptions::default()
        };
        assert!(insecure.insecure_warning().unwrap().contains("not checked"));
    }

    #[test]
    fn only_exchanges_over_the_limit_are_slow() {
        let options = NetworkOptions::default();
        assert_eq!(
            options.slow_warning("http://x/", Duration::from_secs(3)),
            None
        );
        let line = options
            .slow_warning("http://x/", Duration::from_millis(4200))
            .unwrap();
        assert_eq!(
            line,
            "http://x/ took 4.2 s to answer (more than 3 s): the server or the network is slow"
        );
    }
}
