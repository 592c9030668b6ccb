//! Query parameters, sorting and cursor pagination for the list endpoints.
//!
//! Cursors are opaque to clients (qlik.dev: they "can't be calculated client-side"); here a
//! cursor names the first position of the page it leads to. `links.self`, `links.next` and
//! `links.prev` are absolute URLs, because `@qlik/api`'s `.next()` fetches the href as it is.

use std::cmp::Ordering;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::err::{ApiError, Service};

/// A list's query parameters as received, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `(name, value)` pairs, already percent-decoded.
    pub pairs: Vec<(String, String)>,
}

/// A query string that cannot be read, naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("the query parameter `{parameter}` holds `{escape}`, which is not a percent-escape; write `%` as `%25`")]
    BadEscape {
        /// The parameter's name.
        parameter: String,
        /// The `%` and what follows it.
        escape: String,
    },
    /// Escapes that do not decode to UTF-8.
    #[error("the query parameter `{parameter}` is not UTF-8 once percent-decoded")]
    NotUtf8 {
        /// The parameter's name.
        parameter: String,
    },
}

impl QueryError {
    /// The parameter that cannot be read.
    pub fn parameter(&self) -> &str {
        match self {
            QueryError::BadEscape { parameter, .. } | QueryError::NotUtf8 { parameter } => parameter,
        }
    }
}

impl Query {
    /// Reads a raw query string as browsers and `URLSearchParams` write it
    /// (`application/x-www-form-urlencoded`: `&`-separated pairs, `+` for a space). The
    /// decoding is `form_urlencoded`'s, which keeps a bad escape as it is and replaces what
    /// is not UTF-8; both are refused here instead, so a client never gets an answer to a
    /// question it did not ask.
    pub fn parse(raw: Option<&str>) -> Result<Query, QueryError> {
        let raw = raw.unwrap_or_default();
        if raw.contains('%') {
            for piece in raw.split('&') {
                check_escapes(piece)?;
            }
        }
        Ok(Query {
            pairs: form_urlencoded::parse(raw.as_bytes()).into_owned().collect(),
        })
    }

    /// A query from pairs.
    pub fn new(pairs: &[(&str, &str)]) -> Query {
        Query {
            pairs: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        }
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`); absent is false.
    pub fn flag(&self, service: Service, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::bad_request(service, format!("`{name}` must be `true` or `false`, not `{v}`")).at_parameter(name)),
        }
    }

    /// Every parameter but the cursors, for the links.
    fn without_cursors(&self, cursor_names: [&str; 2]) -> Vec<(String, String)> {
        self.pairs.iter().filter(|(k, _)| !cursor_names.contains(&k.as_str())).cloned().collect()
    }
}

/// An `href` holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Href {
    /// Absolute URL.
    pub href: String,
}

/// A list's `links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Links {
    /// This page.
    #[serde(rename = "self")]
    pub self_: Href,
    /// The next page, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
    /// The previous page, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<Href>,
}

/// A resource's `links` with only `self`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SelfLink {
    /// The resource.
    #[serde(rename = "self")]
    pub self_: Href,
}

impl SelfLink {
    /// The link of `path` under the API base.
    pub fn new(api_base: &str, path: &str) -> SelfLink {
        SelfLink {
            self_: Href {
                href: format!("{api_base}{path}"),
            },
        }
    }
}

/// One `name=value` piece of a query: every `%` starts an escape, and the escapes decode to
/// UTF-8.
fn check_escapes(piece: &str) -> Result<(), QueryError> {
    let parameter = || {
        form_urlencoded::parse(piece.as_bytes())
            .next()
            .map(|(name, _)| name.into_owned())
            .unwrap_or_default()
    };
    let bytes = piece.as_bytes();
    for (at, _) in piece.match_indices('%') {
        if !bytes.get(at + 1..at + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
            let escape = String::from_utf8_lossy(&bytes[at..bytes.len().min(at + 3)]).into_owned();
            return Err(QueryError::BadEscape {
                parameter: parameter(),
                escape,
            });
        }
    }
    if percent_encoding::percent_decode_str(piece).decode_utf8().is_err() {
        return Err(QueryError::NotUtf8 { parameter: parameter() });
    }
    Ok(())
}

/// What JavaScript's `encodeURIComponent` leaves as it is: letters, digits and `-_.!~*'()`.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Percent-encodes like JavaScript's `encodeURIComponent`.
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
}

/// `path` under the API base with the query `pairs`, each encoded as `encodeURIComponent` would.
pub(crate) fn url(api_base: &str, path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return format!("{api_base}{path}");
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    format!("{api_base}{path}?{}", query.join("&"))
}

fn encode_cursor(position: usize) -> String {
    // Opaque on purpose: a tag and the position, hex-encoded.
    format!("{:x}", (position as u64) ^ 0x5a5a_5a5a)
}

fn decode_cursor(service: Service, name: &str, text: &str) -> Result<usize, ApiError> {
    u64::from_str_radix(text, 16)
        .ok()
        .map(|v| (v ^ 0x5a5a_5a5a) as usize)
        .filter(|v| *v < 1 << 31)
        .ok_or_else(|| {
            ApiError::bad_request(service, format!("`{name}` is not a cursor this server issued; follow `links.next.href`")).at_parameter(name)
        })
}

/// How a list pages: the parameter names of its cursors and its limits.
#[derive(Debug, Clone, Copy)]
pub struct PageStyle {
    /// The forward cursor's name (`next`, or `startingAfter` for API keys).
    pub next: &'static str,
    /// The backward cursor's name (`prev`, or `endingBefore`).
    pub prev: &'static str,
    /// Page size when `limit` is absent.
    pub default_limit: usize,
    /// Largest accepted `limit`.
    pub max_limit: usize,
}

/// The common style: `next`/`prev`, 20 by default, at most 100.
pub const STANDARD: PageStyle = PageStyle {
    next: "next",
    prev: "prev",
    default_limit: 20,
    max_limit: 100,
};

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The links.
    pub links: Links,
    /// How many items the whole (filtered) list has.
    pub total: usize,
}

/// Cuts one page out of `items` (already filtered and sorted) following the query's cursor
/// and `limit`, and builds absolute links for `path` under `api_base`.
pub fn paginate<T>(items: Vec<T>, query: &Query, service: Service, style: PageStyle, api_base: &str, path: &str) -> Result<Page<T>, ApiError> {
    let limit = parse_limit(query, service, style)?;
    let start = match cursors(query, service, style)? {
        Some(Cursor::After(cursor)) => decode_cursor(service, style.next, cursor)?,
        Some(Cursor::Before(cursor)) => decode_cursor(service, style.prev, cursor)?,
        None => 0,
    };
    let total = items.len();
    let start = start.min(total);
    let end = start.saturating_add(limit).min(total);
    let base_pairs = query.without_cursors([style.next, style.prev]);
    let link = |name: &str, position: usize| {
        let mut pairs = base_pairs.clone();
        pairs.push((name.to_owned(), encode_cursor(position)));
        Href {
            href: url(api_base, path, &pairs),
        }
    };
    let links = Links {
        self_: Href {
            href: url(api_base, path, &query.pairs),
        },
        next: (end < total).then(|| link(style.next, end)),
        prev: (start > 0).then(|| link(style.prev, start.saturating_sub(limit))),
    };
    let items = items.into_iter().skip(start).take(end - start).collect();
    Ok(Page { items, links, total })
}

/// `limit`, within the style's bounds.
fn parse_limit(query: &Query, service: Service, style: PageStyle) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(style.default_limit),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=style.max_limit).contains(&n) => Ok(n),
            _ => Err(
                ApiError::bad_request(service, format!("`limit` must be a number from 1 to {}, not `{text}`", style.max_limit)).at_parameter("limit"),
            ),
        },
    }
}

/// Which way a request pages, with its cursor's text.
enum Cursor<'q> {
    After(&'q str),
    Before(&'q str),
}

fn cursors<'q>(query: &'q Query, service: Service, style: PageStyle) -> Result<Option<Cursor<'q>>, ApiError> {
    match (query.get(style.next), query.get(style.prev)) {
        (Some(_), Some(_)) => {
            Err(ApiError::bad_request(service, format!("`{}` and `{}` cannot be used together", style.next, style.prev)).at_parameter(style.prev))
        }
        (Some(cursor), None) => Ok(Some(Cursor::After(cursor))),
        (None, Some(cursor)) => Ok(Some(Cursor::Before(cursor))),
        (None, None) => Ok(None),
    }
}

/// Sorts `items` by the sort keys and then by id, and cuts the page after (or before) the item
/// whose id the cursor holds, as Qlik's id cursors do (`startingAfter`/`endingBefore` for API
/// keys and the older user parameters; `next`/`prev` for groups). The position is found by
/// the cursor item's key, not by a count, so items created or deleted between two requests
/// are neither skipped nor repeated; without sort keys the order is the ids' and a cursor
/// whose item is gone still places the page. With sort keys a cursor naming no listed item
/// is refused (there is no key to place it by).
#[allow(
    clippy::too_many_arguments,
    reason = "the list's parts and the request's; a struct would only name them twice"
)]
pub fn paginate_by_id<T>(
    mut items: Vec<T>,
    keys: &[SortKey],
    value: impl Fn(&T, &str) -> String,
    id: impl Fn(&T) -> String,
    query: &Query,
    service: Service,
    style: PageStyle,
    (api_base, path): (&str, &str),
) -> Result<Page<T>, ApiError> {
    let limit = parse_limit(query, service, style)?;
    let cursor = cursors(query, service, style)?;
    let mut keyed: Vec<(Vec<String>, T)> = items
        .drain(..)
        .map(|item| {
            let mut key: Vec<String> = keys.iter().map(|k| value(&item, &k.field).to_lowercase()).collect();
            key.push(id(&item));
            (key, item)
        })
        .collect();
    let order = |a: &[String], b: &[String]| -> Ordering {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            // Ids of one list have one width (hex) or are numbers: by length first, numbers order as numbers.
            let ordering = if i == keys.len() { (x.len(), x).cmp(&(y.len(), y)) } else { x.cmp(y) };
            let ordering = if keys.get(i).is_some_and(|k| k.descending) {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    };
    keyed.sort_by(|(a, _), (b, _)| order(a, b));
    let key_of = |cursor_id: &str, name: &str| -> Result<Vec<String>, ApiError> {
        if keys.is_empty() {
            return Ok(vec![cursor_id.to_owned()]);
        }
        keyed
            .iter()
            .find(|(key, _)| key.last().is_some_and(|last| last == cursor_id))
            .map(|(key, _)| key.clone())
            .ok_or_else(|| {
                ApiError::bad_request(
                    service,
                    format!("`{name}` names `{cursor_id}`, which is not in this sorted list; start from the first page"),
                )
                .at_parameter(name)
            })
    };
    let total = keyed.len();
    let (start, end) = match cursor {
        None => (0, limit.min(total)),
        Some(Cursor::After(after)) => {
            let after = key_of(after, style.next)?;
            let start = keyed.partition_point(|(key, _)| order(key, &after) != Ordering::Greater);
            (start, start.saturating_add(limit).min(total))
        }
        Some(Cursor::Before(before)) => {
            let before = key_of(before, style.prev)?;
            let end = keyed.partition_point(|(key, _)| order(key, &before) == Ordering::Less);
            (end.saturating_sub(limit), end)
        }
    };
    let base_pairs = query.without_cursors([style.next, style.prev]);
    let link = |name: &str, (key, _): &(Vec<String>, T)| {
        let mut pairs = base_pairs.clone();
        pairs.push((name.to_owned(), key.last().cloned().unwrap_or_default()));
        Href {
            href: url(api_base, path, &pairs),
        }
    };
    // An empty page (a cursor past either end) names no item to go on from: no links.
    let page_of = end > start;
    let links = Links {
        self_: Href {
            href: url(api_base, path, &query.pairs),
        },
        next: (page_of && end < total).then(|| link(style.next, &keyed[end - 1])),
        prev: (page_of && start > 0).then(|| link(style.prev, &keyed[start])),
    };
    let items = keyed.into_iter().skip(start).take(end - start).map(|(_, item)| item).collect();
    Ok(Page { items, links, total })
}

/// One sort key: a field and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field.
    pub field: String,
    /// `-field`.
    pub descending: bool,
}

/// Parses `sort=+name,-createdAt` against the fields a list supports.
pub fn parse_sort(service: Service, text: Option<&str>, allowed: &[&str]) -> Result<Vec<SortKey>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let mut keys = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (descending, field) = match part.as_bytes()[0] {
            b'-' => (true, &part[1..]),
            b'+' => (false, &part[1..]),
            // A literal `+` arrives as a space when a client does not encode it.
            b' ' => (false, part.trim_start()),
            _ => (false, part),
        };
        if !allowed.contains(&field) {
            return Err(
                ApiError::bad_request(service, format!("cannot sort by `{field}`; sort by one of {}", allowed.join(", "))).at_parameter("sort"),
            );
        }
        keys.push(SortKey {
            field: field.to_owned(),
            descending,
        });
    }
    Ok(keys)
}

/// Sorts items by the keys, reading each field as a string (case-insensitive); stable, so the
/// underlying order breaks ties.
pub fn sort_by_keys<T>(items: &mut [T], keys: &[SortKey], value: impl Fn(&T, &str) -> String) {
    if keys.is_empty() {
        return;
    }
    items.sort_by(|a, b| {
        for key in keys {
            let ordering = value(a, &key.field).to_lowercase().cmp(&value(b, &key.field).to_lowercase());
            let ordering = if key.descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
}

/// Parses a SCIM filter and checks its attributes against those a list supports.
pub fn parse_filter(service: Service, text: Option<&str>, allowed: &[&str]) -> Result<Option<crate::filter::Filter>, ApiError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let filter = crate::filter::Filter::parse(text).map_err(|e| {
        let detail = match e.hint() {
            Some(hint) => format!("{e}; {hint}"),
            None => e.to_string(),
        };
        ApiError::bad_request(service, detail).at_parameter("filter")
    })?;
    if let Some(attr) = filter.attributes().into_iter().find(|a| !allowed.contains(a)) {
        return Err(
            ApiError::bad_request(service, format!("cannot filter on `{attr}`; filter on one of {}", allowed.join(", "))).at_parameter("filter"),
        );
    }
    Ok(Some(filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_cursors_past_either_end_give_an_empty_page_without_links() {
        let page = |pairs: &[(&str, &str)]| {
            let ids = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
            paginate_by_id(
                ids,
                &[],
                |_, _| String::new(),
                Clone::clone,
                &Query::new(pairs),
                Service::Groups,
                STANDARD,
                ("http://h/api/v1", "/groups"),
            )
            .unwrap()
        };
        for pairs in [[("prev", "")], [("prev", "a")], [("next", "c")], [("next", "zzz")]] {
            let empty = page(&pairs);
            assert!(empty.items.is_empty(), "{pairs:?}");
            assert_eq!((empty.links.next, empty.links.prev), (None, None), "{pairs:?}");
        }
        let middle = page(&[("next", "a"), ("limit", "1")]);
        assert_eq!(middle.items, ["b"]);
        assert!(middle.links.next.unwrap().href.ends_with("next=b"));
        assert!(middle.links.prev.unwrap().href.ends_with("prev=b"));
    }

    #[test]
    fn pages_forward_and_back_with_absolute_links() {
        let items: Vec<u32> = (0..5).collect();
        let base = "http://127.0.0.1:9/api/v1";
        let q = Query::new(&[("limit", "2"), ("filter", "name co \"a\"")]);
        let first = paginate(items.clone(), &q, Service::Users, STANDARD, base, "/users").unwrap();
        assert_eq!(first.items, [0, 1]);
        assert_eq!(first.total, 5);
        assert!(first.links.prev.is_none());
        let next = first.links.next.unwrap().href;
        assert!(
            next.starts_with("http://127.0.0.1:9/api/v1/users?limit=2&filter=name%20co%20%22a%22&next="),
            "{next}"
        );
        let cursor = next.rsplit('=').next().unwrap();
        let q2 = Query::new(&[("limit", "2"), ("next", cursor)]);
        let second = paginate(items.clone(), &q2, Service::Users, STANDARD, base, "/users").unwrap();
        assert_eq!(second.items, [2, 3]);
        let prev = second.links.prev.unwrap().href;
        let cursor = prev.rsplit('=').next().unwrap();
        let back = paginate(
            items,
            &Query::new(&[("limit", "2"), ("prev", cursor)]),
            Service::Users,
            STANDARD,
            base,
            "/users",
        )
        .unwrap();
        assert_eq!(back.items, [0, 1]);
    }

    #[test]
    fn refuses_bad_limits_cursors_and_both_cursors() {
        let items = vec![1, 2, 3];
        for pairs in [
            vec![("limit", "0")],
            vec![("limit", "x")],
            vec![("next", "zz")],
            vec![("next", "1"), ("prev", "1")],
        ] {
            let error = paginate(items.clone(), &Query::new(&pairs), Service::Users, STANDARD, "", "/users").unwrap_err();
            assert_eq!(error.status, 400, "{pairs:?}");
        }
    }

    #[test]
    fn queries_decode_like_a_browser_encodes() {
        let query = Query::parse(Some("filter=name%20eq%20%22a%2Bb%22&sort=+name&flag&&=x&name=J%C3%B6rg")).unwrap();
        assert_eq!(query.get("filter"), Some("name eq \"a+b\""));
        // `+` is a space; `parse_sort` reads ` name` as ascending.
        assert_eq!(query.get("sort"), Some(" name"));
        assert_eq!(query.get("flag"), Some(""));
        assert_eq!(query.get(""), Some("x"));
        assert_eq!(query.get("name"), Some("Jörg"));
        assert_eq!(Query::parse(None).unwrap(), Query::default());
        // What a browser writes, read back.
        let text = "a b+c&d=é%";
        let encoded = format!("x={}", encode_component(text));
        assert_eq!(encoded, "x=a%20b%2Bc%26d%3D%C3%A9%25");
        assert_eq!(Query::parse(Some(&encoded)).unwrap().get("x"), Some(text));
        assert_eq!(encode_component("-_.!~*'()"), "-_.!~*'()");
    }

    #[test]
    fn a_bad_escape_or_bytes_that_are_not_utf8_name_their_parameter() {
        let error = |raw: &str| Query::parse(Some(raw)).unwrap_err();
        assert_eq!(
            error("limit=5&filter=100%zz"),
            QueryError::BadEscape {
                parameter: "filter".to_owned(),
                escape: "%zz".to_owned()
            }
        );
        assert_eq!(
            error("sort=name%").to_string(),
            "the query parameter `sort` holds `%`, which is not a percent-escape; write `%` as `%25`"
        );
        assert_eq!(error("sort=name%4").parameter(), "sort");
        assert_eq!(error("na%zzme=x").parameter(), "na%zzme");
        assert_eq!(
            error("limit=1&name=%FF"),
            QueryError::NotUtf8 {
                parameter: "name".to_owned()
            }
        );
        assert_eq!(error("name=%C3%28").parameter(), "name");
        assert_eq!(
            error("%FF=1").to_string(),
            "the query parameter `\u{fffd}` is not UTF-8 once percent-decoded"
        );
    }

    #[test]
    fn sorts_by_several_keys() {
        let keys = parse_sort(Service::Users, Some("-b,+a"), &["a", "b"]).unwrap();
        let mut items = vec![("x", "1"), ("y", "2"), ("a", "2")];
        sort_by_keys(&mut items, &keys, |item, field| if field == "a" { item.0.into() } else { item.1.into() });
        assert_eq!(items, [("a", "2"), ("y", "2"), ("x", "1")]);
        assert_eq!(parse_sort(Service::Users, Some("color"), &["a"]).unwrap_err().status, 400);
    }
}
