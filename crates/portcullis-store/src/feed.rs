//! The change feed between nodes on one database: what a committed write announces
//! ([`Notice`], sent by PostgreSQL's `NOTIFY` from a trigger in the committing transaction,
//! migrations 0007 and 0008) and the change log read back after a revision ([`LogPage`]), so a node
//! follows another node's writes change by change instead of reading the tenant whole.
//!
//! A notice only says that something moved; the log is the truth. A missed notice is healed by
//! reading the log after the revision a node holds (its poll, or a [`FeedEvent::Resync`] after
//! the listening connection was lost), so no notice carries anything a node could not read again.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::change::Change;
use crate::record::TenantId;

/// The channel every node listens on (one per database; the payload names the schema).
pub const CHANNEL: &str = "portcullis_feed";

/// What a notice says moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The tenant's revision moved (a commit, an import, a new tenant).
    Model,
    /// A credential was revoked or deleted (the credentials revision moved).
    Credentials,
    /// The tenant's audit settings were written.
    AuditSettings,
    /// The tenant was deleted.
    TenantDeleted,
    /// A security-rule site of the tenant was written (the rule-sites revision moved).
    RuleSites,
}

impl NoticeKind {
    /// Its word in a notification's payload.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Model => "model",
            NoticeKind::Credentials => "credentials",
            NoticeKind::AuditSettings => "audit-settings",
            NoticeKind::TenantDeleted => "tenant-deleted",
            NoticeKind::RuleSites => "rule-sites",
        }
    }

    /// The kind a payload's word names.
    pub fn parse(word: &str) -> Option<NoticeKind> {
        [
            NoticeKind::Model,
            NoticeKind::Credentials,
            NoticeKind::AuditSettings,
            NoticeKind::TenantDeleted,
            NoticeKind::RuleSites,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == word)
    }
}

/// One committed change as the feed announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    /// The tenant.
    pub tenant: TenantId,
    /// Its revision after the write (0 when the notice does not say: audit settings).
    pub revision: u64,
    /// Its credentials revision after the write (0 when the notice does not say).
    pub credentials_revision: u64,
    /// Its rule-sites revision after the write (0 when the notice does not say).
    pub rule_sites_revision: u64,
    /// What moved.
    pub kind: NoticeKind,
}

/// The payload the trigger writes.
#[derive(Deserialize)]
struct Payload {
    schema: String,
    tenant: i64,
    #[serde(default)]
    revision: Option<i64>,
    #[serde(default)]
    credentials: Option<i64>,
    #[serde(default)]
    sites: Option<i64>,
    kind: String,
}

impl Notice {
    /// The notice in a notification's payload, when it is one for `schema` (nodes of other
    /// schemas of the same database hear it too); `None` for anything else.
    pub fn parse(payload: &str, schema: &str) -> Option<Notice> {
        let payload: Payload = serde_json::from_str(payload).ok()?;
        if payload.schema != schema {
            return None;
        }
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Some(Notice {
            tenant: TenantId(payload.tenant),
            revision: count(payload.revision),
            credentials_revision: count(payload.credentials),
            rule_sites_revision: count(payload.sites),
            kind: NoticeKind::parse(&payload.kind)?,
        })
    }
}

/// What a subscriber of the feed receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedEvent {
    /// A committed change.
    Notice(Notice),
    /// Notices may have been missed (the listening connection was made or made again, or the
    /// subscriber fell behind): catch up with every tenant from the store.
    Resync,
}

/// A subscription to the feed ([`crate::Store::subscribe`]).
#[derive(Debug)]
pub struct Feed {
    receiver: tokio::sync::broadcast::Receiver<FeedEvent>,
    listening: Listening,
}

impl Feed {
    pub(crate) fn new(receiver: tokio::sync::broadcast::Receiver<FeedEvent>, listening: Listening) -> Feed {
        Feed { receiver, listening }
    }

    /// Whether the feed is listening to the database now (false while its connection is
    /// being made again: notices are then caught up with a [`FeedEvent::Resync`]).
    pub fn is_listening(&self) -> bool {
        self.listening.get()
    }

    /// A handle that tells whether the feed is listening, for whoever reports on it.
    pub fn listening(&self) -> Listening {
        self.listening.clone()
    }

    /// The next event; a subscriber that fell behind gets [`FeedEvent::Resync`] for what it
    /// lost. `None` once the store is gone.
    pub async fn next(&mut self) -> Option<FeedEvent> {
        use tokio::sync::broadcast::error::RecvError;
        match self.receiver.recv().await {
            Ok(event) => Some(event),
            Err(RecvError::Lagged(_)) => Some(FeedEvent::Resync),
            Err(RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting (to take a burst of notices at once).
    pub fn try_next(&mut self) -> Option<FeedEvent> {
        use tokio::sync::broadcast::error::TryRecvError;
        match self.receiver.try_recv() {
            Ok(event) => Some(event),
            Err(TryRecvError::Lagged(_)) => Some(FeedEvent::Resync),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }
}

/// Whether a feed is listening to the database now, and since when ([`Feed::listening`]).
#[derive(Debug, Clone)]
pub struct Listening(std::sync::Arc<ListenState>);

#[derive(Debug)]
struct ListenState {
    listening: std::sync::atomic::AtomicBool,
    /// When `listening` last changed (or the feed started), in milliseconds since `start`.
    changed_ms: std::sync::atomic::AtomicU64,
    start: std::time::Instant,
}

impl Listening {
    /// Not listening yet.
    pub(crate) fn new() -> Listening {
        Listening(std::sync::Arc::new(ListenState {
            listening: std::sync::atomic::AtomicBool::new(false),
            changed_ms: std::sync::atomic::AtomicU64::new(0),
            start: std::time::Instant::now(),
        }))
    }

    /// Records that the feed listens, or stopped listening, now.
    pub(crate) fn set(&self, listening: bool) {
        use std::sync::atomic::Ordering;
        if self.0.listening.swap(listening, Ordering::AcqRel) != listening {
            self.0.changed_ms.store(self.0.start.elapsed().as_millis() as u64, Ordering::Release);
        }
    }

    /// True while the feed's connection is up and listening.
    pub fn get(&self) -> bool {
        self.0.listening.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How long the feed has been in its state (listening or not).
    pub fn for_how_long(&self) -> std::time::Duration {
        let changed = std::time::Duration::from_millis(self.0.changed_ms.load(std::sync::atomic::Ordering::Acquire));
        self.0.start.elapsed().saturating_sub(changed)
    }
}

/// The change log of a tenant after a revision ([`crate::Store::changes_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogPage {
    /// The changes of every revision after the one asked for, through `through`, in order
    /// (a revision may have none: a write that stored only events). `through` is below
    /// `revision` when more pages follow.
    Changes {
        /// The last revision this page covers (the one asked for when nothing followed it).
        through: u64,
        /// The tenant's revision when the page was read.
        revision: u64,
        /// (revision, change), in order.
        changes: Vec<(u64, Change)>,
    },
    /// The log cannot bring the tenant from the revision asked for to `revision`: an import
    /// replaced it, the log no longer holds the rows, or the tenant is not at a later revision
    /// than asked for (recreated, restored). Read the tenant whole.
    Missing {
        /// The tenant's revision when the page was read.
        revision: u64,
    },
}

/// Puts a page together from rows read in one transaction: the tenant's revision, the
/// `revisions` rows (revision, kind) and the `change_log` rows (revision, change text) of the
/// revisions after `after` through `after + limit` (or the tenant's revision when smaller).
pub(crate) fn page(
    after: u64,
    limit: u64,
    revision: u64,
    kinds: Vec<(i64, String)>,
    logged: Vec<(i64, String)>,
) -> Result<LogPage, crate::StoreError> {
    if revision < after {
        return Ok(LogPage::Missing { revision });
    }
    let through = revision.min(after.saturating_add(limit.max(1)));
    let kinds: BTreeMap<u64, String> = kinds.into_iter().map(|(r, kind)| (r as u64, kind)).collect();
    let mut by_revision: BTreeMap<u64, Vec<Change>> = BTreeMap::new();
    for (r, text) in logged {
        let change = serde_json::from_str(&text).map_err(|e| crate::StoreError::Corrupt(format!("change-log row of revision {r}: {e}")))?;
        by_revision.entry(r as u64).or_default().push(change);
    }
    let mut changes = Vec::new();
    for r in after + 1..=through {
        let logged = by_revision.remove(&r).unwrap_or_default();
        match kinds.get(&r).map(String::as_str) {
            // Gone from the log, or a whole new content: only a full read brings it.
            None | Some("import") => return Ok(LogPage::Missing { revision }),
            // A write of changes whose rows are gone.
            Some(kind) if logged.is_empty() && kind != "commit" => return Ok(LogPage::Missing { revision }),
            Some(_) => changes.extend(logged.into_iter().map(|change| (r, change))),
        }
    }
    Ok(LogPage::Changes { through, revision, changes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: &str) -> String {
        serde_json::to_string(&Change::DeleteUser { id: user.to_owned() }).unwrap()
    }

    #[test]
    fn a_notice_is_read_from_its_payload_for_its_schema_only() {
        let payload = r#"{"schema":"public","tenant":7,"revision":12,"credentials":3,"kind":"credentials"}"#;
        assert_eq!(
            Notice::parse(payload, "public"),
            Some(Notice {
                tenant: TenantId(7),
                revision: 12,
                credentials_revision: 3,
                rule_sites_revision: 0,
                kind: NoticeKind::Credentials
            })
        );
        let sites = r#"{"schema":"public","tenant":7,"revision":12,"credentials":3,"sites":5,"kind":"rule-sites"}"#;
        assert_eq!(
            Notice::parse(sites, "public").map(|n| (n.kind, n.rule_sites_revision)),
            Some((NoticeKind::RuleSites, 5))
        );
        assert_eq!(Notice::parse(payload, "other"), None);
        let settings = r#"{"schema":"public","tenant":7,"kind":"audit-settings"}"#;
        assert_eq!(
            Notice::parse(settings, "public").map(|n| (n.kind, n.revision)),
            Some((NoticeKind::AuditSettings, 0))
        );
        assert_eq!(Notice::parse(r#"{"schema":"public","tenant":7,"kind":"nonsense"}"#, "public"), None);
        assert_eq!(Notice::parse("not json", "public"), None);
    }

    #[test]
    fn a_page_holds_every_revision_or_says_the_log_is_missing_some() {
        let kinds = |rs: &[(i64, &str)]| rs.iter().map(|(r, k)| (*r, (*k).to_owned())).collect::<Vec<_>>();
        // Revisions 3 and 4: a change each; 5 stored only events.
        let page = page(
            2,
            10,
            5,
            kinds(&[(3, "delete-user"), (4, "changes"), (5, "commit")]),
            vec![(3, change("a")), (4, change("b")), (4, change("c"))],
        )
        .unwrap();
        let LogPage::Changes { through, revision, changes } = page else {
            panic!("{page:?}")
        };
        assert_eq!((through, revision), (5, 5));
        assert_eq!(changes.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![3, 4, 4]);
        // A limit makes pages.
        let page = super::page(2, 1, 5, kinds(&[(3, "delete-user")]), vec![(3, change("a"))]).unwrap();
        assert!(matches!(page, LogPage::Changes { through: 3, revision: 5, ref changes } if changes.len() == 1));
        // Nothing after: an empty page through the revision asked for.
        assert_eq!(
            super::page(5, 10, 5, vec![], vec![]).unwrap(),
            LogPage::Changes {
                through: 5,
                revision: 5,
                changes: vec![]
            }
        );
        // An import, a revision without its row, a change without its log: read whole.
        assert_eq!(
            super::page(2, 10, 3, kinds(&[(3, "import")]), vec![]).unwrap(),
            LogPage::Missing { revision: 3 }
        );
        assert_eq!(
            super::page(2, 10, 4, kinds(&[(3, "commit")]), vec![]).unwrap(),
            LogPage::Missing { revision: 4 }
        );
        assert_eq!(
            super::page(2, 10, 3, kinds(&[(3, "delete-user")]), vec![]).unwrap(),
            LogPage::Missing { revision: 3 }
        );
        // The tenant behind the node (recreated, restored).
        assert_eq!(super::page(9, 10, 3, vec![], vec![]).unwrap(), LogPage::Missing { revision: 3 });
    }
}
