//! The `listenerPath` server: a unix stream socket where runc/crun deliver, once per
//! filter (container init and every exec), the container process state JSON with the
//! seccomp listener fd in `SCM_RIGHTS`.
//!
//! - The socket's parent directory is created; the socket is mode 0600; a stale socket
//!   is replaced, a live one (another supervisor) is an error.
//! - Peers are authenticated with `SO_PEERCRED`: uid 0 or our own uid.
//! - Each connection is read to EOF or to the end of one JSON document (the spec allows
//!   several `sendmsg`s; runc 1.1.5 never closes) with a size bound. The fd named
//!   `seccompFd` is kept; any other fd received is closed.
//! - Pending connections (accepted, document not complete) are bounded, in number and in
//!   time, by this model: a connection that has sent nothing yet is a container created
//!   but not started (crun connects at `create` and, with `noNewPrivileges`, sends at
//!   `start`, which may never come): it holds its place legitimately for as long as it
//!   stays open, so its *lifetime* is not bounded, but the *number* of such connections is,
//!   per peer process ([`MAX_PENDING_PER_PEER`], the `SO_PEERCRED` pid: a runtime makes one
//!   connection per filter) and overall ([`MAX_PENDING_CONNECTIONS`]). A connection that
//!   has started its document must finish it within [`DOCUMENT_DEADLINE`] (a runtime sends
//!   it in one go) or it is dropped. A refused or dropped connection is logged
//!   (rate-limited).
//! - The JSON is untrusted and parsed leniently (crun sends `ociVersion: "0.2.0"`).
//! - The connection's thread then becomes the session's thread.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::decide::{requested_mode, MODE_ANNOTATION};
use crate::event::ContainerInfo;
use crate::keeper::{KeeperLink, KeptListener};
use crate::rate_limit::RateLimit;
use crate::session::{EngineCell, Session};
use crate::sys::{self, NotifyFd};

/// The largest state message accepted (annotations can be large; runc's agent example
/// uses 32 KiB, CRI-O 16 KiB).
pub const MAX_STATE_BYTES: usize = 1 << 20;

/// Connections being read at once (each holds a thread until its payload arrives).
pub const MAX_PENDING_CONNECTIONS: usize = 256;

/// Pending connections one peer process (its `SO_PEERCRED` pid) may hold.
pub const MAX_PENDING_PER_PEER: usize = 4;

/// How long a connection may take from its first byte to a complete document.
pub const DOCUMENT_DEADLINE: Duration = Duration::from_secs(10);

/// The places of pending connections, overall and per peer pid.
#[derive(Debug)]
pub(crate) struct Pending {
    total: usize,
    per_peer: usize,
    held: std::sync::Mutex<std::collections::HashMap<i32, usize>>,
}

/// One pending connection's place; given back when dropped.
#[derive(Debug)]
pub(crate) struct PendingSlot {
    pending: Arc<Pending>,
    peer: i32,
}

/// Why a connection was refused a place.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    TooManyOverall,
    TooManyFromPeer,
}

impl Pending {
    pub(crate) fn new(total: usize, per_peer: usize) -> Arc<Pending> {
        Arc::new(Pending {
            total,
            per_peer,
            held: Default::default(),
        })
    }

    /// A place for a connection from `peer`, if there is one.
    pub(crate) fn admit(self: &Arc<Self>, peer: i32) -> Result<PendingSlot, Refused> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.values().sum::<usize>() >= self.total {
            return Err(Refused::TooManyOverall);
        }
        let n = held.entry(peer).or_insert(0);
        if *n >= self.per_peer {
            return Err(Refused::TooManyFromPeer);
        }
        *n += 1;
        Ok(PendingSlot {
            pending: self.clone(),
            peer,
        })
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.values().sum()
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        let mut held = self.pending.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.peer);
            }
        }
    }
}

/// The runtime-spec `ContainerProcessState`, leniently parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessState {
    pub oci_version: String,
    pub fds: Vec<String>,
    /// The process that installed the filter (init, or the exec'd process).
    pub pid: Option<u32>,
    pub metadata: Option<String>,
    pub id: String,
    pub status: String,
    /// The container's init pid (`state.pid`).
    pub init_pid: Option<u32>,
    pub bundle: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

fn as_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0)
}

fn as_string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// Parses the state JSON. Only a JSON object is required; every field is optional.
pub fn parse_state(bytes: &[u8]) -> Result<ProcessState, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("state JSON: {e}"))?;
    let obj = v.as_object().ok_or("state JSON: not an object")?;
    let state = obj.get("state").and_then(Value::as_object);
    let sget = |k: &str| state.and_then(|s| s.get(k));
    let fds = obj
        .get("fds")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    let annotations = sget("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(ProcessState {
        oci_version: as_string(obj.get("ociVersion")).unwrap_or_default(),
        fds,
        pid: as_u32(obj.get("pid")),
        metadata: as_string(obj.get("metadata")),
        id: as_string(sget("id")).unwrap_or_default(),
        status: as_string(sget("status")).unwrap_or_default(),
        init_pid: as_u32(sget("pid")),
        bundle: as_string(sget("bundle")),
        annotations,
    })
}

impl ProcessState {
    /// Index of the listener fd among the received fds: the `seccompFd` entry of `fds`,
    /// or the only fd when `fds` is missing.
    pub fn seccomp_fd_index(&self, received: usize) -> Option<usize> {
        if self.fds.is_empty() {
            return (received == 1).then_some(0);
        }
        self.fds
            .iter()
            .position(|n| n == "seccompFd")
            .filter(|&i| i < received)
    }

    /// What identifies the container to [`crate::container_meta`]'s lookup.
    pub fn meta_target(&self) -> crate::container_meta::Target {
        crate::container_meta::Target {
            id: self.id.clone(),
            bundle: self.bundle.as_ref().map(std::path::PathBuf::from),
            annotations: self.annotations.clone(),
        }
    }

    /// Container identity from the state, with what its annotations say (CRI, containerd,
    /// nerdctl, podman) as the starting metadata; [`crate::container_meta::spawn_lookup`]
    /// then fills in the engine's record.
    pub fn container_info(&self) -> ContainerInfo {
        let mut meta = crate::container_meta::from_annotations(&self.meta_target());
        // No engine record (yet): the bundle's bounding set.
        crate::container_meta::privileged_from_bundle(
            &mut meta,
            self.bundle.as_deref().map(Path::new),
        );
        ContainerInfo {
            id: self.id.clone(),
            meta: std::sync::Arc::new(crate::container_meta::MetaCell::new(meta)),
            init_pid: self.init_pid,
            bundle: self.bundle.clone(),
        }
    }
}

/// Binds the socket: parent directory created, stale socket replaced, mode 0600.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            fs::create_dir_all(dir)?;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another supervisor is listening", path.display()),
                ))
            }
            Err(_) => fs::remove_file(path)?,
        },
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ))
        }
        Err(_) => {}
    }
    let l = UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Reads one connection to EOF or a complete document: the payload (at most
/// [`MAX_STATE_BYTES`]) and the fds. Waits without limit for the first byte (a created,
/// not yet started crun container), then at most `deadline` for the rest (`TimedOut`).
/// Returns `None` when `shutdown` became readable first.
fn read_connection(
    conn: &UnixStream,
    shutdown: &UnixStream,
    deadline: Duration,
) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut data = Vec::with_capacity(4096);
    let mut fds = Vec::new();
    let mut buf = [0u8; 16384];
    let mut started: Option<std::time::Instant> = None;
    loop {
        let timeout = match started {
            None => -1,
            Some(t0) => {
                let left = deadline.saturating_sub(t0.elapsed());
                if left.is_zero() {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "state document incomplete {} ms after its first byte ({} bytes)",
                            deadline.as_millis(),
                            data.len()
                        ),
                    ));
                }
                i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX)
            }
        };
        let (ev, stop) =
            match sys::poll2(conn.as_fd(), Some(shutdown.as_fd()), sys::POLLIN, timeout) {
                Ok(r) => r,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            };
        if stop != 0 {
            return Ok(None);
        }
        if ev == 0 {
            continue;
        }
        let r = match sys::recv_with_fds(conn.as_fd(), &mut buf, &mut fds) {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        };
        if r.truncated {
            tracing::warn!(
                "state message carried more than {} fds; extras dropped",
                sys::MAX_RECV_FDS
            );
        }
        if fds.len() > sys::MAX_RECV_FDS {
            fds.truncate(sys::MAX_RECV_FDS);
        }
        if r.len == 0 {
            return Ok(Some((data, fds)));
        }
        started.get_or_insert_with(std::time::Instant::now);
        if data.len() + r.len > MAX_STATE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("state message larger than {MAX_STATE_BYTES} bytes"),
            ));
        }
        data.extend_from_slice(&buf[..r.len]);
        // runc 1.1.x never closes its end (it sends on a dup and leaks the original
        // until Go's GC runs), while its init waits on a notified call: a complete JSON
        // document ends the message without waiting for EOF.
        if is_complete_json(&data) {
            return Ok(Some((data, fds)));
        }
    }
}

/// True when `data` is one whole JSON value (an incomplete one fails with an EOF error;
/// anything else, complete or invalid, ends the read and is judged by [`parse_state`]).
fn is_complete_json(data: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(data) {
        Ok(_) => true,
        Err(e) => !e.is_eof(),
    }
}

/// Accepts connections until `shutdown` becomes readable.
pub(crate) fn accept_loop(
    listener: UnixListener,
    engine: Arc<EngineCell>,
    shutdown: Arc<UnixStream>,
    keeper: Option<Arc<KeeperLink>>,
) {
    let pending = Pending::new(MAX_PENDING_CONNECTIONS, MAX_PENDING_PER_PEER);
    let limit = Arc::new(RateLimit::new(Duration::from_secs(5), 5));
    let my_uid = sys::geteuid();
    loop {
        let (ev, stop) = match sys::poll2(listener.as_fd(), Some(shutdown.as_fd()), sys::POLLIN, -1)
        {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => {
                tracing::error!("listener poll: {e}; no more containers will be accepted");
                return;
            }
        };
        if stop != 0 {
            return;
        }
        if ev == 0 {
            continue;
        }
        let conn = match listener.accept() {
            Ok((c, _)) => c,
            Err(e) => {
                if let Some(n) = limit.check() {
                    tracing::warn!(suppressed = n, "accept: {e}");
                }
                if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        let peer = match sys::peer_cred(conn.as_fd()) {
            Ok(c) if c.uid == 0 || c.uid == my_uid => c.pid,
            Ok(c) => {
                if let Some(n) = limit.check() {
                    tracing::warn!(
                        uid = c.uid,
                        pid = c.pid,
                        suppressed = n,
                        "refused connection from an unauthorised peer"
                    );
                }
                continue;
            }
            Err(e) => {
                tracing::warn!("SO_PEERCRED: {e}; connection refused");
                continue;
            }
        };
        let slot = match pending.admit(peer) {
            Ok(s) => s,
            Err(why) => {
                if let Some(n) = limit.check() {
                    tracing::warn!(
                        peer_pid = peer,
                        suppressed = n,
                        "too many connections waiting for their state ({}); refused one",
                        match why {
                            Refused::TooManyOverall => "overall",
                            Refused::TooManyFromPeer => "from this process",
                        }
                    );
                }
                continue;
            }
        };
        let engine = engine.clone();
        let shutdown = shutdown.clone();
        let keeper = keeper.clone();
        let spawned = std::thread::Builder::new()
            .name("tiercel-session".into())
            .spawn(move || {
                let session = accept_session(&conn, &engine, &shutdown, keeper.as_deref());
                drop(slot);
                drop(conn);
                if let Some(s) = session {
                    s.run(shutdown.as_fd());
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a session thread: {e}");
        }
    }
}

/// Reads and checks one connection's state; builds its session.
fn accept_session(
    conn: &UnixStream,
    cell: &Arc<EngineCell>,
    shutdown: &UnixStream,
    keeper: Option<&KeeperLink>,
) -> Option<Session> {
    let (data, mut fds) = match read_connection(conn, shutdown, DOCUMENT_DEADLINE) {
        Ok(Some(x)) => x,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!("reading container state: {e}");
            return None;
        }
    };
    if data.is_empty() && fds.is_empty() {
        // A liveness probe (connect and close), not a runtime.
        tracing::debug!("empty connection");
        return None;
    }
    let state = match parse_state(&data) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(fds = fds.len(), "{e}; connection dropped");
            return None;
        }
    };
    let Some(idx) = state.seccomp_fd_index(fds.len()) else {
        tracing::warn!(container = %state.id, fds = fds.len(), "no seccompFd in the state message");
        return None;
    };
    // Keep the listener fd; every other received fd is closed when `fds` drops.
    let fd = fds.swap_remove(idx);
    drop(fds);
    let notify = match NotifyFd::new(fd) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(container = %state.id, "{e}");
            return None;
        }
    };
    let session = session_for(notify, &state, cell);
    // The keeper holds a duplicate from now on: the container outlives us.
    let slot = keeper.and_then(|k| match k.add(session.mode(), &data, session_fd(&session)) {
        Ok(slot) => slot,
        Err(e) => {
            tracing::error!(container = %state.id, "handing the listener to the keeper: {e}; this container will not survive a supervisor crash");
            None
        }
    });
    Some(session.with_slot(slot))
}

fn session_fd(s: &Session) -> std::os::fd::BorrowedFd<'_> {
    s.listener().as_fd()
}

/// The session of a listener the keeper handed back (a restart or an upgrade):
/// `recover` when the supervisor that held it died.
pub(crate) fn kept_session(
    kept: KeptListener,
    cell: &Arc<EngineCell>,
    recover: bool,
) -> Option<Session> {
    let state = match parse_state(&kept.state) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("kept listener: {e}");
            return None;
        }
    };
    tracing::info!(container = %state.id, pid = state.pid, "taking over a running container's listener from the keeper");
    Some(
        session_for(kept.fd, &state, cell)
            .with_slot(kept.slot)
            .recovering(recover),
    )
}

/// The session of one listener, with the mode its container asked for.
fn session_for(notify: NotifyFd, state: &ProcessState, cell: &Arc<EngineCell>) -> Session {
    let (requested, bad) = requested_mode(
        state.annotations.get(MODE_ANNOTATION).map(String::as_str),
        state.metadata.as_deref(),
    );
    for b in bad {
        tracing::warn!(container = %state.id, "{b}; ignored");
    }
    let (_, engine) = cell.load();
    let policy = engine.policy();
    if requested.is_some_and(|r| r < policy.mode && !policy.allow_downgrade) {
        tracing::warn!(container = %state.id, "container asked for audit mode; global enforce mode kept");
    }
    tracing::debug!(
        container = %state.id,
        status = %state.status,
        pid = state.pid,
        init_pid = state.init_pid,
        "listener fd received"
    );
    let info = state.container_info();
    // The engine's record, off the hot path (container_meta.rs).
    crate::container_meta::start_lookup(&info.meta, state.meta_target());
    drop(engine);
    Session::new(notify, info, state.pid, requested, cell.clone())
}

/// Removes the socket file (at shutdown), if it is still ours.
pub fn remove_socket(path: &Path) {
    if let Ok(m) = fs::symlink_metadata(path) {
        if m.file_type().is_socket() {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_state() {
        let s = parse_state(br#"{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":4422,"metadata":"MKNOD=1","state":{"ociVersion":"1.0.2","id":"oci-container1","status":"creating","pid":4422,"bundle":"/containers/redis","annotations":{"myannotation":"myvalue","n":3}}}"#).unwrap();
        assert_eq!(s.pid, Some(4422));
        assert_eq!(s.init_pid, Some(4422));
        assert_eq!(s.id, "oci-container1");
        assert_eq!(s.status, "creating");
        assert_eq!(s.metadata.as_deref(), Some("MKNOD=1"));
        assert_eq!(
            s.annotations.get("myannotation").map(String::as_str),
            Some("myvalue")
        );
        assert!(!s.annotations.contains_key("n"));
        assert_eq!(s.seccomp_fd_index(1), Some(0));
        assert_eq!(s.seccomp_fd_index(0), None);
    }

    #[test]
    fn lenient_and_hostile_states() {
        let s = parse_state(br#"{"ociVersion":"0.2.0","pid":-1,"state":"x"}"#).unwrap();
        assert_eq!(s.pid, None);
        assert_eq!(s.id, "");
        assert_eq!(s.seccomp_fd_index(1), Some(0));
        assert_eq!(s.seccomp_fd_index(2), None);
        assert!(parse_state(b"[]").is_err());
        assert!(parse_state(b"{").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse_state(deep.as_bytes()).is_err());
        let s = parse_state(br#"{"fds":["other","seccompFd"]}"#).unwrap();
        assert_eq!(s.seccomp_fd_index(2), Some(1));
        assert_eq!(s.seccomp_fd_index(1), None);
    }

    /// Issue 16 (d): a connection that never sends holds its place (a created, not started
    /// crun container) and ends at shutdown; one that starts a document and never finishes
    /// it is dropped at the deadline; a complete document ends the read without EOF.
    #[test]
    fn pending_connections_idle_partial_and_complete() {
        let deadline = Duration::from_millis(300);
        let (stop_tx, stop_rx) = UnixStream::pair().unwrap();
        // Never sends: still waiting after several deadlines, then ends on shutdown.
        let (a, _a_peer) = UnixStream::pair().unwrap();
        let t = std::time::Instant::now();
        let idle = std::thread::scope(|s| {
            let h = s.spawn(|| read_connection(&a, &stop_rx, deadline));
            std::thread::sleep(deadline * 3);
            assert!(!h.is_finished(), "an idle connection must keep its place");
            use std::io::Write as _;
            (&stop_tx).write_all(b"x").unwrap();
            h.join().unwrap()
        });
        assert!(matches!(idle, Ok(None)), "{idle:?}");
        assert!(t.elapsed() >= deadline * 3);
        let (_stop_tx, stop_rx) = UnixStream::pair().unwrap();
        // Starts a document, never finishes (and never closes): dropped at the deadline.
        let (b, b_peer) = UnixStream::pair().unwrap();
        use std::io::Write as _;
        (&b_peer)
            .write_all(br#"{"ociVersion":"1.0.2","fds":["#)
            .unwrap();
        let t = std::time::Instant::now();
        let e = read_connection(&b, &stop_rx, deadline).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(t.elapsed() >= deadline && t.elapsed() < deadline * 10);
        // Trickles a byte at a time: the deadline counts from the first byte.
        let (c, c_peer) = UnixStream::pair().unwrap();
        let trickle = std::thread::spawn(move || {
            for _ in 0..100 {
                if (&c_peer).write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        c.set_nonblocking(false).unwrap();
        let e = read_connection(&c, &stop_rx, deadline).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        drop(c);
        trickle.join().unwrap();
        // A complete document ends the read while the peer keeps its end open (runc).
        let (d, d_peer) = UnixStream::pair().unwrap();
        (&d_peer).write_all(br#"{"state":{"id":"x"}}"#).unwrap();
        let (data, fds) = read_connection(&d, &stop_rx, deadline).unwrap().unwrap();
        assert_eq!(parse_state(&data).unwrap().id, "x");
        assert!(fds.is_empty());
    }

    #[test]
    fn pending_places_per_peer_and_overall() {
        let p = Pending::new(6, 2);
        let a1 = p.admit(100).unwrap();
        let _a2 = p.admit(100).unwrap();
        assert_eq!(p.admit(100).unwrap_err(), Refused::TooManyFromPeer);
        let _b: Vec<_> = (0..2).map(|_| p.admit(200).unwrap()).collect();
        let _c: Vec<_> = (0..2).map(|_| p.admit(300).unwrap()).collect();
        assert_eq!(p.admit(400).unwrap_err(), Refused::TooManyOverall);
        drop(a1);
        assert_eq!(p.held(), 5);
        let _a3 = p.admit(100).unwrap();
        assert_eq!(p.held(), 6);
    }

    #[test]
    fn message_completeness() {
        assert!(!is_complete_json(b"{\"ociVersion\":\"1.0.2\",\"fds\":["));
        assert!(!is_complete_json(b"  "));
        assert!(is_complete_json(b"{\"a\":1}"));
        assert!(is_complete_json(b"{\"a\":1}\n"));
        assert!(
            is_complete_json(b"{\"a\":}"),
            "invalid input ends the read too"
        );
    }

    #[test]
    fn images() {
        assert_eq!(
            crate::engines::split_image("docker.io/library/nginx:1.25"),
            ("docker.io/library/nginx".into(), Some("1.25".into()))
        );
        assert_eq!(
            crate::engines::split_image("localhost:5000/busybox"),
            ("localhost:5000/busybox".into(), None)
        );
        assert_eq!(
            crate::engines::split_image("busybox@sha256:abc"),
            ("busybox".into(), None)
        );
    }

    #[test]
    fn container_info_from_annotations() {
        let mut s = ProcessState {
            id: "0123456789abcdef".into(),
            ..Default::default()
        };
        s.annotations
            .insert("io.kubernetes.cri.container-name".into(), "web".into());
        s.annotations
            .insert("io.kubernetes.cri.image-name".into(), "nginx:1".into());
        let i = s.container_info().meta.load();
        assert_eq!(i.name.as_deref(), Some("web"));
        assert_eq!(i.image_repository.as_deref(), Some("nginx"));
        assert_eq!(i.image_tag.as_deref(), Some("1"));
    }

    #[test]
    fn podman_storage_lookup() {
        let root = std::env::temp_dir().join(format!("tiercel-podman-{}", std::process::id()));
        let ud = root.join("overlay-containers/abc/userdata");
        fs::create_dir_all(&ud).unwrap();
        fs::write(
            root.join("overlay-containers/containers.json"),
            r#"[{"id":"abc","names":["mybox"],"metadata":"{\"image-name\":\"localhost/bb:latest\"}"}]"#,
        )
        .unwrap();
        let s = ProcessState {
            id: "abc".into(),
            bundle: Some(ud.to_string_lossy().into()),
            ..Default::default()
        };
        let i = crate::container_meta::lookup(&s.meta_target());
        assert_eq!(i.name.as_deref(), Some("mybox"));
        assert_eq!(i.image_repository.as_deref(), Some("localhost/bb"));
        assert_eq!(i.image_tag.as_deref(), Some("latest"));
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn bind_replaces_stale_and_refuses_live() {
        let dir = std::env::temp_dir().join(format!("tiercel-bind-{}/sub", std::process::id()));
        let path = dir.join("s.sock");
        let l = bind(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(bind(&path).is_err(), "a live socket must not be replaced");
        drop(l);
        let _l2 = bind(&path).unwrap();
        remove_socket(&path);
        assert!(!path.exists());
        fs::write(&path, b"x").unwrap();
        assert!(bind(&path).is_err());
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }
}
