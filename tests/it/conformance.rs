//! The conformance test: every recorded exchange with a real F1 OpenEMR (token, discovery,
//! FHIR, client-state and globals groups) replayed against the sandbox, in recording order,
//! under the same state. Differences fail the test unless `KNOWN` lists them with a reason;
//! `src/sandbox/CONFORMANCE.md` carries the same list for readers.

mod compare;
mod exchange;
mod fixture;
pub mod jwt;
mod setup;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

use fixture::Fixture;

/// The groups replayed; `registration` is not emulated yet (see CONFORMANCE.md).
const GROUPS: &[&str] = &["token", "discovery", "fhir", "client-state", "globals"];

/// Exchanges the sandbox knowingly answers differently, with the reason. Keep in step with
/// the table in `src/sandbox/CONFORMANCE.md`.
const KNOWN: &[(&str, &str)] = &[];

fn transcripts_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join("openemr")
        .join("f1-transcripts.jsonl")
}

/// The recorded lines of the replayed groups, in file order.
fn recorded_lines() -> Vec<String> {
    let path = transcripts_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the F1 transcripts are missing at {} ({e}); the conformance test needs the shared/ \
             folder beside the checkout",
            path.display()
        )
    });
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            let record: Value = serde_json::from_str(line).expect("a transcript line is JSON");
            GROUPS.contains(&record["group"].as_str().unwrap_or_default())
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_answers_every_recorded_exchange_like_f1() {
    let lines = recorded_lines();
    assert!(lines.len() >= 160, "only {} exchanges loaded", lines.len());
    let started = Instant::now();
    let fixture = Fixture::start().await;
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    for line in &lines {
        let record = exchange::instantiate(&fixture, line);
        let id = record["id"].as_str().unwrap_or_default().to_string();
        let found = match exchange::replay(&fixture, &record).await {
            Ok(answer) => compare::differences(&record["response"], &answer),
            Err(error) => vec![format!("could not replay: {error}")],
        };
        let known = KNOWN.iter().any(|(k, _)| *k == id);
        match (found.is_empty(), known) {
            (false, false) => unexpected.push(format!("{id}: {}", found.join("; "))),
            (true, true) => stale.push(id),
            _ => {}
        }
    }
    eprintln!(
        "replayed {} exchanges in {:.1} s",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        unexpected.is_empty(),
        "{} exchanges differ from the recording:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed as known mismatches but now match (remove them from KNOWN and \
         CONFORMANCE.md): {stale:?}"
    );
}
