//! The per-tenant hash chain. Each event's hash covers the previous event's hash and the
//! exact JSON text of its own body, so changing any stored byte, deleting an event or
//! reordering events breaks the chain at the first event affected.

use sha2::{Digest, Sha256};

use crate::event::EventBody;

/// The "previous hash" of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event as stored: its body as JSON text, and the two hashes.
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
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// The hash of a body's text after `prev_hash`.
pub fn hash_of(prev_hash: &str, body_json: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(body_json.as_bytes());
    hex(&hasher.finalize())
}

/// Seals a body after the previous event's hash.
pub fn seal(prev_hash: &str, body: &EventBody) -> Result<SealedEvent, serde_json::Error> {
    let body_json = serde_json::to_string(body)?;
    Ok(SealedEvent {
        seq: body.seq,
        hash: hash_of(prev_hash, &body_json),
        prev_hash: prev_hash.to_owned(),
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
    /// The body no longer parses or disagrees with the stored columns.
    #[error("event {seq} is unreadable: {reason}")]
    Unreadable {
        /// The event.
        seq: u64,
        /// Why.
        reason: String,
    },
}

/// Recomputes a tenant's chain in sequence order. `first_prev` is the hash the first given
/// event must follow: [`GENESIS`], or the last hash of an archived prefix.
/// Returns the number of events checked, or the first break.
pub fn verify<'a>(events: impl IntoIterator<Item = &'a SealedEvent>, first_prev: &str) -> Result<u64, ChainBreak> {
    let mut prev_hash = first_prev.to_owned();
    let mut prev_seq: Option<u64> = None;
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
            return Err(match prev_seq {
                Some(prev) => ChainBreak::Gap {
                    seq: event.seq,
                    expected_prev: prev,
                },
                None => ChainBreak::Gap {
                    seq: event.seq,
                    expected_prev: event.seq.saturating_sub(1),
                },
            });
        }
        if hash_of(&event.prev_hash, &event.body_json) != event.hash {
            return Err(ChainBreak::Altered { seq: event.seq });
        }
        match serde_json::from_str::<EventBody>(&event.body_json) {
            Ok(body) if body.seq == event.seq => {}
            Ok(body) => {
                return Err(ChainBreak::Unreadable {
                    seq: event.seq,
                    reason: format!("its body says sequence {}", body.seq),
                });
            }
            Err(error) => {
                return Err(ChainBreak::Unreadable {
                    seq: event.seq,
                    reason: error.to_string(),
                });
            }
        }
        prev_hash.clone_from(&event.hash);
        prev_seq = Some(event.seq);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, EventBody};

    fn chain(n: u64) -> Vec<SealedEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let body = EventBody {
                    tenant: "acme".into(),
                    seq,
                    event_time: format!("2026-11-23T10:00:{:02}Z", seq % 60),
                    event_type: "com.qlik.v1.user.updated".into(),
                    actor: Actor {
                        user: Some("ann".into()),
                        ..Actor::default()
                    },
                    channel: "api-key".into(),
                    action: "user:manage".into(),
                    resource: None,
                    decision: None,
                    explanation: None,
                    data: serde_json::json!({ "n": seq }),
                };
                let sealed = seal(&prev, &body).unwrap();
                prev.clone_from(&sealed.hash);
                sealed
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5), GENESIS), Ok(5));
        assert_eq!(verify(&[], GENESIS), Ok(0));
    }

    #[test]
    fn an_altered_body_is_named() {
        let mut events = chain(5);
        events[2].body_json = events[2].body_json.replace("\"n\":3", "\"n\":4");
        assert_eq!(verify(&events, GENESIS), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn a_rehashed_alteration_breaks_the_next_link() {
        let mut events = chain(5);
        events[2].body_json = events[2].body_json.replace("\"user\":\"ann\"", "\"user\":\"eve\"");
        events[2].hash = hash_of(&events[2].prev_hash, &events[2].body_json);
        assert_eq!(verify(&events, GENESIS), Err(ChainBreak::Gap { seq: 4, expected_prev: 3 }));
    }

    #[test]
    fn a_removed_event_is_found() {
        let mut events = chain(5);
        events.remove(1);
        assert!(matches!(verify(&events, GENESIS), Err(ChainBreak::Gap { seq: 3, .. })));
        let mut first_removed = chain(3);
        first_removed.remove(0);
        assert!(matches!(verify(&first_removed, GENESIS), Err(ChainBreak::Gap { seq: 2, .. })));
    }

    #[test]
    fn an_archived_prefix_continues_from_its_last_hash() {
        let events = chain(6);
        assert_eq!(verify(&events[3..], &events[2].hash), Ok(3));
    }
}
