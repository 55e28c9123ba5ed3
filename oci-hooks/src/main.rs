//! `tiercel-hook`: the OCI hook that gives containers a tiercel supervisor on demand
//! (podman, CRI-O; hooks.d JSON in `oci-hooks/hooks.d/`).
//!
//! `tiercel-hook createRuntime` (or `prestart`), state JSON on stdin: when the bundle's
//! `config.json` sends seccomp notifications to the configured `socket` — exactly that
//! path: a container names its `listenerPath` itself, so any other name (even in the
//! same directory) is left alone and gets no root supervisor from the hook — make sure a
//! supervisor listens there: start `tiercel supervise --socket …` if nobody does and no
//! supervisor the hook started is still alive (one per socket, never a second), and wait
//! for it, bounded by `start_timeout_ms`. Both stages run after `create` began and *before* runc connects
//! to `listenerPath` and hands over the listener fd, so the supervisor is ready in time.
//! crun connects before any hook runs: with crun the supervisor must already run.
//!
//! `tiercel-hook poststop`: forget the container; when it was the last container on a
//! supervisor this hook started, stop exactly that supervisor — the process recorded
//! with its pid *and* start time (so a reused pid is never signalled) — and remove its
//! socket.
//!
//! State: `<state_dir>/c/<id>.json` per container, `<state_dir>/s/<key>.pid` per
//! supervisor the hook started (`{"pid", "start", "socket"}`), `<state_dir>/lock`
//! serialising hook runs. A supervisor whose pid file cannot be written, or whose
//! container record cannot be, is stopped again at once (no unrecorded supervisors).
//!
//! Never hangs container start: every wait is bounded; output never goes to the runtime's
//! pipes from the started supervisor (its stdio goes to `<state_dir>/s/<key>.log`).
//!
//! A supervisor started here starts its keeper like any `tiercel supervise` (see the
//! supervisor's `keeper.rs`), so the containers it watches survive it: if it dies, audit
//! containers continue after the bounded wait and enforce ones wait (or are refused, per
//! `--keeper-enforce` in `supervisor_args`); the next hook run that finds nobody listening on
//! the socket starts a supervisor, which takes the running containers back from the keeper.

// `unsafe` is allowed only in the supervisor's `sys.rs` (ARCHITECTURE.md, crate table).
#![deny(unsafe_code)]

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

mod precreate;

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use tiercel::engines::{self, IntegrationConfig, OnMissing};

/// Largest state JSON accepted on stdin.
const MAX_STATE: u64 = 4 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(stage) = args.first() else {
        eprintln!(
            "usage: tiercel-hook createRuntime|prestart|poststop < state.json\n       \
             tiercel-hook precreate < config.json > config.json"
        );
        return ExitCode::from(2);
    };
    match run(stage) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tiercel-hook {stage}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(stage: &str) -> anyhow::Result<()> {
    if stage == "precreate" {
        // podman only: the config on stdin, the edited config on stdout (precreate.rs).
        return precreate::run();
    }
    let mut raw = String::new();
    std::io::stdin()
        .take(MAX_STATE)
        .read_to_string(&mut raw)
        .context("reading the container state from stdin")?;
    let state: Value = serde_json::from_str(&raw).context("parsing the container state")?;
    let id = state
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| valid_id(s))
        .context("the state has no usable container id")?
        .to_owned();
    let cfg = IntegrationConfig::load()?;
    match stage {
        "createRuntime" | "prestart" => start(&cfg, &id, &state),
        "poststop" => stop(&cfg, &id),
        other => bail!("unsupported stage {other:?} (createRuntime, prestart or poststop)"),
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s != "."
        && s != ".."
}

/// The listenerPath this container's seccomp profile uses, if it has NOTIFY rules and the
/// path is the configured socket (exactly).
fn tiercel_listener(cfg: &IntegrationConfig, config: &Value) -> Option<PathBuf> {
    let seccomp = config.get("linux")?.get("seccomp")?;
    let path = PathBuf::from(seccomp.get("listenerPath")?.as_str()?);
    let notifies = seccomp
        .get("syscalls")
        .and_then(Value::as_array)
        .is_some_and(|r| {
            r.iter()
                .any(|r| r.get("action") == Some(&json!("SCMP_ACT_NOTIFY")))
        });
    (notifies && path == cfg.socket && path.is_absolute()).then_some(path)
}

/// A listenerPath in the configured socket's directory that is not the socket itself.
fn other_listener_in_our_dir(cfg: &IntegrationConfig, config: &Value) -> Option<String> {
    let path = config
        .get("linux")?
        .get("seccomp")?
        .get("listenerPath")?
        .as_str()?;
    let p = Path::new(path);
    (p != cfg.socket && p.parent().is_some() && p.parent() == cfg.socket.parent())
        .then(|| path.to_owned())
}

/// A supervisor the hook started: its pid and its start time (`/proc/<pid>/stat` field
/// 22, clock ticks since boot), which tells it from a later process with the same pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Started {
    pid: i32,
    start: u64,
}

/// The start time of `pid` (`None` when it is gone).
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm (field 2) may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn write_pid_file(path: &Path, s: Started, socket: &Path) -> std::io::Result<()> {
    std::fs::write(
        path,
        json!({"pid": s.pid, "start": s.start, "socket": socket}).to_string(),
    )
}

/// The supervisor a pid file names, if that very process still runs `supervise` on
/// `socket` (same pid, same start time, same command line).
fn live_supervisor(pid_file: &Path, socket: &Path) -> Option<Started> {
    let text = engines::read_bounded(pid_file).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let s = Started {
        pid: i32::try_from(v.get("pid")?.as_i64()?).ok()?,
        start: v.get("start")?.as_u64()?,
    };
    (s.pid > 0 && start_time(s.pid) == Some(s.start) && is_our_supervisor(s.pid, socket))
        .then_some(s)
}

/// Stops a supervisor the hook started (TERM, bounded wait for it to go).
fn stop_supervisor(s: Started) {
    let Some(pid) = rustix::process::Pid::from_raw(s.pid) else {
        return;
    };
    if start_time(s.pid) != Some(s.start) {
        return;
    }
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let end = Instant::now() + Duration::from_secs(3);
    while start_time(s.pid) == Some(s.start) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A file name standing for a socket path.
fn socket_key(socket: &Path) -> String {
    socket
        .to_string_lossy()
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Dirs {
    containers: PathBuf,
    supervisors: PathBuf,
    _lock: std::fs::File,
}

/// Creates the state directories and takes the lock (bounded wait).
fn lock_state(cfg: &IntegrationConfig, budget: Duration) -> anyhow::Result<Dirs> {
    let containers = cfg.state_dir.join("c");
    let supervisors = cfg.state_dir.join("s");
    for d in [&containers, &supervisors] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let lock_path = cfg.state_dir.join("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    let end = Instant::now() + budget;
    loop {
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR)
                if Instant::now() < end =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => bail!("locking {}: {e}", lock_path.display()),
        }
    }
    Ok(Dirs {
        containers,
        supervisors,
        _lock: lock,
    })
}

fn start(cfg: &IntegrationConfig, id: &str, state: &Value) -> anyhow::Result<()> {
    let started = Instant::now();
    let bundle = state
        .get("bundle")
        .and_then(Value::as_str)
        .context("the state has no bundle")?;
    let config = engines::read_bundle_config(&Path::new(bundle).join("config.json"))
        .with_context(|| format!("reading {bundle}/config.json"))?;
    let Some(socket) = tiercel_listener(cfg, &config) else {
        if let Some(other) = other_listener_in_our_dir(cfg, &config) {
            eprintln!(
                "tiercel-hook: container {id}: listenerPath {other} is not the configured \
                 socket {}; the hook starts no supervisor for it",
                cfg.socket.display()
            );
        }
        return Ok(()); // not a tiercel-watched container
    };
    let (mode, note) = cfg.container_mode(config.get("annotations"));
    if let Some(n) = note {
        eprintln!("tiercel-hook: container {id}: {n}");
    }
    let dirs = lock_state(cfg, cfg.start_timeout)?;
    let key = socket_key(&socket);
    let pid_file = dirs.supervisors.join(format!("{key}.pid"));
    let mut record = json!({"id": id, "socket": socket, "bundle": bundle});

    let mut spawned: Option<Started> = None;
    if !engines::supervisor_listening(&socket) {
        let left = cfg.start_timeout.saturating_sub(started.elapsed());
        // A supervisor this hook started for the socket and that still runs (starting,
        // or stuck): never a second one; wait for it within the budget.
        let res = match live_supervisor(&pid_file, &socket) {
            Some(s) => {
                if engines::wait_listening(&socket, left) {
                    Ok(None)
                } else {
                    Err(anyhow::anyhow!(
                        "the supervisor the hook started on {} (pid {}) does not listen",
                        socket.display(),
                        s.pid
                    ))
                }
            }
            None => spawn_supervisor(
                cfg,
                &socket,
                &dirs.supervisors.join(format!("{key}.log")),
                left,
            )
            .map(Some),
        };
        match res {
            Ok(None) => {}
            Ok(Some(s)) => {
                if let Err(e) = write_pid_file(&pid_file, s, &socket) {
                    stop_supervisor(s);
                    return Err(e).with_context(|| format!("writing {}", pid_file.display()));
                }
                record["started_supervisor"] = json!(s.pid);
                spawned = Some(s);
            }
            Err(e) => match cfg.on_missing_for(mode) {
                OnMissing::FailClosed => {
                    return Err(e.context(format!(
                        "container {id}: no supervisor on {}",
                        socket.display()
                    )))
                }
                OnMissing::FailOpen => {
                    // The runtime itself will still refuse to start a container whose
                    // listenerPath nobody serves; say so plainly.
                    eprintln!(
                        "tiercel-hook: WARNING: container {id}: {e:#}; on_missing_supervisor is \
                         fail-open, but the runtime will fail to connect to {}",
                        socket.display()
                    );
                    return Ok(());
                }
            },
        }
    }
    let file = dirs.containers.join(format!("{id}.json"));
    if let Err(e) = std::fs::write(&file, record.to_string()) {
        // No record, no poststop that would stop it: stop it now.
        if let Some(s) = spawned {
            stop_supervisor(s);
            let _ = std::fs::remove_file(&pid_file);
            let _ = std::fs::remove_file(&socket);
        }
        return Err(e).with_context(|| format!("writing {}", file.display()));
    }
    Ok(())
}

/// Resolves the supervisor binary: the configured path, or `tiercel` next to this hook,
/// or on PATH.
fn supervisor_binary(cfg: &IntegrationConfig) -> PathBuf {
    if cfg.supervisor.components().count() > 1 {
        return cfg.supervisor.clone();
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        let p = dir.join(&cfg.supervisor);
        if p.is_file() {
            return p;
        }
    }
    cfg.supervisor.clone()
}

/// Starts `tiercel supervise` detached (own process group, stdio to `log`) and waits until
/// it listens. Returns its pid and start time.
fn spawn_supervisor(
    cfg: &IntegrationConfig,
    socket: &Path,
    log: &Path,
    budget: Duration,
) -> anyhow::Result<Started> {
    if cfg.rules.is_empty() {
        bail!("no rule files configured (`rules:` in the config, or TIERCEL_RULES)");
    }
    let bin = supervisor_binary(cfg);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    // Where this run's output starts in the (appended) log.
    let log_start = out.metadata().map(|m| m.len()).unwrap_or(0);
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("supervise")
        .arg("--socket")
        .arg(socket)
        .arg("--mode")
        .arg(cfg.mode.to_string());
    for r in &cfg.rules {
        cmd.arg("-r").arg(r);
    }
    if let Some(c) = &cfg.config {
        cmd.arg("-c").arg(c);
    }
    cmd.args(&cfg.supervisor_args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let end = Instant::now() + budget;
    loop {
        if engines::supervisor_listening(socket) {
            let pid = i32::try_from(child.id()).context("pid out of range")?;
            match start_time(pid) {
                Some(start) => return Ok(Started { pid, start }),
                None => bail!("{} supervise exited right after listening", bin.display()),
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Its own words (e.g. a rule file's error with file:line:col and the item).
            bail!(
                "{} supervise exited ({status}) before listening; {}:\n{}",
                bin.display(),
                log.display(),
                log_since(log, log_start)
            );
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{} supervise did not listen on {} within {:?}; see {}",
                bin.display(),
                socket.display(),
                budget,
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `log` holds from byte `start` on, at most [`LOG_EXCERPT`] bytes (the end).
fn log_since(log: &Path, start: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(log) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = start.max(len.saturating_sub(LOG_EXCERPT));
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(from)).is_ok() {
        let _ = f.take(LOG_EXCERPT).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).trim_end().to_string()
}

/// Most of a failed supervisor's log quoted in the hook's error.
const LOG_EXCERPT: u64 = 16 << 10;

fn stop(cfg: &IntegrationConfig, id: &str) -> anyhow::Result<()> {
    let dirs = lock_state(cfg, Duration::from_secs(5))?;
    let file = dirs.containers.join(format!("{id}.json"));
    let Ok(text) = engines::read_bounded(&file) else {
        return Ok(()); // never watched through this hook
    };
    let _ = std::fs::remove_file(&file);
    let record: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let Some(socket) = record
        .get("socket")
        .and_then(Value::as_str)
        .map(PathBuf::from)
    else {
        return Ok(());
    };
    // Other containers still on this socket keep their supervisor.
    let in_use = std::fs::read_dir(&dirs.containers)?
        .filter_map(Result::ok)
        .filter_map(|e| engines::read_bounded(&e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
        .any(|r| r.get("socket").and_then(Value::as_str) == socket.to_str());
    if in_use {
        return Ok(());
    }
    let key = socket_key(&socket);
    let pid_file = dirs.supervisors.join(format!("{key}.pid"));
    if !pid_file.exists() {
        return Ok(()); // a supervisor the hook did not start: not ours to stop
    }
    // Exactly the process the hook started (pid and start time and command line); a
    // reused pid or another supervisor on the socket is left alone.
    let ours = live_supervisor(&pid_file, &socket);
    let _ = std::fs::remove_file(&pid_file);
    if let Some(s) = ours {
        stop_supervisor(s);
    }
    // The socket goes only when nobody listens on it any more.
    if !engines::supervisor_listening(&socket) {
        if let Ok(m) = std::fs::symlink_metadata(&socket) {
            use std::os::unix::fs::FileTypeExt as _;
            if m.file_type().is_socket() {
                let _ = std::fs::remove_file(&socket);
            }
        }
    }
    Ok(())
}

/// Guards against pid reuse: the process must be a `supervise` bound to `socket`.
fn is_our_supervisor(pid: i32, socket: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let sock = socket.to_string_lossy();
    args.iter().any(|a| *a == b"supervise") && args.iter().any(|a| *a == sock.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("abc-123_x.y"));
        assert!(!valid_id("../etc"));
        assert!(!valid_id(".."));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
    }

    #[test]
    fn listener_detection() {
        let cfg = IntegrationConfig {
            socket: "/run/tiercel/tiercel.sock".into(),
            ..Default::default()
        };
        let c = |path: &str, action: &str| {
            json!({"linux": {"seccomp": {"listenerPath": path,
                "syscalls": [{"names": ["openat"], "action": action}]}}})
        };
        assert_eq!(
            tiercel_listener(&cfg, &c("/run/tiercel/tiercel.sock", "SCMP_ACT_NOTIFY")),
            Some(PathBuf::from("/run/tiercel/tiercel.sock"))
        );
        // Issue 16 (a): another name in the socket's directory is not ours.
        assert!(tiercel_listener(&cfg, &c("/run/tiercel/c1.sock", "SCMP_ACT_NOTIFY")).is_none());
        assert_eq!(
            other_listener_in_our_dir(&cfg, &c("/run/tiercel/c1.sock", "SCMP_ACT_NOTIFY")),
            Some("/run/tiercel/c1.sock".into())
        );
        assert!(
            tiercel_listener(&cfg, &c("/run/tiercel/tiercel.sock/", "SCMP_ACT_NOTIFY"))
                .is_some_and(|p| p == cfg.socket)
        );
        assert!(
            tiercel_listener(&cfg, &c("/run/tiercel/./tiercel.sock", "SCMP_ACT_NOTIFY"))
                .is_some_and(|p| p == cfg.socket)
        );
        assert!(tiercel_listener(&cfg, &c("/run/other/agent.sock", "SCMP_ACT_NOTIFY")).is_none());
        assert!(
            tiercel_listener(&cfg, &c("/run/tiercel/tiercel.sock", "SCMP_ACT_ALLOW")).is_none()
        );
        assert!(tiercel_listener(&cfg, &json!({})).is_none());
    }

    /// A pid file names exactly one process: same pid, same start time, `supervise` on
    /// the socket in its command line. A process on a reused pid is not ours.
    #[test]
    fn pid_files_name_exactly_the_started_process() {
        let dir = std::env::temp_dir().join(format!("tiercel-hook-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("s.sock");
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg("sleep 30; true")
            .arg("supervise")
            .arg(&socket)
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // Until the child has exec'd, its command line is still this test binary's.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.windows(9).any(|w| w == b"supervise"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let start = start_time(pid).unwrap();
        let pf = dir.join("x.pid");
        write_pid_file(&pf, Started { pid, start }, &socket).unwrap();
        assert_eq!(live_supervisor(&pf, &socket), Some(Started { pid, start }));
        assert_eq!(live_supervisor(&pf, &dir.join("other.sock")), None);
        // Same pid, another start time: a reused pid.
        write_pid_file(
            &pf,
            Started {
                pid,
                start: start + 1,
            },
            &socket,
        )
        .unwrap();
        assert_eq!(live_supervisor(&pf, &socket), None);
        stop_supervisor(Started {
            pid,
            start: start + 1,
        });
        assert_eq!(
            start_time(pid),
            Some(start),
            "a reused pid is never signalled"
        );
        // The old plain-pid format names nothing.
        std::fs::write(&pf, format!("{pid}\n")).unwrap();
        assert_eq!(live_supervisor(&pf, &socket), None);
        stop_supervisor(Started { pid, start });
        let status = child.wait().unwrap();
        assert!(!status.success(), "stopped by TERM");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys() {
        assert_eq!(
            socket_key(Path::new("/run/tiercel/a b.sock")),
            "run_tiercel_a_b.sock"
        );
    }
}
