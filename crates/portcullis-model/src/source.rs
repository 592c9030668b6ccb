//! Where a value stands in a YAML file, so that every load error can name its line.
//!
//! Typed decoding (serde) reports positions for structural errors only; semantic checks
//! (an unknown role, a rule that does not parse) happen after decoding, on plain values.
//! They report a [`SourcePath`] such as `tenant.users[0].roles[1]`, and the file layer turns
//! it into a line with the [`LineIndex`] built from the parser's marked events.
//! This module does no IO: it works on text already read.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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
    pub fn build(text: &str) -> Self {
        let mut builder = IndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // Errors are ignored on purpose: see above.
        let _ = parser.load(&mut builder, false);
        LineIndex { positions: builder.positions }
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

impl MarkedEventReceiver for IndexBuilder {
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
