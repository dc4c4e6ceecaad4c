//! Family F2's scope model (OpenEMR 7.0.4 on): every scope string is parsed into a context, a
//! resource and either an operation or a set of SMART v2 permission letters, and scopes are
//! compared by containment instead of by equal strings.
//!
//! The parser, the permission rules and the containment test follow OpenEMR's `ScopeEntity`
//! and `ScopePermissionObject`, quirks included: a requested v1 `.read` (or any v2 set holding
//! both `r` and `s`) is contained by every scope of the same context and resource.

use std::fmt;

/// Why OpenEMR could not parse a scope string. On the registered list this escapes
/// `finalizeScopes()` and the token endpoint answers HTTP 500 with this text as the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFormatError {
    /// The string does not look like a scope at all (empty, a space, a newline inside).
    Format(String),
    /// The permission part is neither `read`, `write` nor ordered `cruds` letters.
    Permission(String),
}

impl fmt::Display for ScopeFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeFormatError::Format(s) => write!(f, "Invalid scope format: {s}"),
            ScopeFormatError::Permission(s) => write!(f, "Invalid permission string: {s}"),
        }
    }
}

/// The permissions a scope grants, as OpenEMR's permission object records them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub create: bool,
    pub read: bool,
    pub update: bool,
    pub delete: bool,
    pub search: bool,
    /// `read`, or v2 letters holding both `r` and `s`.
    pub v1_read: bool,
    /// `write`, or v2 letters holding `c`, `u` and `d`.
    pub v1_write: bool,
}

impl Permissions {
    /// Parses `read`, `write` or ordered `cruds` letters with an optional `?query`.
    pub fn parse(text: &str) -> Result<Permissions, ScopeFormatError> {
        match text {
            "read" => return Ok(Permissions::v1(true)),
            "write" => return Ok(Permissions::v1(false)),
            _ => {}
        }
        let letters = text.split('?').next().unwrap_or_default();
        if !is_ordered_cruds(letters) {
            return Err(ScopeFormatError::Permission(text.to_string()));
        }
        let has = |c| letters.contains(c);
        let mut p = Permissions {
            create: has('c'),
            read: has('r'),
            update: has('u'),
            delete: has('d'),
            search: has('s'),
            ..Permissions::default()
        };
        p.v1_write = p.create && p.update && p.delete;
        p.v1_read = p.read && p.search;
        Ok(p)
    }

    fn v1(read: bool) -> Permissions {
        Permissions {
            create: !read,
            read,
            update: !read,
            delete: !read,
            search: read,
            v1_read: read,
            v1_write: !read,
        }
    }

    /// Whether the permission named by a SMART v2 letter is granted.
    pub fn allows(&self, letter: char) -> bool {
        match letter {
            'c' => self.create,
            'r' => self.read,
            'u' => self.update,
            'd' => self.delete,
            's' => self.search,
            _ => false,
        }
    }
}

/// Letters from `cruds`, each at most once and in that order (empty is allowed, as in PHP).
pub(crate) fn is_ordered_cruds(letters: &str) -> bool {
    let mut last = None;
    for c in letters.chars() {
        let Some(pos) = "cruds".find(c) else {
            return false;
        };
        if last.is_some_and(|l| pos <= l) {
            return false;
        }
        last = Some(pos);
    }
    true
}

/// One scope string, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedScope {
    /// The scope exactly as written.
    pub identifier: String,
    /// `system`, `user`, `patient`, `api`, `site`, or a plain scope such as `openid`.
    pub context: String,
    /// `Patient`, `*`, `fhir`, ...; `None` for plain scopes.
    pub resource: Option<String>,
    /// A `$operation` such as `$export`.
    pub operation: Option<String>,
    pub permissions: Permissions,
}

impl ParsedScope {
    /// Parses a scope the way OpenEMR's pattern
    /// `context[/:]resource[.permission-or-$operation][?query]` does.
    pub fn parse(scope: &str) -> Result<ParsedScope, ScopeFormatError> {
        let bad = || ScopeFormatError::Format(scope.to_string());
        // PHP's `$` also matches just before one final newline.
        let body = scope.strip_suffix('\n').unwrap_or(scope);
        let (head, query) = match body.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (body, None),
        };
        let context_end = head
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
            .unwrap_or(head.len());
        let context = &head[..context_end];
        if context.is_empty() || query.is_some_and(|q| q.contains('\n')) {
            return Err(bad());
        }
        let mut parsed = ParsedScope {
            identifier: scope.to_string(),
            context: context.to_string(),
            resource: None,
            operation: None,
            permissions: Permissions::default(),
        };
        let rest = &head[context_end..];
        if rest.is_empty() {
            return Ok(parsed);
        }
        let rest = rest.strip_prefix(['/', ':']).ok_or_else(bad)?;
        let (resource, permission) = match rest.split_once('.') {
            Some((resource, permission)) => (resource, Some(permission)),
            None => (rest, None),
        };
        let resource_ok = resource
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "*_-".contains(c));
        if resource.is_empty() || !resource_ok {
            return Err(bad());
        }
        parsed.resource = Some(resource.to_string());
        if let Some(permission) = permission {
            // The permission part keeps the final newline PHP's `$` let through.
            let newline = query.is_none() && scope.ends_with('\n');
            let permission = format!("{permission}{}", if newline { "\n" } else { "" });
            if permission.is_empty() {
                return Err(bad());
            }
            parsed.set_permission(permission, query)?;
        }
        Ok(parsed)
    }

    fn set_permission(
        &mut self,
        permission: String,
        query: Option<&str>,
    ) -> Result<(), ScopeFormatError> {
        if permission.contains('$') {
            self.operation = Some(permission);
            return Ok(());
        }
        let full = match query.filter(|q| !q.is_empty()) {
            Some(q) => format!("{permission}?{q}"),
            None => permission,
        };
        self.permissions = Permissions::parse(&full)?;
        Ok(())
    }

    /// OpenEMR's `containsScope`: whether holding `self` grants `other`.
    pub fn contains(&self, other: &ParsedScope) -> bool {
        if self.identifier == other.identifier {
            return true;
        }
        if self.context != other.context
            || self.resource != other.resource
            || self.operation != other.operation
        {
            return false;
        }
        let wanted = &other.permissions;
        // The quirk: a v1-style request is granted by any permission on the resource.
        if wanted.v1_read || wanted.v1_write {
            return true;
        }
        "cruds"
            .chars()
            .all(|c| !wanted.allows(c) || self.permissions.allows(c))
    }
}

/// Parses every entry of a registered scope column, split on single spaces as OpenEMR does;
/// the first entry it cannot parse is the error the token endpoint dies with.
pub fn parse_registered(column: &str) -> Result<Vec<ParsedScope>, ScopeFormatError> {
    column.split(' ').map(ParsedScope::parse).collect()
}

/// Whether any of `held` contains the scope `wanted`.
pub fn any_contains(held: &[ParsedScope], wanted: &ParsedScope) -> bool {
    held.iter().any(|h| h.contains(wanted))
}

/// Whether `scopes` (a token's granted scopes) allow the v2 permission `letter` on
/// `context/resource`: `s` for a search, `r` for a read by id, `c`, `u`, `d` for writes.
pub fn scopes_allow(scopes: &[String], context: &str, resource: &str, letter: char) -> bool {
    scopes
        .iter()
        .filter_map(|s| ParsedScope::parse(s).ok())
        .any(|s| {
            s.context == context
                && s.resource.as_deref() == Some(resource)
                && s.operation.is_none()
                && s.permissions.allows(letter)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ParsedScope {
        ParsedScope::parse(s).unwrap()
    }

    #[test]
    fn parses_every_shape_openemr_uses() {
        let p = parse("system/Patient.rs");
        assert_eq!(p.context, "system");
        assert_eq!(p.resource.as_deref(), Some("Patient"));
        assert!(p.permissions.read && p.permissions.search && p.permissions.v1_read);
        assert_eq!(
            parse("system/*.$export").operation.as_deref(),
            Some("$export")
        );
        assert_eq!(parse("api:fhir").resource.as_deref(), Some("fhir"));
        assert_eq!(parse("openid").resource, None);
        let granular = parse("system/Observation.rs?category=http://x.test/cs|laboratory");
        assert!(granular.permissions.search);
    }

    #[test]
    fn malformed_scopes_carry_openemr_messages() {
        let err = |s: &str| ParsedScope::parse(s).unwrap_err().to_string();
        assert_eq!(err(""), "Invalid scope format: ");
        assert_eq!(err("system/Patient.sr"), "Invalid permission string: sr");
        assert_eq!(
            err("system/Patient.read\n"),
            "Invalid permission string: read\n"
        );
        assert_eq!(
            err("openid\nfhirUser"),
            "Invalid scope format: openid\nfhirUser"
        );
        assert!(parse_registered("openid  api:fhir").is_err());
        assert!(parse_registered("openid api:fhir").is_ok());
    }

    #[test]
    fn containment_follows_v1_and_v2_rules() {
        let contains = |held: &str, wanted: &str| parse(held).contains(&parse(wanted));
        assert!(contains("system/Patient.read", "system/Patient.rs"));
        assert!(contains("system/Patient.read", "system/Patient.r"));
        assert!(contains("system/Patient.rs", "system/Patient.read"));
        assert!(!contains("system/Patient.r", "system/Patient.s"));
        assert!(!contains("system/Patient.read", "system/Patient.c"));
        assert!(!contains("system/Patient.read", "user/Patient.read"));
        // The quirk: a v1 request only needs context and resource to match.
        assert!(contains("system/Patient.c", "system/Patient.read"));
    }

    #[test]
    fn search_needs_s() {
        let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let allows = |list: &[&str]| scopes_allow(&scopes(list), "system", "Patient", 's');
        assert!(allows(&["system/Patient.read"]));
        assert!(allows(&["system/Patient.rs"]));
        assert!(allows(&["system/Patient.s"]));
        assert!(!allows(&["system/Patient.r"]));
        assert!(!allows(&["user/Patient.read"]));
    }
}

#[cfg(test)]
mod registered_column_tests {
    use super::*;

    #[test]
    fn well_formed_columns_parse_and_malformed_ones_do_not() {
        assert!(parse_registered("openid api:fhir site:default system/Patient.read").is_ok());
        assert!(parse_registered("openid system/*.$export system/Patient.rs").is_ok());
        assert!(parse_registered("openid  system/Patient.read").is_err());
        assert!(parse_registered("openid system/Patient.read ").is_err());
        assert!(parse_registered("system/Patient.sr").is_err());
    }
}
