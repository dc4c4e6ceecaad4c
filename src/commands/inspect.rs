//! `oemr-doctor inspect`: read what the user's code produced, judge it, print every fault.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::{db_source, Failure, Outcome};
use crate::assertion::request::CapturedRequest;
use crate::cli::InspectArgs;
use crate::config::Profile;
use crate::probe::inspect::{inspect, InspectInput};
use crate::report::inspect as render;

/// Runs inspect; the exit code says whether faults were found.
pub async fn run(args: &InspectArgs, profile: &Profile) -> Outcome {
    let assertion = read_assertion(args)?;
    let request = read_request(args)?;
    if assertion.is_none() && request.is_none() {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to inspect: give the assertion, --assertion-file, or the request \
             (--request, --header/--body)"
        )));
    }
    let input = InspectInput {
        assertion,
        request,
        base_url: args.base_url.clone().or_else(|| profile.base_url.clone()),
        site: args.site.clone(),
        client_id: args.client_id.clone(),
        jwks_path: args.jwks.clone().or_else(|| profile.jwks.clone()),
        db: db_source(&args.db, profile, &args.site),
        family: args.family,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let inspection = inspect(&input).await;
    print!("{}", render::render(&inspection, super::render_options()));
    Ok(render::exit_code(&inspection))
}

fn read_source(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_assertion(args: &InspectArgs) -> Result<Option<String>, Failure> {
    let text = match (&args.assertion, &args.assertion_file) {
        (Some(a), _) if a == "-" => read_source(Path::new("-")).map_err(Failure::usage)?,
        (Some(a), _) => a.clone(),
        (None, Some(path)) => read_source(path).map_err(Failure::usage)?,
        (None, None) => return Ok(None),
    };
    let text = text.trim();
    if text.is_empty() {
        // What a script passes when the variable meant to hold the JWT is unset: not a pass.
        return Err(
            Failure::usage(anyhow::anyhow!("the assertion given is empty"))
                .hint("pass the compact JWT your code sent (is the variable holding it unset?)"),
        );
    }
    Ok(Some(text.to_string()))
}

fn read_request(args: &InspectArgs) -> Result<Option<CapturedRequest>, Failure> {
    let mut request = match &args.request {
        Some(path) => CapturedRequest::parse_raw(&read_source(path).map_err(Failure::usage)?),
        None if args.headers.is_empty() && args.body.is_none() && args.url.is_none() => {
            return Ok(None)
        }
        None => CapturedRequest {
            method: Some("POST".to_string()),
            ..CapturedRequest::default()
        },
    };
    for line in &args.headers {
        request
            .add_header(line)
            .map_err(|e| Failure::usage(anyhow::anyhow!("--header {e}")))?;
    }
    if let Some(body) = &args.body {
        request.body = match body.strip_prefix('@') {
            Some(path) => read_source(Path::new(path)).map_err(Failure::usage)?,
            None => body.clone(),
        };
    }
    if let Some(url) = &args.url {
        request.target = Some(url.clone());
    }
    Ok(Some(request))
}
