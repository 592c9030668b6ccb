//! API keys, OAuth client secrets and tokens, stored as SHA-256 only, and their retirement
//! when their user or client is deleted.

use portcullis_model::tenant::Tenant;
use sqlx::Pool;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{Dialect, Sealer, Sql, Tx};
use crate::audit::{Author, EventDraft};
use crate::err::{StoreError, from_sqlx};
use crate::record::*;

type KeyRow = (i64, i64, String, String, i64, Option<i64>, Option<i64>, Option<i64>);

/// The columns a [`KeyRow`] is read from.
const KEY_COLUMNS: &str = "id, tenant_id, user_id, description, created_at, expires_at, revoked_at, updated_at";

fn key_record((id, tenant, user_id, description, created_at, expires_at, revoked_at, updated_at): KeyRow) -> ApiKeyRecord {
    ApiKeyRecord {
        id,
        tenant: TenantId(tenant),
        user_id,
        description,
        created_at,
        expires_at,
        revoked_at,
        updated_at,
    }
}

/// The event of a change to one API key, by `author`.
fn key_event(event: portcullis_audit::EventType, action: &str, key_id: i64, user_id: &str, data: serde_json::Value, author: &Author) -> EventDraft {
    let resource = portcullis_audit::ResourceRef {
        kind: "api-key".to_owned(),
        id: key_id.to_string(),
        space: None,
        owner: Some(user_id.to_owned()),
    };
    EventDraft::change(event, author, action, Some(resource), data)
}

type SecretRow = (i64, i64, String, String, String, i64);

/// The columns a [`SecretRow`] is read from.
const SECRET_COLUMNS: &str = "id, tenant_id, client_id, bot_user, hint, created_at";

fn secret_record((id, tenant, client_id, bot_user, hint, created_at): SecretRow) -> ClientSecretRecord {
    ClientSecretRecord {
        id,
        tenant: TenantId(tenant),
        client_id,
        bot_user,
        hint,
        created_at,
    }
}

/// The event of a change to one of a client's secrets, by `author`.
fn secret_event(client_id: &str, action: &str, data: serde_json::Value, author: &Author) -> EventDraft {
    client_event(portcullis_audit::EventType::OauthClientUpdated, client_id, action, data, author)
}

/// An event about one OAuth client (its secrets, its tokens), by `author`.
fn client_event(event: portcullis_audit::EventType, client_id: &str, action: &str, data: serde_json::Value, author: &Author) -> EventDraft {
    let resource = portcullis_audit::ResourceRef {
        kind: "oauth-client".to_owned(),
        id: client_id.to_owned(),
        space: None,
        owner: None,
    };
    EventDraft::change(event, author, action, Some(resource), data)
}

/// What a change to an existing API key does to it.
#[derive(Clone, Copy)]
enum KeyChange<'a> {
    /// Sets its description.
    Describe(&'a str),
    /// Revokes it; the key stays, so it is listed as revoked.
    Revoke,
    /// Removes it.
    Delete,
}

impl<DB: Dialect> Sql<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    usize: ColumnIndex<DB::Row>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
{
    pub(crate) async fn create_api_key(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        key: &NewApiKey,
        author: &Author,
        within_settings: bool,
    ) -> Result<ApiKeyRecord, StoreError> {
        let created_at = crate::now();
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, key.tenant.0).await?;
        // Under the tenant's lock, so a key is never stored for a user deleted meanwhile, nor
        // past a setting changed or a key created meanwhile.
        Self::require_row(&mut tx, "users", "id", key.tenant.0, &key.user_id, "user").await?;
        if within_settings {
            Self::check_api_key_settings(&mut tx, key, created_at).await?;
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_keys (tenant_id, user_id, hash, description, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(key.tenant.0)
        .bind(&key.user_id)
        .bind(&key.hash[..])
        .bind(&key.description)
        .bind(created_at)
        .bind(key.expires_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let data = serde_json::json!({ "sub": key.user_id, "description": key.description, "expiresAt": key.expires_at });
        let draft = key_event(
            portcullis_audit::EventType::ApiKeyCreated,
            "create-api-key",
            id,
            &key.user_id,
            data,
            author,
        );
        Self::commit_change(tx, sealer, key.tenant.0, &name, &[draft], false).await?;
        Ok(ApiKeyRecord {
            id,
            tenant: key.tenant,
            user_id: key.user_id.clone(),
            description: key.description.clone(),
            created_at,
            expires_at: key.expires_at,
            revoked_at: None,
            updated_at: None,
        })
    }

    /// Refuses a key the tenant's API-key settings do not allow (run under the tenant's lock).
    async fn check_api_key_settings(tx: &mut Tx<DB>, key: &NewApiKey, now: i64) -> Result<(), StoreError> {
        let settings = Self::read_api_key_settings(&mut **tx, key.tenant).await?;
        if !settings.enabled {
            return Err(StoreError::LimitReached(
                "API keys are turned off for this tenant (`api_keys_enabled` is false); a tenant administrator turns them on".to_owned(),
            ));
        }
        let lifetime = key.expires_at.map(|at| at - now);
        if lifetime.is_none_or(|seconds| seconds > settings.max_expiry_seconds) {
            return Err(StoreError::LimitReached(format!(
                "a key lives at most {} seconds in this tenant (`max_api_key_expiry`); ask for a shorter `expiry`",
                settings.max_expiry_seconds
            )));
        }
        let (active,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(key.tenant.0)
        .bind(&key.user_id)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(from_sqlx)?;
        if active >= i64::from(settings.max_keys_per_user) {
            return Err(StoreError::LimitReached(format!(
                "user `{}` holds {active} active API keys, the most this tenant allows (`max_keys_per_user`); revoke one first",
                key.user_id
            )));
        }
        Ok(())
    }

    async fn read_api_key_settings<'e, E: Executor<'e, Database = DB>>(executor: E, tenant: TenantId) -> Result<ApiKeySettings, StoreError> {
        let row: Option<(i64, i64, i64)> =
            sqlx::query_as("SELECT enabled, max_expiry_seconds, max_keys_per_user FROM api_key_settings WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_optional(executor)
                .await
                .map_err(from_sqlx)?;
        Ok(match row {
            None => ApiKeySettings::default(),
            Some((enabled, max_expiry_seconds, max_keys_per_user)) => ApiKeySettings {
                enabled: enabled != 0,
                max_expiry_seconds,
                max_keys_per_user: u32::try_from(max_keys_per_user)
                    .map_err(|_| StoreError::Corrupt(format!("max_keys_per_user {max_keys_per_user}")))?,
            },
        })
    }

    pub(crate) async fn api_key_settings(pool: &Pool<DB>, tenant: TenantId) -> Result<ApiKeySettings, StoreError> {
        Self::read_api_key_settings(pool, tenant).await
    }

    pub(crate) async fn set_api_key_settings(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        settings: &ApiKeySettings,
        author: &Author,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        sqlx::query(
            "INSERT INTO api_key_settings (tenant_id, enabled, max_expiry_seconds, max_keys_per_user) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, max_expiry_seconds = excluded.max_expiry_seconds, \
             max_keys_per_user = excluded.max_keys_per_user",
        )
        .bind(tenant.0)
        .bind(i64::from(settings.enabled))
        .bind(settings.max_expiry_seconds)
        .bind(i64::from(settings.max_keys_per_user))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let data = serde_json::json!({
            "apiKeysEnabled": settings.enabled,
            "maxApiKeyExpirySeconds": settings.max_expiry_seconds,
            "maxKeysPerUser": settings.max_keys_per_user,
        });
        let draft = EventDraft::change(
            portcullis_audit::EventType::ApiKeysConfigUpdated,
            author,
            "set-api-key-settings",
            None,
            data,
        );
        Self::commit_change(tx, sealer, tenant.0, &name, &[draft], false).await
    }

    /// The user of one of the tenant's keys, under the lock `tx` holds.
    async fn key_user(tx: &mut Tx<DB>, tenant: TenantId, key_id: i64) -> Result<(String, Option<i64>), StoreError> {
        let key: Option<(String, Option<i64>)> = sqlx::query_as("SELECT user_id, revoked_at FROM api_keys WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(key_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        key.ok_or_else(|| StoreError::NotFound(format!("API key {key_id}")))
    }

    pub(crate) async fn update_api_key(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        key_id: i64,
        description: &str,
        author: &Author,
    ) -> Result<(), StoreError> {
        Self::change_api_key(pool, sealer, tenant, key_id, KeyChange::Describe(description), author).await
    }

    pub(crate) async fn delete_api_key(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        key_id: i64,
        author: &Author,
    ) -> Result<(), StoreError> {
        Self::change_api_key(pool, sealer, tenant, key_id, KeyChange::Delete, author).await
    }

    /// The one path of every change to an existing key, so each looks the key up in the
    /// tenant under its lock, records its event and moves the credentials revision alike.
    async fn change_api_key(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        key_id: i64,
        change: KeyChange<'_>,
        author: &Author,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        let (user_id, revoked_at) = Self::key_user(&mut tx, tenant, key_id).await?;
        let now = crate::now();
        let (query, event, action, data) = match change {
            KeyChange::Describe(description) => (
                sqlx::query("UPDATE api_keys SET description = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(key_id)
                    .bind(description)
                    .bind(now),
                portcullis_audit::EventType::ApiKeyUpdated,
                "update-api-key",
                serde_json::json!({ "sub": user_id, "description": description }),
            ),
            // Revoking a revoked key changes nothing and records nothing.
            KeyChange::Revoke if revoked_at.is_some() => return tx.commit().await.map_err(from_sqlx),
            KeyChange::Revoke => (
                sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(key_id)
                    .bind(now),
                portcullis_audit::EventType::ApiKeyRevoked,
                "revoke-api-key",
                serde_json::json!({ "sub": user_id }),
            ),
            KeyChange::Delete => (
                sqlx::query("DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(key_id),
                portcullis_audit::EventType::ApiKeyRevoked,
                "delete-api-key",
                serde_json::json!({ "sub": user_id, "deleted": true }),
            ),
        };
        query.execute(&mut *tx).await.map_err(from_sqlx)?;
        let draft = key_event(event, action, key_id, &user_id, data, author);
        let retires = !matches!(change, KeyChange::Describe(_));
        Self::commit_change(tx, sealer, tenant.0, &name, &[draft], retires).await
    }

    /// Records `drafts` in the tenant's audit chain and commits. A change that stops a
    /// credential from working (`retires`) moves the tenant's credentials revision too,
    /// so whoever caches credentials reloads them.
    async fn commit_change(mut tx: Tx<DB>, sealer: Sealer<'_>, id: i64, name: &str, drafts: &[EventDraft], retires: bool) -> Result<(), StoreError> {
        Self::append(&mut tx, sealer, id, name, drafts).await?;
        if retires {
            Self::bump_credentials_revision(&mut tx, id).await?;
        }
        tx.commit().await.map_err(from_sqlx)
    }

    pub(crate) async fn api_key_by_hash(pool: &Pool<DB>, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row: Option<KeyRow> = sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1"))
            .bind(&hash[..])
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
        Ok(row.map(key_record))
    }

    pub(crate) async fn api_keys(pool: &Pool<DB>, tenant: TenantId, user_id: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND ($2 IS NULL OR user_id = $2) ORDER BY id"
        ))
        .bind(tenant.0)
        .bind(user_id)
        .fetch_all(pool)
        .await
        .map_err(from_sqlx)?;
        Ok(rows.into_iter().map(key_record).collect())
    }

    pub(crate) async fn revoke_api_key(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        key_id: i64,
        author: &Author,
    ) -> Result<(), StoreError> {
        Self::change_api_key(pool, sealer, tenant, key_id, KeyChange::Revoke, author).await
    }

    pub(crate) async fn create_client_secret(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        secret: &NewClientSecret,
        author: &Author,
    ) -> Result<ClientSecretRecord, StoreError> {
        let created_at = crate::now();
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, secret.tenant.0).await?;
        Self::require_row(&mut tx, "oauth_clients", "id", secret.tenant.0, &secret.client_id, "OAuth client").await?;
        Self::require_row(&mut tx, "users", "id", secret.tenant.0, &secret.bot_user, "user").await?;
        // Under the tenant's lock, so two secrets created at once cannot both be the sixth,
        // nor share a hint.
        let held: Vec<(String,)> = sqlx::query_as("SELECT hint FROM oauth_client_secrets WHERE tenant_id = $1 AND client_id = $2")
            .bind(secret.tenant.0)
            .bind(&secret.client_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        if held.len() >= MAX_SECRETS_PER_CLIENT {
            return Err(StoreError::LimitReached(format!(
                "OAuth client `{}` holds {} secrets, the most one client may; delete one first",
                secret.client_id,
                held.len()
            )));
        }
        if held.iter().any(|(hint,)| *hint == secret.hint) {
            return Err(StoreError::Conflict(format!(
                "OAuth client `{}` holds a secret with the hint `{}` already",
                secret.client_id, secret.hint
            )));
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO oauth_client_secrets (tenant_id, client_id, hash, bot_user, created_at, hint) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(secret.tenant.0)
        .bind(&secret.client_id)
        .bind(&secret.hash[..])
        .bind(&secret.bot_user)
        .bind(created_at)
        .bind(&secret.hint)
        .fetch_one(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let data = serde_json::json!({ "secretCreated": id, "hint": secret.hint, "botUser": secret.bot_user });
        let draft = secret_event(&secret.client_id, "create-client-secret", data, author);
        Self::commit_change(tx, sealer, secret.tenant.0, &name, &[draft], false).await?;
        Ok(ClientSecretRecord {
            id,
            tenant: secret.tenant,
            client_id: secret.client_id.clone(),
            bot_user: secret.bot_user.clone(),
            hint: secret.hint.clone(),
            created_at,
        })
    }

    pub(crate) async fn client_secret_by_hash(pool: &Pool<DB>, hash: &SecretHash) -> Result<Option<ClientSecretRecord>, StoreError> {
        let row: Option<SecretRow> = sqlx::query_as(&format!("SELECT {SECRET_COLUMNS} FROM oauth_client_secrets WHERE hash = $1"))
            .bind(&hash[..])
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
        Ok(row.map(secret_record))
    }

    pub(crate) async fn client_secrets(pool: &Pool<DB>, tenant: TenantId, client_id: &str) -> Result<Vec<ClientSecretRecord>, StoreError> {
        let rows: Vec<SecretRow> = sqlx::query_as(&format!(
            "SELECT {SECRET_COLUMNS} FROM oauth_client_secrets WHERE tenant_id = $1 AND client_id = $2 ORDER BY id"
        ))
        .bind(tenant.0)
        .bind(client_id)
        .fetch_all(pool)
        .await
        .map_err(from_sqlx)?;
        Ok(rows.into_iter().map(secret_record).collect())
    }

    pub(crate) async fn delete_client_secret(
        pool: &Pool<DB>,
        sealer: Sealer<'_>,
        tenant: TenantId,
        client_id: &str,
        hint: &str,
        author: &Author,
    ) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, tenant.0).await?;
        let deleted: Option<(i64,)> =
            sqlx::query_as("DELETE FROM oauth_client_secrets WHERE tenant_id = $1 AND client_id = $2 AND hint = $3 RETURNING id")
                .bind(tenant.0)
                .bind(client_id)
                .bind(hint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
        let Some((id,)) = deleted else {
            return Err(StoreError::NotFound(format!("secret `{hint}` of OAuth client `{client_id}`")));
        };
        let data = serde_json::json!({ "secretDeleted": id, "hint": hint, "reason": "revoked" });
        let draft = secret_event(client_id, "delete-client-secret", data, author);
        Self::commit_change(tx, sealer, tenant.0, &name, &[draft], true).await
    }

    pub(crate) async fn create_oauth_token(pool: &Pool<DB>, sealer: Sealer<'_>, token: &NewOauthToken, author: &Author) -> Result<(), StoreError> {
        let mut tx = pool.begin().await.map_err(from_sqlx)?;
        let name = Self::lock_tenant(&mut tx, token.tenant.0).await?;
        // Under the tenant's lock: the client, its secret and the user are there now (a
        // deletion meanwhile has removed their credentials and would miss this token), and
        // an impersonation token needs the client's flag as stored now.
        let client: Option<(i64,)> = sqlx::query_as("SELECT impersonation FROM oauth_clients WHERE tenant_id = $1 AND id = $2")
            .bind(token.tenant.0)
            .bind(&token.client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        match client {
            None => return Err(StoreError::NotFound(format!("OAuth client `{}`", token.client_id))),
            Some((0,)) if token.grant_type == IMPERSONATION_GRANT => {
                let message = format!("OAuth client `{}` may not impersonate users", token.client_id);
                return Err(StoreError::Rejected(portcullis_model::tenant_ops::OpError::Invalid { message }));
            }
            Some(_) => {}
        }
        let secret: Option<(i64,)> = sqlx::query_as("SELECT id FROM oauth_client_secrets WHERE tenant_id = $1 AND id = $2 AND client_id = $3")
            .bind(token.tenant.0)
            .bind(token.secret_id)
            .bind(&token.client_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        if secret.is_none() {
            return Err(StoreError::NotFound(format!(
                "secret {} of OAuth client `{}`",
                token.secret_id, token.client_id
            )));
        }
        Self::require_row(&mut tx, "users", "id", token.tenant.0, &token.user_id, "user").await?;
        sqlx::query("INSERT INTO oauth_tokens (hash, tenant_id, client_id, user_id, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&token.hash[..])
            .bind(token.tenant.0)
            .bind(&token.client_id)
            .bind(&token.user_id)
            .bind(token.scopes.join(" "))
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        // Every issuance is on record: which client, for which user, with which scopes, when.
        let data = serde_json::json!({
            "clientId": token.client_id,
            "sub": token.user_id,
            "grantType": token.grant_type,
            "scopes": token.scopes,
            "expiresAt": token.expires_at,
            "secretId": token.secret_id,
        });
        let draft = client_event(
            portcullis_audit::EventType::OauthTokenIssued,
            &token.client_id,
            "issue-oauth-token",
            data,
            author,
        );
        Self::commit_change(tx, sealer, token.tenant.0, &name, &[draft], false).await
    }

    pub(crate) async fn oauth_token_by_hash(pool: &Pool<DB>, hash: &SecretHash) -> Result<Option<OauthTokenRecord>, StoreError> {
        let row: Option<(i64, String, String, String, i64)> =
            sqlx::query_as("SELECT tenant_id, client_id, user_id, scopes, expires_at FROM oauth_tokens WHERE hash = $1")
                .bind(&hash[..])
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
        Ok(row.map(|(tenant, client_id, user_id, scopes, expires_at)| OauthTokenRecord {
            tenant: TenantId(tenant),
            client_id,
            user_id,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            expires_at,
        }))
    }

    // ---- Credentials die with their owner --------------------------------------------

    /// Refuses with `NotFound` unless the tenant has a `table` row whose `column` is `key`.
    pub(super) async fn require_row(tx: &mut Tx<DB>, table: &str, column: &str, id: i64, key: &str, what: &str) -> Result<(), StoreError> {
        let found: Option<(String,)> = sqlx::query_as(&format!("SELECT {column} FROM {table} WHERE tenant_id = $1 AND {column} = $2"))
            .bind(id)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        match found {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!("{what} `{key}`"))),
        }
    }

    pub(super) async fn bump_credentials_revision(tx: &mut Tx<DB>, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET credentials_revision = credentials_revision + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    /// The users and the clients that hold live credentials in a tenant (usable API keys,
    /// tokens, secrets and their bot users), each once.
    pub(super) async fn credential_owners(tx: &mut Tx<DB>, id: i64) -> Result<(Vec<String>, Vec<String>), StoreError> {
        let users: Vec<(String,)> = sqlx::query_as(
            "SELECT user_id FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL \
             UNION SELECT user_id FROM oauth_tokens WHERE tenant_id = $1 \
             UNION SELECT bot_user FROM oauth_client_secrets WHERE tenant_id = $1",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await
        .map_err(from_sqlx)?;
        let clients: Vec<(String,)> = sqlx::query_as(
            "SELECT client_id FROM oauth_tokens WHERE tenant_id = $1 UNION SELECT client_id FROM oauth_client_secrets WHERE tenant_id = $1",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await
        .map_err(from_sqlx)?;
        Ok((users.into_iter().map(|(u,)| u).collect(), clients.into_iter().map(|(c,)| c).collect()))
    }

    /// After a commit: the credentials of the users and clients it deleted go with them.
    /// Costs nothing when the commit deleted neither.
    pub(super) async fn retire_credentials_of_deleted(
        tx: &mut Tx<DB>,
        sealer: Sealer<'_>,
        id: i64,
        name: &str,
        after: &Tenant,
        touched: &portcullis_model::Touched,
        author: &Author,
    ) -> Result<(), StoreError> {
        let users: Vec<String> = touched.users.iter().filter(|u| after.users.get(u).is_none()).cloned().collect();
        let clients: Vec<String> = touched.clients.iter().filter(|c| after.oauth_clients.get(c).is_none()).cloned().collect();
        Self::retire_credentials(tx, sealer, id, name, &users, &clients, author).await
    }

    /// Retires what acts as `users` or through `clients`, which no longer exist: a user's
    /// API keys are revoked (kept, so they are listed as revoked), the OAuth tokens acting
    /// as the user or issued to the client are deleted, and so are the client's secrets and
    /// the secrets whose bot user the user was. So a user or client created again under the
    /// same key starts without credentials. Each revoked key and deleted secret is an
    /// event; the tenant's credentials revision moves when anything was retired.
    pub(super) async fn retire_credentials(
        tx: &mut Tx<DB>,
        sealer: Sealer<'_>,
        id: i64,
        name: &str,
        users: &[String],
        clients: &[String],
        author: &Author,
    ) -> Result<(), StoreError> {
        if users.is_empty() && clients.is_empty() {
            return Ok(());
        }
        let now = crate::now();
        let mut drafts = Vec::new();
        let mut retired = 0u64;
        for user in users {
            let keys: Vec<(i64,)> =
                sqlx::query_as("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id")
                    .bind(id)
                    .bind(user)
                    .bind(now)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
            for (key,) in keys {
                let data = serde_json::json!({ "sub": user, "reason": "user-deleted" });
                drafts.push(key_event(
                    portcullis_audit::EventType::ApiKeyRevoked,
                    "revoke-api-key",
                    key,
                    user,
                    data,
                    author,
                ));
                retired += 1;
            }
            let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE tenant_id = $1 AND user_id = $2")
                .bind(id)
                .bind(user)
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            retired += DB::rows_affected(&tokens);
            let secrets: Vec<(i64, String)> =
                sqlx::query_as("DELETE FROM oauth_client_secrets WHERE tenant_id = $1 AND bot_user = $2 RETURNING id, client_id")
                    .bind(id)
                    .bind(user)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(from_sqlx)?;
            for (secret, client) in secrets {
                let data = serde_json::json!({ "secretDeleted": secret, "botUser": user, "reason": "bot-user-deleted" });
                drafts.push(secret_event(&client, "delete-client-secret", data, author));
                retired += 1;
            }
        }
        for client in clients {
            let tokens = sqlx::query("DELETE FROM oauth_tokens WHERE tenant_id = $1 AND client_id = $2")
                .bind(id)
                .bind(client)
                .execute(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            retired += DB::rows_affected(&tokens);
            let secrets: Vec<(i64,)> = sqlx::query_as("DELETE FROM oauth_client_secrets WHERE tenant_id = $1 AND client_id = $2 RETURNING id")
                .bind(id)
                .bind(client)
                .fetch_all(&mut **tx)
                .await
                .map_err(from_sqlx)?;
            for (secret,) in secrets {
                let data = serde_json::json!({ "secretDeleted": secret, "reason": "client-deleted" });
                drafts.push(secret_event(client, "delete-client-secret", data, author));
                retired += 1;
            }
        }
        Self::append(tx, sealer, id, name, &drafts).await?;
        if retired > 0 {
            Self::bump_credentials_revision(tx, id).await?;
        }
        Ok(())
    }
}
