//! One session per listener fd (one per container init, one per exec): a dedicated
//! blocking thread driven by `poll` (POLLIN → RECV; POLLHUP → every task using the
//! filter is gone, end). Per notification: build the event (reading target memory) →
//! `ID_VALID` → evaluate the rules → decide → SEND, and only then any output work.
//!
//! Invariants:
//! - every received notification is answered (or found gone) exactly once, even when
//!   the per-notification work panics (last resort: CONTINUE in audit, the deny errno
//!   in enforce);
//! - nothing before SEND allocates in proportion to input beyond the bounded path reads,
//!   locks, or waits on an output;
//! - re-issued notifications (a signal restarted the call: new id, same call) are handled
//!   afresh; alerts are emitted only after a successful SEND, so a cancelled attempt does
//!   not alert and its restart alerts once;
//! - before the container's first `execve` (runc init, crun, startContainer hooks) calls
//!   are never denied: breaking the runtime would break container start.

use std::cell::Cell;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value};
use tiercel_rules::event::{Event, Field, FieldArg};
use tiercel_rules::program::{CompiledRule, Program, RuleMatching};

use crate::adapter;
use crate::decide::{decide, Mode, Policy};
use crate::event::{ContainerInfo, Notif};
use crate::mem::TargetMem;
use crate::rate_limit::RateLimit;
use crate::sinks::{Alert, SinkSender};
use crate::sys::{self, Answer, NotifyFd};

/// Counters shared by all sessions.
#[derive(Debug, Default)]
pub struct Stats {
    pub sessions_started: AtomicU64,
    pub sessions_active: AtomicU64,
    pub notifications: AtomicU64,
    pub continued: AtomicU64,
    pub denied: AtomicU64,
    /// Notifications whose caller went away (ID_VALID false or SEND ENOENT).
    pub gone: AtomicU64,
    pub recv_errors: AtomicU64,
    pub send_errors: AtomicU64,
    pub panics: AtomicU64,
    pub alerts: AtomicU64,
    /// Sum of RECV-return → SEND-return times, ns.
    pub handling_ns: AtomicU64,
    /// Notifications answered while the runtime (pre-exec) was running.
    pub runtime_phase: AtomicU64,
}

impl Stats {
    /// Mean RECV → SEND time in µs, when anything was answered.
    pub fn mean_handling_us(&self) -> Option<f64> {
        let n = self.continued.load(Ordering::Relaxed) + self.denied.load(Ordering::Relaxed);
        (n > 0).then(|| self.handling_ns.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0)
    }
}

/// What every session shares: the compiled rules, the policy, the output queue.
pub struct Engine {
    program: Program,
    matching: RuleMatching,
    policy: Policy,
    deny_table: Vec<bool>,
    enabled: Vec<bool>,
    any_deny: bool,
    sink: SinkSender,
    stats: Arc<Stats>,
    errors: RateLimit,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.program.rules().len())
            .field("matching", &self.matching)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub fn new(
        program: Program,
        matching: RuleMatching,
        policy: Policy,
        sink: SinkSender,
        stats: Arc<Stats>,
    ) -> Engine {
        let deny_table = policy.deny_table(program.rules());
        let enabled = policy.enabled_table(program.rules());
        let any_deny = deny_table.iter().any(|&d| d);
        Engine {
            program,
            matching,
            policy,
            deny_table,
            enabled,
            any_deny,
            sink,
            stats,
            errors: RateLimit::new(Duration::from_secs(5), 5),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}

/// Tracks whether the process that installed the filter has exec'd yet: until then the
/// calls come from the runtime (runc init / crun) and its startContainer hooks.
#[derive(Debug)]
struct RuntimePhase {
    pid: u32,
    exe: Option<(u64, u64)>,
}

impl RuntimePhase {
    fn new(pid: Option<u32>) -> RuntimePhase {
        let exe = pid.and_then(exe_id);
        RuntimePhase {
            pid: pid.unwrap_or(0),
            exe,
        }
    }

    /// True while the installing process still runs the runtime's binary.
    fn active(&mut self) -> bool {
        let Some(initial) = self.exe else {
            return false;
        };
        if exe_id(self.pid) == Some(initial) {
            true
        } else {
            self.exe = None;
            false
        }
    }
}

fn exe_id(pid: u32) -> Option<(u64, u64)> {
    std::fs::metadata(format!("/proc/{pid}/exe"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// One listener fd and what is known about its container.
pub struct Session {
    fd: NotifyFd,
    container: ContainerInfo,
    mode: Mode,
    phase: RuntimePhase,
    engine: Arc<Engine>,
    matches: Vec<usize>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("container", &self.container.id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Consecutive RECV failures after which a session gives up (its container then gets
/// ENOSYS): a fd that only errors would otherwise spin.
const MAX_RECV_ERRORS: u32 = 1000;

impl Session {
    /// `pid` is the process that installed the filter (the state JSON's `pid`).
    pub fn new(
        fd: NotifyFd,
        container: ContainerInfo,
        pid: Option<u32>,
        mode: Mode,
        engine: Arc<Engine>,
    ) -> Session {
        let cap = engine.program.rules().len().min(64);
        Session {
            fd,
            container,
            mode,
            phase: RuntimePhase::new(pid),
            engine,
            matches: Vec::with_capacity(cap),
        }
    }

    /// Runs until every task using the filter is gone or `shutdown` becomes readable.
    pub fn run(mut self, shutdown: BorrowedFd<'_>) {
        let stats = self.engine.stats.clone();
        stats.sessions_started.fetch_add(1, Ordering::Relaxed);
        stats.sessions_active.fetch_add(1, Ordering::Relaxed);
        let sync = self.fd.set_sync_wakeup();
        tracing::info!(
            container = %self.container.id,
            mode = %self.mode,
            sync_wakeup = sync.is_ok(),
            "session started"
        );
        if let Err(e) = sync {
            tracing::debug!(
                "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable ({e}); default wake-up"
            );
        }
        let mut handled = 0u64;
        let mut errors = 0u32;
        loop {
            let (ev, stop) = match sys::poll2(self.fd.as_fd(), Some(shutdown), sys::POLLIN, -1) {
                Ok(r) => r,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => {
                    tracing::error!(container = %self.container.id, "poll: {e}; ending session");
                    break;
                }
            };
            if stop != 0 {
                tracing::debug!(container = %self.container.id, revents = stop, "shutdown");
                break;
            }
            if ev & sys::POLLIN != 0 {
                match self.fd.recv() {
                    Ok(n) => {
                        errors = 0;
                        handled += 1;
                        self.handle(n);
                    }
                    Err(e)
                        if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINTR)) => {}
                    Err(e) => {
                        stats.recv_errors.fetch_add(1, Ordering::Relaxed);
                        errors += 1;
                        if errors >= MAX_RECV_ERRORS {
                            tracing::error!(container = %self.container.id, "RECV keeps failing ({e}); ending session");
                            break;
                        }
                        if let Some(n) = self.engine.errors.check() {
                            tracing::warn!(container = %self.container.id, suppressed = n, "RECV: {e}");
                        }
                    }
                }
                continue;
            }
            if ev & (sys::POLLHUP | sys::POLLERR | sys::POLLNVAL) != 0 {
                tracing::debug!(container = %self.container.id, revents = ev, "listener closed");
                break;
            }
        }
        stats.sessions_active.fetch_sub(1, Ordering::Relaxed);
        tracing::info!(container = %self.container.id, notifications = handled, "session ended");
    }

    /// Handles one notification; never panics, always answers (unless the caller is gone).
    fn handle(&mut self, n: Notif) {
        let start = Instant::now();
        let engine = self.engine.clone();
        engine.stats.notifications.fetch_add(1, Ordering::Relaxed);
        let sent = Cell::new(false);
        let r = catch_unwind(AssertUnwindSafe(|| self.process(&n, &sent, start)));
        if r.is_err() {
            engine.stats.panics.fetch_add(1, Ordering::Relaxed);
            if !sent.get() {
                let answer = match self.mode {
                    Mode::Audit => Answer::Continue,
                    Mode::Enforce if self.phase.exe.is_some() => Answer::Continue,
                    Mode::Enforce => Answer::Errno(engine.policy.errno),
                };
                let _ = self.fd.send(n.id, answer);
            }
            if let Some(s) = engine.errors.check() {
                tracing::error!(
                    container = %self.container.id,
                    nr = n.nr,
                    suppressed = s,
                    "internal error while handling a notification (answered with the fallback)"
                );
            }
            self.matches.clear();
        }
    }

    fn process(&mut self, n: &Notif, sent: &Cell<bool>, start: Instant) {
        let engine = &*self.engine;
        let mem = TargetMem::new(n.pid);
        let event = adapter::build(n, &mem, &self.container);
        // The memory read above is only meaningful if the caller is still waiting on
        // this very call (not a reused TID).
        match self.fd.id_valid(n.id) {
            Ok(true) => {}
            Ok(false) => {
                engine.stats.gone.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                engine.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(s) = engine.errors.check() {
                    tracing::warn!(suppressed = s, "ID_VALID: {e}");
                }
                return;
            }
        }
        let runtime = self.phase.active();
        let mode = if runtime { Mode::Audit } else { self.mode };
        // Enforcement must see a deny rule even when an alert-only rule matched first.
        let matching = if mode == Mode::Enforce && engine.any_deny {
            RuleMatching::All
        } else {
            engine.matching
        };
        self.matches.clear();
        engine.program.eval(&event, matching, &mut self.matches);
        self.matches
            .retain(|&i| engine.enabled.get(i).copied().unwrap_or(false));
        let verdict = decide(mode, &engine.deny_table, &self.matches);
        let answer = match verdict.deny {
            Some(_) => Answer::Errno(engine.policy.errno),
            None => Answer::Continue,
        };
        let res = self.fd.send(n.id, answer);
        sent.set(true);
        match res {
            Ok(()) => {
                engine
                    .stats
                    .handling_ns
                    .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                match answer {
                    Answer::Continue => engine.stats.continued.fetch_add(1, Ordering::Relaxed),
                    Answer::Errno(_) => engine.stats.denied.fetch_add(1, Ordering::Relaxed),
                };
                if runtime {
                    engine.stats.runtime_phase.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // Interrupted (the call will be re-issued with a new id) or dead.
                engine.stats.gone.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                engine.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(s) = engine.errors.check() {
                    tracing::warn!(suppressed = s, "SEND: {e}");
                }
                return;
            }
        }
        // Output work, after the caller is released.
        if self.matches.is_empty() {
            return;
        }
        let deny_at = verdict.deny;
        let all = engine.matching == RuleMatching::All;
        for (k, &i) in self.matches.iter().enumerate() {
            let is_deny = deny_at == Some(k);
            if !(all || k == 0 || is_deny) {
                continue;
            }
            let Some(rule) = engine.program.rules().get(i) else {
                continue;
            };
            let denied = is_deny.then_some(engine.policy.errno);
            let alert = make_alert(rule, &event, &self.container, denied);
            engine.stats.alerts.fetch_add(1, Ordering::Relaxed);
            engine.sink.send(alert);
        }
    }
}

/// The alert for one matched rule. Renders the rule's output with the event.
/// (Minimal rendering until `tiercel_rules::output` provides Falco's formatter; this
/// function is the one place to swap.)
fn make_alert(
    rule: &CompiledRule,
    event: &adapter::MiniEvent,
    container: &ContainerInfo,
    denied: Option<i32>,
) -> Alert {
    let mut fields = Map::new();
    let mut text = String::new();
    let get = |f: Field| -> Value {
        match event.extract(f, &FieldArg::None) {
            Some(tiercel_rules::event::Value::Str(s)) => Value::String(s.into_owned()),
            _ => Value::Null,
        }
    };
    let cid: String = container.id.chars().take(12).collect();
    for (name, v) in [
        ("evt.type", Value::String(event.name().to_string())),
        ("proc.name", get(Field::ProcName)),
        ("fd.name", get(Field::FdName)),
        ("container.id", Value::String(cid)),
    ] {
        if !text.is_empty() {
            text.push(' ');
        }
        let shown = match &v {
            Value::String(s) => s.clone(),
            _ => "<NA>".to_string(),
        };
        text.push_str(&format!("{name}={shown}"));
        fields.insert(name.to_string(), v);
    }
    Alert {
        time: SystemTime::now(),
        rule: rule.name.clone(),
        priority: rule.priority,
        source: rule.source.clone(),
        tags: rule.tags.clone(),
        output: format!("{} ({text})", rule.name),
        output_fields: fields,
        denied,
    }
}
