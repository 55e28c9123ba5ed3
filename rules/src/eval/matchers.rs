//! Matchers on bytes that know nothing of events: the string operators (`contains`,
//! `icontains`, `startswith`, `endswith`, `bcontains`, `bstartswith`) with their prepared
//! patterns, the hash and length mask of string sets, and fnmatch-style globs (`glob`,
//! `pmatch` path components).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    /// Pattern stored lowercased.
    IContains,
    StartsWith,
    EndsWith,
    BContains,
    BStartsWith,
}

/// A string operator with its pattern, prepared for searching.
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    op: StrOp,
    /// Lowercased for `icontains`.
    pat: Box<[u8]>,
    /// A substring searcher for `contains`/`bcontains`.
    finder: Option<memchr::memmem::Finder<'static>>,
}

impl StrPat {
    pub fn new(op: StrOp, pat: Vec<u8>) -> StrPat {
        let finder = matches!(op, StrOp::Contains | StrOp::BContains)
            .then(|| memchr::memmem::Finder::new(&pat).into_owned());
        StrPat {
            op,
            pat: pat.into_boxed_slice(),
            finder,
        }
    }

    /// The pattern (lowercased for `icontains`).
    pub fn pattern(&self) -> &[u8] {
        &self.pat
    }

    /// The operator.
    pub fn op(&self) -> StrOp {
        self.op
    }

    #[inline]
    pub(super) fn test(&self, hay: &[u8]) -> bool {
        match (&self.finder, self.op) {
            (Some(f), _) => f.find(hay).is_some(),
            (None, op) => bytes_op(hay, op, &self.pat),
        }
    }
}

/// Byte equality without a call to `memcmp` (patterns and values are short, and most
/// comparisons fail on the first bytes).
#[inline]
pub(super) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

pub(crate) fn bytes_op(hay: &[u8], op: StrOp, pat: &[u8]) -> bool {
    match op {
        StrOp::Contains | StrOp::BContains => memchr::memmem::find(hay, pat).is_some(),
        StrOp::IContains => icontains(hay, pat),
        StrOp::StartsWith | StrOp::BStartsWith => {
            hay.len() >= pat.len() && short_eq(&hay[..pat.len()], pat)
        }
        StrOp::EndsWith => hay.len() >= pat.len() && short_eq(&hay[hay.len() - pat.len()..], pat),
    }
}

/// strcasestr: ASCII case-insensitive search; `pat` is lowercased.
fn icontains(hay: &[u8], pat: &[u8]) -> bool {
    let Some((&first, rest)) = pat.split_first() else {
        return true;
    };
    if hay.len() < pat.len() {
        return false;
    }
    let last_start = hay.len() - pat.len();
    let upper = first.to_ascii_uppercase();
    let mut i = 0;
    while i <= last_start {
        let Some(k) = memchr::memchr2(first, upper, &hay[i..=last_start]) else {
            return false;
        };
        let p = i + k;
        if hay[p + 1..p + pat.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        i = p + 1;
    }
    false
}

/// The [`SetMatcher::str_lens`](super::ir::SetMatcher::str_lens) bit of a string length.
pub(crate) fn len_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

/// A string hash set with a fast non-cryptographic hasher (keys come from rule files).
pub(crate) type StrSet = HashSet<Box<str>, BuildHasherDefault<FxHasher>>;

/// The Fx hash (rustc's): fast for short keys; HashDoS is no concern for rule constants
/// looked up with event strings, as the table is fixed at load time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An fnmatch(3) pattern without FNM_PATHNAME (`*` also matches `/`), matched on bytes
/// as glibc does in the C locale; `icase` = FNM_CASEFOLD (ASCII).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pat: Box<[u8]>,
    icase: bool,
}

impl Glob {
    pub fn new(pat: &str, icase: bool) -> Glob {
        Glob {
            pat: pat.as_bytes().into(),
            icase,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        fnmatch(&self.pat, s.as_bytes(), self.icase)
    }
}

fn beq(a: u8, b: u8, icase: bool) -> bool {
    a == b || (icase && a.eq_ignore_ascii_case(&b))
}

/// Matches one bracket expression at `p[i..]` (just after `[`) against `c`.
/// Returns (matched, index after `]`), or None if the bracket is not closed (then `[`
/// is an ordinary character, as in glibc).
fn bracket(p: &[u8], mut i: usize, c: u8, icase: bool) -> Option<(bool, usize)> {
    let mut negate = false;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        negate = true;
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    let lc = c.to_ascii_lowercase();
    loop {
        if i >= p.len() {
            return None;
        }
        let mut lo = p[i];
        if lo == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        if lo == b'\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        i += 1;
        let mut hi = lo;
        if i + 1 < p.len() && p[i] == b'-' && p[i + 1] != b']' {
            hi = p[i + 1];
            if hi == b'\\' && i + 2 < p.len() {
                hi = p[i + 2];
                i += 1;
            }
            i += 2;
        }
        if (lo <= c && c <= hi)
            || (icase && lo.to_ascii_lowercase() <= lc && lc <= hi.to_ascii_lowercase())
        {
            matched = true;
        }
    }
    Some((matched != negate, i))
}

/// The `glob` operator's matching (fnmatch without `FNM_PATHNAME`: `*` also matches `/`),
/// for other users of Falco's glob semantics (e.g. `container.mount.dest[/proc*]`).
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    fnmatch(pattern, s, false)
}

fn fnmatch(p: &[u8], s: &[u8], icase: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi < p.len() && p[pi] == b'*' {
                        pi += 1;
                    }
                    if pi == p.len() {
                        return true;
                    }
                    star = Some((pi, si));
                    continue;
                }
                b'?' if si < s.len() => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' if si < s.len() => {
                    if let Some((ok, next)) = bracket(p, pi + 1, s[si], icase) {
                        if ok {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && si < s.len() && beq(p[pi + 1], s[si], icase) => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                c if si < s.len()
                    && beq(c, s[si], icase)
                    && c != b'?'
                    && c != b'['
                    && (c != b'\\' || pi + 1 == p.len()) =>
                {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: backtrack to the last star, letting it eat one more byte.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Splits a path into its non-empty components.
pub(crate) fn path_components(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, s: &str) -> bool {
        Glob::new(p, false).matches(s)
    }

    #[test]
    fn fnmatch_without_pathname() {
        assert!(g("*.log", "/var/log/x.log"));
        assert!(g("/etc/*", "/etc/a/b"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[abc]x", "bx"));
        assert!(!g("[!abc]x", "bx"));
        assert!(g("[a-c]x", "cx"));
        assert!(g("\\*", "*"));
        assert!(!g("\\*", "a"));
        assert!(g("*", ""));
        assert!(g("di[r]", "dir"));
        assert!(!g("di[!r]", "dir"));
        assert!(g("[", "["));
        assert!(g("a*b*c", "aXXbYYc"));
        assert!(!g("a*b*c", "aXXbYY"));
        assert!(Glob::new("*.LOG", true).matches("x.log"));
    }
}
