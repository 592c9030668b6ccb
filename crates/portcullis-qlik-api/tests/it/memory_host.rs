//! An in-memory [`ApiHost`]: one tenant, its snapshot rebuilt on every commit, API keys and
//! client secrets in vectors, an audit trail of the commits' notes. What the server does over
//! its store, minus the store.

use std::sync::{Arc, Mutex};

use portcullis_audit::{Actor, AuditQuery, AuditSettings, EventBody, ResourceRef};
use portcullis_engine::Snapshot;
use portcullis_model::Tenant;
use portcullis_qlik_api::{
    ApiHost, ApiKeyInfo, ApiKeySettings, AuditNote, AuditRecord, Caller, ClientSecretInfo, Commit, CreatedApiKey, CreatedClientSecret, HostError,
    MAX_CLIENT_SECRETS, NewApiKey, TenantState,
};

#[derive(Debug)]
struct Inner {
    tenant: Arc<Tenant>,
    snapshot: Arc<Snapshot>,
    revision: u64,
    keys: Vec<ApiKeyInfo>,
    tokens: Vec<(String, String)>,
    /// Client id, secret, and how it is listed.
    secrets: Vec<(String, String, ClientSecretInfo)>,
    /// Secrets created so far (numbers them).
    serial: u32,
    notes: Vec<AuditNote>,
    /// The trail: an event per note committed.
    events: Vec<AuditRecord>,
    /// Events that fail their check (as if altered in the store).
    damaged: Vec<u64>,
    audit_settings: AuditSettings,
    api_key_settings: ApiKeySettings,
    /// Commits to refuse as stale before accepting (to test the router's retry).
    stale_commits: u32,
}

impl Inner {
    /// The key `key_id`, to change, or `NotFound` as the store answers.
    fn key_mut(&mut self, key_id: &str) -> Result<&mut ApiKeyInfo, HostError> {
        self.keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .ok_or_else(|| HostError::NotFound(key_id.to_owned()))
    }
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
                serial: 0,
                notes: Vec::new(),
                events: Vec::new(),
                damaged: Vec::new(),
                audit_settings: AuditSettings::default(),
                api_key_settings: ApiKeySettings {
                    enabled: true,
                    max_expiry_seconds: 3650 * 86_400,
                    max_keys_per_user: 1000,
                },
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

    /// Marks an event as failing its check: the host never serves it.
    pub fn damage(&self, seq: u64) {
        self.inner.lock().unwrap().damaged.push(seq);
    }

    pub fn audit_settings_now(&self) -> AuditSettings {
        self.inner.lock().unwrap().audit_settings
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
        for note in commit.notes {
            let seq = inner.events.len() as u64 + 1;
            let body = EventBody {
                tenant: inner.tenant.name.clone(),
                seq,
                event_time: format!("2026-01-01T00:00:{seq:02}.000Z"),
                event_type: note.event.as_str().to_owned(),
                actor: Actor {
                    user: Some(commit.actor.user_id.clone()),
                    ..Actor::default()
                },
                channel: commit.actor.channel.to_string(),
                action: note.event.as_str().trim_start_matches("com.qlik.v1.").to_owned(),
                resource: Some(ResourceRef {
                    kind: note.resource_kind.to_owned(),
                    id: note.resource_id.clone(),
                    ..ResourceRef::default()
                }),
                decision: None,
                explanation: None,
                data: note.data.clone(),
            };
            inner.events.push(AuditRecord {
                seq,
                hash: format!("{seq:064x}"),
                body,
            });
        }
        Ok(revision)
    }

    async fn create_api_key(&self, _caller: &Caller, key: NewApiKey) -> Result<CreatedApiKey, HostError> {
        let mut inner = self.inner.lock().unwrap();
        let active = inner.keys.iter().filter(|k| k.user_id == key.user_id && k.revoked_at.is_none()).count();
        if active >= inner.api_key_settings.max_keys_per_user as usize {
            return Err(HostError::Denied(format!(
                "`{}` holds the most keys allowed (`max_keys_per_user`)",
                key.user_id
            )));
        }
        let id = format!("key{}", inner.keys.len() + 1);
        let info = ApiKeyInfo {
            id: id.clone(),
            user_id: key.user_id,
            description: key.description,
            created_at: 1_700_000_000,
            expires_at: key.expires_at,
            revoked_at: None,
            updated_at: None,
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
        let key = inner.key_mut(key_id)?;
        key.revoked_at = Some(1_700_000_100);
        Ok(())
    }

    async fn api_key_settings(&self, _tenant: &str) -> Result<ApiKeySettings, HostError> {
        Ok(self.inner.lock().unwrap().api_key_settings)
    }

    async fn set_api_key_settings(&self, _caller: &Caller, settings: &ApiKeySettings) -> Result<(), HostError> {
        self.inner.lock().unwrap().api_key_settings = *settings;
        Ok(())
    }

    async fn update_api_key(&self, _caller: &Caller, key_id: &str, description: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().unwrap();
        let key = inner.key_mut(key_id)?;
        key.description = description.to_owned();
        key.updated_at = Some(1_700_000_200);
        Ok(())
    }

    async fn delete_api_key(&self, _caller: &Caller, key_id: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.keys.len();
        inner.keys.retain(|k| k.id != key_id);
        if inner.keys.len() == before {
            return Err(HostError::NotFound(key_id.to_owned()));
        }
        Ok(())
    }

    async fn create_client_secret(&self, _tenant: &str, client_id: &str, bot_user: &str) -> Result<CreatedClientSecret, HostError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.secrets.iter().filter(|(client, ..)| client == client_id).count() >= MAX_CLIENT_SECRETS {
            return Err(HostError::Full(format!(
                "OAuth client `{client_id}` holds {MAX_CLIENT_SECRETS} secrets; delete one first"
            )));
        }
        inner.serial += 1;
        let secret = format!("secret-{client_id}-{:04}", inner.serial);
        let info = ClientSecretInfo {
            hint: secret[secret.len() - 4..].to_owned(),
            created_at: 1_700_000_000 + inner.serial as i64,
            created_by: bot_user.to_owned(),
        };
        inner.secrets.push((client_id.to_owned(), secret.clone(), info.clone()));
        Ok(CreatedClientSecret { info, secret })
    }

    async fn client_secrets(&self, _tenant: &str, client_id: &str) -> Result<Vec<ClientSecretInfo>, HostError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .secrets
            .iter()
            .filter(|(client, ..)| client == client_id)
            .map(|(_, _, info)| info.clone())
            .collect())
    }

    async fn delete_client_secret(&self, _caller: &Caller, client_id: &str, hint: &str) -> Result<(), HostError> {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.secrets.len();
        inner.secrets.retain(|(client, _, info)| !(client == client_id && info.hint == hint));
        if inner.secrets.len() == before {
            return Err(HostError::NotFound(format!("secret `{hint}` of `{client_id}`")));
        }
        Ok(())
    }

    async fn audit_events(&self, _tenant: &str, query: &AuditQuery) -> Result<Vec<AuditRecord>, HostError> {
        let inner = self.inner.lock().unwrap();
        let mut found: Vec<AuditRecord> = inner
            .events
            .iter()
            .filter(|r| query.matches(&r.body) && !inner.damaged.contains(&r.seq))
            .cloned()
            .collect();
        found.sort_by_key(|r| query.sort_key(&r.body));
        if query.newest_first {
            found.reverse();
        }
        found.truncate(query.limit);
        Ok(found)
    }

    async fn audit_event(&self, _tenant: &str, seq: u64) -> Result<Option<AuditRecord>, HostError> {
        let inner = self.inner.lock().unwrap();
        if inner.damaged.contains(&seq) {
            return Err(HostError::Damaged(format!("audit event {seq} fails its integrity check")));
        }
        Ok(inner.events.iter().find(|r| r.seq == seq).cloned())
    }

    async fn audit_settings(&self, _tenant: &str) -> Result<AuditSettings, HostError> {
        Ok(self.inner.lock().unwrap().audit_settings)
    }

    async fn set_audit_settings(&self, _tenant: &str, settings: &AuditSettings, _actor: &Caller) -> Result<(), HostError> {
        self.inner.lock().unwrap().audit_settings = *settings;
        Ok(())
    }
}
