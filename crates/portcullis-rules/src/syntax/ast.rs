//! The syntax tree of a condition. Every node has a [`Span`] into the condition text;
//! parentheses leave no node (the printer puts back the ones precedence needs).
//! Names keep the case they were written in; roots, functions and operators are enums.

use std::fmt;

/// A byte range of the condition text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A condition (or part of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// At least one is true (`or`, `||`); two or more operands.
    Or(Vec<Expr>),
    /// All are true (`and`, `&&`); two or more operands.
    And(Vec<Expr>),
    /// Negation (`!`).
    Not(Box<Expr>),
    /// `lhs op rhs`.
    Compare {
        /// Left operand.
        lhs: Operand,
        /// Operator.
        op: CmpOp,
        /// Right operand.
        rhs: Operand,
    },
    /// A boolean function called on a path: `resource.stream.HasPrivilege("read")`.
    Call {
        /// The path the function is called on.
        target: Path,
        /// The function.
        function: Function,
        /// The string argument (only `HasPrivilege` takes one).
        argument: Option<String>,
    },
}

/// A comparison operator (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`: equal, ignoring case.
    Eq,
    /// `!=`: not equal, ignoring case.
    Ne,
    /// `==`: equal, case-sensitive.
    StrictEq,
    /// `!==`: not equal, case-sensitive.
    StrictNe,
    /// `like`: wildcard `*`, ignoring case.
    Like,
    /// `matches`: whole-value regular expression, case-sensitive.
    Matches,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::StrictEq => "==",
            CmpOp::StrictNe => "!==",
            CmpOp::Like => "like",
            CmpOp::Matches => "matches",
        }
    }
}

/// The functions of the language (spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `Empty()`: the path has no value.
    Empty,
    /// `HasPrivilege("action")`: the user may do the action on the targeted resource(s).
    HasPrivilege,
    /// `IsAnonymous()`: the user logged in anonymously.
    IsAnonymous,
    /// `IsOwned()`: the resource has an owner.
    IsOwned,
}

impl Function {
    /// Every function.
    pub const ALL: [Function; 4] = [Function::Empty, Function::HasPrivilege, Function::IsAnonymous, Function::IsOwned];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Empty => "Empty",
            Function::HasPrivilege => "HasPrivilege",
            Function::IsAnonymous => "IsAnonymous",
            Function::IsOwned => "IsOwned",
        }
    }

    /// The function of that name, ignoring case.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operand {
    /// What it is.
    pub kind: OperandKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperandKind {
    /// An attribute path (`user.group`) or an entity (`user`, `resource.owner`).
    Path(Path),
    /// A double-quoted string.
    Str(String),
    /// An unquoted value (shown in Qlik's help, never in real rules): `Finance`, a GUID.
    Bare(String),
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    /// The requesting user.
    User,
    /// The resource being accessed.
    Resource,
    /// The server node (load-balancing rules only).
    Node,
}

impl Root {
    /// The root as written canonically.
    pub fn as_str(self) -> &'static str {
        match self {
            Root::User => "user",
            Root::Resource => "resource",
            Root::Node => "node",
        }
    }

    /// The root of that name, ignoring case.
    pub fn from_name(name: &str) -> Option<Root> {
        [Root::User, Root::Resource, Root::Node]
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))
    }
}

/// `root.step.step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The subject it starts from.
    pub root: Root,
    /// The steps after the root.
    pub steps: Vec<Step>,
    /// Where it is.
    pub span: Span,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it is.
    pub kind: StepKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of path step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// An attribute or relation name: `group`, `stream`, `environment`.
    Name(String),
    /// A custom property: `@Department` (the name without `@`).
    CustomProperty(String),
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.root.as_str())?;
        for step in &self.steps {
            match &step.kind {
                StepKind::Name(name) => write!(f, ".{name}")?,
                StepKind::CustomProperty(name) => write!(f, ".@{name}")?,
            }
        }
        Ok(())
    }
}

impl Expr {
    /// The same tree with every span set to the default, so that trees parsed from
    /// different texts can be compared by shape.
    pub fn without_spans(&self) -> Expr {
        let kind = match &self.kind {
            ExprKind::Or(items) => ExprKind::Or(items.iter().map(Expr::without_spans).collect()),
            ExprKind::And(items) => ExprKind::And(items.iter().map(Expr::without_spans).collect()),
            ExprKind::Not(inner) => ExprKind::Not(Box::new(inner.without_spans())),
            ExprKind::Compare { lhs, op, rhs } => ExprKind::Compare {
                lhs: lhs.without_spans(),
                op: *op,
                rhs: rhs.without_spans(),
            },
            ExprKind::Call { target, function, argument } => ExprKind::Call {
                target: target.without_spans(),
                function: *function,
                argument: argument.clone(),
            },
        };
        Expr { kind, span: Span::default() }
    }

    /// Calls `visit` on this node and every node below it, parents first.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        match &self.kind {
            ExprKind::Or(items) | ExprKind::And(items) => items.iter().for_each(|e| e.walk(visit)),
            ExprKind::Not(inner) => inner.walk(visit),
            ExprKind::Compare { .. } | ExprKind::Call { .. } => {}
        }
    }
}

impl Operand {
    /// The same operand without spans.
    pub fn without_spans(&self) -> Operand {
        let kind = match &self.kind {
            OperandKind::Path(path) => OperandKind::Path(path.without_spans()),
            other => other.clone(),
        };
        Operand { kind, span: Span::default() }
    }
}

impl Path {
    /// The same path without spans.
    pub fn without_spans(&self) -> Path {
        Path {
            root: self.root,
            steps: self
                .steps
                .iter()
                .map(|s| Step {
                    kind: s.kind.clone(),
                    span: Span::default(),
                })
                .collect(),
            span: Span::default(),
        }
    }
}
