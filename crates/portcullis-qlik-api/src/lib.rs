//! The Qlik Cloud–compatible REST API under `/api/v1`: the management API (`users`,
//! `groups`, `roles`, `spaces`, `oauth-clients`, `api-keys`, `items`, `tenants`) and the audit
//! trail (`audits`), so that existing tooling such as the official `@qlik/api` client works
//! against Portcullis unchanged. Every error under `/api/v1` is an [`ApiError`] in Qlik's envelope ([`err`]).
//!
//! Two layers:
//! - **pure handlers** ([`users`], [`groups`], [`roles`], [`spaces`], [`oauth_clients`],
//!   [`api_keys`], [`items`], [`apps`] and [`data_connections`] (the owner change), [`tenants`]; [`audits`] shapes what the host reads of the trail) over a [`Ctx`] (the tenant, its snapshot and the [`Caller`]): reads return a
//!   wire DTO, writes return a [`Mutation`] (the changed tenant, the audit notes, the DTO), and
//!   every refusal is an [`ApiError`] in Qlik's envelope. A handler that reads a body takes a
//!   derived type, decoded by [`body`] so a mistyped value is refused naming its JSON path.
//!   Lists read their query with [`paging`], whose SCIM filters [`filter`] parses.
//!   The API's own permissions are engine decisions (`role:create`, `user:manage`,
//!   `space:read`, `audit:read`, ...). No HTTP types here;
//! - **the router** ([`routes()`]) over an [`ApiHost`] that the server implements over its store
//!   and snapshot registry (the tenant, the credentials, the audit trail), plus the unauthenticated [`product_info_routes()`] and the rate
//!   limiter ([`ratelimit`]).
//!
//! It deliberately does not authenticate: the server resolves each credential and inserts a
//! [`Caller`] into the request's extensions before the request reaches [`routes()`].
#![warn(missing_docs)]

pub mod api_keys;
pub mod apps;
pub mod audits;
pub mod body;
pub mod caller;
pub mod data_connections;
pub mod dto;
pub mod err;
pub mod filter;
pub mod groups;
pub mod host;
pub mod ids;
pub mod items;
pub mod mutation;
pub mod oauth_clients;
pub mod openapi;
pub mod paging;
pub mod patch;
pub mod ratelimit;
pub mod roles;
pub mod route_table;
pub mod routes;
pub mod spaces;
pub mod tenants;
pub mod time;
pub mod users;

pub use caller::{Caller, Ctx};
pub use err::{ApiError, ErrorEnvelope, Failure};
pub use host::{
    ApiHost, ApiKeyInfo, ApiKeySettings, AuditRecord, ClientSecretInfo, Commit, CreatedApiKey, CreatedClientSecret, HostError, MAX_CLIENT_SECRETS,
    NewApiKey, TenantRef, TenantState,
};
pub use ids::ApiIds;
pub use mutation::{AuditNote, Mutation, Reply};
pub use ratelimit::{RateLimitConfig, RateLimiter, Tier};
pub use routes::{ApiConfig, product_info_routes, routes};
