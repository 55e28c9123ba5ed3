//! Decoding one stopped syscall: its name per architecture, its Falco exit parameters, and
//! every pointer argument read from the target (eagerly, before `ID_VALID`).

use super::flags::{self as fl, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW};
use super::mem::{self, OpenHow, SockAddr, StrVec};
use super::syscalls::{self, Arch};
use super::{Notif, ReadMem};

/// A path argument of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathArg {
    /// Falco's exit parameter name (`name`, `oldpath`, `linkpath` ...).
    pub param: &'static str,
    /// The bytes the caller passed (no NUL).
    pub raw: Vec<u8>,
    /// Directory fd a relative path is resolved against (`None` or `AT_FDCWD`: the cwd).
    pub dirfd: Option<i32>,
    /// Whether the call follows a symlink in the last component.
    pub follow_last: bool,
    /// `AT_EMPTY_PATH` with an empty path: the object is `dirfd` itself.
    pub empty_path: bool,
    /// Whether the call creates or changes the directory entry (write-class decision input).
    pub modifies: bool,
    /// The path could not be read from the target (no NUL within PATH_MAX, bad pointer):
    /// the kernel fails the call (EFAULT/ENAMETOOLONG); it has no value.
    pub unreadable: bool,
}

/// How a numeric parameter is rendered, when a field asks for its text (most events
/// never do: rendering every call's flags up front was wasted work on the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Falco's `PPM_O_*` open flags (the value is already converted).
    FileFlags,
    /// A file mode in octal (`0644`).
    Octal,
}

impl Render {
    pub fn text(self, v: u64) -> String {
        match self {
            Render::FileFlags => fl::render(fl::FILE_FLAGS, v as u32),
            Render::Octal => fl::octal(v as u32),
        }
    }
}

/// How an exit parameter is rendered (`evt.arg.X`, `evt.args`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamVal {
    /// A number rendered on demand (`evt.rawarg` gives the number).
    Num(Render, u64),
    /// Already rendered text (flags, enums, numbers, raw strings).
    Text(String),
    /// Index into [`Decoded::paths`]; rendered as the absolute normalised path.
    Path(usize),
    /// A file descriptor number.
    Fd(i64),
    /// A uid (rendered as the user name when known, like Falco).
    Uid(u32),
    Gid(u32),
    Sockaddr(Option<SockAddr>),
    /// The result (`res`/`fd` exit parameter): the predicted value, assuming success.
    Res,
    /// execve/execveat exe flags (`EXE_WRITABLE|EXE_UPPER_LAYER|EXE_FROM_MEMFD|EXE_LOWER_LAYER`),
    /// computed from the file to be executed.
    ExeFlags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: &'static str,
    pub val: ParamVal,
}

/// execve/execveat arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecArgs {
    pub filename: Vec<u8>,
    pub argv: StrVec,
    pub envp: StrVec,
    pub flags: u64,
}

/// A decoded call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub arch: Arch,
    /// Kernel syscall name (after `socketcall` demultiplexing), `None` if unknown.
    pub kname: Option<&'static str>,
    /// Falco event type name (`syscall` for an unknown number).
    pub name: &'static str,
    /// Register arguments (i386: zero-extended 32-bit values).
    pub args: [u64; 6],
    pub params: Vec<Param>,
    pub paths: Vec<PathArg>,
    /// The path `fd.name` describes (open*, creat), index into `paths`.
    pub fd_path: Option<usize>,
    /// The fd the call uses (connect, dup, fchmod ...), for `fd.*`.
    pub use_fd: Option<i32>,
    /// Kernel open flags (open, openat, openat2, creat, open_by_handle_at).
    pub open_flags: Option<u64>,
    pub open_mode: u32,
    pub open_resolve: u64,
    pub exec: Option<ExecArgs>,
    pub sockaddr: Option<SockAddr>,
    /// Predicted `evt.rawres` when it is known without running the call (dup2/dup3: newfd).
    pub rawres: Option<i64>,
    /// Whether the call returns a new fd on success (open*, socket, accept, dup ...).
    pub returns_fd: bool,
    /// A pointer argument could not be read (the call would fail with EFAULT).
    pub fault: bool,
}

fn i32a(v: u64) -> i32 {
    v as u32 as i32
}

fn dirfd_param(name: &'static str, v: u64) -> Param {
    Param {
        name,
        val: ParamVal::Fd(i64::from(i32a(v))),
    }
}

fn num(name: &'static str, r: Render, v: u64) -> Param {
    Param {
        name,
        val: ParamVal::Num(r, v),
    }
}

fn text(name: &'static str, s: impl Into<String>) -> Param {
    Param {
        name,
        val: ParamVal::Text(s.into()),
    }
}

fn res() -> Param {
    Param {
        name: "res",
        val: ParamVal::Res,
    }
}

fn fdres() -> Param {
    Param {
        name: "fd",
        val: ParamVal::Res,
    }
}

struct Ctx<'a> {
    mem: &'a dyn ReadMem,
    arch: Arch,
    d: Decoded,
}

impl Ctx<'_> {
    /// Reads a path argument; a fault is recorded and the path is empty.
    fn path(
        &mut self,
        param: &'static str,
        addr: u64,
        dirfd: Option<i32>,
        follow_last: bool,
        modifies: bool,
        at_flags: u64,
    ) -> Param {
        let (raw, unreadable) = match mem::read_path(self.mem, addr) {
            Ok(p) => (p, false),
            Err(_) => {
                self.d.fault = true;
                (Vec::new(), true)
            }
        };
        let empty_path = raw.is_empty() && at_flags & AT_EMPTY_PATH != 0 && !unreadable;
        self.d.paths.push(PathArg {
            param,
            raw,
            dirfd,
            follow_last,
            empty_path,
            modifies,
            unreadable,
        });
        Param {
            name: param,
            val: ParamVal::Path(self.d.paths.len() - 1),
        }
    }

    fn string(&mut self, name: &'static str, addr: u64) -> Param {
        match mem::read_path(self.mem, addr) {
            Ok(s) => text(name, String::from_utf8_lossy(&s).into_owned()),
            Err(_) => {
                self.d.fault = true;
                text(name, "")
            }
        }
    }

    fn sockaddr(&mut self, name: &'static str, addr: u64, len: u64) -> Param {
        let sa = match mem::read_sockaddr(self.mem, addr, len) {
            Ok(s) => s,
            Err(_) => {
                self.d.fault = true;
                None
            }
        };
        self.d.sockaddr = sa.clone();
        Param {
            name,
            val: ParamVal::Sockaddr(sa),
        }
    }

    fn open(&mut self, flags: u64, mode: u64) {
        self.d.open_flags = Some(flags);
        self.d.open_mode = fl::open_mode(flags, mode);
        self.d.returns_fd = true;
    }
}

fn open_follow(flags: u64) -> bool {
    flags & fl::O_NOFOLLOW == 0 && !(flags & fl::O_CREAT != 0 && flags & fl::O_EXCL != 0)
}

fn open_modifies(flags: u64) -> bool {
    flags & fl::O_ACCMODE != 0
        || flags & (fl::O_CREAT | fl::O_TRUNC) != 0
        || fl::open_creates(flags)
}

/// i386 `socketcall(call, args)` → (kernel name, the call's own arguments).
fn demux_socketcall(mem: &dyn ReadMem, a: &[u64; 6]) -> Option<(&'static str, [u64; 6])> {
    let (name, n) = match a[0] {
        1 => ("socket", 3),
        2 => ("bind", 3),
        3 => ("connect", 3),
        4 => ("listen", 2),
        5 => ("accept", 3),
        6 => ("getsockname", 3),
        7 => ("getpeername", 3),
        8 => ("socketpair", 4),
        9 => ("send", 4),
        10 => ("recv", 4),
        11 => ("sendto", 6),
        12 => ("recvfrom", 6),
        13 => ("shutdown", 2),
        14 => ("setsockopt", 5),
        15 => ("getsockopt", 5),
        16 => ("sendmsg", 3),
        17 => ("recvmsg", 3),
        18 => ("accept4", 4),
        19 => ("recvmmsg", 5),
        20 => ("sendmmsg", 4),
        _ => return None,
    };
    let mut b = [0u8; 24];
    mem::read_exact(mem, a[1], &mut b[..n * 4]).ok()?;
    let mut out = [0u64; 6];
    for (i, o) in out.iter_mut().enumerate().take(n) {
        *o = u64::from(u32::from_le_bytes([
            b[i * 4],
            b[i * 4 + 1],
            b[i * 4 + 2],
            b[i * 4 + 3],
        ]));
    }
    Some((name, out))
}

/// Decodes a notification: reads every pointer argument now.
pub fn decode(n: &Notif, mem: &dyn ReadMem) -> Option<Decoded> {
    let arch = Arch::from_audit(n.arch)?;
    let mut a = n.args;
    if arch == Arch::I386 {
        for x in a.iter_mut() {
            *x &= 0xffff_ffff;
        }
    }
    let mut kname = syscalls::syscall_name(arch, n.nr);
    let mut fault = false;
    if kname == Some("socketcall") {
        match demux_socketcall(mem, &a) {
            Some((k, args)) => {
                kname = Some(k);
                a = args;
            }
            None => fault = true,
        }
    }
    let name = kname.map(syscalls::falco_event_name).unwrap_or("syscall");
    let mut c = Ctx {
        mem,
        arch,
        d: Decoded {
            arch,
            kname,
            name,
            args: a,
            params: Vec::new(),
            paths: Vec::with_capacity(2),
            fd_path: None,
            use_fd: None,
            open_flags: None,
            open_mode: 0,
            open_resolve: 0,
            exec: None,
            sockaddr: None,
            rawres: None,
            returns_fd: false,
            fault,
        },
    };
    let cwd = Some(AT_FDCWD);
    // Most events have up to 6 parameters: one allocation, no regrowth.
    let mut p: Vec<Param> = Vec::with_capacity(8);
    match kname.unwrap_or("") {
        "open" => {
            c.open(a[1], a[2]);
            p.push(fdres());
            p.push(c.path("name", a[0], cwd, open_follow(a[1]), open_modifies(a[1]), 0));
            c.d.fd_path = Some(0);
            p.push(num(
                "flags",
                Render::FileFlags,
                fl::open_flags_to_ppm(a[1]).into(),
            ));
            p.push(num("mode", Render::Octal, c.d.open_mode.into()));
        }
        "openat" => {
            c.open(a[2], a[3]);
            p.push(fdres());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "name",
                a[1],
                Some(i32a(a[0])),
                open_follow(a[2]),
                open_modifies(a[2]),
                0,
            ));
            c.d.fd_path = Some(0);
            p.push(num(
                "flags",
                Render::FileFlags,
                fl::open_flags_to_ppm(a[2]).into(),
            ));
            p.push(num("mode", Render::Octal, c.d.open_mode.into()));
        }
        "openat2" => {
            let how = match mem::read_open_how(mem, a[2], a[3]) {
                Ok(h) => h,
                Err(_) => {
                    c.d.fault = true;
                    OpenHow::default()
                }
            };
            c.open(how.flags, how.mode);
            c.d.open_resolve = how.resolve;
            let follow = open_follow(how.flags) && how.resolve & 0x04 == 0;
            p.push(fdres());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "name",
                a[1],
                Some(i32a(a[0])),
                follow,
                open_modifies(how.flags),
                0,
            ));
            c.d.fd_path = Some(0);
            p.push(num(
                "flags",
                Render::FileFlags,
                fl::open_flags_to_ppm(how.flags).into(),
            ));
            p.push(num("mode", Render::Octal, c.d.open_mode.into()));
            p.push(text(
                "resolve",
                fl::render_or_num(fl::OPENAT2_RESOLVE, fl::resolve_to_ppm(how.resolve)),
            ));
        }
        "creat" => {
            let flags = fl::O_CREAT | fl::O_WRONLY | fl::O_TRUNC;
            c.open(flags, a[1]);
            c.d.open_flags = None; // Falco's evt.is_open_* are false for creat.
            p.push(fdres());
            p.push(c.path("name", a[0], cwd, true, true, 0));
            c.d.fd_path = Some(0);
            p.push(num("mode", Render::Octal, c.d.open_mode.into()));
        }
        "open_by_handle_at" => {
            c.open(a[2], 0);
            p.push(fdres());
            p.push(dirfd_param("mountfd", a[0]));
            p.push(num(
                "flags",
                Render::FileFlags,
                fl::open_flags_to_ppm(a[2]).into(),
            ));
        }
        "execve" | "execveat" => {
            let at = kname == Some("execveat");
            let (dirfd, fa, av, ev, flags) = if at {
                (Some(i32a(a[0])), a[1], a[2], a[3], a[4])
            } else {
                (cwd, a[0], a[1], a[2], 0)
            };
            p.push(res());
            let pp = c.path(
                "filename",
                fa,
                dirfd,
                flags & AT_SYMLINK_NOFOLLOW == 0,
                false,
                flags,
            );
            let argv = mem::read_strvec(mem, arch, av).unwrap_or_else(|_| {
                c.d.fault = true;
                StrVec::default()
            });
            let envp = mem::read_strvec(mem, arch, ev).unwrap_or_else(|_| {
                c.d.fault = true;
                StrVec::default()
            });
            let filename = c.d.paths.last().map(|x| x.raw.clone()).unwrap_or_default();
            p.push(text(
                "exe",
                argv.items
                    .first()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .unwrap_or_default(),
            ));
            p.push(text(
                "args",
                argv.items
                    .iter()
                    .skip(1)
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
            if at {
                p.push(dirfd_param("dirfd", a[0]));
            }
            // Falco's exit `flags` of execve/execveat are the exe flags (EXE_WRITABLE ...);
            // the execveat AT_* flags are in `ExecArgs::flags`.
            p.push(Param {
                name: "flags",
                val: ParamVal::ExeFlags,
            });
            p.push(pp);
            c.d.exec = Some(ExecArgs {
                filename,
                argv,
                envp,
                flags,
            });
        }
        "connect" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(c.sockaddr("addr", a[1], a[2]));
            c.d.use_fd = Some(i32a(a[0]));
        }
        "bind" => {
            p.push(res());
            p.push(c.sockaddr("addr", a[1], a[2]));
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            c.d.use_fd = Some(i32a(a[0]));
        }
        "sendto" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(text("size", (a[2] as u32).to_string()));
            if a[4] != 0 {
                let sa = c.sockaddr("addr", a[4], a[5]);
                drop(sa);
            }
            c.d.use_fd = Some(i32a(a[0]));
        }
        "sendmsg" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            match mem::read_msghdr_name(mem, arch, a[1]) {
                Ok(sa) => c.d.sockaddr = sa,
                Err(_) => c.d.fault = true,
            }
            c.d.use_fd = Some(i32a(a[0]));
        }
        "recvfrom" | "recvmsg" | "listen" | "accept" | "accept4" | "shutdown" | "getsockopt"
        | "setsockopt" => {
            if matches!(kname, Some("accept" | "accept4")) {
                p.push(fdres());
                c.d.returns_fd = true;
            } else {
                p.push(res());
            }
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            if kname == Some("listen") {
                p.push(text("backlog", (a[1] as u32).to_string()));
            }
            if kname == Some("accept4") {
                p.push(text("flags", (a[3] as u32 as i32).to_string()));
            }
            c.d.use_fd = Some(i32a(a[0]));
        }
        "socket" => {
            p.push(fdres());
            p.push(text(
                "domain",
                fl::render_enum(fl::SOCKET_FAMILIES, a[0] as u32),
            ));
            p.push(text("type", (a[1] as u32).to_string()));
            p.push(text("proto", (a[2] as u32).to_string()));
            c.d.returns_fd = true;
        }
        "dup" | "dup2" | "dup3" => {
            p.push(res());
            p.push(Param {
                name: "oldfd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            c.d.use_fd = Some(i32a(a[0]));
            if kname != Some("dup") {
                p.push(Param {
                    name: "newfd",
                    val: ParamVal::Fd(i64::from(i32a(a[1]))),
                });
                c.d.rawres = Some(i64::from(i32a(a[1])));
            } else {
                c.d.returns_fd = true;
            }
            if kname == Some("dup3") {
                p.push(text("flags", (a[2] as u32).to_string()));
            }
        }
        "ptrace" => {
            p.push(res());
            p.push(text("request", fl::ptrace_request_name(a[0])));
            p.push(text("pid", (a[1] as u32 as i32).to_string()));
        }
        "symlink" => {
            p.push(res());
            p.push(c.string("target", a[0]));
            p.push(c.path("linkpath", a[1], cwd, false, true, 0));
        }
        "symlinkat" => {
            p.push(res());
            p.push(c.string("target", a[0]));
            p.push(dirfd_param("linkdirfd", a[1]));
            p.push(c.path("linkpath", a[2], Some(i32a(a[1])), false, true, 0));
        }
        "link" => {
            p.push(res());
            p.push(c.path("oldpath", a[0], cwd, false, false, 0));
            p.push(c.path("newpath", a[1], cwd, false, true, 0));
        }
        "linkat" => {
            p.push(res());
            p.push(dirfd_param("olddir", a[0]));
            p.push(c.path(
                "oldpath",
                a[1],
                Some(i32a(a[0])),
                a[4] & AT_SYMLINK_FOLLOW != 0,
                false,
                a[4],
            ));
            p.push(dirfd_param("newdir", a[2]));
            p.push(c.path("newpath", a[3], Some(i32a(a[2])), false, true, 0));
            p.push(text(
                "flags",
                fl::render_or_num(fl::LINKAT_FLAGS, (a[4] & 0x1400) as u32),
            ));
        }
        "init_module" => {
            p.push(res());
            p.push(text("length", a[1].to_string()));
            p.push(c.string("uargs", a[2]));
        }
        "finit_module" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(c.string("uargs", a[1]));
            p.push(text("flags", (a[2] as u32).to_string()));
            c.d.use_fd = Some(i32a(a[0]));
        }
        "chmod" => {
            p.push(res());
            p.push(c.path("filename", a[0], cwd, true, true, 0));
            p.push(text(
                "mode",
                fl::render_or_num(fl::CHMOD_MODE, (a[1] & 0o7777) as u32),
            ));
        }
        "fchmod" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(text(
                "mode",
                fl::render_or_num(fl::CHMOD_MODE, (a[1] & 0o7777) as u32),
            ));
            c.d.use_fd = Some(i32a(a[0]));
        }
        "fchmodat" | "fchmodat2" => {
            let f = if kname == Some("fchmodat2") { a[3] } else { 0 };
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "filename",
                a[1],
                Some(i32a(a[0])),
                f & AT_SYMLINK_NOFOLLOW == 0,
                true,
                f,
            ));
            p.push(text(
                "mode",
                fl::render_or_num(fl::CHMOD_MODE, (a[2] & 0o7777) as u32),
            ));
        }
        "chown" | "lchown" => {
            p.push(res());
            p.push(c.path("path", a[0], cwd, kname == Some("chown"), true, 0));
            p.push(Param {
                name: "uid",
                val: ParamVal::Uid(a[1] as u32),
            });
            p.push(Param {
                name: "gid",
                val: ParamVal::Gid(a[2] as u32),
            });
        }
        "fchown" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(Param {
                name: "uid",
                val: ParamVal::Uid(a[1] as u32),
            });
            p.push(Param {
                name: "gid",
                val: ParamVal::Gid(a[2] as u32),
            });
            c.d.use_fd = Some(i32a(a[0]));
        }
        "fchownat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "pathname",
                a[1],
                Some(i32a(a[0])),
                a[4] & AT_SYMLINK_NOFOLLOW == 0,
                true,
                a[4],
            ));
            p.push(Param {
                name: "uid",
                val: ParamVal::Uid(a[2] as u32),
            });
            p.push(Param {
                name: "gid",
                val: ParamVal::Gid(a[3] as u32),
            });
            p.push(text(
                "flags",
                fl::render_or_num(fl::FCHOWNAT_FLAGS, (a[4] & 0x1400) as u32),
            ));
        }
        "rename" => {
            p.push(res());
            p.push(c.path("oldpath", a[0], cwd, false, true, 0));
            p.push(c.path("newpath", a[1], cwd, false, true, 0));
        }
        "renameat" | "renameat2" => {
            p.push(res());
            p.push(dirfd_param("olddirfd", a[0]));
            p.push(c.path("oldpath", a[1], Some(i32a(a[0])), false, true, 0));
            p.push(dirfd_param("newdirfd", a[2]));
            p.push(c.path("newpath", a[3], Some(i32a(a[2])), false, true, 0));
            if kname == Some("renameat2") {
                p.push(text(
                    "flags",
                    fl::render_or_num(fl::RENAMEAT2_FLAGS, a[4] as u32),
                ));
            }
        }
        "unlink" | "rmdir" => {
            p.push(res());
            p.push(c.path("path", a[0], cwd, false, true, 0));
        }
        "unlinkat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path("name", a[1], Some(i32a(a[0])), false, true, 0));
            p.push(text(
                "flags",
                fl::render_or_num(fl::UNLINKAT_FLAGS, (a[2] & 0x200) as u32),
            ));
        }
        "mkdir" => {
            p.push(res());
            p.push(c.path("path", a[0], cwd, false, true, 0));
            p.push(text("mode", fl::hex(a[1] & 0xffff_ffff)));
        }
        "mkdirat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path("path", a[1], Some(i32a(a[0])), false, true, 0));
            p.push(text("mode", fl::hex(a[2] & 0xffff_ffff)));
        }
        "mknod" => {
            p.push(res());
            p.push(c.path("path", a[0], cwd, false, true, 0));
            p.push(text("mode", fl::octal(a[1] as u32)));
            p.push(text("dev", fl::hex(a[2] & 0xffff_ffff)));
        }
        "mknodat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path("path", a[1], Some(i32a(a[0])), false, true, 0));
            p.push(text("mode", fl::octal(a[2] as u32)));
            p.push(text("dev", fl::hex(a[3] & 0xffff_ffff)));
        }
        "truncate" | "utime" | "utimes" | "setxattr" | "removexattr" | "chdir" | "chroot"
        | "acct" | "swapon" => {
            p.push(res());
            let modifies = !matches!(kname, Some("chdir" | "chroot"));
            p.push(c.path("path", a[0], cwd, true, modifies, 0));
        }
        "lsetxattr" | "lremovexattr" => {
            p.push(res());
            p.push(c.path("path", a[0], cwd, false, true, 0));
        }
        "futimesat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            if a[1] != 0 {
                p.push(c.path("path", a[1], Some(i32a(a[0])), true, true, 0));
            }
        }
        "utimensat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            if a[1] != 0 {
                p.push(c.path(
                    "path",
                    a[1],
                    Some(i32a(a[0])),
                    a[3] & AT_SYMLINK_NOFOLLOW == 0,
                    true,
                    a[3],
                ));
            } else {
                c.d.use_fd = Some(i32a(a[0]));
            }
        }
        "setxattrat" | "removexattrat" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "path",
                a[1],
                Some(i32a(a[0])),
                a[2] & AT_SYMLINK_NOFOLLOW == 0,
                true,
                a[2],
            ));
        }
        "name_to_handle_at" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path(
                "path",
                a[1],
                Some(i32a(a[0])),
                a[4] & AT_SYMLINK_FOLLOW != 0,
                false,
                a[4],
            ));
        }
        "mount" => {
            p.push(res());
            if a[0] != 0 {
                let s = c.string("dev", a[0]);
                p.push(s);
            }
            p.push(c.path("dir", a[1], cwd, true, true, 0));
            if a[2] != 0 {
                let s = c.string("type", a[2]);
                p.push(s);
            }
            p.push(text("flags", (a[3] as u32).to_string()));
        }
        "umount2" | "umount" => {
            p.push(res());
            p.push(c.path("name", a[0], cwd, a[1] & 8 == 0, true, 0));
            if kname == Some("umount2") {
                p.push(text("flags", (a[1] as u32).to_string()));
            }
        }
        "open_tree" | "mount_setattr" => {
            p.push(res());
            p.push(dirfd_param("dirfd", a[0]));
            p.push(c.path("path", a[1], Some(i32a(a[0])), true, true, a[2]));
        }
        "move_mount" => {
            p.push(res());
            p.push(c.path("from_path", a[1], Some(i32a(a[0])), true, true, a[4] & 4));
            p.push(c.path("to_path", a[3], Some(i32a(a[2])), true, true, a[4] & 0x40));
        }
        "setns" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            p.push(text(
                "nstype",
                fl::render_or_num(fl::CLONE_FLAGS, fl::clone_flags_to_ppm(a[1])),
            ));
            c.d.use_fd = Some(i32a(a[0]));
        }
        "unshare" => {
            p.push(res());
            p.push(text(
                "flags",
                fl::render_or_num(fl::CLONE_FLAGS, fl::clone_flags_to_ppm(a[0])),
            ));
        }
        "setuid" | "setfsuid" => {
            p.push(res());
            p.push(Param {
                name: "uid",
                val: ParamVal::Uid(a[0] as u32),
            });
        }
        "setgid" | "setfsgid" => {
            p.push(res());
            p.push(Param {
                name: "gid",
                val: ParamVal::Gid(a[0] as u32),
            });
        }
        "bpf" => {
            p.push(fdres());
            p.push(text("cmd", (a[0] as u32 as i32).to_string()));
            c.d.returns_fd = true;
        }
        "userfaultfd" => {
            p.push(res());
            p.push(text("flags", (a[0] as u32).to_string()));
            c.d.returns_fd = true;
        }
        "memfd_create" => {
            p.push(fdres());
            p.push(c.string("name", a[0]));
            p.push(text(
                "flags",
                fl::render_or_num(fl::MEMFD_FLAGS, (a[1] & 7) as u32),
            ));
            c.d.returns_fd = true;
        }
        "io_uring_setup" => {
            p.push(res());
            p.push(text("entries", (a[0] as u32).to_string()));
            c.d.returns_fd = true;
        }
        "fchdir" | "fsetxattr" | "fremovexattr" | "ftruncate" | "fallocate" => {
            p.push(res());
            p.push(Param {
                name: "fd",
                val: ParamVal::Fd(i64::from(i32a(a[0]))),
            });
            c.d.use_fd = Some(i32a(a[0]));
        }
        _ => {}
    }
    c.d.params = p;
    let _ = c.arch;
    Some(c.d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::mem::BufMem;
    use crate::event::syscalls::{syscall_nr, syscall_nr_arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

    fn notif(arch: u32, nr: i32, args: [u64; 6]) -> Notif {
        Notif {
            id: 1,
            pid: 1,
            arch,
            nr,
            instruction_pointer: 0,
            args,
        }
    }

    fn ptext<'a>(d: &'a Decoded, name: &str) -> Option<std::borrow::Cow<'a, str>> {
        d.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| match &p.val {
                ParamVal::Text(s) => Some(std::borrow::Cow::Borrowed(s.as_str())),
                ParamVal::Num(r, v) => Some(std::borrow::Cow::Owned(r.text(*v))),
                _ => None,
            })
    }

    #[test]
    fn openat_x86_64() {
        let mut m = BufMem::new(0x1000);
        let path = m.put_cstr(b"../etc/./shadow");
        let n = notif(
            AUDIT_ARCH_X86_64,
            syscall_nr("openat").unwrap(),
            [(-100i64) as u64, path, 0o1101, 0o644, 0, 0],
        );
        let d = decode(&n, &m).unwrap();
        assert_eq!(d.name, "openat");
        assert_eq!(
            ptext(&d, "flags").as_deref(),
            Some("O_TRUNC|O_CREAT|O_WRONLY")
        );
        assert_eq!(ptext(&d, "mode").as_deref(), Some("0644"));
        assert_eq!(d.paths[0].raw, b"../etc/./shadow");
        assert_eq!(d.paths[0].dirfd, Some(AT_FDCWD));
        assert!(d.paths[0].modifies);
        assert!(!d.fault);
    }

    #[test]
    fn dirfd_compared_as_32_bits() {
        let mut m = BufMem::new(0x1000);
        let path = m.put_cstr(b"x");
        // Upper bits set: the kernel looks at (int)dirfd only.
        let n = notif(
            AUDIT_ARCH_X86_64,
            syscall_nr("openat").unwrap(),
            [0xdead_beef_ffff_ff9c, path, 0, 0, 0, 0],
        );
        let d = decode(&n, &m).unwrap();
        assert_eq!(d.paths[0].dirfd, Some(AT_FDCWD));
    }

    #[test]
    fn i386_open_and_socketcall() {
        let mut m = BufMem::new(0x1000);
        let path = m.put_cstr(b"/usr/bin/x");
        let n = notif(
            AUDIT_ARCH_I386,
            5,
            [path | 0xffff_ffff_0000_0000, 0o101, 0o755, 0, 0, 0],
        );
        let d = decode(&n, &m).unwrap();
        assert_eq!(d.name, "open");
        assert_eq!(d.paths[0].raw, b"/usr/bin/x");
        assert_eq!(ptext(&d, "flags").as_deref(), Some("O_CREAT|O_WRONLY"));
        // socketcall(SYS_SOCKET, [AF_PACKET, SOCK_RAW, 0])
        let args = m.put(&[17u32.to_le_bytes(), 3u32.to_le_bytes(), 0u32.to_le_bytes()].concat());
        let n = notif(AUDIT_ARCH_I386, 102, [1, args, 0, 0, 0, 0]);
        let d = decode(&n, &m).unwrap();
        assert_eq!(d.name, "socket");
        assert_eq!(ptext(&d, "domain").as_deref(), Some("AF_PACKET"));
        // socketcall with an unreadable args array.
        let n = notif(AUDIT_ARCH_I386, 102, [3, 0xdead, 0, 0, 0, 0]);
        let d = decode(&n, &m).unwrap();
        assert!(d.fault);
        // chown32 → chown
        let n = notif(
            AUDIT_ARCH_I386,
            syscall_nr_arch(Arch::I386, "chown32").unwrap(),
            [path, 0, 0, 0, 0, 0],
        );
        assert_eq!(decode(&n, &m).unwrap().name, "chown");
    }

    #[test]
    fn execve_and_hostile_pointers() {
        let mut m = BufMem::new(0x1000);
        let f = m.put_cstr(b"/bin/busybox");
        let a0 = m.put_cstr(b"sh");
        let a1 = m.put_cstr(b"-c");
        let argv = m.put_ptrs(Arch::X86_64, &[a0, a1]);
        let n = notif(AUDIT_ARCH_X86_64, 59, [f, argv, 0, 0, 0, 0]);
        let d = decode(&n, &m).unwrap();
        let e = d.exec.as_ref().unwrap();
        assert_eq!(e.filename, b"/bin/busybox");
        assert_eq!(e.argv.items.len(), 2);
        assert_eq!(ptext(&d, "exe").as_deref(), Some("sh"));
        assert_eq!(ptext(&d, "args").as_deref(), Some("-c"));
        // Bad pointers everywhere: a fault, no panic.
        let n = notif(AUDIT_ARCH_X86_64, 59, [1, 2, 3, 0, 0, 0]);
        assert!(decode(&n, &m).unwrap().fault);
        for nr in 0..500 {
            let n = notif(
                AUDIT_ARCH_X86_64,
                nr,
                [u64::MAX, 7, u64::MAX, 0x1000, u64::MAX, 1],
            );
            let _ = decode(&n, &m);
            let n = notif(
                AUDIT_ARCH_I386,
                nr,
                [u64::MAX, 7, u64::MAX, 0x1000, u64::MAX, 1],
            );
            let _ = decode(&n, &m);
        }
        assert!(decode(&notif(0x1234, 2, [0; 6]), &m).is_none());
    }

    #[test]
    fn renderings() {
        let mut m = BufMem::new(0x1000);
        let t = m.put_cstr(b"/etc/shadow");
        let l = m.put_cstr(b"/tmp/x");
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("symlinkat").unwrap(),
                [t, (-100i64) as u64, l, 0, 0, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(ptext(&d, "target").as_deref(), Some("/etc/shadow"));
        assert_eq!(d.paths[0].param, "linkpath");
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("ptrace").unwrap(),
                [16, 1, 0, 0, 0, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(ptext(&d, "request").as_deref(), Some("PTRACE_ATTACH"));
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("unshare").unwrap(),
                [0x1000_0000, 0, 0, 0, 0, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(ptext(&d, "flags").as_deref(), Some("CLONE_NEWUSER"));
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("dup2").unwrap(),
                [3, 1, 0, 0, 0, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(d.rawres, Some(1));
        assert_eq!(d.use_fd, Some(3));
        let sin = m.put(&[2u8, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("connect").unwrap(),
                [3, sin, 16, 0, 0, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(
            d.sockaddr,
            Some(SockAddr::Inet("127.0.0.1:8080".parse().unwrap()))
        );
        let d = decode(
            &notif(
                AUDIT_ARCH_X86_64,
                syscall_nr("renameat2").unwrap(),
                [(-100i64) as u64, t, 5, l, 1, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(d.paths.len(), 2);
        assert_eq!(d.paths[1].dirfd, Some(5));
        assert_eq!(ptext(&d, "flags").as_deref(), Some("RENAME_NOREPLACE"));
    }
}
