//! OpenEMR's own rules, shared by the probe and the sandbox: version families, the URL layout,
//! the scope grammar and the shape of its OAuth2 error answers.
//!
//! Everything here is what a running OpenEMR does, not what its documentation says; the
//! recorded exchanges in the conformance test keep it honest.

pub mod errors;
pub mod family_rules;
pub mod fault;
pub mod grants;
pub mod keyset_rules;
pub mod scopes;
pub mod smart_v2;
pub mod supported_v2;
pub mod urls;

use std::fmt;

/// The client assertion type OpenEMR's client_credentials grant insists on.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The only signing algorithm OpenEMR accepts for client assertions.
pub const ASSERTION_ALG: &str = "RS384";

/// Seconds of clock leeway OpenEMR grants on exp, nbf and iat.
pub const LEEWAY_SECS: i64 = 60;

/// Lifetime of a client_credentials access token, in every version.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 300;

/// Longest assertion lifetime SMART Backend Services asks for.
pub const SMART_MAX_ASSERTION_SECS: i64 = 300;

/// F2 and later refuse an assertion whose `exp` lies further ahead than this.
pub const MAX_ASSERTION_HORIZON_SECS: i64 = 24 * 3600;

/// F2 and later refuse an assertion whose `iat` is older than this (no leeway).
pub const MAX_ASSERTION_AGE_SECS: i64 = 300;

/// F3's caps on a client key set: document bytes, keys, and decoded RSA modulus and
/// exponent bytes (8192-bit modulus at most).
pub const F3_MAX_JWKS_BYTES: usize = 256 * 1024;
/// See [`F3_MAX_JWKS_BYTES`].
pub const F3_MAX_JWKS_KEYS: usize = 50;
/// See [`F3_MAX_JWKS_BYTES`].
pub const F3_MAX_MODULUS_BYTES: usize = 1024;
/// See [`F3_MAX_JWKS_BYTES`].
pub const F3_MAX_EXPONENT_BYTES: usize = 32;

/// The user whose UUID is the subject of every client_credentials token.
pub const SYSTEM_USERNAME: &str = "oe-system";

/// Behaviour families of OpenEMR's OAuth2 server; versions within a family answer alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// 6.0.x: no client_credentials grant at all.
    F0,
    /// 6.1.0 to 7.0.3: the legacy stack, SMART v1 scopes, exact scope matching.
    F1,
    /// 7.0.4 to 8.x: the Symfony stack, SMART v1 and v2 scopes.
    F2,
    /// Late-2026 master: kid required, grant_types enforced.
    F3,
}

impl Family {
    /// Guesses the family from a version string such as `7.0.3` or `7.0.3-dev`.
    ///
    /// 6.1.0 reports a stale `6.0.0`, so a bare 6.0.0 is ambiguous between F0 and F1; F1 is the
    /// safer reading because 6.0 installs are rare and F1 rules are a superset of F0's answers.
    pub fn from_version(version: &str) -> Option<Family> {
        let mut parts = version
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(match (major, minor, patch) {
            (..=5, _, _) => return None,
            (6, 0, _) => Family::F1,
            (6, _, _) => Family::F1,
            (7, 0, ..=3) => Family::F1,
            // 8.3.0-dev is the late-2026 master that added the F3 rules.
            (7, _, _) | (8, ..=2, _) => Family::F2,
            _ => Family::F3,
        })
    }

    /// The family's answer to `--family`-style names: `f0` to `f3`, any case.
    pub fn from_name(name: &str) -> Option<Family> {
        match name.to_ascii_lowercase().as_str() {
            "f0" => Some(Family::F0),
            "f1" => Some(Family::F1),
            "f2" => Some(Family::F2),
            "f3" => Some(Family::F3),
            _ => None,
        }
    }

    /// The version range the family covers, for reports.
    pub fn versions(self) -> &'static str {
        match self {
            Family::F0 => "6.0.x",
            Family::F1 => "6.1.0 to 7.0.3",
            Family::F2 => "7.0.4 to 8.x",
            Family::F3 => "master, late 2026",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Family::F0 => "F0",
            Family::F1 => "F1",
            Family::F2 => "F2",
            Family::F3 => "F3",
        };
        write!(f, "{name} ({})", self.versions())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_families() {
        assert_eq!(Family::from_version("7.0.3"), Some(Family::F1));
        assert_eq!(Family::from_version("7.0.3-dev"), Some(Family::F1));
        assert_eq!(Family::from_version("6.1.0"), Some(Family::F1));
        assert_eq!(Family::from_version("7.0.4"), Some(Family::F2));
        assert_eq!(Family::from_version("8.0.0"), Some(Family::F2));
        assert_eq!(Family::from_version("8.2.0-dev"), Some(Family::F2));
        assert_eq!(Family::from_version("8.3.0-dev"), Some(Family::F3));
        assert_eq!(Family::from_version("9.1.0"), Some(Family::F3));
        assert_eq!(Family::from_version("banana"), None);
    }
}
