//! FHIR Patient resources built from `patient_data` rows, and the Bundle F1 wraps searches in.

use anyhow::Context;
use chrono::NaiveDate;
use serde_json::{json, Value};
use sqlx::Row;

use crate::db::Database;

/// The `patient_data` columns the sandbox turns into a Patient.
struct PatientRow {
    uuid: String,
    pid: i64,
    fname: String,
    lname: String,
    dob: Option<NaiveDate>,
    sex: String,
    street: String,
    city: String,
    state: String,
    postal_code: String,
}

async fn rows(db: &Database) -> anyhow::Result<Vec<PatientRow>> {
    let rows = sqlx::query(
        "SELECT uuid, pid, fname, lname, DOB, sex, street, city, state, postal_code \
         FROM patient_data ORDER BY pid",
    )
    .fetch_all(&db.pool)
    .await
    .context("reading patient_data")?;
    rows.iter().map(row_to_patient).collect()
}

fn row_to_patient(row: &sqlx::mysql::MySqlRow) -> anyhow::Result<PatientRow> {
    let bytes: Option<Vec<u8>> = row.try_get("uuid")?;
    let uuid = bytes
        .and_then(|b| uuid::Uuid::from_slice(&b).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_default();
    Ok(PatientRow {
        uuid,
        pid: row.try_get("pid")?,
        fname: row.try_get("fname")?,
        lname: row.try_get("lname")?,
        dob: row.try_get("DOB")?,
        sex: row.try_get("sex")?,
        street: row.try_get("street")?,
        city: row.try_get("city")?,
        state: row.try_get("state")?,
        postal_code: row.try_get("postal_code")?,
    })
}

/// Patients matching the search parameters the sandbox understands (`_id`, `name`, `family`,
/// `given`; string parameters match a case-insensitive prefix), as FHIR resources.
pub async fn search(db: &Database, query: &[(String, String)]) -> anyhow::Result<Vec<Value>> {
    let all = rows(db).await?;
    Ok(all
        .iter()
        .filter(|p| query.iter().all(|(k, v)| matches(p, k, v)))
        .map(resource)
        .collect())
}

/// The patient whose id is `id`, if any.
pub async fn read(db: &Database, id: &str) -> anyhow::Result<Option<Value>> {
    let all = rows(db).await?;
    Ok(all.iter().find(|p| p.uuid == id).map(resource))
}

fn matches(patient: &PatientRow, param: &str, value: &str) -> bool {
    let prefix = |field: &str| field.to_lowercase().starts_with(&value.to_lowercase());
    match param {
        "_id" => patient.uuid == value,
        "name" => prefix(&patient.fname) || prefix(&patient.lname),
        "family" => prefix(&patient.lname),
        "given" => prefix(&patient.fname),
        // Limitation: other search parameters are ignored rather than applied.
        _ => true,
    }
}

fn resource(p: &PatientRow) -> Value {
    let now = chrono::Local::now();
    let full_name = format!("{} {}", p.fname, p.lname);
    let (gender, birth_sex) = match p.sex.to_lowercase().as_str() {
        "female" => ("female", "F"),
        "male" => ("male", "M"),
        _ => ("unknown", "UNK"),
    };
    json!({
        "id": p.uuid,
        "meta": {"versionId": "1", "lastUpdated": now.format("%Y-%m-%dT%H:%M:%S%:z").to_string()},
        "resourceType": "Patient",
        "text": {
            "status": "generated",
            "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"> <p>{full_name}</p></div>")
        },
        "extension": [{
            "valueCode": birth_sex,
            "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
        }, unknown_race()],
        "identifier": [{
            "use": "official",
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PT"
            }]},
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "value": p.pid.to_string()
        }],
        "active": true,
        "name": [{"use": "official", "family": p.lname, "given": [p.fname]}],
        "gender": gender,
        "birthDate": p.dob.map(|d| d.to_string()),
        "deceasedBoolean": false,
        "address": [{
            "use": "home",
            "type": "both",
            "line": [p.street],
            "city": p.city,
            "state": p.state,
            "postalCode": p.postal_code,
            "period": {"start": now.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()}
        }],
        "communication": [{"language": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "code": "unknown",
            "display": "Unknown"
        }]}}]
    })
}

/// The US Core race extension as F1 fills it when the row records none.
fn unknown_race() -> Value {
    json!({
        "extension": [{
            "valueCoding": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                "code": "UNK",
                "display": "Unknown"
            },
            "url": "ombCategory"
        }, {"valueString": "Unknown", "url": "text"}],
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
    })
}

/// A search result as F1 sends it: type `collection`, a self link without the query, and no
/// `entry` key at all when nothing matched.
pub fn bundle(self_url: &str, resources: Vec<Value>) -> Value {
    let mut bundle = json!({
        "meta": {"lastUpdated": chrono::Local::now().format("%Y-%m-%dT%H:%M:%S").to_string()},
        "resourceType": "Bundle",
        "type": "collection",
        "total": resources.len(),
        "link": [{"relation": "self", "url": self_url}],
    });
    if !resources.is_empty() {
        let entries: Vec<Value> = resources
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().unwrap_or_default().to_string();
                json!({"fullUrl": format!("{self_url}/{id}"), "resource": r})
            })
            .collect();
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}
