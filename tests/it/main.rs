//! The one integration-test binary: real processes, a real MariaDB, the sandbox on 127.0.0.1.

mod check;
mod config;
mod conformance;
mod e2e;
mod families;
mod fix_scopes;
mod keygen;
mod network;
mod regressions;
mod sandbox;
mod scripting;
mod support;
