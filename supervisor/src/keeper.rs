//! The keeper: a minimal process that holds a duplicate of every listener fd the
//! supervisor accepted, so that the filters' notifications outlive a supervisor that dies
//! (`kill -9`, a crash) or stops answering (SIGSTOP, a deadlock), and a supervisor started
//! again on the same socket takes every running container back.
//!
//! Why: when the last holder of a listener file closes it, the kernel answers every later
//! notified call of the filter with `ENOSYS`, for good. While another process holds the
//! file, a notification received by a process that then died stays pending, `ID_VALID`
//! reports it and any holder can answer it.
//!
//! Life cycle:
//! - `tiercel supervise` connects to `<socket>.keeper`; when nobody listens there it starts
//!   `tiercel keeper` (same binary) in its own session and process group, stdio on
//!   `<socket>.keeper.log`, and waits for it (bounded). Nobody owns the keeper: it ends by
//!   itself when it keeps nothing (every listener fd reported POLLHUP) and no supervisor is
//!   attached.
//! - The supervisor *attaches* on a control connection; the keeper answers with its
//!   shared-memory record file (a memfd) and every listener it keeps (state JSON, mode, fd,
//!   record slot). A second supervisor attaching (restart, `--takeover`) takes everything
//!   over; the previous one, if alive, is told to hand over and exits.
//! - At accept time the supervisor *adds* each listener fd (SCM_RIGHTS) with the state
//!   JSON on a short connection; the keeper checks it is a seccomp notify fd, gives it a
//!   record slot and keeps it.
//! - Records: per listener, one slot in shared memory where the session writes the
//!   notification it received (a seqlock: a few plain stores, no system call) and clears
//!   it after answering; a heartbeat word the supervisor bumps every 100 ms.
//!
//! What the keeper does per notification: nothing, while the supervisor is attached and
//! alive. When the supervisor is gone (control connection closed), its heartbeat is stale
//! for longer than the bound, or one session's record stayed in flight for longer than
//! the bound, the keeper *serves* the listeners concerned: audit containers get CONTINUE
//! (the orphaned in-flight call, the ones received but not recorded — probed with ID_VALID
//! below the first id it receives, ids being consecutive per filter — and every new one);
//! enforce containers wait for a successor (default) or get EPERM (`refuse`). It stops
//! serving as soon as a supervisor attaches or the stalled one moves again. It never
//! parses `/proc`, evaluates rules or reads container memory.
//!
//! The keeper socket is 0600 in the supervisor's socket directory; peers must be root or
//! the keeper's uid; messages are bounded, connections are limited in number and in idle
//! time, and anything malformed closes the connection.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::decide::Mode;
use crate::sys::{self, Answer, Listener, Notif, NotifyFd, SharedWords};

/// Record slots (listeners with an in-flight record); more listeners are kept without one.
pub const SLOTS: usize = 4096;
/// Words per slot: seq, in flight, id, pid|arch, nr, ip, args[6], padding.
const SLOT_WORDS: usize = 16;
/// Header words: magic, heartbeat.
const HEADER_WORDS: usize = 8;
const WORDS: usize = HEADER_WORDS + SLOTS * SLOT_WORDS;
const MAGIC: u64 = 0x7469_6572_6365_6c01;
/// Ids probed with ID_VALID below the first one received after a takeover (notifications
/// the dead holder received but had not recorded yet).
pub const PROBE_WINDOW: u64 = 64;
/// Largest message on the keeper socket.
const MAX_FRAME: usize = 4 << 20;
/// Connections at once (besides the attached supervisor).
const MAX_CONNS: usize = 64;
/// A connection that sends nothing useful for this long is closed.
const CONN_IDLE: Duration = Duration::from_secs(5);
/// Keeper loop tick.
const TICK_MS: i32 = 50;
/// A keeper that was never attached exits after this long with nothing to keep.
const STARTUP_GRACE: Duration = Duration::from_secs(10);
/// Heartbeat period of the supervisor.
pub const HEARTBEAT: Duration = Duration::from_millis(100);

/// What enforce containers get when no supervisor answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnLoss {
    /// Their notified calls wait for a successor.
    #[default]
    Wait,
    /// Their notified calls fail with EPERM after the bounded wait.
    Refuse,
}

impl std::str::FromStr for OnLoss {
    type Err = String;
    fn from_str(s: &str) -> Result<OnLoss, String> {
        match s.trim() {
            "wait" => Ok(OnLoss::Wait),
            "refuse" => Ok(OnLoss::Refuse),
            o => Err(format!("{o:?}: expected wait or refuse")),
        }
    }
}

impl std::fmt::Display for OnLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OnLoss::Wait => "wait",
            OnLoss::Refuse => "refuse",
        })
    }
}

/// What happens to the containers' calls while no supervisor answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeeperPolicy {
    /// How long a call may wait for a supervisor before the keeper answers it.
    pub wait: Duration,
    pub enforce: OnLoss,
}

impl Default for KeeperPolicy {
    fn default() -> Self {
        KeeperPolicy {
            wait: Duration::from_millis(500),
            enforce: OnLoss::Wait,
        }
    }
}

impl KeeperPolicy {
    /// The keeper's answer for a container in `mode`, or `None` (wait).
    pub fn answer(&self, mode: Mode) -> Option<Answer> {
        match (mode, self.enforce) {
            (Mode::Audit, _) => Some(Answer::Continue),
            (Mode::Enforce, OnLoss::Refuse) => Some(Answer::Errno(libc::EPERM)),
            (Mode::Enforce, OnLoss::Wait) => None,
        }
    }

    /// One line for the start-up log.
    pub fn describe(&self) -> String {
        format!(
            "if tiercel stops answering: audit containers' calls continue after {} ms; \
             enforce containers' calls {}",
            self.wait.as_millis(),
            match self.enforce {
                OnLoss::Wait => "wait for a new supervisor (--keeper-enforce wait)".to_string(),
                OnLoss::Refuse => format!(
                    "fail with EPERM after {} ms (--keeper-enforce refuse)",
                    self.wait.as_millis()
                ),
            }
        )
    }
}

/// The keeper socket of a listenerPath socket.
pub fn keeper_socket(socket: &Path) -> PathBuf {
    let mut s = socket.as_os_str().to_owned();
    s.push(".keeper");
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------
// Records in shared memory.

/// The shared record file: header and slots.
#[derive(Debug)]
pub struct Records {
    mem: SharedWords,
}

impl Records {
    fn create() -> io::Result<Records> {
        let mem = SharedWords::create("tiercel-keeper", WORDS)?;
        mem.words()[0].store(MAGIC, Ordering::Relaxed);
        Ok(Records { mem })
    }

    fn map(fd: OwnedFd) -> io::Result<Records> {
        let mem = SharedWords::map(fd, WORDS)?;
        if mem.words()[0].load(Ordering::Relaxed) != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "keeper record file: bad magic",
            ));
        }
        Ok(Records { mem })
    }

    fn heartbeat(&self) -> &AtomicU64 {
        &self.mem.words()[1]
    }

    /// Bumps the heartbeat (the supervisor, every [`HEARTBEAT`]).
    pub fn beat(&self) {
        self.heartbeat().fetch_add(1, Ordering::Release);
    }

    fn slot_words(&self, i: usize) -> Option<&[AtomicU64; SLOT_WORDS]> {
        let base = HEADER_WORDS + i.checked_mul(SLOT_WORDS)?;
        self.mem
            .words()
            .get(base..base + SLOT_WORDS)?
            .try_into()
            .ok()
    }

    /// A consistent snapshot of slot `i`: (seq, the in-flight notification if any).
    fn read(&self, i: usize) -> Option<(u64, Option<Notif>)> {
        let w = self.slot_words(i)?;
        for _ in 0..100 {
            let s1 = w[0].load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let v: [u64; 12] = std::array::from_fn(|k| w[k + 1].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if w[0].load(Ordering::Relaxed) != s1 {
                continue;
            }
            let n = (v[0] == 1).then(|| Notif {
                id: v[1],
                pid: (v[2] >> 32) as u32,
                arch: v[2] as u32,
                nr: v[3] as u32 as i32,
                instruction_pointer: v[4],
                args: [v[5], v[6], v[7], v[8], v[9], v[10]],
            });
            return Some((s1, n));
        }
        None
    }
}

/// One session's record slot (written only by that session's thread).
#[derive(Debug, Clone)]
pub struct Slot {
    records: Arc<Records>,
    index: usize,
}

impl Slot {
    #[inline]
    fn write(&self, f: impl FnOnce(&[AtomicU64; SLOT_WORDS])) {
        if let Some(w) = self.records.slot_words(self.index) {
            let s = w[0].load(Ordering::Relaxed);
            w[0].store(s.wrapping_add(1), Ordering::Relaxed);
            fence(Ordering::Release);
            f(w);
            w[0].store(s.wrapping_add(2), Ordering::Release);
        }
    }

    /// Records a received notification (before any work on it).
    #[inline]
    pub fn received(&self, n: &Notif) {
        self.write(|w| {
            w[1].store(1, Ordering::Relaxed);
            w[2].store(n.id, Ordering::Relaxed);
            w[3].store(
                (u64::from(n.pid) << 32) | u64::from(n.arch),
                Ordering::Relaxed,
            );
            w[4].store(u64::from(n.nr as u32), Ordering::Relaxed);
            w[5].store(n.instruction_pointer, Ordering::Relaxed);
            for (k, a) in n.args.iter().enumerate() {
                w[6 + k].store(*a, Ordering::Relaxed);
            }
        });
    }

    /// Records that the last received notification is answered (or gone).
    #[inline]
    pub fn answered(&self) {
        self.write(|w| w[1].store(0, Ordering::Relaxed));
    }

    /// The in-flight notification recorded, if any (what a predecessor left).
    pub fn in_flight(&self) -> Option<Notif> {
        self.records.read(self.index).and_then(|(_, n)| n)
    }

    pub fn index(&self) -> usize {
        self.index
    }

    /// A slot in a fresh record file of this process (tests).
    #[cfg(test)]
    pub(crate) fn standalone(index: usize) -> Slot {
        Slot {
            records: Arc::new(Records::create().expect("memfd")),
            index,
        }
    }
}

/// After a takeover, the first id received on a listener tells where the filter's ids
/// are: every id below it (within [`PROBE_WINDOW`]) that is still valid was received by
/// the previous holder and never answered. Answers them with `answer`, except `skip`
/// (already handled); returns how many.
pub fn answer_orphans_below<L: Listener>(
    fd: &L,
    first: u64,
    skip: Option<u64>,
    answer: Answer,
) -> u64 {
    let mut n = 0;
    for d in 1..=PROBE_WINDOW {
        let id = first.wrapping_sub(d);
        if Some(id) == skip {
            continue;
        }
        if matches!(fd.id_valid(id), Ok(true)) && fd.send(id, answer).is_ok() {
            n += 1;
        }
    }
    n
}

// ---------------------------------------------------------------------------------------
// Messages: a 4-byte little-endian length, then a JSON object; fds ride along with the
// first byte of the frame (`"nfds"` says how many belong to it).

fn send_frame(sock: BorrowedFd<'_>, msg: &Value, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    let mut off = 0;
    while off < frame.len() {
        let with = if off == 0 { fds } else { &[] };
        match sys::send_with_fds(sock, &frame[off..], with) {
            Ok(0) => return Err(io::Error::from_raw_os_error(libc::EPIPE)),
            Ok(n) => off += n,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends on a non-blocking connection with a bounded wait (the keeper never blocks on a
/// peer for long).
fn send_frame_bounded(sock: &UnixStream, msg: &Value, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_write_timeout(Some(Duration::from_secs(1)))?;
    let r = send_frame(sock.as_fd(), msg, fds);
    sock.set_nonblocking(true)?;
    r
}

/// Accumulates bytes and fds from one connection; yields whole messages.
#[derive(Debug, Default)]
struct FrameReader {
    buf: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

enum Fill {
    Data,
    Eof,
    WouldBlock,
}

impl FrameReader {
    fn fill(&mut self, sock: BorrowedFd<'_>) -> io::Result<Fill> {
        let mut tmp = [0u8; 16384];
        let mut fds = Vec::new();
        let r = match sys::recv_with_fds(sock, &mut tmp, &mut fds) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::WouldBlock),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => return Ok(Fill::WouldBlock),
            Err(e) => return Err(e),
        };
        self.fds.extend(fds);
        if self.fds.len() > 2 * sys::MAX_RECV_FDS {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "too many fds"));
        }
        if r.len == 0 {
            return Ok(Fill::Eof);
        }
        if self.buf.len() + r.len > MAX_FRAME + 4 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too large",
            ));
        }
        self.buf.extend_from_slice(&tmp[..r.len]);
        Ok(Fill::Data)
    }

    /// The next whole message, `Ok(None)` when incomplete.
    fn next(&mut self) -> io::Result<Option<(Value, Vec<OwnedFd>)>> {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(bad("frame too large"));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let v: Value =
            serde_json::from_slice(&self.buf[4..4 + len]).map_err(|_| bad("not JSON"))?;
        self.buf.drain(..4 + len);
        if !v.is_object() {
            return Err(bad("not an object"));
        }
        let nfds = v.get("nfds").and_then(Value::as_u64).unwrap_or(0) as usize;
        if nfds > sys::MAX_RECV_FDS || nfds > self.fds.len() {
            return Err(bad("fd count mismatch"));
        }
        let fds = self.fds.drain(..nfds).collect();
        Ok(Some((v, fds)))
    }

    /// Blocking: the next message, `None` at EOF.
    fn read_blocking(&mut self, sock: BorrowedFd<'_>) -> io::Result<Option<(Value, Vec<OwnedFd>)>> {
        loop {
            if let Some(m) = self.next()? {
                return Ok(Some(m));
            }
            match self.fill(sock)? {
                Fill::Data | Fill::WouldBlock => {}
                Fill::Eof => return Ok(None),
            }
        }
    }
}

fn mode_str(m: Mode) -> &'static str {
    match m {
        Mode::Audit => "audit",
        Mode::Enforce => "enforce",
    }
}

fn mode_of(v: &Value) -> Mode {
    v.get("mode")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(Mode::Audit)
}

// ---------------------------------------------------------------------------------------
// The supervisor's side.

/// A listener the keeper handed back at attach time (or forwarded later).
#[derive(Debug)]
pub struct KeptListener {
    pub fd: NotifyFd,
    /// The state JSON the runtime sent.
    pub state: Vec<u8>,
    pub slot: Option<Slot>,
}

/// What the keeper sends on the control connection after attach.
#[derive(Debug)]
pub enum Control {
    /// A listener accepted by another supervisor (one handing over).
    Listener(KeptListener),
    /// A newer supervisor took over: stop.
    Handover,
}

/// The supervisor's link to its keeper.
#[derive(Debug)]
pub struct KeeperLink {
    path: PathBuf,
    records: Arc<Records>,
}

/// What attaching returned.
#[derive(Debug)]
pub struct Attached {
    pub link: Arc<KeeperLink>,
    /// Every listener the keeper holds (running containers and exec sessions).
    pub listeners: Vec<KeptListener>,
    /// A supervisor was attached and alive: it finishes its in-flight calls itself.
    pub predecessor_alive: bool,
    pub control: ControlConn,
}

/// The control connection (read by one thread).
#[derive(Debug)]
pub struct ControlConn {
    sock: UnixStream,
    reader: FrameReader,
    records: Arc<Records>,
}

impl ControlConn {
    /// Blocks for the next control message; `None` when the keeper is gone.
    pub fn recv_control(&mut self) -> Option<Control> {
        loop {
            let (v, mut fds) = match self.reader.read_blocking(self.sock.as_fd()) {
                Ok(Some(m)) => m,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!("keeper control connection: {e}");
                    return None;
                }
            };
            match v.get("op").and_then(Value::as_str) {
                Some("handover") => return Some(Control::Handover),
                Some("listener") => {
                    if let Some(l) = kept_listener(&v, fds.pop(), &self.records) {
                        return Some(Control::Listener(l));
                    }
                }
                _ => tracing::warn!("unexpected keeper message ignored"),
            }
        }
    }

    /// Closes the connection (the keeper then counts the supervisor as gone).
    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }

    /// A handle that can close the connection from another thread.
    pub fn try_clone_sock(&self) -> io::Result<UnixStream> {
        self.sock.try_clone()
    }
}

fn kept_listener(v: &Value, fd: Option<OwnedFd>, records: &Arc<Records>) -> Option<KeptListener> {
    let fd = NotifyFd::new(fd?).ok()?;
    let state = v.get("state").and_then(Value::as_str)?.as_bytes().to_vec();
    let slot = v
        .get("slot")
        .and_then(Value::as_u64)
        .map(|i| i as usize)
        .filter(|&i| i < SLOTS)
        .map(|index| Slot {
            records: records.clone(),
            index,
        });
    Some(KeptListener { fd, state, slot })
}

fn connect(path: &Path) -> io::Result<UnixStream> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    Ok(s)
}

/// Starts `tiercel keeper` for `socket`, detached (own session and process group, stdio
/// on `<socket>.keeper.log`), and waits until it listens (bounded).
fn spawn_keeper(bin: &Path, socket: &Path, policy: KeeperPolicy) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::os::unix::process::CommandExt as _;
    let mut log = keeper_socket(socket).into_os_string();
    log.push(".log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("opening {}", PathBuf::from(&log).display()))?;
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("keeper")
        .arg("--socket")
        .arg(socket)
        .arg("--wait-ms")
        .arg(policy.wait.as_millis().to_string())
        .arg("--enforce")
        .arg(policy.enforce.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} keeper", bin.display()))?;
    let path = keeper_socket(socket);
    let start = Instant::now();
    loop {
        if UnixStream::connect(&path).is_ok() {
            // The child is reaped by nobody once we exit; until then, reap it if it dies.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(());
        }
        if let Ok(Some(st)) = child.try_wait() {
            anyhow::bail!("tiercel keeper exited ({st}) before listening");
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            anyhow::bail!("tiercel keeper did not listen within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Connects to the keeper of `socket` (starting it from `bin` when none runs) and attaches.
pub fn attach(bin: &Path, socket: &Path, policy: KeeperPolicy) -> anyhow::Result<Attached> {
    use anyhow::Context as _;
    let path = keeper_socket(socket);
    let sock = match connect(&path) {
        Ok(s) => s,
        Err(_) => {
            spawn_keeper(bin, socket, policy)?;
            connect(&path).with_context(|| format!("connecting to {}", path.display()))?
        }
    };
    send_frame(
        sock.as_fd(),
        &json!({
            "op": "attach",
            "pid": std::process::id(),
            "wait_ms": policy.wait.as_millis() as u64,
            "enforce": policy.enforce.to_string(),
        }),
        &[],
    )
    .context("attaching to the keeper")?;
    let mut reader = FrameReader::default();
    let (v, mut fds) = reader
        .read_blocking(sock.as_fd())?
        .context("the keeper closed the connection")?;
    if v.get("op").and_then(Value::as_str) != Some("records") {
        anyhow::bail!("unexpected keeper reply");
    }
    let records = Arc::new(Records::map(fds.pop().context("no record file")?)?);
    let mut listeners = Vec::new();
    let predecessor_alive = loop {
        let (v, mut fds) = reader
            .read_blocking(sock.as_fd())?
            .context("the keeper closed the connection")?;
        match v.get("op").and_then(Value::as_str) {
            Some("listener") => {
                if let Some(l) = kept_listener(&v, fds.pop(), &records) {
                    listeners.push(l);
                }
            }
            Some("ready") => {
                break v.get("predecessor").and_then(Value::as_str) == Some("alive");
            }
            _ => anyhow::bail!("unexpected keeper message"),
        }
    };
    sock.set_read_timeout(None)?;
    Ok(Attached {
        link: Arc::new(KeeperLink {
            path,
            records: records.clone(),
        }),
        listeners,
        predecessor_alive,
        control: ControlConn {
            sock,
            reader,
            records,
        },
    })
}

impl KeeperLink {
    /// Hands a freshly accepted listener to the keeper; returns its record slot.
    pub fn add(&self, mode: Mode, state: &[u8], fd: BorrowedFd<'_>) -> io::Result<Option<Slot>> {
        let sock = connect(&self.path)?;
        let state = String::from_utf8_lossy(state);
        send_frame(
            sock.as_fd(),
            &json!({"op": "add", "mode": mode_str(mode), "state": state, "nfds": 1}),
            &[fd],
        )?;
        let mut reader = FrameReader::default();
        let (v, _) = reader
            .read_blocking(sock.as_fd())?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ECONNRESET))?;
        if v.get("op").and_then(Value::as_str) != Some("added") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "keeper refused the listener",
            ));
        }
        Ok(v.get("slot")
            .and_then(Value::as_u64)
            .map(|i| i as usize)
            .filter(|&i| i < SLOTS)
            .map(|index| Slot {
                records: self.records.clone(),
                index,
            }))
    }

    /// Bumps the heartbeat.
    pub fn beat(&self) {
        self.records.beat();
    }
}

// ---------------------------------------------------------------------------------------
// The keeper process.

/// Arguments of `tiercel keeper` (started by `tiercel supervise`).
#[derive(Debug, Clone, clap::Args)]
pub struct KeeperArgs {
    /// The supervisor's listenerPath socket (the keeper listens on PATH.keeper).
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// Until a supervisor attaches: how long calls wait before the keeper answers.
    #[arg(long, default_value_t = 500)]
    pub wait_ms: u64,
    /// Until a supervisor attaches: wait or refuse for enforce containers.
    #[arg(long, default_value = "wait")]
    pub enforce: OnLoss,
}

struct Entry {
    fd: NotifyFd,
    state: String,
    mode: Mode,
    slot: Option<usize>,
    /// Answering this listener's calls itself (the supervisor is gone or stalled).
    serving: bool,
    /// The first id received while serving has been used to probe for orphans.
    probed: bool,
    /// Last seen slot seq and since when (stall detection).
    seen: Option<(u64, Instant)>,
}

struct Conn {
    sock: UnixStream,
    reader: FrameReader,
    pid: i32,
    last: Instant,
}

struct Keeper {
    listener: UnixListener,
    records: Records,
    entries: Vec<Entry>,
    free_slots: Vec<usize>,
    conns: Vec<Conn>,
    /// Index into `conns` of the attached supervisor's control connection.
    attached: Option<usize>,
    ever_attached: bool,
    started: Instant,
    /// Since when no supervisor is attached (or its heartbeat stopped moving).
    lost_since: Option<Instant>,
    heartbeat: (u64, Instant),
    policy: KeeperPolicy,
    my_uid: u32,
}

/// Runs the keeper until it has nothing left to keep.
pub fn run(args: KeeperArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    // The keeper must outlive the terminal or the supervisor that started it.
    let _signals = sys::block_signals(&[libc::SIGINT, libc::SIGHUP, libc::SIGPIPE])
        .context("blocking signals")?;
    let path = keeper_socket(&args.socket);
    let listener =
        crate::server::bind(&path).with_context(|| format!("listening on {}", path.display()))?;
    listener.set_nonblocking(true)?;
    let records = Records::create().context("creating the record file")?;
    let policy = KeeperPolicy {
        wait: Duration::from_millis(args.wait_ms),
        enforce: args.enforce,
    };
    tracing::info!(socket = %path.display(), pid = std::process::id(), "tiercel keeper ready; {}", policy.describe());
    let now = Instant::now();
    let mut k = Keeper {
        listener,
        records,
        entries: Vec::new(),
        free_slots: (0..SLOTS).rev().collect(),
        conns: Vec::new(),
        attached: None,
        ever_attached: false,
        started: now,
        lost_since: Some(now),
        heartbeat: (0, now),
        policy,
        my_uid: sys::geteuid(),
    };
    k.run();
    crate::server::remove_socket(&path);
    tracing::info!("tiercel keeper: nothing left to keep; exiting");
    Ok(())
}

impl Keeper {
    fn run(&mut self) {
        let mut revents = Vec::new();
        loop {
            let n_conns = self.conns.len();
            let mut fds: Vec<(BorrowedFd<'_>, i16)> =
                Vec::with_capacity(1 + n_conns + self.entries.len());
            fds.push((self.listener.as_fd(), sys::POLLIN));
            for c in &self.conns {
                fds.push((c.sock.as_fd(), sys::POLLIN));
            }
            for e in &self.entries {
                let ev = if e.serving { sys::POLLIN } else { 0 };
                fds.push((e.fd.as_fd(), ev));
            }
            match sys::poll_many(&fds, &mut revents, TICK_MS) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => {
                    tracing::error!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(TICK_MS as u64));
                    continue;
                }
            }
            drop(fds);
            // Listeners: serve pending calls, drop the ones every task left.
            let mut gone = Vec::new();
            for (i, &r) in revents[1 + n_conns..].iter().enumerate() {
                if r & sys::POLLIN != 0 && self.entries[i].serving {
                    self.serve_one(i);
                } else if r & (sys::POLLHUP | sys::POLLERR | sys::POLLNVAL) != 0 {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                let e = self.entries.swap_remove(i);
                if let Some(s) = e.slot {
                    self.free_slots.push(s);
                }
            }
            // Connections.
            let mut closed = Vec::new();
            for (i, &r) in revents[1..1 + n_conns].iter().enumerate() {
                if r != 0 && !self.read_conn(i) {
                    closed.push(i);
                }
            }
            let now = Instant::now();
            for (i, c) in self.conns.iter().enumerate() {
                if Some(i) != self.attached
                    && now.duration_since(c.last) > CONN_IDLE
                    && !closed.contains(&i)
                {
                    closed.push(i);
                }
            }
            closed.sort_unstable();
            closed.dedup();
            for i in closed.into_iter().rev() {
                self.close_conn(i);
            }
            if revents[0] & sys::POLLIN != 0 {
                self.accept();
            }
            self.check_health();
            if self.entries.is_empty()
                && self.attached.is_none()
                && (self.ever_attached || self.started.elapsed() > STARTUP_GRACE)
            {
                return;
            }
        }
    }

    fn accept(&mut self) {
        for _ in 0..MAX_CONNS {
            let sock = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    return;
                }
            };
            let cred = match sys::peer_cred(sock.as_fd()) {
                Ok(c) if c.uid == 0 || c.uid == self.my_uid => c,
                _ => continue,
            };
            if self.conns.len() > MAX_CONNS || sock.set_nonblocking(true).is_err() {
                continue;
            }
            self.conns.push(Conn {
                sock,
                reader: FrameReader::default(),
                pid: cred.pid,
                last: Instant::now(),
            });
        }
    }

    fn close_conn(&mut self, i: usize) {
        self.conns.swap_remove(i);
        let last = self.conns.len();
        match self.attached {
            Some(a) if a == i => {
                tracing::warn!(
                    "the supervisor detached or died; calls are answered by policy after {} ms",
                    self.policy.wait.as_millis()
                );
                self.attached = None;
                self.lost_since = Some(Instant::now());
            }
            // swap_remove moved the last connection to `i`.
            Some(a) if a == last => self.attached = Some(i),
            _ => {}
        }
    }

    /// Reads what is available; false when the connection must be closed.
    fn read_conn(&mut self, i: usize) -> bool {
        loop {
            let c = &mut self.conns[i];
            match c.reader.fill(c.sock.as_fd()) {
                Ok(Fill::Data) => c.last = Instant::now(),
                Ok(Fill::WouldBlock) => return true,
                Ok(Fill::Eof) | Err(_) => return false,
            }
            loop {
                let msg = match self.conns[i].reader.next() {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(_) => return false,
                };
                if !self.handle(i, msg) {
                    return false;
                }
            }
        }
    }

    fn handle(&mut self, i: usize, (v, mut fds): (Value, Vec<OwnedFd>)) -> bool {
        match v.get("op").and_then(Value::as_str) {
            Some("attach") => self.attach(i, &v),
            Some("add") => {
                let Some(fd) = fds.pop().and_then(|f| NotifyFd::new(f).ok()) else {
                    return false;
                };
                let Some(state) = v.get("state").and_then(Value::as_str) else {
                    return false;
                };
                let slot = self.free_slots.pop();
                if let Some(s) = slot {
                    // A fresh slot: no stale record from its previous listener.
                    if let Some(w) = self.records.slot_words(s) {
                        w[1].store(0, Ordering::Relaxed);
                    }
                }
                let entry = Entry {
                    fd,
                    state: state.to_string(),
                    mode: mode_of(&v),
                    slot,
                    serving: false,
                    probed: false,
                    seen: None,
                };
                let reply = json!({"op": "added", "slot": slot});
                let ok = send_frame_bounded(&self.conns[i].sock, &reply, &[]).is_ok();
                // Added by a supervisor that is not (or no longer) the attached one: the
                // attached one serves it too.
                if let Some(a) = self.attached.filter(|&a| a != i) {
                    if self.conns[a].pid != self.conns[i].pid {
                        let msg = listener_msg(&entry);
                        let _ = send_frame_bounded(&self.conns[a].sock, &msg, &[entry.fd.as_fd()]);
                    }
                }
                self.entries.push(entry);
                ok
            }
            _ => false,
        }
    }

    fn attach(&mut self, i: usize, v: &Value) -> bool {
        if let Some(ms) = v.get("wait_ms").and_then(Value::as_u64) {
            self.policy.wait = Duration::from_millis(ms.min(3_600_000));
        }
        if let Some(e) = v
            .get("enforce")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
        {
            self.policy.enforce = e;
        }
        let predecessor = self.attached.filter(|&a| a != i);
        // Stop serving: the new supervisor answers from now on.
        for e in &mut self.entries {
            e.serving = false;
            e.probed = false;
        }
        let sock = &self.conns[i].sock;
        let mut ok = send_frame_bounded(
            sock,
            &json!({"op": "records", "nfds": 1}),
            &[self.records.mem.fd()],
        )
        .is_ok();
        for e in &self.entries {
            if !ok {
                break;
            }
            ok = send_frame_bounded(sock, &listener_msg(e), &[e.fd.as_fd()]).is_ok();
        }
        // A predecessor that stopped beating (SIGSTOP, a deadlock) will not finish its
        // in-flight calls: the new supervisor recovers them.
        let alive = predecessor.is_some()
            && self.heartbeat.1.elapsed() <= self.policy.wait
            && self.records.heartbeat().load(Ordering::Acquire) != 0;
        ok = ok
            && send_frame_bounded(
                sock,
                &json!({"op": "ready", "predecessor": if alive { "alive" } else { "gone" }}),
                &[],
            )
            .is_ok();
        if !ok {
            return false;
        }
        if let Some(p) = predecessor {
            let _ = send_frame_bounded(&self.conns[p].sock, &json!({"op": "handover"}), &[]);
        }
        tracing::info!(
            pid = self.conns[i].pid,
            listeners = self.entries.len(),
            handover = alive,
            "supervisor attached; {}",
            self.policy.describe()
        );
        self.attached = Some(i);
        self.ever_attached = true;
        self.lost_since = None;
        self.heartbeat = (
            self.records.heartbeat().load(Ordering::Acquire),
            Instant::now(),
        );
        true
    }

    /// Decides, once per tick, which listeners the keeper answers itself.
    fn check_health(&mut self) {
        let now = Instant::now();
        let wait = self.policy.wait;
        if self.attached.is_some() {
            let hb = self.records.heartbeat().load(Ordering::Acquire);
            if hb != self.heartbeat.0 {
                self.heartbeat = (hb, now);
            }
        }
        let stalled = self.attached.is_some() && now.duration_since(self.heartbeat.1) > wait;
        let lost = match self.lost_since {
            Some(t) => now.duration_since(t) > wait,
            None => stalled,
        };
        for i in 0..self.entries.len() {
            let slot_stalled = {
                let e = &mut self.entries[i];
                match e.slot.and_then(|s| self.records.read(s)) {
                    Some((seq, Some(_))) => match e.seen {
                        Some((s, t)) if s == seq => now.duration_since(t) > wait,
                        _ => {
                            e.seen = Some((seq, now));
                            false
                        }
                    },
                    _ => {
                        e.seen = None;
                        false
                    }
                }
            };
            let serve =
                (lost || slot_stalled) && self.policy.answer(self.entries[i].mode).is_some();
            let e = &mut self.entries[i];
            if serve && !e.serving {
                e.serving = true;
                e.probed = false;
                tracing::warn!(mode = %e.mode, "no answer from the supervisor: the keeper answers this listener's calls");
                self.answer_recorded(i);
            } else if !serve && e.serving {
                e.serving = false;
                tracing::info!("the supervisor answers again");
            }
        }
    }

    /// Answers the in-flight call recorded for listener `i`, if still pending.
    fn answer_recorded(&mut self, i: usize) {
        let e = &self.entries[i];
        let Some(answer) = self.policy.answer(e.mode) else {
            return;
        };
        if let Some((_, Some(n))) = e.slot.and_then(|s| self.records.read(s)) {
            if matches!(e.fd.id_valid(n.id), Ok(true)) && e.fd.send(n.id, answer).is_ok() {
                tracing::info!(
                    id = n.id,
                    ?answer,
                    "answered a call the supervisor left in flight"
                );
            }
        }
    }

    /// RECV + answer one call on a served listener (no decoding, no /proc).
    fn serve_one(&mut self, i: usize) {
        let e = &mut self.entries[i];
        let Some(answer) = self.policy.answer(e.mode) else {
            return;
        };
        let n = match e.fd.recv() {
            Ok(n) => n,
            Err(_) => return,
        };
        let _ = e.fd.send(n.id, answer);
        if !e.probed {
            e.probed = true;
            let k = answer_orphans_below(&e.fd, n.id, None, answer);
            if k > 0 {
                tracing::info!(
                    count = k,
                    "answered calls received but not recorded by the supervisor"
                );
            }
        }
    }
}

fn listener_msg(e: &Entry) -> Value {
    json!({"op": "listener", "mode": mode_str(e.mode), "state": e.state, "slot": e.slot, "nfds": 1})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{FakeListener, Op};

    #[test]
    fn records_round_trip_through_the_shared_file() {
        let r = Arc::new(Records::create().unwrap());
        // A second mapping of the same memfd sees the stores.
        let dup = r.mem.fd().try_clone_to_owned().unwrap();
        let other = Records::map(dup).unwrap();
        let slot = Slot {
            records: r.clone(),
            index: 17,
        };
        assert_eq!(slot.in_flight(), None);
        let n = Notif {
            id: u64::MAX - 3,
            pid: 4242,
            arch: crate::event::AUDIT_ARCH_X86_64,
            nr: -1,
            instruction_pointer: 0xdead,
            args: [1, 2, 3, 4, 5, u64::MAX],
        };
        slot.received(&n);
        assert_eq!(other.read(17).unwrap().1, Some(n));
        assert_eq!(other.read(16).unwrap().1, None);
        slot.answered();
        assert_eq!(other.read(17).unwrap().1, None);
        let before = other.heartbeat().load(Ordering::Relaxed);
        r.beat();
        assert_eq!(other.heartbeat().load(Ordering::Relaxed), before + 1);
        assert!(r.slot_words(SLOTS).is_none());
        // Not a record file.
        let not = SharedWords::create("x", WORDS).unwrap();
        assert!(Records::map(not.fd().try_clone_to_owned().unwrap()).is_err());
    }

    /// The bookkeeping per notification (record on RECV, clear after SEND). Run with
    /// `cargo test --release -p tiercel --lib keeper::tests::record_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn record_cost() {
        let r = Arc::new(Records::create().unwrap());
        let slot = Slot {
            records: r,
            index: 5,
        };
        let mut n = Notif {
            id: 1,
            pid: 1,
            arch: crate::event::AUDIT_ARCH_X86_64,
            nr: 257,
            instruction_pointer: 0,
            args: [0; 6],
        };
        let rounds = 20_000_000u64;
        let t = Instant::now();
        for i in 0..rounds {
            n.id = i;
            slot.received(std::hint::black_box(&n));
            slot.answered();
        }
        let ns = t.elapsed().as_nanos() as f64 / rounds as f64;
        println!("record cost per notification: {ns:.1} ns");
        assert!(ns < 100.0, "{ns} ns");
    }

    #[test]
    fn orphans_below_the_first_id_are_found() {
        let f = FakeListener::new();
        // A dead holder received 98 and 99 and answered neither; 100 is the first id the
        // successor receives.
        f.leave_pending(98);
        f.leave_pending(99);
        let n = answer_orphans_below(&f, 100, Some(99), Answer::Continue);
        assert_eq!(n, 1);
        assert_eq!(f.pending(), vec![99]);
        let sends = f.sends();
        assert_eq!(sends, vec![(98, Answer::Continue, true, 0)]);
        assert!(f.log().contains(&Op::IdValid(37, false)));
        // Wrapping below zero is fine.
        assert_eq!(answer_orphans_below(&f, 2, None, Answer::Continue), 0);
    }

    #[test]
    fn frames_with_fds_and_garbage() {
        let (a, b) = UnixStream::pair().unwrap();
        let (p, _q) = UnixStream::pair().unwrap();
        send_frame(a.as_fd(), &json!({"op": "x", "nfds": 1}), &[p.as_fd()]).unwrap();
        send_frame(a.as_fd(), &json!({"op": "y"}), &[]).unwrap();
        let mut r = FrameReader::default();
        let (v, fds) = r.read_blocking(b.as_fd()).unwrap().unwrap();
        assert_eq!((v["op"].as_str(), fds.len()), (Some("x"), 1));
        let (v, fds) = r.read_blocking(b.as_fd()).unwrap().unwrap();
        assert_eq!((v["op"].as_str(), fds.len()), (Some("y"), 0));
        // Claims an fd it did not send.
        send_frame(a.as_fd(), &json!({"op": "x", "nfds": 1}), &[]).unwrap();
        assert!(r.read_blocking(b.as_fd()).is_err());
        // Garbage: a huge length, then not JSON.
        let mut r = FrameReader::default();
        use std::io::Write;
        (&a).write_all(&u32::MAX.to_le_bytes()).unwrap();
        assert!(r.read_blocking(b.as_fd()).is_err());
        let mut r = FrameReader::default();
        (&a).write_all(&3u32.to_le_bytes()).unwrap();
        (&a).write_all(b"{{{").unwrap();
        assert!(r.read_blocking(b.as_fd()).is_err());
        drop(a);
        let mut r = FrameReader::default();
        assert!(r.read_blocking(b.as_fd()).unwrap().is_none());
    }

    #[test]
    fn policy_answers() {
        let p = KeeperPolicy::default();
        assert!(p.wait <= Duration::from_secs(1));
        assert_eq!(p.answer(Mode::Audit), Some(Answer::Continue));
        assert_eq!(p.answer(Mode::Enforce), None);
        let p = KeeperPolicy {
            enforce: OnLoss::Refuse,
            ..p
        };
        assert_eq!(p.answer(Mode::Enforce), Some(Answer::Errno(libc::EPERM)));
        assert!(p.describe().contains("EPERM"));
        assert_eq!(
            keeper_socket(Path::new("/run/t.sock")),
            PathBuf::from("/run/t.sock.keeper")
        );
    }
}
