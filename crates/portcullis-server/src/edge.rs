//! Input hygiene at the edge: control characters in path parameters, query parameters and
//! JSON strings are refused with 400 naming the field, before any route or store sees them.
//! NUL above all: PostgreSQL cannot store it and used to answer with a driver error. So is a
//! query string that does not decode (a `%` starting no escape, escapes that are not UTF-8),
//! which the routes' decoders would otherwise keep or replace silently.
//!
//! Path and query parameters may hold no control character at all; JSON strings may hold tab,
//! line feed and carriage return (free text: descriptions, rule conditions) but no other.

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use portcullis_qlik_api::paging::Query;
use serde_json::Value;

use crate::err::ApiError;
use crate::ops::{is_qlik_path, qlik_error};

/// The middleware: checks path, query and (JSON) body, then passes the request on.
pub async fn refuse_bad_input(request: Request, next: Next) -> Response {
    let qlik = is_qlik_path(request.uri().path());
    let template = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    if let Some(field) = bad_path_parameter(request.uri().path(), template.as_deref()) {
        return refuse(qlik, &field, "path parameter");
    }
    match request.uri().query().map(bad_query_parameter) {
        Some(Err(unreadable)) => return refuse_query(qlik, unreadable.parameter(), unreadable.to_string()),
        Some(Ok(Some(field))) => return refuse(qlik, &field, "query parameter"),
        Some(Ok(None)) | None => {}
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !is_json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        // The only failure of a buffered read here is the server's body limit.
        Err(_) if qlik => return qlik_error(413, format!("the request body is longer than {} bytes", crate::MAX_BODY_BYTES)),
        Err(_) => return ApiError::body_too_large().into_response(),
    };
    if let Some(field) = bad_json_string(&bytes) {
        return refuse(qlik, &field, "field");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn refuse(qlik: bool, field: &str, what: &str) -> Response {
    let message = format!("the {what} `{field}` holds a control character");
    if qlik {
        return qlik_error(400, message);
    }
    ApiError::bad_request("control_character", message)
        .hint("ids and names may not hold control characters (NUL, U+0001-U+001F, U+007F)")
        .field(field)
        .into_response()
}

fn refuse_query(qlik: bool, field: &str, message: String) -> Response {
    if qlik {
        return qlik_error(400, message);
    }
    ApiError::bad_request("bad_query", message)
        .hint("percent-encode the parameter as `encodeURIComponent` or `URLSearchParams` do")
        .field(field)
        .into_response()
}

/// The name of the first path parameter (from the route's template) holding a control
/// character, `path` when the route is unknown.
fn bad_path_parameter(path: &str, template: Option<&str>) -> Option<String> {
    if !path.contains('%') && !path.chars().any(char::is_control) {
        return None;
    }
    let names: Vec<&str> = template.map(|t| t.split('/').collect()).unwrap_or_default();
    for (index, segment) in path.split('/').enumerate() {
        if percent_decode_str(segment).decode_utf8_lossy().chars().any(char::is_control) {
            let name = names
                .get(index)
                .and_then(|n| n.strip_prefix('{'))
                .and_then(|n| n.strip_suffix('}'))
                .map(|n| n.trim_start_matches('*'));
            return Some(name.unwrap_or("path").to_owned());
        }
    }
    None
}

/// The name of the first query parameter whose name or value holds a control character, or
/// why the query string cannot be read.
fn bad_query_parameter(query: &str) -> Result<Option<String>, portcullis_qlik_api::paging::QueryError> {
    if !query.contains('%') && !query.chars().any(char::is_control) {
        return Ok(None);
    }
    Ok(Query::parse(Some(query))?
        .pairs
        .into_iter()
        .find(|(name, value)| name.chars().any(char::is_control) || value.chars().any(char::is_control))
        .map(|(name, _)| name.chars().filter(|c| !c.is_control()).collect()))
}

/// Whether a JSON string may hold `c`.
fn forbidden_in_text(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// The path (`checks[3].user`) of the first JSON string or key holding a forbidden control
/// character. JSON writes those as escapes only, so bodies without `\u`, `\b` or `\f` (nearly
/// all) are not parsed here at all; a body that does not parse is left to the route.
fn bad_json_string(bytes: &Bytes) -> Option<String> {
    let escapes = bytes.windows(2).any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'b' | b'f'));
    if !escapes {
        return None;
    }
    let value: Value = serde_json::from_slice(bytes).ok()?;
    find_forbidden(&value, String::new())
}

fn find_forbidden(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(text) => text
            .chars()
            .any(forbidden_in_text)
            .then(|| if at.is_empty() { "body".to_owned() } else { at }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| find_forbidden(item, format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            if key.chars().any(forbidden_in_text) {
                return Some(here.chars().filter(|c| !c.is_control()).collect());
            }
            find_forbidden(item, here)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_named_from_the_template() {
        assert_eq!(
            bad_path_parameter("/api/v1/users/a%00b", Some("/api/v1/users/{id}")),
            Some("id".to_owned())
        );
        assert_eq!(bad_path_parameter("/x/%1f", None), Some("path".to_owned()));
        assert_eq!(bad_path_parameter("/api/v1/users/a%20b", Some("/api/v1/users/{id}")), None);
    }

    #[test]
    fn query_parameters_are_named_when_they_hold_a_control_character_or_do_not_decode() {
        assert_eq!(bad_query_parameter("a=1&b=x%00y"), Ok(Some("b".to_owned())));
        assert_eq!(bad_query_parameter("a%01b=1"), Ok(Some("ab".to_owned())));
        assert_eq!(bad_query_parameter("a=1&b=x%20y+z"), Ok(None));
        assert_eq!(
            bad_query_parameter("a=1&b=100%").map_err(|e| e.parameter().to_owned()),
            Err("b".to_owned())
        );
        assert_eq!(bad_query_parameter("b=%FF").map_err(|e| e.parameter().to_owned()), Err("b".to_owned()));
    }

    #[test]
    fn json_strings_may_hold_line_breaks_but_no_other_control_character() {
        assert_eq!(bad_json_string(&Bytes::from_static(br#"{"a":"x\ty\nz"}"#)), None);
        assert_eq!(
            bad_json_string(&Bytes::from_static(br#"{"a":[{"b":"x\u0000"}]}"#)),
            Some("a[0].b".to_owned())
        );
        assert_eq!(bad_json_string(&Bytes::from_static(br#"{"a\u0001":1}"#)), Some("a".to_owned()));
        assert_eq!(bad_json_string(&Bytes::from_static(br#"{"a":"\\u0000"}"#)), None);
    }
}
