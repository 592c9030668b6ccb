//! Portcullis's export mark through HTTP (`docs/export-control.md`): set with `POST
//! /v1/changes`, shown by `/v1/check`, honoured by `/v1/list-resources`, previewed by
//! `/v1/what-if`, refused with the model's reason when it names a role that is not custom.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn ids(body: &Value) -> Vec<String> {
    body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_marked_space_lets_data_out_only_through_its_roles() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let bob_images = json!({"user": "bob", "action": "app:exportimage", "resource": "budget"});
    let (_, before) = app.post("/v1/check", &admin, bob_images.clone()).await;
    assert_eq!(before["decision"], "allow", "{before}");
    let listing = json!({"user": "bob", "action": "app:exportimage"});
    let (_, listed) = app.post("/v1/list-resources", &admin, listing.clone()).await;
    assert_eq!(ids(&listed), ["sales-dashboard", "budget", "forecast", "bob-scratch"]);

    let (status, body) = app
        .post(
            "/v1/changes",
            &admin,
            json!({"mark": {"space": "finance-team", "exportOnlyThrough": ["Exporters"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revision = body["revision"].as_u64().unwrap();

    let (_, denied) = app.post("/v1/check", &admin, bob_images).await;
    assert_eq!(
        (denied["decision"].clone(), denied["revision"].as_u64()),
        (json!("deny"), Some(revision)),
        "{denied}"
    );
    let reason = denied["explanation"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "export-only-through")
        .unwrap_or_else(|| panic!("{denied}"));
    assert_eq!(reason["tokens"], json!(["export-mark:finance-team"]));
    assert!(reason["text"].as_str().unwrap().contains("only through `Exporters`"), "{reason}");
    let (_, ann) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "ann", "action": "app:exportdata", "resource": "budget"}),
        )
        .await;
    assert_eq!(ann["decision"], "allow", "{ann}");
    let tokens: Vec<&str> = ann["explanation"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tokens.ends_with(&["export-mark:finance-team", "export-through:Exporters", "group:finance"]),
        "{tokens:?}"
    );
    // Reading is not data leaving; the other spaces are as Qlik has them.
    let (_, read) = app
        .post("/v1/check", &admin, json!({"user": "bob", "action": "app:read", "resource": "budget"}))
        .await;
    assert_eq!(read["decision"], "allow");
    let (_, listed) = app.post("/v1/list-resources", &admin, listing).await;
    assert_eq!(ids(&listed), ["sales-dashboard", "bob-scratch"]);

    // What-if: taking the mark off gives bob back the finance team's images, and keeps nothing.
    let (status, preview) = app
        .post(
            "/v1/what-if",
            &admin,
            json!({"changes": [{"change": "setExportOnlyThrough", "space": "finance-team", "roles": null}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let gained: Vec<(String, String, String)> = preview["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "gained" && c["user"] == "bob")
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["resource"].as_str().unwrap().to_owned(),
                c["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(gained.iter().any(|(a, r, _)| a == "app:exportimage" && r == "budget"), "{preview}");
    assert_eq!(preview["lost"], 0, "{preview}");
    let (_, still) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "bob", "action": "app:exportimage", "resource": "forecast"}),
        )
        .await;
    assert_eq!(still["decision"], "deny", "nothing was applied: {still}");

    // The model's checks answer through the API.
    let (status, refused) = app
        .post(
            "/v1/changes",
            &admin,
            json!({"mark": {"space": "finance-team", "exportOnlyThrough": ["TenantAdmin"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("not a custom role"), "{refused}");
    // Without a list the mark comes off.
    let (status, _) = app.post("/v1/changes", &admin, json!({"mark": {"space": "finance-team"}})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, back) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "bob", "action": "app:exportimage", "resource": "budget"}),
        )
        .await;
    assert_eq!(back["decision"], "allow", "{back}");
}
