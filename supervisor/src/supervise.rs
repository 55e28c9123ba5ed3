//! `tiercel supervise`: the daemon. Loads rules, listens on the `listenerPath` socket,
//! runs one session per received listener fd, writes alerts; SIGINT/SIGTERM end it
//! (outputs flushed, socket removed if still ours).
//!
//! With the keeper (the default for the command; see `keeper.rs`): every accepted listener
//! is also handed to `tiercel keeper`, which outlives this process; at start the
//! supervisor takes over every listener the keeper holds (a restart after a crash, or
//! `--takeover` of a running supervisor, which then hands over and exits).

use std::io::Write;
use std::os::fd::AsFd;
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
use crate::keeper::{self, Control, KeeperLink, KeeperPolicy, OnLoss};
use crate::server;
use crate::session::Session;
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
    /// The config file (`-c`, `--config`), `--option`, `-T`, `-t`, `-D` (Falco's).
    #[command(flatten)]
    pub select: crate::load::SelectArgs,
    /// Set a config key (Falco's `-o KEY=VALUE`: `a.b=v`, `l[0]=v`, `l[]=v`, YAML
    /// values); applied after the config files, in order, after `--option`s.
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Alert on the first matching rule (Falco's default) or on all.
    #[arg(long, value_name = "first|all", value_parser = parse_matching)]
    pub rule_matching: Option<RuleMatching>,
    /// Let a container's `io.tiercel.mode` annotation / listenerMetadata lower the mode.
    #[arg(long)]
    pub allow_mode_downgrade: bool,
    /// Take over from a supervisor running on the same socket (an upgrade): it hands
    /// every container over and exits.
    #[arg(long)]
    pub takeover: bool,
    /// Run without the keeper: if this process dies, its containers' notified calls
    /// fail with ENOSYS.
    #[arg(long)]
    pub no_keeper: bool,
    /// How long a call waits for a supervisor that died or stalled before the keeper
    /// answers it (audit: CONTINUE; enforce: see --keeper-enforce), in ms.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub keeper_wait_ms: u64,
    /// Enforce containers while no supervisor answers: wait (for a new supervisor) or
    /// refuse (EPERM after --keeper-wait-ms).
    #[arg(long, value_name = "wait|refuse", default_value = "wait")]
    pub keeper_enforce: OnLoss,
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
    /// The config files read and the rule paths (watched when `watch_config_files`).
    pub watched: Vec<PathBuf>,
    /// Falco's `watch_config_files` (default true).
    pub watch: bool,
    /// `log_level`, `log_stderr`, `log_syslog` as read (applied at start).
    pub log: LogConfig,
}

/// Falco's `log_level`, `log_stderr`, `log_syslog`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub level: String,
    pub stderr: bool,
    pub syslog: bool,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: "info".into(),
            stderr: true,
            syslog: true,
        }
    }
}

/// How the keeper is started and what it does while no supervisor answers.
#[derive(Debug, Clone)]
pub struct KeeperSetup {
    /// The `tiercel` binary (`tiercel keeper`).
    pub bin: PathBuf,
    pub policy: KeeperPolicy,
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
    /// (dev, ino) of the socket we bound: removed at stop only if still ours.
    socket_id: Option<(u64, u64)>,
    /// The keeper's control connection (closed at stop).
    keeper_control: Option<UnixStream>,
    /// The keeper's control and heartbeat threads.
    keeper_threads: Vec<JoinHandle<()>>,
    sinks_config: SinkConfig,
    web_config: crate::web::WebConfig,
    metrics_config: crate::metrics::MetricsConfig,
    /// The notify plan of the rules the supervisor started with.
    started_plan: Vec<String>,
}

fn socket_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

fn spawn_session(session: Session, shutdown: Arc<UnixStream>) {
    let r = std::thread::Builder::new()
        .name("tiercel-session".into())
        .spawn(move || session.run(shutdown.as_fd()));
    if let Err(e) = r {
        tracing::error!("cannot start a session thread: {e}");
    }
}

/// Syscalls `program` needs notified that `plan` (the names of a notify plan) lacks.
pub fn missing_syscalls(plan: &[String], program: &Program) -> Vec<String> {
    crate::profile::notify_plan(program)
        .names()
        .into_iter()
        .filter(|n| !plan.contains(n))
        .collect()
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Binds the socket, starts the outputs and the accept loop (no keeper).
    pub fn start(cfg: SupervisorConfig) -> anyhow::Result<Supervisor> {
        Supervisor::start_with(cfg, None, false)
    }

    /// [`Supervisor::start`], handing the listeners to a keeper started from
    /// `keeper.bin` (taking over those it holds), and with `takeover`, replacing a live
    /// supervisor on the socket (it hands over and exits; it must be a `run` process:
    /// the hand-over raises SIGTERM).
    pub fn start_with(
        cfg: SupervisorConfig,
        keeper: Option<KeeperSetup>,
        takeover: bool,
    ) -> anyhow::Result<Supervisor> {
        sys::notif_sizes().context("this kernel has no seccomp user notification")?;
        let sinks_config = cfg.sinks.clone();
        let started_plan = crate::profile::notify_plan(&cfg.program).names();
        let sinks = Sinks::start(cfg.sinks).context("opening alert outputs")?;
        if takeover {
            // The running supervisor keeps serving until the keeper tells it to hand
            // over; runtimes connecting from now on reach us.
            server::remove_socket(&cfg.socket);
        }
        let listener = server::bind(&cfg.socket).with_context(|| {
            format!(
                "listening on {}{}",
                cfg.socket.display(),
                if keeper.is_some() {
                    " (to replace a running supervisor: --takeover)"
                } else {
                    ""
                }
            )
        })?;
        let bound = socket_id(&cfg.socket);
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
        let mut keeper_threads = Vec::new();
        let mut keeper_control = None;
        let mut link: Option<Arc<KeeperLink>> = None;
        if let Some(k) = &keeper {
            // One retry: a keeper that had nothing left to keep may be exiting right now.
            let attached = keeper::attach(&k.bin, &cfg.socket, k.policy).or_else(|e| {
                tracing::debug!("attaching to the keeper: {e:#}; retrying");
                std::thread::sleep(Duration::from_millis(200));
                keeper::attach(&k.bin, &cfg.socket, k.policy)
            });
            match attached {
                Ok(att) => {
                    let recover = !att.predecessor_alive;
                    tracing::info!(
                        listeners = att.listeners.len(),
                        handover = att.predecessor_alive,
                        "attached to the keeper; {}",
                        k.policy.describe()
                    );
                    for kept in att.listeners {
                        if let Some(s) = server::kept_session(kept, &engine, recover) {
                            spawn_session(s, shutdown_rx.clone());
                        }
                    }
                    keeper_control = att.control.try_clone_sock().ok();
                    let l = att.link.clone();
                    link = Some(att.link);
                    let mut control = att.control;
                    let (cell2, sd) = (engine.clone(), shutdown_rx.clone());
                    keeper_threads.push(
                        std::thread::Builder::new()
                            .name("tiercel-keeper-control".into())
                            .spawn(move || loop {
                                match control.recv_control() {
                                    Some(Control::Listener(kept)) => {
                                        if let Some(s) = server::kept_session(kept, &cell2, false) {
                                            spawn_session(s, sd.clone());
                                        }
                                    }
                                    Some(Control::Handover) => {
                                        tracing::info!("a new supervisor took over: handing over and exiting");
                                        // `run` takes SIGTERM with sigwait and stops.
                                        let _ = sys::raise_process_signal(libc::SIGTERM);
                                        return;
                                    }
                                    None => return,
                                }
                            })
                            .context("starting the keeper control thread")?,
                    );
                    let sd = shutdown_rx.clone();
                    keeper_threads.push(
                        std::thread::Builder::new()
                            .name("tiercel-heartbeat".into())
                            .spawn(move || loop {
                                l.beat();
                                let ms = keeper::HEARTBEAT.as_millis() as i32;
                                match sys::poll2(sd.as_fd(), None, sys::POLLIN, ms) {
                                    Ok((0, _)) => {}
                                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                                    _ => return,
                                }
                            })
                            .context("starting the heartbeat thread")?,
                    );
                }
                Err(e) => tracing::error!(
                    "no keeper ({e:#}): if this supervisor dies, its containers' notified calls fail with ENOSYS"
                ),
            }
        }
        let sd = shutdown_rx.clone();
        let accept = std::thread::Builder::new()
            .name("tiercel-accept".into())
            .spawn(move || server::accept_loop(listener, engine, sd, link))
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
            socket_id: bound,
            keeper_control,
            keeper_threads,
            sinks_config,
            web_config: cfg.web,
            metrics_config: cfg.metrics,
            started_plan,
        })
    }

    /// Where the web server listens, when it runs.
    pub fn web_addr(&self) -> Option<std::net::SocketAddr> {
        self.web.as_ref().map(|w| w.addr)
    }

    /// Swaps in new rules, policy and outputs (SIGHUP, a watched file changed). Running
    /// sessions pick them up at their next notification. Outputs whose configuration
    /// changed are rebuilt: the new ones start and take over once the old ones have written
    /// what they hold (same front queue, counters and metrics snapshots). The socket, the web server and the metrics stay as they are. Running
    /// containers' seccomp filters cannot change: syscalls the new rules need that the
    /// rules the supervisor started with do not notify are warned about.
    pub fn reload(&mut self, cfg: SupervisorConfig) -> anyhow::Result<()> {
        if cfg.socket != self.socket {
            tracing::warn!("the socket path changed; restart the supervisor to move it");
        }
        if cfg.web != self.web_config || cfg.metrics != self.metrics_config {
            tracing::warn!("webserver/metrics changed: restart the supervisor to apply them");
        }
        let missing = missing_syscalls(&self.started_plan, &cfg.program);
        if !missing.is_empty() {
            tracing::warn!(
                "the new rules need syscalls that containers started with the previous profile do not send to tiercel: {} (those containers' filters cannot change; new containers get them with a new profile)",
                missing.join(", ")
            );
        }
        if cfg.sinks != self.sinks_config {
            if let Some(sinks) = self.sinks.as_mut() {
                sinks
                    .replace_outputs(&cfg.sinks, Duration::from_secs(5))
                    .context("opening the new alert outputs")?;
                if cfg.sinks.queue != self.sinks_config.queue {
                    tracing::warn!("the front alert queue keeps its size until a restart");
                }
                self.sinks_config = cfg.sinks.clone();
                tracing::info!("outputs reopened with the new configuration");
            }
        }
        let Some(sinks) = &self.sinks else {
            return Ok(());
        };
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
        Ok(())
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

    /// Stops accepting, ends the sessions, flushes and closes the outputs, removes the
    /// socket (if no successor replaced it). With a keeper, the containers' calls are then
    /// answered by its policy until a supervisor attaches; without one they fail with ENOSYS.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = (&self.shutdown_tx).write_all(&[1]);
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        if self.socket_id.is_some() && socket_id(&self.socket) == self.socket_id {
            server::remove_socket(&self.socket);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.stats.sessions_active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Detach from the keeper only after the sessions ended (no call is left half done).
        if let Some(c) = self.keeper_control.take() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        for t in self.keeper_threads.drain(..) {
            let _ = t.join();
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

/// The config file `args` name (`-c`, else the default when it exists), merged with
/// `--option` and `-o` (see [`config::load_full`]).
pub fn read_file_config(args: &SuperviseArgs) -> anyhow::Result<FileConfig> {
    let path = args.select.config_path();
    let mut overrides = args.select.option.clone();
    overrides.extend(args.set.iter().cloned());
    if path.is_none() && overrides.is_empty() {
        return Ok(FileConfig::default());
    }
    config::load_full(path.as_deref(), &overrides).map_err(anyhow::Error::msg)
}

/// Merges the flags over the config file.
pub fn build_config(args: &SuperviseArgs) -> anyhow::Result<SupervisorConfig> {
    let file = read_file_config(args)?;
    for w in &file.warnings {
        tracing::warn!("{w}");
    }
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
    let more = args.select.items().map_err(anyhow::Error::msg)?;
    let selection = crate::load::Selection::from_config(&file, more);
    let program = crate::load::program_selected(&rules, &selection)?;
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
    let mut watched = file.watch.clone();
    watched.extend(rules.iter().cloned());
    let d = LogConfig::default();
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
        watched,
        watch: file.watch_config_files.unwrap_or(true),
        log: LogConfig {
            level: file.log_level.clone().unwrap_or(d.level),
            stderr: file.log_stderr.unwrap_or(d.stderr),
            syslog: file.log_syslog.unwrap_or(d.syslog),
        },
    })
}

/// A fingerprint of the watched paths: for each, its mtime and size, and for a directory
/// the same of each entry (rules directories, `config_files` directories).
fn fingerprint(paths: &[PathBuf]) -> Vec<(PathBuf, Option<(std::time::SystemTime, u64)>)> {
    let stat = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()))
    };
    let mut out = Vec::new();
    for p in paths {
        out.push((p.clone(), stat(p)));
        if p.is_dir() {
            if let Ok(rd) = std::fs::read_dir(p) {
                let mut entries: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .take(4096)
                    .collect();
                entries.sort();
                for e in entries {
                    let s = stat(&e);
                    out.push((e, s));
                }
            }
        }
    }
    out
}

/// Falco's `watch_config_files`: polls the config and rules files' mtimes every
/// `period`; a change raises SIGHUP (the reload path). Ends when `stop` is set.
fn start_watcher(
    paths: Arc<std::sync::Mutex<Vec<PathBuf>>>,
    period: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tiercel-watch".into())
        .spawn(move || {
            let current = || fingerprint(&paths.lock().map(|p| p.clone()).unwrap_or_default());
            let mut last = current();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(period);
                let now = current();
                if now != last {
                    last = now;
                    tracing::info!("a config or rules file changed: reloading");
                    if let Err(e) = sys::raise_process_signal(libc::SIGHUP) {
                        tracing::error!("cannot signal the reload: {e}");
                    }
                }
            }
        })
        .context("starting the config watcher")
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
    let keeper = if !args.no_keeper {
        let policy = KeeperPolicy {
            wait: Duration::from_millis(args.keeper_wait_ms),
            enforce: args.keeper_enforce,
        };
        tracing::info!("{}", policy.describe());
        Some(KeeperSetup {
            bin: std::env::current_exe().context("locating the tiercel binary")?,
            policy,
        })
    } else {
        tracing::warn!(
            "--no-keeper: if this supervisor dies, its containers' notified calls fail with ENOSYS"
        );
        None
    };
    let rules = cfg.program.rules().len();
    let mode = cfg.policy.mode;
    let watched = Arc::new(std::sync::Mutex::new(cfg.watched.clone()));
    let stop_watch = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = if cfg.watch {
        let period = std::env::var("TIERCEL_WATCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis);
        Some(start_watcher(watched.clone(), period, stop_watch.clone())?)
    } else {
        None
    };
    let mut sup = Supervisor::start_with(cfg, keeper, args.takeover)?;
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
        // Falco reloads on SIGHUP: config, rules and outputs are re-read; on any error
        // the running set stays.
        match build_config(&args) {
            Ok(cfg) => {
                let rules = cfg.program.rules().len();
                let mode = cfg.policy.mode;
                let paths = cfg.watched.clone();
                let level = cfg.log.level.clone();
                match sup.reload(cfg) {
                    Ok(()) => {
                        if let Err(e) = crate::logging::set_level(&level) {
                            tracing::warn!("log_level: {e}");
                        }
                        if let Ok(mut w) = watched.lock() {
                            *w = paths;
                        }
                        tracing::info!(rules, mode = %mode, "rules reloaded");
                    }
                    Err(e) => tracing::error!(
                        "reload failed, keeping the running rules and outputs: {e:#}"
                    ),
                }
            }
            Err(e) => {
                tracing::error!("reload failed, keeping the running rules and outputs: {e:#}")
            }
        }
    }
    stop_watch.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        let _ = w.join();
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
            "-o",
            "a.b=1",
            "-T",
            "net",
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
            select: crate::load::SelectArgs {
                config: Some(cfg.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = build_config(&args).unwrap();
        assert_eq!(c.socket, dir.join("s.sock"));
        assert_eq!(c.policy.mode, Mode::Enforce);
        assert_eq!(c.policy.errno, libc::EROFS);
        assert_eq!(c.matching, RuleMatching::All);
        let args = SuperviseArgs {
            select: crate::load::SelectArgs {
                config: Some(cfg),
                ..Default::default()
            },
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
