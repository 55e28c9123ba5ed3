//! Memory and container-file hardening, with real runc containers (root):
//!
//! - issue 16.5: a process with 30,000 arguments whose 1,000 threads each make one
//!   refused call must not blow up the supervisor (every thread used to cache the whole
//!   argv: 1.6 GB), and what the container cost is returned when it ends;
//! - issue 16.7: the container's `/etc/passwd` is read inside its root: a RENAME_EXCHANGE
//!   loop swapping `/etc` with a symlink that means the host's `/etc` on a host path walk,
//!   and a FIFO in its place, neither put host user data in alerts nor block the session;
//!   a changed file is read again;
//! - issue 16.7 (overlay): "drop and execute" is seen through an upperdir handle,
//!   also for a program dropped and run inside a chroot in the container;
//! - issue 16.8: a process that execs or exits right after its refused call is named as
//!   it was when it made the call.

use std::time::{Duration, Instant};

use serde_json::Value;
use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(180);

/// A `kB` line of `/proc/<pid>/status` (VmRSS, VmHWM), in bytes.
fn status_kb(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn field<'a>(a: &'a Value, name: &str) -> &'a Value {
    &a["output_fields"][name]
}

const MIB: u64 = 1 << 20;

#[test]
fn memory_argv_threads_attack_is_bounded_and_returned() {
    let t = "memory_argv_threads_attack_is_bounded_and_returned";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let mut sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], "enforce"))
        .expect("supervisor");
    let pid = sup.pid();
    // Warm up: one container, one refused call, so that the baseline includes the
    // supervisor's steady state (threads, output, one session's worth of tables).
    let mut b = bundle_for(&env, &sup);
    b.set_script("touch /bin/warm; echo rc=$?");
    let out = run_container(&b, &container_id("memwarm"), RUN).expect("runc run");
    assert!(
        out.success() && out.stdout.contains("rc=1"),
        "{t}: {out:?}\n{}",
        sup.dump()
    );
    std::thread::sleep(Duration::from_secs(2));
    let baseline = status_kb(pid, "VmRSS");
    assert!(baseline > 0);

    // The attack: 30,000 arguments, 1,000 threads alive at once, one refused call each.
    let mut b = bundle_for(&env, &sup);
    let mut args: Vec<String> = ["/probe", "threads-deny", "1000", "/usr/bin/tiercel-mem"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(std::iter::repeat_n("a".to_string(), 30_000));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    b.set_args(&argv);
    let out = run_container(&b, &container_id("memattack"), RUN).expect("runc run");
    assert!(!out.timed_out, "{t}: attack wedged\n{}", sup.dump());
    assert!(
        out.stdout
            .contains("DONE threads-deny threads=1000 refused=1000"),
        "{t}: code {:?}\nstdout: {}\nstderr: {}\n{}",
        out.code(),
        tail(&out.stdout, 5),
        tail(&out.stderr, 5),
        sup.dump()
    );
    assert!(sup.is_alive(), "{t}: supervisor died\n{}", sup.dump());
    let peak = status_kb(pid, "VmHWM");
    eprintln!(
        "{t}: baseline RSS {:.1} MiB, peak (VmHWM) {:.1} MiB",
        baseline as f64 / MIB as f64,
        peak as f64 / MIB as f64
    );
    assert!(
        peak < 256 * MIB,
        "{t}: peak RSS {} MiB\n{}",
        peak / MIB,
        sup.dump()
    );
    // The alerts name the program (captured before the answer), its user and parent.
    let alerts = sup
        .wait_alerts(Duration::from_secs(30), Duration::from_millis(500), |a| {
            a.iter()
                .filter(|x| field(x, "fd.name") == "/usr/bin/tiercel-mem")
                .count()
                >= 1000
        })
        .expect("alerts");
    let ours: Vec<&Value> = alerts
        .iter()
        .filter(|x| field(x, "fd.name") == "/usr/bin/tiercel-mem")
        .collect();
    assert_eq!(ours.len(), 1000, "{t}: one alert per refused call");
    for a in &ours {
        assert_eq!(field(a, "proc.name"), "probe", "{a}");
        assert_eq!(field(a, "user.name"), "root", "{a}");
        let cmd = field(a, "proc.cmdline").as_str().unwrap_or_default();
        assert!(
            cmd.starts_with("probe threads-deny 1000 /usr/bin/tiercel-mem a a a"),
            "{cmd:.80}"
        );
    }
    // The container is gone: its tables are freed and the heap handed back.
    let start = Instant::now();
    let mut rss = status_kb(pid, "VmRSS");
    while rss > baseline + 32 * MIB && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(250));
        rss = status_kb(pid, "VmRSS");
    }
    eprintln!(
        "{t}: RSS after the container ended {:.1} MiB",
        rss as f64 / MIB as f64
    );
    assert!(
        rss <= baseline + 32 * MIB,
        "{t}: RSS {} MiB after the container ended, baseline {} MiB",
        rss / MIB,
        baseline / MIB
    );
    assert!(sup.is_alive());
}

#[test]
fn container_user_db_is_read_inside_the_root() {
    let t = "container_user_db_is_read_inside_the_root";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], "enforce"))
        .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    // uid 0 is "toor" in the container; the host calls it "root": an alert that says
    // "root" read the host's file.
    std::fs::write(
        b.rootfs().join("etc/passwd"),
        "toor:x:0:0:toor:/root:/bin/sh\n",
    )
    .unwrap();
    // /evil -> /etc: inside the root a loop back to itself, but through a host path
    // (/proc/<pid>/root/etc/passwd) the host's /etc once /etc and /evil are swapped.
    std::os::unix::fs::symlink("/etc", b.rootfs().join("evil")).unwrap();
    b.set_script(
        "/probe exchange /etc /evil 4000 & \
         i=0; while [ $i -lt 40 ]; do touch /bin/race$i; i=$((i+1)); sleep 0.1; done; wait; \
         rm /etc/passwd; mkfifo /etc/passwd; sleep 1.5; touch /bin/fifo; echo fifo-done; \
         rm /etc/passwd; echo 'toor2:x:0:0::/:/bin/sh' > /etc/passwd; sleep 1.5; \
         touch /bin/changed; echo end",
    );
    let out = run_container(&b, &container_id("userdb"), RUN).expect("runc run");
    assert!(!out.timed_out, "{t}: wedged\n{}", sup.dump());
    assert!(
        out.stdout.contains("DONE exchange")
            && out.stdout.contains("fifo-done")
            && out.stdout.contains("end"),
        "{t}: {out:?}\n{}",
        sup.dump()
    );
    // `touch` on an existing name is utimensat (the path in evt.arg.path), else an open.
    let path = |x: &Value| -> String {
        ["fd.name", "evt.arg.path"]
            .iter()
            .find_map(|f| field(x, f).as_str())
            .unwrap_or_default()
            .to_string()
    };
    let alerts = sup
        .wait_alerts(Duration::from_secs(20), Duration::from_millis(500), |a| {
            a.iter().any(|x| path(x) == "/bin/changed")
        })
        .expect("alerts");
    let named = |f: &str| -> Vec<String> {
        alerts
            .iter()
            .filter(|x| path(x).starts_with(f))
            .map(|x| field(x, "user.name").as_str().unwrap_or("").to_string())
            .collect()
    };
    let race = named("/bin/race");
    assert!(
        race.len() >= 35,
        "{t}: {} race alerts\n{}",
        race.len(),
        sup.dump()
    );
    for n in &race {
        assert!(
            n == "toor" || n.is_empty() || n == "<NA>",
            "{t}: user.name {n:?}: host data in an alert"
        );
    }
    assert!(race.iter().any(|n| n == "toor"), "{t}: {race:?}");
    // The FIFO neither blocked the session (the alert came, the container went on) nor
    // named anyone.
    let fifo = named("/bin/fifo");
    assert_eq!(fifo.len(), 1, "{t}\n{}", sup.dump());
    assert!(fifo[0].is_empty() || fifo[0] == "<NA>", "{fifo:?}");
    // A changed file is read again.
    assert_eq!(named("/bin/changed"), vec!["toor2".to_string()]);
}

#[test]
fn alerts_name_a_caller_that_execs_or_exits_right_after() {
    let t = "alerts_name_a_caller_that_execs_or_exits_right_after";
    let Some(env) = container_env(t) else { return };
    let Some(preset) = preset_rules(t) else {
        return;
    };
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], "enforce"))
        .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    b.set_script(
        "i=0; while [ $i -lt 20 ]; do \
         /probe deny-then-exec /bin/exec$i; /probe deny-then-exit /bin/exit$i; i=$((i+1)); done; \
         echo end",
    );
    let out = run_container(&b, &container_id("attrib"), RUN).expect("runc run");
    assert!(out.success() && out.stdout.contains("end"), "{t}: {out:?}");
    let alerts = sup
        .wait_alerts(Duration::from_secs(20), Duration::from_millis(500), |a| {
            a.iter()
                .filter(|x| {
                    field(x, "fd.name")
                        .as_str()
                        .is_some_and(|n| n.starts_with("/bin/ex"))
                })
                .count()
                >= 40
        })
        .expect("alerts");
    let mut n = 0;
    for a in &alerts {
        let Some(path) = field(a, "fd.name").as_str() else {
            continue;
        };
        let mode = if path.starts_with("/bin/exec") {
            "deny-then-exec"
        } else if path.starts_with("/bin/exit") {
            "deny-then-exit"
        } else {
            continue;
        };
        n += 1;
        assert_eq!(field(a, "proc.name"), "probe", "{a}");
        assert_eq!(
            field(a, "proc.cmdline").as_str().unwrap_or_default(),
            format!("probe {mode} {path}"),
            "{a}"
        );
        assert_eq!(field(a, "proc.exepath"), "/probe", "{a}");
        assert_eq!(field(a, "proc.pname"), "sh", "{a}");
        assert_eq!(field(a, "user.name"), "root", "{a}");
    }
    assert_eq!(n, 40, "{t}: one alert per refused call\n{}", sup.dump());
}

/// The bundle's rootfs as an overlay (lower = the prepared tree, fresh upper), unmounted
/// on drop.
struct Overlay(std::path::PathBuf);

impl Overlay {
    fn mount(b: &Bundle) -> Option<Overlay> {
        let root = b.rootfs();
        let lower = b.path().join("lower");
        let upper = b.path().join("upper");
        let work = b.path().join("work");
        std::fs::rename(&root, &lower).ok()?;
        for d in [&root, &upper, &work] {
            std::fs::create_dir_all(d).ok()?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let st = std::process::Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&root)
            .status()
            .ok()?;
        st.success().then_some(Overlay(root))
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn drop_and_execute_on_overlay_also_after_chroot() {
    let t = "drop_and_execute_on_overlay_also_after_chroot";
    let Some(env) = container_env(t) else { return };
    let Some(rules) = upstream_rule_files() else {
        // upstream_rule_files() reported the skip.
        return;
    };
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&rules[..1], "audit"))
        .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    b.set_script(
        "cp /bin/busybox /tmp/dropped && /tmp/dropped true; \
         mkdir -p /c/bin /c/tmp && cp /bin/busybox /c/bin/bb && ln -s bb /c/bin/sh \
         && ln -s bb /c/bin/cp && chroot /c /bin/sh -c 'cp /bin/bb /tmp/dropped2 && /tmp/dropped2 true'; \
         /bin/busybox true; echo end",
    );
    b.write().expect("bundle");
    let Some(_ov) = Overlay::mount(&b) else {
        require(t, "cannot mount an overlay", false);
        return;
    };
    let out = run_container(&b, &container_id("drop"), RUN).expect("runc run");
    assert!(
        out.success() && out.stdout.contains("end"),
        "{t}: {out:?}\n{}",
        sup.dump()
    );
    let rule = "Drop and execute new binary in container";
    let alerts = sup
        .wait_alerts(Duration::from_secs(20), Duration::from_millis(1000), |a| {
            a.iter()
                .filter(|x| x["rule"] == rule && field(x, "proc.exepath") == "/tmp/dropped2")
                .count()
                >= 1
        })
        .expect("alerts");
    let exes: Vec<&str> = alerts
        .iter()
        .filter(|x| x["rule"] == rule)
        .filter_map(|x| field(x, "proc.exepath").as_str())
        .collect();
    assert!(
        exes.contains(&"/tmp/dropped"),
        "{t}: {exes:?}\n{}",
        sup.dump()
    );
    // Inside the chroot: /tmp/dropped2 is /c/tmp/dropped2 in the container's upper layer.
    assert!(
        exes.contains(&"/tmp/dropped2"),
        "{t}: {exes:?}\n{}",
        sup.dump()
    );
    // The image's own busybox (lower layer) is not "dropped".
    assert!(!exes.contains(&"/bin/busybox"), "{t}: {exes:?}");
}
