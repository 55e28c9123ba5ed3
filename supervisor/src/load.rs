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
use tiercel_rules::program::Program;

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
    LoaderOptions {
        event_source: Some(Arc::new(Tiercel)),
        ..LoaderOptions::default()
    }
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
    let mut loader = Loader::new(options());
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
    let outcome = load(paths);
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
    Ok(program.with_field_costs(&crate::event::field_cost))
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
