//! Helpers for tiercel's end-to-end tests: busybox-static bundles for runc, a `tiercel
//! supervise` child process on a temporary socket, container runs with timeouts and
//! clean-up, and the in-container probe.
//!
//! Everything here drives real programs (runc, the `tiercel` binary, the static probe); nothing
//! is mocked. A test that cannot run (not root, runc or busybox-static missing, no upstream
//! rules) is skipped through `tiercel_testdata`: one `SKIP` line on the real stderr and in
//! `$TIERCEL_SKIP_LOG` (the summary of `make test` lists them); under CI ([`ci`]) a missing
//! prerequisite is a failure instead.

// `unsafe` is allowed only in the supervisor's `sys.rs` (ARCHITECTURE.md, crate table).
#![deny(unsafe_code)]

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tempfile::TempDir;

pub mod daemons;

/// The capabilities Docker and Podman give a container by default; used for every test
/// bundle so that the probe meets what real workloads have.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];

pub use tiercel_testdata::{ci, repo_root, shared_dir};

/// Checks a prerequisite. Returns false after a skip (`tiercel_testdata::skip_named`: one
/// line, listed by `make test`) when it is missing; panics under CI, where nothing may be
/// skipped.
pub fn require(test: &str, what: &str, ok: bool) -> bool {
    if !ok {
        let bin = tiercel_testdata::test_binary();
        tiercel_testdata::skip_named(&format!("{bin}::{test}"), what);
    }
    ok
}

/// The three upstream Falco rule files in the order Falco loads them, from the shared
/// directory (`$TIERCEL_SHARED` or `../shared`); `None` after a skip when they are absent.
pub fn upstream_rule_files() -> Option<Vec<PathBuf>> {
    [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| tiercel_testdata::upstream(&format!("upstream-rules/{f}")))
    .collect()
}

/// A file under `examples/` of the repository.
pub fn example(rel: &str) -> PathBuf {
    repo_root().join("examples").join(rel)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The `tiercel` binary: `$TIERCEL_BIN`, else the release build, else the debug build.
pub fn tiercel_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TIERCEL_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    ["release", "debug"]
        .iter()
        .map(|p| target_dir().join(p).join("tiercel"))
        .find(|p| p.is_file())
}

/// The static probe built by build.rs.
pub fn probe_bin() -> Option<PathBuf> {
    let p = env!("TIERCEL_E2E_PROBE");
    (!p.is_empty() && Path::new(p).is_file()).then(|| PathBuf::from(p))
}

/// The benchmark's minimal notifier built by build.rs.
pub fn notifier_bin() -> Option<PathBuf> {
    let p = env!("TIERCEL_E2E_NOTIFIER");
    (!p.is_empty() && Path::new(p).is_file()).then(|| PathBuf::from(p))
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {prog} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether we run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The static busybox from Debian's busybox-static.
pub fn busybox_static() -> Option<PathBuf> {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        let path = Path::new(p);
        if !path.is_file() {
            continue;
        }
        let dynamic = Command::new("ldd")
            .arg(path)
            .output()
            .map(|o| {
                o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("not a dynamic")
            })
            .unwrap_or(false);
        if !dynamic {
            return Some(path.to_path_buf());
        }
    }
    None
}

/// Everything a container test needs, checked once; `None` means skip (never in CI).
pub struct Env {
    pub tiercel: PathBuf,
    pub probe: PathBuf,
}

/// Checks root, runc, busybox-static and the probe (not tiercel); returns the probe.
pub fn runtime_env(test: &str) -> Option<PathBuf> {
    if !require(test, "must run as root (runc)", is_root()) {
        return None;
    }
    if !require(test, "runc not installed (scripts/setup.sh)", have("runc")) {
        return None;
    }
    if !require(
        test,
        "static busybox not found (apt-get install busybox-static)",
        busybox_static().is_some(),
    ) {
        return None;
    }
    let probe = probe_bin();
    require(
        test,
        "probe not built (gcc and glibc static libs needed)",
        probe.is_some(),
    )
    .then_some(probe?)
}

/// Checks root, runc, busybox-static, the tiercel binary and the probe.
pub fn container_env(test: &str) -> Option<Env> {
    if !require(test, "must run as root (runc)", is_root()) {
        return None;
    }
    if !require(test, "runc not installed (scripts/setup.sh)", have("runc")) {
        return None;
    }
    if !require(
        test,
        "static busybox not found (apt-get install busybox-static)",
        busybox_static().is_some(),
    ) {
        return None;
    }
    let tiercel = tiercel_bin();
    if !require(
        test,
        "tiercel binary not built (cargo build --release -p tiercel, or set TIERCEL_BIN)",
        tiercel.is_some(),
    ) {
        return None;
    }
    let probe = probe_bin();
    if !require(
        test,
        "probe not built (gcc and glibc static libs needed)",
        probe.is_some(),
    ) {
        return None;
    }
    Some(Env {
        tiercel: tiercel?,
        probe: probe?,
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh container id, unique per test process.
pub fn container_id(tag: &str) -> String {
    format!(
        "tce2e-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An OCI bundle in a temporary directory: busybox-static rootfs, the probe at `/probe`,
/// minimal /etc files, and a `runc spec` config edited as a JSON value.
pub struct Bundle {
    pub dir: TempDir,
    pub config: Value,
}

impl Bundle {
    /// Builds the bundle. `probe` is copied to `/probe` when given.
    pub fn busybox(probe: Option<&Path>) -> Result<Bundle> {
        let dir = tempfile::Builder::new()
            .prefix("tiercel-bundle-")
            .tempdir()?;
        let root = dir.path().join("rootfs");
        for d in [
            "bin",
            "sbin",
            "usr/bin",
            "usr/sbin",
            "etc",
            "tmp",
            "proc",
            "dev",
            "sys",
            "root",
            "var/log",
            "home/user",
        ] {
            fs::create_dir_all(root.join(d))?;
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
        let bb = busybox_static().ok_or_else(|| anyhow!("static busybox not found"))?;
        fs::copy(&bb, root.join("bin/busybox"))?;
        let list = Command::new(&bb).arg("--list").output()?;
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )?;
        fs::write(
            root.join("etc/group"),
            "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
        )?;
        fs::write(root.join("etc/shadow"), "root:*:19000:0:99999:7:::\n")?;
        fs::set_permissions(root.join("etc/shadow"), fs::Permissions::from_mode(0o640))?;
        fs::write(root.join("etc/hostname"), "tiercel-e2e\n")?;
        if let Some(p) = probe {
            fs::copy(p, root.join("probe"))?;
            fs::set_permissions(root.join("probe"), fs::Permissions::from_mode(0o755))?;
        }
        let out = Command::new("runc")
            .arg("spec")
            .current_dir(dir.path())
            .output()
            .context("runc spec")?;
        if !out.status.success() {
            bail!("runc spec failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let config: Value = serde_json::from_slice(&fs::read(dir.path().join("config.json"))?)?;
        let mut b = Bundle { dir, config };
        b.config["process"]["terminal"] = json!(false);
        b.config["root"]["readonly"] = json!(false);
        b.config["hostname"] = json!("tiercel-e2e");
        let caps = json!(DEFAULT_CAPS);
        for set in ["bounding", "effective", "permitted"] {
            b.config["process"]["capabilities"][set] = caps.clone();
        }
        b.set_args(&["/bin/true"]);
        Ok(b)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// A path inside the container, as seen from the host.
    pub fn host_path(&self, in_container: &str) -> PathBuf {
        self.rootfs().join(in_container.trim_start_matches('/'))
    }

    pub fn set_args(&mut self, args: &[&str]) {
        self.config["process"]["args"] = json!(args);
    }

    /// `sh -c SCRIPT`.
    pub fn set_script(&mut self, script: &str) {
        self.set_args(&["/bin/sh", "-c", script]);
    }

    pub fn set_seccomp(&mut self, seccomp: Value) {
        self.config["linux"]["seccomp"] = seccomp;
    }

    pub fn clear_seccomp(&mut self) {
        if let Some(l) = self.config["linux"].as_object_mut() {
            l.remove("seccomp");
        }
    }

    pub fn annotate(&mut self, key: &str, value: &str) {
        if !self.config["annotations"].is_object() {
            self.config["annotations"] = json!({});
        }
        self.config["annotations"][key] = json!(value);
    }

    /// Writes config.json.
    pub fn write(&self) -> Result<()> {
        let mut f = fs::File::create(self.dir.path().join("config.json"))?;
        f.write_all(serde_json::to_string_pretty(&self.config)?.as_bytes())?;
        Ok(())
    }
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct RunOutput {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl RunOutput {
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if start.elapsed() > timeout {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `runc kill ID KILL` and `runc delete --force ID`; errors ignored (the container may be gone).
pub fn runc_cleanup(id: &str) {
    let _ = Command::new("runc")
        .args(["kill", id, "KILL"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = Command::new("runc")
        .args(["delete", "--force", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs a command with stdout/stderr captured to files (no pipe can fill up) and a timeout;
/// on timeout the child is killed.
pub fn run_cmd(
    cmd: &mut Command,
    timeout: Duration,
    on_timeout: impl FnOnce(),
) -> Result<RunOutput> {
    let tmp = tempfile::Builder::new().prefix("tiercel-run-").tempdir()?;
    let out_p = tmp.path().join("stdout");
    let err_p = tmp.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_p)?)
        .stderr(fs::File::create(&err_p)?)
        .spawn()
        .with_context(|| format!("spawn {cmd:?}"))?;
    let status = wait_with_timeout(&mut child, timeout)?;
    let timed_out = status.is_none();
    if timed_out {
        on_timeout();
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(RunOutput {
        status,
        stdout: fs::read_to_string(&out_p).unwrap_or_default(),
        stderr: fs::read_to_string(&err_p).unwrap_or_default(),
        timed_out,
    })
}

/// `runc run -b BUNDLE ID` in the foreground with a timeout; the container is always deleted.
pub fn run_container(bundle: &Bundle, id: &str, timeout: Duration) -> Result<RunOutput> {
    bundle.write()?;
    let mut cmd = Command::new("runc");
    cmd.arg("run").arg("-b").arg(bundle.path()).arg(id);
    let r = run_cmd(&mut cmd, timeout, || runc_cleanup(id));
    runc_cleanup(id);
    r
}

/// A container started with `runc run -d`; killed and deleted on drop.
pub struct Detached {
    pub id: String,
    _logs: TempDir,
}

impl Detached {
    pub fn start(bundle: &Bundle, id: &str, timeout: Duration) -> Result<Detached> {
        bundle.write()?;
        let logs = tempfile::Builder::new().prefix("tiercel-det-").tempdir()?;
        let mut cmd = Command::new("runc");
        cmd.arg("run")
            .arg("-d")
            .arg("-b")
            .arg(bundle.path())
            .arg(id);
        let d = Detached {
            id: id.to_string(),
            _logs: logs,
        };
        let out = run_cmd(&mut cmd, timeout, || runc_cleanup(id))?;
        if !out.success() {
            bail!("runc run -d failed: {out:?}");
        }
        Ok(d)
    }

    /// `runc exec ID ARGS…` with a timeout.
    pub fn exec(&self, args: &[&str], timeout: Duration) -> Result<RunOutput> {
        let mut cmd = Command::new("runc");
        cmd.arg("exec").arg(&self.id).args(args);
        run_cmd(&mut cmd, timeout, || {})
    }

    /// `runc kill ID SIGNAL`.
    pub fn kill(&self, signal: &str) {
        let _ = Command::new("runc")
            .args(["kill", &self.id, signal])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The container's status from `runc state`.
    pub fn status(&self) -> Option<String> {
        let out = Command::new("runc")
            .args(["state", &self.id])
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["status"].as_str().map(str::to_string)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        runc_cleanup(&self.id);
    }
}

/// Options for `tiercel supervise`.
#[derive(Clone, Debug, Default)]
pub struct SupervisorOpts {
    pub rules: Vec<PathBuf>,
    /// `audit` or `enforce`.
    pub mode: Option<String>,
    /// Anything else (`--deny`, `--errno`, `--config`).
    pub extra: Vec<String>,
}

impl SupervisorOpts {
    pub fn new(rules: &[PathBuf], mode: &str) -> Self {
        SupervisorOpts {
            rules: rules.to_vec(),
            mode: Some(mode.to_string()),
            extra: Vec::new(),
        }
    }
}

/// A `tiercel supervise` child on a temporary socket; SIGTERM then SIGKILL on drop.
pub struct Supervisor {
    child: Child,
    pub dir: TempDir,
    pub socket: PathBuf,
    pub alerts_path: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    tiercel: PathBuf,
    opts: SupervisorOpts,
}

impl Supervisor {
    /// Starts the supervisor and waits (up to 30 s) for its socket to appear.
    pub fn start(tiercel: &Path, opts: SupervisorOpts) -> Result<Supervisor> {
        let dir = tempfile::Builder::new().prefix("tiercel-sup-").tempdir()?;
        let socket = dir.path().join("run/tiercel.sock");
        let alerts_path = dir.path().join("alerts.json");
        let stdout_path = dir.path().join("stdout.log");
        let stderr_path = dir.path().join("stderr.log");
        let mut cmd = Command::new(tiercel);
        cmd.arg("supervise").arg("--socket").arg(&socket);
        for r in &opts.rules {
            cmd.arg("-r").arg(r);
        }
        if let Some(m) = &opts.mode {
            cmd.arg("--mode").arg(m);
        }
        cmd.arg("--alerts").arg(&alerts_path);
        cmd.args(&opts.extra);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path)?)
            .stderr(fs::File::create(&stderr_path)?)
            .spawn()
            .with_context(|| format!("spawn {cmd:?}"))?;
        let mut s = Supervisor {
            child,
            dir,
            socket,
            alerts_path,
            stdout_path,
            stderr_path,
            tiercel: tiercel.to_path_buf(),
            opts,
        };
        let start = Instant::now();
        while !s.socket.exists() {
            if let Some(st) = s.child.try_wait()? {
                bail!("tiercel supervise exited early ({st}):\n{}", s.stderr());
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("tiercel supervise: no socket after 30 s:\n{}", s.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(s)
    }

    /// `tiercel profile` for this supervisor's rules, socket and mode.
    pub fn profile(&self) -> Result<Value> {
        profile(
            &self.tiercel,
            &self.opts.rules,
            &self.socket,
            self.opts.mode.as_deref(),
        )
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Every JSON alert written so far (lines that do not parse are reported as errors).
    pub fn alerts(&self) -> Result<Vec<Value>> {
        let text = match fs::read_to_string(&self.alerts_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            // A line being written right now may be incomplete: only the last one.
            match serde_json::from_str::<Value>(line) {
                Ok(a) => v.push(a),
                Err(e) if i + 1 == text.lines().count() && !text.ends_with('\n') => {
                    let _ = e;
                }
                Err(e) => bail!("alerts file line {}: {e}: {line}", i + 1),
            }
        }
        Ok(v)
    }

    /// Waits up to `timeout` until `pred` holds for the alerts, then waits `settle` more so
    /// that extra (unwanted) alerts show up too, and returns all alerts.
    pub fn wait_alerts(
        &self,
        timeout: Duration,
        settle: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Result<Vec<Value>> {
        let start = Instant::now();
        loop {
            let a = self.alerts()?;
            if pred(&a) {
                std::thread::sleep(settle);
                return self.alerts();
            }
            if start.elapsed() > timeout {
                return Ok(a);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, wait up to 10 s; returns the exit status (None if it had to be killed).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        match wait_with_timeout(&mut self.child, Duration::from_secs(10)) {
            Ok(Some(st)) => Some(st),
            _ => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                None
            }
        }
    }

    /// A diagnostic dump for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "--- supervisor stderr ---\n{}\n--- supervisor stdout ---\n{}\n--- alerts ---\n{}",
            tail(&self.stderr(), 60),
            tail(&self.stdout(), 40),
            tail(
                &fs::read_to_string(&self.alerts_path).unwrap_or_default(),
                40
            )
        )
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` lines of a text.
/// The `notifications=N` of every `session ended` line of the supervisor's log, in order.
pub fn session_notifications(log: &str) -> Vec<u64> {
    let mut plain = String::with_capacity(log.len());
    let mut esc = false;
    for c in log.chars() {
        match c {
            '\x1b' => esc = true,
            'm' if esc => esc = false,
            _ if esc => {}
            c => plain.push(c),
        }
    }
    plain
        .lines()
        .filter(|l| l.contains("session ended"))
        .filter_map(|l| {
            let n = l.split("notifications=").nth(1)?;
            n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect()
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `tiercel profile -r RULES… --socket PATH [--mode M]` parsed as JSON.
pub fn profile(
    tiercel: &Path,
    rules: &[PathBuf],
    socket: &Path,
    mode: Option<&str>,
) -> Result<Value> {
    let mut cmd = Command::new(tiercel);
    cmd.arg("profile");
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.arg("--socket").arg(socket);
    if let Some(m) = mode {
        cmd.arg("--mode").arg(m);
    }
    let out = cmd.output().with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "tiercel profile failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "tiercel profile printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Alerts whose `rule` is `name`.
pub fn by_rule<'a>(alerts: &'a [Value], name: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"] == name).collect()
}

/// One line of `probe attack` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub name: String,
    /// "ok", "EPERM", "ENOENT", …, or "signal N".
    pub result: String,
}

impl Attempt {
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }
}

/// Parses `RESULT name ok | errno NAME n | signal n` lines.
pub fn parse_attempts(stdout: &str) -> Vec<Attempt> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            if it.next()? != "RESULT" {
                return None;
            }
            let name = it.next()?.to_string();
            let result = match it.next()? {
                "ok" => "ok".to_string(),
                "errno" => it.next()?.to_string(),
                "signal" => format!("signal {}", it.next()?),
                other => other.to_string(),
            };
            Some(Attempt { name, result })
        })
        .collect()
}

/// Runs the probe on the host (setup/check of victim files in a rootfs).
pub fn probe_host(probe: &Path, args: &[&str]) -> Result<RunOutput> {
    let mut cmd = Command::new(probe);
    cmd.args(args);
    run_cmd(&mut cmd, Duration::from_secs(30), || {})
}

// ---------------------------------------------------------------------------------------
// Real engines on private paths: dockerd and containerd started by the tests themselves
// (never the host's), the busybox rootfs they run, and clean-up of their mounts.

/// A workspace binary: `$env`, else the newest of the release and debug builds of `name`.
pub fn workspace_bin(name: &str, env: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    ["release", "debug"]
        .iter()
        .map(|p| target_dir().join(p).join(name))
        .filter(|p| p.is_file())
        .max_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// A busybox-static root filesystem in `dir` (`/bin/busybox` plus applet links, `/tmp`,
/// `/etc`): what the engine tests run instead of a registry image.
pub fn busybox_rootfs(dir: &Path) -> Result<PathBuf> {
    let bb = busybox_static().ok_or_else(|| anyhow!("busybox-static missing"))?;
    let root = dir.join("rootfs");
    for d in ["bin", "tmp", "etc", "proc", "sys", "dev"] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::copy(&bb, root.join("bin/busybox"))?;
    for a in [
        "sh", "touch", "cat", "ls", "sleep", "echo", "id", "rm", "mkdir", "true", "false", "date",
        "debugfs", "hostname",
    ] {
        let l = root.join("bin").join(a);
        if !l.exists() {
            symlink("busybox", &l)?;
        }
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(root.join("etc/group"), "root:x:0:\n")?;
    Ok(root)
}

/// Lazily unmounts every mount at or below `dir` (deepest first), e.g. what an engine
/// killed mid-way left behind.
pub fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for p in points {
        let _ = Command::new("umount")
            .args(["-l", &p])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn stop_child(child: &mut Child, wait: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !matches!(wait_with_timeout(child, wait), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The Docker 20.10 CLI from Debian's docker.io (`/usr/local/bin/docker` may be another
/// version first in PATH).
pub fn docker_cli() -> Option<PathBuf> {
    ["/usr/bin/docker"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A `dockerd` of our own: private `--data-root`, `--exec-root`, pidfile, socket and
/// config file; no iptables, no bridge (containers run with `--network none`). Its
/// containers are removed and the daemon stopped on drop.
pub struct Dockerd {
    child: Child,
    pub dir: TempDir,
    pub socket: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    cli: PathBuf,
}

impl Dockerd {
    /// Starts dockerd with `daemon_json` as its config file and waits (30 s) for its API.
    pub fn start(daemon_json: &Value) -> Result<Dockerd> {
        let cli = docker_cli().ok_or_else(|| anyhow!("/usr/bin/docker missing (docker.io)"))?;
        // Short paths: containerd's socket lives below the exec root (108-byte limit).
        let dir = tempfile::Builder::new().prefix("tcd-").tempdir_in("/tmp")?;
        let (data_root, exec_root) = (dir.path().join("data"), dir.path().join("exec"));
        let socket = dir.path().join("d.sock");
        let config = dir.path().join("daemon.json");
        fs::write(&config, serde_json::to_vec_pretty(daemon_json)?)?;
        let log = dir.path().join("dockerd.log");
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
            .arg("--data-root")
            .arg(&data_root)
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--config-file")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log)?)
            .stderr(fs::File::create(dir.path().join("dockerd.err"))?)
            .spawn()
            .context("spawn dockerd")?;
        let mut d = Dockerd {
            child,
            dir,
            socket,
            data_root,
            exec_root,
            cli,
        };
        let start = Instant::now();
        loop {
            if let Some(st) = d.child.try_wait()? {
                bail!("dockerd exited ({st}):\n{}", d.log());
            }
            if d.socket.exists() && d.docker(&["version"], Duration::from_secs(10))?.success() {
                return Ok(d);
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("dockerd: no API after 30 s:\n{}", d.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `docker -H unix://SOCKET ARGS…`.
    pub fn docker(&self, args: &[&str], timeout: Duration) -> Result<RunOutput> {
        let mut cmd = Command::new(&self.cli);
        cmd.arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("cli"));
        run_cmd(&mut cmd, timeout, || {})
    }

    /// `docker` that must succeed; returns its trimmed stdout.
    pub fn docker_ok(&self, args: &[&str], timeout: Duration) -> Result<String> {
        let o = self.docker(args, timeout)?;
        if !o.success() {
            bail!(
                "docker {args:?} failed ({:?}): {}{}",
                o.code(),
                o.stdout,
                o.stderr
            );
        }
        Ok(o.stdout.trim().to_string())
    }

    /// `docker import` of a busybox-static rootfs as image `tag`.
    pub fn import_busybox(&self, tag: &str) -> Result<()> {
        let tmp = tempfile::tempdir()?;
        let root = busybox_rootfs(tmp.path())?;
        let tar = tmp.path().join("rootfs.tar");
        let o = run_cmd(
            Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            Duration::from_secs(60),
            || {},
        )?;
        if !o.success() {
            bail!("tar: {}", o.stderr);
        }
        self.docker_ok(
            &["import", tar.to_str().unwrap_or_default(), tag],
            Duration::from_secs(120),
        )?;
        Ok(())
    }

    /// dockerd's log.
    pub fn log(&self) -> String {
        let a = fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let b = fs::read_to_string(self.dir.path().join("dockerd.err")).unwrap_or_default();
        tail(&format!("{a}{b}"), 60)
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if let Ok(o) = self.docker(&["ps", "-aq"], Duration::from_secs(20)) {
            let ids: Vec<&str> = o.stdout.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.docker(&args, Duration::from_secs(60));
            }
        }
        stop_child(&mut self.child, Duration::from_secs(20));
        unmount_under(self.dir.path());
    }
}

/// Linux capability names by bit number (0..=40).
const CAP_NAMES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The capabilities (`CAP_…`) missing from this process's bounding set: a `--privileged`
/// container asks for every one, and runc fails ("unable to apply caps: operation not
/// permitted") on a machine whose root lacks some (this one has no `CAP_SYS_RESOURCE`).
pub fn missing_caps() -> Vec<String> {
    let bnd = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bnd & (1u64 << i) == 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}

/// A runc wrapper script in `dir` that removes [`missing_caps`] from the bundle's
/// `config.json` on `create`/`run`, then execs runc: lets `--privileged` containers start
/// on a machine whose root lacks a capability (the engine's record still says privileged).
/// `None` when nothing is missing (use runc itself).
pub fn runc_without_missing_caps(dir: &Path) -> Result<Option<PathBuf>> {
    let missing = missing_caps();
    if missing.is_empty() {
        return Ok(None);
    }
    let runc = Command::new("sh")
        .args(["-c", "command -v runc"])
        .output()?;
    let runc = String::from_utf8_lossy(&runc.stdout).trim().to_string();
    let sel: Vec<String> = missing.iter().map(|c| format!(". != \"{c}\"")).collect();
    let script = format!(
        "#!/bin/sh\n# Drops capabilities this machine's root lacks ({}) from the bundle, then runs runc.\n\
         b=\"\"; prev=\"\"\n\
         for a in \"$@\"; do case \"$prev\" in --bundle|-b) b=\"$a\";; esac; prev=\"$a\"; done\n\
         if [ -n \"$b\" ] && [ -f \"$b/config.json\" ]; then\n\
         \x20 jq -c '.process.capabilities |= (if . == null then null else with_entries(.value |= map(select({}))) end)' \
         \"$b/config.json\" > \"$b/.config.json.capfix\" && mv \"$b/.config.json.capfix\" \"$b/config.json\"\n\
         fi\n\
         exec {runc} \"$@\"\n",
        missing.join(" "),
        sel.join(" and ")
    );
    let p = dir.join("runc-capfix");
    fs::write(&p, script)?;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755))?;
    Ok(Some(p))
}

/// A `containerd` of our own (root, state, socket under a temporary directory; the CRI
/// plugin disabled), driven with `ctr`. Extra environment for it (and so for its shims
/// and runtimes) is given at start. Stopped on drop.
pub struct Containerd {
    child: Child,
    pub dir: TempDir,
    pub socket: PathBuf,
    pub namespace: String,
}

impl Containerd {
    pub fn start(env: &[(&str, &str)]) -> Result<Containerd> {
        let dir = tempfile::Builder::new().prefix("tcc-").tempdir_in("/tmp")?;
        let socket = dir.path().join("c.sock");
        let config = dir.path().join("config.toml");
        fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{r}/root\"\nstate = \"{r}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{s}\"\n[ttrpc]\n  address = \"{s}.ttrpc\"\n",
                r = dir.path().display(),
                s = socket.display()
            ),
        )?;
        let mut cmd = Command::new("containerd");
        cmd.arg("--config").arg(&config);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("containerd.log"))?)
            .stderr(fs::File::create(dir.path().join("containerd.err"))?)
            .spawn()
            .context("spawn containerd")?;
        let mut c = Containerd {
            child,
            dir,
            socket,
            namespace: "tiercel-e2e".into(),
        };
        let start = Instant::now();
        loop {
            if let Some(st) = c.child.try_wait()? {
                bail!("containerd exited ({st}):\n{}", c.log());
            }
            if c.socket.exists() && c.ctr(&["version"], Duration::from_secs(10))?.success() {
                return Ok(c);
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("containerd: no API after 30 s:\n{}", c.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `ctr -a SOCKET -n NAMESPACE ARGS…`.
    pub fn ctr(&self, args: &[&str], timeout: Duration) -> Result<RunOutput> {
        let mut cmd = Command::new("ctr");
        cmd.arg("-a")
            .arg(&self.socket)
            .arg("-n")
            .arg(&self.namespace)
            .args(args);
        run_cmd(&mut cmd, timeout, || {})
    }

    pub fn log(&self) -> String {
        let a = fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let b = fs::read_to_string(self.dir.path().join("containerd.err")).unwrap_or_default();
        tail(&format!("{a}{b}"), 60)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Ok(o) = self.ctr(&["task", "ls", "-q"], Duration::from_secs(10)) {
            for id in o.stdout.split_whitespace() {
                let _ = self.ctr(&["task", "kill", "-s", "KILL", id], Duration::from_secs(10));
                let _ = self.ctr(&["task", "rm", "-f", id], Duration::from_secs(10));
            }
        }
        if let Ok(o) = self.ctr(&["container", "ls", "-q"], Duration::from_secs(10)) {
            for id in o.stdout.split_whitespace() {
                let _ = self.ctr(&["container", "rm", id], Duration::from_secs(10));
            }
        }
        stop_child(&mut self.child, Duration::from_secs(10));
        unmount_under(self.dir.path());
    }
}

/// An example rule file of the repository (`examples/rules/…`), or `None` after a skip.
fn example_rules(test: &str, rel: &str) -> Option<PathBuf> {
    let p = example(&format!("rules/{rel}"));
    require(test, &format!("examples/rules/{rel} missing"), p.is_file()).then_some(p)
}

/// The seed's rule, corrected: `examples/rules/seed-write-below-binary-dir.yaml`.
pub fn seed_rules(test: &str) -> Option<PathBuf> {
    example_rules(test, "seed-write-below-binary-dir.yaml")
}

/// The enforcement preset: `examples/rules/protect-binary-dirs.yaml`.
pub fn preset_rules(test: &str) -> Option<PathBuf> {
    example_rules(test, "protect-binary-dirs.yaml")
}

/// A busybox bundle with the probe whose seccomp profile comes from `tiercel profile` for
/// this supervisor.
pub fn bundle_for(env: &Env, sup: &Supervisor) -> Bundle {
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    let prof = sup
        .profile()
        .unwrap_or_else(|e| panic!("tiercel profile: {e:#}\n{}", sup.dump()));
    b.set_seccomp(prof);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_probe_lines() {
        let a = parse_attempts(
            "RESULT open_creat ok\nRACE x tries=1 bypass=0\nRESULT chmod errno EPERM 1\nRESULT i386_open signal 31\nSUMMARY attempts=3\n",
        );
        assert_eq!(a.len(), 3);
        assert!(a[0].ok());
        assert_eq!(a[1].result, "EPERM");
        assert_eq!(a[2].result, "signal 31");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
