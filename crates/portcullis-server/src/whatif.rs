//! `POST /v1/what-if`: what a proposed set of changes would do to effective permissions, without
//! making them ([`crate::state::TenantState::what_if`], the engine's `what_if`).
//!
//! The answer counts the gains and losses, groups them by action and by path (the explanation
//! of the side that allows: role, group, space role, share, ...) with a few samples each, and
//! lists them in pages (`pageSize`, `pageToken`); with `Accept: application/x-ndjson` it is the
//! whole list instead, one JSON object a line. A page token holds the last change given and a
//! fingerprint of the proposal: the next page resumes after that change in the list's order (user,
//! action, resource), so pages neither repeat nor skip across writes; a token sent with another
//! proposal is refused. A change the model would refuse is answered 400 naming its index, and
//! nothing is applied.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portcullis_engine::{AccessChange, AccessDiff, AccessGroup};
use portcullis_model::{Action, Change};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::err::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::{AppState, WhatIfFailure};

/// At most this many changes in one proposal.
pub const MAX_CHANGES: usize = 1_000;
/// Changes per page when the request does not say.
pub const DEFAULT_PAGE: usize = 1_000;
/// The largest page.
pub const MAX_PAGE: usize = 10_000;
/// The media type of the whole list, one change a line.
pub const NDJSON: &str = "application/x-ndjson";

/// A proposal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhatIfRequest {
    /// The changes, in order, as the change log writes them (`{"change": "assignRole", "role":
    /// "Exporters", "target": {"group": "finance"}}`, ...): any write the model accepts.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<serde_json::Value>,
    /// Changes per page (1 to 10,000; default 1,000).
    #[serde(default)]
    pub page_size: Option<u64>,
    /// The `nextPageToken` of the previous page, with the same `changes`.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// One user gaining or losing one action on one resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessChangeBody {
    /// The user's id.
    pub user: String,
    /// The action.
    pub action: String,
    /// The space or item's id; absent for a tenant-level action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// `gained` or `lost`.
    pub change: &'static str,
    /// How the side that allows allows it: the explanation's tokens (`role:Exporters group:finance`).
    pub path: String,
}

/// Changes sharing an action or a path.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessGroupBody {
    /// The action's name, or the path.
    pub key: String,
    /// How many are gained.
    pub gained: usize,
    /// How many are lost.
    pub lost: usize,
    /// The first few.
    pub samples: Vec<AccessChangeBody>,
}

/// What the diff decided: it follows what the proposal touches, not the tenant's size.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfCostBody {
    /// Users whose rights would move.
    pub users: usize,
    /// Spaces whose row would move.
    pub spaces: usize,
    /// Items whose row would move.
    pub items: usize,
    /// User × action × resource pairs decided before and after.
    pub pairs: usize,
}

/// The difference a proposal would make.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfBody {
    /// The revision the proposal was weighed against.
    pub revision: u64,
    /// How many (user, action, resource) would be gained.
    pub gained: usize,
    /// How many would be lost.
    pub lost: usize,
    /// By action, in the catalogue's order.
    pub by_action: Vec<AccessGroupBody>,
    /// By path, the largest first.
    pub by_path: Vec<AccessGroupBody>,
    /// What was decided to find them.
    pub cost: WhatIfCostBody,
    /// This page of the full list, by user, action and resource.
    pub changes: Vec<AccessChangeBody>,
    /// The token of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

fn body_of(change: &AccessChange) -> AccessChangeBody {
    AccessChangeBody {
        user: change.user.to_string(),
        action: change.action.as_str().to_owned(),
        resource: change.resource.as_deref().map(str::to_owned),
        change: if change.gained { "gained" } else { "lost" },
        path: change.path.to_string(),
    }
}

pub(crate) fn group_of(diff: &AccessDiff, group: &AccessGroup) -> AccessGroupBody {
    AccessGroupBody {
        key: group.key.clone(),
        gained: group.gained,
        lost: group.lost,
        samples: group.samples.iter().filter_map(|&i| diff.changes.get(i)).map(body_of).collect(),
    }
}

/// Where the previous page ended.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Token {
    pub(crate) v: u8,
    /// The proposal's fingerprint.
    pub(crate) q: String,
    /// The last change given: user, action, resource.
    pub(crate) user: String,
    pub(crate) action: String,
    pub(crate) resource: Option<String>,
}

pub(crate) fn bad_token(message: &str) -> ApiError {
    ApiError::bad_request("bad_page_token", message.to_owned())
        .hint("send the `nextPageToken` of the previous page unchanged, with the same request; or no token to start again")
        .field("pageToken")
}

pub(crate) fn fingerprint(changes: &[serde_json::Value]) -> String {
    let text = serde_json::Value::Array(changes.to_vec()).to_string();
    let digest = Sha256::digest(text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
}

pub(crate) fn encode(token: &Token) -> String {
    let json = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

pub(crate) fn decode(text: &str, fingerprint: &str) -> Result<Token, ApiError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad_token("`pageToken` is not a page token of this API"))?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad_token("`pageToken` is not a page token of this API"))?;
    if token.v != 1 {
        return Err(bad_token("`pageToken` is of another version of this API"));
    }
    if token.q != fingerprint {
        return Err(bad_token("`pageToken` belongs to another request"));
    }
    Ok(token)
}

/// Reads the proposal's changes, naming the first one that does not decode.
fn changes_of(values: &[serde_json::Value]) -> Result<Vec<Change>, ApiError> {
    if values.is_empty() {
        return Err(ApiError::bad_request("no_changes", "`changes` is empty")
            .hint("propose at least one change")
            .field("changes"));
    }
    if values.len() > MAX_CHANGES {
        return Err(ApiError::bad_request(
            "too_many_changes",
            format!("{} changes in one proposal; the limit is {MAX_CHANGES}", values.len()),
        )
        .hint("split the proposal")
        .field("changes"));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            serde_path_to_error::deserialize::<_, Change>(value).map_err(|e| {
                let at = e.path().to_string();
                let field = if at == "." { format!("changes[{i}]") } else { format!("changes[{i}].{at}") };
                ApiError::bad_request("bad_change", format!("change {i} cannot be read: {}", e.inner()))
                    .hint("write each change as the change log does: `change` names its kind (`assignRole`, `joinGroup`, `setSpaceMember`, ...) beside its fields; docs/what-if.md lists them")
                    .field(field)
            })
        })
        .collect()
}

fn wants_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(NDJSON)))
}

/// The whole list as NDJSON, written a thousand changes at a time as the body is sent.
fn ndjson(revision: u64, diff: AccessDiff) -> Response {
    let diff = Arc::new(diff);
    let n = diff.changes.len();
    let chunks = (0..n).step_by(1_000).map(move |start| {
        let mut out = Vec::new();
        for change in &diff.changes[start..(start + 1_000).min(n)] {
            // Writing these plain values cannot fail.
            let _ = serde_json::to_writer(&mut out, &body_of(change));
            out.push(b'\n');
        }
        Ok::<_, Infallible>(Bytes::from(out))
    });
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    if let Ok(value) = HeaderValue::from_str(&revision.to_string()) {
        response.headers_mut().insert("portcullis-revision", value);
    }
    response
}

/// What a proposed set of changes would do to effective permissions, without making them
/// (needs `user:manage` and `decision:ask-others`): who would gain and who would lose which
/// action on which resource, counted and grouped by action and by path, with samples, and
/// listed in pages (`Accept: application/x-ndjson`: the whole list, one change a line).
#[utoipa::path(
    post, path = "/v1/what-if", tag = "writes",
    request_body = WhatIfRequest,
    responses(
        (status = 200, description = "The difference the changes would make (nothing is applied)",
         content((WhatIfBody = "application/json"), (AccessChangeBody = "application/x-ndjson"))),
        (status = 400, description = "A change cannot be read or the model would refuse it (`field` names it: `changes[i]`); nothing is applied", body = ErrorBody),
        (status = 403, description = "The caller may not manage users or ask about others", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn what_if(
    State(_state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<WhatIfRequest>,
) -> Result<Response, ApiError> {
    let snapshot = caller.tenant.view().snapshot.clone();
    caller.require(&snapshot, Action::UserManage)?;
    caller.require(&snapshot, Action::DecisionAskOthers)?;
    let changes = changes_of(&body.changes)?;
    let page_size = match body.page_size {
        None => DEFAULT_PAGE,
        Some(n @ 1..=10_000) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request("bad_page_size", format!("`pageSize` {n} is out of range"))
                .hint(format!("1 to {MAX_PAGE}"))
                .field("pageSize"));
        }
    };
    let q = fingerprint(&body.changes);
    let after = body.page_token.as_deref().filter(|t| !t.is_empty()).map(|t| decode(t, &q)).transpose()?;
    let (revision, diff) = caller.tenant.what_if(changes).await.map_err(|failure| match failure {
        WhatIfFailure::Refused(e) => ApiError::bad_request("change_refused", e.to_string()).field(format!("changes[{}]", e.index)),
        WhatIfFailure::Failed(detail) => ApiError::internal("what-if", &detail),
    })?;
    if wants_ndjson(&headers) {
        return Ok(ndjson(revision, diff));
    }
    let start = match &after {
        None => 0,
        Some(token) => {
            let action = Action::parse(&token.action).ok_or_else(|| bad_token("`pageToken` names an unknown action"))?;
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
    let answer = WhatIfBody {
        revision,
        gained: diff.gained,
        lost: diff.lost,
        by_action: diff.by_action.iter().map(|g| group_of(&diff, g)).collect(),
        by_path: diff.by_path.iter().map(|g| group_of(&diff, g)).collect(),
        cost: WhatIfCostBody {
            users: diff.cost.users,
            spaces: diff.cost.spaces,
            items: diff.cost.items,
            pairs: diff.cost.pairs,
        },
        changes: page.into_iter().map(body_of).collect(),
        next_page_token,
    };
    Ok((StatusCode::OK, Json(answer)).into_response())
}
