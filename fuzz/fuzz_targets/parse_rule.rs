//! Fuzzes the condition parser and the filter parser: they must never panic, errors and a
//! tree never come together, and a parsed tree prints to text that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_rules::{parse_condition, parse_filter, print_expr};

fuzz_target!(|text: &str| {
    let parsed = parse_condition(text);
    assert!(parsed.is_ok() || parsed.expr.is_none());
    if let Some(expr) = &parsed.expr {
        let printed = print_expr(expr);
        let again = parse_condition(&printed);
        assert_eq!(again.expr.map(|e| e.without_spans()), Some(expr.without_spans()), "{printed}");
    }
    let _ = parse_filter(text);
});
