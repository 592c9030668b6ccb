//! `/items`: the apps a caller may open, as Qlik's items API lists them, so that scripts can
//! find what a user owns or what is in a space (`GET /items` with `resourceType`, `spaceId`
//! (also `personal`), `spaceType`, `ownerId`/`notOwnerId`, `name`, `query`, `resourceId(s)`,
//! `id`, `noActions`, `sort`, cursors; `GET /items/{id}`).
//!
//! Only apps are items here (the model's data connections are not items in Qlik either). The
//! list is the engine's listing of `app:read` for the caller (`portcullis_engine::list`),
//! so an item is listed exactly when the caller may read it, and its `actions` are the
//! engine's decisions for the caller. Portcullis keeps no timestamps for content: the time
//! fields Qlik marks required carry the Unix epoch (`1970-01-01T00:00:00.001Z`, what Qlik shows
//! for static records), and `+createdAt`/`-createdAt` sort in the tenant's order.

use std::collections::HashSet;

use portcullis_engine::{ContentIdx, Resource};
use portcullis_model::{Action, ContentKind, SpaceType};
use serde::Serialize;
use serde_json::{Value, json};

use crate::caller::Ctx;
use crate::err::{ApiError, Service};
use crate::ids;
use crate::paging::{Links, Query, STANDARD, paginate};

const S: Service = Service::Items;

/// What Qlik shows for a time Portcullis does not keep.
const NO_TIME: &str = "1970-01-01T00:00:00.001Z";

/// An item's actions, in Qlik's words, and the engine's actions behind them.
const ITEM_ACTIONS: &[(&str, Action)] = &[
    ("read", Action::AppRead),
    ("update", Action::AppUpdate),
    ("delete", Action::AppDelete),
    ("reload", Action::AppReload),
    ("duplicate", Action::AppDuplicate),
    ("export", Action::AppExport),
    ("exportdata", Action::AppExportData),
    ("publish", Action::AppPublish),
    ("share", Action::AppShare),
    ("change_owner", Action::AppChangeOwner),
];

/// The item types Qlik has (the list `resourceType` is checked against); only `app` has items here.
const RESOURCE_TYPES: &[&str] = &[
    "app",
    "qlikview",
    "qvapp",
    "genericlink",
    "sharingservicetask",
    "note",
    "dataasset",
    "dataset",
    "automation",
    "automl-experiment",
    "automl-deployment",
    "assistant",
    "dataproduct",
    "dataqualityrule",
    "glossary",
    "knowledgebase",
    "script",
    "semantictype",
    "page",
];

/// An item on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemDto {
    /// The item's id (not the app's: that is `resourceId`).
    pub id: String,
    /// The app's name.
    pub name: String,
    /// `app`.
    pub resource_type: &'static str,
    /// The app's id.
    pub resource_id: String,
    /// Its space; absent for a personal space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    /// Its owner's user id.
    pub owner_id: String,
    /// Same as `ownerId` (Portcullis does not tell creators from owners).
    pub creator_id: String,
    /// The tenant's id.
    pub tenant_id: String,
    /// What the caller may do with it (left out with `noActions=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<&'static str>>,
    /// No collections are kept.
    pub collection_ids: Vec<String>,
    /// No favourites are kept.
    pub is_favorited: bool,
    /// `actions` again, collections and tags (none).
    #[schema(value_type = Object)]
    pub meta: Value,
    /// Not kept: the Unix epoch.
    pub created_at: &'static str,
    /// Not kept: the Unix epoch.
    pub updated_at: &'static str,
    /// Not kept: the Unix epoch.
    pub resource_created_at: &'static str,
    /// Not kept: the Unix epoch.
    pub resource_updated_at: &'static str,
    /// None kept.
    #[schema(value_type = Object)]
    pub resource_attributes: Value,
    /// None kept.
    #[schema(value_type = Object)]
    pub resource_custom_attributes: Value,
    /// `self`.
    #[schema(value_type = Object)]
    pub links: Value,
}

/// A page of items (`links` only, as Qlik's).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemsDto {
    /// The page.
    pub data: Vec<ItemDto>,
    /// `self`, `next`, `prev`.
    pub links: Links,
}

/// Item ids are the app's id with these bits flipped ("itemitemitem"): distinct from it, as
/// Qlik's are, and turned back into it without a map of their own.
const ITEM_MASK: u128 = 0x6974_656d_6974_656d_6974_656d;

/// An item's id, from its app's key.
pub fn item_id(content_key: &str) -> String {
    let content = u128::from_str_radix(&ids::content_id(content_key), 16).unwrap_or_default();
    format!("{:024x}", content ^ ITEM_MASK)
}

/// The app id an item id stands for, if it is one.
fn content_of_item(item_id: &str) -> Option<String> {
    let bits = u128::from_str_radix(item_id, 16).ok().filter(|_| item_id.len() == 24)?;
    Some(format!("{:024x}", bits ^ ITEM_MASK))
}

fn item_dto(ctx: &Ctx<'_>, idx: ContentIdx, with_actions: bool) -> ItemDto {
    let item = ctx.snapshot.content_item(idx);
    // An item whose owner was deleted has none until an admin names one: `""` on the wire.
    let owner = item.owner.map(|owner| ids::user_id(&ctx.snapshot.user(owner).id)).unwrap_or_default();
    let id = item_id(&item.id);
    let actions = with_actions.then(|| {
        ITEM_ACTIONS
            .iter()
            .filter(|(_, action)| ctx.allowed(*action, Resource::Content(idx)))
            .map(|(word, _)| *word)
            .collect::<Vec<_>>()
    });
    ItemDto {
        name: item.name.to_string(),
        resource_type: "app",
        resource_id: ids::content_id(&item.id),
        space_id: item.space.map(|space| ids::space_id(&ctx.snapshot.space(space).id)),
        owner_id: owner.clone(),
        creator_id: owner,
        tenant_id: ctx.tenant_id(),
        meta: json!({ "actions": actions.clone().unwrap_or_default(), "collections": [], "tags": [], "isFavorited": false }),
        actions,
        collection_ids: Vec::new(),
        is_favorited: false,
        created_at: NO_TIME,
        updated_at: NO_TIME,
        resource_created_at: NO_TIME,
        resource_updated_at: NO_TIME,
        resource_attributes: json!({}),
        resource_custom_attributes: json!({}),
        links: json!({ "self": { "href": format!("{}/items/{id}", ctx.api_base) } }),
        id,
    }
}

/// A comma list of words, each checked against `known`.
fn words<'q>(query: &'q Query, name: &str, known: &[&str]) -> Result<Option<Vec<&'q str>>, ApiError> {
    let Some(text) = query.get(name) else { return Ok(None) };
    let words: Vec<&str> = text.split(',').map(str::trim).filter(|w| !w.is_empty()).collect();
    if let Some(unknown) = words.iter().find(|w| !known.contains(w)) {
        return Err(ApiError::bad_request(S, format!("`{name}` takes {}, not `{unknown}`", known.join(", "))));
    }
    Ok(Some(words))
}

/// `GET /items`.
pub fn list(ctx: &Ctx<'_>, query: &Query) -> Result<ItemsDto, ApiError> {
    let user = ctx.caller_idx()?;
    let types = words(query, "resourceType", RESOURCE_TYPES)?;
    let space_types = words(query, "spaceType", &["shared", "managed", "personal", "data"])?;
    if query.get("resourceId").is_some() && query.get("resourceIds").is_some() {
        return Err(ApiError::bad_request(S, "`resourceId` and `resourceIds` cannot be used together"));
    }
    let resource_ids: Option<Vec<&str>> = query.get("resourceId").or(query.get("resourceIds")).map(|t| t.split(',').collect());
    if resource_ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(ApiError::bad_request(S, "`resourceIds` takes at most 100 ids"));
    }
    if resource_ids.is_some() && types.is_none() {
        return Err(ApiError::bad_request(S, "`resourceId(s)` needs `resourceType`"));
    }
    let descending_name = match query.get("sort") {
        None | Some("+createdAt" | " createdAt" | "createdAt" | "+updatedAt" | "updatedAt" | "+recentlyUsed" | "recentlyUsed") => None,
        Some("-createdAt" | "-updatedAt" | "-recentlyUsed") => Some(None),
        Some("+name" | " name" | "name") => Some(Some(false)),
        Some("-name") => Some(Some(true)),
        Some(other) => {
            return Err(ApiError::bad_request(
                S,
                format!("`sort` is one of ±createdAt, ±name, ±updatedAt, ±recentlyUsed, not `{other}`"),
            ));
        }
    };
    let with_actions = !query.flag(S, "noActions")?;
    let name = query.get("name").or(query.get("query")).map(str::to_lowercase);
    // The ids a query names, resolved once to the snapshot's indices (`None` inside: an id
    // that names nothing here, so nothing matches), so no item is hashed to be compared.
    let user_of = |id: &str| ctx.ids.user(id).and_then(|subject| ctx.snapshot.user_idx(subject));
    let app_of = |id: &str| ctx.ids.content(ctx.tenant, id).and_then(|key| ctx.snapshot.content_idx(key));
    let space = query.get("spaceId").map(|id| match id {
        "personal" => Some(None),
        id => ctx.ids.space(id).and_then(|key| ctx.snapshot.space_idx(key)).map(Some),
    });
    let owner = query.get("ownerId").map(user_of);
    let not_owner = query.get("notOwnerId").map(user_of);
    let apps: Option<HashSet<ContentIdx>> = resource_ids.map(|ids| ids.into_iter().filter_map(app_of).collect());
    let item = query.get("id").map(|id| content_of_item(id).and_then(|app| app_of(&app)));
    let wants_apps = types.as_ref().is_none_or(|t| t.contains(&"app"));
    let mut items: Vec<ContentIdx> = if wants_apps {
        ctx.readable(user, Action::AppRead)
            .into_iter()
            .filter(|&idx| {
                let info = ctx.snapshot.content_item(idx);
                let space_word = match info.space.map(|s| ctx.snapshot.space(s).space_type) {
                    None => "personal",
                    Some(SpaceType::Shared) => "shared",
                    Some(SpaceType::Managed) => "managed",
                    Some(SpaceType::Data) => "data",
                };
                info.kind == ContentKind::App
                    && space_types.as_ref().is_none_or(|t| t.contains(&space_word))
                    && space.is_none_or(|want| want == Some(info.space))
                    && owner.is_none_or(|want| want.is_some() && want == info.owner)
                    && not_owner.is_none_or(|other| other.is_none() || other != info.owner)
                    && name.as_deref().is_none_or(|n| info.name.to_lowercase().contains(n))
                    && apps.as_ref().is_none_or(|apps| apps.contains(&idx))
                    && item.is_none_or(|want| want == Some(idx))
            })
            .collect()
    } else {
        Vec::new()
    };
    match descending_name {
        None => {}
        Some(None) => items.reverse(),
        Some(Some(descending)) => {
            items.sort_by_cached_key(|&idx| ctx.snapshot.content_item(idx).name.to_lowercase());
            if descending {
                items.reverse();
            }
        }
    }
    let page = paginate(items, query, S, STANDARD, ctx.api_base, "/items")?;
    Ok(ItemsDto {
        data: page.items.into_iter().map(|idx| item_dto(ctx, idx, with_actions)).collect(),
        links: page.links,
    })
}

/// `GET /items/{id}`: 404 for an item the caller may not read, as for one that does not exist.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<ItemDto, ApiError> {
    ctx.caller_idx()?;
    let not_found = || ApiError::not_found(S, format!("no item with id `{id}`"));
    let app_id = content_of_item(id).ok_or_else(not_found)?;
    let key = ctx.ids.content(ctx.tenant, &app_id).ok_or_else(not_found)?;
    let idx = ctx.snapshot.content_idx(key).ok_or_else(not_found)?;
    let info = ctx.snapshot.content_item(idx);
    if info.kind != ContentKind::App || !ctx.allowed(Action::AppRead, Resource::Content(idx)) {
        return Err(not_found());
    }
    Ok(item_dto(ctx, idx, true))
}
