//! The effective access explorer: a user's reach (tenant rights, then the apps, spaces and
//! data connections they can reach, each action allowed or denied and why), an app's
//! audience (who can open, edit, reload or export data, and why), and one decision explained.
//!
//! Built from `GET /api/v1/users` (the picker), `POST /v1/check/batch` with explanations,
//! `POST /v1/list-resources`, `POST /v1/list-users` and `POST /v1/check`: a page of the
//! listing, then one batch for the page, so a page costs the same on a tenant of any size.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use portcullis_model::{Action, ResourceKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiFailure, link_param, query_string};
use crate::layout::{self, Section, explanation, next_link, refusal, verdict};
use crate::session::Session;
use crate::{Console, SignedIn, html, segment};

/// Rows per page of users and resources.
const PAGE: u32 = 20;

/// The picker's query.
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    next: String,
}

/// `GET /console`: who is signed in, and the user picker (searched by the API, paginated).
pub async fn home(State(console): State<Console>, SignedIn(session): SignedIn, Query(query): Query<HomeQuery>) -> Response {
    let title = "Access explorer";
    let who = match console.api.get(&session.key, "/v1/whoami").await {
        Ok(who) => who,
        Err(failure) => return console.refused(title, Section::Explorer, &session, &failure),
    };
    let search = query.q.replace(['"', '\\'], "");
    let filter = if search.trim().is_empty() {
        String::new()
    } else {
        let s = search.trim();
        format!(r#"name co "{s}" or subject co "{s}" or email co "{s}""#)
    };
    let limit = PAGE.to_string();
    let users_path = format!(
        "/api/v1/users?{}",
        query_string([
            ("limit", limit.as_str()),
            ("sort", "name"),
            ("filter", filter.as_str()),
            ("next", query.next.as_str())
        ])
    );
    let users = console.api.get(&session.key, &users_path).await;
    let body = html! {
        p class="whoami" {
            "Signed in as " strong { (who["user"].as_str().unwrap_or("?")) }
            " on tenant " strong { (who["tenant"].as_str().unwrap_or("?")) }
            " (revision " (who["revision"]) ")."
        }
        section aria-labelledby="pick-user" {
            h2 id="pick-user" { "Pick a user" }
            form method="get" action="/console" class="inline" role="search" {
                label for="user-search" { "Name, subject or email contains" }
                input id="user-search" name="q" type="search" value=(query.q);
                button type="submit" { "Search" }
            }
            @match &users {
                Err(failure) => (refusal(failure)),
                Ok(users) => {
                    @let rows = users["data"].as_array().map(Vec::as_slice).unwrap_or_default();
                    @if rows.is_empty() {
                        p { "No user matches." }
                    } @else {
                        table {
                            caption class="visually-hidden" { "Users" }
                            thead { tr { th scope="col" { "Name" } th scope="col" { "Subject" } th scope="col" { "Email" } th scope="col" { "Status" } } }
                            tbody {
                                @for user in rows {
                                    @let subject = user["subject"].as_str().unwrap_or_default();
                                    tr {
                                        td { a href={ "/console/users/" (segment(subject)) } { (user["name"].as_str().unwrap_or(subject)) } }
                                        td { code { (subject) } }
                                        td { (user["email"].as_str().unwrap_or_default()) }
                                        td { (user["status"].as_str().unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                    (next_link(link_param(&users["links"]["next"], "next").map(|next| {
                        format!("/console?{}", query_string([("q", query.q.as_str()), ("next", next.as_str())]))
                    })))
                }
            }
        }
        section aria-labelledby="open-app" {
            h2 id="open-app" { "Or open an app" }
            form method="get" action="/console/check" class="inline" {
                label for="app-id" { "App id" }
                input id="app-id" name="app" type="text" required;
                button type="submit" { "Who can use it" }
            }
        }
    };
    html(StatusCode::OK, layout::page(title, Section::Explorer, Some(&session), body))
}

/// A user page's query: the channel and which kind of resource to list.
#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    via: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    cursor: String,
}

/// The kinds of resources a user page lists: what the tab says, the action that means
/// "reaches it", and the kind's actions.
fn listed_kind(word: &str) -> (&'static str, ResourceKind, &'static str) {
    match word {
        "space" => ("space", ResourceKind::Space, "space:read"),
        "data-connection" => ("data-connection", ResourceKind::DataConnection, "data-connection:read"),
        _ => ("app", ResourceKind::App, "app:read"),
    }
}

fn actions_of(kind: ResourceKind) -> Vec<&'static str> {
    Action::ALL.iter().filter(|a| a.resource_kind() == kind).map(|a| a.as_str()).collect()
}

fn channel(via: &str) -> &str {
    if via.trim().is_empty() { "api-key" } else { via.trim() }
}

/// `GET /console/users/{user}`: everything the user can reach through a channel.
pub async fn user(State(console): State<Console>, SignedIn(session): SignedIn, Path(user): Path<String>, Query(query): Query<UserQuery>) -> Response {
    let title = format!("Access of {user}");
    let via = channel(&query.via);
    // The listing first: it answers the page's refusals whole (403 without
    // `decision:ask-others`, 404 for no such user or client), where a batch answers them check
    // by check.
    let (kind_word, kind, reach_action) = listed_kind(&query.kind);
    let mut listing = json!({"user": user, "via": via, "action": reach_action, "limit": PAGE});
    if !query.cursor.is_empty() {
        listing["cursor"] = json!(query.cursor);
    }
    let resources = console.api.post(&session.key, "/v1/list-resources", &listing).await;
    if let Err(failure) = &resources {
        return console.refused(&title, Section::Explorer, &session, failure);
    }
    let tenant_actions = actions_of(ResourceKind::Tenant);
    let checks: Vec<Value> = tenant_actions.iter().map(|action| json!({"user": user, "action": action})).collect();
    let rights = match console
        .api
        .post(&session.key, "/v1/check/batch", &json!({"checks": checks, "via": via, "explain": true}))
        .await
    {
        Ok(rights) => rights,
        Err(failure) => return console.refused(&title, Section::Explorer, &session, &failure),
    };
    let kind_actions = actions_of(kind);
    let decided = match &resources {
        Ok(page) => {
            let ids: Vec<&str> = page["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str())
                .collect();
            decide_grid(&console, &session, &user, via, &ids, &kind_actions).await
        }
        Err(failure) => Err(failure.clone()),
    };
    let clients = console.api.get(&session.key, "/api/v1/oauth-clients?limit=100").await.ok();
    let user_path = format!("/console/users/{}", segment(&user));
    let body = html! {
        (channel_form(&user_path, via, clients.as_ref(), &[("kind", kind_word)]))
        section aria-labelledby="tenant-rights" {
            h2 id="tenant-rights" { "Tenant rights" }
            table {
                caption class="visually-hidden" { "Tenant rights and why" }
                thead { tr { th scope="col" { "Action" } th scope="col" { "Decision" } th scope="col" { "Why" } } }
                tbody {
                    @for (action, result) in tenant_actions.iter().zip(rights["results"].as_array().into_iter().flatten()) {
                        tr {
                            th scope="row" { code { (action) } }
                            td { (verdict(result["allowed"].as_bool().unwrap_or(false))) }
                            td { (explanation(&result["explanation"])) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="reach" {
            h2 id="reach" { "What they can reach" }
            nav aria-label="Kinds of resources" class="tabs" {
                ul {
                    @for (word, label) in [("app", "Apps"), ("space", "Spaces"), ("data-connection", "Data connections")] {
                        li {
                            @let href = format!("{user_path}?{}", query_string([("via", via), ("kind", word)]));
                            @if word == kind_word { a href=(href) aria-current="page" { (label) } } @else { a href=(href) { (label) } }
                        }
                    }
                }
            }
            p class="muted" { "Listed: every " (kind_word) " where " code { (reach_action) } " is allowed; below each, every action on it and why." }
            @match (&resources, &decided) {
                (Err(failure), _) | (_, Err(failure)) => (refusal(failure)),
                (Ok(page), Ok(grid)) => {
                    @let rows = page["resources"].as_array().map(Vec::as_slice).unwrap_or_default();
                    @if rows.is_empty() { p { "Nothing." } }
                    @for (resource, results) in rows.iter().zip(grid) {
                        @let id = resource["id"].as_str().unwrap_or_default();
                        article class="resource" {
                            h3 {
                                @if kind == ResourceKind::App {
                                    a href={ "/console/apps/" (segment(id)) } { (resource["name"].as_str().unwrap_or(id)) }
                                } @else {
                                    (resource["name"].as_str().unwrap_or(id))
                                }
                                " " code { (id) }
                            }
                            (decision_table(&kind_actions, results))
                        }
                    }
                    (next_link(page["nextCursor"].as_str().map(|cursor| {
                        format!("{user_path}?{}", query_string([("via", via), ("kind", kind_word), ("cursor", cursor)]))
                    })))
                }
            }
        }
    };
    html(StatusCode::OK, layout::page(&title, Section::Explorer, Some(&session), body))
}

/// One batch: every action on every resource, explained; the results per resource, in order.
async fn decide_grid(
    console: &Console,
    session: &Session,
    user: &str,
    via: &str,
    resources: &[&str],
    actions: &[&str],
) -> Result<Vec<Vec<Value>>, ApiFailure> {
    if resources.is_empty() {
        return Ok(Vec::new());
    }
    let checks: Vec<Value> = resources
        .iter()
        .flat_map(|resource| {
            actions
                .iter()
                .map(move |action| json!({"user": user, "action": action, "resource": resource}))
        })
        .collect();
    let answer = console
        .api
        .post(&session.key, "/v1/check/batch", &json!({"checks": checks, "via": via, "explain": true}))
        .await?;
    let results: Vec<Value> = answer["results"].as_array().cloned().unwrap_or_default();
    Ok(results.chunks(actions.len()).map(<[Value]>::to_vec).collect())
}

fn decision_table(actions: &[&str], results: &[Value]) -> Markup {
    html! {
        table class="decisions" {
            thead { tr { th scope="col" { "Action" } th scope="col" { "Decision" } th scope="col" { "Why" } } }
            tbody {
                @for (action, result) in actions.iter().zip(results) {
                    tr {
                        th scope="row" { code { (action) } }
                        td { (verdict(result["allowed"].as_bool().unwrap_or(false))) }
                        td {
                            @if let Some(error) = result["error"]["message"].as_str() { span class="muted" { (error) } }
                            (explanation(&result["explanation"]))
                        }
                    }
                }
            }
        }
    }
}

/// The channel picker: API key, session, or one of the tenant's OAuth clients (when the
/// signed-in user may list them).
fn channel_form(action: &str, via: &str, clients: Option<&Value>, keep: &[(&str, &str)]) -> Markup {
    let mut options: Vec<(String, String)> = vec![("api-key".to_owned(), "API key".to_owned()), ("session".to_owned(), "Session".to_owned())];
    for client in clients.and_then(|c| c["data"].as_array()).into_iter().flatten() {
        if let Some(id) = client["clientId"].as_str() {
            let name = client["clientName"].as_str().unwrap_or(id);
            options.push((format!("oauth:{id}"), format!("OAuth client: {name}")));
        }
    }
    if !options.iter().any(|(value, _)| value == via) {
        options.push((via.to_owned(), via.to_owned()));
    }
    html! {
        form method="get" action=(action) class="inline" {
            @for (name, value) in keep { input type="hidden" name=(name) value=(value); }
            label for="via" { "Channel" }
            select id="via" name="via" {
                @for (value, label) in &options {
                    @if value == via { option value=(value) selected { (label) } } @else { option value=(value) { (label) } }
                }
            }
            button type="submit" { "Show" }
        }
    }
}

/// An app page's query.
#[derive(Debug, Default, Deserialize)]
pub struct AppQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    via: String,
    #[serde(default)]
    cursor: String,
}

/// The questions an app page answers.
const APP_QUESTIONS: &[(&str, &str)] = &[
    ("app:read", "Open"),
    ("app:update", "Edit"),
    ("app:reload", "Reload"),
    ("app:exportdata", "Export data"),
];

/// `GET /console/apps/{app}`: who can open, edit, reload or export data from it, and why.
pub async fn app(State(console): State<Console>, SignedIn(session): SignedIn, Path(app): Path<String>, Query(query): Query<AppQuery>) -> Response {
    let via = channel(&query.via);
    let action = APP_QUESTIONS
        .iter()
        .map(|(action, _)| *action)
        .find(|a| *a == query.action)
        .unwrap_or("app:read");
    // The name, from the items the signed-in user may read themselves.
    let item_path = format!(
        "/api/v1/items?{}",
        query_string([
            ("resourceType", "app"),
            ("resourceId", portcullis_qlik_api::ids::content_id(&app).as_str())
        ])
    );
    let name = console
        .api
        .get(&session.key, &item_path)
        .await
        .ok()
        .and_then(|items| items["data"][0]["name"].as_str().map(str::to_owned))
        .unwrap_or_else(|| app.clone());
    let title = format!("Who can use {name}");
    let mut listing = json!({"action": action, "resource": app, "via": via, "limit": PAGE});
    if !query.cursor.is_empty() {
        listing["cursor"] = json!(query.cursor);
    }
    let users = match console.api.post(&session.key, "/v1/list-users", &listing).await {
        Ok(users) => users,
        Err(failure) => return console.refused(&title, Section::Explorer, &session, &failure),
    };
    let rows = users["users"].as_array().cloned().unwrap_or_default();
    let checks: Vec<Value> = rows
        .iter()
        .filter_map(|user| user["id"].as_str())
        .map(|user| json!({"user": user, "action": action, "resource": app}))
        .collect();
    let why = if checks.is_empty() {
        Ok(Value::Null)
    } else {
        console
            .api
            .post(&session.key, "/v1/check/batch", &json!({"checks": checks, "via": via, "explain": true}))
            .await
    };
    let app_path = format!("/console/apps/{}", segment(&app));
    let body = html! {
        p { "App " code { (app) } ". Each tab lists the users allowed, a page at a time, with the path that grants it." }
        (channel_form(&app_path, via, None, &[("action", action)]))
        nav aria-label="Questions" class="tabs" {
            ul {
                @for (question, label) in APP_QUESTIONS {
                    li {
                        @let href = format!("{app_path}?{}", query_string([("action", *question), ("via", via)]));
                        @if *question == action { a href=(href) aria-current="page" { (label) } } @else { a href=(href) { (label) } }
                    }
                }
            }
        }
        h2 { "Who may " code { (action) } }
        @match &why {
            Err(failure) => (refusal(failure)),
            Ok(why) => {
                @if rows.is_empty() { p { "Nobody." } } @else {
                    table {
                        caption class="visually-hidden" { "Users allowed and why" }
                        thead { tr { th scope="col" { "User" } th scope="col" { "Why" } th scope="col" { "Details" } } }
                        tbody {
                            @for (user, result) in rows.iter().zip(why["results"].as_array().into_iter().flatten()) {
                                @let id = user["id"].as_str().unwrap_or_default();
                                tr {
                                    th scope="row" { a href={ "/console/users/" (segment(id)) } { (user["name"].as_str().unwrap_or(id)) } " " code { (id) } }
                                    td { (explanation(&result["explanation"])) }
                                    td { a href={ "/console/check?" (query_string([("user", id), ("action", action), ("resource", app.as_str()), ("via", via)])) } { "Explain " (id) } }
                                }
                            }
                        }
                    }
                }
                (next_link(users["nextCursor"].as_str().map(|cursor| {
                    format!("{app_path}?{}", query_string([("action", action), ("via", via), ("cursor", cursor)]))
                })))
            }
        }
    };
    html(StatusCode::OK, layout::page(&title, Section::Explorer, Some(&session), body))
}

/// One decision's query.
#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    via: String,
    /// From the home page's "open an app" form: go to that app's page.
    #[serde(default)]
    app: String,
}

/// `GET /console/check`: one decision, explained (what an event of the download log links to).
pub async fn check(State(console): State<Console>, SignedIn(session): SignedIn, Query(query): Query<CheckQuery>) -> Response {
    if !query.app.trim().is_empty() {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(&format!("/console/apps/{}", segment(query.app.trim()))));
    }
    let title = "Explain a decision";
    let via = channel(&query.via);
    let asked = !query.user.is_empty() && !query.action.is_empty();
    let answer = if asked {
        let mut request = json!({"user": query.user, "action": query.action, "via": via, "explain": true});
        if !query.resource.is_empty() {
            request["resource"] = json!(query.resource);
        }
        Some(console.api.post(&session.key, "/v1/check", &request).await)
    } else {
        None
    };
    let body = html! {
        form method="get" action="/console/check" class="stacked" {
            div class="field" { label for="check-user" { "User" } input id="check-user" name="user" type="text" value=(query.user) required; }
            div class="field" { label for="check-action" { "Action" } input id="check-action" name="action" type="text" value=(query.action) required; }
            div class="field" { label for="check-resource" { "Resource (empty for a tenant right)" } input id="check-resource" name="resource" type="text" value=(query.resource); }
            div class="field" { label for="check-via" { "Channel" } input id="check-via" name="via" type="text" value=(via); }
            button type="submit" { "Explain" }
        }
        @match &answer {
            None => {},
            Some(Err(failure)) => (refusal(failure)),
            Some(Ok(decision)) => {
                section aria-labelledby="answer" class="answer" {
                    h2 id="answer" {
                        (verdict(decision["allowed"].as_bool().unwrap_or(false))) " "
                        code { (query.user) } " · " code { (query.action) }
                        @if !query.resource.is_empty() { " · " code { (query.resource) } }
                        " · via " code { (via) }
                    }
                    p class="muted" { "Decided at revision " (decision["revision"]) "." }
                    (explanation(&decision["explanation"]))
                }
            }
        }
    };
    html(StatusCode::OK, layout::page(title, Section::Explorer, Some(&session), body))
}
