//! The report for scripts (`check --json`): one document, schema `oemr-doctor/check/v1`.
//!
//! Each stage carries its id, status, duration, finding, evidence and hint (the fix); the fix
//! commands are gathered apart, those safe to run unattended (complete oemr-doctor commands that
//! only make the change the failing check needs) separated from those a person must finish.

use serde_json::{json, Value};

use crate::probe::{Report, StageOutcome, Status};

/// The version of the document's shape; bumped on any incompatible change.
pub const SCHEMA: &str = "oemr-doctor/check/v1";

/// Placeholders that mean a printed command still needs a person's input.
const PLACEHOLDERS: &[&str] = &["PASSWORD", "USER:", "DATABASE", "YOUR-"];

/// The whole report as JSON.
pub fn render(report: &Report) -> Value {
    let stages: Vec<Value> = report.stages.iter().map(stage).collect();
    let (unattended, manual) = fixes(report);
    let warnings = report
        .stages
        .iter()
        .filter(|s| s.status == Status::Warn)
        .count();
    let failure = report.first_failure();
    let status = match (failure, warnings) {
        (Some(_), _) => "failed",
        (None, 0) => "healthy",
        (None, _) => "healthy_with_warnings",
    };
    let total_ms: u128 = report.stages.iter().map(|s| s.duration.as_millis()).sum();
    json!({
        "schema": SCHEMA,
        "stages": stages,
        "fixes": { "unattended": unattended, "manual": manual },
        "summary": {
            "status": status,
            "healthy": failure.is_none(),
            "first_failure": failure.map(|s| s.stage.name()),
            "exit_code": report.exit_code(),
            "warnings": warnings,
            "duration_ms": total_ms,
        },
    })
}

fn stage(outcome: &StageOutcome) -> Value {
    json!({
        "id": outcome.stage.name(),
        "status": outcome.status,
        "duration_ms": outcome.duration.as_millis(),
        "finding": outcome.finding,
        "evidence": outcome.evidence,
        "hint": outcome.fix,
        "exit_code_on_failure": outcome.stage.exit_code(),
    })
}

/// Fix commands safe to run unattended, and the fixes a person must carry out.
fn fixes(report: &Report) -> (Vec<String>, Vec<String>) {
    let mut unattended: Vec<String> = Vec::new();
    let mut manual: Vec<String> = Vec::new();
    let wanting = report
        .stages
        .iter()
        .filter(|s| matches!(s.status, Status::Fail | Status::Warn));
    for fix in wanting.filter_map(|s| s.fix.as_deref()) {
        match command_in(fix) {
            Some(cmd) if !PLACEHOLDERS.iter().any(|p| cmd.contains(p)) => {
                push_new(&mut unattended, cmd)
            }
            _ => push_new(&mut manual, fix.to_string()),
        }
    }
    (unattended, manual)
}

/// The `oemr-doctor ...` command inside a fix text, cut where the prose resumes.
fn command_in(fix: &str) -> Option<String> {
    let start = fix.find("oemr-doctor ")?;
    let rest = &fix[start..];
    let end = [", then", "; ", " (", "`"]
        .iter()
        .filter_map(|stop| rest.find(stop))
        .min()
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches(['.', ' ']).to_string())
}

fn push_new(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_cut_out_of_the_prose() {
        let fix = "oemr-doctor fix-scopes --client-id c --add system/Patient.read --apply, \
            then request a new token";
        assert_eq!(
            command_in(fix).as_deref(),
            Some("oemr-doctor fix-scopes --client-id c --add system/Patient.read --apply")
        );
        assert_eq!(
            command_in("enable it in Admin > System > API Clients"),
            None
        );
    }
}
