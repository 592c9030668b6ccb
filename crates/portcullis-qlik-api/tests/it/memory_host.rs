//! An in-memory [`ApiHost`]: one tenant, its snapshot rebuilt on every commit, API keys and
//! client secrets in vectors. What the server does over its store, minus the store.

use std::sync::{Arc, Mutex};

use portcullis_engine::Snapshot;
use portcullis_model::Tenant;
use portcullis_qlik_api::{ApiHost, ApiKeyInfo, AuditNote, Caller, Commit, CreatedApiKey, HostError, NewApiKey, TenantState};

#[derive(Debug)]
struct Inner {
    tenant: Arc<Tenant>,
    snapshot: Arc<Snapshot>,
    revision: u64,
    keys: Vec<ApiKeyInfo>,
    tokens: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    notes: Vec<AuditNote>,
    /// Commits to refuse as stale before accepting (to test the router's retry).
    stale_commits: u32,
}

#[derive(Debug, Clone)]
pub struct MemoryHost {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryHost {
    pub fn new(tenant: Tenant) -> MemoryHost {
        let snapshot = Arc::new(Snapshot::build(&tenant, 1));
        MemoryHost {
            inner: Arc::new(Mutex::new(Inner {
                tenant: Arc::new(tenant),
                snapshot,
                revision: 1,
                keys: Vec::new(),
                tokens: Vec::new(),
                secrets: Vec::new(),
                notes: Vec::new(),
                stale_commits: 0,
            })),
        }
    }

    pub fn state(&self) -> TenantState {
        let inner = self.inner.lock().unwrap();
        TenantState {
            tenant: Box::new(inner.tenant.clone()),
            snapshot: inner.snapshot.clone(),
            ids: portcullis_qlik_api::ApiIds::build(&inner.tenant),
            revision: inner.revision,
        }
    }

    pub fn notes(&self) -> Vec<AuditNote> {
        self.inner.lock().unwrap().notes.clone()
    }

    pub fn refuse_next_commits(&self, n: u32) {
        self.inner.lock().unwrap().stale_commits = n;
    }

    /// The user a bearer token stands for.
    pub fn token_user(&self, token: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap();
        let key_id = inner.tokens.iter().find(|(_, t)| t == token).map(|(id, _)| id.clone())?;
        inner
            .keys
            .iter()
            .find(|k| k.id == key_id && k.revoked_at.is_none())
            .map(|k| k.user_id.clone())
    }

    /// The engine's decision on the current state.
    pub fn decide(&self, user: &str, action: &str, resource: Option<&str>) -> bool {
        let state = self.state();
        let raw = portcullis_engine::RawRequest {
            user,
            via: &portcullis_model::Channel::ApiKey,
            action,
            resource,
        };
        let Ok(resolved) = portcullis_engine::resolve(&state.snapshot, &raw) else {
            return false;
        };
        portcullis_engine::decide(&state.snapshot, &resolved.request(None, false)).allowed
    }
}

impl ApiHost for MemoryHost {
    async fn tenant_state(&self, tenant: &str) -> Result<TenantState, HostError> {
        if self.inner.lock().unwrap().tenant.name != tenant {
            return Err(HostError::NotFound(tenant.to_owned()));
        }
        Ok(self.state())
    }

    async fn commit(&self, _tenant: &str, commit: Commit<'_>) -> Result<u64, HostError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.stale_commits > 0 {
            inner.stale_commits -= 1;
            // Someone else wrote in between: the revision moves on.
            inner.revision += 1;
            return Err(HostError::Stale {
                base_revision: commit.base_revision,
            });
        }
        if commit.base_revision != inner.revision {
            return Err(HostError::Stale {
                base_revision: commit.base_revision,
            });
        }
        let mut tenant = (*inner.tenant).clone();
        tenant
            .apply_all(commit.changes)
            .map_err(|(index, error)| HostError::Rejected { index, error })?;
        let revision = inner.revision + 1;
        inner.snapshot = Arc::new(Snapshot::build(&tenant, revision));
        inner.tenant = Arc::new(tenant);
        inner.revision = revision;
        inner.notes.extend(commit.notes.iter().cloned());
        Ok(revision)
    }

    async fn create_api_key(&self, _caller: &Caller, key: NewApiKey) -> Result<CreatedApiKey, HostError> {
        let mut inner = self.inner.lock().unwrap();
        let id = format!("key{}", inner.keys.len() + 1);
        let info = ApiKeyInfo {
            id: id.clone(),
            user_id: key.user_id,
            description: key.description,
            created_at: 1_700_000_000,
            expires_at: key.expires_at,
            revoked_at: None,
        };
        let token = format!("token-{id}");
        inner.keys.push(info.clone());
        inner.tokens.push((id, token.clone()));
        Ok(CreatedApiKey { key: info, token })
    }

    async fn api_keys(&self, _tenant: &str, user_id: Option<&str>) -> Result<Vec<ApiKeyInfo>, HostError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.keys.iter().filter(|k| user_id.is_none_or(|u| k.user_id == u)).cloned().collect())
    }

    async fn revoke_api_key(&self, _caller: &Caller, key_id: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().unwrap();
        let key = inner
            .keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .ok_or_else(|| HostError::NotFound(key_id.to_owned()))?;
        key.revoked_at = Some(1_700_000_100);
        Ok(())
    }

    async fn create_client_secret(&self, _tenant: &str, client_id: &str, _bot_user: &str) -> Result<String, HostError> {
        let mut inner = self.inner.lock().unwrap();
        let secret = format!("secret-{client_id}-{}", inner.secrets.len() + 1);
        inner.secrets.push((client_id.to_owned(), secret.clone()));
        Ok(secret)
    }
}
