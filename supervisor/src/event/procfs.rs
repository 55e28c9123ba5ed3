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
/// Cache entries before the cache is cleared.
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
    let mut v = Vec::new();
    let mut chunk = [0u8; 1024];
    while v.len() < max {
        let want = chunk.len().min(max - v.len());
        let n = match f.read(&mut chunk[..want]) {
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

/// An open `/proc/<tid>` directory.
#[derive(Debug)]
pub struct ProcDir {
    pub tid: u32,
    dir: File,
}

impl ProcDir {
    pub fn open_tid(tid: u32) -> std::io::Result<ProcDir> {
        Self::open_at(Path::new("/proc"), tid)
    }

    pub fn open_at(proc_root: &Path, tid: u32) -> std::io::Result<ProcDir> {
        let dir = File::open(proc_root.join(tid.to_string()))?;
        Ok(ProcDir { tid, dir })
    }

    /// The host path reaching an entry of this directory through the held handle.
    pub fn entry(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{}", self.dir.as_raw_fd(), name))
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
        read_file_bounded(self.open(name)?, max)
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
        let comm = String::from_utf8_lossy(&b[open + 1..close]).into_owned();
        let rest = std::str::from_utf8(b.get(close + 1..)?).ok()?;
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        // f[0] = state (field 3); field n is f[n-3].
        let g = |n: usize| f.get(n - 3).and_then(|s| s.parse::<i64>().ok());
        Some(Stat {
            comm,
            ppid: g(4)? as u32,
            pgrp: g(5)? as u32,
            session: g(6)? as u32,
            tty_nr: g(7)? as u32,
            starttime: g(22)? as u64,
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

/// What is cached about one task: the parts that change only on exec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskInfo {
    pub tid: u32,
    pub stat: Stat,
    /// argv as read from `cmdline` (argv[0] included).
    pub argv: Vec<String>,
    /// `readlink exe` (the path in the task's view for pivoted containers).
    pub exepath: String,
}

impl TaskInfo {
    pub fn name(&self) -> &str {
        &self.stat.comm
    }
    /// `proc.exe`: argv[0].
    pub fn exe(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }
    /// `proc.args`: argv[1..] joined by spaces.
    pub fn args(&self) -> String {
        self.argv.get(1..).map(|a| a.join(" ")).unwrap_or_default()
    }
    /// `proc.cmdline`: comm + args.
    pub fn cmdline(&self) -> String {
        cmdline(self.name(), &self.argv)
    }
}

/// Falco's `proc.cmdline`: name, then argv[1..], space separated.
pub fn cmdline(name: &str, argv: &[String]) -> String {
    let mut s = name.to_string();
    for a in argv.iter().skip(1) {
        s.push(' ');
        s.push_str(a);
    }
    s
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

fn read_task(dir: &ProcDir, stat: Stat) -> TaskInfo {
    let argv = dir
        .read("cmdline")
        .map(|b| split_nul(&b))
        .unwrap_or_default();
    let exepath = dir
        .read_link("exe")
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    TaskInfo {
        tid: dir.tid,
        stat,
        argv,
        exepath,
    }
}

/// Most `/proc/<pid>/stat` files a session's cache keeps open.
pub const STAT_FILES_MAX: usize = 256;

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

/// The per-session process cache.
#[derive(Debug, Default)]
pub struct ProcCache {
    entries: HashMap<(u32, u64), Arc<TaskInfo>>,
    /// Open `/proc/<pid>/stat` files: checking a cached task (alive, same comm and
    /// parent) costs one `pread` instead of open + read + close.
    stat_files: HashMap<u32, File>,
    /// Thread group ids with an exec in flight: their next event re-reads.
    exec_pending: HashMap<u32, ()>,
    pub hits: u64,
    pub misses: u64,
}

impl ProcCache {
    /// Info about the task `tid` that is stopped in a notification (so `tid` is its
    /// number for as long as the call is pending); `dir` opens its `/proc/<tid>` on a miss.
    pub fn get_caller<'d>(
        &mut self,
        proc_root: &Path,
        tid: u32,
        dir: impl FnOnce() -> Option<&'d ProcDir>,
    ) -> Option<Arc<TaskInfo>> {
        let stat = self.read_stat(proc_root, tid)?;
        self.get_with(tid, stat, |stat| Some(read_task(dir()?, stat)))
    }

    /// The current `stat` of `pid`, through the kept-open file when there is one.
    fn read_stat(&mut self, proc_root: &Path, pid: u32) -> Option<Stat> {
        if let Some(f) = self.stat_files.get(&pid) {
            if let Some(st) = pread_stat(f) {
                return Some(st);
            }
            // Dead (or unreadable): forget the file; the pid may now be another task.
            self.stat_files.remove(&pid);
        }
        let f = File::open(proc_root.join(format!("{pid}/stat"))).ok()?;
        let st = pread_stat(&f)?;
        if self.stat_files.len() >= STAT_FILES_MAX {
            self.stat_files.clear();
        }
        self.stat_files.insert(pid, f);
        Some(st)
    }

    fn get_with(
        &mut self,
        tid: u32,
        stat: Stat,
        read: impl FnOnce(Stat) -> Option<TaskInfo>,
    ) -> Option<Arc<TaskInfo>> {
        let key = (tid, stat.starttime);
        if self.exec_pending.remove(&tid).is_some() {
            self.entries.remove(&key);
        }
        if let Some(e) = self.entries.get(&key) {
            if e.stat == stat {
                self.hits += 1;
                return Some(e.clone());
            }
            if e.stat.comm == stat.comm {
                // Reparenting or a new session: refresh the volatile part only.
                self.hits += 1;
                let mut n = (**e).clone();
                n.stat = stat;
                let n = Arc::new(n);
                self.entries.insert(key, n.clone());
                return Some(n);
            }
            // A new comm: an exec we did not see (or prctl); read everything again.
        }
        self.misses += 1;
        let info = Arc::new(read(stat)?);
        self.insert(key, info.clone());
        Some(info)
    }

    fn insert(&mut self, key: (u32, u64), v: Arc<TaskInfo>) {
        if self.entries.len() >= CACHE_MAX {
            self.entries.clear();
        }
        self.entries.insert(key, v);
    }

    /// Info about process `pid` (an ancestor), only if it started no later than `not_after`.
    pub fn get_pid(&mut self, proc_root: &Path, pid: u32, not_after: u64) -> Option<Arc<TaskInfo>> {
        if pid == 0 {
            return None;
        }
        // The hit path reads only `stat` (its start time identifies the process); the
        // directory is opened on a miss, and its `stat` re-checked against the first read.
        let stat = self.read_stat(proc_root, pid)?;
        if stat.starttime > not_after {
            return None;
        }
        self.get_with(pid, stat, |stat| {
            let dir = ProcDir::open_at(proc_root, pid).ok()?;
            let again = dir.stat()?;
            (again.starttime == stat.starttime).then(|| read_task(&dir, again))
        })
    }

    /// An exec by a thread of `tgid` (and by `tid`) is about to run: forget what we know.
    pub fn exec_started(&mut self, tgid: u32, tid: u32) {
        self.entries.retain(|(t, _), _| *t != tid && *t != tgid);
        if self.exec_pending.len() >= CACHE_MAX {
            self.exec_pending.clear();
        }
        self.exec_pending.insert(tgid, ());
        self.exec_pending.insert(tid, ());
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
#[derive(Debug, Clone, Default)]
pub struct UserDb {
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
    /// uid → (home directory, shell).
    pub entries: HashMap<u32, (String, String)>,
}

impl UserDb {
    /// Reads `etc/passwd` and `etc/group` under `root`, without following a symlink out of
    /// the root (they are resolved inside it).
    pub fn load(root: &Path) -> UserDb {
        let ctx = super::path::RootCtx {
            root: root.to_path_buf(),
            proc_dir: None,
        };
        let read = |p: &[u8]| -> Vec<u8> {
            let Ok(r) = super::path::resolve_in_root(&ctx, b"/", p, true) else {
                return Vec::new();
            };
            if !r.exists || r.magic || r.is_dir {
                return Vec::new();
            }
            use std::os::unix::ffi::OsStrExt;
            let mut hp = root.as_os_str().as_bytes().to_vec();
            hp.extend_from_slice(&r.path);
            let hp = PathBuf::from(std::ffi::OsStr::from_bytes(&hp));
            // Only regular files (not a FIFO that would block us).
            match std::fs::symlink_metadata(&hp) {
                Ok(m) if m.is_file() => read_bounded(&hp, MAX_USERDB).unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        let passwd = read(b"/etc/passwd");
        UserDb {
            users: parse_db(&passwd),
            groups: parse_db(&read(b"/etc/group")),
            entries: parse_home_shell(&passwd),
        }
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
        // Wait for the exec to happen.
        for _ in 0..200 {
            let args_ok = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.starts_with(b"sleep\0"))
                .unwrap_or(false);
            if args_ok
                && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|c| c.trim() == "sleep")
                    .unwrap_or(false)
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let dir = ProcDir::open_tid(pid).unwrap();
        let mut cache = ProcCache::default();
        let root = Path::new("/proc");
        let t = cache.get_caller(root, pid, || Some(&dir)).unwrap();
        assert_eq!(t.name(), "sleep");
        assert_eq!(t.argv, vec!["sleep".to_string(), "30".to_string()]);
        assert_eq!(t.cmdline(), "sleep 30");
        assert_eq!(t.args(), "30");
        assert!(t.exepath.ends_with("sleep"), "{}", t.exepath);
        assert_eq!(t.stat.ppid, std::process::id());
        let _ = cache.get_caller(root, pid, || Some(&dir)).unwrap();
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
        cache.exec_started(pid, pid);
        assert_eq!(cache.len(), 1, "only the parent entry stays");
        child.kill().unwrap();
        child.wait().unwrap();
        // The held handle now fails instead of reading a recycled pid.
        assert!(dir.stat().is_none());
        // So does the kept-open stat file: the dead task is not served from it.
        assert!(pread_stat(&cache.stat_files[&pid]).is_none());
        assert!(cache
            .get_caller(Path::new("/proc"), pid, || Some(&dir))
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
}
