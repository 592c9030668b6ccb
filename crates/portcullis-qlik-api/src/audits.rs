//! The audit trail in the shape of Qlik's audits API: `GET /audits` (filters `eventType`,
//! `userId`, `eventTime=start/end`, `source`; `limit`; `next`/`prev` cursors with absolute
//! links; `sort` `-eventTime` (default) or `+eventTime`), `/audits/{id}`, `/audits/types`,
//! `/audits/sources`, and `/audits/settings` (GET; PUT is Portcullis's extension for the
//! decision-log mode, sampling and retention).
//!
//! Reading needs `audit:read` (TenantAdmin, AuditAdmin) and changing the settings
//! `audit:manage` (TenantAdmin): engine decisions, which the router asks before it asks the
//! host. The events come from the host ([`crate::ApiHost::audit_events`]), which checks each
//! one (its hash under the key that sealed it, its indexed columns, that it is keyed where it
//! must be) and never hands over one that fails; here they are filtered, paged and shaped. No IO.

use std::collections::BTreeSet;

use portcullis_audit::{AuditQuery, AuditSettings, DecisionLogMode, DecisionLogPolicy, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::err::{ApiError, Service};
use crate::host::AuditRecord;
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
    /// The tenant.
    pub tenant_id: String,
    /// The acting user, when one acted.
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

/// One event in Qlik's shape, its `self` link under `api_base`.
pub fn event_dto(api_base: &str, tenant: &str, record: &AuditRecord) -> AuditEventDto {
    let body = &record.body;
    let source = EventType::parse(&body.event_type).map(EventType::source).unwrap_or("com.qlik/portcullis");
    let resource = body.resource.as_ref();
    let (sub, sub_type) = match &body.actor.client {
        Some(client) => (Some(client), "client"),
        None => (body.actor.user.as_ref(), "user"),
    };
    AuditEventDto {
        id: record.seq.to_string(),
        event_id: record.hash.clone(),
        event_time: body.event_time.clone(),
        event_type: body.event_type.clone(),
        event_type_version: "1.0".to_owned(),
        source: source.to_owned(),
        tenant_id: tenant.to_owned(),
        user_id: body.actor.user.clone(),
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
            "ownerId": resource.and_then(|r| r.owner.clone()),
            "spaceId": resource.and_then(|r| r.space.clone()),
            "topLevelResourceId": resource.map(|r| r.id.clone()),
        }),
        links: SelfLink::new(api_base, &format!("/audits/{}", record.seq)),
    }
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

/// Which way a page is read, from its cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
    /// The first page.
    First,
    /// Past the last event shown (`next`).
    Next(u64),
    /// Before the first event shown (`prev`).
    Prev(u64),
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

/// A cursor as this API writes it: `s` and a sequence number.
fn read_cursor(name: &str, text: &str) -> Result<u64, ApiError> {
    text.strip_prefix('s').and_then(|n| n.parse().ok()).ok_or_else(|| {
        ApiError::bad_request(
            Service::Audits,
            format!("`{name}` is not a cursor this server issued; follow `links.{name}.href`"),
        )
    })
}

impl Listing {
    /// Reads the listing's query parameters (400 naming the one that cannot be read).
    pub fn parse(query: &Query) -> Result<Listing, ApiError> {
        let newest_first = match parse_sort(Service::Audits, query.get("sort"), &["eventTime"])?.as_slice() {
            [] => true,
            [key] => key.descending,
            _ => return Err(ApiError::bad_request(Service::Audits, "sort by one key: `-eventTime` or `+eventTime`")),
        };
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| ApiError::bad_request(Service::Audits, format!("`limit` must be a number from 1 to {MAX_LIMIT}, not `{text}`")))?
                .clamp(1, MAX_LIMIT),
        };
        let cursor = match (query.get("next"), query.get("prev")) {
            (Some(_), Some(_)) => return Err(ApiError::bad_request(Service::Audits, "`next` and `prev` cannot be used together")),
            (Some(next), None) => Cursor::Next(read_cursor("next", next)?),
            (None, Some(prev)) => Cursor::Prev(read_cursor("prev", prev)?),
            (None, None) => Cursor::First,
        };
        let mut store = AuditQuery {
            // One more than shown, to know whether there is a next page.
            limit: limit + 1,
            newest_first,
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
        store.user = query.get("userId").map(str::to_owned);
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
        match cursor {
            Cursor::First => {}
            Cursor::Next(seq) if newest_first => store.before_seq = Some(seq),
            Cursor::Next(seq) => store.after_seq = Some(seq),
            Cursor::Prev(seq) => {
                store.newest_first = !newest_first;
                if newest_first {
                    store.after_seq = Some(seq);
                } else {
                    store.before_seq = Some(seq);
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

    /// The page of what the host found for [`Listing::query`], with absolute links.
    pub fn page(&self, api_base: &str, tenant: &str, mut found: Vec<AuditRecord>) -> AuditPage {
        let more = found.len() > self.limit;
        found.truncate(self.limit);
        let going_back = matches!(self.cursor, Cursor::Prev(_));
        if going_back {
            found.reverse();
        }
        let link = |name: &str, seq: u64| {
            let mut pairs = vec![("limit".to_owned(), self.limit.to_string())];
            pairs.extend(self.kept.iter().cloned());
            pairs.push((name.to_owned(), format!("s{seq}")));
            Href {
                href: url(api_base, "/audits", &pairs),
            }
        };
        let (first, last) = (found.first().map(|r| r.seq), found.last().map(|r| r.seq));
        let came_forward = matches!(self.cursor, Cursor::Next(_));
        let links = Links {
            self_: Href {
                href: url(api_base, "/audits", &self.pairs),
            },
            next: last.filter(|_| more || going_back).map(|seq| link("next", seq)),
            prev: first.filter(|_| came_forward || (going_back && more)).map(|seq| link("prev", seq)),
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
        Listing::parse(&Query::new(pairs))
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
            (vec![("sort", "-source")], "`source`"),
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
