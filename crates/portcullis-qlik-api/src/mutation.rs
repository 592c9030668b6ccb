//! What a write handler returns: the [`Change`]s it wants, the audit notes, how the model's
//! refusal is answered, and the response body. The router hands the changes and notes to
//! [`crate::ApiHost::commit`], which applies them to the live model (all or none) and stores
//! what they touched in one transaction. Handlers read the tenant; they never copy it.

use portcullis_audit::EventType;
use portcullis_model::Change;
use portcullis_model::tenant_ops::OpError;

use crate::caller::Ctx;
use crate::err::{ApiError, Service};

/// One change, described for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditNote {
    /// What happened.
    pub event: EventType,
    /// The resource's kind (`user`, `group`, `role`, `space`, `space-assignment`, `share`,
    /// `oauth-client`, `api-key`).
    pub resource_kind: &'static str,
    /// The resource's API id.
    pub resource_id: String,
    /// Details: the request's values (never a secret).
    pub data: serde_json::Value,
}

impl AuditNote {
    /// A note.
    pub fn new(event: EventType, resource_kind: &'static str, resource_id: impl Into<String>, data: serde_json::Value) -> AuditNote {
        AuditNote {
            event,
            resource_kind,
            resource_id: resource_id.into(),
            data,
        }
    }
}

/// The response body of a write: known from the request, or computed from the tenant once the
/// changes are committed (e.g. a created entity as stored).
pub enum Reply<T> {
    /// The body is ready.
    Ready(T),
    /// Run on the state read after the commit.
    After(Box<Later<T>>),
}

/// A reply computed from the state read after the commit.
pub type Later<T> = dyn FnOnce(&Ctx<'_>) -> Result<T, ApiError> + Send + Sync;

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Ready(_) => f.write_str("Reply::Ready"),
            Reply::After(_) => f.write_str("Reply::After"),
        }
    }
}

/// A write a handler wants.
#[derive(Debug)]
pub struct Mutation<T> {
    /// The changes, in order (applied all or none).
    pub changes: Vec<Change>,
    /// What changed, for the audit trail.
    pub notes: Vec<AuditNote>,
    /// How a refusal of the model is answered: `ApiError::from_op(service, in_use_status, _)`.
    pub refusal: (Service, u16),
    /// The response body.
    pub body: Reply<T>,
}

impl<T> Mutation<T> {
    /// The usual write: its changes, one note, a ready body; a refusal is answered with
    /// `ApiError::from_op(service, in_use_status, _)`.
    pub fn new(changes: Vec<Change>, note: AuditNote, service: Service, in_use_status: u16, body: T) -> Mutation<T> {
        Mutation {
            changes,
            notes: vec![note],
            refusal: (service, in_use_status),
            body: Reply::Ready(body),
        }
    }

    /// Like [`Mutation::new`], with the body computed on the committed state.
    pub fn then(
        changes: Vec<Change>,
        note: AuditNote,
        service: Service,
        in_use_status: u16,
        body: impl FnOnce(&Ctx<'_>) -> Result<T, ApiError> + Send + Sync + 'static,
    ) -> Mutation<T> {
        Mutation {
            changes,
            notes: vec![note],
            refusal: (service, in_use_status),
            body: Reply::After(Box::new(body)),
        }
    }

    /// The answer to the model's refusal of one of the changes.
    pub fn refused(&self, error: OpError) -> ApiError {
        ApiError::from_op(self.refusal.0, self.refusal.1, error)
    }
}
