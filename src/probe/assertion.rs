//! Stage 5, assertion: signs the client assertion for the advertised token endpoint and checks
//! it locally against the detected family's rules (the same rules `inspect` applies to the
//! user's own assertions) before anything is sent. The assertion itself never leaves the
//! context; the report shows its claims.

use crate::assertion::{self, DecodedJwt, Expected, RuleContext};
use crate::keys::jwks::thumbprint;
use crate::openemr::fault::Fault;
use crate::openemr::LEEWAY_SECS;

use super::context::Context;
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Assertion;

/// Builds and validates the assertion.
pub fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let key = ctx.key.as_ref().expect("the keys stage loaded a key");
    let urls = ctx.urls.as_ref().expect("inputs passed");
    let (aud, fallback) = match &ctx.discovery.token_endpoint {
        Some(advertised) => (advertised.clone(), false),
        None => (urls.token(), true),
    };
    let kid = ctx.kid.clone().unwrap_or_else(|| thumbprint(&key.public()));
    let expected = Expected {
        client_id: &ctx.config.client_id,
        aud: &aud,
    };
    let built = match assertion::build(key, &kid, &expected, ctx.now()) {
        Ok(built) => built,
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()),
    };
    let faults = own_faults(ctx, built.compact(), &aud);
    let lines = built.claim_lines();
    ctx.assertion = Some(built);
    ctx.assertion_faults = faults.clone();
    let mut outcome = judge(ctx, &faults, &aud);
    if fallback {
        outcome =
            outcome.evidence("discovery gave no token endpoint: aud is the base URL's token URL");
    }
    outcome.evidence_lines(lines)
}

/// The rules of the family at hand, applied to the assertion just built.
fn own_faults(ctx: &Context<'_>, compact: &str, aud: &str) -> Vec<Fault> {
    let Ok(jwt) = DecodedJwt::parse(compact) else {
        return vec![Fault::refused(
            "not-jwt",
            "the built assertion does not decode",
            "",
        )];
    };
    let site_addr_token = super::token::expected_aud(ctx);
    let rules = RuleContext {
        family: ctx.family(),
        client_id: Some(&ctx.config.client_id),
        token_endpoint: Some(aud),
        site_addr_token: site_addr_token.as_deref(),
        site: &ctx.config.site,
        now: ctx.now(),
        server_offset: None,
        keys: ctx.registered.as_ref(),
        jti_used: None,
    };
    // Which key signed is the keys stage's finding; the server's answer then confirms it.
    assertion::rules::check(&jwt, &rules)
        .into_iter()
        .filter(|f| !matches!(f.code, "signature" | "key-not-first"))
        .collect()
}

fn judge(ctx: &Context<'_>, faults: &[Fault], aud: &str) -> StageOutcome {
    let family = ctx.family();
    // The headline fault is the finding and the fix; evidence lists the others.
    let others = |headline: &Fault| {
        faults
            .iter()
            .filter(|f| !std::ptr::eq(*f, headline))
            .map(|f| format!("also: {} (fix: {})", f.what, f.fix))
            .collect::<Vec<_>>()
    };
    if let Some(first) = faults.iter().find(|f| f.is_refused()) {
        return StageOutcome::fail(
            STAGE,
            format!("the assertion breaks {family} rules: {}", first.what),
        )
        .evidence_lines(others(first))
        .fix(first.fix.clone());
    }
    if let Some(skew) = clock_skew(ctx) {
        let all = faults
            .iter()
            .map(|f| format!("also: {} (fix: {})", f.what, f.fix));
        return skew.evidence_lines(all);
    }
    if let Some(first) = faults.first() {
        return StageOutcome::warn(STAGE, first.what.clone())
            .evidence_lines(others(first))
            .fix(first.fix.clone());
    }
    StageOutcome::pass(
        STAGE,
        format!("RS384 assertion for aud {aud}, valid 300 s, checked against {family} rules"),
    )
}

/// A warning when this machine's clock and the server's (its Date header) differ by more
/// than OpenEMR's leeway: the assertion is still sent, to see the server's answer.
fn clock_skew(ctx: &Context<'_>) -> Option<StageOutcome> {
    let offset = ctx.discovery.server_offset?;
    if offset.abs() <= LEEWAY_SECS {
        return None;
    }
    Some(
        StageOutcome::warn(STAGE, skew_text(-offset))
            .fix("synchronise this machine's clock (NTP) and retry"),
    )
}

/// "this machine's clock is N s ahead of the server's ..." for `ahead` = local − server.
pub fn skew_text(ahead: i64) -> String {
    let direction = if ahead > 0 { "ahead of" } else { "behind" };
    format!(
        "this machine's clock is {} s {direction} the server's (HTTP Date header); OpenEMR \
         allows {LEEWAY_SECS} s",
        ahead.abs()
    )
}
