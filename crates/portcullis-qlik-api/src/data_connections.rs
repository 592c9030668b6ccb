//! `POST /data-connections/actions/update`: Qlik's bulk update of data connections, served for
//! what Portcullis keeps of a connection — its owner — so an admin can hand on the data
//! connections a deleted user left without an owner, as `PUT /apps/{appId}/owner` does for
//! apps. Nothing else of the data-connections API is served (see `docs/qlik-api.md`):
//! connection strings and credentials are not Portcullis's.
//!
//! Qlik allows the call to admins only; here that is whoever may manage the tenant's users
//! (`user:manage`, TenantAdmin), else 403 for the whole request. Each connection of the body
//! is answered on its own (207, Qlik's `BulkResponse`): 204 when its owner was changed (or
//! nothing was asked of it), 404 for an id that is no data connection of the tenant, 400 for
//! an unknown new owner or a field Portcullis does not change (`name`, `spaceId`). The owner
//! changes of a request are committed together through `Change::SetContentOwner`, the change
//! the apps' owner change uses.

use portcullis_audit::EventType;
use portcullis_engine::Resource;
use portcullis_model::{Action, Change, ContentKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::Ctx;
use crate::dto::user_subject_by_id;
use crate::err::{ApiError, Service};
use crate::mutation::{AuditNote, Mutation};

const S: Service = Service::DataConnections;

/// `POST /data-connections/actions/update` (Qlik's `ActionUpdateRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionUpdateRequest {
    /// The connections to update.
    #[schema(required = true, value_type = Vec<ConnectionUpdate>)]
    pub connections: Option<Vec<ConnectionUpdate>>,
}

/// One connection of an [`ActionUpdateRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionUpdate {
    /// The connection id.
    #[schema(required = true, value_type = String)]
    pub id: Option<String>,
    /// The user id of the new owner; absent: the owner is not changed.
    pub owner_id: Option<String>,
    /// Refused: Portcullis does not rename connections.
    pub name: Option<String>,
    /// Refused: Portcullis does not move connections through this API.
    pub space_id: Option<String>,
    /// Refused with `spaceId`.
    pub space_type: Option<String>,
}

/// Qlik's `BulkResponse`: one entry per connection, in the request's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BulkResponse {
    /// The outcomes.
    pub data: Vec<BulkItem>,
}

/// The outcome for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BulkItem {
    /// The connection id as sent.
    pub id: String,
    /// 204 when done, else the error's status.
    pub status: u16,
    /// Why not, when not done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BulkError>,
}

/// An error of one connection (Qlik's data-connections `Error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BulkError {
    /// The code, e.g. `DATA-CONNECTIONS-7`.
    pub code: String,
    /// The title.
    pub title: String,
    /// What exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The status.
    pub status: u16,
}

fn failed(id: &str, error: ApiError) -> BulkItem {
    BulkItem {
        id: id.to_owned(),
        status: error.status,
        error: Some(BulkError {
            code: error.code,
            title: error.title,
            detail: error.detail,
            status: error.status,
        }),
    }
}

/// The change one connection asks for, or why it cannot be made.
fn plan(ctx: &Ctx<'_>, update: &ConnectionUpdate) -> Result<Option<Change>, ApiError> {
    let id = update.id.as_deref().unwrap_or_default();
    if update.name.is_some() || update.space_id.is_some() || update.space_type.is_some() {
        return Err(ApiError::bad_request(
            S,
            "only `ownerId` is changed here; Portcullis keeps no connection names, and moves content with its own writes",
        ));
    }
    let not_found = || ApiError::not_found(S, format!("no data connection with id `{id}`"));
    let key = ctx.ids.content(ctx.tenant, id).ok_or_else(not_found)?;
    let item = ctx.tenant.content_item(key).ok_or_else(not_found)?;
    if item.kind != ContentKind::DataConnection {
        return Err(not_found());
    }
    let Some(owner_id) = update.owner_id.as_deref() else {
        return Ok(None);
    };
    let owner = user_subject_by_id(ctx.ids, owner_id).ok_or_else(|| ApiError::bad_request(S, format!("`ownerId`: no user with id `{owner_id}`")))?;
    Ok(Some(Change::SetContentOwner { id: key.to_owned(), owner }))
}

/// `POST /data-connections/actions/update` (207 with a [`BulkResponse`]). 400 for a body
/// without connections, 403 for a caller who is not an admin.
pub fn update(ctx: &Ctx<'_>, body: &ActionUpdateRequest) -> Result<Mutation<BulkResponse>, ApiError> {
    ctx.caller_idx()?;
    if !ctx.allowed(Action::UserManage, Resource::Tenant) {
        return Err(ApiError::forbidden(
            S,
            "updating data connections is for admins: the caller may not `user:manage`",
        ));
    }
    let connections = body
        .connections
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "`connections` is required: the connections to update").at_pointer("/connections"))?;
    let mut changes = Vec::new();
    let mut data = Vec::with_capacity(connections.len());
    let mut owners = Vec::new();
    for update in connections {
        let id = update.id.clone().unwrap_or_default();
        match plan(ctx, update) {
            Ok(change) => {
                if let Some(change) = change {
                    owners.push(json!({ "id": id, "ownerId": update.owner_id }));
                    changes.push(change);
                }
                data.push(BulkItem {
                    id,
                    status: 204,
                    error: None,
                });
            }
            Err(error) => data.push(failed(&id, error)),
        }
    }
    let note = AuditNote::new(
        EventType::ItemUpdated,
        "data-connection",
        "actions/update",
        json!({ "connections": owners }),
    );
    let mut mutation = Mutation::new(changes, note, S, 400, BulkResponse { data });
    if mutation.changes.is_empty() {
        // Nothing changed: nothing to record.
        mutation.notes.clear();
    }
    Ok(mutation)
}
