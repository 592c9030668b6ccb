//! What a write handler returns: the tenant as it is after the change, one audit note per
//! change, and the response body. The router hands `before`, `after` and the notes to
//! [`crate::ApiHost::commit`], which stores the difference in one transaction.

use portcullis_audit::EventType;
use portcullis_model::Tenant;

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
    pub fn new(
        event: EventType,
        resource_kind: &'static str,
        resource_id: impl Into<String>,
        data: serde_json::Value,
    ) -> AuditNote {
        AuditNote {
            event,
            resource_kind,
            resource_id: resource_id.into(),
            data,
        }
    }
}

/// A successful write.
#[derive(Debug, Clone)]
pub struct Mutation<T> {
    /// The tenant after the change.
    pub tenant: Tenant,
    /// What changed.
    pub notes: Vec<AuditNote>,
    /// The response body.
    pub body: T,
}

impl<T> Mutation<T> {
    /// The usual write: one change, one note.
    pub fn one(tenant: Tenant, note: AuditNote, body: T) -> Mutation<T> {
        Mutation { tenant, notes: vec![note], body }
    }
}
