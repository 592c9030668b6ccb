//! Who is calling, and the context every pure handler reads: the tenant, its snapshot, the
//! caller and the API's absolute base URL. The API's own permissions are asked here, as
//! engine decisions, so that "who may do what" is written once (in the engine).

use portcullis_engine::{Channel, Resource, Snapshot, UserIdx, allows};
use portcullis_model::{Action, Tenant};

use crate::err::{ApiError, Service};

/// The authenticated caller of a request. The server resolves the credential (API key,
/// OAuth token, session) and inserts this value into the request's extensions
/// (`request.extensions_mut().insert(caller)`) before the request reaches [`crate::routes()`];
/// a request without one is answered 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant's name (the store's unique key for it).
    pub tenant: String,
    /// The user's id in the tenant model (the IdP subject, not the API's hex id).
    pub user_id: String,
    /// The credential's channel. A session is evaluated with the user's current rights, as a
    /// fresh login would freeze them.
    pub channel: Channel,
}

/// What a pure handler reads.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The tenant, as of `snapshot`.
    pub tenant: &'a Tenant,
    /// The engine's view of the same tenant.
    pub snapshot: &'a Snapshot,
    /// The API ids of its users and groups.
    pub ids: &'a crate::ids::ApiIds,
    /// Who asks.
    pub caller: &'a Caller,
    /// Absolute URL of `/api/v1`, without a trailing slash (e.g. `http://127.0.0.1:8080/api/v1`).
    pub api_base: &'a str,
    /// Unix seconds now (for the timestamps of created things).
    pub now: i64,
}

impl<'a> Ctx<'a> {
    /// The caller's index; a credential of a user who no longer exists is refused with 401.
    pub fn caller_idx(&self) -> Result<UserIdx, ApiError> {
        self.snapshot
            .user_idx(&self.caller.user_id)
            .ok_or_else(|| ApiError::unauthorized(format!("the credential's user `{}` no longer exists", self.caller.user_id)))
    }

    /// The engine's decision for the caller (false for a caller that does not resolve).
    pub fn allowed(&self, action: Action, resource: Resource) -> bool {
        let Ok(user) = self.caller_idx() else {
            return false;
        };
        let Ok(channel) = self.caller.channel.try_map_client(|client| self.snapshot.client_idx(client).ok_or(())) else {
            return false;
        };
        allows(self.snapshot, user, channel, None, action, resource)
    }

    /// The content the caller may take `action` on, through the engine's listing (its cost
    /// follows the spaces, not a decision per item).
    pub fn readable(&self, user: UserIdx, action: Action) -> Vec<portcullis_engine::ContentIdx> {
        let Ok(channel) = self.caller.channel.try_map_client(|client| self.snapshot.client_idx(client).ok_or(())) else {
            return Vec::new();
        };
        portcullis_engine::list::permitted_content(self.snapshot, user, channel, None, action).collect()
    }

    /// A tenant-level action the caller must be allowed, else 403.
    pub fn require(&self, service: Service, action: Action) -> Result<(), ApiError> {
        self.caller_idx()?;
        if self.allowed(action, Resource::Tenant) {
            Ok(())
        } else {
            Err(ApiError::forbidden(service, format!("the caller may not `{action}`")))
        }
    }

    /// A space action the caller must be allowed, else 403.
    pub fn require_space(&self, space_key: &str, action: Action) -> Result<(), ApiError> {
        let allowed = self
            .snapshot
            .space_idx(space_key)
            .is_some_and(|idx| self.allowed(action, Resource::Space(idx)));
        if allowed {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                Service::Spaces,
                format!("the caller may not `{action}` in this space"),
            ))
        }
    }

    /// The tenant's API id.
    pub fn tenant_id(&self) -> String {
        crate::ids::tenant_id(&self.tenant.name)
    }
}
