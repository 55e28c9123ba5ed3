//! Text that a container controls (file names, command lines, environment) made safe for
//! line-oriented outputs.
//!
//! A field value can hold any byte the container chose: a file named
//! `x\n00:00:00.000000000: Notice all clear` would forge a second alert line on stdout, in a
//! log file or in syslog, and ANSI escape sequences would reach the terminal or log viewer
//! of whoever reads them. Falco fixed the same class in 0.44.0 by escaping control
//! characters in its plain text outputs; JSON outputs need no such step (the JSON encoder
//! escapes every control character, and consumers get the true value back).
//!
//! What is escaped, so that one alert is always exactly one line with no terminal controls:
//! - `\n`, `\r`, `\t` as those two-character sequences;
//! - every other C0 control (U+0000–U+001F), DEL (U+007F) and every C1 control
//!   (U+0080–U+009F, which includes the one-byte CSI U+009B) as `\xHH`;
//! - the Unicode line and paragraph separators (U+2028, U+2029) and the bidirectional
//!   controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: "Trojan Source"
//!   reordering) as `\u{XXXX}`.
//!
//! Invalid UTF-8 never reaches this point: values are decoded lossily (U+FFFD) when they
//! are read. Everything else, backslashes included, is kept as it is, so ordinary values
//! print exactly as Falco prints them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must be escaped in a line-oriented text output.
pub fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}' | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `s` with every character that could break a line or control a terminal escaped (see the
/// module documentation). Borrowed when nothing needed escaping: the common case costs one
/// scan.
pub fn escape_line(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(needs_escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) <= 0x9f && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A serialized JSON document made safe for line-oriented outputs: the JSON encoder escapes
/// only what JSON requires (`"`, `\\`, U+0000–U+001F), so DEL, the C1 controls (the
/// one-byte CSI U+009B among them), the line separators and the bidi controls would reach a
/// terminal that tails the file. Each becomes its `\\uXXXX` escape: such characters can
/// only occur inside JSON strings, so the document stays valid and decodes to the same
/// values.
pub fn escape_json_line(json: &str) -> Cow<'_, str> {
    let Some(first) = json.find(needs_escape) else {
        return Cow::Borrowed(json);
    };
    let mut out = String::with_capacity(json.len() + 8);
    out.push_str(&json[..first]);
    for c in json[first..].chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        for s in ["", "/bin/evil", "a\\nb (backslash kept)", "héllo wörld ✓"] {
            assert!(matches!(escape_line(s), Cow::Borrowed(x) if x == s));
        }
    }

    #[test]
    fn forged_line_and_ansi() {
        let name = "x\n00:00:00.000000000: Notice all clear\x1b[2K\x1b]0;t\x07";
        assert_eq!(
            escape_line(name),
            "x\\n00:00:00.000000000: Notice all clear\\x1b[2K\\x1b]0;t\\x07"
        );
    }

    #[test]
    fn every_class() {
        assert_eq!(escape_line("a\rb\tc\0d\u{7f}"), "a\\rb\\tc\\x00d\\x7f");
        assert_eq!(escape_line("\u{85}\u{9b}"), "\\x85\\x9b");
        assert_eq!(
            escape_line("\u{2028}\u{2029}\u{202e}\u{2066}\u{61c}"),
            "\\u{2028}\\u{2029}\\u{202e}\\u{2066}\\u{061c}"
        );
    }

    #[test]
    fn json_lines() {
        let v = serde_json::json!({"k": "a\u{7f}b\u{9b}c\u{202e}d\n"});
        let raw = v.to_string();
        let safe = escape_json_line(&raw);
        assert_eq!(safe, r#"{"k":"a\u007fb\u009bc\u202ed\n"}"#);
        assert!(!safe.chars().any(needs_escape));
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn no_control_survives() {
        // Every code point up to U+2100 and the bidi block: no escaped output contains a
        // character that needs escaping, and escaping is applied to nothing else.
        for cp in (0u32..0x2100).chain(0x2000..0x2070) {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b");
            let e = escape_line(&s);
            assert!(!e.chars().any(needs_escape), "{cp:#x} → {e:?}");
            assert_eq!(needs_escape(c), e != s, "{cp:#x}");
        }
    }
}
