//! The watch never breaks the workload: real runc containers whose threads keep making
//! notified calls (`probe hammer`) while the supervisor is killed (`kill -9`), restarted
//! with the same command line, stopped (SIGSTOP) or replaced (`--takeover`), and while
//! the keeper's socket is flooded with garbage. Run as root with
//! `cargo test -p tiercel-e2e --test keeper -- --test-threads=1`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(90);
const WRITE_BELOW_BIN: &str = "Write below binary dir";

/// A `tiercel supervise` child with a given socket and alerts file (a restart uses the
/// same command line).
struct Sup {
    child: Child,
    log: PathBuf,
}

impl Sup {
    fn start(env: &Env, w: &Work, mode: &str, alerts: &Path, extra: &[&str], name: &str) -> Sup {
        Sup::start_bin(&env.tiercel, w, mode, alerts, extra, name)
    }

    fn start_bin(
        bin: &Path,
        w: &Work,
        mode: &str,
        alerts: &Path,
        extra: &[&str],
        name: &str,
    ) -> Sup {
        let log = w.dir.path().join(format!("{name}.log"));
        let mut cmd = Command::new(bin);
        cmd.arg("supervise")
            .arg("--socket")
            .arg(&w.socket)
            .arg("-r")
            .arg(&w.rules)
            .arg("--mode")
            .arg(mode)
            .arg("--alerts")
            .arg(alerts)
            .args(extra)
            .env("TIERCEL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawn tiercel supervise");
        let start = Instant::now();
        loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains("supervisor ready on") {
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("tiercel supervise exited ({st}):\n{text}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Sup { child, log }
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    fn kill9(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit by itself; its status.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal("CONT");
            self.signal("TERM");
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

struct Work {
    dir: tempfile::TempDir,
    socket: PathBuf,
    rules: PathBuf,
}

fn setup(t: &str) -> Option<(Env, Work)> {
    let env = container_env(t)?;
    let rules = example("rules/seed-write-below-binary-dir.yaml");
    if !require(
        t,
        "examples/rules/seed-write-below-binary-dir.yaml missing",
        rules.is_file(),
    ) {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("tiercel-keeper-")
        .tempdir()
        .unwrap();
    let socket = dir.path().join("run/tiercel.sock");
    Some((env, Work { dir, socket, rules }))
}

impl Work {
    fn keeper_log(&self) -> String {
        fs::read_to_string(format!("{}.keeper.log", self.socket.display())).unwrap_or_default()
    }

    /// The keeper's pid (a `tiercel keeper` process for this socket).
    fn keeper_pid(&self) -> Option<u32> {
        let sock = self.socket.to_string_lossy().to_string();
        for e in fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmd
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect();
            if args.iter().any(|a| a == "keeper") && args.contains(&sock) {
                return Some(pid);
            }
        }
        None
    }

    /// The bundle of [`Work::hammer`]: `tiercel profile` for the rules and socket in `mode`.
    fn hammer_bundle(&self, env: &Env, mode: &str, ms: u64) -> Bundle {
        let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
        let prof = profile(
            &env.tiercel,
            std::slice::from_ref(&self.rules),
            &self.socket,
            Some(mode),
        )
        .expect("tiercel profile");
        b.set_seccomp(prof);
        let ms = ms.to_string();
        b.set_args(&["/probe", "hammer", "4", &ms, "/bin/tiercel_k"]);
        b
    }

    /// A container whose 4 threads open /bin/tiercel_k_<n> for writing every ms for `ms`.
    fn hammer(&self, env: &Env, mode: &str, ms: u64) -> (String, JoinHandle<RunOutput>) {
        let b = self.hammer_bundle(env, mode, ms);
        let id = container_id("keeper");
        let id2 = id.clone();
        let h = std::thread::spawn(move || {
            let out = run_container(&b, &id2, RUN).expect("runc run");
            drop(b);
            out
        });
        (id, h)
    }
}

/// `HAMMER calls=… ok=…` as a map; panics when the line is missing.
fn hammer_counts(t: &str, out: &RunOutput, ctx: &str) -> BTreeMap<String, u64> {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("HAMMER "))
        .unwrap_or_else(|| panic!("{t}: no HAMMER line: {out:?}\n{ctx}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(u64::MAX)))
        .collect()
}

fn count_alerts(path: &Path, from: usize) -> usize {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.get(from..)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains(WRITE_BELOW_BIN))
        .count()
}

fn file_len(path: &Path) -> usize {
    fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0)
}

/// Waits until `path` has more alerts than at offset `from` (bounded).
fn wait_alerts_after(path: &Path, from: usize, timeout: Duration) -> usize {
    let start = Instant::now();
    loop {
        let n = count_alerts(path, from);
        if n > 0 || start.elapsed() > timeout {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that the supervisors alert within 20 s of the hammer's start.
fn wait_first_alert(t: &str, w: &Work, alerts: &Path, sup: &Sup) {
    assert!(
        wait_alerts_after(alerts, 0, Duration::from_secs(20)) > 0,
        "{t}: no alert before the test's event\n{}",
        ctx(w, &[sup])
    );
}

/// Asserts that no hammer call failed (no ENOSYS, EPERM or other error).
fn assert_none_failed(t: &str, c: &BTreeMap<String, u64>, ctx: &str) {
    assert_eq!(
        c["enosys"] + c["eperm"] + c["other"],
        0,
        "{t}: {c:?}\n{ctx}"
    );
}

/// Whether `pid` has gone (or is only a zombie), waiting up to 10 s for it.
fn wait_gone(pid: u32) -> bool {
    let alive =
        || fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"));
    let start = Instant::now();
    while alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive()
}

fn ctx(w: &Work, sups: &[&Sup]) -> String {
    let mut s = String::new();
    for (i, sup) in sups.iter().enumerate() {
        s += &format!("--- supervisor {i} ---\n{}\n", tail(&sup.log(), 40));
    }
    s += &format!("--- keeper ---\n{}", tail(&w.keeper_log(), 40));
    s
}

/// What [`kill9_then_restart`] leaves: both supervisors, the hammer's counts and the
/// alerts written after the restart.
struct Restarted {
    a: Sup,
    b: Sup,
    c: BTreeMap<String, u64>,
    after: usize,
}

/// A 7 s hammer in `mode`; supervisor `a` is killed (`kill -9`) after the first alerts and
/// `b` started with the same command line 1.5 s later. Asserts that no call got ENOSYS.
fn kill9_then_restart(t: &str, env: &Env, w: &Work, mode: &str) -> Restarted {
    let alerts = w.dir.path().join("alerts.json");
    let mut a = Sup::start(env, w, mode, &alerts, &[], "a");
    let (_id, h) = w.hammer(env, mode, 7000);
    wait_first_alert(t, w, &alerts, &a);
    std::thread::sleep(Duration::from_millis(500));
    a.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    let restart_at = file_len(&alerts);
    let b = Sup::start(env, w, mode, &alerts, &[], "b");
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(w, &[&a, &b]));
    assert_eq!(c["enosys"], 0, "{t}: {c:?}\n{}", ctx(w, &[&a, &b]));
    let after = wait_alerts_after(&alerts, restart_at, Duration::from_secs(10));
    Restarted { a, b, c, after }
}

#[test]
fn kill9_in_audit_then_restart_resumes_alerts() {
    let t = "kill9_in_audit_then_restart_resumes_alerts";
    let Some((env, w)) = setup(t) else { return };
    let Restarted { a, b, c, after } = kill9_then_restart(t, &env, &w, "audit");
    assert_eq!(c["eperm"] + c["other"], 0, "{t}: {c:?}");
    assert!(c["calls"] > 1000 && c["ok"] == c["calls"], "{t}: {c:?}");
    assert!(
        after > 100,
        "{t}: alerts resume for the container started before the crash ({after})\n{}",
        ctx(&w, &[&a, &b])
    );
    assert!(
        b.log().contains("taking over a running container"),
        "{t}\n{}",
        ctx(&w, &[&a, &b])
    );
    println!("{t}: {c:?}, alerts after restart {after}");
}

#[test]
fn kill9_in_enforce_waits_then_denials_resume() {
    let t = "kill9_in_enforce_waits_then_denials_resume";
    let Some((env, w)) = setup(t) else { return };
    let Restarted {
        a: _a,
        b: _b,
        c,
        after,
    } = kill9_then_restart(t, &env, &w, "enforce");
    assert_eq!(c["other"], 0, "{t}: {c:?}");
    assert_eq!(
        c["ok"], 0,
        "{t}: every write below /bin is refused, also across the crash: {c:?}"
    );
    assert!(c["eperm"] > 1000, "{t}: {c:?}");
    // The calls made while no supervisor ran waited for the successor (--keeper-enforce wait).
    assert!(c["max_us"] >= 1_000_000, "{t}: {c:?}");
    assert!(
        after > 100,
        "{t}: denials alert again after the restart ({after})"
    );
    println!("{t}: {c:?}, alerts after restart {after}");
}

#[test]
fn kill9_without_restart_audit_runs_to_the_end_and_the_keeper_leaves() {
    let t = "kill9_without_restart_audit_runs_to_the_end_and_the_keeper_leaves";
    let Some((env, w)) = setup(t) else { return };
    let alerts = w.dir.path().join("alerts.json");
    let mut a = Sup::start(&env, &w, "audit", &alerts, &[], "a");
    let (_id, h) = w.hammer(&env, "audit", 4000);
    wait_first_alert(t, &w, &alerts, &a);
    let keeper = w.keeper_pid().expect("a keeper runs");
    a.kill9();
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a]));
    assert_none_failed(t, &c, &ctx(&w, &[&a]));
    assert!(c["ok"] > 1000, "{t}: {c:?}");
    // Bounded wait: no call waited much longer than --keeper-wait-ms (500 ms).
    assert!(c["max_us"] < 2_000_000, "{t}: {c:?}");
    // Nothing left to keep and no supervisor: the keeper ends.
    assert!(
        wait_gone(keeper),
        "{t}: the keeper outlived its last container\n{}",
        w.keeper_log()
    );
    println!("{t}: {c:?}");
}

#[test]
fn sigstop_in_audit_continues() {
    let t = "sigstop_in_audit_continues";
    let Some((env, w)) = setup(t) else { return };
    let alerts = w.dir.path().join("alerts.json");
    let a = Sup::start(&env, &w, "audit", &alerts, &[], "a");
    let (_id, h) = w.hammer(&env, "audit", 4000);
    wait_first_alert(t, &w, &alerts, &a);
    a.signal("STOP");
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a]));
    a.signal("CONT");
    assert_none_failed(t, &c, &ctx(&w, &[&a]));
    assert!(c["ok"] > 1000, "{t}: {c:?}");
    assert!(
        c["max_us"] < 2_000_000,
        "{t}: a stopped supervisor is detected within the bound: {c:?}"
    );
    assert!(
        w.keeper_log().contains("keeper answers"),
        "{t}: the keeper served the calls\n{}",
        ctx(&w, &[&a])
    );
    println!("{t}: {c:?}");
}

#[test]
fn upgrade_by_takeover_loses_no_call_and_no_alert() {
    let t = "upgrade_by_takeover_loses_no_call_and_no_alert";
    let Some((env, w)) = setup(t) else { return };
    let alerts_a = w.dir.path().join("alerts-a.json");
    let alerts_b = w.dir.path().join("alerts-b.json");
    // The running one is another binary file (a copy: the installed version), the new one
    // the freshly built binary.
    let old_bin = w.dir.path().join("tiercel-old");
    fs::copy(&env.tiercel, &old_bin).unwrap();
    let mut a = Sup::start_bin(&old_bin, &w, "audit", &alerts_a, &[], "a");
    let (_id, h) = w.hammer(&env, "audit", 5000);
    wait_first_alert(t, &w, &alerts_a, &a);
    std::thread::sleep(Duration::from_millis(500));
    let b = Sup::start(&env, &w, "audit", &alerts_b, &["--takeover"], "b");
    let st = a.wait_exit(Duration::from_secs(15));
    assert!(
        st.is_some_and(|s| s.success()),
        "{t}: the old supervisor hands over and exits ({st:?})\n{}",
        ctx(&w, &[&a, &b])
    );
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a, &b]));
    assert_none_failed(t, &c, &ctx(&w, &[&a, &b]));
    // Every successful write below /bin alerted exactly once, by one of the two.
    let start = Instant::now();
    let (mut na, mut nb);
    loop {
        na = count_alerts(&alerts_a, 0);
        nb = count_alerts(&alerts_b, 0);
        if na + nb >= c["ok"] as usize || start.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        nb > 100,
        "{t}: the new supervisor alerts ({nb})\n{}",
        ctx(&w, &[&a, &b])
    );
    assert_eq!(
        na + nb,
        c["ok"] as usize,
        "{t}: alerts {na} + {nb} for {c:?}\n{}",
        ctx(&w, &[&a, &b])
    );
    println!("{t}: {c:?}, alerts old {na} new {nb}");
}

#[test]
fn keeper_survives_garbage_and_connection_floods() {
    let t = "keeper_survives_garbage_and_connection_floods";
    let Some((env, w)) = setup(t) else { return };
    let alerts = w.dir.path().join("alerts.json");
    let mut a = Sup::start(&env, &w, "audit", &alerts, &[], "a");
    let (_id, h) = w.hammer(&env, "audit", 5000);
    wait_first_alert(t, &w, &alerts, &a);
    let keeper = w.keeper_pid().expect("a keeper runs");
    let ksock = PathBuf::from(format!("{}.keeper", w.socket.display()));
    // A flood of idle connections, garbage, a huge length, bogus requests, fds that are not
    // seccomp listeners.
    let mut held = Vec::new();
    for i in 0..300 {
        if let Ok(mut s) = UnixStream::connect(&ksock) {
            let _ = match i % 5 {
                0 => s.write_all(b"\x00\x00\x00\x00garbage that is no frame at all"),
                1 => s.write_all(&u32::MAX.to_le_bytes()),
                2 => s.write_all(b"\x0b\x00\x00\x00{\"op\":\"x\"}}"),
                3 => s.write_all(b"\x1a\x00\x00\x00{\"op\":\"add\",\"nfds\":1}   "),
                _ => Ok(()),
            };
            held.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    assert!(
        Path::new(&format!("/proc/{keeper}")).exists(),
        "{t}: keeper died\n{}",
        w.keeper_log()
    );
    // It still does its job: kill -9 of the supervisor, the container goes on.
    a.kill9();
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a]));
    assert_none_failed(t, &c, &ctx(&w, &[&a]));
    assert!(c["ok"] > 1000, "{t}: {c:?}");
    println!("{t}: {c:?}");
}

#[test]
fn hook_started_supervisor_killed_audit_container_continues() {
    let t = "hook_started_supervisor_killed_audit_container_continues";
    let Some((env, w)) = setup(t) else { return };
    let hook = std::env::var_os("TIERCEL_HOOK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.tiercel.with_file_name("tiercel-hook"));
    if !require(
        t,
        "tiercel-hook not built (cargo build --release -p tiercel-hook)",
        hook.is_file(),
    ) {
        return;
    }
    let state = w.dir.path().join("state");
    let mut b = w.hammer_bundle(&env, "audit", 5000);
    let henv = serde_json::json!([
        format!("TIERCEL_SOCKET={}", w.socket.display()),
        format!("TIERCEL_RULES={}", w.rules.display()),
        "TIERCEL_MODE=audit",
        format!("TIERCEL_SUPERVISOR={}", env.tiercel.display()),
        format!("TIERCEL_STATE_DIR={}", state.display()),
        "TIERCEL_SHIM_CONFIG=",
    ]);
    let h = |stage: &str| serde_json::json!({"path": hook, "args": ["tiercel-hook", stage], "env": henv, "timeout": 30});
    b.config["hooks"] =
        serde_json::json!({"createRuntime": [h("createRuntime")], "poststop": [h("poststop")]});
    let id = container_id("keeperhook");
    let run = std::thread::spawn(move || run_container(&b, &id, RUN).expect("runc run"));
    // The hook's supervisor logs its alerts (text, stdout) in state/s/<key>.log.
    let sdir = state.join("s");
    let start = Instant::now();
    let (pid, log) = loop {
        let mut found = None;
        for e in fs::read_dir(&sdir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pid") {
                let log = p.with_extension("log");
                let text = fs::read_to_string(&log).unwrap_or_default();
                if text.contains("known binary directory opened for writing") {
                    // The hook's pid file: `{"pid": …, "start": …, "socket": …}`.
                    let v: serde_json::Value =
                        serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
                    let pid = u32::try_from(v["pid"].as_u64().unwrap()).unwrap();
                    found = Some((pid, log));
                }
            }
        }
        if let Some(f) = found {
            break f;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let mut d = String::new();
            for e in fs::read_dir(&sdir).into_iter().flatten().flatten() {
                d += &format!(
                    "--- {} ---\n{}\n",
                    e.path().display(),
                    tail(&fs::read_to_string(e.path()).unwrap_or_default(), 20)
                );
            }
            let out = run.join();
            panic!(
                "{t}: no alert from the hook's supervisor\n{d}\n{out:?}\n{}",
                w.keeper_log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let keeper = w
        .keeper_pid()
        .expect("the hook's supervisor started a keeper");
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let out = run.join().unwrap();
    let ctx = format!(
        "--- supervisor ---\n{}\n--- keeper ---\n{}",
        tail(&fs::read_to_string(&log).unwrap_or_default(), 20),
        tail(&w.keeper_log(), 20)
    );
    let c = hammer_counts(t, &out, &ctx);
    assert_none_failed(t, &c, &ctx);
    assert!(c["ok"] > 1000, "{t}: {c:?}");
    assert!(
        wait_gone(keeper),
        "{t}: the keeper outlived the container\n{ctx}"
    );
    println!("{t}: {c:?}");
}

#[test]
fn sigterm_without_successor_audit_continues() {
    let t = "sigterm_without_successor_audit_continues";
    let Some((env, w)) = setup(t) else { return };
    let alerts = w.dir.path().join("alerts.json");
    let mut a = Sup::start(&env, &w, "audit", &alerts, &[], "a");
    let (_id, h) = w.hammer(&env, "audit", 4000);
    wait_first_alert(t, &w, &alerts, &a);
    a.signal("TERM");
    let st = a.wait_exit(Duration::from_secs(10));
    assert!(
        st.is_some_and(|s| s.success()),
        "{t}: {st:?}\n{}",
        ctx(&w, &[&a])
    );
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a]));
    assert_none_failed(t, &c, &ctx(&w, &[&a]));
    assert!(c["ok"] > 1000 && c["max_us"] < 2_000_000, "{t}: {c:?}");
    println!("{t}: {c:?}");
}

#[test]
fn kill9_in_enforce_with_refuse_fails_calls_with_eperm_not_enosys() {
    let t = "kill9_in_enforce_with_refuse_fails_calls_with_eperm_not_enosys";
    let Some((env, w)) = setup(t) else { return };
    let alerts = w.dir.path().join("alerts.json");
    let extra = ["--keeper-enforce", "refuse", "--keeper-wait-ms", "300"];
    let mut a = Sup::start(&env, &w, "enforce", &alerts, &extra, "a");
    assert!(
        a.log().contains("fail with EPERM after 300 ms"),
        "{t}: the policy is printed at start\n{}",
        a.log()
    );
    let (_id, h) = w.hammer(&env, "enforce", 4000);
    wait_first_alert(t, &w, &alerts, &a);
    a.kill9();
    // No successor: with `wait` the calls would block until the 90 s timeout.
    let out = h.join().unwrap();
    let c = hammer_counts(t, &out, &ctx(&w, &[&a]));
    assert_eq!(
        c["enosys"] + c["other"] + c["ok"],
        0,
        "{t}: {c:?}\n{}",
        ctx(&w, &[&a])
    );
    assert!(c["eperm"] > 1000, "{t}: {c:?}");
    assert!(
        c["max_us"] < 1_500_000,
        "{t}: refused within the bound: {c:?}"
    );
    println!("{t}: {c:?}");
}
