//! `/tenants`: the caller's tenant (`/tenants/me`, `/tenants/{id}`), and a JSON Patch of the
//! tenant booleans Qlik has (`PATCH /tenants/{id}`): the three entitlement toggles
//! (`autoAssign…ToProfessionals`), the deprecated `enableAnalyticCreation` and
//! `enableAppOpeningFeedback`, each the model's [`TenantSetting`] of that name.
//!
//! Reading needs only a user of the tenant; changing needs `tenant:manage` (TenantAdmin).
//! Another tenant's id is not found (a tenant sees only itself). A toggle turned on records its
//! role for each matching user at their next login; turned off it records no more, and the
//! roles already recorded stay until they are unassigned (the model's `set_setting`; spec
//! §5.1, docs/semantics.md).

use portcullis_audit::EventType;
use portcullis_model::{Action, Change, TenantSetting};
use serde::Serialize;
use serde_json::json;

use crate::caller::Ctx;
use crate::err::{ApiError, Service};
use crate::mutation::{AuditNote, Mutation};
use crate::paging::SelfLink;
use crate::patch::{PatchOp, PatchOperation};

const S: Service = Service::Tenants;

/// The booleans a PATCH may set, by their path (without the slash).
pub const PATCHABLE: &[TenantSetting] = &[
    TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals,
    TenantSetting::AutoAssignPrivateAnalyticsContentCreatorRoleToProfessionals,
    TenantSetting::AutoAssignDataServicesContributorRoleToProfessionals,
    TenantSetting::EnableAnalyticCreation,
    TenantSetting::EnableAppOpeningFeedback,
];

/// A tenant on the wire (Qlik's `Tenant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantDto {
    /// API id.
    pub id: String,
    /// The tenant's name (its key in Portcullis).
    pub name: String,
    /// The host this API answers on.
    pub hostnames: Vec<String>,
    /// Always `active`.
    pub status: &'static str,
    /// Gives SharedSpaceCreator to Professional (capacity: Full) users at login.
    pub auto_assign_create_shared_spaces_role_to_professionals: bool,
    /// Gives PrivateAnalyticsContentCreator to Professional (capacity: Full) users at login.
    pub auto_assign_private_analytics_content_creator_role_to_professionals: bool,
    /// Gives DataServicesContributor to Professional (capacity: Full) users at login.
    pub auto_assign_data_services_contributor_role_to_professionals: bool,
    /// Deprecated by Qlik; kept, no effect.
    pub enable_analytic_creation: bool,
    /// Kept; no effect on decisions.
    pub enable_app_opening_feedback: bool,
    /// `self`.
    pub links: SelfLink,
}

/// The caller's tenant as the API shows it.
pub fn tenant_dto(ctx: &Ctx<'_>) -> TenantDto {
    let id = ctx.tenant_id();
    let host = ctx
        .api_base
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default();
    let setting = |s| ctx.tenant.setting(s);
    TenantDto {
        links: SelfLink::new(ctx.api_base, &format!("/tenants/{id}")),
        id,
        name: ctx.tenant.name.clone(),
        hostnames: vec![host.to_owned()],
        status: "active",
        auto_assign_create_shared_spaces_role_to_professionals: setting(TenantSetting::AutoAssignCreateSharedSpacesRoleToProfessionals),
        auto_assign_private_analytics_content_creator_role_to_professionals: setting(
            TenantSetting::AutoAssignPrivateAnalyticsContentCreatorRoleToProfessionals,
        ),
        auto_assign_data_services_contributor_role_to_professionals: setting(TenantSetting::AutoAssignDataServicesContributorRoleToProfessionals),
        enable_analytic_creation: setting(TenantSetting::EnableAnalyticCreation),
        enable_app_opening_feedback: setting(TenantSetting::EnableAppOpeningFeedback),
    }
}

/// 404 unless `id` is the caller's tenant.
fn check_id(ctx: &Ctx<'_>, id: &str) -> Result<(), ApiError> {
    if id == ctx.tenant_id() {
        Ok(())
    } else {
        Err(ApiError::not_found(
            S,
            format!("no tenant with id `{id}`; the caller's tenant is `{}` (`/tenants/me`)", ctx.tenant_id()),
        ))
    }
}

/// `GET /tenants/me`.
pub fn me(ctx: &Ctx<'_>) -> Result<TenantDto, ApiError> {
    ctx.caller_idx()?;
    Ok(tenant_dto(ctx))
}

/// `GET /tenants/{id}`.
pub fn get(ctx: &Ctx<'_>, id: &str) -> Result<TenantDto, ApiError> {
    ctx.caller_idx()?;
    check_id(ctx, id)?;
    Ok(tenant_dto(ctx))
}

/// `PATCH /tenants/{id}`: `replace` of the booleans in [`PATCHABLE`] (204); all or none.
pub fn patch(ctx: &Ctx<'_>, id: &str, ops: &[PatchOperation]) -> Result<Mutation<()>, ApiError> {
    ctx.caller_idx()?;
    check_id(ctx, id)?;
    ctx.require(S, Action::TenantManage)?;
    let mut changes = Vec::new();
    for op in ops {
        let target = op.target();
        if let Some(setting) = PATCHABLE.iter().copied().find(|s| s.as_str() == target) {
            if !matches!(op.op, PatchOp::Replace) {
                return Err(op.unsupported(S));
            }
            changes.push(Change::SetSetting {
                setting,
                value: op.value::<bool>(S)?,
            });
            continue;
        }
        let known: Vec<String> = PATCHABLE.iter().map(|s| format!("/{}", s.as_str())).collect();
        return Err(ApiError::bad_request(
            S,
            match target {
                "name" => "`/name` cannot be changed: a tenant's name is its key in Portcullis".to_owned(),
                t if t.starts_with("hostnames") => format!("`{}` cannot be changed: Portcullis answers every tenant on its own host", op.path),
                _ => format!("`{}` is not a tenant field a patch may change; use one of {}", op.path, known.join(", ")),
            },
        ));
    }
    let note = AuditNote::new(EventType::TenantSettingsUpdated, "tenant", id, json!({ "patch": ops }));
    Ok(Mutation::new(changes, note, S, 400, ()))
}
