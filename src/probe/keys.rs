//! Stage 2, keys: the private key loads, is big enough, and its public half is the key the
//! server will verify with: the first RSA key of the registered JWKS, whatever the kid.

use crate::keys::jwks::{thumbprint, Jwks};
use crate::keys::{KeyError, PrivateKey};

use super::context::{Context, KeyMatch};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Keys;

/// Loads the key and compares it with the registered key set.
pub async fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let key = match PrivateKey::load(&ctx.config.key_path) {
        Ok(key) => key,
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()).fix(load_fix(&e)),
    };
    let described = format!(
        "private key: {} bits RSA, {}, thumbprint {}",
        key.bits(),
        key.format,
        thumbprint(&key.public())
    );
    let key_match = match registered_jwks(ctx).await {
        None => KeyMatch::NoJwks,
        Some((source, Err(why))) => KeyMatch::Unusable { source, why },
        Some((source, Ok(set))) => compare(&key, &set, source),
    };
    ctx.kid = Some(match &key_match {
        KeyMatch::Matched { kid: Some(kid), .. } => kid.clone(),
        _ => thumbprint(&key.public()),
    });
    let size = key.require_min_bits().err();
    ctx.key = Some(key);
    ctx.key_match = key_match.clone();
    let outcome = match size {
        Some(e) => StageOutcome::fail(STAGE, e.to_string())
            .fix("make a 2048-bit or larger key (oemr-doctor keygen) and register its JWKS"),
        None => judge(&key_match),
    };
    outcome.evidence(described)
}

fn load_fix(error: &KeyError) -> &'static str {
    match error {
        KeyError::Encrypted(_) => "decrypt it: openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pem",
        KeyError::NotRsa { .. } => {
            "OpenEMR verifies RS384 only: make an RSA key (oemr-doctor keygen)"
        }
        KeyError::PublicNotPrivate(_) => "pass the private key file, not the public key",
        _ => "pass --key with an unencrypted PKCS#8 or PKCS#1 RSA private key PEM",
    }
}

/// The key set the server verifies with, and where it came from: the --jwks file, else the
/// client's jwks_uri (which OpenEMR prefers when set), else its jwks column.
async fn registered_jwks(ctx: &Context<'_>) -> Option<(String, Result<Jwks, String>)> {
    if let Some(path) = &ctx.config.jwks_path {
        let source = format!("--jwks file {}", path.display());
        let parsed = match std::fs::read_to_string(path) {
            Ok(text) => Jwks::parse(&text).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot read it: {e}")),
        };
        return Some((source, parsed));
    }
    let row = ctx.client_row()?;
    if row.has_jwks_uri() {
        let uri = row.jwks_uri.clone().unwrap_or_default();
        return Some((format!("jwks_uri {uri}"), fetch_jwks(ctx, uri.trim()).await));
    }
    if row.has_jwks() {
        let column = row.jwks.clone().unwrap_or_default();
        let parsed = Jwks::parse(&column).map_err(|e| e.to_string());
        return Some(("oauth_clients.jwks column".to_string(), parsed));
    }
    None
}

/// Fetches a jwks_uri the way OpenEMR does: the body counts whatever the status.
async fn fetch_jwks(ctx: &Context<'_>, uri: &str) -> Result<Jwks, String> {
    let http = ctx.http.as_ref().map_err(Clone::clone)?;
    let answer = http.get(uri, None).await.map_err(|e| e.to_string())?;
    Jwks::parse(&answer.body).map_err(|e| format!("HTTP {}: {e}", answer.status))
}

/// Finds the private key's public half in `set` by modulus and exponent.
pub fn compare(key: &PrivateKey, set: &Jwks, source: String) -> KeyMatch {
    let public = key.public();
    let first_rsa = set.first_rsa();
    match set.find(&public) {
        Some(index) => KeyMatch::Matched {
            source,
            kid: set.keys[index].kid().map(str::to_string),
            index,
            first_rsa: first_rsa == Some(index),
        },
        None => KeyMatch::Mismatch {
            detail: mismatch_detail(set, &thumbprint(&public)),
            source,
        },
    }
}

fn mismatch_detail(set: &Jwks, own_thumbprint: &str) -> String {
    let kid_twin = set
        .keys
        .iter()
        .filter_map(|k| k.kid())
        .find(|kid| *kid == own_thumbprint);
    if let Some(kid) = kid_twin {
        return format!("kid {kid:?} matches this key's thumbprint but its modulus differs");
    }
    let listed: Vec<String> = set
        .keys
        .iter()
        .map(|k| {
            let kid = k.kid().unwrap_or("(no kid)");
            match k.rsa_public() {
                Ok(_) => format!("kid {kid:?}: modulus differs"),
                Err(e) => format!("kid {kid:?}: not usable ({e})"),
            }
        })
        .collect();
    listed.join("; ")
}

/// The outcome for a key of adequate size.
pub fn judge(key_match: &KeyMatch) -> StageOutcome {
    match key_match {
        KeyMatch::NoJwks => StageOutcome::warn(
            STAGE,
            "no JWKS to compare the key with; cannot tell whether it is the registered one",
        )
        .fix("pass --jwks with the registered key set, or give the database"),
        KeyMatch::Unusable { source, why } => {
            StageOutcome::fail(STAGE, format!("the registered key set ({source}) is unusable: {why}"))
                .fix("store a JSON key set {\"keys\":[...]} holding this key's public JWK")
        }
        KeyMatch::Mismatch { source, detail } => StageOutcome::fail(
            STAGE,
            format!("the private key is not in the registered key set ({source})"),
        )
        .evidence(detail.clone())
        .fix("sign with the private key whose public half is registered, or register this key's public JWK"),
        KeyMatch::Matched { first_rsa: false, kid, index, source } => StageOutcome::warn(
            STAGE,
            format!(
                "the key matches key #{} ({}) of {source}, but OpenEMR verifies with the first \
                 RSA key of the set whatever the kid",
                index + 1,
                kid_text(kid)
            ),
        )
        .fix("move this key to the front of the key set (key rotation: the new key goes first)"),
        KeyMatch::Matched { kid, source, .. } => StageOutcome::pass(
            STAGE,
            format!("the private key matches {} of {source}", kid_text(kid)),
        ),
    }
}

fn kid_text(kid: &Option<String>) -> String {
    match kid {
        Some(kid) => format!("kid {kid:?}"),
        None => "a key without kid".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::jwks::public_jwk;
    use crate::probe::Status;

    fn set_of(keys: &[&PrivateKey]) -> Jwks {
        Jwks {
            keys: keys.iter().map(|k| public_jwk(&k.public())).collect(),
        }
    }

    #[test]
    fn a_key_second_in_the_set_warns() {
        let (ours, other) = (
            PrivateKey::generate(2048).unwrap(),
            PrivateKey::generate(2048).unwrap(),
        );
        let first = compare(&ours, &set_of(&[&ours, &other]), "s".into());
        assert_eq!(judge(&first).status, Status::Pass);
        let second = compare(&ours, &set_of(&[&other, &ours]), "s".into());
        assert!(matches!(
            second,
            KeyMatch::Matched {
                index: 1,
                first_rsa: false,
                ..
            }
        ));
        assert_eq!(judge(&second).status, Status::Warn);
        let none = compare(&ours, &set_of(&[&other]), "s".into());
        assert_eq!(judge(&none).status, Status::Fail);
    }

    #[test]
    fn a_kid_naming_this_key_with_another_modulus_is_explicit() {
        let (ours, other) = (
            PrivateKey::generate(2048).unwrap(),
            PrivateKey::generate(2048).unwrap(),
        );
        let mut set = set_of(&[&other]);
        set.keys[0]
            .0
            .insert("kid".into(), thumbprint(&ours.public()).into());
        let KeyMatch::Mismatch { detail, .. } = compare(&ours, &set, "s".into()) else {
            panic!("expected a mismatch");
        };
        assert!(detail.contains("modulus differs"), "{detail}");
        assert!(detail.contains(&thumbprint(&ours.public())), "{detail}");
    }
}
