//! Fuzzes the SCIM filter parser of the management API: it must never panic or overflow the
//! stack; a filter it accepts is within the byte limit, no deeper than the nesting limit
//! allows, and can be matched, listed and printed; a refusal names a position in the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_qlik_api::filter::{Filter, MAX_FILTER_BYTES, MAX_FILTER_DEPTH};

/// Levels of the tree: an `or`, an `and` per `(` (and one at the top), one per `not`.
fn depth(filter: &Filter) -> usize {
    match filter {
        Filter::Compare { .. } => 0,
        Filter::And(items) | Filter::Or(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Filter::Not(inner) => 1 + depth(inner),
    }
}

fn record(attr: &str) -> Vec<String> {
    match attr.len() % 3 {
        0 => Vec::new(),
        1 => vec![attr.to_owned()],
        _ => vec!["Ann Lee".to_owned(), "ann@example.com".to_owned()],
    }
}

fuzz_target!(|text: &str| {
    match Filter::parse(text) {
        Ok(filter) => {
            assert!(text.len() <= MAX_FILTER_BYTES);
            assert!(depth(&filter) <= 2 * MAX_FILTER_DEPTH + 2, "{text}");
            assert!(!filter.attributes().is_empty());
            let _ = filter.matches(&record);
            let _ = format!("{filter:?}");
        }
        Err(error) => {
            assert!(error.position >= 1 && error.position <= text.chars().count() + 1, "{error}");
            assert!(error.to_string().starts_with("invalid filter at character"));
        }
    }
});
