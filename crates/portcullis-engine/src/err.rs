//! Errors of request resolution: each names what was not found and what was expected.

use portcullis_model::{Action, ResourceKind};

/// A request that names something the tenant does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No such user.
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// No such OAuth client.
    #[error("unknown OAuth client `{0}`")]
    UnknownClient(String),
    /// Not an action.
    #[error("unknown action `{0}`; known actions: {known}", known = Action::known_names())]
    UnknownAction(String),
    /// A space or content action without a resource.
    #[error("action `{action}` needs a resource (a {kind} id)", kind = kind.as_str())]
    MissingResource {
        /// The action.
        action: Action,
        /// What it needs.
        kind: ResourceKind,
    },
    /// A tenant action with a resource.
    #[error("action `{action}` is tenant-level and takes no resource, but `{id}` was given")]
    UnexpectedResource {
        /// The action.
        action: Action,
        /// The resource given.
        id: String,
    },
    /// No such resource.
    #[error("unknown {kind} `{id}`", kind = kind.as_str())]
    UnknownResource {
        /// What was looked for.
        kind: ResourceKind,
        /// The id.
        id: String,
    },
    /// The resource is of another kind than the action needs.
    #[error("action `{action}` does not apply to `{id}`, which is a {actual}", actual = actual.as_str())]
    WrongResourceKind {
        /// The action.
        action: Action,
        /// The id.
        id: String,
        /// What it is.
        actual: ResourceKind,
    },
}
