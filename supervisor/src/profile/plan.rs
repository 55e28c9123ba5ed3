//! Which syscalls the loaded rules need notified, and under which argument conditions.

use std::collections::BTreeSet;

use tiercel_rules::evttype::EventType;
use tiercel_rules::prefilter::{arg_value_set, open_flag_classes, subsets, ArgValues};
use tiercel_rules::program::Program;

use super::{x86_64_syscall_nr, MANY_EVTTYPES, NEVER_NOTIFY};

/// What rules without an event-type restriction are served with: every syscall the event
/// decoder's table marks for them ([`crate::event::decode::unrestricted_syscalls`]). Hot
/// calls are left out on purpose.
pub fn decoded_syscalls() -> Vec<&'static str> {
    crate::event::decode::unrestricted_syscalls().collect()
}

/// The x86_64 syscalls a Falco event type stands for (empty for meta events and names of
/// other architectures).
pub fn falco_event_syscalls(event: &str) -> Vec<&'static str> {
    crate::event::syscalls::x86_64_syscalls_of_event(event)
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
            out.extend(decoded_syscalls());
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

/// Only the calls whose argument `index`, masked with `mask`, is one of `values`; every
/// other call of the syscall is allowed in the kernel (ioctl's request number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFilter {
    /// The argument (0-based).
    pub index: u32,
    /// The bits compared (`0xffffffff`: the kernel's `unsigned int`).
    pub mask: u64,
    /// Ascending, not empty.
    pub values: Vec<u64>,
}

/// Syscalls filtered on one argument's value ([`ValueFilter`]): the name, the Falco
/// exit parameter rules test, its argument index and mask. ioctl's `request` is the
/// kernel's `unsigned int cmd`: the low 32 bits (musl passes it sign-extended).
pub const VALUE_FILTERED: &[(&str, &str, u32, u64)] = &[("ioctl", "request", 1, 0xffff_ffff)];

/// A number as Falco's `PF_HEX` renders it (`%X`): the text the decoder gives
/// `evt.arg.request`.
pub fn falco_hex(v: u64) -> String {
    format!("{v:X}")
}

/// [`falco_hex`] read back: upper-case hex digits without `0x`.
pub fn parse_falco_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

/// One notified syscall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRule {
    pub name: String,
    /// `None`: every call (as far as the open flags go).
    pub access: Option<AccessFilter>,
    /// `Some`: only calls with these argument values (ioctl requests).
    pub values: Option<ValueFilter>,
}

impl NotifyRule {
    /// `name`, `name (flags & O_ACCMODE in {1,2})`, or with another mask in octal,
    /// listing the notified values or, when shorter, the others:
    /// `name (flags & 0o20201103 not in {0o0,0o3,…})`.
    pub fn describe(&self) -> String {
        if let Some(v) = &self.values {
            return format!(
                "{} (arg{} & {:#x} in {{{}}})",
                self.name,
                v.index,
                v.mask,
                v.values
                    .iter()
                    .map(|x| format!("{x:#x}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
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
    /// Enforce profiles refuse in the kernel what makes namespaces without being
    /// notifiable cheaply ([`super::NS_CLONE_FLAGS`] of `clone`, every `clone3`): set
    /// when an enabled rule can match an `unshare` making a mount namespace (the
    /// preset's namespace rule), unless opted out (`tiercel profile
    /// --allow-namespaces`, or by disabling that rule).
    pub refuse_namespaces: bool,
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
                    values: None,
                })
                .collect(),
            refuse_namespaces: false,
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
    pub(crate) fn without(&self, drop: &[&str]) -> NotifyPlan {
        NotifyPlan {
            rules: self
                .rules
                .iter()
                .filter(|r| !drop.contains(&r.name.as_str()))
                .cloned()
                .collect(),
            refuse_namespaces: self.refuse_namespaces,
        }
    }
}

/// A class of flags values: those with `flags & mask == value`.
pub(crate) type FlagClass = (u64, u64);

/// Whether some flags value lies both in class `c` and in a class of `a` it notifies.
pub(crate) fn class_meets(a: &AccessFilter, (mask, value): FlagClass) -> bool {
    let common = a.mask & mask;
    a.values.iter().any(|v| v & common == value & common)
}

/// Whether the classes `have` (notified by rules already there) cover every flags value
/// of class `value` of `mask` (one of them contains it whole).
pub(crate) fn class_covered(have: &[FlagClass], mask: u64, value: u64) -> bool {
    have.iter().any(|&(m, v)| m & !mask == 0 && value & m == v)
}

/// What the enabled rules of `program` need notified: [`notify_syscalls_for`] of their
/// event types, then, for `open`/`openat` ([`ACCESS_MODE_SYSCALLS`]), only the flag
/// classes some rule can match ([`tiercel_rules::prefilter::open_flag_classes`]); a call
/// none can match in any class is not notified at all.
pub fn notify_plan(program: &Program) -> NotifyPlan {
    let mut rules = Vec::new();
    for name in event_syscalls(program) {
        if let Some(&(_, param, index, mask)) = VALUE_FILTERED.iter().find(|(n, ..)| *n == name) {
            let Some(t) = EventType::from_name(&name) else {
                continue;
            };
            let parse = |s: &str| parse_falco_hex(s).filter(|v| v & !mask == 0);
            let values = match arg_value_set(program, t, param, &parse, &falco_hex) {
                ArgValues::Any => None,
                ArgValues::Only(v) if v.is_empty() => continue,
                ArgValues::Only(values) => Some(ValueFilter {
                    index,
                    mask,
                    values,
                }),
            };
            rules.push(NotifyRule {
                name,
                access: None,
                values,
            });
            continue;
        }
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
        rules.push(NotifyRule {
            name,
            access,
            values: None,
        });
    }
    NotifyPlan {
        rules,
        refuse_namespaces: rules_refuse_namespaces(program),
    }
}

/// Whether an enabled rule of `program` can match an `unshare` that makes a mount
/// namespace (`evt.arg.flags` = `CLONE_NEWNS`, every other field unknown).
pub fn rules_refuse_namespaces(program: &Program) -> bool {
    EventType::from_name("unshare").is_some_and(|t| {
        tiercel_rules::prefilter::can_match_arg(program, t, "flags", "CLONE_NEWNS")
    })
}
