//! The audit trail in the shape of Qlik's audits API: `GET /audits` (filters `eventType`,
//! `userId`, `eventTime=start/end`, `source`, `id`; `limit`; `next`/`prev` cursors with
//! absolute links; `sort` by `eventTime` (default `-eventTime`), `eventType` or `source`, either
//! way), `/audits/{id}`, `/audits/archive?date=` (a day's events), `/audits/types`,
//! `/audits/sources`, and `/audits/settings` (GET; PUT is Portcullis's extension for the
//! decision-log mode, sampling and retention). Events name the tenant and the users by their
//! API ids, as every other resource does.
//!
//! Reading needs `audit:read` (TenantAdmin, AuditAdmin) and changing the settings
//! `audit:manage` (TenantAdmin): engine decisions, which the router asks before it asks the
//! host. The events come from the host ([`crate::ApiHost::audit_events`]), which checks each
//! one (its hash under the key that sealed it, its indexed columns, that it is keyed where it
//! must be) and never hands over one that fails; here they are filtered, paged and shaped. No IO.

use std::collections::BTreeSet;

use portcullis_audit::query::source_of;
use portcullis_audit::{AuditOrder, AuditQuery, AuditSettings, DecisionLogMode, DecisionLogPolicy, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::err::{ApiError, Service};
use crate::host::AuditRecord;
use crate::ids;
use crate::paging::{Href, Links, Query, SelfLink, parse_sort, url};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 10;
/// Most events one page holds (a larger `limit` is read as this).
pub const MAX_LIMIT: usize = 100;

/// One audit event in Qlik's shape.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventDto {
    /// The event's sequence number in its tenant's chain.
    pub id: String,
    /// Its hash in the chain.
    pub event_id: String,
    /// RFC 3339.
    pub event_time: String,
    /// `com.qlik.v1.<noun>.<verb>`.
    pub event_type: String,
    /// `1.0`.
    pub event_type_version: String,
    /// The service that emitted it.
    pub source: String,
    /// The tenant's API id.
    pub tenant_id: String,
    /// The acting user's API id, when one acted.
    pub user_id: Option<String>,
    /// `application/json`.
    pub content_type: String,
    /// Action, channel, resource, decision and its explanation, change details.
    #[schema(value_type = Object)]
    pub data: Value,
    /// The actor (`sub`, `subType`), owner, space and top-level resource.
    #[schema(value_type = Object)]
    pub extensions: Value,
    /// `self`.
    pub links: SelfLink,
}

/// `GET /audits`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The page.
    pub data: Vec<AuditEventDto>,
    /// `self`, and `next` / `prev` when there are more.
    pub links: Links,
}

/// `GET /audits/types` and `/audits/sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditNames {
    /// The names.
    pub data: Vec<String>,
    /// `self`.
    pub links: SelfLink,
}

/// The audit settings, as Qlik names its two and Portcullis its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditSettingsData {
    /// Always true: expired events are archived, not dropped.
    #[serde(rename = "ArchiveEnabled")]
    pub archive_enabled: bool,
    /// Retention in seconds; none means kept for ever.
    #[serde(rename = "EventTTL")]
    pub event_ttl: Option<u64>,
    /// `off`, `denies` or `all`.
    #[serde(rename = "decisionLogMode")]
    pub decision_log_mode: String,
    /// Sampling of logged decisions, per million.
    #[serde(rename = "samplePerMillion")]
    pub sample_per_million: u32,
    /// Retention in days; none means kept for ever.
    #[serde(rename = "retentionDays")]
    pub retention_days: Option<u32>,
}

/// `GET` and `PUT /audits/settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditSettingsDto {
    /// The settings.
    pub data: AuditSettingsData,
}

/// A change of the audit settings; absent fields keep their value. Unknown fields are
/// refused (this body is Portcullis's own, so a misspelt field is a mistake, not Qlik's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSettingsChange {
    /// `off`, `denies` or `all`.
    #[schema(value_type = Option<String>, example = "denies")]
    pub decision_log_mode: Option<DecisionLogMode>,
    /// 0 to 1,000,000.
    #[schema(maximum = 1_000_000)]
    pub sample_per_million: Option<u32>,
    /// Days to keep events before they may be archived.
    pub retention_days: Option<u32>,
}

impl AuditSettingsChange {
    /// The settings after this change (400 for a sampling over a million).
    pub fn apply(&self, settings: AuditSettings) -> Result<AuditSettings, ApiError> {
        if let Some(sample) = self.sample_per_million.filter(|s| *s > 1_000_000) {
            return Err(ApiError::bad_request(
                Service::Audits,
                format!("`samplePerMillion` is at most 1000000, not {sample}"),
            ));
        }
        Ok(AuditSettings {
            policy: DecisionLogPolicy {
                mode: self.decision_log_mode.unwrap_or(settings.policy.mode),
                sample_per_million: self.sample_per_million.unwrap_or(settings.policy.sample_per_million),
            },
            retention_days: self.retention_days.or(settings.retention_days),
        })
    }
}

/// The settings in their wire shape.
pub fn settings_dto(settings: &AuditSettings) -> AuditSettingsDto {
    AuditSettingsDto {
        data: AuditSettingsData {
            archive_enabled: true,
            event_ttl: settings.retention_days.map(|d| u64::from(d) * 86_400),
            decision_log_mode: portcullis_audit::draft::mode_word(settings.policy.mode).to_owned(),
            sample_per_million: settings.policy.sample_per_million,
            retention_days: settings.retention_days,
        },
    }
}

/// One event in Qlik's shape, its `self` link under `api_base`; `tenant` is the tenant's name.
pub fn event_dto(api_base: &str, tenant: &str, record: &AuditRecord) -> AuditEventDto {
    let body = &record.body;
    let resource = body.resource.as_ref();
    let user = body.actor.user.as_deref().map(ids::user_id);
    let (sub, sub_type) = match &body.actor.client {
        Some(client) => (Some(client.clone()), "client"),
        None => (user.clone(), "user"),
    };
    // Decisions name owners and spaces by model key, management API notes by API id; both
    // are shown as API ids.
    let owner = resource
        .and_then(|r| r.owner.as_deref())
        .map(|owner| if ids::is_api_id(owner) { owner.to_owned() } else { ids::user_id(owner) });
    let top_level = resource.map(|r| match r.kind.as_str() {
        "app" | "data-connection" => ids::content_id(&r.id),
        "space" => ids::space_id(&r.id),
        _ => r.id.clone(),
    });
    AuditEventDto {
        id: record.seq.to_string(),
        event_id: record.hash.clone(),
        event_time: body.event_time.clone(),
        event_type: body.event_type.clone(),
        event_type_version: "1.0".to_owned(),
        source: source_of(&body.event_type).to_owned(),
        tenant_id: ids::tenant_id(tenant),
        user_id: user,
        content_type: "application/json".to_owned(),
        data: json!({
            "action": body.action,
            "channel": body.channel,
            "resource": body.resource,
            "decision": body.decision,
            "explanation": body.explanation,
            "details": body.data,
        }),
        extensions: json!({
            "actor": { "sub": sub, "subType": sub_type },
            "ownerId": owner,
            "spaceId": resource.and_then(|r| r.space.as_deref()).map(ids::space_id),
            "topLevelResourceId": top_level,
        }),
        links: SelfLink::new(api_base, &format!("/audits/{}", record.seq)),
    }
}

/// One archived event (`ArchiveItem`): an event without its id and links.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveItemDto {
    /// Its hash in the chain.
    pub event_id: String,
    /// RFC 3339.
    pub event_time: String,
    /// The event type.
    pub event_type: String,
    /// `1.0`.
    pub event_type_version: String,
    /// The service that emitted it.
    pub source: String,
    /// The tenant's API id.
    pub tenant_id: String,
    /// The acting user's API id, when one acted.
    pub user_id: Option<String>,
    /// `application/json`.
    pub content_type: String,
    /// As in `/audits`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// As in `/audits`.
    #[schema(value_type = Object)]
    pub extensions: Value,
}

/// `GET /audits/archive`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ArchiveDto {
    /// The day's events, oldest first.
    pub data: Vec<ArchiveItemDto>,
}

/// Most events `/audits/archive` answers for one day; a busier day is read through `/audits`
/// with `eventTime`, which pages.
pub const MAX_ARCHIVE_EVENTS: usize = 10_000;

/// `GET /audits/archive?date=YYYY-MM-DD`: what to ask the host for (every event of that UTC
/// day, oldest first, one more than answered to know it is too many); 400 naming `date` when
/// it is absent or not a day.
pub fn archive_query(query: &Query) -> Result<AuditQuery, ApiError> {
    let text = query
        .get("date")
        .ok_or_else(|| ApiError::bad_request(Service::Audits, "`date` is required: the day whose events to read, as `YYYY-MM-DD`"))?;
    let day: jiff::civil::Date = text
        .parse()
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| ApiError::bad_request(Service::Audits, format!("`date` is a day such as `2026-01-31`, not `{text}`")))?;
    let next = day
        .tomorrow()
        .map_err(|_| ApiError::bad_request(Service::Audits, format!("`date` `{text}` has no following day")))?;
    Ok(AuditQuery {
        since: Some(format!("{day}T00:00:00Z")),
        until: Some(format!("{next}T00:00:00Z")),
        limit: MAX_ARCHIVE_EVENTS + 1,
        ..AuditQuery::default()
    })
}

/// The day's events the host found for [`archive_query`]; 400 when there are more than
/// [`MAX_ARCHIVE_EVENTS`].
pub fn archive(api_base: &str, tenant: &str, found: &[AuditRecord]) -> Result<ArchiveDto, ApiError> {
    if found.len() > MAX_ARCHIVE_EVENTS {
        return Err(ApiError::bad_request(
            Service::Audits,
            format!(
                "that day holds more than {MAX_ARCHIVE_EVENTS} events; read it a page at a time through `/audits?eventTime=<day>T00:00:00Z/<next day>T00:00:00Z`"
            ),
        ));
    }
    let data = found
        .iter()
        .map(|record| {
            let event = event_dto(api_base, tenant, record);
            ArchiveItemDto {
                event_id: event.event_id,
                event_time: event.event_time,
                event_type: event.event_type,
                event_type_version: event.event_type_version,
                source: event.source,
                tenant_id: event.tenant_id,
                user_id: event.user_id,
                content_type: event.content_type,
                data: event.data,
                extensions: event.extensions,
            }
        })
        .collect();
    Ok(ArchiveDto { data })
}

/// The sequence number an event id names; `None` for an id no event has.
pub fn parse_id(id: &str) -> Option<u64> {
    id.parse().ok()
}

/// Every event type.
pub fn types(api_base: &str) -> AuditNames {
    AuditNames {
        data: EventType::ALL.iter().map(|t| t.as_str().to_owned()).collect(),
        links: SelfLink::new(api_base, "/audits/types"),
    }
}

/// Every event source.
pub fn sources(api_base: &str) -> AuditNames {
    let sources: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.source()).collect();
    AuditNames {
        data: sources.into_iter().map(str::to_owned).collect(),
        links: SelfLink::new(api_base, "/audits/sources"),
    }
}

/// Where a cursor points: past (or before) the event with this sequence number, whose sort key
/// (its type or source, for those orders) it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    seq: u64,
    key: Option<String>,
}

/// Which way a page is read, from its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// The first page.
    First,
    /// Past the last event shown (`next`).
    Next(Mark),
    /// Before the first event shown (`prev`).
    Prev(Mark),
}

/// A listing as its query asks for it: what to ask the host, and how to page the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    query: AuditQuery,
    limit: usize,
    cursor: Cursor,
    /// The query's pairs but the cursors and `limit`, kept in the page links.
    kept: Vec<(String, String)>,
    /// The query as received, for `links.self`.
    pairs: Vec<(String, String)>,
}

/// A cursor as this API writes it: `s` and a sequence number, then `:` and the event's sort
/// key when the listing is sorted by type or source.
fn read_cursor(name: &str, text: &str, order: AuditOrder) -> Result<Mark, ApiError> {
    let refused = || {
        ApiError::bad_request(
            Service::Audits,
            format!("`{name}` is not a cursor this server issued for this sort; follow `links.{name}.href`"),
        )
    };
    let rest = text.strip_prefix('s').ok_or_else(refused)?;
    let (seq, key) = match rest.split_once(':') {
        Some((seq, key)) => (seq, Some(key.to_owned())),
        None => (rest, None),
    };
    let seq = seq.parse().map_err(|_| refused())?;
    if key.is_some() != (order != AuditOrder::Seq) {
        return Err(refused());
    }
    Ok(Mark { seq, key })
}

/// The sort a listing asks for: an order and a direction (newest first by default).
fn read_sort(query: &Query) -> Result<(AuditOrder, bool), ApiError> {
    let keys = parse_sort(Service::Audits, query.get("sort"), &["eventTime", "eventType", "source"])?;
    match keys.as_slice() {
        [] => Ok((AuditOrder::Seq, true)),
        [key] => {
            let order = match key.field.as_str() {
                "eventType" => AuditOrder::EventType,
                "source" => AuditOrder::Source,
                _ => AuditOrder::Seq,
            };
            Ok((order, key.descending))
        }
        _ => Err(ApiError::bad_request(
            Service::Audits,
            "sort by one key: `eventTime`, `eventType` or `source`, prefixed by `+` or `-`",
        )),
    }
}

impl Listing {
    /// Reads the listing's query parameters (400 naming the one that cannot be read);
    /// `subject_of` finds the subject of a user's API id (`userId`), when the user exists.
    pub fn parse(query: &Query, subject_of: impl Fn(&str) -> Option<String>) -> Result<Listing, ApiError> {
        let (order, descending) = read_sort(query)?;
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| ApiError::bad_request(Service::Audits, format!("`limit` must be a number from 1 to {MAX_LIMIT}, not `{text}`")))?
                .clamp(1, MAX_LIMIT),
        };
        let cursor = match (query.get("next"), query.get("prev")) {
            (Some(_), Some(_)) => return Err(ApiError::bad_request(Service::Audits, "`next` and `prev` cannot be used together")),
            (Some(next), None) => Cursor::Next(read_cursor("next", next, order)?),
            (None, Some(prev)) => Cursor::Prev(read_cursor("prev", prev, order)?),
            (None, None) => Cursor::First,
        };
        let mut store = AuditQuery {
            // One more than shown, to know whether there is a next page.
            limit: limit + 1,
            newest_first: descending,
            order,
            ..AuditQuery::default()
        };
        if let Some(types) = query.get("eventType") {
            store.event_types = types.split(',').map(str::to_owned).collect();
        }
        if let Some(source) = query.get("source") {
            let of_source: Vec<String> = EventType::ALL
                .iter()
                .filter(|t| t.source() == source)
                .map(|t| t.as_str().to_owned())
                .collect();
            store.event_types = if store.event_types.is_empty() {
                of_source
            } else {
                store.event_types.into_iter().filter(|t| of_source.contains(t)).collect()
            };
            if store.event_types.is_empty() {
                // No type is of this source (or of both filters): an empty list, not all.
                store.event_types = vec!["(none)".to_owned()];
            }
        }
        if let Some(ids) = query.get("id") {
            // Event ids are sequence numbers; one that is not names no event.
            store.seqs = Some(ids.split(',').filter_map(|id| parse_id(id.trim())).collect());
        }
        // A user's API id, as events show it; a user deleted since is found by subject.
        store.user = query.get("userId").map(|id| subject_of(id).unwrap_or_else(|| id.to_owned()));
        if let Some(range) = query.get("eventTime") {
            let Some((start, end)) = range.split_once('/') else {
                return Err(ApiError::bad_request(
                    Service::Audits,
                    format!("`eventTime` is an interval `start/end` (RFC 3339), not `{range}`"),
                ));
            };
            store.since = (!start.is_empty()).then(|| start.to_owned());
            store.until = (!end.is_empty()).then(|| end.to_owned());
        }
        // `next` continues past the last event shown; `prev` reads back from the first, in the
        // other order, and the page is turned round again.
        let rank = |mark: &Mark| mark.key.as_deref().map(|key| order.rank_of_key(key));
        match &cursor {
            Cursor::First => {}
            Cursor::Next(mark) | Cursor::Prev(mark) => {
                let going_back = matches!(cursor, Cursor::Prev(_));
                if going_back {
                    store.newest_first = !descending;
                }
                // Reading descending is reading below the mark.
                if store.newest_first {
                    (store.before_seq, store.before_rank) = (Some(mark.seq), rank(mark));
                } else {
                    (store.after_seq, store.after_rank) = (Some(mark.seq), rank(mark));
                }
            }
        }
        let kept = query
            .pairs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "next" | "prev" | "limit"))
            .cloned()
            .collect();
        Ok(Listing {
            query: store,
            limit,
            cursor,
            kept,
            pairs: query.pairs.clone(),
        })
    }

    /// What to ask the host for.
    pub fn query(&self) -> &AuditQuery {
        &self.query
    }

    /// The page of what the host found for [`Listing::query`], with absolute links; `tenant` is
    /// the tenant's name.
    pub fn page(&self, api_base: &str, tenant: &str, mut found: Vec<AuditRecord>) -> AuditPage {
        let more = found.len() > self.limit;
        found.truncate(self.limit);
        let going_back = matches!(self.cursor, Cursor::Prev(_));
        if going_back {
            found.reverse();
        }
        let order = self.query.order;
        let link = |name: &str, record: &AuditRecord| {
            let mut pairs = vec![("limit".to_owned(), self.limit.to_string())];
            pairs.extend(self.kept.iter().cloned());
            let cursor = match order {
                AuditOrder::Seq => format!("s{}", record.seq),
                _ => format!("s{}:{}", record.seq, order.key_of(&record.body.event_type)),
            };
            pairs.push((name.to_owned(), cursor));
            Href {
                href: url(api_base, "/audits", &pairs),
            }
        };
        let came_forward = matches!(self.cursor, Cursor::Next(_));
        let links = Links {
            self_: Href {
                href: url(api_base, "/audits", &self.pairs),
            },
            next: found.last().filter(|_| more || going_back).map(|r| link("next", r)),
            prev: found.first().filter(|_| came_forward || (going_back && more)).map(|r| link("prev", r)),
        };
        AuditPage {
            data: found.iter().map(|record| event_dto(api_base, tenant, record)).collect(),
            links,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_audit::{Actor, EventBody};

    fn record(seq: u64) -> AuditRecord {
        AuditRecord {
            seq,
            hash: format!("h{seq}"),
            body: EventBody {
                tenant: "acme".to_owned(),
                seq,
                event_time: format!("2026-01-01T00:00:{seq:02}.000Z"),
                event_type: EventType::UserUpdated.as_str().to_owned(),
                actor: Actor {
                    user: Some("admin".to_owned()),
                    ..Actor::default()
                },
                channel: "api-key".to_owned(),
                action: "user.updated".to_owned(),
                resource: None,
                decision: None,
                explanation: None,
                data: Value::Null,
            },
        }
    }

    fn listing(pairs: &[(&str, &str)]) -> Result<Listing, ApiError> {
        Listing::parse(&Query::new(pairs), |id| (id == ids::user_id("admin")).then(|| "admin".to_owned()))
    }

    #[test]
    fn cursors_read_on_from_the_last_event_and_back_from_the_first() {
        let first = listing(&[("limit", "2")]).unwrap();
        assert_eq!((first.query().newest_first, first.query().limit), (true, 3));
        let page = first.page("http://h/api/v1", "acme", vec![record(9), record(8), record(7)]);
        assert_eq!(page.data.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["9", "8"]);
        assert_eq!(page.links.next.as_ref().unwrap().href, "http://h/api/v1/audits?limit=2&next=s8");
        assert!(page.links.prev.is_none());

        let next = listing(&[("limit", "2"), ("next", "s8")]).unwrap();
        assert_eq!(next.query().before_seq, Some(8));
        let page = next.page("http://h/api/v1", "acme", vec![record(7)]);
        assert!(page.links.next.is_none(), "nothing older");
        assert_eq!(page.links.prev.as_ref().unwrap().href, "http://h/api/v1/audits?limit=2&prev=s7");

        let prev = listing(&[("limit", "2"), ("prev", "s7")]).unwrap();
        assert_eq!((prev.query().after_seq, prev.query().newest_first), (Some(7), false));
        // The host answers oldest first; the page is shown newest first again.
        let page = prev.page("http://h/api/v1", "acme", vec![record(8), record(9)]);
        assert_eq!(page.data.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["9", "8"]);
        assert_eq!(page.links.next.as_ref().unwrap().href, "http://h/api/v1/audits?limit=2&next=s8");
    }

    #[test]
    fn filters_become_the_hosts_query_and_stay_in_the_links() {
        let listing = listing(&[
            ("eventType", "com.qlik.v1.user.updated"),
            ("source", "com.qlik/decisions"),
            ("eventTime", "2026-01-01T00:00:00Z/"),
            ("sort", "+eventTime"),
            ("limit", "1"),
        ])
        .unwrap();
        assert_eq!(listing.query().event_types, ["(none)"], "no user event comes from the decisions");
        assert_eq!(listing.query().since.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(listing.query().until, None);
        assert!(!listing.query().newest_first);
        let page = listing.page("http://h/api/v1", "acme", vec![record(1), record(2)]);
        let next = &page.links.next.as_ref().unwrap().href;
        assert!(
            next.contains("eventTime=2026-01-01T00%3A00%3A00Z%2F") && next.ends_with("&next=s1"),
            "{next}"
        );
        assert!(next.contains("sort=%2BeventTime"), "{next}");
    }

    #[test]
    fn bad_parameters_are_refused_naming_them() {
        for (pairs, words) in [
            (vec![("eventTime", "yesterday")], "start/end"),
            (vec![("sort", "-userId")], "`userId`"),
            (vec![("sort", "-source,+eventTime")], "one key"),
            (vec![("sort", "+eventType"), ("next", "s8")], "`next`"),
            (vec![("next", "s8:com.qlik/identities")], "`next`"),
            (vec![("limit", "many")], "`limit`"),
            (vec![("next", "8")], "`next`"),
            (vec![("next", "s8"), ("prev", "s2")], "together"),
        ] {
            let error = listing(&pairs).unwrap_err();
            assert_eq!((error.status, error.code.as_str()), (400, "AUDITS-3"), "{pairs:?}");
            assert!(error.detail.as_deref().unwrap_or_default().contains(words), "{pairs:?}: {error}");
        }
        assert_eq!(
            listing(&[("limit", "1000")]).unwrap().query().limit,
            MAX_LIMIT + 1,
            "a large limit is the largest"
        );
    }

    #[test]
    fn sorted_by_type_or_source_the_cursor_carries_the_key_and_reads_past_it() {
        let mut other = record(3);
        other.body.event_type = EventType::ApiKeyCreated.as_str().to_owned();
        let by_type = listing(&[("sort", "+eventType"), ("limit", "1")]).unwrap();
        assert_eq!((by_type.query().order, by_type.query().newest_first), (AuditOrder::EventType, false));
        let page = by_type.page("http://h/api/v1", "acme", vec![other.clone(), record(1)]);
        let next = page.links.next.unwrap().href;
        assert!(next.ends_with("&next=s3%3Acom.qlik.api-key.created"), "{next}");
        let second = listing(&[("sort", "+eventType"), ("limit", "1"), ("next", "s3:com.qlik.api-key.created")]).unwrap();
        let key_rank = AuditOrder::EventType.rank(EventType::ApiKeyCreated.as_str());
        assert_eq!((second.query().after_seq, second.query().after_rank), (Some(3), Some(key_rank)));
        assert!(second.query().matches(&record(1).body), "a later type follows");
        assert!(!second.query().matches(&other.body), "the cursor's own event does not");

        let by_source = listing(&[("sort", "-source"), ("prev", "s1:com.qlik/identities")]).unwrap();
        let q = by_source.query();
        assert_eq!(
            (q.order, q.newest_first, q.after_seq),
            (AuditOrder::Source, false, Some(1)),
            "back from a descending page"
        );
        assert!(q.matches(&{
            let mut later = record(5);
            later.body.event_type = EventType::OauthClientCreated.as_str().to_owned();
            later.body
        }));
    }

    #[test]
    fn ids_and_users_are_api_ids() {
        let by_id = listing(&[("id", "3, 9,x")]).unwrap();
        assert_eq!(by_id.query().seqs, Some(vec![3, 9]));
        assert_eq!(listing(&[("id", "x")]).unwrap().query().seqs, Some(Vec::new()), "no event has id `x`");
        let by_user = listing(&[("userId", &ids::user_id("admin"))]).unwrap();
        assert_eq!(by_user.query().user.as_deref(), Some("admin"));
        let event = event_dto("http://h/api/v1", "acme", &record(4));
        assert_eq!((event.tenant_id, event.user_id), (ids::tenant_id("acme"), Some(ids::user_id("admin"))));
        assert_eq!(event.extensions["actor"]["sub"], ids::user_id("admin"));
    }

    #[test]
    fn the_archive_is_one_utc_day() {
        let query = archive_query(&Query::new(&[("date", "2026-02-28")])).unwrap();
        assert_eq!(
            (query.since.as_deref(), query.until.as_deref(), query.newest_first),
            (Some("2026-02-28T00:00:00Z"), Some("2026-03-01T00:00:00Z"), false)
        );
        for bad in [
            vec![],
            vec![("date", "yesterday")],
            vec![("date", "2026-02-30")],
            vec![("date", "2026-2-3")],
        ] {
            let error = archive_query(&Query::new(&bad)).unwrap_err();
            assert_eq!(error.status, 400, "{bad:?}");
            assert!(error.detail.unwrap_or_default().contains("`date`"));
        }
        let day = archive("http://h/api/v1", "acme", &[record(1), record(2)]).unwrap();
        assert_eq!(day.data.len(), 2);
        let too_many: Vec<AuditRecord> = (1..=MAX_ARCHIVE_EVENTS as u64 + 1).map(record).collect();
        assert_eq!(archive("http://h/api/v1", "acme", &too_many).unwrap_err().status, 400);
    }

    #[test]
    fn a_settings_change_keeps_what_it_does_not_name() {
        let before = AuditSettings {
            policy: DecisionLogPolicy {
                mode: DecisionLogMode::Denies,
                sample_per_million: 500,
            },
            retention_days: Some(30),
        };
        let change: AuditSettingsChange = crate::body::decode(Service::Audits, br#"{"retentionDays": 90}"#).unwrap();
        let after = change.apply(before).unwrap();
        assert_eq!((after.policy, after.retention_days), (before.policy, Some(90)));
        assert_eq!(settings_dto(&after).data.event_ttl, Some(90 * 86_400));
        let too_many: AuditSettingsChange = crate::body::decode(Service::Audits, br#"{"samplePerMillion": 1000001}"#).unwrap();
        assert!(too_many.apply(before).is_err());
        let unknown = crate::body::decode::<AuditSettingsChange>(Service::Audits, br#"{"retentiondays": 90}"#).unwrap_err();
        assert!(unknown.detail.unwrap_or_default().contains("retentiondays"));
    }
}
