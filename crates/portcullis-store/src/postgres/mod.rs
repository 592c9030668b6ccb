//! The PostgreSQL backend, for several server nodes on one database. Reads of a whole tenant
//! run at `REPEATABLE READ` (one snapshot); writes lock the tenant's row first, so writes to
//! one tenant are serialized across nodes; migrations take an advisory lock so that nodes
//! starting together migrate one at a time.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_model::Tenant;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::audit::{AuditSettings, Author, EventDraft};
use crate::change::Change;
use crate::err::{StoreError, from_sqlx};
use crate::feed::{Feed, LogPage};
use crate::record::*;
use crate::sql::{Dialect, Migration, Sql};

mod copy;
mod listen;
mod reach;

use crate::{Backend, ImportProgress, Store, redact};
use portcullis_audit::{AuditChain, AuditQuery, ChainBreak, EventBody, Keyring, SealedEvent};

/// PostgreSQL's migrations, in order.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "audit",
        sql: include_str!("../../migrations/postgres/0002_audit.sql"),
    },
    Migration {
        version: 3,
        name: "change log",
        sql: include_str!("../../migrations/postgres/0003_change_log.sql"),
    },
    Migration {
        version: 4,
        name: "credentials",
        sql: include_str!("../../migrations/postgres/0004_credentials.sql"),
    },
    Migration {
        version: 5,
        name: "load order",
        sql: include_str!("../../migrations/postgres/0005_load_order.sql"),
    },
    Migration {
        version: 6,
        name: "audit keys",
        sql: include_str!("../../migrations/postgres/0006_audit_keys.sql"),
    },
    Migration {
        version: 7,
        name: "change feed",
        sql: include_str!("../../migrations/postgres/0007_change_feed.sql"),
    },
    Migration {
        version: 8,
        name: "rule sites",
        sql: include_str!("../../migrations/postgres/0008_rule_sites.sql"),
    },
    Migration {
        version: 9,
        name: "sessions",
        sql: include_str!("../../migrations/postgres/0009_sessions.sql"),
    },
    Migration {
        version: 10,
        name: "qlik fidelity",
        sql: include_str!("../../migrations/postgres/0010_qlik_fidelity.sql"),
    },
    Migration {
        version: 11,
        name: "client secret hints",
        sql: include_str!("../../migrations/postgres/0011_client_secret_hints.sql"),
    },
    Migration {
        version: 12,
        name: "space export mark",
        sql: include_str!("../../migrations/postgres/0012_space_export_mark.sql"),
    },
    Migration {
        version: 13,
        name: "change undo",
        sql: include_str!("../../migrations/postgres/0013_change_undo.sql"),
    },
];

/// The advisory lock key held while migrating ("pcls" in ASCII).
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(1885564019)";

/// PostgreSQL reads a whole tenant at `REPEATABLE READ` (one snapshot for every statement of
/// the transaction) and migrates under an advisory lock.
impl Dialect for sqlx::Postgres {
    const BEGIN_READ: Option<&'static str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    const MIGRATION_LOCK: Option<&'static str> = Some(MIGRATION_LOCK);
    const MIGRATIONS: &'static [Migration] = MIGRATIONS;

    fn built<'b>(
        builder: &'b mut sqlx::QueryBuilder<'_, sqlx::Postgres>,
    ) -> sqlx::query::Query<'b, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments<'b>> {
        builder.build()
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Rows from which an import refreshes the planner's statistics.
const LARGE_IMPORT: usize = 10_000;

/// Refreshes the statistics of the tables a tenant is read from.
const ANALYZE_MODEL: &str = "ANALYZE settings, user_default, custom_roles, role_permissions, tenant_groups, group_roles, \
    everyone_roles, users, user_roles, user_groups, oauth_clients, oauth_client_scopes, spaces, space_members, content, uses, shares, entity_meta";

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The audit keys (none unless [`PgStore::with_audit_keys`]).
    keys: Keyring,
    /// The schema the store's tables are in: the feed hears only its notices.
    schema: Arc<str>,
    /// The change feed's listener, started by the first subscription.
    feed: Arc<OnceLock<listen::Hub>>,
    /// How the listener connects (its connection is its own, outside `pool`).
    options: ListenOptions,
    /// Whether the database answers: while it does not, calls are refused at once.
    reach: reach::Reach,
}

/// The connect options, kept for the listener; never printed (they hold the password).
#[derive(Clone)]
struct ListenOptions(PgConnectOptions);

impl std::fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenOptions(..)")
    }
}

impl PgStore {
    /// Connects to `postgres://...` and migrates.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
            url: redact(url),
            reason: e.to_string(),
        })?;
        PgStore::open_with(options).await
    }

    /// Connects with explicit options (e.g. a `search_path` for one schema) and migrates.
    pub async fn open_with(options: PgConnectOptions) -> Result<PgStore, StoreError> {
        let listen_options = options.clone();
        let reach = reach::Reach::new(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| match from_sqlx(e) {
                StoreError::Database(reason) => StoreError::Unavailable(reason),
                other => other,
            })?;
        Sql::migrate(&pool).await?;
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()").fetch_one(&pool).await.map_err(from_sqlx)?;
        Ok(PgStore {
            pool,
            keys: Keyring::none(),
            schema: schema.into(),
            feed: Arc::default(),
            options: ListenOptions(listen_options),
            reach,
        })
    }

    /// The store with audit keys: the first seals what it appends, all check what they sealed.
    pub fn with_audit_keys(self, keys: Keyring) -> PgStore {
        PgStore { keys, ..self }
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.reach.call(Sql::tenants(&self.pool)).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.reach.call(Sql::tenant_by_name(&self.pool, name)).await
    }

    async fn revision(&self, tenant: TenantId) -> Result<u64, StoreError> {
        self.reach.call(Sql::revision(&self.pool, tenant)).await
    }

    async fn import_tenant_with_progress(
        &self,
        tenant: &Tenant,
        mode: ImportMode,
        author: &Author,
        progress: ImportProgress<'_>,
    ) -> Result<Imported, StoreError> {
        let imported = self
            .reach
            .call(Sql::import_tenant(&self.pool, self.keys.sealing(), tenant, mode, author, progress))
            .await?;
        // A large import changes the tables' statistics at once; without fresh ones the
        // planner may read a tenant back through a bitmap scan and a sort (3× slower at a
        // million rows) until autovacuum gets to it.
        if tenant.content.len() + tenant.users.len() >= LARGE_IMPORT
            && let Err(error) = sqlx::raw_sql(ANALYZE_MODEL).execute(&self.pool).await
        {
            tracing::warn!(%error, "cannot refresh the statistics after an import");
        }
        Ok(imported)
    }

    async fn load_tenant(&self, tenant: TenantId) -> Result<(Tenant, u64), StoreError> {
        self.reach.call(copy::load_tenant(&self.pool, tenant)).await
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        self.reach.call(Sql::delete_tenant(&self.pool, tenant)).await
    }

    async fn apply(&self, tenant: TenantId, change: &Change, author: &Author) -> Result<u64, StoreError> {
        self.reach.call(Sql::apply(&self.pool, self.keys.sealing(), tenant, change, author)).await
    }

    async fn commit_batch(&self, tenant: TenantId, writes: &[ChangeSet<'_>]) -> Result<Vec<u64>, StoreError> {
        self.reach
            .call(Sql::commit_changes(&self.pool, self.keys.sealing(), tenant, writes))
            .await
    }

    async fn changes_since(&self, tenant: TenantId, after_revision: u64) -> Result<Vec<(u64, Change)>, StoreError> {
        self.reach.call(Sql::changes_since(&self.pool, tenant, after_revision)).await
    }

    async fn history(&self, tenant: TenantId, after_revision: u64, through_revision: u64) -> Result<Option<Vec<crate::LoggedChange>>, StoreError> {
        self.reach.call(Sql::history(&self.pool, tenant, after_revision, through_revision)).await
    }

    async fn prune_history(&self, tenant: TenantId, older_than: i64) -> Result<Option<u64>, StoreError> {
        self.reach.call(Sql::prune_history(&self.pool, tenant, older_than)).await
    }

    async fn revision_at(&self, tenant: TenantId, at: i64) -> Result<Option<u64>, StoreError> {
        self.reach.call(Sql::revision_at(&self.pool, tenant, at)).await
    }

    async fn changes_after(&self, tenant: TenantId, after_revision: u64, limit: u64) -> Result<LogPage, StoreError> {
        self.reach.call(Sql::changes_after(&self.pool, tenant, after_revision, limit)).await
    }

    fn unreachable_for(&self) -> Option<Duration> {
        self.reach.down_for()
    }

    fn subscribe(&self) -> Option<Feed> {
        Some(
            self.feed
                .get_or_init(|| listen::Hub::start(self.options.0.clone(), self.schema.to_string(), self.reach.clone()))
                .subscribe(),
        )
    }

    async fn sessions(&self, tenant: TenantId, users: Option<&[String]>) -> Result<Vec<SessionRecord>, StoreError> {
        self.reach.call(Sql::sessions(&self.pool, tenant, users)).await
    }

    async fn put_rule_site(&self, site: &NewRuleSite<'_>, author: &Author) -> Result<RuleSiteRecord, StoreError> {
        self.reach.call(Sql::put_rule_site(&self.pool, self.keys.sealing(), site, author)).await
    }

    async fn delete_rule_site(&self, tenant: TenantId, name: &str, expected_revision: Option<u64>, author: &Author) -> Result<u64, StoreError> {
        self.reach
            .call(Sql::delete_rule_site(
                &self.pool,
                self.keys.sealing(),
                tenant,
                name,
                expected_revision,
                author,
            ))
            .await
    }

    async fn rule_site(&self, tenant: TenantId, name: &str) -> Result<Option<RuleSiteRecord>, StoreError> {
        self.reach.call(Sql::rule_site(&self.pool, tenant, name)).await
    }

    async fn rule_sites_after(&self, tenant: TenantId, after_revision: u64) -> Result<RuleSitesRead, StoreError> {
        self.reach.call(Sql::rule_sites_after(&self.pool, tenant, after_revision)).await
    }

    async fn append_events(&self, tenant: TenantId, events: &[EventDraft]) -> Result<Vec<u64>, StoreError> {
        self.reach.call(Sql::append_events(&self.pool, self.keys.sealing(), tenant, events)).await
    }

    fn audit_keys(&self) -> &Keyring {
        &self.keys
    }

    async fn audit_events(&self, tenant: TenantId, query: &AuditQuery) -> Result<Vec<(SealedEvent, EventBody)>, StoreError> {
        self.reach.call(Sql::audit_events(&self.pool, &self.keys, tenant, query)).await
    }

    async fn readable_audit_events(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
    ) -> Result<(Vec<(SealedEvent, EventBody)>, Vec<ChainBreak>), StoreError> {
        self.reach.call(Sql::readable_audit_events(&self.pool, &self.keys, tenant, query)).await
    }

    async fn audit_event(&self, tenant: TenantId, seq: u64) -> Result<Option<(SealedEvent, EventBody)>, StoreError> {
        self.reach.call(Sql::audit_event(&self.pool, &self.keys, tenant, seq)).await
    }

    async fn audit_chain(&self, tenant: TenantId) -> Result<AuditChain, StoreError> {
        self.reach.call(Sql::audit_chain(&self.pool, &self.keys, tenant, None)).await
    }

    async fn audit_tail(&self, tenant: TenantId, n: u64) -> Result<AuditChain, StoreError> {
        self.reach.call(Sql::audit_chain(&self.pool, &self.keys, tenant, Some(n))).await
    }

    async fn audit_heads(&self) -> Result<Vec<(TenantId, u64, String)>, StoreError> {
        self.reach.call(Sql::audit_heads(&self.pool)).await
    }

    async fn audit_settings(&self, tenant: TenantId) -> Result<AuditSettings, StoreError> {
        self.reach.call(Sql::audit_settings(&self.pool, tenant)).await
    }

    async fn set_audit_settings(&self, tenant: TenantId, settings: &AuditSettings, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::set_audit_settings(&self.pool, self.keys.sealing(), tenant, settings, author))
            .await
    }

    async fn expired_audit_events(&self, tenant: TenantId, older_than: &str) -> Result<Vec<SealedEvent>, StoreError> {
        self.reach.call(Sql::expired_audit_events(&self.pool, tenant, older_than)).await
    }

    async fn archive_audit_events(&self, tenant: TenantId, through_seq: u64, through_hash: &str) -> Result<u64, StoreError> {
        self.reach
            .call(Sql::archive_audit_events(
                &self.pool,
                self.keys.sealing(),
                tenant,
                through_seq,
                through_hash,
            ))
            .await
    }

    async fn create_api_key(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError> {
        self.reach
            .call(Sql::create_api_key(&self.pool, self.keys.sealing(), key, author, false))
            .await
    }

    async fn create_api_key_within_settings(&self, key: &NewApiKey, author: &Author) -> Result<ApiKeyRecord, StoreError> {
        self.reach
            .call(Sql::create_api_key(&self.pool, self.keys.sealing(), key, author, true))
            .await
    }

    async fn api_key_settings(&self, tenant: TenantId) -> Result<ApiKeySettings, StoreError> {
        self.reach.call(Sql::api_key_settings(&self.pool, tenant)).await
    }

    async fn set_api_key_settings(&self, tenant: TenantId, settings: &ApiKeySettings, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::set_api_key_settings(&self.pool, self.keys.sealing(), tenant, settings, author))
            .await
    }

    async fn update_api_key(&self, tenant: TenantId, key_id: i64, description: &str, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::update_api_key(&self.pool, self.keys.sealing(), tenant, key_id, description, author))
            .await
    }

    async fn delete_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::delete_api_key(&self.pool, self.keys.sealing(), tenant, key_id, author))
            .await
    }

    async fn api_key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.reach.call(Sql::api_key_by_hash(&self.pool, hash)).await
    }

    async fn api_keys(&self, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.reach.call(Sql::api_keys(&self.pool, tenant, user_id)).await
    }

    async fn revoke_api_key(&self, tenant: TenantId, key_id: i64, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::revoke_api_key(&self.pool, self.keys.sealing(), tenant, key_id, author))
            .await
    }

    async fn create_client_secret(&self, secret: &NewClientSecret, author: &Author) -> Result<ClientSecretRecord, StoreError> {
        self.reach
            .call(Sql::create_client_secret(&self.pool, self.keys.sealing(), secret, author))
            .await
    }

    async fn client_secret_by_hash(&self, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError> {
        self.reach.call(Sql::client_secret_by_hash(&self.pool, hash)).await
    }

    async fn client_secrets(&self, tenant: TenantId, client_id: &str) -> Result<Vec<ClientSecretRecord>, StoreError> {
        self.reach.call(Sql::client_secrets(&self.pool, tenant, client_id)).await
    }

    async fn delete_client_secret(&self, tenant: TenantId, client_id: &str, hint: &str, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::delete_client_secret(
                &self.pool,
                self.keys.sealing(),
                tenant,
                client_id,
                hint,
                author,
            ))
            .await
    }

    async fn create_oauth_token(&self, token: &NewOauthToken, author: &Author) -> Result<(), StoreError> {
        self.reach
            .call(Sql::create_oauth_token(&self.pool, self.keys.sealing(), token, author))
            .await
    }

    async fn oauth_token_by_hash(&self, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError> {
        self.reach.call(Sql::oauth_token_by_hash(&self.pool, hash)).await
    }
}
