//! Prints a condition tree back to text, with the parentheses its structure needs and no
//! others, so that `parse(print(tree))` gives the same tree.
//!
//! Strings are printed between double quotes as they are: the language has no escapes, so a
//! string containing `"` cannot be printed (the parser can never produce one).

use super::ast::{Expr, ExprKind, Operand, OperandKind};

/// The condition as text.
pub fn print_expr(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr, Level::Or);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Unary,
}

fn level(expr: &Expr) -> Level {
    match expr.kind {
        ExprKind::Or(_) => Level::Or,
        ExprKind::And(_) => Level::And,
        _ => Level::Unary,
    }
}

fn write_expr(out: &mut String, expr: &Expr, context: Level) {
    // `a or (b or c)` is another tree than `a or b or c`, so a child of the same level
    // as its parent's operator is parenthesized too (the context asks for a higher level).
    let needs_parens = level(expr) < context;
    if needs_parens {
        out.push('(');
    }
    match &expr.kind {
        ExprKind::Or(items) => write_items(out, items, " or ", Level::And),
        ExprKind::And(items) => write_items(out, items, " and ", Level::Unary),
        ExprKind::Not(inner) => {
            out.push('!');
            match inner.kind {
                ExprKind::Compare { .. } => {
                    out.push('(');
                    write_expr(out, inner, Level::Or);
                    out.push(')');
                }
                _ => write_expr(out, inner, Level::Unary),
            }
        }
        ExprKind::Compare { lhs, op, rhs } => {
            write_operand(out, lhs);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_operand(out, rhs);
        }
        ExprKind::Call { target, function, argument } => {
            out.push_str(&target.to_string());
            out.push('.');
            out.push_str(function.name());
            out.push('(');
            if let Some(argument) = argument {
                out.push('"');
                out.push_str(argument);
                out.push('"');
            }
            out.push(')');
        }
    }
    if needs_parens {
        out.push(')');
    }
}

fn write_items(out: &mut String, items: &[Expr], separator: &str, child_level: Level) {
    for (idx, item) in items.iter().enumerate() {
        if idx > 0 {
            out.push_str(separator);
        }
        write_expr(out, item, child_level);
    }
}

fn write_operand(out: &mut String, operand: &Operand) {
    match &operand.kind {
        OperandKind::Path(path) => out.push_str(&path.to_string()),
        OperandKind::Str(value) => {
            out.push('"');
            out.push_str(value);
            out.push('"');
        }
        OperandKind::Bare(value) => out.push_str(value),
    }
}
