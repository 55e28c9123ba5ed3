//! The OCI `linux.seccomp` object (also containers-common/docker `seccomp.json`) as typed
//! structs, and the object tiercel generates.
//!
//! Every level keeps the keys it does not model in `extra` (`#[serde(flatten)]`), so a
//! profile read, merged and written back loses nothing a newer runtime or engine wrote
//! (a future field, `flags`, `comment`, docker's `errno`…).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::plan::{NotifyPlan, ValueFilter};
use super::{
    enforce_allowed, Mode, ENOSYS, EPERM, IO_URING, NATIVE_ARCH, NEVER_NOTIFY, NS_CLONE_FLAGS,
};

/// Keys a struct does not model, kept as they were.
pub type Extra = Map<String, Value>;

pub const NOTIFY: &str = "SCMP_ACT_NOTIFY";
pub const ALLOW: &str = "SCMP_ACT_ALLOW";
pub const ERRNO: &str = "SCMP_ACT_ERRNO";

/// `linux.seccomp` / `seccomp.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seccomp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// containers-common/docker form of the architectures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_metadata: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<Vec<SyscallRule>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `archMap` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_architectures: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One rule of `syscalls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// docker's older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
    /// docker/containers-common conditions (capabilities, architectures, kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Filter>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One argument condition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub value: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_two: Option<u64>,
    #[serde(default)]
    pub op: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `includes` / `excludes` of a containers-common rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arches: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn value_non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(value_non_empty),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

impl Filter {
    /// Whether the filter restricts anything.
    pub fn is_restrictive(&self) -> bool {
        self.caps.as_ref().is_some_and(|v| !v.is_empty())
            || self.arches.as_ref().is_some_and(|v| !v.is_empty())
            || self.min_kernel.as_ref().is_some_and(|v| !v.is_empty())
            || self.extra.values().any(value_non_empty)
    }
}

impl SyscallRule {
    /// A rule for `names` with `action` and nothing else.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>, action: &str) -> SyscallRule {
        SyscallRule {
            names: Some(names.into_iter().map(Into::into).collect()),
            action: Some(action.to_owned()),
            ..Default::default()
        }
    }

    /// Every name of the rule (`names` and docker's `name`).
    pub fn all_names(&self) -> Vec<String> {
        let mut v = self.names.clone().unwrap_or_default();
        v.extend(self.name.clone());
        v
    }

    /// The rule restricted to `names` (in the `names` form).
    pub fn with_names(&self, names: &[String]) -> SyscallRule {
        SyscallRule {
            names: Some(names.to_vec()),
            name: None,
            ..self.clone()
        }
    }

    /// Whether the rule has argument conditions.
    pub fn has_args(&self) -> bool {
        self.args.as_ref().is_some_and(|a| !a.is_empty())
    }

    /// True when the rule applies only under conditions (arguments, or docker's
    /// capability/arch/kernel `includes`/`excludes`).
    pub fn conditional(&self) -> bool {
        self.has_args()
            || self.includes.as_ref().is_some_and(Filter::is_restrictive)
            || self.excludes.as_ref().is_some_and(Filter::is_restrictive)
    }
}

/// The OCI argument condition `(arg[index] & mask) == value` (runc/crun
/// `SCMP_CMP_MASKED_EQ`: `value` is the mask, `valueTwo` the expected value).
pub fn access_mode_arg(index: u32, mask: u64, value: u64) -> Arg {
    Arg {
        index,
        value: mask,
        value_two: Some(value),
        op: "SCMP_CMP_MASKED_EQ".into(),
        extra: Extra::new(),
    }
}

/// The OCI argument condition `arg[index] >= 0`: true for every call, but (unlike no
/// condition) it does not make libseccomp drop the other, conditional rules of the
/// syscall: libseccomp 2.5.4 tests the masked compares of those first and falls back
/// to this one, so `ALLOW if arg >= 0` plus `NOTIFY if (arg & m) == v` notifies the
/// values `v` and allows everything else in the kernel (checked on this kernel with
/// libseccomp 2.5.4; an unconditional ALLOW would win over every conditional rule).
pub fn rest_arg(index: u32) -> Arg {
    Arg {
        index,
        value: 0,
        value_two: None,
        op: "SCMP_CMP_GE".into(),
        extra: Extra::new(),
    }
}

/// The NOTIFY rules of a [`ValueFilter`]: one per value.
pub(crate) fn value_rules(name: &str, f: &ValueFilter) -> Vec<SyscallRule> {
    f.values
        .iter()
        .map(|&v| SyscallRule {
            args: Some(vec![access_mode_arg(f.index, f.mask, v)]),
            ..SyscallRule::new([name], NOTIFY)
        })
        .collect()
}

/// The rules refusing namespaces in the kernel: `clone` with any of
/// [`NS_CLONE_FLAGS`] gets `EPERM` (one masked compare per flag).
pub(crate) fn clone_ns_rules() -> Vec<SyscallRule> {
    NS_CLONE_FLAGS
        .iter()
        .map(|&f| SyscallRule {
            errno_ret: Some(EPERM),
            args: Some(vec![access_mode_arg(0, f, f)]),
            ..SyscallRule::new(["clone"], ERRNO)
        })
        .collect()
}

/// If `args` is exactly one [`access_mode_arg`] on `index` (a mask of open flag bits):
/// its (mask, value).
pub(crate) fn access_mode_of(args: Option<&[Arg]>, index: u32) -> Option<(u64, u64)> {
    let [a] = args? else {
        return None;
    };
    let (mask, value) = (a.value, a.value_two.unwrap_or(0));
    (a.index == index
        && a.op == "SCMP_CMP_MASKED_EQ"
        && mask != 0
        && mask & !tiercel_rules::prefilter::OPEN_CLASS_MASK == 0
        && value & !mask == 0)
        .then_some((mask, value))
}

/// The NOTIFY rules of `plan`: one for the unconditional names, one per flag class of
/// the others (rules for one syscall are ORed, the `args` of one rule ANDed).
pub(crate) fn notify_rules(plan: &NotifyPlan) -> Vec<SyscallRule> {
    let plain: Vec<&str> = plan
        .rules
        .iter()
        .filter(|r| r.access.is_none() && r.values.is_none())
        .map(|r| r.name.as_str())
        .collect();
    let mut out = Vec::new();
    if !plain.is_empty() {
        out.push(SyscallRule::new(plain, NOTIFY));
    }
    for r in &plan.rules {
        if let Some(f) = &r.values {
            out.extend(value_rules(&r.name, f));
        }
        if let Some(a) = &r.access {
            for &v in &a.values {
                out.push(SyscallRule {
                    args: Some(vec![access_mode_arg(a.index, a.mask, v)]),
                    ..SyscallRule::new([r.name.as_str()], NOTIFY)
                });
            }
        }
    }
    out
}

/// The rule refusing io_uring (and, when namespaces are refused, `clone3`: its flags
/// are in memory, out of a filter's reach; libc falls back to `clone`) with ENOSYS in
/// enforce mode (a base profile may allow them).
pub(crate) fn io_uring_rule(clone3: bool) -> SyscallRule {
    let mut names: Vec<&str> = IO_URING.to_vec();
    if clone3 {
        names.push("clone3");
    }
    SyscallRule {
        errno_ret: Some(ENOSYS),
        ..SyscallRule::new(names, ERRNO)
    }
}

/// A complete `linux.seccomp` object, native architecture only. Audit: allow everything,
/// notify what `plan` says (calls outside its flag classes fall to the allowing default).
/// Enforce: refuse by default with ENOSYS, allow every syscall of tiercel's table but the
/// refused ones ([`enforce_allowed`]), notify what `plan` says (a prefiltered call is
/// allowed in its other flag classes, one rule per class).
pub fn object(
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Seccomp {
    if mode == Mode::Enforce {
        let (s, _) =
            super::merge::merge(enforce_base(), plan, listener_path, metadata, Mode::Enforce)
                .unwrap_or_else(|e| {
                    // cannot happen: the base refuses by default and notifies nothing
                    tracing::error!("generating the enforce profile: {e}");
                    (enforce_base(), Vec::new())
                });
        return s;
    }
    Seccomp {
        default_action: Some(ALLOW.into()),
        architectures: Some(vec![NATIVE_ARCH.into()]),
        listener_path: Some(listener_path.into()),
        listener_metadata: metadata.map(str::to_owned),
        syscalls: Some(notify_rules(&plan.without(NEVER_NOTIFY))),
        ..Default::default()
    }
}

/// Refuse by default (ENOSYS), allow [`enforce_allowed`].
fn enforce_base() -> Seccomp {
    Seccomp {
        default_action: Some(ERRNO.into()),
        default_errno_ret: Some(ENOSYS),
        architectures: Some(vec![NATIVE_ARCH.into()]),
        syscalls: Some(vec![SyscallRule::new(enforce_allowed(), ALLOW)]),
        ..Default::default()
    }
}

/// [`object`] as JSON.
pub fn seccomp_object(
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Value {
    to_value(&object(plan, listener_path, metadata, mode))
}

/// A profile as JSON (serialising these structs cannot fail: string keys, no floats).
pub fn to_value(s: &Seccomp) -> Value {
    serde_json::to_value(s).unwrap_or_else(|e| {
        tracing::error!("serialising a seccomp profile: {e}");
        Value::Null
    })
}
