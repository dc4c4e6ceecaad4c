//! `oemr-doctor keygen`: an RSA key pair and the JWKS to register, written safely.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use super::{Failure, Outcome};
use crate::cli::KeygenArgs;
use crate::keys::jwks::{public_jwk, Jwks};
use crate::keys::{set_mode, PrivateKey, StagedFile};
use crate::openemr::urls::SiteUrls;

/// File names keygen writes into `--out`.
pub const PRIVATE_KEY_FILE: &str = "private-key.pem";
/// The public key PEM.
pub const PUBLIC_KEY_FILE: &str = "public-key.pem";
/// The JWKS to register.
pub const JWKS_FILE: &str = "jwks.json";

/// Runs keygen.
pub fn run(args: &KeygenArgs, quiet: bool) -> Outcome {
    let urls = match &args.base_url {
        Some(base) => Some(SiteUrls::new(base, &args.site).map_err(Failure::usage)?),
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create directory {}", args.out.display()))
        .map_err(|e| match args.out.exists() && !args.out.is_dir() {
            true => Failure::usage(e).hint("--out names a directory to write the key files into"),
            false => Failure::runtime(e),
        })?;
    let paths = KeyPaths::new(&args.out);
    if !args.force {
        refuse_existing(&paths)?;
    }

    let (_, jwks) = generate_into(&paths, args.bits, args.force).map_err(Failure::runtime)?;
    let jwk = &jwks.keys[0];
    let kid = jwk.kid().unwrap_or_default().to_string();
    let (bits, name) = (args.bits, args.client_name.as_str());
    if args.json {
        let document = json_document(&paths, &kid, bits, &jwks, urls.as_ref(), name);
        super::print_json(&document);
    } else {
        let text = summary(&paths, &kid, bits, &jwks, urls.as_ref(), name);
        // -q: the kid and the files written, without the registration guidance.
        let shown: String = match quiet {
            true => text.lines().take(4).map(|l| format!("{l}\n")).collect(),
            false => text,
        };
        print!("{shown}");
    }
    Ok(0)
}

/// Makes a key of `bits` bits and writes the three files; the demo uses it too.
pub fn generate_into(
    paths: &KeyPaths,
    bits: usize,
    overwrite: bool,
) -> anyhow::Result<(PrivateKey, Jwks)> {
    tracing::info!(bits, "generating RSA key");
    let key = PrivateKey::generate(bits)?;
    let jwks = Jwks {
        keys: vec![public_jwk(&key.public())],
    };
    paths.write(&key, &jwks, overwrite)?;
    Ok((key, jwks))
}

/// The three files keygen writes.
pub struct KeyPaths {
    /// The private key, PKCS#8 PEM, mode 0600.
    pub private: PathBuf,
    /// The public key, SubjectPublicKeyInfo PEM.
    pub public: PathBuf,
    /// The JWKS to register.
    pub jwks: PathBuf,
}

impl KeyPaths {
    /// The file names inside `dir`.
    pub fn new(dir: &Path) -> KeyPaths {
        KeyPaths {
            private: dir.join(PRIVATE_KEY_FILE),
            public: dir.join(PUBLIC_KEY_FILE),
            jwks: dir.join(JWKS_FILE),
        }
    }

    fn all(&self) -> [&Path; 3] {
        [&self.private, &self.public, &self.jwks]
    }

    /// Writes all three in full first, then moves them into place, so a failure leaves no
    /// half-written file and (without --force) removes what this run had already placed.
    fn write(&self, key: &PrivateKey, jwks: &Jwks, overwrite: bool) -> anyhow::Result<()> {
        let contents = [key.pkcs8_pem(), key.public_pem(), jwks.to_json() + "\n"];
        let mut staged = Vec::new();
        for (path, text) in self.all().into_iter().zip(contents) {
            let file = StagedFile::new(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            staged.push(file);
        }
        let mut placed: Vec<PathBuf> = Vec::new();
        for file in staged {
            let path = file.path().to_path_buf();
            if let Err(e) = file.commit(overwrite) {
                if !overwrite {
                    placed.iter().for_each(|p| drop(std::fs::remove_file(p)));
                }
                return Err(e).with_context(|| format!("cannot write {}", path.display()));
            }
            placed.push(path);
        }
        // Public material need not stay owner-only like the private key.
        for public in [&self.public, &self.jwks] {
            set_mode(public, 0o644)
                .with_context(|| format!("cannot chmod {}", public.display()))?;
        }
        Ok(())
    }
}

fn refuse_existing(paths: &KeyPaths) -> Result<(), Failure> {
    let existing: Vec<String> = paths
        .all()
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if existing.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(anyhow::anyhow!(
        "refusing to overwrite {}",
        existing.join(", ")
    ))
    .hint("pass --force to replace them, or --out DIR to write elsewhere"))
}

/// The registration body OpenEMR F1 accepts for a backend-services client.
pub fn registration_body(jwks: &Jwks, client_name: &str) -> serde_json::Value {
    let keys: Vec<_> = jwks
        .keys
        .iter()
        .map(|k| serde_json::Value::Object(k.0.clone()))
        .collect();
    json!({
        "application_type": "private",
        "client_name": client_name,
        "redirect_uris": ["https://localhost/unused"],
        // 6.x to 7.0.3 refuse private_key_jwt here; the grant reads the assertion regardless.
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "openid api:fhir system/Patient.read",
        "jwks": { "keys": keys },
    })
}

/// keygen's `--json` output, schema `oemr-doctor/keygen/v1`. It never holds the private key.
fn json_document(
    paths: &KeyPaths,
    kid: &str,
    bits: usize,
    jwks: &Jwks,
    urls: Option<&SiteUrls>,
    client_name: &str,
) -> serde_json::Value {
    let keys: Vec<_> = jwks
        .keys
        .iter()
        .map(|k| serde_json::Value::Object(k.0.clone()))
        .collect();
    json!({
        "schema": "oemr-doctor/keygen/v1",
        "kid": kid,
        "bits": bits,
        "files": {
            "private_key": paths.private.display().to_string(),
            "public_key": paths.public.display().to_string(),
            "jwks": paths.jwks.display().to_string(),
        },
        "jwks": { "keys": keys },
        "registration": {
            "url": urls.map(SiteUrls::registration),
            "body": registration_body(jwks, client_name),
        },
    })
}

fn summary(
    paths: &KeyPaths,
    kid: &str,
    bits: usize,
    jwks: &Jwks,
    urls: Option<&SiteUrls>,
    client_name: &str,
) -> String {
    let registration = urls.map_or_else(
        || "https://YOUR-OPENEMR/oauth2/default/registration".to_string(),
        SiteUrls::registration,
    );
    let body = serde_json::to_string_pretty(&registration_body(jwks, client_name))
        .expect("a JSON value always serialises");
    format!(
        "Generated a {bits}-bit RSA key pair, kid {kid}\n\
         \x20 {private} (private key, PKCS#8, mode 0600: keep it secret, never register it)\n\
         \x20 {public} (public key)\n\
         \x20 {jwks_path} (the JWKS to register)\n\n\
         Next: register the public key with OpenEMR, one of two ways:\n\
         \x20 inline: send the JWKS as \"jwks\" in the registration body below;\n\
         \x20 hosted: serve {jwks_file} over https and send its address as \"jwks_uri\" instead.\n\
         Register with: POST {registration} (Content-Type: application/json)\n{body}\n\n\
         Then: an administrator enables the client (Administration > System > API Clients), and\n\
         'Enable OpenEMR FHIR System Scopes' must be on for system/ scopes to exist.\n\
         Check it with: oemr-doctor check --base-url URL --client-id ID --key {private}\n",
        private = paths.private.display(),
        public = paths.public.display(),
        jwks_path = paths.jwks.display(),
        jwks_file = JWKS_FILE,
    )
}
