//! Filters for reading the trail: by event type, user, time range, space, and a cursor.

use crate::event::EventBody;

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
    /// Only events with a sequence number above this (the cursor).
    pub after_seq: Option<u64>,
    /// Only events with a sequence number below this (the cursor, going back).
    pub before_seq: Option<u64>,
    /// Newest first (by sequence number) instead of oldest first.
    pub newest_first: bool,
    /// At most this many.
    pub limit: usize,
}

impl AuditQuery {
    /// Whether an event passes every filter but the limit.
    pub fn matches(&self, body: &EventBody) -> bool {
        (self.event_types.is_empty() || self.event_types.contains(&body.event_type))
            && self.user.as_ref().is_none_or(|u| body.actor.user.as_ref() == Some(u))
            && self.since.as_ref().is_none_or(|s| body.event_time.as_str() >= s.as_str())
            && self.until.as_ref().is_none_or(|u| body.event_time.as_str() < u.as_str())
            && self
                .space
                .as_ref()
                .is_none_or(|s| body.resource.as_ref().and_then(|r| r.space.as_ref()) == Some(s))
            && self.after_seq.is_none_or(|a| body.seq > a)
            && self.before_seq.is_none_or(|b| body.seq < b)
    }
}
