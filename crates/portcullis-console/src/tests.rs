//! Unit tests of the console's pure pieces: cookies, CSRF tokens, CSV fields, link cursors.
//! The pages themselves are tested through the whole server (`portcullis-server` `tests/it/console.rs`).

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use crate::api::{link_param, query_string};
use crate::logs::csv_field;
use crate::session::{Session, clear_cookie, cookie, same, set_cookie};

#[test]
fn a_cookie_round_trips_whatever_the_key_holds() {
    let key = "pc_abc; def=ghi,jkl \"quoted\" é";
    let line = set_cookie("portcullis_console", key, false);
    assert!(line.ends_with("; HttpOnly; SameSite=Strict; Path=/"), "{line}");
    let value = line.split(';').next().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(header::COOKIE, HeaderValue::from_str(&format!("other=1; {value}; last=2")).unwrap());
    assert_eq!(cookie(&headers, "portcullis_console").as_deref(), Some(key));
    assert_eq!(cookie(&headers, "missing"), None);
    assert!(set_cookie("a", "b", true).ends_with("; Secure"));
    assert!(clear_cookie("a", false).contains("Max-Age=0"));
}

#[test]
fn csrf_tokens_belong_to_their_session() {
    let ann = Session {
        key: "key-of-ann".to_owned(),
    };
    let bob = Session {
        key: "key-of-bob".to_owned(),
    };
    assert_eq!(ann.csrf_token(), ann.csrf_token());
    assert_eq!(ann.csrf_token().len(), 64);
    assert_ne!(ann.csrf_token(), bob.csrf_token());
    assert!(ann.accepts(&ann.csrf_token()));
    assert!(!ann.accepts(&bob.csrf_token()));
    assert!(!ann.accepts(""));
    assert!(!ann.csrf_token().contains("key-of-ann"));
    assert!(!format!("{ann:?}").contains("key-of-ann"), "the key never reaches a log");
    assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(csv_field("plain"), "plain");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_field("-1"), "'-1");
    assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
}

#[test]
fn cursors_are_read_from_the_apis_links() {
    let link = json!({"href": "http://localhost/api/v1/users?limit=20&next=abc%3D%3D&filter=x"});
    assert_eq!(link_param(&link, "next").as_deref(), Some("abc=="));
    assert_eq!(link_param(&json!(null), "next"), None);
    assert_eq!(query_string([("a", "1"), ("empty", ""), ("b", "x y&z")]), "a=1&b=x+y%26z");
}
