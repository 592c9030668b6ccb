//! Syntax problems found while lexing and parsing a condition, and the [`Diagnostic`] that
//! carries one with its position and hint.

use std::fmt;

use portcullis_model::source::LineCol;

use super::ast::Span;

/// How bad a diagnostic is: an error makes the rule unusable, a warning and a note do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, usually intended.
    Note,
    /// Probably not what the author meant.
    Warning,
    /// The rule cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A problem in the text of a condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// A character that starts no token.
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    /// A string literal without its closing quote.
    #[error("string literal is not closed")]
    UnterminatedString,
    /// A token where another was needed.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar needed, in words.
        expected: String,
        /// What was there, in words.
        found: String,
    },
    /// A `(` without its `)`.
    #[error("`(` at {open} is not closed")]
    UnclosedParen {
        /// Where the `(` is.
        open: LineCol,
    },
    /// A path whose first word is not `user`, `resource` or `node`.
    #[error("unknown root `{0}`")]
    UnknownRoot(String),
    /// A call to a function the language does not have.
    #[error("unknown function `{0}`")]
    UnknownFunction(String),
    /// A known function called with the wrong arguments.
    #[error("`{function}` takes {expected}")]
    Arity {
        /// The function's name.
        function: &'static str,
        /// What it takes, in words.
        expected: &'static str,
    },
    /// A path or value used as a whole condition, without a comparison.
    #[error("`{0}` is not a condition")]
    NotACondition(String),
    /// A function call on one side of a comparison.
    #[error("a function call cannot be compared")]
    CallCompared,
    /// Tokens left after a complete condition.
    #[error("unexpected {0} after the end of a condition")]
    Trailing(String),
    /// Longer, deeper or with more path steps than the parser reads.
    #[error(transparent)]
    Limit(portcullis_model::LimitError),
    /// More problems than are listed; the rest of the condition was not reported on.
    #[error("more than {0} problems; only the first {0} are listed")]
    TooManyProblems(usize),
}

/// One problem with where it is (byte span and line:column inside the condition) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// The problem.
    pub error: SyntaxError,
    /// Bytes of the condition text it covers.
    pub span: Span,
    /// Line and column of the start of `span`, from 1.
    pub at: LineCol,
    /// What to do about it.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.error)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}
