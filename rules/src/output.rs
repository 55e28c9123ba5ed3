//! Output templates (`%field`, `%field[arg]`, width prefixes, transformers) and Falco's
//! alert formats (text line, JSON object).
//!
//! Template rules (libsinsp `eventformatter.cpp`, as Falco uses it):
//! * a token is `%` + optional decimal width + a field (`proc.name`, `proc.aname[2]`,
//!   `evt.arg.flags`) or a transformer expression (`tolower(proc.name)`); it ends where
//!   the field name (+ `[arg]`) or the transformer's `)` ends;
//! * if the lexed name is not a field, ever shorter dotted prefixes are tried
//!   (`%fd.name.bak` = `%fd.name` + `.bak`);
//! * `%{`, a trailing `%`, or a token that is no field → `invalid formatting token …`
//!   (the text libs ≤ 0.23 and the falcosecurity/testing suite use);
//! * Falco always forces the leading `*`: missing values print `<NA>` (JSON `null`);
//! * a width pads with spaces or truncates to exactly that many bytes.
//!
//! Times are formatted in **UTC** (Falco uses local time for `%evt.time`; tiercel runs in
//! containers where local time is UTC in practice — documented choice).

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use crate::ast::{Span, TransformKind};
use crate::compile::{CompileDiag, CompileDiagKind};
use crate::eval::{value_text, Operand, TArg, TransformNode};
use crate::event::{Event, FieldArg, Value};
use crate::fields::{self, flags, Field, FieldInfo, FieldType};
use crate::priority::Priority;

/// One piece of a template.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Token(Token),
}

#[derive(Debug, Clone)]
struct Token {
    /// As written after `%` and the width (`proc.aname[2]`, `tolower(proc.name)`).
    text: String,
    width: Option<usize>,
    operand: Operand,
    /// `Some` for plain fields (listed in `output_fields`).
    field: Option<(&'static FieldInfo, FieldArg)>,
}

/// A compiled output template.
#[derive(Debug, Clone)]
pub struct OutputFormat {
    pieces: Vec<Piece>,
    /// `output_fields` keys for plain fields inside transformers.
    inner_fields: Vec<(String, Field, FieldArg)>,
}

fn out_err(msg: String) -> CompileDiag {
    CompileDiag {
        kind: CompileDiagKind::Error,
        message: msg,
        span: Span::default(),
    }
}

impl OutputFormat {
    /// Compiles a template; `Err` is a `LOAD_ERR_COMPILE_OUTPUT` error, the `Vec` holds warnings.
    pub fn parse(format: &str) -> Result<(OutputFormat, Vec<CompileDiag>), CompileDiag> {
        let fmt = format.strip_prefix('*').unwrap_or(format);
        let mut pieces = Vec::new();
        let mut inner_fields = Vec::new();
        let mut warnings = Vec::new();
        let mut text = String::new();
        let b = fmt.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                let next = fmt[i..].find('%').map_or(fmt.len(), |k| i + k);
                text.push_str(&fmt[i..next]);
                i = next;
                continue;
            }
            let start = i;
            i += 1;
            let wstart = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let width = if i > wstart {
                fmt[wstart..i].parse::<usize>().ok()
            } else {
                None
            };
            let rest = &fmt[i..];
            if rest.starts_with("container.info") && !is_name_char(rest.as_bytes().get(14)) {
                warnings.push(CompileDiag {
                    kind: CompileDiagKind::Deprecated,
                    message: "%container.info is deprecated and has been removed from the output"
                        .into(),
                    span: Span::default(),
                });
                i += "container.info".len();
                continue;
            }
            let Some((len, tok)) = lex_token(rest, &mut inner_fields)? else {
                return Err(out_err(format!(
                    "invalid formatting token {}",
                    &fmt[start + 1..]
                )));
            };
            if let Some((info, _)) = &tok.field {
                if info.deprecated() {
                    warnings.push(CompileDiag {
                        kind: CompileDiagKind::Deprecated,
                        message: format!(
                            "usage of deprecated field '{}' has been detected in the rule output",
                            info.name
                        ),
                        span: Span::default(),
                    });
                }
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Token(Token { width, ..tok }));
            i += len;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok((
            OutputFormat {
                pieces,
                inner_fields,
            },
            warnings,
        ))
    }

    /// Appends Falco's `suggested_output` extras (` container_id=%container.id …`) for the
    /// suggested fields the template does not already print.
    pub fn with_suggested(mut self) -> OutputFormat {
        for info in fields::suggested() {
            let present = self.pieces.iter().any(|p| {
                matches!(p, Piece::Token(t) if t.field.as_ref().is_some_and(|(i, _)| i.field == info.field))
            });
            if present {
                continue;
            }
            self.pieces
                .push(Piece::Text(format!(" {}=", info.name.replace('.', "_"))));
            self.pieces.push(Piece::Token(Token {
                text: info.name.to_string(),
                width: None,
                operand: Operand::Field {
                    field: info.field,
                    arg: FieldArg::None,
                },
                field: Some((info, FieldArg::None)),
            }));
        }
        self
    }

    /// The fields this template reads.
    pub fn fields(&self) -> Vec<Field> {
        let mut v: Vec<Field> = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Token(t) => t.field.as_ref().map(|(i, _)| i.field),
                Piece::Text(_) => None,
            })
            .chain(self.inner_fields.iter().map(|(_, f, _)| *f))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Renders the template for an event (missing values → `<NA>`).
    pub fn render(&self, ev: &dyn Event) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Token(t) => {
                    let field = t.field.as_ref().map(|(i, _)| i.field);
                    let s = match t.operand.extract(ev) {
                        Some(v) => render_value(field, &v).into_owned(),
                        None => "<NA>".to_string(),
                    };
                    match t.width {
                        Some(w) => out.push_str(&fit(&s, w)),
                        None => out.push_str(&s),
                    }
                }
            }
        }
        out
    }

    /// Falco's `output_fields`: plain-field tokens as written → typed values
    /// (missing → `null`); transformer tokens are omitted, the fields inside them listed.
    pub fn output_fields(&self, ev: &dyn Event) -> Map<String, Json> {
        let mut m = Map::new();
        for p in &self.pieces {
            if let Piece::Token(Token {
                text,
                field: Some((info, arg)),
                ..
            }) = p
            {
                let v = ev.extract(info.field, arg);
                m.insert(text.clone(), json_value(Some(info.field), v.as_ref()));
            }
        }
        for (text, f, arg) in &self.inner_fields {
            let v = ev.extract(*f, arg);
            m.insert(text.clone(), json_value(Some(*f), v.as_ref()));
        }
        m
    }
}

fn is_name_char(b: Option<&u8>) -> bool {
    b.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
}

fn fit(s: &str, w: usize) -> String {
    if s.len() >= w {
        let mut end = w;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    } else {
        format!("{s:<w$}")
    }
}

/// Length of a field name at the start of `s` (`[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+`).
fn lex_field_name(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut segs = 0;
    loop {
        if i < b.len() && b[i].is_ascii_alphabetic() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let _ = st;
            segs += 1;
        } else {
            if segs > 0 && i > 0 && b[i - 1] == b'.' {
                i -= 1;
            }
            break;
        }
        if i < b.len() && b[i] == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_alphabetic() {
            i += 1;
        } else {
            break;
        }
    }
    if segs >= 2 {
        i
    } else {
        0
    }
}

/// `[arg]` at the start of `s`: (length incl. brackets, unescaped arg).
fn lex_arg(s: &str) -> Option<(usize, String)> {
    let rest = s.strip_prefix('[')?;
    if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let body = &rest[1..];
        let end = body.find(q)?;
        let after = &body[end + 1..];
        if !after.starts_with(']') {
            return None;
        }
        return Some((end + 4, body[..end].to_string()));
    }
    let end =
        rest.find(|c: char| c == ']' || c == '[' || c == '"' || c == '\'' || c.is_whitespace())?;
    if end == 0 || !rest[end..].starts_with(']') {
        return None;
    }
    Some((end + 2, rest[..end].to_string()))
}

/// Lexes one token: `Ok(None)` when nothing at `s` is a valid token.
fn lex_token(
    s: &str,
    inner: &mut Vec<(String, Field, FieldArg)>,
) -> Result<Option<(usize, Token)>, CompileDiag> {
    for kind in [
        TransformKind::ToLower,
        TransformKind::ToUpper,
        TransformKind::B64,
        TransformKind::Basename,
        TransformKind::Len,
        TransformKind::Join,
        TransformKind::Concat,
        TransformKind::Getopt,
    ] {
        let name = kind.name();
        if s.starts_with(name) && s[name.len()..].starts_with('(') {
            let Some((len, node)) = lex_transform(s, kind, inner) else {
                return Ok(None);
            };
            return Ok(Some((
                len,
                Token {
                    text: s[..len].to_string(),
                    width: None,
                    operand: Operand::Transform(Box::new(node)),
                    field: None,
                },
            )));
        }
    }
    let Some((len, info, arg)) = lex_plain_field(s) else {
        return Ok(None);
    };
    Ok(Some((
        len,
        Token {
            text: s[..len].to_string(),
            width: None,
            operand: Operand::Field {
                field: info.field,
                arg: arg.clone(),
            },
            field: Some((info, arg)),
        },
    )))
}

/// A field (+ optional `[arg]`), with the shortest-prefix retry.
fn lex_plain_field(s: &str) -> Option<(usize, &'static FieldInfo, FieldArg)> {
    let n = lex_field_name(s);
    if n == 0 {
        return None;
    }
    let arg = lex_arg(&s[n..]);
    if let Some((alen, a)) = &arg {
        if let Ok((info, fa)) = fields::resolve(&s[..n], Some(a)) {
            return Some((n + alen, info, fa));
        }
    }
    let mut end = n;
    loop {
        if let Ok((info, fa)) = fields::resolve(&s[..end], None) {
            return Some((end, info, fa));
        }
        let dot = s[..end].rfind('.')?;
        if !s[..dot].contains('.') {
            return None;
        }
        end = dot;
    }
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while s[i..].starts_with([' ', '\t']) {
        i += 1;
    }
    i
}

fn lex_transform(
    s: &str,
    kind: TransformKind,
    inner: &mut Vec<(String, Field, FieldArg)>,
) -> Option<(usize, TransformNode)> {
    let mut i = kind.name().len() + 1;
    let mut args = Vec::new();
    loop {
        i = skip_ws(s, i);
        let (len, a) = lex_targ(&s[i..], inner)?;
        args.push(a);
        i = skip_ws(s, i + len);
        if s[i..].starts_with(',') {
            i += 1;
            continue;
        }
        if s[i..].starts_with(')') {
            i += 1;
            break;
        }
        return None;
    }
    let mut index = None;
    if let Some((alen, a)) = lex_arg(&s[i..]) {
        if kind == TransformKind::Getopt {
            index = Some(a);
            i += alen;
        }
    }
    Some((i, TransformNode { kind, args, index }))
}

fn lex_targ(s: &str, inner: &mut Vec<(String, Field, FieldArg)>) -> Option<(usize, TArg)> {
    if let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(q)?;
        return Some((end + 2, TArg::Lit(s[1..end + 1].to_string())));
    }
    if let Some(rest) = s.strip_prefix('(') {
        let mut i = 1;
        let mut items = Vec::new();
        let _ = rest;
        loop {
            i = skip_ws(s, i);
            if s[i..].starts_with(')') && items.is_empty() {
                return Some((i + 1, TArg::List(items)));
            }
            let (len, a) = lex_targ(&s[i..], inner)?;
            items.push(a);
            i = skip_ws(s, i + len);
            if s[i..].starts_with(',') {
                i += 1;
            } else if s[i..].starts_with(')') {
                return Some((i + 1, TArg::List(items)));
            } else {
                return None;
            }
        }
    }
    if let Ok(Some((len, tok))) = lex_token(s, inner) {
        if let Some((info, arg)) = &tok.field {
            inner.push((tok.text.clone(), info.field, arg.clone()));
        }
        return Some((len, TArg::Operand(tok.operand)));
    }
    let n = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    if n == 0 {
        return None;
    }
    Some((n, TArg::Lit(s[..n].to_string())))
}

/// A value as Falco prints it in outputs.
pub fn render_value<'a>(field: Option<Field>, v: &'a Value<'_>) -> Cow<'a, str> {
    match (field, v) {
        (Some(f), Value::Time(ns) | Value::U64(ns)) if is_time_string_field(f) => {
            Cow::Owned(format_time_field(f, *ns))
        }
        (Some(f), Value::List(items)) if !f.info().is_list() => match items.first() {
            Some(first) => render_value(Some(f), first).into_owned().into(),
            None => Cow::Borrowed("<NA>"),
        },
        (_, Value::List(items)) => Cow::Owned(format!(
            "({})",
            items
                .iter()
                .map(|i| render_value(None, i).into_owned())
                .collect::<Vec<_>>()
                .join(",")
        )),
        _ => value_text(v),
    }
}

fn is_time_string_field(f: Field) -> bool {
    matches!(
        f,
        Field::EvtTime
            | Field::EvtTimeS
            | Field::EvtTimeIso8601
            | Field::EvtDatetime
            | Field::EvtDatetimeS
            | Field::EvtOutputtime
    )
}

fn format_time_field(f: Field, ns: u64) -> String {
    let c = Civil::from_ns(ns);
    match f {
        Field::EvtTimeS => format!("{:02}:{:02}:{:02}", c.h, c.mi, c.s),
        Field::EvtTimeIso8601 => c.iso8601_offset(),
        Field::EvtDatetime => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
            c.y, c.mo, c.d, c.h, c.mi, c.s, c.ns
        ),
        Field::EvtDatetimeS => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            c.y, c.mo, c.d, c.h, c.mi, c.s
        ),
        _ => c.hms_ns(),
    }
}

fn json_value(field: Option<Field>, v: Option<&Value<'_>>) -> Json {
    let Some(v) = v else { return Json::Null };
    match v {
        Value::Str(s) => Json::String(s.to_string()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::U64(n) | Value::Time(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::Bool(b) => Json::Bool(*b),
        Value::Ip(ip) => Json::String(ip.to_string()),
        Value::Double(d) => Json::from(*d),
        Value::List(items) => match field {
            Some(f) if !f.info().is_list() => json_value(Some(f), items.first()),
            _ => Json::Array(items.iter().map(|i| json_value(None, Some(i))).collect()),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Time formatting (UTC); the calendar is `crate::time`.

/// A UTC calendar time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub y: i64,
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
    pub ns: u32,
}

impl Civil {
    pub fn from_ns(ns: u64) -> Civil {
        let secs = (ns / 1_000_000_000) as i64;
        let sub = (ns % 1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, mo, d) = crate::time::civil_from_days(days);
        Civil {
            y,
            mo,
            d,
            h: sod / 3600,
            mi: sod / 60 % 60,
            s: sod % 60,
            ns: sub,
        }
    }

    /// `HH:MM:SS.nnnnnnnnn` (Falco's `%evt.time`).
    pub fn hms_ns(&self) -> String {
        format!("{:02}:{:02}:{:02}.{:09}", self.h, self.mi, self.s, self.ns)
    }

    /// `2016-08-04T16:17:57.881781397+0000` (Falco's `%evt.time.iso8601`).
    pub fn iso8601_offset(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}+0000",
            self.y, self.mo, self.d, self.h, self.mi, self.s, self.ns
        )
    }

    /// `2016-08-04T16:17:57.881781397Z` (the JSON `time` key).
    pub fn iso8601_z(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            self.y, self.mo, self.d, self.h, self.mi, self.s, self.ns
        )
    }
}

// ---------------------------------------------------------------------------------------
// Alerts.

/// Options of the alert formats (Falco's `json_include_*`, `time_format_iso_8601`).
#[derive(Debug, Clone, Copy)]
pub struct AlertOptions {
    pub time_iso8601: bool,
    pub include_output: bool,
    pub include_tags: bool,
    pub include_message: bool,
    pub include_output_fields: bool,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            time_iso8601: false,
            include_output: true,
            include_tags: true,
            include_message: false,
            include_output_fields: true,
        }
    }
}

/// One alert: a rule matched an event.
#[derive(Debug, Clone)]
pub struct Alert {
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub tags: Vec<String>,
    /// The rendered output template (Falco's `message`).
    pub message: String,
    pub output_fields: Map<String, Json>,
    pub time_ns: u64,
    pub hostname: String,
    pub options: AlertOptions,
}

impl Alert {
    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority output` (or ISO-8601 time).
    pub fn text_line(&self) -> String {
        let c = Civil::from_ns(self.time_ns);
        let t = if self.options.time_iso8601 {
            c.iso8601_offset()
        } else {
            c.hms_ns()
        };
        // The message holds container-controlled values: one alert stays one line, with
        // no terminal controls (`safe_text`); JSON's `message`/`output_fields` stay raw.
        format!(
            "{t}: {} {}",
            self.priority,
            crate::safe_text::escape_line(&self.message)
        )
    }

    /// Falco's JSON object (keys sorted).
    pub fn json(&self) -> Json {
        let mut m = Map::new();
        m.insert("hostname".into(), Json::String(self.hostname.clone()));
        if self.options.include_output {
            m.insert("output".into(), Json::String(self.text_line()));
        }
        if self.options.include_message {
            m.insert("message".into(), Json::String(self.message.clone()));
        }
        if self.options.include_output_fields {
            m.insert(
                "output_fields".into(),
                Json::Object(self.output_fields.clone()),
            );
        }
        m.insert("priority".into(), Json::String(self.priority.to_string()));
        m.insert("rule".into(), Json::String(self.rule.clone()));
        m.insert("source".into(), Json::String(self.source.clone()));
        if self.options.include_tags {
            m.insert(
                "tags".into(),
                Json::Array(self.tags.iter().map(|t| Json::String(t.clone())).collect()),
            );
        }
        m.insert(
            "time".into(),
            Json::String(Civil::from_ns(self.time_ns).iso8601_z()),
        );
        Json::Object(m)
    }
}

/// For `tiercel fields`: whether a field may appear in outputs.
pub fn printable(info: &FieldInfo) -> bool {
    !info.has(flags::FILTER_ONLY) && info.ftype != FieldType::IpNet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time() {
        // 2016-08-04T16:17:57.881781397Z (falcosecurity/testing outputs.go)
        let c = Civil::from_ns(1_470_327_477_881_781_397);
        assert_eq!(c.iso8601_z(), "2016-08-04T16:17:57.881781397Z");
        assert_eq!(c.iso8601_offset(), "2016-08-04T16:17:57.881781397+0000");
        assert_eq!(c.hms_ns(), "16:17:57.881781397");
        assert_eq!(
            Civil::from_ns(0).iso8601_z(),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            Civil::from_ns(951_782_400_000_000_000).iso8601_z(),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn template_tokens() {
        let (f, w) = OutputFormat::parse("a %proc.name b %proc.aname[2] (%fd.name) %15proc.cmdline %fd.name.bak %tolower(proc.name)").unwrap();
        assert!(w.is_empty());
        let toks: Vec<_> = f
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Token(t) => Some(t.text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            toks,
            [
                "proc.name",
                "proc.aname[2]",
                "fd.name",
                "proc.cmdline",
                "fd.name",
                "tolower(proc.name)"
            ]
        );
        assert!(OutputFormat::parse("x %{proc.name}").is_err());
        assert!(OutputFormat::parse("x %").is_err());
        assert_eq!(
            OutputFormat::parse("An open was seen %not_a_real_field")
                .unwrap_err()
                .message,
            "invalid formatting token not_a_real_field"
        );
        assert!(OutputFormat::parse("x %proc.nobody").is_err());
        let (_, w) = OutputFormat::parse("d=%evt.dir").unwrap();
        assert_eq!(
            w[0].message,
            "usage of deprecated field 'evt.dir' has been detected in the rule output"
        );
    }

    #[test]
    fn width() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 3), "abc");
    }
}
