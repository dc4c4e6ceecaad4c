//! F2's scopes: v1 and v2 strings compared by containment, both when the server checks what
//! it supports and when it intersects with the registered column, and the plain-text 500 a
//! malformed registered column causes.

use oemr_doctor::openemr::errors::INVALID_SCOPE;
use oemr_doctor::openemr::Family;

use super::harness::World;

/// Registers `registered`, requests `requested`; the answer's status and `scope` or hint.
async fn grant(world: &World, registered: &str, requested: &str) -> (u16, String) {
    world.set_client("scope", Some(registered)).await;
    let answer = world.request(requested).await;
    let body = answer.json();
    let shown = if answer.status == 200 {
        body["scope"].as_str().unwrap().to_string()
    } else {
        assert_eq!(body["error_description"], INVALID_SCOPE);
        body["hint"].as_str().unwrap().to_string()
    };
    (answer.status, shown)
}

#[tokio::test]
async fn v1_and_v2_scopes_contain_each_other() {
    let world = World::start(Family::F2).await;
    let ok = |scope: &str| (200, scope.to_string());
    assert_eq!(
        grant(&world, "system/Patient.read", "system/Patient.rs").await,
        ok("system/Patient.rs")
    );
    assert_eq!(
        grant(&world, "system/Patient.rs", "system/Patient.read").await,
        ok("system/Patient.read")
    );
    assert_eq!(
        grant(&world, "system/Patient.read", "system/Patient.r").await,
        ok("system/Patient.r")
    );
    assert_eq!(
        grant(&world, "system/Patient.r", "system/Patient.s").await,
        ok(""),
        "not contained: dropped silently"
    );
    let lab = "system/Observation.rs?category=\
               http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
    assert_eq!(grant(&world, lab, lab).await, ok(lab));
}

#[tokio::test]
async fn unsupported_spellings_are_invalid_scope() {
    let world = World::start(Family::F2).await;
    for bad in [
        "system/Patient.sr",
        "system/*.read",
        "system/patient.read",
        "system/Patient.c",
    ] {
        let (status, hint) = grant(&world, "system/Patient.read", bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(hint, format!("Check the `{bad}` scope"));
    }
    world.set_global("rest_system_scopes_api", "0").await;
    let (status, _) = grant(&world, "system/Patient.read", "system/Patient.rs").await;
    assert_eq!(status, 400, "system scopes need their global");
}

#[tokio::test]
async fn f1_refuses_v2_scopes() {
    let world = World::start(Family::F1).await;
    let (status, hint) = grant(&world, "system/Patient.rs", "system/Patient.rs").await;
    assert_eq!(
        (status, hint.as_str()),
        (400, "Check the `system/Patient.rs` scope")
    );
}

#[tokio::test]
async fn a_malformed_registered_column_is_a_plain_text_500() {
    let world = World::start(Family::F2).await;
    let cases = [
        ("openid  system/Patient.read", "Invalid scope format: "),
        (" system/Patient.read", "Invalid scope format: "),
        ("system/Patient.read ", "Invalid scope format: "),
        ("openid system/Patient.sr", "Invalid permission string: sr"),
        (
            "openid system/Patient.read\n",
            "Invalid permission string: read\n",
        ),
    ];
    for (column, message) in cases {
        world.set_client("scope", Some(column)).await;
        let answer = world.request("system/Patient.read").await;
        assert_eq!(answer.status, 500, "{column:?}");
        assert!(answer.content_type.starts_with("text/plain"), "{column:?}");
        assert_eq!(answer.body, message, "{column:?}");
    }
}
