//! Stage 1a: YAML documents with positions.
//!
//! Falco reads rule files with yaml-cpp (`YAML::LoadAll`). We parse with `saphyr-parser`
//! (the event parser under `saphyr`) and build our own small tree so that every node keeps
//! its source span and scalar style, scalars keep their *text* (Falco never types them:
//! `0644` stays `0644`), and duplicate keys keep yaml-cpp's lookup rule (the first one wins).
//!
//! # The yaml-cpp "second document" quirk
//!
//! yaml-cpp does not require `---` between documents: once the root node of a document is
//! complete, any further tokens start a new document. So a column-0 `priority: WARNING`
//! after a column-0 block sequence (the seed rule's mistake) is *not* a parse error for
//! Falco: it yields a second document `{priority: WARNING}`. A conforming parser (saphyr,
//! PyYAML) reports "did not find expected '-' indicator" there. We mirror yaml-cpp: when
//! the parser fails at column 0 of a line while only the root block sequence is open,
//! the root is closed, the document ends, and parsing restarts at that line as a new
//! document. The new [`Document`] is flagged [`Document::implicit_split`] so the loader
//! can explain what happened. Any other syntax error is a `LOAD_ERR_YAML_PARSE`.
//!
//! # Bounds
//!
//! Nesting depth is capped at [`MAX_DEPTH`] and the number of nodes (aliases are copied)
//! at [`MAX_NODES`]; exceeding either is a parse error, never a panic or a blow-up.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// Maximum nesting depth of YAML collections.
pub const MAX_DEPTH: usize = 200;
/// Maximum number of nodes in one file, counting alias copies.
pub const MAX_NODES: usize = 2_000_000;

/// A position in a file: byte offset, 0-based line, 0-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Pos {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
}

/// A range of source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    #[default]
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl From<ScalarStyle> for Style {
    fn from(s: ScalarStyle) -> Style {
        match s {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        }
    }
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null`, `Null`, `NULL` or nothing (plain).
    Null,
    /// Any other scalar, as text.
    Scalar(String),
    Seq(Vec<Node>),
    /// Key/value pairs in document order; duplicates are kept.
    Map(Vec<(Node, Node)>),
}

/// A YAML node with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    pub style: Style,
}

impl Node {
    fn null(span: Span) -> Node {
        Node {
            value: Value::Null,
            span,
            style: Style::Plain,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar text, if this node is a (non-null) scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// yaml-cpp's `node[key]`: the value of the first entry whose key is the scalar `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// The first `(key, value)` entry whose key is the scalar `key`.
    pub fn get_entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// A short word for the node kind, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Scalar(_) => "scalar",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}

/// One YAML document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Node,
    /// This document was started by the yaml-cpp quirk (see the module docs), at `root.span.start`.
    pub implicit_split: bool,
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// Falco-style text: `yaml-cpp: error at line L, column C: <what>`.
    pub message: String,
    /// The parser's own description, without position.
    pub what: String,
    pub pos: Pos,
}

/// Maps (line, column-in-chars) to byte offsets.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// Byte offset of a 0-based line and 0-based character column (clamped into the text).
    pub fn offset(&self, src: &str, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line) else {
            return src.len();
        };
        let end = self.starts.get(line + 1).copied().unwrap_or(src.len());
        let text = src.get(start..end).unwrap_or("");
        match text.char_indices().nth(col) {
            Some((i, _)) => start + i,
            None => start + text.len(),
        }
    }

    /// Position of a byte offset (clamped, snapped back to a char boundary).
    pub fn pos(&self, src: &str, offset: usize) -> Pos {
        let mut offset = offset.min(src.len());
        while offset > 0 && !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let start = self.starts[line];
        let col = src.get(start..offset).map_or(0, |s| s.chars().count());
        Pos {
            offset,
            line: line as u32,
            col: col as u32,
        }
    }

    /// The 0-based line's text without its line break.
    pub fn line_text<'a>(&self, src: &'a str, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line) else {
            return "";
        };
        let end = self.starts.get(line + 1).copied().unwrap_or(src.len());
        src.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

fn is_null_plain(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// yaml-cpp's wording for the few errors its users (and Falco's tests) know by heart.
fn yaml_cpp_wording(what: &str) -> String {
    if what.starts_with("mapping values are not allowed") {
        "illegal map value".into()
    } else {
        what.to_string()
    }
}

enum Frame {
    Seq(Vec<Node>, Pos, Option<usize>),
    Map(Vec<(Node, Node)>, Option<Node>, Pos, Option<usize>),
}

struct Builder<'a> {
    src: &'a str,
    idx: &'a LineIndex,
    line_base: usize,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    /// Lines we indented (see [`load_all`]): line → number of spaces added.
    adjust: &'a HashMap<usize, usize>,
}

impl Builder<'_> {
    fn pos(&self, m: saphyr_parser::Marker) -> Pos {
        let line = m.line().saturating_sub(1) + self.line_base;
        let col = m
            .col()
            .saturating_sub(self.adjust.get(&line).copied().unwrap_or(0));
        let offset = self.idx.offset(self.src, line, col);
        Pos {
            offset,
            line: line as u32,
            col: col as u32,
        }
    }
}

fn count_nodes(n: &Node) -> usize {
    // Iterative to stay safe on deep trees.
    let mut stack = vec![n];
    let mut c = 0;
    while let Some(n) = stack.pop() {
        c += 1;
        match &n.value {
            Value::Seq(v) => stack.extend(v.iter()),
            Value::Map(m) => {
                for (k, v) in m {
                    stack.push(k);
                    stack.push(v);
                }
            }
            _ => {}
        }
    }
    c
}

/// Adds a finished node to the innermost open collection, or returns it as a document root.
fn attach(stack: &mut [Frame], node: Node) -> Option<Node> {
    match stack.last_mut() {
        None => Some(node),
        Some(Frame::Seq(items, _, _)) => {
            items.push(node);
            None
        }
        Some(Frame::Map(entries, key, _, _)) => {
            match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            }
            None
        }
    }
}

/// Parses every document of `src` (yaml-cpp's `LoadAll`, with the quirk described above).
///
/// yaml-cpp does not check the indentation of flow collections; saphyr does (a closing
/// `]` at the column of the enclosing key is "invalid indentation" for it, and the
/// upstream sandbox rules file has such lines). On that error we indent the offending
/// line a little more and parse again, translating columns back, up to a bounded number
/// of times.
pub fn load_all(src: &str) -> Result<Vec<Document>, YamlError> {
    let idx = LineIndex::new(src);
    let mut work = src.to_string();
    let mut adjust: HashMap<usize, usize> = HashMap::new();
    let mut first_err: Option<YamlError> = None;
    for _ in 0..MAX_INDENT_FIXES {
        let widx = LineIndex::new(&work);
        let mut docs = Vec::new();
        let mut line_base = 0usize;
        let mut split = false;
        let mut b = Builder {
            src,
            idx: &idx,
            line_base: 0,
            anchors: Default::default(),
            nodes: 0,
            adjust: &adjust,
        };
        let err = loop {
            let start = widx.offset(&work, line_base, 0);
            let sub = &work[start..];
            b.line_base = line_base;
            b.anchors.clear();
            match parse_stream(&mut b, sub, &mut docs, split) {
                Err(e) => break e,
                Ok(None) => return Ok(docs),
                Ok(Some(restart_line)) => {
                    line_base = restart_line;
                    split = true;
                }
            }
        };
        let line = err.pos.line as usize;
        let done = adjust.get(&line).copied().unwrap_or(0);
        if !err.what.contains("invalid indentation") || done >= 32 {
            return Err(first_err.unwrap_or(err));
        }
        first_err.get_or_insert(err);
        let at = widx.offset(&work, line, 0);
        work.insert_str(at, "  ");
        adjust.insert(line, done + 2);
    }
    Err(first_err.unwrap_or_else(|| limit_err(Pos::default(), "too many indentation fixes")))
}

/// How many lines may be re-indented (see [`load_all`]).
const MAX_INDENT_FIXES: usize = 10_000;

/// Parses one stream. `Ok(Some(line))` asks to restart at `line` (the yaml-cpp quirk).
fn parse_stream(
    b: &mut Builder<'_>,
    sub: &str,
    docs: &mut Vec<Document>,
    first_is_split: bool,
) -> Result<Option<usize>, YamlError> {
    let parser = Parser::new_from_str(sub);
    let mut stack: Vec<Frame> = Vec::new();
    let mut first = first_is_split;
    let err = |b: &Builder<'_>, e: &ScanError| {
        let pos = b.pos(*e.marker());
        let what = yaml_cpp_wording(e.info());
        YamlError {
            message: format!(
                "yaml-cpp: error at line {}, column {}: {}",
                pos.line + 1,
                pos.col + 1,
                what
            ),
            what,
            pos,
        }
    };
    for ev in parser {
        let (ev, span) = match ev {
            Ok(x) => x,
            Err(e) => {
                let pos = b.pos(*e.marker());
                let line = b.idx.line_text(b.src, pos.line as usize);
                let first_char = line.chars().next();
                let quirk = pos.col == 0
                    && pos.line as usize > b.line_base
                    && matches!(stack.as_slice(), [Frame::Seq(..)])
                    && first_char.is_some_and(|c| !c.is_whitespace() && c != '-' && c != '#');
                if quirk {
                    if let Some(Frame::Seq(items, start, anchor)) = stack.pop() {
                        let node = Node {
                            value: Value::Seq(items),
                            span: Span { start, end: pos },
                            style: Style::Plain,
                        };
                        if let Some(a) = anchor {
                            b.anchors.insert(a, node.clone());
                        }
                        docs.push(Document {
                            root: node,
                            implicit_split: first,
                        });
                        return Ok(Some(pos.line as usize));
                    }
                }
                return Err(err(b, &e));
            }
        };
        let sp = Span {
            start: b.pos(span.start),
            end: b.pos(span.end),
        };
        let finished: Option<Node> = match ev {
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => None,
            Event::StreamEnd => break,
            Event::DocumentEnd => None,
            Event::Alias(id) => {
                let node = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| Node::null(sp));
                b.nodes += count_nodes(&node);
                if b.nodes > MAX_NODES {
                    return Err(limit_err(sp.start, "too many YAML nodes (alias expansion)"));
                }
                attach(&mut stack, node)
            }
            Event::Scalar(v, style, anchor, _tag) => {
                b.nodes += 1;
                if b.nodes > MAX_NODES {
                    return Err(limit_err(sp.start, "too many YAML nodes"));
                }
                let style = Style::from(style);
                let value = if style == Style::Plain && is_null_plain(&v) {
                    Value::Null
                } else {
                    Value::Scalar(v.into_owned())
                };
                let node = Node {
                    value,
                    span: sp,
                    style,
                };
                if anchor != 0 {
                    b.anchors.insert(anchor, node.clone());
                }
                attach(&mut stack, node)
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(limit_err(
                        sp.start,
                        &format!("YAML nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
                b.nodes += 1;
                let anchor = (anchor != 0).then_some(anchor);
                if matches!(ev, Event::SequenceStart(..)) {
                    stack.push(Frame::Seq(Vec::new(), sp.start, anchor));
                } else {
                    stack.push(Frame::Map(Vec::new(), None, sp.start, anchor));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, start, anchor) = match stack.pop() {
                    Some(Frame::Seq(items, start, a)) => (Value::Seq(items), start, a),
                    Some(Frame::Map(entries, _, start, a)) => (Value::Map(entries), start, a),
                    None => continue,
                };
                let node = Node {
                    value,
                    span: Span { start, end: sp.end },
                    style: Style::Plain,
                };
                if let Some(a) = anchor {
                    b.anchors.insert(a, node.clone());
                }
                attach(&mut stack, node)
            }
        };
        if let Some(root) = finished {
            docs.push(Document {
                root,
                implicit_split: first,
            });
            first = false;
        }
    }
    Ok(None)
}

fn limit_err(pos: Pos, what: &str) -> YamlError {
    YamlError {
        message: format!(
            "yaml-cpp: error at line {}, column {}: {}",
            pos.line + 1,
            pos.col + 1,
            what
        ),
        what: what.to_string(),
        pos,
    }
}

/// For each byte of a scalar's `value`, the byte offset in `src` it came from.
///
/// Works for every style (plain and quoted folding, escapes, block scalars) by aligning
/// the value with the source text of the node: each value character is matched with the
/// next equal source character (a space or line break in the value matches any blank
/// or line break, which is what folding produces), looking ahead a bounded distance; an
/// unmatched character (e.g. from an escape like `\x41`) maps to the current source spot.
pub fn map_scalar_offsets(src: &str, span: Span, value: &str) -> Vec<usize> {
    let start = span.start.offset.min(src.len());
    let end = span.end.offset.clamp(start, src.len());
    let raw = src.get(start..end).unwrap_or("");
    let raw_chars: Vec<(usize, char)> = raw.char_indices().collect();
    let mut out = Vec::with_capacity(value.len());
    let mut j = 0usize;
    const LOOKAHEAD: usize = 64;
    for c in value.chars() {
        let is_blank = |x: char| matches!(x, ' ' | '\t' | '\n' | '\r');
        let mut found = None;
        let mut k = j;
        while k < raw_chars.len() && k < j + LOOKAHEAD {
            let rc = raw_chars[k].1;
            if rc == c || (is_blank(c) && is_blank(rc)) {
                found = Some(k);
                break;
            }
            k += 1;
        }
        let at = match found {
            Some(k) => {
                j = k + 1;
                raw_chars[k].0
            }
            None => raw_chars.get(j).map_or(raw.len(), |x| x.0),
        };
        for _ in 0..c.len_utf8() {
            out.push(start + at);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../tests/data/seed-original.yaml");

    #[test]
    fn scalars_keep_text_and_null() {
        let docs = load_all("a: [1, 0644, \"q\", ~, null, '']\nb:\n").unwrap();
        assert_eq!(docs.len(), 1);
        let a = docs[0].root.get("a").unwrap().as_seq().unwrap();
        assert_eq!(a[0].as_scalar(), Some("1"));
        assert_eq!(a[1].as_scalar(), Some("0644"));
        assert_eq!(a[2].as_scalar(), Some("q"));
        assert!(a[3].is_null() && a[4].is_null());
        assert_eq!(a[5].as_scalar(), Some(""));
        assert!(docs[0].root.get("b").unwrap().is_null());
    }

    #[test]
    fn duplicate_keys_first_wins() {
        let docs = load_all("a: 1\na: 2\n").unwrap();
        assert_eq!(docs[0].root.get("a").unwrap().as_scalar(), Some("1"));
    }

    #[test]
    fn multiple_documents() {
        let docs = load_all("- a: 1\n---\n- b: 2\n---\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[2].root.is_null());
    }

    #[test]
    fn seed_splits_like_yaml_cpp() {
        let docs = load_all(SEED).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].root.as_seq().unwrap().len(), 4);
        assert!(!docs[0].implicit_split);
        assert!(docs[1].implicit_split);
        assert_eq!(
            docs[1].root.get("priority").unwrap().as_scalar(),
            Some("WARNING")
        );
        assert_eq!(docs[1].root.span.start.line, 13);
        assert_eq!(docs[1].root.span.start.col, 0);
    }

    #[test]
    fn real_errors_are_errors() {
        let e = load_all("this : is : not : yaml").unwrap_err();
        assert_eq!(
            e.message,
            "yaml-cpp: error at line 1, column 11: illegal map value"
        );
        assert!(load_all("a: [1, 2\n").is_err());
        // A root map followed by text at column 0 is not the quirk.
        assert!(load_all("a: b\n- c\n").is_err());
    }

    #[test]
    fn flow_indentation_is_lenient_like_yaml_cpp() {
        let src = "- list: l\n  items: [\n    a,\n    b\n  ]\n- list: m\n  items: [c]\n";
        let docs = load_all(src).unwrap();
        let seq = docs[0].root.as_seq().unwrap();
        assert_eq!(seq.len(), 2);
        let b = &seq[0].get("items").unwrap().as_seq().unwrap()[1];
        assert_eq!(b.as_scalar(), Some("b"));
        assert_eq!((b.span.start.line, b.span.start.col), (3, 4));
        assert_eq!(&src[b.span.start.offset..b.span.start.offset + 1], "b");
        let c = &seq[1].get("items").unwrap().as_seq().unwrap()[0];
        assert_eq!(&src[c.span.start.offset..c.span.start.offset + 1], "c");
    }

    #[test]
    fn depth_and_alias_bounds() {
        let deep = "[".repeat(10_000);
        assert!(load_all(&deep).is_err());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let p = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            ));
        }
        assert!(load_all(&bomb).is_err());
    }

    #[test]
    fn positions_are_chars_and_bytes() {
        let src = "k: é\nx: 'ab'\n";
        let docs = load_all(src).unwrap();
        let x = docs[0].root.get("x").unwrap();
        assert_eq!(x.span.start.line, 1);
        assert_eq!(x.span.start.col, 3);
        assert_eq!(&src[x.span.start.offset..x.span.start.offset + 1], "'");
    }

    fn check_map(src: &str, key: &str, want: &[(&str, &str)]) {
        let docs = load_all(src).unwrap();
        let n = docs[0].root.get(key).unwrap();
        let v = n.as_scalar().unwrap();
        let m = map_scalar_offsets(src, n.span, v);
        assert_eq!(m.len(), v.len());
        for (needle, at) in want {
            let i = v.find(needle).unwrap();
            let j = src.find(at).unwrap();
            assert_eq!(m[i], j, "{needle} in {v:?}");
        }
    }

    #[test]
    fn map_offsets_every_style() {
        check_map(
            "c: a and\n   b or c\n",
            "c",
            &[("b or", "b or"), ("c", "c\n")],
        );
        check_map("c: 'it''s x'\n", "c", &[("s x", "s x"), ("x", "x'")]);
        check_map("c: \"q \\\" z\"\n", "c", &[("z", "z\"")]);
        check_map("c: |\n  one\n  two\n", "c", &[("two", "two")]);
        check_map(
            "c: >\n  one\n  two\n\n  three\n",
            "c",
            &[("two", "two"), ("three", "three")],
        );
        check_map("c: >-\n    (a and\n     b)\n", "c", &[("b)", "b)")]);
    }
}
