//! Splits a condition into tokens. Never fails: a character that starts no token becomes an
//! [`TokenKind::Error`] token and a diagnostic, and lexing goes on. Past
//! [`super::MAX_DIAGNOSTICS`] problems, one more is kept (to say there are
//! more) and the rest are not recorded, so a long run of bad characters costs no more.

use super::ast::{CmpOp, Span};
use super::err::{Diagnostic, Severity, SyntaxError};
use super::{MAX_DIAGNOSTICS, line_col};

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A name: letters, digits and `_`, starting with a letter or `_`.
    Ident(String),
    /// An unquoted value that is not a name (starts with a digit or contains `-`).
    Bare(String),
    /// A double-quoted string, without its quotes.
    Str(String),
    /// `.`
    Dot,
    /// `@`
    At,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `!`
    Not,
    /// `and` or `&&`
    And,
    /// `or` or `||`
    Or,
    /// A comparison operator.
    Cmp(CmpOp),
    /// `,` (no meaning in conditions; kept to report it well)
    Comma,
    /// Something that starts no token (already reported).
    Error,
    /// The end of the text.
    Eof,
}

impl TokenKind {
    /// The token in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("`{name}`"),
            TokenKind::Bare(value) => format!("`{value}`"),
            TokenKind::Str(value) => format!("string \"{value}\""),
            TokenKind::Dot => "`.`".into(),
            TokenKind::At => "`@`".into(),
            TokenKind::LParen => "`(`".into(),
            TokenKind::RParen => "`)`".into(),
            TokenKind::Not => "`!`".into(),
            TokenKind::And => "`and`".into(),
            TokenKind::Or => "`or`".into(),
            TokenKind::Cmp(op) => format!("`{}`", op.as_str()),
            TokenKind::Comma => "`,`".into(),
            TokenKind::Error => "an invalid character".into(),
            TokenKind::Eof => "the end of the condition".into(),
        }
    }
}

fn is_name_start(ch: char) -> bool {
    ch.is_alphabetic() || ch == '_'
}

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_' || ch == '-'
}

/// Lexes `text` into tokens ending with [`TokenKind::Eof`], and the problems found.
pub fn lex(text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut tokens = Vec::new();
    let mut diagnostics = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, ch)) = chars.next() {
        let single = |kind: TokenKind, len: usize| Token {
            kind,
            span: Span::new(start, start + len),
        };
        let token = match ch {
            c if c.is_whitespace() => continue,
            '.' => single(TokenKind::Dot, 1),
            '@' => single(TokenKind::At, 1),
            '(' => single(TokenKind::LParen, 1),
            ')' => single(TokenKind::RParen, 1),
            ',' => single(TokenKind::Comma, 1),
            '=' => {
                if chars.next_if(|&(_, c)| c == '=').is_some() {
                    single(TokenKind::Cmp(CmpOp::StrictEq), 2)
                } else {
                    single(TokenKind::Cmp(CmpOp::Eq), 1)
                }
            }
            '!' => {
                if chars.next_if(|&(_, c)| c == '=').is_some() {
                    if chars.next_if(|&(_, c)| c == '=').is_some() {
                        single(TokenKind::Cmp(CmpOp::StrictNe), 3)
                    } else {
                        single(TokenKind::Cmp(CmpOp::Ne), 2)
                    }
                } else {
                    single(TokenKind::Not, 1)
                }
            }
            '&' | '|' => {
                if chars.next_if(|&(_, c)| c == ch).is_some() {
                    single(if ch == '&' { TokenKind::And } else { TokenKind::Or }, 2)
                } else {
                    let word = if ch == '&' { "&&` or `and" } else { "||` or `or" };
                    report(
                        &mut diagnostics,
                        text,
                        SyntaxError::UnexpectedChar(ch),
                        Span::new(start, start + 1),
                        Some(format!("write `{word}`")),
                    );
                    // Read it as meant, so the rest of the condition is still checked.
                    single(if ch == '&' { TokenKind::And } else { TokenKind::Or }, 1)
                }
            }
            '"' => {
                let mut value = String::new();
                let mut end = None;
                for (idx, c) in chars.by_ref() {
                    if c == '"' {
                        end = Some(idx + 1);
                        break;
                    }
                    value.push(c);
                }
                let end = match end {
                    Some(end) => end,
                    None => {
                        report(
                            &mut diagnostics,
                            text,
                            SyntaxError::UnterminatedString,
                            Span::new(start, text.len()),
                            Some("add the closing `\"`".into()),
                        );
                        text.len()
                    }
                };
                Token {
                    kind: TokenKind::Str(value),
                    span: Span::new(start, end),
                }
            }
            c if is_word_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some((idx, c)) = chars.next_if(|&(_, c)| is_word_char(c)) {
                    end = idx + c.len_utf8();
                }
                let word = &text[start..end];
                let kind = if word.eq_ignore_ascii_case("and") {
                    TokenKind::And
                } else if word.eq_ignore_ascii_case("or") {
                    TokenKind::Or
                } else if word.eq_ignore_ascii_case("like") {
                    TokenKind::Cmp(CmpOp::Like)
                } else if word.eq_ignore_ascii_case("matches") {
                    TokenKind::Cmp(CmpOp::Matches)
                } else if is_name_start(c) && !word.contains('-') {
                    TokenKind::Ident(word.to_owned())
                } else {
                    TokenKind::Bare(word.to_owned())
                };
                Token {
                    kind,
                    span: Span::new(start, end),
                }
            }
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\'' => {
                // A string in the wrong quotes: report it, and read it as a string.
                let close: &[char] = if ch == '\'' { &['\''] } else { &['\u{201c}', '\u{201d}', '"'] };
                let mut value = String::new();
                let mut end = text.len();
                for (idx, c) in chars.by_ref() {
                    if close.contains(&c) {
                        end = idx + c.len_utf8();
                        break;
                    }
                    value.push(c);
                }
                let hint = if ch == '\'' {
                    "strings are written in double quotes `\"`"
                } else {
                    "use straight double quotes `\"`"
                };
                report(
                    &mut diagnostics,
                    text,
                    SyntaxError::UnexpectedChar(ch),
                    Span::new(start, start + ch.len_utf8()),
                    Some(hint.to_owned()),
                );
                Token {
                    kind: TokenKind::Str(value),
                    span: Span::new(start, end),
                }
            }
            other => {
                let hint = match other {
                    '\u{201c}' | '\u{201d}' | '\u{201e}' => Some("use straight double quotes `\"`".to_owned()),
                    '\'' => Some("strings are written in double quotes `\"`".to_owned()),
                    _ => None,
                };
                report(
                    &mut diagnostics,
                    text,
                    SyntaxError::UnexpectedChar(other),
                    Span::new(start, start + other.len_utf8()),
                    hint,
                );
                Token {
                    kind: TokenKind::Error,
                    span: Span::new(start, start + other.len_utf8()),
                }
            }
        };
        tokens.push(token);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(text.len(), text.len()),
    });
    (tokens, diagnostics)
}

/// Records a problem while fewer than [`MAX_DIAGNOSTICS`] + 1 are recorded.
fn report(diagnostics: &mut Vec<Diagnostic>, text: &str, error: SyntaxError, span: Span, hint: Option<String>) {
    if diagnostics.len() <= MAX_DIAGNOSTICS {
        diagnostics.push(diagnostic(text, error, span, hint));
    }
}

pub(crate) fn diagnostic(text: &str, error: SyntaxError, span: Span, hint: Option<String>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        error,
        span,
        at: line_col(text, span.start),
        hint,
    }
}
