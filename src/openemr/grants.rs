//! `oauth_clients.grant_types`, which family F3 enforces: the grants a client registered,
//! stored pipe-separated.

/// The grant a backend-services client uses.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// Grants OpenEMR knows; a stored entry outside this list is ignored.
const KNOWN_GRANTS: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
];

/// The grants a stored `grant_types` value allows, as F3 reads it: split on `|`, entries
/// trimmed, unknown entries ignored, and nothing left meaning `authorization_code` only. So
/// `client_credentials refresh_token` (spaces) is one unknown entry and allows only
/// `authorization_code`.
pub fn allowed_grants(column: &str) -> Vec<&str> {
    let known: Vec<&str> = column
        .split('|')
        .map(str::trim)
        .filter(|g| KNOWN_GRANTS.contains(g))
        .collect();
    if known.is_empty() {
        vec!["authorization_code"]
    } else {
        known
    }
}

/// Whether a stored `grant_types` value lets the client use `grant` on F3.
pub fn grant_allowed(column: &str, grant: &str) -> bool {
    allowed_grants(column).contains(&grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_separate_and_spaces_do_not() {
        assert!(grant_allowed("client_credentials", CLIENT_CREDENTIALS));
        assert!(grant_allowed(
            "authorization_code|client_credentials",
            CLIENT_CREDENTIALS
        ));
        assert!(!grant_allowed(
            "client_credentials refresh_token",
            CLIENT_CREDENTIALS
        ));
        assert!(!grant_allowed("", CLIENT_CREDENTIALS));
        assert_eq!(allowed_grants(""), ["authorization_code"]);
        assert_eq!(allowed_grants("a b"), ["authorization_code"]);
    }
}
