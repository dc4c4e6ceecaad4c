//! The configuration file: `oemr-doctor.toml` in the working directory or the user's config
//! directory (or `--config PATH`), with top-level settings and named targets for several sites
//! or clients. Flags beat environment variables, which beat the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file name looked for.
pub const FILE_NAME: &str = "oemr-doctor.toml";

/// Settings a file (or one of its targets) may give. Every one is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// OpenEMR's address.
    pub base_url: Option<String>,
    /// Site id.
    pub site: Option<String>,
    /// The client id.
    pub client_id: Option<String>,
    /// The private key file.
    pub key: Option<PathBuf>,
    /// The registered JWKS file.
    pub jwks: Option<PathBuf>,
    /// Scopes to request (space-separated).
    pub scope: Option<String>,
    /// Database URL.
    pub db_url: Option<String>,
    /// OpenEMR install directory.
    pub openemr_dir: Option<PathBuf>,
    /// Seconds each network request may take.
    pub timeout: Option<u64>,
    /// Seconds to open a connection, TLS handshake included.
    pub connect_timeout: Option<u64>,
    /// Seconds after which an exchange is reported as slow.
    pub slow: Option<u64>,
    /// PEM file of extra CA certificates to trust.
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate (dangerous; reported as a warning).
    pub insecure: Option<bool>,
    /// Proxy URL for every request.
    pub proxy: Option<String>,
}

/// A parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings for every target.
    #[serde(flatten)]
    pub defaults: Profile,
    /// Named targets, each overriding the defaults.
    #[serde(default)]
    pub targets: BTreeMap<String, Profile>,
    /// Where it was read from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("{path}: {key}: {detail}")]
    Value {
        path: PathBuf,
        key: String,
        detail: String,
    },
    #[error("no target {name:?} in {path}; it has: {known}")]
    UnknownTarget {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error(
        "--target {0:?} needs a configuration file ({FILE_NAME} here or in your config \
        directory, or --config)"
    )]
    NoFile(String),
}

impl ConfigFile {
    /// Reads `explicit`, else the first `oemr-doctor.toml` found; `None` when there is none.
    pub fn find(explicit: Option<&Path>) -> Result<Option<ConfigFile>, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match default_locations().into_iter().find(|p| p.is_file()) {
                Some(path) => path,
                None => return Ok(None),
            },
        };
        ConfigFile::read(&path).map(Some)
    }

    /// Reads and checks one file.
    pub fn read(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ConfigFile::parse(&text, path)
    }

    /// Parses file text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            detail: e.to_string().trim_end().replace('\n', "\n  "),
        })?;
        file.path = path.to_path_buf();
        // Paths in the file mean what they say wherever oemr-doctor runs from.
        let dir = path.parent().unwrap_or(Path::new(""));
        file.defaults.anchor(dir);
        file.targets.values_mut().for_each(|t| t.anchor(dir));
        file.defaults.check(path, "")?;
        for (name, target) in &file.targets {
            target.check(path, &format!("targets.{name}."))?;
        }
        Ok(file)
    }

    /// The defaults with `target`'s settings laid over them.
    pub fn profile(&self, target: Option<&str>) -> Result<Profile, ConfigError> {
        let Some(name) = target else {
            return Ok(self.defaults.clone());
        };
        let chosen = self
            .targets
            .get(name)
            .ok_or_else(|| ConfigError::UnknownTarget {
                name: name.to_string(),
                path: self.path.clone(),
                known: known_targets(&self.targets),
            })?;
        Ok(chosen.clone().over(self.defaults.clone()))
    }
}

fn known_targets(targets: &BTreeMap<String, Profile>) -> String {
    if targets.is_empty() {
        "no [targets.*] sections".to_string()
    } else {
        targets.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

impl Profile {
    /// `self`'s settings where set, `base`'s elsewhere.
    pub fn over(self, base: Profile) -> Profile {
        Profile {
            base_url: self.base_url.or(base.base_url),
            site: self.site.or(base.site),
            client_id: self.client_id.or(base.client_id),
            key: self.key.or(base.key),
            jwks: self.jwks.or(base.jwks),
            scope: self.scope.or(base.scope),
            db_url: self.db_url.or(base.db_url),
            openemr_dir: self.openemr_dir.or(base.openemr_dir),
            timeout: self.timeout.or(base.timeout),
            connect_timeout: self.connect_timeout.or(base.connect_timeout),
            slow: self.slow.or(base.slow),
            ca_cert: self.ca_cert.or(base.ca_cert),
            insecure: self.insecure.or(base.insecure),
            proxy: self.proxy.or(base.proxy),
        }
    }

    /// Makes relative file paths relative to `dir`, the configuration file's directory.
    fn anchor(&mut self, dir: &Path) {
        for path in [
            &mut self.key,
            &mut self.jwks,
            &mut self.openemr_dir,
            &mut self.ca_cert,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        }
    }

    /// Checks the values serde cannot: URLs, site ids, a zero timeout.
    fn check(&self, path: &Path, prefix: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, detail: String| ConfigError::Value {
            path: path.to_path_buf(),
            key: format!("{prefix}{key}"),
            detail,
        };
        if let Some(base) = &self.base_url {
            crate::openemr::urls::SiteUrls::new(base, "default")
                .map_err(|e| bad("base_url", e.to_string()))?;
        }
        if let Some(site) = &self.site {
            crate::openemr::urls::validate_site(site).map_err(|e| bad("site", e.to_string()))?;
        }
        for (key, secs) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("slow", self.slow),
        ] {
            if secs == Some(0) {
                return Err(bad(key, "must be at least 1 second".to_string()));
            }
        }
        if let Some(proxy) = &self.proxy {
            crate::net::proxy::check_value(proxy).map_err(|e| bad("proxy", e))?;
        }
        if self
            .ca_cert
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(bad("ca_cert", "must name a PEM file".to_string()));
        }
        if let Some(url) = &self.db_url {
            crate::db::DbSource::Url(url.clone())
                .resolve()
                .map_err(|e| bad("db_url", e.to_string()))?;
        }
        if self.db_url.is_some() && self.openemr_dir.is_some() {
            return Err(bad(
                "db_url",
                "give db_url or openemr_dir, not both".to_string(),
            ));
        }
        Ok(())
    }
}

/// `./oemr-doctor.toml`, then `$XDG_CONFIG_HOME/oemr-doctor/oemr-doctor.toml` (or
/// `~/.config/...`).
fn default_locations() -> Vec<PathBuf> {
    let mut places = vec![PathBuf::from(FILE_NAME)];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        places.push(dir.join("oemr-doctor").join(FILE_NAME));
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
site = "default"
scope = "system/Patient.read"
timeout = 20

[targets.clinic2]
base_url = "https://clinic2.example.org/openemr"
site = "clinic2"
client_id = "abc"
"#;

    #[test]
    fn targets_override_the_defaults() {
        let file = ConfigFile::parse(SAMPLE, Path::new("x.toml")).unwrap();
        let profile = file.profile(Some("clinic2")).unwrap();
        assert_eq!(profile.site.as_deref(), Some("clinic2"));
        assert_eq!(profile.timeout, Some(20));
        assert_eq!(profile.client_id.as_deref(), Some("abc"));
        assert_eq!(file.profile(None).unwrap().client_id, None);
        let anchored = ConfigFile::parse(
            "key = \"keys/k.pem\"\njwks = \"/abs/j.json\"",
            Path::new("/etc/od/x.toml"),
        )
        .unwrap();
        assert_eq!(
            anchored.defaults.key,
            Some(PathBuf::from("/etc/od/keys/k.pem"))
        );
        assert_eq!(anchored.defaults.jwks, Some(PathBuf::from("/abs/j.json")));
        let err = file.profile(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("\"nope\"") && err.contains("clinic2"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = ConfigFile::parse("base_ur = \"x\"", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("base_ur"), "{err}");
        let err = ConfigFile::parse("timeout = \"soon\"", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
        let err = ConfigFile::parse("[targets.a]\nbase_url = \"ftp://x\"", Path::new("x.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("targets.a.base_url"), "{err}");
        let err = ConfigFile::parse("[targets.a]\ncolour = 1", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn network_keys_are_read_and_checked() {
        let text = "connect_timeout = 2\nslow = 1\nca_cert = \"ca.pem\"\ninsecure = true\n\
                    proxy = \"http://127.0.0.1:3128\"\n[targets.a]\ninsecure = false\n";
        let file = ConfigFile::parse(text, Path::new("x.toml")).unwrap();
        let profile = file.profile(Some("a")).unwrap();
        assert_eq!(profile.connect_timeout, Some(2));
        assert_eq!(profile.slow, Some(1));
        assert_eq!(profile.ca_cert, Some(PathBuf::from("ca.pem")));
        assert_eq!(profile.insecure, Some(false));
        assert_eq!(profile.proxy.as_deref(), Some("http://127.0.0.1:3128"));
        let err = ConfigFile::parse("connect_timeout = 0", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("connect_timeout"), "{err}");
        let err = ConfigFile::parse("[targets.b]\nproxy = \"socks5://h:1\"", Path::new("x.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("targets.b.proxy"), "{err}");
        let err = ConfigFile::parse("insecure = \"yes\"", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("insecure"), "{err}");
    }
}
