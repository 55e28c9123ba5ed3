//! The seccomp profile generator: which syscalls the loaded rules need notified, the
//! `linux.seccomp` object that sends them to tiercel, and merging that into an existing
//! profile (a bundle's `config.json`, or podman's/docker's `seccomp.json`).
//!
//! Decisions (documented for ARCHITECTURE.md):
//! - Falco event types map to x86_64 syscall names ([`falco_event_syscalls`]): most are the
//!   syscall's own name; `pread`/`pwrite`/`umount`/`prlimit` are the kernel's
//!   `pread64`/`pwrite64`/`umount2`/`prlimit64`; meta events (`procexit`, `container` …) and
//!   other-architecture names (`mmap2`, `socketcall` …) map to nothing.
//! - A rule without an event-type restriction (or one matching more than
//!   [`MANY_EVTTYPES`] types, i.e. a negated `evt.type`) is served with [`DECODED_SYSCALLS`]:
//!   every syscall the event builder turns into a Falco event — files, exec, network,
//!   credentials, namespaces, modules, mounts. Hot calls (`read`, `futex`, `mmap`, `close`,
//!   thread creation …) are deliberately absent: notifying them would stall every workload.
//! - `open`/`openat` are prefiltered in the kernel on their flags ([`notify_plan`]): for
//!   each value of `flags & OPEN_CLASS_MASK` (`O_ACCMODE|O_CREAT|O_TRUNC|__O_TMPFILE|
//!   O_DIRECTORY`, 64 classes) the rules are evaluated in three-valued logic with the
//!   fields that class decides known — `evt.is_open_read`/`write`/`create`,
//!   `fd.typechar`, and `evt.arg.flags contains|icontains P` when the class fixes it for
//!   every flags value (P part of a name shown, or, without `|`, of no name the class may
//!   show) — and every other field unknown ([`tiercel_rules::prefilter`]). Bits that never
//!   change the answer are dropped from the mask; only the classes some rule can match
//!   are notified, one NOTIFY rule per class with the OCI condition `{"index": 2 (openat)
//!   / 1 (open), "value": mask, "valueTwo": class, "op": "SCMP_CMP_MASKED_EQ"}`
//!   (runc/crun: `(arg & value) == valueTwo`). The seed rule gives mask `0o200003`
//!   (`fd.typechar='f'` is decided by `O_DIRECTORY`) with classes 1 and 2; the
//!   protect-binary-dirs preset 58 of the 64 classes of the whole mask. A call no rule can
//!   match in any class is not notified; one that needs every class is notified without
//!   condition. `openat2` (flags inside a struct) and `creat` (always a write) are never
//!   prefiltered. `tiercel rules syscalls` prints `openat (flags & 0o200003 in
//!   {0o1,0o2})`, or `not in` the other classes when that list is shorter; with mask 3,
//!   `openat (flags & O_ACCMODE in {1,2})`.
//! - libseccomp lets an unconditional rule for a syscall win over every conditional rule
//!   for it (whatever the order and actions), so merging takes a prefiltered call out of
//!   an unconditional allow rule and writes one single-class copy of that rule per value
//!   of the mask (NOTIFY for the planned classes, the rule's own action for the others;
//!   at most 64); a base rule that already has `args` for the call keeps them and gets a
//!   plain NOTIFY copy instead (conditions on the same argument are not combined).
//! - `write` is never notified (runc refuses it, and it would deadlock runc's sync pipe);
//!   NOTIFY is never the `defaultAction` (runc refuses that too).
//! - Generated profiles list only the native architecture (`SCMP_ARCH_X86_64`): the runtime's
//!   bad-arch action kills non-native calls in the kernel. Merged profiles keep their
//!   architectures in audit mode and are cut to the native one in enforce mode.
//! - Enforce mode refuses `io_uring_setup`/`io_uring_enter`/`io_uring_register` in the kernel
//!   with `ENOSYS` (programs fall back to plain syscalls, which are watched).
//! - `listenerMetadata` is `mode=<audit|enforce>` (newline-separated `key=value` pairs).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{json, Map, Value};
use tiercel_rules::evttype::EventType;
use tiercel_rules::prefilter::{open_flag_classes, subsets};
use tiercel_rules::program::Program;

/// The native seccomp architecture of the profiles we generate.
pub const NATIVE_ARCH: &str = "SCMP_ARCH_X86_64";

/// Syscalls that are never notified, whatever the rules say (runc refuses NOTIFY on
/// `write`; notifying it could also deadlock the runtime's own sync pipe).
pub const NEVER_NOTIFY: &[&str] = &["write"];

/// Refused in the kernel in enforce mode (a bypass channel: io_uring does file and
/// network operations without syscalls).
pub const IO_URING: &[&str] = &["io_uring_setup", "io_uring_enter", "io_uring_register"];

/// The errno io_uring calls get in enforce mode.
pub const IO_URING_ERRNO: i64 = libc::ENOSYS as i64;

/// A rule matching more event types than this (e.g. `evt.type != open`) is treated as
/// unrestricted: it gets [`DECODED_SYSCALLS`], not every syscall of the table.
pub const MANY_EVTTYPES: usize = 100;

/// What rules without an event-type restriction are served with: every syscall the event
/// builder decodes into a Falco event. Hot calls are left out on purpose.
pub const DECODED_SYSCALLS: &[&str] = &[
    // files: open, create, change, remove
    "open",
    "openat",
    "openat2",
    "creat",
    "truncate",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "unlink",
    "unlinkat",
    "rmdir",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "utimensat",
    "name_to_handle_at",
    "open_by_handle_at",
    "chdir",
    "fchdir",
    "chroot",
    // exec
    "execve",
    "execveat",
    "memfd_create",
    // network
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "sendto",
    "sendmsg",
    "recvfrom",
    "recvmsg",
    // descriptors
    "dup",
    "dup2",
    "dup3",
    // credentials, namespaces, tracing, modules, bpf
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "capset",
    "setns",
    "unshare",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "userfaultfd",
    // mounts
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "mount_setattr",
];

/// Falco event names whose x86_64 syscall has another name.
const FALCO_ALIASES: &[(&str, &str)] = &[
    ("pread", "pread64"),
    ("pwrite", "pwrite64"),
    ("umount", "umount2"),
    ("prlimit", "prlimit64"),
];

pub use crate::decide::Mode;

/// The `listenerMetadata` string for `mode`.
pub fn metadata_for(mode: Mode) -> String {
    format!("mode={mode}")
}

/// Errors of profile generation and merging.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid seccomp profile: {0}")]
    Invalid(String),
    #[error(
        "the seccomp profile already sends notifications to another agent (listenerPath {0:?}); \
         only one notifying filter per container is possible (EBUSY)"
    )]
    OtherAgent(String),
    #[error("the seccomp profile uses SCMP_ACT_NOTIFY as defaultAction, which runc refuses")]
    NotifyDefault,
}

/// The x86_64 number of syscall `name`.
pub fn x86_64_syscall_nr(name: &str) -> Option<u32> {
    crate::event::syscalls::syscall_nr(name).and_then(|n| u32::try_from(n).ok())
}

/// The x86_64 syscalls a Falco event type stands for (empty for meta events and names of
/// other architectures).
pub fn falco_event_syscalls(event: &str) -> Vec<&'static str> {
    let name = FALCO_ALIASES
        .iter()
        .find(|(f, _)| *f == event)
        .map_or(event, |(_, k)| k);
    use crate::event::syscalls::{syscall_name, syscall_nr, Arch};
    syscall_nr(name)
        .and_then(|nr| syscall_name(Arch::X86_64, nr))
        .map(|k| vec![k])
        .unwrap_or_default()
}

/// The syscalls to notify for rules with the given event-type restrictions (`None` = the
/// rule applies to every event type). Sorted, de-duplicated, never `write`.
pub fn notify_syscalls_for<'a, I, S>(rules: I) -> Vec<String>
where
    I: IntoIterator<Item = Option<S>>,
    S: IntoIterator<Item = &'a str>,
{
    let mut out: BTreeSet<&'static str> = BTreeSet::new();
    for types in rules {
        let names: Vec<&str> = match types {
            Some(t) => t.into_iter().collect(),
            None => Vec::new(),
        };
        if names.is_empty() || names.len() > MANY_EVTTYPES {
            out.extend(DECODED_SYSCALLS.iter().copied());
        } else {
            for n in names {
                out.extend(falco_event_syscalls(n));
            }
        }
    }
    out.retain(|n| !NEVER_NOTIFY.contains(n) && x86_64_syscall_nr(n).is_some());
    out.into_iter().map(str::to_owned).collect()
}

/// The syscalls the enabled rules of `program` can match (see the module doc for the
/// mapping of event types and of rules without a restriction), without the argument
/// conditions of [`notify_plan`]: every name it notifies at all.
pub fn notify_syscalls(program: &Program) -> Vec<String> {
    notify_plan(program).names()
}

/// The event-type syscalls of `program` before prefiltering.
fn event_syscalls(program: &Program) -> Vec<String> {
    notify_syscalls_for(program.rules().iter().map(|r| {
        r.evttypes
            .as_ref()
            .map(|v| v.iter().map(|t| t.name()).collect::<Vec<_>>())
    }))
}

/// The seccomp mask of the access mode of open flags (`O_ACCMODE`).
pub const O_ACCMODE: u64 = tiercel_rules::prefilter::O_ACCMODE;

/// Syscalls prefiltered on their flags, with the index of the flags argument. `openat2`
/// (flags inside a struct) and `creat` (always a write) are not.
pub const ACCESS_MODE_SYSCALLS: &[(&str, u32)] = &[("open", 1), ("openat", 2)];

/// Only the calls whose flags argument, masked, has one of some values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFilter {
    /// The flags argument (0-based).
    pub index: u32,
    /// The flag bits compared (not 0; a subset of
    /// [`tiercel_rules::prefilter::OPEN_CLASS_MASK`]).
    pub mask: u64,
    /// `flags & mask` values to notify: ascending, subsets of `mask`, not empty, not
    /// all of them.
    pub values: Vec<u64>,
}

impl AccessFilter {
    /// Every value of `flags & mask` (ascending).
    pub fn all_values(&self) -> Vec<u64> {
        subsets(self.mask)
    }
}

/// One notified syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRule {
    pub name: String,
    /// `None`: every call.
    pub access: Option<AccessFilter>,
}

impl NotifyRule {
    /// `name`, `name (flags & O_ACCMODE in {1,2})`, or with another mask in octal,
    /// listing the notified values or, when shorter, the others:
    /// `name (flags & 0o20201103 not in {0o0,0o3,…})`.
    pub fn describe(&self) -> String {
        let Some(a) = &self.access else {
            return self.name.clone();
        };
        let octal = |v: &u64| {
            if a.mask == O_ACCMODE {
                v.to_string()
            } else {
                format!("{v:#o}")
            }
        };
        let others: Vec<u64> = a
            .all_values()
            .into_iter()
            .filter(|v| !a.values.contains(v))
            .collect();
        let (op, list) = if others.len() < a.values.len() {
            ("not in", &others)
        } else {
            ("in", &a.values)
        };
        let mask = if a.mask == O_ACCMODE {
            "O_ACCMODE".to_string()
        } else {
            format!("{:#o}", a.mask)
        };
        format!(
            "{} (flags & {mask} {op} {{{}}})",
            self.name,
            list.iter().map(octal).collect::<Vec<_>>().join(",")
        )
    }
}

/// What to notify: syscalls, some only under conditions on their arguments that
/// seccomp checks in the kernel. Sorted by name, one entry per name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyPlan {
    pub rules: Vec<NotifyRule>,
}

impl NotifyPlan {
    /// Every call of each of `names` (no prefilter).
    pub fn unconditional<S: AsRef<str>>(names: &[S]) -> NotifyPlan {
        let set: BTreeSet<&str> = names.iter().map(AsRef::as_ref).collect();
        NotifyPlan {
            rules: set
                .into_iter()
                .map(|n| NotifyRule {
                    name: n.to_owned(),
                    access: None,
                })
                .collect(),
        }
    }

    /// The notified names.
    pub fn names(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.name.clone()).collect()
    }

    /// The entry for `name`.
    pub fn get(&self, name: &str) -> Option<&NotifyRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Without the entries of `drop`.
    fn without(&self, drop: &[&str]) -> NotifyPlan {
        NotifyPlan {
            rules: self
                .rules
                .iter()
                .filter(|r| !drop.contains(&r.name.as_str()))
                .cloned()
                .collect(),
        }
    }
}

/// The OCI argument condition `(arg[index] & mask) == value` (runc/crun
/// `SCMP_CMP_MASKED_EQ`: `value` is the mask, `valueTwo` the expected value).
pub fn access_mode_arg(index: u32, mask: u64, value: u64) -> Value {
    json!({"index": index, "value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ"})
}

/// A class of flags values: those with `flags & mask == value`.
type FlagClass = (u64, u64);

/// If `args` is exactly one [`access_mode_arg`] on `index` (a mask of open flag bits):
/// its (mask, value).
fn access_mode_of(args: Option<&Value>, index: u32) -> Option<FlagClass> {
    let [a] = args?.as_array()?.as_slice() else {
        return None;
    };
    let mask = a.get("value")?.as_u64()?;
    let value = a.get("valueTwo").and_then(Value::as_u64).unwrap_or(0);
    (a.get("index")?.as_u64()? == u64::from(index)
        && a.get("op")?.as_str()? == "SCMP_CMP_MASKED_EQ"
        && mask != 0
        && mask & !tiercel_rules::prefilter::OPEN_CLASS_MASK == 0
        && value & !mask == 0)
        .then_some((mask, value))
}

/// Whether some flags value lies both in class `c` and in a class of `a` it notifies.
fn class_meets(a: &AccessFilter, (mask, value): FlagClass) -> bool {
    let common = a.mask & mask;
    a.values.iter().any(|v| v & common == value & common)
}

/// Whether the classes `have` (notified by rules already there) cover every flags value
/// of class `value` of `mask` (one of them contains it whole).
fn class_covered(have: &[FlagClass], mask: u64, value: u64) -> bool {
    have.iter().any(|&(m, v)| m & !mask == 0 && value & m == v)
}

/// What the enabled rules of `program` need notified: [`notify_syscalls_for`] of their
/// event types, then, for `open`/`openat` ([`ACCESS_MODE_SYSCALLS`]), only the flag
/// classes some rule can match ([`tiercel_rules::prefilter::open_flag_classes`]); a call
/// none can match in any class is not notified at all.
pub fn notify_plan(program: &Program) -> NotifyPlan {
    let mut rules = Vec::new();
    for name in event_syscalls(program) {
        let filter = ACCESS_MODE_SYSCALLS
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(n, i)| Some((EventType::from_name(n)?, *i)));
        let access = match filter {
            None => None,
            Some((t, index)) => {
                let c = open_flag_classes(program, t);
                if c.values.is_empty() {
                    continue;
                }
                let a = AccessFilter {
                    index,
                    mask: c.mask,
                    values: c.values,
                };
                (a.mask != 0 && a.values.len() < a.all_values().len()).then_some(a)
            }
        };
        rules.push(NotifyRule { name, access });
    }
    NotifyPlan { rules }
}

/// `rule` (an allow or notify rule of a base profile) restricted to `names`, with
/// `action` (`None` = the rule's own) and `args` (`None` = the rule's own).
fn derived(rule: &Value, names: &[String], action: Option<&str>, args: Option<Value>) -> Value {
    let mut r = with_names(rule, names);
    if let Some(o) = r.as_object_mut() {
        if let Some(a) = action {
            o.insert("action".into(), json!(a));
            if a == "SCMP_ACT_NOTIFY" {
                o.remove("errnoRet");
                o.remove("errno");
            }
        }
        if let Some(a) = args {
            o.insert("args".into(), a);
        }
    }
    r
}

/// The NOTIFY rules of `plan`: one for the unconditional names, one per flag class of
/// the others (rules for one syscall are ORed, the `args` of one rule ANDed).
fn notify_rules(plan: &NotifyPlan) -> Vec<Value> {
    let plain: Vec<&str> = plan
        .rules
        .iter()
        .filter(|r| r.access.is_none())
        .map(|r| r.name.as_str())
        .collect();
    let mut out = Vec::new();
    if !plain.is_empty() {
        out.push(json!({"names": plain, "action": "SCMP_ACT_NOTIFY"}));
    }
    for r in &plan.rules {
        if let Some(a) = &r.access {
            for &v in &a.values {
                out.push(json!({"names": [r.name], "action": "SCMP_ACT_NOTIFY",
                    "args": [access_mode_arg(a.index, a.mask, v)]}));
            }
        }
    }
    out
}

/// A complete `linux.seccomp` object: allow everything, notify what `plan` says (calls
/// outside its flag classes fall to the allowing default), native architecture only,
/// io_uring refused in enforce mode.
pub fn seccomp_object(
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Value {
    let mut drop: Vec<&str> = NEVER_NOTIFY.to_vec();
    if mode == Mode::Enforce {
        drop.extend(IO_URING);
    }
    let mut rules = notify_rules(&plan.without(&drop));
    if mode == Mode::Enforce {
        rules.push(io_uring_rule());
    }
    let mut o = Map::new();
    o.insert("defaultAction".into(), json!("SCMP_ACT_ALLOW"));
    o.insert("architectures".into(), json!([NATIVE_ARCH]));
    o.insert("listenerPath".into(), json!(listener_path));
    if let Some(m) = metadata {
        o.insert("listenerMetadata".into(), json!(m));
    }
    o.insert("syscalls".into(), Value::Array(rules));
    Value::Object(o)
}

const NOTIFY: &str = "SCMP_ACT_NOTIFY";

fn io_uring_rule() -> Value {
    json!({"names": IO_URING, "action": "SCMP_ACT_ERRNO", "errnoRet": IO_URING_ERRNO})
}

/// The result of [`merge_into`].
#[derive(Debug, Clone)]
pub struct Merged {
    /// The new `linux.seccomp` object (every field of the input that we did not need to
    /// change is kept as it was).
    pub seccomp: Value,
    /// Human-readable notes: syscalls left un-notified and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Allow,
    Notify,
    Refuse,
}

fn classify(action: Option<&str>) -> Class {
    match action {
        Some("SCMP_ACT_ALLOW") | Some("SCMP_ACT_LOG") => Class::Allow,
        Some("SCMP_ACT_NOTIFY") => Class::Notify,
        _ => Class::Refuse,
    }
}

fn rule_names(rule: &Value) -> Vec<String> {
    let mut v: Vec<String> = match rule.get("names") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    // docker's older single-name form
    if let Some(n) = rule.get("name").and_then(Value::as_str) {
        v.push(n.to_owned());
    }
    v
}

fn with_names(rule: &Value, names: &[String]) -> Value {
    let mut r = rule.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("name");
        o.insert("names".into(), json!(names));
    }
    r
}

fn non_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => o.values().any(|x| non_empty(Some(x))),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// True when the rule applies only under conditions (arguments, or docker's
/// capability/arch/kernel `includes`/`excludes`).
fn conditional(rule: &Value) -> bool {
    non_empty(rule.get("args"))
        || non_empty(rule.get("includes"))
        || non_empty(rule.get("excludes"))
}

/// Merges the NOTIFY rules of `plan` into an existing `linux.seccomp` object (OCI form, or
/// the docker/containers-common `seccomp.json` form).
///
/// - A call the profile refuses (explicitly, or by a refusing `defaultAction` without an
///   allow rule) stays refused.
/// - Each allow rule naming a wanted call is split: the call moves to a NOTIFY copy of the
///   rule, keeping its `args`, `includes`, `excludes` and any other field.
/// - A call the plan notifies only in some flag classes (`open`/`openat`) and that an
///   allow rule without `args` names gets one copy of that rule per value of the plan's
///   mask ([`access_mode_arg`]): NOTIFY for the plan's classes, the rule's own action for
///   the others. The call is taken out of the unconditional rule, because libseccomp lets
///   an unconditional rule for a syscall silently win over conditional rules for it. An
///   allow rule that already has `args` for it gets the plain NOTIFY copy (no
///   prefilter: conditions on the same argument are not combined), except the
///   single-class rules of an earlier merge (one `SCMP_CMP_MASKED_EQ` on the flags with a
///   mask of open-class bits, whatever the mask): such a rule is notified whole if its
///   class meets a class the plan notifies, kept otherwise (so it never overlaps a
///   NOTIFY rule added below).
/// - Under an allowing `defaultAction`, wanted calls without an unconditional rule get a
///   plain NOTIFY rule (or one per planned class not already inside a notified class of
///   an earlier merge); calls the profile refuses only
///   under conditions are left alone (reported in [`Merged::notes`]).
/// - Enforce mode: io_uring is refused (removed from every rule, one ERRNO rule added) and
///   the architectures are cut to the native one.
pub fn merge_into(
    existing: &Value,
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Result<Merged, ProfileError> {
    let obj = existing
        .as_object()
        .ok_or_else(|| ProfileError::Invalid("linux.seccomp is not an object".into()))?;
    let default = obj.get("defaultAction").and_then(Value::as_str);
    let default_class = match default {
        None => return Err(ProfileError::Invalid("no defaultAction".into())),
        Some("SCMP_ACT_NOTIFY") => return Err(ProfileError::NotifyDefault),
        Some(a) => classify(Some(a)),
    };
    let rules_in: &[Value] = match obj.get("syscalls") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ProfileError::Invalid("syscalls is not an array".into())),
    };
    let has_notify = rules_in
        .iter()
        .any(|r| classify(r.get("action").and_then(Value::as_str)) == Class::Notify);
    if let Some(lp) = obj.get("listenerPath").and_then(Value::as_str) {
        if has_notify && !lp.is_empty() && lp != listener_path {
            return Err(ProfileError::OtherAgent(lp.to_owned()));
        }
    }

    let enforce = mode == Mode::Enforce;
    let mut drop: Vec<&str> = NEVER_NOTIFY.to_vec();
    if enforce {
        drop.extend(IO_URING);
    }
    let plan = plan.without(&drop);
    let want: BTreeSet<&str> = plan.rules.iter().map(|r| r.name.as_str()).collect();
    let flags_index = |n: &str| {
        ACCESS_MODE_SYSCALLS
            .iter()
            .find(|(s, _)| *s == n)
            .map(|(_, i)| *i)
    };

    let mut out_rules: Vec<Value> = Vec::with_capacity(rules_in.len() + 8);
    let mut notes = Vec::new();
    let mut notified_uncond: BTreeSet<String> = BTreeSet::new();
    let mut notified_cond: BTreeSet<String> = BTreeSet::new();
    // Flag classes notified by single-class rules (of an earlier merge).
    let mut notified_modes: BTreeMap<String, Vec<FlagClass>> = BTreeMap::new();
    let mut refused_uncond: BTreeSet<String> = BTreeSet::new();
    let mut refused_cond: BTreeSet<String> = BTreeSet::new();

    for rule in rules_in {
        let mut names = rule_names(rule);
        if enforce {
            names.retain(|n| !IO_URING.contains(&n.as_str()));
        }
        if names.is_empty() {
            if rule_names(rule).is_empty() {
                out_rules.push(rule.clone()); // keep what we do not understand
            }
            continue;
        }
        let cond = conditional(rule);
        let mode_of = |n: &str| flags_index(n).and_then(|i| access_mode_of(rule.get("args"), i));
        match classify(rule.get("action").and_then(Value::as_str)) {
            Class::Allow => {
                let (moved, kept): (Vec<String>, Vec<String>) =
                    names.into_iter().partition(|n| want.contains(n.as_str()));
                if !kept.is_empty() {
                    out_rules.push(with_names(rule, &kept));
                }
                let mut plain = Vec::new();
                for n in moved {
                    let access = plan.get(&n).and_then(|r| r.access.as_ref());
                    if let Some(c) = mode_of(&n) {
                        // a single-class rule of an earlier merge: notified (whole) if
                        // some of its calls need it
                        if access.is_none_or(|a| class_meets(a, c)) {
                            out_rules.push(derived(
                                rule,
                                std::slice::from_ref(&n),
                                Some(NOTIFY),
                                None,
                            ));
                            notified_modes.entry(n).or_default().push(c);
                        } else {
                            out_rules.push(with_names(rule, &[n]));
                        }
                        continue;
                    }
                    match access {
                        Some(a) if !non_empty(rule.get("args")) => {
                            for v in a.all_values() {
                                let action = a.values.contains(&v).then_some(NOTIFY);
                                let args = json!([access_mode_arg(a.index, a.mask, v)]);
                                out_rules.push(derived(
                                    rule,
                                    std::slice::from_ref(&n),
                                    action,
                                    Some(args),
                                ));
                            }
                            if cond {
                                notified_cond.insert(n);
                            } else {
                                notified_uncond.insert(n);
                            }
                        }
                        Some(_) => {
                            notes.push(format!(
                                "{n}: the profile allows it under argument conditions; notified \
                                 under those, without the flags prefilter"
                            ));
                            plain.push(n);
                        }
                        None => plain.push(n),
                    }
                }
                if !plain.is_empty() {
                    out_rules.push(derived(rule, &plain, Some(NOTIFY), None));
                    let set = if cond {
                        &mut notified_cond
                    } else {
                        &mut notified_uncond
                    };
                    set.extend(plain);
                }
            }
            Class::Notify => {
                for n in &names {
                    if let Some(c) = mode_of(n) {
                        notified_modes.entry(n.clone()).or_default().push(c);
                    } else if cond {
                        notified_cond.insert(n.clone());
                    } else {
                        notified_uncond.insert(n.clone());
                    }
                }
                out_rules.push(with_names(rule, &names));
            }
            Class::Refuse => {
                for n in names.iter().filter(|n| want.contains(n.as_str())) {
                    let set = if cond {
                        &mut refused_cond
                    } else {
                        &mut refused_uncond
                    };
                    set.insert(n.clone());
                }
                out_rules.push(with_names(rule, &names));
            }
        }
    }

    if default_class == Class::Allow {
        let mut plain = Vec::new();
        let mut moded = NotifyPlan::default();
        for r in &plan.rules {
            let s = &r.name;
            if notified_uncond.contains(s) || refused_uncond.contains(s) {
                continue;
            }
            if refused_cond.contains(s) {
                notes.push(format!(
                    "{s}: the profile refuses it under conditions; left as it was (not notified)"
                ));
                continue;
            }
            let have = notified_modes.get(s).cloned().unwrap_or_default();
            // every call is covered when the classes of one mask are all there
            let all_covered = have
                .iter()
                .any(|&(m, _)| subsets(m).into_iter().all(|v| class_covered(&have, m, v)));
            match &r.access {
                None if all_covered => {}
                None => plain.push(s.clone()),
                Some(a) => {
                    let values: Vec<u64> = a
                        .values
                        .iter()
                        .copied()
                        .filter(|&v| !class_covered(&have, a.mask, v))
                        .collect();
                    if !values.is_empty() {
                        moded.rules.push(NotifyRule {
                            name: s.clone(),
                            access: Some(AccessFilter {
                                index: a.index,
                                mask: a.mask,
                                values,
                            }),
                        });
                    }
                }
            }
        }
        moded.rules.extend(
            plain
                .into_iter()
                .map(|name| NotifyRule { name, access: None }),
        );
        moded.rules.sort_by(|a, b| a.name.cmp(&b.name));
        out_rules.extend(notify_rules(&moded));
    } else {
        for s in &want {
            let s = s.to_string();
            if !notified_uncond.contains(&s)
                && !notified_cond.contains(&s)
                && !notified_modes.contains_key(&s)
            {
                notes.push(format!("{s}: refused by the profile; stays refused"));
            }
        }
    }
    if enforce {
        out_rules.push(io_uring_rule());
    }

    let mut o = obj.clone();
    o.insert("syscalls".into(), Value::Array(out_rules));
    o.insert("listenerPath".into(), json!(listener_path));
    match metadata {
        Some(m) => {
            o.insert("listenerMetadata".into(), json!(m));
        }
        None => {
            o.remove("listenerMetadata");
        }
    }
    if enforce {
        if o.contains_key("archMap") {
            o.insert(
                "archMap".into(),
                json!([{"architecture": NATIVE_ARCH, "subArchitectures": []}]),
            );
        }
        if o.contains_key("architectures") || !o.contains_key("archMap") {
            o.insert("architectures".into(), json!([NATIVE_ARCH]));
        }
    }
    Ok(Merged {
        seccomp: Value::Object(o),
        notes,
    })
}

/// Output form of `tiercel profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The `linux.seccomp` object of an OCI `config.json` (also accepted by podman).
    #[default]
    Oci,
    /// A containers-common/docker `seccomp.json`: merged into `--base`, by default
    /// podman's own default profile, so its refusals stay.
    Podman,
}

/// Where podman's (containers-common) default seccomp profile lives.
pub const PODMAN_DEFAULT_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// `tiercel profile`: print the `linux.seccomp` object that sends the syscalls the rules
/// need to the supervisor at `--socket`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Falco rule files or directories (their .yaml/.yml files in name order), loaded in
    /// order (repeatable, like `falco -r`).
    /// Default: the config's `rules_files`.
    #[arg(short = 'r', long = "rules", num_args = 1.., action = clap::ArgAction::Append)]
    pub rules: Vec<PathBuf>,
    /// The supervisor's socket (`listenerPath`); must be absolute.
    #[arg(long)]
    pub socket: PathBuf,
    /// Mode requested for containers using this profile.
    #[arg(long, default_value_t = Mode::Audit)]
    pub mode: Mode,
    /// `listenerMetadata` (default: `mode=<mode>`).
    #[arg(long)]
    pub metadata: Option<String>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Oci)]
    pub format: Format,
    /// Merge into this profile instead of allowing everything else: a seccomp.json, a
    /// `linux.seccomp` object, or a bundle's `config.json`.
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// The rule selection (config `rules:`/`priority`, -T, -t, -D), as `supervise` applies it.
    #[command(flatten)]
    pub select: crate::load::SelectArgs,
}

/// Loads rule files like `falco -r a -r b`; an error lists the load's error diagnostics.
pub fn load_program(rules: &[PathBuf]) -> anyhow::Result<Program> {
    Ok(crate::load::program(rules)?)
}

/// Reads a profile to merge into: a `config.json` (its `linux.seccomp`, or `None` when it
/// has none), a bare `linux.seccomp` object or a docker/podman `seccomp.json`.
pub fn read_base(path: &Path) -> anyhow::Result<Option<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if v.get("ociVersion").is_some() || v.get("process").is_some() || v.get("root").is_some() {
        return Ok(v.get("linux").and_then(|l| l.get("seccomp")).cloned());
    }
    Ok(Some(v))
}

/// Builds the profile `args` asks for.
pub fn build(args: &ProfileArgs, program: &Program) -> anyhow::Result<(Value, Vec<String>)> {
    if !args.socket.is_absolute() {
        anyhow::bail!("--socket must be an absolute path (runc and crun require it)");
    }
    let socket = args
        .socket
        .to_str()
        .context("--socket is not valid UTF-8")?;
    let plan = notify_plan(program);
    let metadata = args
        .metadata
        .clone()
        .unwrap_or_else(|| metadata_for(args.mode));
    let base = match (&args.base, args.format) {
        (Some(b), _) => read_base(b)?,
        (None, Format::Podman) if Path::new(PODMAN_DEFAULT_PROFILE).exists() => {
            read_base(Path::new(PODMAN_DEFAULT_PROFILE))?
        }
        (None, _) => None,
    };
    match base {
        Some(b) => {
            let m = merge_into(&b, &plan, socket, Some(&metadata), args.mode)?;
            Ok((m.seccomp, m.notes))
        }
        None => Ok((
            seccomp_object(&plan, socket, Some(&metadata), args.mode),
            Vec::new(),
        )),
    }
}

/// `tiercel profile …`.
pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let (files, sel) = args.select.resolve(&args.rules)?;
    if files.is_empty() {
        anyhow::bail!("no rule files: pass -r RULES (or rules_files in the config)");
    }
    let program = crate::load::program_selected(&files, &sel)?;
    let (profile, notes) = build(&args, &program)?;
    for n in &notes {
        tracing::info!("{n}");
    }
    let mut text = serde_json::to_string_pretty(&profile)?;
    text.push('\n');
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_of(rule: &Value) -> Vec<&str> {
        rule["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    }

    fn rules_for<'a>(p: &'a Value, syscall: &str) -> Vec<&'a Value> {
        p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| names_of(r).contains(&syscall))
            .collect()
    }

    #[test]
    fn table_numbers() {
        assert_eq!(x86_64_syscall_nr("read"), Some(0));
        assert_eq!(x86_64_syscall_nr("openat"), Some(257));
        assert_eq!(x86_64_syscall_nr("openat2"), Some(437));
        assert_eq!(x86_64_syscall_nr("fchmodat2"), Some(452));
        assert_eq!(x86_64_syscall_nr("mmap2"), None);
        for s in DECODED_SYSCALLS.iter().chain(IO_URING) {
            assert!(
                x86_64_syscall_nr(s).is_some(),
                "{s} is not an x86_64 syscall"
            );
        }
    }

    #[test]
    fn event_types_map_to_syscalls() {
        assert_eq!(falco_event_syscalls("pread"), vec!["pread64"]);
        assert_eq!(falco_event_syscalls("umount"), vec!["umount2"]);
        assert_eq!(falco_event_syscalls("openat"), vec!["openat"]);
        assert!(falco_event_syscalls("procexit").is_empty());
        assert!(falco_event_syscalls("socketcall").is_empty());
    }

    #[test]
    fn notify_set_from_rules() {
        let got = notify_syscalls_for(vec![
            Some(vec!["open", "openat", "write", "procexit"]),
            Some(vec!["execve"]),
        ]);
        assert_eq!(got, vec!["execve", "open", "openat"]);
        // unrestricted rule: the decoded set, still never write
        let all = notify_syscalls_for(vec![None::<Vec<&str>>]);
        assert!(all.contains(&"openat".to_string()) && all.contains(&"connect".to_string()));
        assert!(!all
            .iter()
            .any(|s| s == "write" || s == "read" || s == "futex"));
        // a negated type list is treated as unrestricted
        let many: Vec<&str> =
            crate::event::syscalls::all_syscalls(crate::event::syscalls::Arch::X86_64)
                .map(|(_, n)| n)
                .collect();
        let neg = notify_syscalls_for(vec![Some(many)]);
        assert_eq!(neg, all);
    }

    #[test]
    fn fresh_object() {
        let s = vec![
            "openat".to_string(),
            "write".to_string(),
            "io_uring_enter".to_string(),
        ];
        let p = seccomp_object(
            &NotifyPlan::unconditional(&s),
            "/run/t.sock",
            Some("mode=enforce"),
            Mode::Enforce,
        );
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
        assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64"]));
        assert_eq!(p["listenerPath"], "/run/t.sock");
        assert_eq!(p["listenerMetadata"], "mode=enforce");
        let n = rules_for(&p, "openat");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0]["action"], "SCMP_ACT_NOTIFY");
        assert!(rules_for(&p, "write").is_empty());
        let u = rules_for(&p, "io_uring_enter");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(u[0]["errnoRet"], IO_URING_ERRNO);
        let a = seccomp_object(
            &NotifyPlan::unconditional(&s),
            "/run/t.sock",
            None,
            Mode::Audit,
        );
        assert!(a.get("listenerMetadata").is_none());
        assert_eq!(
            rules_for(&a, "io_uring_enter")[0]["action"],
            "SCMP_ACT_NOTIFY"
        );
    }

    #[test]
    fn merge_default_errno_keeps_conditions() {
        let existing = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "futureField": {"x": 1},
            "syscalls": [
                {"names": ["read", "openat", "socket"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
                 "comment": "keep me"},
                {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["io_uring_setup"], "action": "SCMP_ACT_ALLOW"}
            ]
        });
        let want: Vec<String> = ["openat", "clone", "mount", "connect"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = merge_into(
            &existing,
            &NotifyPlan::unconditional(&want),
            "/run/t.sock",
            Some("mode=audit"),
            Mode::Audit,
        )
        .unwrap();
        let p = &m.seccomp;
        assert_eq!(p["futureField"], json!({"x": 1}));
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["architectures"], existing["architectures"]);
        assert_eq!(p["listenerPath"], "/run/t.sock");
        // openat moved out of the allow rule into a notify copy
        let o = rules_for(p, "openat");
        assert_eq!(o.len(), 1);
        assert_eq!(o[0]["action"], "SCMP_ACT_NOTIFY");
        assert_eq!(rules_for(p, "read")[0]["action"], "SCMP_ACT_ALLOW");
        assert_eq!(rules_for(p, "socket")[0]["action"], "SCMP_ACT_ALLOW");
        // clone keeps its argument condition and other fields
        let c = rules_for(p, "clone");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["action"], "SCMP_ACT_NOTIFY");
        assert_eq!(c[0]["args"], existing["syscalls"][1]["args"]);
        assert_eq!(c[0]["comment"], "keep me");
        // refused stays refused, not-allowed stays refused
        let mnt = rules_for(p, "mount");
        assert_eq!(mnt.len(), 1);
        assert_eq!(mnt[0]["action"], "SCMP_ACT_ERRNO");
        assert!(rules_for(p, "connect").is_empty());
        assert!(m.notes.iter().any(|n| n.starts_with("connect")));
        assert!(m.notes.iter().any(|n| n.starts_with("mount")));
        // audit keeps io_uring allowed
        assert_eq!(
            rules_for(p, "io_uring_setup")[0]["action"],
            "SCMP_ACT_ALLOW"
        );
    }

    #[test]
    fn merge_enforce_refuses_io_uring_and_cuts_arches() {
        let existing = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["io_uring_setup", "getpid"], "action": "SCMP_ACT_LOG"},
                {"names": ["unlink"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdir"], "action": "SCMP_ACT_KILL"}
            ]
        });
        let want: Vec<String> = [
            "openat",
            "unlink",
            "mkdir",
            "getpid",
            "write",
            "io_uring_enter",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = merge_into(
            &existing,
            &NotifyPlan::unconditional(&want),
            "/run/t.sock",
            None,
            Mode::Enforce,
        )
        .unwrap();
        let p = &m.seccomp;
        assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64"]));
        // plain notify for calls only allowed by the default action
        assert_eq!(rules_for(p, "openat")[0]["action"], "SCMP_ACT_NOTIFY");
        // explicitly allowed (LOG) → notify
        let g = rules_for(p, "getpid");
        assert_eq!(g.len(), 1);
        assert_eq!(g[0]["action"], "SCMP_ACT_NOTIFY");
        // conditionally refused: left alone, with a note
        let u = rules_for(p, "unlink");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0]["action"], "SCMP_ACT_ERRNO");
        assert!(m.notes.iter().any(|n| n.starts_with("unlink")));
        // unconditionally refused: stays
        let k = rules_for(p, "mkdir");
        assert_eq!(k.len(), 1);
        assert_eq!(k[0]["action"], "SCMP_ACT_KILL");
        assert!(rules_for(p, "write").is_empty());
        for s in IO_URING {
            let r = rules_for(p, s);
            assert_eq!(r.len(), 1, "{s}");
            assert_eq!(r[0]["action"], "SCMP_ACT_ERRNO");
        }
    }

    #[test]
    fn merge_podman_profile() {
        let Ok(text) = std::fs::read_to_string(PODMAN_DEFAULT_PROFILE) else {
            eprintln!("skipped: {PODMAN_DEFAULT_PROFILE} not installed");
            return;
        };
        let base: Value = serde_json::from_str(&text).unwrap();
        let want: Vec<String> = ["openat", "chroot", "execve"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = merge_into(
            &base,
            &NotifyPlan::unconditional(&want),
            "/run/t.sock",
            None,
            Mode::Enforce,
        )
        .unwrap();
        let p = &m.seccomp;
        assert!(
            p.get("architectures").is_none(),
            "archMap profiles must not get architectures"
        );
        assert_eq!(p["archMap"].as_array().unwrap().len(), 1);
        // chroot: allow-with-caps becomes notify-with-caps, refuse-without-caps stays
        let c = rules_for(p, "chroot");
        assert_eq!(c.len(), 2);
        assert!(c.iter().any(|r| r["action"] == "SCMP_ACT_NOTIFY"
            && r["includes"]["caps"] == json!(["CAP_SYS_CHROOT"])));
        assert!(c.iter().any(|r| r["action"] == "SCMP_ACT_ERRNO"));
    }

    #[test]
    fn merge_errors() {
        let other = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/other.sock",
            "syscalls": [{"names": ["openat"], "action": "SCMP_ACT_NOTIFY"}]});
        assert!(matches!(
            merge_into(
                &other,
                &NotifyPlan::default(),
                "/run/t.sock",
                None,
                Mode::Audit
            ),
            Err(ProfileError::OtherAgent(_))
        ));
        // our own earlier merge is fine (idempotent)
        let ours = merge_into(
            &other,
            &NotifyPlan::unconditional(&["openat"]),
            "/other.sock",
            None,
            Mode::Audit,
        )
        .unwrap()
        .seccomp;
        assert_eq!(rules_for(&ours, "openat").len(), 1);
        let nd = json!({"defaultAction": "SCMP_ACT_NOTIFY"});
        assert!(matches!(
            merge_into(&nd, &NotifyPlan::default(), "/x", None, Mode::Audit),
            Err(ProfileError::NotifyDefault)
        ));
        assert!(merge_into(&json!([]), &NotifyPlan::default(), "/x", None, Mode::Audit).is_err());
    }

    fn seed_plan() -> NotifyPlan {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let p =
            load_program(&[root.join("examples/rules/seed-write-below-binary-dir.yaml")]).unwrap();
        notify_plan(&p)
    }

    /// `openat` notified in modes 1 and 2, `execve` always.
    fn write_plan() -> NotifyPlan {
        NotifyPlan {
            rules: vec![
                NotifyRule {
                    name: "execve".into(),
                    access: None,
                },
                NotifyRule {
                    name: "openat".into(),
                    access: Some(AccessFilter {
                        index: 2,
                        mask: O_ACCMODE,
                        values: vec![1, 2],
                    }),
                },
            ],
        }
    }

    /// (action, mode) of every rule naming `syscall` (mode `None`: no access condition).
    fn modes_of(p: &Value, syscall: &str) -> Vec<(String, Option<u64>)> {
        let idx = if syscall == "open" { 1 } else { 2 };
        let mut v: Vec<(String, Option<u64>)> = rules_for(p, syscall)
            .iter()
            .map(|r| {
                (
                    r["action"].as_str().unwrap().to_string(),
                    access_mode_of(r.get("args"), idx).map(|(_, v)| v),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn am(list: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
        let mut v: Vec<_> = list.iter().map(|(a, m)| (a.to_string(), *m)).collect();
        v.sort();
        v
    }

    #[test]
    fn plan_of_the_seed_rule() {
        let plan = seed_plan();
        let described: Vec<String> = plan.rules.iter().map(NotifyRule::describe).collect();
        assert_eq!(
            described,
            [
                "open (flags & 0o200003 in {0o1,0o2})",
                "openat (flags & 0o200003 in {0o1,0o2})"
            ]
        );
        assert_eq!(plan.names(), ["open", "openat"]);
        assert_eq!(
            write_plan().rules[1].describe(),
            "openat (flags & O_ACCMODE in {1,2})"
        );
        // an unrestricted rule: open/openat in every mode, i.e. unconditional
        let all = NotifyPlan::unconditional(&["open"]);
        assert_eq!(all.rules[0].describe(), "open");
    }

    fn preset_plan() -> NotifyPlan {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let p = load_program(&[root.join("examples/rules/protect-binary-dirs.yaml")]).unwrap();
        notify_plan(&p)
    }

    /// The read-only classes the preset leaves in the kernel.
    const PRESET_LEFT: [u64; 6] = [0, 3, 0o200000, 0o200003, 0o20000000, 0o20000003];

    #[test]
    fn plan_of_the_preset() {
        let plan = preset_plan();
        for (name, index) in [("open", 1), ("openat", 2)] {
            let r = plan.get(name).unwrap();
            let a = r.access.as_ref().unwrap();
            assert_eq!((a.index, a.mask), (index, 0o20201103));
            assert_eq!(a.values.len(), 58);
            assert!(PRESET_LEFT.iter().all(|v| !a.values.contains(v)));
            assert_eq!(
                r.describe(),
                format!(
                    "{name} (flags & 0o20201103 not in \
                     {{0o0,0o3,0o200000,0o200003,0o20000000,0o20000003}})"
                )
            );
        }
        // openat2 and creat: not prefiltered
        assert!(plan.get("openat2").unwrap().access.is_none());
        assert!(plan.get("creat").unwrap().access.is_none());
    }

    #[test]
    fn fresh_object_with_access_modes() {
        let p = seccomp_object(&seed_plan(), "/run/t.sock", None, Mode::Enforce);
        let notify = |m: u64| ("SCMP_ACT_NOTIFY", Some(m));
        assert_eq!(modes_of(&p, "openat"), am(&[notify(1), notify(2)]));
        assert_eq!(modes_of(&p, "open"), am(&[notify(1), notify(2)]));
        let r = rules_for(&p, "openat")[0];
        assert_eq!(
            r["args"],
            json!([{"index": 2, "value": 0o200003, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}])
        );
        assert_eq!(rules_for(&p, "open")[0]["args"][0]["index"], 1);
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
    }

    #[test]
    fn merge_errno_default_splits_by_access_mode() {
        // podman/docker-like: refusing default, openat in one big unconditional allow rule
        let existing = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "syscalls": [
                {"names": ["read", "openat", "execve"], "action": "SCMP_ACT_ALLOW",
                 "comment": "", "includes": {}, "excludes": {}},
            ]
        });
        let m = merge_into(&existing, &write_plan(), "/run/t.sock", None, Mode::Audit).unwrap();
        let p = &m.seccomp;
        // openat is out of the unconditional rule (libseccomp would let it win)
        let a = modes_of(p, "openat");
        assert_eq!(
            a,
            am(&[
                ("SCMP_ACT_ALLOW", Some(0)),
                ("SCMP_ACT_NOTIFY", Some(1)),
                ("SCMP_ACT_NOTIFY", Some(2)),
                ("SCMP_ACT_ALLOW", Some(3)),
            ])
        );
        for r in rules_for(p, "openat") {
            assert_eq!(names_of(r), ["openat"]);
            assert_eq!(r["includes"], json!({}), "other fields kept: {r}");
        }
        assert_eq!(modes_of(p, "execve"), am(&[("SCMP_ACT_NOTIFY", None)]));
        assert_eq!(modes_of(p, "read"), am(&[("SCMP_ACT_ALLOW", None)]));
        assert!(m.notes.is_empty(), "{:?}", m.notes);

        // merging the result again changes nothing (rules of an earlier merge are
        // recognised per mode)
        let again = merge_into(p, &write_plan(), "/run/t.sock", None, Mode::Audit).unwrap();
        assert_eq!(again.seccomp, *p);
        // rules that need every mode: every mode notified
        let all = NotifyPlan::unconditional(&["openat"]);
        let wider = merge_into(p, &all, "/run/t.sock", None, Mode::Audit).unwrap();
        assert!(modes_of(&wider.seccomp, "openat")
            .iter()
            .all(|(a, m)| a == "SCMP_ACT_NOTIFY" && m.is_some()));
        assert_eq!(modes_of(&wider.seccomp, "openat").len(), 4);
    }

    #[test]
    fn merge_keeps_log_action_and_foreign_args() {
        let existing = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["openat"], "action": "SCMP_ACT_LOG"},
                {"names": ["open"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
            ]
        });
        let mut plan = write_plan();
        plan.rules.push(NotifyRule {
            name: "open".into(),
            access: Some(AccessFilter {
                index: 1,
                mask: O_ACCMODE,
                values: vec![1, 2],
            }),
        });
        plan.rules.sort_by(|a, b| a.name.cmp(&b.name));
        let m = merge_into(&existing, &plan, "/run/t.sock", None, Mode::Audit).unwrap();
        let p = &m.seccomp;
        assert_eq!(
            modes_of(p, "openat"),
            am(&[
                ("SCMP_ACT_LOG", Some(0)),
                ("SCMP_ACT_NOTIFY", Some(1)),
                ("SCMP_ACT_NOTIFY", Some(2)),
                ("SCMP_ACT_LOG", Some(3)),
            ])
        );
        // open: allowed under a condition on another argument: that rule is notified
        // as it is (no prefilter), and the calls outside it, which the allowing default
        // lets through, get the planned modes
        let o = rules_for(p, "open");
        assert!(o
            .iter()
            .any(|r| r["action"] == "SCMP_ACT_NOTIFY"
                && r["args"] == existing["syscalls"][1]["args"]));
        assert_eq!(
            modes_of(p, "open")
                .into_iter()
                .filter(|(_, m)| m.is_some())
                .collect::<Vec<_>>(),
            am(&[("SCMP_ACT_NOTIFY", Some(1)), ("SCMP_ACT_NOTIFY", Some(2))])
        );
        assert!(
            m.notes.iter().any(|n| n.starts_with("open:")),
            "{:?}",
            m.notes
        );
        // execve: plain notify under the allowing default
        assert_eq!(modes_of(p, "execve"), am(&[("SCMP_ACT_NOTIFY", None)]));
    }

    #[test]
    fn merge_into_own_object_adds_missing_modes() {
        // a generated object (allowing default, notify modes 1 and 2), merged with rules
        // that also need mode 0: only the missing mode is added
        let fresh = seccomp_object(&write_plan(), "/run/t.sock", None, Mode::Audit);
        let mut plan = write_plan();
        plan.rules[1].access = Some(AccessFilter {
            index: 2,
            mask: O_ACCMODE,
            values: vec![0, 1, 2],
        });
        let m = merge_into(&fresh, &plan, "/run/t.sock", None, Mode::Audit).unwrap();
        let notify = |m: u64| ("SCMP_ACT_NOTIFY", Some(m));
        assert_eq!(
            modes_of(&m.seccomp, "openat"),
            am(&[notify(0), notify(1), notify(2)])
        );
        assert_eq!(
            modes_of(&m.seccomp, "execve"),
            am(&[("SCMP_ACT_NOTIFY", None)])
        );
    }

    #[test]
    fn merge_podman_profile_with_access_modes() {
        let Ok(text) = std::fs::read_to_string(PODMAN_DEFAULT_PROFILE) else {
            eprintln!("skipped: {PODMAN_DEFAULT_PROFILE} not installed");
            return;
        };
        let base: Value = serde_json::from_str(&text).unwrap();
        let m = merge_into(&base, &seed_plan(), "/run/t.sock", None, Mode::Audit).unwrap();
        let p = &m.seccomp;
        let notify = |m: u64| ("SCMP_ACT_NOTIFY", Some(m));
        let allow = |m: u64| ("SCMP_ACT_ALLOW", Some(m));
        for s in ["open", "openat"] {
            let d = 0o200000;
            assert_eq!(
                modes_of(p, s),
                am(&[
                    allow(0),
                    notify(1),
                    notify(2),
                    allow(3),
                    allow(d),
                    allow(d | 1),
                    allow(d | 2),
                    allow(d | 3)
                ]),
                "{s}"
            );
        }
        assert!(m.notes.is_empty(), "{:?}", m.notes);
        // merging again changes nothing
        let again = merge_into(p, &seed_plan(), "/run/t.sock", None, Mode::Audit).unwrap();
        assert_eq!(again.seccomp, *p);

        // the preset: 64 single-class copies, the 6 read-only classes keep the allow
        let m = merge_into(&base, &preset_plan(), "/run/t.sock", None, Mode::Enforce).unwrap();
        let p = &m.seccomp;
        for s in ["open", "openat"] {
            let got = modes_of(p, s);
            assert_eq!(got.len(), 64, "{s}");
            let allowed: Vec<u64> = got
                .iter()
                .filter(|(a, _)| a == "SCMP_ACT_ALLOW")
                .map(|(_, v)| v.unwrap())
                .collect();
            assert_eq!(allowed, PRESET_LEFT, "{s}");
            assert!(
                got.iter().all(|(_, v)| v.is_some()),
                "{s}: no unconditional rule"
            );
        }
        let again = merge_into(p, &preset_plan(), "/run/t.sock", None, Mode::Enforce).unwrap();
        assert_eq!(again.seccomp, *p);
        // an earlier merge with the seed's classes, merged with the preset: the notified
        // classes stay, the allowed ones meeting a preset class are notified whole
        let seed = merge_into(&base, &seed_plan(), "/run/t.sock", None, Mode::Enforce).unwrap();
        let both = merge_into(
            &seed.seccomp,
            &preset_plan(),
            "/run/t.sock",
            None,
            Mode::Enforce,
        )
        .unwrap();
        assert!(modes_of(&both.seccomp, "openat")
            .iter()
            .all(|(a, _)| a == "SCMP_ACT_NOTIFY"));
    }

    #[test]
    fn mode_parse() {
        assert_eq!("Enforce".parse::<Mode>().unwrap(), Mode::Enforce);
        assert_eq!("audit".parse::<Mode>().unwrap(), Mode::Audit);
        assert!("x".parse::<Mode>().is_err());
        assert_eq!(metadata_for(Mode::Enforce), "mode=enforce");
    }
}
