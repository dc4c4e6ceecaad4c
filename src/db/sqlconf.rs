//! Reading an OpenEMR site's database credentials from `sites/<site>/sqlconf.php`.

use std::path::{Path, PathBuf};

/// The credentials a site's `sqlconf.php` holds.
#[derive(Clone, PartialEq, Eq)]
pub struct SqlConf {
    /// `$host`.
    pub host: String,
    /// `$port`.
    pub port: u16,
    /// `$login`.
    pub login: String,
    /// `$pass`. Secret.
    pub pass: String,
    /// `$dbase`.
    pub dbase: String,
}

impl std::fmt::Debug for SqlConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SqlConf({}@{}:{}/{})",
            self.login, self.host, self.port, self.dbase
        )
    }
}

/// Why a `sqlconf.php` gave no credentials.
#[derive(Debug, thiserror::Error)]
pub enum SqlConfError {
    #[error(
        "cannot read {path}: {source} (is --openemr-dir the OpenEMR install and --site right?)"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not set {variable}")]
    Missing {
        path: PathBuf,
        variable: &'static str,
    },
    #[error("{path} sets $port to {value:?}, which is not a port number")]
    Port { path: PathBuf, value: String },
    #[error("{path} has $config = 0: this site was never installed")]
    NotInstalled { path: PathBuf },
    #[error(
        "{path} sets {variable} with an expression oemr-doctor cannot evaluate ({expression}); \
         pass --db-url instead"
    )]
    Expression {
        path: PathBuf,
        variable: &'static str,
        expression: String,
    },
    #[error(transparent)]
    Site(#[from] crate::openemr::urls::BaseUrlError),
}

/// The path of a site's `sqlconf.php` under an install directory.
pub fn path(openemr_dir: &Path, site: &str) -> PathBuf {
    openemr_dir.join("sites").join(site).join("sqlconf.php")
}

/// Reads the credentials of `site` under `openemr_dir`.
pub fn read(openemr_dir: &Path, site: &str) -> Result<SqlConf, SqlConfError> {
    // A site id is one path segment: "../x" must not reach another directory.
    crate::openemr::urls::validate_site(site)?;
    let path = path(openemr_dir, site);
    let text = std::fs::read_to_string(&path).map_err(|source| SqlConfError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Parses the PHP assignments of a `sqlconf.php`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<SqlConf, SqlConfError> {
    let code = strip_comments(text);
    let value = |variable: &'static str| -> Result<Option<String>, SqlConfError> {
        match assignment(&code, &variable[1..]) {
            None => Ok(None),
            Some(Literal::Value(v)) => Ok(Some(v)),
            Some(Literal::Expression(expression)) => Err(SqlConfError::Expression {
                path: path.to_path_buf(),
                variable,
                expression,
            }),
        }
    };
    let missing = |variable| SqlConfError::Missing {
        path: path.to_path_buf(),
        variable,
    };
    if value("$config")?.is_some_and(|v| v.trim() == "0") {
        return Err(SqlConfError::NotInstalled {
            path: path.to_path_buf(),
        });
    }
    let port_text = value("$port")?.unwrap_or_else(|| "3306".to_string());
    let port = port_text.trim().parse().map_err(|_| SqlConfError::Port {
        path: path.to_path_buf(),
        value: port_text.clone(),
    })?;
    Ok(SqlConf {
        host: value("$host")?.ok_or_else(|| missing("$host"))?,
        port,
        login: value("$login")?.ok_or_else(|| missing("$login"))?,
        pass: value("$pass")?.ok_or_else(|| missing("$pass"))?,
        dbase: value("$dbase")?.ok_or_else(|| missing("$dbase"))?,
    })
}

/// What an assignment's right-hand side is.
enum Literal {
    /// A quoted string or a bare number, with PHP quoting undone.
    Value(String),
    /// Anything else (a function call, a constant, a concatenation), as written.
    Expression(String),
}

/// The PHP code with `//`, `#` and `/* */` comments removed (strings are left alone), so a
/// commented-out old value is never taken for the real one.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('\'' | '"', _) => {
                quote = Some(c);
                out.push(c);
            }
            ('/', Some('/')) | ('#', _) => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut previous = ' ';
                for n in chars.by_ref() {
                    if previous == '*' && n == '/' {
                        break;
                    }
                    previous = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The value of the first top-level `$name = value;` assignment.
fn assignment(code: &str, name: &str) -> Option<Literal> {
    let needle = format!("${name}");
    let mut rest = code;
    while let Some(pos) = rest.find(&needle) {
        let after = &rest[pos + needle.len()..];
        rest = after;
        if after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(value) = after.trim_start().strip_prefix('=') else {
            continue;
        };
        if value.starts_with('=') {
            continue;
        }
        return php_value(value.trim_start());
    }
    None
}

fn php_value(text: &str) -> Option<Literal> {
    let statement = text.split(';').next().unwrap_or(text).trim();
    let mut chars = text.chars();
    match chars.next()? {
        quote @ ('\'' | '"') => {
            let mut out = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let next = chars.next()?;
                        if next != quote && next != '\\' {
                            out.push('\\');
                        }
                        out.push(next);
                    }
                    c if c == quote => return Some(closed(out, chars.as_str(), statement)),
                    c => out.push(c),
                }
            }
            None
        }
        _ if !statement.is_empty() && statement.chars().all(|c| c.is_ascii_digit()) => {
            Some(Literal::Value(statement.to_string()))
        }
        _ => Some(Literal::Expression(statement.to_string())),
    }
}

/// A quoted string is a plain value only when the statement ends right after it.
fn closed(value: String, after: &str, statement: &str) -> Literal {
    if after.trim_start().starts_with(';') || after.trim().is_empty() {
        Literal::Value(value)
    } else {
        Literal::Expression(statement.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?php
//  OpenEMR
$host   = 'db.internal';
$port   = '3307';
$login  = 'openemr';
$pass   = 'it\'s "secret"';
$dbase  = 'openemr';
$db_encoding = 'utf8mb4';
$sqlconf = array();
global $sqlconf;
$sqlconf["host"]= $host;
$config = 1; /////////////
"#;

    #[test]
    fn reads_the_assignments() {
        let conf = parse(SAMPLE, Path::new("sqlconf.php")).unwrap();
        assert_eq!(conf.host, "db.internal");
        assert_eq!(conf.port, 3307);
        assert_eq!(conf.pass, r#"it's "secret""#);
        assert_eq!(conf.dbase, "openemr");
    }

    #[test]
    fn comments_never_supply_values() {
        let text =
            format!("// $host = 'old.example';\n/* $config = 0; */\n# $pass = 'x';\n{SAMPLE}");
        let conf = parse(&text, Path::new("sqlconf.php")).unwrap();
        assert_eq!(conf.host, "db.internal");
        assert_eq!(conf.pass, r#"it's "secret""#);
    }

    #[test]
    fn expressions_are_refused_by_name() {
        let text = SAMPLE.replace("'db.internal'", "getenv('MYSQL_HOST') ?: '127.0.0.1'");
        let err = parse(&text, Path::new("x")).unwrap_err().to_string();
        assert!(err.contains("$host") && err.contains("getenv"), "{err}");
        let text = SAMPLE.replace("'db.internal'", "'db' . '.internal'");
        assert!(matches!(
            parse(&text, Path::new("x")),
            Err(SqlConfError::Expression { .. })
        ));
        let text = SAMPLE.replace("'3307'", "3307");
        assert_eq!(parse(&text, Path::new("x")).unwrap().port, 3307);
    }

    #[test]
    fn a_site_cannot_leave_the_sites_directory() {
        assert!(matches!(
            read(Path::new("/tmp"), "../etc"),
            Err(SqlConfError::Site(_))
        ));
    }

    #[test]
    fn uninstalled_and_broken_files_are_named() {
        let fresh = SAMPLE.replace("$config = 1", "$config = 0");
        assert!(matches!(
            parse(&fresh, Path::new("x")),
            Err(SqlConfError::NotInstalled { .. })
        ));
        let no_db = SAMPLE.replace("$dbase", "$other");
        assert!(matches!(
            parse(&no_db, Path::new("x")),
            Err(SqlConfError::Missing {
                variable: "$dbase",
                ..
            })
        ));
        let port = SAMPLE.replace("'3307'", "'abc'");
        assert!(matches!(
            parse(&port, Path::new("x")),
            Err(SqlConfError::Port { .. })
        ));
    }
}
