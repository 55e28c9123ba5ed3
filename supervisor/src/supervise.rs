//! `tiercel supervise`: the daemon. Loads rules, listens on the `listenerPath` socket,
//! runs one session per received listener fd, writes alerts; SIGINT/SIGTERM end it
//! (outputs flushed, socket removed).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use tiercel_rules::output::AlertOptions;
use tiercel_rules::priority::Priority;
use tiercel_rules::program::{Program, RuleMatching};

use crate::config::{self, FileConfig};
use crate::decide::{parse_errno, DenySpec, Mode, Policy};
use crate::server;
use crate::session::{Engine, EngineCell, Stats};
use crate::sinks::{SinkConfig, Sinks};
use crate::sys;

/// Arguments of `tiercel supervise`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SuperviseArgs {
    /// The listenerPath socket to listen on (created; parent directory too).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Falco rule files or directories (their .yaml/.yml files in name order), loaded in
    /// order (like `falco -r`).
    #[arg(short = 'r', long = "rules", value_name = "RULES")]
    pub rules: Vec<PathBuf>,
    /// audit: report only; enforce: refuse calls matching a --deny selector.
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<Mode>,
    /// Which matches deny in enforce mode: rule:NAME, tag:TAG or priority:P (P or more
    /// severe), optionally with its own errno and an action: `rule:NAME=EROFS`,
    /// `tag:T1,action=kill-process`, `priority:P,errno=EACCES,action=kill-container`.
    /// Repeatable; the first selector that selects a rule decides its errno and action.
    #[arg(long = "deny", value_name = "SELECTOR", value_parser = parse_selector)]
    pub deny: Vec<DenySpec>,
    /// The errno a denied call fails with (name or number; default EPERM).
    #[arg(long, value_name = "NAME")]
    pub errno: Option<String>,
    /// Append one Falco JSON alert per line to FILE.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// A YAML config file (Falco-style keys plus `tiercel:`); flags override it.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Alert on the first matching rule (Falco's default) or on all.
    #[arg(long, value_name = "first|all", value_parser = parse_matching)]
    pub rule_matching: Option<RuleMatching>,
    /// Let a container's `io.tiercel.mode` annotation / listenerMetadata lower the mode.
    #[arg(long)]
    pub allow_mode_downgrade: bool,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}
fn parse_selector(s: &str) -> Result<DenySpec, String> {
    s.parse()
}
fn parse_matching(s: &str) -> Result<RuleMatching, String> {
    config::parse_rule_matching(s)
}

/// Everything a running supervisor needs (built from flags and the config file).
#[derive(Debug)]
pub struct SupervisorConfig {
    pub socket: PathBuf,
    pub program: Program,
    pub matching: RuleMatching,
    pub policy: Policy,
    pub alert_options: AlertOptions,
    pub sinks: SinkConfig,
    /// Falco's `webserver` (off unless the config has the block).
    pub web: crate::web::WebConfig,
    /// Falco's `metrics`.
    pub metrics: crate::metrics::MetricsConfig,
}

/// A running supervisor (library form of `tiercel supervise`, used by tests).
pub struct Supervisor {
    socket: PathBuf,
    shutdown_tx: UnixStream,
    accept: Option<JoinHandle<()>>,
    sinks: Option<Sinks>,
    stats: Arc<Stats>,
    engine: Arc<EngineCell>,
    rules_loaded: Arc<std::sync::atomic::AtomicU64>,
    web: Option<crate::web::WebServer>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Binds the socket, starts the outputs and the accept loop.
    pub fn start(cfg: SupervisorConfig) -> anyhow::Result<Supervisor> {
        sys::notif_sizes().context("this kernel has no seccomp user notification")?;
        let sinks = Sinks::start(cfg.sinks).context("opening alert outputs")?;
        let listener = server::bind(&cfg.socket)
            .with_context(|| format!("listening on {}", cfg.socket.display()))?;
        let stats = Arc::new(Stats::default());
        let rules_loaded = Arc::new(std::sync::atomic::AtomicU64::new(
            cfg.program.rules().len() as u64
        ));
        let sources = crate::metrics::Sources {
            start: std::time::SystemTime::now(),
            stats: stats.clone(),
            sinks: sinks.stats().clone(),
            outputs: sinks.output_stats().map(|(n, s)| (n, s.clone())).collect(),
            rules: sinks.rule_counters().clone(),
            rules_loaded: rules_loaded.clone(),
        };
        let web = if cfg.web.enabled {
            Some(crate::web::start(&cfg.web, &cfg.metrics, sources.clone())?)
        } else {
            None
        };
        crate::web::start_snapshots(
            &cfg.metrics,
            sources,
            sinks.sender(),
            crate::session::hostname(),
        )?;
        let engine = EngineCell::new(Engine::new(
            cfg.program,
            cfg.matching,
            cfg.policy,
            cfg.alert_options,
            sinks.sender(),
            stats.clone(),
        ));
        let cell = engine.clone();
        let (shutdown_tx, shutdown_rx) = UnixStream::pair().context("socketpair")?;
        let shutdown_rx = Arc::new(shutdown_rx);
        let accept = std::thread::Builder::new()
            .name("tiercel-accept".into())
            .spawn(move || server::accept_loop(listener, engine, shutdown_rx))
            .context("starting the accept thread")?;
        Ok(Supervisor {
            socket: cfg.socket,
            shutdown_tx,
            accept: Some(accept),
            sinks: Some(sinks),
            stats,
            engine: cell,
            rules_loaded,
            web,
        })
    }

    /// Where the web server listens, when it runs.
    pub fn web_addr(&self) -> Option<std::net::SocketAddr> {
        self.web.as_ref().map(|w| w.addr)
    }

    /// Swaps in new rules and policy (SIGHUP). Running sessions pick them up at their
    /// next notification; the socket and the outputs stay as they are.
    pub fn reload(&self, cfg: SupervisorConfig) {
        let Some(sinks) = &self.sinks else { return };
        if cfg.socket != self.socket {
            tracing::warn!("the socket path changed; restart the supervisor to move it");
        }
        self.rules_loaded.store(
            cfg.program.rules().len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.engine.store(Engine::new(
            cfg.program,
            cfg.matching,
            cfg.policy,
            cfg.alert_options,
            sinks.sender(),
            self.stats.clone(),
        ));
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Waits until everything queued so far is written to the outputs.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.sinks.as_ref().is_some_and(|s| s.flush(timeout))
    }

    /// SIGUSR1: files are reopened and programs re-spawned before their next alert.
    pub fn reopen_outputs(&self) {
        if let Some(s) = &self.sinks {
            s.reopen();
        }
    }

    /// Stops accepting, ends the sessions (their containers' notified calls then fail
    /// with ENOSYS), flushes and closes the outputs, removes the socket.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = (&self.shutdown_tx).write_all(&[1]);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        server::remove_socket(&self.socket);
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.stats.sessions_active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let s = &self.stats;
        tracing::info!(
            sessions = s.sessions_started.load(Ordering::Relaxed),
            notifications = s.notifications.load(Ordering::Relaxed),
            continued = s.continued.load(Ordering::Relaxed),
            denied = s.denied.load(Ordering::Relaxed),
            gone = s.gone.load(Ordering::Relaxed),
            alerts = s.alerts.load(Ordering::Relaxed),
            panics = s.panics.load(Ordering::Relaxed),
            mean_handling_us = s.mean_handling_us().unwrap_or(0.0),
            mean_build_us = s.mean_parts_us().map_or(0.0, |p| p.0),
            mean_eval_us = s.mean_parts_us().map_or(0.0, |p| p.1),
            "supervisor stopped"
        );
        if let Some(sinks) = self.sinks.take() {
            sinks.shutdown(Duration::from_secs(5));
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.stop();
        }
    }
}

/// Loads rule files and directories into a program ([`crate::load::program`]); errors
/// (Falco's diagnostics with positions) fail the start or the reload.
pub fn load_rules(files: &[PathBuf]) -> anyhow::Result<Program> {
    Ok(crate::load::program(files)?)
}

/// Merges the flags over the config file.
pub fn build_config(args: &SuperviseArgs) -> anyhow::Result<SupervisorConfig> {
    let file = match &args.config {
        Some(p) => config::load(p).map_err(anyhow::Error::msg)?,
        None => FileConfig::default(),
    };
    let socket = args
        .socket
        .clone()
        .or(file.socket.clone())
        .context("no socket: pass --socket PATH (or tiercel.socket in the config)")?;
    let rules = if args.rules.is_empty() {
        file.rules_files.clone()
    } else {
        args.rules.clone()
    };
    if rules.is_empty() {
        tracing::warn!("no rule files given (-r): no alerts will be raised");
    }
    let program = load_rules(&rules)?;
    let errno = match &args.errno {
        Some(e) => parse_errno(e).map_err(anyhow::Error::msg)?,
        None => file.errno.unwrap_or(libc::EPERM),
    };
    let deny = if args.deny.is_empty() {
        file.deny.clone()
    } else {
        args.deny.clone()
    };
    let policy = Policy {
        mode: args.mode.or(file.mode).unwrap_or_default(),
        deny,
        errno,
        allow_downgrade: args.allow_mode_downgrade || file.allow_mode_downgrade.unwrap_or(false),
        min_priority: file.priority.unwrap_or(Priority::Debug),
    };
    if policy.mode == Mode::Enforce && policy.deny.is_empty() {
        tracing::warn!(
            "enforce mode without any --deny selector: every rule match is refused (errno {}); \
             add --deny rule:/tag:/priority: selectors to refuse only some",
            crate::decide::errno_name(policy.errno)
        );
    }
    Ok(SupervisorConfig {
        socket,
        program,
        matching: args
            .rule_matching
            .or(file.rule_matching)
            .unwrap_or_default(),
        policy,
        alert_options: file.alert_options(),
        web: file.web.clone(),
        metrics: file.metrics.clone(),
        sinks: SinkConfig {
            json_output: file.json_output.unwrap_or(false),
            outputs: file.outputs.clone(),
            alerts_file: args.alerts.clone(),
            queue: file.queue.or(file.outputs.queue_capacity).unwrap_or(4096),
        },
    })
}

/// Sessions catch panics (answering with the fallback), but the default hook would
/// still print every one: a container able to trigger one could flood stderr.
fn rate_limit_panic_messages() {
    let limit = crate::rate_limit::RateLimit::new(Duration::from_secs(10), 3);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(suppressed) = limit.check() {
            if suppressed > 0 {
                eprintln!("tiercel: {suppressed} panic message(s) suppressed");
            }
            previous(info);
        }
    }));
}

/// Runs `tiercel supervise` until SIGINT or SIGTERM (SIGHUP reloads rules and policy;
/// SIGUSR1 reopens output files and re-spawns output programs, as in Falco).
pub fn run(args: SuperviseArgs) -> anyhow::Result<()> {
    // Block the signals before any thread starts, so only the sigwait below takes them.
    let signals = sys::block_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1])
        .context("blocking signals")?;
    rate_limit_panic_messages();
    let cfg = build_config(&args)?;
    let rules = cfg.program.rules().len();
    let mode = cfg.policy.mode;
    let sup = Supervisor::start(cfg)?;
    tracing::info!(
        socket = %sup.socket().display(),
        rules,
        mode = %mode,
        "tiercel supervisor ready on {}",
        sup.socket().display()
    );
    loop {
        let sig = signals.wait().context("waiting for signals")?;
        if sig == libc::SIGUSR1 {
            sup.reopen_outputs();
            tracing::info!("SIGUSR1: outputs reopened");
            continue;
        }
        if sig != libc::SIGHUP {
            tracing::info!(signal = sig, "stopping");
            break;
        }
        // Falco reloads on SIGHUP: rules and policy are re-read; on any error the
        // running rules stay.
        match build_config(&args) {
            Ok(cfg) => {
                let rules = cfg.program.rules().len();
                let mode = cfg.policy.mode;
                sup.reload(cfg);
                tracing::info!(rules, mode = %mode, "rules reloaded");
            }
            Err(e) => tracing::error!("reload failed, keeping the running rules: {e:#}"),
        }
    }
    sup.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SuperviseArgs,
    }

    #[test]
    fn cli_contract() {
        let c = Cli::try_parse_from([
            "x",
            "--socket",
            "/run/t.sock",
            "-r",
            "a.yaml",
            "-r",
            "b.yaml",
            "--mode",
            "enforce",
            "--deny",
            "rule:R",
            "--deny",
            "priority:warning",
            "--errno",
            "EACCES",
            "--alerts",
            "/tmp/a.json",
            "--config",
            "/etc/c.yaml",
            "--rule-matching",
            "all",
        ])
        .unwrap();
        assert_eq!(c.a.socket, Some(PathBuf::from("/run/t.sock")));
        assert_eq!(c.a.rules.len(), 2);
        assert_eq!(c.a.mode, Some(Mode::Enforce));
        assert_eq!(c.a.deny.len(), 2);
        assert_eq!(c.a.rule_matching, Some(RuleMatching::All));
        assert!(Cli::try_parse_from(["x", "--mode", "loud"]).is_err());
        assert!(Cli::try_parse_from(["x", "--deny", "nope"]).is_err());
    }

    #[test]
    fn flags_override_config() {
        let dir = std::env::temp_dir().join(format!("tiercel-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("c.yaml");
        std::fs::write(
            &cfg,
            "tiercel: {mode: enforce, errno: EROFS, socket: s.sock, deny: ['tag:x']}\nrule_matching: all\n",
        )
        .unwrap();
        let args = SuperviseArgs {
            config: Some(cfg.clone()),
            ..Default::default()
        };
        let c = build_config(&args).unwrap();
        assert_eq!(c.socket, dir.join("s.sock"));
        assert_eq!(c.policy.mode, Mode::Enforce);
        assert_eq!(c.policy.errno, libc::EROFS);
        assert_eq!(c.matching, RuleMatching::All);
        let args = SuperviseArgs {
            config: Some(cfg),
            mode: Some(Mode::Audit),
            errno: Some("EPERM".into()),
            socket: Some("/x.sock".into()),
            ..Default::default()
        };
        let c = build_config(&args).unwrap();
        assert_eq!(c.policy.mode, Mode::Audit);
        assert_eq!(c.policy.errno, libc::EPERM);
        assert_eq!(c.socket, PathBuf::from("/x.sock"));
        assert_eq!(c.policy.deny.len(), 1);
        assert!(
            build_config(&SuperviseArgs::default()).is_err(),
            "no socket"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
