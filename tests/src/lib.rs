//! Helpers for tiercel's end-to-end tests: busybox-static bundles for runc, a `tiercel
//! supervise` child process on a temporary socket, container runs with timeouts and
//! clean-up, and the in-container probe.
//!
//! Everything here drives real programs (runc, the `tiercel` binary, the static probe); nothing
//! is mocked. A test that cannot run (not root, runc or busybox-static missing, no upstream
//! rules) is skipped through `tiercel_testdata`: one `SKIP` line on the real stderr and in
//! `$TIERCEL_SKIP_LOG` (the summary of `make test` lists them); under CI ([`ci`]) a missing
//! prerequisite is a failure instead.

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

pub use tiercel_testdata::{ci, repo_root};

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
