//! `proc.*` and `thread.*`: the caller (for execve*: the program it starts), its ancestors
//! (walked one level at a time, through the session's process cache), its executable.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use tiercel_rules::event::{Field, FieldArg, Value};

use super::{lossy, s};
use crate::event::builder::SyscallEvent;
use crate::event::flags as fl;
use crate::event::path;
use crate::event::procfs::{self, ProcDir, Status, TaskInfo};

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

impl SyscallEvent {
    pub(in crate::event) fn caller(&self) -> Option<&Arc<TaskInfo>> {
        self.task
            .get_or_init(|| {
                let mut cache = self.ctx.tables.cache.lock().ok()?;
                // An exec's own call cannot tell that an exec is over (it is one).
                let settles = self.d.exec.is_none();
                cache.get_caller(&self.ctx.proc_root, self.tid, || self.pd(), settles)
            })
            .as_ref()
    }

    /// Reads now (into the event) the caller's process record, status and ancestry.
    pub(in crate::event) fn capture_proc(&self) {
        let _ = self.me();
        let _ = self.stat();
        let _ = self.status();
        let _ = self.ancestors();
    }

    /// The caller's `stat` as of this event, for the facts a process changes without
    /// exec (process group, session, controlling tty), which the table's entry may hold
    /// from an earlier read.
    fn stat(&self) -> Option<&procfs::Stat> {
        self.stat
            .get_or_init(|| {
                let mut cache = self.ctx.tables.cache.lock().ok()?;
                cache.read_stat(&self.ctx.proc_root, self.tid)
            })
            .as_ref()
    }

    pub(in crate::event) fn status(&self) -> Option<&Status> {
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
        t.argv = procfs::Argv::from_items(&e.argv.items);
        t.exepath = exepath.into();
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
                let mut cache = self.ctx.tables.cache.lock().ok()?;
                cache.get_pid(&self.ctx.proc_root, ppid, start)
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

    fn duration_of(&self, t: &TaskInfo) -> Option<u64> {
        Some(procfs::uptime_ns()?.saturating_sub(procfs::ticks_to_ns(t.stat.starttime)))
    }

    fn start_ts(&self, t: &TaskInfo) -> Option<u64> {
        Some(self.ctx.boot_ns? + procfs::ticks_to_ns(t.stat.starttime))
    }

    // ---- the executable ---------------------------------------------------------------

    /// A handle on the container root's overlay upperdir (read once per container from
    /// the mountinfo of its init, or of the caller when the init is unknown).
    fn upperdir(&self) -> Option<Arc<OwnedFd>> {
        let mut g = self.ctx.tables.upperdir.lock().ok()?;
        if g.is_none() {
            let init = self
                .ctx
                .container
                .init_pid
                .and_then(|p| ProcDir::open_at(&self.ctx.proc_root, p).ok());
            let mi = match &init {
                Some(d) => d.read_max("mountinfo", 1 << 20),
                None => self.pd()?.read_max("mountinfo", 1 << 20),
            }
            .ok()?;
            let up = crate::event::overlay::root_upperdir(&String::from_utf8_lossy(&mi));
            // The upperdir is a host path the runtime chose (not the container's).
            *g = Some(up.and_then(|u| {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                    .open(u)
                    .ok()
                    .map(|f| Arc::new(OwnedFd::from(f)))
            }));
        }
        g.clone().flatten()
    }

    /// The executable the event's process runs (for execve*: the one about to run): its
    /// path in the caller's view and a handle on it (`O_PATH`; for execve* opened inside
    /// the caller's root, never through a host path).
    fn exe_file(&self) -> Option<(Vec<u8>, Option<std::fs::File>)> {
        let pd = self.pd()?;
        if self.d.exec.is_some() {
            let r = self.resolved_paths().last()?.1.as_ref().ok()?;
            if r.magic {
                return Some((r.path.clone(), None));
            }
            let f = pd
                .open_root()
                .and_then(|root| crate::sys::open_in_root(root.as_fd(), &r.path, libc::O_PATH))
                .ok()
                .map(std::fs::File::from);
            Some((r.path.clone(), f))
        } else {
            let f = pd.open_at_flags("exe", libc::O_PATH).ok();
            Some((self.caller()?.exepath.as_bytes().to_vec(), f))
        }
    }

    fn exe_is_memfd(&self) -> Option<bool> {
        Some(self.exe_file()?.0.starts_with(b"/memfd:"))
    }

    /// Whether the executable is on the overlay's upper layer (written after the
    /// container started). `None` when the root is not an overlay we can see.
    ///
    /// The path is looked up inside the upperdir handle (`openat2(RESOLVE_IN_ROOT)`, last
    /// component not followed), never as a host path, and a chrooted caller's path is
    /// prefixed with where its root is in the container (its `/proc/<tid>/root` link).
    fn exe_is_upper(&self) -> Option<bool> {
        let up = self.upperdir()?;
        let (p, _) = self.exe_file()?;
        if p.starts_with(b"/memfd:") || !p.starts_with(b"/") {
            return Some(false);
        }
        let mut full = self
            .pd()?
            .read_link("root")
            .ok()
            .filter(|r| r.starts_with(b"/") && r.as_slice() != b"/")
            .unwrap_or_default();
        full.extend_from_slice(&p);
        Some(crate::sys::open_in_root(up.as_fd(), &full, libc::O_PATH | libc::O_NOFOLLOW).is_ok())
    }

    /// Whether the caller may write the executable (mode bits and CAP_DAC_OVERRIDE; a
    /// read-only mount is not considered).
    fn exe_is_writable(&self) -> Option<bool> {
        use std::os::unix::fs::MetadataExt;
        let (p, f) = self.exe_file()?;
        if p.starts_with(b"/memfd:") {
            // memfd_create makes its inode mode 0777 (shmem_file_setup with S_IRWXUGO):
            // writable for the kernel's inode_permission, which Falco's EXE_WRITABLE is.
            return Some(true);
        }
        let md = f?.metadata().ok()?;
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

    pub(in crate::event) fn exe_flags(&self) -> u32 {
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

    /// The `proc` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn proc_field(&self, name: Field, arg: &FieldArg) -> Option<Value<'_>> {
        let idx = || match arg {
            FieldArg::Index(i) => Some(*i),
            _ => None,
        };
        match name {
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
            Field::ProcExepath => task_str(self.me()?, |t| &*t.exepath),
            Field::ProcPexepath => task_str(self.ancestor(1)?, |t| &*t.exepath),
            Field::ProcAexepath => match arg {
                FieldArg::Index(n) => task_str(self.ancestor(*n)?, |t| &*t.exepath),
                _ => Some(Value::List(
                    self.ancestors()
                        .iter()
                        .map(|a| Value::Str(Cow::Owned(a.exepath.to_string())))
                        .collect(),
                )),
            },
            Field::ProcArgs => match arg {
                FieldArg::Index(n) => s(self
                    .me()?
                    .argv
                    .get(usize::try_from(*n).ok()?.checked_add(1)?)?
                    .to_string()),
                _ => s(self.me()?.args()),
            },
            // Built once per event: many rules test these.
            Field::ProcCmdline => s(self.cmdlines[0]
                .get_or_init(|| Some(self.me()?.cmdline()))
                .as_deref()?),
            Field::ProcPcmdline => s(self.cmdlines[1]
                .get_or_init(|| Some(self.ancestor(1)?.cmdline()))
                .as_deref()?),
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
            Field::ProcTty => Some(Value::U64(u64::from(self.stat()?.tty_nr))),
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
                let pd = ProcDir::open_at(&self.ctx.proc_root, p.tid).ok()?;
                Some(Value::I64(i64::from(pd.status()?.vpid)))
            }
            Field::ProcSid => Some(Value::I64(i64::from(self.stat()?.session))),
            Field::ProcVpgid => Some(Value::I64(i64::from(self.status()?.vpgid))),
            Field::ProcIsSidLeader => {
                Some(Value::Bool(self.stat()?.session == self.status()?.tgid))
            }
            Field::ProcIsVpgidLeader => Some(Value::Bool(self.stat()?.pgrp == self.status()?.tgid)),
            Field::ProcSname | Field::ProcSidExe | Field::ProcSidExepath => {
                let me = self.caller()?;
                let sid = self.stat()?.session;
                // The leader is the task whose tid is the session id (a thread of the
                // leader's process is described by that main thread, as in Falco).
                let leader = if sid == self.tid {
                    Cow::Borrowed(&**me)
                } else {
                    Cow::Owned(
                        (*self.ctx.tables.cache.lock().ok()?.get_pid(
                            &self.ctx.proc_root,
                            sid,
                            me.stat.starttime,
                        )?)
                        .clone(),
                    )
                };
                match name {
                    Field::ProcSname => s(leader.stat.comm.clone()),
                    Field::ProcSidExe => s(leader.exe().to_string()),
                    _ => s(leader.exepath.to_string()),
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
                let md = self.exe_file()?.1?.metadata().ok()?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;

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
}
