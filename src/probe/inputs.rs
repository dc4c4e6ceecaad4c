//! Stage 1, inputs: the base URL, site, client id, scopes and key file make sense before
//! anything is sent anywhere.

use crate::assertion::request_scopes;
use crate::openemr::fault::Fault;
use crate::openemr::scopes::{self, ScopeProblem};
use crate::openemr::urls::SiteUrls;
use crate::openemr::Family;

use crate::openemr::urls::BaseUrlError;

use super::context::Context;
use super::{StageId, StageOutcome};

const STAGE: StageId = StageId::Inputs;

/// Checks the inputs; on success the site's URLs are in the context.
pub fn run(ctx: &mut Context<'_>) -> StageOutcome {
    let config = ctx.config;
    let urls = match SiteUrls::new(&config.base_url, &config.site) {
        Ok(urls) => urls,
        Err(e @ BaseUrlError::Site(_)) => {
            return StageOutcome::fail(STAGE, format!("site: {e}"))
                .fix("pass --site as the folder name under sites/ (usually default)")
        }
        Err(e) => {
            return StageOutcome::fail(STAGE, format!("base URL: {e}"))
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
    judge_scopes(&config.scopes, ctx.options.family)
        .unwrap_or_else(|| StageOutcome::pass(STAGE, summary))
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

/// A failure for unusable scopes, a warning for Standard-API spellings and SMART v2 scopes,
/// else `None`.
///
/// The family is not known yet unless `--family` names it, so rules that differ by family
/// (v2 suffixes) only warn here; the token stage names the server's own answer.
fn judge_scopes(requested: &[String], family: Option<Family>) -> Option<StageOutcome> {
    if requested.is_empty() {
        return Some(
            StageOutcome::fail(STAGE, "no scopes requested")
                .fix("pass --scope system/Patient.read (and any other system/ scopes you need)"),
        );
    }
    let rules = family.unwrap_or(Family::F2);
    let problems: Vec<ScopeProblem> = requested.iter().filter_map(|s| problem(s, rules)).collect();
    let faults: Vec<Fault> = requested
        .iter()
        .filter_map(|s| request_scopes::scope_fault(s, rules))
        .filter(|f| f.code != "scope-lowercase")
        .collect();
    if let Some(first) = faults.first() {
        let finding = format!("{} requested scope(s) OpenEMR cannot grant", faults.len());
        return Some(
            StageOutcome::fail(STAGE, finding)
                .evidence_lines(faults.iter().map(|f| f.what.clone()))
                .fix(first.fix.clone()),
        );
    }
    lowercase_warning(&problems).or_else(|| v2_warning(requested, family))
}

/// SMART v2 scopes work from F2 on; F1 refuses them.
fn v2_warning(requested: &[String], family: Option<Family>) -> Option<StageOutcome> {
    if family.is_some() {
        return None;
    }
    let v2: Vec<String> = requested
        .iter()
        .filter_map(|s| match scopes::validate(s, Family::F1) {
            Err(ScopeProblem::V2OnV1(_, _, v1)) => Some(format!("{s} (v1: {v1})")),
            _ => None,
        })
        .collect();
    if v2.is_empty() {
        return None;
    }
    Some(
        StageOutcome::warn(
            STAGE,
            "SMART v2 scopes requested: OpenEMR 7.0.4 and later know them, 7.0.3 and older \
             refuse them",
        )
        .evidence_lines(v2)
        .fix("request the v1 spelling (.read) to work on every version"),
    )
}

/// What is wrong with one scope; F1 accepts the Standard-API `system/patient.read`
/// spellings, but a system client can only use them on `/api/`, which refuses it.
fn problem(scope: &str, family: Family) -> Option<ScopeProblem> {
    match scopes::validate(scope, family) {
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
        let outcome = judge_scopes(&scopes(&["system/*.read"]), None).unwrap();
        assert_eq!(outcome.status, Status::Fail);
        assert!(outcome.evidence[0].contains("wildcard"), "{outcome:?}");
        let outcome = judge_scopes(&scopes(&["system/patient.read"]), None).unwrap();
        assert_eq!(outcome.status, Status::Warn);
        assert!(outcome.fix.unwrap().contains("system/Patient.read"));
        assert!(judge_scopes(&scopes(&["system/Patient.read"]), None).is_none());
        assert!(judge_scopes(&scopes(&["system/Bogus.read"]), None).is_some());
        let v2 = judge_scopes(&scopes(&["system/Patient.rs"]), None).unwrap();
        assert_eq!(v2.status, Status::Warn);
        let v2 = judge_scopes(&scopes(&["system/Patient.rs"]), Some(Family::F1)).unwrap();
        assert_eq!(v2.status, Status::Fail);
        let old = judge_scopes(&scopes(&["system/Document.read"]), None).unwrap();
        assert!(old.fix.unwrap().contains("system/Binary.read"));
    }
}
