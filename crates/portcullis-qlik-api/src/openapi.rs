//! The OpenAPI description of `/api/v1`: the routes' annotations are on the handlers in
//! [`mod@crate::routes`]; here are the query parameters the handlers read (as pairs, from
//! [`crate::paging::Query`], so these types only describe), the response shapes built as JSON
//! values, and [`QlikApiDoc`], the document the server nests under `/api/v1`. Request bodies
//! are described by the very types the handlers decode (`users::UserCreate`,
//! `patch::PatchOperation`, ...; see [`crate::body`]).
//!
//! Error statuses each handler can answer are listed on its annotation; their body (Qlik's
//! [`ErrorEnvelope`]) and the statuses every route shares (400 for control characters, 401,
//! 413, 429, 503) are added by the server, which knows its layers.

use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::api_keys::{ApiKeyDto, ApiKeyPage};
use crate::dto::{GroupRefDto, ListDto, RoleRefDto};
use crate::err::{ErrorEnvelope, ErrorItem};
use crate::groups::{GroupDto, GroupSettingsDto, SelfLinkOnly};
use crate::items::{ItemDto, ItemsDto};
use crate::oauth_clients::OauthClientDto;
use crate::paging::{Href, Links, SelfLink};
use crate::roles::RoleDto;
use crate::spaces::{AssignmentDto, AssignmentLinks, MemberListDto, ShareDto, SpaceDto, SpaceLinks, SpaceMeta, SpacesDto};
use crate::users::UserDto;

/// The list parameters most lists share: a SCIM filter, sort keys, a page size and cursors.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct ListParams {
    /// A SCIM filter, e.g. `name eq "Ann"` (at most 16 KiB and 64 levels).
    filter: Option<String>,
    /// Comma list of fields, `-` for descending: `-name,createdAt`.
    sort: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page (from `links.next.href`).
    next: Option<String>,
    /// The cursor of the previous page (from `links.prev.href`).
    prev: Option<String>,
    /// Also return `totalResults`.
    #[param(rename = "totalResults")]
    total_results: Option<bool>,
}

/// `GET /users`'s older parameters, which Qlik still accepts (each refused together with
/// `filter`, `sort`, `next` or `prev`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct LegacyUserParams {
    /// Deprecated: users with this e-mail (case-insensitive).
    #[deprecated]
    email: Option<String>,
    /// Deprecated: the user with this subject.
    #[deprecated]
    subject: Option<String>,
    /// Deprecated: users with this status.
    #[deprecated]
    status: Option<String>,
    /// Deprecated: users assigned this role (by name) directly.
    #[deprecated]
    role: Option<String>,
    /// Deprecated: users of this tenant id (every user, or none).
    #[deprecated]
    #[param(rename = "tenantId")]
    tenant_id: Option<String>,
    /// Deprecated: users whose ids come after this user id (a page in id order).
    #[deprecated]
    #[param(rename = "startingAfter")]
    starting_after: Option<String>,
    /// Deprecated: users whose ids come before this user id.
    #[deprecated]
    #[param(rename = "endingBefore")]
    ending_before: Option<String>,
    /// Deprecated: `name`.
    #[deprecated]
    #[param(rename = "sortBy")]
    sort_by: Option<String>,
    /// Deprecated: `asc` or `desc`.
    #[deprecated]
    #[param(rename = "sortOrder")]
    sort_order: Option<String>,
}

/// `fields`: keep only these top-level properties of each user.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct FieldsParam {
    /// Comma list of properties to return (`id,name`); the others are left out.
    fields: Option<String>,
}

/// `GET /groups`: the list parameters and `systemGroups`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct GroupListParams {
    /// Include the system group Everyone.
    #[param(rename = "systemGroups")]
    system_groups: Option<bool>,
}

/// `GET /spaces`: filters on the caller's spaces.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct SpaceListParams {
    /// Substring of the name (case-insensitive).
    name: Option<String>,
    /// Comma list of `shared`, `managed`, `data`.
    #[param(rename = "type")]
    space_type: Option<String>,
    /// The owner's user id.
    #[param(rename = "ownerId")]
    owner_id: Option<String>,
    /// Comma list of the caller's space roles.
    roles: Option<String>,
    /// `publish`: spaces the caller may publish to.
    action: Option<String>,
    /// `type`, `name` or `createdAt`, `-` for descending.
    sort: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page.
    next: Option<String>,
    /// The cursor of the previous page.
    prev: Option<String>,
}

/// `GET /spaces/{id}/assignments`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct AssignmentListParams {
    /// Only this assignee.
    #[param(rename = "assigneeId")]
    assignee_id: Option<String>,
    /// `user` or `group`.
    #[param(rename = "type")]
    assignee_type: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page.
    next: Option<String>,
    /// The cursor of the previous page.
    prev: Option<String>,
}

/// `GET /spaces/{id}/shares`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct ShareListParams {
    /// Only shares of this item.
    #[param(rename = "resourceId")]
    resource_id: Option<String>,
    /// `app` (the only kind shared one by one).
    #[param(rename = "resourceType")]
    resource_type: Option<String>,
    /// Only shares of apps whose name contains this (any case).
    name: Option<String>,
    /// `user`, `group` or `link`.
    #[param(rename = "type")]
    assignee_type: Option<String>,
    /// Only shares with this user.
    #[param(rename = "userId")]
    user_id: Option<String>,
    /// Only shares with this group.
    #[param(rename = "groupId")]
    group_id: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page.
    next: Option<String>,
    /// The cursor of the previous page.
    prev: Option<String>,
}

/// `GET /items`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct ItemListParams {
    /// Comma list of item types (`app`, `qvapp`, ...); only apps are items here.
    #[param(rename = "resourceType")]
    resource_type: Option<String>,
    /// A space id, or `personal`.
    #[param(rename = "spaceId")]
    space_id: Option<String>,
    /// Comma list of `shared`, `managed`, `personal`, `data`.
    #[param(rename = "spaceType")]
    space_type: Option<String>,
    /// Only items of this owner (a user id).
    #[param(rename = "ownerId")]
    owner_id: Option<String>,
    /// No items of this owner.
    #[param(rename = "notOwnerId")]
    not_owner_id: Option<String>,
    /// Name contains this (any case).
    name: Option<String>,
    /// Name contains this (any case); no descriptions are kept.
    query: Option<String>,
    /// The item with this id.
    id: Option<String>,
    /// The item of this app id (needs `resourceType`).
    #[param(rename = "resourceId")]
    resource_id: Option<String>,
    /// The items of these app ids, comma-separated, at most 100 (needs `resourceType`).
    #[param(rename = "resourceIds")]
    resource_ids: Option<String>,
    /// Leave out `actions` (faster).
    #[param(rename = "noActions")]
    no_actions: Option<bool>,
    /// `±createdAt`, `±name`, `±updatedAt`, `±recentlyUsed`.
    sort: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page.
    next: Option<String>,
    /// The cursor of the previous page.
    prev: Option<String>,
}

/// `GET /api-keys`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct ApiKeyListParams {
    /// `active`, `expired` or `revoked`.
    status: Option<String>,
    /// Only keys of this user (an API user id).
    sub: Option<String>,
    /// Same as `sub`.
    #[param(rename = "createdByUser")]
    created_by_user: Option<String>,
    /// `createdByUser`, `sub`, `status`, `description` or `created`, `-` for descending.
    sort: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The cursor of the next page.
    #[param(rename = "startingAfter")]
    starting_after: Option<String>,
    /// The cursor of the previous page.
    #[param(rename = "endingBefore")]
    ending_before: Option<String>,
}

/// `GET /audits`: Qlik's filters, a page size and cursors.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes the query for the OpenAPI document; the handlers read it as pairs")]
pub struct AuditListParams {
    /// Comma list of event types (`com.qlik.v1.user.updated`).
    #[param(rename = "eventType")]
    event_type: Option<String>,
    /// Only events of this acting user (its API id).
    #[param(rename = "userId")]
    user_id: Option<String>,
    /// `start/end` (RFC 3339; either side may be empty).
    #[param(rename = "eventTime")]
    event_time: Option<String>,
    /// Only events of this source service (`com.qlik/identities`).
    source: Option<String>,
    /// Comma list of event ids.
    id: Option<String>,
    /// `eventTime` (`-eventTime`, newest first, is the default), `eventType` or `source`,
    /// prefixed by `+` (ascending) or `-` (descending).
    sort: Option<String>,
    /// Page size (10 by default; more than 100 is read as 100).
    #[param(minimum = 1)]
    limit: Option<u32>,
    /// The cursor of the next page (from `links.next.href`).
    next: Option<String>,
    /// The cursor of the previous page (from `links.prev.href`).
    prev: Option<String>,
}

/// `GET /audits/archive`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters for the OpenAPI document")]
pub struct AuditArchiveParams {
    /// The UTC day whose events to read, `YYYY-MM-DD`.
    date: String,
}

/// `GET /users/actions/count`.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "describes a response body for the OpenAPI document")]
pub struct UserCount {
    /// How many users the tenant has.
    total: u64,
}

/// `GET /spaces/types`.
#[derive(Debug, ToSchema)]
#[expect(dead_code, reason = "describes a response body for the OpenAPI document")]
pub struct SpaceTypes {
    /// `shared`, `managed`, `data`.
    data: Vec<String>,
}

/// The OpenAPI document of the management API, with paths relative to its mount point.
#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::users_list, crate::routes::users_create, crate::routes::users_me, crate::routes::users_count,
        crate::routes::users_filter, crate::routes::users_invite, crate::routes::users_get, crate::routes::users_patch, crate::routes::users_delete,
        crate::routes::groups_list, crate::routes::groups_create, crate::routes::groups_filter, crate::routes::group_settings,
        crate::routes::group_settings_patch, crate::routes::groups_get, crate::routes::groups_patch, crate::routes::groups_delete,
        crate::routes::roles_list, crate::routes::roles_create, crate::routes::roles_get, crate::routes::roles_patch, crate::routes::roles_delete,
        crate::routes::spaces_list, crate::routes::spaces_create, crate::routes::spaces_types, crate::routes::spaces_get,
        crate::routes::spaces_patch, crate::routes::spaces_put, crate::routes::spaces_delete,
        crate::routes::assignments_list, crate::routes::assignments_create, crate::routes::assignments_get,
        crate::routes::assignments_put, crate::routes::assignments_delete,
        crate::routes::shares_list, crate::routes::shares_create, crate::routes::shares_get, crate::routes::shares_patch,
        crate::routes::shares_delete,
        crate::routes::clients_list, crate::routes::clients_create, crate::routes::clients_get, crate::routes::clients_patch,
        crate::routes::clients_delete, crate::routes::clients_new_secret, crate::routes::clients_delete_secret, crate::routes::clients_publish,
        crate::routes::clients_connection_config, crate::routes::clients_connection_config_patch,
        crate::routes::clients_connection_config_delete,
        crate::routes::keys_list, crate::routes::keys_create, crate::routes::keys_get, crate::routes::keys_patch, crate::routes::keys_delete,
        crate::routes::keys_config, crate::routes::keys_config_patch,
        crate::routes::items_list, crate::routes::items_get, crate::routes::apps_owner, crate::routes::data_connections_update,
        crate::routes::tenants_me, crate::routes::tenants_get, crate::routes::tenants_patch,
        crate::routes::audits_list, crate::routes::audits_get, crate::routes::audits_archive, crate::routes::audits_types, crate::routes::audits_sources,
        crate::routes::audits_settings, crate::routes::audits_settings_put,
    ),
    components(schemas(
        ErrorEnvelope, ErrorItem, Href, Links, SelfLink, SelfLinkOnly, RoleRefDto, GroupRefDto, UserDto, GroupDto, GroupSettingsDto,
        RoleDto, SpaceDto, SpaceLinks, SpaceMeta, SpacesDto, AssignmentDto, AssignmentLinks, ShareDto, OauthClientDto, ApiKeyDto,
        ApiKeyPage, ListDto<UserDto>, ListDto<GroupDto>, ListDto<RoleDto>, ListDto<OauthClientDto>, MemberListDto<AssignmentDto>,
        MemberListDto<ShareDto>, ItemDto, ItemsDto,
    ))
)]
pub struct QlikApiDoc;
