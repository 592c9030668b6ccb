//! The per-tenant hash chain. Each event's hash covers the previous event's hash and the
//! exact JSON text of its own body, so changing any stored byte, deleting an event or
//! reordering events breaks the chain at the first event affected.
//!
//! Two schemes seal an event. *Keyed* (an [`AuditKey`] is held): HMAC-SHA256 with the key, so
//! only a holder of the key can compute a hash, and rewriting the chain needs the key. *Plain*
//! (no key, and every event written before keys existed): SHA-256, which anyone with write
//! access to the database can recompute. Each event records which key sealed it (`key_id`,
//! `None` for plain), and a chain may only go from plain to keyed, never back: an unkeyed event
//! after a keyed one was rewritten without the key.
//!
//! The indexed columns a store keeps beside the body ([`IndexColumns`]) are not hashed: they are
//! derived from the body, and checked against it, so an edited column is found too.

use sha2::{Digest, Sha256};

use crate::event::EventBody;
use crate::key::{AuditKey, Keyring, domain};

/// The "previous hash" of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The columns a store keeps beside an event's body so that queries can use indices: each is
/// a copy of a field of the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexColumns {
    /// `eventTime`.
    pub event_time: String,
    /// `eventType`.
    pub event_type: String,
    /// `actor.user`.
    pub user_id: Option<String>,
    /// `resource.space`.
    pub space_id: Option<String>,
}

impl IndexColumns {
    /// The columns of a body.
    pub fn of(body: &EventBody) -> IndexColumns {
        IndexColumns {
            event_time: body.event_time.clone(),
            event_type: body.event_type.clone(),
            user_id: body.actor.user.clone(),
            space_id: body.resource.as_ref().and_then(|r| r.space.clone()),
        }
    }

    /// The first column that disagrees with the body, as (name, stored, body's).
    fn disagreement(&self, body: &EventBody) -> Option<(&'static str, String, String)> {
        let shown = |value: Option<&String>| value.map_or_else(|| "(none)".to_owned(), Clone::clone);
        let derived = IndexColumns::of(body);
        if self.event_time != derived.event_time {
            return Some(("event_time", self.event_time.clone(), derived.event_time));
        }
        if self.event_type != derived.event_type {
            return Some(("event_type", self.event_type.clone(), derived.event_type));
        }
        if self.user_id != derived.user_id {
            return Some(("user_id", shown(self.user_id.as_ref()), shown(derived.user_id.as_ref())));
        }
        if self.space_id != derived.space_id {
            return Some(("space_id", shown(self.space_id.as_ref()), shown(derived.space_id.as_ref())));
        }
        None
    }
}

/// An event as stored: its body as JSON text, the two hashes, which key sealed it, and the
/// columns stored beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEvent {
    /// Position in the chain, from 1 (also inside the body).
    pub seq: u64,
    /// The body's JSON text, exactly as hashed.
    pub body_json: String,
    /// The previous event's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
    /// The id of the key whose HMAC `hash` is; `None`: plain SHA-256.
    pub key_id: Option<String>,
    /// The indexed columns stored beside the body; `None` where there are none (an archive).
    pub columns: Option<IndexColumns>,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The plain (unkeyed) hash of a body's text after `prev_hash`.
pub fn hash_of(prev_hash: &str, body_json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(body_json.as_bytes());
    hex(&hasher.finalize())
}

/// The keyed hash (HMAC-SHA256) of a body's text after `prev_hash`.
pub fn keyed_hash_of(key: &AuditKey, prev_hash: &str, body_json: &str) -> String {
    hex(&key.mac(domain::EVENT, &[prev_hash.as_bytes(), b"\n", body_json.as_bytes()]))
}

/// Seals a body after the previous event's hash with plain SHA-256.
pub fn seal(prev_hash: &str, body: &EventBody) -> Result<SealedEvent, serde_json::Error> {
    seal_with(None, prev_hash, body)
}

/// Seals a body after the previous event's hash: with `key` (HMAC-SHA256) when given, else
/// with plain SHA-256.
pub fn seal_with(key: Option<&AuditKey>, prev_hash: &str, body: &EventBody) -> Result<SealedEvent, serde_json::Error> {
    let body_json = serde_json::to_string(body)?;
    let hash = match key {
        Some(key) => keyed_hash_of(key, prev_hash, &body_json),
        None => hash_of(prev_hash, &body_json),
    };
    Ok(SealedEvent {
        seq: body.seq,
        hash,
        prev_hash: prev_hash.to_owned(),
        key_id: key.map(|k| k.id().to_owned()),
        columns: Some(IndexColumns::of(body)),
        body_json,
    })
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The stored hash does not match the stored body: the event was altered.
    #[error("event {seq} was altered: its hash does not match its content")]
    Altered {
        /// The event.
        seq: u64,
    },
    /// The event does not follow the one before it: one or more events were removed or reordered.
    #[error("the chain is broken before event {seq}: expected it to follow event {expected_prev} (events were removed or reordered)")]
    Gap {
        /// The first event after the break.
        seq: u64,
        /// The sequence number it should follow.
        expected_prev: u64,
    },
    /// The chain ends before its recorded head: the last events were removed.
    #[error("events after {last} were removed: the chain's head is event {head}")]
    Truncated {
        /// The last event found.
        last: u64,
        /// The last event appended.
        head: u64,
    },
    /// The body no longer parses or disagrees with its sequence number.
    #[error("event {seq} is unreadable: {reason}")]
    Unreadable {
        /// The event.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// An indexed column stored beside the body says something else than the body: the
    /// column was edited, and queries using it return the wrong events.
    #[error("event {seq} has an edited column: `{column}` is `{stored}` but the event says `{body}`")]
    Column {
        /// The event.
        seq: u64,
        /// The column's name.
        column: &'static str,
        /// What the column holds.
        stored: String,
        /// What the body says.
        body: String,
    },
    /// The event was sealed with a key the verifier does not hold (or with none given): not
    /// evidence of tampering, but nothing can be said until it is checked with that key.
    #[error("event {seq} was sealed with the audit key `{key_id}`, which was not given; hint: verify with that key")]
    UnknownKey {
        /// The event.
        seq: u64,
        /// The id of the key that sealed it.
        key_id: String,
    },
    /// An unkeyed event after a keyed one: keys are never turned off within a chain, so the
    /// event was rewritten by someone without the key.
    #[error("event {seq} is not keyed although event {keyed} before it is: it was rewritten without the audit key")]
    Downgraded {
        /// The unkeyed event.
        seq: u64,
        /// A keyed event before it.
        keyed: u64,
    },
    /// An unkeyed event where a reader knows every event is keyed (a server holding the key
    /// seals every event it appends after it loaded the tenant).
    #[error("event {seq} is not keyed, but every event from {keyed_from} on was sealed with the audit key: it was rewritten without the key")]
    NotKeyed {
        /// The event.
        seq: u64,
        /// From where every event is keyed.
        keyed_from: u64,
    },
    /// The archive anchor (where the archived prefix ends) is not signed by the key that
    /// signed it, or is unsigned although the chain after it is keyed: it was moved.
    #[error("the archive anchor at event {seq} is not signed by the audit key: events may have been deleted and the anchor moved")]
    Anchor {
        /// The last archived event, as the anchor says.
        seq: u64,
    },
}

/// Checks one event on its own: its body parses and says its sequence number, its hash covers
/// it under the scheme that sealed it, and its indexed columns agree with it. Returns the body.
/// (Its link to the event before it is [`verify`]'s.)
pub fn check_event(event: &SealedEvent, keys: &Keyring) -> Result<EventBody, ChainBreak> {
    let body = serde_json::from_str::<EventBody>(&event.body_json).map_err(|error| ChainBreak::Unreadable {
        seq: event.seq,
        reason: error.to_string(),
    })?;
    let sealed_ok = match &event.key_id {
        None => hash_of(&event.prev_hash, &event.body_json) == event.hash,
        Some(key_id) => {
            let key = keys.get(key_id).ok_or_else(|| ChainBreak::UnknownKey {
                seq: event.seq,
                key_id: key_id.clone(),
            })?;
            key.verify_mac(
                domain::EVENT,
                &[event.prev_hash.as_bytes(), b"\n", event.body_json.as_bytes()],
                &event.hash,
            )
        }
    };
    if !sealed_ok {
        return Err(ChainBreak::Altered { seq: event.seq });
    }
    if body.seq != event.seq {
        return Err(ChainBreak::Unreadable {
            seq: event.seq,
            reason: format!("its body says sequence {}", body.seq),
        });
    }
    if let Some((column, stored, body_says)) = event.columns.as_ref().and_then(|c| c.disagreement(&body)) {
        return Err(ChainBreak::Column {
            seq: event.seq,
            column,
            stored,
            body: body_says,
        });
    }
    Ok(body)
}

/// Recomputes a tenant's chain in sequence order. `first_prev` is the hash the first given
/// event must follow: [`GENESIS`], or the last hash of an archived prefix. Keyed events are
/// checked with the key of `keys` that sealed them.
/// Returns the number of events checked, or the first break.
pub fn verify<'a>(events: impl IntoIterator<Item = &'a SealedEvent>, first_prev: &str, keys: &Keyring) -> Result<u64, ChainBreak> {
    let mut prev_hash = first_prev.to_owned();
    let mut prev_seq: Option<u64> = None;
    let mut first_keyed: Option<u64> = None;
    let mut n = 0;
    for event in events {
        if let Some(prev_seq) = prev_seq
            && event.seq != prev_seq + 1
        {
            return Err(ChainBreak::Gap {
                seq: event.seq,
                expected_prev: event.seq.saturating_sub(1).max(prev_seq),
            });
        }
        if event.prev_hash != prev_hash {
            return Err(ChainBreak::Gap {
                seq: event.seq,
                expected_prev: prev_seq.unwrap_or(event.seq.saturating_sub(1)),
            });
        }
        match (&event.key_id, first_keyed) {
            (None, Some(keyed)) => return Err(ChainBreak::Downgraded { seq: event.seq, keyed }),
            (Some(_), None) => first_keyed = Some(event.seq),
            _ => {}
        }
        check_event(event, keys)?;
        prev_hash.clone_from(&event.hash);
        prev_seq = Some(event.seq);
        n += 1;
    }
    Ok(n)
}

/// A tenant's stored chain as a store read it: where its archived prefix ends, its head, and
/// its events in sequence order (all of them, or only the last ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChain {
    /// The tenant's name (archive anchors are signed for it).
    pub tenant: String,
    /// The last archived event's sequence number (0 when nothing was archived).
    pub archived_seq: u64,
    /// Its hash ([`GENESIS`] when nothing was archived): the first stored event must follow it.
    pub archived_hash: String,
    /// The signature of the archive anchor, as (key id, HMAC), when archived with a key.
    pub archived_sig: Option<(String, String)>,
    /// The last appended event's sequence number.
    pub head_seq: u64,
    /// Its hash.
    pub head_hash: String,
    /// The stored events read: all of them, or (`partial`) only the last ones.
    pub events: Vec<SealedEvent>,
    /// Only the last events were read (a bounded tail): the first one's link to the event
    /// before it is not checked.
    pub partial: bool,
    /// The keys of the store that read it, which [`AuditChain::verify`] checks with.
    pub keys: Keyring,
}

/// Signs an archive anchor: the tenant, the last archived event and its hash.
pub fn sign_archive(key: &AuditKey, tenant: &str, archived_seq: u64, archived_hash: &str) -> (String, String) {
    let seq = archived_seq.to_string();
    let parts: [&[u8]; 5] = [tenant.as_bytes(), b"\n", seq.as_bytes(), b"\n", archived_hash.as_bytes()];
    (key.id().to_owned(), hex(&key.mac(domain::ARCHIVE, &parts)))
}

impl AuditChain {
    /// Recomputes the chain: the archive anchor is signed when it must be, every event follows
    /// the one before it (the first follows the archive, unless only a tail was read), each
    /// hash covers its body and its columns agree with it, no event is unkeyed after a keyed
    /// one, and the last event is the recorded head. Returns the number of events checked, or
    /// the first break.
    pub fn verify(&self) -> Result<u64, ChainBreak> {
        self.verify_with_progress(&mut |_, _| {})
    }

    /// [`AuditChain::verify`], reporting `(events checked, events read)` as it goes (a million
    /// events take seconds: each is parsed and its hash recomputed).
    pub fn verify_with_progress(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, ChainBreak> {
        self.verify_anchor()?;
        let first_prev = match (self.partial, self.events.first()) {
            (true, Some(first)) => first.prev_hash.as_str(),
            _ => self.archived_hash.as_str(),
        };
        let total = self.events.len() as u64;
        let counted = self.events.iter().enumerate().map(|(done, event)| {
            progress(done as u64, total);
            event
        });
        let n_checked = verify(counted, first_prev, &self.keys)?;
        progress(n_checked, total);
        let (last_seq, last_hash) = match self.events.last() {
            Some(last) => (last.seq, last.hash.as_str()),
            None => (self.archived_seq, self.archived_hash.as_str()),
        };
        if last_seq != self.head_seq || last_hash != self.head_hash {
            return Err(ChainBreak::Truncated {
                last: last_seq,
                head: self.head_seq,
            });
        }
        Ok(n_checked)
    }

    /// An anchor signed with a key must carry that key's signature; an unsigned anchor is only
    /// believed while the events after it are unkeyed (archived before keys were used).
    fn verify_anchor(&self) -> Result<(), ChainBreak> {
        if self.archived_seq == 0 {
            return Ok(());
        }
        match &self.archived_sig {
            Some((key_id, sig)) => {
                let key = self.keys.get(key_id).ok_or_else(|| ChainBreak::UnknownKey {
                    seq: self.archived_seq,
                    key_id: key_id.clone(),
                })?;
                let seq = self.archived_seq.to_string();
                let parts: [&[u8]; 5] = [self.tenant.as_bytes(), b"\n", seq.as_bytes(), b"\n", self.archived_hash.as_bytes()];
                if key.verify_mac(domain::ARCHIVE, &parts, sig) {
                    Ok(())
                } else {
                    Err(ChainBreak::Anchor { seq: self.archived_seq })
                }
            }
            None if !self.partial && self.events.first().is_some_and(|e| e.key_id.is_some()) => Err(ChainBreak::Anchor { seq: self.archived_seq }),
            None => Ok(()),
        }
    }

    /// The first keyed event read, if any.
    pub fn first_keyed_seq(&self) -> Option<u64> {
        self.events.iter().find(|e| e.key_id.is_some()).map(|e| e.seq)
    }

    /// How many of the events read are unkeyed (sealed before a key was used).
    pub fn n_unkeyed(&self) -> usize {
        self.events.iter().filter(|e| e.key_id.is_none()).count()
    }

    /// The stored hash at `seq`, as far as this read of the chain can tell.
    pub fn position(&self, seq: u64) -> Position<'_> {
        if seq > self.head_seq {
            return Position::AfterHead;
        }
        if seq == self.archived_seq {
            return Position::ArchiveEnd(&self.archived_hash);
        }
        if seq < self.archived_seq {
            return Position::Archived;
        }
        if seq == self.head_seq && self.events.is_empty() {
            return Position::Missing;
        }
        let first_read = self.events.first().map_or(u64::MAX, |e| e.seq);
        if self.partial && seq < first_read {
            return Position::NotRead;
        }
        match self.events.binary_search_by_key(&seq, |e| e.seq) {
            Ok(index) => Position::Stored(&self.events[index]),
            Err(_) => Position::Missing,
        }
    }
}

/// Where a sequence number falls in a read of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position<'a> {
    /// The event is stored (and was read).
    Stored(&'a SealedEvent),
    /// The last archived event: only its hash is kept, in the anchor.
    ArchiveEnd(&'a str),
    /// An event of the archived prefix: in the archive file, not the database.
    Archived,
    /// Before the tail that was read: ask the store for it.
    NotRead,
    /// Within the chain, but no such event is stored: it was deleted.
    Missing,
    /// After the chain's head: the chain is shorter.
    AfterHead,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, EventBody};

    fn body(seq: u64, user: &str) -> EventBody {
        EventBody {
            tenant: "acme".into(),
            seq,
            event_time: format!("2026-11-23T10:00:{:02}Z", seq % 60),
            event_type: "com.qlik.v1.user.updated".into(),
            actor: Actor {
                user: Some(user.into()),
                ..Actor::default()
            },
            channel: "api-key".into(),
            action: "user:manage".into(),
            resource: None,
            decision: None,
            explanation: None,
            data: serde_json::json!({ "n": seq }),
        }
    }

    /// A chain of `n` events, sealed with `key` from event `keyed_from` on.
    fn chain_keyed(n: u64, key: Option<&AuditKey>, keyed_from: u64) -> Vec<SealedEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let sealed = seal_with(key.filter(|_| seq >= keyed_from), &prev, &body(seq, "ann")).unwrap();
                prev.clone_from(&sealed.hash);
                sealed
            })
            .collect()
    }

    fn chain(n: u64) -> Vec<SealedEvent> {
        chain_keyed(n, None, 1)
    }

    fn key(byte: u8) -> AuditKey {
        AuditKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn none() -> Keyring {
        Keyring::none()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5), GENESIS, &none()), Ok(5));
        assert_eq!(verify(&[], GENESIS, &none()), Ok(0));
    }

    /// Progress counts every event in order, ends at (n, n) when the chain holds, and stops
    /// at the break when it does not; the verdict is the one `verify` gives.
    #[test]
    fn progress_counts_the_events_verified() {
        let whole = |events: Vec<SealedEvent>| AuditChain {
            tenant: "acme".into(),
            archived_seq: 0,
            archived_hash: GENESIS.into(),
            archived_sig: None,
            head_seq: events.last().map_or(0, |e| e.seq),
            head_hash: events.last().map_or(GENESIS.into(), |e| e.hash.clone()),
            events,
            partial: false,
            keys: none(),
        };
        let intact = whole(chain(5));
        let mut seen = Vec::new();
        assert_eq!(intact.verify_with_progress(&mut |done, total| seen.push((done, total))), Ok(5));
        assert_eq!(seen, [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
        let mut broken = chain(5);
        broken[2].body_json = broken[2].body_json.replace("\"n\":3", "\"n\":4");
        let broken = whole(broken);
        let mut seen = Vec::new();
        assert_eq!(broken.verify_with_progress(&mut |done, total| seen.push((done, total))), broken.verify());
        assert_eq!(seen.last(), Some(&(2, 5)), "the bar stops at the altered event");
    }

    #[test]
    fn an_altered_body_is_named() {
        let mut events = chain(5);
        events[2].body_json = events[2].body_json.replace("\"n\":3", "\"n\":4");
        assert_eq!(verify(&events, GENESIS, &none()), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_rehashed_alteration_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].body_json = events[2].body_json.replace("\"user\":\"ann\"", "\"user\":\"eve\"");
        events[2].hash = hash_of(&events[2].prev_hash, &events[2].body_json);
        events[2].columns = Some(IndexColumns::of(&serde_json::from_str(&events[2].body_json).unwrap()));
        assert_eq!(verify(&events, GENESIS, &none()), Err(ChainBreak::Gap { seq: 4, expected_prev: 3 }));
    }

    #[test]
    fn a_removed_event_is_found() {
        let mut events = chain(5);
        events.remove(1);
        assert!(matches!(verify(&events, GENESIS, &none()), Err(ChainBreak::Gap { seq: 3, .. })));
        let mut first_removed = chain(3);
        first_removed.remove(0);
        assert!(matches!(verify(&first_removed, GENESIS, &none()), Err(ChainBreak::Gap { seq: 2, .. })));
    }

    #[test]
    fn an_archived_prefix_continues_from_its_last_hash() {
        let events = chain(6);
        assert_eq!(verify(&events[3..], &events[2].hash, &none()), Ok(3));
    }

    /// Issue 11: with a key, rewriting an event and recomputing every later hash (with plain
    /// SHA-256, the only hash an attacker without the key can compute) is found.
    #[test]
    fn a_keyed_chain_cannot_be_recomputed_without_the_key() {
        let key = key(7);
        let keys = Keyring::new([key.clone()]);
        let events = chain_keyed(5, Some(&key), 1);
        assert_eq!(verify(&events, GENESIS, &keys), Ok(5));

        // Rewritten from event 3 on, keeping the key ids: the hashes are not the key's.
        let mut forged = events.clone();
        let mut prev = forged[1].hash.clone();
        for event in &mut forged[2..] {
            if event.seq == 3 {
                event.body_json = event.body_json.replace("\"user\":\"ann\"", "\"user\":\"eve\"");
            }
            event.prev_hash.clone_from(&prev);
            event.hash = hash_of(&prev, &event.body_json);
            prev.clone_from(&event.hash);
        }
        assert_eq!(verify(&forged, GENESIS, &keys), Err(ChainBreak::Altered { seq: 3 }));

        // The same with the key ids dropped: an unkeyed event after a keyed one.
        for event in &mut forged[2..] {
            event.key_id = None;
        }
        assert_eq!(verify(&forged, GENESIS, &keys), Err(ChainBreak::Downgraded { seq: 3, keyed: 1 }));

        // Sealed with another key: refused with that key's id, not as "altered".
        let other = key_other();
        let by_other = chain_keyed(2, Some(&other), 1);
        assert_eq!(
            verify(&by_other, GENESIS, &keys),
            Err(ChainBreak::UnknownKey {
                seq: 1,
                key_id: other.id().to_owned()
            })
        );
        assert!(matches!(verify(&events, GENESIS, &none()), Err(ChainBreak::UnknownKey { seq: 1, .. })));
    }

    fn key_other() -> AuditKey {
        key(9)
    }

    #[test]
    fn a_chain_may_turn_keyed_once_and_old_keys_still_verify() {
        let key = key(7);
        let events = chain_keyed(6, Some(&key), 4);
        assert_eq!(verify(&events, GENESIS, &Keyring::new([key.clone()])), Ok(6));
        assert_eq!(events.iter().filter(|e| e.key_id.is_none()).count(), 3);
        // After a rotation the old key only verifies.
        assert_eq!(verify(&events, GENESIS, &Keyring::new([key_other(), key])), Ok(6));
    }

    #[test]
    fn an_edited_index_column_is_named() {
        let key = key(7);
        let mut events = chain_keyed(3, Some(&key), 1);
        if let Some(columns) = events[1].columns.as_mut() {
            columns.user_id = Some("bob".into());
        }
        assert_eq!(
            verify(&events, GENESIS, &Keyring::new([key])),
            Err(ChainBreak::Column {
                seq: 2,
                column: "user_id",
                stored: "bob".into(),
                body: "ann".into()
            })
        );
    }

    #[test]
    fn a_signed_archive_anchor_cannot_be_moved() {
        let key = key(7);
        let events = chain_keyed(6, Some(&key), 1);
        let mut archived = AuditChain {
            tenant: "acme".into(),
            archived_seq: 3,
            archived_hash: events[2].hash.clone(),
            archived_sig: Some(sign_archive(&key, "acme", 3, &events[2].hash)),
            head_seq: 6,
            head_hash: events[5].hash.clone(),
            events: events[3..].to_vec(),
            partial: false,
            keys: Keyring::new([key.clone()]),
        };
        assert_eq!(archived.verify(), Ok(3));
        // Event 4 deleted and the anchor moved to it, with the old signature or none.
        let mut moved = archived.clone();
        moved.archived_seq = 4;
        moved.archived_hash = events[3].hash.clone();
        moved.events.remove(0);
        assert_eq!(moved.verify(), Err(ChainBreak::Anchor { seq: 4 }));
        moved.archived_sig = None;
        assert_eq!(moved.verify(), Err(ChainBreak::Anchor { seq: 4 }));
        // An unsigned anchor in front of unkeyed events (archived before the key) is believed.
        let plain = chain(4);
        archived.archived_sig = None;
        archived.archived_hash = plain[1].hash.clone();
        archived.archived_seq = 2;
        archived.events = plain[2..].to_vec();
        archived.head_seq = 4;
        archived.head_hash = plain[3].hash.clone();
        assert_eq!(archived.verify(), Ok(2));
    }

    #[test]
    fn positions_in_a_tail() {
        let events = chain(10);
        let tail = AuditChain {
            tenant: "acme".into(),
            archived_seq: 2,
            archived_hash: events[1].hash.clone(),
            archived_sig: None,
            head_seq: 10,
            head_hash: events[9].hash.clone(),
            events: events[6..].to_vec(),
            partial: true,
            keys: Keyring::none(),
        };
        assert_eq!(tail.verify(), Ok(4));
        assert_eq!(tail.position(1), Position::Archived);
        assert_eq!(tail.position(2), Position::ArchiveEnd(&events[1].hash));
        assert_eq!(tail.position(5), Position::NotRead);
        assert_eq!(tail.position(8), Position::Stored(&events[7]));
        assert_eq!(tail.position(11), Position::AfterHead);
    }
}
