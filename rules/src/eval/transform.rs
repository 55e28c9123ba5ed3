//! Operands: a field's value from the event, or a transformer (`tolower`, `toupper`,
//! `b64`, `basename`, `len`, `join`, `concat`, `getopt`) applied to its arguments.

use std::borrow::Cow;

use super::compare::{value_bytes, value_text};
use super::ir::{Operand, TArg, TransformNode};
use crate::ast::TransformKind;
use crate::event::{Event, Value};

impl Operand {
    #[inline]
    pub fn extract<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self {
            Operand::Field { field, arg } => ev.extract(*field, arg),
            Operand::Transform(t) => t.apply(ev),
        }
    }
}

impl TransformNode {
    fn apply<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self.kind {
            TransformKind::ToLower
            | TransformKind::ToUpper
            | TransformKind::B64
            | TransformKind::Basename
            | TransformKind::Len => {
                let v = self.args.first().and_then(|a| targ_value(a, ev))?;
                Some(map_value(v, &|v| unary(self.kind, v)))
            }
            TransformKind::Join => {
                let sep = match self.args.first() {
                    Some(TArg::Lit(s)) => s.clone(),
                    Some(a) => value_text(&targ_value(a, ev)?).into_owned(),
                    None => String::new(),
                };
                let mut parts = Vec::new();
                for a in &self.args[1..] {
                    collect_texts(a, ev, &mut parts)?;
                }
                Some(Value::Str(Cow::Owned(parts.join(&sep))))
            }
            TransformKind::Concat => {
                let mut parts = Vec::new();
                for a in &self.args {
                    collect_texts(a, ev, &mut parts)?;
                }
                Some(Value::Str(Cow::Owned(parts.concat())))
            }
            TransformKind::Getopt => {
                let args = self.args.first().and_then(|a| targ_value(a, ev))?;
                let optstring = match self.args.get(1) {
                    Some(TArg::Lit(s)) => s.clone(),
                    _ => return None,
                };
                let words: Vec<String> = match &args {
                    Value::List(l) => l.iter().map(|v| value_text(v).into_owned()).collect(),
                    v => value_text(v)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                };
                let opts = getopt(&words, &optstring);
                match &self.index {
                    Some(ix) => opts
                        .into_iter()
                        .find(|(k, _)| k == ix)
                        .map(|(_, v)| Value::Str(Cow::Owned(v))),
                    None => Some(Value::List(
                        opts.into_iter()
                            .map(|(k, _)| Value::Str(Cow::Owned(k)))
                            .collect(),
                    )),
                }
            }
        }
    }
}

fn targ_value<'e>(a: &TArg, ev: &'e dyn Event) -> Option<Value<'e>> {
    match a {
        TArg::Operand(o) => o.extract(ev),
        TArg::Lit(s) => Some(Value::Str(Cow::Owned(s.clone()))),
        TArg::List(_) => None,
    }
}

fn collect_texts(a: &TArg, ev: &dyn Event, out: &mut Vec<String>) -> Option<()> {
    match a {
        TArg::List(items) => {
            for i in items {
                collect_texts(i, ev, out)?;
            }
        }
        other => out.push(value_text(&targ_value(other, ev)?).into_owned()),
    }
    Some(())
}

fn map_value<'e>(v: Value<'e>, f: &dyn Fn(Value<'e>) -> Value<'e>) -> Value<'e> {
    match v {
        Value::List(items) => Value::List(items.into_iter().map(f).collect()),
        v => f(v),
    }
}

fn unary(kind: TransformKind, v: Value<'_>) -> Value<'_> {
    match kind {
        TransformKind::ToLower => Value::Str(Cow::Owned(value_text(&v).to_lowercase())),
        TransformKind::ToUpper => Value::Str(Cow::Owned(value_text(&v).to_uppercase())),
        TransformKind::Basename => {
            let t = value_text(&v);
            let b = t.rsplit('/').next().unwrap_or("");
            Value::Str(Cow::Owned(b.to_owned()))
        }
        TransformKind::Len => match &v {
            Value::List(l) => Value::U64(l.len() as u64),
            other => Value::U64(value_bytes(other).len() as u64),
        },
        TransformKind::B64 => match b64_decode(&value_bytes(&v)) {
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(s) => Value::Str(Cow::Owned(s)),
                Err(e) => Value::Bytes(Cow::Owned(e.into_bytes())),
            },
            None => Value::Str(Cow::Owned(String::new())),
        },
        _ => v,
    }
}

/// Standard base64 decoding (padding optional, whitespace ignored).
pub(crate) fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// POSIX getopt over `words` (argv without argv[0]): `(option, argument)` pairs, in order.
fn getopt(words: &[String], optstring: &str) -> Vec<(String, String)> {
    let spec: Vec<char> = optstring.chars().collect();
    let takes_arg = |c: char| -> Option<bool> {
        let i = spec.iter().position(|&s| s == c && s != ':')?;
        Some(spec.get(i + 1) == Some(&':'))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "--" || !w.starts_with('-') || w.len() < 2 {
            break;
        }
        let chars: Vec<char> = w.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            match takes_arg(c) {
                Some(true) => {
                    let rest: String = chars[j + 1..].iter().collect();
                    let arg = if !rest.is_empty() {
                        rest
                    } else {
                        i += 1;
                        words.get(i).cloned().unwrap_or_default()
                    };
                    out.push((c.to_string(), arg));
                    break;
                }
                Some(false) => out.push((c.to_string(), String::new())),
                None => {}
            }
            j += 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64_and_getopt() {
        assert_eq!(b64_decode(b"YWFhLWJiYg==").unwrap(), b"aaa-bbb");
        let w: Vec<String> = ["-n", "-t", "foo", "bar"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            getopt(&w, "nt:"),
            vec![("n".into(), String::new()), ("t".into(), "foo".into())]
        );
    }
}
