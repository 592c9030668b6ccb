//! Where a value stands in a YAML file, so that every load error can name its line.
//!
//! Typed decoding (serde) reports positions for structural errors only; semantic checks
//! (an unknown role, a rule that does not parse) happen after decoding, on plain values.
//! They report a [`SourcePath`] such as `tenant.users[0].roles[1]`, and the file layer turns
//! it into a line with the [`LineIndex`] built from the parser's marked events.
//! This module does no IO: it works on text already read.
//!
//! [`check_yaml`] bounds a document before it is decoded: nesting deeper than
//! [`MAX_YAML_DEPTH`] levels, or aliases that would add more than [`MAX_ALIAS_NODES`] nodes
//! (a "billion laughs"), are refused with their line. It reads the parser's events in a loop,
//! and so does [`LineIndex::build`]; neither recurses per level of the document.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

use crate::err::LimitError;

/// The deepest nesting of mappings and sequences a YAML file may have.
pub const MAX_YAML_DEPTH: usize = 64;

/// How many nodes aliases may add to a YAML document when they are expanded.
pub const MAX_ALIAS_NODES: u64 = 100_000;

/// A dotted path to a node of a YAML document: `tenant.users[0].roles[1]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourcePath(String);

impl SourcePath {
    /// The document root.
    pub fn root() -> Self {
        SourcePath(String::new())
    }

    /// The path of a mapping entry below this one.
    pub fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            SourcePath(key.to_owned())
        } else {
            SourcePath(format!("{}.{key}", self.0))
        }
    }

    /// The path of a sequence item below this one.
    pub fn index(&self, index: usize) -> Self {
        SourcePath(format!("{}[{index}]", self.0))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest enclosing path (`a.b[2]` → `a.b`, `a.b` → `a`), or `None` at the root.
    pub fn parent(&self) -> Option<SourcePath> {
        if self.0.is_empty() {
            return None;
        }
        let cut = self.0.rfind(['.', '[']).unwrap_or(0);
        Some(SourcePath(self.0[..cut].to_owned()))
    }
}

impl fmt::Display for SourcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(document)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A line and column, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Maps every node of a YAML document to the position where it starts.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    positions: HashMap<String, LineCol>,
}

impl LineIndex {
    /// Index a document. A document that does not parse yields an empty index: the typed
    /// decoder reports the syntax error with its own position.
    /// Nodes nested deeper than [`MAX_YAML_DEPTH`] are not indexed (their paths fall back to
    /// the deepest indexed ancestor).
    pub fn build(text: &str) -> Self {
        let mut builder = IndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // Errors end the index on purpose: see above.
        while let Ok((event, mark)) = parser.next_token() {
            if event == Event::StreamEnd || builder.stack.len() > MAX_YAML_DEPTH {
                break;
            }
            builder.on_event(event, mark);
        }
        LineIndex {
            positions: builder.positions,
        }
    }

    /// The position of `path`, or of its nearest indexed ancestor.
    pub fn locate(&self, path: &SourcePath) -> Option<LineCol> {
        let mut current = Some(path.clone());
        while let Some(p) = current {
            if let Some(pos) = self.positions.get(p.as_str()) {
                return Some(*pos);
            }
            current = p.parent();
        }
        None
    }
}

enum Frame {
    Mapping { key: Option<String> },
    Sequence { next_index: usize },
}

#[derive(Default)]
struct IndexBuilder {
    stack: Vec<(SourcePath, Frame)>,
    positions: HashMap<String, LineCol>,
}

impl IndexBuilder {
    /// The path of the node that the next value event starts, advancing the parent frame.
    fn next_value_path(&mut self) -> Option<SourcePath> {
        let (path, frame) = self.stack.last_mut()?;
        match frame {
            Frame::Mapping { key } => key.take().map(|k| path.key(&k)),
            Frame::Sequence { next_index } => {
                let p = path.index(*next_index);
                *next_index += 1;
                Some(p)
            }
        }
    }

    fn record(&mut self, path: &SourcePath, mark: Marker) {
        self.positions.entry(path.as_str().to_owned()).or_insert(LineCol {
            line: mark.line(),
            column: mark.col() + 1,
        });
    }

    /// True when the next scalar is a mapping key rather than a value.
    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some((_, Frame::Mapping { key: None })))
    }
}

impl IndexBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, ..) if self.expects_key() => {
                if let Some((path, Frame::Mapping { key })) = self.stack.last_mut() {
                    let key_path = path.key(&value);
                    *key = Some(value);
                    self.record(&key_path, mark);
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                if let Some(path) = self.next_value_path() {
                    self.record(&path, mark);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = if self.stack.is_empty() {
                    SourcePath::root()
                } else {
                    self.next_value_path().unwrap_or_default()
                };
                self.record(&path, mark);
                let frame = if matches!(event, Event::MappingStart(..)) {
                    Frame::Mapping { key: None }
                } else {
                    Frame::Sequence { next_index: 0 }
                };
                self.stack.push((path, frame));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// A YAML document that cannot be decoded: a limit it exceeds, or the decoder's own error.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Over a limit; found before decoding.
    #[error("{at}: {limit}")]
    Limit {
        /// Where the limit is first exceeded.
        at: LineCol,
        /// Which limit.
        limit: LimitError,
    },
    /// Text the decoder reads but the check's parser does not, so it cannot be bounded: it is
    /// refused rather than decoded unchecked.
    #[error("{at}: the document cannot be checked: {message}")]
    Unchecked {
        /// Where the check's parser stopped.
        at: LineCol,
        /// Why it stopped.
        message: String,
    },
    /// Not YAML, or not of the expected shape (the decoder's message, with its position).
    #[error(transparent)]
    Decode(#[from] serde_norway::Error),
}

impl YamlError {
    /// Where the problem is, when known.
    pub fn location(&self) -> Option<LineCol> {
        match self {
            YamlError::Limit { at, .. } | YamlError::Unchecked { at, .. } => Some(*at),
            YamlError::Decode(error) => error.location().map(|l| LineCol {
                line: l.line(),
                column: l.column(),
            }),
        }
    }

    /// The problem without its position.
    pub fn message(&self) -> String {
        match self {
            YamlError::Limit { limit, .. } => limit.to_string(),
            YamlError::Unchecked { message, .. } => format!("the document cannot be checked: {message}"),
            YamlError::Decode(error) => {
                let message = error.to_string();
                match message.rfind(" at line ") {
                    Some(cut) => message[..cut].to_owned(),
                    None => message,
                }
            }
        }
    }

    /// What to do about it, when there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            YamlError::Limit { limit, .. } => Some(limit.hint()),
            YamlError::Unchecked { .. } => Some("write it in plainer YAML: block mappings and sequences, plain or quoted scalars".to_owned()),
            YamlError::Decode(_) => None,
        }
    }
}

fn line_col(mark: Marker) -> LineCol {
    LineCol {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Checks a YAML document against [`MAX_YAML_DEPTH`] and [`MAX_ALIAS_NODES`] before it is
/// decoded, reading its events once, with memory in proportion to its depth and anchors.
///
/// A document that does not parse is refused with the decoder's own syntax error (the decoder
/// is never run on text the check has not read whole). Text that only the decoder reads
/// cannot be bounded and is refused as [`YamlError::Unchecked`].
pub fn check_yaml(text: &str) -> Result<(), YamlError> {
    // Open collections: their anchor and how many nodes they hold so far (aliases expanded).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut anchored: HashMap<usize, u64> = HashMap::new();
    let mut added: u64 = 0;
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(error) => {
                // Skipping a document expands no alias and does not recurse: this only asks
                // the decoder's parser whether the text is YAML, and for its own message.
                serde_norway::from_str::<serde::de::IgnoredAny>(text)?;
                let at = LineCol {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                };
                return Err(YamlError::Unchecked {
                    at,
                    message: error.info().to_owned(),
                });
            }
        };
        let nodes = match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() == MAX_YAML_DEPTH {
                    let limit = LimitError::TooDeep {
                        what: "the YAML document",
                        limit: MAX_YAML_DEPTH,
                    };
                    return Err(YamlError::Limit { at: line_col(mark), limit });
                }
                open.push((anchor, 1));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((anchor, nodes)) = open.pop() else { continue };
                if anchor != 0 {
                    anchored.insert(anchor, nodes);
                }
                nodes
            }
            Event::Scalar(_, _, anchor, _) => {
                if anchor != 0 {
                    anchored.insert(anchor, 1);
                }
                1
            }
            Event::Alias(anchor) => {
                // An alias of a collection still open (a cycle) counts as one node; the
                // decoder refuses the recursion it would need.
                let nodes = anchored.get(&anchor).copied().unwrap_or(1);
                added = added.saturating_add(nodes);
                if added > MAX_ALIAS_NODES {
                    return Err(YamlError::Limit {
                        at: line_col(mark),
                        limit: LimitError::AliasExpansion { limit: MAX_ALIAS_NODES },
                    });
                }
                nodes
            }
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => continue,
        };
        if let Some((_, parent)) = open.last_mut() {
            *parent = parent.saturating_add(nodes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_items_by_path() {
        let text = "name: x\ntenant:\n  users:\n    - { id: ann, roles: [A, B] }\n    - id: bob\n      roles:\n        - C\n";
        let index = LineIndex::build(text);
        let root = SourcePath::root();
        let users = root.key("tenant").key("users");
        assert_eq!(index.locate(&users.index(0).key("roles").index(1)).map(|p| p.line), Some(4));
        assert_eq!(index.locate(&users.index(1).key("id")).map(|p| p.line), Some(5));
        assert_eq!(index.locate(&users.index(1).key("roles").index(0)).map(|p| p.line), Some(7));
        // An unknown child falls back to its nearest known ancestor.
        assert_eq!(index.locate(&users.index(1).key("missing")).map(|p| p.line), Some(5));
    }

    #[test]
    fn parent_walks_up() {
        let p = SourcePath::root().key("a").index(2).key("b");
        assert_eq!(p.as_str(), "a[2].b");
        assert_eq!(p.parent().unwrap().as_str(), "a[2]");
        assert_eq!(p.parent().unwrap().parent().unwrap().as_str(), "a");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("a: {}x{}\n", "[".repeat(levels - 1), "]".repeat(levels - 1))
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_is_refused_where_it_starts() {
        assert!(check_yaml(&nested(MAX_YAML_DEPTH)).is_ok());
        let error = check_yaml(&nested(MAX_YAML_DEPTH + 1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("1:{}: the YAML document nests deeper than 64 levels", MAX_YAML_DEPTH + 3)
        );
        let block = format!("a:\n  {}x\n", "- ".repeat(MAX_YAML_DEPTH));
        assert!(check_yaml(&block).unwrap_err().to_string().starts_with("2:"));
    }

    #[test]
    fn aliases_are_counted_as_expanded() {
        // Each level doubles the one before: the last alias alone stands for 2^20 nodes.
        let mut text = String::from("l0: &l0 [x, x]\n");
        for level in 1..=20 {
            text.push_str(&format!("l{level}: &l{level} [*l{}, *l{}]\n", level - 1, level - 1));
        }
        let error = check_yaml(&text).unwrap_err();
        assert!(
            matches!(
                error,
                YamlError::Limit {
                    limit: LimitError::AliasExpansion { .. },
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("aliases expand to more than 100000 nodes"), "{error}");
        // Ordinary use of anchors passes, and so does an alias of a collection still open.
        assert!(check_yaml("base: &b { a: 1, b: [1, 2] }\none: *b\ntwo: *b\n").is_ok());
        let _ = check_yaml("a: &a [1, *a]\n");
    }

    #[test]
    fn a_document_that_is_not_yaml_gets_the_decoders_message() {
        let error = check_yaml("users:\n  - { id: ann\n").unwrap_err();
        assert!(matches!(error, YamlError::Decode(_)), "{error}");
        assert!(error.location().is_some());
        assert!(check_yaml("").is_ok());
        assert!(check_yaml("a: 1\n---\nb: 2\n").is_ok(), "several documents are the decoder's to refuse");
    }

    #[test]
    fn a_deep_document_is_indexed_without_recursing_per_level() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let deep = format!("a:\n  {}x\n", "- ".repeat(200_000));
                let index = LineIndex::build(&deep);
                assert!(index.locate(&SourcePath::root().key("a")).is_some());
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
