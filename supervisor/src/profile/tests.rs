//! Tests of plan, object, merge and CLI.

use super::object::Arg;
use super::*;
use serde_json::{json, Value};
use std::path::PathBuf;

fn names_of(rule: &Value) -> Vec<&str> {
    rule["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// `plan` merged into `base` for the socket `/run/t.sock`, without metadata.
fn merged(base: &Value, plan: &NotifyPlan, mode: Mode) -> Merged {
    merge_into(base, plan, "/run/t.sock", None, mode).unwrap()
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
    for s in decoded_syscalls().iter().chain(IO_URING) {
        assert!(
            x86_64_syscall_nr(s).is_some(),
            "{s} is not an x86_64 syscall"
        );
    }
}

#[test]
fn event_types_map_to_syscalls() {
    assert_eq!(falco_event_syscalls("pread"), vec!["pread64"]);
    assert_eq!(falco_event_syscalls("umount2"), vec!["umount2"]);
    // i386's umount: not an x86_64 syscall (the decoder names umount2 `umount2`)
    assert!(falco_event_syscalls("umount").is_empty());
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
    // enforce: refuse by default with ENOSYS, allow tiercel's table, notify the plan
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(p["defaultErrnoRet"], 38);
    assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64"]));
    assert_eq!(p["listenerPath"], "/run/t.sock");
    assert_eq!(p["listenerMetadata"], "mode=enforce");
    let n = rules_for(&p, "openat");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0]["action"], "SCMP_ACT_NOTIFY");
    // write: allowed, never notified
    let w = rules_for(&p, "write");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["action"], "SCMP_ACT_ALLOW");
    for s in IO_URING {
        let u = rules_for(&p, s);
        assert_eq!(u.len(), 1, "{s}");
        assert_eq!(u[0]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(u[0]["errnoRet"], IO_URING_ERRNO);
    }
    // every syscall of the table up to libseccomp 2.5.4's newest is decided by a rule
    // (allowed, notified or refused); the unvetted and newer ones get the default
    for (nr, name) in crate::event::syscalls::all_syscalls(crate::event::syscalls::Arch::X86_64) {
        let named = !rules_for(&p, name).is_empty();
        let newer = u32::try_from(nr).unwrap() > LIBSECCOMP_NEWEST;
        assert_eq!(named, !newer && !UNVETTED.contains(&name), "{name}");
    }
    assert!(UNVETTED.iter().all(|s| rules_for(&p, s).is_empty()));
    assert_eq!(rules_for(&p, "read")[0]["action"], "SCMP_ACT_ALLOW");
    // and the object merged again (the shim on a bundle it already edited) is the same
    let again = merge_into(
        &p,
        &NotifyPlan::unconditional(&s),
        "/run/t.sock",
        Some("mode=enforce"),
        Mode::Enforce,
    )
    .unwrap();
    assert_eq!(again.seccomp, p);
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
    let want = ["openat", "clone", "mount", "connect"];
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
    let want = [
        "openat",
        "unlink",
        "mkdir",
        "getpid",
        "write",
        "io_uring_enter",
    ];
    let m = merged(&existing, &NotifyPlan::unconditional(&want), Mode::Enforce);
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
    // the allowing default became a refusing one (ENOSYS), with an allow rule for every
    // syscall the base does not name; write is allowed, never notified
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(p["defaultErrnoRet"], 38);
    let w = rules_for(p, "write");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["action"], "SCMP_ACT_ALLOW");
    assert_eq!(rules_for(p, "read")[0]["action"], "SCMP_ACT_ALLOW");
    assert!(rules_for(p, "setxattrat").is_empty());
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
    let want = ["openat", "chroot", "execve"];
    let m = merged(&base, &NotifyPlan::unconditional(&want), Mode::Enforce);
    let p = &m.seccomp;
    assert!(
        p.get("architectures").is_none(),
        "archMap profiles must not get architectures"
    );
    assert_eq!(p["archMap"].as_array().unwrap().len(), 1);
    // chroot: allow-with-caps becomes notify-with-caps, refuse-without-caps stays
    let c = rules_for(p, "chroot");
    assert_eq!(c.len(), 2);
    assert!(c
        .iter()
        .any(|r| r["action"] == "SCMP_ACT_NOTIFY"
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
    let p = load_program(&[root.join("examples/rules/seed-write-below-binary-dir.yaml")]).unwrap();
    notify_plan(&p)
}

/// `openat` notified in modes 1 and 2, `execve` always.
fn write_plan() -> NotifyPlan {
    NotifyPlan {
        rules: vec![
            NotifyRule {
                name: "execve".into(),
                access: None,
                values: None,
            },
            NotifyRule {
                name: "openat".into(),
                access: Some(AccessFilter {
                    index: 2,
                    mask: O_ACCMODE,
                    values: vec![1, 2],
                }),
                values: None,
            },
        ],
        refuse_namespaces: false,
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
                r.get("args")
                    .and_then(|a| serde_json::from_value::<Vec<Arg>>(a.clone()).ok())
                    .and_then(|a| super::object::access_mode_of(Some(&a), idx))
                    .map(|(_, v)| v),
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

/// The flag classes of `open`/`openat` under [`seed_plan`] with a refusing default (enforce
/// mode, or a base such as podman's): the two write classes notified, the six others of the
/// mask `0o200003` allowed, one rule each.
fn seed_modes_refusing_default() -> Vec<(String, Option<u64>)> {
    let notify = |m: u64| ("SCMP_ACT_NOTIFY", Some(m));
    let allow = |m: u64| ("SCMP_ACT_ALLOW", Some(m));
    let d = 0o200000;
    am(&[
        allow(0),
        notify(1),
        notify(2),
        allow(3),
        allow(d),
        allow(d | 1),
        allow(d | 2),
        allow(d | 3),
    ])
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
    let p = seccomp_object(&seed_plan(), "/run/t.sock", None, Mode::Audit);
    let notify = |m: u64| ("SCMP_ACT_NOTIFY", Some(m));
    assert_eq!(modes_of(&p, "openat"), am(&[notify(1), notify(2)]));
    assert_eq!(modes_of(&p, "open"), am(&[notify(1), notify(2)]));
    // enforce (refusing default): the other classes are allowed, one rule per class
    let e = seccomp_object(&seed_plan(), "/run/t.sock", None, Mode::Enforce);
    for s in ["open", "openat"] {
        assert_eq!(modes_of(&e, s), seed_modes_refusing_default(), "{s}");
    }
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
    let m = merged(&existing, &write_plan(), Mode::Audit);
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
    let again = merged(p, &write_plan(), Mode::Audit);
    assert_eq!(again.seccomp, *p);
    // rules that need every mode: every mode notified
    let all = NotifyPlan::unconditional(&["openat"]);
    let wider = merged(p, &all, Mode::Audit);
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
        values: None,
    });
    plan.rules.sort_by(|a, b| a.name.cmp(&b.name));
    let m = merged(&existing, &plan, Mode::Audit);
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
        .any(|r| r["action"] == "SCMP_ACT_NOTIFY" && r["args"] == existing["syscalls"][1]["args"]));
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
    let m = merged(&fresh, &plan, Mode::Audit);
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
    let m = merged(&base, &seed_plan(), Mode::Audit);
    let p = &m.seccomp;
    for s in ["open", "openat"] {
        assert_eq!(modes_of(p, s), seed_modes_refusing_default(), "{s}");
    }
    assert!(m.notes.is_empty(), "{:?}", m.notes);
    // merging again changes nothing
    let again = merged(p, &seed_plan(), Mode::Audit);
    assert_eq!(again.seccomp, *p);

    // the preset: 64 single-class copies, the 6 read-only classes keep the allow
    let m = merged(&base, &preset_plan(), Mode::Enforce);
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
    let again = merged(p, &preset_plan(), Mode::Enforce);
    assert_eq!(again.seccomp, *p);
    // an earlier merge with the seed's classes, merged with the preset: the notified
    // classes stay, the allowed ones meeting a preset class are notified whole
    let seed = merged(&base, &seed_plan(), Mode::Enforce);
    let both = merged(&seed.seccomp, &preset_plan(), Mode::Enforce);
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

/// A newer runtime's keys, at every level of the profile, survive a merge: in the rules
/// kept, in the NOTIFY copies, in each single-class copy of a split rule, and in the
/// argument conditions and `includes`/`excludes` they carry.
#[test]
fn merge_keeps_unknown_keys_at_every_level() {
    let existing = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "topFuture": {"a": [1, 2]},
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"],
             "archFuture": "x"},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}
        ],
        "syscalls": [
            {"names": ["read", "openat", "execve"], "action": "SCMP_ACT_ALLOW",
             "ruleFuture": 7, "comment": "c",
             "includes": {"caps": [], "incFuture": null}, "excludes": {"exFuture": ""}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ",
                       "argFuture": true}]},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "ruleFuture": 8}
        ]
    });
    let mut plan = write_plan();
    plan.rules.push(NotifyRule {
        name: "clone".into(),
        access: None,
        values: None,
    });
    plan.rules.sort_by(|a, b| a.name.cmp(&b.name));
    for mode in [Mode::Audit, Mode::Enforce] {
        let m = merged(&existing, &plan, mode);
        let p = &m.seccomp;
        assert_eq!(p["topFuture"], existing["topFuture"], "{mode}");
        assert_eq!(p["flags"], existing["flags"]);
        assert_eq!(p["defaultErrnoRet"], 1);
        assert_eq!(p["archMap"][0]["archFuture"], "x", "{mode}");
        // every copy of the split allow rule keeps its keys
        let split: Vec<&Value> = ["read", "openat", "execve"]
            .iter()
            .flat_map(|s| rules_for(p, s))
            .collect();
        assert_eq!(split.len(), 1 + 4 + 1, "read, 4 openat classes, execve");
        for r in split {
            assert_eq!(r["ruleFuture"], 7, "{r}");
            assert_eq!(r["comment"], "c");
            assert_eq!(r["includes"], existing["syscalls"][0]["includes"]);
            assert_eq!(r["excludes"], existing["syscalls"][0]["excludes"]);
        }
        let c = rules_for(p, "clone");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["action"], "SCMP_ACT_NOTIFY");
        assert_eq!(c[0]["args"][0]["argFuture"], true);
        assert_eq!(rules_for(p, "mount")[0]["ruleFuture"], 8);
        // and merging the result again keeps them too (and changes nothing)
        let again = merged(p, &plan, mode);
        assert_eq!(again.seccomp, *p);
    }
}

/// A base that allows by default, merged in enforce mode: calls of an earlier audit merge
/// notified in some flag classes stay allowed in the others.
#[test]
fn enforce_merge_of_an_audit_object_keeps_other_classes_allowed() {
    let audit = seccomp_object(&seed_plan(), "/run/t.sock", None, Mode::Audit);
    let m = merged(&audit, &seed_plan(), Mode::Enforce);
    let p = &m.seccomp;
    assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(modes_of(p, "openat"), seed_modes_refusing_default());
    assert!(m.notes.is_empty(), "{:?}", m.notes);
}

/// tiercel's syscall tables against the installed kernel headers (`asm/unistd_64.h`,
/// `unistd_32.h` for i386): every syscall they define is in the table under its number,
/// so a syscall the headers know cannot be missing from the enforce allow list or be
/// misnamed in it (and one newer than the table gets the refusing default).
#[test]
fn syscall_tables_match_kernel_headers() {
    use crate::event::syscalls::{syscall_name, Arch};
    for (header, arch) in [
        (
            "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
            Arch::X86_64,
        ),
        ("/usr/include/x86_64-linux-gnu/asm/unistd_32.h", Arch::I386),
    ] {
        let Ok(text) = std::fs::read_to_string(header) else {
            eprintln!("skipped: {header} not installed (linux-libc-dev)");
            continue;
        };
        let mut n = 0;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some("#define"), Some(name), Some(nr)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Some(name) = name.strip_prefix("__NR_") else {
                continue;
            };
            let nr: i32 = nr.parse().unwrap();
            assert_eq!(
                syscall_name(arch, nr),
                Some(name),
                "{header}: {name} = {nr}"
            );
            n += 1;
        }
        assert!(n > 300, "{n} syscalls in {header}");
    }
}

/// Every name the enforce allow list gives the runtime is one libseccomp 2.5.4 (runc
/// 1.1.5's) resolves, to tiercel's number: runc ignores a name it cannot resolve and crun
/// warns about it.
#[test]
fn enforce_allow_list_names_libseccomp_knows() {
    let resolve = |name: &str| {
        let out = std::process::Command::new("scmp_sys_resolver")
            .args(["-a", "x86_64", name])
            .output()
            .ok()?;
        String::from_utf8(out.stdout)
            .ok()?
            .trim()
            .parse::<i64>()
            .ok()
    };
    if resolve("read").is_none() {
        eprintln!("skipped: scmp_sys_resolver not installed (apt-get install seccomp)");
        return;
    }
    for name in enforce_allowed() {
        let ours = i64::from(x86_64_syscall_nr(name).unwrap());
        assert_eq!(resolve(name), Some(ours), "{name}");
    }
}

// ---- ioctl requests and namespaces (issue 16, classes 2 and 4) -------------------------

const FS_IOC_SETFLAGS: u64 = 0x4008_6602;

/// (action, errnoRet, args) of every rule naming `syscall`.
fn actions_of(p: &Value, syscall: &str) -> Vec<(String, Option<u64>, Value)> {
    let mut v: Vec<_> = rules_for(p, syscall)
        .into_iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["errnoRet"].as_u64(),
                r.get("args").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

fn masked(index: u32, mask: u64, value: u64) -> Value {
    json!([{"index": index, "value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ"}])
}

fn rest(index: u32) -> Value {
    json!([{"index": index, "value": 0, "op": "SCMP_CMP_GE"}])
}

/// The ioctl rules a profile must have for `values` notified, everything else allowed.
fn assert_ioctl_filtered(p: &Value, values: &[u64], rest_allowed: bool) {
    let got = actions_of(p, "ioctl");
    let mut want: Vec<(String, Option<u64>, Value)> = values
        .iter()
        .map(|&v| (NOTIFY.to_owned(), None, masked(1, 0xffff_ffff, v)))
        .collect();
    if rest_allowed {
        want.push((ALLOW.to_owned(), None, rest(1)));
    }
    want.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(got, want);
}

use super::object::{ALLOW, ERRNO, NOTIFY};

#[test]
fn plan_of_the_preset_filters_ioctl_requests_and_refuses_namespaces() {
    let plan = preset_plan();
    let r = plan.get("ioctl").expect("ioctl notified");
    assert!(r.access.is_none());
    let f = r.values.as_ref().expect("only some requests");
    assert_eq!((f.index, f.mask), (1, 0xffff_ffff));
    for v in [FS_IOC_SETFLAGS, 0x401C_5820, 0x4004_9409, 0x4020_940D] {
        assert!(f.values.contains(&v), "{v:#x}: {:x?}", f.values);
    }
    // FS_IOC_GETFLAGS, TCGETS, FIONREAD stay in the kernel
    for v in [0x8008_6601u64, 0x5401, 0x541B] {
        assert!(!f.values.contains(&v));
    }
    assert!(r
        .describe()
        .starts_with("ioctl (arg1 & 0xffffffff in {0x6609,"));
    assert!(plan.refuse_namespaces);
    for n in [
        "chroot",
        "pivot_root",
        "setns",
        "unshare",
        "mount",
        "fspick",
    ] {
        assert!(plan.get(n).is_some_and(|r| r.access.is_none()), "{n}");
    }
    assert!(plan.get("clone").is_none() && plan.get("clone3").is_none());
}

#[test]
fn ioctl_plan_from_rules() {
    let dir = std::env::temp_dir().join(format!("tiercel-ioctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plan_of = |cond: &str| {
        let f = dir.join("r.yaml");
        std::fs::write(
            &f,
            format!(
                "- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
            ),
        )
        .unwrap();
        notify_plan(&load_program(&[f]).unwrap())
    };
    let p = plan_of("evt.type = ioctl and evt.arg.request in (40086602, 5401)");
    assert_eq!(
        p.get("ioctl").unwrap().values.as_ref().unwrap().values,
        vec![0x5401, FS_IOC_SETFLAGS]
    );
    assert!(!p.refuse_namespaces);
    // any request: every ioctl notified (correct, slower)
    let p = plan_of("evt.type = ioctl and fd.name startswith /bin");
    let r = p.get("ioctl").unwrap();
    assert!(r.values.is_none() && r.access.is_none());
    // a request no rendering can produce: ioctl is not notified at all
    let p = plan_of("evt.type = ioctl and evt.arg.request = 0x40086602");
    assert!(p.get("ioctl").is_none());
    // a rule on unshare's namespace flags turns the kernel's refusal on
    let p = plan_of("evt.type = unshare and evt.arg.flags contains CLONE_NEWNS");
    assert!(p.refuse_namespaces);
    let p = plan_of("evt.type = unshare and evt.arg.flags contains CLONE_FILES");
    assert!(!p.refuse_namespaces);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn enforce_object_filters_ioctl_and_refuses_namespace_clones_in_the_kernel() {
    let plan = preset_plan();
    let values = plan.get("ioctl").unwrap().values.clone().unwrap().values;
    let p = seccomp_object(&plan, "/run/t.sock", Some("mode=enforce"), Mode::Enforce);
    assert_ioctl_filtered(&p, &values, true);
    // clone: allowed (rest) except with a namespace flag, EPERM per flag
    let mut want: Vec<(String, Option<u64>, Value)> = NS_CLONE_FLAGS
        .iter()
        .map(|&f| (ERRNO.to_owned(), Some(u64::from(EPERM)), masked(0, f, f)))
        .collect();
    want.push((ALLOW.to_owned(), None, rest(0)));
    want.sort_by_key(|x| format!("{x:?}"));
    assert_eq!(actions_of(&p, "clone"), want);
    assert_eq!(
        NS_CLONE_FLAGS.iter().fold(0, |a, f| a | f),
        0x7E02_0000,
        "docker's mask"
    );
    // clone3: ENOSYS (libc falls back to clone), never allowed
    assert_eq!(
        actions_of(&p, "clone3"),
        vec![(ERRNO.to_owned(), Some(38), Value::Null)]
    );
    // audit: notify the requests, the default allows the rest; no namespace refusal
    let a = seccomp_object(&plan, "/run/t.sock", None, Mode::Audit);
    assert_ioctl_filtered(&a, &values, false);
    assert!(rules_for(&a, "clone").is_empty() && rules_for(&a, "clone3").is_empty());
    // opted out: clone and clone3 allowed unconditionally
    let out = NotifyPlan {
        refuse_namespaces: false,
        ..plan.clone()
    };
    let p = seccomp_object(&out, "/run/t.sock", None, Mode::Enforce);
    for n in ["clone", "clone3"] {
        let r = actions_of(&p, n);
        assert_eq!(r, vec![(ALLOW.to_owned(), None, Value::Null)], "{n}");
    }
    assert_eq!(
        cli::notified_summary(&p)
            .into_iter()
            .find(|s| s.starts_with("ioctl"))
            .unwrap(),
        plan.get("ioctl").unwrap().describe()
    );
}

#[test]
fn merge_docker_like_profile_with_ioctl_and_clone() {
    let plan = preset_plan();
    let values = plan.get("ioctl").unwrap().values.clone().unwrap().values;
    let base = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["ioctl", "read", "clone"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    });
    for mode in [Mode::Audit, Mode::Enforce] {
        let m = merged(&base, &plan, mode);
        let p = &m.seccomp;
        assert_ioctl_filtered(p, &values, true);
        assert_eq!(
            actions_of(p, "read"),
            vec![(ALLOW.to_owned(), None, Value::Null)]
        );
        let clone = actions_of(p, "clone");
        assert!(clone.contains(&(ALLOW.to_owned(), None, masked(0, 0x7E02_0000, 0))));
        let refusals = clone.iter().filter(|c| c.0 == ERRNO).count();
        assert_eq!(refusals, if mode == Mode::Enforce { 7 } else { 0 });
        if mode == Mode::Enforce {
            assert!(clone.contains(&(ALLOW.to_owned(), None, rest(0))));
            assert!(rules_for(p, "clone3")
                .iter()
                .all(|r| r["action"] == ERRNO && r["errnoRet"] == 38));
        }
        // merging again adds nothing
        let again = merged(p, &plan, mode).seccomp;
        assert_eq!(
            actions_of(&again, "ioctl"),
            actions_of(p, "ioctl"),
            "{mode}"
        );
    }
}

#[test]
fn profile_cli_allow_namespaces_keeps_clone_and_clone3_allowed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let preset = root.join("examples/rules/protect-binary-dirs.yaml");
    let program = load_program(std::slice::from_ref(&preset)).unwrap();
    let args = |allow_namespaces: bool| ProfileArgs {
        rules: vec![preset.clone()],
        socket: PathBuf::from("/run/t.sock"),
        mode: Some(Mode::Enforce),
        metadata: None,
        format: Format::Oci,
        base: None,
        output: None,
        allow_namespaces,
        select: crate::load::SelectArgs::default(),
    };
    let (refusing, _) = build(&args(false), &program).unwrap();
    assert_eq!(
        actions_of(&refusing, "clone")
            .iter()
            .filter(|c| c.0 == ERRNO)
            .count(),
        NS_CLONE_FLAGS.len()
    );
    let (allowing, _) = build(&args(true), &program).unwrap();
    for n in ["clone", "clone3"] {
        assert_eq!(
            actions_of(&allowing, n),
            vec![(ALLOW.to_owned(), None, Value::Null)],
            "{n}"
        );
    }
    // the ioctl filter is the same either way
    assert_eq!(
        actions_of(&allowing, "ioctl"),
        actions_of(&refusing, "ioctl")
    );
}

#[test]
fn merge_notes_an_ioctl_the_base_refuses() {
    let base = json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
    });
    let m = merged(&base, &preset_plan(), Mode::Audit);
    assert!(rules_for(&m.seccomp, "ioctl").is_empty());
    assert!(
        m.notes
            .iter()
            .any(|n| n == "ioctl: refused by the profile; stays refused"),
        "{:?}",
        m.notes
    );
}
