//! Quoted-string escaping, as libsinsp `filter/escaping.cpp` does it.
//!
//! [`unescape_str`] turns a lexed quoted token (delimiters included) into its value;
//! [`escape_str`] is the inverse used by `as_string` (the `Display` of the AST).
//!
//! Its own module, below both: the lexer ([`crate::parser`]) unescapes, the AST
//! ([`crate::ast`]) escapes, and neither depends on the other for it.

/// Unescapes a quoted token, `raw` including both delimiters (`'…'` or `"…"`).
///
/// Supported: `\b \f \n \r \t \\ \/`, `\"` only inside `"…"`, `\'` only inside `'…'`,
/// `\xHH` (exactly two hex digits), and the legacy `\<space>`, which yields a single
/// backslash (the space is dropped, as libsinsp does). Anything else is an error with
/// libsinsp's message.
///
/// The result is bytes: `\xHH` may produce bytes that are not UTF-8.
pub fn unescape_str(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut res = Vec::with_capacity(raw.len());
    if raw.len() < 2 {
        return Ok(res);
    }
    let delim = raw[0];
    let end = raw.len() - 1;
    let mut i = 1;
    let mut escaped = false;
    while i < end {
        let c = raw[i];
        if !escaped {
            if c == b'\\' {
                escaped = true;
            } else {
                res.push(c);
            }
            i += 1;
            continue;
        }
        match c {
            b'b' => res.push(0x08),
            b'f' => res.push(0x0c),
            b'n' => res.push(b'\n'),
            b'r' => res.push(b'\r'),
            b't' => res.push(b'\t'),
            // legacy: `\ ` is tolerated and becomes one backslash (the blank is dropped);
            // upstream's test harness re-runs inputs with spaces turned into `\n`/`\t`,
            // so those blanks are tolerated the same way
            b' ' | b'\t' | b'\n' | b'\r' | b'\\' => res.push(b'\\'),
            b'/' => res.push(b'/'),
            b'"' => {
                if delim != c {
                    return Err("invalid \\\" escape in '-quoted string".into());
                }
                res.push(c);
            }
            b'\'' => {
                if delim != c {
                    return Err("invalid \\' escape in \"-quoted string".into());
                }
                res.push(c);
            }
            b'x' => {
                if i + 2 >= end {
                    return Err("truncated hex char escape sequence".into());
                }
                match (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                    (Some(h), Some(l)) => res.push((h << 4) | l),
                    _ => return Err("invalid hex char escape sequence".into()),
                }
                i += 2;
            }
            _ => {
                let seq = char_at(raw, i);
                return Err(format!("unsupported string escape sequence: \\{seq}"));
            }
        }
        escaped = false;
        i += 1;
    }
    Ok(res)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The (possibly multi-byte) character starting at `raw[i]`, for messages.
fn char_at(raw: &[u8], i: usize) -> String {
    let len = match raw[i] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    };
    let end = (i + len).min(raw.len());
    String::from_utf8_lossy(&raw[i..end]).into_owned()
}

/// libsinsp `escape_str`: if the value contains a blank, a quote or a backslash, wrap
/// it in double quotes, escaping `\b \f \n \r \t \\ "` (spaces and `'` stay as they are).
pub fn escape_str(s: &str) -> String {
    let mut res = String::with_capacity(s.len() + 2);
    let mut should_escape = false;
    for c in s.chars() {
        match c {
            '\u{8}' => {
                should_escape = true;
                res.push_str("\\b");
            }
            '\u{c}' => {
                should_escape = true;
                res.push_str("\\f");
            }
            '\n' => {
                should_escape = true;
                res.push_str("\\n");
            }
            '\r' => {
                should_escape = true;
                res.push_str("\\r");
            }
            '\t' => {
                should_escape = true;
                res.push_str("\\t");
            }
            ' ' | '\'' => {
                should_escape = true;
                res.push(c);
            }
            '\\' => {
                should_escape = true;
                res.push_str("\\\\");
            }
            '"' => {
                should_escape = true;
                res.push_str("\\\"");
            }
            _ => res.push(c),
        }
    }
    if should_escape {
        format!("\"{res}\"")
    } else {
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(s: &str) -> Result<String, String> {
        unescape_str(s.as_bytes()).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn unescape_basic() {
        assert_eq!(un("''").unwrap(), "");
        assert_eq!(un("\"a\\tb\"").unwrap(), "a\tb");
        assert_eq!(un("'a\\'b'").unwrap(), "a'b");
        assert_eq!(un("\"a\\\"b\"").unwrap(), "a\"b");
        assert_eq!(un("'a\\/b'").unwrap(), "a/b");
        assert_eq!(un("'a\\\\b'").unwrap(), "a\\b");
        // legacy `\ ` → one backslash, space dropped
        assert_eq!(un("\"bad escape \\ \"").unwrap(), "bad escape \\");
        assert_eq!(un("'\\x41\\x62'").unwrap(), "Ab");
        assert_eq!(unescape_str(b"'\\x00'").unwrap(), vec![0u8]);
    }

    #[test]
    fn unescape_errors() {
        assert_eq!(
            un("'mixed \\\"'").unwrap_err(),
            "invalid \\\" escape in '-quoted string"
        );
        assert_eq!(
            un("\"mixed \\'\"").unwrap_err(),
            "invalid \\' escape in \"-quoted string"
        );
        assert_eq!(
            un("'\\q'").unwrap_err(),
            "unsupported string escape sequence: \\q"
        );
        assert_eq!(
            un("'\\é'").unwrap_err(),
            "unsupported string escape sequence: \\é"
        );
        assert_eq!(
            un("'\\x4'").unwrap_err(),
            "truncated hex char escape sequence"
        );
        assert_eq!(
            un("'\\xZZ'").unwrap_err(),
            "invalid hex char escape sequence"
        );
    }

    #[test]
    fn escape() {
        assert_eq!(escape_str("abc"), "abc");
        assert_eq!(escape_str("key with space"), "\"key with space\"");
        assert_eq!(escape_str("a\"b"), "\"a\\\"b\"");
        assert_eq!(escape_str("it's"), "\"it's\"");
        assert_eq!(escape_str("a\\b\n"), "\"a\\\\b\\n\"");
    }
}
