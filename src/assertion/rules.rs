//! Every rule a client assertion must follow on a given OpenEMR family, applied to any
//! assertion (oemr-doctor's own, or one the user's code built), each broken rule a [`Fault`]
//! with its fix. Nothing stops at the first fault.

use crate::keys::jwks::Jwks;
use crate::openemr::fault::Fault;
use crate::openemr::{Family, LEEWAY_SECS, SMART_MAX_ASSERTION_SECS};

use super::audience::aud_faults;
use super::decoded::DecodedJwt;
use super::signing::key_faults;

/// What the rules compare the assertion with; anything unknown is `None` and its rule is
/// judged as far as the assertion alone allows.
#[derive(Debug, Clone)]
pub struct RuleContext<'a> {
    /// The family whose rules apply.
    pub family: Family,
    /// The client id (iss and sub must both be it); `None` takes `sub` as the client.
    pub client_id: Option<&'a str>,
    /// The token endpoint the server advertises (the exact aud).
    pub token_endpoint: Option<&'a str>,
    /// The aud the server builds from its Site Address, when the database shows it.
    pub site_addr_token: Option<&'a str>,
    /// The site id, to recognise OpenEMR's URL layout.
    pub site: &'a str,
    /// This machine's clock, Unix seconds.
    pub now: i64,
    /// The server's clock minus this machine's, from its Date header.
    pub server_offset: Option<i64>,
    /// The registered key set.
    pub keys: Option<&'a Jwks>,
    /// Whether the jti is already in jwt_grant_history, when the database was read.
    pub jti_used: Option<bool>,
}

impl RuleContext<'_> {
    /// The server's clock, as well as it is known.
    pub fn server_now(&self) -> i64 {
        self.now + self.server_offset.unwrap_or(0)
    }

    fn clock_name(&self) -> &'static str {
        if self.server_offset.is_some() {
            "the server's clock (its Date header)"
        } else {
            "this machine's clock"
        }
    }
}

/// Every fault of the assertion on `ctx.family`.
pub fn check(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let mut faults = alg_faults(jwt);
    faults.extend(key_faults(jwt, ctx));
    faults.extend(identity_faults(jwt, ctx));
    faults.extend(aud_faults(jwt, ctx));
    faults.extend(exp_faults(jwt, ctx));
    faults.extend(iat_nbf_faults(jwt, ctx));
    faults.extend(jti_faults(jwt, ctx));
    faults
}

fn alg_faults(jwt: &DecodedJwt) -> Vec<Fault> {
    match jwt.alg() {
        "RS384" => Vec::new(),
        alg => {
            let shown = if alg.is_empty() { "missing" } else { alg };
            vec![Fault::refused(
                "alg",
                format!("assertion alg is {shown}; OpenEMR accepts only RS384 with RSA keys"),
                "sign with RS384 (many JWT libraries default to RS256) and set the JWK's alg to \
                 RS384 or leave it out",
            )]
        }
    }
}

fn identity_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let mut faults = Vec::new();
    let sub = jwt.claim_text("sub");
    let client = ctx.client_id.or(sub);
    let Some(sub) = sub else {
        faults.push(Fault::refused(
            "sub",
            "the assertion has no sub; OpenEMR finds the client by sub (401 invalid_client)",
            "set sub to the client id",
        ));
        return faults;
    };
    if let Some(client) = ctx.client_id.filter(|c| *c != sub) {
        faults.push(Fault::refused(
            "sub",
            format!("sub is {sub:?}, not the client id {client:?}"),
            "set sub to the client id OpenEMR issued",
        ));
    }
    let iss = jwt.claim_text("iss");
    if iss != client {
        let found = iss.map_or("missing".to_string(), |i| format!("{i:?}"));
        faults.push(Fault::refused(
            "iss",
            format!(
                "iss is {found}, not the client id {:?}",
                client.unwrap_or("")
            ),
            "set iss to the client id (iss = sub = client_id)",
        ));
    }
    faults
}

fn exp_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let family = ctx.family;
    let Some(exp) = jwt.claim_secs("exp") else {
        return vec![Fault::either(
            family.requires_exp(),
            "exp-missing",
            format!(
                "the assertion has no exp; {family} {}",
                requires(family.requires_exp())
            ),
            "set exp = now + 300 (SMART asks for at most five minutes)",
        )];
    };
    let now = ctx.server_now();
    let ahead = exp - now;
    if exp + LEEWAY_SECS < now {
        return vec![Fault::refused(
            "exp-past",
            format!(
                "exp is {} s in the past by {}; OpenEMR allows {LEEWAY_SECS} s of leeway",
                now - exp,
                ctx.clock_name()
            ),
            "sign a fresh assertion for every token request (exp = now + 300)",
        )];
    }
    match family.max_exp_ahead() {
        Some(max) if ahead > max => vec![Fault::refused(
            "exp-too-far",
            format!(
                "exp is {} ahead; {family} refuses more than 24 h",
                span(ahead)
            ),
            "use exp = now + 300 and include iat",
        )],
        None if ahead > 24 * 3600 => vec![Fault::warning(
            "exp-too-far",
            format!(
                "exp is {} ahead; {family} accepts it, but OpenEMR 7.0.4 and later refuse \
                 more than 24 h",
                span(ahead)
            ),
            "use exp = now + 300 and include iat",
        )],
        _ if ahead > SMART_MAX_ASSERTION_SECS + LEEWAY_SECS => vec![Fault::warning(
            "exp-long",
            format!(
                "exp is {} ahead; SMART asks for at most {SMART_MAX_ASSERTION_SECS} s",
                span(ahead)
            ),
            "use exp = now + 300",
        )],
        _ => Vec::new(),
    }
}

fn requires(required: bool) -> &'static str {
    if required {
        "requires it"
    } else {
        "accepts that, but SMART requires exp and OpenEMR master refuses its absence"
    }
}

/// Seconds as the largest whole unit that reads well.
pub fn span(secs: i64) -> String {
    match secs.abs() {
        s if s >= 7200 && s % 3600 == 0 => format!("{} h", secs / 3600),
        s if s >= 3600 => format!("{secs} s ({:.1} h)", secs as f64 / 3600.0),
        _ => format!("{secs} s"),
    }
}

fn iat_nbf_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let now = ctx.server_now();
    let clock = ctx.clock_name();
    let mut faults = Vec::new();
    for name in ["iat", "nbf"] {
        if let Some(t) = jwt.claim_secs(name).filter(|t| *t > now + LEEWAY_SECS) {
            faults.push(future_fault(name, t - now, clock));
        }
    }
    match jwt.claim_secs("iat") {
        None => faults.push(Fault::warning(
            "iat-missing",
            "the assertion has no iat; OpenEMR accepts that, stricter servers do not",
            "include iat = now",
        )),
        Some(iat) => faults.extend(stale_iat(iat, now, ctx.family)),
    }
    faults
}

fn future_fault(name: &'static str, ahead: i64, clock: &str) -> Fault {
    Fault::refused(
        if name == "iat" {
            "iat-future"
        } else {
            "nbf-future"
        },
        format!(
            "{name} is {ahead} s ahead of {clock}; OpenEMR allows {LEEWAY_SECS} s: the \
             client's clock is ahead of the server's"
        ),
        "synchronise the client's clock (NTP; container and VM clocks drift) and sign again",
    )
}

fn stale_iat(iat: i64, now: i64, family: Family) -> Option<Fault> {
    let age = now - iat;
    let limit = family.max_iat_age();
    let refused = limit.is_some_and(|max| age > max);
    if !refused && age <= SMART_MAX_ASSERTION_SECS {
        return None;
    }
    let verdict = if refused {
        format!("{family} refuses an iat older than 5 min")
    } else {
        format!("{family} accepts it, but OpenEMR 7.0.4 and later refuse an iat older than 5 min")
    };
    Some(Fault::either(
        refused,
        "iat-stale",
        format!("iat is {} old; {verdict}", span(age)),
        "sign a fresh assertion for every token request (iat = now)",
    ))
}

fn jti_faults(jwt: &DecodedJwt, ctx: &RuleContext<'_>) -> Vec<Fault> {
    let jti = jwt.claim_text("jti").unwrap_or("").trim();
    if jti.is_empty() {
        return vec![Fault::refused(
            "jti-missing",
            "the assertion has no jti; OpenEMR requires one",
            "set jti to a fresh random value (a UUID) for every assertion",
        )];
    }
    if ctx.jti_used == Some(true) {
        return vec![Fault::refused(
            "jti-reused",
            format!(
                "jti {jti:?} is already in jwt_grant_history: OpenEMR refuses a jti it has seen \
                 before, from any client, forever"
            ),
            "make a fresh jti (a UUID) for every assertion; never reuse or hard-code one",
        )];
    }
    Vec::new()
}
