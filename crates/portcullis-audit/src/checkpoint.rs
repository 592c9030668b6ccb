//! Signed checkpoints: statements "tenant T's chain had event `seq` with hash `head` at
//! `time`", signed with the audit key, written as JSON lines to a place the database's owner
//! cannot rewrite (an append-only file, a SIEM reading standard output). Checked later
//! against the database, they find what the database alone cannot: a chain rewritten and
//! recomputed, its last events removed with the anchor moved back, or all of it deleted.
//!
//! Signatures are HMAC-SHA256 with the audit key rather than a public-key signature: whoever
//! checks a checkpoint must also check the keyed chain, which needs the key anyway, and one
//! secret is one thing to keep. The signed text is the JSON array of the fields, so no
//! field's content can be mistaken for another's.

use serde::{Deserialize, Serialize};

use crate::chain::{AuditChain, Position, SealedEvent, hex};
use crate::key::{AuditKey, Keyring, domain};

/// One checkpoint, as one JSON line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// The tenant's name.
    pub tenant: String,
    /// The tenant's store id (never handed out twice, so a tenant deleted and created again
    /// under its name is told apart).
    pub tenant_id: i64,
    /// The chain's head: its last event's sequence number (0: no event yet).
    pub seq: u64,
    /// That event's hash.
    pub head: String,
    /// When the checkpoint was taken (RFC 3339, UTC).
    pub time: String,
    /// The id of the key that signed it.
    pub key_id: String,
    /// The tenant was deleted on purpose (through the server) at `time`: the last checkpoint
    /// of its trail, so that its absence from the database is not taken for an attack.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// HMAC-SHA256 of the fields above, in hex.
    pub sig: String,
}

impl Checkpoint {
    /// Signs a checkpoint with `key`.
    pub fn sign(key: &AuditKey, tenant: &str, tenant_id: i64, seq: u64, head: &str, time: &str) -> Checkpoint {
        Checkpoint {
            tenant: tenant.to_owned(),
            tenant_id,
            seq,
            head: head.to_owned(),
            time: time.to_owned(),
            key_id: key.id().to_owned(),
            deleted: false,
            sig: String::new(),
        }
        .signed_by(key)
    }

    /// Signs the tombstone of a tenant deleted on purpose, whose chain ended at `seq` with `head`.
    pub fn tombstone(key: &AuditKey, tenant: &str, tenant_id: i64, seq: u64, head: &str, time: &str) -> Checkpoint {
        Checkpoint {
            deleted: true,
            ..Checkpoint::sign(key, tenant, tenant_id, seq, head, time)
        }
        .signed_by(key)
    }

    fn signed_by(mut self, key: &AuditKey) -> Checkpoint {
        self.key_id = key.id().to_owned();
        self.sig = hex(&key.mac(domain::CHECKPOINT, &[self.signed_text().as_bytes()]));
        self
    }

    fn signed_text(&self) -> String {
        serde_json::json!([self.tenant, self.tenant_id, self.seq, self.head, self.time, self.key_id, self.deleted]).to_string()
    }

    /// Whether the signature is the named key's.
    pub fn check_signature(&self, keys: &Keyring) -> Result<(), CheckpointBreak> {
        let key = keys.get(&self.key_id).ok_or_else(|| CheckpointBreak::UnknownKey {
            seq: self.seq,
            key_id: self.key_id.clone(),
        })?;
        if key.verify_mac(domain::CHECKPOINT, &[self.signed_text().as_bytes()], &self.sig) {
            Ok(())
        } else {
            Err(CheckpointBreak::Forged { seq: self.seq })
        }
    }

    /// The checkpoint as one line of JSON (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("a checkpoint is plain strings and numbers"))
    }

    /// Checks what the chain `chain` says at this checkpoint's position; `Ok(Some(seq))` when
    /// that part was not read (a tail) and the event `seq` must be fetched and given to
    /// [`Checkpoint::check_event`].
    pub fn check_chain(&self, chain: &AuditChain) -> Result<Option<u64>, CheckpointBreak> {
        match chain.position(self.seq) {
            Position::AfterHead if chain.head_seq == 0 && chain.events.is_empty() => Err(CheckpointBreak::Deleted {
                seq: self.seq,
                time: self.time.clone(),
            }),
            Position::AfterHead => Err(CheckpointBreak::Shorter {
                head: chain.head_seq,
                seq: self.seq,
                time: self.time.clone(),
            }),
            Position::ArchiveEnd(hash) if hash == self.head => Ok(None),
            Position::ArchiveEnd(_) => Err(self.rewritten()),
            Position::Archived => Ok(None),
            Position::NotRead => Ok(Some(self.seq)),
            Position::Missing => Err(self.missing()),
            Position::Stored(event) => self.check_event(Some(event)).map(|()| None),
        }
    }

    /// Checks the stored event at this checkpoint's position (`None`: there is none).
    pub fn check_event(&self, event: Option<&SealedEvent>) -> Result<(), CheckpointBreak> {
        match event {
            Some(event) if event.hash == self.head => Ok(()),
            Some(_) => Err(self.rewritten()),
            None => Err(self.missing()),
        }
    }

    fn rewritten(&self) -> CheckpointBreak {
        CheckpointBreak::Rewritten {
            seq: self.seq,
            time: self.time.clone(),
        }
    }

    fn missing(&self) -> CheckpointBreak {
        CheckpointBreak::Missing {
            seq: self.seq,
            time: self.time.clone(),
        }
    }
}

/// Reads a checkpoint file: one checkpoint per line, blank lines skipped. A line that is not
/// a checkpoint is an error naming it: the file is ours, so anything else in it is damage.
pub fn parse_checkpoints(text: &str) -> Result<Vec<Checkpoint>, CheckpointBreak> {
    let mut checkpoints = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let checkpoint = serde_json::from_str::<Checkpoint>(line).map_err(|error| CheckpointBreak::Unreadable {
            line: index + 1,
            reason: error.to_string(),
        })?;
        checkpoints.push(checkpoint);
    }
    Ok(checkpoints)
}

/// The checkpoints of one tenant (one store id), in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantCheckpoints<'a> {
    /// The tenant's name.
    pub tenant: &'a str,
    /// Its store id.
    pub tenant_id: i64,
    /// Its checkpoints.
    pub checkpoints: Vec<&'a Checkpoint>,
}

impl TenantCheckpoints<'_> {
    /// The checkpoint of the furthest event (the last written among equals).
    pub fn latest(&self) -> Option<&Checkpoint> {
        self.checkpoints.iter().rev().max_by_key(|c| c.seq).copied()
    }

    /// The tombstone, when the tenant was deleted on purpose.
    pub fn tombstone(&self) -> Option<&Checkpoint> {
        self.checkpoints.iter().find(|c| c.deleted).copied()
    }
}

/// Groups checkpoints by tenant (name and store id), in order of first appearance.
pub fn by_tenant(checkpoints: &[Checkpoint]) -> Vec<TenantCheckpoints<'_>> {
    let mut groups: Vec<TenantCheckpoints<'_>> = Vec::new();
    for checkpoint in checkpoints {
        match groups
            .iter_mut()
            .find(|g| g.tenant == checkpoint.tenant && g.tenant_id == checkpoint.tenant_id)
        {
            Some(group) => group.checkpoints.push(checkpoint),
            None => groups.push(TenantCheckpoints {
                tenant: &checkpoint.tenant,
                tenant_id: checkpoint.tenant_id,
                checkpoints: vec![checkpoint],
            }),
        }
    }
    groups
}

/// Checks a tenant's chain against its checkpoints (every one: its signature, and that the
/// chain still holds its event with its hash) and that every event after the latest one is
/// keyed (a checkpoint is taken with the key, so what follows it was sealed with a key too).
/// `tenant_id` is the tenant's store id now. Returns how many checkpoints were checked.
/// `chain` must have been read whole (not a tail).
pub fn check_checkpoints(chain: &AuditChain, tenant_id: i64, checkpoints: &[&Checkpoint]) -> Result<usize, CheckpointBreak> {
    for checkpoint in checkpoints {
        checkpoint.check_signature(&chain.keys)?;
        if checkpoint.tenant_id != tenant_id {
            return Err(CheckpointBreak::Recreated {
                tenant: checkpoint.tenant.clone(),
                checkpointed_id: checkpoint.tenant_id,
                tenant_id,
            });
        }
        if checkpoint.check_chain(chain)?.is_some() {
            // Only a tail was read: the caller should have read the chain whole.
            return Err(checkpoint.missing());
        }
    }
    if let Some(latest) = checkpoints.iter().max_by_key(|c| c.seq) {
        check_keyed_after(chain, latest)?;
    }
    Ok(checkpoints.len())
}

/// Every event read after `checkpoint` is keyed.
pub fn check_keyed_after(chain: &AuditChain, checkpoint: &Checkpoint) -> Result<(), CheckpointBreak> {
    match chain.events.iter().find(|e| e.seq > checkpoint.seq && e.key_id.is_none()) {
        Some(event) => Err(CheckpointBreak::Unkeyed {
            seq: event.seq,
            checkpoint_seq: checkpoint.seq,
        }),
        None => Ok(()),
    }
}

/// Why a chain does not agree with its checkpoints, or a checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointBreak {
    /// A line of the checkpoint file is not a checkpoint.
    #[error("line {line} of the checkpoint file is not a checkpoint: {reason}")]
    Unreadable {
        /// The line, from 1.
        line: usize,
        /// Why.
        reason: String,
    },
    /// Signed with a key that was not given.
    #[error("the checkpoint at event {seq} was signed with the audit key `{key_id}`, which was not given; hint: verify with that key")]
    UnknownKey {
        /// The checkpoint's event.
        seq: u64,
        /// The key that signed it.
        key_id: String,
    },
    /// The signature is not the key's: the checkpoint was forged or edited.
    #[error("the checkpoint at event {seq} does not carry its key's signature: it was forged or edited")]
    Forged {
        /// The checkpoint's event.
        seq: u64,
    },
    /// The event stored at the checkpoint's position has another hash.
    #[error("event {seq} is not the one checkpointed at {time}: the chain was rewritten")]
    Rewritten {
        /// The checkpoint's event.
        seq: u64,
        /// The checkpoint's time.
        time: String,
    },
    /// The event at the checkpoint's position is gone.
    #[error("event {seq}, checkpointed at {time}, is missing: it was deleted")]
    Missing {
        /// The checkpoint's event.
        seq: u64,
        /// The checkpoint's time.
        time: String,
    },
    /// The chain ends before the checkpoint's event.
    #[error("the chain ends at event {head}, but a checkpoint at {time} recorded event {seq}: its last events were removed")]
    Shorter {
        /// The chain's head now.
        head: u64,
        /// The checkpoint's event.
        seq: u64,
        /// The checkpoint's time.
        time: String,
    },
    /// No event and no anchor, where a checkpoint recorded some.
    #[error("the tenant has no audit events and no anchor, but a checkpoint at {time} recorded event {seq}: its trail was deleted")]
    Deleted {
        /// The checkpoint's event.
        seq: u64,
        /// The checkpoint's time.
        time: String,
    },
    /// The tenant was checkpointed, but is not in the database.
    #[error("tenant `{tenant}` has checkpoints (the latest at {time}, event {seq}) but is not in the database: it was deleted")]
    TenantGone {
        /// The tenant's name.
        tenant: String,
        /// The latest checkpoint's event.
        seq: u64,
        /// Its time.
        time: String,
    },
    /// The tenant's store id is not the checkpointed one: it was deleted and created again.
    #[error(
        "the checkpoints of tenant `{tenant}` name its store id {checkpointed_id}, but it now has id {tenant_id}: it was deleted and created again"
    )]
    Recreated {
        /// The tenant's name.
        tenant: String,
        /// The id the checkpoints name.
        checkpointed_id: i64,
        /// The id now.
        tenant_id: i64,
    },
    /// An unkeyed event after a checkpoint.
    #[error(
        "event {seq} is not keyed, although it follows the checkpoint at event {checkpoint_seq} (signed with a key): it was rewritten without the key, or a server writes without its audit key"
    )]
    Unkeyed {
        /// The event.
        seq: u64,
        /// The checkpoint's event.
        checkpoint_seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{GENESIS, seal_with};
    use crate::event::{Actor, EventBody};

    fn key() -> AuditKey {
        AuditKey::from_bytes(&[5; 32]).unwrap()
    }

    fn chain(n: u64, key: &AuditKey) -> AuditChain {
        let mut prev = GENESIS.to_owned();
        let events: Vec<SealedEvent> = (1..=n)
            .map(|seq| {
                let body = EventBody {
                    tenant: "acme".into(),
                    seq,
                    event_time: "2026-11-23T10:00:00.000Z".into(),
                    event_type: "com.qlik.v1.user.updated".into(),
                    actor: Actor::default(),
                    channel: "cli".into(),
                    action: "x".into(),
                    resource: None,
                    decision: None,
                    explanation: None,
                    data: serde_json::json!({}),
                };
                let sealed = seal_with(Some(key), &prev, &body).unwrap();
                prev.clone_from(&sealed.hash);
                sealed
            })
            .collect();
        AuditChain {
            tenant: "acme".into(),
            archived_seq: 0,
            archived_hash: GENESIS.into(),
            archived_sig: None,
            head_seq: n,
            head_hash: prev,
            events,
            partial: false,
            keys: Keyring::new([key.clone()]),
        }
    }

    fn at(chain: &AuditChain, seq: u64) -> Checkpoint {
        let key = key();
        let head = match chain.position(seq) {
            Position::Stored(event) => event.hash.clone(),
            _ => GENESIS.to_owned(),
        };
        Checkpoint::sign(&key, "acme", 1, seq, &head, "2026-11-23T10:00:00.000Z")
    }

    #[test]
    fn a_checkpoint_round_trips_and_its_signature_holds() {
        let chain = chain(3, &key());
        let checkpoint = at(&chain, 2);
        let parsed = parse_checkpoints(&format!("{}\n\n{}\n", checkpoint.to_line(), at(&chain, 3).to_line())).unwrap();
        assert_eq!(parsed[0], checkpoint);
        assert_eq!(check_checkpoints(&chain, 1, &parsed.iter().collect::<Vec<_>>()), Ok(2));
        let mut edited = checkpoint.clone();
        edited.seq = 1;
        assert_eq!(edited.check_signature(&chain.keys), Err(CheckpointBreak::Forged { seq: 1 }));
        assert!(matches!(
            checkpoint.check_signature(&Keyring::none()),
            Err(CheckpointBreak::UnknownKey { seq: 2, .. })
        ));
        assert!(matches!(
            parse_checkpoints("{\"tenant\":1}\n"),
            Err(CheckpointBreak::Unreadable { line: 1, .. })
        ));
    }

    #[test]
    fn tombstones_are_signed_and_grouped_per_store_id() {
        let key = key();
        let first = Checkpoint::sign(&key, "acme", 1, 4, GENESIS, "2026-01-01T00:00:00.000Z");
        let gone = Checkpoint::tombstone(&key, "acme", 1, 5, GENESIS, "2026-01-02T00:00:00.000Z");
        let again = Checkpoint::sign(&key, "acme", 2, 1, GENESIS, "2026-01-03T00:00:00.000Z");
        let keys = Keyring::new([key]);
        assert_eq!(gone.check_signature(&keys), Ok(()));
        let mut undeleted = gone.clone();
        undeleted.deleted = false;
        assert_eq!(undeleted.check_signature(&keys), Err(CheckpointBreak::Forged { seq: 5 }));
        let all = [first.clone(), again.clone(), gone.clone()];
        let groups = by_tenant(&all);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[0].tenant_id, groups[0].latest(), groups[0].tombstone()),
            (1, Some(&gone), Some(&gone))
        );
        assert_eq!((groups[1].tenant_id, groups[1].tombstone()), (2, None));
        assert!(!first.to_line().contains("deleted") && gone.to_line().contains("\"deleted\":true"));
    }

    #[test]
    fn rewriting_truncation_and_deletion_are_found() {
        let key = key();
        let intact = chain(5, &key);
        let checkpoint = at(&intact, 4);

        let mut rewritten = chain(5, &key);
        rewritten.events[3].hash = "0".repeat(64);
        assert!(matches!(checkpoint.check_chain(&rewritten), Err(CheckpointBreak::Rewritten { .. })));

        let mut truncated = chain(3, &key);
        truncated.head_seq = 3;
        assert!(matches!(
            checkpoint.check_chain(&truncated),
            Err(CheckpointBreak::Shorter { head: 3, .. })
        ));

        let mut deleted = chain(0, &key);
        deleted.head_hash = GENESIS.into();
        assert!(matches!(checkpoint.check_chain(&deleted), Err(CheckpointBreak::Deleted { .. })));

        let mut holed = chain(5, &key);
        holed.events.remove(3);
        assert!(matches!(checkpoint.check_chain(&holed), Err(CheckpointBreak::Missing { .. })));

        assert!(matches!(
            check_checkpoints(&intact, 2, &[&checkpoint]),
            Err(CheckpointBreak::Recreated { tenant_id: 2, .. })
        ));

        let mut unkeyed = chain(5, &key);
        unkeyed.events[4].key_id = None;
        assert!(matches!(
            check_checkpoints(&unkeyed, 1, &[&checkpoint]),
            Err(CheckpointBreak::Unkeyed { seq: 5, .. })
        ));
    }
}
