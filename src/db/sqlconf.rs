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
}

/// The path of a site's `sqlconf.php` under an install directory.
pub fn path(openemr_dir: &Path, site: &str) -> PathBuf {
    openemr_dir.join("sites").join(site).join("sqlconf.php")
}

/// Reads the credentials of `site` under `openemr_dir`.
pub fn read(openemr_dir: &Path, site: &str) -> Result<SqlConf, SqlConfError> {
    let path = path(openemr_dir, site);
    let text = std::fs::read_to_string(&path).map_err(|source| SqlConfError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Parses the PHP assignments of a `sqlconf.php`; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<SqlConf, SqlConfError> {
    let missing = |variable| SqlConfError::Missing {
        path: path.to_path_buf(),
        variable,
    };
    if assignment(text, "config").is_some_and(|v| v.trim() == "0") {
        return Err(SqlConfError::NotInstalled {
            path: path.to_path_buf(),
        });
    }
    let port_text = assignment(text, "port").unwrap_or_else(|| "3306".to_string());
    let port = port_text.trim().parse().map_err(|_| SqlConfError::Port {
        path: path.to_path_buf(),
        value: port_text.clone(),
    })?;
    Ok(SqlConf {
        host: assignment(text, "host").ok_or(missing("$host"))?,
        port,
        login: assignment(text, "login").ok_or(missing("$login"))?,
        pass: assignment(text, "pass").ok_or(missing("$pass"))?,
        dbase: assignment(text, "dbase").ok_or(missing("$dbase"))?,
    })
}

/// The value of the first top-level `$name = value;` assignment, with PHP quoting undone.
fn assignment(text: &str, name: &str) -> Option<String> {
    let needle = format!("${name}");
    let mut rest = text;
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

fn php_value(text: &str) -> Option<String> {
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
                    c if c == quote => return Some(out),
                    c => out.push(c),
                }
            }
            None
        }
        _ => Some(text.split(';').next()?.trim().to_string()),
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
