//! Mounts the Qlik Cloud–compatible API (`portcullis-qlik-api`: the management API and the
//! audit trail) on this server: [`QlikHost`] implements its `ApiHost` over the store and the
//! tenants' views, and [`management_api`] turns the server's own credential check into the
//! API's `Caller`.
//!
//! A request without a usable credential reaches the API without a caller and is answered
//! 401 in Qlik's error envelope, which is what `@qlik/api` reads; a credential the server
//! cannot check for another reason (the operator naming no tenant: 400; the store down: 503)
//! is answered with that status, in the same envelope. The operator token is not a user and
//! acts only in the server's own `/v1` routes: under `/api/v1` it is answered 401.
//!
//! The audit trail is read through the store, and every event is checked before it is
//! served: its hash covers its body (under the audit key that sealed it), its indexed columns
//! agree with it, and it is keyed where this node knows every event is. One that fails is
//! never served as if intact: a listing leaves it out, a read of it alone answers 500; either
//! way it is logged as an error and counted.
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
use portcullis_qlik_api::{
    ApiConfig, ApiHost, ApiKeyInfo, ApiKeySettings, AuditRecord, ClientSecretInfo, Commit, CreatedApiKey, CreatedClientSecret, HostError, NewApiKey,
    TenantState,
};
use portcullis_store::{AuditQuery, AuditSettings, Author, ChainBreak, EventDraft, NewClientSecret, ResourceRef, SealedEvent, StoreError};

use crate::auth::{API_KEY_PREFIX, CLIENT_SECRET_PREFIX, Caller, Principal, new_secret, secret_hint};
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
        StoreError::LimitReached(why) => HostError::Denied(why),
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
            .create_api_key_within_settings(
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

    async fn api_key_settings(&self, tenant: &str) -> Result<ApiKeySettings, HostError> {
        let record = self.tenant(tenant).await?;
        let stored = self.state.store().api_key_settings(record.id).await.map_err(host_error)?;
        Ok(ApiKeySettings {
            enabled: stored.enabled,
            max_expiry_seconds: stored.max_expiry_seconds,
            max_keys_per_user: stored.max_keys_per_user,
        })
    }

    async fn set_api_key_settings(&self, caller: &portcullis_qlik_api::Caller, settings: &ApiKeySettings) -> Result<(), HostError> {
        let record = self.tenant(&caller.tenant).await?;
        let stored = portcullis_store::ApiKeySettings {
            enabled: settings.enabled,
            max_expiry_seconds: settings.max_expiry_seconds,
            max_keys_per_user: settings.max_keys_per_user,
        };
        self.state
            .store()
            .set_api_key_settings(record.id, &stored, &author_of(caller))
            .await
            .map_err(host_error)
    }

    async fn update_api_key(&self, caller: &portcullis_qlik_api::Caller, key_id: &str, description: &str) -> Result<(), HostError> {
        let record = self.tenant(&caller.tenant).await?;
        let id: i64 = key_id.parse().map_err(|_| HostError::NotFound(format!("API key `{key_id}`")))?;
        self.state
            .store()
            .update_api_key(record.id, id, description, &author_of(caller))
            .await
            .map_err(host_error)
    }

    async fn delete_api_key(&self, caller: &portcullis_qlik_api::Caller, key_id: &str) -> Result<(), HostError> {
        let record = self.tenant(&caller.tenant).await?;
        let id: i64 = key_id.parse().map_err(|_| HostError::NotFound(format!("API key `{key_id}`")))?;
        self.state
            .store()
            .delete_api_key(record.id, id, &author_of(caller))
            .await
            .map_err(host_error)?;
        self.state.forget_credentials();
        Ok(())
    }

    async fn create_client_secret(&self, tenant: &str, client_id: &str, bot_user: &str) -> Result<CreatedClientSecret, HostError> {
        let record = self.tenant(tenant).await?;
        let author = portcullis_store::Author::user(bot_user, "api-key");
        // A hint is the secret's last characters; two of one client's secrets ending alike
        // (one chance in millions) is refused by the store, and the secret drawn again.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (secret, hash) =
                new_secret(CLIENT_SECRET_PREFIX).map_err(|e| HostError::Unavailable(format!("no randomness for a new secret: {e}")))?;
            let new = NewClientSecret {
                tenant: record.id,
                client_id: client_id.to_owned(),
                hash,
                bot_user: bot_user.to_owned(),
                hint: secret_hint(&secret),
            };
            match self.state.store().create_client_secret(&new, &author).await {
                Ok(stored) => {
                    let info = ClientSecretInfo {
                        hint: stored.hint,
                        created_at: stored.created_at,
                        created_by: stored.bot_user,
                    };
                    return Ok(CreatedClientSecret { info, secret });
                }
                Err(StoreError::Conflict(_)) if attempts < 3 => continue,
                Err(StoreError::LimitReached(why)) => return Err(HostError::Full(why)),
                Err(other) => return Err(host_error(other)),
            }
        }
    }

    async fn client_secrets(&self, tenant: &str, client_id: &str) -> Result<Vec<ClientSecretInfo>, HostError> {
        let record = self.tenant(tenant).await?;
        let stored = self.state.store().client_secrets(record.id, client_id).await.map_err(host_error)?;
        Ok(stored
            .into_iter()
            .map(|secret| ClientSecretInfo {
                hint: secret.hint,
                created_at: secret.created_at,
                created_by: secret.bot_user,
            })
            .collect())
    }

    async fn delete_client_secret(&self, caller: &portcullis_qlik_api::Caller, client_id: &str, hint: &str) -> Result<(), HostError> {
        let record = self.tenant(&caller.tenant).await?;
        self.state
            .store()
            .delete_client_secret(record.id, client_id, hint, &author_of(caller))
            .await
            .map_err(host_error)?;
        self.state.forget_credentials();
        Ok(())
    }

    async fn audit_events(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditRecord>, HostError> {
        let record = self.tenant(tenant).await?;
        let (found, mut refused) = self.state.store().readable_audit_events(record.id, query).await.map_err(trail_failure)?;
        let mut intact = Vec::with_capacity(found.len());
        for (sealed, body) in found {
            match downgraded(&record, &sealed) {
                Some(fault) => refused.push(fault),
                None => intact.push(AuditRecord {
                    seq: sealed.seq,
                    hash: sealed.hash,
                    body,
                }),
            }
        }
        if refused.len() > MAX_SKIPPED {
            return Err(HostError::Damaged(format!(
                "{} audit events of this listing fail their check; run `portcullis audit verify`",
                refused.len()
            )));
        }
        for fault in &refused {
            self.report_refused(&record, fault);
        }
        Ok(intact)
    }

    async fn audit_event(&self, tenant: &str, seq: u64) -> Result<Option<AuditRecord>, HostError> {
        let record = self.tenant(tenant).await?;
        let refused = |fault: ChainBreak| {
            self.report_refused(&record, &fault);
            HostError::Damaged(format!(
                "audit event {seq} fails its integrity check: {fault}; run `portcullis audit verify`"
            ))
        };
        match self.state.store().audit_event(record.id, seq).await {
            Ok(Some((sealed, body))) => match downgraded(&record, &sealed) {
                Some(fault) => Err(refused(fault)),
                None => Ok(Some(AuditRecord {
                    seq: sealed.seq,
                    hash: sealed.hash,
                    body,
                })),
            },
            Ok(None) => Ok(None),
            Err(StoreError::Integrity(fault)) => Err(refused(fault)),
            Err(other) => Err(trail_failure(other)),
        }
    }

    async fn audit_settings(&self, tenant: &str) -> Result<AuditSettings, HostError> {
        let record = self.tenant(tenant).await?;
        self.state.store().audit_settings(record.id).await.map_err(host_error)
    }

    async fn set_audit_settings(&self, tenant: &str, settings: &AuditSettings, actor: &portcullis_qlik_api::Caller) -> Result<(), HostError> {
        let record = self.tenant(tenant).await?;
        self.state
            .store()
            .set_audit_settings(record.id, settings, &author_of(actor))
            .await
            .map_err(host_error)?;
        record.set_audit_policy(settings.policy);
        Ok(())
    }
}

/// The most damaged events one listing skips before it gives up (a table that bad is a case
/// for `portcullis audit verify`, not for paging around).
const MAX_SKIPPED: usize = 100;

impl QlikHost {
    /// Logs and counts an event a read refused: in `portcullis_audit_events_unreadable_total`
    /// when its JSON does not parse, in `portcullis_audit_integrity_failures_total` otherwise.
    fn report_refused(&self, tenant: &crate::state::TenantState, fault: &ChainBreak) {
        if matches!(fault, ChainBreak::Unreadable { .. }) {
            tracing::warn!(tenant = %tenant.name, %fault, "audit event skipped: its stored JSON does not parse");
            self.state.metrics().record_unreadable_audit_event();
        } else {
            tracing::error!(tenant = %tenant.name, %fault, "audit event refused: it fails its integrity check; run `portcullis audit verify`");
            self.state.metrics().record_audit_integrity_failure();
        }
    }
}

/// This node's own check on top of the store's: an unkeyed event where this node knows every
/// event is keyed ([`crate::state::TenantState::audit_keyed_from`]) was rewritten without the key.
fn downgraded(tenant: &crate::state::TenantState, sealed: &SealedEvent) -> Option<ChainBreak> {
    let keyed_from = tenant.audit_keyed_from?;
    (sealed.key_id.is_none() && sealed.seq >= keyed_from).then_some(ChainBreak::NotKeyed { seq: sealed.seq, keyed_from })
}

/// A read of the trail that failed: a damaged or unverifiable trail is named (our own words,
/// pointing at `portcullis audit verify`); any other store failure keeps its detail in the log.
fn trail_failure(error: StoreError) -> HostError {
    match error {
        StoreError::Corrupt(_) | StoreError::Integrity(_) | StoreError::KeyNeeded(_) => {
            HostError::Damaged(format!("cannot read the audit trail: {error}; run `portcullis audit verify`"))
        }
        other => host_error(other),
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
        updated_at: record.updated_at,
    }
}

/// Resolves the request's credential with the server's own check and, for a user, inserts
/// the API's `Caller`. For a user's request it also keeps the consistency token: a
/// `Portcullis-Min-Revision` header makes the request wait for that revision (or answers 409 in
/// Qlik's envelope), and the answer says its revision in `Portcullis-Revision` — a read's is
/// the revision it read at least, a write's one that includes it.
async fn insert_caller(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let tenant = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(Caller {
            tenant,
            principal: Principal::User { id, via },
        }) => {
            parts.extensions.insert(portcullis_qlik_api::Caller {
                tenant: tenant.name.clone(),
                user_id: id,
                channel: via,
            });
            tenant
        }
        Ok(Caller {
            principal: Principal::Operator,
            ..
        }) => {
            return crate::ops::qlik_error(
                401,
                "the operator token acts only in the server's own `/v1` routes; send a user's API key or OAuth token".to_owned(),
            );
        }
        // No credential, or one that is not known: the API answers 401 in its own words.
        Err(error) if error.status == axum::http::StatusCode::UNAUTHORIZED => return next.run(Request::from_parts(parts, body)).await,
        // A question the server cannot answer as asked (400) or a store that does not (503).
        Err(error) => return crate::ops::in_qlik_envelope(error),
    };
    let read = parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
    let min = match MinRevision::from_headers(&parts.headers) {
        Ok(min) => min,
        Err(error) => return crate::ops::in_qlik_envelope(error),
    };
    let before = match state.view_at_least(&tenant, min.0).await {
        Ok(view) => view.snapshot.revision,
        Err(error) => return crate::ops::in_qlik_envelope(error),
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
