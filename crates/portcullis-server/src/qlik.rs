//! Mounts the Qlik Cloud–compatible management API (`portcullis-qlik-api`) on this server:
//! [`QlikHost`] implements its `ApiHost` over the store and the tenants' views, and
//! [`management_api`] turns the server's own credential check into the API's `Caller`.
//!
//! A request without a usable credential reaches the API without a caller and is answered
//! 401 in Qlik's error envelope, which is what `@qlik/api` reads. The operator token is not
//! a user and gets no caller here.
//!
//! A read borrows the live model (a read guard on it, held while the handler runs); nothing is
//! copied. A commit is the one write path (`AppState::write_with`): the handler's `Change`s are
//! applied to the live model at the revision the handler read (a later revision is refused as
//! stale and the router retries), their touched rows and change-log rows written in one
//! transaction with a compare-and-swap on the revision (so nodes sharing one PostgreSQL
//! database cannot race) and one audit event per `AuditNote`, and the view is derived from what
//! they touched.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use portcullis_qlik_api::AuditNote;
use portcullis_qlik_api::route_table::RouteTable;
use portcullis_qlik_api::{ApiConfig, ApiHost, ApiKeyInfo, Commit, CreatedApiKey, HostError, NewApiKey, TenantState};
use portcullis_store::{Author, EventDraft, NewClientSecret, ResourceRef, StoreError};

use crate::auth::{API_KEY_PREFIX, CLIENT_SECRET_PREFIX, Caller, Principal, new_secret};
use crate::extract::{MinRevision, REVISION_HEADER};
use crate::state::{AppState, WriteFailure, WriteOptions};

/// The API's host: this server's store and views.
#[derive(Clone)]
pub struct QlikHost {
    state: AppState,
}

impl QlikHost {
    /// A host over the server's state.
    pub fn new(state: AppState) -> QlikHost {
        QlikHost { state }
    }
}

fn host_error(error: StoreError) -> HostError {
    match error {
        StoreError::NotFound(what) => HostError::NotFound(what),
        StoreError::Conflict(what) => HostError::Refused(format!("the write collided with another: {what}")),
        StoreError::Rejected(model) => HostError::Refused(model.to_string()),
        other => HostError::Unavailable(other.to_string()),
    }
}

impl QlikHost {
    async fn tenant(&self, name: &str) -> Result<Arc<crate::state::TenantState>, HostError> {
        self.state
            .tenant_by_name(name)
            .await
            .map_err(host_error)?
            .ok_or_else(|| HostError::NotFound(format!("tenant `{name}`")))
    }
}

impl ApiHost for QlikHost {
    async fn tenant_state(&self, tenant: &str) -> Result<TenantState, HostError> {
        let record = self.tenant(tenant).await?;
        let live = record.live_owned().await;
        // While the guard is held the view is at the live model's revision.
        let view = record.view();
        let revision = live.revision;
        let tenant = tokio::sync::OwnedRwLockReadGuard::map(live, |live| &live.tenant);
        Ok(TenantState {
            tenant: Box::new(tenant),
            snapshot: view.snapshot.clone(),
            ids: view.api_ids.clone(),
            revision,
        })
    }

    async fn commit(&self, tenant: &str, commit: Commit<'_>) -> Result<u64, HostError> {
        let record = self.tenant(tenant).await?;
        let author = author_of(commit.actor);
        let drafts: Vec<EventDraft> = commit.notes.iter().map(|note| draft_of(note, &author)).collect();
        let options = WriteOptions {
            base_revision: Some(commit.base_revision),
            events: Some(&drafts),
        };
        match self.state.write_with(&record, commit.changes, &author, options).await {
            Ok(written) => Ok(written.revision),
            Err(WriteFailure::Refused { index, error }) => Err(HostError::Rejected { index, error }),
            Err(WriteFailure::Store(StoreError::Conflict(_))) => Err(HostError::Stale {
                base_revision: commit.base_revision,
            }),
            Err(WriteFailure::Store(other)) => Err(host_error(other)),
        }
    }

    async fn create_api_key(&self, caller: &portcullis_qlik_api::Caller, key: NewApiKey) -> Result<CreatedApiKey, HostError> {
        let record = self.tenant(&caller.tenant).await?;
        let (token, hash) = new_secret(API_KEY_PREFIX).map_err(|e| HostError::Unavailable(format!("no randomness for a new secret: {e}")))?;
        let stored = self
            .state
            .store()
            .create_api_key(
                &portcullis_store::NewApiKey {
                    tenant: record.id,
                    user_id: key.user_id.clone(),
                    hash,
                    description: key.description,
                    expires_at: key.expires_at,
                },
                &portcullis_store::Author::through(caller.user_id.clone(), &caller.channel),
            )
            .await
            .map_err(host_error)?;
        Ok(CreatedApiKey {
            key: key_info(stored),
            token,
        })
    }

    async fn api_keys(&self, tenant: &str, user_id: Option<&str>) -> Result<Vec<ApiKeyInfo>, HostError> {
        let record = self.tenant(tenant).await?;
        let keys = self.state.store().api_keys(record.id, user_id).await.map_err(host_error)?;
        Ok(keys.into_iter().map(key_info).collect())
    }

    async fn revoke_api_key(&self, caller: &portcullis_qlik_api::Caller, key_id: &str) -> Result<(), HostError> {
        let record = self.tenant(&caller.tenant).await?;
        let id: i64 = key_id.parse().map_err(|_| HostError::NotFound(format!("API key `{key_id}`")))?;
        let author = portcullis_store::Author::through(caller.user_id.clone(), &caller.channel);
        self.state.store().revoke_api_key(record.id, id, &author).await.map_err(host_error)?;
        self.state.forget_credentials();
        Ok(())
    }

    async fn create_client_secret(&self, tenant: &str, client_id: &str, bot_user: &str) -> Result<String, HostError> {
        let record = self.tenant(tenant).await?;
        let (secret, hash) = new_secret(CLIENT_SECRET_PREFIX).map_err(|e| HostError::Unavailable(format!("no randomness for a new secret: {e}")))?;
        let new = NewClientSecret {
            tenant: record.id,
            client_id: client_id.to_owned(),
            hash,
            bot_user: bot_user.to_owned(),
        };
        let author = portcullis_store::Author::user(bot_user, "api-key");
        self.state.store().create_client_secret(&new, &author).await.map_err(host_error)?;
        Ok(secret)
    }
}

/// The author of a management API change: the caller, and the client acting for it.
fn author_of(caller: &portcullis_qlik_api::Caller) -> Author {
    Author::through(caller.user_id.clone(), &caller.channel)
}

/// The audit event of one management API change.
fn draft_of(note: &AuditNote, author: &Author) -> EventDraft {
    let space = match note.resource_kind {
        "space" => Some(note.resource_id.clone()),
        _ => note.data.get("spaceId").and_then(|s| s.as_str()).map(str::to_owned),
    };
    let resource = ResourceRef {
        kind: note.resource_kind.to_owned(),
        id: note.resource_id.clone(),
        space,
        owner: None,
    };
    let action = note.event.as_str().trim_start_matches("com.qlik.v1.").to_owned();
    EventDraft::change(note.event, author, action, Some(resource), note.data.clone())
}

fn key_info(record: portcullis_store::ApiKeyRecord) -> ApiKeyInfo {
    ApiKeyInfo {
        id: record.id.to_string(),
        user_id: record.user_id,
        description: record.description,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revoked_at: record.revoked_at,
    }
}

/// Resolves the request's credential with the server's own check and, for a user, inserts
/// the API's `Caller`. For a user's request it also keeps the consistency token: a
/// `Portcullis-Min-Revision` header makes the request wait for that revision (or answers 409 in
/// Qlik's envelope), and the answer says its revision in `Portcullis-Revision` — a read's is
/// the revision it read at least, a write's one that includes it.
async fn insert_caller(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut tenant = None;
    if let Ok(Caller {
        tenant: caller_tenant,
        principal: Principal::User { id, via },
    }) = Caller::from_request_parts(&mut parts, &state).await
    {
        parts.extensions.insert(portcullis_qlik_api::Caller {
            tenant: caller_tenant.name.clone(),
            user_id: id,
            channel: via,
        });
        tenant = Some(caller_tenant);
    }
    let Some(tenant) = tenant else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let read = parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
    let min = match MinRevision::from_headers(&parts.headers) {
        Ok(min) => min,
        Err(error) => return crate::ops::qlik_error(error.status.as_u16(), error.body.message),
    };
    let before = match state.view_at_least(&tenant, min.0).await {
        Ok(view) => view.snapshot.revision,
        Err(error) => return crate::ops::qlik_error(error.status.as_u16(), error.body.message),
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let revision = if read { before } else { tenant.view().snapshot.revision };
    response.headers_mut().insert(REVISION_HEADER, axum::http::HeaderValue::from(revision));
    response
}

/// The management API, to nest at `/api/v1`.
pub fn management_api(state: AppState, config: ApiConfig) -> RouteTable<AppState> {
    portcullis_qlik_api::routes(QlikHost::new(state.clone()), config)
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, insert_caller)))
}
