//! Requests: the validated form the engine decides on, and the as-received form (names as
//! strings) that [`resolve`] turns into it with a clear error for every unknown name.

use portcullis_model::{Action, Channel, ResourceKind};

use crate::err::RequestError;
use crate::snapshot::{ClientIdx, ContentIdx, Snapshot, SpaceIdx, TenantRights, UserIdx};

/// The resource of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// None: a tenant-level action.
    Tenant,
    /// A space.
    Space(SpaceIdx),
    /// An app or data connection.
    Content(ContentIdx),
}

/// A validated request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub user: UserIdx,
    /// Through what.
    pub channel: Channel<ClientIdx>,
    /// For [`Channel::Session`]: the tenant-level rights frozen at the user's login; `None`
    /// decides with the user's rights now, as a login now would freeze them.
    pub session: Option<&'a TenantRights>,
    /// To do what.
    pub action: Action,
    /// On what.
    pub resource: Resource,
    /// Build an explanation (costs allocations; a bare decision does none).
    pub explain: bool,
}

/// A request as received: every name is a string.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// User id (IdP subject).
    pub user: &'a str,
    /// The channel, as the caller named it.
    pub via: &'a Channel,
    /// Action name.
    pub action: &'a str,
    /// Resource id, for space and content actions.
    pub resource: Option<&'a str>,
}

/// A raw request with its names resolved; the caller supplies the session's rights.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The user.
    pub user: UserIdx,
    /// The channel, its client resolved.
    pub channel: Channel<ClientIdx>,
    /// The action.
    pub action: Action,
    /// The resource.
    pub resource: Resource,
}

impl Resolved {
    /// The request, given the rights the user's session froze, if the caller has them (used
    /// only for [`Channel::Session`]).
    pub fn request<'a>(&self, session: Option<&'a TenantRights>, explain: bool) -> Request<'a> {
        Request {
            user: self.user,
            channel: self.channel,
            session,
            action: self.action,
            resource: self.resource,
            explain,
        }
    }
}

/// Resolves every name of a raw request against a snapshot.
pub fn resolve(snapshot: &Snapshot, raw: &RawRequest<'_>) -> Result<Resolved, RequestError> {
    let user = snapshot
        .user_idx(raw.user)
        .ok_or_else(|| RequestError::UnknownUser(raw.user.to_owned()))?;
    let channel = raw
        .via
        .try_map_client(|client| snapshot.client_idx(client).ok_or_else(|| RequestError::UnknownClient(client.clone())))?;
    let action = Action::parse(raw.action).ok_or_else(|| RequestError::UnknownAction(raw.action.to_owned()))?;
    let resource = resolve_resource(snapshot, action, raw.resource)?;
    Ok(Resolved {
        user,
        channel,
        action,
        resource,
    })
}

/// Resolves the resource an action is asked on: none for a tenant action, a space, or an item
/// of the kind the action takes.
pub fn resolve_resource(snapshot: &Snapshot, action: Action, resource: Option<&str>) -> Result<Resource, RequestError> {
    Ok(match (action.resource_kind(), resource) {
        (ResourceKind::Tenant, None) => Resource::Tenant,
        (ResourceKind::Tenant, Some(id)) => return Err(RequestError::UnexpectedResource { action, id: id.to_owned() }),
        (kind, None) => return Err(RequestError::MissingResource { action, kind }),
        (ResourceKind::Space, Some(id)) => Resource::Space(snapshot.space_idx(id).ok_or_else(|| RequestError::UnknownResource {
            kind: ResourceKind::Space,
            id: id.to_owned(),
        })?),
        (kind, Some(id)) => {
            let idx = snapshot
                .content_idx(id)
                .ok_or_else(|| RequestError::UnknownResource { kind, id: id.to_owned() })?;
            let actual = snapshot.content_item(idx).kind.resource_kind();
            if actual != kind {
                return Err(RequestError::WrongResourceKind {
                    action,
                    id: id.to_owned(),
                    actual,
                });
            }
            Resource::Content(idx)
        }
    })
}
