//! Opens performed on the caller's behalf (issue 11): tiercel establishes the object an
//! open reaches, decides on it, then performs the open and hands the new fd to the caller
//! atomically (`SECCOMP_IOCTL_NOTIF_ADDFD` + `SECCOMP_ADDFD_FLAG_SEND`). The kernel never
//! re-reads the caller's memory or re-resolves its path: what was decided on is what the
//! caller gets.
//!
//! How the open is made to behave as the caller's own:
//! - the session thread has its own `fs_struct` (`unshare(CLONE_FS)` once), and for the
//!   resolution step `chroot`s into the caller's root (`/proc/<tid>/root`, opened
//!   `O_PATH`) and `fchdir`s to its cwd (`/proc/<tid>/cwd`); a `dirfd` is the caller's
//!   own file (`/proc/<tid>/fd/N` opened `O_PATH`). `..`, absolute symlinks, mounts,
//!   `RESOLVE_*` flags of `openat2` therefore resolve exactly as for the caller, cwd
//!   deeper than `PATH_MAX` included (the cwd is a handle, never a string);
//! - `/proc/self` and `/proc/thread-self` at the start of the path are rewritten to the
//!   caller's pid/tid in its pid namespace (they would name tiercel's thread);
//! - credentials are the caller's, set on this thread only with the raw system calls:
//!   fsuid, fsgid, supplementary groups, effective capabilities (within tiercel's
//!   permitted set) and the umask. In a user namespace other than tiercel's, no
//!   capability is kept (the kernel would limit them to inodes mapped in that namespace,
//!   which a thread of the initial namespace cannot express): such a caller may be refused
//!   (`EACCES`) where its namespaced `CAP_DAC_OVERRIDE` would have let it through, never
//!   the other way round;
//! - no side effect before the decision: the existing object is opened `O_PATH` (no
//!   truncation, no creation), or the directory the new file will be created in is opened
//!   `O_PATH` and the object is `that directory's real path + name`; the real open
//!   (reopen of the `O_PATH` fd through `/proc/self/fd/N`, where the kernel checks the
//!   access mode against the caller's credentials, or `openat(dir, name, O_CREAT|
//!   O_NOFOLLOW…)`) happens only after the decision. A symlink planted at `name` between
//!   the two steps makes the open fail with `ELOOP` (never followed); a file created there
//!   meanwhile is opened (it is the decided path). Non-regular files are reopened with
//!   `O_NONBLOCK` (then cleared): a FIFO without a peer answers `ENXIO` where the kernel
//!   would block the caller.
//!
//! Resolution and the final open run with the caller's credentials; the decision runs
//! with tiercel's own (it reads `/proc`), the thread's root and credentials restored in
//! between. An absolute path (no `openat2` scoping) is resolved from the root handle with
//! `RESOLVE_IN_ROOT` instead of a chroot (same result; magic links and dangling symlinks,
//! which that flag refuses or cannot follow for creation, fall back to the chroot). The
//! object's path is read from tiercel's own root: the kernel names it from the root of the
//! caller's mount namespace, so a `chroot("/bin")` caller's `/x` is `/bin/x`; a bind mount
//! of a part of the root file system is mapped back through `mountinfo`
//! ([`canonical_path`]).
//!
//! The same caller context serves the other path-changing calls (`crate::perform`):
//! [`Emulator::establish_args`] establishes every path argument — the parent directory
//! `O_PATH|O_DIRECTORY` plus the last name for calls on a directory entry, the object
//! `O_PATH` for the others — and [`Emulator::as_caller`] runs the call on those handles
//! with the caller's credentials; [`Emulator::caller_file`] duplicates a descriptor of the
//! caller (`pidfd_getfd`) for the descriptor forms.
//!
//! Not covered: the LSM label of a created file is tiercel's; `linkat(AT_EMPTY_PATH)` is
//! performed on tiercel's `O_PATH` handle (the kernel's capability rule for it applies to
//! the caller's capabilities, not to the file's opener).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use crate::decide::{Decider, Mode, Scratch, SecondLook};
use crate::devices::{DevType, DevicePolicy};
use crate::event::{Resolved, SyscallEvent};
use crate::sys::{self, Answer, Caps};

const O_CREAT: u64 = libc::O_CREAT as u64;
const O_EXCL: u64 = libc::O_EXCL as u64;
const O_TRUNC: u64 = libc::O_TRUNC as u64;
const O_NOFOLLOW: u64 = libc::O_NOFOLLOW as u64;
const O_DIRECTORY: u64 = libc::O_DIRECTORY as u64;
const O_PATH: u64 = libc::O_PATH as u64;
const O_CLOEXEC: u64 = libc::O_CLOEXEC as u64;
const O_NONBLOCK: u64 = libc::O_NONBLOCK as u64;
const O_TMPFILE: u64 = libc::O_TMPFILE as u64;
const O_ACCMODE: u64 = libc::O_ACCMODE as u64;
const O_NOCTTY: u64 = libc::O_NOCTTY as u64;
const MAX_HOPS: usize = 40;
/// [`establish`] without a chroot met what needs one.
const SLOW: &str = "needs the caller's root as the thread's root";

/// How [`establish`] resolves: from the root handle (`Yes`; what needs the caller's root
/// as the thread's root answers [`SLOW`]), the same refusing every symlink (`NoSymlinks`:
/// a symlink answers [`SLOW`] too, so that the caller's way is tried next), or with the
/// caller's root and cwd in place (`No`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    Yes,
    NoSymlinks,
    No,
}

/// An absolute path whose text is its own canonical form: no empty, `.` or `..`
/// component, no trailing slash. Resolved from the root of its mount namespace without a
/// symlink, it is the path the kernel would give the object (`/proc/self/fd/N`).
fn clean_path(p: &[u8]) -> bool {
    p.len() > 1
        && p.len() < libc::PATH_MAX as usize
        && p[0] == b'/'
        && p[1..]
            .split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}
const CAP_SETUID: u64 = 1 << 7;
const CAP_SETGID: u64 = 1 << 6;
const CAP_SYS_CHROOT: u64 = 1 << 18;

/// Whether this process can perform opens on callers' behalf: root with the capabilities
/// to change the thread's root and credentials, and a kernel with `ADDFD` + `SEND`
/// (5.14). `TIERCEL_EMULATE=0` turns it off (then: the path is checked, the call
/// continued, and the check-to-use race of the kernel's documentation stays open).
pub fn supported() -> Result<(), String> {
    static S: OnceLock<Result<(), String>> = OnceLock::new();
    S.get_or_init(|| {
        if std::env::var("TIERCEL_EMULATE").as_deref() == Ok("0") {
            return Err("disabled by TIERCEL_EMULATE=0".into());
        }
        if sys::geteuid() != 0 {
            return Err("not running as root".into());
        }
        let caps = sys::cap_get().map_err(|e| format!("capget: {e}"))?;
        let need = CAP_SETUID | CAP_SETGID | CAP_SYS_CHROOT;
        if caps.permitted & need != need {
            return Err("missing CAP_SETUID, CAP_SETGID or CAP_SYS_CHROOT".into());
        }
        let rel = sys::kernel_release();
        let mut it = rel.split(|c: char| !c.is_ascii_digit());
        let major: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let minor: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        if (major, minor) < (5, 14) {
            return Err(format!("kernel {rel} lacks SECCOMP_ADDFD_FLAG_SEND (5.14)"));
        }
        Ok(())
    })
    .clone()
}

/// The caller's credentials, from `/proc/<tid>/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Creds {
    pub fsuid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub cap_eff: u64,
    pub umask: u32,
    /// Pid and tid in the caller's own pid namespace (for `/proc/self`).
    pub vpid: u32,
    pub vtid: u32,
}

/// Parses the fields of `/proc/<tid>/status` an emulated call needs.
pub fn parse_status(b: &[u8]) -> Option<Creds> {
    let text = std::str::from_utf8(b).ok()?;
    let mut c = Creds {
        umask: 0o022,
        ..Creds::default()
    };
    let (mut uid, mut gid, mut caps) = (false, false, false);
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let mut w = v.split_ascii_whitespace();
        match k {
            "Uid" => {
                c.fsuid = w.nth(3)?.parse().ok()?;
                uid = true;
            }
            "Gid" => {
                c.fsgid = w.nth(3)?.parse().ok()?;
                gid = true;
            }
            "Groups" => {
                c.groups = w.take(65536).filter_map(|x| x.parse().ok()).collect();
            }
            "CapEff" => {
                c.cap_eff = u64::from_str_radix(v.trim(), 16).ok()?;
                caps = true;
            }
            "Umask" => c.umask = u32::from_str_radix(v.trim(), 8).ok()?,
            "NStgid" => c.vpid = w.last()?.parse().ok()?,
            "NSpid" => c.vtid = w.last()?.parse().ok()?,
            _ => {}
        }
    }
    (uid && gid && caps).then_some(c)
}

/// `/proc/self/…` and `/proc/thread-self/…` at the start of an absolute path → the
/// caller's `/proc/<pid>/…` and `/proc/<pid>/task/<tid>/…` (its pid namespace).
pub fn rewrite_proc_self(path: &[u8], vpid: u32, vtid: u32) -> Vec<u8> {
    if !path.starts_with(b"/") {
        return path.to_vec();
    }
    // Leading components, skipping empty and `.` ones.
    let mut comps = path
        .split(|b| *b == b'/')
        .enumerate()
        .filter(|(_, c)| !c.is_empty() && *c != b".");
    let (Some((_, first)), Some((i2, second))) = (comps.next(), comps.next()) else {
        return path.to_vec();
    };
    if first != b"proc" {
        return path.to_vec();
    }
    let repl = match second {
        b"self" => format!("/proc/{vpid}"),
        b"thread-self" => format!("/proc/{vpid}/task/{vtid}"),
        _ => return path.to_vec(),
    };
    // Byte offset just past the second component.
    let mut off = 0;
    for (k, c) in path.split(|b| *b == b'/').enumerate() {
        off += c.len();
        if k == i2 {
            break;
        }
        off += 1;
    }
    let mut out = repl.into_bytes();
    out.extend_from_slice(&path[off..]);
    out
}

/// What [`Emulator::stage`] established.
#[derive(Debug)]
pub enum Stage {
    /// The object: decide on [`Staged::path`], then [`Emulator::finish`] (or drop).
    Object(Box<Staged>),
    /// The call fails as the kernel would fail it (nothing happened).
    Fail(i32),
    /// The object could not be established: never let the call through in enforce.
    Unknown(String),
}

impl From<NotEstablished> for Stage {
    fn from(e: NotEstablished) -> Stage {
        match e {
            NotEstablished::Fail(e) => Stage::Fail(e),
            NotEstablished::Unknown(w) => Stage::Unknown(w),
        }
    }
}

#[derive(Debug)]
enum Target {
    /// An existing object, opened `O_PATH`.
    Existing { fd: OwnedFd, st: sys::FileStat },
    /// A new file `name` in the directory `dir` (opened `O_PATH`).
    Create { dir: OwnedFd, name: Vec<u8> },
    /// An unnamed file in the directory (`O_TMPFILE`).
    TmpFile { dir: OwnedFd },
}

/// An established object, not yet opened for real.
#[derive(Debug)]
pub struct Staged {
    target: Target,
    /// The object's real path inside the caller's root.
    pub path: Vec<u8>,
    pub exists: bool,
    flags: u64,
    mode: u32,
    creds: Creds,
    other_userns: bool,
    openat2: bool,
    /// The caller asked for `O_CLOEXEC` (passed as the ADDFD flag).
    pub cloexec: bool,
}

/// Tiercel's own context of this thread, restored after each step.
#[derive(Debug)]
struct Host {
    root: OwnedFd,
    cwd: OwnedFd,
    proc_: OwnedFd,
    /// `/proc/self/fd` (the supervisor's descriptor table, shared by its threads): reading
    /// a descriptor's path back through it skips two lookups (`self`, `<pid>`) per read.
    own_fds: OwnedFd,
    caps: Caps,
    groups: Vec<u32>,
    fsuid: u32,
    fsgid: u32,
    umask: u32,
    userns: Vec<u8>,
    /// A restore failed: the thread's context is unknown; no more emulation.
    broken: bool,
}

/// One per session thread (its `fs_struct` is private once set up).
#[derive(Debug, Default)]
pub struct Emulator {
    host: Option<Result<Host, String>>,
    mounts: Option<MountCache>,
    /// The container's device rules ([`crate::devices`]): what tiercel may open or create
    /// for it.
    devices: DevicePolicy,
    /// When the session began (before the container's first instruction): files born
    /// since were created through calls the rules saw ([`Emulator::aliased`]).
    started: Option<std::time::SystemTime>,
    /// The file the last [`Emulator::finish`] created (its directory and name), until the
    /// fd is handed over: [`Emulator::undo_create`].
    created: Option<(OwnedFd, Vec<u8>)>,
    /// The last caller's root handle ([`Emulator::caller_root`]).
    root: Option<CallerRoot>,
}

/// A caller's root directory, kept between calls: `O_PATH` handle and what identifies it.
/// Reused while `/proc/<tid>/root` of the next caller names the same directory of the
/// same mount (mount id, device, inode from one `statx`): the handle holds the mount, so
/// its id cannot be reused meanwhile, and a directory has one place in a mount.
#[derive(Debug, Clone)]
pub struct CallerRoot {
    pub fd: Arc<OwnedFd>,
    pub mnt: u64,
    pub dev: u64,
    pub ino: u64,
    /// The root of the caller's mount namespace (its path there is `/`, not a chroot
    /// below it): a path resolved inside it without symlinks names the object by itself.
    pub ns_root: bool,
}

/// The last caller's `/proc/<tid>/mountinfo`, kept open and re-read only when the kernel
/// says its mount table changed (`poll` → `POLLPRI`): the open file keeps the mount
/// namespace and the root it was opened with (which holds the root's mount, so its id
/// cannot be reused while the file is open), so it stays exact for callers with the same
/// namespace (inode of `ns/mnt`, which cannot be reused while the file holds it) and the
/// same root (mount id, device, inode). Both: a task can have its root in a mount of
/// another namespace than its own, and its table is then its own namespace's (red team:
/// keyed by the root alone, such a task's empty table refused its neighbours' opens).
#[derive(Debug)]
struct MountCache {
    ns: Vec<u8>,
    root: (u64, u64, u64),
    file: std::fs::File,
    text: Vec<u8>,
}

/// Bound on a mount table read (the container can make it large).
const MOUNTINFO_MAX: usize = 1 << 20;

fn read_all_at(f: &std::fs::File) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut out = Vec::with_capacity(8192);
    let mut buf = vec![0u8; 65536];
    loop {
        let n = f.read_at(&mut buf, out.len() as u64)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > MOUNTINFO_MAX {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        }
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Host {
    fn new() -> Result<Host, String> {
        supported()?;
        sys::unshare_fs().map_err(|e| format!("unshare(CLONE_FS): {e}"))?;
        let dir = |p: &[u8]| {
            sys::openat2(None, p, O_PATH | O_DIRECTORY, 0, 0)
                .map_err(|e| format!("open {}: {e}", String::from_utf8_lossy(p)))
        };
        let ns = std::fs::read_link("/proc/thread-self/ns/user")
            .map_err(|e| format!("readlink /proc/self/ns/user: {e}"))?;
        let umask = sys::set_umask(0o022);
        sys::set_umask(umask);
        let fsuid = sys::set_fsuid(u32::MAX);
        let fsgid = sys::set_fsgid(u32::MAX);
        Ok(Host {
            root: dir(b"/")?,
            cwd: dir(b".")?,
            proc_: dir(b"/proc")?,
            own_fds: dir(b"/proc/self/fd")?,
            caps: sys::cap_get().map_err(|e| format!("capget: {e}"))?,
            groups: sys::thread_groups().map_err(|e| format!("getgroups: {e}"))?,
            fsuid,
            fsgid,
            umask,
            userns: std::os::unix::ffi::OsStrExt::as_bytes(ns.as_os_str()).to_vec(),
            broken: false,
        })
    }

    /// Switches this thread to the caller's root and cwd (when given) and credentials.
    fn enter(
        &mut self,
        fs: Option<(BorrowedFd<'_>, BorrowedFd<'_>)>,
        c: &Creds,
        other_userns: bool,
    ) -> io::Result<Guard<'_>> {
        let mut g = Guard {
            host: self,
            chrooted: false,
            creds: false,
            changed: Changed::default(),
        };
        if let Some((root, cwd)) = fs {
            sys::fchdir(root)?;
            g.chrooted = true;
            sys::chroot_cwd()?;
            sys::fchdir(cwd)?;
        }
        g.creds = true;
        let h = &*g.host;
        let eff = if other_userns {
            0
        } else {
            c.cap_eff & h.caps.permitted
        };
        // Only what differs from tiercel's own is changed (each change is a syscall and
        // a new `struct cred`).
        let ch = Changed {
            umask: c.umask & 0o777 != h.umask,
            groups: c.groups != h.groups,
            fsgid: c.fsgid != h.fsgid,
            fsuid: c.fsuid != h.fsuid,
            // A new fsuid also drops the file capabilities from the effective set.
            caps: eff != h.caps.effective || c.fsuid != h.fsuid,
        };
        let caps = Caps {
            effective: eff,
            ..h.caps
        };
        g.changed = ch;
        if ch.umask {
            sys::set_umask(c.umask & 0o777);
        }
        if ch.groups {
            sys::set_thread_groups(&c.groups)?;
        }
        if ch.fsgid {
            sys::set_fsgid(c.fsgid);
        }
        if ch.fsuid {
            sys::set_fsuid(c.fsuid);
        }
        if ch.caps {
            sys::cap_set(caps)?;
        }
        Ok(g)
    }

    fn fd_path(&self, fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
        let name = fd.as_raw_fd().to_string();
        sys::read_link_bytes(
            Some(self.own_fds.as_fd()),
            name.as_bytes(),
            libc::PATH_MAX as usize,
        )
    }
}

/// Restores tiercel's own root, cwd and credentials on drop (also when unwinding).
struct Guard<'a> {
    host: &'a mut Host,
    chrooted: bool,
    creds: bool,
    changed: Changed,
}

/// Which parts of the thread's credentials [`Host::enter`] changed.
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    umask: bool,
    groups: bool,
    fsgid: bool,
    fsuid: bool,
    caps: bool,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let h = &mut *self.host;
        let mut ok = true;
        if self.creds {
            let ch = self.changed;
            // Capabilities first: setgroups needs CAP_SETGID back.
            if ch.caps {
                ok &= sys::cap_set(h.caps).is_ok();
            }
            if ch.fsuid {
                sys::set_fsuid(h.fsuid);
            }
            if ch.fsgid {
                sys::set_fsgid(h.fsgid);
            }
            if ch.groups {
                ok &= sys::set_thread_groups(&h.groups).is_ok();
            }
            if ch.umask {
                sys::set_umask(h.umask);
            }
        }
        if self.chrooted {
            ok &= sys::fchdir(h.root.as_fd()).is_ok()
                && sys::chroot_cwd().is_ok()
                && sys::fchdir(h.cwd.as_fd()).is_ok();
        }
        if !ok {
            h.broken = true;
            tracing::error!(
                "could not restore the session thread's root or credentials after a call \
                 performed on a container's behalf; such calls are refused from now on"
            );
        }
    }
}

fn split_last(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/", &p[1..]),
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (b".", p),
    }
}

impl Emulator {
    pub fn new() -> Emulator {
        Emulator::default()
    }

    /// The container's device rules, applied to the device nodes tiercel opens or
    /// creates on its behalf (default: the runtime's defaults only).
    pub fn with_devices(mut self, devices: DevicePolicy) -> Emulator {
        self.devices = devices;
        self
    }

    pub fn devices(&self) -> &DevicePolicy {
        &self.devices
    }

    /// The hand-over of the fd of the last [`Emulator::finish`] failed (the caller was
    /// interrupted, or is gone): the file it created for the caller is removed again, if
    /// its name still names that file, so that the restarted call finds the directory as
    /// it was (an `O_EXCL` create succeeds again instead of answering `EEXIST`).
    pub fn undo_create(&mut self, fd: BorrowedFd<'_>) {
        let Some((dir, name)) = self.created.take() else {
            return;
        };
        let (Ok(ours), Ok(there)) = (
            sys::fstatat(Some(fd), b"", false),
            sys::fstatat(Some(dir.as_fd()), &name, true),
        ) else {
            return;
        };
        if (ours.dev, ours.ino) == (there.dev, there.ino) {
            let _ = sys::unlinkat(dir.as_fd(), &name, 0);
        }
    }

    /// The fd of the last [`Emulator::finish`] reached the caller: nothing to undo.
    pub fn handed_over(&mut self) {
        self.created = None;
    }

    /// Files born from now on were created by the container under the rules' eyes.
    pub fn started_now(mut self) -> Emulator {
        self.started = Some(std::time::SystemTime::now());
        self
    }

    /// Why a change of the object behind `fd` cannot be decided on the one path the
    /// rules saw: a regular file with more than one name changes under all of them, and
    /// one of the others may be protected — a hard link in the image to a protected
    /// file. Names made while the container runs went through the rules (a link into a
    /// protected directory is a call they decide on), so only files born before the
    /// session (birth time, `statx`; unknown counts as before) with several names are
    /// refused. `None` otherwise.
    pub fn aliased(&self, fd: BorrowedFd<'_>) -> Option<String> {
        let st = sys::fstatat(Some(fd), b"", true).ok()?;
        self.aliased_st(&st)
    }

    /// [`Emulator::aliased`] on a `statx` already made.
    fn aliased_st(&self, st: &sys::FileStat) -> Option<String> {
        if st.kind() != libc::S_IFREG || st.nlink < 2 {
            return None;
        }
        let born_since = match (st.born(), self.started) {
            (Some(b), Some(s)) => b >= s,
            _ => false,
        };
        (!born_since).then(|| {
            format!(
                "refused: a regular file from before the container with {} names would \
                 change under all of them, and the rules decided on one",
                st.nlink
            )
        })
    }

    /// The caller's root ([`CallerRoot`]): the kept handle when it is the same directory,
    /// else `/proc/<tid>/root` opened anew.
    pub fn caller_root(&mut self, ev: &SyscallEvent) -> io::Result<CallerRoot> {
        let st = ev.proc_stat("root", true)?;
        if let Some(r) = &self.root {
            if st.mnt_id == Some(r.mnt) && st.dev == r.dev && st.ino == r.ino {
                return Ok(r.clone());
            }
        }
        self.root = None;
        let fd = ev.proc_open("root", libc::O_PATH | libc::O_DIRECTORY)?;
        // What the handle holds (the root may have changed since the statx above).
        let st = sys::fstatat(Some(fd.as_fd()), b"", true)?;
        let mnt = st
            .mnt_id
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS))?;
        let ns_root = match self.host() {
            Ok(h) => h.fd_path(fd.as_fd()).is_ok_and(|p| p == b"/"),
            Err(_) => false,
        };
        let r = CallerRoot {
            fd: Arc::new(fd),
            mnt,
            dev: st.dev,
            ino: st.ino,
            ns_root,
        };
        self.root = Some(r.clone());
        Ok(r)
    }

    fn host(&mut self) -> Result<&mut Host, String> {
        let h = self.host.get_or_insert_with(Host::new);
        match h {
            Ok(h) if h.broken => Err("the thread's context could not be restored".into()),
            Ok(h) => Ok(h),
            Err(e) => Err(e.clone()),
        }
    }

    /// The caller's mount table (for [`canonical_path`]), from the cache when the same
    /// namespace and root were read before and the kernel reports no change since. Call
    /// after the handles the table is used for were taken.
    fn mountinfo(&mut self, ev: &SyscallEvent, root: &CallerRoot) -> Result<&[u8], String> {
        let ns = ev
            .proc_read_link("ns/mnt")
            .map_err(|e| format!("cannot read the caller's mount namespace: {e}"))?;
        let key = (root.mnt, root.dev, root.ino);
        let same = matches!(&self.mounts, Some(c) if c.ns == ns && c.root == key);
        if same {
            if let Some(c) = self.mounts.as_mut() {
                let (r, _) = sys::poll2(c.file.as_fd(), None, libc::POLLPRI, 0)
                    .map_err(|e| format!("poll mountinfo: {e}"))?;
                if r & (libc::POLLPRI | libc::POLLERR) != 0 {
                    match read_all_at(&c.file) {
                        Ok(t) => c.text = t,
                        Err(e) => {
                            self.mounts = None;
                            return Err(format!("cannot read the caller's mountinfo: {e}"));
                        }
                    }
                }
            }
        } else {
            self.mounts = None;
            let f = std::fs::File::from(
                ev.proc_open("mountinfo", 0)
                    .map_err(|e| format!("cannot open the caller's mountinfo: {e}"))?,
            );
            let text =
                read_all_at(&f).map_err(|e| format!("cannot read the caller's mountinfo: {e}"))?;
            self.mounts = Some(MountCache {
                ns,
                root: key,
                file: f,
                text,
            });
        }
        Ok(self.mounts.as_ref().map_or(&[][..], |c| c.text.as_slice()))
    }

    /// Establishes the object the open of `ev` reaches, with the caller's root, cwd,
    /// dirfd and credentials, without side effects.
    pub fn stage(&mut self, ev: &SyscallEvent) -> Stage {
        let d = ev.decoded();
        let Some(p) = d.fd_path.and_then(|i| d.paths.get(i)) else {
            return Stage::Unknown("the call has no path".into());
        };
        if p.unreadable {
            return Stage::Unknown("the path could not be read from the caller".into());
        }
        let creat = d.kname == Some("creat");
        let openat2 = d.kname == Some("openat2");
        let flags = if creat {
            O_CREAT | libc::O_WRONLY as u64 | O_TRUNC
        } else {
            d.open_flags.unwrap_or(0)
        };
        let resolve = if openat2 { d.open_resolve } else { 0 };
        let scoped = resolve & (libc::RESOLVE_IN_ROOT | libc::RESOLVE_BENEATH) != 0;
        let want_dirfd = match p.dirfd {
            Some(fd) if fd != libc::AT_FDCWD && (!p.raw.starts_with(b"/") || scoped) => Some(fd),
            _ => None,
        };
        let croot = match self.caller_root(ev) {
            Ok(r) => r,
            Err(e) => return Stage::Unknown(format!("cannot open the caller's root: {e}")),
        };
        let root = croot.fd.clone();
        let mut cx = match caller(ev, Some(root.clone()), &[want_dirfd]) {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        let dirfd = cx.dirfds.pop().flatten();
        let creds = cx.creds.clone();
        let userns = std::mem::take(&mut cx.userns);
        let host = match self.host() {
            Ok(h) => h,
            Err(e) => return Stage::Unknown(e),
        };
        let other_userns = userns != host.userns;
        let mut path = rewrite_proc_self(&p.raw, creds.vpid, creds.vtid);
        let mode = d.open_mode & 0o7777;
        let cloexec = flags & O_CLOEXEC != 0;
        // An absolute path without openat2's own scoping resolves from the root handle
        // with RESOLVE_IN_ROOT (the same as a chroot, without changing the thread's
        // root); magic links (refused under RESOLVE_IN_ROOT) and dangling symlinks take
        // the chroot.
        let fast = path.starts_with(b"/") && !scoped;
        // A clean absolute path resolved from the namespace's root without meeting a
        // symlink names the object by itself: no need to read its path back.
        let exact = fast && croot.ns_root && clean_path(&path);
        // The object's path when the walk itself named it (no read-back).
        let mut named: Option<Vec<u8>> = None;
        let mut r = Err(Ok(SLOW.to_string()));
        if fast {
            let guard = match host.enter(None, &creds, other_userns) {
                Ok(g) => g,
                Err(e) => {
                    return Stage::Unknown(format!("cannot take the caller's credentials: {e}"))
                }
            };
            if exact {
                r = establish(
                    Some(root.as_fd()),
                    &path,
                    flags,
                    resolve | libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS,
                    Fast::NoSymlinks,
                );
                if !matches!(&r, Err(Ok(w)) if w == SLOW) {
                    named = Some(path.clone());
                }
            }
            if named.is_none() {
                r = establish(
                    Some(root.as_fd()),
                    &path,
                    flags,
                    resolve | libc::RESOLVE_IN_ROOT,
                    Fast::Yes,
                );
                // A symlink to `/proc/self/...` (`/dev/stdout`, `/dev/fd/N`) names the
                // opener's process: tiercel's walk of it finds no such entry. Its links
                // expanded with the caller's own pid, it goes the caller's way below.
                let slow = matches!(&r, Err(Ok(w)) if w == SLOW);
                if slow || matches!(&r, Err(Err(e)) if *e == libc::ENOENT) {
                    if let Some(p) = expand_links(root.as_fd(), &path, creds.vpid, creds.vtid) {
                        if p != path {
                            path = p;
                            r = Err(Ok(SLOW.to_string()));
                        }
                    }
                }
            }
            drop(guard);
        }
        // A clean relative path walked from the caller's cwd or dirfd without symlinks
        // (`RESOLVE_BENEATH`: it has no `..`) names the object as the start's path (read
        // back from its handle) plus itself.
        if !fast && !scoped && clean_relative(&path) {
            let start = match &dirfd {
                Some(d) => d.as_fd(),
                None => match cx.cwd(ev) {
                    Ok(c) => c,
                    Err(e) => return e.into(),
                },
            };
            let host = match self.host() {
                Ok(h) => h,
                Err(e) => return Stage::Unknown(e),
            };
            let sp = host
                .fd_path(start)
                .ok()
                .filter(|p| p.starts_with(b"/") && !p.ends_with(b" (deleted)"));
            if let Some(sp) = sp {
                let guard = match host.enter(None, &creds, other_userns) {
                    Ok(g) => g,
                    Err(e) => {
                        return Stage::Unknown(format!("cannot take the caller's credentials: {e}"))
                    }
                };
                r = establish(
                    Some(start),
                    &path,
                    flags,
                    resolve | libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
                    Fast::NoSymlinks,
                );
                drop(guard);
                if !matches!(&r, Err(Ok(w)) if w == SLOW) {
                    named = Some(entry_path(sp, &path));
                }
            }
        }
        if matches!(&r, Err(Ok(w)) if w == SLOW) {
            let cwd = match cx.cwd(ev) {
                Ok(c) => c,
                Err(e) => return e.into(),
            };
            let host = match self.host() {
                Ok(h) => h,
                Err(e) => return Stage::Unknown(e),
            };
            let guard = match host.enter(Some((root.as_fd(), cwd)), &creds, other_userns) {
                Ok(g) => g,
                Err(e) => return Stage::Unknown(format!("cannot take the caller's context: {e}")),
            };
            r = establish(
                dirfd.as_ref().map(|d| d.as_fd()),
                &path,
                flags,
                resolve,
                Fast::No,
            );
            drop(guard);
            named = None;
        }
        // The object's path is read with tiercel's own root: the kernel then names it
        // from the root of the caller's mount namespace, the container's root, also when
        // the caller chrooted elsewhere (`chroot("/bin")` does not make `/bin/x` read
        // `/x`).
        let host = match self.host() {
            Ok(h) => h,
            Err(e) => return Stage::Unknown(e),
        };
        let (target, path, exists) = match (r, named) {
            (Ok(t @ Target::Create { .. }), Some(p)) => (t, p, false),
            (Ok(t), Some(p)) => (t, p, true),
            (Ok(Target::Create { dir, name }), None) => match host.fd_path(dir.as_fd()) {
                Ok(dp) => {
                    let p = entry_path(dp, &name);
                    (Target::Create { dir, name }, p, false)
                }
                Err(e) => return Stage::Unknown(format!("the directory's path: {e}")),
            },
            (Ok(Target::Existing { fd, st }), None) => match host.fd_path(fd.as_fd()) {
                Ok(p) => (Target::Existing { fd, st }, p, true),
                Err(e) => return Stage::Unknown(format!("the object's path: {e}")),
            },
            (Ok(Target::TmpFile { dir }), None) => match host.fd_path(dir.as_fd()) {
                Ok(p) => (Target::TmpFile { dir }, p, true),
                Err(e) => return Stage::Unknown(format!("the object's path: {e}")),
            },
            (Err(Err(e)), _) => return Stage::Fail(e),
            (Err(Ok(why)), _) => return Stage::Unknown(why),
        };
        // Mount aliasing: a bind mount of a directory of the container's root file system
        // (e.g. /bin bound at /tmp/m in a user + mount namespace) makes the object's path
        // lie; decide on the path the object has in the container's root file system.
        let obj_mnt = match &target {
            Target::Existing { st, .. } => st.mnt_id,
            Target::Create { dir, .. } | Target::TmpFile { dir } => sys::mnt_id(dir.as_fd()).ok(),
        };
        // An object that is not a path (`pipe:[N]`, `socket:[N]`, `anon_inode:...`, reached
        // through a caller's descriptor) is no alias of a file: it keeps its name.
        let not_a_path = !path.starts_with(b"/")
            && matches!(&target, Target::Existing { st, .. }
                if !matches!(st.kind(), libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
                    | libc::S_IFCHR | libc::S_IFBLK));
        let path = if obj_mnt == Some(croot.mnt) || not_a_path {
            path
        } else {
            let Some(om) = obj_mnt else {
                return Stage::Unknown("no mount id (statx)".into());
            };
            let mi = match self.mountinfo(ev, &croot) {
                Ok(m) => m,
                Err(why) => return Stage::Unknown(why),
            };
            match canonical_path(mi, om, croot.mnt, &path) {
                Ok(p) => p,
                Err(why) => return Stage::Unknown(why),
            }
        };
        let target = match self.existing_checks(ev, target, flags) {
            Ok(t) => t,
            Err(s) => return s,
        };
        Stage::Object(Box::new(Staged {
            target,
            path,
            exists,
            flags,
            mode,
            creds,
            other_userns,
            openat2,
            cloexec,
        }))
    }

    /// The checks on an existing object that the kernel makes against the caller's own
    /// context, which tiercel's open would not get: the device cgroup (an open of a
    /// character or block device the container's rules refuse is `EPERM`, as in the
    /// kernel), and `/dev/tty`, which names the *opener's* controlling terminal (the
    /// caller's is reopened through its own descriptor on it; without one, `ENXIO`).
    /// And a regular file with more than one name opened for writing: the rules decided
    /// on one of its names, a write changes all of them (a hard link in the image to a
    /// protected file), so tiercel refuses it rather than let an alias through.
    fn existing_checks(&self, ev: &SyscallEvent, t: Target, flags: u64) -> Result<Target, Stage> {
        let Target::Existing { fd, st } = t else {
            return Ok(t);
        };
        let kind = st.kind();
        if flags & O_PATH != 0
            || (kind != libc::S_IFREG && kind != libc::S_IFCHR && kind != libc::S_IFBLK)
        {
            return Ok(Target::Existing { fd, st });
        }
        let writes = flags & O_ACCMODE != 0 || flags & O_TRUNC != 0;
        if let Some(ty) = DevType::of_mode(st.mode) {
            let (major, minor) = crate::devices::split_dev(st.rdev);
            if !self.devices.allows_open(ty, major, minor, flags) {
                return Err(Stage::Fail(libc::EPERM));
            }
            if ty == DevType::Char && (major, minor) == (5, 0) {
                return match caller_ctty(ev) {
                    Ok(Some(tty)) => Ok(Target::Existing { fd: tty, st }),
                    Ok(None) => Err(Stage::Fail(libc::ENXIO)),
                    Err(why) => Err(Stage::Unknown(why)),
                };
            }
        } else if writes {
            if let Some(why) = self.aliased_st(&st) {
                return Err(Stage::Unknown(why));
            }
        }
        Ok(Target::Existing { fd, st })
    }

    /// Performs the open decided on; the fd to hand over, or the errno the kernel would
    /// have returned.
    pub fn finish(&mut self, s: Staged) -> Result<OwnedFd, i32> {
        self.created = None;
        let mut self_created = None;
        let host = self.host().map_err(|_| libc::EIO)?;
        let guard = host
            .enter(None, &s.creds, s.other_userns)
            .map_err(|e| errno_of(&e))?;
        let open = |dir: BorrowedFd<'_>, name: &[u8], flags: u64, mode: u64| {
            if s.openat2 {
                sys::openat2(Some(dir), name, flags, mode, 0)
            } else {
                sys::openat_mode(Some(dir), name, flags as i32, mode as u32)
            }
        };
        let base = s.flags & !(O_CLOEXEC | O_NOFOLLOW);
        let r = match s.target {
            Target::Existing { fd, st } => {
                let kind = st.kind();
                if s.flags & O_PATH != 0 {
                    return Ok(fd);
                }
                let special = kind != libc::S_IFREG && kind != libc::S_IFDIR;
                let add_nb = special && base & O_NONBLOCK == 0;
                // Never a controlling terminal for tiercel.
                let f = (base & !(O_CREAT | O_EXCL))
                    | if add_nb { O_NONBLOCK } else { 0 }
                    | if special { O_NOCTTY } else { 0 };
                let name = format!("self/fd/{}", fd.as_raw_fd());
                open(guard.host.proc_.as_fd(), name.as_bytes(), f, 0).and_then(|nf| {
                    if add_nb {
                        sys::clear_nonblock(nf.as_fd())?;
                    }
                    Ok(nf)
                })
            }
            Target::Create { dir, name } => {
                // Exclusive first, so that tiercel knows whether the file is its own
                // creation (to be removed if the caller is interrupted before the hand-over:
                // its restarted call must not find it, `O_EXCL` would say EEXIST); a file
                // created meanwhile by someone else is opened unless `O_EXCL` was asked.
                let excl = open(
                    dir.as_fd(),
                    &name,
                    base | O_CREAT | O_EXCL | O_NOFOLLOW,
                    u64::from(s.mode),
                );
                match excl {
                    Ok(f) => {
                        if let Ok(d) = dir.try_clone() {
                            self_created = Some((d, name.clone()));
                        }
                        Ok(f)
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) && base & O_EXCL == 0 => open(
                        dir.as_fd(),
                        &name,
                        base | O_CREAT | O_NOFOLLOW,
                        u64::from(s.mode),
                    ),
                    Err(e) => Err(e),
                }
            }
            Target::TmpFile { dir } => open(dir.as_fd(), b".", base, u64::from(s.mode)),
        };
        drop(guard);
        self.created = self_created;
        r.map_err(|e| errno_of(&e))
    }
}

/// Why a call's objects could not be established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEstablished {
    /// The call fails as the kernel would fail it (nothing happened).
    Fail(i32),
    /// Unknown: never let the call through in enforce.
    Unknown(String),
}

/// The caller's context, as handles taken from its pinned `/proc/<tid>`.
#[derive(Debug)]
pub struct Caller {
    pub creds: Creds,
    /// Its root (`O_PATH`, [`Emulator::caller_root`]), when asked for.
    pub root: Option<Arc<OwnedFd>>,
    /// Its cwd: opened by [`Caller::cwd`] when a path needs it.
    pub cwd: Option<OwnedFd>,
    /// The asked-for descriptors of the caller (`/proc/<tid>/fd/N` opened `O_PATH`), in
    /// the order asked; a closed one fails with `EBADF`, as in the kernel.
    pub dirfds: Vec<Option<OwnedFd>>,
    /// Its user namespace (`/proc/<tid>/ns/user` link).
    pub userns: Vec<u8>,
}

impl Caller {
    /// The caller's cwd (`/proc/<tid>/cwd` opened `O_PATH|O_DIRECTORY` on first use).
    pub fn cwd(&mut self, ev: &SyscallEvent) -> Result<BorrowedFd<'_>, NotEstablished> {
        if self.cwd.is_none() {
            self.cwd = Some(
                ev.proc_open("cwd", libc::O_PATH | libc::O_DIRECTORY)
                    .map_err(|e| {
                        NotEstablished::Unknown(format!("cannot open the caller's cwd: {e}"))
                    })?,
            );
        }
        match &self.cwd {
            Some(c) => Ok(c.as_fd()),
            None => Err(NotEstablished::Unknown("no cwd handle".into())),
        }
    }
}

/// Takes the caller's credentials (from `/proc/<tid>/status`), user namespace, and
/// (with `fs`) root and cwd, and the descriptors `dirfds` names, as handles.
pub fn caller(
    ev: &SyscallEvent,
    root: Option<Arc<OwnedFd>>,
    dirfds: &[Option<i32>],
) -> Result<Caller, NotEstablished> {
    let unknown = NotEstablished::Unknown;
    let creds = ev
        .proc_read("status")
        .ok()
        .and_then(|s| parse_status(&s))
        .ok_or_else(|| unknown("cannot read the caller's credentials".into()))?;
    // The cwd is opened only when a path needs it (relative, or the chroot fallback).
    let cwd = None;
    let mut fds = Vec::with_capacity(dirfds.len());
    for fd in dirfds {
        fds.push(match fd {
            Some(fd) => Some(
                ev.proc_open(&format!("fd/{fd}"), libc::O_PATH)
                    .map_err(|e| match e.raw_os_error() {
                        Some(libc::ENOENT) => NotEstablished::Fail(libc::EBADF),
                        _ => unknown(format!("cannot open the caller's fd {fd}: {e}")),
                    })?,
            ),
            None => None,
        });
    }
    let userns = ev
        .proc_read_link("ns/user")
        .map_err(|e| unknown(format!("cannot read the caller's userns: {e}")))?;
    Ok(Caller {
        creds,
        root,
        cwd,
        dirfds: fds,
        userns,
    })
}

/// How one path argument of a path-changing call is established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgHow {
    /// The object itself, opened `O_PATH` (the last symlink followed or not).
    Object { follow: bool },
    /// The directory entry: the parent directory opened `O_PATH|O_DIRECTORY` and the
    /// last name (with its trailing slashes, so that the kernel applies their meaning
    /// when the call is performed). A path of slashes only (`/`) fails with this errno.
    Entry { root_errno: i32 },
}

/// An established path argument.
#[derive(Debug)]
pub enum Handle {
    Object(OwnedFd),
    Entry { dir: OwnedFd, name: Vec<u8> },
}

/// The path arguments of a call, established with the caller's context.
#[derive(Debug)]
pub struct Established {
    pub handles: Vec<Handle>,
    /// The objects' paths (what the rules decide on), in argument order.
    pub resolved: Vec<Resolved>,
    creds: Creds,
    other_userns: bool,
}

/// An fd of the caller, duplicated (`pidfd_getfd`), with what the rules decide on.
#[derive(Debug)]
pub struct CallerFile {
    pub file: OwnedFd,
    /// Its path (from tiercel's root: the container's view, as `fd.name`).
    pub path: Vec<u8>,
    creds: Creds,
    other_userns: bool,
}

/// `p` split at its last component: (the directory part, the last name with any
/// trailing slashes). `None` for a path of slashes only.
fn split_entry(p: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = p.iter().rposition(|b| *b != b'/')?;
    match p[..=end].iter().rposition(|b| *b == b'/') {
        None => Some((b".", p)),
        Some(i) => {
            // The directory part without its trailing slashes ("/" stays).
            let d = &p[..=i];
            let k = d.iter().rposition(|b| *b != b'/').map_or(1, |k| k + 1);
            Some((&d[..k], &p[i + 1..]))
        }
    }
}

/// The path the rules see for `name` (trailing slashes dropped) in a directory whose real
/// path is `dir`: `dir/name`, `.` the directory, `..` its parent.
fn entry_path(mut dir: Vec<u8>, name: &[u8]) -> Vec<u8> {
    let end = name.iter().rposition(|b| *b != b'/').map_or(0, |k| k + 1);
    let name = &name[..end];
    match name {
        b"." | b"" => dir,
        b".." => {
            let (parent, _) = split_last(&dir);
            parent.to_vec()
        }
        _ => {
            if dir != b"/" {
                dir.push(b'/');
            }
            dir.extend_from_slice(name);
            dir
        }
    }
}

/// The walk met a link its resolve flags refuse (a symlink under `RESOLVE_NO_SYMLINKS`, a
/// magic link under `RESOLVE_IN_ROOT` or `RESOLVE_BENEATH`): another way of resolving must
/// take over.
fn link_refused(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ELOOP))
}

/// A failed walk of [`establish`] or [`establish_arg`]: [`SLOW`] when a fast walk met a
/// link it refuses, else the kernel's errno.
fn walk_err(e: &io::Error, fast: bool) -> Result<String, i32> {
    if fast && link_refused(e) {
        Ok(SLOW.to_string())
    } else {
        Err(errno_of(e))
    }
}

/// The `O_PATH` flags of an audit walk: the last symlink followed only when the call
/// follows it.
fn audit_flags(p: &crate::event::decode::PathArg) -> u64 {
    if p.follow_last {
        O_PATH
    } else {
        O_PATH | O_NOFOLLOW
    }
}

fn establish_arg(
    start: Option<BorrowedFd<'_>>,
    path: &[u8],
    how: ArgHow,
    resolve: u64,
    fast: bool,
) -> Result<Handle, Result<String, i32>> {
    let slow = |e: io::Error| walk_err(&e, fast);
    if path.is_empty() {
        return Err(Err(libc::ENOENT));
    }
    match how {
        ArgHow::Object { follow } => {
            let f = if follow { O_PATH } else { O_PATH | O_NOFOLLOW };
            sys::openat2(start, path, f, 0, resolve)
                .map(Handle::Object)
                .map_err(slow)
        }
        ArgHow::Entry { root_errno } => {
            let Some((dpath, name)) = split_entry(path) else {
                return Err(Err(root_errno));
            };
            let dir = sys::openat2(start, dpath, O_PATH | O_DIRECTORY, 0, resolve).map_err(slow)?;
            Ok(Handle::Entry {
                dir,
                name: name.to_vec(),
            })
        }
    }
}

impl Emulator {
    /// Establishes every path argument of `ev` as `how` says (one entry per path
    /// argument), with the caller's root, cwd, dirfds and credentials, without side
    /// effects: the handles the call will be performed on, and the paths to decide on.
    pub fn establish_args(
        &mut self,
        ev: &SyscallEvent,
        how: &[ArgHow],
    ) -> Result<Established, NotEstablished> {
        let unknown = NotEstablished::Unknown;
        let d = ev.decoded();
        if how.len() != d.paths.len() || d.paths.is_empty() {
            return Err(unknown("the call's paths do not match its kind".into()));
        }
        if d.paths.iter().any(|p| p.unreadable) {
            return Err(unknown("a path could not be read from the caller".into()));
        }
        // A dirfd is needed for a relative path, and is the object for an empty one.
        let want: Vec<Option<i32>> = d
            .paths
            .iter()
            .map(|p| match p.dirfd {
                Some(fd) if fd != libc::AT_FDCWD && (p.empty_path || !p.raw.starts_with(b"/")) => {
                    Some(fd)
                }
                _ => None,
            })
            .collect();
        let croot = self
            .caller_root(ev)
            .map_err(|e| unknown(format!("cannot open the caller's root: {e}")))?;
        let root = croot.fd.clone();
        let mut cx = caller(ev, Some(root.clone()), &want)?;
        let host = self.host().map_err(unknown)?;
        let other_userns = cx.userns != host.userns;
        let creds = cx.creds.clone();
        let paths: Vec<Vec<u8>> = d
            .paths
            .iter()
            .map(|p| rewrite_proc_self(&p.raw, creds.vpid, creds.vtid))
            .collect();
        // The empty path (AT_EMPTY_PATH): the object is the dirfd, or the cwd (an empty
        // path is not absolute: only the slow path below meets it).
        let empty = |i: usize,
                     dirfds: &[Option<OwnedFd>],
                     cwd: BorrowedFd<'_>|
         -> Option<Result<Handle, Result<String, i32>>> {
            let p = &d.paths[i];
            if !p.empty_path {
                return None;
            }
            let fd = dirfds[i].as_ref().map_or(cwd, |f| f.as_fd());
            Some(
                fd.try_clone_to_owned()
                    .map(Handle::Object)
                    .map_err(|e| Err(errno_of(&e))),
            )
        };
        let fast = paths.iter().all(|p| p.starts_with(b"/"));
        let mut handles: Vec<Handle> = Vec::with_capacity(paths.len());
        let mut need_slow = !fast;
        if fast {
            let guard = host
                .enter(None, &creds, other_userns)
                .map_err(|e| unknown(format!("cannot take the caller's credentials: {e}")))?;
            for (p, h) in paths.iter().zip(how) {
                let r = establish_arg(Some(root.as_fd()), p, *h, libc::RESOLVE_IN_ROOT, true);
                match r {
                    Ok(h) => handles.push(h),
                    Err(Ok(_)) => {
                        need_slow = true;
                        break;
                    }
                    Err(Err(e)) => {
                        drop(guard);
                        return Err(NotEstablished::Fail(e));
                    }
                }
            }
            drop(guard);
        }
        if need_slow {
            handles.clear();
            cx.cwd(ev)?;
            let (Some(cwd), dirfds) = (cx.cwd.as_ref(), &cx.dirfds) else {
                return Err(unknown("no cwd handle".into()));
            };
            let host = self.host().map_err(unknown)?;
            let guard = host
                .enter(Some((root.as_fd(), cwd.as_fd())), &creds, other_userns)
                .map_err(|e| unknown(format!("cannot take the caller's context: {e}")))?;
            for (i, (p, h)) in paths.iter().zip(how).enumerate() {
                let r = match empty(i, dirfds, cwd.as_fd()) {
                    Some(r) => r,
                    None => {
                        let start = if p.starts_with(b"/") {
                            None
                        } else {
                            dirfds[i].as_ref().map(|f| f.as_fd())
                        };
                        establish_arg(start, p, *h, 0, false)
                    }
                };
                match r {
                    Ok(h) => handles.push(h),
                    Err(Ok(why)) => return Err(unknown(why)),
                    Err(Err(e)) => return Err(NotEstablished::Fail(e)),
                }
            }
            drop(guard);
        }
        // Paths read with tiercel's own root (see `stage`), mapped back through mountinfo
        // when the object lies on a bind mount of the container's root file system.
        let mut raw = Vec::with_capacity(handles.len());
        {
            let host = self.host().map_err(unknown)?;
            for h in &handles {
                let fd = match h {
                    Handle::Object(fd) => fd,
                    Handle::Entry { dir, .. } => dir,
                };
                let p = host
                    .fd_path(fd.as_fd())
                    .map_err(|e| unknown(format!("the object's path: {e}")))?;
                raw.push((p, sys::mnt_id(fd.as_fd()).ok()));
            }
        }
        let mut resolved = Vec::with_capacity(handles.len());
        for (h, (p, obj_mnt)) in handles.iter().zip(raw) {
            let (fd, name) = match h {
                Handle::Object(fd) => (fd, None),
                Handle::Entry { dir, name } => (dir, Some(name)),
            };
            let p = if obj_mnt == Some(croot.mnt) {
                p
            } else {
                let Some(om) = obj_mnt else {
                    return Err(unknown("no mount id (statx)".into()));
                };
                let mi = self.mountinfo(ev, &croot).map_err(unknown)?;
                canonical_path(mi, om, croot.mnt, &p).map_err(unknown)?
            };
            let (path, exists) = match name {
                None => (p, true),
                Some(n) => (
                    entry_path(p, n),
                    sys::fstatat(Some(fd.as_fd()), n, true).is_ok(),
                ),
            };
            resolved.push(Resolved {
                path,
                exists,
                followed_symlink: false,
                magic: false,
            });
        }
        Ok(Established {
            handles,
            resolved,
            creds,
            other_userns,
        })
    }

    /// Duplicates the caller's descriptor `fd` (`pidfd_getfd`: the same open file
    /// description) and reads its path, with the caller's credentials kept for the call.
    pub fn caller_file(
        &mut self,
        ev: &SyscallEvent,
        fd: i32,
    ) -> Result<CallerFile, NotEstablished> {
        let unknown = NotEstablished::Unknown;
        let cx = caller(ev, None, &[])?;
        let pidfd =
            sys::pidfd_open_task(ev.tid()).map_err(|e| unknown(format!("pidfd_open: {e}")))?;
        let file = sys::pidfd_getfd(pidfd.as_fd(), fd).map_err(|e| match e.raw_os_error() {
            Some(libc::EBADF) => NotEstablished::Fail(libc::EBADF),
            _ => unknown(format!("pidfd_getfd: {e}")),
        })?;
        let host = self.host().map_err(unknown)?;
        let path = host
            .fd_path(file.as_fd())
            .map_err(|e| unknown(format!("the file's path: {e}")))?;
        Ok(CallerFile {
            file,
            path,
            other_userns: cx.userns != host.userns,
            creds: cx.creds,
        })
    }

    /// Runs `f` with the caller's credentials (and umask) on this thread; `f` gets
    /// tiercel's `/proc` handle (for `self/fd/N` paths). The kernel's errno on failure.
    pub fn as_caller<T>(
        &mut self,
        e: &Established,
        f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>,
    ) -> Result<T, i32> {
        self.with_creds(&e.creds, e.other_userns, f)
    }

    /// [`Emulator::as_caller`] for a duplicated descriptor.
    pub fn as_file_caller<T>(
        &mut self,
        c: &CallerFile,
        f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>,
    ) -> Result<T, i32> {
        self.with_creds(&c.creds, c.other_userns, f)
    }

    fn with_creds<T>(
        &mut self,
        creds: &Creds,
        other_userns: bool,
        f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>,
    ) -> Result<T, i32> {
        let host = self.host().map_err(|_| libc::EIO)?;
        let guard = host
            .enter(None, creds, other_userns)
            .map_err(|e| errno_of(&e))?;
        let r = f(guard.host.proc_.as_fd());
        drop(guard);
        r.map_err(|e| errno_of(&e))
    }
}

/// The resolution with the caller's context in place. `Err(Err(errno))`: the kernel's
/// failure; `Err(Ok(why))`: unknown.
fn establish(
    start: Option<BorrowedFd<'_>>,
    path: &[u8],
    flags: u64,
    resolve: u64,
    how: Fast,
) -> Result<Target, Result<String, i32>> {
    let fast = how != Fast::No;
    let mut dirfd: Option<OwnedFd> = None;
    let mut path = path.to_vec();
    let creat = flags & O_CREAT != 0;
    let tmpfile = flags & O_TMPFILE == O_TMPFILE;
    let excl = creat && flags & O_EXCL != 0;
    let follow = flags & O_NOFOLLOW == 0 && !excl;
    if creat && flags & O_DIRECTORY != 0 && !tmpfile {
        return Err(Err(libc::EINVAL));
    }
    if path.is_empty() {
        return Err(Err(libc::ENOENT));
    }
    let mut hops = 0usize;
    let mut races = 0usize;
    loop {
        let mut f = O_PATH;
        if !follow {
            f |= O_NOFOLLOW;
        }
        if flags & O_DIRECTORY != 0 || tmpfile {
            f |= O_DIRECTORY;
        }
        let dir = dirfd.as_ref().map(|d| d.as_fd()).or(start);
        match sys::openat2(dir, &path, f, 0, resolve) {
            Ok(fd) => {
                if tmpfile {
                    return Ok(Target::TmpFile { dir: fd });
                }
                if excl {
                    return Err(Err(libc::EEXIST));
                }
                let st =
                    sys::fstatat(Some(fd.as_fd()), b"", true).map_err(|e| Err(errno_of(&e)))?;
                let kind = st.kind();
                if kind == libc::S_IFLNK && flags & O_PATH == 0 {
                    return Err(Err(libc::ELOOP));
                }
                if kind == libc::S_IFDIR
                    && flags & O_PATH == 0
                    && (creat || flags & O_ACCMODE != 0 || flags & O_TRUNC != 0)
                {
                    return Err(Err(libc::EISDIR));
                }
                return Ok(Target::Existing { fd, st });
            }
            Err(e) if creat && !tmpfile && e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(walk_err(&e, fast)),
        }
        // O_CREAT of a missing object: its directory, then the name in it.
        if path.ends_with(b"/") {
            return Err(Err(libc::EISDIR));
        }
        let (dpath, name) = split_last(&path);
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Err(libc::ENOENT));
        }
        let name = name.to_vec();
        let dir = dirfd.as_ref().map(|d| d.as_fd()).or(start);
        let dfd = sys::openat2(dir, dpath, O_PATH | O_DIRECTORY, 0, resolve)
            .map_err(|e| walk_err(&e, fast))?;
        match sys::fstatat(Some(dfd.as_fd()), &name, true) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Ok(Target::Create { dir: dfd, name });
            }
            Err(e) => return Err(Err(errno_of(&e))),
            Ok(st) if st.kind() == libc::S_IFLNK => {
                if !follow {
                    return Err(Err(if excl { libc::EEXIST } else { libc::ELOOP }));
                }
                if how == Fast::NoSymlinks {
                    return Err(Ok(SLOW.into()));
                }
                if resolve & libc::RESOLVE_NO_SYMLINKS != 0 {
                    return Err(Err(libc::ELOOP));
                }
                // A dangling symlink: O_CREAT creates its target (resolved with the
                // caller's root as the thread's root).
                if fast {
                    return Err(Ok(SLOW.into()));
                }
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Err(libc::ELOOP));
                }
                let t = sys::read_link_bytes(Some(dfd.as_fd()), &name, libc::PATH_MAX as usize)
                    .map_err(|e| Err(errno_of(&e)))?;
                if t.is_empty() {
                    return Err(Err(libc::ENOENT));
                }
                dirfd = Some(dfd);
                path = t;
            }
            Ok(_) => {
                // Created meanwhile: look again.
                races += 1;
                if races > 8 {
                    return Err(Ok("the object keeps changing".into()));
                }
            }
        }
    }
}

/// The cheap case of [`resolve_paths`]: every path absolute and outside `/proc`, resolved
/// from the root handle with `RESOLVE_IN_ROOT` (no chroot, no `/proc` reads besides the
/// root handle). `None` when a path needs the full treatment (relative, `/proc`, a magic
/// link, an empty path).
fn resolve_absolute(
    em: &mut Emulator,
    ev: &SyscallEvent,
    croot: &CallerRoot,
) -> Option<Vec<Result<Resolved, String>>> {
    let root = croot.fd.as_fd();
    let d = ev.decoded();
    let simple = d.paths.iter().all(|p| {
        !p.unreadable && !p.empty_path && p.raw.starts_with(b"/") && {
            let first = p
                .raw
                .split(|b| *b == b'/')
                .find(|c| !c.is_empty() && *c != b".");
            first != Some(b"proc")
        }
    });
    if !simple {
        return None;
    }
    let host = em.host().ok()?;
    let mut out = Vec::with_capacity(d.paths.len());
    for p in &d.paths {
        let f = audit_flags(p);
        // A clean path from the namespace's root that meets no symlink is its own
        // resolved path (no read back); one that meets a symlink is resolved again.
        let exact = croot.ns_root && clean_path(&p.raw);
        // (A walk that finds a component missing before meeting any symlink fails the same
        // way with or without them.)
        let nosym = exact.then(|| {
            sys::openat2(
                Some(root),
                &p.raw,
                f,
                0,
                libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS,
            )
        });
        let named = matches!(nosym, Some(Ok(_)));
        let opened = match nosym {
            Some(Ok(fd)) => Ok(fd),
            // Missing, and no symlink on the way to what is missing: the call walks the
            // same directories, so what it creates (if anything) is named by the path.
            Some(Err(e)) if e.raw_os_error() == Some(libc::ENOENT) => {
                out.push(view(Ok(p.raw.clone()), false)?);
                continue;
            }
            _ => sys::openat2(Some(root), &p.raw, f, 0, libc::RESOLVE_IN_ROOT),
        };
        let r = match opened {
            Ok(fd) => {
                let path = if named {
                    p.raw.clone()
                } else {
                    host.fd_path(fd.as_fd()).ok()?
                };
                view(Ok(path), true)?
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !p.raw.ends_with(b"/") => {
                let (dp, name) = split_last(&p.raw);
                let path = match sys::openat2(
                    Some(root),
                    dp,
                    O_PATH | O_DIRECTORY,
                    0,
                    libc::RESOLVE_IN_ROOT,
                ) {
                    Ok(dfd) => Ok(entry_path(host.fd_path(dfd.as_fd()).ok()?, name)),
                    Err(e) => Err(e),
                };
                view(path, false)?
            }
            Err(e) => view(Err(e), true)?,
        };
        out.push(r);
    }
    Some(out)
}

/// The resolved view of an object (`exists`) or of a missing one from the walk to its
/// directory: its path, or the walk's error; `None` when the walk met a link it refuses,
/// so that the full resolution takes over.
fn view(path: io::Result<Vec<u8>>, exists: bool) -> Option<Result<Resolved, String>> {
    match path {
        Ok(path) => Some(Ok(Resolved {
            path,
            exists,
            followed_symlink: false,
            magic: false,
        })),
        Err(e) if link_refused(&e) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// `path` with its symlinks expanded one by one inside `root` (each looked up without
/// following, `RESOLVE_IN_ROOT`), the targets that name `/proc/self` or
/// `/proc/thread-self` rewritten to the caller's pid and tid in its namespace: what the
/// caller's own walk would reach, for paths whose links name the opener's process
/// (`/dev/stdout` → `/proc/self/fd/1`). Stops at `/proc`, at `..` and at the first
/// component it cannot look up (the rest is left to the caller's walk); `None` past
/// [`MAX_HOPS`] links.
fn expand_links(root: BorrowedFd<'_>, path: &[u8], vpid: u32, vtid: u32) -> Option<Vec<u8>> {
    let mut p = rewrite_proc_self(path, vpid, vtid);
    for _ in 0..MAX_HOPS {
        if !p.starts_with(b"/") {
            return Some(p);
        }
        let comps: Vec<&[u8]> = p
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        let mut next = None;
        for i in 1..=comps.len() {
            // procfs's own links (`fd/N`, `root`, `cwd`, `exe`) are magic: the caller's
            // walk follows them (tiercel's thread takes the caller's root and credentials).
            if comps[0] == b"proc" || comps[i - 1] == b".." {
                return Some(p);
            }
            let prefix = {
                let mut v = Vec::new();
                for c in &comps[..i] {
                    v.push(b'/');
                    v.extend_from_slice(c);
                }
                v
            };
            let Ok(fd) = sys::openat2(
                Some(root),
                &prefix,
                O_PATH | O_NOFOLLOW,
                0,
                libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
            ) else {
                return Some(p);
            };
            let Ok(st) = sys::fstatat(Some(fd.as_fd()), b"", true) else {
                return Some(p);
            };
            if st.kind() != libc::S_IFLNK {
                continue;
            }
            let t = sys::read_link_bytes(Some(fd.as_fd()), b"", libc::PATH_MAX as usize).ok()?;
            let mut n = if t.starts_with(b"/") {
                t
            } else {
                let (dir, _) = split_last(&prefix);
                entry_path(dir.to_vec(), &t)
            };
            for c in &comps[i..] {
                n.push(b'/');
                n.extend_from_slice(c);
            }
            next = Some(rewrite_proc_self(&n, vpid, vtid));
            break;
        }
        match next {
            Some(n) => p = n,
            None => return Some(p),
        }
    }
    None
}

/// A relative path whose text is its own canonical form (no empty, `.` or `..` component,
/// no trailing slash): walked from its start directory without symlinks, it stays below
/// it and names the object as the start's path plus itself.
fn clean_relative(p: &[u8]) -> bool {
    !p.is_empty()
        && p.len() < libc::PATH_MAX as usize
        && p[0] != b'/'
        && p.split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// The cheap case of [`resolve_paths`] for relative paths: each clean relative path
/// (its start the caller's cwd or dirfd) walked from a handle on its start directory with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` — the walk the kernel makes when it meets no
/// symlink — and named by the start's path (read back) plus the path. `None` when some
/// path needs the full treatment (absolute, not clean, a symlink met, a start directory
/// removed).
fn resolve_relative(em: &mut Emulator, ev: &SyscallEvent) -> Option<Vec<Result<Resolved, String>>> {
    let d = ev.decoded();
    if !d
        .paths
        .iter()
        .all(|p| !p.unreadable && !p.empty_path && clean_relative(&p.raw))
    {
        return None;
    }
    let host = em.host().ok()?;
    let mut out = Vec::with_capacity(d.paths.len());
    let scoped = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    for p in &d.paths {
        let start = match p.dirfd {
            Some(fd) if fd != libc::AT_FDCWD => {
                ev.proc_open(&format!("fd/{fd}"), libc::O_PATH).ok()?
            }
            _ => ev.proc_open("cwd", libc::O_PATH | libc::O_DIRECTORY).ok()?,
        };
        let mut base = host.fd_path(start.as_fd()).ok()?;
        if !base.starts_with(b"/") || base.ends_with(b" (deleted)") {
            return None;
        }
        let f = audit_flags(p);
        let r = match sys::openat2(Some(start.as_fd()), &p.raw, f, 0, scoped) {
            Ok(_) => view(Ok(entry_path(std::mem::take(&mut base), &p.raw)), true)?,
            // Missing, and no symlink on the way to what is missing: named by the path.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                view(Ok(entry_path(std::mem::take(&mut base), &p.raw)), false)?
            }
            Err(e) => view(Err(e), true)?,
        };
        out.push(r);
    }
    Some(out)
}

/// A resolved argument: a handle on the object, or on its directory plus the missing
/// name; whether it is a directory.
type Found = (OwnedFd, Option<Vec<u8>>);

/// Audit mode: resolves every path argument of `ev` inside the caller's root with its
/// cwd and dirfd (handles, not strings) as the call would (`O_PATH`, the last symlink
/// followed only when the call follows it; a missing object as its directory's real path
/// plus its name), and sets them as the event's resolved view. tiercel's own credentials:
/// nothing is opened for real, no permission is in question. False when the paths could
/// not be resolved this way (then the resolved view falls back to the path walk).
pub fn resolve_paths(em: &mut Emulator, ev: &SyscallEvent) -> bool {
    let d = ev.decoded();
    // Clean relative paths need no look at the root.
    if let Some(v) = resolve_relative(em, ev) {
        return ev.set_resolved_paths(v);
    }
    let Ok(croot) = em.caller_root(ev) else {
        return false;
    };
    if let Some(v) = resolve_absolute(em, ev, &croot) {
        return ev.set_resolved_paths(v);
    }
    let root = croot.fd;
    let Ok(cwd) = ev.proc_open("cwd", libc::O_PATH | libc::O_DIRECTORY) else {
        return false;
    };
    // The caller's pid and tid in its namespace, for `/proc/self` and
    // `/proc/thread-self`: read (from `status`, a costly file) only when a path starts so.
    let ids = if d
        .paths
        .iter()
        .any(|p| rewrite_proc_self(&p.raw, 0, 0) != p.raw)
    {
        ev.proc_read("status")
            .ok()
            .and_then(|s| parse_status(&s))
            .map(|c| (c.vpid, c.vtid))
            .unwrap_or((0, 0))
    } else {
        (0, 0)
    };
    let mut dirs = Vec::with_capacity(d.paths.len());
    for p in &d.paths {
        let fd = match p.dirfd {
            Some(fd) if fd != libc::AT_FDCWD && (!p.raw.starts_with(b"/") || p.empty_path) => {
                ev.proc_open(&format!("fd/{fd}"), libc::O_PATH).ok()
            }
            _ => None,
        };
        dirs.push(fd);
    }
    let Ok(host) = em.host() else {
        return false;
    };
    let own = Creds {
        fsuid: host.fsuid,
        fsgid: host.fsgid,
        groups: host.groups.clone(),
        cap_eff: host.caps.effective,
        umask: host.umask,
        vpid: 0,
        vtid: 0,
    };
    // Per argument: an O_PATH handle on the object, or on its directory plus a name.
    let mut found: Vec<Option<Found>> = Vec::new();
    {
        let Ok(guard) = host.enter(Some((root.as_fd(), cwd.as_fd())), &own, false) else {
            return false;
        };
        for (p, dir) in d.paths.iter().zip(&dirs) {
            if p.unreadable {
                found.push(None);
                continue;
            }
            if p.empty_path {
                found.push(dir.as_ref().and_then(|f| {
                    sys::openat2(Some(f.as_fd()), b".", O_PATH, 0, 0)
                        .ok()
                        .map(|f| (f, None))
                }));
                continue;
            }
            let path = rewrite_proc_self(&p.raw, ids.0, ids.1);
            let dirfd = dir.as_ref().map(|f| f.as_fd());
            let f = audit_flags(p);
            let r = match sys::openat2(dirfd, &path, f, 0, 0) {
                Ok(fd) => Some((fd, None)),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !path.ends_with(b"/") => {
                    let (dp, name) = split_last(&path);
                    sys::openat2(dirfd, dp, O_PATH | O_DIRECTORY, 0, 0)
                        .ok()
                        .map(|fd| (fd, Some(name.to_vec())))
                }
                Err(_) => None,
            };
            found.push(r);
        }
        drop(guard);
    }
    let Ok(host) = em.host() else {
        return false;
    };
    let v: Vec<Result<Resolved, String>> = found
        .into_iter()
        .map(|f| {
            let (fd, name) = f.ok_or_else(|| "not resolved".to_string())?;
            let mut path = host.fd_path(fd.as_fd()).map_err(|e| e.to_string())?;
            let exists = name.is_none();
            if let Some(n) = name {
                if path != b"/" {
                    path.push(b'/');
                }
                path.extend_from_slice(&n);
            }
            Ok(Resolved {
                path,
                exists,
                followed_symlink: false,
                magic: false,
            })
        })
        .collect();
    ev.set_resolved_paths(v)
}

/// One line of `/proc/<pid>/mountinfo`: (id, device, root in its file system, mount
/// point in the reader's root).
fn mountinfo_line(l: &str) -> Option<(u64, &str, &str, &str)> {
    let mut w = l.split(' ');
    let id = w.next()?.parse().ok()?;
    let _parent = w.next()?;
    let dev = w.next()?;
    let root = w.next()?;
    let mp = w.next()?;
    Some((id, dev, root, mp))
}

/// `\040`-style escapes of mountinfo.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn under<'a>(p: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return Some(p);
    }
    let rest = p.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// The object's path in the container's root file system when its mount (`obj`) shows a
/// part of the same file system as the root mount (`root`), e.g. a bind mount of `/bin`
/// at `/tmp/m`: `/tmp/m/x` → `/bin/x`. Other mounts (volumes, tmpfs, procfs) keep their
/// path. Unknown when the mounts cannot be found.
pub fn canonical_path(
    mountinfo: &[u8],
    obj: u64,
    root: u64,
    path: &[u8],
) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(mountinfo);
    let mut o = None;
    let mut r = None;
    for l in text.lines() {
        if let Some(m) = mountinfo_line(l) {
            if m.0 == obj {
                o = Some(m);
            }
            if m.0 == root {
                r = Some(m);
            }
        }
    }
    let (Some(o), Some(r)) = (o, r) else {
        return Err("the object's mount is not in the caller's mountinfo".into());
    };
    if o.1 != r.1 {
        return Ok(path.to_vec());
    }
    let (oroot, rroot, omp) = (unescape(o.2), unescape(r.2), unescape(o.3));
    let Some(in_root) = under(&oroot, &rroot) else {
        // Another part of the file system than the container's root: not an alias.
        return Ok(path.to_vec());
    };
    let Some(rest) = under(path, &omp) else {
        return Err("the object's path is not below its mount point".into());
    };
    let mut out = if in_root.is_empty() {
        b"/".to_vec()
    } else {
        in_root.to_vec()
    };
    if !rest.is_empty() {
        if out == b"/" {
            out.clear();
        }
        out.extend_from_slice(rest);
    }
    Ok(out)
}

/// What happened to an emulated open.
#[derive(Debug)]
pub enum Emulated {
    /// The caller is gone (or the tid was reused): no answer.
    Gone,
    /// Answer with this (the kernel's errno, or the deny); `second` says why.
    Answer(Answer, SecondLook),
    /// Hand this fd over (ADDFD + SEND).
    Fd(OwnedFd, bool),
}

/// The whole emulated open: establish, check the caller is still the one waiting
/// (`id_valid`), decide on the object in `mode`, perform.
pub fn open_for_caller(
    em: &mut Emulator,
    event: &SyscallEvent,
    decider: &Decider,
    mode: Mode,
    scratch: &mut Scratch,
    id_valid: impl Fn() -> bool,
) -> Emulated {
    let errno = decider.policy().errno;
    // Every handle below comes from the caller's `/proc/<tid>` (opened on first use), and
    // the ID_VALID after them proves it was our caller's. What an alert names is captured
    // by the session before it answers, and only for calls that alert.
    let staged = em.stage(event);
    if !id_valid() {
        return Emulated::Gone;
    }
    match staged {
        Stage::Fail(e) => Emulated::Answer(Answer::Errno(e), SecondLook::None),
        Stage::Unknown(why) => {
            tracing::debug!(evt = event.type_name(), "object not established: {why}");
            Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown)
        }
        Stage::Object(s) => {
            event.set_object(Resolved {
                path: s.path.clone(),
                exists: s.exists,
                followed_symlink: false,
                magic: false,
            });
            let second = decider.decide_object(event, mode, scratch);
            if let SecondLook::Rule(_) = second {
                return Emulated::Answer(Answer::Errno(errno), second);
            }
            let cloexec = s.cloexec;
            match em.finish(*s) {
                Ok(fd) => Emulated::Fd(fd, cloexec),
                Err(e) => Emulated::Answer(Answer::Errno(e), SecondLook::None),
            }
        }
    }
}

/// The caller's controlling terminal (`tty_nr` of `/proc/<tid>/stat`), as an `O_PATH`
/// handle on one of the caller's own descriptors for that device (the first 256 are
/// looked at; a shell has it on 0–2); `None` without a terminal or such a descriptor.
fn caller_ctty(ev: &SyscallEvent) -> Result<Option<OwnedFd>, String> {
    use std::os::unix::fs::MetadataExt;
    let stat = ev
        .proc_read("stat")
        .map_err(|e| format!("cannot read the caller's stat: {e}"))?;
    let Some(tty) = tty_nr(&stat) else {
        return Err("unreadable tty_nr".into());
    };
    if tty == 0 {
        return Ok(None);
    }
    let want = crate::devices::new_decode_dev(tty);
    for n in 0..256 {
        let Ok(h) = ev.proc_open(&format!("fd/{n}"), libc::O_PATH) else {
            continue;
        };
        let Ok(md) = h
            .try_clone()
            .and_then(|f| std::fs::File::from(f).metadata())
        else {
            continue;
        };
        if md.mode() & libc::S_IFMT == libc::S_IFCHR && crate::devices::split_dev(md.rdev()) == want
        {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// Field 7 of `/proc/<pid>/stat` (after the parenthesised command name, which may hold
/// spaces and parentheses).
fn tty_nr(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let v: i64 = rest.split_ascii_whitespace().nth(4)?.parse().ok()?;
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_nr_of_stat() {
        let s = b"42 (a) b (c)) S 1 42 42 34816 42 4194560 0 0";
        assert_eq!(tty_nr(s), Some(34816));
        assert_eq!(tty_nr(b"42 (sh) S 1 42 42 0 -1"), Some(0));
        assert_eq!(tty_nr(b"42 (sh"), None);
    }

    #[test]
    fn status_fields() {
        let s = b"Name:\tx\nUmask:\t0027\nUid:\t1000\t1000\t1000\t1001\nGid:\t50\t50\t50\t51\n\
Groups:\t4 24 27 \nNStgid:\t900\t7\nNSpid:\t901\t8\nCapEff:\t0000000000000001\n";
        let c = parse_status(s).unwrap();
        assert_eq!((c.fsuid, c.fsgid), (1001, 51));
        assert_eq!(c.groups, vec![4, 24, 27]);
        assert_eq!(c.umask, 0o027);
        assert_eq!((c.vpid, c.vtid), (7, 8));
        assert_eq!(c.cap_eff, 1);
        assert!(parse_status(b"Name:\tx\n").is_none());
    }

    #[test]
    fn proc_self_is_the_callers() {
        assert_eq!(rewrite_proc_self(b"/proc/self/fd/3", 7, 8), b"/proc/7/fd/3");
        assert_eq!(rewrite_proc_self(b"//proc/./self", 7, 8), b"/proc/7");
        assert_eq!(
            rewrite_proc_self(b"/proc/thread-self/cwd/x", 7, 8),
            b"/proc/7/task/8/cwd/x"
        );
        assert_eq!(rewrite_proc_self(b"/proc/1/root", 7, 8), b"/proc/1/root");
        assert_eq!(rewrite_proc_self(b"proc/self", 7, 8), b"proc/self");
        assert_eq!(rewrite_proc_self(b"/procs/self", 7, 8), b"/procs/self");
        assert_eq!(rewrite_proc_self(b"/proc", 7, 8), b"/proc");
    }

    #[test]
    fn bind_mounts_of_the_root_file_system_are_aliases() {
        let mi = b"100 90 0:50 /var/lib/b/rootfs / rw - overlay o rw\n\
101 100 0:5 / /proc rw - proc proc rw\n\
102 100 0:50 /var/lib/b/rootfs/bin /tmp/m rw - overlay o rw\n\
103 100 0:50 /srv/vol /data rw - overlay o rw\n\
104 100 0:50 /var/lib/b/rootfs/usr/bin /tmp/a\\040b rw - overlay o rw\n";
        assert_eq!(
            canonical_path(mi, 102, 100, b"/tmp/m/evil").unwrap(),
            b"/bin/evil"
        );
        assert_eq!(canonical_path(mi, 102, 100, b"/tmp/m").unwrap(), b"/bin");
        assert_eq!(
            canonical_path(mi, 104, 100, b"/tmp/a b/x").unwrap(),
            b"/usr/bin/x"
        );
        assert_eq!(
            canonical_path(mi, 101, 100, b"/proc/1/x").unwrap(),
            b"/proc/1/x"
        );
        assert_eq!(
            canonical_path(mi, 103, 100, b"/data/x").unwrap(),
            b"/data/x"
        );
        assert!(canonical_path(mi, 999, 100, b"/x").is_err());
        assert!(canonical_path(mi, 102, 100, b"/elsewhere/x").is_err());
    }

    #[test]
    fn last_component() {
        assert_eq!(split_last(b"/bin/x"), (&b"/bin"[..], &b"x"[..]));
        assert_eq!(split_last(b"/x"), (&b"/"[..], &b"x"[..]));
        assert_eq!(split_last(b"x"), (&b"."[..], &b"x"[..]));
    }

    #[test]
    fn clean_paths_are_their_own_canonical_form() {
        let long = [b'/'; libc::PATH_MAX as usize];
        type Case<'a> = (fn(&[u8]) -> bool, &'a [&'a [u8]], &'a [&'a [u8]]);
        let cases: [Case; 2] = [
            (
                clean_path,
                &[b"/bin/x", b"/tmp/a b/c", b"/x"],
                &[
                    b"/",
                    b"",
                    b"bin/x",
                    b"//bin/x",
                    b"/bin//x",
                    b"/bin/./x",
                    b"/bin/../x",
                    b"/bin/x/",
                    b"/bin/..",
                    &long,
                ],
            ),
            (
                clean_relative,
                &[b"x", b"tree/d1/f1", b"a b/c"],
                &[
                    b"", b"/x", b"./x", b"../x", b"a//b", b"a/", b"a/./b", b"a/..",
                ],
            ),
        ];
        for (clean, yes, no) in cases {
            for p in yes {
                assert!(clean(p), "{}", String::from_utf8_lossy(p));
            }
            for p in no {
                assert!(!clean(p), "{}", String::from_utf8_lossy(p));
            }
        }
    }

    #[test]
    fn a_missing_object_is_named_from_its_directory_unless_a_link_was_met() {
        let r = view(Ok(b"/tmp/x".to_vec()), false).unwrap().unwrap();
        assert_eq!((r.path.as_slice(), r.exists), (&b"/tmp/x"[..], false));
        for e in [libc::ELOOP, libc::EXDEV] {
            assert!(view(Err(io::Error::from_raw_os_error(e)), false).is_none());
        }
        assert!(view(Err(io::Error::from_raw_os_error(libc::ENOENT)), false)
            .unwrap()
            .is_err());
    }

    /// The caller's root handle is kept while `/proc/<tid>/root` names the same directory
    /// of the same mount, and a chrooted caller's root is another, not its namespace's
    /// root. Root only (chroot).
    #[test]
    fn the_root_handle_is_kept_for_the_same_root_only() {
        if sys::geteuid() != 0 {
            return;
        }
        use crate::event::testutil::{builder, notif, BufMem};
        let Some(bb) = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            eprintln!("SKIP: busybox not installed");
            return;
        };
        let m = BufMem::new(0x1000);
        let mut em = Emulator::new();
        let me = builder()
            .build(&notif(std::process::id(), "getpid", [0; 6]), &m)
            .unwrap();
        let a = em.caller_root(&me).unwrap();
        let b = em.caller_root(&me).unwrap();
        assert!(Arc::ptr_eq(&a.fd, &b.fd), "the same root: the kept handle");
        assert!(a.ns_root, "our root is our mount namespace's root");
        let dir = std::env::temp_dir().join(format!("tiercel-cr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(bb, dir.join("busybox")).unwrap();
        let mut child = std::process::Command::new("chroot")
            .arg(&dir)
            .args(["/busybox", "sleep", "30"])
            .spawn()
            .unwrap();
        let pid = child.id();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r == dir) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let ev = builder().build(&notif(pid, "getpid", [0; 6]), &m).unwrap();
        let c = em.caller_root(&ev).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!Arc::ptr_eq(&a.fd, &c.fd), "another root: another handle");
        assert!(!c.ns_root, "a chroot is not the namespace's root");
        let back = em.caller_root(&me).unwrap();
        assert_eq!((back.mnt, back.dev, back.ino), (a.mnt, a.dev, a.ino));
    }

    /// The mount table cache: re-read when a mount is added in the caller's namespace,
    /// another namespace is another entry. Root only (unshare, mount).
    #[test]
    fn the_mount_table_cache_sees_every_change() {
        if sys::geteuid() != 0 {
            return;
        }
        use crate::event::testutil::{builder, notif, BufMem};
        let dir = std::env::temp_dir().join(format!("tiercel-mc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = match std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "30"])
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("SKIP: unshare: {e}");
                return;
            }
        };
        let pid = child.id();
        // Wait for the exec of sleep (its own mount namespace).
        for _ in 0..200 {
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let m = BufMem::new(0x1000);
        let ev = builder().build(&notif(pid, "getpid", [0; 6]), &m).unwrap();
        let mut em = Emulator::new();
        let root = em.caller_root(&ev).unwrap();
        let name = dir.to_string_lossy().to_string();
        let before = em.mountinfo(&ev, &root).unwrap().to_vec();
        assert!(!String::from_utf8_lossy(&before).contains(&name));
        assert_eq!(em.mountinfo(&ev, &root).unwrap(), &before[..]);
        let st = std::process::Command::new("nsenter")
            .args([
                "-t",
                &pid.to_string(),
                "-m",
                "mount",
                "-t",
                "tmpfs",
                "none",
                &name,
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let after = em.mountinfo(&ev, &root).unwrap().to_vec();
        assert!(
            String::from_utf8_lossy(&after).contains(&name),
            "the new mount is seen"
        );
        // Our own namespace: another key, our table (without the child's mount).
        let me = builder()
            .build(&notif(std::process::id(), "getpid", [0; 6]), &m)
            .unwrap();
        let r2 = em.caller_root(&me).unwrap();
        assert_ne!((r2.mnt, r2.dev, r2.ino), (root.mnt, root.dev, root.ino));
        let ours = em.mountinfo(&me, &r2).unwrap().to_vec();
        assert!(!String::from_utf8_lossy(&ours).contains(&name));
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir(&dir);
    }

    /// Emulated opens for a real process (a `sleep` in a temp cwd with fd 5 on `d`),
    /// decided by real rules. Root only (chroot, setfsuid).
    mod real {
        use super::super::*;
        use crate::decide::Decider;
        use crate::event::testutil::Target;
        use crate::event::testutil::*;
        use std::os::unix::fs::MetadataExt;

        fn decider(dir: &str) -> Decider {
            let rules = format!(
                "- rule: protected\n  desc: d\n  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write = true and fd.name startswith {dir}/prot/\n  output: p %fd.name\n  priority: ERROR\n"
            );
            Decider::for_tests(&rules)
        }

        fn run(t: &Target, d: &Decider, name: &str, args: [u64; 6], m: &BufMem) -> Emulated {
            let ev = builder()
                .build(&notif(t.child.id(), name, args), m)
                .unwrap();
            let mut sc = Scratch::default();
            let dec = d.decide(&ev, Mode::Enforce, &mut sc);
            assert!(
                dec.object,
                "an open a deny rule could match is decided on its object"
            );
            let mut em = Emulator::new();
            open_for_caller(&mut em, &ev, d, Mode::Enforce, &mut sc, || true)
        }

        #[test]
        fn opens_decide_on_the_object_and_create_as_the_caller() {
            if supported().is_err() {
                eprintln!("SKIP: {:?}", supported());
                return;
            }
            // Run the whole test on its own thread: the emulator unshares its fs_struct.
            std::thread::spawn(|| {
                let t = target("emul");
                let dir = t.dir.to_string_lossy().to_string();
                std::fs::create_dir_all(t.dir.join("prot")).unwrap();
                std::os::unix::fs::symlink(format!("{dir}/prot"), t.dir.join("alias")).unwrap();
                std::fs::write(t.dir.join("prot/existing"), b"keep").unwrap();
                let d = decider(&dir);
                let mut m = BufMem::new(0x1000);
                let wr = (libc::O_WRONLY | libc::O_CREAT) as u64;
                let cwd = libc::AT_FDCWD as i64 as u64;
                // A plain create relative to the caller's cwd: performed, fd handed over.
                let p = m.put_cstr(b"d/new");
                match run(&t, &d, "openat", [cwd, p, wr, 0o666, 0, 0], &m) {
                    Emulated::Fd(f, cloexec) => {
                        assert!(!cloexec);
                        let md = std::fs::File::from(f).metadata().unwrap();
                        assert!(md.is_file());
                        // sh's umask (022) applied by the kernel, as for the caller.
                        assert_eq!(md.mode() & 0o777, 0o644);
                    }
                    other => panic!("expected an fd: {other:?}"),
                }
                assert!(t.dir.join("d/new").is_file());
                // Through a symlinked directory into the protected one: refused on the
                // object, nothing created.
                let p = m.put_cstr(b"alias/evil");
                match run(&t, &d, "openat", [cwd, p, wr, 0o644, 0, 0], &m) {
                    Emulated::Answer(Answer::Errno(e), SecondLook::Rule(0)) => {
                        assert_eq!(e, libc::EPERM)
                    }
                    other => panic!("expected a deny: {other:?}"),
                }
                assert!(
                    !t.dir.join("prot/evil").exists(),
                    "no side effect before the decision"
                );
                // O_TRUNC of an existing protected file through the alias: refused, intact.
                let p = m.put_cstr(b"alias/existing");
                let tr = (libc::O_WRONLY | libc::O_TRUNC) as u64;
                assert!(matches!(
                    run(&t, &d, "openat", [cwd, p, tr, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(_), SecondLook::Rule(0))
                ));
                assert_eq!(std::fs::read(t.dir.join("prot/existing")).unwrap(), b"keep");
                // The caller's dirfd (fd 5 = d) and /proc/self/fd/5 (rewritten to the
                // caller's pid): relative creation in d.
                let p = m.put_cstr(b"viafd");
                assert!(matches!(
                    run(
                        &t,
                        &d,
                        "openat",
                        [5, p, wr | libc::O_CLOEXEC as u64, 0o600, 0, 0],
                        &m
                    ),
                    Emulated::Fd(_, true)
                ));
                assert!(t.dir.join("d/viafd").is_file());
                // The kernel's errors: EEXIST for O_EXCL, ENOENT for a missing parent,
                // ELOOP for O_NOFOLLOW on a symlink, EISDIR for writing a directory.
                let p = m.put_cstr(b"d/new");
                let ex = wr | libc::O_EXCL as u64;
                assert!(matches!(
                    run(&t, &d, "openat", [cwd, p, ex, 0o644, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EEXIST), _)
                ));
                let p = m.put_cstr(b"nope/x");
                assert!(matches!(
                    run(&t, &d, "openat", [cwd, p, wr, 0o644, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::ENOENT), _)
                ));
                let p = m.put_cstr(b"alias");
                let nf = (libc::O_WRONLY | libc::O_NOFOLLOW) as u64;
                assert!(matches!(
                    run(&t, &d, "openat", [cwd, p, nf, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::ELOOP), _)
                ));
                let p = m.put_cstr(b"d");
                assert!(matches!(
                    run(
                        &t,
                        &d,
                        "openat",
                        [cwd, p, libc::O_WRONLY as u64, 0, 0, 0],
                        &m
                    ),
                    Emulated::Answer(Answer::Errno(libc::EISDIR), _)
                ));
                // The thread got its own root back.
                assert!(std::path::Path::new("/proc/self/status").exists());
                assert_eq!(
                    std::fs::read_link("/proc/thread-self/root").unwrap(),
                    std::path::PathBuf::from("/")
                );
            })
            .join()
            .unwrap();
        }

        #[test]
        fn a_non_root_caller_is_refused_where_the_kernel_refuses_and_owns_what_it_creates() {
            if supported().is_err() {
                return;
            }
            std::thread::spawn(|| {
                let dir =
                    std::env::temp_dir().join(format!("tiercel-emul-nr-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(dir.join("open")).unwrap();
                std::fs::create_dir_all(dir.join("closed")).unwrap();
                std::fs::write(dir.join("rootfile"), b"r").unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
                std::fs::set_permissions(dir.join("open"), std::fs::Permissions::from_mode(0o777))
                    .unwrap();
                std::fs::set_permissions(
                    dir.join("closed"),
                    std::fs::Permissions::from_mode(0o755),
                )
                .unwrap();
                std::fs::set_permissions(
                    dir.join("rootfile"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
                // A caller running as nobody (65534), from `dir`.
                use std::os::unix::process::CommandExt;
                let child = std::process::Command::new("sleep")
                    .arg("30")
                    .current_dir(&dir)
                    .uid(65534)
                    .gid(65534)
                    .spawn()
                    .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                let t = Target {
                    child,
                    dir: dir.clone(),
                };
                let d = decider(&dir.to_string_lossy());
                let mut m = BufMem::new(0x1000);
                let cwd = libc::AT_FDCWD as i64 as u64;
                let wr = (libc::O_WRONLY | libc::O_CREAT) as u64;
                let p = m.put_cstr(b"open/mine");
                match run(&t, &d, "openat", [cwd, p, wr, 0o640, 0, 0], &m) {
                    Emulated::Fd(f, _) => {
                        let md = std::fs::File::from(f).metadata().unwrap();
                        assert_eq!((md.uid(), md.gid()), (65534, 65534), "the caller owns it");
                    }
                    other => panic!("expected an fd: {other:?}"),
                }
                let p = m.put_cstr(b"closed/x");
                assert!(matches!(
                    run(&t, &d, "openat", [cwd, p, wr, 0o640, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EACCES), SecondLook::None)
                ));
                let p = m.put_cstr(b"rootfile");
                assert!(matches!(
                    run(
                        &t,
                        &d,
                        "openat",
                        [cwd, p, libc::O_WRONLY as u64, 0, 0, 0],
                        &m
                    ),
                    Emulated::Answer(Answer::Errno(libc::EACCES), SecondLook::None)
                ));
                assert!(!dir.join("closed/x").exists());
                // Our own credentials are back.
                assert_eq!(sys::set_fsuid(u32::MAX), 0);
            })
            .join()
            .unwrap();
        }
    }
}
