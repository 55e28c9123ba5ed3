//! Field extraction, one file per field class (in the spirit of libsinsp's filter
//! checks): [`evt`], [`fd`], [`proc`] (with `thread.*`), [`user`] (with `group.*`),
//! [`container`] (with `k8s.*`), [`fs`]. The registry (names, types, arguments) is the
//! rules crate's [`tiercel_rules::fields`]; a field's class is looked up once per
//! [`Field`] in a table built from it, so that evaluation dispatches on types only.
//!
//! Also here: [`field_cost`] (what the rule engine orders operands by) and
//! [`SyscallEvent::view_dependent`] (which fields the resolved view changes).

use std::borrow::Cow;
use std::sync::OnceLock;

use tiercel_rules::event::{Field, FieldArg, Value};

use super::builder::SyscallEvent;
use super::decode::{self, ParamVal};

mod container;
mod evt;
mod fd;
mod fs;
mod proc;
mod user;

pub use fd::FdInfo;

pub(super) fn s<'a>(x: impl Into<Cow<'a, str>>) -> Option<Value<'a>> {
    Some(Value::Str(x.into()))
}

pub(super) fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// The field classes this source serves, by name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Evt,
    Fd,
    Fs,
    Proc,
    User,
    Container,
    Other,
}

impl Class {
    fn of_prefix(prefix: &str) -> Class {
        match prefix {
            "evt" | "syscall" => Class::Evt,
            "fd" => Class::Fd,
            "fs" => Class::Fs,
            "proc" | "thread" => Class::Proc,
            "user" | "group" => Class::User,
            "container" | "k8s" => Class::Container,
            _ => Class::Other,
        }
    }

    /// The class of `field`, from a table indexed by the field (built once).
    fn of(field: Field) -> Class {
        static TABLE: OnceLock<Vec<Class>> = OnceLock::new();
        let t = TABLE.get_or_init(|| {
            let all = tiercel_rules::fields::all();
            let mut t = vec![Class::Other; all.len()];
            for f in all {
                let prefix = f.name.split_once('.').map_or(f.name, |(p, _)| p);
                if let Some(slot) = t.get_mut(f.field as usize) {
                    *slot = Class::of_prefix(prefix);
                }
            }
            t
        });
        t.get(field as usize).copied().unwrap_or(Class::Other)
    }
}

impl SyscallEvent {
    /// The value of a field given by its Falco name (without argument), or `None`.
    pub fn extract_named(&self, name: &str, arg: &FieldArg) -> Option<Value<'_>> {
        self.extract_field(tiercel_rules::fields::lookup(name)?.field, arg)
    }

    /// The value of `field[arg]`, or `None` when this event has none.
    pub fn extract_field(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match Class::of(field) {
            Class::Evt => self.evt_field(field, arg),
            Class::Fd => self.fd_field(field),
            Class::Fs => self.fs_field(field),
            Class::Proc => self.proc_field(field, arg),
            Class::User => self.user_field(field),
            Class::Container => self.container_field(field, arg),
            Class::Other => None,
        }
    }

    /// Whether field `field` (argument `arg`) of this event can take another value in the
    /// resolved view ([`SyscallEvent::set_resolved_view`]): the path-valued fields of
    /// path-taking calls. Every other field reads the same in both views.
    pub fn view_dependent(&self, field: Field, arg: &FieldArg) -> bool {
        let path_param =
            |p: Option<&decode::Param>| matches!(p, Some(p) if matches!(p.val, ParamVal::Path(_)));
        match field {
            Field::FdName | Field::FdDirectory | Field::FdFilename => self.d.fd_path.is_some(),
            Field::EvtAbspath
            | Field::EvtAbspathSrc
            | Field::EvtAbspathDst
            | Field::FsPathName
            | Field::FsPathSource
            | Field::FsPathTarget => !self.d.paths.is_empty(),
            Field::EvtArgs | Field::EvtInfo => self
                .d
                .params
                .iter()
                .any(|p| matches!(p.val, ParamVal::Path(_))),
            Field::EvtArg => match arg {
                FieldArg::Name(n) => path_param(self.d.params.iter().find(|p| *p.name == **n)),
                FieldArg::Index(i) => {
                    path_param(usize::try_from(*i).ok().and_then(|i| self.d.params.get(i)))
                }
                FieldArg::None => false,
            },
            _ => false,
        }
    }
}

/// What extracting `field` from a [`SyscallEvent`] costs, roughly in µs of
/// system calls on a cache miss (0 = decoded values, no system call). The rules engine
/// orders the operands of `and`/`or` by it ([`tiercel_rules::program::Program::with_field_costs`]),
/// so that, e.g., an `openat` that no rule's path test matches is decided without
/// scanning the caller's fd table (`fd.num`) or reading its `/proc` entries.
pub fn field_cost(field: tiercel_rules::fields::Field) -> u32 {
    let name = field.name();
    let (class, rest) = name.split_once('.').unwrap_or((name, ""));
    match class {
        "evt" => match rest {
            // fd-returning calls: the caller's lowest free fd (a scan of /proc/<tid>/fd).
            "res" | "rawres" | "failed" => 20,
            "abspath" | "abspath.src" | "abspath.dst" => 3,
            // Every parameter rendered (paths, fds).
            "args" | "info" => 5,
            // One parameter rendered as text (flag names, a path).
            "arg" => 2,
            _ => 0,
        },
        "fd" => match rest {
            "num" | "types" => 20,
            // Open flags; for fd-using calls a readlink of /proc/<tid>/fd/N.
            "typechar" | "type" => 2,
            // The path argument (the caller's cwd or dirfd for relative ones); for
            // fd-using calls a readlink.
            "name" | "directory" | "filename" | "nameraw" => 3,
            // Sockets: the socket itself (pidfd_getfd) and its addresses.
            _ => 10,
        },
        "fs" => 3,
        "container" | "k8s" | "syscall" => 0,
        "proc" | "thread" => match rest {
            // The ancestors: one /proc/<pid>/stat per level.
            r if r.starts_with('a')
                || matches!(r, "pname" | "pcmdline" | "pexe" | "pexepath" | "sname")
                || r.starts_with("vpgid.") =>
            {
                12
            }
            "env" | "is_exe_upper_layer" | "is_exe_from_memfd" | "is_exe_writable" => 10,
            _ => 8,
        },
        "user" | "group" => 15,
        _ => 5,
    }
}

/// What tiercel knows of integer fields per event type, for the rules engine to decide
/// comparisons once per type ([`tiercel_rules::program::Program::with_field_hints`]).
/// On opens (`open`, `openat`, `openat2`, `creat`) `fd.num` and `evt.rawres` are the
/// predicted result of a successful open: the caller's lowest free fd, read from
/// `/proc/<tid>/fd` (0 when that cannot be read), never negative. So Falco's
/// `fd.num>=0` (the `open_read`/`open_write` macros: "the open succeeded") holds and
/// `fd.num=-1` (`open_file_failed_inputs`) fails on every open, as they did when
/// evaluated, now without scanning the fd table; `fd.num` is still read where a rule
/// compares it with a number the prediction can cross, and for outputs.
pub fn field_range(t: tiercel_rules::event::EventType, field: Field) -> Option<(i64, i64)> {
    if matches!(t.name(), "open" | "openat" | "openat2" | "creat")
        && matches!(field, Field::FdNum | Field::EvtRawres)
    {
        return Some((0, i64::MAX));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;
    use tiercel_rules::fields;

    #[test]
    fn every_registry_field_has_a_class() {
        // A new class prefix in the registry would otherwise be served as missing.
        for f in fields::all() {
            assert_ne!(Class::of(f.field), Class::Other, "{}", f.name);
        }
        assert_eq!(Class::of(Field::SyscallType), Class::Evt);
        assert_eq!(Class::of(Field::ThreadTid), Class::Proc);
        assert_eq!(Class::of(Field::GroupName), Class::User);
        assert_eq!(Class::of(Field::K8sNsName), Class::Container);
    }

    #[test]
    fn field_costs_order_decoded_before_paths_before_proc_before_scans() {
        let c = |n: &str| field_cost(fields::lookup(n).unwrap().field);
        assert_eq!(c("evt.type"), 0);
        assert_eq!(c("evt.is_open_write"), 0);
        assert!(c("evt.arg") < c("fd.name"));
        assert!(c("fd.name") < c("proc.name"));
        assert!(c("proc.name") < c("proc.aname"));
        assert!(c("proc.name") < c("fd.sip"));
        assert!(c("proc.aname") < c("fd.num"));
        assert_eq!(c("fd.num"), c("evt.rawres"));
        // Every field has a cost (no panics, nothing absurd).
        for f in fields::all() {
            assert!(field_cost(f.field) <= 20, "{}", f.name);
        }
    }

    #[test]
    fn declared_ranges_hold_for_opens() {
        // Every spec of the open family predicts its result (fd.num / evt.rawres from the
        // lowest free fd), and a built open's values lie in the declared range.
        let ty = |n: &str| tiercel_rules::event::EventType::from_name(n).unwrap();
        for n in ["open", "openat", "openat2", "creat"] {
            let sp = decode::spec(n).unwrap();
            assert!(sp.returns_fd && sp.fd_path, "{n}");
            assert_eq!(field_range(ty(n), Field::FdNum), Some((0, i64::MAX)));
        }
        assert_eq!(field_range(ty("dup2"), Field::FdNum), None);
        assert_eq!(field_range(ty("close"), Field::FdNum), None);
        assert_eq!(field_range(ty("openat"), Field::ProcPid), None);
        let t = target("range");
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let ev = builder()
            .build(
                &notif(t.child.id(), "openat", [(-100i64) as u64, p, 0, 0, 0, 0]),
                &m,
            )
            .unwrap();
        for f in ["fd.num", "evt.rawres"] {
            let v: i64 = get(&ev, f).unwrap().parse().unwrap();
            assert!(v >= 0, "{f} = {v}");
        }
    }

    #[test]
    fn view_dependent_fields_are_the_path_valued_ones() {
        let t = target("view");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/tmp/x");
        let q = m.put_cstr(b"/tmp/y");
        let mut b = builder();
        let name = |n: &str| FieldArg::Name(n.into());
        let ev = b
            .build(
                &notif(pid, "openat", [(-100i64) as u64, p, 0o1101, 0o600, 0, 0]),
                &m,
            )
            .unwrap();
        assert!(ev.view_dependent(Field::FdName, &FieldArg::None));
        assert!(ev.view_dependent(Field::FdDirectory, &FieldArg::None));
        assert!(ev.view_dependent(Field::EvtArg, &name("name")));
        assert!(!ev.view_dependent(Field::EvtArg, &name("flags")));
        assert!(!ev.view_dependent(Field::FdNameraw, &FieldArg::None));
        assert!(!ev.view_dependent(Field::ProcName, &FieldArg::None));
        // evt.arg.flags is rendered once and then served borrowed.
        assert_eq!(get(&ev, "evt.arg.flags"), get(&ev, "evt.arg.flags"));
        let ev = b
            .build(
                &notif(
                    pid,
                    "renameat",
                    [(-100i64) as u64, p, (-100i64) as u64, q, 0, 0],
                ),
                &m,
            )
            .unwrap();
        assert!(ev.view_dependent(Field::EvtArg, &name("oldpath")));
        assert!(ev.view_dependent(Field::EvtArg, &name("newpath")));
        assert!(!ev.view_dependent(Field::EvtArg, &name("olddirfd")));
        assert!(
            !ev.view_dependent(Field::FdName, &FieldArg::None),
            "no fd path"
        );
    }
}
