//! [`EventBuilder`] (one per session) and [`SyscallEvent`], the event the rules see.
//!
//! `build` reads every target-memory argument eagerly (before the notify loop's
//! `ID_VALID` check) and opens `/proc/<tid>` as a directory handle; everything from `/proc`
//! is read lazily, on the first `extract` of a field that needs it, through that handle
//! (so a lazily read value never comes from a recycled pid: once the task is gone the
//! handle's reads fail and the field is missing). The fields themselves are served by
//! [`super::fields`] (one file per class), the path views by [`super::view`], the
//! per-container state by [`super::container`].

use std::cell::{Cell, OnceCell};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tiercel_rules::event::{EventType, Field, FieldArg, Value};

use super::container::ContainerCtx;
use super::decode::{self, Decoded};
use super::fields::FdInfo;
use super::path::Resolved;
use super::procfs::{ProcDir, Status, TaskInfo, UserDb};
use super::{ContainerInfo, Notif, ReadMem};

/// Why no event could be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unsupported architecture {0:#x}")]
    UnknownArch(u32),
}

/// x86_64 syscall numbers whose event type [`EventBuilder`] remembers.
const ETYPE_CACHE: usize = 1024;

/// Builds events for one session (one listener fd).
#[derive(Debug)]
pub struct EventBuilder {
    ctx: Arc<ContainerCtx>,
    num: u64,
    pin_proc_at_build: bool,
    /// Event type by x86_64 syscall number.
    etypes: Vec<Option<EventType>>,
}

impl EventBuilder {
    pub fn new(container: ContainerInfo) -> Self {
        EventBuilder {
            ctx: Arc::new(ContainerCtx::new(container)),
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

    /// The state the session's events share.
    pub fn container(&self) -> &Arc<ContainerCtx> {
        &self.ctx
    }

    /// Builds the event of a stopped call. All target-memory reads happen here.
    pub fn build(&mut self, n: &Notif, mem: &dyn ReadMem) -> Result<SyscallEvent, BuildError> {
        let d = decode::decode(n, mem).ok_or(BuildError::UnknownArch(n.arch))?;
        self.num += 1;
        let proc_dir = OnceCell::new();
        if self.pin_proc_at_build || d.exec.is_some() {
            let _ = proc_dir.set(ProcDir::open_at(&self.ctx.proc_root, n.pid).ok());
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
            // The process's thread count (`stat`): an exec by its only thread is known
            // to be over at the first call of any other thread.
            let alone = proc_dir
                .get()
                .and_then(Option::as_ref)
                .and_then(|p: &ProcDir| p.read("stat").ok())
                .and_then(|b| super::procfs::stat_threads(&b))
                == Some(1);
            if let Ok(mut c) = self.ctx.tables.cache.lock() {
                c.exec_started(tgid, n.pid, alone);
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
            ctx: self.ctx.clone(),
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
            stat: OnceCell::new(),
            cmdlines: Default::default(),
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

/// One lazily walked ancestor level.
type AncestorSlot = OnceCell<Option<Arc<TaskInfo>>>;

/// One event at syscall entry.
#[derive(Debug)]
pub struct SyscallEvent {
    pub(super) ctx: Arc<ContainerCtx>,
    pub(super) d: Decoded,
    pub(super) etype: EventType,
    pub(super) num: u64,
    pub(super) ts_ns: u64,
    pub(super) tid: u32,
    pub(super) proc_dir: OnceCell<Option<ProcDir>>,
    pub(super) norm: OnceCell<Vec<Option<Vec<u8>>>>,
    pub(super) resolved: OnceCell<Vec<Result<Resolved, String>>>,
    pub(super) cwd: OnceCell<Option<Vec<u8>>>,
    pub(super) task: OnceCell<Option<Arc<TaskInfo>>>,
    /// The caller's `stat` read for this event (process group, session, tty: the table's
    /// entry keeps them from its last read).
    pub(super) stat: OnceCell<Option<crate::event::procfs::Stat>>,
    /// `proc.cmdline` and `proc.pcmdline`, built on first use.
    pub(super) cmdlines: [OnceCell<Option<String>>; 2],
    pub(super) status: OnceCell<Option<Status>>,
    pub(super) ancestors: OnceCell<Box<[AncestorSlot]>>,
    pub(super) exec_view: OnceCell<Option<TaskInfo>>,
    pub(super) env: OnceCell<Vec<String>>,
    pub(super) fdinfo: OnceCell<Option<FdInfo>>,
    pub(super) loginuid: OnceCell<Option<i64>>,
    pub(super) userdb: OnceCell<Option<Arc<UserDb>>>,
    pub(super) typechar: OnceCell<Option<char>>,
    /// Rendered non-path parameters, by index.
    pub(super) params_text: OnceCell<Box<[OnceCell<Option<String>>]>>,
    /// Serve path-valued fields resolved inside the root (see [`SyscallEvent::set_resolved_view`]).
    pub(super) resolved_view: Cell<bool>,
}

impl SyscallEvent {
    // ---- raw access ---------------------------------------------------------------------

    pub(super) fn pd(&self) -> Option<&ProcDir> {
        self.proc_dir
            .get_or_init(|| match self.ctx.dirs.lock() {
                Ok(mut dirs) => {
                    // An absolute path is resolved in the caller's root: check the kept
                    // handle by a look at `root`, which the resolution then reuses.
                    let root = self.d.paths.iter().any(|p| p.raw.starts_with(b"/"));
                    dirs.get(&self.ctx.proc_root, self.tid, root)
                }
                Err(_) => ProcDir::open_at(&self.ctx.proc_root, self.tid).ok(),
            })
            .as_ref()
    }

    /// Opens the caller's `/proc/<tid>` handle now (if not yet) and captures what an
    /// alert names about the caller — its process record (name, argv, exe path), ids and
    /// capabilities, user and group names, login uid, cwd, ancestry — so that an alert
    /// formatted after the answer describes the program that made the call, even when it
    /// execs or exits right after it (the handle alone would then read the new program,
    /// or nothing). Call before answering a call that alerts.
    pub fn pin_proc(&self) {
        let _ = self.pd();
        self.capture_proc();
        self.capture_user();
        let _ = self.cwd_path();
    }

    /// Only the `/proc/<tid>` handle, without capturing anything (tests: what an
    /// alert formatted after the answer would read without [`SyscallEvent::pin_proc`]).
    #[cfg(test)]
    pub(crate) fn pin_proc_handle_only(&self) {
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
    use crate::event::testutil::*;
    use std::borrow::Cow;

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

    /// 16.8: what an alert names about the caller is captured by `pin_proc` (before the
    /// answer) and survives the caller's exec and exit; without it, the fields describe
    /// the new program or nothing.
    #[test]
    fn pinned_facts_survive_exec_and_exit() {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read x; exec sleep 30"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(cmdline_until(pid, |c| c.starts_with(b"sh\0")));
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"/bin/x");
        let mut b = builder();
        b.set_pin_proc_at_build(false);
        let n = notif(pid, "openat", [(-100i64) as u64, p, 0o101, 0o644, 0, 0]);
        let pinned = b.build(&n, &m).unwrap();
        pinned.pin_proc();
        let lazy = b.build(&n, &m).unwrap();
        lazy.pin_proc_handle_only();
        // The caller execs another program right after its call.
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        assert!(cmdline_until(pid, |c| c.starts_with(b"sleep\0")));
        let user = get(&pinned, "user.name");
        assert!(user.is_some());
        let check = |ev: &SyscallEvent| {
            assert_eq!(get(ev, "proc.name").unwrap(), "sh");
            assert_eq!(
                get(ev, "proc.cmdline").unwrap(),
                "sh -c read x; exec sleep 30"
            );
            assert_eq!(get(ev, "proc.exepath").unwrap(), exe.to_string_lossy());
            assert_eq!(get(ev, "proc.pname").unwrap(), our_comm());
            assert_eq!(get(ev, "user.name"), user);
            assert_eq!(
                get(ev, "user.uid").unwrap(),
                crate::sys::geteuid().to_string()
            );
        };
        check(&pinned);
        // Not captured: the same fields now name the new program.
        assert_eq!(get(&lazy, "proc.cmdline").unwrap(), "sleep 30");
        // And after the exit.
        child.kill().unwrap();
        child.wait().unwrap();
        check(&pinned);
        assert!(get(&lazy, "user.uid").is_none());
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
