//! Whole QRS sites over HTTP: `PUT /v1/rules/sites/{name}/qrs` takes the seven `/full`
//! arrays (one JSON object, or a `.tar.gz` of the files), refuses a broken site with every
//! problem at its file, object and field, stores the site so that checks decide on it, and
//! `GET …/qrs` writes it back in the same shapes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error};

/// The fixture of the rules crate: a site built by hand in the public shapes.
const FILES: [(&str, &str); 7] = [
    ("users", include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/users.json")),
    (
        "userdirectories",
        include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/userdirectories.json"),
    ),
    ("streams", include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/streams.json")),
    ("apps", include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/apps.json")),
    (
        "custompropertydefinitions",
        include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/custompropertydefinitions.json"),
    ),
    (
        "dataconnections",
        include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/dataconnections.json"),
    ),
    (
        "systemrules",
        include_str!("../../../portcullis-rules/tests/fixtures/qrs-site/systemrules.json"),
    ),
];

const SALES_APP: &str = "a0000000-0000-4000-8000-0000000000a1";

fn site_object() -> Value {
    Value::Object(
        FILES
            .iter()
            .map(|(key, text)| ((*key).to_owned(), serde_json::from_str(text).expect("fixture JSON")))
            .collect(),
    )
}

fn archive() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (key, text) in FILES {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, format!("{key}.json"), text.as_bytes()).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

async fn put_qrs(app: &TestApp, token: &str, name: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("PUT")
        .uri(format!("/v1/rules/sites/{name}/qrs"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("a valid request");
    app.send(request).await
}

async fn reads(app: &TestApp, token: &str, site: &str, user: &str, resource: &str) -> Value {
    let ask = json!({"user": user, "action": "read", "resource": resource, "context": "hub"});
    let (status, answer) = app.post(&format!("/v1/rules/sites/{site}/check"), token, ask).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test]
async fn a_qrs_site_is_stored_decides_and_comes_back_in_its_shapes() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = put_qrs(&app, &admin, "qseow", "application/json", site_object().to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["users"].clone(), body["resources"].clone(), body["rules"].clone()),
        (json!(5), json!(12), json!(9))
    );
    assert_eq!(body["qrs"]["apps"], 4);
    assert_eq!(body["warnings"], json!([]));

    // Department=Sales reads the app in the Sales stream, through the custom rule.
    let answer = reads(&app, &admin, "qseow", "ACME\\alice", SALES_APP).await;
    assert_eq!(answer["decision"], "allow");
    assert!(
        answer["explanation"]["tokens"]
            .as_array()
            .unwrap()
            .contains(&json!("rule:Department apps in streams")),
        "{answer}"
    );
    assert_eq!(reads(&app, &admin, "qseow", "CORP\\dave", SALES_APP).await["decision"], "deny");

    // Back as the seven arrays; stored again, the same arrays come back.
    let (status, exported) = app.call("GET", "/v1/rules/sites/qseow/qrs", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert_eq!(exported["users"][0]["id"], "0f1e0000-0000-4000-8000-00000000a001");
    assert_eq!(exported["apps"][0]["stream"]["name"], "Sales");
    assert_eq!(exported["systemrules"].as_array().map(Vec::len), Some(9));
    let (status, body) = put_qrs(&app, &admin, "again", "application/json", exported.to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, again) = app.call("GET", "/v1/rules/sites/again/qrs", Some(&admin), None).await;
    assert_eq!(again, exported);
    // The stored form is a site file, which the site routes read as any other.
    let (status, stored) = app.call("GET", "/v1/rules/sites/qseow", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["users"][0]["userId"], "alice");
}

#[tokio::test]
async fn an_archive_of_the_files_is_a_site_too() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, body) = put_qrs(&app, &admin, "packed", "application/gzip", archive()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["qrs"]["systemrules"], 9);
    assert_eq!(reads(&app, &admin, "packed", "ACME\\alice", SALES_APP).await["decision"], "allow");
    // Known by its first bytes when the type says nothing.
    let (status, body) = put_qrs(&app, &admin, "packed", "application/octet-stream", archive()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = put_qrs(&app, &admin, "packed", "application/gzip", b"not an archive".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_broken_site_is_refused_with_every_problem_located_and_nothing_stored() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let mut site = site_object();
    site["apps"][0]["owner"]["id"] = json!("nobody");
    site["users"][3]["customProperties"] = json!([{ "value": "Marketing", "definition": { "name": "Department" } }]);
    site["systemrules"][5]["rule"] = json!("resource.stream.name = (");
    let answer = put_qrs(&app, &admin, "broken", "application/json", site.to_string().into_bytes()).await;
    // The first error in the order the kinds are read (definitions, users, ..., rules) is the field.
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid_qrs_site",
        Some("users[0f1e0000-0000-4000-8000-00000000a004].customProperties"),
    );
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains(&format!("apps: object {SALES_APP}: field `owner`")), "{message}");
    assert!(
        message.contains("users: object 0f1e0000-0000-4000-8000-00000000a004: field `customProperties`"),
        "{message}"
    );
    assert!(
        message.contains("systemrules: object 7e000000-0000-4000-8000-000000000006: field `rule`"),
        "{message}"
    );
    assert_error(
        &app.call("GET", "/v1/rules/sites/broken/qrs", Some(&admin), None).await,
        StatusCode::NOT_FOUND,
        "unknown_site",
        None,
    );
    // A required array missing.
    let answer = put_qrs(&app, &admin, "broken", "application/json", json!({"users": []}).to_string().into_bytes()).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_qrs_site", Some("systemrules"));
}

#[tokio::test]
async fn only_admins_load_qrs_sites() {
    let app = TestApp::new().await;
    let bob = app.key("demo", "bob").await;
    let (status, _) = put_qrs(&app, &bob, "mine", "application/json", site_object().to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.call("GET", "/v1/rules/sites/mine/qrs", Some(&bob), None).await.0,
        StatusCode::FORBIDDEN
    );
}
