//! RSA keys: loading the client's private key in the formats people have, making new ones,
//! and writing key files safely.

pub mod jwks;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

/// The smallest RSA modulus SMART Backend Services (and oemr-doctor) accept.
pub const MIN_BITS: usize = 2048;

/// Why a private key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is encrypted; give an unencrypted key (openssl pkcs8 -topk8 -nocrypt -in KEY)")]
    Encrypted(PathBuf),
    #[error("{0} holds a public key; check needs the private key that signs assertions")]
    PublicNotPrivate(PathBuf),
    #[error("{path} holds a key of type {kind}; OpenEMR only accepts RSA keys (RS384)")]
    NotRsa { path: PathBuf, kind: String },
    #[error("{0} is not a PEM file (no -----BEGIN ... PRIVATE KEY----- block)")]
    NotPem(PathBuf),
    #[error("{path} has a {format} block that does not decode: {detail}")]
    Malformed {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },
    #[error("the key is {bits} bits; use at least {MIN_BITS} (oemr-doctor keygen makes one)")]
    TooSmall { bits: usize },
}

/// A loaded RSA private key and the facts the probe reports about it.
pub struct PrivateKey {
    key: RsaPrivateKey,
    /// Which PEM format the file held.
    pub format: &'static str,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, not even in debug output.
        write!(f, "PrivateKey({} bits, {})", self.bits(), self.format)
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 or PKCS#1 PEM private key, naming what is wrong with any other file.
    pub fn load(path: &Path) -> Result<PrivateKey, KeyError> {
        let read = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = fs::read(path).map_err(read)?;
        let text = String::from_utf8_lossy(&text);
        PrivateKey::from_pem(&text, path)
    }

    /// Parses PEM text; `path` only names the source in errors.
    pub fn from_pem(text: &str, path: &Path) -> Result<PrivateKey, KeyError> {
        let p = path.to_path_buf();
        let malformed = |format, e: &dyn std::fmt::Display| KeyError::Malformed {
            path: path.to_path_buf(),
            format,
            detail: e.to_string(),
        };
        let label = pem_label(text);
        if label == Some("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(KeyError::Encrypted(p));
        }
        if label == Some("RSA PRIVATE KEY") {
            let key = RsaPrivateKey::from_pkcs1_pem(text).map_err(|e| malformed("PKCS#1", &e))?;
            return Ok(PrivateKey {
                key,
                format: "PKCS#1",
            });
        }
        if label == Some("PRIVATE KEY") {
            return match RsaPrivateKey::from_pkcs8_pem(text) {
                Ok(key) => Ok(PrivateKey {
                    key,
                    format: "PKCS#8",
                }),
                Err(e) => match pkcs8_algorithm(text) {
                    Some(kind) if kind != "RSA" => Err(KeyError::NotRsa { path: p, kind }),
                    _ => Err(malformed("PKCS#8", &e)),
                },
            };
        }
        Err(classify_other_pem(text, p))
    }

    /// Makes a new key of `bits` bits (2048, 3072 or 4096).
    pub fn generate(bits: usize) -> Result<PrivateKey, KeyError> {
        if bits < MIN_BITS {
            return Err(KeyError::TooSmall { bits });
        }
        let key =
            RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|e| KeyError::Malformed {
                path: PathBuf::new(),
                format: "generated",
                detail: e.to_string(),
            })?;
        Ok(PrivateKey {
            key,
            format: "PKCS#8",
        })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.key.size() * 8
    }

    /// Refuses keys under [`MIN_BITS`].
    pub fn require_min_bits(&self) -> Result<(), KeyError> {
        if self.bits() < MIN_BITS {
            return Err(KeyError::TooSmall { bits: self.bits() });
        }
        Ok(())
    }

    /// The public half.
    pub fn public(&self) -> RsaPublicKey {
        self.key.to_public_key()
    }

    /// The key as a signing key for RS384 assertions.
    pub fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        let pem = self.pkcs8_pem();
        jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            .expect("a PKCS#8 PEM written by the rsa crate always loads")
    }

    /// PKCS#8 PEM of the private key. Secret: only ever written to a 0600 file.
    pub fn pkcs8_pem(&self) -> String {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("encoding an in-memory RSA key cannot fail")
            .to_string()
    }

    /// SubjectPublicKeyInfo PEM of the public key.
    pub fn public_pem(&self) -> String {
        self.public()
            .to_public_key_pem(LineEnding::LF)
            .expect("encoding an in-memory RSA key cannot fail")
    }
}

/// The key algorithm named inside a PKCS#8 block, when the block decodes that far.
fn pkcs8_algorithm(text: &str) -> Option<String> {
    let (_, doc) = rsa::pkcs8::SecretDocument::from_pem(text).ok()?;
    let info = rsa::pkcs8::PrivateKeyInfo::try_from(doc.as_bytes()).ok()?;
    Some(match info.algorithm.oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA".to_string(),
        "1.2.840.10045.2.1" => "EC".to_string(),
        "1.3.101.112" => "Ed25519".to_string(),
        other => format!("non-RSA (algorithm {other})"),
    })
}

fn classify_other_pem(text: &str, p: PathBuf) -> KeyError {
    let kind = match pem_label(text) {
        Some("EC PRIVATE KEY") => "EC",
        Some("OPENSSH PRIVATE KEY") => "OpenSSH-format",
        Some(label) if label.contains("PUBLIC KEY") || label == "CERTIFICATE" => {
            return KeyError::PublicNotPrivate(p)
        }
        _ => return KeyError::NotPem(p),
    };
    KeyError::NotRsa {
        path: p,
        kind: kind.into(),
    }
}

/// The label of the first PEM block (`PRIVATE KEY`, `RSA PRIVATE KEY`, ...), which says what
/// the file holds before anything is decoded.
pub fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let end = start + text[start..].find("-----")?;
    Some(text[start..end].trim())
}

/// A PEM block with `label` around `body`, for tests and error examples.
pub fn pem_block(label: &str, body: &str) -> String {
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

/// A file written in full beside its final path, not yet in place.
pub struct StagedFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl StagedFile {
    /// Writes `contents` next to `path` as mode 0600 and flushes it to disk.
    pub fn new(path: &Path, contents: &[u8]) -> std::io::Result<StagedFile> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // tempfile creates the file 0600, so a secret is never readable by others, even briefly.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(contents)?;
        tmp.as_file().sync_all()?;
        Ok(StagedFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Moves the file into place in one rename; refuses to replace a file unless `overwrite`.
    pub fn commit(self, overwrite: bool) -> std::io::Result<()> {
        let result = if overwrite {
            self.tmp.persist(&self.path).map(drop)
        } else {
            self.tmp.persist_noclobber(&self.path).map(drop)
        };
        result.map_err(|e| e.error)
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Sets a file's mode to `mode` (0600 for private keys, 0644 for public material).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Sets a file's mode (no-op where modes do not exist).
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_and_public_keys_are_named() {
        let p = Path::new("k.pem");
        let enc = pem_block("ENCRYPTED PRIVATE KEY", "AAAA");
        assert!(matches!(
            PrivateKey::from_pem(&enc, p),
            Err(KeyError::Encrypted(_))
        ));
        let public = pem_block("PUBLIC KEY", "AAAA");
        assert!(matches!(
            PrivateKey::from_pem(&public, p),
            Err(KeyError::PublicNotPrivate(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem("hello", p),
            Err(KeyError::NotPem(_))
        ));
        let bad = pem_block("RSA PRIVATE KEY", "AAAA");
        assert!(matches!(
            PrivateKey::from_pem(&bad, p),
            Err(KeyError::Malformed { .. })
        ));
        let ec = pem_block("EC PRIVATE KEY", "AAAA");
        assert!(matches!(
            PrivateKey::from_pem(&ec, p),
            Err(KeyError::NotRsa { .. })
        ));
    }
}
