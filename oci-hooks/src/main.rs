//! `tiercel-hook`: the OCI hook that gives containers a tiercel supervisor on demand
//! (podman, CRI-O; hooks.d JSON in `oci-hooks/hooks.d/`).
//!
//! `tiercel-hook createRuntime` (or `prestart`), state JSON on stdin: when the bundle's
//! `config.json` sends seccomp notifications to a socket of tiercel's (the configured
//! socket, or any socket in its directory), make sure a supervisor listens there —
//! start `tiercel supervise --socket …` if nobody does, and wait for it, bounded by
//! `start_timeout_ms`. Both stages run after `create` began and *before* runc connects
//! to `listenerPath` and hands over the listener fd, so the supervisor is ready in time.
//! crun connects before any hook runs: with crun the supervisor must already run.
//!
//! `tiercel-hook poststop`: forget the container; when it was the last container on a
//! supervisor this hook started, stop that supervisor and remove its socket.
//!
//! State: `<state_dir>/c/<id>.json` per container, `<state_dir>/s/<key>.pid` per
//! supervisor the hook started, `<state_dir>/lock` serialising hook runs.
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
/// path belongs to tiercel (the configured socket or its directory).
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
    let ours =
        path == cfg.socket || (path.parent().is_some() && path.parent() == cfg.socket.parent());
    (notifies && ours && path.is_absolute()).then_some(path)
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

    if !engines::supervisor_listening(&socket) {
        let left = cfg.start_timeout.saturating_sub(started.elapsed());
        match spawn_supervisor(
            cfg,
            &socket,
            &dirs.supervisors.join(format!("{key}.log")),
            left,
        ) {
            Ok(pid) => {
                std::fs::write(&pid_file, format!("{pid}\n"))
                    .with_context(|| format!("writing {}", pid_file.display()))?;
                record["started_supervisor"] = json!(pid);
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
    std::fs::write(&file, record.to_string())
        .with_context(|| format!("writing {}", file.display()))?;
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
/// it listens. Returns its pid.
fn spawn_supervisor(
    cfg: &IntegrationConfig,
    socket: &Path,
    log: &Path,
    budget: Duration,
) -> anyhow::Result<u32> {
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
            return Ok(child.id());
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
    let Ok(pid_text) = std::fs::read_to_string(&pid_file) else {
        return Ok(()); // a supervisor the hook did not start: not ours to stop
    };
    let _ = std::fs::remove_file(&pid_file);
    if let Some(pid) = pid_text
        .trim()
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        if is_our_supervisor(pid.as_raw_nonzero().get(), &socket) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let end = Instant::now() + Duration::from_secs(3);
            while Path::new(&format!("/proc/{}", pid.as_raw_nonzero())).exists()
                && Instant::now() < end
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
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
        assert!(tiercel_listener(&cfg, &c("/run/tiercel/c1.sock", "SCMP_ACT_NOTIFY")).is_some());
        assert!(tiercel_listener(&cfg, &c("/run/other/agent.sock", "SCMP_ACT_NOTIFY")).is_none());
        assert!(
            tiercel_listener(&cfg, &c("/run/tiercel/tiercel.sock", "SCMP_ACT_ALLOW")).is_none()
        );
        assert!(tiercel_listener(&cfg, &json!({})).is_none());
    }

    #[test]
    fn keys() {
        assert_eq!(
            socket_key(Path::new("/run/tiercel/a b.sock")),
            "run_tiercel_a_b.sock"
        );
    }
}
