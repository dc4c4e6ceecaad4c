//! Stage 2, keys: the private key loads, is big enough, and its public half is the key the
//! server will verify with: the first RSA key of the registered JWKS, whatever the kid.

use rsa::traits::PublicKeyParts;

use crate::keys::jwks::{thumbprint, Jwks};
use crate::keys::{KeyError, PrivateKey};
use crate::openemr::fault::Fault;
use crate::openemr::keyset_rules;

use super::context::{Context, KeyMatch};
use super::http::{Answer, Http};
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Keys;

/// Loads the key and compares it with the registered key set.
pub async fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let key = match PrivateKey::load(&ctx.config.key_path) {
        Ok(key) => key,
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()).fix(load_fix(&e)),
    };
    let bits = key.public().n().bits();
    let described = format!(
        "private key: {bits} bits RSA, {}, thumbprint {}",
        key.format,
        thumbprint(&key.public())
    );
    let fetched = registered_jwks(ctx).await;
    let key_match = match &fetched {
        None => KeyMatch::NoJwks,
        Some(found) => match &found.set {
            Err(why) => KeyMatch::Unusable {
                source: found.source.clone(),
                why: why.clone(),
            },
            Ok(set) => compare(&key, set, found.source.clone()),
        },
    };
    if let Some(found) = fetched {
        ctx.key_faults = found.faults;
        ctx.registered = found.set.ok();
    }
    ctx.kid = Some(match &key_match {
        KeyMatch::Matched { kid: Some(kid), .. } => kid.clone(),
        _ => thumbprint(&key.public()),
    });
    ctx.key = Some(key);
    ctx.key_match = key_match.clone();
    let outcome = match bits < crate::keys::MIN_BITS {
        true => StageOutcome::fail(STAGE, small_key(bits))
            .fix("make a 2048-bit or larger key (oemr-doctor keygen) and register its JWKS"),
        false => with_key_set_faults(judge(&key_match, ctx.family()), &ctx.key_faults),
    };
    outcome.evidence(described)
}

fn small_key(bits: usize) -> String {
    format!(
        "the private key's modulus is {bits} bits; SMART and JOSE require at least 2048 and \
         newer OpenEMR builds refuse it (F1 still accepts it)"
    )
}

/// Adds the registered key set's faults: a refused one fails the stage, a warning warns.
fn with_key_set_faults(outcome: StageOutcome, faults: &[Fault]) -> StageOutcome {
    let Some(worst) = faults.iter().min_by_key(|f| f.severity) else {
        return outcome;
    };
    let lines = faults
        .iter()
        .map(|f| format!("key set: {} (fix: {})", f.what, f.fix));
    let escalate = match outcome.status {
        super::Status::Fail if worst.is_refused() => {
            let mut outcome = outcome.fix(worst.fix.clone());
            outcome.evidence.extend(lines);
            return outcome;
        }
        super::Status::Fail => false,
        super::Status::Warn => worst.is_refused(),
        _ => true,
    };
    let mut outcome = outcome;
    if escalate {
        let mut replaced = if worst.is_refused() {
            StageOutcome::fail(STAGE, format!("the registered key set: {}", worst.what))
        } else {
            StageOutcome::warn(STAGE, format!("the registered key set: {}", worst.what))
        };
        replaced.evidence = std::mem::take(&mut outcome.evidence);
        replaced
            .evidence
            .push(format!("before that: {}", outcome.finding));
        outcome = replaced.fix(worst.fix.clone());
    }
    outcome.evidence_lines(lines)
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

/// A registered key set as read: where from, the set or why not, and its faults.
pub struct FetchedKeySet {
    /// Where it came from.
    pub source: String,
    /// The set, or why it cannot be read.
    pub set: Result<Jwks, String>,
    /// Every fault OpenEMR's rules find in it.
    pub faults: Vec<Fault>,
}

/// The key set the server verifies with, and where it came from: the --jwks file, else the
/// client's jwks_uri (which OpenEMR prefers when set), else its jwks column.
async fn registered_jwks(ctx: &Context<'_>) -> Option<FetchedKeySet> {
    let family = ctx.family();
    if let Some(path) = &ctx.config.jwks_path {
        return Some(read_file(path, family));
    }
    let row = ctx.client_row()?;
    if row.has_jwks_uri() {
        let uri = row.jwks_uri.clone().unwrap_or_default();
        // OpenEMR fetches it with the public roots only: --ca-cert and --insecure, which are
        // about reaching OpenEMR from here, must not make a jwks_uri look healthy.
        let strict = Http::new(ctx.config.network.timeout).ok()?;
        return Some(fetch_uri(&strict, uri.trim(), family).await);
    }
    if row.has_jwks() {
        let column = row.jwks.clone().unwrap_or_default();
        return Some(from_text(
            "oauth_clients.jwks column".into(),
            &column,
            None,
            family,
        ));
    }
    None
}

/// A key set from a local file.
pub fn read_file(path: &std::path::Path, family: crate::openemr::Family) -> FetchedKeySet {
    let source = format!("--jwks file {}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => from_text(source, &text, None, family),
        Err(e) => FetchedKeySet {
            source,
            set: Err(format!("cannot read it: {e}")),
            faults: Vec::new(),
        },
    }
}

/// A key set from text (served with `content_type`, for a jwks_uri).
pub fn from_text(
    source: String,
    text: &str,
    content_type: Option<&str>,
    family: crate::openemr::Family,
) -> FetchedKeySet {
    FetchedKeySet {
        set: Jwks::parse(text).map_err(|e| e.to_string()),
        faults: keyset_rules::lint(text, content_type, family),
        source,
    }
}

/// Fetches a jwks_uri with strict TLS and no redirects. OpenEMR reads the body whatever the
/// status, so the body is judged even on an error status.
pub async fn fetch_uri(http: &Http, uri: &str, family: crate::openemr::Family) -> FetchedKeySet {
    let source = format!("jwks_uri {uri}");
    let answer = match http.get(uri, None).await {
        Ok(answer) => answer,
        Err(e) => return unreachable(source, e),
    };
    if answer.is_redirect() {
        return redirected(http, source, &answer, family).await;
    }
    let mut fetched = from_text(source, &answer.body, answer.content_type.as_deref(), family);
    if answer.status != 200 {
        fetched.set = fetched
            .set
            .map_err(|e| format!("HTTP {}: {e}", answer.status));
        fetched.faults.insert(
            0,
            Fault::warning(
                "jwks-status",
                format!("the jwks_uri answers HTTP {}", answer.status),
                "make the jwks_uri answer 200 with the key set",
            ),
        );
    }
    fetched
}

fn unreachable(source: String, error: super::http::NetError) -> FetchedKeySet {
    let (code, fix) = match &error {
        super::http::NetError::Tls { .. } => (
            "jwks-tls",
            "serve the full certificate chain from a publicly trusted CA at the jwks_uri, or \
             register the JWKS inline (oauth_clients.jwks)",
        ),
        _ => (
            "jwks-unreachable",
            "make the jwks_uri reachable from the OpenEMR server, or register the JWKS inline",
        ),
    };
    let what = match &error {
        super::http::NetError::Tls { .. } => {
            format!("jwks_uri TLS chain cannot be verified: {error}")
        }
        _ => format!("the jwks_uri cannot be fetched: {error}"),
    };
    FetchedKeySet {
        source,
        set: Err(what.clone()),
        faults: vec![Fault::refused(code, what, fix)],
    }
}

/// Follows one redirect (Guzzle in F1 and F2 does) and warns about it.
async fn redirected(
    http: &Http,
    source: String,
    answer: &Answer,
    family: crate::openemr::Family,
) -> FetchedKeySet {
    let to = answer.location.clone().unwrap_or_default();
    let warning = Fault::warning(
        "jwks-redirect",
        format!("the jwks_uri redirects (HTTP {}) to {to}", answer.status),
        "register the final URL as jwks_uri: F1 and F2 follow the redirect, F3's guarded \
         fetch may not",
    );
    let target = url::Url::parse(&answer.url).and_then(|u| u.join(&to));
    let mut fetched = match target {
        Ok(target) => match http.get(target.as_str(), None).await {
            Ok(second) if !second.is_redirect() => from_text(
                source.clone(),
                &second.body,
                second.content_type.as_deref(),
                family,
            ),
            Ok(_) => from_text(source.clone(), "", None, family),
            Err(e) => unreachable(source.clone(), e),
        },
        Err(_) => from_text(source.clone(), "", None, family),
    };
    fetched.faults.insert(0, warning);
    fetched
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
pub fn judge(key_match: &KeyMatch, family: crate::openemr::Family) -> StageOutcome {
    match key_match {
        KeyMatch::NoJwks => StageOutcome::warn(
            STAGE,
            "no JWKS to compare the key with; cannot tell whether it is the registered one",
        )
        .fix("pass --jwks with the registered key set, or give the database"),
        KeyMatch::Unusable { source, why } if why.starts_with("cannot read") => {
            StageOutcome::fail(STAGE, format!("the key set ({source}) {why}"))
                .fix("check the --jwks path: it must name the JWKS file registered for the client")
        }
        KeyMatch::Unusable { source, why } => StageOutcome::fail(
            STAGE,
            format!(
                "the registered key set ({source}) is unusable: \
                {why}"
            ),
        )
        .fix("store a JSON key set {\"keys\":[...]} holding this key's public JWK"),
        KeyMatch::Mismatch { source, detail } => StageOutcome::fail(
            STAGE,
            format!("the private key is not in the registered key set ({source})"),
        )
        .evidence(detail.clone())
        .fix(
            "sign with the private key whose public half is registered, or register this \
            key's public JWK",
        ),
        // F3 picks the key by kid, so its place in the set no longer matters.
        KeyMatch::Matched {
            first_rsa: false,
            kid,
            index,
            source,
        } if !family.requires_kid() => StageOutcome::warn(
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
        let f1 = crate::openemr::Family::F1;
        assert_eq!(judge(&first, f1).status, Status::Pass);
        let second = compare(&ours, &set_of(&[&other, &ours]), "s".into());
        assert!(matches!(
            second,
            KeyMatch::Matched {
                index: 1,
                first_rsa: false,
                ..
            }
        ));
        assert_eq!(judge(&second, f1).status, Status::Warn);
        // F3 picks the key by kid: its place in the set does not matter there.
        assert_eq!(
            judge(&second, crate::openemr::Family::F3).status,
            Status::Pass
        );
        let none = compare(&ours, &set_of(&[&other]), "s".into());
        assert_eq!(judge(&none, f1).status, Status::Fail);
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
