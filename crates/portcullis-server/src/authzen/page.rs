//! Pagination of the AuthZEN search APIs: the request's `page` (`token`, `limit`), the
//! opaque `next_token` and the response's `page` object.
//!
//! A token says where the previous page ended: the id of its last result and that result's
//! position in the model's order (the position is the fallback when the id is gone), and a
//! fingerprint of the request it belongs to. A page resumes after that id, so pages stay in
//! step across writes and across nodes (whose snapshots may number entities differently);
//! a request sent with a token but other entities or limit is refused, as the specification
//! recommends. Tokens are not secret: they carry nothing the caller did not see.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::err::ApiError;

/// Results per page when the request does not say.
pub const DEFAULT_LIMIT: usize = 1_000;
/// The most results a page may hold.
pub const MAX_LIMIT: usize = 10_000;

/// A search request's `page`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PageRequest {
    /// The `next_token` of the previous page (none, or empty: the first page).
    #[serde(default)]
    pub token: Option<String>,
    /// At most this many results (1 to 10,000; default 1,000).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Ignored: no pagination property is defined.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<Value>,
}

/// A search response's `page`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PageResponse {
    /// The token of the next page; empty when this page is the last.
    pub next_token: String,
    /// The number of results in this page.
    pub count: u64,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Token {
    /// The format.
    v: u8,
    /// The id of the last result given.
    after: String,
    /// Its position in the model's order, when it was given.
    at: usize,
    /// The fingerprint of the request.
    q: String,
}

/// One search's paging, read from its request.
#[derive(Debug, Clone)]
pub struct Paging {
    /// Whether the request had a `page` object (then the response has one too).
    pub asked: bool,
    /// Results per page.
    pub limit: usize,
    /// Where the previous page ended: the id of its last result and its position.
    pub after: Option<(String, usize)>,
    fingerprint: String,
}

fn bad_token(message: &str) -> ApiError {
    ApiError::bad_request("bad_page_token", message.to_owned())
        .hint("send the `next_token` of the previous page unchanged, with the same request; or no token to start again")
        .field("page.token")
}

impl Paging {
    /// The paging of a request whose entities (everything but the token) are `query`.
    pub fn read(page: Option<&PageRequest>, query: &Value) -> Result<Paging, ApiError> {
        let limit = match page.and_then(|p| p.limit) {
            None => DEFAULT_LIMIT,
            Some(0) => {
                return Err(ApiError::bad_request("bad_limit", "`page.limit` is 0")
                    .hint(format!("ask for 1 to {MAX_LIMIT} results a page"))
                    .field("page.limit"));
            }
            Some(n) if n > MAX_LIMIT as u64 => {
                return Err(ApiError::bad_request("bad_limit", format!("`page.limit` is {n}; at most {MAX_LIMIT}"))
                    .hint("ask for fewer results a page and follow `next_token`")
                    .field("page.limit"));
            }
            Some(n) => n as usize,
        };
        let fingerprint = fingerprint(query, limit);
        let after = match page.and_then(|p| p.token.as_deref()).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => {
                let token: Token = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .filter(|token: &Token| token.v == 1)
                    .ok_or_else(|| bad_token("`page.token` is not a token this server gave"))?;
                if token.q != fingerprint {
                    return Err(bad_token(
                        "`page.token` belongs to another search: the entities, context or limit changed",
                    ));
                }
                Some((token.after, token.at))
            }
        };
        Ok(Paging {
            asked: page.is_some(),
            limit,
            after,
            fingerprint,
        })
    }

    /// The first position to look at: after the previous page's last result, found by its id
    /// (`position_of`), or by its position when the id is gone.
    pub fn start(&self, position_of: impl FnOnce(&str) -> Option<usize>) -> usize {
        match &self.after {
            None => 0,
            Some((id, at)) => position_of(id).unwrap_or(*at).saturating_add(1),
        }
    }

    /// The response's `page`: present when the request had one or more results follow; its
    /// token resumes after `last` (the id and position of this page's last result).
    pub fn response(&self, count: usize, more: bool, last: Option<(&str, usize)>) -> Option<PageResponse> {
        let next_token = match (more, last) {
            (true, Some((id, at))) => {
                let token = Token {
                    v: 1,
                    after: id.to_owned(),
                    at,
                    q: self.fingerprint.clone(),
                };
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
            }
            _ => String::new(),
        };
        (self.asked || !next_token.is_empty()).then_some(PageResponse {
            next_token,
            count: count as u64,
        })
    }
}

/// Fills a page: the first `limit` permitted candidates at or after position `start`
/// (candidates come in ascending positions of the model's order), and whether another
/// permitted one follows them.
pub fn collect<T>(
    candidates: impl Iterator<Item = (usize, T)>,
    start: usize,
    limit: usize,
    mut permitted: impl FnMut(&T) -> bool,
) -> (Vec<(usize, T)>, bool) {
    let mut found = Vec::new();
    for (position, item) in candidates.skip_while(|(position, _)| *position < start) {
        if !permitted(&item) {
            continue;
        }
        if found.len() == limit {
            return (found, true);
        }
        found.push((position, item));
    }
    (found, false)
}

/// A short digest of a request's entities and limit, independent of the order of JSON keys.
fn fingerprint(query: &Value, limit: usize) -> String {
    let mut text = String::new();
    canonical(query, &mut text);
    let digest = Sha256::digest(format!("{limit}\n{text}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with every object's keys sorted.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (idx, key) in keys.into_iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
