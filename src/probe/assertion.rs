//! Stage 5, assertion: signs the client assertion for the advertised token endpoint and checks
//! it locally against every rule before anything is sent. The assertion itself never leaves
//! the context; the report shows its claims.

use crate::assertion::{self, Expected};
use crate::keys::jwks::thumbprint;

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
    let now = chrono::Utc::now().timestamp();
    let built = match assertion::build(key, &kid, &expected, now) {
        Ok(built) => built,
        Err(e) => return StageOutcome::fail(STAGE, e.to_string()),
    };
    let problems = assertion::validate(built.compact(), &key.public(), &expected, now);
    let lines = built.claim_lines();
    ctx.assertion = Some(built);
    ctx.assertion_problems = problems.clone();
    if !problems.is_empty() {
        return StageOutcome::fail(STAGE, "the assertion breaks the rules it must follow")
            .evidence_lines(problems.iter().map(ToString::to_string))
            .evidence_lines(lines);
    }
    let mut outcome = StageOutcome::pass(
        STAGE,
        format!("RS384 assertion for aud {aud}, valid 300 s, checked locally"),
    );
    if fallback {
        outcome =
            outcome.evidence("discovery gave no token endpoint: aud is the base URL's token URL");
    }
    outcome.evidence_lines(lines)
}
