//! Decisions on the object a call reaches (issue 11, issue 16): attacks that change what
//! a checked path names between the check and the use (threads flipping the cwd or the
//! path, a parent directory renamed, symlinks swapped, /proc/<pid>/… magic links, a cwd
//! deeper than PATH_MAX, symlink chains of more than 4096 components, chroot), run many
//! times under the enforcement preset, and legitimate writes by root and by a non-root
//! user whose outcome (owner, mode, content, errno) must equal the kernel's without
//! tiercel. The same for the path-changing calls tiercel performs itself (issue 11 item 2):
//! races on rename/link/unlink/chmod/mkdir/symlink/setxattr and the descriptor forms, and
//! legitimate calls compared with the kernel's outcome. Root, real runc, the real `tiercel`
//! binary and the static probe.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(240);

/// How many times the race attempts run under enforcement (each with `TRIES` calls).
fn rounds() -> usize {
    std::env::var("TIERCEL_OBJECTS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

const TRIES: &str = "3000";

/// Attacks the preset does not stop yet, reported loudly; any other that gets through
/// fails the test. None since the ioctl rule (issue 16, class 4).
const KNOWN_OPEN: &[&str] = &[];

fn run_probe(b: &mut Bundle, args: &[&str], tag: &str) -> RunOutput {
    let setup =
        probe_host(&probe_path(b), &["setup", b.rootfs().to_str().unwrap()]).expect("setup");
    assert!(setup.success(), "probe setup: {setup:?}");
    b.set_args(args);
    run_container(b, &container_id(tag), RUN).expect("runc run")
}

fn probe_path(b: &Bundle) -> PathBuf {
    b.rootfs().join("probe")
}

#[test]
fn objects_every_attack_on_the_object_is_refused() {
    let t = "objects_every_attack_on_the_object_is_refused";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    // Baseline without tiercel: which attacks work at all here.
    let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
    let out = run_probe(&mut base, &["/probe", "objects", "200"], "obase");
    assert!(out.success(), "{t}: baseline: {out:?}");
    let baseline = parse_attempts(&out.stdout);
    assert!(
        baseline.len() >= 13,
        "{t}: probe printed too little: {out:?}"
    );
    let effective: Vec<&Attempt> = baseline.iter().filter(|a| a.ok()).collect();
    eprintln!("{t}: baseline: {baseline:?}");
    assert!(
        effective.len() >= 10,
        "{t}: too few attacks work without tiercel: {baseline:?}"
    );

    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut through = Vec::new();
    let mut table = String::new();
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..rounds() {
        let mut b = bundle_for(&env, &sup);
        // Every attack in the first round; the races again in later ones.
        let only: Vec<&str> = if round == 0 {
            vec![]
        } else {
            vec!["race_cwd", "race_exchange", "race_parent", "race_threads"]
        };
        let outs: Vec<RunOutput> = if only.is_empty() {
            vec![run_probe(&mut b, &["/probe", "objects", TRIES], "oenf")]
        } else {
            only.iter()
                .map(|o| run_probe(&mut b, &["/probe", "objects", TRIES, o], "oenfr"))
                .collect()
        };
        for out in outs {
            assert!(!out.timed_out, "{t}: probe wedged\n{}", sup.dump());
            assert!(out.success(), "{t}: probe: {out:?}\n{}", sup.dump());
            for l in out.stdout.lines().filter(|l| l.starts_with("RACE ")) {
                table.push_str(&format!("round {round}: {l}\n"));
            }
            for a in parse_attempts(&out.stdout) {
                *runs.entry(a.name.clone()).or_default() += 1;
                let was = baseline.iter().find(|x| x.name == a.name);
                table.push_str(&format!(
                    "round {round}: {:<20} baseline {:<8} enforce {}\n",
                    a.name,
                    was.map_or("?", |w| w.result.as_str()),
                    a.result
                ));
                if a.ok() && KNOWN_OPEN.contains(&a.name.as_str()) {
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr(),
                        "{t}: !!!!!!!! KNOWN OPEN: {} got through !!!!!!!!",
                        a.name
                    );
                } else if a.ok() {
                    through.push(format!("{} (round {round})", a.name));
                }
            }
        }
        let check =
            probe_host(&env.probe, &["check", b.rootfs().to_str().unwrap()]).expect("check");
        let unexplained: Vec<&str> = check
            .stdout
            .lines()
            .filter(|l| l.starts_with("CHANGED ") && !KNOWN_OPEN.iter().any(|k| l.contains(k)))
            .collect();
        assert!(
            unexplained.is_empty(),
            "{t}: round {round}: the rootfs changed:\n{}\n{table}\n{}",
            check.stdout,
            sup.dump()
        );
    }
    eprintln!("{t}:\n{table}runs per attack: {runs:?}");
    assert!(
        through.is_empty(),
        "{t}: attacks got through: {through:?}\n{table}\n{}",
        sup.dump()
    );
}

/// Runs the probe's `mode` as root (Docker's capabilities) and as uid 1000 without
/// capabilities, each once without tiercel and once under `sup`: per user, its CONTROL
/// lines (the kernel's, then tiercel's).
fn controls_with_and_without(
    t: &str,
    env: &Env,
    sup: &Supervisor,
    mode: &str,
    tag: &str,
) -> Vec<(u32, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for (uid, caps) in [(0u32, true), (1000u32, false)] {
        let set_user = |b: &mut Bundle| {
            b.config["process"]["user"] = json!({"uid": uid, "gid": uid});
            if !caps {
                for set in ["bounding", "effective", "permitted"] {
                    b.config["process"]["capabilities"][set] = json!([]);
                }
            }
        };
        let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
        set_user(&mut base);
        base.set_args(&["/probe", mode]);
        let want =
            run_container(&base, &container_id(&format!("{tag}base")), RUN).expect("runc run");
        assert!(want.success(), "{t}: baseline uid {uid}: {want:?}");
        let mut b = bundle_for(env, sup);
        set_user(&mut b);
        b.set_args(&["/probe", mode]);
        let got = run_container(&b, &container_id(&format!("{tag}enf")), RUN).expect("runc run");
        assert!(
            got.success(),
            "{t}: enforce uid {uid}: {got:?}\n{}",
            sup.dump()
        );
        out.push((uid, control_lines(&want.stdout), control_lines(&got.stdout)));
    }
    out
}

fn control_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("CONTROL ") || l.starts_with("DONE "))
        .map(str::to_string)
        .collect()
}

#[test]
fn objects_legitimate_writes_match_the_kernel_for_root_and_non_root() {
    let t = "objects_legitimate_writes_match_the_kernel_for_root_and_non_root";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], "enforce"))
        .expect("supervisor");
    for (uid, w, g) in controls_with_and_without(t, &env, &sup, "control", "c") {
        eprintln!("{t}: uid {uid}:\n{}", g.join("\n"));
        assert!(w.len() > 10, "{t}: baseline printed too little: {w:?}");
        assert_eq!(
            g,
            w,
            "{t}: uid {uid}: under enforcement the writes differ from the kernel's\n{}",
            sup.dump()
        );
        if uid != 0 {
            assert!(
                g.iter().any(|l| l == "CONTROL write_roots_file EACCES"),
                "{t}: the non-root user must be refused root's file: {g:?}"
            );
            assert!(
                g.iter().any(|l| l.starts_with(&format!(
                    "CONTROL created uid={uid} gid={uid} mode=0640 content=hello"
                ))),
                "{t}: owner/mode/content: {g:?}"
            );
        }
    }
    // The supervisor performed opens itself (the emulated counter is in its metrics log
    // line at exit, or at least it is alive and answered everything).
    let mut sup = sup;
    assert!(sup.is_alive(), "{t}: supervisor died\n{}", sup.dump());
}

/// Audit under the unmodified upstream rules: reads and writes through symlinks, a
/// symlinked directory and a magic link alert like the direct ones, with Falco's fields
/// as spelled and the resolved path added (`tiercel.resolved`), marked `would_deny`.
#[test]
fn objects_audit_sees_through_symlinks_and_magic_links() {
    let t = "objects_audit_sees_through_symlinks_and_magic_links";
    let Some(env) = container_env(t) else { return };
    let Some(rules) = upstream_rule_files() else {
        // upstream_rule_files() reported the skip.
        return;
    };
    let sup =
        Supervisor::start(&env.tiercel, SupervisorOpts::new(&rules, "audit")).expect("supervisor");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "read via symlink",
            "ln -s /etc/shadow /tmp/s1; cat /tmp/s1 >/dev/null",
            "Read sensitive file untrusted",
            "/etc/shadow",
        ),
        (
            "read via symlinked dir",
            "ln -s /etc /tmp/e1; cat /tmp/e1/shadow >/dev/null",
            "Read sensitive file untrusted",
            "/etc/shadow",
        ),
        (
            "read via magic link",
            "cat /proc/self/root/etc/shadow >/dev/null",
            "Read sensitive file untrusted",
            "/etc/shadow",
        ),
        (
            "write via symlinked dir",
            "ln -s /bin /tmp/b1; echo x > /tmp/b1/evil_audit",
            "Write below binary dir",
            "/bin/evil_audit",
        ),
        // Relative paths: the walk from the cwd without symlinks meets one and gives way
        // to the full resolution.
        (
            "relative read via symlinked dir",
            "ln -s /etc /tmp/e2; cd /tmp && cat e2/shadow >/dev/null",
            "Read sensitive file untrusted",
            "/etc/shadow",
        ),
        (
            "relative write via symlinked dir",
            "mkdir -p /tmp/rl && ln -s /bin /tmp/rl/b && cd /tmp/rl && echo x > b/evil_rel",
            "Write below binary dir",
            "/bin/evil_rel",
        ),
    ];
    let mut failures = Vec::new();
    for (what, script, rule, resolved) in cases {
        let before = sup.alerts().expect("alerts").len();
        let mut b = bundle_for(&env, &sup);
        b.set_script(script);
        let out = run_container(&b, &container_id("aud"), RUN).expect("runc run");
        assert!(!out.timed_out, "{t}: {what}: timed out\n{}", sup.dump());
        let alerts = sup
            .wait_alerts(Duration::from_secs(10), Duration::from_millis(1500), |a| {
                a[before..]
                    .iter()
                    .any(|x| x["rule"] == *rule && x["tiercel"]["resolved"] == *resolved)
            })
            .expect("alerts");
        let hit = alerts[before..]
            .iter()
            .find(|x| x["rule"] == *rule && x["tiercel"]["resolved"] == *resolved);
        match hit {
            None => failures.push(format!(
                "{what}: no '{rule}' alert with resolved {resolved}: {:?}",
                alerts[before..]
                    .iter()
                    .map(|a| (
                        a["rule"].clone(),
                        a["tiercel"].clone(),
                        a["output_fields"]["fd.name"].clone()
                    ))
                    .collect::<Vec<_>>()
            )),
            Some(a) => {
                eprintln!(
                    "{t}: {what}: {} {}",
                    a["output_fields"]["fd.name"], a["tiercel"]
                );
                if a["output_fields"]["fd.name"] == *resolved {
                    failures.push(format!("{what}: fd.name must stay Falco's (as spelled)"));
                }
                if a["tiercel"]["action"] != "would_deny" {
                    failures.push(format!("{what}: not marked would_deny: {}", a["tiercel"]));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{t}:\n{}\n{}",
        failures.join("\n"),
        sup.dump()
    );
}

// ---- issue 16, classes 2 and 4: inode-changing ioctls, re-rooting, namespaces, the mount
// API; with runc's default capabilities and with Docker's. ------------------------------

/// `runc spec`'s capabilities (the bundles' default, `DEFAULT_CAPS`, is Docker's set).
const RUNC_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

const NS_RULE: &str = "Namespace or root change in protected container";
const IOCTL_RULE: &str = "Inode change through ioctl in protected binary dir";
/// The new mount API is also matched by this earlier rule of the preset (which stays
/// when the namespace rule is disabled): its alert then names that rule.
const MOUNT_RULE: &str = "Mount over protected binary dir";

fn ns_alert(x: &serde_json::Value, ty: &str) -> bool {
    (x["rule"] == NS_RULE || x["rule"] == MOUNT_RULE) && x["output_fields"]["evt.type"] == ty
}

fn with_caps(b: &mut Bundle, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set] = json!(caps);
    }
}

/// The probe's `namespaces` attacks (chroot, unshare, clone and clone3 with namespace
/// flags, setns, pivot_root, mount, umount2, fsopen, open_tree, fspick) and the three
/// ioctl attacks on /bin files are refused in enforce mode with both capability sets;
/// the calls a seccomp filter can see are refused by the preset's rule (an alert each),
/// clone's namespace flags and clone3 in the kernel. Nothing below /bin changes.
#[test]
fn objects_namespaces_and_inode_ioctls_refused_with_runc_and_docker_caps() {
    let t = "objects_namespaces_and_inode_ioctls_refused_with_runc_and_docker_caps";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut failures = Vec::new();
    for (label, caps) in [("docker", DEFAULT_CAPS), ("runc", RUNC_CAPS)] {
        let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
        with_caps(&mut base, caps);
        base.set_args(&["/probe", "namespaces"]);
        let want = run_container(&base, &container_id("nsbase"), RUN).expect("runc run");
        assert!(want.success(), "{t}: {label}: baseline: {want:?}");
        let baseline = parse_attempts(&want.stdout);
        assert_eq!(baseline.len(), 14, "{t}: {label}: {want:?}");
        let before = sup.alerts().expect("alerts").len();
        let mut b = bundle_for(&env, &sup);
        with_caps(&mut b, caps);
        b.set_args(&["/probe", "namespaces"]);
        let got = run_container(&b, &container_id("nsenf"), RUN).expect("runc run");
        assert!(got.success(), "{t}: {label}: {got:?}\n{}", sup.dump());
        let enforced = parse_attempts(&got.stdout);
        assert_eq!(enforced.len(), 14, "{t}: {label}: {got:?}");
        for a in &enforced {
            let was = baseline.iter().find(|x| x.name == a.name).unwrap();
            eprintln!(
                "{t}: {label}: {:<18} baseline {:<8} enforce {}",
                a.name, was.result, a.result
            );
            if a.ok() {
                failures.push(format!("{label}: {} got through", a.name));
            }
        }
        // clone with namespace flags: EPERM in the kernel; clone3: ENOSYS
        for (name, errno) in [
            ("ns_clone_newns", "EPERM"),
            ("ns_clone_newpid", "EPERM"),
            ("ns_clone3", "ENOSYS"),
        ] {
            let a = enforced.iter().find(|a| a.name == name).unwrap();
            if a.result != errno {
                failures.push(format!("{label}: {name}: {} (want {errno})", a.result));
            }
        }
        // the others reach the rule: one alert per call type
        let types = [
            "chroot",
            "unshare",
            "setns",
            "pivot_root",
            "mount",
            "umount2",
            "fsopen",
            "open_tree",
            "fspick",
        ];
        let alerts = sup
            .wait_alerts(Duration::from_secs(10), Duration::from_millis(1500), |a| {
                types.iter().all(|ty| {
                    a[before..]
                        .iter()
                        .any(|x| x["rule"] == NS_RULE && x["output_fields"]["evt.type"] == *ty)
                })
            })
            .expect("alerts");
        for ty in types {
            let hit = alerts[before..].iter().any(|x| ns_alert(x, ty));
            if !hit {
                failures.push(format!("{label}: no '{NS_RULE}' alert for {ty}"));
            }
        }

        // class 4 with these capabilities: the ioctls on read-only fds of /bin files, each
        // refused by the ioctl rule with the request as Falco renders it (the kernel's
        // 32-bit cmd, also for musl's sign-extended form)
        let expect_alert = [
            ("ioctl_setflags", "/bin/v_ioctl_flags", "40086602"),
            ("ioctl_fssetxattr", "/bin/v_ioctl_fsx", "401C5820"),
            ("ioctl_setflags_hi", "/bin/v_ioctl_hi", "40086602"),
            ("ioctl_setversion", "/bin/v_ioctl_ver", "40087602"),
            ("ioctl_policy_hi", "/bin", "800C6613"),
        ];
        let before = sup.alerts().expect("alerts").len();
        for attack in [
            "ioctl_setflags",
            "ioctl_fssetxattr",
            "ioctl_setflags_hi",
            "ioctl_setversion",
            "ioctl_policy_hi",
        ] {
            let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
            with_caps(&mut base, caps);
            let out = run_probe(&mut base, &["/probe", "objects", "1", attack], "iobase");
            let was = parse_attempts(&out.stdout);
            let mut b = bundle_for(&env, &sup);
            with_caps(&mut b, caps);
            let out = run_probe(&mut b, &["/probe", "objects", "1", attack], "ioenf");
            assert!(out.success(), "{t}: {label}: {out:?}\n{}", sup.dump());
            let got = parse_attempts(&out.stdout);
            eprintln!("{t}: {label}: {attack}: baseline {was:?} enforce {got:?}");
            if got.len() != 1 || got[0].ok() {
                failures.push(format!("{label}: {attack}: {got:?}"));
            }
            let check =
                probe_host(&env.probe, &["check", b.rootfs().to_str().unwrap()]).expect("check");
            if check.stdout.lines().any(|l| l.starts_with("CHANGED ")) {
                failures.push(format!("{label}: {attack}: {}", check.stdout));
            }
        }
        let is_hit = |x: &serde_json::Value, file: &str, req: &str| {
            x["rule"] == IOCTL_RULE
                && x["output_fields"]["fd.name"] == file
                && x["output_fields"]["evt.arg.request"] == req
        };
        let alerts = sup
            .wait_alerts(Duration::from_secs(10), Duration::from_millis(1500), |a| {
                expect_alert
                    .iter()
                    .all(|(_, f, r)| a[before..].iter().any(|x| is_hit(x, f, r)))
            })
            .expect("alerts");
        for (attack, file, req) in expect_alert {
            if !alerts[before..].iter().any(|x| is_hit(x, file, req)) {
                failures.push(format!(
                    "{label}: {attack}: no '{IOCTL_RULE}' alert for {file} request {req}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{t}:\n{}\n{}",
        failures.join("\n"),
        sup.dump()
    );
}

/// What must keep working under the preset in enforce mode, as without tiercel: fork,
/// threads, clone without namespace flags, FIONREAD/TCGETS, FS_IOC_GETFLAGS on /bin/busybox,
/// FS_IOC_SETFLAGS/FSGETXATTR/FICLONE on the caller's own file in /tmp; clone3 gets ENOSYS
/// (libc falls back to clone). 2 × 20000 ioctls that change no file never leave the
/// kernel: the container's session counts far fewer notifications.
#[test]
fn objects_harden_controls_match_the_kernel_and_ioctls_stay_in_the_kernel() {
    let t = "objects_harden_controls_match_the_kernel_and_ioctls_stay_in_the_kernel";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    const N: &str = "20000";
    for (label, caps) in [("docker", DEFAULT_CAPS), ("runc", RUNC_CAPS)] {
        let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
        with_caps(&mut base, caps);
        base.set_args(&["/probe", "harden-controls", N]);
        let want = run_container(&base, &container_id("hcbase"), RUN).expect("runc run");
        assert!(want.success(), "{t}: {label}: baseline: {want:?}");
        let ended = session_notifications(&sup.stderr()).len();
        let mut b = bundle_for(&env, &sup);
        with_caps(&mut b, caps);
        b.set_args(&["/probe", "harden-controls", N]);
        let got = run_container(&b, &container_id("hcenf"), RUN).expect("runc run");
        assert!(got.success(), "{t}: {label}: {got:?}\n{}", sup.dump());
        let (w, g) = (control_lines(&want.stdout), control_lines(&got.stdout));
        eprintln!("{t}: {label}:\n{}", g.join("\n"));
        assert!(
            w.len() >= 12,
            "{t}: {label}: baseline printed too little: {want:?}"
        );
        assert_eq!(
            g,
            w,
            "{t}: {label}: differs from the kernel's\n{}",
            sup.dump()
        );
        assert!(
            g.iter()
                .any(|l| l == &format!("CONTROL ioctl_loop {N} bad=0")),
            "{t}: {label}: {g:?}"
        );
        assert!(
            got.stdout.lines().any(|l| l == "CLONE3 ENOSYS"),
            "{t}: {label}: clone3 must get ENOSYS: {}",
            got.stdout
        );
        // the session's notification count, logged when it ends
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while session_notifications(&sup.stderr()).len() <= ended && std::time::Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let counts = session_notifications(&sup.stderr());
        let n = *counts
            .last()
            .unwrap_or_else(|| panic!("{t}: {label}: no session ended\n{}", sup.dump()));
        eprintln!("{t}: {label}: notifications of the session: {n}");
        assert!(
            n < 2000,
            "{t}: {label}: {n} notifications for 40000 ioctls: they left the kernel\n{}",
            sup.dump()
        );
    }
}

/// Under the namespace refusal, `runc exec` still works (runc joins the namespaces before
/// installing the filter) and its sessions are refused the same calls; crun runs a
/// container whose workload forks, makes threads and gets ENOSYS for clone3 (crun, like
/// runc, makes no namespace call after installing the filter).
#[test]
fn objects_exec_and_crun_work_under_the_namespace_refusal() {
    let t = "objects_exec_and_crun_work_under_the_namespace_refusal";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    b.set_args(&["/probe", "sleep", "60"]);
    let c = Detached::start(&b, &container_id("nsexec"), RUN).expect("runc run -d");
    // `mkdir -p` asks for every ancestor, `/` and `/usr` included: the kernel's EEXIST
    // must reach it (creating a parent of a protected directory replaces nothing). And
    // the write-opens of `/dev/stdout`, `/dev/fd/2`, whose links name the opener's process
    // (`/proc/self/fd/N`), reach the caller's descriptors.
    let out = c
        .exec(
            &[
                "/bin/sh",
                "-c",
                "mkdir -p /tmp/a/b /usr/local/lib/t && echo fine > /tmp/x \
                 && cat /tmp/x > /dev/stdout && echo to-stderr > /dev/fd/2",
            ],
            RUN,
        )
        .expect("runc exec");
    assert!(
        out.success() && out.stdout.contains("fine"),
        "{t}: runc exec: {out:?}\n{}",
        sup.dump()
    );
    let out = c.exec(&["/probe", "namespaces"], RUN).expect("runc exec");
    let got = parse_attempts(&out.stdout);
    assert_eq!(got.len(), 14, "{t}: {out:?}");
    eprintln!("{t}: runc exec: {got:?}");
    let through: Vec<&Attempt> = got.iter().filter(|a| a.ok()).collect();
    assert!(through.is_empty(), "{t}: exec session: {through:?}");
    drop(c);

    if !require(t, "crun not installed", have("crun"))
        || !require(t, "unshare not installed", have("unshare"))
    {
        return;
    }
    let mut b = bundle_for(&env, &sup);
    b.set_args(&["/probe", "harden-controls", "1000"]);
    b.write().expect("config.json");
    let root = tempfile::tempdir().unwrap();
    let id = container_id("nscrun");
    let crun = format!(
        "crun --root {} --cgroup-manager=disabled",
        root.path().display()
    );
    let script = format!(
        "umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup || exit 10; \
         {crun} run -b {} {id}; rc=$?; {crun} delete -f {id} 2>/dev/null; exit $rc",
        b.path().display()
    );
    let out = run_cmd(
        std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]),
        RUN,
        || {},
    )
    .expect("crun");
    assert!(out.success(), "{t}: crun: {out:?}\n{}", sup.dump());
    eprintln!("{t}: crun:\n{}", out.stdout);
    for want in [
        "CONTROL fork ok",
        "CONTROL thread ok",
        "CONTROL clone_plain ok",
        "CONTROL ioctl_loop 1000 bad=0",
        "CLONE3 ENOSYS",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == want),
            "{t}: crun: no {want:?}: {out:?}"
        );
    }
}

/// How many times the path-changing races run under enforcement (each with
/// `MUTATE_TRIES` calls per race).
fn mutate_rounds() -> usize {
    std::env::var("TIERCEL_MUTATE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

const MUTATE_TRIES: &str = "2000";

fn run_mutate(b: &mut Bundle, args: &[&str], tag: &str) -> RunOutput {
    let setup = probe_host(
        &probe_path(b),
        &["mutate-setup", b.rootfs().to_str().unwrap()],
    )
    .expect("mutate-setup");
    assert!(setup.success(), "probe mutate-setup: {setup:?}");
    b.set_args(args);
    run_container(b, &container_id(tag), RUN).expect("runc run")
}

/// Issue 11 item 2: the path-changing calls (rename, link, unlink, chmod, mkdir, symlink,
/// setxattr) with a thread flipping the path buffer between /tmp and /bin, a parent
/// symlink swapped, a parent renamed, and the descriptor forms (fchmod, fchown, futimens,
/// fsetxattr) with a thread `dup2`ing a /bin file onto the descriptor: each works without
/// tiercel, none gets through under the preset (they are performed by tiercel on the
/// objects it decided on), and the victims are untouched.
#[test]
fn objects_path_changing_call_races_are_refused() {
    let t = "objects_path_changing_call_races_are_refused";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    // The premise: every race gets through without tiercel. A race is a race: one that
    // missed in a run (a busy machine) is run again, up to three runs in all.
    let mut baseline: Vec<Attempt> = Vec::new();
    for run in 0..3 {
        let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
        let out = run_mutate(
            &mut base,
            &["/probe", "mutate", MUTATE_TRIES],
            &format!("mbase{run}"),
        );
        assert!(out.success(), "{t}: baseline: {out:?}");
        let got = parse_attempts(&out.stdout);
        eprintln!("{t}: baseline run {run}: {got:?}");
        assert!(got.len() >= 13, "{t}: probe printed too little: {out:?}");
        if baseline.is_empty() {
            baseline = got;
        } else {
            for a in baseline.iter_mut().filter(|a| !a.ok()) {
                if let Some(g) = got.iter().find(|g| g.name == a.name && g.ok()) {
                    a.result = g.result.clone();
                }
            }
        }
        if baseline.iter().all(Attempt::ok) {
            break;
        }
    }
    let not_working: Vec<&Attempt> = baseline.iter().filter(|a| !a.ok()).collect();
    assert!(
        not_working.is_empty(),
        "{t}: every race must work without tiercel on this host (3 runs): {not_working:?}"
    );
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut through = Vec::new();
    let mut table = String::new();
    let mut tries: BTreeMap<String, usize> = BTreeMap::new();
    for round in 0..mutate_rounds() {
        let mut b = bundle_for(&env, &sup);
        let out = run_mutate(&mut b, &["/probe", "mutate", MUTATE_TRIES], "menf");
        assert!(!out.timed_out, "{t}: probe wedged\n{}", sup.dump());
        assert!(out.success(), "{t}: probe: {out:?}\n{}", sup.dump());
        for l in out.stdout.lines().filter(|l| l.starts_with("RACE ")) {
            table.push_str(&format!("round {round}: {l}\n"));
            let mut w = l.split_whitespace().skip(1);
            if let (Some(name), Some(n)) = (w.next(), w.next()) {
                let n: usize = n
                    .strip_prefix("tries=")
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                *tries.entry(name.to_string()).or_default() += n;
            }
        }
        let attempts = parse_attempts(&out.stdout);
        assert_eq!(
            attempts.len(),
            baseline.len(),
            "{t}: round {round}: {out:?}"
        );
        for a in attempts {
            table.push_str(&format!(
                "round {round}: {:<24} enforce {}\n",
                a.name, a.result
            ));
            if a.ok() {
                through.push(format!("{} (round {round})", a.name));
            }
        }
        let check = probe_host(&env.probe, &["mutate-check", b.rootfs().to_str().unwrap()])
            .expect("mutate-check");
        assert!(
            check.success(),
            "{t}: round {round}: the rootfs changed:\n{}\n{table}\n{}",
            check.stdout,
            sup.dump()
        );
    }
    eprintln!("{t}:\n{table}tries per race (all rounds): {tries:?}");
    for (name, n) in &tries {
        assert!(
            *n >= mutate_rounds() * 1000,
            "{t}: {name} ran only {n} tries\n{table}"
        );
    }
    let mut sup = sup;
    assert!(sup.is_alive(), "{t}: supervisor died\n{}", sup.dump());
    assert!(
        through.is_empty(),
        "{t}: attacks got through: {through:?}\n{table}\n{}",
        sup.dump()
    );
}

/// Legitimate path-changing calls (mv, ln, ln -s, rm, rmdir, mkdir, mknod, chmod, chown,
/// truncate, touch, xattrs; path, dirfd, cwd and descriptor forms; the kernel's errors)
/// by root and by uid 1000 without capabilities: under the preset in enforce mode — which
/// makes tiercel perform every one of them — each outcome (return value or errno, owner,
/// mode, size, links, times, xattr, content) equals the kernel's without tiercel.
#[test]
fn objects_path_changing_calls_match_the_kernel_for_root_and_non_root() {
    let t = "objects_path_changing_calls_match_the_kernel_for_root_and_non_root";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], "enforce"))
        .expect("supervisor");
    for (uid, w, g) in controls_with_and_without(t, &env, &sup, "control-mutate", "cm") {
        eprintln!("{t}: uid {uid}: {} lines", g.len());
        assert!(w.len() > 100, "{t}: baseline printed too little: {w:?}");
        let diff: Vec<String> = w
            .iter()
            .zip(g.iter())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("kernel: {a}\ntiercel: {b}"))
            .collect();
        assert!(
            diff.is_empty() && w.len() == g.len(),
            "{t}: uid {uid}: under enforcement the calls differ from the kernel's:\n{}\n{}",
            diff.join("\n"),
            sup.dump()
        );
        if uid != 0 {
            for want in [
                "CONTROL chown_root EPERM",
                "CONTROL chmod_roots EPERM",
                "CONTROL rmdir_etc EACCES",
                "CONTROL mkdir ok",
                "CONTROL rename ok",
            ] {
                assert!(
                    g.iter().any(|l| l == want),
                    "{t}: uid {uid}: expected '{want}': {g:#?}"
                );
            }
        }
    }
    let mut sup = sup;
    assert!(sup.is_alive(), "{t}: supervisor died\n{}", sup.dump());
}

/// What tiercel performs must not be more privileged than the caller (red-team findings):
/// a block or character device node the container may create but its device cgroup may
/// not open stays unopenable when tiercel performs the open (it used to hand over an fd
/// on any block device: a host disk); `/dev/tty` without a controlling terminal stays
/// `ENXIO` (tiercel's own terminal is never handed over); a regular file with a second
/// name (a hard link in the image to `/bin/dn_victim`) is not changed through the other
/// name. Every other outcome equals the kernel's, and the protected file is unchanged.
#[test]
fn objects_device_nodes_and_hard_link_aliases() {
    let t = "objects_device_nodes_and_hard_link_aliases";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let run = |b: &mut Bundle, tag: &str| -> Vec<Attempt> {
        let root = b.rootfs().to_str().unwrap().to_string();
        let setup = probe_host(&probe_path(b), &["devnodes-setup", &root]).expect("setup");
        assert!(setup.success(), "{t}: devnodes-setup: {setup:?}");
        b.set_args(&["/probe", "devnodes"]);
        let out = run_container(b, &container_id(tag), RUN).expect("runc run");
        assert!(out.success(), "{t}: probe: {out:?}");
        let a = parse_attempts(&out.stdout);
        assert_eq!(a.len(), 11, "{t}: {out:?}");
        a
    };
    let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
    let baseline = run(&mut base, "dnbase");
    let result = |v: &[Attempt], n: &str| {
        v.iter()
            .find(|a| a.name == n)
            .map(|a| a.result.clone())
            .unwrap_or_default()
    };
    // What the kernel does here without tiercel (the premises of the test).
    assert_eq!(result(&baseline, "dn_mknod_blk"), "ok", "{baseline:?}");
    assert_eq!(result(&baseline, "dn_open_blk_rw"), "EPERM", "{baseline:?}");
    assert_eq!(result(&baseline, "dn_open_alias_rw"), "ok", "{baseline:?}");
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    let under = run(&mut b, "dnenf");
    let victim = b.rootfs().join("bin/dn_victim");
    let content = std::fs::read(&victim).expect("victim");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&victim).expect("victim").permissions(),
    );
    let mut diff = Vec::new();
    for a in &under {
        let want = match a.name.as_str() {
            // Changing the file through its second name: refused.
            "dn_open_alias_rw" | "dn_chmod_alias" => "EPERM".to_string(),
            n => result(&baseline, n),
        };
        if a.result != want {
            diff.push(format!("{}: {} (want {want})", a.name, a.result));
        }
    }
    assert!(
        diff.is_empty(),
        "{t}: {diff:?}\nbaseline {baseline:?}\nunder tiercel {under:?}\n{}",
        sup.dump()
    );
    assert_eq!(content, b"original\n", "{t}: /bin/dn_victim changed");
    assert_eq!(mode & 0o7777, 0o755, "{t}: /bin/dn_victim's mode changed");
    let mut sup = sup;
    assert!(sup.is_alive(), "{t}: supervisor died\n{}", sup.dump());
}

fn ioc_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("IOC ") || l.starts_with("DONE "))
        .map(str::to_string)
        .collect()
}

/// The inode-changing ioctls tiercel performs (issue 16 class 4, issue 11: never
/// CONTINUE, perform or refuse): under the preset in enforce, FICLONE, FICLONERANGE (the
/// caller's source descriptor translated, a bad one EBADF, a bad pointer EFAULT),
/// FS_IOC_SETVERSION, EXT4_IOC_SETVERSION on a read-only fd, FS_IOC_RESVSP64,
/// FS_IOC_ZERO_RANGE, EXT4_IOC_MIGRATE and FS_IOC_FSSETXATTR on the caller's own files give the kernel's
/// results (return value, errno, the content and generation left) exactly; the clone and
/// version requests with /bin/busybox as the destination are refused (EPERM) with an alert
/// each, leaving it unchanged.
#[test]
fn objects_inode_ioctls_performed_on_own_files_refused_on_bin() {
    let t = "objects_inode_ioctls_performed_on_own_files_refused_on_bin";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts {
            extra: vec!["--deny".into(), "tag:tiercel_protect".into()],
            ..SupervisorOpts::new(&[preset], "enforce")
        },
    )
    .expect("supervisor");
    let mut base = Bundle::busybox(Some(&env.probe)).expect("bundle");
    base.set_args(&["/probe", "ioctl-perform", "/ioc"]);
    let want = run_container(&base, &container_id("iocbase"), RUN).expect("runc run");
    assert!(want.success(), "{t}: baseline: {want:?}");
    let w = ioc_lines(&want.stdout);
    assert_eq!(w.len(), 12, "{t}: baseline: {want:?}");
    let before = sup.alerts().expect("alerts").len();
    let mut b = bundle_for(&env, &sup);
    b.set_args(&["/probe", "ioctl-perform", "/ioc"]);
    let got = run_container(&b, &container_id("iocenf"), RUN).expect("runc run");
    assert!(got.success(), "{t}: {got:?}\n{}", sup.dump());
    let g = ioc_lines(&got.stdout);
    eprintln!(
        "{t}: kernel:\n{}\n{t}: tiercel:\n{}",
        w.join("\n"),
        g.join("\n")
    );
    assert_eq!(g, w, "{t}: differs from the kernel's\n{}", sup.dump());
    let own: Vec<_> = sup.alerts().expect("alerts")[before..]
        .iter()
        .filter(|x| x["rule"] == IOCTL_RULE)
        .cloned()
        .collect();
    assert!(own.is_empty(), "{t}: alerts on own files: {own:?}");

    let mut b = bundle_for(&env, &sup);
    b.set_args(&["/probe", "ioctl-perform-bin"]);
    let got = run_container(&b, &container_id("iocbin"), RUN).expect("runc run");
    assert!(got.success(), "{t}: /bin: {got:?}\n{}", sup.dump());
    let g = ioc_lines(&got.stdout);
    eprintln!("{t}: /bin:\n{}", g.join("\n"));
    assert_eq!(
        g,
        [
            "IOC bin_ficlone EPERM",
            "IOC bin_ficlonerange EPERM",
            "IOC bin_setversion EPERM same=1",
            "IOC bin_content same=1",
            "DONE ioctl-perform-bin",
        ],
        "{t}: /bin\n{}",
        sup.dump()
    );
    let reqs = ["40049409", "4020940D", "40087602"];
    let is_hit = |x: &serde_json::Value, req: &str| {
        x["rule"] == IOCTL_RULE
            && x["output_fields"]["fd.name"] == "/bin/busybox"
            && x["output_fields"]["evt.arg.request"] == req
    };
    let alerts = sup
        .wait_alerts(Duration::from_secs(10), Duration::from_millis(1500), |a| {
            reqs.iter()
                .all(|r| a[before..].iter().any(|x| is_hit(x, r)))
        })
        .expect("alerts");
    for r in reqs {
        assert!(
            alerts[before..].iter().any(|x| is_hit(x, r)),
            "{t}: no '{IOCTL_RULE}' alert for /bin/busybox request {r}\n{}",
            sup.dump()
        );
    }
}
