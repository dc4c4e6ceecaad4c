//! The inspect report: the family and what was compared, then every fault with its fix, then
//! a summary line with the exit code.

use console::Style;

use crate::openemr::fault::{Fault, Severity};
use crate::probe::inspect::Inspection;

use super::human::RenderOptions;

/// The exit code for an inspection: 0 clean, 20 refused faults, 21 warnings only.
pub fn exit_code(inspection: &Inspection) -> i32 {
    match inspection.faults.iter().map(|f| f.severity).min() {
        None => 0,
        Some(Severity::Refused) => 20,
        Some(Severity::Warning) => 21,
    }
}

/// Renders the inspection for people.
pub fn render(inspection: &Inspection, options: RenderOptions) -> String {
    let mut out = format!("inspect: rules of family {}\n", inspection.family);
    for line in inspection.family_basis.iter().chain(&inspection.facts) {
        out.push_str(&format!("  {line}\n"));
    }
    out.push('\n');
    for fault in &inspection.faults {
        out.push_str(&fault_block(fault, options));
    }
    out.push_str(&summary(inspection, options));
    out.push('\n');
    out
}

fn fault_block(fault: &Fault, options: RenderOptions) -> String {
    let (mark, style) = match (fault.severity, options.unicode) {
        (Severity::Refused, true) => ("✗", Style::new().red().bold()),
        (Severity::Refused, false) => ("[FAIL]", Style::new().red().bold()),
        (Severity::Warning, true) => ("!", Style::new().yellow()),
        (Severity::Warning, false) => ("[warn]", Style::new().yellow()),
    };
    let mark = paint(mark, style, options.color);
    let indent = if options.unicode { "  " } else { "       " };
    format!(
        "{mark} {} [{}]\n{indent}fix: {}\n",
        fault.what, fault.code, fault.fix
    )
}

fn summary(inspection: &Inspection, options: RenderOptions) -> String {
    let refused = inspection.faults.iter().filter(|f| f.is_refused()).count();
    let warnings = inspection.faults.len() - refused;
    let code = exit_code(inspection);
    let text = format!(
        "result: {refused} fault(s) OpenEMR refuses, {warnings} warning(s) (exit code {code})"
    );
    let style = match code {
        0 => Style::new().green(),
        21 => Style::new().yellow(),
        _ => Style::new().red().bold(),
    };
    paint(&text, style, options.color)
}

fn paint(text: &str, style: Style, color: bool) -> String {
    if color {
        style.force_styling(true).apply_to(text).to_string()
    } else {
        text.to_string()
    }
}
