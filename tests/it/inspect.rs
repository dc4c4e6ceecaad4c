//! inspect as a process, on inputs that need no particular family: the exit codes, reading
//! from stdin and raw request files, a reused jti found in the database, and no secret in
//! the output.

use oemr_doctor::openemr::Family;

use crate::check_world::{assert_has, run, World, CLIENT};
use crate::support::doctor;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_assertion_exits_0_and_is_never_printed() {
    let world = World::new(Family::F1, "system/Patient.read").await;
    let jwt = world.assertion(&world.claims());
    let (code, out, err) = run(world
        .inspect()
        .arg("-")
        .write_stdin(jwt.clone())
        .args(["--db-url", &world.db.url]));
    world.stop().await;
    assert_eq!(code, 0, "{out}{err}");
    assert_has(
        &out,
        &[
            "result: 0 fault(s) OpenEMR refuses, 0 warning(s) (exit code 0)",
            "registered keys: oauth_clients.jwks column",
        ],
    );
    assert!(!out.contains(&jwt) && !err.contains(&jwt));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_request_with_every_fault_names_each_one() {
    let world = World::new(Family::F1, "system/Patient.read").await;
    let mut claims = world.claims();
    claims["aud"] = serde_json::json!(format!("{}/apis/default/fhir", world.base()));
    claims["exp"] = serde_json::json!(chrono::Utc::now().timestamp() + 3600);
    let jwt = crate::check_world::sign(&world.key, jsonwebtoken::Algorithm::RS256, None, &claims);
    let raw = format!(
        "POST /oauth2/default/token HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n\
         --B\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n\
         --B\r\nContent-Disposition: form-data; name=\"client_assertion\"\r\n\r\n{jwt}\r\n--B--\r\n"
    );
    let path = world.dir.path().join("request.http");
    std::fs::write(&path, raw).unwrap();
    let (code, out, _) = run(world.inspect().arg("--request").arg(&path));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    for code in [
        "[body-format]",
        "[assertion-type]",
        "[scope-missing]",
        "[alg]",
        "[aud-fhir-base]",
        "[exp-long]",
        "[kid-missing]",
    ] {
        assert!(out.contains(code), "{code} missing:\n{out}");
    }
    assert!(
        out.contains("multipart/form-data but labelled application/x-www-form-urlencoded"),
        "{out}"
    );
    assert!(!out.contains(&jwt));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jti_already_spent_is_found_in_jwt_grant_history() {
    let world = World::new(Family::F1, "system/Patient.read").await;
    let claims = world.claims();
    sqlx::query("INSERT INTO jwt_grant_history (jti, client_id) VALUES (?, ?)")
        .bind(claims["jti"].as_str().unwrap())
        .bind("another-client")
        .execute(&world.db.pool)
        .await
        .unwrap();
    let (code, out, _) = run(world
        .inspect()
        .arg(world.assertion(&claims))
        .args(["--db-url", &world.db.url]));
    world.stop().await;
    assert_eq!(code, 20, "{out}");
    assert_has(
        &out,
        &["[jti-reused]", "already in jwt_grant_history", "fresh jti"],
    );
    assert!(out.contains(&format!("iss={CLIENT}")), "{out}");
}

#[test]
fn help_documents_the_exit_codes_and_nothing_to_inspect_is_a_usage_error() {
    let (code, out, _) = run(doctor().args(["inspect", "--help"]));
    assert_eq!(code, 0);
    assert_has(
        &out,
        &[
            "0  no fault found",
            "20  faults found that OpenEMR refuses",
            "21  only warnings",
            "2  usage error",
            "1  oemr-doctor itself",
        ],
    );
    let (code, _, err) = run(doctor().args(["inspect"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing to inspect"), "{err}");
}
