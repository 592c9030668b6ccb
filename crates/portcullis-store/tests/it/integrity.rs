//! The audit trail against someone who can write to the database but does not hold the audit
//! key (issue 11): every way of rewriting, truncating or deleting the trail that the plain
//! SHA-256 chain let through is found — by the keyed chain alone, or with the signed
//! checkpoints taken before — and a wrong key is a clear error, not "altered".

use portcullis_audit::checkpoint::check_checkpoints;
use portcullis_store::*;

use crate::contract::{admin, five_events, join, leave};
use crate::harness::Harness;

fn key(byte: u8) -> AuditKey {
    AuditKey::from_bytes(&[byte; 32]).expect("a 32-byte key")
}

/// A checkpoint of the tenant's head now, signed with `key`.
async fn checkpoint_now(store: &std::sync::Arc<dyn Store>, id: TenantId, key: &AuditKey) -> Checkpoint {
    let chain = store.audit_chain(id).await.unwrap();
    Checkpoint::sign(key, "demo", id.0, chain.head_seq, &chain.head_hash, "2026-11-23T10:00:00.000Z")
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// What an attacker with write access to the database and without the key can do: replace
/// event `from`'s body with `edit` of it, recompute its hash and every later one with plain
/// SHA-256 (the only hash they can compute), keep the indexed columns in step, move the
/// anchor's head; `drop_key_ids` also marks the rewritten events as unkeyed.
async fn rewrite_from(
    h: &impl Harness,
    store: &std::sync::Arc<dyn Store>,
    id: TenantId,
    from: u64,
    edit: impl Fn(&str) -> String,
    drop_key_ids: bool,
) {
    let chain = store.audit_chain(id).await.unwrap();
    let mut prev = chain
        .events
        .iter()
        .find(|e| e.seq == from - 1)
        .map_or_else(|| chain.archived_hash.clone(), |e| e.hash.clone());
    let mut sql = String::new();
    for event in chain.events.iter().filter(|e| e.seq >= from) {
        let body = if event.seq == from {
            edit(&event.body_json)
        } else {
            event.body_json.clone()
        };
        let hash = portcullis_audit::chain::hash_of(&prev, &body);
        let parsed: EventBody = serde_json::from_str(&body).expect("the edit keeps the body readable");
        let user = parsed.actor.user.as_deref().map_or_else(|| "NULL".to_owned(), quoted);
        let key_id = if drop_key_ids { ", key_id = NULL" } else { "" };
        sql.push_str(&format!(
            "UPDATE audit_events SET body_json = {}, prev_hash = {}, hash = {}, user_id = {user}{key_id} WHERE tenant_id = {} AND seq = {};\n",
            quoted(&body),
            quoted(&prev),
            quoted(&hash),
            id.0,
            event.seq
        ));
        prev = hash;
    }
    sql.push_str(&format!(
        "UPDATE audit_anchors SET head_hash = {} WHERE tenant_id = {};",
        quoted(&prev),
        id.0
    ));
    h.execute(&sql).await;
}

/// Issue 11: "rewrites an event and recomputes the later hashes and the anchor". Plain SHA-256
/// let it through; with the key it is found, however the attacker labels the events.
pub async fn issue_11_a_rewritten_and_recomputed_chain_is_found(h: &impl Harness) {
    let key = key(1);
    let store = h.open_with_keys(Keyring::new([key.clone()])).await;
    let id = five_events(&store).await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Ok(5));
    let checkpoint = checkpoint_now(&store, id, &key).await;
    let who_joined = |body: &str| body.replace("\"carl\"", "\"bob\"");

    // Recomputed, the events still claiming the key: their hashes are not the key's.
    rewrite_from(h, &store, id, 2, who_joined, false).await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Err(ChainBreak::Altered { seq: 2 }));
    let read = store.audit_events(id, &AuditQuery::default()).await;
    assert!(matches!(read, Err(StoreError::Integrity(ChainBreak::Altered { seq: 2 }))), "{read:?}");

    // Recomputed and labelled unkeyed: an unkeyed event after a keyed one.
    rewrite_from(h, &store, id, 2, |body| body.to_owned(), true).await;
    assert_eq!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Downgraded { seq: 2, keyed: 1 })
    );

    // All of it relabelled unkeyed from the first event: the chain alone cannot tell it from
    // one sealed before the key existed (it says how many events are unkeyed), but the
    // checkpoint taken before can.
    rewrite_from(h, &store, id, 1, |body| body.to_owned(), true).await;
    let chain = store.audit_chain(id).await.unwrap();
    assert_eq!((chain.verify(), chain.n_unkeyed()), (Ok(5), 5));
    assert!(
        matches!(
            check_checkpoints(&chain, id.0, &[&checkpoint]),
            Err(CheckpointBreak::Rewritten { seq: 5, .. })
        ),
        "{:?}",
        check_checkpoints(&chain, id.0, &[&checkpoint])
    );
}

/// Issue 11: "deletes the last events and moves the anchor back": the chain alone is
/// consistent again, a checkpoint taken before finds it.
pub async fn issue_11_truncation_with_the_anchor_moved_back_is_found_with_checkpoints(h: &impl Harness) {
    let key = key(2);
    let store = h.open_with_keys(Keyring::new([key.clone()])).await;
    let id = five_events(&store).await;
    let checkpoint = checkpoint_now(&store, id, &key).await;
    let third = store.audit_event(id, 3).await.unwrap().expect("event 3").0;
    h.execute(&format!(
        "DELETE FROM audit_events WHERE tenant_id = {t} AND seq > 3; \
         UPDATE audit_anchors SET head_seq = 3, head_hash = '{}' WHERE tenant_id = {t}",
        third.hash,
        t = id.0
    ))
    .await;
    let chain = store.audit_chain(id).await.unwrap();
    assert_eq!(chain.verify(), Ok(3), "consistent without its checkpoint");
    assert!(matches!(
        check_checkpoints(&chain, id.0, &[&checkpoint]),
        Err(CheckpointBreak::Shorter { head: 3, seq: 5, .. })
    ));
}

/// Issue 11: "deletes every event and the anchor": nothing is left to disagree, but the
/// checkpoint remembers.
pub async fn issue_11_deleting_every_event_and_the_anchor_is_found_with_checkpoints(h: &impl Harness) {
    let key = key(3);
    let store = h.open_with_keys(Keyring::new([key.clone()])).await;
    let id = five_events(&store).await;
    let checkpoint = checkpoint_now(&store, id, &key).await;
    h.execute(&format!(
        "DELETE FROM audit_events WHERE tenant_id = {t}; DELETE FROM audit_anchors WHERE tenant_id = {t}",
        t = id.0
    ))
    .await;
    let chain = store.audit_chain(id).await.unwrap();
    assert_eq!(chain.verify(), Ok(0), "an empty trail is consistent on its own");
    assert!(matches!(
        check_checkpoints(&chain, id.0, &[&checkpoint]),
        Err(CheckpointBreak::Deleted { seq: 5, .. })
    ));
}

/// Issue 11: "edits indexed columns (`user_id`), after which queries return the wrong events".
/// The columns are checked against the body, with or without a key.
pub async fn issue_11_an_edited_user_id_column_is_found(h: &impl Harness) {
    let store = h.open().await;
    let id = five_events(&store).await;
    h.execute(&format!("UPDATE audit_events SET user_id = 'bob' WHERE tenant_id = {} AND seq = 3", id.0))
        .await;
    assert_eq!(
        store.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Column {
            seq: 3,
            column: "user_id",
            stored: "bob".into(),
            body: "admin".into()
        })
    );
    let bobs = AuditQuery {
        user: Some("bob".into()),
        ..AuditQuery::default()
    };
    assert!(matches!(
        store.audit_events(id, &bobs).await,
        Err(StoreError::Integrity(ChainBreak::Column { seq: 3, .. }))
    ));
    let (intact, refused) = store.readable_audit_events(id, &bobs).await.unwrap();
    assert!(intact.is_empty(), "admin's event is not served as bob's");
    assert!(matches!(refused.as_slice(), [ChainBreak::Column { seq: 3, .. }]), "{refused:?}");
    assert!(matches!(store.audit_event(id, 3).await, Err(StoreError::Integrity(_))));
    for column in [
        "event_type = 'com.qlik.v1.user.deleted'",
        "event_time = '2020-01-01T00:00:00.000Z'",
        "space_id = 'x'",
    ] {
        h.execute(&format!(
            "UPDATE audit_events SET user_id = 'admin', {column} WHERE tenant_id = {} AND seq = 3",
            id.0
        ))
        .await;
        assert!(
            matches!(store.audit_chain(id).await.unwrap().verify(), Err(ChainBreak::Column { seq: 3, .. })),
            "{column}"
        );
    }
}

/// Issue 11: a wrong key (or none) is a clear error naming the key that sealed the events,
/// not "altered"; older keys after a rotation still verify what they sealed.
pub async fn issue_11_a_wrong_key_is_a_clear_error(h: &impl Harness) {
    let (sealing, other) = (key(4), key(5));
    let store = h.open_with_keys(Keyring::new([sealing.clone()])).await;
    let id = five_events(&store).await;
    let unknown = ChainBreak::UnknownKey {
        seq: 1,
        key_id: sealing.id().to_owned(),
    };
    for keys in [Keyring::new([other.clone()]), Keyring::none()] {
        let store = h.open_with_keys(keys).await;
        assert_eq!(store.audit_chain(id).await.unwrap().verify(), Err(unknown.clone()));
        assert!(unknown.to_string().contains(sealing.id()) && unknown.to_string().contains("was not given"));
        assert!(matches!(
            store.audit_event(id, 1).await,
            Err(StoreError::Integrity(ChainBreak::UnknownKey { .. }))
        ));
    }
    // Rotated: the new key seals, the old one still verifies.
    let rotated = h.open_with_keys(Keyring::new([other.clone(), sealing.clone()])).await;
    rotated.apply(id, &join("carl", "finance"), &admin()).await.unwrap();
    let chain = rotated.audit_chain(id).await.unwrap();
    assert_eq!(chain.verify(), Ok(6));
    assert_eq!(chain.events.last().and_then(|e| e.key_id.as_deref()), Some(other.id()));
}

/// Events sealed before the key (plain SHA-256) stay valid: a chain may turn keyed once.
pub async fn events_sealed_before_the_key_still_verify(h: &impl Harness) {
    let plain = h.open().await;
    let id = five_events(&plain).await;
    let key = key(6);
    let keyed = h.open_with_keys(Keyring::new([key.clone()])).await;
    keyed.apply(id, &join("carl", "finance"), &admin()).await.unwrap();
    let chain = keyed.audit_chain(id).await.unwrap();
    assert_eq!((chain.verify(), chain.n_unkeyed(), chain.first_keyed_seq()), (Ok(6), 5, Some(6)));
    assert_eq!(chain.events[5].key_id.as_deref(), Some(key.id()));
    // The same store opened without the key appends plain events after keyed ones: refused
    // by verification, so a node without the key is noticed.
    plain.apply(id, &leave("carl", "finance"), &admin()).await.unwrap();
    assert_eq!(
        keyed.audit_chain(id).await.unwrap().verify(),
        Err(ChainBreak::Downgraded { seq: 7, keyed: 6 })
    );
}

/// An archive anchor is signed with the key: moving it forward over deleted events is found,
/// and archiving up to keyed events without the key is refused.
pub async fn a_signed_archive_anchor_cannot_be_moved(h: &impl Harness) {
    let key = key(7);
    let store = h.open_with_keys(Keyring::new([key])).await;
    let id = five_events(&store).await;
    let second = store.audit_event(id, 2).await.unwrap().expect("event 2").0;
    let plain = h.open().await;
    assert!(matches!(
        plain.archive_audit_events(id, 2, &second.hash).await,
        Err(StoreError::KeyNeeded(_))
    ));
    assert_eq!(store.archive_audit_events(id, 2, &second.hash).await.unwrap(), 2);
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Ok(3));
    let third = store.audit_event(id, 3).await.unwrap().expect("event 3").0;
    h.execute(&format!(
        "DELETE FROM audit_events WHERE tenant_id = {t} AND seq = 3; \
         UPDATE audit_anchors SET archived_seq = 3, archived_hash = '{}' WHERE tenant_id = {t}",
        third.hash,
        t = id.0
    ))
    .await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Err(ChainBreak::Anchor { seq: 3 }));
    h.execute(&format!(
        "UPDATE audit_anchors SET archived_key_id = NULL, archived_sig = NULL WHERE tenant_id = {}",
        id.0
    ))
    .await;
    assert_eq!(store.audit_chain(id).await.unwrap().verify(), Err(ChainBreak::Anchor { seq: 3 }));
}

/// The bounded tail a server checks at start: the last events and the anchor, whatever the
/// chain's length; the heads of every chain in one query.
pub async fn the_tail_and_the_heads_are_read_cheaply(h: &impl Harness) {
    let key = key(8);
    let store = h.open_with_keys(Keyring::new([key])).await;
    let id = five_events(&store).await;
    let tail = store.audit_tail(id, 2).await.unwrap();
    assert_eq!(tail.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    assert!(tail.partial);
    assert_eq!(tail.verify(), Ok(2));
    assert_eq!(tail.position(2), portcullis_audit::Position::NotRead);
    let heads = store.audit_heads().await.unwrap();
    assert_eq!(heads, [(id, 5, tail.head_hash.clone())]);
}
