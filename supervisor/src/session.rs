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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tiercel_rules::event::{Event, Field, FieldArg, Value};
use tiercel_rules::output::AlertOptions;
use tiercel_rules::program::{CompiledRule, Program, RuleMatching};

use crate::decide::{alerted, fallback_answer, Action, Decider, Mode, Policy, Scratch, SecondLook};
use crate::event::{ContainerInfo, EventBuilder, Notif, SyscallEvent};
use crate::keeper::{answer_orphans_below, Slot};
use crate::mem::TargetMem;
use crate::rate_limit::RateLimit;
use crate::sinks::{Alert, AlertQuota, SinkSender};
use crate::sys::{Answer, Listener, NotifyFd, Ready};

/// One notification in this many is timed for [`Stats::mean_handling_us`].
pub const TIMING_SAMPLE: u64 = 8;

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
    /// Answered notifications whose handling was timed (one in [`TIMING_SAMPLE`]).
    pub timed: AtomicU64,
    /// Sum of RECV-return → SEND-call times of the timed ones (our work; the SEND itself
    /// is left out: with SYNC_WAKE_UP it returns only after the woken caller yields), ns.
    pub handling_ns: AtomicU64,
    /// Of which: building the event (memory reads, /proc) and ID_VALID, ns.
    pub build_ns: AtomicU64,
    /// Of which: rule evaluation and decision, ns.
    pub eval_ns: AtomicU64,
    /// Notifications answered while the runtime (pre-exec) was running.
    pub runtime_phase: AtomicU64,
    /// Opens performed on the caller's behalf, the fd handed over with ADDFD.
    pub emulated: AtomicU64,
    /// Audit mode: calls a deny rule matched (enforce mode would have refused them).
    pub would_deny: AtomicU64,
    /// The timed handling times as a histogram (for `/metrics`).
    pub latency: crate::metrics::LatencyHistogram,
}

impl Stats {
    /// Mean RECV-return → SEND-call time in µs over the timed notifications, when any.
    pub fn mean_handling_us(&self) -> Option<f64> {
        self.mean_us(&self.handling_ns)
    }

    /// Mean (build + ID_VALID, evaluation) parts of [`Stats::mean_handling_us`].
    pub fn mean_parts_us(&self) -> Option<(f64, f64)> {
        Some((self.mean_us(&self.build_ns)?, self.mean_us(&self.eval_ns)?))
    }

    fn mean_us(&self, total: &AtomicU64) -> Option<f64> {
        let n = self.timed.load(Ordering::Relaxed);
        (n > 0).then(|| total.load(Ordering::Relaxed) as f64 / n as f64 / 1000.0)
    }
}

/// What every session shares: the compiled rules, the policy, the output queue.
pub struct Engine {
    decider: Decider,
    sink: SinkSender,
    stats: Arc<Stats>,
    errors: RateLimit,
    hostname: String,
    alert_options: AlertOptions,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("decider", &self.decider)
            .finish_non_exhaustive()
    }
}

/// The alerts' `hostname`: `FALCO_HOSTNAME` when set (as in Falco, e.g. a pod name), else
/// the kernel's.
pub fn hostname() -> String {
    match std::env::var("FALCO_HOSTNAME") {
        Ok(h) if !h.is_empty() => h,
        _ => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

impl Engine {
    pub fn new(
        program: Program,
        matching: RuleMatching,
        policy: Policy,
        alert_options: AlertOptions,
        sink: SinkSender,
        stats: Arc<Stats>,
    ) -> Engine {
        let hostname = hostname();
        Engine {
            decider: Decider::new(program, matching, policy),
            sink,
            stats,
            errors: RateLimit::new(Duration::from_secs(5), 5),
            hostname,
            alert_options,
        }
    }

    pub fn policy(&self) -> &Policy {
        self.decider.policy()
    }

    pub fn decider(&self) -> &Decider {
        &self.decider
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
}

/// The current engine, swappable at run time (rules reload): sessions check a
/// generation counter (one atomic load per notification) and take the lock only when it
/// changed.
pub struct EngineCell {
    generation: AtomicU64,
    current: Mutex<Arc<Engine>>,
}

impl std::fmt::Debug for EngineCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineCell")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl EngineCell {
    pub fn new(engine: Engine) -> Arc<EngineCell> {
        Arc::new(EngineCell {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(engine)),
        })
    }

    /// The current engine and its generation.
    pub fn load(&self) -> (u64, Arc<Engine>) {
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        (self.generation.load(Ordering::Acquire), guard.clone())
    }

    /// Replaces the engine; sessions pick it up at their next notification.
    pub fn store(&self, engine: Engine) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(engine);
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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
        // Only a process still running a runtime binary is in the runtime phase: crun
        // with `noNewPrivileges` hands the fd over at `start`, when the workload may
        // already have exec'd, and the workload's own binary must not be exempted.
        // The exe is read before and after the check: the process may exec between our
        // reads (crun execs right after handing the fd over), and a workload's exe
        // recorded as "the runtime's" would exempt it for good.
        // The runtime is recognised by its executable's identity (runtime_id.rs), never
        // by a name the workload can choose (comm, file name).
        let exe = pid.and_then(|p| {
            let before = exe_id(p)?;
            let hosts = crate::runtime_id::host_binaries();
            (crate::runtime_id::runtime_exe(p, hosts) == Some(before) && exe_id(p) == Some(before))
                .then_some(before)
        });
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

/// One listener fd and what is known about its container. Generic over the listener
/// (the kernel's [`NotifyFd`]; an in-memory one in unit tests), monomorphised.
pub struct Session<L: Listener = NotifyFd> {
    fd: L,
    container: String,
    builder: EventBuilder,
    /// What the container asked for (annotation / listenerMetadata).
    requested: Option<Mode>,
    mode: Mode,
    phase: RuntimePhase,
    cell: Arc<EngineCell>,
    generation: u64,
    engine: Arc<Engine>,
    scratch: Scratch,
    /// The keeper's record of the call in flight (for a successor), when kept.
    slot: Option<Slot>,
    /// Taking over from a supervisor that died: answer what it left pending.
    recover: bool,
    /// Notifications handled (for sampling the timing).
    seq: u64,
    /// This container's share of the alert queue (sinks/mod.rs).
    quota: Arc<AlertQuota>,
    /// Opens performed on the callers' behalf (this thread's root and credentials).
    objects: crate::emulate::Emulator,
}

impl<L: Listener> std::fmt::Debug for Session<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("container", &self.container)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Consecutive RECV failures after which a session gives up (its container then gets
/// ENOSYS): a fd that only errors would otherwise spin.
const MAX_RECV_ERRORS: u32 = 1000;

impl<L: Listener> Session<L> {
    /// `pid` is the process that installed the filter (the state JSON's `pid`).
    pub fn new(
        fd: L,
        container: ContainerInfo,
        pid: Option<u32>,
        requested: Option<Mode>,
        cell: Arc<EngineCell>,
    ) -> Session<L> {
        let (generation, engine) = cell.load();
        let cap = engine.decider.program().rules().len().min(64);
        let mode = engine.policy().container_mode(requested);
        let quota = engine.sink.quota(&container.id);
        // The container's device rules, for the device nodes tiercel opens or creates on
        // its behalf (read once, from the bundle the engine wrote).
        let devices = crate::devices::DevicePolicy::load(
            container.bundle.as_deref().map(std::path::Path::new),
        );
        Session {
            fd,
            container: container.id.clone(),
            builder: {
                // `/proc/<tid>` on first use: most events are decided on their arguments.
                // Safe because a caller that dies while its call is pending fails the
                // answer (ENOENT) and so emits nothing; alerts pin it before the answer.
                let mut b = EventBuilder::new(container);
                b.set_pin_proc_at_build(false);
                b
            },
            mode,
            phase: RuntimePhase::new(pid),
            requested,
            cell,
            generation,
            engine,
            scratch: Scratch::with_capacity(cap),
            slot: None,
            recover: false,
            seq: 0,
            quota,
            objects: crate::emulate::Emulator::new()
                .with_devices(devices)
                .started_now(),
        }
    }

    /// Records each received notification in the keeper's slot until it is answered.
    pub fn with_slot(mut self, slot: Option<Slot>) -> Self {
        self.slot = slot;
        self
    }

    /// This listener was held by a supervisor that died: at start, decide the call it
    /// recorded in flight (if still pending); at the first RECV, answer with the fallback
    /// any unrecorded one it left (ids below the first received, see
    /// [`answer_orphans_below`]).
    pub fn recovering(mut self, recover: bool) -> Self {
        self.recover = recover;
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn listener(&self) -> &L {
        &self.fd
    }

    /// The predecessor's in-flight call, handled like a new one; returns its id.
    fn recover_recorded(&mut self) -> Option<u64> {
        let n = self.slot.as_ref()?.in_flight()?;
        if !matches!(self.fd.id_valid(n.id), Ok(true)) {
            return None;
        }
        tracing::info!(container = %self.container, id = n.id, "deciding a call the previous supervisor left in flight");
        self.handle(n);
        if let Some(s) = &self.slot {
            s.answered();
        }
        Some(n.id)
    }

    /// Runs until every task using the filter is gone or `shutdown` becomes readable.
    pub fn run(mut self, shutdown: BorrowedFd<'_>) {
        let stats = self.engine.stats.clone();
        stats.sessions_started.fetch_add(1, Ordering::Relaxed);
        stats.sessions_active.fetch_add(1, Ordering::Relaxed);
        let sync = self.fd.set_sync_wakeup();
        tracing::info!(
            container = %self.container,
            mode = %self.mode,
            sync_wakeup = sync.is_ok(),
            "session started"
        );
        if let Err(e) = sync {
            tracing::debug!(
                "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable ({e}); default wake-up"
            );
        }
        if let Err(why) = crate::emulate::supported() {
            tracing::warn!(
                container = %self.container,
                "opens are not performed on the callers' behalf ({why}): paths are checked \
                 on a walk and the call continued, a race the kernel documents"
            );
        }
        let mut handled = 0u64;
        let mut errors = 0u32;
        let recovered = if self.recover {
            self.recover_recorded()
        } else {
            None
        };
        loop {
            match self.fd.wait(Some(shutdown), -1) {
                Ok(Ready::Pending) => {}
                Ok(Ready::Timeout) => continue,
                Ok(Ready::Shutdown) => {
                    tracing::debug!(container = %self.container, "shutdown");
                    break;
                }
                Ok(Ready::Closed) => {
                    tracing::debug!(container = %self.container, "listener closed");
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => {
                    tracing::error!(container = %self.container, "poll: {e}; ending session");
                    break;
                }
            }
            match self.fd.recv() {
                Ok(n) => {
                    errors = 0;
                    handled += 1;
                    if let Some(s) = &self.slot {
                        s.received(&n);
                    }
                    if self.recover {
                        self.recover = false;
                        self.answer_unrecorded(n.id, recovered);
                    }
                    self.handle(n);
                    if let Some(s) = &self.slot {
                        s.answered();
                    }
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINTR)) => {}
                Err(e) => {
                    stats.recv_errors.fetch_add(1, Ordering::Relaxed);
                    errors += 1;
                    if errors >= MAX_RECV_ERRORS {
                        tracing::error!(container = %self.container, "RECV keeps failing ({e}); ending session");
                        break;
                    }
                    if let Some(n) = self.engine.errors.check() {
                        tracing::warn!(container = %self.container, suppressed = n, "RECV: {e}");
                    }
                }
            }
        }
        stats.sessions_active.fetch_sub(1, Ordering::Relaxed);
        tracing::info!(container = %self.container, notifications = handled, "session ended");
    }

    /// Cold path of the first RECV after a takeover.
    #[cold]
    fn answer_unrecorded(&mut self, first: u64, recovered: Option<u64>) {
        let answer = fallback_answer(
            self.mode,
            self.phase.exe.is_some(),
            self.engine.policy().errno,
        );
        let n = answer_orphans_below(&self.fd, first, recovered, answer);
        if n > 0 {
            tracing::warn!(container = %self.container, count = n, ?answer, "answered calls the previous supervisor received but had not recorded");
        }
    }

    /// Picks up a reloaded engine (and the mode it implies for this container).
    fn refresh(&mut self) {
        if self.cell.generation() != self.generation {
            let (g, e) = self.cell.load();
            self.generation = g;
            self.mode = e.policy().container_mode(self.requested);
            self.engine = e;
        }
    }

    /// Handles one notification; never panics, always answers (unless the caller is gone).
    fn handle(&mut self, n: Notif) {
        // Timing is sampled (clock reads are a visible part of a ~10 µs round trip).
        self.seq = self.seq.wrapping_add(1);
        let start = (self.seq % TIMING_SAMPLE == 0).then(Instant::now);
        self.refresh();
        let engine = self.engine.clone();
        engine.stats.notifications.fetch_add(1, Ordering::Relaxed);
        let sent = Cell::new(false);
        let r = catch_unwind(AssertUnwindSafe(|| self.process(&n, &sent, start)));
        if r.is_err() {
            engine.stats.panics.fetch_add(1, Ordering::Relaxed);
            if !sent.get() {
                let answer =
                    fallback_answer(self.mode, self.phase.exe.is_some(), engine.policy().errno);
                let _ = self.fd.send(n.id, answer);
            }
            if let Some(s) = engine.errors.check() {
                tracing::error!(
                    container = %self.container,
                    nr = n.nr,
                    suppressed = s,
                    "internal error while handling a notification (answered with the fallback)"
                );
            }
            self.scratch.matches.clear();
        }
    }

    fn process(&mut self, n: &Notif, sent: &Cell<bool>, start: Option<Instant>) {
        let engine = &*self.engine;
        let mem = TargetMem::new(n.pid);
        let built = self.builder.build(n, &mem);
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
        let built_at = start.map(|_| Instant::now());
        let event = match built {
            Ok(e) => e,
            Err(e) => {
                // Not decodable (an architecture the filter should have refused in the
                // kernel): fail open in audit, closed in enforce.
                let answer = fallback_answer(mode, runtime, engine.policy().errno);
                let _ = self.fd.send(n.id, answer);
                sent.set(true);
                if let Some(s) = engine.errors.check() {
                    tracing::warn!(container = %self.container, suppressed = s, "{e}; answered {answer:?}");
                }
                return;
            }
        };
        let mut decision = engine.decider.decide(&event, mode, &mut self.scratch);
        // Enforce: an open or a path-changing call a deny rule could match is decided on
        // its object and performed by us (`perform`). Audit: a call a rule could match on
        // another path is also evaluated on the paths as resolved inside the caller's root.
        let mut inject = None;
        if decision.object {
            if mode == Mode::Audit {
                if crate::emulate::resolve_paths(&mut self.objects, &event) {
                    decision.second = engine.decider.decide_resolved(&event, &mut self.scratch);
                }
            } else {
                let fd = &self.fd;
                let valid = || matches!(fd.id_valid(n.id), Ok(true));
                match crate::perform::for_caller(
                    &mut self.objects,
                    &event,
                    &mem,
                    &engine.decider,
                    mode,
                    &mut self.scratch,
                    valid,
                ) {
                    crate::emulate::Emulated::Gone => {
                        engine.stats.gone.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    crate::emulate::Emulated::Answer(a, second) => {
                        decision.answer = a;
                        decision.second = second;
                    }
                    crate::emulate::Emulated::Fd(f, cloexec) => inject = Some((f, cloexec)),
                }
            }
        }
        let decided_at = start.map(|_| Instant::now());
        let answer = decision.answer;
        // `/proc/<tid>` is opened lazily (only if a field needs it); alerts are formatted
        // after the answer, when the tid may already be gone or reused: pin it now.
        if decision.alerts(&self.scratch) {
            event.pin_proc();
        }
        // A response action: pin its target with a pidfd now, check the call is still
        // pending (so the pidfd names the caller, not a reused number), and signal it
        // before the answer: the call never runs, and no instruction of the caller
        // runs after it (see `response`).
        let armed = match decision.action {
            Action::Deny => None,
            a => {
                let r = crate::response::arm(a, n.pid, Some(self.phase.pid));
                if r.is_ok() && !matches!(self.fd.id_valid(n.id), Ok(true)) {
                    engine.stats.gone.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Some(r)
            }
        };
        let taken = armed.map(|r| r.and_then(crate::response::Armed::fire));
        let killed = matches!(taken, Some(Ok(_)));
        let res = match inject {
            Some((f, cloexec)) => match self.fd.addfd_send(n.id, f.as_fd(), cloexec) {
                Ok(_) => {
                    self.objects.handed_over();
                    engine.stats.emulated.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // Interrupted (to be restarted) or gone: a file created for it goes.
                    self.objects.undo_create(f.as_fd());
                    Err(e)
                }
                // Not installed (e.g. EMFILE): the call fails with that errno, and, as in
                // the kernel (which takes the descriptor first), creates nothing.
                Err(e) => {
                    self.objects.undo_create(f.as_fd());
                    self.fd
                        .send(n.id, Answer::Errno(e.raw_os_error().unwrap_or(libc::EIO)))
                }
            },
            None => self.fd.send(n.id, answer),
        };
        sent.set(true);
        match res {
            Ok(()) => {
                let st = &engine.stats;
                if let (Some(t0), Some(t1), Some(t2)) = (start, built_at, decided_at) {
                    st.timed.fetch_add(1, Ordering::Relaxed);
                    let handling = t2.duration_since(t0).as_nanos() as u64;
                    st.handling_ns.fetch_add(handling, Ordering::Relaxed);
                    st.latency.observe_ns(handling);
                    st.build_ns
                        .fetch_add(t1.duration_since(t0).as_nanos() as u64, Ordering::Relaxed);
                    st.eval_ns
                        .fetch_add(t2.duration_since(t1).as_nanos() as u64, Ordering::Relaxed);
                }
                match answer {
                    Answer::Continue | Answer::Value(_) => {
                        engine.stats.continued.fetch_add(1, Ordering::Relaxed)
                    }
                    Answer::Errno(_) => engine.stats.denied.fetch_add(1, Ordering::Relaxed),
                };
                if runtime {
                    engine.stats.runtime_phase.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) if killed && e.raw_os_error() == Some(libc::ENOENT) => {
                // The caller died of our SIGKILL before the answer reached it: refused
                // all the same (the call was skipped); alert on it.
                engine.stats.denied.fetch_add(1, Ordering::Relaxed);
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
        if let Some(Err(e)) = &taken {
            tracing::warn!(container = %self.container, "response action failed: {e}");
        }
        // Output work, after the caller is released.
        let program = engine.decider.program();
        // Where the container's name and image came from (an annotation is a claim).
        let meta_source = || {
            self.builder
                .container()
                .container
                .meta
                .load()
                .source_summary()
        };
        let errno = match answer {
            Answer::Errno(e) => e,
            Answer::Continue | Answer::Value(_) => engine.policy().errno,
        };
        match decision.second {
            SecondLook::None => {}
            SecondLook::Rule(i) => {
                if let Some(rule) = program.rules().get(i) {
                    let denied = matches!(answer, Answer::Errno(_)).then_some(errno);
                    let mut alert = make_alert(engine, rule, &event, denied);
                    alert.resolved = event.resolved_summary();
                    alert.action = taken.clone();
                    alert.meta_source = meta_source();
                    alert.would_deny = mode == Mode::Audit && engine.decider.denies(i);
                    if alert.would_deny {
                        engine.stats.would_deny.fetch_add(1, Ordering::Relaxed);
                    }
                    engine.stats.alerts.fetch_add(1, Ordering::Relaxed);
                    engine.sink.send_from(&self.quota, alert);
                }
            }
            SecondLook::Unknown => {
                if let Some(s) = engine.errors.check() {
                    tracing::warn!(
                        container = %self.container,
                        evt_type = event.type_name(),
                        suppressed = s,
                        "denied: deny rules apply to this call and the object it reaches could \
                         not be established (an unreadable path or procfs magic link, a file \
                         with several names, a descriptor that changed; debug logs say which)"
                    );
                }
            }
        }
        if self.scratch.matches.is_empty() {
            return;
        }
        let deny_at = decision.verdict.deny;
        for (k, i) in alerted(&self.scratch.matches, deny_at, engine.decider.matching()) {
            let is_deny = deny_at == Some(k);
            let Some(rule) = program.rules().get(i) else {
                continue;
            };
            let denied = is_deny.then_some(errno);
            let mut alert = make_alert(engine, rule, &event, denied);
            if is_deny {
                alert.action = taken.clone();
            }
            alert.meta_source = meta_source();
            if decision.object {
                alert.resolved = event.resolved_summary();
            }
            if decision.would_deny == Some(k) {
                alert.would_deny = true;
                engine.stats.would_deny.fetch_add(1, Ordering::Relaxed);
            }
            engine.stats.alerts.fetch_add(1, Ordering::Relaxed);
            engine.sink.send_from(&self.quota, alert);
        }
    }
}

/// The alert for one matched rule (Falco's formatter from `tiercel_rules::output`).
fn make_alert(
    engine: &Engine,
    rule: &CompiledRule,
    event: &SyscallEvent,
    denied: Option<i32>,
) -> Alert {
    let time_ns = match event.extract(Field::EvtRawtime, &FieldArg::None) {
        Some(Value::Time(t)) => t,
        _ => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    };
    Alert {
        alert: tiercel_rules::output::Alert::new(
            rule,
            event,
            time_ns,
            &engine.hostname,
            engine.alert_options,
        ),
        denied,
        resolved: None,
        action: None,
        meta_source: None,
        would_deny: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{FakeListener, Op};
    use std::ffi::CString;
    use std::os::unix::net::UnixStream;

    const RULES: &str = "- rule: secret\n  desc: d\n  condition: evt.type in (open, openat) and fd.name startswith /tmp/tiercel-seam-secret\n  output: secret %fd.name\n  priority: WARNING\n\
- rule: secret dir\n  desc: d\n  condition: evt.type = mkdir and evt.arg.path startswith /tmp/tiercel-seam-secret\n  output: secret dir %evt.arg.path\n  priority: WARNING\n";

    /// A session over a fake listener, with real rules, builder and outputs; its caller
    /// is this test process (memory read with process_vm_readv, `/proc/self`).
    struct Rig {
        session: Session<Arc<FakeListener>>,
        fake: Arc<FakeListener>,
        stats: Arc<Stats>,
        _sinks: crate::sinks::Sinks,
        paths: Vec<CString>,
    }

    impl Listener for Arc<FakeListener> {
        fn wait(
            &self,
            shutdown: Option<BorrowedFd<'_>>,
            timeout_ms: i32,
        ) -> std::io::Result<Ready> {
            (**self).wait(shutdown, timeout_ms)
        }
        fn recv(&self) -> std::io::Result<Notif> {
            (**self).recv()
        }
        fn send(&self, id: u64, answer: Answer) -> std::io::Result<()> {
            (**self).send(id, answer)
        }
        fn id_valid(&self, id: u64) -> std::io::Result<bool> {
            (**self).id_valid(id)
        }
        fn set_sync_wakeup(&self) -> std::io::Result<()> {
            (**self).set_sync_wakeup()
        }
        fn addfd_send(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> std::io::Result<i32> {
            (**self).addfd_send(id, fd, cloexec)
        }
    }

    fn rig(mode: Mode) -> Rig {
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str("t.yaml", RULES);
        let program = loader.finish().program.expect("rules load");
        let sinks = crate::sinks::Sinks::start(crate::sinks::SinkConfig {
            queue: 64,
            ..Default::default()
        })
        .unwrap();
        let stats = Arc::new(Stats::default());
        let policy = Policy {
            mode,
            ..Policy::default()
        };
        let engine = Engine::new(
            program,
            RuleMatching::First,
            policy,
            AlertOptions::default(),
            sinks.sender(),
            stats.clone(),
        );
        let st = stats.clone();
        let fake = Arc::new(FakeListener::watching(Box::new(move || {
            st.alerts.load(Ordering::SeqCst)
        })));
        let session = Session::new(
            fake.clone(),
            ContainerInfo {
                id: "seam0123456789".into(),
                ..Default::default()
            },
            None,
            None,
            EngineCell::new(engine),
        );
        Rig {
            session,
            fake,
            stats,
            _sinks: sinks,
            paths: Vec::new(),
        }
    }

    impl Rig {
        /// Queues call `name` by this process with `id`, `path` kept alive in the rig and
        /// its address put in the arguments by `args`.
        fn push(&mut self, id: u64, name: &str, path: &str, args: impl Fn(u64) -> [u64; 6]) {
            let c = CString::new(path).unwrap();
            let n = Notif {
                id,
                pid: std::process::id(),
                arch: crate::event::AUDIT_ARCH_X86_64,
                nr: crate::event::syscall_nr(name).unwrap(),
                instruction_pointer: 0,
                args: args(c.as_ptr() as u64),
            };
            self.paths.push(c);
            self.fake.push(n);
        }

        /// Queues an `openat(AT_FDCWD, path, O_RDONLY)` by this process with `id`.
        fn openat(&mut self, id: u64, path: &str) {
            self.push(id, "openat", path, |p| {
                [libc::AT_FDCWD as i64 as u64, p, 0, 0, 0, 0]
            });
        }

        fn mkdir(&mut self, id: u64, path: &str) {
            self.push(id, "mkdir", path, |p| [p, 0o700, 0, 0, 0, 0]);
        }

        /// Runs the session until the fake has nothing left.
        fn run(self) -> (Arc<FakeListener>, Arc<Stats>) {
            self.fake.close();
            let (_tx, rx) = UnixStream::pair().unwrap();
            let Rig {
                session,
                fake,
                stats,
                _sinks,
                paths,
            } = self;
            session.run(rx.as_fd());
            drop(paths);
            (fake, stats)
        }
    }

    use std::os::fd::AsFd;

    /// Every SEND that succeeded came after an ID_VALID of the same id that said true.
    fn id_valid_precedes_send(log: &[Op]) {
        for (k, op) in log.iter().enumerate() {
            if let Op::Send { id, .. } = op {
                let checked = log[..k]
                    .iter()
                    .rev()
                    .take_while(|o| !matches!(o, Op::Recv(_)))
                    .any(|o| *o == Op::IdValid(*id, true));
                assert!(
                    checked,
                    "SEND of {id} without a valid ID_VALID before it: {log:?}"
                );
            }
        }
    }

    #[test]
    fn id_valid_before_send_and_alerts_after_it() {
        let mut r = rig(Mode::Audit);
        r.openat(1, "/tmp/tiercel-seam-secret/a");
        r.openat(2, "/tmp/tiercel-seam-other");
        let (fake, stats) = r.run();
        let log = fake.log();
        id_valid_precedes_send(&log);
        let sends = fake.sends();
        assert_eq!(
            sends,
            vec![
                (1, Answer::Continue, true, 0),
                (2, Answer::Continue, true, 1)
            ],
            "the alert of 1 is counted after its SEND, before the next one"
        );
        assert_eq!(stats.alerts.load(Ordering::SeqCst), 1);
        assert_eq!(stats.continued.load(Ordering::SeqCst), 2);
        assert!(fake.pending().is_empty());
        assert!(fake.sync_wakeup.load(Ordering::Relaxed));
    }

    #[test]
    fn enforce_performs_path_changing_calls_and_answers_their_result() {
        let ok = format!("/tmp/tiercel-seam-mk-{}", std::process::id());
        let _ = std::fs::remove_dir(&ok);
        let mut r = rig(Mode::Enforce);
        r.mkdir(7, "/tmp/tiercel-seam-secret/d");
        r.mkdir(8, &ok);
        r.mkdir(9, &ok);
        let (fake, _stats) = r.run();
        id_valid_precedes_send(&fake.log());
        let sends = fake.sends();
        assert_eq!(sends[0], (7, Answer::Errno(libc::EPERM), true, 0));
        if crate::emulate::supported().is_ok() {
            // Performed by tiercel: SEND with the result, then the kernel's EEXIST.
            assert_eq!(sends[1], (8, Answer::Value(0), true, 1));
            assert_eq!(sends[2], (9, Answer::Errno(libc::EEXIST), true, 1));
            assert!(std::path::Path::new(&ok).is_dir());
        } else {
            assert_eq!(sends[1], (8, Answer::Continue, true, 1));
        }
        let _ = std::fs::remove_dir(&ok);
    }

    /// A create tiercel performs for a caller that is interrupted before the hand-over
    /// (ADDFD answers ENOENT; the kernel restarts the call) is undone: the restarted
    /// `O_EXCL` create must find the name free again, as without tiercel.
    #[test]
    fn an_interrupted_emulated_create_is_undone() {
        if crate::emulate::supported().is_err() {
            tiercel_testdata::skip("performing opens needs root and kernel 5.14");
            return;
        }
        let p = format!("/tmp/tiercel-seam-excl-{}", std::process::id());
        let _ = std::fs::remove_file(&p);
        let c = CString::new(p.clone()).unwrap();
        let r = rig(Mode::Enforce);
        let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL) as u64;
        let notif = |id| Notif {
            id,
            pid: std::process::id(),
            arch: crate::event::AUDIT_ARCH_X86_64,
            nr: crate::event::syscall_nr("openat").unwrap(),
            instruction_pointer: 0,
            args: [
                libc::AT_FDCWD as i64 as u64,
                c.as_ptr() as u64,
                flags,
                0o600,
                0,
                0,
            ],
        };
        r.fake.push(notif(11));
        r.fake.cancel_before_send(11);
        r.fake.push(notif(12));
        let (fake, stats) = r.run();
        let log = fake.log();
        let exists = std::path::Path::new(&p).exists();
        let _ = std::fs::remove_file(&p);
        // 11: created, not handed over, removed; 12 (the restarted call): created again.
        let adds: Vec<(u64, bool)> = log
            .iter()
            .filter_map(|o| match o {
                Op::AddFd { id, ok, .. } => Some((*id, *ok)),
                _ => None,
            })
            .collect();
        assert_eq!(adds, vec![(11, false), (12, true)], "{log:?}");
        assert!(exists);
        assert_eq!(stats.emulated.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn enforce_denies_and_alerts_after_the_answer() {
        let other = format!("/tmp/tiercel-seam-other-{}", std::process::id());
        std::fs::write(&other, b"x").unwrap();
        let mut r = rig(Mode::Enforce);
        r.openat(5, "/tmp/tiercel-seam-secret/a");
        r.openat(6, &other);
        let (fake, stats) = r.run();
        let log = fake.log();
        let _ = std::fs::remove_file(&other);
        id_valid_precedes_send(&log);
        assert_eq!(fake.sends()[0], (5, Answer::Errno(libc::EPERM), true, 0));
        if crate::emulate::supported().is_ok() {
            // An open the deny rule could match on its path: performed by tiercel, the fd
            // handed over with ADDFD + SEND (after an ID_VALID), after the alert of 5.
            assert!(
                log.contains(&Op::AddFd {
                    id: 6,
                    cloexec: false,
                    ok: true,
                    alerts: 1
                }),
                "{log:?}"
            );
            assert_eq!(stats.emulated.load(Ordering::SeqCst), 1);
        } else {
            assert_eq!(fake.sends()[1], (6, Answer::Continue, true, 1));
        }
        assert_eq!(stats.denied.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cancelled_calls_do_not_alert_and_their_reissue_alerts_once() {
        let mut r = rig(Mode::Enforce);
        // Interrupted before ID_VALID: no answer at all.
        r.openat(1, "/tmp/tiercel-seam-secret/a");
        r.fake.cancel_after_recv(1);
        // Interrupted between ID_VALID and SEND: the SEND fails, no alert.
        r.openat(2, "/tmp/tiercel-seam-secret/a");
        r.fake.cancel_before_send(2);
        // The restarted call: a new id, the same call.
        r.openat(3, "/tmp/tiercel-seam-secret/a");
        let (fake, stats) = r.run();
        let log = fake.log();
        assert!(log.contains(&Op::IdValid(1, false)));
        assert!(!log.iter().any(|o| matches!(o, Op::Send { id: 1, .. })));
        assert_eq!(
            fake.sends(),
            vec![
                (2, Answer::Errno(libc::EPERM), false, 0),
                (3, Answer::Errno(libc::EPERM), true, 0)
            ]
        );
        assert_eq!(stats.gone.load(Ordering::SeqCst), 2);
        assert_eq!(
            stats.alerts.load(Ordering::SeqCst),
            1,
            "one alert, for the call that ran"
        );
    }

    #[test]
    fn a_panic_is_answered_with_the_fallback() {
        for (mode, expected) in [
            (Mode::Audit, Answer::Continue),
            (Mode::Enforce, Answer::Errno(libc::EPERM)),
        ] {
            let mut r = rig(mode);
            r.openat(1, "/tmp/tiercel-seam-other");
            r.fake.panic_on_id_valid(1);
            r.openat(2, "/tmp/tiercel-seam-secret/a");
            let (fake, stats) = r.run();
            let sends = fake.sends();
            assert_eq!(sends[0], (1, expected, true, 0), "{mode}");
            assert_eq!(sends.len(), 2, "the session goes on after a panic");
            assert!(sends[1].2);
            assert_eq!(stats.panics.load(Ordering::SeqCst), 1);
            assert!(fake.pending().is_empty(), "every notification answered");
        }
    }

    #[test]
    fn every_notification_is_recorded_then_cleared() {
        let mut r = rig(Mode::Audit);
        let slot = Slot::standalone(3);
        r.session = r.session.with_slot(Some(slot.clone()));
        r.openat(1, "/tmp/tiercel-seam-other");
        let (fake, _) = r.run();
        assert_eq!(fake.sends().len(), 1);
        assert_eq!(slot.in_flight(), None, "answered: nothing left in flight");
    }

    #[test]
    fn a_successor_decides_the_recorded_call_and_answers_unrecorded_ones() {
        let mut r = rig(Mode::Enforce);
        let slot = Slot::standalone(0);
        // The dead supervisor received 41 (recorded, then died) and 42 (not recorded);
        // 43 is the first call the successor receives.
        let path = CString::new("/tmp/tiercel-seam-secret/x").unwrap();
        let recorded = Notif {
            id: 41,
            pid: std::process::id(),
            arch: crate::event::AUDIT_ARCH_X86_64,
            nr: crate::event::syscall_nr("openat").unwrap(),
            instruction_pointer: 0,
            args: [
                libc::AT_FDCWD as i64 as u64,
                path.as_ptr() as u64,
                0,
                0,
                0,
                0,
            ],
        };
        slot.received(&recorded);
        r.fake.leave_pending(41);
        r.fake.leave_pending(42);
        r.openat(43, "/tmp/tiercel-seam-other");
        r.session = r.session.with_slot(Some(slot.clone())).recovering(true);
        let (fake, stats) = r.run();
        drop(path);
        let sends = fake.sends();
        assert_eq!(
            sends,
            vec![
                // Decided like any call: the rule denies it, and it alerts.
                (41, Answer::Errno(libc::EPERM), true, 0),
                // Unknown content: the fallback (enforce: the deny errno).
                (42, Answer::Errno(libc::EPERM), true, 1),
                // A call a deny rule could match on its path: performed by tiercel in
                // enforce (emulate.rs); the file does not exist, so the kernel's ENOENT.
                (43, Answer::Errno(libc::ENOENT), true, 1),
            ]
        );
        assert!(fake.pending().is_empty(), "nothing orphaned");
        assert_eq!(stats.alerts.load(Ordering::SeqCst), 1);
        assert_eq!(slot.in_flight(), None);
    }

    #[test]
    fn without_recovery_a_live_predecessors_calls_are_left_to_it() {
        let mut r = rig(Mode::Audit);
        let slot = Slot::standalone(0);
        r.fake.leave_pending(42);
        r.openat(43, "/tmp/tiercel-seam-other");
        r.session = r.session.with_slot(Some(slot));
        let (fake, _) = r.run();
        assert_eq!(fake.sends(), vec![(43, Answer::Continue, true, 0)]);
        assert_eq!(fake.pending(), vec![42]);
    }

    #[test]
    fn the_runtime_phase_is_never_denied() {
        let mut r = rig(Mode::Enforce);
        // The installing process still runs the binary it ran at accept time: runtime.
        r.session.phase = RuntimePhase {
            pid: std::process::id(),
            exe: exe_id(std::process::id()),
        };
        r.openat(1, "/tmp/tiercel-seam-secret/a");
        r.fake.panic_on_id_valid(2);
        r.openat(2, "/tmp/tiercel-seam-secret/a");
        let (fake, stats) = r.run();
        assert_eq!(
            fake.sends(),
            vec![
                (1, Answer::Continue, true, 0),
                (2, Answer::Continue, true, 1)
            ],
            "matching calls of the runtime run (and alert), even the panicking one"
        );
        assert_eq!(stats.runtime_phase.load(Ordering::SeqCst), 1);
        assert_eq!(stats.denied.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn runtime_phase_tracks_exec() {
        // The test binary is no runtime: not in the runtime phase (crun's deferred
        // hand-off gives us the workload's pid after its exec).
        let mut own = RuntimePhase::new(Some(std::process::id()));
        assert!(!own.active());
        // Our own exe does not change: a phase started on it stays active; an unknown
        // pid is never in the runtime phase.
        let mut p = RuntimePhase {
            pid: std::process::id(),
            exe: exe_id(std::process::id()),
        };
        assert!(p.active());
        let mut gone = RuntimePhase::new(None);
        assert!(!gone.active());
        // A child that execs: before exec same exe as ours, after exec another one.
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let mut c = RuntimePhase {
            pid: child.id(),
            exe: exe_id(std::process::id()),
        };
        let t = Instant::now();
        while exe_id(child.id()) == exe_id(std::process::id())
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!c.active(), "exec ends the runtime phase");
        assert!(!c.active(), "and it never comes back");
        let _ = child.kill();
        let _ = child.wait();
    }
}
