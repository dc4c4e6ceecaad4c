//! Stage 1, inputs: the base URL, site, client id, scopes and key file make sense before
//! anything is sent anywhere.

use crate::openemr::scopes::{self, ScopeProblem};
use crate::openemr::urls::SiteUrls;
use crate::openemr::Family;

use super::context::Context;
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Inputs;

/// Checks the inputs; on success the site's URLs are in the context.
pub fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let config = ctx.config;
    let urls = match SiteUrls::new(&config.base_url, &config.site) {
        Ok(urls) => urls,
        Err(e) => {
            return StageOutcome::fail(STAGE, format!("base URL or site: {e}"))
                .fix("pass --base-url as the install's address (scheme, host, web root)")
        }
    };
    if config.client_id.trim().is_empty() {
        return StageOutcome::fail(STAGE, "the client id is empty")
            .fix("pass --client-id (the client_id OpenEMR gave at registration)");
    }
    if let Some(outcome) = key_file_problem(ctx) {
        return outcome;
    }
    let summary = format!(
        "base {}, site {}, client {}, {} scope(s)",
        urls.base,
        urls.site,
        config.client_id,
        config.scopes.len()
    );
    ctx.urls = Some(urls);
    judge_scopes(&config.scopes).unwrap_or_else(|| StageOutcome::pass(STAGE, summary))
}

fn key_file_problem(ctx: &Context<'_>) -> Option<StageOutcome> {
    let path = &ctx.config.key_path;
    if path.is_file() {
        return None;
    }
    let what = if path.exists() {
        "is not a file"
    } else {
        "does not exist"
    };
    let finding = format!("the key file {} {what}", path.display());
    Some(StageOutcome::fail(STAGE, finding).fix("pass --key with the client's private key PEM"))
}

/// A failure for unusable scopes, a warning for Standard-API spellings, else `None`.
///
/// Scopes are judged by F1's rules, the strictest family that has client_credentials; the
/// server's family is not known yet at this point.
fn judge_scopes(requested: &[String]) -> Option<StageOutcome> {
    if requested.is_empty() {
        return Some(
            StageOutcome::fail(STAGE, "no scopes requested")
                .fix("pass --scope system/Patient.read (and any other system/ scopes you need)"),
        );
    }
    let problems: Vec<ScopeProblem> = requested.iter().filter_map(|s| problem(s)).collect();
    let fatal: Vec<String> = problems
        .iter()
        .filter(|p| !matches!(p, ScopeProblem::Lowercase(..)))
        .map(ToString::to_string)
        .collect();
    if !fatal.is_empty() {
        let finding = format!("{} requested scope(s) OpenEMR cannot grant", fatal.len());
        return Some(
            StageOutcome::fail(STAGE, finding)
                .evidence_lines(fatal)
                .fix("request FHIR system scopes by name, such as system/Patient.read"),
        );
    }
    lowercase_warning(&problems)
}

/// What is wrong with one scope; F1 accepts the Standard-API `system/patient.read`
/// spellings, but a system client can only use them on `/api/`, which refuses it.
fn problem(scope: &str) -> Option<ScopeProblem> {
    match scopes::validate(scope, Family::F1) {
        Err(problem) => Some(problem),
        Ok(()) if scope.starts_with("system/") && !scopes::is_fhir_system_scope(scope) => {
            scopes::validate(scope, Family::F2).err()
        }
        Ok(()) => None,
    }
}

fn lowercase_warning(problems: &[ScopeProblem]) -> Option<StageOutcome> {
    let fixes: Vec<(String, String)> = problems
        .iter()
        .filter_map(|p| match p {
            ScopeProblem::Lowercase(scope, fhir) => Some((scope.clone(), fhir.clone())),
            _ => None,
        })
        .collect();
    if fixes.is_empty() {
        return None;
    }
    let evidence = fixes
        .iter()
        .map(|(s, f)| format!("{s} is a Standard-API scope; the FHIR one is {f}"));
    let wanted: Vec<&str> = fixes.iter().map(|(_, f)| f.as_str()).collect();
    Some(
        StageOutcome::warn(
            STAGE,
            "lowercase Standard-API scopes requested; a system client cannot use /api/",
        )
        .evidence_lines(evidence)
        .fix(format!("request {} instead", wanted.join(" "))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Status;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_fail_and_lowercase_spellings_warn() {
        let outcome = judge_scopes(&scopes(&["system/*.read"])).unwrap();
        assert_eq!(outcome.status, Status::Fail);
        assert!(outcome.evidence[0].contains("wildcard"), "{outcome:?}");
        let outcome = judge_scopes(&scopes(&["system/patient.read"])).unwrap();
        assert_eq!(outcome.status, Status::Warn);
        assert!(outcome.fix.unwrap().contains("system/Patient.read"));
        assert!(judge_scopes(&scopes(&["system/Patient.read"])).is_none());
        assert!(judge_scopes(&scopes(&["system/Bogus.read"])).is_some());
    }
}
