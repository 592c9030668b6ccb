//! The audit trail over HTTP, in the shape of the Qlik audits API: `GET /api/v1/audits`
//! (filters `eventType`, `userId`, `eventTime=start/end`, `source`; `limit`; `next`/`prev`
//! cursors with absolute links; `sort` `-eventTime` (default) or `+eventTime`),
//! `/api/v1/audits/{id}`, `/audits/types`, `/audits/sources`, and `/audits/settings` (GET; PUT
//! is Portcullis's extension for the decision-log mode, sampling and retention).
//!
//! Reading is a decision like any other: the caller needs `audit:read` (TenantAdmin,
//! AuditAdmin); changing the settings needs `audit:manage` (TenantAdmin). Errors use
//! Qlik's envelope `{"errors":[{code,title,detail}],"traceId"}`.
//!
//! Every event is checked before it is served: its hash covers its body (under the audit key
//! that sealed it), its indexed columns agree with it, and it is keyed where this node knows
//! every event is. One that fails is never served as if intact: a listing leaves it out, a
//! read of it alone answers 500; either way it is logged as an error and counted.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use portcullis_model::Action;
use portcullis_qlik_api::route_table::RouteTable;
use portcullis_store::{AuditQuery, AuditSettings, ChainBreak, DecisionLogMode, DecisionLogPolicy, EventBody, EventType, SealedEvent, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::err::ApiError;
use crate::state::{AppState, TenantState};

/// Most events one page holds.
const MAX_LIMIT: usize = 100;

/// The audit routes (absolute paths), to merge into the app.
pub fn routes<S: Clone + Send + Sync + 'static>(state: AppState) -> RouteTable<S> {
    RouteTable::new()
        .add(__path_list, list)
        .add(__path_types, types)
        .add(__path_sources, sources)
        .add(__path_get_settings, get_settings)
        .add(__path_put_settings, put_settings)
        .add(__path_one, one)
        .with_state(state)
}

fn qlik_error(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Response {
    let trace = format!(
        "{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    );
    (
        status,
        Json(json!({ "errors": [{ "code": code, "title": title, "detail": detail.into(), "status": status.as_u16() }], "traceId": trace })),
    )
        .into_response()
}

/// One of the server's own errors in this API's envelope, with its status, message and hint (a
/// store failure's detail stays in the log, as everywhere).
fn in_envelope(error: ApiError) -> Response {
    let (code, title) = match error.status {
        StatusCode::BAD_REQUEST => ("AUDITS-2", "Bad request"),
        StatusCode::UNAUTHORIZED => ("AUDITS-1", "Unauthorized"),
        StatusCode::FORBIDDEN => ("AUDITS-3", "Forbidden"),
        StatusCode::NOT_FOUND => ("AUDITS-4", "Not found"),
        StatusCode::SERVICE_UNAVAILABLE => ("AUDITS-6", "Service unavailable"),
        _ => ("AUDITS-5", "Internal error"),
    };
    let detail = match error.body.hint {
        Some(hint) => format!("{}; {hint}", error.body.message),
        None => error.body.message,
    };
    qlik_error(error.status, code, title, detail)
}

/// A read of the trail that failed: a damaged or unverifiable trail is named (our own words,
/// pointing at `portcullis audit verify`); any other store failure keeps its detail in the log.
fn trail_failure(error: StoreError) -> Response {
    match error {
        StoreError::Corrupt(_) | StoreError::Integrity(_) | StoreError::KeyNeeded(_) => qlik_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AUDITS-5",
            "Internal error",
            format!("cannot read the audit trail: {error}"),
        ),
        other => in_envelope(other.into()),
    }
}

async fn reader(parts: &mut Parts, state: &AppState, action: Action) -> Result<Caller, Response> {
    // A missing credential is 401, but a store outage is 503 and an operator without a
    // tenant header is 400: the server's own status, in this API's envelope.
    let caller = Caller::from_request_parts(parts, state).await.map_err(in_envelope)?;
    if caller.may(&caller.tenant.view().snapshot, action) {
        Ok(caller)
    } else {
        Err(qlik_error(
            StatusCode::FORBIDDEN,
            "AUDITS-3",
            "Forbidden",
            match action {
                Action::AuditManage => format!("changing the audit settings needs `{action}` (TenantAdmin)"),
                _ => format!("reading the audit trail needs `{action}` (TenantAdmin or AuditAdmin)"),
            },
        ))
    }
}

/// The most damaged events one listing skips before it gives up (a table that bad is
/// a case for `portcullis audit verify`, not for paging around).
const MAX_SKIPPED: usize = 100;

/// Logs and counts an event a read refused: in `portcullis_audit_events_unreadable_total`
/// when its JSON does not parse, in `portcullis_audit_integrity_failures_total` otherwise.
fn report_refused(state: &AppState, tenant: &TenantState, fault: &ChainBreak) {
    if matches!(fault, ChainBreak::Unreadable { .. }) {
        tracing::warn!(tenant = %tenant.name, %fault, "audit event skipped: its stored JSON does not parse");
        state.metrics().record_unreadable_audit_event();
    } else {
        tracing::error!(tenant = %tenant.name, %fault, "audit event refused: it fails its integrity check; run `portcullis audit verify`");
        state.metrics().record_audit_integrity_failure();
    }
}

/// This node's own check on top of the store's: an unkeyed event where this node knows every
/// event is keyed ([`TenantState::audit_keyed_from`]) was rewritten without the key.
fn downgraded(tenant: &TenantState, sealed: &SealedEvent) -> Option<ChainBreak> {
    let keyed_from = tenant.audit_keyed_from?;
    (sealed.key_id.is_none() && sealed.seq >= keyed_from).then_some(ChainBreak::NotKeyed { seq: sealed.seq, keyed_from })
}

/// [`portcullis_store::Store::readable_audit_events`] with [`downgraded`] on top; each event
/// left out is logged and counted ([`report_refused`]); past [`MAX_SKIPPED`] of them the
/// listing fails.
async fn intact_events(state: &AppState, tenant: &TenantState, query: &AuditQuery) -> Result<Vec<(SealedEvent, EventBody)>, StoreError> {
    let (found, mut refused) = state.store().readable_audit_events(tenant.id, query).await?;
    let mut intact = Vec::with_capacity(found.len());
    for (sealed, body) in found {
        match downgraded(tenant, &sealed) {
            Some(fault) => refused.push(fault),
            None => intact.push((sealed, body)),
        }
    }
    if refused.len() > MAX_SKIPPED {
        return Err(StoreError::Corrupt(format!(
            "{} audit events of this listing fail their check; run `portcullis audit verify`",
            refused.len()
        )));
    }
    for fault in &refused {
        report_refused(state, tenant, fault);
    }
    Ok(intact)
}

fn base_url(state: &AppState, parts: &Parts) -> String {
    state.config().public_origin(&parts.headers)
}

/// One event in the Qlik shape.
fn event_json(base: &str, tenant: &str, seq: u64, hash: &str, body: &EventBody) -> Value {
    let source = EventType::parse(&body.event_type).map(EventType::source).unwrap_or("com.qlik/portcullis");
    let resource = body.resource.as_ref();
    json!({
        "id": seq.to_string(),
        "eventId": hash,
        "eventTime": body.event_time,
        "eventType": body.event_type,
        "eventTypeVersion": "1.0",
        "source": source,
        "tenantId": tenant,
        "userId": body.actor.user,
        "contentType": "application/json",
        "data": {
            "action": body.action,
            "channel": body.channel,
            "resource": body.resource,
            "decision": body.decision,
            "explanation": body.explanation,
            "details": body.data,
        },
        "extensions": {
            "actor": { "sub": body.actor.client.as_ref().or(body.actor.user.as_ref()), "subType": if body.actor.client.is_some() { "client" } else { "user" } },
            "ownerId": resource.and_then(|r| r.owner.clone()),
            "spaceId": resource.and_then(|r| r.space.clone()),
            "topLevelResourceId": resource.map(|r| r.id.clone()),
        },
        "links": { "self": { "href": format!("{base}/api/v1/audits/{seq}") } },
    })
}

/// One audit event in Qlik's shape.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handlers write it with json!")]
pub(crate) struct AuditEvent {
    /// The event's sequence number in its tenant's chain.
    id: String,
    /// Its hash in the chain.
    event_id: String,
    /// RFC 3339.
    event_time: String,
    /// `com.qlik.v1.<noun>.<verb>`.
    event_type: String,
    /// `1.0`.
    event_type_version: String,
    /// The service that emitted it.
    source: String,
    /// The tenant.
    tenant_id: String,
    /// The acting user, when one acted.
    user_id: Option<String>,
    /// `application/json`.
    content_type: String,
    /// Action, channel, resource, decision and its explanation, change details.
    #[schema(value_type = Object)]
    data: Value,
    /// The actor, owner, space and top-level resource.
    #[schema(value_type = Object)]
    extensions: Value,
    /// `self`.
    links: portcullis_qlik_api::paging::SelfLink,
}

/// `GET /api/v1/audits`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handlers write it with json!")]
pub(crate) struct AuditPage {
    /// The page.
    data: Vec<AuditEvent>,
    /// `self`, and `next` / `prev` when there are more.
    links: portcullis_qlik_api::paging::Links,
}

/// `GET /api/v1/audits/types` and `/sources`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handlers write it with json!")]
pub(crate) struct AuditNames {
    /// The names.
    data: Vec<String>,
    /// `self`.
    links: portcullis_qlik_api::paging::SelfLink,
}

/// The audit settings.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handlers write it with json!")]
pub(crate) struct AuditSettingsData {
    /// Always true: expired events are archived, not dropped.
    #[schema(rename = "ArchiveEnabled")]
    archive_enabled: bool,
    /// Retention in seconds; none means kept for ever.
    #[schema(rename = "EventTTL")]
    event_ttl: Option<u64>,
    /// `off`, `denies` or `all`.
    #[schema(rename = "decisionLogMode")]
    decision_log_mode: String,
    /// Sampling of logged decisions, per million.
    #[schema(rename = "samplePerMillion")]
    sample_per_million: u32,
    /// Retention in days; none means kept for ever.
    #[schema(rename = "retentionDays")]
    retention_days: Option<u32>,
}

/// `GET` and `PUT /api/v1/audits/settings`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes a response for the OpenAPI document; the handlers write it with json!")]
pub(crate) struct AuditSettingsBody {
    /// The settings.
    data: AuditSettingsData,
}

/// A change of the audit settings; absent fields keep their value.
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes a request body for the OpenAPI document; the handler reads `SettingsBody`")]
pub(crate) struct AuditSettingsChange {
    /// `off`, `denies` or `all`.
    decision_log_mode: Option<String>,
    /// 0 to 1,000,000.
    #[schema(maximum = 1_000_000)]
    sample_per_million: Option<u32>,
    /// Days to keep events before they may be archived.
    retention_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    event_type: Option<String>,
    user_id: Option<String>,
    event_time: Option<String>,
    source: Option<String>,
    limit: Option<usize>,
    next: Option<String>,
    prev: Option<String>,
    sort: Option<String>,
}

/// Audit events, newest first by default, in Qlik's audits shape.
#[utoipa::path(get, path = "/api/v1/audits", tag = "audits", params(("eventType" = Option<String>, Query, description = "Comma list"), ("userId" = Option<String>, Query, description = "Actor"), ("eventTime" = Option<String>, Query, description = "`start/end` (RFC 3339)"), ("source" = Option<String>, Query, description = "Source service"), ("limit" = Option<usize>, Query, description = "1-100, default 10"), ("next" = Option<String>, Query, description = "Cursor"), ("prev" = Option<String>, Query, description = "Cursor"), ("sort" = Option<String>, Query, description = "`-eventTime` (default) or `+eventTime`")), responses((status = 200, description = "A page of events", body = AuditPage), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let caller = match reader(&mut parts, &state, Action::AuditRead).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let params: ListParams = match Query::<ListParams>::try_from_uri(&parts.uri) {
        Ok(Query(p)) => p,
        Err(e) => return qlik_error(StatusCode::BAD_REQUEST, "AUDITS-2", "Bad request", e.body_text()),
    };
    let newest_first = match params.sort.as_deref() {
        None | Some("-eventTime") => true,
        Some("+eventTime") => false,
        Some(other) => {
            return qlik_error(
                StatusCode::BAD_REQUEST,
                "AUDITS-2",
                "Bad request",
                format!("unsupported sort `{other}`; use `-eventTime` or `+eventTime`"),
            );
        }
    };
    let limit = params.limit.unwrap_or(10).clamp(1, MAX_LIMIT);
    let mut query = AuditQuery {
        limit: limit + 1,
        newest_first,
        ..AuditQuery::default()
    };
    if let Some(types) = &params.event_type {
        query.event_types = types.split(',').map(str::to_owned).collect();
    }
    if let Some(source) = &params.source {
        let of_source: Vec<String> = EventType::ALL
            .iter()
            .filter(|t| t.source() == source)
            .map(|t| t.as_str().to_owned())
            .collect();
        query.event_types = if query.event_types.is_empty() {
            of_source
        } else {
            query.event_types.into_iter().filter(|t| of_source.contains(t)).collect()
        };
        if query.event_types.is_empty() {
            query.event_types = vec!["(none)".to_owned()];
        }
    }
    query.user = params.user_id.clone();
    if let Some(range) = &params.event_time {
        let Some((start, end)) = range.split_once('/') else {
            return qlik_error(
                StatusCode::BAD_REQUEST,
                "AUDITS-2",
                "Bad request",
                "`eventTime` is an interval `start/end` (RFC 3339)",
            );
        };
        query.since = (!start.is_empty()).then(|| start.to_owned());
        query.until = (!end.is_empty()).then(|| end.to_owned());
    }
    // Cursors are sequence numbers: `next` continues past the last item shown, `prev` goes back.
    let cursor = |text: &str| text.strip_prefix('s').and_then(|n| n.parse::<u64>().ok());
    let going_back = params.prev.is_some();
    match (params.next.as_deref().map(cursor), params.prev.as_deref().map(cursor)) {
        (Some(None), _) | (_, Some(None)) => {
            return qlik_error(
                StatusCode::BAD_REQUEST,
                "AUDITS-2",
                "Bad request",
                "unknown cursor; follow `links.next.href`",
            );
        }
        (Some(Some(seq)), _) => {
            if newest_first {
                query.before_seq = Some(seq)
            } else {
                query.after_seq = Some(seq)
            }
        }
        (_, Some(Some(seq))) => {
            query.newest_first = !newest_first;
            if newest_first {
                query.after_seq = Some(seq)
            } else {
                query.before_seq = Some(seq)
            }
        }
        _ => {}
    }
    let mut found = match intact_events(&state, &caller.tenant, &query).await {
        Ok(found) => found,
        Err(e) => return trail_failure(e),
    };
    let more = found.len() > limit;
    found.truncate(limit);
    if going_back {
        found.reverse();
    }
    let base = base_url(&state, &parts);
    let data: Vec<Value> = found
        .iter()
        .map(|(sealed, body)| event_json(&base, &caller.tenant.name, sealed.seq, &sealed.hash, body))
        .collect();
    let mut keep = String::new();
    for (key, value) in [
        ("eventType", &params.event_type),
        ("userId", &params.user_id),
        ("eventTime", &params.event_time),
        ("source", &params.source),
        ("sort", &params.sort),
    ] {
        if let Some(value) = value {
            keep.push_str(&format!("&{key}={}", portcullis_qlik_api::paging::encode_component(value)));
        }
    }
    let page = |cursor: &str, seq: u64| format!("{base}/api/v1/audits?limit={limit}{keep}&{cursor}=s{seq}");
    let mut links = json!({ "self": { "href": format!("{base}{}", parts.uri) } });
    let (first, last) = (found.first().map(|(s, _)| s.seq), found.last().map(|(s, _)| s.seq));
    if let Some(last) = last.filter(|_| more || going_back) {
        links["next"] = json!({ "href": page("next", last) });
    }
    if let Some(first) = first.filter(|_| params.next.is_some() || (going_back && more)) {
        links["prev"] = json!({ "href": page("prev", first) });
    }
    Json(json!({ "data": data, "links": links })).into_response()
}

/// One audit event.
#[utoipa::path(get, path = "/api/v1/audits/{id}", tag = "audits", params(("id" = String, Path, description = "Event id")), responses((status = 200, description = "The event", body = AuditEvent), (status = 403, description = "Needs audit:read"), (status = 404, description = "No such event")), security(("bearer" = [])))]
pub async fn one(State(state): State<AppState>, id: Result<Path<String>, PathRejection>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let id = match id {
        Ok(Path(id)) => id,
        Err(rejection) => return qlik_error(StatusCode::BAD_REQUEST, "AUDITS-2", "Bad request", rejection.body_text()),
    };
    let caller = match reader(&mut parts, &state, Action::AuditRead).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let not_found = || qlik_error(StatusCode::NOT_FOUND, "AUDITS-4", "Not found", format!("no audit event `{id}`"));
    let Ok(seq) = id.parse::<u64>() else { return not_found() };
    let refused = |fault: ChainBreak| {
        report_refused(&state, &caller.tenant, &fault);
        qlik_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AUDITS-5",
            "Internal error",
            format!("audit event {seq} fails its integrity check: {fault}; run `portcullis audit verify`"),
        )
    };
    let found = state.store().audit_event(caller.tenant.id, seq).await;
    if let Ok(Some((sealed, _))) = &found
        && let Some(fault) = downgraded(&caller.tenant, sealed)
    {
        return refused(fault);
    }
    match found {
        Err(StoreError::Integrity(fault)) => refused(fault),
        Ok(Some((sealed, body))) => Json(event_json(
            &base_url(&state, &parts),
            &caller.tenant.name,
            sealed.seq,
            &sealed.hash,
            &body,
        ))
        .into_response(),
        Ok(None) => not_found(),
        Err(e) => trail_failure(e),
    }
}

/// Every event type.
#[utoipa::path(get, path = "/api/v1/audits/types", tag = "audits", responses((status = 200, description = "Every event type", body = AuditNames), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
pub async fn types(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if let Err(response) = reader(&mut parts, &state, Action::AuditRead).await {
        return response;
    }
    let data: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    Json(json!({ "data": data, "links": { "self": { "href": format!("{}/api/v1/audits/types", base_url(&state, &parts)) } } })).into_response()
}

/// Every event source.
#[utoipa::path(get, path = "/api/v1/audits/sources", tag = "audits", responses((status = 200, description = "Every source", body = AuditNames), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
pub async fn sources(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if let Err(response) = reader(&mut parts, &state, Action::AuditRead).await {
        return response;
    }
    let data: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.source()).collect();
    Json(json!({ "data": data, "links": { "self": { "href": format!("{}/api/v1/audits/sources", base_url(&state, &parts)) } } })).into_response()
}

fn settings_json(settings: &AuditSettings) -> Value {
    let mode = match settings.policy.mode {
        DecisionLogMode::Off => "off",
        DecisionLogMode::Denies => "denies",
        DecisionLogMode::All => "all",
    };
    json!({ "data": {
        "ArchiveEnabled": true,
        "EventTTL": settings.retention_days.map(|d| u64::from(d) * 86_400),
        "decisionLogMode": mode,
        "samplePerMillion": settings.policy.sample_per_million,
        "retentionDays": settings.retention_days,
    } })
}

/// The tenant's audit settings (decision-log mode, sampling, retention).
#[utoipa::path(get, path = "/api/v1/audits/settings", tag = "audits", responses((status = 200, description = "The settings", body = AuditSettingsBody), (status = 403, description = "Needs audit:read")), security(("bearer" = [])))]
pub async fn get_settings(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let caller = match reader(&mut parts, &state, Action::AuditRead).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state.store().audit_settings(caller.tenant.id).await {
        Ok(settings) => Json(settings_json(&settings)).into_response(),
        Err(e) => in_envelope(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsBody {
    decision_log_mode: Option<DecisionLogMode>,
    sample_per_million: Option<u32>,
    retention_days: Option<u32>,
}

/// Changes the audit settings (TenantAdmin): `{decisionLogMode: off|denies|all, samplePerMillion, retentionDays}`.
#[utoipa::path(put, path = "/api/v1/audits/settings", tag = "audits", request_body = AuditSettingsChange, responses((status = 200, description = "The new settings", body = AuditSettingsBody), (status = 400, description = "Bad value"), (status = 403, description = "Needs audit:manage (TenantAdmin)")), security(("bearer" = [])))]
pub async fn put_settings(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match reader(&mut parts, &state, Action::AuditManage).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    const SETTINGS_BODY_BYTES: usize = 64 * 1024;
    let bytes = match axum::body::to_bytes(body, SETTINGS_BODY_BYTES).await {
        Ok(bytes) => bytes,
        // Over this route's limit (or the server's): 413, like every other route.
        Err(e) if e.to_string().contains("length limit") => {
            return crate::ops::qlik_error(413, format!("the request body is longer than {SETTINGS_BODY_BYTES} bytes"));
        }
        Err(e) => return qlik_error(StatusCode::BAD_REQUEST, "AUDITS-2", "Bad request", e.to_string()),
    };
    let change: SettingsBody = match serde_json::from_slice(&bytes) {
        Ok(change) => change,
        Err(e) => {
            return qlik_error(
                StatusCode::BAD_REQUEST,
                "AUDITS-2",
                "Bad request",
                format!("{e}; fields: decisionLogMode (off, denies, all), samplePerMillion (0-1000000), retentionDays"),
            );
        }
    };
    if change.sample_per_million.is_some_and(|s| s > 1_000_000) {
        return qlik_error(StatusCode::BAD_REQUEST, "AUDITS-2", "Bad request", "samplePerMillion is at most 1000000");
    }
    let mut settings = match state.store().audit_settings(caller.tenant.id).await {
        Ok(settings) => settings,
        Err(e) => return in_envelope(e.into()),
    };
    let policy = DecisionLogPolicy {
        mode: change.decision_log_mode.unwrap_or(settings.policy.mode),
        sample_per_million: change.sample_per_million.unwrap_or(settings.policy.sample_per_million),
    };
    settings.policy = policy;
    if change.retention_days.is_some() {
        settings.retention_days = change.retention_days;
    }
    if let Err(e) = state.store().set_audit_settings(caller.tenant.id, &settings, &caller.author()).await {
        return in_envelope(e.into());
    }
    caller.tenant.set_audit_policy(policy);
    Json(settings_json(&settings)).into_response()
}
