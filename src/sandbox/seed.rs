//! Making a scratch database look like a fresh install with the API switched on.

use anyhow::Context;

use crate::db::{Database, MIGRATOR};
use crate::openemr::Family;

/// The id of the one seeded patient, Ada Probe (the id the recorded server had).
pub const SEEDED_PATIENT_UUID: &str = "a4516da0-eff3-11f1-a6cb-02fc00000001";

/// Runs the migrations and seeds, idempotently, what a fresh F1 install with the API switched
/// on holds: globals `rest_api`, `rest_fhir_api` and `rest_system_scopes_api` set to `1` and
/// `site_addr_oath` to the given value; the `oe-system` user with a UUID; the patient Ada
/// Probe; and a `version` row for 7.0.3.
///
/// Only for scratch databases: it writes rows, and must never be pointed at a real OpenEMR.
pub async fn prepare_database(db: &Database, site_addr_oath: &str) -> anyhow::Result<()> {
    prepare_database_for(db, site_addr_oath, Family::F1).await
}

/// [`prepare_database`] for a fresh install of `family`: the `version` row names a release of
/// that family (6.0.0, 7.0.3, 7.0.4, or 8.3.0-dev for late-2026 master).
pub async fn prepare_database_for(
    db: &Database,
    site_addr_oath: &str,
    family: Family,
) -> anyhow::Result<()> {
    MIGRATOR
        .run(&db.pool)
        .await
        .context("creating OpenEMR's tables in the sandbox database")?;
    for name in ["rest_api", "rest_fhir_api", "rest_system_scopes_api"] {
        set_global(db, name, "1").await?;
    }
    set_global(db, "site_addr_oath", site_addr_oath).await?;
    seed_system_user(db).await?;
    seed_patient(db).await?;
    seed_version(db, family).await
}

/// Sets one global (index 0), creating its row when missing.
pub async fn set_global(db: &Database, name: &str, value: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO globals (gl_name, gl_index, gl_value) VALUES (?, 0, ?) \
         ON DUPLICATE KEY UPDATE gl_value = VALUES(gl_value)",
    )
    .bind(name)
    .bind(value)
    .execute(&db.pool)
    .await
    .with_context(|| format!("setting global {name}"))?;
    Ok(())
}

async fn seed_system_user(db: &Database) -> anyhow::Result<()> {
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ?")
        .bind(crate::openemr::SYSTEM_USERNAME)
        .fetch_one(&db.pool)
        .await
        .context("reading users")?;
    if exists > 0 {
        return Ok(());
    }
    // Like OpenEMR's install script: inactive, and named for what it is.
    sqlx::query(
        "INSERT INTO users (uuid, username, fname, lname, active) \
         VALUES (?, ?, 'System', 'Operation User', 0)",
    )
    .bind(uuid::Uuid::new_v4().as_bytes().to_vec())
    .bind(crate::openemr::SYSTEM_USERNAME)
    .execute(&db.pool)
    .await
    .context("creating the oe-system user")?;
    Ok(())
}

async fn seed_patient(db: &Database) -> anyhow::Result<()> {
    let uuid = uuid::Uuid::parse_str(SEEDED_PATIENT_UUID).expect("a valid constant UUID");
    sqlx::query(
        "INSERT IGNORE INTO patient_data (uuid, pid, fname, lname, DOB, sex, street, city, \
         state, postal_code) VALUES (?, 1, 'Ada', 'Probe', '1970-01-02', 'Female', \
         '1 Loopback Way', 'Localhost', 'CA', '90000')",
    )
    .bind(uuid.as_bytes().to_vec())
    .execute(&db.pool)
    .await
    .context("seeding the test patient")?;
    Ok(())
}

async fn seed_version(db: &Database, family: Family) -> anyhow::Result<()> {
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM version")
        .fetch_one(&db.pool)
        .await
        .context("reading version")?;
    let (major, minor, patch, tag) = match family {
        Family::F0 => (6, 0, 0, ""),
        Family::F1 => (7, 0, 3, ""),
        Family::F2 => (7, 0, 4, ""),
        Family::F3 => (8, 3, 0, "-dev"),
    };
    if rows == 0 {
        sqlx::query(
            "INSERT INTO version (v_major, v_minor, v_patch, v_realpatch, v_tag) \
             VALUES (?, ?, ?, 0, ?)",
        )
        .bind(major)
        .bind(minor)
        .bind(patch)
        .bind(tag)
        .execute(&db.pool)
        .await
        .context("writing version")?;
    }
    Ok(())
}
