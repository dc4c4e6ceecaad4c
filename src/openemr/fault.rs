//! One thing wrong with what a client built or registered, judged by OpenEMR's rules: how bad
//! it is on the family at hand, what it is, and its fix. Shared by `check` and `inspect`.

use std::fmt;

/// How a fault plays out on the family it was judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The server refuses the request (or leaks a secret) because of it.
    Refused,
    /// The server accepts it today, but it is wrong: another family or server refuses it.
    Warning,
}

/// One fault with its fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fault {
    pub severity: Severity,
    /// A stable short name, such as `aud-fhir-base` or `alg`.
    pub code: &'static str,
    /// What is wrong, in one line.
    pub what: String,
    /// What to do about it.
    pub fix: String,
}

impl Fault {
    /// A fault the server refuses.
    pub fn refused(code: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Fault {
        Fault {
            severity: Severity::Refused,
            code,
            what: what.into(),
            fix: fix.into(),
        }
    }

    /// A fault the server lets through for now.
    pub fn warning(code: &'static str, what: impl Into<String>, fix: impl Into<String>) -> Fault {
        Fault {
            severity: Severity::Warning,
            ..Fault::refused(code, what, fix)
        }
    }

    /// Refused when `refused`, else a warning.
    pub fn either(
        refused: bool,
        code: &'static str,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> Fault {
        if refused {
            Fault::refused(code, what, fix)
        } else {
            Fault::warning(code, what, fix)
        }
    }

    /// Whether the server refuses it.
    pub fn is_refused(&self) -> bool {
        self.severity == Severity::Refused
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what)
    }
}
