//! The condition language of security rules (spec §4): lexing, parsing into an [`ast`] with
//! spans, diagnostics with line:column and hints, and a printer whose output parses back to
//! the same tree.
//!
//! Parsing never fails: [`parse_condition`] returns a tree (when the text is valid) together
//! with every diagnostic found, so a console or the linter can show all problems at once.
//! Nothing here knows about sites, users or resources; that is `compile`'s job.
//!
//! Parsing is bounded, so that every walk over a tree (printing, compiling, evaluating,
//! linting, dropping) is too: a condition longer than [`MAX_CONDITION_BYTES`] is refused
//! before it is lexed; parentheses and `!` may nest [`MAX_CONDITION_DEPTH`] levels (`and`/`or`
//! chains are one node with many operands, so they add no depth); a path may have
//! [`MAX_PATH_STEPS`] steps; and at most [`MAX_DIAGNOSTICS`] problems are listed.

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

/// The longest condition read, in bytes.
pub const MAX_CONDITION_BYTES: usize = 64 * 1024;

/// The deepest nesting of parentheses and `!` in a condition.
pub const MAX_CONDITION_DEPTH: usize = 64;

/// The most steps a path may have after its root (`resource.app.stream.name` has three).
pub const MAX_PATH_STEPS: usize = 32;

/// The most problems listed for one condition; past them, one more says the list stops.
pub const MAX_DIAGNOSTICS: usize = 100;

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
