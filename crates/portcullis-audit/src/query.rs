//! Filters for reading the trail: by event type, user, time range, space, event ids, and a
//! cursor; and the orders a reader may ask for (by sequence number, or by event type or source
//! first), each a rank per stored event type so the store can sort and page by it.

use std::collections::BTreeSet;

use crate::event::{EventBody, EventType};

/// What events are sorted by before their sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditOrder {
    /// The sequence number alone (the order events were sealed in, so by time).
    #[default]
    Seq,
    /// The event type's name as stored (byte order), then the sequence number.
    EventType,
    /// The source of the event's type (byte order), then the sequence number.
    Source,
}

/// The source an event type's name stands for: its type's, or Portcullis's own for a name
/// no type reads (what the audits API shows).
pub fn source_of(event_type: &str) -> &'static str {
    EventType::parse(event_type).map(EventType::source).unwrap_or(PORTCULLIS_SOURCE)
}

/// The source of events whose type no longer reads.
pub const PORTCULLIS_SOURCE: &str = "com.qlik/portcullis";

/// Every name an event may be stored under: each type's, and the names Portcullis wrote before
/// it took Qlik's (`com.qlik.v1.` for `com.qlik.`, and `com.qlik.v1.api-key.revoked`).
pub fn stored_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for event_type in EventType::ALL {
        let name = event_type.as_str();
        names.insert(name.to_owned());
        if let Some(rest) = name.strip_prefix("com.qlik.").filter(|rest| !rest.starts_with("v1.")) {
            names.insert(format!("com.qlik.v1.{rest}"));
        }
    }
    names.insert("com.qlik.v1.api-key.revoked".to_owned());
    names
}

impl AuditOrder {
    /// Each stored name's rank under this order (lower sorts first), for the store to sort
    /// by; a name not listed ranks [`AuditOrder::unlisted_rank`]. Empty for [`AuditOrder::Seq`].
    pub fn ranks(self) -> Vec<(String, u32)> {
        match self {
            AuditOrder::Seq => Vec::new(),
            AuditOrder::EventType => stored_names().into_iter().zip(0..).collect(),
            AuditOrder::Source => {
                let sources = sources();
                stored_names()
                    .into_iter()
                    .map(|name| {
                        let rank = source_rank(&sources, source_of(&name));
                        (name, rank)
                    })
                    .collect()
            }
        }
    }

    /// The rank of a name no listed one matches: after every known name (by type), or the
    /// rank of Portcullis's own source (by source).
    pub fn unlisted_rank(self) -> u32 {
        match self {
            AuditOrder::Seq => 0,
            AuditOrder::EventType => stored_names().len() as u32,
            AuditOrder::Source => source_rank(&sources(), PORTCULLIS_SOURCE),
        }
    }

    /// The rank of one stored name.
    pub fn rank(self, event_type: &str) -> u32 {
        self.ranks()
            .into_iter()
            .find(|(name, _)| name == event_type)
            .map_or_else(|| self.unlisted_rank(), |(_, rank)| rank)
    }

    /// The rank of a sort key as a reader names it (an event type or a source), for a cursor.
    pub fn rank_of_key(self, key: &str) -> u32 {
        match self {
            AuditOrder::Seq => 0,
            AuditOrder::EventType => self.rank(key),
            AuditOrder::Source => source_rank(&sources(), key),
        }
    }

    /// The sort key of a stored name, as a reader sees it (the name, or its source).
    pub fn key_of(self, event_type: &str) -> &str {
        match self {
            AuditOrder::Seq => "",
            AuditOrder::EventType => event_type,
            AuditOrder::Source => source_of(event_type),
        }
    }
}

/// Every source, in byte order (Portcullis's own included).
fn sources() -> Vec<&'static str> {
    let set: BTreeSet<&'static str> = EventType::ALL.iter().map(|t| t.source()).chain([PORTCULLIS_SOURCE]).collect();
    set.into_iter().collect()
}

/// A source's position among `sources`; an unknown one sorts where it would be inserted.
fn source_rank(sources: &[&str], source: &str) -> u32 {
    match sources.binary_search(&source) {
        Ok(i) | Err(i) => i as u32,
    }
}

/// What a reader asks for. Times are RFC 3339 strings in UTC (`Z`), which order as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only these event types (empty: all).
    pub event_types: Vec<String>,
    /// Only events whose actor is this user.
    pub user: Option<String>,
    /// Only events at or after this time.
    pub since: Option<String>,
    /// Only events before this time.
    pub until: Option<String>,
    /// Only events about resources in this space.
    pub space: Option<String>,
    /// Only the events with these sequence numbers (`Some` of none: no event).
    pub seqs: Option<Vec<u64>>,
    /// What events are sorted by before their sequence number.
    pub order: AuditOrder,
    /// Only events with a sequence number above this (the cursor) — with `after_rank`, only
    /// events past the position (rank, sequence number) under `order`.
    pub after_seq: Option<u64>,
    /// The cursor's rank under `order` (ignored for [`AuditOrder::Seq`]).
    pub after_rank: Option<u32>,
    /// Only events with a sequence number below this (the cursor, going back) — with
    /// `before_rank`, only events before the position (rank, sequence number).
    pub before_seq: Option<u64>,
    /// The backward cursor's rank under `order` (ignored for [`AuditOrder::Seq`]).
    pub before_rank: Option<u32>,
    /// Descending (newest first, by sequence number) instead of ascending.
    pub newest_first: bool,
    /// At most this many.
    pub limit: usize,
}

impl AuditQuery {
    /// Whether an event passes every filter but the limit.
    pub fn matches(&self, body: &EventBody) -> bool {
        let rank = self.order.rank(&body.event_type);
        // Where the event stands against a cursor: by rank first when the order ranks.
        let against = |seq: u64, cursor_rank: Option<u32>| match (self.order, cursor_rank) {
            (AuditOrder::Seq, _) | (_, None) => body.seq.cmp(&seq),
            (_, Some(cursor_rank)) => (rank, body.seq).cmp(&(cursor_rank, seq)),
        };
        (self.event_types.is_empty() || self.event_types.contains(&body.event_type))
            && self.user.as_ref().is_none_or(|u| body.actor.user.as_ref() == Some(u))
            && self.since.as_ref().is_none_or(|s| body.event_time.as_str() >= s.as_str())
            && self.until.as_ref().is_none_or(|u| body.event_time.as_str() < u.as_str())
            && self
                .space
                .as_ref()
                .is_none_or(|s| body.resource.as_ref().and_then(|r| r.space.as_ref()) == Some(s))
            && self.seqs.as_ref().is_none_or(|seqs| seqs.contains(&body.seq))
            && self.after_seq.is_none_or(|seq| against(seq, self.after_rank).is_gt())
            && self.before_seq.is_none_or(|seq| against(seq, self.before_rank).is_lt())
    }

    /// Where an event sorts in this query's order (ascending; `newest_first` reverses it).
    pub fn sort_key(&self, body: &EventBody) -> (u32, u64) {
        (self.order.rank(&body.event_type), body.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_names_and_sources_in_byte_order() {
        let by_type = AuditOrder::EventType;
        assert!(by_type.rank("com.qlik.api-key.created") < by_type.rank("com.qlik.v1.user.created"));
        assert_eq!(by_type.rank("com.qlik.v1.no.such"), by_type.unlisted_rank(), "unknown names sort last");
        let by_source = AuditOrder::Source;
        assert!(by_source.rank("com.qlik.api-key.created") < by_source.rank("com.qlik.v1.user.created"));
        assert_eq!(
            by_source.rank("com.qlik.v1.space.created"),
            by_source.rank("com.qlik.space.created"),
            "an earlier name has its type's source"
        );
        assert_eq!(by_source.rank("com.qlik.v1.no.such"), by_source.rank_of_key(PORTCULLIS_SOURCE));
        assert_eq!(by_source.key_of("com.qlik.v1.user.created"), "com.qlik/identities");
        assert!(stored_names().contains("com.qlik.v1.api-key.created"));
    }
}
