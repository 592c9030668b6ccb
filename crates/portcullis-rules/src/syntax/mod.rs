//! The condition language of security rules (spec §4): lexing, parsing into an [`ast`] with
//! spans, diagnostics with line:column and hints, and a printer whose output parses back to
//! the same tree.
//!
//! Parsing never fails: [`parse_condition`] returns a tree (when the text is valid) together
//! with every diagnostic found, so a console or the linter can show all problems at once.
//! Nothing here knows about sites, users or resources; that is `compile`'s job.

pub mod ast;
pub mod err;
pub mod lex;
pub mod parse;
pub mod print;

pub use ast::{CmpOp, Expr, ExprKind, Function, Operand, OperandKind, Path, Root, Span, Step, StepKind};
pub use err::{Diagnostic, Severity, SyntaxError};
pub use parse::{ParsedCondition, parse_condition};
pub use print::print_expr;

use portcullis_model::source::LineCol;

/// The 1-based line and column (counted in characters) of a byte offset in `text`.
/// Offsets past the end give the position just after the last character.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let mut line = 1;
    let mut column = 1;
    for (idx, ch) in text.char_indices() {
        if idx >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    LineCol { line, column }
}
