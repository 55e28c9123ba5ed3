//! `tiercel-shim`: an OCI runtime wrapper (like nvidia-container-runtime) in front of runc
//! or crun. On `create` and `run` it adds tiercel's seccomp notification to the bundle's
//! `config.json`; for everything else — and after that edit — it `exec`s the real runtime
//! with the arguments unchanged, so exit codes, stdio and signals are the runtime's own.
//!
//! Configuration: `/etc/tiercel/shim.yaml` (or `$TIERCEL_SHIM_CONFIG`) plus `TIERCEL_*`
//! environment overrides; see `tiercel::engines::IntegrationConfig`. The shim's one own
//! flag, the global `--tiercel-config FILE`, names the file (podman: `--runtime-flag
//! tiercel-config=FILE`, since conmon does not pass the environment on) and is removed
//! from the arguments the runtime gets.
//!
//! Messages go to stderr prefixed `tiercel-shim:` and, when the engine passed `--log`, to
//! the runtime's log file in its format (containerd and conmon show that file's last error
//! when a runtime command fails).

// `unsafe` is allowed only in the supervisor's `sys.rs` (ARCHITECTURE.md, crate table).
#![deny(unsafe_code)]

mod cli;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use tiercel::engines::{self, IntegrationConfig, OnMissing};
use tiercel::profile;

use cli::Invocation;

/// Exit code when the runtime cannot be executed at all.
const EXIT_NO_RUNTIME: u8 = 127;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let inv = cli::parse(&args);
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("TIERCEL_"))
        .collect();
    if let Some(c) = &inv.tiercel_config {
        env.insert(
            "TIERCEL_SHIM_CONFIG".into(),
            c.to_string_lossy().into_owned(),
        );
    }
    let cfg = match IntegrationConfig::load_with(&env) {
        Ok(c) => c,
        Err(e) if inv.edits_bundle() => {
            report(&inv, "error", &format!("configuration: {e}"));
            return ExitCode::FAILURE;
        }
        Err(e) => {
            // Never let a configuration problem break state/kill/delete of running
            // containers: pass through to the runtime we can still determine.
            report(
                &inv,
                "warning",
                &format!("configuration: {e}; passing the command through"),
            );
            let mut c = IntegrationConfig::default();
            if let Some(r) = std::env::var_os("TIERCEL_RUNTIME") {
                c.runtime = r.into();
            }
            c
        }
    };
    if inv.edits_bundle() {
        if let Err(e) = prepare(&cfg, &inv) {
            report(&inv, "error", &format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    }
    exec_runtime(&cfg.runtime, &inv.runtime_args, &inv)
}

/// Writes a message to stderr and to the runtime's `--log` file.
fn report(inv: &Invocation, level: &str, msg: &str) {
    eprintln!("tiercel-shim: {level}: {msg}");
    engines::runtime_log(
        inv.log.as_deref(),
        inv.log_json,
        level,
        &format!("tiercel-shim: {msg}"),
    );
}

/// Replaces this process with the runtime. Returns only on failure.
fn exec_runtime(runtime: &Path, args: &[OsString], inv: &Invocation) -> ExitCode {
    let resolved = resolve(runtime);
    if let (Some(r), Ok(me)) = (&resolved, std::env::current_exe()) {
        let same = match (r.canonicalize(), me.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            report(
                inv,
                "error",
                &format!(
                    "the configured runtime {} is tiercel-shim itself; set runtime: to runc or crun",
                    runtime.display()
                ),
            );
            return ExitCode::from(EXIT_NO_RUNTIME);
        }
    }
    let target = resolved.unwrap_or_else(|| runtime.to_path_buf());
    let err = std::process::Command::new(&target)
        .arg0(runtime.file_name().unwrap_or(runtime.as_os_str()))
        .args(args)
        .exec();
    report(
        inv,
        "error",
        &format!("cannot execute the runtime {}: {err}", target.display()),
    );
    ExitCode::from(EXIT_NO_RUNTIME)
}

/// Finds a bare runtime name on `PATH`.
fn resolve(runtime: &Path) -> Option<PathBuf> {
    if runtime.components().count() > 1 {
        return Some(runtime.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(runtime))
        .find(|p| p.is_file())
}

/// `create`/`run`: adds NOTIFY for the rules' syscalls to the bundle's config.json.
fn prepare(cfg: &IntegrationConfig, inv: &Invocation) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("current directory")?;
    let bundle = match &inv.bundle {
        Some(b) => cwd.join(b),
        None => cwd,
    };
    let config_path = match &inv.config {
        Some(c) => bundle.join(c),
        None => bundle.join("config.json"),
    };
    let id = inv.id.as_deref().unwrap_or("(no id)");
    let mut config = match engines::read_bundle_config(&config_path) {
        Ok(v) => v,
        Err(e) => {
            // The runtime reports a missing or broken config.json in its own words.
            report(
                inv,
                "warning",
                &format!("{}: {e}; left to the runtime", config_path.display()),
            );
            return Ok(());
        }
    };
    let (mode, note) = cfg.container_mode(config.get("annotations"));
    if let Some(n) = note {
        report(inv, "warning", &format!("container {id}: {n}"));
    }

    if !engines::supervisor_listening(&cfg.socket) {
        let msg = format!(
            "no tiercel supervisor is listening on {}",
            cfg.socket.display()
        );
        match cfg.on_missing_for(mode) {
            OnMissing::FailClosed => bail!(
                "{msg}: refusing to start container {id} (mode {mode}, on_missing_supervisor: \
                 fail-closed). Start `tiercel supervise --socket {} -r RULES…`, or set \
                 on_missing_supervisor: fail-open",
                cfg.socket.display()
            ),
            OnMissing::FailOpen => {
                report(
                    inv,
                    "warning",
                    &format!(
                        "{msg}: container {id} starts UNWATCHED — no syscall is monitored or \
                         enforced (mode {mode}, on_missing_supervisor: fail-open)"
                    ),
                );
                return Ok(());
            }
        }
    }

    // Request a mode from the supervisor only when one was asked for: enforce (the
    // configured mode or the annotation; audit is the default, which the supervisor's own
    // mode governs; an annotation reaches it in the state anyway).
    let metadata = (mode == profile::Mode::Enforce).then(|| profile::metadata_for(mode));
    // The supervisor's rule selection (`rules:`, `priority` of its config), so the profile
    // notifies only what the enabled rules need.
    let notes = profile::add_notify_to_config(
        &mut config,
        &cfg.rules,
        cfg.config.as_deref(),
        &cfg.socket,
        metadata.as_deref(),
        mode,
    )
    .with_context(|| format!("container {id}"))?;
    for n in &notes {
        engines::runtime_log(inv.log.as_deref(), inv.log_json, "debug", n);
    }
    engines::write_bundle_config(&config_path, &config)
        .with_context(|| format!("writing {}", config_path.display()))?;

    if let Some(n) = inherited_filters() {
        engines::runtime_log(
            inv.log.as_deref(),
            inv.log_json,
            "warning",
            &format!(
                "tiercel-shim: the runtime already runs under {n} seccomp filter(s); if one of \
                 them notifies an agent (a nested tiercel, another seccomp agent), the kernel \
                 refuses a second listener and the runtime fails with \"device or resource \
                 busy\" (EBUSY): only one notifying filter per process tree is possible"
            ),
        );
    }
    Ok(())
}

/// `Seccomp_filters` of this process when it is non-zero.
fn inherited_filters() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
}
