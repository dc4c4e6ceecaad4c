//! Whether secrets may be shown. Off unless the user passes `--show-secrets`; every place that
//! prints a password, token or assertion asks here first.

use std::sync::atomic::{AtomicBool, Ordering};

static SHOWN: AtomicBool = AtomicBool::new(false);

/// Lets secrets through (the `--show-secrets` flag). Called once, at start-up.
pub fn show(enabled: bool) {
    SHOWN.store(enabled, Ordering::SeqCst);
}

/// Whether the user asked to see secrets.
pub fn shown() -> bool {
    SHOWN.load(Ordering::SeqCst)
}

/// A token or assertion as reports may show it: in full with `--show-secrets`, otherwise its
/// first 8 characters and its length, enough to recognise it and no more.
pub fn shorten(secret: &str) -> String {
    if shown() {
        return secret.to_string();
    }
    let prefix: String = secret.chars().take(8).collect();
    format!("{prefix}... ({} chars)", secret.chars().count())
}
