//! The rules crate's modules have no import circle: there is an order of its modules
//! (ARCHITECTURE.md, "Module dependencies") in which each uses only earlier ones.
//!
//! Checked on the source text, outside `#[cfg(test)]` items (unit tests may use any
//! module), comments and string literals: every `crate::…` and `super::…` path, and
//! every path through a child module a file declares (`mod lexer;` … `lexer::Lexer`),
//! is resolved to the longest module (file) it names. The graph is then checked twice:
//! between files (`eval::ir`, `parser::lexer` …) and between the crate's top-level
//! modules (`eval`, `parser` …). What this cannot see: a method of an inherent `impl`
//! written in another module is used without a path; such impls keep to the same order
//! (see `src/eval/mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/` relative path → module path (`eval/mod.rs` → `eval`, `lib.rs` → ``).
fn module_name(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_string();
    }
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// At `b[i..]`, a raw string (`r"…"`, `r#"…"#`, `br"…"`): its body's start and the
/// number of `#`.
fn raw_string(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let s = if b[i..].starts_with(b"br") {
        i + 2
    } else if b[i] == b'r' {
        i + 1
    } else {
        return None;
    };
    let hashes = b[s..].iter().take_while(|&&c| c == b'#').count();
    (b.get(s + hashes) == Some(&b'"')).then_some((s + hashes + 1, hashes))
}

/// The code without comments; string and character literals emptied.
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            i = src[i..].find('\n').map_or(b.len(), |j| i + j);
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some((body, hashes)) = raw_string(b, i) {
            let end = format!("\"{}", "#".repeat(hashes));
            i = src[body..]
                .find(&end)
                .map_or(b.len(), |j| body + j + end.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\x00', '\u{…}'), else a lifetime.
            let len = if b.get(i + 1) == Some(&b'\\') {
                src.get(i + 3..).and_then(|r| r.find('\'')).map(|j| j + 4)
            } else {
                src[i + 1..]
                    .chars()
                    .next()
                    .filter(|c| src[i + 1 + c.len_utf8()..].starts_with('\''))
                    .map(|c| c.len_utf8() + 2)
            };
            match len {
                Some(n) => {
                    out.push_str("' '");
                    i += n;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let c = src[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Index of the `}` closing the `{` at `open`.
fn closing(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + k;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces")
}

/// The code without its `#[cfg(test)]` items; the names of `#[cfg(test)] mod x;` files.
fn drop_test_items(mut code: String) -> (String, Vec<String>) {
    let mut test_mods = Vec::new();
    while let Some(at) = code.find("#[cfg(test)]") {
        let after = at + "#[cfg(test)]".len();
        let semi = code[after..].find(';').map(|j| after + j);
        let brace = code[after..].find('{').map(|j| after + j);
        let end = match (semi, brace) {
            (Some(s), b) if b.is_none_or(|b| s < b) => {
                let item = code[after..s].trim();
                if let Some(name) = item.rsplit(' ').next().filter(|_| item.contains("mod ")) {
                    test_mods.push(name.to_string());
                }
                s
            }
            (_, Some(b)) => closing(&code, b),
            _ => panic!("#[cfg(test)] without an item"),
        };
        code.replace_range(at..=end, "");
    }
    (code, test_mods)
}

/// The identifier paths of a `use` group body (`a::b, c::{d, e}` → `a::b`, `c::d`, `c::e`).
fn group_paths(prefix: &[String], body: &str, out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut start = 0;
    let body = format!("{body},");
    for (k, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let entry = body[start..k].trim();
                start = k + 1;
                if entry.is_empty() {
                    continue;
                }
                let mut p = prefix.to_vec();
                match entry.find("::{") {
                    Some(g) => {
                        p.extend(entry[..g].split("::").map(|s| s.trim().to_string()));
                        group_paths(&p, &entry[g + 3..entry.len() - 1], out);
                    }
                    None => {
                        let path = entry.split(" as ").next().unwrap_or(entry);
                        p.extend(path.split("::").map(|s| s.trim().to_string()));
                        out.push(p);
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path starting at `root::` (not preceded by an identifier character or `:`).
fn paths_from(code: &str, root: &str, base: &[String], out: &mut Vec<Vec<String>>) {
    let pat = format!("{root}::");
    let mut from = 0;
    while let Some(j) = code[from..].find(&pat) {
        let at = from + j;
        from = at + pat.len();
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident(c) || c == ':')
        {
            continue;
        }
        let rest = &code[from..];
        let len = rest
            .find(|c: char| !(is_ident(c) || c == ':'))
            .unwrap_or(rest.len());
        let mut p = base.to_vec();
        p.extend(
            rest[..len]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        if rest[len..].starts_with('{') {
            let open = from + len;
            group_paths(&p, &code[open + 1..closing(code, open)], out);
        } else {
            out.push(p);
        }
    }
}

/// Topological order, or the modules left on a cycle.
fn order(graph: &BTreeMap<String, BTreeSet<String>>) -> Result<Vec<String>, Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    let mut left: BTreeSet<&String> = graph.keys().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|m| {
                graph[*m]
                    .iter()
                    .all(|d| done.contains(d) || !graph.contains_key(d))
            })
            .collect();
        if ready.is_empty() {
            return Err(left.into_iter().cloned().collect());
        }
        for m in ready {
            left.remove(m);
            done.push(m.clone());
        }
    }
    Ok(done)
}

fn show(graph: &BTreeMap<String, BTreeSet<String>>, of: &[String]) -> String {
    of.iter()
        .map(|m| {
            let deps: Vec<&str> = graph[m].iter().map(String::as_str).collect();
            format!("  {m} -> {}\n", deps.join(" "))
        })
        .collect()
}

/// The dependency graph of the crate at `src` (file modules and top-level modules).
type Graphs = (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
);

fn graphs(src: &Path) -> Graphs {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let names: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| {
            (
                module_name(f.strip_prefix(src).expect("under src")),
                f.clone(),
            )
        })
        .collect();
    let mut test_only = BTreeSet::new();
    let mut by_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, file) in &names {
        let text = std::fs::read_to_string(file).expect("readable source");
        let (code, test_mods) = drop_test_items(strip(&text));
        let own: Vec<String> = name
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let parent = &own[..own.len().saturating_sub(1)];
        for t in test_mods {
            test_only.insert([own.clone(), vec![t]].concat().join("::"));
        }
        let mut paths = Vec::new();
        paths_from(&code, "crate", &[], &mut paths);
        paths_from(&code, "super", parent, &mut paths);
        // Paths through the child modules this file declares.
        for line in code.lines() {
            let l = line.trim_start();
            let l = match l.strip_prefix("pub") {
                Some(r) if r.starts_with('(') => r.split_once(')').map_or(r, |x| x.1),
                Some(r) => r,
                None => l,
            };
            if let Some(child) = l
                .trim_start()
                .strip_prefix("mod ")
                .and_then(|r| r.strip_suffix(';'))
            {
                let child = child.trim();
                paths_from(
                    &code,
                    child,
                    &[own.clone(), vec![child.to_string()]].concat(),
                    &mut paths,
                );
            }
        }
        let mut deps = BTreeSet::new();
        for p in paths {
            let target = (1..=p.len())
                .rev()
                .map(|k| p[..k].join("::"))
                .find(|m| names.contains_key(m));
            if let Some(t) = target.filter(|t| t != name && !t.is_empty()) {
                deps.insert(t);
            }
        }
        by_file.insert(name.clone(), deps);
    }
    by_file.retain(|m, _| !m.is_empty() && !test_only.contains(m));
    let top_of = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in &by_file {
        let e = top.entry(top_of(m)).or_default();
        e.extend(deps.iter().map(|d| top_of(d)).filter(|d| *d != top_of(m)));
    }
    (by_file, top)
}

#[test]
fn rules_modules_have_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (by_file, top) = graphs(&src);
    // The check sees the crate: the modules ARCHITECTURE.md names are all there.
    for m in [
        "ast",
        "parser",
        "parser::lexer",
        "eval",
        "eval::jump",
        "program",
        "output",
    ] {
        assert!(by_file.contains_key(m), "module {m} not found under src/");
    }
    assert!(
        by_file["program"].contains("eval"),
        "{:?}",
        by_file["program"]
    );
    for (what, g) in [("files", &by_file), ("top-level modules", &top)] {
        if let Err(cycle) = order(g) {
            panic!(
                "import circle among the rules crate's {what}; what is left when no module of \
                 these uses only earlier ones:\n{}",
                show(g, &cycle)
            );
        }
    }
}

/// The checker itself finds a circle: the two the crate had (`ast` ↔ `parser` for
/// `escape_str`, `program` ↔ `output`), reproduced in a scratch crate.
#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("tiercel-module-order-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("parser")).expect("scratch dir");
    let write = |p: &str, s: &str| std::fs::write(src.join(p), s).expect("scratch file");
    write("lib.rs", "pub mod ast;\npub mod parser;\npub mod text;\n");
    write(
        "ast.rs",
        "// crate::parser in a comment is no use\nfn f() -> String { crate::text::escape(\"crate::parser\") }\n#[cfg(test)]\nmod tests { use crate::parser::parse; }\n",
    );
    write(
        "parser/mod.rs",
        "mod lexer;\nuse crate::{ast::{Expr}, text};\nuse lexer::Lexer;\n",
    );
    write("parser/lexer.rs", "pub struct Lexer;\n");
    write("text.rs", "pub fn escape(s: &str) -> String { s.into() }\n");
    let (by_file, top) = graphs(&src);
    assert_eq!(
        by_file["parser"],
        BTreeSet::from(["ast".into(), "parser::lexer".into(), "text".into()])
    );
    assert_eq!(by_file["ast"], BTreeSet::from(["text".into()]));
    assert!(order(&top).is_ok());

    write(
        "ast.rs",
        "fn f() -> String { crate::parser::escape_str(\"x\") }\n",
    );
    let (_, top) = graphs(&src);
    assert_eq!(order(&top), Err(vec!["ast".into(), "parser".into()]));
    let _ = std::fs::remove_dir_all(&dir);
}
