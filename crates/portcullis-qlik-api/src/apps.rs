//! `PUT /apps/{appId}/owner`: Qlik's apps API call that gives an app another owner, so an
//! admin can hand on the apps a deleted user left without an owner (`DELETE /users/{id}`
//! leaves them so, as Qlik does). Nothing else of the apps API is served here (see
//! `docs/qlik-api.md`).
//!
//! Who may: whoever the engine allows `app:change_owner` on the app (its owner, a space's
//! admins through the admin roles), and, for an app without an owner, whoever may manage the
//! tenant's users (`user:manage`): handing on a deleted user's content is part of removing the
//! user, and no one else could reach an ownerless app in a personal space. The new owner must
//! be a user of the tenant. The answer is the app as Qlik's `NxApp` shows it: its
//! `attributes`, of which Portcullis keeps the id, name, owner and space.

use portcullis_audit::EventType;
use portcullis_engine::Resource;
use portcullis_model::{Action, Change, ContentKind};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::caller::Ctx;
use crate::dto::user_subject_by_id;
use crate::err::{ApiError, Service};
use crate::ids;
use crate::mutation::{AuditNote, Mutation};

const S: Service = Service::Apps;

/// `PUT /apps/{appId}/owner`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOwner {
    /// The new owner's user id.
    #[schema(required = true, value_type = String)]
    pub owner_id: Option<String>,
}

/// An app as Qlik's `NxApp` shows it (the attributes Portcullis keeps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NxApp {
    /// The app's attributes.
    pub attributes: NxAttributes,
}

/// `NxApp.attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NxAttributes {
    /// The app id.
    pub id: String,
    /// The app's name.
    pub name: String,
    /// The owner's user id (`""` for an app without an owner).
    pub owner_id: String,
    /// The owner's user id, as Qlik also shows it.
    pub owner: String,
    /// The space id; absent for a personal app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Always `false`: Portcullis keeps no published copies.
    pub published: bool,
}

fn nx_app(ctx: &Ctx<'_>, key: &str) -> Option<NxApp> {
    let item = ctx.tenant.content_item(key)?;
    let owner = item.owner.as_deref().map(ids::user_id).unwrap_or_default();
    Some(NxApp {
        attributes: NxAttributes {
            id: ids::content_id(&item.id),
            name: item.name.clone(),
            owner_id: owner.clone(),
            owner,
            space_id: item.space.as_deref().map(ids::space_id),
            published: false,
        },
    })
}

/// `PUT /apps/{appId}/owner`: `{ownerId}` (200 with the app). 404 for an app the caller may
/// not read (as Qlik answers), 403 when they may read it but not hand it on, 400 for an unknown
/// new owner.
pub fn change_owner(ctx: &Ctx<'_>, app_id: &str, body: &UpdateOwner) -> Result<Mutation<NxApp>, ApiError> {
    ctx.caller_idx()?;
    let not_found = || ApiError::not_found(S, format!("no app with id `{app_id}`"));
    let key = ctx.ids.content(ctx.tenant, app_id).ok_or_else(not_found)?;
    let idx = ctx.snapshot.content_idx(key).ok_or_else(not_found)?;
    let info = ctx.snapshot.content_item(idx);
    let ownerless = info.owner.is_none();
    let may_manage_users = ctx.allowed(Action::UserManage, Resource::Tenant);
    if info.kind != ContentKind::App || !(ctx.allowed(Action::AppRead, Resource::Content(idx)) || ownerless && may_manage_users) {
        return Err(not_found());
    }
    if !(ctx.allowed(Action::AppChangeOwner, Resource::Content(idx)) || ownerless && may_manage_users) {
        return Err(ApiError::forbidden(
            S,
            format!("the caller may not `{}` on app `{app_id}`", Action::AppChangeOwner),
        ));
    }
    let owner_id = body
        .owner_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad_request(S, "`ownerId` is required: the user id of the new owner"))?;
    let owner = user_subject_by_id(ctx.ids, owner_id).ok_or_else(|| ApiError::bad_request(S, format!("`ownerId`: no user with id `{owner_id}`")))?;
    let key = key.to_owned();
    let note = AuditNote::new(EventType::ItemUpdated, "app", app_id, json!({ "ownerId": owner_id }));
    let change = Change::SetContentOwner { id: key.clone(), owner };
    Ok(Mutation::then(vec![change], note, S, 400, move |ctx| {
        nx_app(ctx, &key).ok_or_else(ApiError::internal)
    }))
}
