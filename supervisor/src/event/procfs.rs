//! Process information from `/proc`, with a per-session cache keyed by (tid, start time).
//!
//! Every read of the caller's entries goes through a directory handle on `/proc/<tid>`
//! (`openat`/`readlinkat` relative to it, no path walk): if the task is gone by the time
//! a lazy field is read, the read fails instead of reading a recycled pid.
//! Ancestors are opened by pid and checked by start time (a parent cannot start after its
//! child), which rejects a recycled parent pid.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most bytes read from one /proc file (status, stat, cmdline...).
pub const MAX_PROC_FILE: usize = 64 * 1024;
/// Most bytes of `environ` read.
pub const MAX_ENVIRON: usize = 64 * 1024;
/// Most ancestors walked.
pub const MAX_ANCESTORS: usize = 64;
/// Most pending-exec marks kept (cleared beyond).
pub const CACHE_MAX: usize = 4096;
/// `USER_HZ` (fixed at 100 on x86).
const USER_HZ: u64 = 100;

/// Reads at most `max` bytes of a file.
pub fn read_bounded(p: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    read_file_bounded(File::open(p)?, max)
}

/// Reads at most `max` bytes of an open `/proc` file, in as few `read`s as its size
/// allows: procfs files produce their content per read, so a read that returns less
/// than was asked for has reached the end (no extra `read` returning 0, unlike
/// `read_to_end`'s probing).
pub fn read_file_bounded(mut f: File, max: usize) -> std::io::Result<Vec<u8>> {
    read_chunks(max, |buf| f.read(buf))
}

/// [`read_file_bounded`] from offset 0 of a kept file (`pread`): a procfs file opened
/// once produces fresh content at each read from its start.
pub fn read_at_bounded(f: &File, max: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut off = 0u64;
    read_chunks(max, |buf| {
        let n = f.read_at(buf, off)?;
        off += n as u64;
        Ok(n)
    })
}

/// Reads chunks with `read` until a short one (the end of a procfs file) or `max` bytes.
fn read_chunks(
    max: usize,
    mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    // Most /proc/<tid> files (status is ~1.4 KiB) fit in one read.
    let mut chunk = [0u8; 4096];
    while v.len() < max {
        let want = chunk.len().min(max - v.len());
        let n = match read(&mut chunk[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        v.extend_from_slice(&chunk[..n]);
        if n < want {
            break;
        }
    }
    Ok(v)
}

/// An open `/proc/<tid>` directory (clones share the handle).
#[derive(Debug, Clone)]
pub struct ProcDir {
    pub tid: u32,
    dir: Arc<File>,
    /// `status`, opened on first read and kept with the handle (re-read with `pread`:
    /// one syscall instead of open, read, close). A read after the task is gone fails
    /// (`ESRCH`), like a read through the directory handle.
    status: Arc<std::sync::Mutex<Option<File>>>,
    /// What `root` named when [`ProcDirs::get`] checked this kept handle (the check is a
    /// `statx` of `root`): the caller's root for this event without another lookup.
    root_stat: Option<crate::sys::FileStat>,
    /// A pidfd on the task, taken when a kept handle is first reused (the task stopped in
    /// a notification, its handle just found alive: both name it). Quiet, the task lives:
    /// a check without a lookup in `/proc` for events that need no `root`.
    pidfd: Option<Arc<std::os::fd::OwnedFd>>,
}

/// Most `/proc/<tid>` handles a session keeps open between events ([`ProcDirs`]).
pub const PROC_DIRS_MAX: usize = 64;

/// The `/proc/<tid>` handles of a session's callers, kept between events: opening one
/// (a path walk of `/proc/<tid>`, then a `close`) costs more than checking a kept one.
/// A kept handle names the task it was opened on, not the number: once that task is gone
/// every lookup through it fails (`ENOENT`), even if the tid has been reused since. So a
/// kept handle whose task is alive is the handle a new open would give for a caller
/// stopped in a notification (the live task with that tid); a dead one is replaced.
#[derive(Debug, Default)]
pub struct ProcDirs {
    dirs: HashMap<u32, ProcDir>,
    /// Events served by a kept handle.
    pub reused: u64,
}

impl ProcDirs {
    /// The handle on `/proc/<tid>` for a caller stopped in a notification. `root`: the
    /// event will look at the caller's root, so a kept handle is checked by a `statx` of
    /// `root` (kept for the event); otherwise by its pidfd when it has one (a `poll`, ~6×
    /// cheaper than any lookup in `/proc`).
    pub fn get(&mut self, proc_root: &Path, tid: u32, root: bool) -> Option<ProcDir> {
        if let Some(d) = self.dirs.get_mut(&tid) {
            let alive = match &d.pidfd {
                Some(p) if !root => {
                    use std::os::fd::AsFd;
                    d.root_stat = None;
                    crate::sys::pidfd_lives(p.as_fd())
                }
                _ => d.check_alive(),
            };
            if alive {
                if d.pidfd.is_none() {
                    // Kept only if the handle's task still lives after the pidfd was
                    // opened: then it held the tid throughout, and the pidfd names it.
                    d.pidfd = crate::sys::pidfd_open_task(tid)
                        .ok()
                        .filter(|_| d.alive())
                        .map(Arc::new);
                }
                self.reused += 1;
                return Some(d.clone());
            }
            self.dirs.remove(&tid);
        }
        let d = ProcDir::open_at(proc_root, tid).ok()?;
        if self.dirs.len() >= PROC_DIRS_MAX {
            self.dirs.clear();
        }
        self.dirs.insert(tid, d.clone());
        Some(d)
    }

    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }
}

impl ProcDir {
    pub fn open_tid(tid: u32) -> std::io::Result<ProcDir> {
        Self::open_at(Path::new("/proc"), tid)
    }

    pub fn open_at(proc_root: &Path, tid: u32) -> std::io::Result<ProcDir> {
        let dir = Arc::new(File::open(proc_root.join(tid.to_string()))?);
        Ok(ProcDir {
            tid,
            dir,
            status: Arc::default(),
            root_stat: None,
            pidfd: None,
        })
    }

    /// Whether the task this handle was opened on still exists (one lookup through the
    /// handle: a gone task's directory has no entries).
    pub fn alive(&self) -> bool {
        use std::os::fd::AsFd;
        crate::sys::fstatat(Some(self.dir.as_fd()), b"stat", true).is_ok()
    }

    /// [`ProcDir::alive`] by a `statx` of `root` (kept for [`ProcDir::stat_entry`]): a
    /// gone task's `root` is not found either. A task whose root cannot be looked at is
    /// checked with `stat`.
    fn check_alive(&mut self) -> bool {
        use std::os::fd::AsFd;
        self.root_stat = None;
        match crate::sys::fstatat(Some(self.dir.as_fd()), b"root", false) {
            Ok(st) => {
                self.root_stat = Some(st);
                true
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => false,
            Err(_) => self.alive(),
        }
    }

    /// The host path reaching an entry of this directory through the held handle.
    pub fn entry(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{}", self.dir.as_raw_fd(), name))
    }

    /// The task's root directory (`/proc/<tid>/root` opened as a directory handle): the
    /// base of every in-root read of the container's files.
    pub fn open_root(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        crate::sys::open_at(self.dir.as_fd(), "root", libc::O_PATH | libc::O_DIRECTORY)
    }

    /// The host path of the directory itself (through the handle).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()))
    }

    /// An entry of this directory, opened relative to the handle (`openat`).
    pub fn open(&self, name: &str) -> std::io::Result<File> {
        use std::os::fd::AsFd;
        Ok(File::from(crate::sys::open_at(self.dir.as_fd(), name, 0)?))
    }

    /// An entry opened with extra `flags` (e.g. `O_PATH` on the `exe` link).
    pub fn open_at_flags(&self, name: &str, flags: i32) -> std::io::Result<File> {
        use std::os::fd::AsFd;
        Ok(File::from(crate::sys::open_at(
            self.dir.as_fd(),
            name,
            flags,
        )?))
    }

    /// Opens an entry with extra open flags (`O_PATH` of `root`, `cwd`, `fd/N`).
    pub fn open_with(&self, name: &str, flags: i32) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        crate::sys::open_at(self.dir.as_fd(), name, flags)
    }

    pub fn read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        self.read_max(name, MAX_PROC_FILE)
    }

    /// At most `max` bytes of an entry.
    pub fn read_max(&self, name: &str, max: usize) -> std::io::Result<Vec<u8>> {
        if name == "status" {
            let mut kept = self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.is_none() {
                *kept = Some(self.open(name)?);
            }
            if let Some(f) = kept.as_ref() {
                return read_at_bounded(f, max);
            }
        }
        read_file_bounded(self.open(name)?, max)
    }

    /// `statx` of an entry (`follow`: through a link such as `root`).
    pub fn stat_entry(&self, name: &str, follow: bool) -> std::io::Result<crate::sys::FileStat> {
        use std::os::fd::AsFd;
        if let (Some(st), "root", true) = (self.root_stat, name, follow) {
            return Ok(st);
        }
        crate::sys::fstatat(Some(self.dir.as_fd()), name.as_bytes(), !follow)
    }

    pub fn read_link(&self, name: &str) -> std::io::Result<Vec<u8>> {
        use std::os::fd::AsFd;
        crate::sys::read_link_at(self.dir.as_fd(), name, libc::PATH_MAX as usize)
    }

    pub fn stat(&self) -> Option<Stat> {
        Stat::parse(&self.read("stat").ok()?)
    }

    pub fn status(&self) -> Option<Status> {
        Some(Status::parse(&self.read("status").ok()?))
    }
}

/// Fields of `/proc/<pid>/stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    pub tty_nr: u32,
    /// Clock ticks after boot.
    pub starttime: u64,
}

impl Stat {
    pub fn parse(b: &[u8]) -> Option<Stat> {
        let open = b.iter().position(|c| *c == b'(')?;
        let close = b.iter().rposition(|c| *c == b')')?;
        if close < open {
            return None;
        }
        let rest = std::str::from_utf8(b.get(close + 1..)?).ok()?;
        // Fields 3 (state) to 22 (starttime), in one pass without collecting them.
        let mut f = rest.split_ascii_whitespace();
        f.next()?; // the state
        let mut next = |skip: usize| f.nth(skip).and_then(|s| s.parse::<i64>().ok());
        let ppid = next(0)? as u32;
        let pgrp = next(0)? as u32;
        let session = next(0)? as u32;
        let tty_nr = next(0)? as u32;
        let starttime = next(14)? as u64;
        Some(Stat {
            comm: String::from_utf8_lossy(&b[open + 1..close]).into_owned(),
            ppid,
            pgrp,
            session,
            tty_nr,
            starttime,
        })
    }
}

/// Fields of `/proc/<tid>/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub tgid: u32,
    pub ppid: u32,
    /// Real, effective, saved, fs.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub cap_inh: u64,
    pub cap_prm: u64,
    pub cap_eff: u64,
    /// Innermost-namespace ids (last of `NStgid`/`NSpid`/`NSpgid`).
    pub vpid: u32,
    pub vtid: u32,
    pub vpgid: u32,
    pub threads: u64,
    pub vm_size_kb: u64,
    pub vm_rss_kb: u64,
    pub vm_swap_kb: u64,
}

fn kb(v: &str) -> u64 {
    v.split_ascii_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0)
}

impl Status {
    pub fn parse(b: &[u8]) -> Status {
        let mut s = Status::default();
        let text = String::from_utf8_lossy(b);
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            let last = || {
                v.split_ascii_whitespace()
                    .last()
                    .and_then(|x| x.parse().ok())
            };
            let ids = || {
                let mut a = [0u32; 4];
                for (i, x) in v.split_ascii_whitespace().take(4).enumerate() {
                    a[i] = x.parse().unwrap_or(0);
                }
                a
            };
            match k {
                "Tgid" => s.tgid = v.parse().unwrap_or(0),
                "PPid" => s.ppid = v.parse().unwrap_or(0),
                "Uid" => s.uid = ids(),
                "Gid" => s.gid = ids(),
                "CapInh" => s.cap_inh = u64::from_str_radix(v, 16).unwrap_or(0),
                "CapPrm" => s.cap_prm = u64::from_str_radix(v, 16).unwrap_or(0),
                "CapEff" => s.cap_eff = u64::from_str_radix(v, 16).unwrap_or(0),
                "NStgid" => s.vpid = last().unwrap_or(0),
                "NSpid" => s.vtid = last().unwrap_or(0),
                "NSpgid" => s.vpgid = last().unwrap_or(0),
                "Threads" => s.threads = v.parse().unwrap_or(0),
                "VmSize" => s.vm_size_kb = kb(v),
                "VmRSS" => s.vm_rss_kb = kb(v),
                "VmSwap" => s.vm_swap_kb = kb(v),
                _ => {}
            }
        }
        s
    }
}

/// A process's argument vector as one NUL-separated string (the bytes of `cmdline`,
/// lossily UTF-8, bounded by the read): one allocation however many arguments there are
/// (30,000 one-byte arguments stored as `Vec<String>` cost ~60 bytes each), shared by
/// every thread of the process and every event that borrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Argv(Arc<str>);

impl Argv {
    /// From a NUL-separated buffer (one trailing NUL dropped).
    pub fn from_nul(b: &[u8]) -> Argv {
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        Argv(Arc::from(String::from_utf8_lossy(b)))
    }

    /// From separate arguments (a NUL inside one is not expected: they come from C strings).
    pub fn from_items<S: AsRef<[u8]>>(items: &[S]) -> Argv {
        let mut v = Vec::new();
        for (i, a) in items.iter().enumerate() {
            if i > 0 {
                v.push(0);
            }
            v.extend_from_slice(a.as_ref());
        }
        if items.len() == 1 && v.is_empty() {
            // A single empty argument: keep it distinguishable from none.
            return Argv(Arc::from("\0"));
        }
        Argv::from_nul(&v)
    }

    /// The arguments, argv[0] first.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let s: &str = &self.0;
        let none = s.is_empty();
        let single_empty = &*self.0 == "\0";
        s.split('\0').take(if none {
            0
        } else if single_empty {
            1
        } else {
            usize::MAX
        })
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        self.iter().nth(i)
    }

    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    /// Heap bytes held.
    pub fn bytes(&self) -> usize {
        self.0.len()
    }

    /// Whether both hold the same buffer (not a copy).
    pub fn shares(&self, other: &Argv) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The arguments as owned strings (tests, diagnostics).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// What is cached about one task: its `stat`, and the per-process facts (argv and
/// executable, which change only on exec) shared with the other threads of its process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskInfo {
    pub tid: u32,
    /// Thread group id (the process); 0 when unknown.
    pub tgid: u32,
    pub stat: Stat,
    /// argv as read from `cmdline` (argv[0] included).
    pub argv: Argv,
    /// `readlink exe` (the path in the task's view for pivoted containers).
    pub exepath: Arc<str>,
}

impl TaskInfo {
    pub fn name(&self) -> &str {
        &self.stat.comm
    }
    /// `proc.exe`: argv[0].
    pub fn exe(&self) -> &str {
        self.argv.first().unwrap_or("")
    }
    /// `proc.args`: argv[1..] joined by spaces.
    pub fn args(&self) -> String {
        let mut s = String::new();
        for (i, a) in self.argv.iter().skip(1).enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(a);
        }
        s
    }
    /// `proc.cmdline`: comm + args.
    pub fn cmdline(&self) -> String {
        let mut s = self.name().to_string();
        for a in self.argv.iter().skip(1) {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// Splits a NUL-separated buffer (cmdline, environ).
pub fn split_nul(b: &[u8]) -> Vec<String> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|c| *c == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The per-process facts of a task, read from its `/proc/<tid>` directory.
fn read_facts(dir: &ProcDir) -> (Argv, Arc<str>) {
    let argv = dir
        .read("cmdline")
        .map(|b| Argv::from_nul(&b))
        .unwrap_or_default();
    let exepath = dir
        .read_link("exe")
        .map(|b| Arc::from(String::from_utf8_lossy(&b)))
        .unwrap_or_else(|_| Arc::from(""));
    (argv, exepath)
}

/// Most `/proc/<pid>/stat` files a container's table keeps open.
pub const STAT_FILES_MAX: usize = 256;

/// Most watched tasks ([`Watch`], three descriptors each) in one container's table.
pub const WATCHES_MAX: usize = 64;
/// Most watched tasks in the whole supervisor (bounds the descriptors they hold).
pub const WATCHES_GLOBAL_MAX: usize = 1024;
static WATCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Watched tasks in the whole supervisor now.
pub fn watches() -> usize {
    WATCHES.load(std::sync::atomic::Ordering::Relaxed)
}

/// What keeps a cached task's `stat` facts true without reading `stat` again: a pidfd
/// on the task (readable once it has exited: then its number may name another task), a
/// pidfd on its parent process (readable once that has exited: then the task has been
/// reparented and its `ppid` changed) and its kept-open `comm` (an exec or
/// `PR_SET_NAME` changes it). A cached task whose watch is quiet and whose comm reads
/// the same is the task the entry describes, with the same parent and name; the other
/// `stat` fields (process group, session, tty) are read fresh by the fields that need
/// them ([`ProcCache::read_stat`]).
#[derive(Debug)]
struct Watch {
    task: std::os::fd::OwnedFd,
    parent: Option<std::os::fd::OwnedFd>,
    comm: File,
    /// The comm as the kernel gives it (bytes: `Stat::comm` is its lossy text).
    raw: Vec<u8>,
}

/// Reads a kept `comm` file: the name's bytes without the newline, `None` on an error
/// or a read too long for a comm (TASK_COMM_LEN is 16; 64 for kernel threads' names).
fn pread_comm<'b>(f: &File, buf: &'b mut [u8; 80]) -> Option<&'b [u8]> {
    use std::os::unix::fs::FileExt;
    let n = f.read_at(buf, 0).ok()?;
    let got = buf.get(..n).filter(|_| n < 80)?;
    Some(got.strip_suffix(b"\n").unwrap_or(got))
}

impl Watch {
    /// A watch whose comm reads as `comm` now, within the supervisor's watch budget.
    fn new(
        task: std::os::fd::OwnedFd,
        parent: Option<std::os::fd::OwnedFd>,
        comm: File,
        expect: &str,
    ) -> Option<Watch> {
        use std::sync::atomic::Ordering;
        let raw = pread_comm(&comm, &mut [0u8; 80])?.to_vec();
        if String::from_utf8_lossy(&raw) != expect {
            return None;
        }
        WATCHES
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < WATCHES_GLOBAL_MAX).then_some(n + 1)
            })
            .ok()?;
        Some(Watch {
            task,
            parent,
            comm,
            raw,
        })
    }

    /// Whether the task and its parent still live and the task's comm is unchanged: two
    /// system calls (one `poll` of both pidfds, one `pread` of `comm`).
    fn holds(&self) -> bool {
        use std::os::fd::AsFd;
        match crate::sys::poll2(
            self.task.as_fd(),
            self.parent.as_ref().map(|p| p.as_fd()),
            crate::sys::POLLIN,
            0,
        ) {
            Ok((0, 0)) => {}
            _ => return false,
        }
        pread_comm(&self.comm, &mut [0u8; 80]) == Some(self.raw.as_slice())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHES.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Bytes a container's process table may hold (argv, executable paths, comms and the
/// fixed cost of each entry); beyond it the least recently used entries are evicted.
pub const CONTAINER_CACHE_BUDGET: usize = 8 << 20;
/// Accounted fixed cost of a task entry (key, `TaskInfo`, `Arc` and map overhead).
const TASK_OVERHEAD: usize = 160;
/// Accounted fixed cost of a process entry.
const PROC_OVERHEAD: usize = 96;

/// Bytes held by every process table of the supervisor (the `tiercel_cache_bytes` gauge).
static CACHE_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Bytes held by every process table (and user db) of the supervisor now.
pub fn cache_bytes() -> usize {
    CACHE_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

fn account_add(n: usize) {
    CACHE_BYTES.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

fn account_sub(n: usize) {
    CACHE_BYTES.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
}

/// Bytes accounted to the supervisor-wide gauge for as long as it lives (a user db, …).
#[derive(Debug, Default)]
pub struct Accounted(usize);

impl Accounted {
    pub fn new(n: usize) -> Accounted {
        account_add(n);
        Accounted(n)
    }
}

impl Drop for Accounted {
    fn drop(&mut self) {
        account_sub(self.0);
    }
}

/// Reads a `/proc/<pid>/stat` file from its start (one `pread`). A task that has died
/// reads as an error (ESRCH), even when its pid has been reused since: the file is
/// bound to the task, not to the number.
fn pread_stat(f: &File) -> Option<Stat> {
    use std::os::unix::fs::FileExt;
    // 52 numeric fields and a comm of at most 64 bytes fit well below this.
    let mut buf = [0u8; 2048];
    let n = f.read_at(&mut buf, 0).ok()?;
    if n == 0 || n == buf.len() {
        return None;
    }
    Stat::parse(&buf[..n])
}

/// An exec in flight ([`ProcCache::exec_started`]). It is over when the exec'ing thread
/// makes another call (a failed exec, or a leader's), or when that thread's tid is gone (a
/// thread's exec took the leader's tid; its pidfd then reads as exited). Until then a
/// lookup cannot tell the old image from the new one (a thread's exec keeps the leader's
/// tid and start time; the same program keeps its comm), so it reads everything.
///
/// An exec by the only thread of its process is also over once another thread of the
/// process makes a call: while the exec'ing thread is stopped in the exec's notification
/// it cannot start one, so any other thread was started afterwards, by whichever image
/// then ran, and reads the truth.
#[derive(Debug)]
struct ExecPending {
    tid: u32,
    pidfd: Option<std::os::fd::OwnedFd>,
    /// The process had no other thread when the exec was notified.
    alone: bool,
}

/// `num_threads` (field 20) of a `/proc/<pid>/stat`.
pub fn stat_threads(b: &[u8]) -> Option<u32> {
    let close = b.iter().rposition(|c| *c == b')')?;
    let rest = std::str::from_utf8(b.get(close + 1..)?).ok()?;
    // Field 3 is the first after the comm: field 20 is the 18th.
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

#[derive(Debug)]
struct TaskSlot {
    info: Arc<TaskInfo>,
    /// Its process's entry in `procs` (whose argv and exe it shares).
    proc_key: Option<(u32, u64)>,
    used: u64,
    bytes: usize,
    /// Set when the entry was confirmed by a second `stat` read (a task seen once needs
    /// none: short-lived processes never pay for one).
    watch: Option<Watch>,
    /// A watch was tried for this entry (one try per entry and parent: a task that cannot
    /// be watched does not pay for the attempt at every lookup).
    watch_tried: bool,
}

/// The per-process facts, keyed by (tgid, the leader's start time).
#[derive(Debug)]
struct ProcSlot {
    argv: Argv,
    exepath: Arc<str>,
    used: u64,
    bytes: usize,
}

/// A container's process table, shared by its sessions: tasks by (tid, start time), with
/// the per-process facts (argv, executable) stored once per process and shared by its
/// threads. Bounded in bytes ([`CONTAINER_CACHE_BUDGET`], least recently used evicted);
/// everything it holds is returned (and unaccounted) when it is dropped.
#[derive(Debug)]
pub struct ProcCache {
    tasks: HashMap<(u32, u64), TaskSlot>,
    procs: HashMap<(u32, u64), ProcSlot>,
    /// Open `/proc/<pid>/stat` files: checking a cached task (alive, same comm and
    /// parent) costs one `pread` instead of open + read + close.
    stat_files: HashMap<u32, File>,
    /// Execs in flight, by thread group id: until one is known to be over, the process's
    /// tasks are read afresh at every lookup and nothing of it is cached.
    exec_pending: HashMap<u32, ExecPending>,
    /// The exec'ing thread of each entry of `exec_pending` → its thread group id.
    exec_tids: HashMap<u32, u32>,
    /// The entry of each watched task, by tid.
    watched: HashMap<u32, (u32, u64)>,
    /// Watch attempts since the last sweep of exited watched tasks.
    sweep_credit: usize,
    /// Most watched tasks ([`WATCHES_MAX`]; tests lower it).
    watch_max: usize,
    /// Bytes accounted for the entries above.
    bytes: usize,
    budget: usize,
    tick: u64,
    pub hits: u64,
    /// Hits confirmed by the entry's [`Watch`] (no `stat` read).
    pub watched_hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

impl Default for ProcCache {
    fn default() -> Self {
        ProcCache::with_budget(CONTAINER_CACHE_BUDGET)
    }
}

impl Drop for ProcCache {
    fn drop(&mut self) {
        account_sub(self.bytes);
    }
}

fn task_bytes(t: &TaskInfo) -> usize {
    TASK_OVERHEAD + t.stat.comm.len()
}

impl ProcCache {
    pub fn with_budget(budget: usize) -> ProcCache {
        ProcCache {
            tasks: HashMap::new(),
            procs: HashMap::new(),
            stat_files: HashMap::new(),
            exec_pending: HashMap::new(),
            exec_tids: HashMap::new(),
            watched: HashMap::new(),
            sweep_credit: 0,
            watch_max: WATCHES_MAX,
            bytes: 0,
            budget,
            tick: 0,
            hits: 0,
            watched_hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// Bytes this table accounts for now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Info about the task `tid` that is stopped in a notification (so `tid` is its
    /// number for as long as the call is pending); `dir` opens its `/proc/<tid>` on a miss.
    /// `settles`: the call is not an exec, so it can tell that an exec of its process in
    /// flight is over (it is a later call of the exec'ing thread).
    pub fn get_caller<'d>(
        &mut self,
        proc_root: &Path,
        tid: u32,
        dir: impl FnOnce() -> Option<&'d ProcDir>,
        settles: bool,
    ) -> Option<Arc<TaskInfo>> {
        if let Some(info) = self.watched_hit(tid, u64::MAX) {
            return Some(info);
        }
        let stat = self.read_stat(proc_root, tid)?;
        self.get_with(proc_root, tid, stat, settles, |_| dir().map(Dir::Borrowed))
    }

    /// The entry of `tid` when its [`Watch`] holds (no `stat` read), if it started no
    /// later than `not_after`. A watch that fails is dropped: the caller reads `stat`.
    fn watched_hit(&mut self, tid: u32, not_after: u64) -> Option<Arc<TaskInfo>> {
        let key = *self.watched.get(&tid)?;
        if self.exec_pending.contains_key(&tid) || self.exec_tids.contains_key(&tid) {
            self.unwatch(tid);
            return None;
        }
        let Some(slot) = self.tasks.get_mut(&key) else {
            self.watched.remove(&tid);
            return None;
        };
        let holds = slot.watch.as_ref().is_some_and(Watch::holds);
        if !holds {
            self.unwatch(tid);
            return None;
        }
        if key.1 > not_after {
            return None;
        }
        self.tick += 1;
        slot.used = self.tick;
        self.hits += 1;
        self.watched_hits += 1;
        let info = slot.info.clone();
        if let Some(p) = slot.proc_key.and_then(|k| self.procs.get_mut(&k)) {
            p.used = self.tick;
        }
        Some(info)
    }

    /// With every watch slot taken, drops the watches of tasks that have exited (their
    /// entries wait for eviction otherwise); at most once per [`WATCHES_MAX`] attempts, so
    /// that a container starting processes by the thousand costs no more than one `poll`
    /// per attempt.
    fn sweep_watches(&mut self) {
        self.sweep_credit += 1;
        if self.sweep_credit < self.watch_max {
            return;
        }
        self.sweep_credit = 0;
        let gone: Vec<u32> = self
            .watched
            .iter()
            .filter(|(_, key)| {
                self.tasks
                    .get(key)
                    .and_then(|t| t.watch.as_ref())
                    .is_none_or(|w| {
                        use std::os::fd::AsFd;
                        !crate::sys::pidfd_lives(w.task.as_fd())
                    })
            })
            .map(|(tid, _)| *tid)
            .collect();
        for tid in gone {
            self.unwatch(tid);
        }
    }

    /// Drops the watch of `tid` (the entry stays, checked by `stat` again).
    fn unwatch(&mut self, tid: u32) {
        if let Some(key) = self.watched.remove(&tid) {
            if let Some(slot) = self.tasks.get_mut(&key) {
                slot.watch = None;
            }
        }
    }

    /// Watches the entry `key` of `tid`, just confirmed by a second `stat` read that gave
    /// `stat`: opens the pidfds and `comm`, then reads `stat` again through the kept file
    /// (bound to the task, not the number): unchanged, the task lived and had that
    /// parent while the pidfds were opened, so they name those two processes.
    fn watch(&mut self, proc_root: &Path, key: (u32, u64), stat: &Stat) {
        let tid = key.0;
        if self.watched.contains_key(&tid)
            || self.tasks.get(&key).is_none_or(|slot| slot.watch_tried)
        {
            return;
        }
        if self.watched.len() >= self.watch_max {
            self.sweep_watches();
        }
        if self.watched.len() >= self.watch_max || watches() >= WATCHES_GLOBAL_MAX {
            return;
        }
        // (A try that fails on the task itself is not repeated; one refused for room is.)
        if let Some(slot) = self.tasks.get_mut(&key) {
            slot.watch_tried = true;
        }
        let Ok(task) = crate::sys::pidfd_open_task(tid) else {
            return;
        };
        let parent = match stat.ppid {
            0 => None,
            p => match crate::sys::pidfd_open_task(p) {
                Ok(fd) => Some(fd),
                Err(_) => return,
            },
        };
        let Ok(comm) = File::open(proc_root.join(format!("{tid}/task/{tid}/comm"))) else {
            return;
        };
        if self.read_stat(proc_root, tid).as_ref() != Some(stat) {
            return;
        }
        let Some(w) = Watch::new(task, parent, comm, &stat.comm) else {
            return;
        };
        if !w.holds() {
            return;
        }
        if let Some(slot) = self.tasks.get_mut(&key) {
            slot.watch = Some(w);
            self.watched.insert(tid, key);
        }
    }

    /// The current `stat` of `pid`, through the kept-open file when there is one. The
    /// task's own file (`<pid>/task/<pid>/stat`), not the thread group's (`<pid>/stat`): the
    /// fields kept (comm, parent, process group, session, tty, start time) are the task's in
    /// both, and the task's skips summing the group's counters and CPU times (~20% cheaper).
    pub fn read_stat(&mut self, proc_root: &Path, pid: u32) -> Option<Stat> {
        if let Some(f) = self.stat_files.get(&pid) {
            if let Some(st) = pread_stat(f) {
                return Some(st);
            }
            // Dead (or unreadable): forget the file; the pid may now be another task.
            self.stat_files.remove(&pid);
        }
        let f = File::open(proc_root.join(format!("{pid}/task/{pid}/stat"))).ok()?;
        let st = pread_stat(&f)?;
        if self.stat_files.len() >= STAT_FILES_MAX {
            self.stat_files.clear();
        }
        self.stat_files.insert(pid, f);
        Some(st)
    }

    /// Whether the exec in flight in `tgid` is over, as seen from a lookup of `tid`.
    fn exec_over(&self, tgid: u32, tid: u32) -> bool {
        use std::os::fd::AsFd;
        self.exec_pending.get(&tgid).is_none_or(|p| {
            p.tid == tid
                || p.pidfd
                    .as_ref()
                    .is_some_and(|f| !crate::sys::pidfd_lives(f.as_fd()))
        })
    }

    fn end_exec(&mut self, tgid: u32) {
        if let Some(p) = self.exec_pending.remove(&tgid) {
            self.exec_tids.remove(&p.tid);
        }
    }

    fn get_with<'d>(
        &mut self,
        proc_root: &Path,
        tid: u32,
        stat: Stat,
        settles: bool,
        dir: impl FnOnce(&Stat) -> Option<Dir<'d>>,
    ) -> Option<Arc<TaskInfo>> {
        self.tick += 1;
        let tick = self.tick;
        let key = (tid, stat.starttime);
        // An exec in flight in the task's process (known here by the leader's or the
        // exec'ing thread's tid; other threads by their thread group below).
        let mut fresh = false;
        let pending = match self.exec_pending.contains_key(&tid) {
            true => Some(tid),
            false => self.exec_tids.get(&tid).copied(),
        };
        if let Some(g) = pending {
            self.remove_task(&key);
            if settles && self.exec_over(g, tid) {
                self.end_exec(g);
            } else {
                fresh = true;
            }
        }
        if let Some(e) = self.tasks.get_mut(&key) {
            if e.info.stat == stat {
                self.hits += 1;
                e.used = tick;
                let info = e.info.clone();
                if let Some(p) = e.proc_key.and_then(|k| self.procs.get_mut(&k)) {
                    p.used = tick;
                }
                self.watch(proc_root, key, &stat);
                return Some(info);
            }
            if e.info.stat.comm == stat.comm {
                // Reparenting or a new session: refresh the volatile part only.
                self.hits += 1;
                let mut n = (*e.info).clone();
                n.stat = stat.clone();
                let n = Arc::new(n);
                e.info = n.clone();
                e.used = tick;
                // Another parent: a watch on it.
                e.watch_tried = false;
                self.unwatch(tid);
                self.watch(proc_root, key, &stat);
                return Some(n);
            }
            // A new comm: an exec we did not see (or prctl); read everything again,
            // the process's facts included.
            if let Some(k) = e.proc_key {
                self.remove_proc(&k);
            }
        }
        self.misses += 1;
        let d = dir(&stat)?;
        let dir: &ProcDir = d.get();
        // The thread group: the task itself when it leads it (cheap pidfd check), else
        // from its status (read once per thread, on its miss).
        let tgid = match crate::sys::is_thread_group_leader(tid) {
            Some(true) => tid,
            _ => dir
                .status()
                .map(|s| s.tgid)
                .filter(|t| *t != 0)
                .unwrap_or(tid),
        };
        let leader_start = if tgid == tid {
            Some(stat.starttime)
        } else {
            self.read_stat(proc_root, tgid).map(|s| s.starttime)
        };
        if !fresh && settles && self.exec_pending.get(&tgid).is_some_and(|p| p.alone) {
            // Another thread of a process whose only thread exec'd: the exec is over.
            self.end_exec(tgid);
        }
        if fresh || self.exec_pending.contains_key(&tgid) {
            // Read now, kept for this event only.
            let (argv, exepath) = read_facts(dir);
            return Some(Arc::new(TaskInfo {
                tid,
                tgid: if leader_start.is_some() { tgid } else { 0 },
                stat,
                argv,
                exepath,
            }));
        }
        let (argv, exepath) = match leader_start.and_then(|ls| self.procs.get_mut(&(tgid, ls))) {
            Some(p) => {
                p.used = tick;
                (p.argv.clone(), p.exepath.clone())
            }
            None => {
                let (argv, exepath) = read_facts(dir);
                if let Some(ls) = leader_start {
                    let bytes = PROC_OVERHEAD + argv.bytes() + exepath.len();
                    self.add_bytes(bytes);
                    if let Some(old) = self.procs.insert(
                        (tgid, ls),
                        ProcSlot {
                            argv: argv.clone(),
                            exepath: exepath.clone(),
                            used: tick,
                            bytes,
                        },
                    ) {
                        self.sub_bytes(old.bytes);
                    }
                }
                (argv, exepath)
            }
        };
        let info = Arc::new(TaskInfo {
            tid,
            tgid: if leader_start.is_some() { tgid } else { 0 },
            stat,
            argv,
            exepath,
        });
        self.remove_task(&key);
        let bytes = task_bytes(&info);
        self.add_bytes(bytes);
        self.tasks.insert(
            key,
            TaskSlot {
                info: info.clone(),
                proc_key: leader_start.map(|ls| (tgid, ls)),
                used: tick,
                bytes,
                watch: None,
                watch_tried: false,
            },
        );
        self.evict();
        Some(info)
    }

    fn add_bytes(&mut self, n: usize) {
        self.bytes += n;
        account_add(n);
    }

    fn sub_bytes(&mut self, n: usize) {
        self.bytes -= n;
        account_sub(n);
    }

    fn remove_task(&mut self, key: &(u32, u64)) {
        if let Some(old) = self.tasks.remove(key) {
            self.sub_bytes(old.bytes);
            if old.watch.is_some() {
                self.watched.remove(&key.0);
            }
        }
    }

    /// Drops a process entry and the entries of its threads (which share its argv: kept,
    /// they would hold the memory without accounting for it).
    fn remove_proc(&mut self, key: &(u32, u64)) {
        let Some(p) = self.procs.remove(key) else {
            return;
        };
        self.sub_bytes(p.bytes);
        let threads: Vec<(u32, u64)> = self
            .tasks
            .iter()
            .filter(|(_, v)| v.proc_key == Some(*key))
            .map(|(k, _)| *k)
            .collect();
        for k in threads {
            self.remove_task(&k);
        }
    }

    /// Evicts the least recently used entries until the table is at most 3/4 of its
    /// budget (one sort per eviction round, so the cost is amortised over many inserts).
    fn evict(&mut self) {
        if self.bytes <= self.budget {
            return;
        }
        let target = self.budget / 4 * 3;
        let mut order: Vec<(u64, bool, (u32, u64))> = self
            .tasks
            .iter()
            .map(|(k, v)| (v.used, false, *k))
            .chain(self.procs.iter().map(|(k, v)| (v.used, true, *k)))
            .collect();
        order.sort_unstable();
        // Victims first (a process's threads go with it), then one pass over the tasks.
        let mut freed = 0usize;
        let mut procs = std::collections::HashSet::new();
        let mut tasks = std::collections::HashSet::new();
        for (_, is_proc, k) in order {
            if self.bytes - freed <= target {
                break;
            }
            self.evictions += 1;
            if is_proc {
                if let Some(p) = self.procs.remove(&k) {
                    self.sub_bytes(p.bytes);
                    procs.insert(k);
                }
            } else if let Some(t) = self.tasks.get(&k) {
                freed += t.bytes;
                tasks.insert(k);
            }
        }
        let mut sub = 0;
        let watched = &mut self.watched;
        self.tasks.retain(|k, v| {
            let keep = !tasks.contains(k) && !v.proc_key.is_some_and(|p| procs.contains(&p));
            if !keep {
                sub += v.bytes;
                if v.watch.is_some() {
                    watched.remove(&k.0);
                }
            }
            keep
        });
        self.sub_bytes(sub);
    }

    /// Info about process `pid` (an ancestor), only if it started no later than `not_after`.
    pub fn get_pid(&mut self, proc_root: &Path, pid: u32, not_after: u64) -> Option<Arc<TaskInfo>> {
        if pid == 0 {
            return None;
        }
        // A watched entry needs no read; otherwise the hit path reads only `stat` (its
        // start time identifies the process); the directory is opened on a miss, and its
        // `stat` re-checked against the first read.
        if let Some(info) = self.watched_hit(pid, not_after) {
            return Some(info);
        }
        let stat = self.read_stat(proc_root, pid)?;
        if stat.starttime > not_after {
            return None;
        }
        self.get_with(proc_root, pid, stat, false, |stat| {
            let dir = ProcDir::open_at(proc_root, pid).ok()?;
            let again = dir.stat()?;
            (again.starttime == stat.starttime).then_some(Dir::Owned(dir))
        })
    }

    /// An exec by a thread of `tgid` (and by `tid`) is about to run: forget what we know.
    /// `alone`: the process has no other thread.
    pub fn exec_started(&mut self, tgid: u32, tid: u32, alone: bool) {
        let gone: Vec<(u32, u64)> = self
            .tasks
            .iter()
            .filter(|((t, _), v)| *t == tid || *t == tgid || v.info.tgid == tgid)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            self.remove_task(&k);
        }
        let gone: Vec<(u32, u64)> = self
            .procs
            .keys()
            .filter(|(t, _)| *t == tgid || *t == tid)
            .copied()
            .collect();
        for k in gone {
            self.remove_proc(&k);
        }
        if self.exec_pending.len() >= CACHE_MAX {
            self.exec_pending.clear();
            self.exec_tids.clear();
        }
        self.end_exec(tgid);
        // A thread's exec: a pidfd on the thread (it is stopped in the exec's notification,
        // so the pidfd names it) tells when its tid is gone.
        let pidfd = (tid != tgid)
            .then(|| crate::sys::pidfd_open_task(tid).ok())
            .flatten();
        self.exec_pending
            .insert(tgid, ExecPending { tid, pidfd, alone });
        self.exec_tids.insert(tid, tgid);
    }

    /// Tasks in the table.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Processes (per-process facts) in the table.
    pub fn procs(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// A `/proc/<tid>` directory borrowed from the event or opened for the lookup.
enum Dir<'d> {
    Borrowed(&'d ProcDir),
    Owned(ProcDir),
}

impl Dir<'_> {
    fn get(&self) -> &ProcDir {
        match self {
            Dir::Borrowed(d) => d,
            Dir::Owned(d) => d,
        }
    }
}

/// Nanoseconds since boot (`/proc/uptime`, 10 ms resolution).
pub fn uptime_ns() -> Option<u64> {
    let b = read_bounded(Path::new("/proc/uptime"), 128).ok()?;
    let s = std::str::from_utf8(&b).ok()?;
    let first = s.split_ascii_whitespace().next()?;
    let (sec, frac) = first.split_once('.').unwrap_or((first, "0"));
    let sec: u64 = sec.parse().ok()?;
    let mut frac_ns: u64 = 0;
    let mut scale = 100_000_000u64;
    for c in frac.bytes().take(9) {
        frac_ns += u64::from(c.checked_sub(b'0')?) * scale;
        scale /= 10;
    }
    Some(sec * 1_000_000_000 + frac_ns)
}

/// Start time (clock ticks after boot) → nanoseconds after boot.
pub fn ticks_to_ns(t: u64) -> u64 {
    t.saturating_mul(1_000_000_000 / USER_HZ)
}

/// Boot time as nanoseconds since the epoch (`btime` of `/proc/stat`).
pub fn boot_time_ns() -> Option<u64> {
    let b = read_bounded(Path::new("/proc/stat"), 256 * 1024).ok()?;
    let s = String::from_utf8_lossy(&b);
    let l = s.lines().find(|l| l.starts_with("btime "))?;
    Some(l[6..].trim().parse::<u64>().ok()? * 1_000_000_000)
}

// ---- capabilities -----------------------------------------------------------------------

static CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability set as Falco renders it: names joined by spaces, in bit order.
pub fn caps_to_string(set: u64) -> String {
    let mut out = String::new();
    for (i, n) in CAP_NAMES.iter().enumerate() {
        if set & (1u64 << i) != 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(n);
        }
    }
    out
}

// ---- users and groups of the container ----------------------------------------------------

/// Most bytes read of the container's /etc/passwd or /etc/group.
pub const MAX_USERDB: usize = 1024 * 1024;

/// `uid → name` and `gid → name` from a container's own files.
#[derive(Debug, Default)]
pub struct UserDb {
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
    /// uid → (home directory, shell).
    pub entries: HashMap<u32, (String, String)>,
    /// The versions read of `/etc/passwd` and `/etc/group` (`None`: missing or refused).
    ids: [Option<crate::sys::FileId>; 2],
    _bytes: Accounted,
}

/// Bytes accounted per user db entry beyond its strings.
const USERDB_ENTRY_OVERHEAD: usize = 64;

impl UserDb {
    /// Reads `etc/passwd` and `etc/group` of the tree at `root` (a host directory; tests).
    pub fn load(root: &Path) -> UserDb {
        match File::open(root) {
            Ok(f) => Self::load_in(std::os::fd::AsFd::as_fd(&f)),
            Err(_) => UserDb::default(),
        }
    }

    /// Reads `/etc/passwd` and `/etc/group` inside the directory `root` (a container's
    /// root): each through [`crate::sys::read_in_root`] (resolved by the kernel inside
    /// the root, magic links refused, regular files only, bounded), so neither a symlink,
    /// a rename race nor a FIFO reaches or blocks on anything outside.
    pub fn load_in(root: std::os::fd::BorrowedFd<'_>) -> UserDb {
        let read = |p: &[u8]| match crate::sys::read_in_root(root, p, MAX_USERDB) {
            Ok((b, id)) => (b, Some(id)),
            Err(_) => (Vec::new(), None),
        };
        let (passwd, pid) = read(b"/etc/passwd");
        let (group, gid) = read(b"/etc/group");
        let users = parse_db(&passwd);
        let groups = parse_db(&group);
        let entries = parse_home_shell(&passwd);
        let bytes = users
            .values()
            .chain(groups.values())
            .map(|v| v.len() + USERDB_ENTRY_OVERHEAD)
            .sum::<usize>()
            + entries
                .values()
                .map(|(h, s)| h.len() + s.len() + USERDB_ENTRY_OVERHEAD)
                .sum::<usize>();
        UserDb {
            users,
            groups,
            entries,
            ids: [pid, gid],
            _bytes: Accounted::new(bytes),
        }
    }

    /// Whether the files under `root` are still the versions read (device, inode, size
    /// and mtime of an in-root `fstat`).
    pub fn unchanged(&self, root: std::os::fd::BorrowedFd<'_>) -> bool {
        let now = [
            crate::sys::stat_in_root(root, b"/etc/passwd"),
            crate::sys::stat_in_root(root, b"/etc/group"),
        ];
        now == self.ids
    }
}

fn parse_home_shell(b: &[u8]) -> HashMap<u32, (String, String)> {
    let mut m = HashMap::new();
    for line in String::from_utf8_lossy(b).lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            continue;
        }
        if let Ok(id) = f[2].parse::<u32>() {
            m.entry(id)
                .or_insert_with(|| (f[5].to_string(), f[6].to_string()));
        }
    }
    m
}

fn parse_db(b: &[u8]) -> HashMap<u32, String> {
    let mut m = HashMap::new();
    for line in String::from_utf8_lossy(b).lines() {
        let mut it = line.split(':');
        let (Some(name), Some(_), Some(id)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if let Ok(id) = id.parse::<u32>() {
            m.entry(id).or_insert_with(|| name.to_string());
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::{cmdline_until, comm_until, eventually};

    /// A thread of this process named `name`, parked until the sender is used or dropped:
    /// its tid, the sender and its handle.
    fn parked_thread(
        name: &str,
    ) -> (
        u32,
        std::sync::mpsc::Sender<()>,
        std::thread::JoinHandle<()>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // "/proc/thread-self" -> "<pid>/task/<tid>"
                let me = std::fs::read_link("/proc/thread-self").unwrap();
                let tid = me.file_name().unwrap().to_str().unwrap().parse::<u32>();
                tx.send(tid.unwrap()).unwrap();
                let _ = done_rx.recv();
            })
            .unwrap();
        (rx.recv().unwrap(), done_tx, h)
    }

    #[test]
    fn task_stat_gives_the_group_stat_fields_kept() {
        // A thread (not the leader) and a process: the fields read from the task's own
        // stat file are those of the group's file.
        let (tid, stop_tx, h) = parked_thread("stat");
        let me = std::process::id();
        for id in [me, tid] {
            let group = read_bounded(Path::new(&format!("/proc/{id}/stat")), 4096).unwrap();
            let mut c = ProcCache::default();
            assert_eq!(
                c.read_stat(Path::new("/proc"), id),
                Stat::parse(&group),
                "{id}"
            );
        }
        stop_tx.send(()).unwrap();
        h.join().unwrap();
    }

    #[test]
    fn kept_proc_dirs_are_reused_while_their_task_lives() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let root = Path::new("/proc");
        let mut dirs = ProcDirs::default();
        let a = dirs.get(root, pid, true).unwrap();
        let b = dirs.get(root, pid, true).unwrap();
        assert_eq!(dirs.reused, 1);
        assert_eq!(dirs.len(), 1);
        // Reused once: it has a pidfd, which checks it when the event needs no root.
        assert!(b.pidfd.is_some());
        let c = dirs.get(root, pid, false).unwrap();
        assert_eq!(dirs.reused, 2);
        assert!(c.root_stat.is_none() && c.stat().is_some());
        assert!(b.alive());
        assert!(b.stat().is_some());
        // The reused handle carries what `root` named at the check.
        let own = crate::sys::fstatat(None, format!("/proc/{pid}/root").as_bytes(), false).unwrap();
        assert_eq!(
            b.root_stat.map(|s| (s.dev, s.ino)),
            Some((own.dev, own.ino))
        );
        assert!(
            b.status().is_some_and(|s| s.tgid == pid),
            "status, kept open"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        // The task is gone: the kept handle reads nothing (not another task's entries)
        // and is not handed out again; the kept status file fails too.
        assert!(!a.alive());
        assert!(a.stat().is_none());
        assert!(b.status().is_none());
        // (A new open only succeeds if another task took the number meanwhile.) Neither
        // check hands the dead task's handle out again.
        for need_root in [false, true] {
            if let Some(d) = dirs.get(root, pid, need_root) {
                assert!(d.alive());
            }
        }
        assert_eq!(dirs.reused, 2);
    }

    /// A kept `status` file gives fresh content at each read (the umask the thread sets).
    #[test]
    fn a_kept_status_file_reads_fresh() {
        std::thread::spawn(|| {
            // Its own fs_struct first: the umask is otherwise the whole test process's.
            crate::sys::unshare_fs().unwrap();
            let me = std::fs::read_link("/proc/thread-self").unwrap();
            let tid: u32 = me
                .to_string_lossy()
                .rsplit('/')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap();
            let d = ProcDir::open_at(Path::new("/proc"), tid).unwrap();
            let old = crate::sys::set_umask(0o027);
            let a = d.read("status").unwrap();
            crate::sys::set_umask(0o077);
            let b = d.read("status").unwrap();
            crate::sys::set_umask(old);
            let umask = |t: &[u8]| {
                String::from_utf8_lossy(t)
                    .lines()
                    .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
            };
            assert_eq!(umask(&a).as_deref(), Some("0027"));
            assert_eq!(umask(&b).as_deref(), Some("0077"));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn parse_stat_with_hostile_comm() {
        let s = Stat::parse(b"42 (a) b (c)) S 1 42 42 34816 42 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345 1000 100 0 0").unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(
            (s.ppid, s.pgrp, s.session, s.tty_nr, s.starttime),
            (1, 42, 42, 34816, 12345)
        );
        assert!(Stat::parse(b"garbage").is_none());
        assert!(Stat::parse(b"1 (x) S").is_none());
    }

    #[test]
    fn caps() {
        assert_eq!(caps_to_string(0), "");
        assert_eq!(caps_to_string(1 | (1 << 21)), "CAP_CHOWN CAP_SYS_ADMIN");
        assert_eq!(caps_to_string(1 << 16), "CAP_SYS_MODULE");
    }

    #[test]
    fn real_child_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(cmdline_until(pid, |c| c.starts_with(b"sleep\0")) && comm_until(pid, "sleep"));
        let dir = ProcDir::open_tid(pid).unwrap();
        let mut cache = ProcCache::default();
        let root = Path::new("/proc");
        let t = cache.get_caller(root, pid, || Some(&dir), true).unwrap();
        assert_eq!(t.name(), "sleep");
        assert_eq!(t.argv.to_vec(), vec!["sleep".to_string(), "30".to_string()]);
        assert_eq!(t.cmdline(), "sleep 30");
        assert_eq!(t.args(), "30");
        assert!(t.exepath.ends_with("sleep"), "{}", t.exepath);
        assert_eq!(t.stat.ppid, std::process::id());
        let _ = cache.get_caller(root, pid, || Some(&dir), true).unwrap();
        assert_eq!((cache.hits, cache.misses), (1, 1));
        let st = dir.status().unwrap();
        assert_eq!(st.tgid, pid);
        assert_eq!(st.vpid, pid);
        // Parent walk: our own process, which started before the child.
        let p = cache
            .get_pid(Path::new("/proc"), t.stat.ppid, t.stat.starttime)
            .unwrap();
        assert_eq!(p.tid, std::process::id());
        // A "parent" that started after the child is rejected (pid reuse guard).
        assert!(cache.get_pid(Path::new("/proc"), pid, 0).is_none());
        // The caller's stat is read through a kept-open file.
        assert!(cache.stat_files.contains_key(&pid));
        cache.exec_started(pid, pid, true);
        assert_eq!(cache.len(), 1, "only the parent entry stays");
        child.kill().unwrap();
        child.wait().unwrap();
        // The held handle now fails instead of reading a recycled pid.
        assert!(dir.stat().is_none());
        // So does the kept-open stat file: the dead task is not served from it.
        assert!(pread_stat(&cache.stat_files[&pid]).is_none());
        assert!(cache
            .get_caller(Path::new("/proc"), pid, || Some(&dir), true)
            .is_none());
        assert!(
            !cache.stat_files.contains_key(&pid),
            "a dead task's file is dropped"
        );
        assert!(uptime_ns().unwrap() + 10_000_000 >= ticks_to_ns(t.stat.starttime));
    }

    #[test]
    fn userdb_from_a_root() {
        let d = std::env::temp_dir().join(format!("tiercel-userdb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        std::fs::write(
            d.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nbad line\nwww-data:x:33:33::/:/bin/false\n",
        )
        .unwrap();
        // /etc/group is a symlink that points at the host's file: it must resolve inside.
        std::os::unix::fs::symlink("/etc/passwd", d.join("etc/group")).unwrap();
        let db = UserDb::load(&d);
        assert_eq!(db.users.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(db.users.get(&0).map(String::as_str), Some("root"));
        // group → /etc/passwd inside the root (a valid file here, parsed as a group file).
        assert_eq!(db.groups.get(&0).map(String::as_str), Some("root"));
        std::fs::remove_dir_all(&d).unwrap();
    }
    #[test]
    fn argv_one_buffer() {
        let a = Argv::from_nul(b"sh\0-c\0\0x\0");
        assert_eq!(a.to_vec(), vec!["sh", "-c", "", "x"]);
        assert_eq!((a.len(), a.get(1), a.get(9)), (4, Some("-c"), None));
        assert_eq!(a.bytes(), 8);
        assert!(Argv::from_nul(b"").is_empty());
        assert_eq!(Argv::from_nul(b"").len(), 0);
        assert_eq!(Argv::from_items(&[b"".to_vec()]).to_vec(), vec![""]);
        assert_eq!(
            Argv::from_items(&[b"a".to_vec(), b"b c".to_vec()]).to_vec(),
            vec!["a", "b c"]
        );
        let t = TaskInfo {
            stat: Stat {
                comm: "sh".into(),
                ..Default::default()
            },
            argv: Argv::from_nul(b"/bin/sh\0-c\0echo hi\0"),
            ..Default::default()
        };
        assert_eq!(
            (t.exe(), t.args(), t.cmdline()),
            (
                "/bin/sh",
                "-c echo hi".to_string(),
                "sh -c echo hi".to_string()
            )
        );
    }

    /// Threads of this test process: tids other than the process's own.
    fn spawn_threads(
        n: usize,
    ) -> (
        Vec<u32>,
        std::sync::mpsc::Sender<()>,
        Vec<std::thread::JoinHandle<()>>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let before: std::collections::HashSet<u32> = tids();
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    let _ = rx.lock().map(|r| r.recv());
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let new: Vec<u32> = tids().difference(&before).copied().collect();
        (new, tx, hs)
    }

    fn tids() -> std::collections::HashSet<u32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// A task confirmed twice is watched: later lookups read no `stat`, and each thing
    /// the watch stands for (the parent's exit, a new comm, the task's exit) sends the
    /// lookup back to `stat`, which sees the change.
    #[test]
    fn watched_entries_see_reparenting_renames_and_exits() {
        // sh (the parent) starts a sleep and waits for a line on its stdin to exit.
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; read x"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(sh.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let pid: u32 = line.trim().parse().unwrap();
        assert!(comm_until(pid, "sleep"));
        let root = Path::new("/proc");
        let dir = ProcDir::open_tid(pid).unwrap();
        let mut cache = ProcCache::default();
        let get = |c: &mut ProcCache| c.get_caller(root, pid, || Some(&dir), true).unwrap();
        let first = get(&mut cache);
        assert_eq!((first.name(), first.stat.ppid), ("sleep", sh.id()));
        let _ = get(&mut cache);
        assert_eq!(cache.watched.len(), 1, "confirmed twice: watched");
        let _ = get(&mut cache);
        assert_eq!(cache.watched_hits, 1);
        // The parent exits: the sleep is reparented, and the next lookup says so.
        drop(sh.stdin.take());
        sh.wait().unwrap();
        let mut moved = None;
        eventually(|| {
            let t = get(&mut cache);
            let seen = t.stat.ppid != first.stat.ppid;
            moved = seen.then_some(t);
            seen
        });
        let moved = moved.expect("the reparenting is seen");
        let live = Stat::parse(&std::fs::read(format!("/proc/{pid}/stat")).unwrap()).unwrap();
        assert_eq!(moved.stat.ppid, live.ppid);
        // Watched again after the refresh.
        let _ = get(&mut cache);
        let hits = cache.watched_hits;
        let _ = get(&mut cache);
        assert_eq!(
            cache.watched_hits,
            hits + 1,
            "watched again after the refresh"
        );
        // Killed (a zombie until its new parent reaps it, then gone): the watch no
        // longer holds, and the lookup goes back to `stat`.
        assert!(cache.watched.contains_key(&pid));
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        eventually(|| {
            !std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|b| !b.contains(&b'Z'))
        });
        let hits = cache.watched_hits;
        let _ = cache.get_caller(root, pid, || Some(&dir), true);
        assert_eq!(cache.watched_hits, hits);
        assert!(
            !cache.watched.contains_key(&pid),
            "a dead task's watch is dropped"
        );
    }

    /// An exec of a program with the same name: the exec's own call reads the old image
    /// without keeping it, and the first later call of the process reads the new one
    /// (argv included), although comm, tid and start time are unchanged.
    #[test]
    fn an_exec_is_over_only_after_a_later_call() {
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "read l; exec sh -c 'sleep 30; :' second"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = sh.id();
        let root = Path::new("/proc");
        let mut cache = ProcCache::default();
        let get = |c: &mut ProcCache, settles: bool| {
            let d = ProcDir::open_tid(pid).unwrap();
            c.get_caller(root, pid, || Some(&d), settles).unwrap()
        };
        assert!(cmdline_until(pid, |c| c
            == b"sh\0-c\0read l; exec sh -c 'sleep 30; :' second\0"));
        for _ in 0..3 {
            assert_eq!(get(&mut cache, true).argv.get(1), Some("-c"));
        }
        assert!(cache.watched.contains_key(&pid));
        // The execve is notified: forget, then its own call (the old image) is not kept.
        cache.exec_started(pid, pid, true);
        let during = get(&mut cache, false);
        assert_eq!(
            during.argv.get(2),
            Some("read l; exec sh -c 'sleep 30; :' second")
        );
        assert!(cache.tasks.keys().all(|(t, _)| *t != pid), "nothing kept");
        // The exec runs.
        std::io::Write::write_all(sh.stdin.as_mut().unwrap(), b"go\n").unwrap();
        assert!(cmdline_until(pid, |c| c == b"sh\0-c\0sleep 30; :\0second\0"));
        let after = get(&mut cache, true);
        assert_eq!(after.name(), during.name(), "the same comm");
        assert_eq!(after.argv.get(3), Some("second"));
        assert_eq!(
            get(&mut cache, true).argv.get(3),
            Some("second"),
            "kept now"
        );
        sh.kill().unwrap();
        sh.wait().unwrap();
    }

    /// An exec by the only thread of its process is over at the first call of another
    /// thread (which the new image, or the old one after a failed exec, started); with
    /// other threads about at the exec, such a call proves nothing.
    #[test]
    fn a_lone_threads_exec_is_over_at_another_threads_call() {
        let (other, done_tx, t) = parked_thread("other");
        let me = std::process::id();
        let root = Path::new("/proc");
        let dir = ProcDir::open_at(&root.join(format!("{me}/task")), other).unwrap();
        let mut cache = ProcCache::default();
        for alone in [true, false] {
            cache.exec_started(me, me, alone);
            cache.get_caller(root, other, || Some(&dir), true).unwrap();
            assert_eq!(cache.exec_pending.is_empty(), alone, "alone: {alone}");
            assert_eq!(cache.tasks.keys().any(|(t, _)| *t == other), alone);
        }
        done_tx.send(()).unwrap();
        t.join().unwrap();
    }

    /// With every watch slot taken, the watch of an exited task is swept (not at every
    /// attempt) and its slot goes to a live one.
    #[test]
    fn exited_watches_are_swept_for_live_tasks() {
        // Spawned and past its exec (`spawn` returns inside it): comm and cmdline final.
        let spawn = || {
            let c = std::process::Command::new("sleep")
                .arg("30")
                .spawn()
                .unwrap();
            assert!(cmdline_until(c.id(), |c| c == b"sleep\x0030\0"));
            c
        };
        let (mut a, mut b) = (spawn(), spawn());
        let root = Path::new("/proc");
        let mut cache = ProcCache::default();
        cache.watch_max = 2;
        let twice = |c: &mut ProcCache, pid: u32| {
            let d = ProcDir::open_tid(pid).unwrap();
            for _ in 0..2 {
                c.get_caller(root, pid, || Some(&d), true).unwrap();
            }
        };
        twice(&mut cache, a.id());
        twice(&mut cache, std::process::id());
        assert_eq!(cache.watched.len(), 2, "both slots taken");
        a.kill().unwrap();
        a.wait().unwrap();
        // The first attempt for b only counts; the second sweeps a's slot and takes it.
        twice(&mut cache, b.id());
        assert!(!cache.watched.contains_key(&b.id()));
        let d = ProcDir::open_tid(b.id()).unwrap();
        cache.get_caller(root, b.id(), || Some(&d), true).unwrap();
        assert!(cache.watched.contains_key(&b.id()));
        assert!(!cache.watched.contains_key(&a.id()));
        b.kill().unwrap();
        b.wait().unwrap();
    }

    /// A watched thread renamed (`/proc/<tid>/comm`, as `PR_SET_NAME` does) is read
    /// again: its new name is served.
    #[test]
    fn a_watched_task_renamed_is_read_again() {
        let (tid, done_tx, t) = parked_thread("before");
        let root = Path::new("/proc");
        let me = std::process::id();
        let dir = ProcDir::open_at(&root.join(format!("{me}/task")), tid).unwrap();
        let mut cache = ProcCache::default();
        let get = |c: &mut ProcCache| c.get_caller(root, tid, || Some(&dir), true).unwrap();
        assert_eq!(get(&mut cache).name(), "before");
        let _ = get(&mut cache);
        let _ = get(&mut cache);
        if cache.watched_hits == 0 {
            // No PIDFD_THREAD (Linux < 6.9): threads are checked by `stat` alone.
            assert!(crate::sys::pidfd_open_task(tid).is_err());
        }
        std::fs::write(format!("/proc/{me}/task/{tid}/comm"), "after").unwrap();
        assert_eq!(get(&mut cache).name(), "after");
        done_tx.send(()).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn threads_share_their_process_facts() {
        let (new, tx, hs) = spawn_threads(4);
        assert!(new.len() >= 2, "{new:?}");
        let mut cache = ProcCache::default();
        let root = Path::new("/proc");
        let infos: Vec<Arc<TaskInfo>> = new
            .iter()
            .filter_map(|t| cache.get_pid(root, *t, u64::MAX))
            .collect();
        assert!(infos.len() >= 2);
        let me = std::process::id();
        for i in &infos {
            assert_eq!(i.tgid, me);
            assert!(i.argv.shares(&infos[0].argv), "one argv buffer per process");
            assert!(Arc::ptr_eq(&i.exepath, &infos[0].exepath));
        }
        assert_eq!(cache.procs(), 1);
        assert_eq!(cache.len(), infos.len());
        // Bytes: the argv and exe once, plus a fixed cost per thread.
        let once = PROC_OVERHEAD + infos[0].argv.bytes() + infos[0].exepath.len();
        let per_task: usize = infos.iter().map(|i| task_bytes(i)).sum();
        assert_eq!(cache.bytes(), once + per_task);
        // An exec in the process forgets its facts and its threads.
        cache.exec_started(me, new[0], false);
        assert_eq!((cache.len(), cache.procs(), cache.bytes()), (0, 0, 0));
        for _ in &hs {
            let _ = tx.send(());
        }
        for h in hs {
            h.join().unwrap();
        }
    }

    #[test]
    fn bounded_in_bytes_least_recently_used_first() {
        let mut kids: Vec<std::process::Child> = (0..6)
            .map(|i| {
                std::process::Command::new("sh")
                    .args(["-c", "sleep 30; :"])
                    .args(std::iter::repeat_n("x".repeat(200), 20 + i))
                    .spawn()
                    .unwrap()
            })
            .collect();
        for k in &kids {
            assert!(cmdline_until(k.id(), |c| c.starts_with(b"sh\0")));
        }
        let root = Path::new("/proc");
        // Room for about three of them.
        let budget = 3 * (PROC_OVERHEAD + TASK_OVERHEAD + 25 * 201 + 64);
        let mut cache = ProcCache::with_budget(budget);
        let first = kids[0].id();
        for k in &kids {
            let t = cache.get_pid(root, k.id(), u64::MAX).unwrap();
            assert!(t.argv.len() > 20);
            // Keep the first one recently used.
            cache.get_pid(root, first, u64::MAX).unwrap();
            assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        }
        assert!(cache.evictions > 0);
        let misses = cache.misses;
        cache.get_pid(root, first, u64::MAX).unwrap();
        assert_eq!(cache.misses, misses, "the most recently used entry stayed");
        let last = kids[5].id();
        cache.get_pid(root, last, u64::MAX).unwrap();
        assert_eq!(cache.misses, misses, "the newest entry stayed");
        let second = kids[1].id();
        cache.get_pid(root, second, u64::MAX).unwrap();
        assert_eq!(
            cache.misses,
            misses + 1,
            "the least recently used was evicted"
        );
        // Every accounted byte goes back to the gauge with the table.
        let bytes = cache.bytes();
        assert!(bytes > 0);
        let before = cache_bytes();
        assert!(before >= bytes);
        drop(cache);
        for k in &mut kids {
            k.kill().unwrap();
            k.wait().unwrap();
        }
    }

    #[test]
    fn userdb_refuses_fifos_and_host_paths() {
        let d = std::env::temp_dir().join(format!("tiercel-userdb-h-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc")).unwrap();
        // A FIFO nobody writes to: refused without blocking.
        let st = std::process::Command::new("mkfifo")
            .arg(d.join("etc/passwd"))
            .status()
            .unwrap();
        assert!(st.success());
        // /etc/group → a host file by `..` climbing: resolved inside the root (missing).
        std::os::unix::fs::symlink(
            "../../../../../../../../proc/self/status",
            d.join("etc/group"),
        )
        .unwrap();
        let t0 = std::time::Instant::now();
        let db = UserDb::load(&d);
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
        assert!(db.users.is_empty() && db.groups.is_empty());
        // A change of the file is seen by the in-root fstat check.
        std::fs::remove_file(d.join("etc/passwd")).unwrap();
        let root = File::open(&d).unwrap();
        use std::os::fd::AsFd;
        assert!(db.unchanged(root.as_fd()));
        std::fs::write(d.join("etc/passwd"), "app:x:1000:1000::/home/app:/bin/sh\n").unwrap();
        assert!(!db.unchanged(root.as_fd()));
        let db = UserDb::load_in(root.as_fd());
        assert_eq!(db.users.get(&1000).map(String::as_str), Some("app"));
        assert!(db.unchanged(root.as_fd()));
        std::fs::write(
            d.join("etc/passwd"),
            "app:x:1000:1000::/home/app:/bin/bash\n",
        )
        .unwrap();
        assert!(!db.unchanged(root.as_fd()), "size change");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
