//! check across families and install layouts: 6.0 recognised as having no grant, F2's
//! Patient refusal for a `.r` scope, a web root and a non-default site.

use oemr_doctor::db::DbSource;
use oemr_doctor::openemr::Family;
use oemr_doctor::probe::{self, StageId, Status};
use oemr_doctor::sandbox::{prepare_database_for, Sandbox, SandboxConfig};

use crate::check_world::{assert_has, jwks_of, stage, text, World, CLIENT};
use crate::support::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openemr_6_0_is_recognised_as_having_no_client_credentials_grant() {
    let world = World::new(Family::F0, "system/Patient.read").await;
    let report = probe::run(&world.config("system/Patient.read")).await;
    world.stop().await;
    let discovery = stage(&report, StageId::Discovery);
    assert_eq!(discovery.status, Status::Fail, "{}", text(&report));
    assert_has(
        &discovery.finding,
        &["family F0", "OpenEMR 6.0 has no client_credentials grant"],
    );
    assert!(discovery
        .fix
        .as_deref()
        .unwrap()
        .contains("upgrade OpenEMR to 6.1.0"));
    assert_eq!(report.exit_code(), StageId::Discovery.exit_code());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_names_a_read_scope_that_does_not_cover_a_search() {
    let world = World::new(Family::F2, "system/Patient.r").await;
    let report = probe::run(&world.config("system/Patient.r")).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(stage(&report, StageId::Token).status, Status::Pass, "{all}");
    let token = stage(&report, StageId::Token).evidence.join("\n");
    assert_has(
        &token,
        &[
            "access token verified with the server key",
            "RS256, lifetime 300 s",
        ],
    );
    let patient = stage(&report, StageId::Patient);
    assert_eq!(patient.status, Status::Fail, "{all}");
    assert_has(
        &patient.finding,
        &[
            "401 Unauthorized",
            "system/Patient.r does not cover a Patient search",
            ".read, .rs or .s",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_root_and_a_non_default_site_work_end_to_end() {
    let db = TestDb::new().await;
    let config = SandboxConfig {
        family: Family::F2,
        sites: vec!["clinic-2".to_string()],
        webroot: "/openemr".to_string(),
        ..SandboxConfig::new(
            DbSource::Url(db.url.clone()),
            "127.0.0.1:0".parse().unwrap(),
        )
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    prepare_database_for(&db.database().await, &sandbox.site_addr(), Family::F2)
        .await
        .unwrap();
    let key = oemr_doctor::keys::PrivateKey::generate(2048).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.pem");
    std::fs::write(&key_path, key.pkcs8_pem()).unwrap();
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, client_name, grant_types, scope, is_confidential, \
         is_enabled, jwks) VALUES (?, 'w', 'client_credentials', 'system/Patient.read', 1, 1, ?)",
    )
    .bind(CLIENT)
    .bind(jwks_of(&[&key]))
    .execute(&db.pool)
    .await
    .unwrap();
    let mut config = probe::CheckConfig {
        base_url: sandbox.base_url(),
        site: "clinic-2".to_string(),
        client_id: CLIENT.to_string(),
        key_path,
        jwks_path: None,
        scopes: vec!["system/Patient.read".to_string()],
        db: Some(DbSource::Url(db.url.clone())),
        fix_db_args: String::new(),
        network: oemr_doctor::net::NetworkOptions {
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
    };
    let report = probe::run(&config).await;
    assert!(sandbox.base_url().ends_with("/openemr"));
    assert_eq!(report.exit_code(), 0, "{}", text(&report));
    assert!(stage(&report, StageId::Discovery)
        .finding
        .contains("/openemr/oauth2/clinic-2/token"));
    // The wrong site is named as such.
    config.site = "default".to_string();
    let report = probe::run(&config).await;
    sandbox.stop().await;
    let discovery = stage(&report, StageId::Discovery);
    assert_eq!(discovery.status, Status::Fail, "{}", text(&report));
    assert!(
        discovery.finding.contains("does not know this site id"),
        "{}",
        text(&report)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_registered_v1_scopes_cover_requested_v2_ones() {
    let world = World::new(Family::F2, "system/Patient.read").await;
    let report = probe::run(&world.config("system/Patient.rs")).await;
    world.stop().await;
    let all = text(&report);
    assert_eq!(
        stage(&report, StageId::Database).status,
        Status::Pass,
        "{all}"
    );
    assert_eq!(
        stage(&report, StageId::Patient).status,
        Status::Pass,
        "{all}"
    );
    assert_eq!(report.exit_code(), 0, "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_stripping_user_scopes_is_named_with_the_system_scope_to_ask_for() {
    let registered = "user/Patient.read system/Patient.read";
    let world = World::new(Family::F3, registered).await;
    let report = probe::run(&world.config(registered)).await;
    world.stop().await;
    let all = text(&report);
    let scopes = stage(&report, StageId::Scopes);
    assert_eq!(scopes.status, Status::Warn, "{all}");
    assert_has(&scopes.finding, &["user/Patient.read"]);
    assert_has(
        &scopes.evidence.join("\n"),
        &["F3", "drops user/ and patient/ scopes"],
    );
    let fix = scopes.fix.as_deref().unwrap();
    assert!(fix.contains("request system/Patient.read instead"), "{fix}");
    assert!(
        !fix.contains("fix-scopes"),
        "registering them would change nothing: {fix}"
    );
}
