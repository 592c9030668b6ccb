//! Parser unit tests: one `check` helper renders the tree (printed) or the diagnostics.

use crate::syntax::{parse_condition, print_expr};

/// The printed tree, or the diagnostics one per line.
fn render(text: &str) -> String {
    let parsed = parse_condition(text);
    if parsed.diagnostics.is_empty() {
        parsed.expr.as_ref().map_or_else(|| "<empty>".to_owned(), print_expr)
    } else {
        parsed
            .diagnostics
            .iter()
            .map(|d| format!("{} {d}", d.severity))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn check(text: &str, expected: &str) {
    assert_eq!(render(text), expected, "condition: {text}");
}

#[test]
fn precedence_and_grouping() {
    check(
        "a.b = \"x\"",
        "error 1:1: unknown root `a` (hint: a path starts with `user`, `resource` or `node`)",
    );
    check(
        r#"resource.name = "Budget" or user.userId = "zzz" and resource.name = "nothing""#,
        r#"resource.name = "Budget" or user.userId = "zzz" and resource.name = "nothing""#,
    );
    check(
        r#"(user.name = "a" or user.name = "b") and user.name = "c""#,
        r#"(user.name = "a" or user.name = "b") and user.name = "c""#,
    );
    check(
        r#"user.name = "a" or (user.name = "b" or user.name = "c")"#,
        r#"user.name = "a" or (user.name = "b" or user.name = "c")"#,
    );
    check(r#"!(user.group = "Sales")"#, r#"!(user.group = "Sales")"#);
    check(r#"((user.roles="RootAdmin"))"#, r#"user.roles = "RootAdmin""#);
    check(
        r#"user.group=="a" && user.group!=="b" || user.group like"*x""#,
        r#"user.group == "a" and user.group !== "b" or user.group like "*x""#,
    );
    check("", "<empty>");
    check("   \n ", "<empty>");
}

#[test]
fn calls_and_paths() {
    check("!resource.App.stream.Empty()", "!resource.App.stream.Empty()");
    check(r#"resource.stream.hasprivilege("read")"#, r#"resource.stream.HasPrivilege("read")"#);
    check(
        "resource.IsOwned() and resource.owner = user",
        "resource.IsOwned() and resource.owner = user",
    );
    check("resource.@Level.empty()", "resource.@Level.Empty()");
    check(
        "user.environment.browser like \"*Firefox*\"",
        "user.environment.browser like \"*Firefox*\"",
    );
    check("resource.@Department = Finance", "resource.@Department = Finance");
    check(
        "resource.id=5dd0dc16-96fd-4bd0-9a84-62721f0db427",
        "resource.id = 5dd0dc16-96fd-4bd0-9a84-62721f0db427",
    );
}

#[test]
fn every_problem_is_reported() {
    check(
        r#"user.group = "x" and (resource.name = "y""#,
        "error 1:42: `(` at 1:22 is not closed (hint: add `)` before the end of the condition)",
    );
    check(
        r#"resource.stream.HasPrivelage("read")"#,
        "error 1:17: unknown function `HasPrivelage` (hint: did you mean `HasPrivilege`? known functions: Empty, HasPrivilege, IsAnonymous, IsOwned)",
    );
    check(
        r#"resourse.stream.HasPrivilege("read") and user.IsAnononymous()"#,
        "error 1:1: unknown root `resourse` (hint: did you mean `resource`? a path starts with `user`, `resource` or `node`)\n\
         error 1:47: unknown function `IsAnononymous` (hint: did you mean `IsAnonymous`? known functions: Empty, HasPrivilege, IsAnonymous, IsOwned)",
    );
    check(
        "!user.IsAnonymous",
        "error 1:2: `user.IsAnonymous` is not a condition (hint: call the function with parentheses: `user.IsAnonymous()`)",
    );
    check(
        "user.name = 'x'",
        "error 1:13: unexpected character `'` (hint: strings are written in double quotes `\"`)",
    );
    check("user.name = \"x", "error 1:13: string literal is not closed (hint: add the closing `\"`)");
    check(
        "user.name = \"x\" user.name = \"y\"",
        "error 1:17: unexpected `user` after the end of a condition (hint: join conditions with `and` or `or`)",
    );
    check(
        "user.name = \"x\")",
        "error 1:16: unexpected `)` after the end of a condition (hint: there is no `(` for this `)` to close)",
    );
    check(
        "user.name = and user.id = \"x\"",
        "error 1:13: expected a value or an attribute after `=`, found `and`",
    );
    check(
        "user.name = \"a\" and\nuser.name = \"b\" & user.id = \"c\"",
        "error 2:17: unexpected character `&` (hint: write `&&` or `and`)",
    );
    check(
        "resource.HasPrivilege()",
        "error 1:10: `HasPrivilege` takes one action name in double quotes, like `HasPrivilege(\"read\")`",
    );
    check(
        "resource.IsOwned() = \"true\"",
        "error 1:20: a function call cannot be compared (hint: a function is already a condition; drop the comparison, or negate it with `!`)",
    );
    check("()", "error 1:2: expected a condition, found `)`");
}

#[test]
fn positions_count_lines_and_characters() {
    let parsed = parse_condition("user.group = \"é\"\n  and\n    resource.x.Nope()");
    let error = parsed.first_error().map(|d| d.at.to_string());
    assert_eq!(error.as_deref(), Some("3:16"));
}
