//! The cursor and token matchers of libsinsp's filter parser.
//!
//! libsinsp lexes on demand: each `lex_*` tries one token class at the cursor and, on
//! success, advances the cursor and records the token text in `last` (used by the
//! `unexpected token after '…'` message). The regexes of `parser.cpp` (RE2, POSIX
//! longest match, anchored at the cursor) are hand-coded here; every matcher is linear
//! in the length of what it consumes.

use crate::text::unescape_str;

/// libsinsp `pos_info`: byte index, 1-based line and column. `\n` and `\r` each start
/// a new line (so `\r\n` counts as two lines, as libsinsp does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub idx: usize,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn start() -> Pos {
        Pos {
            idx: 0,
            line: 1,
            col: 1,
        }
    }
}

/// Saved lexer state, for the few places where the grammar backtracks.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pos: Pos,
    tok_end: usize,
    last: String,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pub pos: Pos,
    /// Byte offset just after the last non-blank token consumed (span ends).
    pub tok_end: usize,
    /// libsinsp `m_last_token`.
    pub last: String,
}

/// `lex_blank`'s set: space, `\t`, `\b`, `\r`, `\n`.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

/// POSIX `[[:space:]]`: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_ident_tail(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            src: input.as_bytes(),
            pos: Pos::start(),
            tok_end: 0,
            last: String::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.src.len()
    }

    pub fn at_end(&self) -> bool {
        self.pos.idx >= self.src.len()
    }

    fn rest(&self) -> &'a [u8] {
        self.src.get(self.pos.idx..).unwrap_or(&[])
    }

    pub fn peek(&self) -> Option<u8> {
        self.src.get(self.pos.idx).copied()
    }

    pub fn peek_is_blank(&self) -> bool {
        self.peek().is_some_and(is_blank)
    }

    pub fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            tok_end: self.tok_end,
            last: self.last.clone(),
        }
    }

    pub fn reset(&mut self, m: Mark) {
        self.pos = m.pos;
        self.tok_end = m.tok_end;
        self.last = m.last;
    }

    /// Text of `src[a..b]`. Token boundaries always fall on ASCII bytes or the end of
    /// the input, so this is exact; lossy conversion only guards against misuse.
    pub fn text(&self, a: usize, b: usize) -> String {
        let a = a.min(self.src.len());
        let b = b.clamp(a, self.src.len());
        String::from_utf8_lossy(&self.src[a..b]).into_owned()
    }

    /// libsinsp `update_pos` over `n` bytes from the cursor.
    fn advance_pos(&mut self, n: usize) {
        let end = (self.pos.idx + n).min(self.src.len());
        for &b in &self.src[self.pos.idx..end] {
            self.pos.col = self.pos.col.saturating_add(1);
            if b == b'\r' || b == b'\n' {
                self.pos.col = 1;
                self.pos.line = self.pos.line.saturating_add(1);
            }
        }
        self.pos.idx = end;
    }

    /// Consumes `n` bytes as a token: advances, records it as the last token.
    fn take(&mut self, n: usize) -> bool {
        if n == 0 {
            return false;
        }
        let start = self.pos.idx;
        self.advance_pos(n);
        self.last = self.text(start, self.pos.idx);
        self.tok_end = self.pos.idx;
        true
    }

    /// Skips `[ \t\b\r\n]*`; true if anything was skipped. Does not touch `last`.
    pub fn lex_blank(&mut self) -> bool {
        let n = self.rest().iter().take_while(|&&b| is_blank(b)).count();
        self.advance_pos(n);
        n > 0
    }

    /// `strncmp` prefix match.
    pub fn lex_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.take(s.len())
        } else {
            false
        }
    }

    /// `not[[:space:]]+`
    pub fn lex_not_blank(&mut self) -> bool {
        let r = self.rest();
        if !r.starts_with(b"not") {
            return false;
        }
        let n = r[3..].iter().take_while(|&&b| is_space(b)).count();
        if n == 0 {
            return false;
        }
        self.take(3 + n)
    }

    fn ident_len(r: &[u8]) -> usize {
        match r.first() {
            Some(&b) if is_alpha(b) => 1 + r[1..].iter().take_while(|&&b| is_ident_tail(b)).count(),
            _ => 0,
        }
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*`
    pub fn lex_identifier(&mut self) -> bool {
        let n = Self::ident_len(self.rest());
        self.take(n)
    }

    /// Length of the identifier at the cursor without consuming it.
    pub fn peek_identifier(&self) -> Option<&'a [u8]> {
        let r = self.rest();
        let n = Self::ident_len(r);
        (n > 0).then(|| &r[..n])
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`
    pub fn lex_field_name(&mut self) -> bool {
        let r = self.rest();
        let mut n = Self::ident_len(r);
        if n == 0 {
            return false;
        }
        let mut segments = 0;
        while r.get(n) == Some(&b'.') {
            let seg = Self::ident_len(&r[n + 1..]);
            if seg == 0 {
                break;
            }
            n += 1 + seg;
            segments += 1;
        }
        if segments == 0 {
            return false;
        }
        self.take(n)
    }

    /// `[^][\"'[:space:]]+`
    pub fn lex_field_arg_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_space(b))
            .count();
        self.take(n)
    }

    /// `0[xX][0-9a-fA-F]+`
    pub fn lex_hex_num(&mut self) -> bool {
        let r = self.rest();
        if r.len() < 3 || r[0] != b'0' || !matches!(r[1], b'x' | b'X') {
            return false;
        }
        let n = r[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if n == 0 {
            return false;
        }
        self.take(2 + n)
    }

    /// `[+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?` (longest match)
    pub fn lex_num(&mut self) -> bool {
        let r = self.rest();
        let digits = |from: usize| {
            r[from.min(r.len())..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let mut n = 0;
        if matches!(r.first(), Some(b'+' | b'-')) {
            n = 1;
        }
        let d = digits(n);
        if d == 0 {
            return false;
        }
        n += d;
        if r.get(n) == Some(&b'.') {
            n += 1;
        }
        n += digits(n);
        if matches!(r.get(n), Some(b'e' | b'E')) && matches!(r.get(n + 1), Some(b'+' | b'-')) {
            let e = digits(n + 2);
            if e > 0 {
                n += 2 + e;
            }
        }
        self.take(n)
    }

    /// `[^()\"'[:space:]=,]+`
    pub fn lex_bare_str(&mut self) -> bool {
        let n = self
            .rest()
            .iter()
            .take_while(|&&b| {
                !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(b)
            })
            .count();
        self.take(n)
    }

    /// A quoted string: scan to the first delimiter whose previous byte is not a
    /// backslash (a NUL byte ends the scan, as the C string does), then unescape.
    /// On success `last` is the unescaped value. If no closing delimiter is found the
    /// cursor is restored and `last` keeps the scanned text (libsinsp does the same).
    /// Unescape errors are returned with the cursor after the closing delimiter.
    pub fn lex_quoted_str(&mut self) -> Result<bool, String> {
        let r = self.rest();
        let delim = match r.first() {
            Some(&d @ (b'\'' | b'"')) => d,
            _ => return Ok(false),
        };
        let mut prev = b'\\';
        let mut close = None;
        for (i, &c) in r.iter().enumerate() {
            if c == 0 {
                break;
            }
            if c == delim && prev != b'\\' {
                close = Some(i);
                break;
            }
            prev = c;
        }
        let Some(close) = close else {
            let scanned = r.iter().take_while(|&&c| c != 0).count();
            self.last = String::from_utf8_lossy(&r[..scanned]).into_owned();
            return Ok(false);
        };
        let raw = &r[..=close];
        self.advance_pos(close + 1);
        self.tok_end = self.pos.idx;
        self.last = String::from_utf8_lossy(raw).into_owned();
        let value = unescape_str(raw)?;
        self.last = match String::from_utf8(value) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(true)
    }

    /// libsinsp `lex_helper_operator_list`: operators written with a trailing space
    /// must be followed by a blank; when the word matches but no blank follows, the
    /// cursor stays after the word and no further operator is tried.
    /// Returns the index of the operator matched in `ops`.
    pub fn lex_operator_list(&mut self, ops: &[&str]) -> Option<usize> {
        for (i, op) in ops.iter().enumerate() {
            match op.strip_suffix(' ') {
                None => {
                    if self.lex_str(op) {
                        return Some(i);
                    }
                }
                Some(word) => {
                    if self.lex_str(word) {
                        return self.lex_blank().then_some(i);
                    }
                }
            }
        }
        None
    }

    /// `strncmp` against a list, first match wins; returns the index.
    pub fn lex_str_list(&mut self, list: &[&str]) -> Option<usize> {
        list.iter().position(|s| self.lex_str(s))
    }
}
