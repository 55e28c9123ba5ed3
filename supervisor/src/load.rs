//! The one way every tiercel command and binary loads rules (`supervise` and its SIGHUP
//! reload, `profile`, `rules check/list/eval/syscalls`, `tiercel-shim`; `tiercel-hook`
//! starts `supervise`).
//!
//! * Paths are files or directories, loaded in the order given (like `falco -r a -r b`);
//!   a directory stands for its `.yaml`/`.yml` files (not its subdirectories), in name
//!   order, as Falco ≥ 0.41 loads a `rules_files` directory. A directory that cannot be
//!   listed is a `LOAD_ERR_FILE_READ` error like an unreadable file.
//! * One set of loader options ([`options`]): Falco's defaults plus tiercel's event
//!   source ([`Tiercel`]), so rules that can never fire under tiercel are reported
//!   everywhere the same way (warning `LOAD_COMPILE_CONDITION`, see
//!   [`tiercel_rules::fireable`]).
//! * One text for errors: Falco's verbose form ([`LoadOutcome::render_text`]: `file:line:col`,
//!   the item, a caret snippet, the code), whichever command loads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tiercel_rules::event::EventType;
use tiercel_rules::fields::{Availability, Field};
use tiercel_rules::fireable::EventSource;
use tiercel_rules::loader::{LoadOutcome, Loader, LoaderOptions};
use tiercel_rules::priority::Priority;
use tiercel_rules::program::Program;
use tiercel_rules::selection::{SelectItem, Target};

use crate::settings::{N, V};

/// What tiercel's event source (the seccomp notification decoder and
/// [`crate::event::builder`]) produces.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tiercel;

/// Fields Falco only knows after the call (registry: exit-only) that tiercel still
/// serves at entry, from the socket the call works on (an already bound or connected
/// socket has its local address before the call).
const EXIT_ONLY_SERVED: &[Field] = &[
    Field::FdLip,
    Field::FdLport,
    Field::FdLnet,
    Field::FdCport,
    Field::FdLipName,
];

impl EventSource for Tiercel {
    /// The event types of the syscalls the supervisor can be notified of: x86_64
    /// syscalls (by Falco's name), minus those it never notifies (`write`). Meta events
    /// (`procexit`, `container`, `switch` …) and other architectures' names never occur.
    fn decodes(&self, t: EventType) -> bool {
        let names = crate::profile::falco_event_syscalls(t.name());
        !names.is_empty()
            && names
                .iter()
                .all(|n| !crate::profile::NEVER_NOTIFY.contains(n))
    }

    fn serves(&self, field: Field) -> bool {
        match field.info().availability {
            Availability::ExitOnly => EXIT_ONLY_SERVED.contains(&field),
            Availability::NotServed => false,
            _ => true,
        }
    }
}

/// The loader options every command uses.
pub fn options() -> LoaderOptions {
    options_with(&Selection::default())
}

/// The same with a rule selection.
pub fn options_with(sel: &Selection) -> LoaderOptions {
    LoaderOptions {
        event_source: Some(Arc::new(Tiercel)),
        selection: sel.items.clone(),
        min_priority: sel.min_priority,
        append_output: sel.append_output.clone(),
        suggested_output: sel.suggested_output,
        ..LoaderOptions::default()
    }
}

/// Which rules run: Falco's `rules:` items (config, then `-D`/`-T`/`-t`) and `priority`.
/// Every command that loads rules takes the same selection, so the supervisor, the
/// profile, `rules syscalls/list` and the shim agree on the enabled rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub items: Vec<SelectItem>,
    /// Falco's `priority`: less severe rules are not loaded.
    pub min_priority: Priority,
    /// Falco's `append_output` items without `match`: `extra_output` texts appended to
    /// every rule's output, and `suggested_output` (default true).
    pub append_output: Vec<String>,
    pub suggested_output: bool,
}

impl Default for Selection {
    fn default() -> Selection {
        Selection {
            items: Vec::new(),
            min_priority: Priority::Debug,
            append_output: Vec::new(),
            suggested_output: true,
        }
    }
}

impl Selection {
    /// The selection a config file asks for (`rules:`, `priority`, `append_output`), then
    /// `more` items (the command line's).
    pub fn from_config(cfg: &crate::config::FileConfig, more: Vec<SelectItem>) -> Selection {
        let mut items = cfg.rules_selection.clone();
        items.extend(more);
        Selection {
            items,
            min_priority: cfg.priority.unwrap_or(Priority::Debug),
            append_output: cfg.append_output.clone(),
            suggested_output: cfg.suggested_output.unwrap_or(true),
        }
    }
}

/// What Falco's `append_output` list asks for: `extra_output` texts, `suggested_output`,
/// and warnings about what is ignored.
pub type AppendOutput = (Vec<String>, Option<bool>, Vec<String>);

/// Falco's `append_output` list. Items with `match` or `extra_fields` are not supported
/// yet: warned about (`file:line:col`) and ignored.
pub fn parse_append_output(n: &N) -> Result<AppendOutput, String> {
    let items = match &n.v {
        V::Null => return Ok((Vec::new(), None, Vec::new())),
        V::Seq(s) => s,
        _ => {
            return Err(format!(
                "{}: append_output: expected a list, got {}",
                n.at,
                n.show()
            ))
        }
    };
    let (mut extra, mut suggested, mut warnings) = (Vec::new(), None, Vec::new());
    for it in items {
        let V::Map(m) = &it.v else {
            return Err(format!(
                "{}: append_output: expected a mapping, got {}",
                it.at,
                it.show()
            ));
        };
        if let Some(mt) = it.get("match") {
            if !matches!(&mt.v, V::Null) && !matches!(&mt.v, V::Map(x) if x.is_empty()) {
                warnings.push(format!(
                    "{}: append_output: items with `match` are not supported yet; ignored",
                    mt.at
                ));
                continue;
            }
        }
        for (k, v) in m {
            match (k.as_str(), &v.v) {
                ("match", _) => {}
                ("extra_output", V::Str(s)) => extra.push(s.clone()),
                ("suggested_output", V::Bool(b)) => suggested = Some(*b),
                ("extra_fields", _) => warnings.push(format!(
                    "{}: append_output: extra_fields are not supported yet; ignored",
                    v.at
                )),
                ("extra_output", _) | ("suggested_output", _) => {
                    return Err(format!(
                        "{}: append_output.{k}: expected a {}, got {}",
                        v.at,
                        if k == "extra_output" {
                            "string"
                        } else {
                            "bool"
                        },
                        v.show()
                    ))
                }
                _ => warnings.push(format!(
                    "{}: unknown configuration key 'append_output.{k}' (ignored)",
                    v.at
                )),
            }
        }
    }
    Ok((extra, suggested, warnings))
}

/// Falco's rule-selection flags (before 0.38 options of their own; Falco now turns them
/// into `rules:` items, as tiercel does: `-D S` is `disable: {rule: '*S*'}`, `-T T` is
/// `disable: {tag: T}`, `-t T` is `disable: {rule: '*'}` then `enable: {tag: T}` for
/// each `-t`), and the config file they come with.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// The config file (Falco's falco.yaml keys plus `tiercel:`; its `rules:`,
    /// `priority` and `rules_files` apply). Default: /etc/tiercel/falco.yaml when it exists.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set a config key, Falco's `-o` syntax: `a.b=v`, `l[0]=v`, `l[]=v`, YAML values.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub option: Vec<String>,
    /// Disable the rules with this tag (repeatable; Falco's -T).
    #[arg(short = 'T', value_name = "TAG")]
    pub disable_tag: Vec<String>,
    /// Only run the rules with this tag (repeatable: any of them; Falco's -t).
    #[arg(short = 't', value_name = "TAG")]
    pub enable_tag: Vec<String>,
    /// Disable the rules whose name contains this (repeatable; Falco's -D).
    #[arg(short = 'D', value_name = "SUBSTRING")]
    pub disable_rule: Vec<String>,
}

impl SelectArgs {
    /// The flags as `rules:` items, in Falco's order (-D, -T, then -t). Like Falco,
    /// -t cannot be combined with -D or -T.
    pub fn items(&self) -> Result<Vec<SelectItem>, String> {
        let disables = !self.disable_tag.is_empty() || !self.disable_rule.is_empty();
        if !self.enable_tag.is_empty() && disables {
            return Err("-t (only these tags) cannot be combined with -T or -D".into());
        }
        let mut v: Vec<SelectItem> = self
            .disable_rule
            .iter()
            .map(|s| SelectItem {
                enable: false,
                target: Target::Rule(format!("*{s}*")),
            })
            .collect();
        v.extend(self.disable_tag.iter().map(|t| SelectItem {
            enable: false,
            target: Target::Tag(t.clone()),
        }));
        if !self.enable_tag.is_empty() {
            v.push(SelectItem {
                enable: false,
                target: Target::Rule("*".into()),
            });
            v.extend(self.enable_tag.iter().map(|t| SelectItem {
                enable: true,
                target: Target::Tag(t.clone()),
            }));
        }
        Ok(v)
    }

    /// The config file to read: `-c`, else the default when it exists.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(crate::config::default_path)
    }

    /// The rule files and the selection for the rules commands: `-r` (else the config's
    /// `rules_files`), the config's `rules:`/`priority`, then the flags.
    pub fn resolve(&self, rules: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, Selection)> {
        let path = self.config_path();
        let cfg = if path.is_some() || !self.option.is_empty() {
            let c = crate::config::load_full(path.as_deref(), &self.option)
                .map_err(anyhow::Error::msg)?;
            for w in &c.warnings {
                tracing::warn!("{w}");
            }
            c
        } else {
            crate::config::FileConfig::default()
        };
        let files = if rules.is_empty() {
            cfg.rules_files.clone()
        } else {
            rules.to_vec()
        };
        let more = self.items().map_err(anyhow::Error::msg)?;
        Ok((files, Selection::from_config(&cfg, more)))
    }
}

/// Falco's `rules:` list: items `{enable: {rule: P}}`, `{disable: {tag: T}}` … Errors
/// name the position.
pub fn parse_selection(n: &N) -> Result<Vec<SelectItem>, String> {
    let items = match &n.v {
        V::Null => return Ok(Vec::new()),
        V::Seq(s) => s,
        _ => {
            return Err(format!(
                "expected a list of enable/disable items, got {}",
                n.show()
            ))
        }
    };
    let mut out = Vec::new();
    for it in items {
        let bad = || {
            format!(
                "{}: expected `- enable: {{rule: NAME}}`, `- disable: {{tag: TAG}}` (rule or tag, wildcard * in names), got {}",
                it.at,
                it.show()
            )
        };
        let V::Map(m) = &it.v else { return Err(bad()) };
        for (op, body) in m {
            let enable = match op.as_str() {
                "enable" => true,
                "disable" => false,
                _ => return Err(bad()),
            };
            let V::Map(sel) = &body.v else {
                return Err(bad());
            };
            if sel.is_empty() {
                return Err(bad());
            }
            for (what, val) in sel {
                let V::Str(s) = &val.v else {
                    return Err(format!(
                        "{}: {op}.{what}: expected a string, got {}",
                        val.at,
                        val.show()
                    ));
                };
                let target = match what.as_str() {
                    "rule" => Target::Rule(s.clone()),
                    "tag" => Target::Tag(s.clone()),
                    _ => {
                        return Err(format!(
                            "{}: {op}: unknown key {what:?} (rule or tag)",
                            val.at
                        ))
                    }
                };
                out.push(SelectItem { enable, target });
            }
        }
    }
    Ok(out)
}

/// The files `path` stands for: itself, or a directory's `.yaml`/`.yml` files in name
/// order. `Err` when a directory cannot be listed.
pub fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let yaml = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if yaml && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads rule files and directories in order.
pub fn load(paths: &[PathBuf]) -> LoadOutcome {
    load_selected(paths, &Selection::default())
}

/// Loads rule files and directories in order, with a rule selection.
pub fn load_selected(paths: &[PathBuf], sel: &Selection) -> LoadOutcome {
    let mut loader = Loader::new(options_with(sel));
    for p in paths {
        match rule_files(p) {
            Ok(files) => {
                if files.is_empty() && p.is_dir() {
                    tracing::warn!(
                        "{}: no .yaml/.yml rule files in this directory",
                        p.display()
                    );
                }
                for f in files {
                    loader.add_file(&f);
                }
            }
            // The loader reports it as Falco does an unreadable file.
            Err(_) => loader.add_file(p),
        }
    }
    loader.finish()
}

/// `N rules cannot fire under tiercel: 'a', 'b'` for a load, when there is any.
pub fn unfireable_summary(outcome: &LoadOutcome) -> Option<String> {
    tiercel_rules::fireable::summary(outcome.program.as_ref()?, &outcome.unfireable)
}

/// Why the rules did not load: every diagnostic in Falco's verbose form.
#[derive(Debug, thiserror::Error)]
#[error("the rules did not load ({errors} error(s)):\n{text}")]
pub struct LoadError {
    pub errors: usize,
    /// [`LoadOutcome::render_text`]: per file, `file:line:col: error: …`, the item, a
    /// snippet, the code.
    pub text: String,
}

/// Loads for running: warnings are logged (Falco's text, with positions), any error
/// fails with [`LoadError`]. The program's operands are ordered by tiercel's field
/// costs (same results, fewer `/proc` reads).
pub fn program(paths: &[PathBuf]) -> Result<Program, LoadError> {
    program_selected(paths, &Selection::default())
}

/// [`program`] with a rule selection.
pub fn program_selected(paths: &[PathBuf], sel: &Selection) -> Result<Program, LoadError> {
    let outcome = load_selected(paths, sel);
    let errors = outcome.errors();
    if errors > 0 || outcome.program.is_none() {
        return Err(LoadError {
            errors,
            text: outcome.render_text(),
        });
    }
    if outcome.warnings() > 0 {
        tracing::warn!(
            "rule files loaded with {} warning(s):\n{}",
            outcome.warnings(),
            outcome.render_text().trim_end()
        );
    }
    if let Some(s) = unfireable_summary(&outcome) {
        tracing::warn!("{s}");
    }
    let program = outcome.program.unwrap_or_default();
    Ok(program.with_field_hints(&crate::event::field_cost, &crate::event::field_range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::builder::EventBuilder;
    use crate::event::mem::BufMem;
    use crate::event::syscalls::{syscall_nr, AUDIT_ARCH_X86_64};
    use crate::event::{ContainerInfo, Notif};
    use tiercel_rules::event::{Event, FieldArg};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tiercel-load-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const RULE: &str = "- rule: R\n  desc: d\n  condition: evt.type = open and proc.name = x\n  output: o\n  priority: WARNING\n";

    #[test]
    fn a_directory_loads_its_yaml_files_in_name_order() {
        let d = tmp("dir");
        std::fs::write(d.join("b.yml"), "- macro: m\n  condition: proc.name = y\n").unwrap();
        std::fs::write(d.join("c.yaml"), RULE.replace("proc.name = x", "m")).unwrap();
        std::fs::write(d.join("a.yaml"), "- list: l\n  items: [x]\n").unwrap();
        std::fs::write(d.join("notes.txt"), "not yaml: [").unwrap();
        std::fs::create_dir_all(d.join("sub.yaml")).unwrap();
        let files = rule_files(&d).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml", "c.yaml"]);
        // the macro of b.yml is visible to the rule of c.yaml: loaded in order
        let o = load(std::slice::from_ref(&d));
        assert_eq!(o.errors(), 0, "{}", o.render_text());
        assert_eq!(o.program.unwrap().rules().len(), 1);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn errors_carry_file_line_and_item() {
        let d = tmp("err");
        let f = d.join("bad.yaml");
        std::fs::write(
            &f,
            "- rule: Broken\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n",
        )
        .unwrap();
        let e = program(&[f]).unwrap_err();
        assert_eq!(e.errors, 1);
        let text = e.to_string();
        assert!(
            text.contains("bad.yaml:1:3: error: Item has no mapping for key 'desc'"),
            "{text}"
        );
        assert!(text.contains("rule 'Broken'"), "{text}");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn decoded_event_types() {
        let t = |n: &str| Tiercel.decodes(EventType::from_name(n).unwrap());
        assert!(t("openat") && t("execve") && t("connect") && t("pread"));
        assert!(!t("write"), "never notified");
        assert!(!t("procexit") && !t("container") && !t("switch"));
    }

    /// Every field `serves` says has no value is `None` on real events built from this
    /// process (open, connect, read): the claim rests on the builder, not on a list.
    #[test]
    fn unserved_fields_have_no_value_in_built_events() {
        let pid = std::process::id();
        let mut m = BufMem::new(0x1000);
        let path = m.put_cstr(b"/etc/hostname");
        let sin = m.put(&[2u8, 0, 0x01, 0xbb, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut b = EventBuilder::new(ContainerInfo::default());
        let calls: [(&str, [u64; 6]); 3] = [
            ("openat", [libc::AT_FDCWD as u64, path, 0, 0, 0, 0]),
            ("connect", [0, sin, 16, 0, 0, 0]),
            ("read", [0, 0x1000, 16, 0, 0, 0]),
        ];
        let mut unserved = 0;
        for (name, args) in calls {
            let n = Notif {
                id: 1,
                pid,
                arch: AUDIT_ARCH_X86_64,
                nr: syscall_nr(name).unwrap(),
                instruction_pointer: 0,
                args,
            };
            let ev = b.build(&n, &m).unwrap();
            for info in tiercel_rules::fields::all() {
                if Tiercel.serves(info.field) {
                    continue;
                }
                unserved += 1;
                for arg in [FieldArg::None, FieldArg::Index(0)] {
                    assert!(
                        ev.extract(info.field, &arg).is_none(),
                        "{} has a value in a {name} event",
                        info.name
                    );
                }
            }
        }
        assert!(unserved > 20, "{unserved}");
    }
}
