//! The report for people: one line per stage with a mark, the stage and the finding; evidence
//! and the fix indented under it; a summary line at the end.
//!
//! It reads the same without colour and, with [`RenderOptions::unicode`] off, without Unicode.

use console::Style;

use crate::probe::{Report, StageOutcome, Status};

/// How to draw the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Colour the marks and the summary (ANSI escapes).
    pub color: bool,
    /// Use the marks ✓ ! ✗ -; otherwise `[ok] [warn] [FAIL] [skip]`.
    pub unicode: bool,
}

/// Renders with Unicode marks, coloured when `color`.
pub fn render(report: &Report, color: bool) -> String {
    render_with(
        report,
        RenderOptions {
            color,
            unicode: true,
        },
    )
}

/// Renders with the given options.
pub fn render_with(report: &Report, options: RenderOptions) -> String {
    let width = report
        .stages
        .iter()
        .map(|s| s.stage.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for outcome in &report.stages {
        out.push_str(&stage_block(outcome, width, options));
    }
    out.push('\n');
    out.push_str(&summary(report, options));
    out.push('\n');
    out
}

fn stage_block(outcome: &StageOutcome, width: usize, options: RenderOptions) -> String {
    let mark = paint(
        mark(outcome.status, options.unicode),
        outcome.status,
        options,
    );
    let name = format!("{:width$}", outcome.stage.name());
    let took = match (outcome.status, outcome.duration.as_millis()) {
        (Status::Skipped, _) => String::new(),
        (_, ms) => paint_with(&format!("  ({ms} ms)"), Style::new().dim(), options.color),
    };
    let mut block = format!("{mark} {name}  {}{took}\n", outcome.finding);
    let indent = " ".repeat(mark_width(options.unicode) + 1 + width + 2);
    for line in &outcome.evidence {
        block.push_str(&format!("{indent}{line}\n"));
    }
    let wants_fix = matches!(outcome.status, Status::Fail | Status::Warn);
    if let Some(fix) = outcome.fix.as_ref().filter(|_| wants_fix) {
        let label = paint_with("fix:", Style::new().bold(), options.color);
        block.push_str(&format!("{indent}{label} {fix}\n"));
    }
    block
}

fn mark(status: Status, unicode: bool) -> &'static str {
    match (status, unicode) {
        (Status::Pass, true) => "✓",
        (Status::Warn, true) => "!",
        (Status::Fail, true) => "✗",
        (Status::Skipped, true) => "-",
        (Status::Pass, false) => "[ok]  ",
        (Status::Warn, false) => "[warn]",
        (Status::Fail, false) => "[FAIL]",
        (Status::Skipped, false) => "[skip]",
    }
}

fn mark_width(unicode: bool) -> usize {
    if unicode {
        1
    } else {
        6
    }
}

fn style(status: Status) -> Style {
    match status {
        Status::Pass => Style::new().green(),
        Status::Warn => Style::new().yellow(),
        Status::Fail => Style::new().red().bold(),
        Status::Skipped => Style::new().dim(),
    }
}

fn paint(text: &str, status: Status, options: RenderOptions) -> String {
    paint_with(text, style(status), options.color)
}

fn paint_with(text: &str, style: Style, color: bool) -> String {
    if color {
        style.force_styling(true).apply_to(text).to_string()
    } else {
        text.to_string()
    }
}

/// The last line: healthy, healthy with warnings, or the first failing stage and exit code.
fn summary(report: &Report, options: RenderOptions) -> String {
    let warnings = report
        .stages
        .iter()
        .filter(|s| s.status == Status::Warn)
        .count();
    match report.first_failure() {
        Some(failed) => {
            let text = format!(
                "result: failed at stage {} (exit code {})",
                failed.stage.name(),
                report.exit_code()
            );
            paint(&text, Status::Fail, options)
        }
        None if warnings > 0 => {
            let text = format!("result: healthy, with {warnings} warning(s) (exit code 0)");
            paint(&text, Status::Warn, options)
        }
        None => paint("result: healthy (exit code 0)", Status::Pass, options),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StageId;

    fn report() -> Report {
        Report {
            stages: vec![
                StageOutcome::pass(StageId::Inputs, "fine"),
                StageOutcome::warn(
                    StageId::Scopes,
                    "requested but not granted: system/Patient.read",
                )
                .evidence("cause: oauth_clients.scope")
                .fix("oemr-doctor fix-scopes --client-id c --add system/Patient.read --apply"),
                StageOutcome::fail(StageId::Patient, "401 with an empty body"),
                StageOutcome::skipped(StageId::Database, "skipped: not asked"),
            ],
        }
    }

    #[test]
    fn plain_ascii_report_reads_without_colour_or_unicode() {
        let options = RenderOptions {
            color: false,
            unicode: false,
        };
        let text = render_with(&report(), options);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("[ok]   inputs    fine  (0 ms)\n"), "{text}");
        assert!(
            text.contains("[warn] scopes    requested but not granted"),
            "{text}"
        );
        assert!(
            text.contains("\n                 fix: oemr-doctor fix-scopes"),
            "{text}"
        );
        assert!(
            text.contains("[skip] database  skipped: not asked"),
            "{text}"
        );
        assert!(
            text.ends_with("result: failed at stage patient (exit code 17)\n"),
            "{text}"
        );
    }

    #[test]
    fn unicode_marks_and_colour() {
        let text = render(&report(), false);
        assert!(text.contains("✓ inputs"), "{text}");
        assert!(text.contains("✗ patient"), "{text}");
        assert!(!text.contains('\u{1b}'));
        assert!(render(&report(), true).contains('\u{1b}'));
    }

    #[test]
    fn healthy_reports_say_so() {
        let healthy = Report {
            stages: vec![StageOutcome::pass(StageId::Inputs, "fine")],
        };
        assert!(render(&healthy, false).ends_with("result: healthy (exit code 0)\n"));
    }
}
