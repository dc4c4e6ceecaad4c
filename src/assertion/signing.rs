//! The kid and signature rules: which registered key the server picks (the first RSA key on F1
//! and F2, whatever the kid; the key the kid names on F3) and whether the signature verifies
//! with it.

use super::decoded::DecodedJwt;
use super::rules::RuleContext;
use crate::keys::jwks::Jwks;
use crate::openemr::fault::Fault;
use crate::openemr::Family;

/// The faults of the kid and of the signature against the registered keys.
pub fn key_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let kid = jwt.header_text("kid").filter(|k| !k.is_empty());
    let mut faults = Vec::new();
    if kid.is_none() {
        faults.push(Fault::either(
            ctx.family.requires_kid(),
            "kid-missing",
            format!(
                "the assertion header has no kid; {}",
                kid_verdict(ctx.family)
            ),
            "put the registered key's kid in the JWT header (oemr-doctor keygen prints it)",
        ));
    }
    let Some(keys) = ctx.keys else {
        return faults;
    };
    if let Some(kid) = kid {
        faults.extend(unknown_kid(kid, keys, ctx.family));
    }
    if jwt.alg().starts_with("RS") || jwt.alg().starts_with("PS") {
        faults.extend(signature_fault(jwt, keys, kid, ctx.family));
    }
    faults
}

fn kid_verdict(family: Family) -> String {
    if family.requires_kid() {
        format!("{family} requires one and picks the key by it")
    } else {
        format!("{family} ignores kid, but OpenEMR master (F3) requires it")
    }
}

fn kids(keys: &Jwks) -> Vec<&str> {
    keys.keys.iter().filter_map(|k| k.kid()).collect()
}

fn unknown_kid(kid: &str, keys: &Jwks, family: Family) -> Option<Fault> {
    let known = kids(keys);
    if known.contains(&kid) {
        return None;
    }
    let listed = if known.is_empty() {
        "the registered keys have no kid".to_string()
    } else {
        format!("kids: {}", known.join(", "))
    };
    let verdict = if family.requires_kid() {
        format!("{family} refuses it")
    } else {
        format!("{family} ignores kid and still verifies, but F3 refuses it")
    };
    Some(Fault::either(
        family.requires_kid(),
        "kid-unknown",
        format!("assertion kid {kid:?} is not in the JWKS ({listed}); {verdict}"),
        "put the JWKS kid in the JWT header (keygen prints it), or give the JWK that kid",
    ))
}

/// Index of the first key that verifies the signature.
fn verifying_key(jwt: &DecodedJwt, keys: &Jwks) -> Option<usize> {
    keys.keys
        .iter()
        .position(|k| k.decoding_key().is_ok_and(|key| jwt.verifies_with(&key)))
}

fn signature_fault(
    jwt: &DecodedJwt,
    keys: &Jwks,
    kid: Option<&str>,
    family: Family,
) -> Option<Fault> {
    let signer = verifying_key(jwt, keys);
    let picked = if family.requires_kid() {
        kid.and_then(|kid| keys.keys.iter().position(|k| k.kid() == Some(kid)))
    } else {
        keys.first_rsa()
    };
    match (signer, picked) {
        (Some(s), Some(p)) if s == p => None,
        (Some(s), Some(p)) if family.uses_first_rsa_key() => Some(Fault::refused(
            "key-not-first",
            format!(
                "the assertion is signed with key #{} of the JWKS, but {family} verifies with \
                 the first RSA key (#{}) whatever the kid",
                s + 1,
                p + 1
            ),
            "move the signing key to the front of the key set (rotation: the new key goes first)",
        )),
        (Some(s), Some(p)) => Some(Fault::refused(
            "kid-mismatch",
            format!(
                "the header kid names key #{} of the JWKS, but the assertion is signed with \
                 key #{}",
                p + 1,
                s + 1
            ),
            "put the signing key's kid in the JWT header",
        )),
        (Some(_), None) => None,
        (None, _) => Some(Fault::refused(
            "signature",
            "the signature does not verify with any key of the registered JWKS: the assertion \
             is signed with another private key",
            "sign with the private key whose public half is registered, or register its public JWK",
        )),
    }
}
