//! The supervisor's YAML config file: Falco's keys where they apply (`rules_files`,
//! `json_output`, `priority`, `rule_matching`, `file_output`, `stdout_output`,
//! `syslog_output`, `program_output`, `http_output`, `outputs_queue`) plus tiercel's own under `tiercel:` (`mode`, `deny`,
//! `errno`, `socket`, `allow_mode_downgrade`, `queue`). Command-line flags override it.
//! [`load_full`] reads a file the way Falco does ([`crate::settings`]: `config_files`,
//! `-o`), checks it against [`crate::schema`] (unknown keys are warnings with
//! `file:line:col`, wrong types errors with `file:line:col` and the key path), then
//! parses it.

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Yaml};
use tiercel_rules::output::AlertOptions;
use tiercel_rules::priority::Priority;
use tiercel_rules::program::RuleMatching;

use crate::decide::{parse_errno, DenySpec, Mode};

/// What a config file sets (`None`: not set, the default or the flag applies).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    pub rules_files: Vec<PathBuf>,
    pub json_output: Option<bool>,
    pub time_format_iso_8601: Option<bool>,
    pub json_include_output_property: Option<bool>,
    pub json_include_tags_property: Option<bool>,
    pub json_include_message_property: Option<bool>,
    pub json_include_output_fields_property: Option<bool>,
    pub priority: Option<Priority>,
    pub rule_matching: Option<RuleMatching>,
    /// `stdout_output`, `file_output`, `syslog_output`, `program_output`, `http_output`,
    /// `outputs_queue` (see `sinks::config`).
    pub outputs: crate::sinks::OutputsConfig,
    /// `webserver`.
    pub web: crate::web::WebConfig,
    /// `metrics`.
    pub metrics: crate::metrics::MetricsConfig,
    pub mode: Option<Mode>,
    pub deny: Vec<DenySpec>,
    pub errno: Option<i32>,
    pub socket: Option<PathBuf>,
    pub allow_mode_downgrade: Option<bool>,
    pub queue: Option<usize>,
    /// Falco's `rules:` selection items.
    pub rules_selection: Vec<tiercel_rules::selection::SelectItem>,
    /// `log_level` (lower-case Falco name), `log_stderr`, `log_syslog`.
    pub log_level: Option<String>,
    pub log_stderr: Option<bool>,
    pub log_syslog: Option<bool>,
    /// `watch_config_files`.
    pub watch_config_files: Option<bool>,
    /// `append_output` items without `match`: extra output texts, `suggested_output`.
    pub append_output: Vec<String>,
    pub suggested_output: Option<bool>,
    /// `tiercel.syslog_socket`: the syslog socket of `syslog_output` and `log_syslog`.
    pub syslog_socket: Option<PathBuf>,
    /// The config files read, in merge order (main file first).
    pub files: Vec<PathBuf>,
    /// The paths to watch for changes (main file, `config_files` entries as written).
    pub watch: Vec<PathBuf>,
    /// Merge warnings and unknown keys, with `file:line:col`.
    pub warnings: Vec<String>,
}

/// The config file read when no `-c` is given, if it exists.
pub const DEFAULT_PATH: &str = "/etc/tiercel/falco.yaml";

/// [`DEFAULT_PATH`] when it exists (`TIERCEL_DEFAULT_CONFIG` overrides the path, for tests).
pub fn default_path() -> Option<PathBuf> {
    let p = std::env::var_os("TIERCEL_DEFAULT_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    p.exists().then_some(p)
}

/// Reads `main` (none: only the overrides), its `config_files`, applies the `-o`
/// overrides, checks the result against the schema and parses it.
pub fn load_full(main: Option<&Path>, overrides: &[String]) -> Result<FileConfig, String> {
    let merged = crate::settings::load(main, overrides)?;
    let checked = crate::schema::check(&merged.root);
    if !checked.errors.is_empty() {
        return Err(format!("bad configuration:\n{}", checked.errors.join("\n")));
    }
    let text = serde_json::to_string(&merged.root.to_json()).map_err(|e| e.to_string())?;
    let base = main
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut c = parse(&text, &base).map_err(|e| locate(&merged.root, &e))?;
    if let Some(r) = merged.root.get("rules") {
        c.rules_selection =
            crate::load::parse_selection(r).map_err(|e| format!("{}: rules: {e}", r.at))?;
    }
    let get = |k: &str| merged.root.get(k).map(|n| &n.v);
    use crate::settings::V;
    if let Some(V::Str(s)) = get("log_level") {
        c.log_level = Some(s.trim().to_ascii_lowercase());
    }
    if let Some(V::Bool(b)) = get("log_stderr") {
        c.log_stderr = Some(*b);
    }
    if let Some(V::Bool(b)) = get("log_syslog") {
        c.log_syslog = Some(*b);
    }
    if let Some(V::Bool(b)) = get("watch_config_files") {
        c.watch_config_files = Some(*b);
    }
    let mut append_warnings = Vec::new();
    if let Some(a) = merged.root.get("append_output") {
        let (extra, suggested, w) = crate::load::parse_append_output(a)?;
        c.append_output = extra;
        c.suggested_output = suggested;
        append_warnings = w;
    }
    c.files = merged.files;
    c.watch = merged.watch;
    c.warnings = merged.warnings;
    c.warnings.extend(append_warnings);
    c.warnings.extend(checked.unknown_warnings());
    Ok(c)
}

/// Adds the position of the key an error of [`parse`] names (`config: a.b: …`).
fn locate(root: &crate::settings::N, e: &str) -> String {
    let key = e
        .strip_prefix("config: ")
        .and_then(|r| r.split_once(": "))
        .map(|(k, _)| k);
    if let Some(k) = key {
        // The key itself, or its deepest ancestor that is written (a missing required key).
        let mut node = root;
        let mut found = false;
        for part in k.split('.') {
            match node.get(part) {
                Some(n) => {
                    node = n;
                    found = true;
                }
                None => break,
            }
        }
        if found {
            return format!("{}: {}", node.at, e.trim_start_matches("config: "));
        }
    }
    e.to_string()
}

fn err(key: &str, what: &str) -> String {
    format!("config: {key}: {what}")
}

fn get_bool(map: &Yaml, key: &str, path: &str) -> Result<Option<bool>, String> {
    match map.as_mapping_get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| err(path, "expected true or false")),
    }
}

fn get_str<'a>(map: &'a Yaml, key: &str, path: &str) -> Result<Option<&'a str>, String> {
    match map.as_mapping_get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| err(path, "expected a string")),
    }
}

fn string_list(v: &Yaml, path: &str) -> Result<Vec<String>, String> {
    if let Some(s) = v.as_str() {
        return Ok(vec![s.to_string()]);
    }
    let seq = v
        .as_vec()
        .ok_or_else(|| err(path, "expected a list of strings"))?;
    seq.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| err(path, "expected a string"))
        })
        .collect()
}

/// `tiercel.deny`: a list of selector strings (`--deny` syntax) and/or mappings
/// `{rule|tag|priority: VALUE, errno: NAME|N, action: deny|kill-process|kill-container}`.
fn deny_list(v: &Yaml) -> Result<Vec<DenySpec>, String> {
    const KEY: &str = "tiercel.deny";
    let items: Vec<&Yaml> = match v.as_vec() {
        Some(seq) => seq.iter().collect(),
        None => vec![v],
    };
    let mut out = Vec::with_capacity(items.len());
    for (k, item) in items.into_iter().enumerate() {
        let at = format!("{KEY}[{k}]");
        if let Some(s) = item.as_str() {
            out.push(s.parse().map_err(|e: String| err(&at, &e))?);
            continue;
        }
        let Some(map) = item.as_mapping() else {
            return Err(err(&at, "expected a selector string or a mapping"));
        };
        let mut selector = None;
        let mut errno = None;
        let mut action = crate::decide::Action::Deny;
        for (key, value) in map {
            let key = key
                .as_str()
                .ok_or_else(|| err(&at, "keys must be strings"))?;
            let text = match (value.as_str(), value.as_integer()) {
                (Some(s), _) => s.to_string(),
                (None, Some(i)) => i.to_string(),
                _ => return Err(err(&format!("{at}.{key}"), "expected a string")),
            };
            match key {
                "rule" | "tag" | "priority" => {
                    if selector.is_some() {
                        return Err(err(&at, "more than one of rule, tag, priority"));
                    }
                    selector = Some(
                        format!("{key}:{text}")
                            .parse::<crate::decide::Selector>()
                            .map_err(|e| err(&at, &e))?,
                    );
                }
                "errno" => errno = Some(parse_errno(&text).map_err(|e| err(&at, &e))?),
                "action" => action = text.parse().map_err(|e: String| err(&at, &e))?,
                other => {
                    return Err(err(
                        &at,
                        &format!(
                            "unknown key {other:?} (expected rule, tag, priority, errno, action)"
                        ),
                    ))
                }
            }
        }
        let selector = selector.ok_or_else(|| err(&at, "needs one of rule, tag, priority"))?;
        out.push(DenySpec {
            selector,
            errno,
            action,
        });
    }
    Ok(out)
}

/// Parses config text. `base` resolves relative paths (the file's directory).
pub fn parse(text: &str, base: &Path) -> Result<FileConfig, String> {
    let docs = Yaml::load_from_str(text).map_err(|e| format!("config: {e}"))?;
    let mut c = FileConfig::default();
    let Some(root) = docs.first() else {
        return Ok(c);
    };
    if root.is_null() {
        return Ok(c);
    }
    if root.as_mapping().is_none() {
        return Err("config: the top level must be a mapping".into());
    }
    let rel = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    for key in ["rules_files", "rules_file"] {
        if let Some(v) = root.as_mapping_get(key) {
            if !v.is_null() {
                c.rules_files
                    .extend(string_list(v, key)?.iter().map(|p| rel(p)));
            }
        }
    }
    c.json_output = get_bool(root, "json_output", "json_output")?;
    c.time_format_iso_8601 = get_bool(root, "time_format_iso_8601", "time_format_iso_8601")?;
    c.json_include_output_property = get_bool(
        root,
        "json_include_output_property",
        "json_include_output_property",
    )?;
    c.json_include_tags_property = get_bool(
        root,
        "json_include_tags_property",
        "json_include_tags_property",
    )?;
    c.json_include_message_property = get_bool(
        root,
        "json_include_message_property",
        "json_include_message_property",
    )?;
    c.json_include_output_fields_property = get_bool(
        root,
        "json_include_output_fields_property",
        "json_include_output_fields_property",
    )?;
    if let Some(p) = get_str(root, "priority", "priority")? {
        c.priority = Some(Priority::parse(p).ok_or_else(|| err("priority", "unknown priority"))?);
    }
    if let Some(m) = get_str(root, "rule_matching", "rule_matching")? {
        c.rule_matching = Some(parse_rule_matching(m).map_err(|e| err("rule_matching", &e))?);
    }
    c.outputs = crate::sinks::parse_outputs_config(root, base)?;
    (c.web, c.metrics) = crate::web::parse_config(root, base)?;
    if let Some(t) = root.as_mapping_get("tiercel") {
        if t.is_null() {
            return Ok(c);
        }
        if t.as_mapping().is_none() {
            return Err(err("tiercel", "expected a mapping"));
        }
        if let Some(m) = get_str(t, "mode", "tiercel.mode")? {
            c.mode = Some(m.parse().map_err(|e: String| err("tiercel.mode", &e))?);
        }
        if let Some(d) = t.as_mapping_get("deny") {
            if !d.is_null() {
                c.deny = deny_list(d)?;
            }
        }
        match t.as_mapping_get("errno") {
            None => {}
            Some(v) if v.is_null() => {}
            Some(v) => {
                let s = match (v.as_str(), v.as_integer()) {
                    (Some(s), _) => s.to_string(),
                    (None, Some(i)) => i.to_string(),
                    _ => return Err(err("tiercel.errno", "expected a name or a number")),
                };
                c.errno = Some(parse_errno(&s).map_err(|e| err("tiercel.errno", &e))?);
            }
        }
        if let Some(s) = get_str(t, "socket", "tiercel.socket")? {
            c.socket = Some(rel(s));
        }
        if let Some(s) = get_str(t, "syslog_socket", "tiercel.syslog_socket")? {
            c.syslog_socket = Some(rel(s));
            if let Some(sy) = c.outputs.syslog.as_mut() {
                sy.socket = c.syslog_socket.clone();
            }
        }
        c.allow_mode_downgrade =
            get_bool(t, "allow_mode_downgrade", "tiercel.allow_mode_downgrade")?;
        match t.as_mapping_get("queue") {
            None => {}
            Some(v) if v.is_null() => {}
            Some(v) => {
                let n = v
                    .as_integer()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| err("tiercel.queue", "expected a positive integer"))?;
                c.queue = Some(n as usize);
            }
        }
    }
    Ok(c)
}

impl FileConfig {
    /// Falco's alert format options (`time_format_iso_8601`, `json_include_*`).
    pub fn alert_options(&self) -> AlertOptions {
        let d = AlertOptions::default();
        AlertOptions {
            time_iso8601: self.time_format_iso_8601.unwrap_or(d.time_iso8601),
            include_output: self
                .json_include_output_property
                .unwrap_or(d.include_output),
            include_tags: self.json_include_tags_property.unwrap_or(d.include_tags),
            include_message: self
                .json_include_message_property
                .unwrap_or(d.include_message),
            include_output_fields: self
                .json_include_output_fields_property
                .unwrap_or(d.include_output_fields),
        }
    }
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|e| format!("{}: {e}", path.display()))
}

/// `first` | `all` (Falco's `rule_matching`).
pub fn parse_rule_matching(s: &str) -> Result<RuleMatching, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "first" => Ok(RuleMatching::First),
        "all" => Ok(RuleMatching::All),
        o => Err(format!(
            "unknown rule_matching {o:?} (expected first or all)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config() {
        let c = parse(
            r#"
rules_files:
  - rules.yaml
  - /etc/tiercel/more.yaml
json_output: true
time_format_iso_8601: true
json_include_tags_property: false
priority: warning
rule_matching: all
file_output:
  enabled: true
  keep_alive: false
  filename: ./events.txt
stdout_output:
  enabled: false
http_output:
  enabled: true
  url: http://localhost:2801/
webserver:
  enabled: true
tiercel:
  mode: enforce
  deny: ["rule:Write below binary dir", "tag:T1"]
  errno: EROFS
  socket: /run/tiercel/tiercel.sock
  queue: 100
"#,
            Path::new("/base"),
        )
        .unwrap();
        assert_eq!(
            c.rules_files,
            vec![
                PathBuf::from("/base/rules.yaml"),
                PathBuf::from("/etc/tiercel/more.yaml")
            ]
        );
        assert_eq!(c.json_output, Some(true));
        let o = c.alert_options();
        assert!(o.time_iso8601 && !o.include_tags && o.include_output);
        assert_eq!(c.priority, Some(Priority::Warning));
        assert_eq!(c.rule_matching, Some(RuleMatching::All));
        let f = c.outputs.file.as_ref().unwrap();
        assert_eq!(f.filename, PathBuf::from("/base/./events.txt"));
        assert!(!f.keep_alive);
        assert!(!c.outputs.stdout);
        assert_eq!(
            c.outputs.http.as_ref().map(|h| h.url.as_str()),
            Some("http://localhost:2801/")
        );
        assert_eq!(c.mode, Some(Mode::Enforce));
        assert_eq!(c.deny.len(), 2);
        assert_eq!(c.errno, Some(libc::EROFS));
        assert_eq!(c.socket, Some(PathBuf::from("/run/tiercel/tiercel.sock")));
        assert_eq!(c.queue, Some(100));
    }

    #[test]
    fn deny_items_as_strings_and_mappings() {
        use crate::decide::{Action, Selector};
        let c = parse(
            "tiercel:\n  deny:\n    - 'tag:T1,action=kill-process'\n    - {rule: Write below binary dir, errno: EROFS, action: kill-container}\n    - {priority: critical, errno: 13}\n",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.deny.len(), 3);
        assert_eq!(c.deny[0].action, Action::KillProcess);
        assert_eq!(
            c.deny[1].selector,
            Selector::Rule("Write below binary dir".into())
        );
        assert_eq!(
            (c.deny[1].errno, c.deny[1].action),
            (Some(libc::EROFS), Action::KillContainer)
        );
        assert_eq!(
            (c.deny[2].errno, c.deny[2].action),
            (Some(13), Action::Deny)
        );
        for (bad, says) in [
            (
                "tiercel: {deny: [{errno: EROFS}]}\n",
                "needs one of rule, tag, priority",
            ),
            ("tiercel: {deny: [{rule: a, tag: b}]}\n", "more than one"),
            (
                "tiercel: {deny: [{rule: a, action: kill}]}\n",
                "unknown action",
            ),
            (
                "tiercel: {deny: [{rule: a, errno: EWHAT}]}\n",
                "unknown errno",
            ),
            ("tiercel: {deny: [{rule: a, signal: 9}]}\n", "unknown key"),
            (
                "tiercel: {deny: [[a]]}\n",
                "expected a selector string or a mapping",
            ),
            (
                "tiercel: {deny: ['tag:x,action=stop']}\n",
                "tiercel.deny[0]",
            ),
        ] {
            let e = parse(bad, Path::new("/")).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_and_errors() {
        assert_eq!(parse("", Path::new("/")).unwrap(), FileConfig::default());
        assert_eq!(
            parse("# nothing\n", Path::new("/")).unwrap(),
            FileConfig::default()
        );
        assert!(parse("- a\n", Path::new("/")).is_err());
        assert!(parse("json_output: maybe\n", Path::new("/")).is_err());
        assert!(parse("tiercel: {mode: loud}\n", Path::new("/")).is_err());
        assert!(parse("tiercel: {errno: EWHAT}\n", Path::new("/")).is_err());
        assert!(parse("priority: sometimes\n", Path::new("/")).is_err());
        assert!(parse("rule_matching: best\n", Path::new("/")).is_err());
        assert!(parse("a: [\n", Path::new("/")).is_err());
        assert_eq!(
            parse("tiercel: {errno: 13}\n", Path::new("/"))
                .unwrap()
                .errno,
            Some(13)
        );
        assert_eq!(
            parse("rules_file: r.yaml\n", Path::new("/x"))
                .unwrap()
                .rules_files,
            vec![PathBuf::from("/x/r.yaml")]
        );
    }
}
