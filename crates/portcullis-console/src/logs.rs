//! The download log and the change history, from the audit trail (`GET /api/v1/audits`).
//!
//! The download log lists the data-leaving decisions (app file, data, image exports): who,
//! which app, when, through which channel, allowed or not and why, each linked to the same
//! decision explained now. The change history is every other event as a timeline. Both page
//! with the API's cursors; what the API refuses (no `audit:read`) is shown as its refusal.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use portcullis_audit::EventType;
use serde::Deserialize;
use serde_json::Value;

use crate::api::{ApiFailure, link_param, query_string};
use crate::layout::{self, Section, next_link, token_list, verdict};
use crate::session::Session;
use crate::{Console, SignedIn, html};

/// Events per page.
const PAGE: usize = 50;
/// The most events one CSV export holds.
const CSV_MAX_EVENTS: usize = 10_000;

/// The download log's filters.
#[derive(Debug, Default, Deserialize, Clone)]
pub struct DownloadFilters {
    #[serde(default)]
    user: String,
    #[serde(default)]
    app: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    next: String,
}

impl DownloadFilters {
    /// The audits query of one page.
    fn audits_path(&self, limit: usize, next: &str) -> String {
        let types: Vec<&str> = [EventType::AppExported, EventType::AppDataExported, EventType::AppImageExported]
            .iter()
            .map(|t| t.as_str())
            .collect();
        let types = types.join(",");
        let user = if self.user.trim().is_empty() {
            String::new()
        } else {
            portcullis_qlik_api::ids::user_id(self.user.trim())
        };
        let range = if self.since.is_empty() && self.until.is_empty() {
            String::new()
        } else {
            format!("{}/{}", instant(&self.since, "T00:00:00Z"), instant(&self.until, "T23:59:59.999Z"))
        };
        let limit = limit.to_string();
        format!(
            "/api/v1/audits?{}",
            query_string([
                ("eventType", types.as_str()),
                ("userId", user.as_str()),
                ("eventTime", range.as_str()),
                ("limit", limit.as_str()),
                ("next", next),
            ])
        )
    }

    fn keeps(&self, event: &Value) -> bool {
        let app = self.app.trim();
        app.is_empty() || event["data"]["resource"]["id"].as_str() == Some(app)
    }

    /// The events of an audits page that pass the filters the API cannot apply (the app).
    fn kept(&self, page: &Value) -> Vec<Value> {
        page["data"].as_array().into_iter().flatten().filter(|e| self.keeps(e)).cloned().collect()
    }

    fn pairs(&self) -> [(&str, &str); 4] {
        [
            ("user", self.user.as_str()),
            ("app", self.app.as_str()),
            ("since", self.since.as_str()),
            ("until", self.until.as_str()),
        ]
    }
}

/// A date from a date field (`2026-12-01`) as an RFC 3339 instant at `time`; a full instant as is.
fn instant(text: &str, time: &str) -> String {
    let text = text.trim();
    if text.len() == 10 && !text.is_empty() {
        format!("{text}{time}")
    } else {
        text.to_owned()
    }
}

/// One download as the log shows it.
struct Download {
    seq: String,
    time: String,
    user: String,
    app: String,
    space: String,
    action: String,
    allowed: bool,
    via: String,
    asked_by: String,
    reasons: String,
}

/// Reads the page's events; users are named by subject (the API's events carry API ids).
async fn downloads_of(console: &Console, session: &Session, events: &[Value], subjects: &mut HashMap<String, String>) -> Vec<Download> {
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let user_id = event["userId"].as_str().unwrap_or_default().to_owned();
        if !user_id.is_empty() && !subjects.contains_key(&user_id) {
            let subject = console
                .api
                .get(&session.key, &format!("/api/v1/users/{user_id}"))
                .await
                .ok()
                .and_then(|user| user["subject"].as_str().map(str::to_owned))
                .unwrap_or_else(|| user_id.clone());
            subjects.insert(user_id.clone(), subject);
        }
        let data = &event["data"];
        let reasons = data["explanation"]["reasons"]
            .as_array()
            .map(|reasons| reasons.iter().filter_map(|r| r["text"].as_str()).collect::<Vec<_>>().join("; "))
            .unwrap_or_default();
        rows.push(Download {
            seq: event["id"].as_str().unwrap_or_default().to_owned(),
            time: event["eventTime"].as_str().unwrap_or_default().to_owned(),
            user: subjects.get(&user_id).cloned().unwrap_or_default(),
            app: data["resource"]["id"].as_str().unwrap_or_default().to_owned(),
            space: data["resource"]["space"].as_str().unwrap_or_default().to_owned(),
            action: data["action"].as_str().unwrap_or_default().to_owned(),
            allowed: data["decision"].as_str() == Some("allow"),
            via: data["details"]["via"].as_str().unwrap_or_default().to_owned(),
            asked_by: data["details"]["askedBy"].as_str().unwrap_or_default().to_owned(),
            reasons: if reasons.is_empty() {
                token_list(&data["explanation"]["tokens"])
            } else {
                reasons
            },
        });
    }
    rows
}

/// `GET /console/downloads`: the download log, filtered and paged.
pub async fn downloads(State(console): State<Console>, SignedIn(session): SignedIn, Query(filters): Query<DownloadFilters>) -> Response {
    let title = "Download log";
    let page = match console.api.get(&session.key, &filters.audits_path(PAGE, &filters.next)).await {
        Ok(page) => page,
        Err(failure) => return console.refused(title, Section::Downloads, &session, &failure),
    };
    let events = filters.kept(&page);
    let rows = downloads_of(&console, &session, &events, &mut HashMap::new()).await;
    let next = link_param(&page["links"]["next"], "next");
    let csv = format!("/console/downloads.csv?{}", query_string(filters.pairs()));
    let body = html! {
        p { "Every download or export that was decided (app files, data, images), newest first: who, which app, through which channel, and why it was allowed or denied." }
        form method="get" action="/console/downloads" class="filters" {
            div class="field" { label for="f-user" { "User (subject)" } input id="f-user" name="user" type="text" value=(filters.user); }
            div class="field" { label for="f-app" { "App id" } input id="f-app" name="app" type="text" value=(filters.app); }
            div class="field" { label for="f-since" { "From (date or RFC 3339)" } input id="f-since" name="since" type="text" placeholder="2026-12-01" value=(filters.since); }
            div class="field" { label for="f-until" { "Until" } input id="f-until" name="until" type="text" placeholder="2026-12-31" value=(filters.until); }
            button type="submit" { "Filter" }
        }
        p { a href=(csv) download="downloads.csv" { "Export these filters as CSV" } " (at most " (CSV_MAX_EVENTS) " events)" }
        @if !filters.app.trim().is_empty() {
            p class="muted" { "The app filter is applied to each page the audit API returns, so a page may show fewer rows than it holds." }
        }
        @if rows.is_empty() { p { "No download on this page." } } @else {
            table class="log" {
                caption class="visually-hidden" { "Downloads" }
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "User" } th scope="col" { "App" } th scope="col" { "Action" }
                    th scope="col" { "Decision" } th scope="col" { "Channel" } th scope="col" { "Why" } th scope="col" { "Explain" }
                } }
                tbody {
                    @for row in &rows {
                        tr id={ "event-" (row.seq) } {
                            td { time datetime=(row.time) { (row.time) } }
                            td { (row.user) }
                            td { a href={ "/console/apps/" (crate::segment(&row.app)) } { (row.app) } }
                            td { code { (row.action) } }
                            td { (verdict(row.allowed)) }
                            td {
                                (row.via)
                                @if !row.asked_by.is_empty() { br; span class="muted" { "asked by " (row.asked_by) } }
                            }
                            td { (row.reasons) }
                            td {
                                a href={ "/console/check?" (query_string([("user", row.user.as_str()), ("action", row.action.as_str()), ("resource", row.app.as_str()), ("via", row.via.as_str())])) } {
                                    "Why, now" span class="visually-hidden" { ": event " (row.seq) }
                                }
                            }
                        }
                    }
                }
            }
        }
        (next_link(next.map(|next| {
            let mut pairs = filters.pairs().to_vec();
            pairs.push(("next", next.as_str()));
            format!("/console/downloads?{}", query_string(pairs))
        })))
    };
    html(StatusCode::OK, layout::page(title, Section::Downloads, Some(&session), body))
}

/// `GET /console/downloads.csv`: the log under the same filters, as CSV.
pub async fn downloads_csv(State(console): State<Console>, SignedIn(session): SignedIn, Query(filters): Query<DownloadFilters>) -> Response {
    let mut subjects = HashMap::new();
    let mut out = String::from("time,user,app,space,action,decision,channel,asked_by,why,event_id\n");
    let mut next = String::new();
    let mut n_events = 0;
    loop {
        let page = match console.api.get(&session.key, &filters.audits_path(1000, &next)).await {
            Ok(page) => page,
            Err(failure) => return csv_failure(&failure),
        };
        let events = filters.kept(&page);
        for row in downloads_of(&console, &session, &events, &mut subjects).await {
            let decision = if row.allowed { "allow" } else { "deny" };
            let fields = [
                &row.time,
                &row.user,
                &row.app,
                &row.space,
                &row.action,
                decision,
                &row.via,
                &row.asked_by,
                &row.reasons,
                &row.seq,
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
            n_events += 1;
        }
        match link_param(&page["links"]["next"], "next") {
            Some(cursor) if n_events < CSV_MAX_EVENTS => next = cursor,
            _ => break,
        }
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"downloads.csv\""),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        out,
    )
        .into_response()
}

fn csv_failure(failure: &ApiFailure) -> Response {
    let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, format!("the API refused this ({}): {}\n", failure.status, failure.message)).into_response()
}

/// One CSV field: quoted when it needs to be, and never read as a formula by a spreadsheet.
pub(crate) fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The change history's query.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    next: String,
}

/// `GET /console/history`: the audit trail's changes as a timeline, with the chain's status.
pub async fn history(State(console): State<Console>, SignedIn(session): SignedIn, Query(query): Query<HistoryQuery>) -> Response {
    let title = "Change history";
    let types: Vec<&str> = EventType::ALL.iter().filter(|t| !t.is_decision()).map(|t| t.as_str()).collect();
    let types = types.join(",");
    let limit = PAGE.to_string();
    let path = format!(
        "/api/v1/audits?{}",
        query_string([("eventType", types.as_str()), ("limit", limit.as_str()), ("next", query.next.as_str())])
    );
    let page = console.api.get(&session.key, &path).await;
    let page = match page {
        Err(failure) if failure.status == 401 || failure.status == 403 => {
            return console.refused(title, Section::History, &session, &failure);
        }
        other => other,
    };
    let body = html! {
        @match &page {
            Err(failure) => {
                div class="chain broken" role="alert" {
                    p { strong { "Chain not verified." } " The audit API could not serve the trail: " (failure.message) }
                    p { "Run " code { "portcullis audit verify" } " against the database to find the first break." }
                }
            }
            Ok(page) => {
                @let events = page["data"].as_array().map(Vec::as_slice).unwrap_or_default();
                div class="chain ok" role="status" {
                    p {
                        strong { "Chain verified for what is shown." }
                        " The API checks every event's hash (keyed with the audit key when the server has one) and its indexed columns as it reads it, and serves none that fails; "
                        (events.len()) " events on this page passed."
                    }
                    p class="muted" { "The chain's links, its anchor and the signed checkpoints are checked whole by " code { "portcullis audit verify" } "." }
                }
                @if events.is_empty() { p { "No change recorded." } }
                ol class="timeline" {
                    @for event in events { (timeline_entry(event)) }
                }
                (next_link(link_param(&page["links"]["next"], "next").map(|next| format!("/console/history?{}", query_string([("next", next.as_str())])))))
            }
        }
    };
    html(StatusCode::OK, layout::page(title, Section::History, Some(&session), body))
}

/// An event type in words: `com.qlik.space.assignment.created` → `space assignment created`.
fn event_words(event_type: &str) -> String {
    let rest = event_type.strip_prefix("com.qlik.").unwrap_or(event_type);
    let rest = rest.strip_prefix("v1.").unwrap_or(rest);
    rest.replace(['.', '-'], " ")
}

fn timeline_entry(event: &Value) -> Markup {
    let data = &event["data"];
    let who = event["extensions"]["actor"]["sub"].as_str().unwrap_or("the system");
    let channel = data["channel"].as_str().unwrap_or_default();
    let resource = &data["resource"];
    let details = serde_json::to_string_pretty(&data["details"]).unwrap_or_default();
    let seq = event["id"].as_str().unwrap_or_default();
    html! {
        li id={ "change-" (seq) } {
            p class="when" { time datetime=(event["eventTime"].as_str().unwrap_or_default()) { (event["eventTime"].as_str().unwrap_or_default()) } }
            p class="what" {
                strong { (event_words(event["eventType"].as_str().unwrap_or_default())) }
                @if let Some(id) = resource["id"].as_str() { " · " (resource["kind"].as_str().unwrap_or("resource")) " " code { (id) } }
            }
            p class="who" {
                "by " code { (who) }
                @if !channel.is_empty() { " via " (channel) }
                " · event " (seq)
            }
            details {
                summary { "Details of event " (seq) }
                pre { (details) }
                p class="muted" { "Hash " code { (event["eventId"].as_str().unwrap_or_default()) } }
            }
        }
    }
}
