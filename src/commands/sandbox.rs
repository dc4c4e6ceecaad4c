//! `oemr-doctor sandbox`: serve the OpenEMR emulator on 127.0.0.1 until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};

use super::{Failure, Outcome};
use crate::cli::SandboxArgs;
use crate::db::DbSource;
use crate::sandbox::{prepare_database_for, set_global, Sandbox, SandboxConfig, TlsIdentity};

/// Runs the sandbox.
pub async fn run(args: &SandboxArgs) -> Outcome {
    let source = DbSource::Url(args.db_url.clone());
    let db = source.connect().await.map_err(Failure::runtime)?;
    if args.init {
        prepare_database_for(&db, "", args.family)
            .await
            .map_err(Failure::runtime)?;
    }
    let config = SandboxConfig {
        db: source,
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        sites: args.sites.clone(),
        webroot: args.webroot.trim_end_matches('/').to_string(),
        family: args.family,
        // A JWKS served on this machine is the usual case for a local emulator.
        allow_loopback_jwks_uri: true,
    };
    let sandbox = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let identity = TlsIdentity::from_files(cert, key).map_err(Failure::usage)?;
            // A certificate or key that does not load is the user's input to fix.
            identity.server_config().map_err(Failure::usage)?;
            Sandbox::start_tls(config, identity).await
        }
        _ => Sandbox::start(config).await,
    }
    .map_err(Failure::runtime)?;
    let base = sandbox.base_url();
    if args.init {
        set_global(&db, "site_addr_oath", &sandbox.site_addr())
            .await
            .map_err(Failure::runtime)?;
    }
    println!(
        "OpenEMR sandbox (an emulator of OpenEMR {}, for development and tests)",
        args.family
    );
    println!("  base URL        {base}");
    for site in &args.sites {
        println!("  token endpoint  {base}/oauth2/{site}/token");
        println!("  FHIR base       {base}/apis/{site}/fhir");
    }
    println!("  database        {}", db.target);
    println!("Press Ctrl-C to stop.");
    sandbox.run_until_ctrl_c().await.map_err(Failure::runtime)?;
    Ok(0)
}
