//! Renderers for the check report.
