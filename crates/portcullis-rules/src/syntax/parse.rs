//! A recursive-descent parser for conditions (grammar in spec §4.2). Precedence: `!` binds
//! tightest, then comparisons, then `and`, then `or`.
//!
//! The parser never fails and never panics: on a problem it records a diagnostic, skips to
//! the next `and`/`or`/`)`, and goes on, so one pass reports every problem (up to
//! [`MAX_DIAGNOSTICS`]). The tree is returned only when there is no error.
//!
//! It recurses once per `(` and `!`, and stops at the one past [`MAX_CONDITION_DEPTH`]: that
//! problem ends parsing, as the rest of the condition cannot be read the same way.

use super::ast::{Expr, ExprKind, Function, Operand, OperandKind, Path, Root, Span, Step, StepKind};
use super::err::{Diagnostic, Severity, SyntaxError};
use super::lex::{Token, TokenKind, diagnostic, lex};
use super::{MAX_CONDITION_BYTES, MAX_CONDITION_DEPTH, MAX_DIAGNOSTICS, MAX_PATH_STEPS, line_col};
use crate::suggest::closest;
use portcullis_model::LimitError;

/// What parsing a condition produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCondition {
    /// The tree; `None` when the condition is empty (always true) or has errors.
    pub expr: Option<Expr>,
    /// Every problem found, in text order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParsedCondition {
    /// True when no diagnostic is an error.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.iter().all(|d| d.severity != Severity::Error)
    }

    /// The first error, if any.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.severity == Severity::Error)
    }
}

/// Parses a condition. An empty (or blank) condition gives no tree and no diagnostic; one
/// longer than [`MAX_CONDITION_BYTES`] gives only the diagnostic that says so.
pub fn parse_condition(text: &str) -> ParsedCondition {
    if text.len() > MAX_CONDITION_BYTES {
        let limit = LimitError::TooLong {
            what: "condition",
            limit: MAX_CONDITION_BYTES,
        };
        let diagnostic = diagnostic(text, SyntaxError::Limit(limit), Span::new(0, 0), Some(limit.hint()));
        return ParsedCondition {
            expr: None,
            diagnostics: vec![diagnostic],
        };
    }
    let (tokens, mut diagnostics) = lex(text);
    let room = (MAX_DIAGNOSTICS + 1).saturating_sub(diagnostics.len());
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        diagnostics: Vec::new(),
        depth: 0,
        room,
        dropped: false,
        abandoned: false,
    };
    let mut expr = None;
    if parser.peek() != &TokenKind::Eof {
        expr = parser.parse_or();
        parser.parse_trailing();
    }
    diagnostics.append(&mut parser.diagnostics);
    diagnostics.sort_by_key(|d| d.span.start);
    if diagnostics.len() > MAX_DIAGNOSTICS || parser.dropped {
        diagnostics.truncate(MAX_DIAGNOSTICS);
        let span = diagnostics.last().map_or(Span::default(), |d| d.span);
        diagnostics.push(diagnostic(
            text,
            SyntaxError::TooManyProblems(MAX_DIAGNOSTICS),
            span,
            Some("fix these first; the rest of the condition is checked then".into()),
        ));
    }
    let has_error = diagnostics.iter().any(|d| d.severity == Severity::Error);
    ParsedCondition {
        expr: if has_error { None } else { expr },
        diagnostics,
    }
}

struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// `(` and `!` open around the current token.
    depth: usize,
    /// How many more problems are recorded.
    room: usize,
    /// Set when a problem was not recorded for want of room.
    dropped: bool,
    /// Set when parsing stopped at a limit: nothing more is reported.
    abandoned: bool,
}

impl Parser<'_> {
    fn peek(&self) -> &TokenKind {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> &TokenKind {
        // INVARIANT: the token list ends with Eof, and `pos` never moves past it.
        self.tokens
            .get(self.pos + ahead)
            .or(self.tokens.last())
            .map_or(&TokenKind::Eof, |t| &t.kind)
    }

    fn span(&self) -> Span {
        self.tokens.get(self.pos).or(self.tokens.last()).map_or(Span::default(), |t| t.span)
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens.get(self.pos).cloned().unwrap_or(Token {
            kind: TokenKind::Eof,
            span: self.span(),
        });
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn error(&mut self, error: SyntaxError, span: Span, hint: Option<String>) {
        if self.abandoned {
            return;
        }
        if self.room == 0 {
            self.dropped = true;
            return;
        }
        self.room -= 1;
        self.diagnostics.push(diagnostic(self.text, error, span, hint));
    }

    /// True while another problem would be recorded (to skip working out one that would not).
    fn has_room(&self) -> bool {
        self.room > 0 && !self.abandoned
    }

    /// A problem found but not worked out, for want of room.
    fn unrecorded(&mut self) {
        self.dropped |= !self.abandoned;
    }

    /// Enters a `(` or `!` (the current token, consumed) and gives its span. Past the depth
    /// limit, reports it, skips to the end and gives `None`: the caller returns at once.
    fn descend(&mut self) -> Option<Span> {
        let span = self.span();
        if self.depth == MAX_CONDITION_DEPTH {
            let limit = LimitError::TooDeep {
                what: "condition",
                limit: MAX_CONDITION_DEPTH,
            };
            // Recorded even without room: it is why parsing stops.
            self.diagnostics
                .push(diagnostic(self.text, SyntaxError::Limit(limit), span, Some(limit.hint())));
            self.abandoned = true;
            self.pos = self.tokens.len().saturating_sub(1);
            return None;
        }
        self.depth += 1;
        self.bump();
        Some(span)
    }

    fn expected(&mut self, expected: &str, hint: Option<String>) {
        let found = self.peek().describe();
        let span = self.span();
        self.error(
            SyntaxError::Expected {
                expected: expected.to_owned(),
                found,
            },
            span,
            hint,
        );
    }

    /// Skips to the next `and`, `or`, unmatched `)` or the end.
    fn synchronize(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::And | TokenKind::Or if depth == 0 => return,
                TokenKind::RParen if depth == 0 => return,
                TokenKind::RParen => depth -= 1,
                TokenKind::LParen => depth += 1,
                _ => {}
            }
            self.bump();
        }
    }

    fn parse_trailing(&mut self) {
        loop {
            match self.peek().clone() {
                TokenKind::Eof => return,
                TokenKind::RParen => {
                    let span = self.bump().span;
                    self.error(
                        SyntaxError::Trailing("`)`".into()),
                        span,
                        Some("there is no `(` for this `)` to close".into()),
                    );
                }
                TokenKind::Error => {
                    // Already reported by the lexer; check what follows without more noise.
                    self.bump();
                    if !matches!(self.peek(), TokenKind::Eof | TokenKind::RParen) {
                        let before = self.pos;
                        let _ = self.parse_or();
                        if self.pos == before {
                            self.bump();
                        }
                    }
                }
                other => {
                    let span = self.span();
                    self.error(
                        SyntaxError::Trailing(other.describe()),
                        span,
                        Some("join conditions with `and` or `or`".into()),
                    );
                    if matches!(
                        other,
                        TokenKind::And | TokenKind::Or | TokenKind::Cmp(_) | TokenKind::Dot | TokenKind::At | TokenKind::Comma
                    ) {
                        self.bump();
                    }
                    // Parse what follows only to find more problems; its tree is dropped.
                    let before = self.pos;
                    let _ = self.parse_or();
                    if self.pos == before {
                        self.bump();
                    }
                }
            }
        }
    }

    fn parse_or(&mut self) -> Option<Expr> {
        self.parse_chain(&TokenKind::Or, Self::parse_and, ExprKind::Or)
    }

    fn parse_and(&mut self) -> Option<Expr> {
        self.parse_chain(&TokenKind::And, Self::parse_unary, ExprKind::And)
    }

    /// `operand (op operand)*`, one node of `kind` when `op` joins two or more; the one way
    /// `or` and `and` parse, so they recover from errors alike.
    fn parse_chain(&mut self, op: &TokenKind, operand: fn(&mut Self) -> Option<Expr>, kind: fn(Vec<Expr>) -> ExprKind) -> Option<Expr> {
        let first = operand(self);
        if self.peek() != op {
            return first;
        }
        let mut items = vec![first];
        while self.peek() == op {
            self.bump();
            items.push(operand(self));
        }
        let items: Option<Vec<Expr>> = items.into_iter().collect();
        let items = items?;
        let span = items.first()?.span.to(items.last()?.span);
        Some(Expr { kind: kind(items), span })
    }

    fn parse_unary(&mut self) -> Option<Expr> {
        if self.peek() == &TokenKind::Not {
            let start = self.descend()?;
            let inner = self.parse_unary();
            self.depth -= 1;
            let inner = inner?;
            let span = start.to(inner.span);
            return Some(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Option<Expr> {
        match self.peek().clone() {
            TokenKind::LParen => {
                let open = self.descend()?;
                let inner = self.parse_or();
                self.depth -= 1;
                if self.peek() == &TokenKind::RParen {
                    let close = self.bump().span;
                    inner.map(|mut e| {
                        e.span = open.to(close);
                        e
                    })
                } else if !self.has_room() {
                    self.unrecorded();
                    self.synchronize();
                    None
                } else {
                    let open_at = line_col(self.text, open.start);
                    let found = self.peek().describe();
                    let span = self.span();
                    self.error(
                        SyntaxError::UnclosedParen { open: open_at },
                        span,
                        Some(format!("add `)` before {found}")),
                    );
                    self.synchronize();
                    None
                }
            }
            TokenKind::Ident(_) | TokenKind::Bare(_) | TokenKind::Str(_) => self.parse_comparison_or_call(),
            TokenKind::Error => {
                self.bump();
                self.synchronize();
                None
            }
            TokenKind::Eof | TokenKind::RParen | TokenKind::And | TokenKind::Or => {
                self.expected("a condition", None);
                None
            }
            TokenKind::Cmp(_) | TokenKind::Dot | TokenKind::At | TokenKind::Comma | TokenKind::Not => {
                self.expected("a condition", None);
                self.bump();
                self.synchronize();
                None
            }
        }
    }

    fn parse_comparison_or_call(&mut self) -> Option<Expr> {
        let lhs = self.parse_operand()?;
        let lhs = match lhs {
            Parsed::Call(call) => {
                if let TokenKind::Cmp(_) = self.peek() {
                    let span = self.span();
                    self.error(
                        SyntaxError::CallCompared,
                        span,
                        Some("a function is already a condition; drop the comparison, or negate it with `!`".into()),
                    );
                    self.bump();
                    let _ = self.parse_operand();
                    return None;
                }
                return Some(call);
            }
            Parsed::Operand(operand) => operand,
        };
        let op = match self.peek() {
            TokenKind::Cmp(op) => *op,
            // Already reported by the lexer (`&`, `'`...).
            TokenKind::Error => {
                self.synchronize();
                return None;
            }
            _ => {
                let written = &self.text[lhs.span.start.min(self.text.len())..lhs.span.end.min(self.text.len())];
                let hint = match &lhs.kind {
                    OperandKind::Path(path) => match path.steps.last().map(|s| &s.kind) {
                        Some(StepKind::Name(name)) if Function::from_name(name).is_some() => {
                            Some(format!("call the function with parentheses: `{written}()`"))
                        }
                        _ => Some(format!("compare it, for example `{written} = \"value\"`")),
                    },
                    _ => Some("a condition compares two values, or calls a function".into()),
                };
                self.error(SyntaxError::NotACondition(written.to_owned()), lhs.span, hint);
                self.synchronize();
                return None;
            }
        };
        let op_token = self.bump();
        let rhs = match self.peek() {
            TokenKind::Ident(_) | TokenKind::Bare(_) | TokenKind::Str(_) => self.parse_operand()?,
            // Already reported by the lexer.
            TokenKind::Error => {
                self.synchronize();
                return None;
            }
            _ => {
                self.expected(&format!("a value or an attribute after `{}`", op.as_str()), None);
                self.synchronize();
                return None;
            }
        };
        let rhs = match rhs {
            Parsed::Operand(operand) => operand,
            Parsed::Call(call) => {
                self.error(
                    SyntaxError::CallCompared,
                    op_token.span,
                    Some("a function is already a condition; drop the comparison".into()),
                );
                let _ = call;
                return None;
            }
        };
        let span = lhs.span.to(rhs.span);
        Some(Expr {
            kind: ExprKind::Compare { lhs, op, rhs },
            span,
        })
    }

    fn parse_operand(&mut self) -> Option<Parsed> {
        let token = self.bump();
        let word = match token.kind {
            TokenKind::Str(value) => {
                return Some(Parsed::Operand(Operand {
                    kind: OperandKind::Str(value),
                    span: token.span,
                }));
            }
            TokenKind::Bare(value) => {
                return Some(Parsed::Operand(Operand {
                    kind: OperandKind::Bare(value),
                    span: token.span,
                }));
            }
            TokenKind::Ident(word) => word,
            _ => {
                self.pos = self.pos.saturating_sub(1);
                self.expected("a value or an attribute", None);
                self.bump();
                return None;
            }
        };
        let root = Root::from_name(&word);
        let root = match root {
            Some(root) => root,
            None if self.peek() == &TokenKind::Dot => {
                let hint = match closest(&word, ["user", "resource", "node"]) {
                    Some(best) => format!("did you mean `{best}`? a path starts with `user`, `resource` or `node`"),
                    None => "a path starts with `user`, `resource` or `node`".to_owned(),
                };
                self.error(SyntaxError::UnknownRoot(word), token.span, Some(hint));
                // Go on as if it were `resource`, to find later problems; the error already
                // makes the tree unusable.
                Root::Resource
            }
            None => {
                return Some(Parsed::Operand(Operand {
                    kind: OperandKind::Bare(word),
                    span: token.span,
                }));
            }
        };
        self.parse_steps(root, token.span)
    }

    fn parse_steps(&mut self, root: Root, root_span: Span) -> Option<Parsed> {
        let mut path = Path {
            root,
            steps: Vec::new(),
            span: root_span,
        };
        while self.peek() == &TokenKind::Dot {
            if path.steps.len() == MAX_PATH_STEPS {
                let limit = LimitError::TooMany {
                    what: "path",
                    limit: MAX_PATH_STEPS,
                    parts: "steps",
                };
                let span = self.span();
                self.error(SyntaxError::Limit(limit), span, Some(limit.hint()));
                self.synchronize();
                return None;
            }
            self.bump();
            match self.peek().clone() {
                TokenKind::At => {
                    let at = self.bump().span;
                    match self.peek().clone() {
                        TokenKind::Ident(name) | TokenKind::Bare(name) => {
                            let span = at.to(self.bump().span);
                            push_step(&mut path, StepKind::CustomProperty(name), span);
                        }
                        _ => {
                            self.expected("a custom property name after `@`", None);
                            self.synchronize();
                            return None;
                        }
                    }
                }
                TokenKind::Ident(name) if self.peek_at(1) == &TokenKind::LParen => {
                    return self.parse_call(path, name);
                }
                TokenKind::Ident(name) => {
                    let span = self.bump().span;
                    push_step(&mut path, StepKind::Name(name), span);
                }
                _ => {
                    self.expected("an attribute name after `.`", None);
                    self.synchronize();
                    return None;
                }
            }
        }
        let span = path.span;
        Some(Parsed::Operand(Operand {
            kind: OperandKind::Path(path),
            span,
        }))
    }

    fn parse_call(&mut self, target: Path, name: String) -> Option<Parsed> {
        let name_span = self.bump().span;
        let function = Function::from_name(&name);
        if function.is_none() {
            let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
            let hint = match closest(&name, known.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? known functions: {}", known.join(", ")),
                None => format!("known functions: {}", known.join(", ")),
            };
            self.error(SyntaxError::UnknownFunction(name.clone()), name_span, Some(hint));
        }
        // The `(`, checked by the caller.
        self.bump();
        let mut argument = None;
        let mut n_args = 0;
        let mut bad_argument = false;
        loop {
            match self.peek().clone() {
                TokenKind::RParen => break,
                TokenKind::Str(value) => {
                    self.bump();
                    n_args += 1;
                    argument = Some(value);
                }
                TokenKind::Comma => {
                    self.bump();
                }
                TokenKind::Ident(_) | TokenKind::Bare(_) => {
                    self.bump();
                    n_args += 1;
                    bad_argument = true;
                }
                _ if !self.has_room() => {
                    self.unrecorded();
                    self.synchronize();
                    return None;
                }
                _ => {
                    let open_at = line_col(self.text, name_span.end);
                    let found = self.peek().describe();
                    let span = self.span();
                    self.error(
                        SyntaxError::UnclosedParen { open: open_at },
                        span,
                        Some(format!("add `)` before {found}")),
                    );
                    self.synchronize();
                    return None;
                }
            }
        }
        let close = self.bump().span;
        let span = target.span.to(close);
        // An unknown function was reported above; go on with a stand-in (whose arguments are
        // not checked) to find more problems.
        let (function, arity_ok) = match function {
            Some(Function::HasPrivilege) => (Function::HasPrivilege, n_args == 1 && !bad_argument),
            Some(function) => (function, n_args == 0),
            None => (Function::Empty, true),
        };
        if !arity_ok {
            let expected = match function {
                Function::HasPrivilege => "one action name in double quotes, like `HasPrivilege(\"read\")`",
                _ => "no arguments",
            };
            self.error(
                SyntaxError::Arity {
                    function: function.name(),
                    expected,
                },
                name_span.to(close),
                None,
            );
        }
        Some(Parsed::Call(Expr {
            kind: ExprKind::Call { target, function, argument },
            span,
        }))
    }
}

/// Adds a step to `path`, which then reaches to the step's end.
fn push_step(path: &mut Path, kind: StepKind, span: Span) {
    path.steps.push(Step { kind, span });
    path.span = path.span.to(span);
}

enum Parsed {
    Operand(Operand),
    Call(Expr),
}

#[cfg(test)]
mod tests;
