//! The wire format: JSON request and response bodies of the decision API, and their
//! conversion from the engine's types. Field names are camelCase; unknown fields are refused.

use portcullis_engine::{Decision, Explanation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::err::ErrorBody;

fn yes() -> bool {
    true
}

/// One decision asked for: may `user`, through `via`, take `action` on `resource`?
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckRequest {
    /// The user asked about (IdP subject, the tenant file's `id`).
    pub user: String,
    /// `api-key` (default), `oauth:<client id>`, or `session` (the user's session on this
    /// node, see `POST /v1/sessions`; without one, rights as of a fresh login).
    #[serde(default)]
    pub via: Option<String>,
    /// The action, e.g. `app:read`.
    pub action: String,
    /// The space or content id; leave out for tenant-level actions.
    #[serde(default)]
    pub resource: Option<String>,
    /// Include the explanation (default true).
    #[serde(default = "yes")]
    pub explain: bool,
    /// Decide on a snapshot at least this fresh (a revision returned by a write).
    #[serde(default)]
    pub min_revision: Option<u64>,
    /// Decide as the tenant stood at a past moment (access history, `docs/history.md`): a
    /// revision (`42`) or an RFC 3339 time (`"2026-03-03T12:00:00Z"`: the last revision at or
    /// before it). Absent: now.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-03-03T12:00:00Z")]
    pub as_of: Option<serde_json::Value>,
}

/// A decision.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionBody {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The same, as a boolean.
    pub allowed: bool,
    /// The tenant revision it was decided at.
    pub revision: u64,
    /// Why (when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<ExplanationBody>,
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExplanationBody {
    /// The conformance tokens of every reason, in order (`role:Exporters`, `group:finance`).
    pub tokens: Vec<String>,
    /// Each reason.
    pub reasons: Vec<ReasonBody>,
}

/// One reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReasonBody {
    /// What kind of reason (`role`, `space-role`, `share`, `scope`, `no-grant`, ...).
    pub kind: &'static str,
    /// Its tokens.
    pub tokens: Vec<String>,
    /// In words.
    pub text: String,
}

impl ExplanationBody {
    /// The wire form of an explanation.
    pub fn from_explanation(explanation: &Explanation) -> ExplanationBody {
        let reasons = explanation
            .reasons
            .iter()
            .map(|reason| {
                let mut tokens = Vec::new();
                reason.tokens(&mut tokens);
                ReasonBody {
                    kind: reason.kind(),
                    tokens,
                    text: reason.sentence(),
                }
            })
            .collect();
        ExplanationBody {
            tokens: explanation.tokens(),
            reasons,
        }
    }
}

impl DecisionBody {
    /// The wire form of a decision.
    pub fn new(decision: &Decision, revision: u64, explain: bool) -> DecisionBody {
        DecisionBody {
            decision: decision.verdict(),
            allowed: decision.allowed,
            revision,
            explanation: explain.then(|| ExplanationBody::from_explanation(&decision.explanation)),
        }
    }
}

/// One check of a batch.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchCheck {
    /// The user asked about.
    pub user: String,
    /// The channel (default: the batch's `via`, else `api-key`).
    #[serde(default)]
    pub via: Option<String>,
    /// The action.
    pub action: String,
    /// The resource, for space and content actions.
    #[serde(default)]
    pub resource: Option<String>,
}

/// Many checks, decided on one snapshot.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    /// The checks (at most 100,000).
    pub checks: Vec<BatchCheck>,
    /// The default channel of the checks.
    #[serde(default)]
    pub via: Option<String>,
    /// Include explanations (default false: a bare decision allocates nothing).
    #[serde(default)]
    pub explain: bool,
    /// Decide on a snapshot at least this fresh.
    #[serde(default)]
    pub min_revision: Option<u64>,
    /// Decide as the tenant stood at a past moment (access history, `docs/history.md`): a
    /// revision (`42`) or an RFC 3339 time (`"2026-03-03T12:00:00Z"`: the last revision at or
    /// before it). Absent: now.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-03-03T12:00:00Z")]
    pub as_of: Option<serde_json::Value>,
}

/// The outcome of one check of a batch: a decision, or the error that check alone has.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    /// `allow` or `deny` (`deny` when the check has an error).
    pub decision: &'static str,
    /// The same, as a boolean.
    pub allowed: bool,
    /// Why, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<ExplanationBody>,
    /// What is wrong with this check, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// The outcomes of a batch, in the order of its checks.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The revision every check was decided at.
    pub revision: u64,
    /// One result per check.
    pub results: Vec<BatchResult>,
}

/// What may `user` take `action` on?
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListResourcesRequest {
    /// The user.
    pub user: String,
    /// The channel (default `api-key`).
    #[serde(default)]
    pub via: Option<String>,
    /// A space or content action, e.g. `app:read`.
    pub action: String,
    /// From a previous page's `nextCursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Decide on a snapshot at least this fresh.
    #[serde(default)]
    pub min_revision: Option<u64>,
    /// Decide as the tenant stood at a past moment (access history, `docs/history.md`): a
    /// revision (`42`) or an RFC 3339 time (`"2026-03-03T12:00:00Z"`: the last revision at or
    /// before it). Absent: now.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-03-03T12:00:00Z")]
    pub as_of: Option<serde_json::Value>,
}

/// A space, app or data connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResourceBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `space`, `app` or `data-connection`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One page of resources.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListResourcesResponse {
    /// The revision the page was decided at.
    pub revision: u64,
    /// The resources.
    pub resources: Vec<ResourceBody>,
    /// The cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Who may take `action` on `resource`?
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListUsersRequest {
    /// The action.
    pub action: String,
    /// The resource, for space and content actions.
    #[serde(default)]
    pub resource: Option<String>,
    /// The channel (default `api-key`).
    #[serde(default)]
    pub via: Option<String>,
    /// From a previous page's `nextCursor`.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Decide on a snapshot at least this fresh.
    #[serde(default)]
    pub min_revision: Option<u64>,
    /// Decide as the tenant stood at a past moment (access history, `docs/history.md`): a
    /// revision (`42`) or an RFC 3339 time (`"2026-03-03T12:00:00Z"`: the last revision at or
    /// before it). Absent: now.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "2026-03-03T12:00:00Z")]
    pub as_of: Option<serde_json::Value>,
}

/// A user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One page of users.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListUsersResponse {
    /// The revision the page was decided at.
    pub revision: u64,
    /// The users.
    pub users: Vec<UserBody>,
    /// The cursor of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
