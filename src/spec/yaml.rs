//! A YAML 1.2 reader that keeps the position of every node.
//!
//! Built on `saphyr-parser`'s event stream. Positions are kept as byte spans so that every
//! diagnostic can point at the offending value (file:line:column with a miette snippet).
//! Aliases are expanded with a budget, so "billion laughs" documents fail fast instead of
//! exhausting memory, and nesting depth is bounded.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Deepest nesting of mappings and sequences accepted in a document.
pub const MAX_DEPTH: usize = 64;

/// Index of a file in a [`crate::spec::Sources`] table.
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// First byte (inclusive).
    pub start: u32,
    /// Last byte (exclusive).
    pub end: u32,
}

impl Span {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        (self.end.saturating_sub(self.start)) as usize
    }

    /// True for an empty span.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value was written.
    pub span: Span,
    /// Earlier values this one replaced when layers were merged (fleet defaults, then
    /// profiles, then the host), oldest first. Empty outside merged trees.
    pub overrode: Vec<Span>,
}

/// A YAML value (core schema).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<Entry>),
}

/// One key/value pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key, as text.
    pub key: String,
    /// Where the key was written.
    pub key_span: Span,
    /// The value.
    pub value: Node,
}

impl Node {
    /// A node with no history.
    pub fn new(value: Value, span: Span) -> Self {
        Self {
            value,
            span,
            overrode: Vec::new(),
        }
    }

    /// The mapping entry `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The mapping entry `key` with its key span.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the value's type, for messages (`string`, `mapping`, ...).
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }

    /// Number of nodes in this tree (this one included).
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|e| e.value.count()).sum(),
            _ => 0,
        }
    }

    /// Converts to JSON (for schema validation and typed deserialization). Non-finite
    /// floats become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Value {
    /// A short name of the type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}

/// A YAML document: its root and the span of the whole document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The root node.
    pub root: Node,
    /// 0-based index of the document in its file.
    pub index: usize,
}

/// Why a file could not be read as YAML. Spans are byte ranges in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum YamlError {
    /// The scanner or parser rejected the text.
    Syntax {
        /// What the parser said.
        message: String,
        /// Where.
        span: Span,
    },
    /// A mapping key that is not a scalar.
    ComplexKey {
        /// Where.
        span: Span,
    },
    /// The same key twice in one mapping.
    DuplicateKey {
        /// The key.
        key: String,
        /// The second occurrence.
        span: Span,
        /// The first occurrence.
        first: Span,
    },
    /// An alias to an anchor that was not defined before it.
    UnknownAnchor {
        /// Where.
        span: Span,
    },
    /// Alias expansion would exceed the node budget (a "billion laughs" document).
    AliasBudget {
        /// The alias that crossed the budget.
        span: Span,
        /// The budget, in nodes.
        budget: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The collection that crossed the limit.
        span: Span,
    },
}

/// Converts character indexes (what the parser reports) into byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    /// Byte offset of every char boundary; only built for non-ASCII text.
    table: Vec<u32>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let ascii = text.is_ascii();
        let table = if ascii {
            Vec::new()
        } else {
            let mut t: Vec<u32> = text.char_indices().map(|(i, _)| i as u32).collect();
            t.push(text.len() as u32);
            t
        };
        Self { text, ascii, table }
    }

    fn byte(&self, char_index: usize) -> u32 {
        if self.ascii {
            char_index.min(self.text.len()) as u32
        } else {
            self.table
                .get(char_index)
                .copied()
                .unwrap_or(self.text.len() as u32)
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: u32,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        pending_key: Option<(String, Span)>,
        /// Key -> key span, built once the mapping is large (duplicate checks stay linear
        /// overall instead of quadratic in the number of keys).
        index: Option<HashMap<String, Span>>,
        start: u32,
        anchor: usize,
    },
}

/// Mappings with at least this many keys look duplicates up in a hash index.
const KEY_INDEX_FROM: usize = 16;

/// Parses every document of `text` (file `file`). `node_budget` bounds the total number of
/// nodes, aliases expanded, per file.
///
/// # Errors
/// The first [`YamlError`] met; a file with a syntax error yields no documents.
pub fn parse(text: &str, file: FileId, node_budget: usize) -> Result<Vec<Document>, YamlError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let span_of = |s: &saphyr_parser::Span| Span {
        file,
        start: offsets.byte(s.start.index()),
        end: offsets.byte(s.end.index()),
    };

    while let Some(next) = parser.next_event() {
        let (event, raw_span) = match next {
            Ok(ev) => ev,
            Err(e) => {
                let at = clamp_to_text(text, offsets.byte(e.marker().index()));
                let end = next_char_end(text, at);
                return Err(YamlError::Syntax {
                    message: e.info().to_string(),
                    span: Span {
                        file,
                        start: at,
                        end,
                    },
                });
            }
        };
        let span = span_of(&raw_span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                let index = docs.len();
                let root = root.take().unwrap_or_else(|| Node::new(Value::Null, span));
                docs.push(Document { root, index });
                None
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(YamlError::UnknownAnchor { span });
                };
                nodes += target.count();
                if nodes > node_budget {
                    return Err(YamlError::AliasBudget {
                        span,
                        budget: node_budget,
                    });
                }
                Some((target.clone(), 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                nodes += 1;
                if nodes > node_budget {
                    return Err(YamlError::AliasBudget {
                        span,
                        budget: node_budget,
                    });
                }
                let is_str_tag = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let v = if style == ScalarStyle::Plain && !is_str_tag {
                    resolve_plain(&value)
                } else {
                    Value::Str(value.into_owned())
                };
                Some((Node::new(v, span), anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::TooDeep { span });
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: span.start,
                    anchor,
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError::TooDeep { span });
                }
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    index: None,
                    start: span.start,
                    anchor,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    start,
                    anchor,
                }) => {
                    nodes += 1;
                    // A flow sequence ends at its `]` (a non-empty end event); a block
                    // sequence at its last item (its end event is empty and may sit lines
                    // further down).
                    let end = if span.is_empty() {
                        items.last().map_or(span.end, |n| n.span.end.max(start))
                    } else {
                        span.end
                    };
                    Some((
                        Node::new(
                            Value::Seq(items),
                            Span {
                                file,
                                start,
                                end: end.max(start),
                            },
                        ),
                        anchor,
                    ))
                }
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    start,
                    anchor,
                    ..
                }) => {
                    nodes += 1;
                    // As for sequences: a flow mapping ends at its `}`.
                    let end = if span.is_empty() {
                        entries
                            .last()
                            .map_or(span.end, |e| e.value.span.end.max(start))
                    } else {
                        span.end
                    };
                    Some((
                        Node::new(
                            Value::Map(entries),
                            Span {
                                file,
                                start,
                                end: end.max(start),
                            },
                        ),
                        anchor,
                    ))
                }
                _ => None,
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                index,
                ..
            }) => match pending_key.take() {
                None => {
                    let key = match &node.value {
                        Value::Str(s) => s.clone(),
                        Value::Null => "null".to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError::ComplexKey { span: node.span });
                        }
                    };
                    let key_text = slice(text, node.span).trim();
                    let key = if key_text.is_empty() || matches!(node.value, Value::Str(_)) {
                        key
                    } else {
                        key_text.to_string()
                    };
                    if index.is_none() && entries.len() >= KEY_INDEX_FROM {
                        *index = Some(
                            entries
                                .iter()
                                .map(|e| (e.key.clone(), e.key_span))
                                .collect(),
                        );
                    }
                    let first = match index {
                        Some(index) => index.get(&key).copied(),
                        None => entries.iter().find(|e| e.key == key).map(|e| e.key_span),
                    };
                    if let Some(first) = first {
                        return Err(YamlError::DuplicateKey {
                            key,
                            span: node.span,
                            first,
                        });
                    }
                    *pending_key = Some((key, node.span));
                }
                Some((key, key_span)) => {
                    if let Some(index) = index {
                        index.insert(key.clone(), key_span);
                    }
                    entries.push(Entry {
                        key,
                        key_span,
                        value: node,
                    });
                }
            },
        }
    }
    Ok(docs)
}

fn slice(text: &str, span: Span) -> &str {
    text.get(span.start as usize..span.end as usize)
        .unwrap_or_default()
}

/// An error at the end of the input (an unclosed bracket) is reported at the end of the
/// last line written, not past the end of the file where no snippet can show it.
fn clamp_to_text(text: &str, at: u32) -> u32 {
    let written = text.trim_end().len() as u32;
    if at > written && written > 0 {
        written
    } else {
        at
    }
}

fn next_char_end(text: &str, at: u32) -> u32 {
    let at = at as usize;
    match text.get(at..).and_then(|rest| rest.chars().next()) {
        Some(c) => (at + c.len_utf8()) as u32,
        None => at as u32,
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema (`null`, booleans, integers in
/// decimal / `0o` / `0x`, floats, `.inf`, `.nan`); anything else is a string. YAML 1.1
/// spellings such as `On`, `yes` stay strings.
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let bytes = s.as_bytes();
    let int_like = {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if int_like && let Ok(i) = s.parse::<i64>() {
        return Value::Int(i);
    }
    let float_like = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && bytes.iter().any(u8::is_ascii_digit);
    if float_like && let Ok(f) = s.parse::<f64>() {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse(text, 0, 10_000).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0).root
    }

    #[test]
    fn spans_point_at_values() {
        let text = "a: 1\nb:\n  c: hello\n";
        let root = one(text);
        let c = root.get("b").unwrap().get("c").unwrap();
        assert_eq!(&text[c.span.start as usize..c.span.end as usize], "hello");
        let key = root.get("b").unwrap().entry("c").unwrap().key_span;
        assert_eq!(&text[key.start as usize..key.end as usize], "c");
    }

    #[test]
    fn flow_collections_span_their_brackets() {
        let text = "a: [x, y]\nb: {c: 1}\nd:\n  - z\n\n# comment\ne: 1\n";
        let root = one(text);
        let s = |n: &Node| &text[n.span.start as usize..n.span.end as usize];
        assert_eq!(s(root.get("a").unwrap()), "[x, y]");
        assert_eq!(s(root.get("b").unwrap()), "{c: 1}");
        assert_eq!(s(root.get("d").unwrap()), "- z");
    }

    #[test]
    fn spans_are_bytes_in_non_ascii_text() {
        let text = "d: \"ünïcødé\"\ne: x\n";
        let root = one(text);
        let e = root.get("e").unwrap();
        assert_eq!(&text[e.span.start as usize..e.span.end as usize], "x");
    }

    #[test]
    fn core_schema_scalars() {
        let root = one("a: On\nb: true\nc: 0x10\nd: 1.5\ne: ~\nf: '12'\ng: 012\n");
        assert_eq!(root.get("a").unwrap().value, Value::Str("On".into()));
        assert_eq!(root.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(root.get("c").unwrap().value, Value::Int(16));
        assert_eq!(root.get("d").unwrap().value, Value::Float(1.5));
        assert_eq!(root.get("e").unwrap().value, Value::Null);
        assert_eq!(root.get("f").unwrap().value, Value::Str("12".into()));
        assert_eq!(root.get("g").unwrap().value, Value::Int(12));
    }

    #[test]
    fn multi_document_and_duplicate_keys() {
        let docs = parse("a: 1\n---\nb: 2\n", 0, 100).unwrap();
        assert_eq!(docs.len(), 2);
        let err = parse("a: 1\na: 2\n", 0, 100).unwrap_err();
        assert!(matches!(err, YamlError::DuplicateKey { ref key, .. } if key == "a"));
        // Also in a mapping large enough to use the key index.
        let mut big: String = (0..100).map(|i| format!("k{i}: {i}\n")).collect();
        big.push_str("k7: again\n");
        let err = parse(&big, 0, 1000).unwrap_err();
        let YamlError::DuplicateKey { key, span, first } = err else {
            panic!("{err:?}");
        };
        assert_eq!(key, "k7");
        assert_eq!(&big[first.start as usize..first.end as usize], "k7");
        assert_eq!(span.start as usize, big.rfind("k7").unwrap());
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='j' {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let err = parse(&text, 0, 100_000).unwrap_err();
        assert!(matches!(err, YamlError::AliasBudget { .. }), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            parse(&text, 0, 100_000).unwrap_err(),
            YamlError::TooDeep { .. }
        ));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("a: [1, 2\nb: 3\n", 0, 100).unwrap_err();
        assert!(matches!(err, YamlError::Syntax { .. }));
    }

    #[test]
    fn syntax_error_at_end_of_input_points_at_the_last_line() {
        let text = "a: [1, 2\n\n";
        let Err(YamlError::Syntax { span, .. }) = parse(text, 0, 100) else {
            panic!("expected a syntax error");
        };
        assert_eq!(span.start, 8, "{span:?}");
        assert!(span.end as usize <= text.len());
    }
}
