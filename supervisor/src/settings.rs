//! The configuration as Falco reads it: a YAML tree with positions, merged from the main
//! file, its `config_files` and the `-o key=value` overrides, then checked against one
//! table, [`SCHEMA`] (key path, type, default, Falco's meaning, tiercel's support).
//! Parsing, the unknown-key warnings, `tiercel config check` and the generated
//! `docs/configuration.md` (`tiercel config reference`) all come from that table.
//!
//! * `config_files` (of the main file only; an included file naming more is refused, as
//!   Falco refuses nested includes): files, or directories standing for their regular
//!   files in lexicographic order, merged after the main file in the order listed. An item
//!   is a path (strategy `append`) or `{path, strategy}`. Strategies act on top-level keys,
//!   as Falco's: `append` appends a sequence to a sequence and replaces anything else,
//!   `override` replaces, `add-only` only adds keys the config does not have yet. A path
//!   that does not exist is skipped with a warning.
//! * `-o key=value` (Falco's syntax), applied after the files: `key` is a path of names
//!   joined by `.`, each optionally indexed, `name[N]` (an existing item, or `N` = the
//!   length to append) or `name[]` (a new item appended); `value` is YAML (`true`, `42`,
//!   `[a, b]`, `{rule: x}`, a string; text that is not valid YAML, such as `*`, is a
//!   string). Missing maps and lists are created on the way.
//! * Keys the table does not know are warned about with `file:line:col`; a value of the
//!   wrong type or outside its choices is refused with `file:line:col` and the key path.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

/// Where a key or an item was written: `file:line:col` (1-based), or the `-o` option.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<N>),
    Map(Vec<(String, N)>),
}

/// A value and where it was written (for a mapping's value: where its key was).
#[derive(Debug, Clone, PartialEq)]
pub struct N {
    pub v: V,
    pub at: Loc,
}

impl N {
    pub fn get(&self, key: &str) -> Option<&N> {
        match &self.v {
            V::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, n)| n),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut N> {
        match &mut self.v {
            V::Map(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, n)| n),
            _ => None,
        }
    }

    /// The value as JSON (for the typed parsers, which read saphyr's `Yaml`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            V::Null => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Int(i) => J::from(*i),
            V::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            V::Str(s) => J::String(s.clone()),
            V::Seq(s) => J::Array(s.iter().map(N::to_json).collect()),
            V::Map(m) => J::Object(m.iter().map(|(k, n)| (k.clone(), n.to_json())).collect()),
        }
    }

    /// A short rendering of a scalar, for messages.
    pub fn show(&self) -> String {
        match &self.v {
            V::Null => "null".into(),
            V::Bool(b) => b.to_string(),
            V::Int(i) => i.to_string(),
            V::Float(f) => f.to_string(),
            V::Str(s) => format!("{s:?}"),
            V::Seq(_) => "a list".into(),
            V::Map(_) => "a mapping".into(),
        }
    }
}

fn marked_loc(file: &Arc<str>, m: &saphyr::Marker) -> Loc {
    Loc {
        file: file.clone(),
        line: m.line(),
        col: m.col() + 1,
    }
}

fn convert(node: &MarkedYamlOwned, at: Loc, file: &Arc<str>, depth: usize) -> Result<N, String> {
    if depth > 64 {
        return Err(format!("{at}: nesting deeper than 64 levels"));
    }
    let v = match &node.data {
        YamlDataOwned::Value(s) => match s {
            ScalarOwned::Null => V::Null,
            ScalarOwned::Boolean(b) => V::Bool(*b),
            ScalarOwned::Integer(i) => V::Int(*i),
            ScalarOwned::FloatingPoint(f) => V::Float(f.into_inner()),
            ScalarOwned::String(s) => V::Str(s.clone()),
        },
        YamlDataOwned::Representation(s, _, _) => V::Str(s.clone()),
        YamlDataOwned::Tagged(_, inner) => return convert(inner, at, file, depth + 1),
        YamlDataOwned::Sequence(items) => V::Seq(
            items
                .iter()
                .map(|i| convert(i, marked_loc(file, &i.span.start), file, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(m) => {
            let mut out: Vec<(String, N)> = Vec::with_capacity(m.len());
            for (k, val) in m.iter() {
                let kat = marked_loc(file, &k.span.start);
                let key = match &k.data {
                    YamlDataOwned::Value(ScalarOwned::String(s)) => s.clone(),
                    YamlDataOwned::Value(ScalarOwned::Integer(i)) => i.to_string(),
                    YamlDataOwned::Value(ScalarOwned::Boolean(b)) => b.to_string(),
                    YamlDataOwned::Representation(s, _, _) => s.clone(),
                    _ => return Err(format!("{kat}: a key must be a string")),
                };
                let n = convert(val, kat, file, depth + 1)?;
                match out.iter_mut().find(|(k2, _)| *k2 == key) {
                    Some(e) => e.1 = n,
                    None => out.push((key, n)),
                }
            }
            V::Map(out)
        }
        YamlDataOwned::Alias(_) => return Err(format!("{at}: unresolved YAML alias")),
        YamlDataOwned::BadValue => V::Null,
    };
    Ok(N { v, at })
}

/// Parses YAML text (the first document; none is an empty mapping). `file` names it in
/// positions.
pub fn parse_yaml(text: &str, file: &str) -> Result<N, String> {
    let file: Arc<str> = file.into();
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        let m = e.marker();
        format!("{}: {}", marked_loc(&file, m), e.info())
    })?;
    let start = Loc {
        file: file.clone(),
        line: 1,
        col: 1,
    };
    match docs.first() {
        None => Ok(N {
            v: V::Map(Vec::new()),
            at: start,
        }),
        Some(d) => {
            let n = convert(d, start, &file, 0)?;
            match n.v {
                V::Null => Ok(N {
                    v: V::Map(Vec::new()),
                    at: n.at,
                }),
                _ => Ok(n),
            }
        }
    }
}

/// Falco's `config_files` merge strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Append,
    Override,
    AddOnly,
}

impl Strategy {
    fn parse(s: &str) -> Option<Strategy> {
        match s {
            "append" => Some(Strategy::Append),
            "override" => Some(Strategy::Override),
            "add-only" => Some(Strategy::AddOnly),
            _ => None,
        }
    }
}

/// Merges `other`'s top-level keys into `root` (both mappings) with `strategy`.
pub fn merge(root: &mut N, other: N, strategy: Strategy) {
    let V::Map(items) = other.v else { return };
    for (k, n) in items {
        match root.get_mut(&k) {
            None => {
                if let V::Map(m) = &mut root.v {
                    m.push((k, n));
                }
            }
            Some(existing) => match strategy {
                Strategy::AddOnly => {}
                Strategy::Override => *existing = n,
                Strategy::Append => match (&mut existing.v, n.v) {
                    (V::Seq(a), V::Seq(b)) => a.extend(b),
                    (_, v) => {
                        *existing = N { v, at: n.at };
                    }
                },
            },
        }
    }
}

/// One step of a `-o` key: a name, then optionally an index (`None` = `[]`, append).
#[derive(Debug, Clone, PartialEq)]
struct Step {
    name: String,
    index: Option<Option<usize>>,
}

fn parse_key(key: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, index) = match part.find('[') {
            None => (part, None),
            Some(i) => {
                let rest = &part[i + 1..];
                let inner = rest
                    .strip_suffix(']')
                    .ok_or_else(|| format!("{key:?}: expected `]` at the end of {part:?}"))?;
                let idx = if inner.is_empty() {
                    None
                } else {
                    Some(
                        inner
                            .parse::<usize>()
                            .map_err(|_| format!("{key:?}: bad index {inner:?}"))?,
                    )
                };
                (&part[..i], Some(idx))
            }
        };
        if name.is_empty() || name.contains(['[', ']']) {
            return Err(format!("{key:?}: empty or malformed name in {part:?}"));
        }
        steps.push(Step {
            name: name.to_string(),
            index,
        });
    }
    Ok(steps)
}

/// Applies one `-o key=value` (Falco's syntax, see the module doc).
pub fn apply_override(root: &mut N, opt: &str) -> Result<(), String> {
    let (key, value) = opt
        .split_once('=')
        .ok_or_else(|| format!("-o {opt:?}: expected key=value"))?;
    let steps = parse_key(key.trim()).map_err(|e| format!("-o {e}"))?;
    let label = format!("-o {key}");
    // A value that is not valid YAML (e.g. `*`, an alias marker) is taken as a string.
    let mut val = parse_yaml(value, &label).unwrap_or_else(|_| N {
        v: V::Str(value.to_string()),
        at: Loc::default(),
    });
    if value.trim().is_empty() {
        val.v = V::Str(String::new());
    }
    let at = Loc {
        file: label.as_str().into(),
        line: 0,
        col: 0,
    };
    set_at_loc(&mut val, &at);
    let mut cur = root;
    let n = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        let last = i + 1 == n;
        if !matches!(cur.v, V::Map(_)) {
            if matches!(cur.v, V::Null) {
                cur.v = V::Map(Vec::new());
            } else {
                return Err(format!(
                    "-o {key}: {:?} is inside {}, not a mapping",
                    step.name,
                    cur.show()
                ));
            }
        }
        if cur.get(&step.name).is_none() {
            let fresh = N {
                v: if step.index.is_some() {
                    V::Seq(Vec::new())
                } else {
                    V::Null
                },
                at: at.clone(),
            };
            if let V::Map(m) = &mut cur.v {
                m.push((step.name.clone(), fresh));
            }
        }
        let child = cur.get_mut(&step.name).expect("inserted above");
        cur = match step.index {
            None => child,
            Some(idx) => {
                if matches!(child.v, V::Null) {
                    child.v = V::Seq(Vec::new());
                }
                let shown = child.show();
                let V::Seq(items) = &mut child.v else {
                    return Err(format!("-o {key}: {:?} is {shown}, not a list", step.name));
                };
                let idx = idx.unwrap_or(items.len());
                if idx > items.len() {
                    return Err(format!(
                        "-o {key}: index {idx} is past the end of {:?} ({} item(s))",
                        step.name,
                        items.len()
                    ));
                }
                if idx == items.len() {
                    items.push(N {
                        v: V::Null,
                        at: at.clone(),
                    });
                }
                &mut items[idx]
            }
        };
        if last {
            *cur = val;
            return Ok(());
        }
    }
    Ok(())
}

fn set_at_loc(n: &mut N, at: &Loc) {
    n.at = at.clone();
    match &mut n.v {
        V::Seq(s) => s.iter_mut().for_each(|c| set_at_loc(c, at)),
        V::Map(m) => m.iter_mut().for_each(|(_, c)| set_at_loc(c, at)),
        _ => {}
    }
}

/// The merged configuration: the tree, the files it came from (in order), and what was
/// said while merging.
#[derive(Debug, Clone)]
pub struct Merged {
    pub root: N,
    pub files: Vec<PathBuf>,
    /// What to watch for changes: the main file and every `config_files` entry as
    /// written (a directory, or a path that does not exist yet, included).
    pub watch: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

const MAX_CONFIG_BYTES: u64 = 16 << 20;

fn read_file(path: &Path) -> Result<N, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    f.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("{}: larger than 16 MiB", path.display()));
    }
    let n = parse_yaml(&text, &path.display().to_string())?;
    if !matches!(n.v, V::Map(_)) {
        return Err(format!("{}: the top level must be a mapping", n.at));
    }
    Ok(n)
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The `config_files` entries of a tree: (path, strategy, where written).
fn config_file_entries(root: &N, base: &Path) -> Result<Vec<(PathBuf, Strategy, Loc)>, String> {
    let Some(cf) = root.get("config_files") else {
        return Ok(Vec::new());
    };
    let items: Vec<&N> = match &cf.v {
        V::Null => Vec::new(),
        V::Str(_) => vec![cf],
        V::Seq(s) => s.iter().collect(),
        _ => {
            return Err(format!(
                "{}: config_files: expected a list of paths or {{path, strategy}}",
                cf.at
            ))
        }
    };
    let mut out = Vec::new();
    for it in items {
        match &it.v {
            V::Str(s) => out.push((resolve(base, s), Strategy::Append, it.at.clone())),
            V::Map(_) => {
                let Some(N { v: V::Str(p), .. }) = it.get("path") else {
                    return Err(format!("{}: config_files: an item needs a path", it.at));
                };
                let strategy = match it.get("strategy") {
                    None => Strategy::Append,
                    Some(N { v: V::Str(s), at }) => Strategy::parse(s).ok_or_else(|| {
                        format!(
                            "{at}: config_files.strategy: unknown strategy {s:?} (append, override or add-only)"
                        )
                    })?,
                    Some(o) => {
                        return Err(format!(
                            "{}: config_files.strategy: expected append, override or add-only",
                            o.at
                        ))
                    }
                };
                for (k, n) in match &it.v {
                    V::Map(m) => m.as_slice(),
                    _ => &[],
                } {
                    if k != "path" && k != "strategy" {
                        return Err(format!("{}: config_files: unknown item key {k:?}", n.at));
                    }
                }
                out.push((resolve(base, p), strategy, it.at.clone()));
            }
            _ => {
                return Err(format!(
                    "{}: config_files: expected a path or {{path, strategy}}, got {}",
                    it.at,
                    it.show()
                ))
            }
        }
    }
    Ok(out)
}

/// Reads the main file (`None`: an empty configuration), merges its `config_files`, then
/// applies the `-o` overrides (an override of `config_files` includes those files too).
pub fn load(main: Option<&Path>, overrides: &[String]) -> Result<Merged, String> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let (mut root, base) = match main {
        Some(p) => {
            files.push(p.to_path_buf());
            (
                read_file(p)?,
                p.parent().unwrap_or(Path::new(".")).to_path_buf(),
            )
        }
        None => (
            N {
                v: V::Map(Vec::new()),
                at: Loc::default(),
            },
            PathBuf::from("."),
        ),
    };
    let entries = config_file_entries(&root, &base)?;
    let mut watch = files.clone();
    watch.extend(entries.iter().map(|e| e.0.clone()));
    include(&mut root, entries, &mut files, &mut warnings)?;
    for o in overrides {
        let before = config_file_entries(&root, &base)?.len();
        apply_override(&mut root, o)?;
        let after = config_file_entries(&root, &base)?;
        if o.trim_start().starts_with("config_files") {
            let new: Vec<_> = after.into_iter().skip(before).collect();
            watch.extend(new.iter().map(|e| e.0.clone()));
            include(&mut root, new, &mut files, &mut warnings)?;
        }
    }
    Ok(Merged {
        root,
        files,
        watch,
        warnings,
    })
}

fn include(
    root: &mut N,
    entries: Vec<(PathBuf, Strategy, Loc)>,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    for (path, strategy, at) in entries {
        let list = if path.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| format!("{at}: config_files: {}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            v
        } else if path.exists() {
            vec![path.clone()]
        } else {
            warnings.push(format!(
                "{at}: config_files: {} does not exist, skipped",
                path.display()
            ));
            continue;
        };
        for f in list {
            let n = read_file(&f)?;
            if let Some(c) = n.get("config_files") {
                return Err(format!(
                    "{}: config_files in an included file: nested includes are not allowed",
                    c.at
                ));
            }
            merge(root, n, strategy);
            files.push(f);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(t: &str) -> N {
        parse_yaml(t, "f.yaml").unwrap()
    }

    #[test]
    fn positions_are_one_based() {
        let n = y("a: 1\nb:\n  c: true\n");
        assert_eq!(n.get("a").unwrap().at.to_string(), "f.yaml:1:1");
        let c = n.get("b").unwrap().get("c").unwrap();
        assert_eq!(c.at.to_string(), "f.yaml:3:3");
        assert_eq!(c.v, V::Bool(true));
    }

    #[test]
    fn overrides() {
        let mut n = y("a: {b: 1}\nl: [x]\n");
        apply_override(&mut n, "a.b=2").unwrap();
        apply_override(&mut n, "a.c.d=[u, v]").unwrap();
        apply_override(&mut n, "l[0]=y").unwrap();
        apply_override(&mut n, "l[]=z").unwrap();
        apply_override(&mut n, "rules[].disable.rule=*").unwrap();
        apply_override(&mut n, "s=").unwrap();
        let j = n.to_json();
        assert_eq!(
            j,
            serde_json::json!({"a": {"b": 2, "c": {"d": ["u", "v"]}}, "l": ["y", "z"],
                "rules": [{"disable": {"rule": "*"}}], "s": ""})
        );
        assert!(apply_override(&mut n, "nokey").is_err());
        assert!(apply_override(&mut n, "l[5]=q").is_err());
        assert!(apply_override(&mut n, "a.b.c=1").is_err());
        assert!(apply_override(&mut n, "a[x]=1").is_err());
        assert!(apply_override(&mut n, "a..b=1").is_err());
    }

    #[test]
    fn merge_strategies() {
        let base = || y("l: [a]\ns: 1\nm: {x: 1}\n");
        let other = || y("l: [b]\ns: 2\nm: {y: 2}\nn: 3\n");
        let mut a = base();
        merge(&mut a, other(), Strategy::Append);
        assert_eq!(
            a.to_json(),
            serde_json::json!({"l": ["a", "b"], "s": 2, "m": {"y": 2}, "n": 3})
        );
        let mut o = base();
        merge(&mut o, other(), Strategy::Override);
        assert_eq!(
            o.to_json(),
            serde_json::json!({"l": ["b"], "s": 2, "m": {"y": 2}, "n": 3})
        );
        let mut ad = base();
        merge(&mut ad, other(), Strategy::AddOnly);
        assert_eq!(
            ad.to_json(),
            serde_json::json!({"l": ["a"], "s": 1, "m": {"x": 1}, "n": 3})
        );
    }
}
