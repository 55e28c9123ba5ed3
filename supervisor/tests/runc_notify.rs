//! The notify loop against real runc containers (busybox-static rootfs, filters with
//! `SCMP_ACT_NOTIFY` and `listenerPath`). Needs root, runc and /bin/busybox; when they are
//! missing each test is skipped with one line saying why (`tiercel_testdata::skip`: listed
//! in the summary of `make test`; a failure under CI).
//!
//! Run: `cargo test -p tiercel --test runc_notify -- --nocapture --test-threads=1`
//!
//! `latency_of_notified_reads` is a measurement, not a test: it is `#[ignore]`d and `make
//! bench` (tests/bench/run.sh) runs it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiercel::decide::{Mode, Policy, Selector};
use tiercel::sinks::SinkConfig;
use tiercel::supervise::{load_rules, Supervisor, SupervisorConfig};
use tiercel_rules::program::{Program, RuleMatching};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn skip_reason() -> Option<String> {
    if tiercel::sys::geteuid() != 0 {
        return Some("needs root (runc containers)".into());
    }
    if Command::new("runc").arg("--version").output().is_err() {
        return Some("needs runc (scripts/setup.sh installs it)".into());
    }
    if !Path::new("/bin/busybox").exists() {
        return Some("needs /bin/busybox (busybox-static, scripts/setup.sh installs it)".into());
    }
    None
}

macro_rules! require_env {
    () => {
        if let Some(r) = skip_reason() {
            tiercel_testdata::skip(&r);
            return;
        }
    };
}

/// A scratch directory with a runc state root and a socket path.
struct Env {
    dir: PathBuf,
    state: PathBuf,
    socket: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tiercel-it-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let state = dir.join("runc-state");
        fs::create_dir_all(&state).unwrap();
        let socket = dir.join("run/tiercel.sock");
        Env { dir, state, socket }
    }

    fn id(&self, tag: &str) -> String {
        format!(
            "tiercel-it-{}-{}-{tag}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A bundle whose filter notifies `notify` syscalls (everything else allowed).
    fn bundle(&self, name: &str, args: &[&str], notify: &[&str], annotations: Value) -> PathBuf {
        let b = self.dir.join(name);
        let root = b.join("rootfs");
        for d in ["bin", "etc", "tmp", "proc", "dev", "sys", "secret"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                let _ = symlink("busybox", root.join("bin").join(applet));
            }
        }
        fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        fs::write(root.join("secret/x"), "top secret\n").unwrap();
        let st = Command::new("runc")
            .arg("spec")
            .current_dir(&b)
            .status()
            .unwrap();
        assert!(st.success(), "runc spec");
        let mut cfg: Value =
            serde_json::from_slice(&fs::read(b.join("config.json")).unwrap()).unwrap();
        cfg["process"]["args"] = json!(args);
        cfg["process"]["terminal"] = json!(false);
        cfg["root"]["readonly"] = json!(false);
        cfg["annotations"] = annotations;
        cfg["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": self.socket,
            "syscalls": [{"names": notify, "action": "SCMP_ACT_NOTIFY"}],
        });
        fs::write(
            b.join("config.json"),
            serde_json::to_vec_pretty(&cfg).unwrap(),
        )
        .unwrap();
        b
    }

    fn runc(&self) -> Command {
        let mut c = Command::new("runc");
        c.arg("--root").arg(&self.state);
        c
    }

    /// `runc run` in the foreground, bounded in time.
    fn run(&self, bundle: &Path, id: &str, timeout: Duration) -> (i32, String, String) {
        let mut child = self
            .runc()
            .args(["run", "--bundle"])
            .arg(bundle)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = self.runc().args(["kill", id, "KILL"]).status();
                let _ = self.runc().args(["delete", "-f", id]).status();
                panic!("container {id} did not finish within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code().unwrap_or(-1), out, err)
    }

    fn supervisor(&self, program: Program, policy: Policy, alerts: Option<PathBuf>) -> Supervisor {
        Supervisor::start(SupervisorConfig {
            socket: self.socket.clone(),
            program,
            matching: RuleMatching::First,
            policy,
            alert_options: Default::default(),
            web: Default::default(),
            metrics: Default::default(),
            sinks: SinkConfig {
                outputs: tiercel::sinks::OutputsConfig::default(),
                alerts_file: alerts,
                queue: 1024,
                ..SinkConfig::default()
            },
            watched: Vec::new(),
            watch: false,
            log: Default::default(),
        })
        .unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn get(a: &std::sync::atomic::AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

const FILE_CALLS: &[&str] = &[
    "openat",
    "open",
    "stat",
    "newfstatat",
    "execve",
    "access",
    "faccessat2",
    "unlinkat",
    "mkdirat",
];

#[test]
fn notifications_are_received_and_answered() {
    require_env!();
    let env = Env::new("basic");
    let sup = env.supervisor(Program::default(), Policy::default(), None);
    let b = env.bundle(
        "b",
        &[
            "/bin/sh",
            "-c",
            "cat /etc/passwd; ls /bin >/dev/null; mkdir /tmp/d; echo done",
        ],
        FILE_CALLS,
        json!({}),
    );
    let id = env.id("basic");
    let (code, out, err) = env.run(&b, &id, Duration::from_secs(60));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("root:x:0:0") && out.contains("done"),
        "stdout: {out}"
    );
    let s = sup.stats().clone();
    // Every notification is answered or its caller went away; none errored.
    wait_for(
        "the session to end (POLLHUP)",
        Duration::from_secs(10),
        || get(&s.sessions_active) == 0,
    );
    let n = get(&s.notifications);
    assert!(n >= 5, "expected file syscalls to be notified, got {n}");
    assert_eq!(get(&s.continued) + get(&s.gone), n);
    assert_eq!(get(&s.denied), 0);
    assert_eq!(get(&s.panics), 0);
    assert_eq!(get(&s.sessions_started), 1);
    assert!(
        get(&s.runtime_phase) > 0,
        "runc init's own calls come first"
    );
    eprintln!(
        "notifications={n} runtime-phase={} mean RECV→SEND {:.1} µs",
        get(&s.runtime_phase),
        s.mean_handling_us().unwrap_or(0.0)
    );
    sup.shutdown();
    assert!(!env.socket.exists(), "socket removed at shutdown");
}

#[test]
fn exec_gets_its_own_session_and_kill_does_not_wedge() {
    require_env!();
    let env = Env::new("exec");
    let sup = env.supervisor(Program::default(), Policy::default(), None);
    let s = sup.stats().clone();
    let b = env.bundle(
        "b",
        &[
            "/bin/sh",
            "-c",
            "while true; do cat /etc/passwd >/dev/null; done",
        ],
        FILE_CALLS,
        json!({}),
    );
    let id = env.id("exec");
    let st = env
        .runc()
        .args(["run", "-d", "--bundle"])
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "runc run -d");
    wait_for("a busy container", Duration::from_secs(20), || {
        get(&s.notifications) > 200
    });
    // An exec makes its own filter, listener and connection.
    let out = env
        .runc()
        .args(["exec", &id, "/bin/cat", "/etc/passwd"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc exec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root:x:0:0"));
    wait_for("two sessions", Duration::from_secs(10), || {
        get(&s.sessions_started) == 2
    });
    // Kill while calls are in flight; the session must see POLLHUP and end.
    let st = env.runc().args(["kill", &id, "KILL"]).status().unwrap();
    assert!(st.success());
    wait_for(
        "sessions to end after kill",
        Duration::from_secs(20),
        || get(&s.sessions_active) == 0,
    );
    let _ = env.runc().args(["delete", "-f", &id]).status();
    assert_eq!(get(&s.panics), 0);
    // The supervisor still serves new containers.
    let b2 = env.bundle("b2", &["/bin/cat", "/etc/passwd"], FILE_CALLS, json!({}));
    let before = get(&s.notifications);
    let (code, out, err) = env.run(&b2, &env.id("after"), Duration::from_secs(60));
    assert_eq!(code, 0, "{out}{err}");
    assert!(get(&s.notifications) > before);
    eprintln!(
        "sessions={} notifications={} gone={}",
        get(&s.sessions_started),
        get(&s.notifications),
        get(&s.gone)
    );
    sup.shutdown();
}

#[test]
fn many_containers_at_once() {
    require_env!();
    let env = Env::new("many");
    let sup = env.supervisor(Program::default(), Policy::default(), None);
    let s = sup.stats().clone();
    let b = env.bundle(
        "b",
        &[
            "/bin/sh",
            "-c",
            "for i in 1 2 3 4 5; do cat /etc/passwd >/dev/null; done; echo ok",
        ],
        FILE_CALLS,
        json!({}),
    );
    let ids: Vec<String> = (0..4).map(|i| env.id(&format!("m{i}"))).collect();
    std::thread::scope(|sc| {
        for id in &ids {
            let (env, b) = (&env, &b);
            sc.spawn(move || {
                let (code, out, err) = env.run(b, id, Duration::from_secs(120));
                assert_eq!(code, 0, "{out}{err}");
                assert!(out.contains("ok"));
            });
        }
    });
    assert_eq!(get(&s.sessions_started), 4);
    sup.shutdown();
}

/// Per-notification cost: `dd bs=1` does one `read` per byte; with `read` notified
/// each read is a round trip through the supervisor. Compared with the same run where
/// `read` is not notified. A measurement: `make bench` runs it and reports the LATENCY line.
#[test]
#[ignore = "a measurement, not a test: make bench runs it (tests/bench/run.sh)"]
fn latency_of_notified_reads() {
    require_env!();
    let env = Env::new("lat");
    let sup = env.supervisor(Program::default(), Policy::default(), None);
    let s = sup.stats().clone();
    const N: u64 = 20_000;
    let script = format!("dd if=/dev/zero of=/dev/null bs=1 count={N} 2>/dev/null; echo ok");
    let notified = env.bundle(
        "n",
        &["/bin/sh", "-c", &script],
        &["read", "openat"],
        json!({}),
    );
    let baseline = env.bundle("a", &["/bin/sh", "-c", &script], &["openat"], json!({}));
    let t = Instant::now();
    let (code, out, _) = env.run(&baseline, &env.id("base"), Duration::from_secs(120));
    let base = t.elapsed();
    assert_eq!(code, 0);
    assert!(out.contains("ok"));
    let before = get(&s.notifications);
    let t = Instant::now();
    let (code, out, err) = env.run(&notified, &env.id("notif"), Duration::from_secs(300));
    let with = t.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok"));
    let reads = get(&s.notifications) - before;
    assert!(reads >= N, "every read was notified: {reads}");
    let per = (with.as_secs_f64() - base.as_secs_f64()) / reads as f64 * 1e6;
    eprintln!(
        "LATENCY: {reads} notified reads; container {:.3}s vs {:.3}s unnotified → ~{per:.1} µs per notification (supervisor RECV→SEND mean {:.1} µs: build+ID_VALID {:.1}, eval {:.1})",
        with.as_secs_f64(),
        base.as_secs_f64(),
        s.mean_handling_us().unwrap_or(0.0),
        s.mean_parts_us().unwrap_or_default().0,
        s.mean_parts_us().unwrap_or_default().1,
    );
    sup.shutdown();
}

/// Enforce: a deny rule refuses the call (EPERM) and writes an alert.
#[test]
fn enforce_denies_and_alerts() {
    require_env!();
    let env = Env::new("deny");
    let rules = env.dir.join("rules.yaml");
    fs::write(
        &rules,
        r#"
- rule: Secret opened
  desc: test rule
  condition: evt.type in (open, openat) and fd.name startswith /secret
  output: Secret opened (file=%fd.name command=%proc.cmdline)
  priority: WARNING
  tags: [test]
"#,
    )
    .unwrap();
    let program = load_rules(&[rules]).unwrap();
    assert_eq!(program.rules().len(), 1);
    let alerts = env.dir.join("alerts.json");
    let policy = Policy {
        mode: Mode::Enforce,
        deny: vec![Selector::Rule("Secret opened".into()).into()],
        ..Policy::default()
    };
    let sup = env.supervisor(program, policy, Some(alerts.clone()));
    let b = env.bundle(
        "b",
        &[
            "/bin/sh",
            "-c",
            "cat /secret/x || echo refused; cat /etc/passwd >/dev/null && echo other-ok",
        ],
        FILE_CALLS,
        json!({}),
    );
    let (code, out, err) = env.run(&b, &env.id("deny"), Duration::from_secs(60));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("refused") && !out.contains("top secret"),
        "stdout: {out}\nstderr: {err}"
    );
    assert!(out.contains("other-ok"));
    assert!(err.contains("Operation not permitted"), "stderr: {err}");
    assert!(sup.flush(Duration::from_secs(5)));
    let text = fs::read_to_string(&alerts).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(lines
        .iter()
        .all(|l| l["rule"] == "Secret opened" && l["priority"] == "Warning"));
    assert!(lines.iter().any(|l| l["tiercel"]["action"] == "deny"));
    assert!(get(&sup.stats().denied) >= 1);
    sup.shutdown();
}

/// Global audit; a container annotated `io.tiercel.mode: enforce` is enforced, its
/// neighbour is not; listenerMetadata works the same way.
#[test]
fn per_container_mode() {
    require_env!();
    let env = Env::new("mode");
    let rules = env.dir.join("rules.yaml");
    fs::write(
        &rules,
        "- rule: Secret opened\n  desc: t\n  condition: evt.type in (open, openat) and fd.name startswith /secret\n  output: Secret opened (file=%fd.name)\n  priority: WARNING\n",
    )
    .unwrap();
    let program = load_rules(&[rules]).unwrap();
    assert_eq!(program.rules().len(), 1);
    let policy = Policy {
        mode: Mode::Audit,
        deny: vec![Selector::Rule("Secret opened".into()).into()],
        ..Policy::default()
    };
    let sup = env.supervisor(program, policy, None);
    let args = ["/bin/sh", "-c", "cat /secret/x || echo refused"];
    let enforced = env.bundle(
        "e",
        &args,
        FILE_CALLS,
        json!({"io.tiercel.mode": "enforce"}),
    );
    let audited = env.bundle("a", &args, FILE_CALLS, json!({}));
    let by_metadata = env.bundle("m", &args, FILE_CALLS, json!({}));
    let cfg_path = by_metadata.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["linux"]["seccomp"]["listenerMetadata"] = json!("io.tiercel.mode=enforce");
    fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();

    let (_, out, _) = env.run(&enforced, &env.id("enf"), Duration::from_secs(60));
    assert!(
        out.contains("refused") && !out.contains("top secret"),
        "{out}"
    );
    let (_, out, _) = env.run(&audited, &env.id("aud"), Duration::from_secs(60));
    assert!(
        out.contains("top secret") && !out.contains("refused"),
        "{out}"
    );
    let (_, out, _) = env.run(&by_metadata, &env.id("md"), Duration::from_secs(60));
    assert!(
        out.contains("refused") && !out.contains("top secret"),
        "{out}"
    );
    assert_eq!(get(&sup.stats().denied), 2);
    sup.shutdown();
}

/// Rules and policy swapped at run time apply to a session already running.
#[test]
fn reload_applies_to_running_sessions() {
    require_env!();
    let env = Env::new("reload");
    let rules = env.dir.join("rules.yaml");
    fs::write(
        &rules,
        "- rule: Secret opened\n  desc: t\n  condition: evt.type in (open, openat) and fd.name startswith /secret\n  output: Secret opened (file=%fd.name)\n  priority: WARNING\n",
    )
    .unwrap();
    let mut sup = env.supervisor(Program::default(), Policy::default(), None);
    let s = sup.stats().clone();
    // A long-lived container that reads the secret every time /tmp/go appears.
    let b = env.bundle(
        "b",
        &["/bin/sh", "-c", "while true; do if [ -e /tmp/go ]; then rm /tmp/go; cat /secret/x >/tmp/out 2>&1 || echo refused >/tmp/out; touch /tmp/done; fi; usleep 20000; done"],
        FILE_CALLS,
        json!({}),
    );
    let id = env.id("reload");
    let st = env
        .runc()
        .args(["run", "-d", "--bundle"])
        .arg(&b)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let tmp = b.join("rootfs/tmp");
    let round = || {
        let _ = fs::remove_file(tmp.join("done"));
        fs::write(tmp.join("go"), "").unwrap();
        wait_for("the container's round", Duration::from_secs(20), || {
            tmp.join("done").exists()
        });
        fs::read_to_string(tmp.join("out")).unwrap()
    };
    let before = round();
    assert!(before.contains("top secret"), "{before}");
    sup.reload(SupervisorConfig {
        socket: env.socket.clone(),
        program: load_rules(&[rules]).unwrap(),
        matching: RuleMatching::First,
        policy: Policy {
            mode: Mode::Enforce,
            deny: vec![Selector::Rule("Secret opened".into()).into()],
            ..Policy::default()
        },
        alert_options: Default::default(),
        web: Default::default(),
        metrics: Default::default(),
        sinks: SinkConfig::default(),
        watched: Vec::new(),
        watch: false,
        log: Default::default(),
    })
    .unwrap();
    let after = round();
    assert!(after.contains("refused"), "{after}");
    assert_eq!(get(&s.sessions_started), 1, "same session before and after");
    assert_eq!(get(&s.denied), 1);
    let _ = env.runc().args(["kill", &id, "KILL"]).status();
    wait_for("the session to end", Duration::from_secs(20), || {
        get(&s.sessions_active) == 0
    });
    let _ = env.runc().args(["delete", "-f", &id]).status();
    sup.shutdown();
}
