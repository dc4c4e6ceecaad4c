//! `oemr-doctor demo`: the whole flow in one command, against a sandbox in a scratch database
//! it creates and drops, saying what each step proved.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use sqlx::mysql::MySqlPool;
use sqlx::Executor;

use super::keygen::{generate_into, KeyPaths};
use super::{Failure, Outcome};
use crate::cli::DemoArgs;
use crate::db::clients::ClientSelector;
use crate::db::{redact_url, Database, DbSource};
use crate::openemr::Family;
use crate::probe::{self, CheckConfig, Report, StageId, Status};
use crate::report::human;
use crate::sandbox::{prepare_database, set_global, Sandbox, SandboxConfig};

/// The account `tests/setup-mariadb.sh` creates, used when DATABASE_URL is not set.
pub const LOCAL_DEV_SERVER: &str = "mysql://oemr_doctor:oemr_doctor@127.0.0.1:3306";

/// Scopes a client often ends up registered with: bulk export only, no system/Patient.read.
const REGISTERED_SCOPES: &str =
    "openid api:fhir system/*.$export system/*.$bulkdata-status system/Binary.read";

const CLIENT_ID: &str = "oemr-doctor-demo-client";

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Outcome {
    let server = args
        .db_url
        .clone()
        .unwrap_or_else(|| LOCAL_DEV_SERVER.to_string());
    let admin = connect_server(&server).await?;
    let name = format!("oemr_doctor_demo_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE `{name}`").as_str())
        .await
        .with_context(|| format!("cannot create the scratch database {name}"))
        .map_err(Failure::runtime)?;
    println!(
        "Scratch database {name} created on {}.\n",
        redact_url(&server)
    );

    let result = flow(&server, &name, args.keep).await;
    if args.keep {
        println!("\nKept database {name} (--keep).");
    } else if let Err(e) = admin
        .execute(format!("DROP DATABASE `{name}`").as_str())
        .await
    {
        eprintln!("warning: could not drop the scratch database {name}: {e}");
    } else {
        println!("\nScratch database {name} dropped.");
    }
    result
}

async fn connect_server(server: &str) -> Result<MySqlPool, Failure> {
    use std::str::FromStr;
    let unreachable = |detail: String| {
        Failure::runtime(anyhow::anyhow!(
            "cannot reach a MariaDB/MySQL server at {}: {detail}",
            redact_url(server)
        ))
        .hint(
            "the demo needs a MariaDB account that may create and drop databases. On Debian, \
             run `bash tests/setup-mariadb.sh` as root (installs MariaDB and creates the account \
             oemr_doctor/oemr_doctor), or set DATABASE_URL=mysql://USER:PASSWORD@HOST:PORT to \
             such an account.",
        )
    };
    let options = sqlx::mysql::MySqlConnectOptions::from_str(server)
        .map_err(|e| unreachable(format!("not a mysql:// URL ({e})")))?;
    crate::db::open_pool(options).await.map_err(unreachable)
}

async fn flow(server: &str, name: &str, keep: bool) -> Outcome {
    let url = format!("{}/{name}", server.trim_end_matches('/'));
    let source = DbSource::Url(url.clone());
    let db = source.connect().await.map_err(Failure::runtime)?;
    prepare_database(&db, "").await.map_err(Failure::runtime)?;

    let sandbox = Sandbox::start(SandboxConfig {
        db: source.clone(),
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        sites: vec!["default".to_string()],
        webroot: String::new(),
        family: Family::F1,
        allow_loopback_jwks_uri: true,
    })
    .await
    .map_err(Failure::runtime)?;
    let base = sandbox.base_url();
    set_global(&db, "site_addr_oath", &base)
        .await
        .map_err(Failure::runtime)?;
    step(
        1,
        "Started the OpenEMR sandbox",
        &format!("{base} (an emulator of OpenEMR 6.1-7.0.3, API switched on)"),
    );

    let result = steps(&db, &source, &base, keep).await;
    sandbox.stop().await;
    result
}

async fn steps(db: &Database, source: &DbSource, base: &str, keep: bool) -> Outcome {
    let dir = tempfile::tempdir()
        .context("cannot make a temporary directory")
        .map_err(Failure::runtime)?;
    let dir_path = if keep {
        dir.keep()
    } else {
        dir.path().to_path_buf()
    };
    let paths = KeyPaths::new(&dir_path);
    let (_, jwks) = generate_into(&paths, 2048, false).map_err(Failure::runtime)?;
    step(
        2,
        "keygen: made an RSA key pair and its JWKS",
        &format!("kid {}", jwks.keys[0].kid().unwrap_or("")),
    );

    register(db, &jwks.to_json())
        .await
        .map_err(Failure::runtime)?;
    step(
        3,
        "Registered a client with that JWKS",
        &format!(
            "registered scopes \
        {REGISTERED_SCOPES:?}: no system/Patient.read, as registration often leaves them"
        ),
    );

    let config = check_config(base, source, &paths, db);
    let first = probe::run(&config).await;
    let command = format!(
        "oemr-doctor check --base-url {base} --client-id {CLIENT_ID} --key {} --jwks {} \
            --db-url {}",
        paths.private.display(),
        paths.jwks.display(),
        super::check::shell_word(&db.target),
    );
    println!("\n$ {command}");
    print!("{}", human::render_with(&first, super::render_options()));
    expect_dropped_scope(&first)?;
    step(4, "check named the failure", "the token was granted, system/Patient.read was \
        silently dropped, the Patient read was refused, and the report blamed the registered scopes");

    let row = db
        .find_client(&ClientSelector::Id(CLIENT_ID.into()))
        .await
        .map_err(Failure::runtime)?;
    let mut after = row.clone();
    after.scope = Some(crate::openemr::scopes::edit_registered(
        row.scope_text(),
        None,
        &["system/Patient.read"],
        &[],
    ));
    println!(
        "\n$ oemr-doctor fix-scopes --client-id {CLIENT_ID} --add system/Patient.read --apply"
    );
    print!("{}", super::fix_scopes::diff(&row, &after));
    db.update_client(&row, &after)
        .await
        .map_err(Failure::runtime)?;
    step(
        5,
        "fix-scopes added system/Patient.read to oauth_clients.scope",
        "one guarded UPDATE, no restart needed",
    );

    let second = probe::run(&config).await;
    println!("\n$ {command}");
    print!("{}", human::render_with(&second, super::render_options()));
    if second.exit_code() != 0 {
        return Err(Failure::runtime(anyhow::anyhow!(
            "the second check was expected to pass but did not"
        )));
    }
    step(
        6,
        "check passes end to end",
        "token granted with system/Patient.read and the Patient search answered: exit code 0",
    );
    Ok(0)
}

fn step(n: u32, what: &str, proved: &str) {
    println!("\n[{n}] {what}\n    proves: {proved}");
}

async fn register(db: &Database, jwks: &str) -> anyhow::Result<()> {
    // The row OpenEMR's registration endpoint writes for a private app with a JWKS, after an
    // administrator enabled it.
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_role, client_name, client_secret, \
         register_date, redirect_uri, grant_types, scope, site_id, is_confidential, jwks, \
         jwks_uri, is_enabled) VALUES (?, 'user', 'oemr-doctor demo', 'not-a-real-secret', NOW(), \
         'https://localhost/unused', 'authorization_code', ?, 'default', 1, ?, '', 1)",
    )
    .bind(CLIENT_ID)
    .bind(REGISTERED_SCOPES)
    .bind(jwks)
    .execute(&db.pool)
    .await
    .context("cannot register the demo client")?;
    Ok(())
}

fn check_config(base: &str, source: &DbSource, paths: &KeyPaths, db: &Database) -> CheckConfig {
    CheckConfig {
        base_url: base.to_string(),
        site: "default".to_string(),
        client_id: CLIENT_ID.to_string(),
        key_path: paths.private.clone(),
        jwks_path: Some(paths.jwks.clone()),
        scopes: vec!["system/Patient.read".to_string()],
        db: Some(source.clone()),
        fix_db_args: format!("--db-url {}", super::check::shell_word(&db.target)),
        network: crate::net::NetworkOptions {
            timeout: Duration::from_secs(10),
            ..crate::net::NetworkOptions::default()
        },
    }
}

fn expect_dropped_scope(report: &Report) -> Result<(), Failure> {
    let token_ok = report
        .stages
        .iter()
        .any(|s| s.stage == StageId::Token && s.status == Status::Pass);
    let patient_failed = report.first_failure().map(|s| s.stage) == Some(StageId::Patient);
    if token_ok && patient_failed {
        return Ok(());
    }
    Err(Failure::runtime(anyhow::anyhow!(
        "the first check did not fail at the Patient read as expected (exit code {})",
        report.exit_code()
    )))
}
