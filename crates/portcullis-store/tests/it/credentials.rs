//! Credentials die with their owner: deleting a user or an OAuth client (by a change or by an
//! import that leaves it out) retires what acted as it, nothing is created for a user or client
//! that is gone, identifiers are never handed out twice, and every token issuance is an event.

use std::sync::Arc;

use portcullis_model::tenant::User;
use portcullis_model::{Entitlement, UserStatus};
use portcullis_store::*;

use crate::contract::{DEMO, import, loaded, new_key, tenant};
use crate::harness::Harness;

fn secret(tenant: TenantId, client: &str, bot_user: &str, hash: u8) -> NewClientSecret {
    NewClientSecret {
        tenant,
        client_id: client.to_owned(),
        hash: [hash; 32],
        bot_user: bot_user.to_owned(),
        hint: format!("h{hash}"),
    }
}

fn token(tenant: TenantId, client: &str, secret_id: i64, user: &str, grant: &str, hash: u8) -> NewOauthToken {
    NewOauthToken {
        tenant,
        client_id: client.to_owned(),
        user_id: user.to_owned(),
        scopes: vec!["apps:read".to_owned()],
        hash: [hash; 32],
        expires_at: now() + 3600,
        grant_type: grant.to_owned(),
        secret_id,
    }
}

fn carl() -> User {
    User {
        meta: Default::default(),
        id: "carl".into(),
        name: "Carl again".into(),
        email: None,
        entitlement: Entitlement::Analyzer,
        status: UserStatus::Active,
        roles: Vec::new(),
        groups: Vec::new(),
    }
}

fn client(id: &str, impersonation: bool) -> portcullis_model::tenant::OauthClient {
    portcullis_model::tenant::OauthClient {
        meta: Default::default(),
        id: id.to_owned(),
        name: id.to_owned(),
        scopes: vec!["user_default".to_owned()],
        impersonation,
    }
}

async fn events_of(store: &Arc<dyn Store>, id: TenantId, event_type: EventType) -> Vec<EventBody> {
    let query = AuditQuery {
        event_types: vec![event_type.as_str().to_owned()],
        ..AuditQuery::default()
    };
    store.audit_events(id, &query).await.unwrap().into_iter().map(|(_, body)| body).collect()
}

async fn credentials_revision(store: &Arc<dyn Store>, name: &str) -> u64 {
    store.tenant_by_name(name).await.unwrap().expect("the tenant").credentials_revision
}

pub async fn deleting_a_user_retires_its_credentials(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    let carls = store.create_api_key(&new_key(record.id, "carl", 1), &admin).await.unwrap();
    let anns = store.create_api_key(&new_key(record.id, "ann", 2), &admin).await.unwrap();
    let bot = store
        .create_client_secret(&secret(record.id, "reporting", "carl", 3), &admin)
        .await
        .unwrap();
    let other = store
        .create_client_secret(&secret(record.id, "reporting", "ann", 4), &admin)
        .await
        .unwrap();
    store
        .create_oauth_token(&token(record.id, "reporting", other.id, "carl", "client_credentials", 5), &admin)
        .await
        .unwrap();
    store
        .create_oauth_token(&token(record.id, "reporting", other.id, "ann", "client_credentials", 6), &admin)
        .await
        .unwrap();
    let before = credentials_revision(&store, "demo").await;

    store.apply(record.id, &Change::DeleteUser { id: "carl".into() }, &admin).await.unwrap();

    let listed = store.api_keys(record.id, Some("carl")).await.unwrap();
    assert_eq!(listed.len(), 1, "the key is kept, to be listed");
    assert!(listed[0].revoked_at.is_some(), "a deleted user's key is listed as revoked: {listed:?}");
    assert_eq!(
        store.oauth_token_by_hash(&[5; 32]).await.unwrap(),
        None,
        "tokens acting as the user are gone"
    );
    assert_eq!(
        store.client_secret_by_hash(&[3; 32]).await.unwrap(),
        None,
        "secrets it was the bot user of are gone"
    );
    // Everyone else's credentials stay.
    assert_eq!(store.api_key_by_hash(&[2; 32]).await.unwrap(), Some(anns));
    assert_eq!(store.client_secret_by_hash(&[4; 32]).await.unwrap(), Some(other.clone()));
    assert!(store.oauth_token_by_hash(&[6; 32]).await.unwrap().is_some());
    assert!(credentials_revision(&store, "demo").await > before, "other nodes are told");
    let revoked = events_of(&store, record.id, EventType::ApiKeyRevoked).await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].resource.as_ref().map(|r| r.id.clone()), Some(carls.id.to_string()));
    assert_eq!(revoked[0].data["reason"], "user-deleted");
    let secrets = events_of(&store, record.id, EventType::OauthClientUpdated).await;
    assert!(secrets.iter().any(|e| e.data["secretDeleted"] == bot.id), "{secrets:?}");

    // The same subject created again starts without credentials: the old key stays revoked,
    // and nothing new can be made for a user that is not there.
    store.apply(record.id, &Change::CreateUser { user: carl() }, &admin).await.unwrap();
    let again = store.api_key_by_hash(&[1; 32]).await.unwrap().unwrap();
    assert!(!again.is_usable(now()), "{again:?}");
    store.apply(record.id, &Change::DeleteUser { id: "carl".into() }, &admin).await.unwrap();
    assert!(matches!(
        store.create_api_key(&new_key(record.id, "carl", 7), &admin).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.create_client_secret(&secret(record.id, "reporting", "carl", 8), &admin).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_oauth_token(&token(record.id, "reporting", other.id, "carl", "client_credentials", 9), &admin)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.api_key_by_hash(&[7; 32]).await.unwrap(), None);
}

pub async fn deleting_a_client_retires_its_secrets_and_tokens(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    store
        .apply(
            record.id,
            &Change::CreateOauthClient {
                client: client("other", false),
            },
            &admin,
        )
        .await
        .unwrap();
    let first = store
        .create_client_secret(&secret(record.id, "reporting", "ann", 1), &admin)
        .await
        .unwrap();
    let kept = store.create_client_secret(&secret(record.id, "other", "ann", 2), &admin).await.unwrap();
    store
        .create_oauth_token(&token(record.id, "reporting", first.id, "ann", "client_credentials", 3), &admin)
        .await
        .unwrap();
    store
        .create_oauth_token(&token(record.id, "other", kept.id, "ann", "client_credentials", 4), &admin)
        .await
        .unwrap();
    let before = credentials_revision(&store, "demo").await;

    store
        .apply(record.id, &Change::DeleteOauthClient { id: "reporting".into() }, &admin)
        .await
        .unwrap();

    assert_eq!(store.client_secret_by_hash(&[1; 32]).await.unwrap(), None);
    assert_eq!(store.oauth_token_by_hash(&[3; 32]).await.unwrap(), None);
    assert_eq!(store.client_secret_by_hash(&[2; 32]).await.unwrap(), Some(kept));
    assert!(store.oauth_token_by_hash(&[4; 32]).await.unwrap().is_some());
    assert!(credentials_revision(&store, "demo").await > before);
    // A client created again under the same id has no secret, and none is made for a client
    // that is not there.
    store
        .apply(
            record.id,
            &Change::CreateOauthClient {
                client: client("reporting", false),
            },
            &admin,
        )
        .await
        .unwrap();
    assert_eq!(store.client_secret_by_hash(&[1; 32]).await.unwrap(), None);
    assert!(matches!(
        store.create_client_secret(&secret(record.id, "gone", "ann", 5), &admin).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn replacing_a_tenant_retires_what_it_leaves_out(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    store.create_api_key(&new_key(record.id, "carl", 1), &admin).await.unwrap();
    store.create_api_key(&new_key(record.id, "ann", 2), &admin).await.unwrap();
    let reporting = store
        .create_client_secret(&secret(record.id, "reporting", "ann", 3), &admin)
        .await
        .unwrap();
    store
        .create_oauth_token(&token(record.id, "reporting", reporting.id, "ann", "client_credentials", 4), &admin)
        .await
        .unwrap();
    // The same tenant without carl and without the client.
    let mut smaller = tenant(DEMO);
    smaller.shares.clear();
    smaller.users.remove("carl");
    smaller.oauth_clients.remove("reporting");
    let before = credentials_revision(&store, "demo").await;
    let replaced = store.import_tenant(&smaller, ImportMode::Replace, &Author::cli()).await.unwrap();
    assert_eq!(replaced.outcome, ImportOutcome::Replaced);
    assert!(replaced.tenant.credentials_revision > before, "{replaced:?}");
    assert!(!store.api_key_by_hash(&[1; 32]).await.unwrap().unwrap().is_usable(now()));
    assert!(
        store.api_key_by_hash(&[2; 32]).await.unwrap().unwrap().is_usable(now()),
        "ann is still there"
    );
    assert_eq!(store.client_secret_by_hash(&[3; 32]).await.unwrap(), None);
    assert_eq!(store.oauth_token_by_hash(&[4; 32]).await.unwrap(), None);
    // Putting them back does not bring the credentials back.
    store.import_tenant(&tenant(DEMO), ImportMode::Replace, &Author::cli()).await.unwrap();
    assert!(!store.api_key_by_hash(&[1; 32]).await.unwrap().unwrap().is_usable(now()));
    assert_eq!(store.client_secret_by_hash(&[3; 32]).await.unwrap(), None);
}

pub async fn identifiers_are_never_handed_out_twice(h: &impl Harness) {
    let store = h.open().await;
    let first = import(&store, &tenant(DEMO)).await;
    let mut other = tenant(DEMO);
    other.name = "other".into();
    let second = import(&store, &other).await;
    let admin = Author::cli();
    store.create_api_key(&new_key(first.id, "ann", 1), &admin).await.unwrap();
    let last_key = store.create_api_key(&new_key(second.id, "ann", 2), &admin).await.unwrap();
    let last_secret = store
        .create_client_secret(&secret(second.id, "reporting", "ann", 3), &admin)
        .await
        .unwrap();
    // The newest tenant, key and secret go: their ids are the largest.
    store.delete_tenant(second.id).await.unwrap();
    let third = import(&store, &other).await;
    assert_ne!(third.id, second.id, "a deleted tenant's id is not given to the next tenant");
    assert!(third.id > second.id);
    let next_key = store.create_api_key(&new_key(first.id, "bob", 4), &admin).await.unwrap();
    assert!(next_key.id > last_key.id, "{} after {}", next_key.id, last_key.id);
    let next_secret = store
        .create_client_secret(&secret(first.id, "reporting", "ann", 5), &admin)
        .await
        .unwrap();
    assert!(next_secret.id > last_secret.id, "{} after {}", next_secret.id, last_secret.id);
    // Surviving a reopen (SQLite keeps the high-water mark in the file).
    drop(store);
    let store = h.open().await;
    store.delete_tenant(third.id).await.unwrap();
    let fourth = import(&store, &other).await;
    assert!(fourth.id > third.id);
}

pub async fn token_issuance_is_checked_and_audited(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    let reporting = store
        .create_client_secret(&secret(record.id, "reporting", "ann", 1), &admin)
        .await
        .unwrap();
    let mut by_client = Author::user("ann", "oauth:reporting");
    by_client.actor.client = Some("reporting".into());
    store
        .create_oauth_token(&token(record.id, "reporting", reporting.id, "ann", "client_credentials", 2), &by_client)
        .await
        .unwrap();
    let issued = events_of(&store, record.id, EventType::OauthTokenIssued).await;
    assert_eq!(issued.len(), 1, "{issued:?}");
    let event = &issued[0];
    assert_eq!(event.actor.client.as_deref(), Some("reporting"));
    assert_eq!(event.actor.user.as_deref(), Some("ann"));
    assert_eq!(event.data["sub"], "ann");
    assert_eq!(event.data["clientId"], "reporting");
    assert_eq!(event.data["grantType"], "client_credentials");
    assert_eq!(event.data["scopes"], serde_json::json!(["apps:read"]));
    assert_eq!(event.data["secretId"], reporting.id);
    assert!(!event.event_time.is_empty());

    // The demo client may not impersonate: refused, and nothing is stored or recorded.
    let refused = store
        .create_oauth_token(&token(record.id, "reporting", reporting.id, "bob", IMPERSONATION_GRANT, 3), &by_client)
        .await;
    assert!(matches!(refused, Err(StoreError::Rejected(_))), "{refused:?}");
    assert_eq!(store.oauth_token_by_hash(&[3; 32]).await.unwrap(), None);
    assert_eq!(events_of(&store, record.id, EventType::OauthTokenIssued).await.len(), 1);
    // Once allowed, it may.
    let allow = Change::UpdateOauthClient {
        id: "reporting".into(),
        name: None,
        scopes: None,
        impersonation: Some(true),
    };
    store.apply(record.id, &allow, &admin).await.unwrap();
    assert!(loaded(&store, record.id).await.0.oauth_client("reporting").unwrap().impersonation);
    store
        .create_oauth_token(&token(record.id, "reporting", reporting.id, "bob", IMPERSONATION_GRANT, 3), &by_client)
        .await
        .unwrap();
    let issued = events_of(&store, record.id, EventType::OauthTokenIssued).await;
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[1].data["sub"], "bob");
    assert_eq!(issued[1].data["grantType"], IMPERSONATION_GRANT);
    // A secret of another client does not issue tokens for this one.
    store
        .apply(
            record.id,
            &Change::CreateOauthClient {
                client: client("other", true),
            },
            &admin,
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_oauth_token(&token(record.id, "other", reporting.id, "ann", "client_credentials", 4), &by_client)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let chain = store.audit_chain(record.id).await.unwrap();
    assert!(chain.verify().is_ok(), "the chain holds");
}

/// A database made before migration 4 (schema 3, with a tenant and a key): migrating keeps
/// every id and row, and from then on ids are not handed out twice.
pub async fn migration_4_keeps_ids_and_stops_reuse(h: &impl Harness) {
    let (ddl, blob) = match h.backend() {
        Backend::Sqlite => (
            [
                include_str!("../../migrations/sqlite/0001_initial.sql"),
                include_str!("../../migrations/sqlite/0002_audit.sql"),
                include_str!("../../migrations/sqlite/0003_change_log.sql"),
            ],
            "x'0101010101010101010101010101010101010101010101010101010101010101'",
        ),
        Backend::Postgres => (
            [
                include_str!("../../migrations/postgres/0001_initial.sql"),
                include_str!("../../migrations/postgres/0002_audit.sql"),
                include_str!("../../migrations/postgres/0003_change_log.sql"),
            ],
            "decode('0101010101010101010101010101010101010101010101010101010101010101', 'hex')",
        ),
    };
    let mut sql = ddl.join("\n");
    sql.push_str(
        "\nCREATE TABLE portcullis_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);\n\
         INSERT INTO portcullis_migrations (version, name, applied_at) VALUES (1, 'initial', 0), (2, 'audit', 0), (3, 'change log', 0);\n\
         INSERT INTO tenants (id, name, subscription, revision, created_at) VALUES (7, 'old', 'user-based', 3, 0);\n\
         INSERT INTO users (tenant_id, id, name, entitlement, status) VALUES (7, 'ann', 'Ann', 'professional', 'active');\n\
         INSERT INTO oauth_clients (tenant_id, id, name) VALUES (7, 'c1', 'C1');\n",
    );
    sql.push_str(&format!(
        "INSERT INTO api_keys (id, tenant_id, user_id, hash, description, created_at) VALUES (11, 7, 'ann', {blob}, 'old key', 0);\n"
    ));
    h.execute(&sql).await;
    let store = h.open().await;
    let old = store.tenant_by_name("old").await.unwrap().expect("the tenant survives the migration");
    assert_eq!((old.id, old.revision, old.credentials_revision), (TenantId(7), 3, 0));
    let key = store.api_key_by_hash(&[1; 32]).await.unwrap().expect("the key survives the migration");
    assert_eq!((key.id, key.tenant, key.description.as_str()), (11, TenantId(7), "old key"));
    let (model, _) = loaded(&store, old.id).await;
    assert!(
        !model.oauth_client("c1").unwrap().impersonation,
        "clients made before may not impersonate"
    );
    store.delete_tenant(old.id).await.unwrap();
    let next = import(&store, &tenant(DEMO)).await;
    assert!(next.id > TenantId(7), "{:?}", next.id);
    let next_key = store.create_api_key(&key_for(next.id), &Author::cli()).await.unwrap();
    assert!(next_key.id > 11, "{}", next_key.id);
}

fn key_for(tenant: TenantId) -> NewApiKey {
    new_key(tenant, "ann", 2)
}

/// The tenant's API-key settings: defaults until set, checked under the tenant's lock by
/// `create_api_key_within_settings` (and not by the operator's `create_api_key`); a key's
/// description changes and its owner deletes it, each with its event.
pub async fn api_key_settings_bound_new_keys_and_keys_are_renamed_and_deleted(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    assert_eq!(store.api_key_settings(record.id).await.unwrap(), ApiKeySettings::default());
    let strict = ApiKeySettings {
        enabled: true,
        max_expiry_seconds: 7 * 86_400,
        max_keys_per_user: 2,
    };
    store.set_api_key_settings(record.id, &strict, &admin).await.unwrap();
    assert_eq!(store.api_key_settings(record.id).await.unwrap(), strict);
    assert_eq!(events_of(&store, record.id, EventType::ApiKeysConfigUpdated).await.len(), 1);

    let within = |hash: u8, days: Option<i64>| NewApiKey {
        expires_at: days.map(|d| now() + d * 86_400),
        ..new_key(record.id, "bob", hash)
    };
    let limit = |error: StoreError| match error {
        StoreError::LimitReached(message) => message,
        other => panic!("a limit, not {other:?}"),
    };
    let too_long = store.create_api_key_within_settings(&within(1, Some(8)), &admin).await.unwrap_err();
    assert!(limit(too_long).contains("max_api_key_expiry"));
    let forever = store.create_api_key_within_settings(&within(1, None), &admin).await.unwrap_err();
    assert!(limit(forever).contains("max_api_key_expiry"), "a key without expiry outlives any maximum");
    let first = store.create_api_key_within_settings(&within(1, Some(7)), &admin).await.unwrap();
    store.create_api_key_within_settings(&within(2, Some(1)), &admin).await.unwrap();
    let third = store.create_api_key_within_settings(&within(3, Some(1)), &admin).await.unwrap_err();
    assert!(limit(third).contains("max_keys_per_user"));
    let operators = store
        .create_api_key(&new_key(record.id, "bob", 4), &admin)
        .await
        .expect("the operator's keys are not bound by the tenant's settings");
    // Revoked keys no longer count (the operator's counted: bob held three).
    store.revoke_api_key(record.id, first.id, &admin).await.unwrap();
    store.revoke_api_key(record.id, operators.id, &admin).await.unwrap();
    store.create_api_key_within_settings(&within(5, Some(1)), &admin).await.unwrap();
    store
        .set_api_key_settings(record.id, &ApiKeySettings { enabled: false, ..strict }, &admin)
        .await
        .unwrap();
    let anns = NewApiKey {
        expires_at: Some(now() + 86_400),
        ..new_key(record.id, "ann", 6)
    };
    let off = store.create_api_key_within_settings(&anns, &admin).await.unwrap_err();
    assert!(limit(off).contains("api_keys_enabled"));
    assert_eq!(
        store.api_keys(record.id, Some("ann")).await.unwrap().len(),
        0,
        "a refused key is not stored"
    );

    // Renamed, then deleted by its owner: gone, refused as a credential, each change an event.
    let bobs = store.create_api_key(&new_key(record.id, "bob", 7), &admin).await.unwrap();
    store.update_api_key(record.id, bobs.id, "nightly export", &admin).await.unwrap();
    let renamed = store.api_key_by_hash(&[7; 32]).await.unwrap().unwrap();
    assert_eq!(renamed.description, "nightly export");
    assert!(renamed.updated_at.is_some());
    assert_eq!(events_of(&store, record.id, EventType::ApiKeyUpdated).await.len(), 1);
    let before = credentials_revision(&store, "demo").await;
    store.delete_api_key(record.id, bobs.id, &Author::user("bob", "api-key")).await.unwrap();
    assert_eq!(store.api_key_by_hash(&[7; 32]).await.unwrap(), None);
    assert!(
        credentials_revision(&store, "demo").await > before,
        "other nodes drop the key they cached"
    );
    assert!(matches!(
        store.delete_api_key(record.id, bobs.id, &admin).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_api_key(record.id, bobs.id, "x", &admin).await,
        Err(StoreError::NotFound(_))
    ));
    let deleted = events_of(&store, record.id, EventType::ApiKeyRevoked).await;
    assert_eq!(deleted.last().unwrap().action, "delete-api-key");

    // The tenant's deletion takes its settings along.
    store.delete_tenant(record.id).await.unwrap();
    let again = import(&store, &tenant(DEMO)).await;
    assert_eq!(store.api_key_settings(again.id).await.unwrap(), ApiKeySettings::default());
}

pub async fn client_secrets_are_listed_by_hint_limited_and_revoked(h: &impl Harness) {
    let store = h.open().await;
    let record = import(&store, &tenant(DEMO)).await;
    let admin = Author::user("admin", "api-key");
    let mut created = Vec::new();
    for n in 1..=MAX_SECRETS_PER_CLIENT as u8 {
        created.push(
            store
                .create_client_secret(&secret(record.id, "reporting", "admin", n), &admin)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        store.client_secrets(record.id, "reporting").await.unwrap(),
        created,
        "listed oldest first, by hint"
    );
    assert_eq!(created[0].hint, "h1");
    assert!(created[0].created_at > 0);
    assert!(
        matches!(
            store.create_client_secret(&secret(record.id, "reporting", "admin", 9), &admin).await,
            Err(StoreError::LimitReached(why)) if why.contains("delete one first")
        ),
        "a sixth secret is refused"
    );
    assert_eq!(store.client_secret_by_hash(&[9; 32]).await.unwrap(), None, "and not stored");

    let before = credentials_revision(&store, "demo").await;
    store.delete_client_secret(record.id, "reporting", "h2", &admin).await.unwrap();
    assert_eq!(
        store.client_secret_by_hash(&[2; 32]).await.unwrap(),
        None,
        "a revoked secret is found no more"
    );
    assert!(credentials_revision(&store, "demo").await > before, "other nodes are told");
    let hints: Vec<String> = store
        .client_secrets(record.id, "reporting")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.hint)
        .collect();
    assert_eq!(hints, ["h1", "h3", "h4", "h5"]);
    let events = events_of(&store, record.id, EventType::OauthClientUpdated).await;
    assert!(
        events.iter().any(|e| e.data["hint"] == "h2" && e.data["secretDeleted"] == created[1].id),
        "{events:?}"
    );
    assert!(events.iter().all(|e| e.data.get("secret").is_none()), "no event holds a secret");

    assert!(matches!(
        store.delete_client_secret(record.id, "reporting", "h2", &admin).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_client_secret(record.id, "other-client", "h1", &admin).await,
        Err(StoreError::NotFound(_))
    ));
    // A hint is unique within its client only, and a freed place takes a new secret.
    let mut same_hint = secret(record.id, "reporting", "admin", 6);
    same_hint.hint = "h1".to_owned();
    assert!(matches!(
        store.create_client_secret(&same_hint, &admin).await,
        Err(StoreError::Conflict(_))
    ));
    same_hint.hint = "h6".to_owned();
    store.create_client_secret(&same_hint, &admin).await.unwrap();
}
