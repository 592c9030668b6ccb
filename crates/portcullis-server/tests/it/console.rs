//! The console's routes through the whole server: sign-in and its cookie, CSRF refusals,
//! pages the API would refuse, pagination, and pages that show what the API answers.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use portcullis_server::ServerConfig;
use serde_json::json;
use tower::ServiceExt as _;

use crate::support::TestApp;

/// One browser request: status, headers and the body as text.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find(|c| c.starts_with(&format!("{name}=")))
    }

    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map(|v| v.to_str().unwrap()).unwrap_or_default()
    }
}

async fn browse(app: &TestApp, method: &str, path: &str, cookies: &[(&str, &str)], form: Option<&[(&str, &str)]>) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if !cookies.is_empty() {
        let line: Vec<String> = cookies
            .iter()
            .map(|(k, v)| format!("{k}={}", form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
            .collect();
        request = request.header(header::COOKIE, line.join("; "));
    }
    let body = match form {
        Some(pairs) => {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
        }
        None => Body::empty(),
    };
    let response = app.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The value of a hidden field in a page.
fn hidden(body: &str, name: &str) -> String {
    let at = body
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name} in {body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Signs in through the form with `key`: the session cookie's value (the key) and the answer.
async fn sign_in(app: &TestApp, key: &str) -> Answer {
    let form = browse(app, "GET", "/console/sign-in", &[], None).await;
    let token = hidden(&form.body, "csrf");
    browse(
        app,
        "POST",
        "/console/sign-in",
        &[("portcullis_console_signin", &token)],
        Some(&[("key", key), ("csrf", &token)]),
    )
    .await
}

#[tokio::test]
async fn the_root_and_pages_send_a_visitor_to_sign_in() {
    let app = TestApp::new().await;
    let root = browse(&app, "GET", "/", &[], None).await;
    assert!(root.status.is_redirection());
    assert_eq!(root.location(), "/console");
    for path in ["/console", "/console/users/ann", "/console/downloads", "/console/history"] {
        let page = browse(&app, "GET", path, &[], None).await;
        assert!(page.status.is_redirection(), "{path}: {}", page.status);
        assert_eq!(page.location(), "/console/sign-in", "{path}");
    }
    let css = browse(&app, "GET", "/console/assets/console.css", &[], None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains(":focus-visible"));
}

#[tokio::test]
async fn signing_in_sets_an_http_only_strict_cookie_and_a_wrong_key_says_why_by_the_field() {
    let app = TestApp::new().await;
    let form = browse(&app, "GET", "/console/sign-in", &[], None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"api-key\">API key</label>"), "{}", form.body);
    let double = form.cookie("portcullis_console_signin").expect("the sign-in cookie");
    assert!(
        double.contains("HttpOnly") && double.contains("SameSite=Strict") && double.contains("Path=/"),
        "{double}"
    );
    assert!(!double.contains("Secure"), "plain http: {double}");

    let key = app.key("demo", "admin").await;
    let signed = sign_in(&app, &key).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location(), "/console");
    let session = signed.cookie("portcullis_console").expect("the session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(!session.contains("Secure"));
    let home = browse(&app, "GET", "/console", &[("portcullis_console", &key)], None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Signed in as <strong>admin</strong>"), "{}", home.body);

    let wrong = sign_in(&app, "not-a-key").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.cookie("portcullis_console").is_none());
    assert!(wrong.body.contains("aria-describedby=\"api-key-error\""), "{}", wrong.body);
    assert!(
        wrong
            .body
            .contains("id=\"api-key-error\" class=\"field-error\">this key was not accepted"),
        "{}",
        wrong.body
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let app = TestApp::with_config(ServerConfig {
        public_url: Some("https://portcullis.example.com".to_owned()),
        ..ServerConfig::default()
    })
    .await;
    let key = app.key("demo", "admin").await;
    let signed = sign_in(&app, &key).await;
    let session = signed.cookie("portcullis_console").expect("the session cookie");
    assert!(session.contains("; Secure"), "{session}");
}

#[tokio::test]
async fn writes_without_the_session_token_are_refused() {
    let app = TestApp::new().await;
    let key = app.key("demo", "admin").await;
    // Sign-in without the double-submit cookie (a form posted from another site).
    let forged = browse(&app, "POST", "/console/sign-in", &[], Some(&[("key", &key), ("csrf", "guess")])).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie("portcullis_console").is_none());
    // Sign-out without the session's token, or with another session's, changes nothing.
    let other = app.key("demo", "bob").await;
    let home = browse(&app, "GET", "/console", &[("portcullis_console", &other)], None).await;
    let others_token = hidden(&home.body, "csrf");
    for token in ["", "0000", others_token.as_str()] {
        let refused = browse(
            &app,
            "POST",
            "/console/sign-out",
            &[("portcullis_console", &key)],
            Some(&[("csrf", token)]),
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "token {token:?}");
        assert!(refused.cookie("portcullis_console").is_none(), "token {token:?}");
    }
    let home = browse(&app, "GET", "/console", &[("portcullis_console", &key)], None).await;
    let token = hidden(&home.body, "csrf");
    assert_ne!(token, others_token);
    let out = browse(
        &app,
        "POST",
        "/console/sign-out",
        &[("portcullis_console", &key)],
        Some(&[("csrf", &token)]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.cookie("portcullis_console").unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_page_the_api_refuses_is_refused_with_the_apis_reason() {
    let app = TestApp::new().await;
    let bob = app.key("demo", "bob").await;
    // Bob may not ask about other users (`decision:ask-others`) nor read the audit trail.
    let (status, _) = app
        .post("/v1/check", &bob, json!({"user": "ann", "action": "app:read", "resource": "budget"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for path in ["/console/users/ann", "/console/apps/budget", "/console/history", "/console/downloads"] {
        let page = browse(&app, "GET", path, &[("portcullis_console", &bob)], None).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(page.body.contains("The API refused this (403)"), "{path}: {}", page.body);
    }
    let csv = browse(&app, "GET", "/console/downloads.csv", &[("portcullis_console", &bob)], None).await;
    assert_eq!(csv.status, StatusCode::FORBIDDEN);
    // His own access is his to see.
    let own = browse(&app, "GET", "/console/users/bob", &[("portcullis_console", &bob)], None).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(
        own.body.contains("Bob&#39;s scratch app") || own.body.contains("Bob's scratch app"),
        "{}",
        own.body
    );
    // A revoked key signs its holder out.
    let revoked = browse(&app, "GET", "/console", &[("portcullis_console", "revoked-or-never-issued")], None).await;
    assert_eq!(revoked.location(), "/console/sign-in");
    assert!(revoked.cookie("portcullis_console").unwrap().contains("Max-Age=0"));
}

/// The users a page lists (the subjects in `<code>` after each user link of the picker).
fn listed_subjects(body: &str) -> Vec<String> {
    body.split("<a href=\"/console/users/")
        .skip(1)
        .map(|rest| {
            let encoded = &rest[..rest.find('"').unwrap()];
            percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap().into_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_user_picker_pages_through_every_user_once() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    for n in 0..30 {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &admin,
                json!({"subject": format!("temp-{n:02}"), "name": format!("Temp {n:02}"), "email": format!("temp{n}@example.com")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, all) = app.call("GET", "/api/v1/users?limit=100", Some(&admin), None).await;
    let mut expected: Vec<String> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["subject"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    let mut seen = Vec::new();
    let mut path = "/console".to_owned();
    let mut n_pages = 0;
    loop {
        let page = browse(&app, "GET", &path, &[("portcullis_console", &admin)], None).await;
        assert_eq!(page.status, StatusCode::OK);
        let subjects = listed_subjects(&page.body);
        assert!(subjects.len() <= 20);
        seen.extend(subjects);
        n_pages += 1;
        match page
            .body
            .split("rel=\"next\"")
            .next()
            .and_then(|head| head.rsplit("<a href=\"").next())
            .filter(|_| page.body.contains("rel=\"next\""))
        {
            Some(href) => path = href[..href.find('"').unwrap()].replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(n_pages, 2);
    seen.sort();
    assert_eq!(seen, expected);
    // The search is the API's: a filter on name, subject or email.
    let found = browse(&app, "GET", "/console?q=Temp+07", &[("portcullis_console", &admin)], None).await;
    assert_eq!(listed_subjects(&found.body), vec!["temp-07"]);
}

#[tokio::test]
async fn the_app_page_lists_who_may_export_as_the_api_does_with_the_path() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (_, listed) = app
        .post("/v1/list-users", &admin, json!({"action": "app:exportdata", "resource": "budget"}))
        .await;
    let expected: Vec<String> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!expected.is_empty());
    let page = browse(
        &app,
        "GET",
        "/console/apps/budget?action=app:exportdata",
        &[("portcullis_console", &admin)],
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // The name comes from the items the signed-in user may read: the administrator is no
    // member of the finance space, so the page names the app by its id.
    assert!(page.body.contains("<h1>Who can use budget</h1>"), "{}", page.body);
    let readable = browse(&app, "GET", "/console/apps/sales-dashboard", &[("portcullis_console", &admin)], None).await;
    assert!(readable.body.contains("<h1>Who can use Sales dashboard</h1>"), "{}", readable.body);
    assert_eq!(listed_subjects(&page.body), expected);
    // Each user's explanation is the API's own.
    let (_, why) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": expected[0], "action": "app:exportdata", "resource": "budget"}),
        )
        .await;
    for reason in why["explanation"]["reasons"].as_array().unwrap() {
        let text = reason["text"].as_str().unwrap();
        assert!(page.body.contains(&maud::html! { (text) }.into_string()), "{text} missing");
    }
    // The user page shows tenant rights and each app's actions, allowed and denied.
    let user = browse(&app, "GET", "/console/users/ann", &[("portcullis_console", &admin)], None).await;
    assert_eq!(user.status, StatusCode::OK, "{}", user.body);
    assert!(user.body.contains("Tenant rights"));
    assert!(user.body.contains("app:exportdata") && user.body.contains("badge deny") && user.body.contains("badge allow"));
}

#[tokio::test]
async fn a_decided_download_is_in_the_log_its_csv_and_explained_again() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, decided) = app
        .post(
            "/v1/check",
            &admin,
            json!({"user": "ann", "action": "app:exportdata", "resource": "budget"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    let log = browse(&app, "GET", "/console/downloads?user=ann", &[("portcullis_console", &admin)], None).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert!(log.body.contains("<td>ann</td>"), "{}", log.body);
    assert!(
        log.body
            .contains("/console/check?user=ann&amp;action=app%3Aexportdata&amp;resource=budget&amp;via=api-key"),
        "{}",
        log.body
    );
    let nobody = browse(&app, "GET", "/console/downloads?user=carl", &[("portcullis_console", &admin)], None).await;
    assert!(nobody.body.contains("No download on this page."), "{}", nobody.body);
    let csv = browse(&app, "GET", "/console/downloads.csv?app=budget", &[("portcullis_console", &admin)], None).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows[0], "time,user,app,space,action,decision,channel,asked_by,why,event_id");
    assert_eq!(rows.len(), 2, "{}", csv.body);
    assert!(
        rows[1].contains(",ann,budget,finance-team,app:exportdata,allow,api-key,admin,"),
        "{}",
        rows[1]
    );
    let explained = browse(
        &app,
        "GET",
        "/console/check?user=ann&action=app:exportdata&resource=budget&via=api-key",
        &[("portcullis_console", &admin)],
        None,
    )
    .await;
    assert!(explained.body.contains("badge allow"), "{}", explained.body);
}

#[tokio::test]
async fn the_history_shows_changes_and_the_chain_status() {
    let app = TestApp::new().await;
    let admin = app.key("demo", "admin").await;
    let (status, _) = app.post("/api/v1/groups", &admin, json!({"name": "auditors"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let page = browse(&app, "GET", "/console/history", &[("portcullis_console", &admin)], None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Chain verified for what is shown."), "{}", page.body);
    assert!(page.body.contains("<strong>group created</strong>"), "{}", page.body);
    assert!(page.body.contains("<strong>tenant imported</strong>"), "{}", page.body);
    // Decisions are the download log's, not the history's.
    assert!(!page.body.contains("app data exported"));
}

/// The console answers HTML to browsers and is not part of the API's document; every one of
/// its routes is served (not the API's 404).
#[tokio::test]
async fn console_routes_are_served_and_not_in_the_openapi_document() {
    let app = TestApp::new().await;
    let (_, doc) = app.call("GET", "/openapi.json", None, None).await;
    let paths = doc["paths"].as_object().unwrap();
    for route in portcullis_server::console_routes() {
        assert!(!paths.contains_key(&route.path), "{route} is in the OpenAPI document");
        let path = route.path.replace("{user}", "ann").replace("{app}", "budget");
        let answer = browse(
            &app,
            &route.method,
            &path,
            &[],
            if route.method == "POST" { Some(&[("csrf", "x")]) } else { None },
        )
        .await;
        assert_ne!(answer.status, StatusCode::NOT_FOUND, "{route}");
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{route}");
    }
    let served = portcullis_server::served_routes(&app.state);
    assert!(served.iter().all(|route| !route.path.starts_with("/console") && route.path != "/"));
}
