//! `evt.*` and `syscall.type`: the call itself, its parameters rendered as Falco does
//! (`evt.arg.*`, `evt.args`), its time, and the result it will have if it succeeds.

use std::borrow::Cow;
use std::cell::OnceCell;

use tiercel_rules::event::{EventType, Field, FieldArg, Value};

use super::fd::fmt_ep;
use super::{lossy, s};
use crate::event::builder::SyscallEvent;
use crate::event::decode::{self, ParamVal};
use crate::event::flags as fl;
use crate::event::mem::SockAddr;

/// `ns` (epoch) in UTC: `HH:MM:SS.nnnnnnnnn`, with the date before it (`date`), or as
/// ISO 8601 with a `Z` (`iso`).
fn fmt_time(ns: u64, date: bool, iso: bool) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let frac = ns % 1_000_000_000;
    let (y, mo, d) = tiercel_rules::time::civil_from_days(secs.div_euclid(86_400));
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

impl SyscallEvent {
    pub(in crate::event) fn render_param(&self, p: &decode::Param) -> Option<String> {
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

    /// The `evt` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn evt_field(&self, name: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match name {
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
            Field::EvtHostname => s(self.ctx.hostname.as_str()),
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
            Field::EvtCategory => s(category(self.d.name)),
            Field::EvtOutputtime => s(fmt_time(self.ts_ns, false, false)),
            _ => None,
        }
    }
}
