//! Access history over HTTP: `asOf` on the decision routes, and `POST /v1/access-diff`, who
//! gained and who lost which action on which resource between two moments, with the changes
//! (and their authors, from the change log) that could have caused each (`docs/history.md`).
//!
//! Attribution: a change between the two moments is named as a cause of a row when what it
//! touched meets what the row's decision reads — the row's user, the resource (or its
//! space), a group the user belongs to at either moment, a custom role the user holds at
//! either moment (directly, through a group, or through Everyone), Everyone's roles, the
//! tenant's settings or UserDefault. It is a superset: every change that moved the row is
//! named, with possibly a few that did not (a change to a group the user is in that moved
//! another action).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use portcullis_engine::AccessChange;
use portcullis_model::{Action, Tenant, Touched};
use portcullis_store::LoggedChange;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::err::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::{AppState, AsOf, Between, TenantState, View};
use crate::whatif::{AccessGroupBody, DEFAULT_PAGE, MAX_PAGE, Token, WhatIfCostBody, decode, encode, fingerprint, group_of};

/// At most this many causes are named per row (the newest are kept).
pub const MAX_CAUSES: usize = 20;

/// Reads an `asOf` (or `from`, `to`): a revision, as a number or digits, or an RFC 3339 time.
pub fn parse_as_of(value: &serde_json::Value, field: &'static str) -> Result<AsOf, ApiError> {
    let bad = || {
        ApiError::bad_request("bad_as_of", format!("`{field}` is neither a revision nor an RFC 3339 time: {value}"))
            .hint("a revision (`42`) or a time with its offset (`2026-03-03T12:00:00Z`)")
            .field(field)
    };
    match value {
        serde_json::Value::Number(n) => n.as_u64().map(AsOf::Revision).ok_or_else(bad),
        serde_json::Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map(AsOf::Revision).map_err(|_| bad())
        }
        serde_json::Value::String(text) => text.parse::<jiff::Timestamp>().map(|at| AsOf::Time(at.as_second())).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// The view at the moment `as_of` names, or `None` when the request names none (decide now).
pub async fn view_as_of(state: &AppState, tenant: &TenantState, as_of: Option<&serde_json::Value>) -> Result<Option<Arc<View>>, ApiError> {
    let Some(value) = as_of else { return Ok(None) };
    let revision = state.revision_as_of(tenant, parse_as_of(value, "asOf")?, "asOf").await?;
    Ok(Some(state.moment(tenant, revision).await?.view.clone()))
}

/// Two moments to compare.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessDiffRequest {
    /// The earlier moment: a revision or an RFC 3339 time.
    #[schema(value_type = String, example = "2026-03-01T00:00:00Z")]
    pub from: serde_json::Value,
    /// The later moment (default: now).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-03-03T12:00:00Z")]
    pub to: Option<serde_json::Value>,
    /// Only these users.
    #[serde(default)]
    pub users: Option<Vec<String>>,
    /// Only these actions.
    #[serde(default)]
    pub actions: Option<Vec<String>>,
    /// Only these spaces and items.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// Rows per page (1 to 10,000; default 1,000).
    #[serde(default)]
    pub page_size: Option<u64>,
    /// The `nextPageToken` of the previous page, with the same request.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// A change between the two moments that could have caused a row.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CauseBody {
    /// The revision its write reached.
    pub revision: u64,
    /// Its place in that write.
    pub position: u64,
    /// Its kind (`assign-role`, `join-group`, ...).
    pub change: &'static str,
    /// Who made it, as the change log keeps it (`{"actor": ..., "channel": ...}`).
    #[schema(value_type = Object)]
    pub author: serde_json::Value,
    /// When (RFC 3339).
    pub at: String,
}

/// One user gaining or losing one action on one resource between the moments.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDiffRowBody {
    /// The user's id.
    pub user: String,
    /// The action.
    pub action: String,
    /// The space or item's id; absent for a tenant-level action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `gained` or `lost`.
    pub change: &'static str,
    /// How the side that allows allows it (the explanation's tokens at that moment).
    pub path: String,
    /// The changes between that could have caused it, oldest first (at most 20, the newest).
    pub causes: Vec<CauseBody>,
}

/// Who gained and lost what between two moments.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDiffBody {
    /// The earlier revision.
    pub from: u64,
    /// The later revision.
    pub to: u64,
    /// How many changes were committed between.
    pub changes_between: usize,
    /// How many (user, action, resource) were gained.
    pub gained: usize,
    /// How many were lost.
    pub lost: usize,
    /// By action, in the catalogue's order.
    pub by_action: Vec<AccessGroupBody>,
    /// By path, the largest first.
    pub by_path: Vec<AccessGroupBody>,
    /// What was decided to find them.
    pub cost: WhatIfCostBody,
    /// This page of the rows, by user, action and resource.
    pub changes: Vec<AccessDiffRowBody>,
    /// The token of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// What a row's decision reads, at both moments.
struct Reads {
    user: String,
    resources: BTreeSet<String>,
    groups: BTreeSet<String>,
    roles: BTreeSet<String>,
}

fn reads(change: &AccessChange, before: &Tenant, after: &Tenant) -> Reads {
    let mut reads = Reads {
        user: change.user.to_string(),
        resources: BTreeSet::new(),
        groups: BTreeSet::new(),
        roles: BTreeSet::new(),
    };
    for tenant in [before, after] {
        if let Some(user) = tenant.users.get(&change.user) {
            reads.groups.extend(user.groups.iter().cloned());
            reads.roles.extend(user.roles.iter().map(|r| r.role.clone()));
            for group in &user.groups {
                reads
                    .roles
                    .extend(tenant.groups.get(group).into_iter().flat_map(|g| g.roles.iter().cloned()));
            }
        }
        reads.roles.extend(tenant.everyone_roles.iter().cloned());
        if let Some(resource) = &change.resource {
            reads.resources.insert(resource.to_string());
            if let Some(space) = tenant.content.get(resource).and_then(|item| item.space.clone()) {
                reads.resources.insert(space);
            }
        }
    }
    reads
}

fn could_cause(touched: &Touched, reads: &Reads) -> bool {
    touched.settings
        || touched.user_default
        || touched.everyone_roles
        || touched.users.contains(&reads.user)
        || reads.resources.iter().any(|r| touched.spaces.contains(r) || touched.content.contains(r))
        || reads.groups.iter().any(|g| touched.groups.contains(g))
        || reads.roles.iter().any(|r| touched.custom_roles.contains(r))
}

fn cause_of(logged: &LoggedChange) -> CauseBody {
    CauseBody {
        revision: logged.revision,
        position: logged.position,
        change: logged.change.kind(),
        author: logged.author.clone(),
        at: portcullis_store::rfc3339_millis(logged.at.saturating_mul(1000)),
    }
}

fn row_of(change: &AccessChange, between: &Between) -> AccessDiffRowBody {
    let reads = reads(change, &between.before, &between.after);
    let mut causes: Vec<CauseBody> = between
        .log
        .iter()
        .rev()
        .filter(|(_, touched)| could_cause(touched, &reads))
        .take(MAX_CAUSES)
        .map(|(logged, _)| cause_of(logged))
        .collect();
    causes.reverse();
    AccessDiffRowBody {
        user: change.user.to_string(),
        action: change.action.as_str().to_owned(),
        resource: change.resource.as_deref().map(str::to_owned),
        change: if change.gained { "gained" } else { "lost" },
        path: change.path.to_string(),
        causes,
    }
}

/// Who gained and who lost which action on which resource between two moments of the tenant
/// (needs `user:manage` and `decision:ask-others`, as what-if), each row with the changes
/// between that could have caused it and their authors; counted and grouped by action and
/// by path as what-if does, listed in pages.
#[utoipa::path(
    post, path = "/v1/access-diff", tag = "decisions",
    request_body = AccessDiffRequest,
    responses(
        (status = 200, description = "The difference between the two moments", body = AccessDiffBody),
        (status = 400, description = "A field is not valid (`from` after `to`, an unknown action, a bad page token)", body = ErrorBody),
        (status = 403, description = "The caller may not manage users or ask about others", body = ErrorBody),
        (status = 404, description = "A moment is not in the retained history", body = ErrorBody),
        (status = 409, description = "A moment is a revision the tenant has not reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn access_diff(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AccessDiffRequest>,
) -> Result<Json<AccessDiffBody>, ApiError> {
    let now = caller.tenant.view().snapshot.clone();
    caller.require(&now, Action::UserManage)?;
    caller.require(&now, Action::DecisionAskOthers)?;
    let from = state.revision_as_of(&caller.tenant, parse_as_of(&body.from, "from")?, "from").await?;
    let to = match &body.to {
        Some(value) => state.revision_as_of(&caller.tenant, parse_as_of(value, "to")?, "to").await?,
        None => now.revision,
    };
    if from > to {
        return Err(
            ApiError::bad_request("bad_range", format!("`from` is revision {from}, after `to` (revision {to})"))
                .hint("name the earlier moment in `from`")
                .field("from"),
        );
    }
    let actions: Option<BTreeSet<Action>> = match &body.actions {
        Some(names) => Some(
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    Action::parse(name)
                        .ok_or_else(|| ApiError::bad_request("unknown_action", format!("unknown action `{name}`")).field(format!("actions[{i}]")))
                })
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let page_size = match body.page_size {
        None => DEFAULT_PAGE,
        Some(n @ 1..=10_000) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request("bad_page_size", format!("`pageSize` {n} is out of range"))
                .hint(format!("1 to {MAX_PAGE}"))
                .field("pageSize"));
        }
    };
    let q = fingerprint(&[
        serde_json::json!(from),
        serde_json::json!(to),
        serde_json::json!(body.users),
        serde_json::json!(body.actions),
        serde_json::json!(body.resources),
    ]);
    let after = body.page_token.as_deref().filter(|t| !t.is_empty()).map(|t| decode(t, &q)).transpose()?;
    let mut between = state.access_diff(&caller.tenant, from, to).await?;
    if body.users.is_some() || actions.is_some() || body.resources.is_some() {
        let users: Option<BTreeSet<&str>> = body.users.as_ref().map(|u| u.iter().map(String::as_str).collect());
        let resources: Option<BTreeSet<&str>> = body.resources.as_ref().map(|r| r.iter().map(String::as_str).collect());
        let diff = std::mem::take(&mut between.diff);
        between.diff = diff.retain(|c| {
            users.as_ref().is_none_or(|u| u.contains(&*c.user))
                && actions.as_ref().is_none_or(|a| a.contains(&c.action))
                && resources.as_ref().is_none_or(|r| c.resource.as_deref().is_some_and(|id| r.contains(id)))
        });
    }
    let diff = &between.diff;
    let start = match &after {
        None => 0,
        Some(token) => {
            let action = Action::parse(&token.action).ok_or_else(|| crate::whatif::bad_token("`pageToken` names an unknown action"))?;
            let key = (token.user.as_str(), action, token.resource.as_deref());
            diff.changes.partition_point(|c| (&*c.user, c.action, c.resource.as_deref()) <= key)
        }
    };
    let page: Vec<&AccessChange> = diff.changes.iter().skip(start).take(page_size).collect();
    let next_page_token = match page.last() {
        Some(last) if start + page.len() < diff.changes.len() => Some(encode(&Token {
            v: 1,
            q,
            user: last.user.to_string(),
            action: last.action.as_str().to_owned(),
            resource: last.resource.as_deref().map(str::to_owned),
        })),
        _ => None,
    };
    Ok(Json(AccessDiffBody {
        from,
        to,
        changes_between: between.log.len(),
        gained: diff.gained,
        lost: diff.lost,
        by_action: diff.by_action.iter().map(|g| group_of(diff, g)).collect(),
        by_path: diff.by_path.iter().map(|g| group_of(diff, g)).collect(),
        cost: WhatIfCostBody {
            users: diff.cost.users,
            spaces: diff.cost.spaces,
            items: diff.cost.items,
            pairs: diff.cost.pairs,
        },
        changes: page.into_iter().map(|c| row_of(c, &between)).collect(),
        next_page_token,
    }))
}
