//! The one integration-test binary: real processes, a real MariaDB, the sandbox on 127.0.0.1.

mod check;
mod check_families;
mod check_world;
mod config;
mod conformance;
mod e2e;
mod families;
mod field_cases;
mod fix_scopes;
mod inspect;
mod keygen;
mod network;
mod regressions;
mod regressions_round2;
mod report_json;
mod sandbox;
mod scripting;
mod secrets;
mod snapshots;
mod support;
