//! [`EventBuilder`] (one per session) and [`SyscallEvent`], the event the rules see.
//!
//! `build` reads every target-memory argument eagerly (before the notify loop's
//! `ID_VALID` check) and opens `/proc/<tid>` as a directory handle; everything from `/proc`
//! is read lazily, on the first `extract` of a field that needs it, through that handle
//! (so a lazily read value never comes from a recycled pid: once the task is gone the
//! handle's reads fail and the field is missing).

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tiercel_rules::event::{EventType, Field, FieldArg, Value};

use super::decode::{self, Decoded, ParamVal, PathArg};
use super::flags::{self as fl, AT_FDCWD};
use super::mem::SockAddr;
use super::path::{self, Resolved, RootCtx};
use super::procfs::{self, ProcCache, ProcDir, Status, TaskInfo, UserDb};
use super::sock::{self, SockInfo};
use super::{ContainerInfo, Notif, ReadMem};

/// Why no event could be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unsupported architecture {0:#x}")]
    UnknownArch(u32),
}

/// Host names (from the rules' `fd.*ip.name` values) by the addresses they resolve to,
/// maintained by whoever resolves them (shared by every session).
pub type DnsTable = Arc<std::sync::RwLock<std::collections::HashMap<IpAddr, Vec<String>>>>;

/// State shared by the events of one session.
#[derive(Debug)]
pub struct Session {
    pub container: ContainerInfo,
    proc_root: PathBuf,
    cache: Mutex<ProcCache>,
    userdb: Mutex<Option<Arc<UserDb>>>,
    /// The container root's overlay upperdir (`None` inside: not an overlay), read once.
    upperdir: Mutex<Option<Option<PathBuf>>>,
    hostname: String,
    boot_ns: Option<u64>,
    dns: std::sync::RwLock<Option<DnsTable>>,
    /// OCI annotations from the bundle's `config.json`, read once.
    annotations: std::sync::OnceLock<std::collections::HashMap<String, String>>,
    /// The container's bind mounts from the bundle's `config.json`, read once.
    mounts: std::sync::OnceLock<Vec<MountInfo>>,
}

/// One of the container's mounts as Falco's container plugin reports it
/// (`container.mounts`, `container.mount.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Host path (or volume) mounted.
    pub source: String,
    /// Where it is mounted in the container.
    pub dest: String,
    /// The engine's mode string (OCI has none: empty).
    pub mode: String,
    /// Mounted read-write (no `ro` option).
    pub rdwr: bool,
    /// `private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`, or empty.
    pub propagation: String,
}

impl MountInfo {
    /// Falco's `source:dest:mode:rdwr:propagation`.
    pub fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.source, self.dest, self.mode, self.rdwr, self.propagation
        )
    }
}

/// The bind mounts of an OCI `config.json` (`mounts` entries of type `bind` or with a
/// `bind`/`rbind` option): what container engines report as the container's mounts
/// (volumes, host paths), not the runtime's own proc/sysfs/tmpfs mounts.
pub fn oci_bind_mounts(config: &serde_json::Value) -> Vec<MountInfo> {
    let Some(ms) = config.get("mounts").and_then(|m| m.as_array()) else {
        return Vec::new();
    };
    ms.iter()
        .take(4096)
        .filter_map(|m| {
            let opts: Vec<&str> = m
                .get("options")
                .and_then(|o| o.as_array())
                .map(|o| o.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let bind = m.get("type").and_then(|t| t.as_str()) == Some("bind")
                || opts.iter().any(|o| matches!(*o, "bind" | "rbind"));
            if !bind {
                return None;
            }
            Some(MountInfo {
                source: m.get("source")?.as_str()?.to_string(),
                dest: m.get("destination")?.as_str()?.to_string(),
                mode: String::new(),
                rdwr: !opts.contains(&"ro"),
                propagation: opts
                    .iter()
                    .find(|o| {
                        matches!(
                            **o,
                            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                        )
                    })
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `container.mount*[arg]`: the mount at index `arg`, or the first whose source (by
/// source) or destination (by destination) matches the glob `arg`.
pub fn find_mount<'a>(
    mounts: &'a [MountInfo],
    arg: &FieldArg,
    by_dest: bool,
) -> Option<&'a MountInfo> {
    match arg {
        FieldArg::Index(i) => mounts.get(usize::try_from(*i).ok()?),
        FieldArg::Name(n) => mounts.iter().find(|m| {
            let key = if by_dest { &m.dest } else { &m.source };
            tiercel_rules::eval::glob_match(n.as_bytes(), key.as_bytes())
        }),
        FieldArg::None => None,
    }
}

impl Session {
    fn config_json(&self) -> Option<serde_json::Value> {
        let b = self.container.bundle.as_ref()?;
        let raw = procfs::read_bounded(&PathBuf::from(b).join("config.json"), 8 << 20).ok()?;
        serde_json::from_slice::<serde_json::Value>(&raw).ok()
    }

    /// The container's mounts (from `<bundle>/config.json`), empty when unknown.
    pub fn mounts(&self) -> &[MountInfo] {
        self.mounts.get_or_init(|| {
            self.config_json()
                .map(|v| oci_bind_mounts(&v))
                .unwrap_or_default()
        })
    }

    /// The container's OCI annotations (`<bundle>/config.json`), empty when unknown.
    pub fn annotations(&self) -> &std::collections::HashMap<String, String> {
        self.annotations.get_or_init(|| {
            let Some(v) = self.config_json() else {
                return Default::default();
            };
            v.get("annotations")
                .and_then(|a| a.as_object())
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    fn annotation(&self, keys: &[&str]) -> Option<&str> {
        let a = self.annotations();
        keys.iter()
            .find_map(|k| a.get(*k).map(String::as_str).filter(|v| !v.is_empty()))
    }

    /// The container's start: its init process's start time (epoch ns).
    fn container_start_ns(&self) -> Option<u64> {
        let pid = self.container.init_pid?;
        let b = procfs::read_bounded(&self.proc_root.join(format!("{pid}/stat")), 4096).ok()?;
        let st = procfs::Stat::parse(&b)?;
        Some(self.boot_ns? + procfs::ticks_to_ns(st.starttime))
    }

    /// Serves `fd.sip.name` & co from this table (names the rules compare with, by address).
    pub fn set_dns_table(&self, t: DnsTable) {
        if let Ok(mut g) = self.dns.write() {
            *g = Some(t);
        }
    }
}

/// x86_64 syscall numbers whose event type [`EventBuilder`] remembers.
const ETYPE_CACHE: usize = 1024;

/// Builds events for one session (one listener fd).
#[derive(Debug)]
pub struct EventBuilder {
    session: Arc<Session>,
    num: u64,
    pin_proc_at_build: bool,
    /// Event type by x86_64 syscall number.
    etypes: Vec<Option<EventType>>,
}

impl EventBuilder {
    pub fn new(container: ContainerInfo) -> Self {
        let hostname = procfs::read_bounded(std::path::Path::new("/proc/sys/kernel/hostname"), 256)
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        EventBuilder {
            session: Arc::new(Session {
                container,
                proc_root: PathBuf::from("/proc"),
                cache: Mutex::new(ProcCache::default()),
                userdb: Mutex::new(None),
                upperdir: Mutex::new(None),
                hostname,
                boot_ns: procfs::boot_time_ns(),
                dns: std::sync::RwLock::new(None),
                annotations: std::sync::OnceLock::new(),
                mounts: std::sync::OnceLock::new(),
            }),
            num: 0,
            pin_proc_at_build: true,
            etypes: Vec::new(),
        }
    }

    /// Whether `build` opens `/proc/<tid>` right away (default: yes). Opening it costs a
    /// few µs per event; with `false` it is opened on the first field that needs `/proc`.
    /// While the notification is pending the caller is stopped and its tid cannot be
    /// reused (a killed caller invalidates the notification: `ID_VALID` fails), so lazy
    /// opening is safe for evaluation; call [`SyscallEvent::pin_proc`] before answering if
    /// fields may be read after the answer (output formatting).
    pub fn set_pin_proc_at_build(&mut self, pin: bool) {
        self.pin_proc_at_build = pin;
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Builds the event of a stopped call. All target-memory reads happen here.
    pub fn build(&mut self, n: &Notif, mem: &dyn ReadMem) -> Result<SyscallEvent, BuildError> {
        let d = decode::decode(n, mem).ok_or(BuildError::UnknownArch(n.arch))?;
        self.num += 1;
        let proc_dir = OnceCell::new();
        if self.pin_proc_at_build || d.exec.is_some() {
            let _ = proc_dir.set(ProcDir::open_at(&self.session.proc_root, n.pid).ok());
        }
        if d.exec.is_some() {
            let tgid = match crate::sys::is_thread_group_leader(n.pid) {
                Some(true) => n.pid,
                _ => proc_dir
                    .get()
                    .and_then(Option::as_ref)
                    .and_then(|p: &ProcDir| p.status())
                    .map(|s| s.tgid)
                    .unwrap_or(n.pid),
            };
            if let Ok(mut c) = self.session.cache.lock() {
                c.exec_started(tgid, n.pid);
            }
        }
        // A syscall Falco has no event type for gets a type outside the table, so that
        // `evt.type` (its name) and the event type the engine indexes rules by agree.
        // x86_64: looked up by name once per number, then from the table (not i386,
        // whose `socketcall` is several events behind one number).
        let slot = usize::try_from(n.nr)
            .ok()
            .filter(|&nr| nr < ETYPE_CACHE && d.arch == super::syscalls::Arch::X86_64);
        let cached = slot.and_then(|i| self.etypes.get(i).copied().flatten());
        let etype = cached.unwrap_or_else(|| {
            let t = EventType::from_name(d.name)
                .or_else(|| d.kname.and_then(EventType::from_name))
                .unwrap_or(EventType(u16::MAX));
            if let Some(i) = slot {
                if self.etypes.is_empty() {
                    self.etypes = vec![None; ETYPE_CACHE];
                }
                self.etypes[i] = Some(t);
            }
            t
        });
        let ts_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(SyscallEvent {
            session: self.session.clone(),
            d,
            etype,
            num: self.num,
            ts_ns,
            tid: n.pid,
            proc_dir,
            norm: OnceCell::new(),
            resolved: OnceCell::new(),
            cwd: OnceCell::new(),
            task: OnceCell::new(),
            status: OnceCell::new(),
            ancestors: OnceCell::new(),
            exec_view: OnceCell::new(),
            env: OnceCell::new(),
            fdinfo: OnceCell::new(),
            loginuid: OnceCell::new(),
            userdb: OnceCell::new(),
            typechar: OnceCell::new(),
            params_text: OnceCell::new(),
            resolved_view: Cell::new(false),
        })
    }
}

/// What we know about the fd a call uses.
#[derive(Debug, Clone, Default)]
pub struct FdInfo {
    /// File path (caller's view), or the socket tuple for sockets.
    pub name: String,
    pub typechar: char,
    pub sock: Option<SockInfo>,
}

/// One lazily walked ancestor level.
type AncestorSlot = OnceCell<Option<Arc<TaskInfo>>>;

/// One event at syscall entry.
#[derive(Debug)]
pub struct SyscallEvent {
    session: Arc<Session>,
    d: Decoded,
    etype: EventType,
    num: u64,
    ts_ns: u64,
    tid: u32,
    proc_dir: OnceCell<Option<ProcDir>>,
    norm: OnceCell<Vec<Option<Vec<u8>>>>,
    resolved: OnceCell<Vec<Result<Resolved, String>>>,
    cwd: OnceCell<Option<Vec<u8>>>,
    task: OnceCell<Option<Arc<TaskInfo>>>,
    status: OnceCell<Option<Status>>,
    ancestors: OnceCell<Box<[AncestorSlot]>>,
    exec_view: OnceCell<Option<TaskInfo>>,
    env: OnceCell<Vec<String>>,
    fdinfo: OnceCell<Option<FdInfo>>,
    loginuid: OnceCell<Option<i64>>,
    userdb: OnceCell<Option<Arc<UserDb>>>,
    typechar: OnceCell<Option<char>>,
    /// Rendered non-path parameters, by index.
    params_text: OnceCell<Box<[OnceCell<Option<String>>]>>,
    /// Serve path-valued fields resolved inside the root (see [`SyscallEvent::set_resolved_view`]).
    resolved_view: Cell<bool>,
}

/// A resolution that stopped on a procfs magic link (`/proc/<pid>/{fd/N,cwd,root,exe}`,
/// `map_files`, also below `task/<tid>/`) instead of reaching its target: what the call
/// would reach is unknown. Other procfs files (`/proc/self/oom_score_adj`) are known.
fn unreadable_magic_link(p: &[u8]) -> bool {
    let c: Vec<&[u8]> = p.split(|b| *b == b'/').filter(|c| !c.is_empty()).collect();
    if c.first() != Some(&&b"proc"[..]) {
        return false;
    }
    let k = if c.get(2) == Some(&&b"task"[..]) {
        4
    } else {
        2
    };
    matches!(
        c.get(k).copied(),
        Some(b"fd" | b"cwd" | b"root" | b"exe" | b"map_files")
    )
}

fn s<'a>(x: impl Into<Cow<'a, str>>) -> Option<Value<'a>> {
    Some(Value::Str(x.into()))
}

/// Calls whose fd is a socket when they succeed.
fn is_socket_call(name: &str) -> bool {
    matches!(
        name,
        "connect"
            | "bind"
            | "listen"
            | "accept"
            | "accept4"
            | "sendto"
            | "sendmsg"
            | "sendmmsg"
            | "recvfrom"
            | "recvmsg"
            | "recvmmsg"
            | "shutdown"
            | "getsockopt"
            | "setsockopt"
            | "getsockname"
            | "getpeername"
    )
}

/// A string of a task as a field value: borrowed when the task info is (the usual case:
/// it lives in the event or the process cache), copied otherwise.
fn task_str<'a>(
    t: Cow<'a, TaskInfo>,
    f: impl for<'x> Fn(&'x TaskInfo) -> &'x str,
) -> Option<Value<'a>> {
    match t {
        Cow::Borrowed(t) => s(f(t)),
        Cow::Owned(t) => s(f(&t).to_owned()),
    }
}

fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn ip_of(a: &SocketAddr) -> IpAddr {
    match a.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn fmt_ep(a: &SocketAddr) -> String {
    match ip_of(a) {
        IpAddr::V4(v4) => format!("{}:{}", v4, a.port()),
        IpAddr::V6(v6) => format!("{}:{}", v6, a.port()),
    }
}

/// Days since the epoch → (year, month, day) (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn fmt_time(ns: u64, date: bool, iso: bool) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let frac = ns % 1_000_000_000;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, se) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if iso {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}.{frac:09}Z")
    } else if date {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}.{frac:09}")
    } else {
        format!("{h:02}:{mi:02}:{se:02}.{frac:09}")
    }
}

/// Falco's `evt.category` of an event type (`file`, `net`, `process` ...).
fn category(name: &str) -> &'static str {
    match name {
        "open" | "openat" | "openat2" | "creat" | "open_by_handle_at" | "close" | "link"
        | "linkat" | "symlink" | "symlinkat" | "unlink" | "unlinkat" | "rename" | "renameat"
        | "renameat2" | "mkdir" | "mkdirat" | "rmdir" | "chmod" | "fchmod" | "fchmodat"
        | "fchmodat2" | "chown" | "lchown" | "fchown" | "fchownat" | "truncate" | "ftruncate"
        | "mknod" | "mknodat" | "stat" | "lstat" | "fstat" | "newfstatat" | "statx" | "access"
        | "faccessat" | "faccessat2" | "utimensat" | "chdir" | "fchdir" | "getcwd" | "lseek"
        | "name_to_handle_at" | "memfd_create" | "setxattr" | "lsetxattr" | "fsetxattr"
        | "removexattr" => "file",
        "connect" | "socket" | "bind" | "listen" | "accept" | "accept4" | "shutdown"
        | "getsockopt" | "setsockopt" | "getsockname" | "getpeername" => "net",
        "sendto" | "sendmsg" | "sendmmsg" | "write" | "pwrite" | "writev" => "io-write",
        "recvfrom" | "recvmsg" | "recvmmsg" | "read" | "pread" | "readv" => "io-read",
        "execve" | "execveat" | "clone" | "clone3" | "fork" | "vfork" | "ptrace" | "kill"
        | "tkill" | "tgkill" | "setuid" | "setgid" | "setresuid" | "setresgid" | "unshare"
        | "setns" | "prctl" | "capset" | "chroot" | "exit" | "exit_group" => "process",
        "mount" | "umount" | "umount2" | "init_module" | "finit_module" | "delete_module"
        | "bpf" | "userfaultfd" | "io_uring_setup" | "io_uring_enter" | "io_uring_register"
        | "reboot" | "sethostname" => "system",
        "mmap" | "munmap" | "mprotect" | "brk" | "mlock" | "munlock" => "memory",
        "pipe" | "pipe2" | "socketpair" | "eventfd" | "eventfd2" | "futex" | "semop" | "semget"
        | "semctl" => "ipc",
        _ => "other",
    }
}

fn typename(c: char) -> &'static str {
    match c {
        'f' => "file",
        'd' => "directory",
        '4' => "ipv4",
        '6' => "ipv6",
        'u' => "unix",
        'p' => "pipe",
        'e' => "event",
        's' => "signalfd",
        'l' => "eventpoll",
        'i' => "inotify",
        't' => "timerfd",
        'n' => "netlink",
        'b' => "bpf",
        'r' => "userfaultfd",
        'o' => "io_uring",
        'm' => "memfd",
        'c' => "pidfd",
        _ => "unknown",
    }
}

impl SyscallEvent {
    // ---- raw access ---------------------------------------------------------------------

    fn pd(&self) -> Option<&ProcDir> {
        self.proc_dir
            .get_or_init(|| ProcDir::open_at(&self.session.proc_root, self.tid).ok())
            .as_ref()
    }

    /// Opens the caller's `/proc/<tid>` handle now (if not yet), so that fields read later,
    /// after the notification is answered, still describe this task or nothing.
    pub fn pin_proc(&self) {
        let _ = self.pd();
    }

    /// The decoded call.
    pub fn decoded(&self) -> &Decoded {
        &self.d
    }

    /// Falco's event type name (`openat`).
    pub fn type_name(&self) -> &'static str {
        self.d.name
    }

    /// The caller's thread id (supervisor's pid namespace).
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// A pointer argument of the call could not be read (the kernel will fail it with EFAULT).
    pub fn fault(&self) -> bool {
        self.d.fault
    }

    pub fn num(&self) -> u64 {
        self.num
    }

    // ---- paths --------------------------------------------------------------------------

    fn dirfd_link(&self, fd: i32) -> Option<Vec<u8>> {
        let link = self.pd()?.read_link(&format!("fd/{fd}")).ok()?;
        link.starts_with(b"/").then_some(link)
    }

    /// The caller thread's cwd, in its view (no trailing `/`).
    pub fn cwd_path(&self) -> Option<&[u8]> {
        self.cwd
            .get_or_init(|| {
                let l = self.pd()?.read_link("cwd").ok()?;
                l.starts_with(b"/").then_some(l)
            })
            .as_deref()
    }

    fn base_for(&self, p: &PathArg) -> Option<Vec<u8>> {
        match p.dirfd {
            None | Some(AT_FDCWD) => self.cwd_path().map(<[u8]>::to_vec),
            Some(fd) => self.dirfd_link(fd),
        }
    }

    /// Falco's normalised absolute path of path argument `i` (`fd.name` for opens).
    pub fn norm_path(&self, i: usize) -> Option<&[u8]> {
        let v = self.norm.get_or_init(|| {
            self.d
                .paths
                .iter()
                .map(|p| {
                    if p.unreadable {
                        return None;
                    }
                    if p.empty_path {
                        return p.dirfd.and_then(|fd| self.dirfd_link(fd));
                    }
                    if p.raw.starts_with(b"/") {
                        return Some(path::normalize(b"/", &p.raw));
                    }
                    Some(path::normalize(&self.base_for(p)?, &p.raw))
                })
                .collect()
        });
        v.get(i)?.as_deref()
    }

    /// Switches the event between Falco's view (the default: path-valued fields are the
    /// normalised paths Falco shows) and the resolved view used for enforcement: `fd.name`
    /// (of path-taking calls), `fd.directory`, `fd.filename`, path parameters
    /// (`evt.arg.name/path/pathname/filename/oldpath/newpath/linkpath/dir`), `fs.path.*`
    /// and `evt.abspath*` become the paths resolved inside the caller's root, symlinks (the
    /// last one only when the call follows it) and `/proc/self/{fd/N,cwd,root}` magic links
    /// followed. A path whose resolution failed keeps Falco's value (the kernel fails such
    /// a call too: ELOOP, ENAMETOOLONG, ENOTDIR); a procfs object (`pipe:[1]`,
    /// `/memfd:x (deleted)`, `/bin/x (deleted)`) is served as its link target.
    pub fn set_resolved_view(&self, on: bool) {
        self.resolved_view.set(on);
    }

    /// Whether field `field` (argument `arg`) of this event can take another value in the
    /// resolved view ([`SyscallEvent::set_resolved_view`]): the path-valued fields of
    /// path-taking calls. Every other field reads the same in both views.
    pub fn view_dependent(&self, field: Field, arg: &FieldArg) -> bool {
        let path_param =
            |p: Option<&decode::Param>| matches!(p, Some(p) if matches!(p.val, ParamVal::Path(_)));
        match field {
            Field::FdName | Field::FdDirectory | Field::FdFilename => self.d.fd_path.is_some(),
            Field::EvtAbspath
            | Field::EvtAbspathSrc
            | Field::EvtAbspathDst
            | Field::FsPathName
            | Field::FsPathSource
            | Field::FsPathTarget => !self.d.paths.is_empty(),
            Field::EvtArgs | Field::EvtInfo => self
                .d
                .params
                .iter()
                .any(|p| matches!(p.val, ParamVal::Path(_))),
            Field::EvtArg => match arg {
                FieldArg::Name(n) => path_param(self.d.params.iter().find(|p| *p.name == **n)),
                FieldArg::Index(i) => {
                    path_param(usize::try_from(*i).ok().and_then(|i| self.d.params.get(i)))
                }
                FieldArg::None => false,
            },
            _ => false,
        }
    }

    /// Whether the resolved view is on.
    pub fn resolved_view(&self) -> bool {
        self.resolved_view.get()
    }

    /// Path argument `i` as the current view serves it.
    fn path_value(&self, i: usize) -> Option<&[u8]> {
        if self.resolved_view.get() {
            if let Some((_, Ok(r))) = self.resolved_paths().nth(i) {
                return Some(&r.path);
            }
        }
        self.norm_path(i)
    }

    /// The resolved path arguments that differ from Falco's values, rendered
    /// (`name=/bin/x`, comma separated) for the alert of a match found only in the
    /// resolved view. `None` when none differs.
    pub fn resolved_summary(&self) -> Option<String> {
        let mut out = String::new();
        for (i, (p, r)) in self.resolved_paths().enumerate() {
            let Ok(r) = r else { continue };
            if self.norm_path(i) == Some(r.path.as_slice()) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            if self.d.paths.len() > 1 {
                out.push_str(p.param);
                out.push('=');
            }
            out.push_str(&lossy(&r.path));
        }
        (!out.is_empty()).then_some(out)
    }

    /// Path arguments the call modifies whose resolution is unknown: the walk failed for
    /// another reason than one the kernel fails the call with too, or it ended on a procfs
    /// magic link it could not read.
    pub fn unresolved_modified_path(&self) -> bool {
        self.resolved_paths().any(|(p, r)| {
            p.modifies
                && match r {
                    Ok(r) => r.magic && unreadable_magic_link(&r.path),
                    Err(_) => false,
                }
        })
    }

    /// Every path argument resolved inside the caller's root with symlinks followed as the
    /// call would (for decisions), in argument order, with its parameter name.
    pub fn resolved_paths(&self) -> impl Iterator<Item = (&PathArg, &Result<Resolved, String>)> {
        let v = self
            .resolved
            .get_or_init(|| self.d.paths.iter().map(|p| self.resolve_one(p)).collect());
        self.d.paths.iter().zip(v.iter())
    }

    /// The first path argument that the call creates or modifies, resolved in the root
    /// (open for writing, creat, mkdir, the new name of link/rename/symlink...), else the
    /// first path argument.
    pub fn resolved_path(&self) -> Option<&Result<Resolved, String>> {
        let all: Vec<_> = self.resolved_paths().collect();
        all.iter()
            .find(|(p, _)| p.modifies)
            .or_else(|| all.first())
            .map(|(_, r)| *r)
    }

    fn resolve_one(&self, p: &PathArg) -> Result<Resolved, String> {
        if p.unreadable {
            return Err("the path could not be read from the caller's memory".into());
        }
        let pd = self.pd().ok_or("caller's /proc entry is gone")?;
        if p.empty_path {
            let fd = p.dirfd.ok_or("AT_EMPTY_PATH without a dirfd")?;
            let l = pd
                .read_link(&format!("fd/{fd}"))
                .map_err(|e| e.to_string())?;
            let magic =
                !l.starts_with(b"/") || l.ends_with(b" (deleted)") || l.starts_with(b"/memfd:");
            return Ok(Resolved {
                path: l,
                exists: true,
                is_dir: false,
                followed_symlink: false,
                magic,
            });
        }
        let ctx = RootCtx {
            root: pd.entry("root"),
            proc_dir: Some(pd.path()),
        };
        let base = if p.raw.starts_with(b"/") {
            b"/".to_vec()
        } else {
            self.base_for(p)
                .ok_or("cannot read the caller's cwd or dirfd")?
        };
        path::resolve_in_root(&ctx, &base, &p.raw, p.follow_last).map_err(|e| e.to_string())
    }

    fn fd_path_norm(&self) -> Option<&[u8]> {
        self.path_value(self.d.fd_path?)
    }

    // ---- process ------------------------------------------------------------------------

    fn caller(&self) -> Option<&Arc<TaskInfo>> {
        self.task
            .get_or_init(|| {
                let mut cache = self.session.cache.lock().ok()?;
                cache.get_caller(&self.session.proc_root, self.tid, || self.pd())
            })
            .as_ref()
    }

    fn status(&self) -> Option<&Status> {
        self.status.get_or_init(|| self.pd()?.status()).as_ref()
    }

    /// The process the event describes: the caller, or for execve* the new program.
    fn me(&self) -> Option<Cow<'_, TaskInfo>> {
        if self.d.exec.is_some() {
            return self
                .exec_view
                .get_or_init(|| self.make_exec_view())
                .as_ref()
                .map(Cow::Borrowed);
        }
        self.caller().map(|t| Cow::Borrowed(&**t))
    }

    fn make_exec_view(&self) -> Option<TaskInfo> {
        let e = self.d.exec.as_ref()?;
        let caller = self.caller()?;
        let mut t = (**caller).clone();
        let exepath = self
            .d
            .paths
            .last()
            .and_then(|_| {
                self.resolved_paths()
                    .last()
                    .and_then(|(_, r)| r.as_ref().ok())
            })
            .map(|r| lossy(&r.path).into_owned())
            .or_else(|| {
                self.norm_path(self.d.paths.len().checked_sub(1)?)
                    .map(|p| lossy(p).into_owned())
            })
            .unwrap_or_default();
        // comm: basename of the filename (execveat with AT_EMPTY_PATH: the fd number, as
        // the kernel does), truncated to 15 bytes.
        let base = if e.filename.is_empty() {
            self.d.args[0].to_string().into_bytes()
        } else {
            path::basename(&e.filename).to_vec()
        };
        let mut comm = lossy(&base[..base.len().min(15)]).into_owned();
        if comm.is_empty() {
            comm = lossy(&e.filename).into_owned();
        }
        t.stat.comm = comm;
        t.argv = e.argv.items.iter().map(|a| lossy(a).into_owned()).collect();
        t.exepath = exepath;
        Some(t)
    }

    /// Ancestor at depth `i` (0 = parent), walked on demand, one level at a time.
    fn ancestor_level(&self, i: usize) -> Option<&Arc<TaskInfo>> {
        if i >= procfs::MAX_ANCESTORS {
            return None;
        }
        let levels = self.ancestors.get_or_init(|| {
            (0..procfs::MAX_ANCESTORS)
                .map(|_| OnceCell::new())
                .collect()
        });
        levels[i]
            .get_or_init(|| {
                // A thread's parent is its thread group's parent (/proc/<tid>/stat ppid).
                let child: &Arc<TaskInfo> = if i == 0 {
                    self.caller()?
                } else {
                    self.ancestor_level(i - 1)?
                };
                let (ppid, start) = (child.stat.ppid, child.stat.starttime);
                if ppid == 0 {
                    return None;
                }
                let mut cache = self.session.cache.lock().ok()?;
                cache.get_pid(&self.session.proc_root, ppid, start)
            })
            .as_ref()
    }

    /// `[parent, grandparent, ...]` of the process.
    fn ancestors(&self) -> Vec<&Arc<TaskInfo>> {
        (0..procfs::MAX_ANCESTORS)
            .map_while(|i| self.ancestor_level(i))
            .collect()
    }

    /// Ancestor `n` (0 = the process itself).
    fn ancestor(&self, n: i64) -> Option<Cow<'_, TaskInfo>> {
        if n == 0 {
            return self.me();
        }
        let i = usize::try_from(n - 1).ok()?;
        self.ancestor_level(i).map(|a| Cow::Borrowed(&**a))
    }

    fn env(&self) -> &[String] {
        self.env.get_or_init(|| {
            if let Some(e) = &self.d.exec {
                return e.envp.items.iter().map(|a| lossy(a).into_owned()).collect();
            }
            self.pd()
                .and_then(|p| p.read_max("environ", procfs::MAX_ENVIRON).ok())
                .map(|b| procfs::split_nul(&b))
                .unwrap_or_default()
        })
    }

    fn loginuid(&self) -> Option<i64> {
        *self.loginuid.get_or_init(|| {
            let b = self.pd()?.read("loginuid").ok()?;
            let v: u32 = std::str::from_utf8(&b).ok()?.trim().parse().ok()?;
            Some(if v == u32::MAX { -1 } else { i64::from(v) })
        })
    }

    fn userdb(&self) -> Option<&UserDb> {
        self.userdb
            .get_or_init(|| {
                let mut g = self.session.userdb.lock().ok()?;
                if g.is_none() {
                    let pd = self.pd()?;
                    *g = Some(Arc::new(UserDb::load(&pd.entry("root"))));
                }
                g.clone()
            })
            .as_deref()
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        self.userdb()?.users.get(&uid).cloned()
    }

    fn group_name(&self, gid: u32) -> Option<String> {
        self.userdb()?.groups.get(&gid).cloned()
    }

    fn duration_of(&self, t: &TaskInfo) -> Option<u64> {
        Some(procfs::uptime_ns()?.saturating_sub(procfs::ticks_to_ns(t.stat.starttime)))
    }

    fn start_ts(&self, t: &TaskInfo) -> Option<u64> {
        Some(self.session.boot_ns? + procfs::ticks_to_ns(t.stat.starttime))
    }

    // ---- the executable ---------------------------------------------------------------

    fn upperdir(&self) -> Option<PathBuf> {
        let mut g = self.session.upperdir.lock().ok()?;
        if g.is_none() {
            let pd = self.pd()?;
            let mi = pd.read_max("mountinfo", 1 << 20).ok()?;
            *g = Some(super::overlay::root_upperdir(&String::from_utf8_lossy(&mi)));
        }
        g.clone().flatten()
    }

    /// The executable the event's process runs (for execve*: the one about to run):
    /// its path in the caller's view and a host path reaching it.
    fn exe_file(&self) -> Option<(Vec<u8>, PathBuf)> {
        let pd = self.pd()?;
        if self.d.exec.is_some() {
            let r = self.resolved_paths().last()?.1.as_ref().ok()?;
            if r.magic {
                return Some((r.path.clone(), PathBuf::new()));
            }
            let mut hp = pd.entry("root").into_os_string();
            hp.push(std::ffi::OsStr::new(&*lossy(&r.path)));
            Some((r.path.clone(), PathBuf::from(hp)))
        } else {
            Some((self.caller()?.exepath.clone().into_bytes(), pd.entry("exe")))
        }
    }

    fn exe_is_memfd(&self) -> Option<bool> {
        Some(self.exe_file()?.0.starts_with(b"/memfd:"))
    }

    /// Whether the executable is on the overlay's upper layer (written after the
    /// container started). `None` when the root is not an overlay we can see.
    fn exe_is_upper(&self) -> Option<bool> {
        let up = self.upperdir()?;
        let (p, _) = self.exe_file()?;
        if p.starts_with(b"/memfd:") || !p.starts_with(b"/") {
            return Some(false);
        }
        let mut hp = up.into_os_string();
        hp.push(std::ffi::OsStr::new(&*lossy(&p)));
        Some(std::fs::symlink_metadata(hp).is_ok())
    }

    /// Whether the caller may write the executable (mode bits and CAP_DAC_OVERRIDE; a
    /// read-only mount is not considered).
    fn exe_is_writable(&self) -> Option<bool> {
        use std::os::unix::fs::MetadataExt;
        let (_, hp) = self.exe_file()?;
        let md = std::fs::metadata(hp).ok()?;
        let st = self.status()?;
        if st.cap_eff & (1 << 1) != 0 {
            return Some(true);
        }
        let mode = md.mode();
        Some(if md.uid() == st.uid[1] {
            mode & 0o200 != 0
        } else if md.gid() == st.gid[1] {
            mode & 0o020 != 0
        } else {
            mode & 0o002 != 0
        })
    }

    fn exe_flags(&self) -> u32 {
        let mut f = 0;
        if self.exe_is_writable() == Some(true) {
            f |= fl::PPM_EXE_WRITABLE;
        }
        match self.exe_is_upper() {
            Some(true) => f |= fl::PPM_EXE_UPPER_LAYER,
            Some(false) if self.exe_is_memfd() != Some(true) => f |= fl::PPM_EXE_LOWER_LAYER,
            _ => {}
        }
        if self.exe_is_memfd() == Some(true) {
            f |= fl::PPM_EXE_FROM_MEMFD;
        }
        f
    }

    // ---- fds ----------------------------------------------------------------------------

    fn fdinfo(&self) -> Option<&FdInfo> {
        self.fdinfo
            .get_or_init(|| {
                let fd = self.d.use_fd?;
                // Socket calls: ask the socket itself first (inet families); no /proc at all.
                if self.d.sockaddr.is_some() || is_socket_call(self.d.name) {
                    if let Some(si) = crate::sys::remote_socket(self.tid, fd)
                        .ok()
                        .and_then(|r| sock::from_kernel(&r))
                    {
                        let mut info = FdInfo {
                            name: String::new(),
                            typechar: si.typechar,
                            sock: Some(si),
                        };
                        info.name = self.tuple_name(&info);
                        return Some(info);
                    }
                }
                let pd = self.pd()?;
                let link = pd.read_link(&format!("fd/{fd}")).ok();
                let l = link.as_deref().map(lossy).unwrap_or_default().into_owned();
                if let Some(ino) = l.strip_prefix("socket:[").and_then(|x| x.strip_suffix(']')) {
                    // Ask the kernel about the socket itself; scanning the task's
                    // `/proc/net` tables (which the container can make huge) is the
                    // fallback, and the only source for unix socket paths.
                    let si = crate::sys::remote_socket(self.tid, fd)
                        .ok()
                        .or_else(|| {
                            let tgid = self.status()?.tgid;
                            (tgid != self.tid)
                                .then(|| crate::sys::remote_socket(tgid, fd).ok())
                                .flatten()
                        })
                        .and_then(|r| sock::from_kernel(&r))
                        .or_else(|| ino.parse().ok().and_then(|i| sock::lookup(pd, i)));
                    let typechar = si
                        .as_ref()
                        .map(|s| s.typechar)
                        .or_else(|| self.sockaddr_typechar())
                        .unwrap_or('u');
                    let mut info = FdInfo {
                        name: String::new(),
                        typechar,
                        sock: si,
                    };
                    info.name = self.tuple_name(&info);
                    return Some(info);
                }
                if link.is_none() {
                    // Unknown fd (closed or never opened): the sockaddr still tells the family.
                    let typechar = self.sockaddr_typechar()?;
                    let mut info = FdInfo {
                        name: String::new(),
                        typechar,
                        sock: None,
                    };
                    info.name = self.tuple_name(&info);
                    return Some(info);
                }
                let typechar = if l.starts_with('/') {
                    let dir = std::fs::metadata(pd.entry(&format!("fd/{fd}")))
                        .map(|m| m.is_dir())
                        .unwrap_or(false);
                    if dir {
                        'd'
                    } else if l.starts_with("/memfd:") {
                        'm'
                    } else {
                        'f'
                    }
                } else if l.starts_with("pipe:") {
                    'p'
                } else if l.contains("eventfd") {
                    'e'
                } else if l.contains("eventpoll") {
                    'l'
                } else if l.contains("inotify") {
                    'i'
                } else if l.contains("timerfd") {
                    't'
                } else if l.contains("signalfd") {
                    's'
                } else if l.contains("bpf") {
                    'b'
                } else if l.contains("userfaultfd") {
                    'r'
                } else if l.contains("io_uring") {
                    'o'
                } else if l.contains("pidfd") {
                    'c'
                } else {
                    'f'
                };
                Some(FdInfo {
                    name: l,
                    typechar,
                    sock: None,
                })
            })
            .as_ref()
    }

    fn sockaddr_typechar(&self) -> Option<char> {
        Some(match self.d.sockaddr.as_ref()? {
            SockAddr::Inet(SocketAddr::V4(_)) => '4',
            SockAddr::Inet(a @ SocketAddr::V6(_)) => {
                if matches!(ip_of(a), IpAddr::V4(_)) {
                    '4'
                } else {
                    '6'
                }
            }
            SockAddr::Unix(_) => 'u',
            SockAddr::Other(_) => return None,
        })
    }

    /// Local endpoint (client for outbound calls).
    fn local_ep(&self) -> Option<SocketAddr> {
        self.fdinfo()?.sock.as_ref()?.local
    }

    /// Remote endpoint: the call's sockaddr (connect/sendto), else the socket's peer.
    fn remote_ep(&self) -> Option<SocketAddr> {
        if let Some(SockAddr::Inet(a)) = &self.d.sockaddr {
            if self.d.name != "bind" {
                return Some(*a);
            }
        }
        let r = self.fdinfo()?.sock.as_ref()?.remote?;
        (!r.ip().is_unspecified() || r.port() != 0).then_some(r)
    }

    /// Whether this end is the server (bind/listen/accept).
    fn is_server(&self) -> bool {
        matches!(self.d.name, "bind" | "listen" | "accept" | "accept4")
    }

    fn client_server(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        if self.is_server() {
            let local = if self.d.name == "bind" {
                match &self.d.sockaddr {
                    Some(SockAddr::Inet(a)) => Some(*a),
                    _ => self.local_ep(),
                }
            } else {
                self.local_ep()
            };
            (self.remote_ep(), local)
        } else {
            (self.local_ep(), self.remote_ep())
        }
    }

    fn tuple_name(&self, info: &FdInfo) -> String {
        if info.typechar == 'u' {
            if let Some(SockAddr::Unix(p)) = &self.d.sockaddr {
                return lossy(p).into_owned();
            }
            return info
                .sock
                .as_ref()
                .and_then(|s| s.unix_path.clone())
                .unwrap_or_default();
        }
        let (c, sv) = {
            let local = info.sock.as_ref().and_then(|s| s.local);
            let remote = match &self.d.sockaddr {
                Some(SockAddr::Inet(a)) if self.d.name != "bind" => Some(*a),
                _ => info.sock.as_ref().and_then(|s| s.remote),
            };
            if self.is_server() {
                (remote, local)
            } else {
                (local, remote)
            }
        };
        let unspec = SocketAddr::from(([0, 0, 0, 0], 0));
        format!(
            "{}->{}",
            fmt_ep(&c.unwrap_or(unspec)),
            fmt_ep(&sv.unwrap_or(unspec))
        )
    }

    /// `fd.typechar` of the event.
    pub fn fd_typechar(&self) -> Option<char> {
        *self.typechar.get_or_init(|| {
            if self.d.fd_path.is_some() {
                // libsinsp types the fd of an open by its flags alone: O_DIRECTORY gives a
                // directory, anything else a file (creat has no flags: a file). The
                // profile's flags prefilter relies on this
                // (tiercel_rules::prefilter::open_class_fields).
                let flags = self.d.open_flags.unwrap_or(fl::O_CREAT | fl::O_WRONLY);
                return Some(if flags & fl::O_DIRECTORY != 0 {
                    'd'
                } else {
                    'f'
                });
            }
            if self.d.name == "socket" {
                return match self.d.args[0] {
                    2 => Some('4'),
                    10 => Some('6'),
                    1 => Some('u'),
                    16 => Some('n'),
                    _ => None,
                };
            }
            if self.d.name == "memfd_create" {
                return Some('m');
            }
            self.fdinfo().map(|f| f.typechar)
        })
    }

    fn has_fd(&self) -> bool {
        self.d.fd_path.is_some() || self.d.use_fd.is_some() || self.d.returns_fd
    }

    /// The predicted return value if the call succeeds.
    pub fn predicted_rawres(&self) -> i64 {
        if let Some(r) = self.d.rawres {
            return r;
        }
        if self.d.returns_fd {
            return self.lowest_free_fd().unwrap_or(0);
        }
        0
    }

    /// The lowest fd number not open in the caller (what open/socket/dup return on success,
    /// unless another thread races it).
    fn lowest_free_fd(&self) -> Option<i64> {
        let pd = self.pd()?;
        let mut used: Vec<i64> = std::fs::read_dir(pd.entry("fd"))
            .ok()?
            .take(1 << 20)
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        used.sort_unstable();
        let mut want = 0i64;
        for u in used {
            if u == want {
                want += 1;
            } else if u > want {
                break;
            }
        }
        Some(want)
    }

    // ---- parameters ---------------------------------------------------------------------

    fn render_param(&self, p: &decode::Param) -> Option<String> {
        Some(match &p.val {
            ParamVal::Text(t) => t.clone(),
            ParamVal::Num(r, v) => r.text(*v),
            ParamVal::Path(i) => {
                let pa = self.d.paths.get(*i)?;
                if pa.unreadable {
                    return None;
                }
                lossy(self.path_value(*i).unwrap_or(pa.raw.as_slice())).into_owned()
            }
            ParamVal::Fd(fd) => fd.to_string(),
            ParamVal::Uid(u) => self
                .user_name(*u)
                .unwrap_or_else(|| (*u as i32).to_string()),
            ParamVal::Gid(g) => self
                .group_name(*g)
                .unwrap_or_else(|| (*g as i32).to_string()),
            ParamVal::Sockaddr(Some(SockAddr::Inet(a))) => fmt_ep(a),
            ParamVal::Sockaddr(Some(SockAddr::Unix(p))) => lossy(p).into_owned(),
            ParamVal::Sockaddr(Some(SockAddr::Other(f))) => format!("family {f}"),
            ParamVal::Sockaddr(None) => "NULL".to_string(),
            ParamVal::Res => self.predicted_rawres().to_string(),
            ParamVal::ExeFlags => fl::render_or_num(fl::EXECVE_FLAGS, self.exe_flags()),
        })
    }

    /// `evt.arg.NAME` / `evt.arg[N]`, rendered once per event (several checks on
    /// `evt.arg.flags` render the flags once); path parameters, whose text depends on
    /// the view, are rendered each time.
    fn arg_value(&self, a: &FieldArg) -> Option<Cow<'_, str>> {
        let i = match a {
            FieldArg::Name(n) => self.d.params.iter().position(|p| *p.name == **n)?,
            FieldArg::Index(i) => usize::try_from(*i).ok()?,
            FieldArg::None => return None,
        };
        let p = self.d.params.get(i)?;
        if matches!(p.val, ParamVal::Path(_)) {
            return self.render_param(p).map(Cow::Owned);
        }
        let cells = self
            .params_text
            .get_or_init(|| (0..self.d.params.len()).map(|_| OnceCell::new()).collect());
        cells
            .get(i)?
            .get_or_init(|| self.render_param(p))
            .as_deref()
            .map(Cow::Borrowed)
    }

    /// `evt.rawarg.NAME`: the number for numeric parameters.
    pub fn rawarg(&self, a: &FieldArg) -> Option<Value<'_>> {
        let FieldArg::Name(n) = a else { return None };
        let p = self.d.params.iter().find(|p| *p.name == **n)?;
        match &p.val {
            ParamVal::Fd(fd) => Some(Value::I64(*fd)),
            ParamVal::Uid(u) | ParamVal::Gid(u) => Some(Value::U64(u64::from(*u))),
            ParamVal::Res => Some(Value::I64(self.predicted_rawres())),
            ParamVal::Num(_, v) => Some(Value::U64(*v)),
            ParamVal::Path(i) => s(lossy(&self.d.paths.get(*i)?.raw).into_owned()),
            ParamVal::Text(t) => Some(match t.parse::<i64>() {
                Ok(v) => Value::I64(v),
                Err(_) => Value::Str(Cow::Owned(t.clone())),
            }),
            ParamVal::Sockaddr(_) => self.render_param(p).map(|x| Value::Str(Cow::Owned(x))),
            ParamVal::ExeFlags => Some(Value::U64(u64::from(self.exe_flags()))),
        }
    }

    /// `evt.args`: `name=value` for every parameter, space separated.
    pub fn args_string(&self) -> String {
        let mut out = String::new();
        for p in &self.d.params {
            let v = match &p.val {
                ParamVal::Uid(u) => match self.user_name(*u) {
                    Some(n) => format!("{}({})", *u as i32, n),
                    None => (*u as i32).to_string(),
                },
                ParamVal::Path(i) => {
                    let raw = self
                        .d
                        .paths
                        .get(*i)
                        .map(|x| lossy(&x.raw).into_owned())
                        .unwrap_or_default();
                    match self.norm_path(*i) {
                        Some(n) if n != raw.as_bytes() => format!("{}({})", raw, lossy(n)),
                        _ => raw,
                    }
                }
                _ => self.render_param(p).unwrap_or_else(|| "NULL".into()),
            };
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(p.name);
            out.push('=');
            out.push_str(&v);
        }
        out
    }

    fn is_open(&self) -> bool {
        matches!(
            self.d.name,
            "open" | "openat" | "openat2" | "open_by_handle_at"
        )
    }

    // ---- field dispatch -----------------------------------------------------------------

    /// The value of a field given by its Falco name (without argument), or `None`.
    pub fn extract_named(&self, name: &str, arg: &FieldArg) -> Option<Value<'_>> {
        self.extract_field(tiercel_rules::fields::lookup(name)?.field, arg)
    }

    /// The value of `field[arg]`, or `None` when this event has none.
    pub fn extract_field(&self, name: Field, arg: &FieldArg) -> Option<Value<'_>> {
        let idx = || match arg {
            FieldArg::Index(i) => Some(*i),
            _ => None,
        };
        match name {
            // evt.*
            Field::EvtNum => Some(Value::U64(self.num)),
            Field::EvtType | Field::SyscallType => {
                if usize::from(self.etype.0) < EventType::count() {
                    s(self.etype.name())
                } else {
                    s(self.d.name)
                }
            }
            Field::EvtDir => s("<"),
            Field::EvtTypeIs => match arg {
                FieldArg::Name(n) => Some(Value::U64(u64::from(**n == *self.d.name))),
                _ => None,
            },
            Field::EvtSource => s("syscall"),
            Field::EvtHostname => s(self.session.hostname.as_str()),
            Field::EvtTime => s(fmt_time(self.ts_ns, false, false)),
            Field::EvtTimeS => s(fmt_time(self.ts_ns, false, false)[..8].to_string()),
            Field::EvtTimeIso8601 => s(fmt_time(self.ts_ns, true, true)),
            Field::EvtDatetime => s(fmt_time(self.ts_ns, true, false)),
            Field::EvtDatetimeS => s(fmt_time(self.ts_ns, true, false)[..19].to_string()),
            Field::EvtRawtime => Some(Value::Time(self.ts_ns)),
            Field::EvtRawtimeS => Some(Value::Time(self.ts_ns / 1_000_000_000)),
            Field::EvtRawtimeNs => Some(Value::Time(self.ts_ns % 1_000_000_000)),
            Field::EvtIsAsync => Some(Value::Bool(false)),
            Field::EvtCount => Some(Value::U64(1)),
            Field::EvtArgs | Field::EvtInfo => s(self.args_string()),
            Field::EvtArg => self.arg_value(arg).map(Value::Str),
            Field::EvtRawarg => self.rawarg(arg),
            Field::EvtRes => s("SUCCESS"),
            Field::EvtRawres => Some(Value::I64(self.predicted_rawres())),
            Field::EvtFailed => Some(Value::Bool(false)),
            Field::EvtCountError
            | Field::EvtCountErrorFile
            | Field::EvtCountErrorNet
            | Field::EvtCountErrorMemory
            | Field::EvtCountErrorOther => Some(Value::U64(0)),
            Field::EvtCountExit => Some(Value::U64(1)),
            Field::EvtIsIo
            | Field::EvtIsIoRead
            | Field::EvtIsIoWrite
            | Field::EvtIsWait
            | Field::EvtIsSyslog => Some(Value::Bool(false)),
            Field::EvtIsOpenRead
            | Field::EvtIsOpenWrite
            | Field::EvtIsOpenExec
            | Field::EvtIsOpenCreate => {
                let f = match (self.is_open(), self.d.open_flags) {
                    (true, Some(f)) => f,
                    _ => return Some(Value::Bool(false)),
                };
                // The same functions the profile's flags prefilter is computed with.
                let (read, write) = tiercel_rules::prefilter::open_is_read_write(f);
                Some(Value::Bool(match name {
                    Field::EvtIsOpenRead => read,
                    Field::EvtIsOpenWrite => write,
                    Field::EvtIsOpenExec => false,
                    _ => fl::open_creates(f),
                }))
            }
            Field::EvtAbspath => s(lossy(self.path_value(0)?).into_owned()),
            Field::EvtAbspathSrc => s(lossy(self.path_value(0)?).into_owned()),
            Field::EvtAbspathDst => s(lossy(self.path_value(1)?).into_owned()),

            // fd.*
            Field::FdNum => {
                if !self.has_fd() {
                    return None;
                }
                if self.d.fd_path.is_some() || self.d.returns_fd {
                    Some(Value::I64(self.predicted_rawres()))
                } else {
                    Some(Value::I64(i64::from(self.d.use_fd?)))
                }
            }
            Field::FdTypechar => s(self.fd_typechar()?.to_string()),
            Field::FdType => s(typename(self.fd_typechar()?)),
            Field::FdName => {
                if self.d.fd_path.is_some() {
                    s(lossy(self.fd_path_norm()?))
                } else if self.d.name == "socket" {
                    None
                } else {
                    s(self.fdinfo()?.name.as_str())
                }
            }
            Field::FdNameraw => {
                let i = self.d.fd_path?;
                s(lossy(&self.d.paths.get(i)?.raw))
            }
            Field::FdDirectory | Field::FdFilename => {
                let p: &[u8] = match self.d.fd_path {
                    Some(_) => self.fd_path_norm()?,
                    None => {
                        let f = self.fdinfo()?;
                        if !matches!(f.typechar, 'f' | 'd') {
                            return None;
                        }
                        f.name.as_bytes()
                    }
                };
                let part = if name == Field::FdDirectory {
                    path::dirname(p)
                } else {
                    path::basename(p)
                };
                s(lossy(part))
            }
            Field::FdSip | Field::FdRip => Some(Value::Ip(ip_of(
                &self.server_or_remote(name == Field::FdRip)?,
            ))),
            Field::FdCip | Field::FdLip => Some(Value::Ip(ip_of(
                &self.client_or_local(name == Field::FdLip)?,
            ))),
            Field::FdSport | Field::FdRport => Some(Value::U64(u64::from(
                self.server_or_remote(name == Field::FdRport)?.port(),
            ))),
            Field::FdCport | Field::FdLport => Some(Value::U64(u64::from(
                self.client_or_local(name == Field::FdLport)?.port(),
            ))),
            Field::FdSnet | Field::FdRnet => Some(Value::Ip(ip_of(
                &self.server_or_remote(name == Field::FdRnet)?,
            ))),
            Field::FdCnet | Field::FdLnet => Some(Value::Ip(ip_of(
                &self.client_or_local(name == Field::FdLnet)?,
            ))),
            Field::FdIp | Field::FdNet | Field::FdPort => {
                let (c, sv) = self.client_server();
                let items: Vec<Value<'_>> = [c, sv]
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        if name == Field::FdPort {
                            Value::U64(u64::from(a.port()))
                        } else {
                            Value::Ip(ip_of(&a))
                        }
                    })
                    .collect();
                (!items.is_empty()).then_some(Value::List(items))
            }
            Field::FdSipName | Field::FdCipName | Field::FdRipName | Field::FdLipName => {
                let a = match name {
                    Field::FdSipName => self.client_server().1,
                    Field::FdCipName => self.client_server().0,
                    Field::FdRipName => self.remote_ep(),
                    _ => self.local_ep(),
                }?;
                let g = self.session.dns.read().ok()?;
                let t = g.as_ref()?.read().ok()?;
                let names = t.get(&ip_of(&a))?;
                Some(Value::List(
                    names
                        .iter()
                        .map(|n| Value::Str(Cow::Owned(n.clone())))
                        .collect(),
                ))
            }
            Field::FdL4proto => {
                let f = self.fdinfo()?;
                if let Some(p) = f.sock.as_ref().and_then(|x| x.l4proto) {
                    return s(p);
                }
                None
            }
            Field::FdSockfamily => match self.fd_typechar()? {
                '4' | '6' => s("ip"),
                'u' => s("unix"),
                _ => None,
            },
            Field::FdIsServer => {
                let t = self.fd_typechar()?;
                matches!(t, '4' | '6' | 'u').then_some(Value::Bool(self.is_server()))
            }
            Field::FdContainername => {
                let n = self.extract_field(Field::FdName, &FieldArg::None)?;
                let Value::Str(n) = n else { return None };
                s(format!("{}:{}", self.container_id(), n))
            }
            Field::FdContainerdirectory => {
                let n = self.extract_field(Field::FdDirectory, &FieldArg::None)?;
                let Value::Str(n) = n else { return None };
                s(format!("{}:{}", self.container_id(), n))
            }
            Field::FsPathName => {
                let i = self
                    .d
                    .paths
                    .iter()
                    .position(|p| !matches!(p.param, "oldpath" | "target"))?;
                s(lossy(self.path_value(i)?).into_owned())
            }
            Field::FsPathNameraw => {
                let p = self
                    .d
                    .paths
                    .iter()
                    .find(|p| !matches!(p.param, "oldpath" | "target"))?;
                s(lossy(&p.raw).into_owned())
            }
            Field::FsPathSource
            | Field::FsPathSourceraw
            | Field::FsPathTarget
            | Field::FsPathTargetraw => {
                let src = matches!(name, Field::FsPathSource | Field::FsPathSourceraw);
                let raw = matches!(name, Field::FsPathSourceraw | Field::FsPathTargetraw);
                let pname = match (self.d.name, src) {
                    ("symlink" | "symlinkat", true) => {
                        return self
                            .d
                            .params
                            .iter()
                            .find(|p| p.name == "target")
                            .and_then(|p| self.render_param(p))
                            .map(|x| Value::Str(Cow::Owned(x)));
                    }
                    ("symlink" | "symlinkat", false) => "linkpath",
                    (_, true) => "oldpath",
                    (_, false) => "newpath",
                };
                let i = self.d.paths.iter().position(|p| p.param == pname)?;
                if raw {
                    s(lossy(&self.d.paths[i].raw))
                } else {
                    s(lossy(self.path_value(i)?))
                }
            }

            // proc.*
            Field::ProcName => task_str(self.ancestor(idx().unwrap_or(0))?, |t| &t.stat.comm),
            Field::ProcPname => task_str(self.ancestor(1)?, |t| &t.stat.comm),
            Field::ProcAname => match arg {
                FieldArg::Index(n) => task_str(self.ancestor(*n)?, |t| &t.stat.comm),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::Str(Cow::Owned(a.stat.comm.clone())))
                        .collect(),
                )),
            },
            Field::ProcExe => task_str(self.me()?, TaskInfo::exe),
            Field::ProcPexe => task_str(self.ancestor(1)?, TaskInfo::exe),
            Field::ProcAexe => match arg {
                FieldArg::Index(n) => task_str(self.ancestor(*n)?, TaskInfo::exe),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::Str(Cow::Owned(a.exe().to_string())))
                        .collect(),
                )),
            },
            Field::ProcExepath => task_str(self.me()?, |t| &t.exepath),
            Field::ProcPexepath => task_str(self.ancestor(1)?, |t| &t.exepath),
            Field::ProcAexepath => match arg {
                FieldArg::Index(n) => task_str(self.ancestor(*n)?, |t| &t.exepath),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::Str(Cow::Owned(a.exepath.clone())))
                        .collect(),
                )),
            },
            Field::ProcArgs => match arg {
                FieldArg::Index(n) => s(self
                    .me()?
                    .argv
                    .get(usize::try_from(*n).ok()?.checked_add(1)?)?
                    .clone()),
                _ => s(self.me()?.args()),
            },
            Field::ProcCmdline => s(self.me()?.cmdline()),
            Field::ProcPcmdline => s(self.ancestor(1)?.cmdline()),
            Field::ProcAcmdline => match arg {
                FieldArg::Index(n) => s(self.ancestor(*n)?.cmdline()),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::Str(Cow::Owned(a.cmdline())))
                        .collect(),
                )),
            },
            Field::ProcCmdnargs => Some(Value::U64(self.me()?.argv.len().saturating_sub(1) as u64)),
            Field::ProcCmdlenargs => Some(Value::U64(
                self.me()?.argv.iter().skip(1).map(|a| a.len() as u64).sum(),
            )),
            Field::ProcExeline => {
                let me = self.me()?;
                let mut x = me.exe().to_string();
                for a in me.argv.iter().skip(1) {
                    x.push(' ');
                    x.push_str(a);
                }
                s(x)
            }
            Field::ProcEnv | Field::ProcAenv => match arg {
                FieldArg::Name(k) => {
                    let pre = format!("{k}=");
                    s(self
                        .env()
                        .iter()
                        .find_map(|e| e.strip_prefix(pre.as_str()))?
                        .to_string())
                }
                _ => s(self.env().join(" ")),
            },
            Field::ProcCwd => {
                let mut c = lossy(self.cwd_path()?).into_owned();
                if !c.ends_with('/') {
                    c.push('/');
                }
                s(c)
            }
            Field::ProcTty => Some(Value::U64(u64::from(self.caller()?.stat.tty_nr))),
            Field::ProcPid => Some(Value::I64(i64::from(self.status()?.tgid))),
            Field::ProcPpid => Some(Value::I64(i64::from(self.caller()?.stat.ppid))),
            Field::ProcApid => match arg {
                FieldArg::Index(0) => Some(Value::I64(i64::from(self.status()?.tgid))),
                FieldArg::Index(n) => Some(Value::I64(i64::from(self.ancestor(*n)?.tid))),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::I64(i64::from(a.tid)))
                        .collect(),
                )),
            },
            Field::ProcVpid => Some(Value::I64(i64::from(self.status()?.vpid))),
            Field::ProcPvpid => {
                let p = self.ancestor(1)?;
                let pd = ProcDir::open_at(&self.session.proc_root, p.tid).ok()?;
                Some(Value::I64(i64::from(pd.status()?.vpid)))
            }
            Field::ProcSid => Some(Value::I64(i64::from(self.caller()?.stat.session))),
            Field::ProcVpgid => Some(Value::I64(i64::from(self.status()?.vpgid))),
            Field::ProcIsSidLeader => Some(Value::Bool(
                self.caller()?.stat.session == self.status()?.tgid,
            )),
            Field::ProcIsVpgidLeader => {
                Some(Value::Bool(self.caller()?.stat.pgrp == self.status()?.tgid))
            }
            Field::ProcSname | Field::ProcSidExe | Field::ProcSidExepath => {
                let me = self.caller()?;
                let sid = me.stat.session;
                let leader = if sid == self.status()?.tgid {
                    Cow::Borrowed(&**me)
                } else {
                    Cow::Owned(
                        (*self.session.cache.lock().ok()?.get_pid(
                            &self.session.proc_root,
                            sid,
                            me.stat.starttime,
                        )?)
                        .clone(),
                    )
                };
                match name {
                    Field::ProcSname => s(leader.stat.comm.clone()),
                    Field::ProcSidExe => s(leader.exe().to_string()),
                    _ => s(leader.exepath.clone()),
                }
            }
            Field::ProcDuration => Some(Value::Time(self.duration_of(self.caller()?)?)),
            Field::ProcPpidDuration => Some(Value::Time(self.duration_of(&*self.ancestor(1)?)?)),
            Field::ProcPidTs => Some(Value::Time(self.start_ts(self.caller()?)?)),
            Field::ProcPpidTs => Some(Value::Time(self.start_ts(&*self.ancestor(1)?)?)),
            Field::ProcIsExeFromMemfd => Some(Value::Bool(self.exe_is_memfd()?)),
            Field::ProcIsExeUpperLayer => Some(Value::Bool(self.exe_is_upper()?)),
            Field::ProcIsExeWritable => Some(Value::Bool(self.exe_is_writable()?)),
            Field::ProcExeInoCtime
            | Field::ProcExeInoMtime
            | Field::ProcExeIno
            | Field::ProcExeInoCtimeDurationProcStart => {
                use std::os::unix::fs::MetadataExt;
                let md = if self.d.exec.is_some() {
                    let r = self.resolved_paths().last()?.1.as_ref().ok()?;
                    let pd = self.pd()?;
                    let mut hp = pd.entry("root").into_os_string();
                    hp.push(std::ffi::OsStr::new(&*lossy(&r.path)));
                    std::fs::metadata(hp).ok()?
                } else {
                    std::fs::metadata(self.pd()?.entry("exe")).ok()?
                };
                let ctime =
                    (md.ctime() as u64).saturating_mul(1_000_000_000) + md.ctime_nsec() as u64;
                match name {
                    Field::ProcExeIno => Some(Value::U64(md.ino())),
                    Field::ProcExeInoCtime => Some(Value::Time(ctime)),
                    Field::ProcExeInoMtime => Some(Value::Time(
                        (md.mtime() as u64).saturating_mul(1_000_000_000) + md.mtime_nsec() as u64,
                    )),
                    _ => {
                        let start = if self.d.exec.is_some() {
                            self.ts_ns
                        } else {
                            self.start_ts(self.caller()?)?
                        };
                        Some(Value::Time(start.saturating_sub(ctime)))
                    }
                }
            }
            Field::ThreadCapEffective => s(procfs::caps_to_string(self.status()?.cap_eff)),
            Field::ThreadCapPermitted => s(procfs::caps_to_string(self.status()?.cap_prm)),
            Field::ThreadCapInheritable => s(procfs::caps_to_string(self.status()?.cap_inh)),
            Field::ThreadTid => Some(Value::I64(i64::from(self.tid))),
            Field::ThreadVtid => Some(Value::I64(i64::from(self.status()?.vtid))),
            Field::ThreadIsmain => Some(Value::Bool(self.status()?.tgid == self.tid)),

            // user.* / group.*
            Field::UserUid => Some(Value::U64(u64::from(self.status()?.uid[1]))),
            Field::UserName => {
                // A uid without an entry in the container's /etc/passwd has no name.
                s(self.user_name(self.status()?.uid[1])?)
            }
            Field::UserLoginuid => Some(Value::I64(self.loginuid()?)),
            Field::UserLoginname => {
                let l = self.loginuid()?;
                if l < 0 {
                    return None;
                }
                s(self.user_name(l as u32)?)
            }
            Field::GroupGid => Some(Value::U64(u64::from(self.status()?.gid[1]))),
            Field::GroupName => s(self.group_name(self.status()?.gid[1])?),

            // container.*
            Field::ContainerId => s(self.container_id()),
            Field::ContainerFullId => s(self.session.container.id.as_str()),
            Field::ContainerName => s(self.session.container.name.as_deref()?),
            Field::ContainerImage => {
                let c = &self.session.container;
                let r = c.image_repository.as_deref()?;
                s(match &c.image_tag {
                    Some(t) => format!("{r}:{t}"),
                    None => r.to_string(),
                })
            }
            Field::ContainerImageRepository => {
                s(self.session.container.image_repository.as_deref()?)
            }
            Field::ContainerImageTag => s(self.session.container.image_tag.as_deref()?),
            Field::ContainerPrivileged => Some(Value::Bool(self.session.container.privileged?)),
            Field::ContainerType => {
                let a = self.session.annotations();
                if self.session.container.id.is_empty() {
                    return None;
                }
                s(
                    if a.get("io.container.manager").map(String::as_str) == Some("libpod") {
                        "podman"
                    } else if a.keys().any(|k| k.starts_with("io.kubernetes.cri-o.")) {
                        "cri-o"
                    } else if a.keys().any(|k| k.starts_with("io.kubernetes.cri.")) {
                        "containerd"
                    } else {
                        return None;
                    },
                )
            }
            Field::ContainerMounts => {
                if self.session.container.id.is_empty() {
                    return None;
                }
                let all: Vec<String> = self.session.mounts().iter().map(|m| m.render()).collect();
                s(all.join(","))
            }
            Field::ContainerMount
            | Field::ContainerMountSource
            | Field::ContainerMountDest
            | Field::ContainerMountMode
            | Field::ContainerMountRdwr
            | Field::ContainerMountPropagation => {
                if self.session.container.id.is_empty() {
                    return None;
                }
                // `container.mount.source[X]` looks X up among destinations; the others
                // among sources.
                let by_dest = name == Field::ContainerMountSource;
                let Some(m) = find_mount(self.session.mounts(), arg, by_dest) else {
                    return s("N/A");
                };
                s(match name {
                    Field::ContainerMount => m.render(),
                    Field::ContainerMountSource => m.source.clone(),
                    Field::ContainerMountDest => m.dest.clone(),
                    Field::ContainerMountMode => m.mode.clone(),
                    Field::ContainerMountRdwr => m.rdwr.to_string(),
                    _ => m.propagation.clone(),
                })
            }
            Field::ContainerStartTs => Some(Value::Time(self.session.container_start_ns()?)),
            Field::ContainerDuration => Some(Value::Time(
                self.ts_ns
                    .saturating_sub(self.session.container_start_ns()?),
            )),
            Field::K8sNsName => s(self.session.annotation(&[
                "io.kubernetes.pod.namespace",
                "io.kubernetes.cri.sandbox-namespace",
            ])?),
            Field::K8sPodName => s(self
                .session
                .annotation(&["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"])?),
            Field::K8sPodUid | Field::K8sPodId => s(self
                .session
                .annotation(&["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"])?),
            Field::K8sPodSandboxId | Field::K8sPodFullSandboxId => {
                let id = self.session.annotation(&[
                    "io.kubernetes.cri.sandbox-id",
                    "io.kubernetes.cri-o.SandboxID",
                ])?;
                s(if name == Field::K8sPodSandboxId {
                    id.chars().take(12).collect()
                } else {
                    id.to_string()
                })
            }
            Field::EvtCategory => s(category(self.d.name)),
            Field::EvtOutputtime => s(fmt_time(self.ts_ns, false, false)),
            Field::FdTypes => Some(Value::List(
                self.fd_typechar()
                    .map(|c| Value::Str(Cow::Borrowed(typename(c))))
                    .into_iter()
                    .collect(),
            )),
            Field::UserHomedir | Field::UserShell => {
                let uid = self.status()?.uid[1];
                let e = self.userdb()?.entries.get(&uid)?;
                s(if name == Field::UserHomedir {
                    e.0.clone()
                } else {
                    e.1.clone()
                })
            }
            Field::ProcNthreads => Some(Value::U64(self.status()?.threads)),
            Field::ProcVmsize | Field::ProcVmrss | Field::ProcVmswap => {
                let st = self.status()?;
                Some(Value::U64(match name {
                    Field::ProcVmsize => st.vm_size_kb,
                    Field::ProcVmrss => st.vm_rss_kb,
                    _ => st.vm_swap_kb,
                }))
            }
            Field::ProcFdopencount => Some(Value::U64(
                std::fs::read_dir(self.pd()?.entry("fd"))
                    .ok()?
                    .take(1 << 20)
                    .count() as u64,
            )),
            Field::ThreadCgroups => {
                let b = self.pd()?.read("cgroup").ok()?;
                let t = String::from_utf8_lossy(&b);
                // Falco: "subsys=path" pairs joined by spaces (cgroup v2: the unified entry).
                let parts: Vec<String> = t
                    .lines()
                    .filter_map(|l| {
                        let mut it = l.splitn(3, ':');
                        let (_, subs, path) = (it.next()?, it.next()?, it.next()?);
                        let subs = if subs.is_empty() { "unified" } else { subs };
                        Some(format!("{subs}={path}"))
                    })
                    .collect();
                s(parts.join(" "))
            }
            _ => None,
        }
    }

    fn container_id(&self) -> &str {
        let id = self.session.container.id.as_str();
        if id.is_empty() {
            return "host";
        }
        // The first 12 characters (ids are hex; any other text is cut at a char boundary).
        match id.char_indices().nth(12) {
            Some((end, _)) => &id[..end],
            None => id,
        }
    }

    fn server_or_remote(&self, remote: bool) -> Option<SocketAddr> {
        if remote {
            self.remote_ep()
        } else {
            self.client_server().1
        }
    }

    fn client_or_local(&self, local: bool) -> Option<SocketAddr> {
        if local {
            self.local_ep()
        } else {
            self.client_server().0
        }
    }
}

impl tiercel_rules::event::Event for SyscallEvent {
    fn event_type(&self) -> EventType {
        self.etype
    }

    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        self.extract_field(field, arg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::mem::BufMem;
    use crate::event::syscalls::{syscall_nr, AUDIT_ARCH_X86_64};
    use std::process::{Child, Command};

    struct Target {
        child: Child,
        dir: PathBuf,
    }

    impl Drop for Target {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A real process (`sh` that opens fd 5 on `dir/d` and execs `sleep`) in a temp cwd.
    fn target(name: &str) -> Target {
        let dir = std::env::temp_dir().join(format!("tiercel-ev-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("d/sub")).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg("exec 5<d; exec sleep 30")
            .current_dir(&dir)
            .spawn()
            .unwrap();
        let pid = child.id();
        // Wait until `sleep` sits in its sleep syscall (clock_nanosleep or nanosleep), so
        // its start-up (locale files...) no longer opens fds.
        for _ in 0..400 {
            let ok = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim() == "sleep")
                .unwrap_or(false)
                && std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                    .map(|c| c.starts_with("230 ") || c.starts_with("35 "))
                    .unwrap_or(false);
            if ok {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Target { child, dir }
    }

    fn notif(pid: u32, name: &str, args: [u64; 6]) -> Notif {
        Notif {
            id: 7,
            pid,
            arch: AUDIT_ARCH_X86_64,
            nr: syscall_nr(name).unwrap(),
            instruction_pointer: 0,
            args,
        }
    }

    fn get(ev: &SyscallEvent, f: &str) -> Option<String> {
        get_arg(ev, f, FieldArg::None)
    }

    fn get_arg(ev: &SyscallEvent, f: &str, a: FieldArg) -> Option<String> {
        ev.extract_named(f, &a).map(|v| match v {
            Value::Str(s) => s.into_owned(),
            Value::U64(n) => n.to_string(),
            Value::I64(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Ip(i) => i.to_string(),
            Value::Time(t) => t.to_string(),
            Value::List(l) => format!("{l:?}"),
            other => format!("{other:?}"),
        })
    }

    fn builder() -> EventBuilder {
        EventBuilder::new(ContainerInfo {
            id: "0123456789abcdef0123".into(),
            name: Some("web".into()),
            image_repository: Some("docker.io/library/busybox".into()),
            image_tag: Some("1.36".into()),
            privileged: Some(false),
            ..Default::default()
        })
    }

    fn our_comm() -> String {
        std::fs::read_to_string("/proc/self/comm")
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn view_dependent_fields_are_the_path_valued_ones() {
        let t = target("view");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/tmp/x");
        let q = m.put_cstr(b"/tmp/y");
        let mut b = builder();
        let name = |n: &str| FieldArg::Name(n.into());
        let ev = b
            .build(
                &notif(pid, "openat", [(-100i64) as u64, p, 0o1101, 0o600, 0, 0]),
                &m,
            )
            .unwrap();
        assert!(ev.view_dependent(Field::FdName, &FieldArg::None));
        assert!(ev.view_dependent(Field::FdDirectory, &FieldArg::None));
        assert!(ev.view_dependent(Field::EvtArg, &name("name")));
        assert!(!ev.view_dependent(Field::EvtArg, &name("flags")));
        assert!(!ev.view_dependent(Field::FdNameraw, &FieldArg::None));
        assert!(!ev.view_dependent(Field::ProcName, &FieldArg::None));
        // evt.arg.flags is rendered once and then served borrowed.
        assert_eq!(get(&ev, "evt.arg.flags"), get(&ev, "evt.arg.flags"));
        let ev = b
            .build(
                &notif(
                    pid,
                    "renameat",
                    [(-100i64) as u64, p, (-100i64) as u64, q, 0, 0],
                ),
                &m,
            )
            .unwrap();
        assert!(ev.view_dependent(Field::EvtArg, &name("oldpath")));
        assert!(ev.view_dependent(Field::EvtArg, &name("newpath")));
        assert!(!ev.view_dependent(Field::EvtArg, &name("olddirfd")));
        assert!(
            !ev.view_dependent(Field::FdName, &FieldArg::None),
            "no fd path"
        );
    }

    #[test]
    fn open_write_relative_to_cwd() {
        let t = target("open");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"d/sub/../../f.txt");
        let mut b = builder();
        let ev = b
            .build(
                &notif(pid, "openat", [(-100i64) as u64, p, 0o1101, 0o600, 0, 0]),
                &m,
            )
            .unwrap();
        let d = t.dir.to_string_lossy().to_string();
        assert_eq!(get(&ev, "evt.type").unwrap(), "openat");
        assert_eq!(get(&ev, "evt.dir").unwrap(), "<");
        assert_eq!(get(&ev, "evt.num").unwrap(), "1");
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/f.txt"));
        assert_eq!(get(&ev, "fd.nameraw").unwrap(), "d/sub/../../f.txt");
        assert_eq!(get(&ev, "fd.directory").unwrap(), d);
        assert_eq!(get(&ev, "fd.filename").unwrap(), "f.txt");
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "f");
        assert_eq!(get(&ev, "fd.type").unwrap(), "file");
        assert_eq!(get(&ev, "fd.num").unwrap(), "3");
        assert_eq!(get(&ev, "evt.rawres").unwrap(), "3");
        assert_eq!(get(&ev, "evt.res").unwrap(), "SUCCESS");
        assert_eq!(get(&ev, "evt.is_open_write").unwrap(), "true");
        assert_eq!(get(&ev, "evt.is_open_read").unwrap(), "false");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("flags".into())).unwrap(),
            "O_TRUNC|O_CREAT|O_WRONLY"
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("mode".into())).unwrap(),
            "0600"
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("name".into())).unwrap(),
            format!("{d}/f.txt")
        );
        assert!(get(&ev, "evt.args")
            .unwrap()
            .contains("flags=O_TRUNC|O_CREAT|O_WRONLY"));
        assert_eq!(get(&ev, "proc.name").unwrap(), "sleep");
        assert_eq!(get(&ev, "proc.cmdline").unwrap(), "sleep 30");
        assert_eq!(get(&ev, "proc.exe").unwrap(), "sleep");
        assert_eq!(get(&ev, "proc.args").unwrap(), "30");
        assert_eq!(get_arg(&ev, "proc.args", FieldArg::Index(0)).unwrap(), "30");
        assert!(get(&ev, "proc.exepath").unwrap().ends_with("/sleep"));
        assert_eq!(get(&ev, "proc.cwd").unwrap(), format!("{d}/"));
        assert_eq!(get(&ev, "proc.pname").unwrap(), our_comm());
        assert_eq!(
            get_arg(&ev, "proc.aname", FieldArg::Index(1)).unwrap(),
            our_comm()
        );
        assert_eq!(
            get_arg(&ev, "proc.aname", FieldArg::Index(0)).unwrap(),
            "sleep"
        );
        assert_eq!(
            get(&ev, "proc.ppid").unwrap(),
            std::process::id().to_string()
        );
        assert_eq!(get(&ev, "proc.pid").unwrap(), pid.to_string());
        assert!(get(&ev, "proc.aname").unwrap().contains(&our_comm()));
        assert!(get(&ev, "proc.duration").unwrap().parse::<u64>().unwrap() < 60_000_000_000);
        let uid = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .split_whitespace()
            .nth(2)
            .unwrap()
            .to_string();
        assert_eq!(get(&ev, "user.uid").unwrap(), uid);
        if uid == "0" {
            assert_eq!(get(&ev, "user.name").unwrap(), "root");
            assert!(get(&ev, "thread.cap_effective")
                .unwrap()
                .contains("CAP_SYS_ADMIN"));
        }
        assert_eq!(get(&ev, "container.id").unwrap(), "0123456789ab");
        assert_eq!(
            get(&ev, "container.image").unwrap(),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(get(&ev, "container.privileged").unwrap(), "false");
        // A second event counts up.
        // An unreadable path: no fd.name, no resolution, a fault to decide on.
        let bad = b
            .build(
                &notif(pid, "openat", [(-100i64) as u64, 0xdead_0000, 1, 0, 0, 0]),
                &m,
            )
            .unwrap();
        assert!(bad.fault());
        assert!(get(&bad, "fd.name").is_none());
        assert!(get_arg(&bad, "evt.arg", FieldArg::Name("name".into())).is_none());
        assert!(bad.resolved_path().unwrap().is_err());
        let ev2 = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev2, "evt.num").unwrap(), "3");
        assert_eq!(get(&ev2, "evt.is_open_read").unwrap(), "true");
        assert_eq!(
            get_arg(&ev2, "evt.arg", FieldArg::Name("flags".into())).unwrap(),
            "O_RDONLY"
        );
        // Through the Event trait.
        use tiercel_rules::event::{Event, Field};
        assert_eq!(
            ev.extract(Field::FdName, &FieldArg::None),
            Some(Value::Str(Cow::Owned(format!("{d}/f.txt"))))
        );
        assert_eq!(
            ev.extract(Field::ProcName, &FieldArg::None),
            Some(Value::Str(Cow::Owned("sleep".into())))
        );
    }

    #[test]
    fn dirfd_directories_and_resolution() {
        let t = target("dirfd");
        let pid = t.child.id();
        let d = t.dir.to_string_lossy().to_string();
        std::os::unix::fs::symlink("sub", t.dir.join("d/link")).unwrap();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"link/x");
        let sub = m.put_cstr(b"sub");
        let mut b = builder();
        // openat(5, "link/x") with fd 5 = dir/d
        let ev = b
            .build(&notif(pid, "openat", [5, p, 0o101, 0o644, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/link/x"));
        let r = ev.resolved_path().unwrap().as_ref().unwrap();
        assert_eq!(String::from_utf8_lossy(&r.path), format!("{d}/d/sub/x"));
        assert!(!r.exists && r.followed_symlink);
        // As in libsinsp, an open's fd type comes from its flags alone: an existing
        // directory opened without O_DIRECTORY is a file, with it a directory.
        let ev = b
            .build(&notif(pid, "openat", [5, sub, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "f");
        let ev = b
            .build(&notif(pid, "openat", [5, sub, 0o200000, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "d");
        assert_eq!(get(&ev, "fd.type").unwrap(), "directory");
        // An fd-using call: fchmod(5) → fd.name is the directory.
        let ev = b
            .build(&notif(pid, "fchmod", [5, 0o755, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d"));
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "d");
        assert_eq!(get(&ev, "fd.num").unwrap(), "5");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("mode".into())).unwrap(),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"
        );
        // dup2(5, 1): the result is newfd.
        let ev = b
            .build(&notif(pid, "dup2", [5, 1, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "evt.rawres").unwrap(), "1");
        // Rename: both paths, normalised and resolved.
        let a = m.put_cstr(b"/etc/../tmp/a");
        let bb = m.put_cstr(b"d/link/b");
        let ev = b
            .build(
                &notif(
                    pid,
                    "renameat2",
                    [(-100i64) as u64, a, (-100i64) as u64, bb, 0, 0],
                ),
                &m,
            )
            .unwrap();
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("oldpath".into())).unwrap(),
            "/tmp/a"
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("newpath".into())).unwrap(),
            format!("{d}/d/link/b")
        );
        assert_eq!(get(&ev, "fs.path.source").unwrap(), "/tmp/a");
        let all: Vec<_> = ev.resolved_paths().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&all[1].1.as_ref().unwrap().path),
            format!("{d}/d/sub/b")
        );
        assert!(get(&ev, "fd.name").is_none(), "rename has no fd");
    }

    #[test]
    fn resolved_view_serves_resolved_paths() {
        let t = target("rview");
        let pid = t.child.id();
        let d = t.dir.to_string_lossy().to_string();
        std::os::unix::fs::symlink(format!("{d}/d/sub"), t.dir.join("l_abs")).unwrap();
        std::os::unix::fs::symlink(format!("{d}/d/sub/target"), t.dir.join("dangling")).unwrap();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"l_abs/x");
        let mut b = builder();
        // open("l_abs/x", O_WRONLY|O_CREAT) relative to the cwd, through an absolute symlink.
        let ev = b
            .build(&notif(pid, "open", [p, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        let falco = format!("{d}/l_abs/x");
        let real = format!("{d}/d/sub/x");
        assert_eq!(get(&ev, "fd.name").unwrap(), falco);
        assert!(!ev.resolved_view());
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), real);
        assert_eq!(get(&ev, "fd.directory").unwrap(), format!("{d}/d/sub"));
        assert_eq!(get(&ev, "fd.filename").unwrap(), "x");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("name".into())).unwrap(),
            real
        );
        assert_eq!(get(&ev, "fs.path.name").unwrap(), real);
        assert_eq!(get(&ev, "evt.abspath").unwrap(), real);
        // Raw values and evt.args stay as spelled.
        assert_eq!(get(&ev, "fd.nameraw").unwrap(), "l_abs/x");
        ev.set_resolved_view(false);
        assert_eq!(get(&ev, "fd.name").unwrap(), falco);
        assert_eq!(ev.resolved_summary().unwrap(), real);
        assert!(!ev.unresolved_modified_path());
        // A dangling last symlink: O_CREAT follows it (creates its target), O_CREAT|O_EXCL
        // does not.
        let dl = m.put_cstr(b"dangling");
        let ev = b
            .build(&notif(pid, "open", [dl, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/sub/target"));
        let ev = b
            .build(&notif(pid, "open", [dl, 0o301, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/dangling"));
        // symlink(target, linkpath): the link itself is not followed; the target is text.
        let tg = m.put_cstr(b"/etc/shadow");
        let lp = m.put_cstr(b"l_abs/newlink");
        let ev = b
            .build(&notif(pid, "symlink", [tg, lp, 0, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("linkpath".into())).unwrap(),
            format!("{d}/d/sub/newlink")
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("target".into())).unwrap(),
            "/etc/shadow"
        );
        // /proc/self/fd/5/x (fd 5 = dir/d) and /proc/self/cwd/x follow the magic links.
        let pf = m.put_cstr(b"/proc/self/fd/5/x");
        let ev = b
            .build(&notif(pid, "open", [pf, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), "/proc/self/fd/5/x");
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/x"));
        let pc = m.put_cstr(b"/proc/self/cwd/y");
        let ev = b
            .build(&notif(pid, "open", [pc, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/y"));
        // An fd that is not open: the magic link cannot be read; unknown.
        let bad = m.put_cstr(b"/proc/self/fd/77/z");
        let ev = b
            .build(&notif(pid, "open", [bad, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        assert!(ev.unresolved_modified_path());
        // Reading through it modifies nothing.
        let ev = b
            .build(&notif(pid, "open", [bad, 0, 0, 0, 0, 0]), &m)
            .unwrap();
        assert!(!ev.unresolved_modified_path());
    }

    #[test]
    fn magic_link_classification() {
        assert!(unreadable_magic_link(b"/proc/self/fd/7"));
        assert!(unreadable_magic_link(b"/proc/12/root"));
        assert!(unreadable_magic_link(b"/proc/12/task/13/cwd"));
        assert!(!unreadable_magic_link(b"/proc/self/oom_score_adj"));
        assert!(!unreadable_magic_link(b"pipe:[12]"));
        assert!(!unreadable_magic_link(b"/bin/x (deleted)"));
    }

    #[test]
    fn execve_post_exec_view() {
        let t = target("exec");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let f = m.put_cstr(b"/bin/sh");
        let a0 = m.put_cstr(b"sh");
        let a1 = m.put_cstr(b"-c");
        let a2 = m.put_cstr(b"echo a-very-long-argument");
        let e0 = m.put_cstr(b"HOME=/root");
        let argv = m.put_ptrs(crate::event::syscalls::Arch::X86_64, &[a0, a1, a2]);
        let envp = m.put_ptrs(crate::event::syscalls::Arch::X86_64, &[e0]);
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "execve", [f, argv, envp, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "evt.type").unwrap(), "execve");
        assert_eq!(get(&ev, "proc.name").unwrap(), "sh");
        assert_eq!(get(&ev, "proc.exe").unwrap(), "sh");
        assert_eq!(
            get(&ev, "proc.args").unwrap(),
            "-c echo a-very-long-argument"
        );
        assert_eq!(
            get(&ev, "proc.cmdline").unwrap(),
            "sh -c echo a-very-long-argument"
        );
        let real = std::fs::canonicalize("/bin/sh").unwrap();
        assert_eq!(get(&ev, "proc.exepath").unwrap(), real.to_string_lossy());
        // The parent is the caller's parent (the caller's pid stays the same across exec).
        assert_eq!(get(&ev, "proc.pname").unwrap(), our_comm());
        assert_eq!(
            get_arg(&ev, "proc.env", FieldArg::Name("HOME".into())).unwrap(),
            "/root"
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("filename".into())).unwrap(),
            "/bin/sh"
        );
        assert_eq!(get(&ev, "evt.is_open_exec").unwrap(), "false");
        assert!(get(&ev, "fd.num").is_none());
        // comm is cut to 15 bytes.
        let long = m.put_cstr(b"/usr/local/bin/a-very-long-program-name");
        let ev = b
            .build(&notif(pid, "execve", [long, argv, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "proc.name").unwrap(), "a-very-long-pro");
    }

    #[test]
    fn network_from_sockaddr() {
        let t = target("net");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let sin = m.put(&[2u8, 0, 0x01, 0xbb, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "connect", [9, sin, 16, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.sip").unwrap(), "10.0.0.1");
        assert_eq!(get(&ev, "fd.sport").unwrap(), "443");
        assert_eq!(get(&ev, "fd.rport").unwrap(), "443");
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "4");
        assert_eq!(get(&ev, "fd.type").unwrap(), "ipv4");
        assert_eq!(get(&ev, "fd.name").unwrap(), "0.0.0.0:0->10.0.0.1:443");
        assert_eq!(get(&ev, "fd.sockfamily").unwrap(), "ip");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("addr".into())).unwrap(),
            "10.0.0.1:443"
        );
        assert!(get(&ev, "fd.sip.name").is_none());
        let t: DnsTable = Default::default();
        t.write().unwrap().insert(
            "10.0.0.1".parse().unwrap(),
            vec!["kubernetes.default".into()],
        );
        b.session().set_dns_table(t);
        assert!(get(&ev, "fd.sip.name")
            .unwrap()
            .contains("kubernetes.default"));
        let ev = b
            .build(&notif(pid, "socket", [17, 3, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("domain".into())).unwrap(),
            "AF_PACKET"
        );
    }

    #[test]
    fn exec_through_fd_magic_links() {
        // The test process stands in for the caller: execve("/proc/self/fd/N") and
        // execveat(N, "", AT_EMPTY_PATH) on a file it holds open.
        let dir = std::env::temp_dir().join(format!("tiercel-ev-magic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("prog"), b"#!/bin/sh\n").unwrap();
        let f = std::fs::File::open(dir.join("prog")).unwrap();
        use std::os::fd::AsRawFd;
        let fd = f.as_raw_fd();
        let me = std::process::id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(format!("/proc/self/fd/{fd}").as_bytes());
        let empty = m.put_cstr(b"");
        let a0 = m.put_cstr(b"prog");
        let argv = m.put_ptrs(crate::event::syscalls::Arch::X86_64, &[a0]);
        let mut b = builder();
        let ev = b
            .build(&notif(me, "execve", [p, argv, 0, 0, 0, 0]), &m)
            .unwrap();
        let want = dir.join("prog").to_string_lossy().to_string();
        assert_eq!(get(&ev, "proc.exepath").unwrap(), want);
        assert_eq!(get(&ev, "proc.name").unwrap(), fd.to_string());
        assert_eq!(get(&ev, "proc.is_exe_from_memfd").unwrap(), "false");
        let ev = b
            .build(
                &notif(me, "execveat", [fd as u64, empty, argv, 0, 0x1000, 0]),
                &m,
            )
            .unwrap();
        assert_eq!(get(&ev, "proc.exepath").unwrap(), want);
        // Exe flags: the test runs as root (CAP_DAC_OVERRIDE) or owns the file.
        assert!(get_arg(&ev, "evt.arg", FieldArg::Name("flags".into()))
            .unwrap()
            .starts_with("EXE_WRITABLE"));
        assert_eq!(get(&ev, "proc.is_exe_writable").unwrap(), "true");
        assert_eq!(get(&ev, "proc.is_exe_from_memfd").unwrap(), "false");
        let r = ev.resolved_path().unwrap().as_ref().unwrap();
        assert_eq!(String::from_utf8_lossy(&r.path), want);
        drop(f);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `cargo test --release -p tiercel --lib event::builder::tests::bench -- --ignored --nocapture`
    /// Mean µs per call of `f` over `rounds` calls (the profiling harnesses below).
    fn per_call_us(rounds: u32, mut f: impl FnMut()) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            f();
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    }

    #[test]
    #[ignore]
    fn bench_decode_loop() {
        // For profiling decode alone: `perf record` this test.
        let t = target("decode-loop");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let n = notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]);
        let us = per_call_us(2_000_000, || {
            std::hint::black_box(decode::decode(&n, &m).unwrap());
        });
        println!("decode: {us:.3} us");
    }

    #[test]
    #[ignore]
    fn bench() {
        let t = target("bench");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/usr/bin/../bin/x");
        let n = notif(pid, "openat", [(-100i64) as u64, p, 0o1101, 0o644, 0, 0]);
        let mut b = builder();
        let rounds = 20_000u32;
        let cases: [(&str, &[Field]); 3] = [
            ("build only", &[]),
            (
                "evt.type + fd.name (absolute)",
                &[Field::EvtType, Field::FdName],
            ),
            (
                "+ is_open_write fd.typechar proc.name proc.cmdline proc.pname user.name",
                &[
                    Field::EvtType,
                    Field::FdName,
                    Field::EvtIsOpenWrite,
                    Field::FdTypechar,
                    Field::ProcName,
                    Field::ProcCmdline,
                    Field::ProcPname,
                    Field::UserName,
                ],
            ),
        ];
        let us = per_call_us(rounds, || {
            std::hint::black_box(ProcDir::open_tid(pid).unwrap());
        });
        println!("open /proc/<pid> only: {us:.2} us");
        let us = per_call_us(rounds, || {
            std::hint::black_box(decode::decode(&n, &m).unwrap());
        });
        println!("decode only: {us:.2} us");
        for f in [
            Field::ProcName,
            Field::ProcPname,
            Field::UserName,
            Field::UserUid,
            Field::FdTypechar,
            Field::ProcCwd,
        ] {
            let us = per_call_us(rounds / 4, || {
                let ev = b.build(&n, &m).unwrap();
                std::hint::black_box(ev.extract_field(f, &FieldArg::None));
            });
            println!("build + {}: {us:.2} us/event", f.name());
        }
        let mut lazy = builder();
        lazy.set_pin_proc_at_build(false);
        let us = per_call_us(rounds, || {
            let ev = lazy.build(&n, &m).unwrap();
            std::hint::black_box(ev.extract_field(Field::FdName, &FieldArg::None));
        });
        println!("lazy /proc handle, evt.type + fd.name (absolute): {us:.2} us/event");
        for (label, fields) in cases {
            let us = per_call_us(rounds, || {
                let ev = b.build(&n, &m).unwrap();
                for f in fields {
                    std::hint::black_box(ev.extract_field(*f, &FieldArg::None));
                }
            });
            println!("{label}: {us:.2} us/event");
        }
        // The upstream stable rules (cost-ordered, as the supervisor loads them) on a
        // read-only open of /etc/passwd: build + evaluate, and the fields read.
        let stable = tiercel_testdata::upstream("upstream-rules/falco_rules.yaml");
        if let Some(program) = stable.map(|s| crate::supervise::load_rules(&[s]).expect("loads")) {
            struct Counting<'a>(&'a SyscallEvent, std::cell::RefCell<Vec<(Field, FieldArg)>>);
            impl tiercel_rules::event::Event for Counting<'_> {
                fn event_type(&self) -> EventType {
                    self.0.event_type()
                }
                fn extract(&self, f: Field, a: &FieldArg) -> Option<Value<'_>> {
                    self.1.borrow_mut().push((f, a.clone()));
                    self.0.extract(f, a)
                }
            }
            let p = m.put_cstr(b"/etc/passwd");
            let n = notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]);
            let ev = lazy.build(&n, &m).unwrap();
            let c = Counting(&ev, Default::default());
            let mut out = Vec::new();
            program.eval(&c, tiercel_rules::program::RuleMatching::First, &mut out);
            println!(
                "stable rules, openat /etc/passwd read: fields read {:?}",
                c.1.borrow()
            );
            let build_us = per_call_us(rounds, || {
                std::hint::black_box(lazy.build(&n, &m).unwrap());
            });
            for (f, a) in c.1.borrow().iter() {
                let us = per_call_us(rounds, || {
                    let ev = lazy.build(&n, &m).unwrap();
                    std::hint::black_box(ev.extract_field(*f, a));
                }) - build_us;
                println!("  {} {a:?}: {us:.2} us", f.name());
            }
            let us = per_call_us(rounds, || {
                let ev = lazy.build(&n, &m).unwrap();
                out.clear();
                program.eval(&ev, tiercel_rules::program::RuleMatching::First, &mut out);
            });
            println!("stable rules, openat /etc/passwd read, build + eval: {us:.2} us/event");
            println!("  of which build: {build_us:.2} us/event");
        }
    }

    #[test]
    fn container_mount_fields() {
        let t = target("mounts");
        let pid = t.child.id();
        std::fs::write(
            t.dir.join("config.json"),
            r#"{"ociVersion":"1.0.2","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/host/proc","type":"bind","source":"/proc","options":["rbind","ro","rslave"]},
                {"destination":"/data","source":"/srv/data","options":["bind"]},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid"]}]}"#,
        )
        .unwrap();
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            bundle: Some(t.dir.to_string_lossy().into_owned()),
            ..Default::default()
        });
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        let name = |n: &str| FieldArg::Name(n.into());
        assert_eq!(
            get(&ev, "container.mounts").unwrap(),
            "/proc:/host/proc::false:rslave,/srv/data:/data::true:"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/proc*")).unwrap(),
            "/host/proc"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/var/run/docker.sock")).unwrap(),
            "N/A"
        );
        // The runtime's own proc mount (source "proc") is not a container mount.
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("proc")).unwrap(),
            "N/A"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.dest", FieldArg::Index(1)).unwrap(),
            "/data"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.source", name("/da*")).unwrap(),
            "/srv/data"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.rdwr", name("/proc")).unwrap(),
            "false"
        );
        assert_eq!(
            get_arg(&ev, "container.mount.propagation", name("/proc")).unwrap(),
            "rslave"
        );
        assert_eq!(
            get_arg(&ev, "container.mount", FieldArg::Index(0)).unwrap(),
            "/proc:/host/proc::false:rslave"
        );
        // Through the rules engine: the upstream macro's shape.
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str(
            "t.yaml",
            "- rule: m\n  desc: m\n  condition: evt.type = openat and (not container.mount.dest[/proc*] in (\"<NA>\",\"N/A\"))\n  output: m %container.mounts\n  priority: WARNING\n\
             - rule: n\n  desc: n\n  condition: evt.type = openat and not container.mount.dest[/var/run/docker.sock] in (\"<NA>\",\"N/A\")\n  output: n\n  priority: WARNING\n",
        );
        let program = loader.finish().program.expect("rules load");
        let mut out = Vec::new();
        program.eval(&ev, tiercel_rules::program::RuleMatching::All, &mut out);
        assert_eq!(out, vec![0]);
        // No config: no mounts, every lookup N/A.
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            ..Default::default()
        });
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(
            get_arg(&ev, "container.mount.dest", name("/proc*")).unwrap(),
            "N/A"
        );
        assert_eq!(get(&ev, "container.mounts").unwrap(), "");
    }

    #[test]
    fn container_and_misc_fields() {
        let t = target("ctr");
        let pid = t.child.id();
        std::fs::write(
            t.dir.join("config.json"),
            r#"{"ociVersion":"1.0.2","annotations":{"io.kubernetes.pod.namespace":"kube-system","io.kubernetes.pod.name":"web-1","io.kubernetes.cri-o.Created":"x"}}"#,
        )
        .unwrap();
        let mut b = EventBuilder::new(ContainerInfo {
            id: "abcdef0123456789".into(),
            init_pid: Some(pid),
            bundle: Some(t.dir.to_string_lossy().into_owned()),
            ..Default::default()
        });
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/etc/passwd");
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "k8s.ns.name").unwrap(), "kube-system");
        assert_eq!(get(&ev, "k8s.pod.name").unwrap(), "web-1");
        assert_eq!(get(&ev, "container.type").unwrap(), "cri-o");
        let start: u64 = get(&ev, "container.start_ts").unwrap().parse().unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(
            start <= now && now - start < 120_000_000_000,
            "{start} {now}"
        );
        assert!(get(&ev, "container.name").is_none());
        assert_eq!(get(&ev, "evt.category").unwrap(), "file");
        assert_eq!(get(&ev, "proc.nthreads").unwrap(), "1");
        assert!(get(&ev, "thread.cgroups").unwrap().contains('='));
        assert!(get(&ev, "fd.types").unwrap().contains("file"));
        if get(&ev, "user.uid").unwrap() == "0" {
            assert_eq!(get(&ev, "user.homedir").unwrap(), "/root");
        }
        // No bundle: no annotations, no k8s fields.
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        assert!(get(&ev, "k8s.ns.name").is_none());
        assert!(get(&ev, "container.start_ts").is_none());
    }

    #[test]
    fn gone_task_fields_are_missing() {
        let mut t = target("gone");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"rel");
        let abs = m.put_cstr(b"/abs/../x");
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "openat", [(-100i64) as u64, p, 0, 0, 0, 0]), &m)
            .unwrap();
        let ev2 = b
            .build(
                &notif(pid, "openat", [(-100i64) as u64, abs, 0, 0, 0, 0]),
                &m,
            )
            .unwrap();
        t.child.kill().unwrap();
        t.child.wait().unwrap();
        assert!(get(&ev, "proc.name").is_none());
        assert!(
            get(&ev, "fd.name").is_none(),
            "relative path needs the (gone) cwd"
        );
        assert_eq!(
            get(&ev2, "fd.name").unwrap(),
            "/x",
            "absolute paths need no /proc"
        );
        // A tid that never existed.
        let ev = b
            .build(
                &notif(u32::MAX - 1, "openat", [(-100i64) as u64, abs, 0, 0, 0, 0]),
                &m,
            )
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), "/x");
        assert!(get(&ev, "user.name").is_none());
        assert!(b
            .build(
                &Notif {
                    arch: 0xdead,
                    ..notif(1, "open", [0; 6])
                },
                &m
            )
            .is_err());
    }
}
