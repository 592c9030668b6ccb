//! The values the store hands out and takes in besides the tenant model itself: tenant
//! records, import modes, API keys, OAuth client secrets and tokens. Secrets never appear
//! here in clear: only their SHA-256 hashes, computed by the caller.

use std::fmt;

/// A tenant's key in the store (stable across imports that replace its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(pub i64);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A stored tenant: its key, name and current revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// Key.
    pub id: TenantId,
    /// Unique name.
    pub name: String,
    /// Grows by one with every write to the tenant's access model.
    pub revision: u64,
    /// Grows whenever one of the tenant's credentials is revoked or deleted (a key revoked, a
    /// user or client deleted with its credentials): a node that caches verified credentials
    /// drops the tenant's when it sees this move.
    pub credentials_revision: u64,
    /// Grows by one with every write to the tenant's security-rule sites: a node holding
    /// the tenant's sites at a lower value reads the sites written since.
    pub rule_sites_revision: u64,
}

/// What an import does with a tenant of the same name that is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Leave it as stored.
    KeepExisting,
    /// Replace its whole content, atomically.
    Replace,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new tenant was stored.
    Created,
    /// An existing tenant's content was replaced.
    Replaced,
    /// An existing tenant was left as it was.
    Kept,
}

/// The result of an import: the tenant as stored now, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The tenant.
    pub tenant: TenantRecord,
    /// What the import did.
    pub outcome: ImportOutcome,
}

/// A SHA-256 hash of a secret.
pub type SecretHash = [u8; 32];

/// An API key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// The tenant.
    pub tenant: TenantId,
    /// The user the key acts as.
    pub user_id: String,
    /// SHA-256 of the token.
    pub hash: SecretHash,
    /// Free text.
    pub description: String,
    /// Unix seconds after which the key is refused; `None` = never.
    pub expires_at: Option<i64>,
}

/// A stored API key (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Key id (unique in the store).
    pub id: i64,
    /// The tenant.
    pub tenant: TenantId,
    /// The user the key acts as.
    pub user_id: String,
    /// Free text.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the key is refused.
    pub expires_at: Option<i64>,
    /// Unix seconds of revocation, if revoked.
    pub revoked_at: Option<i64>,
    /// Unix seconds of the last change of its description, if it changed.
    pub updated_at: Option<i64>,
}

/// A tenant's API-key settings (Qlik's `api_keys_enabled`, `max_api_key_expiry`,
/// `max_keys_per_user`), checked whenever a key is created through
/// [`crate::Store::create_api_key_within_settings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeySettings {
    /// Whether keys may be created.
    pub enabled: bool,
    /// The longest lifetime of a new key, in seconds.
    pub max_expiry_seconds: i64,
    /// How many active (neither revoked nor expired) keys one user may hold.
    pub max_keys_per_user: u32,
}

impl Default for ApiKeySettings {
    /// On, ten years, a thousand keys: what Portcullis allowed before the settings existed
    /// (a thousand is the most Qlik lets a tenant set).
    fn default() -> Self {
        ApiKeySettings {
            enabled: true,
            max_expiry_seconds: 3650 * 86_400,
            max_keys_per_user: 1000,
        }
    }
}

impl ApiKeyRecord {
    /// True when the key may be used at `now` (unix seconds).
    pub fn is_usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// An OAuth client secret to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClientSecret {
    /// The tenant.
    pub tenant: TenantId,
    /// The OAuth client (an `oauthClients` id of the tenant).
    pub client_id: String,
    /// SHA-256 of the secret.
    pub hash: SecretHash,
    /// The user a `client_credentials` token acts as (the client's bot user), who created it.
    pub bot_user: String,
    /// What the client's secrets are listed and revoked by (the secret's last characters);
    /// unique within the client.
    pub hint: String,
}

/// The most secrets one OAuth client holds at a time, as in Qlik.
pub const MAX_SECRETS_PER_CLIENT: usize = 5;

/// A stored OAuth client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    /// Secret id.
    pub id: i64,
    /// The tenant.
    pub tenant: TenantId,
    /// The OAuth client.
    pub client_id: String,
    /// The bot user of `client_credentials` tokens (who created the secret).
    pub bot_user: String,
    /// Its hint, unique within the client.
    pub hint: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// An OAuth access token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOauthToken {
    /// The tenant.
    pub tenant: TenantId,
    /// The client that asked for it.
    pub client_id: String,
    /// The user it acts as (the impersonated subject, or the bot user).
    pub user_id: String,
    /// Scopes it carries.
    pub scopes: Vec<String>,
    /// SHA-256 of the token.
    pub hash: SecretHash,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// The grant that issued it (`client_credentials` or [`IMPERSONATION_GRANT`]); an
    /// impersonation token is stored only while its client may impersonate.
    pub grant_type: String,
    /// The client secret that asked for it.
    pub secret_id: i64,
}

/// The OAuth grant that mints tokens for any user of the tenant.
pub const IMPERSONATION_GRANT: &str = "urn:qlik:oauth:user-impersonation";

/// A stored OAuth access token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthTokenRecord {
    /// The tenant.
    pub tenant: TenantId,
    /// The client.
    pub client_id: String,
    /// The user it acts as.
    pub user_id: String,
    /// Scopes it carries.
    pub scopes: Vec<String>,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// One write: changes already applied to a live tenant by `Tenant::apply`, to store in one
/// transaction ([`crate::Store::commit_changes`], or with others in [`crate::Store::commit_batch`]).
#[derive(Debug, Clone, Copy)]
pub struct ChangeSet<'a> {
    /// The revision the tenant was at before the changes: the write is refused with
    /// [`crate::StoreError::Conflict`] when the store has moved on.
    pub base_revision: u64,
    /// The tenant after the changes (in a batch, the last write's is the one whose rows are
    /// stored: the tenant after all of them).
    pub after: &'a portcullis_model::Tenant,
    /// The changes, in order (logged one row each).
    pub changes: &'a [portcullis_model::Change],
    /// Everything they touched together: exactly these entities' rows are rewritten.
    pub touched: &'a portcullis_model::Touched,
    /// The audit events to append.
    pub events: &'a [crate::EventDraft],
    /// The sessions a login opens (the rights it froze): stored with the write's revision. A
    /// write with a session is stored even when it touched nothing and has no event.
    pub sessions: &'a [NewSession],
    /// Who made them.
    pub author: &'a crate::Author,
    /// What `Tenant::apply` returned for each change, in order: their undos are logged beside
    /// the changes for access history. Empty when unknown: history then does not reach back
    /// before this write.
    pub applied: &'a [portcullis_model::Applied],
}

/// One change-log row as access history reads it: the change, who made it and when, and the
/// rows it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedChange {
    /// The revision the change's write reached.
    pub revision: u64,
    /// Its place within that write.
    pub position: u64,
    /// The change.
    pub change: portcullis_model::Change,
    /// Who made it (`{"actor": ..., "channel": ...}`, as the change log keeps it).
    pub author: serde_json::Value,
    /// When, in Unix seconds.
    pub at: i64,
    /// The rows it replaced.
    pub undo: portcullis_model::Undo,
}

impl ChangeSet<'_> {
    /// Whether the write stores anything (and so takes a revision of its own).
    pub fn stores_anything(&self) -> bool {
        !(self.touched.is_empty() && self.events.is_empty() && self.sessions.is_empty())
    }
}

/// A session a login opens: the user, and the rights the login froze, as the server wrote
/// them (JSON in the model's words; the store keeps them as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The user who logged in.
    pub user_id: String,
    /// The frozen rights.
    pub rights: String,
}

/// A stored session: the rights a user's last login froze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user.
    pub user_id: String,
    /// The revision of the login.
    pub revision: u64,
    /// The frozen rights, as written ([`NewSession::rights`]).
    pub rights: String,
    /// Unix seconds of the login.
    pub logged_in_at: i64,
}

/// The most security-rule sites a tenant holds: every node keeps each one compiled in memory.
pub const MAX_RULE_SITES: u64 = 100;

/// The longest source text of a security-rule site, in bytes (the server's body limit).
pub const MAX_RULE_SITE_BYTES: usize = 16 * 1024 * 1024;

/// The longest name of a security-rule site, in bytes (it travels in URLs and notices).
pub const MAX_RULE_SITE_NAME_BYTES: usize = 200;

/// How a rule site's source text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSiteFormat {
    /// A YAML site file (or scenario file).
    Yaml,
    /// The same as JSON.
    Json,
}

impl RuleSiteFormat {
    /// Its stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSiteFormat::Yaml => "yaml",
            RuleSiteFormat::Json => "json",
        }
    }

    /// The format a stored word names.
    pub fn parse(word: &str) -> Option<RuleSiteFormat> {
        match word {
            "yaml" => Some(RuleSiteFormat::Yaml),
            "json" => Some(RuleSiteFormat::Json),
            _ => None,
        }
    }
}

/// A security-rule site to store ([`crate::Store::put_rule_site`]); its source was checked
/// (parsed and compiled) by the caller, which the store cannot do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRuleSite<'a> {
    /// The tenant.
    pub tenant: TenantId,
    /// The site's name (unique in the tenant).
    pub name: &'a str,
    /// How `source` is written.
    pub format: RuleSiteFormat,
    /// The source text as uploaded.
    pub source: &'a str,
    /// Replace only the site at this revision (`If-Match`): any other revision, or no such
    /// site, is [`crate::StoreError::PreconditionFailed`]. `None`: create or replace.
    pub expected_revision: Option<u64>,
    /// What the audit event says about the site (counts of users, resources, rules); the
    /// store adds its revision.
    pub summary: serde_json::Value,
}

/// A stored security-rule site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSiteRecord {
    /// Its name.
    pub name: String,
    /// How `source` is written.
    pub format: RuleSiteFormat,
    /// The source text as uploaded.
    pub source: String,
    /// The tenant's rule-sites revision its last write reached (its `ETag`).
    pub revision: u64,
    /// Unix seconds of its creation.
    pub created_at: i64,
    /// Who created it (the author as JSON: `{"actor": ..., "channel": ...}`).
    pub created_by: String,
    /// Unix seconds of its last write.
    pub updated_at: i64,
    /// Who wrote it last (as `created_by`).
    pub updated_by: String,
}

/// A tenant's sites as one consistent read ([`crate::Store::rule_sites_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSitesRead {
    /// The tenant's rule-sites revision when read: the state below is the one it reached.
    pub revision: u64,
    /// Every site there is, as (name, revision), by name.
    pub heads: Vec<(String, u64)>,
    /// The sites written after the revision asked for, whole, by name.
    pub changed: Vec<RuleSiteRecord>,
}
