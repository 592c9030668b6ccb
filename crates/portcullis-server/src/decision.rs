//! The decision API: `/v1/check`, `/v1/check/batch`, `/v1/list-resources`, `/v1/list-users`.
//! Every route decides on one immutable view of the caller's tenant; asking about another
//! user is itself authorized first, so a caller without that right learns nothing about
//! who or what exists.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use portcullis_engine::{
    Channel, ClientIdx, Decision, RawRequest, RequestError, Resource, SpaceIdx, TenantRights, UserIdx, allows, decide, resolve, resolve_resource,
};
use portcullis_model::{Action, ContentKind, ResourceKind};

use crate::auth::Caller;
use crate::decision_log::DecisionEvents;
use crate::dto::*;
use crate::err::{ApiError, ErrorBody};
use crate::extract::{ApiJson, MinRevision};
use crate::state::{AppState, View};

/// At most this many checks in one batch.
pub const MAX_BATCH: usize = 100_000;
/// Default page size of the list routes.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page size of the list routes.
const MAX_LIMIT: u32 = 1000;

/// Decides a raw request on a view; `session` reads the user's session when there is one
/// (the rights its login froze, on whichever node it was made), else the user's rights now (as
/// a fresh login would freeze them).
pub(crate) fn decide_raw(view: &View, raw: &RawRequest<'_>, explain: bool) -> Result<Decision, RequestError> {
    let resolved = resolve(&view.snapshot, raw)?;
    Ok(decide(
        &view.snapshot,
        &resolved.request(session(view, resolved.user, resolved.channel), explain),
    ))
}

/// For a session: the rights the user's last login froze, if there is one.
pub(crate) fn session(view: &View, user: UserIdx, channel: Channel<ClientIdx>) -> Option<&TenantRights> {
    match channel {
        Channel::Session => view.sessions.rights(&view.snapshot.user(user).id, portcullis_store::now()),
        Channel::ApiKey | Channel::OAuth(_) => None,
    }
}

/// The channel a request names (`via`), parsed once here; absent, an API key: a caller of the
/// decision API is a program.
/// The default is borrowed, not cloned: a batch's checks mostly take the batch's channel.
pub(crate) fn channel_named<'a>(via: Option<&str>, default: &'a Channel) -> Result<std::borrow::Cow<'a, Channel>, ApiError> {
    match via {
        Some(text) => Ok(std::borrow::Cow::Owned(text.parse()?)),
        None => Ok(std::borrow::Cow::Borrowed(default)),
    }
}

/// Adds a decision's event to `events` when the tenant's policy logs it (data-leaving actions
/// always, to be stored before the answer). The explanation is worked out here when the caller
/// did not ask for it.
pub(crate) fn log_decision(events: &mut DecisionEvents, caller: &Caller, view: &View, raw: &RawRequest<'_>, decision: &Decision) {
    let data_leaving = Action::parse(raw.action).is_some_and(Action::is_data_leaving);
    let sample_key = crate::decision_log::sample_key(&[raw.user, raw.action, raw.resource.unwrap_or("")]);
    if !caller.tenant.audit_policy().should_log(data_leaving, decision.allowed, sample_key) {
        return;
    }
    let explained;
    let decision = if decision.explanation.reasons.is_empty() {
        match decide_raw(view, raw, true) {
            Ok(with_reasons) => {
                explained = with_reasons;
                &explained
            }
            Err(_) => decision,
        }
    } else {
        decision
    };
    let decided = crate::decision_log::Decided {
        author: caller.author(),
        user: raw.user,
        via: raw.via,
        action: raw.action,
        resource: raw.resource,
    };
    events.push(crate::decision_log::decision_event(&view.snapshot, &decided, decision), data_leaving);
}

/// Decides one request.
#[utoipa::path(
    post, path = "/v1/check", tag = "decisions",
    request_body = CheckRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "The decision", body = DecisionBody),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 401, description = "No usable credential", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this user", body = ErrorBody),
        (status = 404, description = "No such user, resource or client in the caller's tenant (at `asOf`), or `asOf` is not in the retained history", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<CheckRequest>,
) -> Result<Json<DecisionBody>, ApiError> {
    let now = state.view_at_least(&caller.tenant, min.or(body.min_revision)).await?;
    // Who may ask is decided now; what is answered, at the moment asked about.
    caller.check_may_ask_about(&now.snapshot, &body.user)?;
    let past = crate::history::view_as_of(&state, &caller.tenant, body.as_of.as_ref()).await?;
    let logged = past.is_none();
    let view = past.unwrap_or(now);
    let via = channel_named(body.via.as_deref(), &Channel::ApiKey)?;
    let raw = RawRequest {
        user: &body.user,
        via: &via,
        action: &body.action,
        resource: body.resource.as_deref(),
    };
    let decision = decide_raw(&view, &raw, body.explain)?;
    // A question about the past is not a decision taken now: it is not logged as one.
    if logged {
        let mut events = DecisionEvents::default();
        log_decision(&mut events, &caller, &view, &raw, &decision);
        events.store(state.decision_log(), caller.tenant.id).await?;
    }
    state
        .metrics()
        .record_decisions(u64::from(decision.allowed), u64::from(!decision.allowed));
    Ok(Json(DecisionBody::new(&decision, view.snapshot.revision, body.explain)))
}

/// Decides many requests on one snapshot; a check with an error does not fail the others.
#[utoipa::path(
    post, path = "/v1/check/batch", tag = "decisions",
    request_body = BatchRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "One result per check, in order", body = BatchResponse),
        (status = 400, description = "The body is not valid", body = ErrorBody),
        (status = 401, description = "No usable credential", body = ErrorBody),
        (status = 404, description = "`asOf` is not in the retained history", body = ErrorBody),
        (status = 413, description = "The body is larger than 16 MiB", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn check_batch(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    if body.checks.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!("{} checks in one batch; at most {MAX_BATCH}", body.checks.len()),
        )
        .hint("split the batch")
        .field("checks"));
    }
    let now = state.view_at_least(&caller.tenant, min.or(body.min_revision)).await?;
    // Who may ask is decided now; what is answered, at the moment asked about (not logged).
    let past = crate::history::view_as_of(&state, &caller.tenant, body.as_of.as_ref()).await?;
    let logged = past.is_none();
    let view = past.unwrap_or_else(|| now.clone());
    let default_via = channel_named(body.via.as_deref(), &Channel::ApiKey)?.into_owned();
    let mut may_ask_others: Option<bool> = None;
    let mut results = Vec::with_capacity(body.checks.len());
    let mut events = DecisionEvents::default();
    let (mut n_allowed, mut n_denied) = (0u64, 0u64);
    for (idx, check) in body.checks.iter().enumerate() {
        let allowed_to_ask = caller.user_id() == Some(check.user.as_str())
            || *may_ask_others.get_or_insert_with(|| caller.may(&now.snapshot, Action::DecisionAskOthers));
        let outcome = if allowed_to_ask {
            channel_named(check.via.as_deref(), &default_via).and_then(|via| {
                let raw = RawRequest {
                    user: &check.user,
                    via: &via,
                    action: &check.action,
                    resource: check.resource.as_deref(),
                };
                let decision = decide_raw(&view, &raw, body.explain)?;
                if logged {
                    log_decision(&mut events, &caller, &view, &raw, &decision);
                }
                Ok(decision)
            })
        } else {
            caller.check_may_ask_about(&now.snapshot, &check.user).map(|()| Decision {
                allowed: false,
                explanation: Default::default(),
            })
        };
        results.push(match outcome {
            Ok(decision) => {
                if decision.allowed {
                    n_allowed += 1;
                } else {
                    n_denied += 1;
                }
                BatchResult {
                    decision: decision.verdict(),
                    allowed: decision.allowed,
                    explanation: body.explain.then(|| ExplanationBody::from_explanation(&decision.explanation)),
                    error: None,
                }
            }
            Err(error) => BatchResult {
                decision: "deny",
                allowed: false,
                explanation: None,
                error: Some(error.within(&format!("checks[{idx}]")).body),
            },
        });
    }
    events.store(state.decision_log(), caller.tenant.id).await?;
    state.metrics().record_decisions(n_allowed, n_denied);
    Ok(Json(BatchResponse {
        revision: view.snapshot.revision,
        results,
    }))
}

/// The user and channel of a list request.
fn user_channel(view: &View, user: &str, via: Option<&str>) -> Result<(UserIdx, Channel<ClientIdx>), ApiError> {
    let snapshot = &view.snapshot;
    let user_idx = snapshot
        .user_idx(user)
        .ok_or_else(|| ApiError::from(RequestError::UnknownUser(user.to_owned())))?;
    Ok((user_idx, resolve_channel(view, via)?))
}

/// The channel a list request names, its client looked up.
fn resolve_channel(view: &View, via: Option<&str>) -> Result<Channel<ClientIdx>, ApiError> {
    channel_named(via, &Channel::ApiKey)?.try_map_client(|client| {
        view.snapshot
            .client_idx(client)
            .ok_or_else(|| RequestError::UnknownClient(client.clone()).into())
    })
}

fn parse_action(name: &str) -> Result<Action, ApiError> {
    Action::parse(name).ok_or_else(|| RequestError::UnknownAction(name.to_owned()).into())
}

fn page_limit(limit: Option<u32>) -> Result<usize, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::bad_request("bad_limit", "`limit` must be at least 1").field("limit")),
        n if n > MAX_LIMIT => Err(ApiError::bad_request("bad_limit", format!("`limit` is {n}; at most {MAX_LIMIT}")).field("limit")),
        n => Ok(n as usize),
    }
}

fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request("bad_cursor", "the cursor does not name an item of this tenant any more")
        .hint("start again without a cursor")
        .field("cursor")
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad_cursor())?;
    String::from_utf8(bytes).map_err(|_| bad_cursor())
}

/// Lists the resources a user may take an action on, one page at a time (resumes after the
/// cursor's item, so a page stays valid across writes).
#[utoipa::path(
    post, path = "/v1/list-resources", tag = "decisions",
    request_body = ListResourcesRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "One page", body = ListResourcesResponse),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 403, description = "The caller may not ask about this user", body = ErrorBody),
        (status = 404, description = "No such user or client (at `asOf`), or `asOf` is not in the retained history", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_resources(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<ListResourcesRequest>,
) -> Result<Json<ListResourcesResponse>, ApiError> {
    let now = state.view_at_least(&caller.tenant, min.or(body.min_revision)).await?;
    caller.check_may_ask_about(&now.snapshot, &body.user)?;
    let view = crate::history::view_as_of(&state, &caller.tenant, body.as_of.as_ref())
        .await?
        .unwrap_or(now);
    let action = parse_action(&body.action)?;
    let limit = page_limit(body.limit)?;
    let (user, channel) = user_channel(&view, &body.user, body.via.as_deref())?;
    let snapshot = &view.snapshot;
    let after = body.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut resources = Vec::new();
    let session = session(&view, user, channel);
    let allowed = |resource| allows(snapshot, user, channel, session, action, resource);
    let mut more = false;
    match action.resource_kind() {
        ResourceKind::Tenant => {
            return Err(ApiError::bad_request(
                "tenant_action",
                format!("`{action}` is a tenant-level action: it has no resources to list"),
            )
            .hint("use /v1/check for tenant-level actions")
            .field("action"));
        }
        ResourceKind::Space => {
            let start = match &after {
                Some(id) => snapshot.space_idx(id).ok_or_else(bad_cursor)?.0 as usize + 1,
                None => 0,
            };
            for idx in start..snapshot.spaces.len() {
                if resources.len() == limit {
                    more = true;
                    break;
                }
                let Some(space) = snapshot.spaces.get(idx) else { continue };
                if allowed(Resource::Space(SpaceIdx(idx as u32))) {
                    resources.push(ResourceBody {
                        id: space.id.to_string(),
                        name: space.name.to_string(),
                        kind: "space",
                    });
                }
            }
        }
        kind => {
            let wanted = if kind == ResourceKind::App {
                ContentKind::App
            } else {
                ContentKind::DataConnection
            };
            let start = match &after {
                Some(id) => snapshot.content_idx(id).ok_or_else(bad_cursor)?.0 as usize + 1,
                None => 0,
            };
            // The engine's listing path: grant paths worked out once per space, then one look
            // per item (equal to deciding every item; the engine's property test checks it).
            for item_idx in portcullis_engine::permitted_content(snapshot, user, channel, session, action).filter(|i| i.0 as usize >= start) {
                if resources.len() == limit {
                    more = true;
                    break;
                }
                let item = snapshot.content_item(item_idx);
                debug_assert_eq!(item.kind, wanted);
                resources.push(ResourceBody {
                    id: item.id.to_string(),
                    name: item.name.to_string(),
                    kind: item.kind.as_str(),
                });
            }
        }
    }
    let next_cursor = if more { resources.last().map(|r| encode_cursor(&r.id)) } else { None };
    Ok(Json(ListResourcesResponse {
        revision: snapshot.revision,
        resources,
        next_cursor,
    }))
}

/// Lists the users who may take an action on a resource (needs the right to ask about others).
#[utoipa::path(
    post, path = "/v1/list-users", tag = "decisions",
    request_body = ListUsersRequest,
    params(("Portcullis-Min-Revision" = Option<u64>, Header, description = "Consistency token: answer at this tenant revision or later")),
    responses(
        (status = 200, description = "One page", body = ListUsersResponse),
        (status = 400, description = "A field is not valid", body = ErrorBody),
        (status = 403, description = "The caller may not ask about other users", body = ErrorBody),
        (status = 404, description = "No such resource or client (at `asOf`), or `asOf` is not in the retained history", body = ErrorBody),
        (status = 409, description = "minRevision not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    min: MinRevision,
    ApiJson(body): ApiJson<ListUsersRequest>,
) -> Result<Json<ListUsersResponse>, ApiError> {
    let now = state.view_at_least(&caller.tenant, min.or(body.min_revision)).await?;
    if !caller.may(&now.snapshot, Action::DecisionAskOthers) {
        return Err(ApiError::forbidden("listing users needs the right to ask about other users")
            .hint("the role TenantAdmin, or a custom role with `evaluate-decisions-for-others: allowed`"));
    }
    let view = crate::history::view_as_of(&state, &caller.tenant, body.as_of.as_ref())
        .await?
        .unwrap_or(now);
    let action = parse_action(&body.action)?;
    let resource = resolve_resource(&view.snapshot, action, body.resource.as_deref())?;
    let limit = page_limit(body.limit)?;
    let channel = resolve_channel(&view, body.via.as_deref())?;
    let snapshot = &view.snapshot;
    let start = match body.cursor.as_deref().map(decode_cursor).transpose()? {
        Some(id) => snapshot.user_idx(&id).ok_or_else(bad_cursor)?.0 as usize + 1,
        None => 0,
    };
    let mut users = Vec::new();
    let mut more = false;
    for idx in start..snapshot.users.len() {
        if users.len() == limit {
            more = true;
            break;
        }
        if snapshot.users.get(idx).is_none() {
            continue;
        }
        let user = UserIdx(idx as u32);
        if allows(snapshot, user, channel, session(&view, user, channel), action, resource) {
            let info = snapshot.user(user);
            users.push(UserBody {
                id: info.id.to_string(),
                name: info.name.to_string(),
            });
        }
    }
    let next_cursor = if more { users.last().map(|u| encode_cursor(&u.id)) } else { None };
    Ok(Json(ListUsersResponse {
        revision: snapshot.revision,
        users,
        next_cursor,
    }))
}
