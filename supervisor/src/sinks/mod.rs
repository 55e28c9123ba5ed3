//! Alert outputs. Sessions hand alerts to a bounded front queue ([`SinkSender::send`]
//! never blocks: when the queue is full the alert is dropped and counted). One formatter
//! thread renders each alert once (Falco's text line, escaped so that one alert is one
//! line; the JSON line) and offers it to every enabled output, each on its own thread
//! behind its own bounded queue: stdout, `file_output`, tiercel's `--alerts` JSON file,
//! `syslog_output`, `program_output`, `http_output`. A dead or slow output fills only its
//! own queue and drops only its own alerts; it never slows a container or another output.
//! Drops are counted per output and reported in a periodic and a final log line.
//!
//! Fair share of the front queue: a session sends through its container's
//! [`AlertQuota`] ([`SinkSender::quota`], one per container id, shared by all its
//! sessions). An alert is accepted only while its container holds fewer alerts in the
//! queue than its share: the configured capacity divided by the number of containers with
//! alerts in the queue, never less than [`MIN_SHARE`]. The channel itself holds twice the
//! capacity, so a container that flooded the queue alone leaves room for the others'
//! shares when they arrive. Drops are counted per container (and logged at 1, 2, 4, …).
//! SIGUSR1 ([`Sinks::reopen`]) reopens files and re-spawns programs, as in Falco.

pub(crate) mod config;
mod file;
mod http;
mod program;
mod syslog;

pub use config::{
    parse as parse_outputs_config, FileOutputConfig, HttpOutputConfig, OutputsConfig,
    ProgramOutputConfig, SyslogOutputConfig,
};

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiercel_rules::priority::Priority;

use crate::decide::{errno_name, Action};

/// One alert (Falco's, from `tiercel_rules::output`) plus tiercel's verdict. Built
/// after the notification was answered.
#[derive(Debug, Clone)]
pub struct Alert {
    pub alert: tiercel_rules::output::Alert,
    /// `Some(errno)` when the call was refused.
    pub denied: Option<i32>,
    /// The rule matched only the resolved view of the call's paths (symlinks and
    /// `/proc/self` magic links followed inside the container's root): those paths
    /// (`/bin/x`, or `name=/bin/x, ...` for several arguments). Falco's output shows the
    /// paths as spelled.
    pub resolved: Option<String>,
    /// On the denying alert, when its selector has a response action: what was done
    /// (`Ok(kill-process | kill-container)`), or why nothing was (`Err`).
    pub action: Option<Result<Action, String>>,
    /// Where the container's name and image came from (`tiercel.meta_source` in the
    /// JSON; `ContainerMeta::source_summary`).
    pub meta_source: Option<Value>,
    /// Audit mode: enforce mode would have refused this call (a deny rule matched).
    pub would_deny: bool,
}

impl Alert {
    /// Falco's text line (`HH:MM:SS.nnnnnnnnn: Priority output`), with
    /// ` (denied: EPERM)` appended when the call was refused.
    pub fn text_line(&self) -> String {
        let mut line = self.alert.text_line();
        if let Some(e) = self.denied {
            line.push_str(" (denied: ");
            line.push_str(&errno_name(e));
            if let Some(r) = &self.resolved {
                line.push_str(", resolved: ");
                line.push_str(&tiercel_rules::safe_text::escape_line(r));
            }
            match &self.action {
                Some(Ok(a)) => {
                    line.push_str(", action: ");
                    line.push_str(a.name());
                }
                Some(Err(e)) => {
                    line.push_str(", action failed: ");
                    line.push_str(&tiercel_rules::safe_text::escape_line(e));
                }
                None => {}
            }
            line.push(')');
        } else if self.would_deny || self.resolved.is_some() {
            line.push_str(if self.would_deny {
                " (would deny"
            } else {
                " ("
            });
            if let Some(r) = &self.resolved {
                line.push_str(if self.would_deny {
                    ", resolved: "
                } else {
                    "resolved: "
                });
                line.push_str(&tiercel_rules::safe_text::escape_line(r));
            }
            line.push(')');
        }
        line
    }

    /// Falco's JSON alert, plus `tiercel: {action, errno}` for refused calls (`action`:
    /// `deny`, or the response action done: `kill-process`, `kill-container`; a failed
    /// one leaves `deny` and says why in `action_error`), `resolved` when the match was on
    /// the resolved paths, and `tiercel.meta_source` when the container's name or image
    /// is known.
    pub fn json(&self) -> Value {
        let mut v = self.alert.json();
        let mut t = serde_json::Map::new();
        if let Some(e) = self.denied {
            let action = match &self.action {
                Some(Ok(a)) => *a,
                _ => Action::Deny,
            };
            t.insert("action".into(), json!(action.name()));
            t.insert("errno".into(), json!(errno_name(e)));
            if let Some(r) = &self.resolved {
                t.insert("resolved".into(), json!(r));
            }
            if let Some(Err(err)) = &self.action {
                t.insert("action_error".into(), json!(err));
            }
        } else {
            // Audit: `action: would_deny` when enforce would refuse; the resolved paths
            // when the rule matched them (Falco's fields stay as Falco shows them).
            if self.would_deny {
                t.insert("action".into(), json!("would_deny"));
            }
            if let Some(r) = &self.resolved {
                t.insert("resolved".into(), json!(r));
            }
        }
        if let Some(m) = &self.meta_source {
            t.insert("meta_source".into(), m.clone());
        }
        if let (false, Some(obj)) = (t.is_empty(), v.as_object_mut()) {
            obj.insert("tiercel".into(), Value::Object(t));
        }
        v
    }
}

/// Where alerts go.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// Falco's `json_output`: stdout, `file_output`, syslog, program and HTTP get JSON
    /// lines instead of text lines.
    pub json_output: bool,
    pub outputs: OutputsConfig,
    /// tiercel's `--alerts FILE`: one Falco JSON alert per line, whatever `json_output`
    /// says (kept open; reopened on SIGUSR1).
    pub alerts_file: Option<PathBuf>,
    /// Capacity of the front queue and of each output's queue.
    pub queue: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            json_output: false,
            outputs: OutputsConfig {
                stdout: false,
                ..OutputsConfig::default()
            },
            alerts_file: None,
            queue: 4096,
        }
    }
}

/// Counters of the output side (totals over every output).
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Alerts accepted by the front queue.
    pub queued: AtomicU64,
    /// Alerts dropped because the front queue was full.
    pub dropped: AtomicU64,
    /// Alert lines written by an output (one alert written by three outputs counts 3).
    pub written: AtomicU64,
    /// Failed writes (after retries).
    pub write_errors: AtomicU64,
    /// Alerts an output dropped because its own queue was full (a slow endpoint).
    pub output_dropped: AtomicU64,
}

/// Per-output counters.
#[derive(Debug, Default)]
pub struct OutputStats {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub errors: AtomicU64,
}

enum Msg {
    /// An alert, with the quota it holds a place of (released when the formatter takes it).
    Alert(Box<Alert>, Option<Arc<AlertQuota>>),
    /// tiercel's own alerts (metrics snapshots): written, not counted as rule matches.
    Internal(Box<Alert>),
    Flush(SyncSender<()>),
    /// A reload: drain the current outputs, then write to these.
    Replace(Vec<OutputHandle>, SyncSender<()>),
}

/// The smallest share of the front queue a container is granted, however many containers
/// have alerts in flight (less only when the queue itself is smaller).
pub const MIN_SHARE: usize = 32;

/// One container's place in the front queue: its alerts in flight and its drops.
#[derive(Debug)]
pub struct AlertQuota {
    container: String,
    in_flight: AtomicUsize,
    dropped: AtomicU64,
    shared: Arc<Shares>,
}

impl AlertQuota {
    /// Alerts of this container dropped because it was over its share (or the queue full).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    /// Takes a place; false (nothing taken) when the container is at its share.
    fn acquire(&self) -> bool {
        let held = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if held == 0 {
            self.shared.active.fetch_add(1, Ordering::AcqRel);
        }
        let active = self.shared.active.load(Ordering::Acquire).max(1);
        let cap = self.shared.capacity;
        let share = (cap / active).max(MIN_SHARE.min(cap));
        if held < share {
            true
        } else {
            self.release();
            false
        }
    }

    fn release(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// What the quotas share: the capacity they divide and the containers holding places.
#[derive(Debug)]
struct Shares {
    capacity: usize,
    /// Containers with at least one alert in the queue (transiently off by one while two
    /// threads cross 0 ↔ 1; read with a floor of 1).
    active: AtomicUsize,
    /// One quota per container id, shared by its sessions; dead entries pruned on insert.
    by_container: std::sync::Mutex<std::collections::HashMap<String, std::sync::Weak<AlertQuota>>>,
}

/// The sessions' handle on the output queue. Cheap to clone.
#[derive(Clone)]
pub struct SinkSender {
    tx: SyncSender<Msg>,
    stats: Arc<SinkStats>,
    shares: Arc<Shares>,
}

impl std::fmt::Debug for SinkSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSender").finish_non_exhaustive()
    }
}

impl SinkSender {
    /// A sender on `tx` (which must hold `2 * capacity` messages) dividing `capacity`.
    fn new(tx: SyncSender<Msg>, stats: Arc<SinkStats>, capacity: usize) -> SinkSender {
        SinkSender {
            tx,
            stats,
            shares: Arc::new(Shares {
                capacity: capacity.max(1),
                active: AtomicUsize::new(0),
                by_container: Default::default(),
            }),
        }
    }

    /// The quota of container `id` (the same one for every session of that container while
    /// one of them holds it).
    pub fn quota(&self, id: &str) -> Arc<AlertQuota> {
        let mut map = self
            .shares
            .by_container
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(q) = map.get(id).and_then(std::sync::Weak::upgrade) {
            return q;
        }
        map.retain(|_, w| w.strong_count() > 0);
        let q = Arc::new(AlertQuota {
            container: id.to_owned(),
            in_flight: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            shared: self.shares.clone(),
        });
        map.insert(id.to_owned(), Arc::downgrade(&q));
        q
    }

    /// Queues a container's alert within its fair share; never blocks. Returns false when
    /// it was dropped (counted in the totals and in the container's quota).
    pub fn send_from(&self, quota: &Arc<AlertQuota>, alert: Alert) -> bool {
        let accepted = quota.acquire()
            && match self
                .tx
                .try_send(Msg::Alert(Box::new(alert), Some(quota.clone())))
            {
                Ok(()) => true,
                Err(_) => {
                    quota.release();
                    false
                }
            };
        if accepted {
            self.stats.queued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            let d = quota.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_power_of_two() {
                tracing::warn!(
                    container = %quota.container,
                    dropped = d,
                    "alerts of this container dropped: over its share of the alert queue"
                );
            }
        }
        accepted
    }

    /// Queues one of tiercel's own alerts (a metrics snapshot); never blocks.
    pub fn send_internal(&self, alert: Alert) -> bool {
        self.tx.try_send(Msg::Internal(Box::new(alert))).is_ok()
    }

    /// Queues an alert; never blocks. Returns false when it was dropped.
    pub fn send(&self, alert: Alert) -> bool {
        match self.tx.try_send(Msg::Alert(Box::new(alert), None)) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Alerts per rule, counted by the formatter thread (Falco's rules counters): the
/// priority, source and tags of the rule, its matches and how many of them were refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCount {
    pub priority: String,
    pub source: String,
    pub tags: Vec<String>,
    pub matches: u64,
    pub denied: u64,
}

/// Shared per-rule counts (rule names come from the rule files, never from a container,
/// so the map is bounded by the rules loaded).
pub type RuleCounters = Arc<std::sync::Mutex<std::collections::BTreeMap<String, RuleCount>>>;

/// One alert rendered once for every output.
pub(crate) struct Formatted {
    /// Falco's text line, escaped (`safe_text`): one line, no terminal controls.
    pub text: String,
    /// Falco's JSON alert as one line (DEL, C1 and bidi controls as `\uXXXX`).
    pub json: String,
    pub priority: Priority,
}

/// One output, driven by its own thread.
trait Output: Send {
    fn name(&self) -> &'static str;
    fn write(&mut self, f: &Formatted) -> io::Result<()>;
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// SIGUSR1: reopen files, re-spawn programs, reconnect.
    fn reopen(&mut self) {}
}

struct StdoutOutput {
    json: bool,
}

impl Output for StdoutOutput {
    fn name(&self) -> &'static str {
        "stdout"
    }
    fn write(&mut self, f: &Formatted) -> io::Result<()> {
        let line = if self.json { &f.json } else { &f.text };
        writeln!(io::stdout().lock(), "{line}")
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

enum OutMsg {
    Alert(Arc<Formatted>),
    Flush(SyncSender<()>),
}

/// The formatter's handle on one output thread.
struct OutputHandle {
    name: &'static str,
    tx: SyncSender<OutMsg>,
    stats: Arc<OutputStats>,
    reopen: Arc<AtomicBool>,
}

/// The running output threads.
pub struct Sinks {
    sender: SinkSender,
    thread: Option<JoinHandle<()>>,
    stats: Arc<SinkStats>,
    outputs: Vec<(&'static str, Arc<OutputStats>, Arc<AtomicBool>)>,
    rules: RuleCounters,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks").finish_non_exhaustive()
    }
}

/// How often the formatter reports new drops.
const REPORT_EVERY: Duration = Duration::from_secs(30);

fn start_output(
    mut out: Box<dyn Output>,
    queue: usize,
    totals: Arc<SinkStats>,
    stats: Option<Arc<OutputStats>>,
) -> io::Result<OutputHandle> {
    let (tx, rx) = mpsc::sync_channel::<OutMsg>(queue.max(1));
    let stats = stats.unwrap_or_default();
    let reopen = Arc::new(AtomicBool::new(false));
    let name = out.name();
    let (st, re) = (stats.clone(), reopen.clone());
    std::thread::Builder::new()
        .name(format!("tiercel-out-{name}"))
        .spawn(move || {
            let errors = crate::rate_limit::RateLimit::new(Duration::from_secs(10), 1);
            let handle = |msg: OutMsg, out: &mut Box<dyn Output>| match msg {
                OutMsg::Alert(f) => {
                    if re.swap(false, Ordering::AcqRel) {
                        out.reopen();
                    }
                    match out.write(&f) {
                        Ok(()) => {
                            st.written.fetch_add(1, Ordering::Relaxed);
                            totals.written.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            st.errors.fetch_add(1, Ordering::Relaxed);
                            totals.write_errors.fetch_add(1, Ordering::Relaxed);
                            if let Some(n) = errors.check() {
                                tracing::warn!(output = name, suppressed = n, "{e}");
                            }
                        }
                    }
                }
                OutMsg::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.try_send(());
                }
            };
            while let Ok(msg) = rx.recv() {
                handle(msg, &mut out);
                // Drain what is already queued, then flush once.
                while let Ok(msg) = rx.try_recv() {
                    handle(msg, &mut out);
                }
                let _ = out.flush();
            }
            let _ = out.flush();
        })?;
    Ok(OutputHandle {
        name,
        tx,
        stats,
        reopen,
    })
}

impl Sinks {
    /// Opens the outputs (files are created now, so a bad path fails at start; CA and
    /// client certificate files are read now) and starts their threads.
    /// The outputs `cfg` asks for, not started.
    fn build_outputs(cfg: &SinkConfig) -> io::Result<Vec<Box<dyn Output>>> {
        let json = cfg.json_output;
        let o = &cfg.outputs;
        let mut outs: Vec<Box<dyn Output>> = Vec::new();
        if o.stdout {
            outs.push(Box::new(StdoutOutput { json }));
        }
        if let Some(f) = &o.file {
            outs.push(Box::new(file::FileOutput::new(
                f.filename.clone(),
                json,
                f.keep_alive,
            )?));
        }
        if let Some(p) = &cfg.alerts_file {
            outs.push(Box::new(file::FileOutput::new(p.clone(), true, true)?));
        }
        if let Some(s) = &o.syslog {
            outs.push(Box::new(syslog::SyslogOutput::new(s.socket.clone(), json)));
        }
        if let Some(p) = &o.program {
            outs.push(Box::new(program::ProgramOutput::new(
                p.program.clone(),
                json,
                p.keep_alive,
            )));
        }
        if let Some(h) = &o.http {
            outs.push(Box::new(http::HttpOutput::new(h, json)?));
        }
        Ok(outs)
    }

    pub fn start(cfg: SinkConfig) -> io::Result<Sinks> {
        let outs = Sinks::build_outputs(&cfg)?;
        let stats = Arc::new(SinkStats::default());
        let queue = cfg.queue.max(1);
        let handles = outs
            .into_iter()
            .map(|out| start_output(out, queue, stats.clone(), None))
            .collect::<io::Result<Vec<_>>>()?;
        let outputs = handles
            .iter()
            .map(|h| (h.name, h.stats.clone(), h.reopen.clone()))
            .collect();
        // Twice the capacity the quotas divide (see the module's doc).
        let (tx, rx) = mpsc::sync_channel(queue.saturating_mul(2));
        let rules = RuleCounters::default();
        let mut fanout = Fanout {
            outputs: handles,
            stats: stats.clone(),
            reported_drops: 0,
            rules: rules.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("tiercel-output".into())
            .spawn(move || fanout.run(rx))?;
        Ok(Sinks {
            sender: SinkSender::new(tx, stats.clone(), queue),
            thread: Some(thread),
            stats,
            outputs,
            rules,
        })
    }

    pub fn sender(&self) -> SinkSender {
        self.sender.clone()
    }

    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// Each output's name and counters (for metrics).
    pub fn output_stats(&self) -> impl Iterator<Item = (&'static str, &Arc<OutputStats>)> {
        self.outputs.iter().map(|(n, s, _)| (*n, s))
    }

    /// Alerts per rule (for metrics).
    pub fn rule_counters(&self) -> &RuleCounters {
        &self.rules
    }

    /// SIGUSR1: every output reopens its file, re-spawns its program or reconnects before
    /// its next alert (Falco's logrotate recipe).
    pub fn reopen(&self) {
        for (_, _, r) in &self.outputs {
            r.store(true, Ordering::Release);
        }
    }

    /// A reload: starts the outputs `cfg` asks for and switches to them once the current
    /// ones have written what they hold (bounded by `timeout`). The front queue, the
    /// totals and the rule counters go on; an output of the same kind as a current one
    /// keeps its counters (the metrics list the outputs of the start).
    pub fn replace_outputs(&mut self, cfg: &SinkConfig, timeout: Duration) -> io::Result<()> {
        let outs = Sinks::build_outputs(cfg)?;
        let queue = cfg.queue.max(1);
        let handles = outs
            .into_iter()
            .map(|out| {
                let name = out.name();
                let old = self
                    .outputs
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, s, _)| s.clone());
                start_output(out, queue, self.stats.clone(), old)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let list = handles
            .iter()
            .map(|h| (h.name, h.stats.clone(), h.reopen.clone()))
            .collect();
        let (tx, rx) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Replace(handles, tx);
        loop {
            match self.sender.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return Err(io::Error::other("the output queue stayed full")),
            }
        }
        self.outputs = list;
        // The switch happens in queue order even when the drain is slow.
        let _ = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        Ok(())
    }

    /// Waits until everything queued before this call is written by every output
    /// (bounded wait; an output stuck on a dead endpoint makes it return false).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Flush(tx);
        loop {
            match self.sender.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return false,
            }
        }
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Flushes, stops the output threads, and logs the final counters.
    pub fn shutdown(mut self, timeout: Duration) {
        self.flush(timeout);
        let s = &self.stats;
        tracing::info!(
            written = s.written.load(Ordering::Relaxed),
            dropped = s.dropped.load(Ordering::Relaxed),
            output_dropped = s.output_dropped.load(Ordering::Relaxed),
            write_errors = s.write_errors.load(Ordering::Relaxed),
            "alert outputs closed"
        );
        // The threads end when every sender is gone; sessions may still hold senders,
        // so they are detached rather than joined.
        drop(self.thread.take());
    }
}

/// The formatter: renders each alert once and offers it to every output.
struct Fanout {
    outputs: Vec<OutputHandle>,
    stats: Arc<SinkStats>,
    reported_drops: u64,
    rules: RuleCounters,
}

impl Fanout {
    fn run(&mut self, rx: Receiver<Msg>) {
        let mut last_report = Instant::now();
        loop {
            match rx.recv_timeout(REPORT_EVERY) {
                Ok(Msg::Alert(a, quota)) => {
                    if let Some(q) = quota {
                        q.release();
                    }
                    self.offer(&a);
                }
                // tiercel's own alerts: written, not counted as rule matches.
                Ok(Msg::Internal(a)) => self.deliver(&a),
                Ok(Msg::Flush(done)) => {
                    if self.flush_outputs(Duration::from_secs(10)) {
                        let _ = done.try_send(());
                    }
                }
                Ok(Msg::Replace(new, done)) => {
                    self.flush_outputs(Duration::from_secs(5));
                    // Dropping the old handles ends their threads once they are drained.
                    self.outputs = new;
                    let _ = done.try_send(());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if last_report.elapsed() >= REPORT_EVERY {
                last_report = Instant::now();
                self.report_drops();
            }
        }
    }

    fn offer(&mut self, a: &Alert) {
        if let Ok(mut rules) = self.rules.lock() {
            let c = rules
                .entry(a.alert.rule.clone())
                .or_insert_with(|| RuleCount {
                    priority: a.alert.priority.to_string(),
                    source: a.alert.source.clone(),
                    tags: a.alert.tags.clone(),
                    ..RuleCount::default()
                });
            c.matches += 1;
            c.denied += u64::from(a.denied.is_some());
        }
        self.deliver(a);
    }

    fn deliver(&mut self, a: &Alert) {
        let f = Arc::new(Formatted {
            text: a.text_line(),
            json: json_line(a),
            priority: a.alert.priority,
        });
        for o in &self.outputs {
            if o.tx.try_send(OutMsg::Alert(f.clone())).is_err() {
                o.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.stats.output_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every output writes what it has queued; a stuck one is given up on at the deadline.
    fn flush_outputs(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut ok = true;
        let mut acks = Vec::new();
        for o in &self.outputs {
            let (tx, rx) = mpsc::sync_channel(1);
            let mut msg = OutMsg::Flush(tx);
            loop {
                match o.tx.try_send(msg) {
                    Ok(()) => {
                        acks.push(rx);
                        break;
                    }
                    Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                        msg = m;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
        }
        for rx in acks {
            ok &= rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok();
        }
        ok
    }

    fn report_drops(&mut self) {
        let d = self.stats.dropped.load(Ordering::Relaxed)
            + self.stats.output_dropped.load(Ordering::Relaxed);
        if d > self.reported_drops {
            let per_output: Vec<String> = self
                .outputs
                .iter()
                .map(|o| format!("{}={}", o.name, o.stats.dropped.load(Ordering::Relaxed)))
                .collect();
            tracing::warn!(
                dropped_total = d,
                new = d - self.reported_drops,
                per_output = per_output.join(","),
                "alerts dropped: output queue full"
            );
            self.reported_drops = d;
        }
    }
}

/// The alert as one JSON line, safe for line-oriented outputs (`safe_text::escape_json_line`:
/// DEL, C1 and bidi controls, which JSON encoders leave raw, as `\uXXXX`).
fn json_line(a: &Alert) -> String {
    let raw = a.json().to_string();
    match tiercel_rules::safe_text::escape_json_line(&raw) {
        std::borrow::Cow::Borrowed(_) => raw,
        std::borrow::Cow::Owned(s) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(denied: Option<i32>) -> Alert {
        let mut f = serde_json::Map::new();
        f.insert("proc.name".into(), json!("cat"));
        Alert {
            alert: tiercel_rules::output::Alert {
                rule: "R".into(),
                priority: Priority::Warning,
                source: "syscall".into(),
                tags: vec!["a".into()],
                message: "hello (proc.name=cat)".into(),
                output_fields: f,
                time_ns: 1_700_000_000_000_000_005,
                hostname: "h".into(),
                options: Default::default(),
            },
            denied,
            resolved: None,
            action: None,
            meta_source: None,
            would_deny: false,
        }
    }

    #[test]
    fn text_and_json() {
        let a = alert(None);
        assert!(
            a.text_line()
                .ends_with(".000000005: Warning hello (proc.name=cat)"),
            "{}",
            a.text_line()
        );
        let j = a.json();
        assert_eq!(j["rule"], "R");
        assert_eq!(j["priority"], "Warning");
        assert_eq!(j["output_fields"]["proc.name"], "cat");
        assert_eq!(j["time"], "2023-11-14T22:13:20.000000005Z");
        assert!(j.get("tiercel").is_none());
        let d = alert(Some(libc::EPERM));
        assert!(d.text_line().ends_with("(denied: EPERM)"));
        assert_eq!(d.json()["tiercel"]["errno"], "EPERM");
        assert!(d.json()["tiercel"].get("resolved").is_none());
        let mut r = alert(Some(libc::EPERM));
        r.resolved = Some("/bin/x".into());
        assert_eq!(r.json()["tiercel"]["resolved"], "/bin/x");
        assert!(r.text_line().ends_with("(denied: EPERM, resolved: /bin/x)"));
        let mut k = alert(Some(libc::EROFS));
        k.action = Some(Ok(Action::KillContainer));
        assert_eq!(k.json()["tiercel"]["action"], "kill-container");
        assert_eq!(k.json()["tiercel"]["errno"], "EROFS");
        assert!(k
            .text_line()
            .ends_with("(denied: EROFS, action: kill-container)"));
        k.action = Some(Err("kill-process: SIGKILL to pid 7: gone\n".into()));
        assert_eq!(k.json()["tiercel"]["action"], "deny");
        assert_eq!(
            k.json()["tiercel"]["action_error"],
            "kill-process: SIGKILL to pid 7: gone\n"
        );
        assert!(!k.text_line().contains('\n'));
        assert_eq!(
            d.json()["output"],
            a.json()["output"],
            "Falco's output text is kept"
        );
    }

    /// Container-chosen names (any bytes: control characters, newlines, ANSI escapes,
    /// invalid UTF-8, bidi controls) never forge a line or reach a terminal through the
    /// text, syslog or JSON outputs, and JSON keeps the exact value.
    mod forged_lines {
        use super::*;
        use proptest::prelude::*;
        use tiercel_rules::json_event::JsonEvent;
        use tiercel_rules::output::OutputFormat;

        fn alert_for(name: &str, cmdline: &str, resolved: Option<String>) -> Alert {
            let (fmt, _) = OutputFormat::parse("write file=%fd.name cmd=%proc.cmdline").unwrap();
            let ev = JsonEvent::from_json(&json!({
                "evt.type": "openat", "fd.name": name, "proc.cmdline": cmdline,
            }))
            .unwrap();
            let mut a = alert(Some(libc::EPERM));
            a.alert.message = fmt.render(&ev);
            a.alert.output_fields = fmt.output_fields(&ev);
            a.resolved = resolved;
            a
        }

        fn assert_one_clean_line(what: &str, s: &str) {
            assert!(
                !s.chars().any(tiercel_rules::safe_text::needs_escape),
                "{what}: a control character survived: {s:?}"
            );
            assert_eq!(s.lines().count(), 1, "{what}: not one line: {s:?}");
        }

        fn bytes() -> impl Strategy<Value = Vec<u8>> {
            let interesting = prop::sample::select(vec![
                b"\n00:00:00.000000000: Notice all clear".to_vec(),
                b"\x1b[2K\x1b[1A".to_vec(),
                b"\x1b]0;title\x07".to_vec(),
                "\u{202e}\u{2028}\u{9b}".as_bytes().to_vec(),
                vec![0xff, 0xfe, 0xc3],
                b"\r\t\0\x7f".to_vec(),
            ]);
            prop::collection::vec(
                prop_oneof![
                    3 => any::<u8>().prop_map(|b| vec![b]),
                    1 => interesting,
                ],
                0..24,
            )
            .prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn no_forged_lines(name in bytes(), cmd in bytes(), res in bytes()) {
                let name = String::from_utf8_lossy(&name).into_owned();
                let cmd = String::from_utf8_lossy(&cmd).into_owned();
                let res = String::from_utf8_lossy(&res).into_owned();
                let a = alert_for(&name, &cmd, Some(res.clone()));
                let text = a.text_line();
                assert_one_clean_line("text", &text);
                let j = json_line(&a);
                assert_one_clean_line("json", &j);
                let back: Value = serde_json::from_str(&j).unwrap();
                prop_assert_eq!(back["output_fields"]["fd.name"].as_str(), Some(name.as_str()));
                prop_assert_eq!(back["output_fields"]["proc.cmdline"].as_str(), Some(cmd.as_str()));
                prop_assert_eq!(back["tiercel"]["resolved"].as_str(), Some(res.as_str()));
            }
        }

        #[test]
        fn the_reported_attack() {
            let a = alert_for(
                "/bin/x\n00:00:00.000000000: Notice all clear\x1b[31m",
                "touch",
                None,
            );
            assert!(
                a.text_line().ends_with(
                    "Warning write file=/bin/x\\n00:00:00.000000000: Notice all clear\\x1b[31m \
                     cmd=touch (denied: EPERM)"
                ),
                "{}",
                a.text_line()
            );
        }
    }

    #[test]
    fn file_sink_appends_json_lines() {
        let dir = std::env::temp_dir().join(format!("tiercel-sinks-{}", std::process::id()));
        let path = dir.join("sub/alerts.json");
        let sinks = Sinks::start(SinkConfig {
            alerts_file: Some(path.clone()),
            queue: 16,
            ..SinkConfig::default()
        })
        .unwrap();
        let tx = sinks.sender();
        assert!(tx.send(alert(None)));
        assert!(tx.send(alert(Some(1))));
        assert!(sinks.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["tiercel"]["action"], "deny");
        sinks.shutdown(Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        // A queue of 1 with a flood: some alerts must be dropped, none may block.
        let sinks = Sinks::start(SinkConfig {
            queue: 1,
            ..SinkConfig::default()
        })
        .unwrap();
        let tx = sinks.sender();
        let sent = (0..10_000).filter(|_| tx.send(alert(None))).count();
        let dropped = sinks.stats().dropped.load(Ordering::Relaxed) as usize;
        assert_eq!(sent + dropped, 10_000);
        assert!(dropped > 0);
    }

    /// Issue 16 (f): one container floods a queue nobody drains; another container's
    /// alerts, sent afterwards, all get through, and the drops are the flooder's.
    #[test]
    fn one_container_flood_leaves_room_for_the_others() {
        const CAP: usize = 256;
        let (tx, rx) = mpsc::sync_channel(CAP * 2);
        let sender = SinkSender::new(tx, Arc::new(SinkStats::default()), CAP);
        let flood = sender.quota("flooder");
        let quiet = sender.quota("quiet");
        let again = sender.quota("flooder");
        assert!(Arc::ptr_eq(&flood, &again), "one quota per container");
        let flooded = (0..10 * CAP)
            .filter(|_| sender.send_from(&flood, alert(None)))
            .count();
        assert!(
            flooded <= CAP,
            "the flooder alone holds at most the capacity: {flooded}"
        );
        // The quiet container's alerts fit within its share: all accepted.
        let share = CAP / 2;
        for i in 0..share {
            assert!(
                sender.send_from(&quiet, alert(None)),
                "quiet alert {i} dropped"
            );
        }
        assert_eq!(quiet.dropped(), 0);
        assert_eq!(flood.dropped() as usize, 10 * CAP - flooded);
        // Now two containers share the queue: the flooder gets nothing more while it is
        // over its half …
        assert!(!sender.send_from(&flood, alert(None)));
        // … and gets places back as the formatter takes its alerts.
        let mut taken = 0;
        while taken < CAP {
            if let Ok(Msg::Alert(_, Some(q))) = rx.try_recv() {
                q.release();
            }
            taken += 1;
        }
        assert!(sender.send_from(&quiet, alert(None)));
        // A third container still gets its floor even while both others are busy.
        let third = sender.quota("third");
        for i in 0..MIN_SHARE {
            assert!(
                sender.send_from(&third, alert(None)),
                "third alert {i} dropped"
            );
        }
        // Quotas of ended containers are pruned.
        drop((flood, again));
        let _ = sender.quota("new");
        let map = sender.shares.by_container.lock().unwrap();
        assert!(!map.contains_key("flooder"));
        assert!(map.contains_key("quiet"));
    }
}

/// The outputs against real local endpoints: files with rotation, a program, a syslog
/// socket, HTTP and HTTPS servers (hyper; TLS and mTLS with a CA and certificates made by
/// the test), retries, and a black-hole endpoint that must not hold up anything else.
#[cfg(test)]
mod endpoint_tests {
    use super::*;
    use std::collections::VecDeque;
    use std::os::unix::net::UnixDatagram;
    use std::sync::Mutex;

    fn formatted(text: &str) -> Formatted {
        Formatted {
            text: format!("12:00:00.000000000: Warning {text}"),
            json: json!({"output": text}).to_string(),
            priority: Priority::Warning,
        }
    }

    fn alert(msg: &str) -> Alert {
        Alert {
            alert: tiercel_rules::output::Alert {
                rule: "R".into(),
                priority: Priority::Warning,
                source: "syscall".into(),
                tags: vec![],
                message: msg.into(),
                output_fields: serde_json::Map::new(),
                time_ns: 0,
                hostname: "h".into(),
                options: Default::default(),
            },
            denied: None,
            resolved: None,
            action: None,
            meta_source: None,
            would_deny: false,
        }
    }

    #[test]
    fn file_output_text_json_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        // Falco's default (keep_alive false): every alert reopens, so a rotated file is
        // left alone without any signal.
        let mut f = file::FileOutput::new(path.clone(), false, false).unwrap();
        f.write(&formatted("one")).unwrap();
        std::fs::rename(&path, dir.path().join("events.log.1")).unwrap();
        f.write(&formatted("two")).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "12:00:00.000000000: Warning two\n"
        );
        // keep_alive: the open file follows the rename until SIGUSR1 (reopen).
        let mut k = file::FileOutput::new(path.clone(), true, true).unwrap();
        k.write(&formatted("three")).unwrap();
        k.flush().unwrap();
        std::fs::rename(&path, dir.path().join("events.log.2")).unwrap();
        k.write(&formatted("four")).unwrap();
        k.flush().unwrap();
        k.reopen();
        k.write(&formatted("five")).unwrap();
        k.flush().unwrap();
        let rotated = std::fs::read_to_string(dir.path().join("events.log.2")).unwrap();
        assert_eq!(
            rotated,
            "12:00:00.000000000: Warning two\n{\"output\":\"three\"}\n{\"output\":\"four\"}\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"output\":\"five\"}\n"
        );
    }

    #[test]
    fn reopen_through_sinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let sinks = Sinks::start(SinkConfig {
            outputs: OutputsConfig {
                stdout: false,
                file: Some(FileOutputConfig {
                    filename: path.clone(),
                    keep_alive: true,
                }),
                ..OutputsConfig::default()
            },
            ..SinkConfig::default()
        })
        .unwrap();
        sinks.sender().send(alert("before"));
        assert!(sinks.flush(Duration::from_secs(5)));
        std::fs::rename(&path, dir.path().join("old")).unwrap();
        sinks.reopen();
        sinks.sender().send(alert("after"));
        assert!(sinks.flush(Duration::from_secs(5)));
        assert!(std::fs::read_to_string(dir.path().join("old"))
            .unwrap()
            .ends_with("Warning before\n"));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("Warning after\n"));
    }

    /// A reload's new outputs take over in queue order: what was queued before goes to
    /// the old ones, what follows to the new; the sender and the counters stay.
    #[test]
    fn replace_outputs_switches_in_queue_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
        let cfg = |p: &std::path::Path, json| SinkConfig {
            json_output: json,
            outputs: OutputsConfig {
                stdout: false,
                file: Some(FileOutputConfig {
                    filename: p.to_path_buf(),
                    keep_alive: true,
                }),
                ..OutputsConfig::default()
            },
            ..SinkConfig::default()
        };
        let mut sinks = Sinks::start(cfg(&a, false)).unwrap();
        let sender = sinks.sender();
        sender.send(alert("one"));
        sender.send(alert("two"));
        sinks
            .replace_outputs(&cfg(&b, true), Duration::from_secs(5))
            .unwrap();
        sender.send(alert("three"));
        assert!(sinks.flush(Duration::from_secs(5)));
        let old = std::fs::read_to_string(&a).unwrap();
        let lines: Vec<&str> = old.lines().collect();
        assert_eq!(lines.len(), 2, "{old}");
        assert!(
            lines[0].ends_with("Warning one") && lines[1].ends_with("Warning two"),
            "{old}"
        );
        let new = std::fs::read_to_string(&b).unwrap();
        assert_eq!(new.lines().count(), 1, "{new}");
        assert!(
            new.contains("\"output\":") && new.contains("three"),
            "{new}"
        );
        assert_eq!(sinks.stats().written.load(Ordering::Relaxed), 3);
        let file_stats: Vec<u64> = sinks
            .output_stats()
            .map(|(_, s)| s.written.load(Ordering::Relaxed))
            .collect();
        assert_eq!(file_stats, [3], "the file output's counters go on");
    }

    #[test]
    fn program_output_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("p.txt");
        let cmd = format!("cat >> {}", out.display());
        let mut once = program::ProgramOutput::new(cmd.clone(), false, false);
        once.write(&formatted("a")).unwrap();
        once.write(&formatted("b")).unwrap();
        let mut kept = program::ProgramOutput::new(cmd, true, true);
        kept.write(&formatted("c")).unwrap();
        kept.write(&formatted("d")).unwrap();
        kept.reopen(); // closes stdin and reaps: cat exits after writing
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "12:00:00.000000000: Warning a\n12:00:00.000000000: Warning b\n\
             {\"output\":\"c\"}\n{\"output\":\"d\"}\n"
        );
        // A program that exits at once: the write fails (or is lost), then a new one runs.
        let mut dead = program::ProgramOutput::new("exit 0".into(), false, true);
        for _ in 0..3 {
            let _ = dead.write(&formatted("x"));
        }
    }

    #[test]
    fn syslog_records_are_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("log");
        let server = UnixDatagram::bind(&sock).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut s = syslog::SyslogOutput::new(Some(sock), false);
        let a = alert("file=/bin/x\n00:00:00.000000000: Notice all clear\x1b[2K\u{9b}1m");
        let f = Formatted {
            text: a.text_line(),
            json: json_line(&a),
            priority: Priority::Critical,
        };
        s.write(&f).unwrap();
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let rec = String::from_utf8_lossy(&buf[..n]).into_owned();
        // <facility LOG_USER (1) * 8 + severity critical (2)>
        assert!(rec.starts_with("<10>"), "{rec}");
        assert!(rec.contains("tiercel["), "{rec}");
        assert!(
            rec.ends_with(
                "Warning file=/bin/x\\n00:00:00.000000000: Notice all clear\\x1b[2K\\x9b1m"
            ),
            "{rec}"
        );
        assert!(
            !rec.chars().any(tiercel_rules::safe_text::needs_escape),
            "{rec}"
        );
    }

    // ---- HTTP endpoints -------------------------------------------------------------

    #[derive(Debug, Clone)]
    struct Req {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Req {
        fn header(&self, k: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        }
    }

    struct Server {
        url: String,
        requests: Arc<Mutex<Vec<Req>>>,
        tls_failures: Arc<AtomicU64>,
    }

    /// An HTTP/1.1 server (hyper) on 127.0.0.1, over TLS when `tls` is given; answers
    /// with the statuses of `statuses` in turn, then 200.
    fn server(tls: Option<Arc<rustls::ServerConfig>>, statuses: Vec<u16>) -> Server {
        use http_body_util::{BodyExt, Full};
        use hyper::body::{Bytes, Incoming};
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tls_failures = Arc::new(AtomicU64::new(0));
        let statuses = Arc::new(Mutex::new(VecDeque::from(statuses)));
        let (reqs, fails) = (requests.clone(), tls_failures.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (reqs, statuses, acceptor, fails) = (
                        reqs.clone(),
                        statuses.clone(),
                        acceptor.clone(),
                        fails.clone(),
                    );
                    tokio::spawn(async move {
                        let svc = service_fn(move |r: hyper::Request<Incoming>| {
                            let (reqs, statuses) = (reqs.clone(), statuses.clone());
                            async move {
                                let headers = r
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.to_string(), v.to_str().unwrap_or("").to_string())
                                    })
                                    .collect();
                                let body = r.into_body().collect().await?.to_bytes().to_vec();
                                reqs.lock().unwrap().push(Req { headers, body });
                                let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::from_static(b"pong")))
                                        .unwrap(),
                                )
                            }
                        });
                        let http = hyper::server::conn::http1::Builder::new();
                        match acceptor {
                            Some(a) => match a.accept(stream).await {
                                Ok(s) => {
                                    let _ = http.serve_connection(TokioIo::new(s), svc).await;
                                }
                                Err(_) => {
                                    fails.fetch_add(1, Ordering::Relaxed);
                                }
                            },
                            None => {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    });
                }
            });
        });
        Server {
            url: format!("{scheme}://localhost:{port}/alerts"),
            requests,
            tls_failures,
        }
    }

    fn http_cfg(url: &str) -> HttpOutputConfig {
        HttpOutputConfig {
            url: url.to_string(),
            ca_path: None,
            timeout: Duration::from_secs(5),
            ..HttpOutputConfig::default()
        }
    }

    #[test]
    fn http_plain_headers_gzip_keep_alive() {
        let srv = server(None, vec![]);
        let mut c = http_cfg(&srv.url);
        c.user_agent = "tiercel-test/1".into();
        c.compress_uploads = true;
        c.keep_alive = true;
        c.echo = true;
        let mut h = http::HttpOutput::new(&c, true).unwrap();
        h.write(&formatted("one")).unwrap();
        h.write(&formatted("two")).unwrap();
        let reqs = srv.requests.lock().unwrap().clone();
        assert_eq!(reqs.len(), 2);
        let r = &reqs[0];
        assert_eq!(r.header("user-agent"), Some("tiercel-test/1"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        let mut d = flate2::read::GzDecoder::new(&r.body[..]);
        let mut body = String::new();
        std::io::Read::read_to_string(&mut d, &mut body).unwrap();
        assert_eq!(body, "{\"output\":\"one\"}");
        // Text when json_output is off.
        let mut t = http::HttpOutput::new(&http_cfg(&srv.url), false).unwrap();
        t.write(&formatted("three")).unwrap();
        let last = srv.requests.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last.header("content-type"), Some("text/plain"));
        assert_eq!(last.body, b"12:00:00.000000000: Warning three");
        assert_eq!(last.header("user-agent"), Some("falcosecurity/falco"));
    }

    #[test]
    fn http_retries_transient_failures_not_client_errors() {
        let srv = server(None, vec![503, 502]);
        let mut h = http::HttpOutput::new(&http_cfg(&srv.url), true).unwrap();
        h.write(&formatted("x")).unwrap();
        assert_eq!(srv.requests.lock().unwrap().len(), 3, "two 5xx, then 200");
        let srv = server(None, vec![400]);
        let mut h = http::HttpOutput::new(&http_cfg(&srv.url), true).unwrap();
        let e = h.write(&formatted("x")).unwrap_err();
        assert!(e.to_string().contains("400"), "{e}");
        assert_eq!(
            srv.requests.lock().unwrap().len(),
            1,
            "a 4xx is not retried"
        );
    }

    struct Pki {
        dir: tempfile::TempDir,
        server: Arc<rustls::ServerConfig>,
        mtls_server: Arc<rustls::ServerConfig>,
    }

    fn pki() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let srv_key = KeyPair::generate().unwrap();
        let srv_cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&srv_key, &issuer)
            .unwrap();
        let cli_key = KeyPair::generate().unwrap();
        let cli_cert = CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .signed_by(&cli_key, &issuer)
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("client.crt"), cli_cert.pem()).unwrap();
        std::fs::write(dir.path().join("client.key"), cli_key.serialize_pem()).unwrap();
        std::fs::create_dir(dir.path().join("cadir")).unwrap();
        std::fs::write(dir.path().join("cadir/ca.pem"), ca_cert.pem()).unwrap();
        let chain = vec![CertificateDer::from(srv_cert.der().to_vec())];
        let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(srv_key.serialize_der()));
        let server = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key())
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca_cert.der().to_vec()))
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        let mtls_server = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key())
            .unwrap();
        Pki {
            dir,
            server: Arc::new(server),
            mtls_server: Arc::new(mtls_server),
        }
    }

    #[test]
    fn https_with_ca_file_ca_dir_and_insecure() {
        let p = pki();
        let srv = server(Some(p.server.clone()), vec![]);
        // Mozilla's roots do not know the test CA: refused.
        let mut h = http::HttpOutput::new(&http_cfg(&srv.url), true).unwrap();
        assert!(h.write(&formatted("x")).is_err());
        // ca_cert
        let mut c = http_cfg(&srv.url);
        c.ca_cert = Some(p.dir.path().join("ca.pem"));
        http::HttpOutput::new(&c, true)
            .unwrap()
            .write(&formatted("ca_cert"))
            .unwrap();
        // ca_path (a directory of PEM files)
        let mut c = http_cfg(&srv.url);
        c.ca_path = Some(p.dir.path().join("cadir"));
        http::HttpOutput::new(&c, true)
            .unwrap()
            .write(&formatted("ca_path"))
            .unwrap();
        // insecure
        let mut c = http_cfg(&srv.url);
        c.insecure = true;
        http::HttpOutput::new(&c, true)
            .unwrap()
            .write(&formatted("insecure"))
            .unwrap();
        let bodies: Vec<String> = srv
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        assert_eq!(
            bodies,
            [
                "{\"output\":\"ca_cert\"}",
                "{\"output\":\"ca_path\"}",
                "{\"output\":\"insecure\"}"
            ]
        );
        assert!(srv.tls_failures.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn https_mtls() {
        let p = pki();
        let srv = server(Some(p.mtls_server.clone()), vec![]);
        let mut c = http_cfg(&srv.url);
        c.ca_bundle = Some(p.dir.path().join("ca.pem"));
        // No client certificate: the server refuses the handshake.
        assert!(http::HttpOutput::new(&c, true)
            .unwrap()
            .write(&formatted("no cert"))
            .is_err());
        c.mtls = true;
        c.client_cert = p.dir.path().join("client.crt");
        c.client_key = p.dir.path().join("client.key");
        http::HttpOutput::new(&c, true)
            .unwrap()
            .write(&formatted("mtls"))
            .unwrap();
        let reqs = srv.requests.lock().unwrap().clone();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].body, b"{\"output\":\"mtls\"}");
        // Missing client files fail at start, with the path.
        c.client_key = p.dir.path().join("missing.key");
        let e = http::HttpOutput::new(&c, true).err().unwrap();
        assert!(e.to_string().contains("missing.key"), "{e}");
    }

    /// An endpoint that accepts connections and never answers: the senders never block,
    /// the file output gets every alert at once, and only the HTTP output drops.
    #[test]
    fn black_hole_endpoint_blocks_nothing_else() {
        let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = hole.local_addr().unwrap().port();
        let _keep = std::thread::spawn(move || {
            let mut held = Vec::new();
            for c in hole.incoming().flatten() {
                held.push(c); // accepted, never read or answered
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        let mut http_cfg = http_cfg(&format!("http://127.0.0.1:{port}/"));
        // Longer than the test: the HTTP output stays stuck in its first request.
        http_cfg.timeout = Duration::from_secs(120);
        let sinks = Sinks::start(SinkConfig {
            outputs: OutputsConfig {
                stdout: false,
                file: Some(FileOutputConfig {
                    filename: path.clone(),
                    keep_alive: true,
                }),
                http: Some(http_cfg),
                ..OutputsConfig::default()
            },
            queue: 16,
            ..SinkConfig::default()
        })
        .unwrap();
        let tx = sinks.sender();
        for i in 0..200 {
            // Paced so the front queue never overflows: only the HTTP output falls behind.
            assert!(tx.send(alert(&format!("n{i}"))), "front queue full at {i}");
            std::thread::sleep(Duration::from_millis(1));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let count = || {
            std::fs::read_to_string(&path)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        while count() < 200 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(count(), 200, "the file output was held up");
        let http = sinks.output_stats().find(|(n, _)| *n == "http").unwrap().1;
        assert_eq!(
            http.written.load(Ordering::Relaxed),
            0,
            "the black hole answered?"
        );
        assert_eq!(
            http.errors.load(Ordering::Relaxed),
            0,
            "still in its first request"
        );
        assert!(http.dropped.load(Ordering::Relaxed) >= 200 - 16 - 1);
        assert_eq!(sinks.stats().dropped.load(Ordering::Relaxed), 0);
    }
}
