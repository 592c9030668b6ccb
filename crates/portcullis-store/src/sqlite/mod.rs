//! The embedded SQLite backend: one file in WAL mode, a single-connection writer pool (so
//! writers queue in the process instead of failing on SQLite's lock upgrade) and a small
//! reader pool. Commits are synchronous (`synchronous = FULL`): an acknowledged write
//! survives a crash of the process or the machine.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_model::Tenant;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::audit::{AuditSettings, Author, EventDraft};
use crate::change::Change;
use crate::err::{StoreError, from_sqlx};
use crate::record::*;
use crate::sql::{Dialect, Migration, Sql};
use crate::{Backend, ImportProgress, Store};
use portcullis_audit::{AuditChain, AuditQuery, ChainBreak, EventBody, Keyring, SealedEvent};

mod bulk;

/// SQLite's migrations, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "audit",
        sql: include_str!("../../migrations/sqlite/0002_audit.sql"),
    },
    Migration {
        version: 3,
        name: "change log",
        sql: include_str!("../../migrations/sqlite/0003_change_log.sql"),
    },
    Migration {
        version: 4,
        name: "credentials",
        sql: include_str!("../../migrations/sqlite/0004_credentials.sql"),
    },
    Migration {
        version: 5,
        name: "load order",
        sql: include_str!("../../migrations/sqlite/0005_load_order.sql"),
    },
    Migration {
        version: 6,
        name: "audit keys",
        sql: include_str!("../../migrations/sqlite/0006_audit_keys.sql"),
    },
    // Version 7 is PostgreSQL's change feed: SQLite has no feed, so no migration 7.
    Migration {
        version: 8,
        name: "rule sites",
        sql: include_str!("../../migrations/sqlite/0008_rule_sites.sql"),
    },
    Migration {
        version: 9,
        name: "sessions",
        sql: include_str!("../../migrations/sqlite/0009_sessions.sql"),
    },
    Migration {
        version: 10,
        name: "qlik fidelity",
        sql: include_str!("../../migrations/sqlite/0010_qlik_fidelity.sql"),
    },
    Migration {
        version: 11,
        name: "client secret hints",
        sql: include_str!("../../migrations/sqlite/0011_client_secret_hints.sql"),
    },
    Migration {
        version: 12,
        name: "space export mark",
        sql: include_str!("../../migrations/sqlite/0012_space_export_mark.sql"),
    },
    Migration {
        version: 13,
        name: "change undo",
        sql: include_str!("../../migrations/sqlite/0013_change_undo.sql"),
    },
];

/// SQLite needs no statement for a consistent read (a read transaction sees one snapshot of
/// the WAL) nor a migration lock (the migration's write transaction excludes other writers).
impl Dialect for sqlx::Sqlite {
    const BEGIN_READ: Option<&'static str> = None;
    const MIGRATION_LOCK: Option<&'static str> = None;
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;

    fn built<'b>(
        builder: &'b mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    ) -> sqlx::query::Query<'b, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments<'b>> {
        builder.build()
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The database file (`None`: in memory), which whole-tenant reads open on their own.
    file: Option<std::path::PathBuf>,
    /// The audit keys (none unless [`SqliteStore::with_audit_keys`]).
    keys: Keyring,
}

impl SqliteStore {
    /// Opens (creating the file when missing) and migrates `sqlite://PATH` or `sqlite::memory:`.
    pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // An in-memory database lives in its connection: one connection, kept for good.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(u32::from(in_memory))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(|e| match from_sqlx(e) {
                StoreError::Unavailable(reason) | StoreError::Database(reason) => StoreError::Unavailable(format!("cannot open `{url}`: {reason}")),
                other => other,
            })?;
        Sql::migrate(&writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.clone())
                .await
                .map_err(from_sqlx)?
        };
        let file = (!in_memory).then(|| options.get_filename().to_owned());
        Ok(SqliteStore {
            writer,
            reader,
            file,
            keys: Keyring::none(),
        })
    }

    /// The store with audit keys: the first seals what it appends, all check what they sealed.
    pub fn with_audit_keys(self, keys: Keyring) -> SqliteStore {
        SqliteStore { keys, ..self }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        Sql::tenants(&self.reader).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        Sql::tenant_by_name(&self.reader, name).await
    }

    async fn revision(&self, tenant: TenantId) -> Result<u64, StoreError> {
        Sql::revision(&self.reader, tenant).await
    }

    async fn import_tenant_with_progress(
        &self,
        tenant: &Tenant,
        mode: ImportMode,
        author: &Author,
        progress: ImportProgress<'_>,
    ) -> Result<Imported, StoreError> {
        Sql::import_tenant(&self.writer, self.keys.sealing(), tenant, mode, author, progress).await
    }

    async fn load_tenant(&self, tenant: TenantId) -> Result<(Tenant, u64), StoreError> {
        match &self.file {
            Some(file) => bulk::load_tenant(file, tenant).await,
            None => Sql::load_tenant(&self.reader, tenant).await,
        }
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        Sql::delete_tenant(&self.writer, tenant).await
    }

    async fn apply(&self, tenant: TenantId, change: &Change, author: &Author) -> Result<u64, StoreError> {
        Sql::apply(&self.writer, self.keys.sealing(), tenant, change, author).await
    }

    async fn commit_batch(&self, tenant: TenantId, writes: &[ChangeSet<'_>]) -> Result<Vec<u64>, StoreError> {
        Sql::commit_changes(&self.writer, self.keys.sealing(), tenant, writes).await
    }

    async fn changes_since(&self, tenant: TenantId, after_revision: u64) -> Result<Vec<(u64, Change)>, StoreError> {
        Sql::changes_since(&self.writer, tenant, after_revision).await
    }

    async fn history(&self, tenant: TenantId, after_revision: u64, through_revision: u64) -> Result<Option<Vec<crate::LoggedChange>>, StoreError> {
        Sql::history(&self.reader, tenant, after_revision, through_revision).await
    }

    async fn prune_history(&self, tenant: TenantId, older_than: i64) -> Result<Option<u64>, StoreError> {
        Sql::prune_history(&self.writer, tenant, older_than).await
    }

    async fn revision_at(&self, tenant: TenantId, at: i64) -> Result<Option<u64>, StoreError> {
        Sql::revision_at(&self.reader, tenant, at).await
    }

    async fn changes_after(&self, tenant: TenantId, after_revision: u64, limit: u64) -> Result<crate::LogPage, StoreError> {
        Sql::changes_after(&self.reader, tenant, after_revision, limit).await
    }

    async fn sessions(&self, tenant: TenantId, users: Option<&[String]>) -> Result<Vec<SessionRecord>, StoreError> {
        Sql::sessions(&self.reader, tenant, users).await
    }

    async fn put_rule_site(&self, site: &NewRuleSite<'_>, author: &Author) -> Result<RuleSiteRecord, StoreError> {
        Sql::put_rule_site(&self.writer, self.keys.sealing(), site, author).await
    }

    async fn delete_rule_site(&self, tenant: TenantId, name: &str, expected_revision: Option<u64>, author: &Author) -> Result<u64, StoreError> {
        Sql::delete_rule_site(&self.writer, self.keys.sealing(), tenant, name, expected_revision, author).await
    }

    async fn rule_site(&self, tenant: TenantId, name: &str) -> Result<Option<RuleSiteRecord>, StoreError> {
        Sql::rule_site(&self.reader, tenant, name).await
    }

    async fn rule_sites_after(&self, tenant: TenantId, after_revision: u64) -> Result<RuleSitesRead, StoreError> {
        Sql::rule_sites_after(&self.reader, tenant, after_revision).await
    }

    async fn append_events(&self, tenant: TenantId, events: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
        Sql::append_events(&self.writer, self.keys.sealing(), tenant, events).await
    }

    fn audit_keys(&self) -> &Keyring {
        &self.keys
    }

    async fn audit_events(&self, tenant: TenantId, query: &AuditQuery) -> Result<Vec<(SealedEvent, EventBody)>, StoreError> {
        Sql::audit_events(&self.reader, &self.keys, tenant, query).await
    }

    async fn readable_audit_events(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
    ) -> Result<(Vec<(SealedEvent, EventBody)>, Vec<ChainBreak>), StoreError> {
        Sql::readable_audit_events(&self.reader, &self.keys, tenant, query).await
    }

    async fn audit_event(&self, tenant: TenantId, seq: u64) -> Result<Option<(SealedEvent, EventBody)>, StoreError> {
        Sql::audit_event(&self.reader, &self.keys, tenant, seq).await
    }

    async fn audit_chain(&self, tenant: TenantId) -> Result<AuditChain, StoreError> {
        Sql::audit_chain(&self.reader, &self.keys, tenant, None).await
    }

    async fn audit_tail(&self, tenant: TenantId, n: u64) -> Result<AuditChain, StoreError> {
        Sql::audit_chain(&self.reader, &self.keys, tenant, Some(n)).await
    }

    async fn audit_heads(&self) -> Result<Vec<(TenantId, u64, String)>, StoreError> {
        Sql::audit_heads(&self.reader).await
    }

    async fn audit_settings(&self, tenant: TenantId) -> Result<AuditSettings, StoreError> {
        Sql::audit_settings(&self.reader, tenant).await
    }

    async fn set_audit_settings(&self, tenant: TenantId, settings: &AuditSettings, author: &Author) -> Result<(), StoreError> {
        Sql::set_audit_settings(&self.writer, self.keys.sealing(), tenant, settings, author).await
    }

    async fn expired_audit_events(&self, tenant: TenantId, older_than: &str) -> Result<Vec<SealedEvent>, StoreError> {
        Sql::expired_audit_events(&self.reader, tenant, older_than).await
    }

    async fn archive_audit_events(&self, tenant: TenantId, through_seq: u64, through_hash: &str) -> Result<u64, StoreError> {
        Sql::archive_audit_events(&self.writer, self.keys.sealing(), tenant, through_seq, through_hash).await
    }

    async fn create_api_key(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError> {
        Sql::create_api_key(&self.writer, self.keys.sealing(), key, author, false).await
    }

    async fn create_api_key_within_settings(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError> {
        Sql::create_api_key(&self.writer, self.keys.sealing(), key, author, true).await
    }

    async fn api_key_settings(&self, tenant: TenantId) -> Result<ApiKeySettings, StoreError> {
        Sql::api_key_settings(&self.reader, tenant).await
    }

    async fn set_api_key_settings(&self, tenant: TenantId, settings: &ApiKeySettings, author: &Author) -> Result<(), StoreError> {
        Sql::set_api_key_settings(&self.writer, self.keys.sealing(), tenant, settings, author).await
    }

    async fn update_api_key(&self, tenant: TenantId, key_id: i64, description: &str, author: &Author) -> Result<(), StoreError> {
        Sql::update_api_key(&self.writer, self.keys.sealing(), tenant, key_id, description, author).await
    }

    async fn delete_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError> {
        Sql::delete_api_key(&self.writer, self.keys.sealing(), tenant, key_id, author).await
    }

    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        Sql::api_key_by_hash(&self.reader, hash).await
    }

    async fn api_keys(&self, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Sql::api_keys(&self.reader, tenant, user_id).await
    }

    async fn revoke_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError> {
        Sql::revoke_api_key(&self.writer, self.keys.sealing(), tenant, key_id, author).await
    }

    async fn create_client_secret(&self, secret: &NewClientSecret, author: &Author) -> Result<ClientSecretRecord, StoreError> {
        Sql::create_client_secret(&self.writer, self.keys.sealing(), secret, author).await
    }

    async fn client_secret_by_hash(&self, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError> {
        Sql::client_secret_by_hash(&self.reader, hash).await
    }

    async fn client_secrets(&self, tenant: TenantId, client_id: &str) -> Result<Vec<ClientSecretRecord>, StoreError> {
        Sql::client_secrets(&self.reader, tenant, client_id).await
    }

    async fn delete_client_secret(&self, tenant: TenantId, client_id: &str, hint: &str, author: &Author) -> Result<(), StoreError> {
        Sql::delete_client_secret(&self.writer, self.keys.sealing(), tenant, client_id, hint, author).await
    }

    async fn create_oauth_token(&self, token: &NewOauthToken, author: &Author) -> Result<(), StoreError> {
        Sql::create_oauth_token(&self.writer, self.keys.sealing(), token, author).await
    }

    async fn oauth_token_by_hash(&self, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError> {
        Sql::oauth_token_by_hash(&self.reader, hash).await
    }
}
