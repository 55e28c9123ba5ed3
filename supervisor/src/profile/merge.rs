//! Merging a [`NotifyPlan`] into an existing seccomp profile, on the typed
//! [`Seccomp`] (keys it does not model are kept at every level).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tiercel_rules::prefilter::subsets;

use super::object::{
    access_mode_arg, access_mode_of, clone_ns_rules, io_uring_rule, notify_rules, rest_arg,
    to_value, value_rules, ArchMap, Seccomp, SyscallRule, ALLOW, ERRNO, NOTIFY,
};
use super::plan::{class_covered, class_meets, AccessFilter, FlagClass, NotifyPlan, NotifyRule};
use super::{
    enforce_allowed, enforce_refused, Mode, ProfileError, ACCESS_MODE_SYSCALLS, ENOSYS,
    NATIVE_ARCH, NEVER_NOTIFY,
};

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

/// `rule` (an allow or notify rule of a base profile) restricted to `names`, with
/// `action` (`None` = the rule's own) and `args` (`None` = the rule's own).
fn derived(
    rule: &SyscallRule,
    names: &[String],
    action: Option<&str>,
    args: Option<Vec<super::object::Arg>>,
) -> SyscallRule {
    let mut r = rule.with_names(names);
    if let Some(a) = action {
        r.action = Some(a.to_owned());
        if a == NOTIFY {
            r.errno_ret = None;
            r.extra.remove("errno");
        }
    }
    if let Some(a) = args {
        r.args = Some(a);
    }
    r
}

/// [`merge`] on JSON: `existing` is parsed into a [`Seccomp`] (an error if it is not a
/// seccomp object), the result written back.
pub fn merge_into(
    existing: &Value,
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Result<Merged, ProfileError> {
    let base: Seccomp = serde_json::from_value(existing.clone())
        .map_err(|e| ProfileError::Invalid(format!("linux.seccomp: {e}")))?;
    let (s, notes) = merge(base, plan, listener_path, metadata, mode)?;
    Ok(Merged {
        seccomp: to_value(&s),
        notes,
    })
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
pub fn merge(
    mut base: Seccomp,
    plan: &NotifyPlan,
    listener_path: &str,
    metadata: Option<&str>,
    mode: Mode,
) -> Result<(Seccomp, Vec<String>), ProfileError> {
    let default_class = match base.default_action.as_deref() {
        None => return Err(ProfileError::Invalid("no defaultAction".into())),
        Some(NOTIFY) => return Err(ProfileError::NotifyDefault),
        Some(a) => classify(Some(a)),
    };
    let mut notes = Vec::new();
    let mut default_class = default_class;
    if mode == Mode::Enforce && default_class == Class::Allow {
        refuse_by_default(&mut base, &mut notes);
        default_class = Class::Refuse;
    }
    let rules_in: Vec<SyscallRule> = base.syscalls.take().unwrap_or_default();
    let has_notify = rules_in
        .iter()
        .any(|r| classify(r.action.as_deref()) == Class::Notify);
    if let Some(lp) = base.listener_path.as_deref() {
        if has_notify && !lp.is_empty() && lp != listener_path {
            return Err(ProfileError::OtherAgent(lp.to_owned()));
        }
    }

    let enforce = mode == Mode::Enforce;
    let refuse_ns = enforce && plan.refuse_namespaces;
    let mut refused: Vec<&str> = Vec::new();
    if enforce {
        refused.extend(enforce_refused());
    }
    if refuse_ns {
        refused.push("clone3");
    }
    let mut drop: Vec<&str> = NEVER_NOTIFY.to_vec();
    drop.extend(&refused);
    let full_plan = plan.without(&drop);
    // Calls notified for some argument values (ioctl requests) are handled after the
    // rules of the base: see `value_filtered`.
    let valued: Vec<NotifyRule> = full_plan
        .rules
        .iter()
        .filter(|r| r.values.is_some())
        .cloned()
        .collect();
    let valued_names: Vec<&str> = valued.iter().map(|r| r.name.as_str()).collect();
    let plan = full_plan.without(&valued_names);
    let want: BTreeSet<&str> = plan.rules.iter().map(|r| r.name.as_str()).collect();
    let flags_index = |n: &str| {
        ACCESS_MODE_SYSCALLS
            .iter()
            .find(|(s, _)| *s == n)
            .map(|(_, i)| *i)
    };

    let mut out_rules: Vec<SyscallRule> = Vec::with_capacity(rules_in.len() + 8);
    let mut notified_uncond: BTreeSet<String> = BTreeSet::new();
    let mut notified_cond: BTreeSet<String> = BTreeSet::new();
    // Flag classes notified by single-class rules (of an earlier merge).
    let mut notified_modes: BTreeMap<String, Vec<FlagClass>> = BTreeMap::new();
    let mut refused_uncond: BTreeSet<String> = BTreeSet::new();
    let mut refused_cond: BTreeSet<String> = BTreeSet::new();

    for rule in &rules_in {
        let all_names = rule.all_names();
        let mut names = all_names.clone();
        names.retain(|n| !refused.contains(&n.as_str()));
        if names.is_empty() {
            if all_names.is_empty() {
                out_rules.push(rule.clone()); // keep what we do not understand
            }
            continue;
        }
        let cond = rule.conditional();
        let mode_of =
            |n: &str| flags_index(n).and_then(|i| access_mode_of(rule.args.as_deref(), i));
        match classify(rule.action.as_deref()) {
            Class::Allow => {
                let (moved, kept): (Vec<String>, Vec<String>) =
                    names.into_iter().partition(|n| want.contains(n.as_str()));
                if !kept.is_empty() {
                    out_rules.push(rule.with_names(&kept));
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
                            out_rules.push(rule.with_names(&[n]));
                        }
                        continue;
                    }
                    match access {
                        Some(a) if !rule.has_args() => {
                            for v in a.all_values() {
                                let action = a.values.contains(&v).then_some(NOTIFY);
                                let args = vec![access_mode_arg(a.index, a.mask, v)];
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
                out_rules.push(rule.with_names(&names));
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
                out_rules.push(rule.with_names(&names));
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
                            values: None,
                        });
                    }
                }
            }
        }
        moded.rules.extend(plain.into_iter().map(|name| NotifyRule {
            name,
            access: None,
            values: None,
        }));
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
    let mut out_rules = value_filtered(
        out_rules,
        &valued,
        default_class == Class::Allow,
        &mut notes,
    );
    if refuse_ns {
        out_rules = clone_without_namespaces(out_rules);
    }
    if enforce {
        out_rules.push(io_uring_rule(refuse_ns));
    }

    let mut o = base;
    o.syscalls = Some(out_rules);
    o.listener_path = Some(listener_path.to_owned());
    o.listener_metadata = metadata.map(str::to_owned);
    if enforce {
        if let Some(map) = o.arch_map.as_mut() {
            // the native entry (with whatever else it holds), without sub-architectures
            let native = map
                .iter()
                .find(|a| a.architecture == NATIVE_ARCH)
                .cloned()
                .unwrap_or_else(|| ArchMap {
                    architecture: NATIVE_ARCH.into(),
                    ..Default::default()
                });
            *map = vec![ArchMap {
                sub_architectures: Some(Vec::new()),
                ..native
            }];
        }
        if o.architectures.is_some() || o.arch_map.is_none() {
            o.architectures = Some(vec![NATIVE_ARCH.into()]);
        }
    }
    Ok((o, notes))
}

/// Turns a profile that allows by default into one that refuses by default (ENOSYS, as
/// [`super::object::object`] in enforce mode), with the same answer for every syscall
/// tiercel knows: one allow rule for every syscall of [`enforce_allowed`] no rule of the
/// base names; a syscall only single-class rules of an earlier merge name (one mask) is
/// allowed in the classes they leave out. A syscall the base names only under other
/// conditions is refused outside them from now on (reported).
fn refuse_by_default(base: &mut Seccomp, notes: &mut Vec<String>) {
    let rules = base.syscalls.get_or_insert_with(Vec::new);
    let mut named: BTreeMap<String, Vec<&SyscallRule>> = BTreeMap::new();
    for r in rules.iter() {
        for n in r.all_names() {
            named.entry(n).or_default().push(r);
        }
    }
    let mut allow = Vec::new();
    let mut extra = Vec::new();
    for n in enforce_allowed() {
        let Some(rs) = named.get(n) else {
            allow.push(n.to_owned());
            continue;
        };
        if rs.iter().any(|r| !r.conditional()) {
            continue; // an unconditional rule decides every call
        }
        let index = ACCESS_MODE_SYSCALLS
            .iter()
            .find(|(s, _)| *s == n)
            .map(|(_, i)| *i);
        let classes: Option<Vec<FlagClass>> = rs
            .iter()
            .map(|r| index.and_then(|i| access_mode_of(r.args.as_deref(), i)))
            .collect();
        match (index, classes) {
            (Some(i), Some(c)) if c.iter().all(|(m, _)| *m == c[0].0) => {
                let mask = c[0].0;
                for v in subsets(mask) {
                    if !class_covered(&c, mask, v) {
                        extra.push(SyscallRule {
                            args: Some(vec![access_mode_arg(i, mask, v)]),
                            ..SyscallRule::new([n], ALLOW)
                        });
                    }
                }
            }
            _ => notes.push(format!(
                "{n}: the profile names it only under conditions; outside them it is now \
                 refused (ENOSYS), as enforce profiles refuse by default"
            )),
        }
    }
    if !allow.is_empty() {
        rules.push(SyscallRule::new(allow, ALLOW));
    }
    rules.extend(extra);
    base.default_action = Some(ERRNO.into());
    base.default_errno_ret = Some(ENOSYS);
}

/// Splits `name` out of every rule of `rules` with `action` class allow or notify that
/// names it without `args`, as a copy with [`rest_arg`] on `index` (the same answer
/// for every call, but conditional rules for the syscall are no longer ignored).
/// Returns whether some allow/notify rule names the syscall.
fn split_rest(rules: &mut Vec<SyscallRule>, name: &str, index: u32) -> bool {
    let mut out = Vec::with_capacity(rules.len() + 1);
    let mut allowed = false;
    for r in rules.drain(..) {
        let names = r.all_names();
        if !names.iter().any(|n| n == name) || classify(r.action.as_deref()) == Class::Refuse {
            out.push(r);
            continue;
        }
        allowed = true;
        if r.has_args() {
            out.push(r);
            continue;
        }
        let others: Vec<String> = names.into_iter().filter(|n| n != name).collect();
        if !others.is_empty() {
            out.push(r.with_names(&others));
        }
        out.push(SyscallRule {
            args: Some(vec![rest_arg(index)]),
            ..r.with_names(&[name.to_owned()])
        });
    }
    *rules = out;
    allowed
}

/// The calls notified only for some values of one argument (ioctl's request numbers,
/// [`super::plan::ValueFilter`]): the allow rules naming them without `args` get
/// [`rest_arg`] (so everything else stays allowed in the kernel), and one NOTIFY rule
/// per value (`(arg & mask) == value`) is added, unless already there (an earlier
/// merge). A call the profile refuses (no allow rule, refusing default) stays refused.
fn value_filtered(
    mut rules: Vec<SyscallRule>,
    valued: &[NotifyRule],
    default_allows: bool,
    notes: &mut Vec<String>,
) -> Vec<SyscallRule> {
    for r in valued {
        let Some(f) = &r.values else { continue };
        let allowed = split_rest(&mut rules, &r.name, f.index);
        if !allowed && !default_allows {
            notes.push(format!("{}: refused by the profile; stays refused", r.name));
            continue;
        }
        let have: Vec<SyscallRule> = rules
            .iter()
            .filter(|x| x.action.as_deref() == Some(NOTIFY) && x.all_names().contains(&r.name))
            .cloned()
            .collect();
        for add in value_rules(&r.name, f) {
            if !have.iter().any(|h| h.args == add.args) {
                rules.push(add);
            }
        }
    }
    rules
}

/// `clone` with a namespace flag refused with EPERM in the kernel
/// ([`super::object::clone_ns_rules`]); the allow/notify rules naming `clone` without
/// `args` get [`rest_arg`] so that the refusals are not ignored.
fn clone_without_namespaces(mut rules: Vec<SyscallRule>) -> Vec<SyscallRule> {
    if split_rest(&mut rules, "clone", 0) {
        for r in clone_ns_rules() {
            if !rules.contains(&r) {
                rules.push(r); // not again when merging into an earlier merge
            }
        }
    }
    rules
}
