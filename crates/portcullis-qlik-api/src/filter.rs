//! The SCIM filter subset of the Qlik REST API (`filter=name eq "abc" and (email co "a")`,
//! RFC 7644 §3.4.2.2): parsed once into a tree, then matched against any record through an
//! attribute accessor. Matching is case-insensitive, as Qlik's users and groups lists are.
//! Errors name the position (1-based character) and what was expected.
//!
//! Parsing is bounded: a filter longer than [`MAX_FILTER_BYTES`] is refused before it is read,
//! and one that nests (parentheses, `not`) deeper than [`MAX_FILTER_DEPTH`] levels is refused
//! where it goes too deep. `and`/`or` chains are one node with many operands, so a level of
//! nesting adds at most an `or` and an `and` to the tree, and every walk over it (matching,
//! printing, dropping) stays as shallow.

use std::fmt;

use portcullis_model::LimitError;

/// The longest filter read, in bytes.
pub const MAX_FILTER_BYTES: usize = 16 * 1024;

/// The deepest nesting of parentheses and `not` read.
pub const MAX_FILTER_DEPTH: usize = 64;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co` (contains)
    Co,
    /// `sw` (starts with)
    Sw,
    /// `ew` (ends with)
    Ew,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `pr` (present; takes no value)
    Pr,
}

impl FilterOp {
    fn parse(word: &str) -> Option<FilterOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => FilterOp::Eq,
            "ne" => FilterOp::Ne,
            "co" => FilterOp::Co,
            "sw" => FilterOp::Sw,
            "ew" => FilterOp::Ew,
            "gt" => FilterOp::Gt,
            "ge" => FilterOp::Ge,
            "lt" => FilterOp::Lt,
            "le" => FilterOp::Le,
            "pr" => FilterOp::Pr,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `attr op value` (value empty for `pr`).
    Compare {
        /// Attribute path, e.g. `assignedRoles.name`.
        attr: String,
        /// Operator.
        op: FilterOp,
        /// Value, lower-cased.
        value: String,
    },
    /// All of them (two or more).
    And(Vec<Filter>),
    /// Any of them (two or more).
    Or(Vec<Filter>),
    /// Negation.
    Not(Box<Filter>),
}

/// A filter that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based character position.
    pub position: usize,
    /// What is wrong.
    pub message: String,
    /// Which limit the filter exceeds, if that is what is wrong.
    pub limit: Option<LimitError>,
}

impl FilterError {
    fn over_limit(position: usize, limit: LimitError) -> FilterError {
        FilterError {
            position,
            message: limit.to_string(),
            limit: Some(limit),
        }
    }

    /// What to do about it, when the filter exceeds a limit.
    pub fn hint(&self) -> Option<String> {
        self.limit.map(|limit| limit.hint())
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid filter at character {}: {}", self.position, self.message)
    }
}

impl std::error::Error for FilterError {}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((i, Token::Open));
                i += 1;
            }
            ')' => {
                tokens.push((i, Token::Close));
                i += 1;
            }
            '"' | '\'' => {
                let start = i;
                i += 1;
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(FilterError {
                                position: start + 1,
                                message: format!("the string opened here is not closed with {c}"),
                                limit: None,
                            });
                        }
                        Some('\\') if chars.get(i + 1).is_some() => {
                            value.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(q) if *q == c => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                tokens.push((start, Token::Str(value)));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '"' | '\'') {
                    i += 1;
                }
                tokens.push((start, Token::Word(chars[start..i].iter().collect())));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    len: usize,
    /// Parentheses and `not`s open around the current token.
    depth: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            position: self.position(),
            message: message.into(),
            limit: None,
        }
    }

    fn position(&self) -> usize {
        self.tokens.get(self.pos).map(|(p, _)| p + 1).unwrap_or(self.len + 1)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some((_, Token::Word(w))) if w.eq_ignore_ascii_case(word))
    }

    /// Opens one level (at a `(` or `not`), refusing the one past the limit.
    fn descend(&mut self) -> Result<(), FilterError> {
        if self.depth == MAX_FILTER_DEPTH {
            return Err(FilterError::over_limit(
                self.position(),
                LimitError::TooDeep {
                    what: "filter",
                    limit: MAX_FILTER_DEPTH,
                },
            ));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let first = self.and()?;
        if !self.keyword("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.keyword("or") {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(Filter::Or(items))
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let first = self.unary()?;
        if !self.keyword("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.keyword("and") {
            self.pos += 1;
            items.push(self.unary()?);
        }
        Ok(Filter::And(items))
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.keyword("not") {
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.tokens.get(self.pos).cloned() {
            Some((_, Token::Open)) => {
                self.descend()?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.tokens.get(self.pos) {
                    Some((_, Token::Close)) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error("expected `)`")),
                }
            }
            Some((_, Token::Word(attr))) => {
                self.pos += 1;
                let op = match self.tokens.get(self.pos) {
                    Some((_, Token::Word(w))) => FilterOp::parse(w)
                        .ok_or_else(|| self.error(format!("unknown operator `{w}`; use eq, ne, co, sw, ew, gt, ge, lt, le or pr")))?,
                    _ => return Err(self.error(format!("expected an operator after `{attr}`"))),
                };
                self.pos += 1;
                if op == FilterOp::Pr {
                    return Ok(Filter::Compare {
                        attr,
                        op,
                        value: String::new(),
                    });
                }
                let value = match self.tokens.get(self.pos) {
                    Some((_, Token::Str(s))) => s.clone(),
                    Some((_, Token::Word(w))) => w.clone(),
                    _ => return Err(self.error(format!("expected a value after `{attr}`"))),
                };
                self.pos += 1;
                Ok(Filter::Compare {
                    attr,
                    op,
                    value: value.to_lowercase(),
                })
            }
            Some((_, Token::Str(_))) => Err(self.error("expected an attribute name, found a string")),
            Some((_, Token::Close)) => Err(self.error("unexpected `)`")),
            None => Err(self.error("the filter ends too early")),
        }
    }
}

impl Filter {
    /// Parses a filter expression.
    /// Refuses a filter longer than [`MAX_FILTER_BYTES`] or nesting deeper than
    /// [`MAX_FILTER_DEPTH`].
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(FilterError::over_limit(
                1,
                LimitError::TooLong {
                    what: "filter",
                    limit: MAX_FILTER_BYTES,
                },
            ));
        }
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            len: text.chars().count(),
            depth: 0,
        };
        let filter = parser.or()?;
        if parser.pos < parser.tokens.len() {
            return Err(parser.error("unexpected text after the end of the expression"));
        }
        Ok(filter)
    }

    /// Every attribute the filter names, for checking against what a list supports.
    pub fn attributes(&self) -> Vec<&str> {
        match self {
            Filter::Compare { attr, .. } => vec![attr.as_str()],
            Filter::And(items) | Filter::Or(items) => items.iter().flat_map(Filter::attributes).collect(),
            Filter::Not(inner) => inner.attributes(),
        }
    }

    /// Matches a record: `values(attr)` gives the attribute's values (several for lists such
    /// as `assignedRoles.name`; none when absent). A comparison holds when any value does.
    pub fn matches(&self, values: &dyn Fn(&str) -> Vec<String>) -> bool {
        match self {
            Filter::Compare { attr, op, value } => {
                let found = values(attr);
                if *op == FilterOp::Pr {
                    return found.iter().any(|v| !v.is_empty());
                }
                found.iter().any(|v| {
                    let v = v.to_lowercase();
                    match op {
                        FilterOp::Eq => v == *value,
                        FilterOp::Ne => v != *value,
                        FilterOp::Co => v.contains(value.as_str()),
                        FilterOp::Sw => v.starts_with(value.as_str()),
                        FilterOp::Ew => v.ends_with(value.as_str()),
                        FilterOp::Gt => v.as_str() > value.as_str(),
                        FilterOp::Ge => v.as_str() >= value.as_str(),
                        FilterOp::Lt => v.as_str() < value.as_str(),
                        FilterOp::Le => v.as_str() <= value.as_str(),
                        FilterOp::Pr => true,
                    }
                })
            }
            Filter::And(items) => items.iter().all(|item| item.matches(values)),
            Filter::Or(items) => items.iter().any(|item| item.matches(values)),
            Filter::Not(inner) => !inner.matches(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attr: &str) -> Vec<String> {
        match attr {
            "name" => vec!["Ann Lee".into()],
            "email" => vec!["ann@acme.example".into()],
            "status" => vec!["active".into()],
            "assignedRoles.name" => vec!["TenantAdmin".into(), "Steward".into()],
            _ => vec![],
        }
    }

    #[test]
    fn parses_and_matches_case_insensitively() {
        let cases = [
            (r#"name eq "ann lee""#, true),
            (r#"status eq "active" and (name co "LEE" or email co "zzz")"#, true),
            (r#"assignedRoles.name eq 'steward'"#, true),
            (r#"not (status eq "active")"#, false),
            ("email sw \"ANN\" and name ew 'lee'", true),
            ("picture pr", false),
            ("name pr", true),
            (r#"name eq "bob" or status ne "active""#, false),
        ];
        for (text, expected) in cases {
            let filter = Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(filter.matches(&record), expected, "{text}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let filter = Filter::parse(r#"name eq "x" or name eq "ann lee" and status eq "gone""#).unwrap();
        assert!(!filter.matches(&record));
    }

    #[test]
    fn errors_name_their_position() {
        let error = Filter::parse(r#"name eq "ann"#).unwrap_err();
        assert_eq!(error.position, 9, "{error}");
        let error = Filter::parse("name is 'x'").unwrap_err();
        assert!(error.message.contains("unknown operator `is`"), "{error}");
        assert_eq!(error.position, 6);
        assert!(Filter::parse("(name eq 'x'").unwrap_err().message.contains("`)`"));
        assert!(Filter::parse("name eq 'x' junk").is_err());
        assert!(Filter::parse("").is_err());
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    /// Runs `f` on a thread with a test thread's default stack (2 MiB), whatever
    /// `RUST_MIN_STACK` says, so a walk that input can drive too deep overflows here too.
    fn on_test_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("a thread starts")
            .join()
            .expect("no panic");
    }

    #[test]
    fn nesting_is_refused_past_the_limit() {
        let at_limit = format!("{}name pr{}", "(".repeat(MAX_FILTER_DEPTH), ")".repeat(MAX_FILTER_DEPTH));
        assert!(Filter::parse(&at_limit).is_ok());
        let too_deep = format!("{}name pr{}", "(".repeat(MAX_FILTER_DEPTH + 1), ")".repeat(MAX_FILTER_DEPTH + 1));
        let error = Filter::parse(&too_deep).unwrap_err();
        assert!(error.to_string().contains("nests deeper than 64 levels"), "{error}");
        assert_eq!(error.position, MAX_FILTER_DEPTH + 1, "the first `(` too many");
        let nots = format!("{}name pr", "not ".repeat(MAX_FILTER_DEPTH + 1));
        assert!(Filter::parse(&nots).unwrap_err().to_string().contains("nests deeper than 64 levels"));
    }

    #[test]
    fn a_filter_longer_than_the_limit_is_refused_before_parsing() {
        let long = format!("name eq \"{}\"", "a".repeat(MAX_FILTER_BYTES));
        let error = Filter::parse(&long).unwrap_err();
        assert!(error.to_string().contains("filter is longer than 16384 bytes"), "{error}");
    }

    #[test]
    fn attack_inputs_are_refused_and_long_chains_walk_flat() {
        on_test_stack(|| {
            // 20 KB of nested parentheses.
            let nested = format!("{}name pr{}", "(".repeat(10_000), ")".repeat(10_000));
            assert!(Filter::parse(&nested).is_err());
            // 1.2 MB of `name pr and name pr ...`.
            let flat = vec!["name pr"; 100_001].join(" and ");
            assert!(flat.len() >= 1_200_000);
            assert!(Filter::parse(&flat).unwrap_err().to_string().contains("longer than"));
            // The longest chain the limit allows parses, matches, prints and drops without
            // walking one level per term.
            let n = MAX_FILTER_BYTES / "name pr and ".len();
            let chain = vec!["name pr"; n].join(" and ");
            let filter = Filter::parse(&chain).expect("a flat chain within the limit parses");
            assert!(filter.matches(&|_| vec!["x".to_owned()]));
            assert_eq!(filter.attributes().len(), n);
            assert!(format!("{filter:?}").len() > n);
            drop(filter);
            let either = vec!["name pr"; n].join(" or ");
            assert!(!Filter::parse(&either).unwrap().matches(&|_| Vec::new()));
        });
    }
}
