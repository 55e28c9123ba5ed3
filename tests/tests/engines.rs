//! End-to-end tests of the runtime integrations, with real runtimes and a real
//! `tiercel supervise`: runc through `tiercel-shim`, podman three ways (a seccomp profile
//! from `tiercel profile`, `--runtime tiercel-shim`, the OCI hooks), crun directly (both fd
//! hand-off timings), the shim's pass-through of runc's other commands, the behaviour
//! without a supervisor, the deploy files, and the Containerfile.
//!
//! Needs root, runc, busybox-static and the binaries (`cargo build -p tiercel -p
//! tiercel-shim -p tiercel-hook`); podman and crun tests also need those programs. A
//! missing prerequisite prints `SKIP:` (and fails under `CI`).

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;
use tiercel_e2e::{busybox_static, have, is_root, require, session_notifications};

const RULE_NAME: &str = "Write below binary dir (engines test)";
const RULES: &str = r#"
- rule: Write below binary dir (engines test)
  desc: a file below /bin opened for writing
  condition: evt.type in (open, openat, openat2, creat) and fd.name startswith /bin/
  output: "File below /bin opened (file=%fd.name command=%proc.cmdline container=%container.name image=%container.image.repository)"
  priority: WARNING
"#;
const SCRIPT: &str = "touch /bin/evil; echo touch-rc=$?; touch /tmp/ok && echo tmp-ok";
const IMAGE: &str = "localhost/tiercel-e2e-engines:latest";
const PODMAN_FLAGS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
    "--network",
    "none",
];

// ---------------------------------------------------------------------------------------
// helpers

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The newest of the debug and release builds of `name` (or `$env`).
fn binary(name: &str, env: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Path::new(&p).is_file().then(|| PathBuf::from(p));
    }
    ["debug", "release"]
        .iter()
        .map(|p| target_dir().join(p).join(name))
        .filter(|p| p.is_file())
        .max_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
}

struct Bins {
    tiercel: PathBuf,
    shim: PathBuf,
    hook: PathBuf,
}

fn prereq(test: &str) -> Option<Bins> {
    if !require(test, "must run as root", is_root())
        || !require(test, "runc not installed", have("runc"))
        || !require(
            test,
            "busybox-static not installed",
            busybox_static().is_some(),
        )
    {
        return None;
    }
    let bins = (|| {
        Some(Bins {
            tiercel: binary("tiercel", "TIERCEL_BIN")?,
            shim: binary("tiercel-shim", "TIERCEL_SHIM_BIN")?,
            hook: binary("tiercel-hook", "TIERCEL_HOOK_BIN")?,
        })
    })();
    if !require(
        test,
        "binaries not built (cargo build -p tiercel -p tiercel-shim -p tiercel-hook)",
        bins.is_some(),
    ) {
        return None;
    }
    bins
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    format!(
        "tce-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a command with a timeout (killed after it); stdin is /dev/null.
fn run(cmd: &mut Command, timeout: Duration) -> Out {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("timeout after {timeout:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

/// A busybox-static root filesystem.
fn make_rootfs(root: &Path) {
    for d in [
        "bin", "sbin", "usr/bin", "etc", "tmp", "proc", "dev", "sys", "root",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    let bb = busybox_static().unwrap();
    fs::copy(&bb, root.join("bin/busybox")).unwrap();
    for a in [
        "sh", "touch", "echo", "cat", "ls", "sleep", "mkdir", "rm", "true", "id",
    ] {
        symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
}

/// An OCI bundle from `runc spec`, running `sh -c script`.
struct Bundle {
    dir: TempDir,
}

impl Bundle {
    fn new(script: &str) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("tiercel-eng-")
            .tempdir()
            .unwrap();
        make_rootfs(&dir.path().join("rootfs"));
        let o = run(
            Command::new("runc").arg("spec").current_dir(dir.path()),
            Duration::from_secs(20),
        );
        assert_eq!(o.code, 0, "runc spec: {o:?}");
        let b = Bundle { dir };
        b.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["process"]["args"] = json!(["/bin/sh", "-c", script]);
            c["root"]["readonly"] = json!(false);
        });
        b
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn config(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.path().join("config.json")).unwrap()).unwrap()
    }
    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut c = self.config();
        f(&mut c);
        fs::write(self.path().join("config.json"), c.to_string()).unwrap();
    }
    fn host(&self, p: &str) -> PathBuf {
        self.path().join("rootfs").join(p.trim_start_matches('/'))
    }
}

/// `tiercel supervise` on a temporary socket; killed on drop.
struct Sup {
    child: std::process::Child,
    dir: TempDir,
    socket: PathBuf,
    rules: PathBuf,
}

fn rules_file(dir: &Path) -> PathBuf {
    rules_file_with(dir, RULES)
}

fn rules_file_with(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("rules.yaml");
    fs::write(&p, text).unwrap();
    p
}

impl Sup {
    fn start(b: &Bins, mode: &str) -> Sup {
        Sup::start_with(b, mode, RULES)
    }
    /// With other rules (their rule must be named [`RULE_NAME`]).
    fn start_with(b: &Bins, mode: &str, rules_text: &str) -> Sup {
        let dir = tempfile::Builder::new()
            .prefix("tiercel-engsup-")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("run/tiercel.sock");
        let rules = rules_file_with(dir.path(), rules_text);
        let child = Command::new(&b.tiercel)
            .arg("supervise")
            .arg("--socket")
            .arg(&socket)
            .arg("-r")
            .arg(&rules)
            .args([
                "--mode",
                mode,
                "--deny",
                &format!("rule:{RULE_NAME}"),
                "--alerts",
            ])
            .arg(dir.path().join("alerts.json"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("out.log")).unwrap())
            .stderr(fs::File::create(dir.path().join("err.log")).unwrap())
            .spawn()
            .unwrap();
        let s = Sup {
            child,
            dir,
            socket,
            rules,
        };
        let end = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(&s.socket).is_err() {
            assert!(
                Instant::now() < end,
                "supervisor did not listen: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }
    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("err.log")).unwrap_or_default()
    }
    fn alerts_path(&self) -> PathBuf {
        self.dir.path().join("alerts.json")
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_alerts(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (up to 20 s) for an alert of [`RULE_NAME`] about /bin/evil.
fn wait_alert(path: &Path) -> Value {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let found = read_alerts(path).into_iter().find(|a| {
            a["rule"] == RULE_NAME
                && a["output"]
                    .as_str()
                    .is_some_and(|o| o.contains("/bin/evil"))
        });
        if let Some(a) = found {
            return a;
        }
        assert!(
            Instant::now() < end,
            "no alert about /bin/evil in {}: {:?}",
            path.display(),
            fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The container's own output shows what happened to the write.
fn check_outcome(mode: &str, out: &Out, evil_on_host: bool) {
    assert!(
        out.stdout.contains("tmp-ok"),
        "other work must be unaffected: {out:?}"
    );
    match mode {
        "audit" => {
            assert!(
                out.stdout.contains("touch-rc=0"),
                "audit lets the write run: {out:?}"
            );
            assert!(evil_on_host, "audit: /bin/evil must exist");
        }
        _ => {
            assert!(
                out.stdout.contains("touch-rc=1"),
                "enforce refuses the write: {out:?}"
            );
            assert!(
                out.stderr.contains("Operation not permitted")
                    || out.stdout.contains("Operation not permitted"),
                "EPERM expected: {out:?}"
            );
            assert!(!evil_on_host, "enforce: /bin/evil must not exist");
        }
    }
}

fn shim_config(dir: &Path, socket: &Path, rules: &Path, extra: &str) -> PathBuf {
    let p = dir.join("shim.yaml");
    fs::write(
        &p,
        format!(
            "runtime: {}\nsocket: {}\nrules: [{}]\n{extra}",
            which("runc"),
            socket.display(),
            rules.display()
        ),
    )
    .unwrap();
    p
}

fn which(prog: &str) -> String {
    let o = run(
        Command::new("sh").args(["-c", &format!("command -v {prog}")]),
        Duration::from_secs(5),
    );
    o.stdout.trim().to_string()
}

fn runc_delete(root: Option<&Path>, id: &str) {
    let mut c = Command::new("runc");
    if let Some(r) = root {
        c.arg("--root").arg(r);
    }
    let _ = c
        .args(["delete", "--force", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Strips logrus' `time="…"` so two error lines can be compared.
fn no_time(s: &str) -> String {
    s.lines()
        .map(|l| match (l.find("time=\""), l.find("\" level=")) {
            (Some(a), Some(b)) if a < b => format!("{}{}", &l[..a], &l[b + 2..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------
// the shim passes runc's other commands through unchanged

#[test]
fn shim_passes_version_and_list_through() {
    let Some(b) = prereq("shim_passes_version_and_list_through") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let env = [("TIERCEL_RUNTIME", which("runc"))];
    for args in [
        vec!["--version".to_string()],
        vec!["-v".into()],
        vec![
            "--root".into(),
            root.path().display().to_string(),
            "list".into(),
        ],
        vec![
            "--root".into(),
            root.path().display().to_string(),
            "list".into(),
            "-f".into(),
            "json".into(),
        ],
        vec![
            "--root".into(),
            root.path().display().to_string(),
            "state".into(),
            "nonexistent".into(),
        ],
        vec!["no-such-command".into()],
        vec!["--help".into()],
    ] {
        let direct = run(Command::new("runc").args(&args), Duration::from_secs(20));
        let shim = run(
            Command::new(&b.shim).args(&args).envs(env.clone()),
            Duration::from_secs(20),
        );
        assert_eq!(direct.code, shim.code, "exit code of {args:?}: {shim:?}");
        assert_eq!(direct.stdout, shim.stdout, "stdout of {args:?}");
        assert_eq!(
            no_time(&direct.stderr),
            no_time(&shim.stderr),
            "stderr of {args:?}"
        );
    }
}

#[test]
fn shim_passes_state_kill_delete_through() {
    let Some(b) = prereq("shim_passes_state_kill_delete_through") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let bundle = Bundle::new("sleep 30");
    let id = unique("pass");
    let runc = |args: &[&str]| {
        run(
            Command::new("runc")
                .arg("--root")
                .arg(root.path())
                .args(args),
            Duration::from_secs(30),
        )
    };
    let shim = |args: &[&str]| {
        run(
            Command::new(&b.shim)
                .env("TIERCEL_RUNTIME", which("runc"))
                .arg("--root")
                .arg(root.path())
                .args(args),
            Duration::from_secs(30),
        )
    };
    // created by runc itself (no seccomp involved)
    // (the detached container keeps its stdio: give it /dev/null, not our pipes)
    let st = Command::new("runc")
        .arg("--root")
        .arg(root.path())
        .args([
            "run",
            "-d",
            "--bundle",
            bundle.path().to_str().unwrap(),
            &id,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let a = runc(&["state", &id]);
    let s = shim(&["state", &id]);
    assert_eq!((a.code, &a.stdout), (s.code, &s.stdout));
    let st: Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(st["status"], "running");
    let l = shim(&["list", "-q"]);
    assert_eq!(l.stdout.trim(), id);
    // kill: exit code of a bad signal, then a real one
    let a = runc(&["kill", &id, "NOSUCHSIG"]);
    let s = shim(&["kill", &id, "NOSUCHSIG"]);
    assert_eq!(a.code, s.code);
    assert_ne!(s.code, 0);
    assert_eq!(no_time(&a.stderr), no_time(&s.stderr));
    let s = shim(&["kill", &id, "KILL"]);
    assert_eq!(s.code, 0, "{s:?}");
    let end = Instant::now() + Duration::from_secs(10);
    while !shim(&["state", &id]).stdout.contains("\"stopped\"") {
        assert!(Instant::now() < end, "container did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = shim(&["delete", &id]);
    assert_eq!(s.code, 0, "{s:?}");
    let a = runc(&["delete", &id]);
    let s = shim(&["delete", &id]);
    assert_eq!(a.code, s.code);
    assert_ne!(s.code, 0);
    assert_eq!(no_time(&a.stderr), no_time(&s.stderr));
}

// ---------------------------------------------------------------------------------------
// without a supervisor

#[test]
fn shim_without_supervisor_fails_closed() {
    let Some(b) = prereq("shim_without_supervisor_fails_closed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let socket = dir.path().join("nobody.sock");
    let cfg = shim_config(dir.path(), &socket, &rules, "mode: enforce\n");
    let bundle = Bundle::new(SCRIPT);
    let before = fs::read_to_string(bundle.path().join("config.json")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let log = dir.path().join("runc-log.json");
    let id = unique("closed");
    let o = run(
        Command::new(&b.shim)
            .env("TIERCEL_SHIM_CONFIG", &cfg)
            .arg("--root")
            .arg(root.path())
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "run", "--bundle"])
            .arg(bundle.path())
            .arg(&id),
        Duration::from_secs(30),
    );
    runc_delete(Some(root.path()), &id);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("no tiercel supervisor is listening"),
        "{o:?}"
    );
    assert!(o.stderr.contains("fail-closed"), "{o:?}");
    assert!(
        !o.stdout.contains("touch-rc"),
        "the container must not run: {o:?}"
    );
    assert!(!bundle.host("/tmp/ok").exists());
    assert_eq!(
        fs::read_to_string(bundle.path().join("config.json")).unwrap(),
        before
    );
    // the runtime's log file carries the error for containerd/conmon, in runc's format
    let line: Value =
        serde_json::from_str(fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"]
        .as_str()
        .unwrap()
        .contains("no tiercel supervisor"));
    assert!(line["time"].is_string());
}

#[test]
fn shim_without_supervisor_fails_open_when_configured() {
    let Some(b) = prereq("shim_without_supervisor_fails_open_when_configured") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let socket = dir.path().join("nobody.sock");
    // audit defaults to fail-open; say it explicitly for an enforce container too
    let cfg = shim_config(
        dir.path(),
        &socket,
        &rules,
        "on_missing_supervisor: fail-open\n",
    );
    let bundle = Bundle::new(SCRIPT);
    bundle.edit(|c| c["annotations"] = json!({"io.tiercel.mode": "enforce"}));
    let root = tempfile::tempdir().unwrap();
    let id = unique("open");
    let o = run(
        Command::new(&b.shim)
            .env("TIERCEL_SHIM_CONFIG", &cfg)
            .arg("--root")
            .arg(root.path())
            .args(["run", "-b"])
            .arg(bundle.path())
            .arg(&id),
        Duration::from_secs(30),
    );
    runc_delete(Some(root.path()), &id);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("UNWATCHED"), "a loud line: {o:?}");
    assert!(o.stdout.contains("touch-rc=0"), "{o:?}");
    assert!(
        bundle.config()["linux"].get("seccomp").is_none(),
        "config left as it was"
    );
}

#[test]
fn shim_refuses_a_profile_with_another_agent() {
    let Some(b) = prereq("shim_refuses_a_profile_with_another_agent") else {
        return;
    };
    let sup = Sup::start(&b, "audit");
    let dir = tempfile::tempdir().unwrap();
    let cfg = shim_config(dir.path(), &sup.socket, &sup.rules, "");
    let bundle = Bundle::new(SCRIPT);
    bundle.edit(|c| {
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/some-other-agent.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
    });
    let root = tempfile::tempdir().unwrap();
    let id = unique("other");
    let o = run(
        Command::new(&b.shim)
            .env("TIERCEL_SHIM_CONFIG", &cfg)
            .arg("--root")
            .arg(root.path())
            .args(["run", "-b"])
            .arg(bundle.path())
            .arg(&id),
        Duration::from_secs(30),
    );
    runc_delete(Some(root.path()), &id);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(
        o.stderr.contains("another agent") && o.stderr.contains("EBUSY"),
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------------------
// runc through the shim

/// containerd's (go-runc's) argument shape: create, start, state, delete.
fn shim_runc(mode: &str) {
    let test = format!("shim_runc_{mode}");
    let Some(b) = prereq(&test) else { return };
    let sup = Sup::start(&b, "audit");
    let dir = tempfile::tempdir().unwrap();
    let cfg = shim_config(dir.path(), &sup.socket, &sup.rules, "");
    let bundle = Bundle::new(SCRIPT);
    bundle.edit(|c| {
        c["annotations"] = json!({"io.tiercel.mode": mode});
        c["x-unknown-field"] = json!({"kept": true});
    });
    let root = tempfile::tempdir().unwrap();
    let id = unique(mode);
    let out = dir.path().join("out");
    let err = dir.path().join("err");
    let log = dir.path().join("log.json");
    let shim = |args: &[&str]| {
        let mut c = Command::new(&b.shim);
        c.env("TIERCEL_SHIM_CONFIG", &cfg)
            .arg("--root")
            .arg(root.path())
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json"])
            .args(args);
        c
    };
    let bundle_s = bundle.path().to_str().unwrap().to_string();
    let pid_file = dir.path().join("pid").display().to_string();
    // create with the container's stdio on files, as containerd gives it pipes
    let status = shim(&[
        "create",
        "--bundle",
        &bundle_s,
        "--pid-file",
        &pid_file,
        &id,
    ])
    .stdin(Stdio::null())
    .stdout(fs::File::create(&out).unwrap())
    .stderr(fs::File::create(&err).unwrap())
    .status()
    .unwrap();
    assert!(
        status.success(),
        "create: {}",
        fs::read_to_string(&err).unwrap()
    );
    let o = run(&mut shim(&["start", &id]), Duration::from_secs(30));
    assert_eq!(o.code, 0, "{o:?}");
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let s = run(&mut shim(&["state", &id]), Duration::from_secs(10));
        if s.stdout.contains("\"stopped\"") {
            break;
        }
        assert!(
            Instant::now() < end,
            "container did not finish: {s:?}\n{}",
            sup.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = run(&mut shim(&["delete", &id]), Duration::from_secs(30));
    assert_eq!(o.code, 0, "{o:?}");
    let result = Out {
        code: 0,
        stdout: fs::read_to_string(&out).unwrap(),
        stderr: fs::read_to_string(&err).unwrap(),
    };
    check_outcome(mode, &result, bundle.host("/bin/evil").exists());
    let alert = wait_alert(&sup.alerts_path());
    if mode == "enforce" {
        assert_eq!(alert["tiercel"]["action"], "deny", "{alert}");
    }
    // the edit: unknown fields kept, NOTIFY for the rules' calls, an enforce mode in the
    // metadata
    let c = bundle.config();
    assert_eq!(c["x-unknown-field"], json!({"kept": true}));
    let sc = &c["linux"]["seccomp"];
    assert_eq!(sc["listenerPath"], sup.socket.to_str().unwrap());
    // a mode is requested only for enforce (audit is the supervisor's to decide)
    let metadata = (mode == "enforce").then(|| json!("mode=enforce"));
    assert_eq!(sc.get("listenerMetadata"), metadata.as_ref(), "{sc}");
    let rules = sc["syscalls"].as_array().unwrap();
    let has = |name: &str, action: &str| {
        rules.iter().any(|r| {
            r["action"] == action && r["names"].as_array().unwrap().iter().any(|n| n == name)
        })
    };
    assert!(has("openat", "SCMP_ACT_NOTIFY"));
    assert!(!has("write", "SCMP_ACT_NOTIFY"));
    assert_eq!(has("io_uring_setup", "SCMP_ACT_ERRNO"), mode == "enforce");
}

#[test]
fn shim_runc_audit() {
    shim_runc("audit");
}

#[test]
fn shim_runc_enforce() {
    shim_runc("enforce");
}

#[test]
fn shim_keeps_the_existing_profile_refusals() {
    let Some(b) = prereq("shim_keeps_the_existing_profile_refusals") else {
        return;
    };
    let sup = Sup::start(&b, "audit");
    let dir = tempfile::tempdir().unwrap();
    let cfg = shim_config(dir.path(), &sup.socket, &sup.rules, "");
    let bundle = Bundle::new("mkdir /tmp/d; echo mkdir-rc=$?; touch /bin/evil; echo touch-rc=$?");
    bundle.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["openat"], "action": "SCMP_ACT_ALLOW", "comment": "kept"}
            ]
        })
    });
    let root = tempfile::tempdir().unwrap();
    let id = unique("merge");
    let o = run(
        Command::new(&b.shim)
            .env("TIERCEL_SHIM_CONFIG", &cfg)
            .arg("--root")
            .arg(root.path())
            .args(["run", "-b"])
            .arg(bundle.path())
            .arg(&id),
        Duration::from_secs(30),
    );
    runc_delete(Some(root.path()), &id);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("mkdir-rc=1") && o.stderr.contains("Permission denied"),
        "{o:?}"
    );
    assert!(o.stdout.contains("touch-rc=0"), "{o:?}");
    wait_alert(&sup.alerts_path());
    let sc = &bundle.config()["linux"]["seccomp"];
    let openat: Vec<&Value> = sc["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == "openat"))
        .collect();
    assert_eq!(openat.len(), 1);
    assert_eq!(openat[0]["action"], "SCMP_ACT_NOTIFY");
    assert_eq!(openat[0]["comment"], "kept");
}

// ---------------------------------------------------------------------------------------
// podman, three ways

static PODMAN: Mutex<()> = Mutex::new(());

fn podman_ready(test: &str) -> bool {
    if !require(test, "podman not installed", have("podman")) {
        return false;
    }
    static IMPORTED: OnceLock<Result<(), String>> = OnceLock::new();
    let r = IMPORTED.get_or_init(|| {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        make_rootfs(&dir.path().join("rootfs"));
        let tar = dir.path().join("rootfs.tar");
        let o = run(
            Command::new("tar")
                .arg("-C")
                .arg(dir.path().join("rootfs"))
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            Duration::from_secs(60),
        );
        if o.code != 0 {
            return Err(format!("tar: {o:?}"));
        }
        let o = run(
            Command::new("podman").arg("import").arg(&tar).arg(IMAGE),
            Duration::from_secs(120),
        );
        (o.code == 0)
            .then_some(())
            .ok_or_else(|| format!("podman import: {o:?}"))
    });
    match r {
        Ok(()) => true,
        Err(e) => panic!("{test}: {e}"),
    }
}

fn podman_run(name: &str, extra: &[&str], runtime: &[&str], mode: &str) -> Out {
    podman_run_script(name, extra, runtime, mode, SCRIPT)
}

fn podman_run_script(
    name: &str,
    extra: &[&str],
    runtime: &[&str],
    mode: &str,
    script: &str,
) -> Out {
    let mut c = Command::new("podman");
    c.args(runtime)
        .args(["run", "--rm", "--name", name])
        .args(PODMAN_FLAGS)
        .args(["--annotation", &format!("io.tiercel.mode={mode}")])
        .args(extra)
        .args([IMAGE, "sh", "-c", script]);
    let o = run(&mut c, Duration::from_secs(120));
    let _ = Command::new("podman")
        .args(["rm", "-f", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    o
}

/// Checks the outcome inside a podman container (its rootfs is gone after --rm, so the
/// container reports whether the file exists) and the alert's name and image.
fn podman_check(mode: &str, name: &str, o: &Out, alerts: &Path) {
    assert_eq!(o.code, 0, "{o:?}");
    let evil = o.stdout.contains("touch-rc=0");
    check_outcome(mode, o, evil);
    let a = wait_alert(alerts);
    let text = a.to_string();
    assert!(
        text.contains(name),
        "container name {name} in the alert: {a}"
    );
    assert!(
        text.contains("localhost/tiercel-e2e-engines"),
        "image in the alert: {a}"
    );
    if mode == "enforce" {
        assert_eq!(a["tiercel"]["action"], "deny", "{a}");
    }
}

/// `tiercel profile --format podman` for `sup`'s rules and socket, written to `path`;
/// the profile's JSON.
fn podman_profile_file(b: &Bins, sup: &Sup, mode: &str, path: &Path) -> Value {
    let o = run(
        Command::new(&b.tiercel)
            .args(["profile", "-r"])
            .arg(&sup.rules)
            .arg("--socket")
            .arg(&sup.socket)
            .args(["--mode", mode, "--format", "podman", "-o"])
            .arg(path),
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 0, "{o:?}");
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// The `openat` rules of profile `p`, each naming `openat` alone with one masked-equal
/// condition of mask `mask`: (action, value), in profile order.
fn openat_classes(p: &Value, mask: u64) -> Vec<(String, u64)> {
    p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["names"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x == "openat"))
        })
        .map(|r| {
            assert_eq!(r["names"], json!(["openat"]), "{r}");
            assert_eq!(r["args"][0]["value"], mask, "{r}");
            (
                r["action"].as_str().unwrap().to_string(),
                r["args"][0]["valueTwo"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn podman_profile(mode: &str) {
    let test = format!("podman_profile_{mode}");
    let Some(b) = prereq(&test) else { return };
    if !podman_ready(&test) {
        return;
    }
    let _g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let sup = Sup::start(&b, "audit");
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    podman_profile_file(&b, &sup, mode, &profile);
    let name = unique(&format!("podprof-{mode}"));
    let o = podman_run(
        &name,
        &["--security-opt", &format!("seccomp={}", profile.display())],
        &["--runtime", "runc"],
        mode,
    );
    podman_check(mode, &name, &o, &sup.alerts_path());
}

#[test]
fn podman_profile_audit() {
    podman_profile("audit");
}

#[test]
fn podman_profile_enforce() {
    podman_profile("enforce");
}

/// A rule about writes only: `tiercel profile` filters `open`/`openat` on the access mode
/// in the kernel. Merged into podman's default profile (refusing default, `openat` in its
/// big allow rule), the write is still refused in enforce mode while the read-only opens
/// never reach the supervisor.
#[test]
fn podman_profile_prefilter_enforce() {
    const WRITE_RULES: &str = r#"
- rule: Write below binary dir (engines test)
  desc: a file below /bin opened for writing
  condition: evt.type in (open, openat) and evt.is_open_write=true and fd.name startswith /bin/
  output: "File below /bin opened for writing (file=%fd.name command=%proc.cmdline container=%container.name image=%container.image.repository)"
  priority: WARNING
"#;
    const READS: u64 = 100;
    let test = "podman_profile_prefilter_enforce";
    let mode = "enforce";
    let Some(b) = prereq(test) else { return };
    if !podman_ready(test) {
        return;
    }
    let _g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let sup = Sup::start_with(&b, mode, WRITE_RULES);
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let p = podman_profile_file(&b, &sup, mode, &profile);
    let modes = openat_classes(&p, 3);
    assert_eq!(
        modes,
        [
            ("SCMP_ACT_ALLOW".to_string(), 0),
            ("SCMP_ACT_NOTIFY".to_string(), 1),
            ("SCMP_ACT_NOTIFY".to_string(), 2),
            ("SCMP_ACT_ALLOW".to_string(), 3),
        ]
    );
    let name = unique("podprof-prefilter");
    let script = format!(
        "i=0; while [ $i -lt {READS} ]; do read l < /etc/passwd; i=$((i+1)); done; \
         echo reads=$i; {SCRIPT}"
    );
    let o = podman_run_script(
        &name,
        &["--security-opt", &format!("seccomp={}", profile.display())],
        &["--runtime", "runc"],
        mode,
        &script,
    );
    assert!(o.stdout.contains(&format!("reads={READS}")), "{o:?}");
    podman_check(mode, &name, &o, &sup.alerts_path());
    // The session's notifications: the refused write and a few more, not the reads.
    let n = first_session_notifications(&sup);
    eprintln!("{test}: {n} notifications");
    assert!(
        n < READS / 4,
        "{test}: read-only opens were notified ({n}): {}",
        sup.log()
    );
}

/// The notification count of the supervisor's first session (waits up to 10 s for it).
fn first_session_notifications(sup: &Sup) -> u64 {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let log = sup.log();
        if let Some(&n) = session_notifications(&log).first() {
            return n;
        }
        assert!(Instant::now() < end, "no session end: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The enforcement preset merged into podman's default profile: `openat` in 64
/// single-class rules (mask `O_ACCMODE|O_CREAT|O_TRUNC|O_DIRECTORY|__O_TMPFILE`), the six
/// read-only classes keeping podman's allow. runc loads it, the reads stay in the kernel
/// and the write below /bin is refused.
#[test]
fn podman_profile_preset_prefilter_enforce() {
    const READS: u64 = 100;
    let test = "podman_profile_preset_prefilter_enforce";
    let mode = "enforce";
    let Some(b) = prereq(test) else { return };
    if !podman_ready(test) {
        return;
    }
    // The preset, its open rule named and worded as the helpers expect.
    let preset = include_str!("../../examples/rules/protect-binary-dirs.yaml")
        .replacen(
            "- rule: Write below protected binary dir",
            &format!("- rule: {RULE_NAME}"),
            1,
        )
        .replacen(
            "container_name=%container.name)",
            "container_name=%container.name image=%container.image.repository)",
            1,
        );
    let _g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let sup = Sup::start_with(&b, mode, &preset);
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile.json");
    let p = podman_profile_file(&b, &sup, mode, &profile);
    let openat = openat_classes(&p, 0o20201103);
    assert_eq!(openat.len(), 64);
    let allowed: Vec<u64> = openat
        .iter()
        .filter(|(a, _)| a == "SCMP_ACT_ALLOW")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(allowed, [0, 3, 0o200000, 0o200003, 0o20000000, 0o20000003]);
    let name = unique("podprof-preset");
    let script = format!(
        "i=0; while [ $i -lt {READS} ]; do read l < /etc/passwd; i=$((i+1)); done; \
         echo reads=$i; ls /bin > /dev/null && echo ls-ok; {SCRIPT}"
    );
    let o = podman_run_script(
        &name,
        &["--security-opt", &format!("seccomp={}", profile.display())],
        &["--runtime", "runc"],
        mode,
        &script,
    );
    assert!(o.stdout.contains(&format!("reads={READS}")), "{o:?}");
    assert!(o.stdout.contains("ls-ok"), "{o:?}");
    podman_check(mode, &name, &o, &sup.alerts_path());
    let n = first_session_notifications(&sup);
    eprintln!("{test}: {n} notifications");
    assert!(
        n < READS / 4,
        "{test}: read-only opens were notified ({n}): {}",
        sup.log()
    );
}

fn podman_shim(mode: &str) {
    let test = format!("podman_shim_{mode}");
    let Some(b) = prereq(&test) else { return };
    if !podman_ready(&test) {
        return;
    }
    let _g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let sup = Sup::start(&b, "audit");
    let dir = tempfile::tempdir().unwrap();
    let cfg = shim_config(dir.path(), &sup.socket, &sup.rules, "");
    let name = unique(&format!("podshim-{mode}"));
    let runtime = b.shim.display().to_string();
    let flag = format!("tiercel-config={}", cfg.display());
    let o = podman_run(
        &name,
        &[],
        &["--runtime", &runtime, "--runtime-flag", &flag],
        mode,
    );
    podman_check(mode, &name, &o, &sup.alerts_path());
}

#[test]
fn podman_shim_audit() {
    podman_shim("audit");
}

#[test]
fn podman_shim_enforce() {
    podman_shim("enforce");
}

/// The shipped hooks.d files, pointed at the built hook and a test config.
fn hooks_dir(b: &Bins, dir: &Path, cfg: &Path) -> PathBuf {
    let hooks = dir.join("hooks.d");
    fs::create_dir_all(&hooks).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../oci-hooks/hooks.d");
    let mut n = 0;
    for e in fs::read_dir(&shipped).unwrap() {
        let p = e.unwrap().path();
        let mut v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        v["hook"]["path"] = json!(b.hook);
        v["hook"]["env"] = json!([format!("TIERCEL_SHIM_CONFIG={}", cfg.display())]);
        fs::write(hooks.join(p.file_name().unwrap()), v.to_string()).unwrap();
        n += 1;
    }
    assert!(n >= 2);
    hooks
}

fn podman_hooks(mode: &str) {
    let test = format!("podman_hooks_{mode}");
    let Some(b) = prereq(&test) else { return };
    if !podman_ready(&test) {
        return;
    }
    let _g = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::Builder::new()
        .prefix("tiercel-enghook-")
        .tempdir()
        .unwrap();
    let rules = rules_file(dir.path());
    let socket = dir.path().join("run/tiercel.sock");
    let alerts = dir.path().join("alerts.json");
    let cfg = shim_config(
        dir.path(),
        &socket,
        &rules,
        &format!(
            "supervisor: {}\nsupervisor_args: [--deny, \"rule:{RULE_NAME}\", --alerts, {}]\nstate_dir: {}\n",
            b.tiercel.display(),
            alerts.display(),
            dir.path().join("state").display()
        ),
    );
    let hooks = hooks_dir(&b, dir.path(), &cfg);
    let profile = dir.path().join("profile.json");
    let o = run(
        Command::new(&b.tiercel)
            .args(["profile", "-r"])
            .arg(&rules)
            .arg("--socket")
            .arg(&socket)
            .args(["--mode", mode, "-o"])
            .arg(&profile),
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        !socket.exists(),
        "no supervisor before the container starts"
    );
    let name = unique(&format!("podhook-{mode}"));
    let hooks_s = hooks.display().to_string();
    let o = podman_run(
        &name,
        &["--security-opt", &format!("seccomp={}", profile.display())],
        &["--hooks-dir", &hooks_s, "--runtime", "runc"],
        mode,
    );
    podman_check(mode, &name, &o, &alerts);
    // poststop stopped the supervisor the hook started and removed its socket
    let end = Instant::now() + Duration::from_secs(10);
    while socket.exists() {
        assert!(Instant::now() < end, "poststop left the socket behind");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fs::read_dir(dir.path().join("state/c")).unwrap().count(), 0);
}

#[test]
fn podman_hooks_audit() {
    podman_hooks("audit");
}

#[test]
fn podman_hooks_enforce() {
    podman_hooks("enforce");
}

// ---------------------------------------------------------------------------------------
// crun directly

fn crun_direct(mode: &str, no_new_privileges: bool) {
    let test = format!("crun_direct_{mode}");
    let Some(b) = prereq(&test) else { return };
    if !require(&test, "crun not installed", have("crun"))
        || !require(&test, "unshare not installed", have("unshare"))
    {
        return;
    }
    let sup = Sup::start(&b, "audit");
    let bundle = Bundle::new(SCRIPT);
    let o = run(
        Command::new(&b.tiercel)
            .args(["profile", "-r"])
            .arg(&sup.rules)
            .arg("--socket")
            .arg(&sup.socket)
            .args(["--mode", mode]),
        Duration::from_secs(30),
    );
    assert_eq!(o.code, 0, "{o:?}");
    let profile: Value = serde_json::from_str(&o.stdout).unwrap();
    // crun (1.8.1) does not forward listenerMetadata: the mode travels as the annotation,
    // which it does send.
    bundle.edit(|c| {
        c["linux"]["seccomp"] = profile;
        c["process"]["noNewPrivileges"] = json!(no_new_privileges);
        c["annotations"] = json!({"io.tiercel.mode": mode});
    });
    let root = tempfile::tempdir().unwrap();
    let id = unique(&format!("crun-{mode}"));
    let crun = format!(
        "crun --root {} --cgroup-manager=disabled",
        root.path().display()
    );
    let b_s = bundle.path().display();
    // With noNewPrivileges crun applies seccomp at `start`: the connection made at create
    // gets its payload only then — create, wait, start.
    let body = if no_new_privileges {
        format!(
            "{crun} create -b {b_s} {id} || exit 9; sleep 1; {crun} start {id} || exit 8; \
             i=0; while ! {crun} state {id} | grep -q '\"stopped\"'; do i=$((i+1)); \
             [ $i -gt 200 ] && exit 7; sleep 0.1; done; {crun} delete {id}"
        )
    } else {
        format!("{crun} run -b {b_s} {id}; rc=$?; {crun} delete -f {id} 2>/dev/null; exit $rc")
    };
    let script = format!(
        "umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup || exit 10; {body}"
    );
    let o = run(
        Command::new("unshare").args(["-m", "sh", "-c", &script]),
        Duration::from_secs(60),
    );
    assert_eq!(o.code, 0, "{o:?}\n{}", sup.log());
    check_outcome(mode, &o, bundle.host("/bin/evil").exists());
    let a = wait_alert(&sup.alerts_path());
    if mode == "enforce" {
        assert_eq!(a["tiercel"]["action"], "deny", "{a}");
    }
}

#[test]
fn crun_direct_audit() {
    crun_direct("audit", false);
}

#[test]
fn crun_direct_enforce_deferred_handoff() {
    crun_direct("enforce", true);
}

// ---------------------------------------------------------------------------------------
// deploy files and the image

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn deploy_files_are_valid() {
    let deploy = repo().join("deploy");
    // docker: a runtimes entry whose path is the shim
    let d: Value =
        serde_json::from_str(&fs::read_to_string(deploy.join("docker/daemon.json")).unwrap())
            .unwrap();
    assert_eq!(
        d["runtimes"]["tiercel"]["path"],
        "/usr/local/bin/tiercel-shim"
    );
    // hooks.d: version 1.0.0, known stages, never precreate (CRI-O rejects it)
    for e in fs::read_dir(repo().join("oci-hooks/hooks.d")).unwrap() {
        let p = e.unwrap().path();
        let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["version"], "1.0.0", "{}", p.display());
        assert!(v["hook"]["path"].as_str().unwrap().starts_with('/'));
        assert!(v["when"].as_object().is_some_and(|w| !w.is_empty()));
        for s in v["stages"].as_array().unwrap() {
            assert!(
                [
                    "prestart",
                    "createRuntime",
                    "createContainer",
                    "startContainer",
                    "poststart",
                    "poststop"
                ]
                .contains(&s.as_str().unwrap()),
                "{}: stage {s}",
                p.display()
            );
        }
    }
    // TOML and YAML parse (python3's tomllib and PyYAML, when present)
    let py = |code: &str, file: &Path| {
        run(
            Command::new("python3").args(["-c", code]).arg(file),
            Duration::from_secs(20),
        )
    };
    let toml = "import sys,tomllib; d=tomllib.load(open(sys.argv[1],'rb')); print(d)";
    for f in ["containerd/config.toml", "podman/containers.conf"] {
        if !require("deploy_files_are_valid", "python3 missing", have("python3")) {
            return;
        }
        let o = py(toml, &deploy.join(f));
        assert_eq!(o.code, 0, "{f}: {o:?}");
        assert!(o.stdout.contains("tiercel"), "{f}");
    }
    let o = py("import yaml", Path::new("/dev/null"));
    if !require(
        "deploy_files_are_valid",
        "PyYAML missing (python3-yaml)",
        o.code == 0,
    ) {
        return;
    }
    let yaml =
        "import sys,yaml,json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    for f in ["kubernetes/runtimeclass.yaml", "kubernetes/daemonset.yaml"] {
        let o = py(yaml, &deploy.join(f));
        assert_eq!(o.code, 0, "{f}: {o:?}");
        let docs: Value = serde_json::from_str(&o.stdout).unwrap();
        for d in docs.as_array().unwrap().iter().filter(|d| !d.is_null()) {
            assert!(
                d["apiVersion"].is_string() && d["kind"].is_string(),
                "{f}: {d}"
            );
        }
        if f.ends_with("runtimeclass.yaml") {
            assert!(docs
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["kind"] == "RuntimeClass" && d["handler"] == "tiercel"));
        } else {
            let ds = docs
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["kind"] == "DaemonSet")
                .unwrap();
            let spec = &ds["spec"]["template"]["spec"];
            assert_eq!(spec["hostPID"], true);
            assert_eq!(spec["containers"][0]["securityContext"]["privileged"], true);
        }
    }
}

#[test]
fn containerfile_builds_and_runs() {
    let test = "containerfile_builds_and_runs";
    if !require(test, "must run as root", is_root())
        || !require(test, "podman not installed", have("podman"))
    {
        return;
    }
    let musl = target_dir().join("x86_64-unknown-linux-musl/release");
    let bins = ["tiercel", "tiercel-hook", "tiercel-shim"];
    if !require(
        test,
        "static binaries not built (cargo build --release --target x86_64-unknown-linux-musl -p tiercel -p tiercel-hook -p tiercel-shim)",
        bins.iter().all(|b| musl.join(b).is_file()),
    ) {
        return;
    }
    // the build context: the Containerfile, the binaries, the example rules
    let ctx = tempfile::tempdir().unwrap();
    fs::create_dir_all(ctx.path().join("bin")).unwrap();
    for b in bins {
        fs::copy(musl.join(b), ctx.path().join("bin").join(b)).unwrap();
    }
    fs::copy(
        repo().join("Containerfile"),
        ctx.path().join("Containerfile"),
    )
    .unwrap();
    let o = run(
        Command::new("cp")
            .arg("-r")
            .arg(repo().join("examples/rules"))
            .arg(ctx.path().join("rules")),
        Duration::from_secs(20),
    );
    assert_eq!(o.code, 0, "{o:?}");
    let tag = "localhost/tiercel-e2e-image:test";
    let o = run(
        Command::new("podman")
            .args([
                "build",
                "--build-arg",
                "BIN=bin",
                "--build-arg",
                "RULES=rules",
                "-t",
                tag,
            ])
            .arg(ctx.path()),
        Duration::from_secs(300),
    );
    assert_eq!(o.code, 0, "podman build: {o:?}");
    let o = run(
        Command::new("podman")
            .args(["run", "--rm", "--runtime", "runc"])
            .args(PODMAN_FLAGS)
            .args([
                tag,
                "rules",
                "check",
                "/etc/tiercel/rules/seed-write-below-binary-dir.yaml",
            ]),
        Duration::from_secs(60),
    );
    let _ = Command::new("podman")
        .args(["rmi", "-f", tag])
        .stdout(Stdio::null())
        .status();
    assert_eq!(o.code, 0, "the image runs tiercel: {o:?}");
}
