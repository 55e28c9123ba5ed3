//! Decoding one stopped syscall: its name per architecture, its Falco exit parameters, and
//! every pointer argument read from the target (eagerly, before `ID_VALID`).
//!
//! The decoder is a table ([`SYSCALLS`]): per syscall, its exit parameters with the
//! argument each comes from and its kind (fd, dirfd, path, flags, mode, uid, sockaddr …),
//! like libscap's event table; [`decode`] interprets it. The profile's set of decoded
//! syscalls is derived from the same table ([`unrestricted_syscalls`]).

#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

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
    /// Falco's `PF_HEX` of a number: `%X`, upper case, no `0x` (ioctl `request`,
    /// `argument`).
    Hex,
}

impl Render {
    pub fn text(self, v: u64) -> String {
        match self {
            Render::FileFlags => fl::render(fl::FILE_FLAGS, lo32(v)),
            Render::Octal => fl::octal(lo32(v)),
            Render::Hex => fl::hex(v),
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

/// The low 32 bits of a register (an `int`/`unsigned int` argument: the kernel looks at
/// these only).
pub(crate) fn lo32(v: u64) -> u32 {
    let b = v.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A register as the kernel's `int` (fds, pids, dirfds).
pub(crate) fn i32a(v: u64) -> i32 {
    let b = v.to_le_bytes();
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------------------------------
// The table: one entry per syscall the decoder turns into Falco exit parameters (like
// libscap's event table: name, then each parameter with the argument it comes from and
// its kind). Everything else about syscalls — the set the profile serves to rules without
// an event-type restriction, Falco's names — is derived from it.
// ---------------------------------------------------------------------------------------

/// The directory a path argument is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The caller's cwd (`AT_FDCWD`).
    Cwd,
    /// The dirfd in argument `i` (compared as 32 bits).
    Arg(u8),
}

/// Whether the call follows a symlink in the last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    Always,
    Never,
    /// As an open with the call's flags (`O_NOFOLLOW`, `O_CREAT|O_EXCL`, openat2's
    /// `RESOLVE_NO_SYMLINKS`).
    Open,
    /// Unless argument `i` has `bit` set (`AT_SYMLINK_NOFOLLOW`, `UMOUNT_NOFOLLOW`).
    UnlessBit(u8, u64),
    /// Only if argument `i` has `bit` set (`AT_SYMLINK_FOLLOW`).
    IfBit(u8, u64),
}

/// Whether the call creates or changes the directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifies {
    Yes,
    No,
    /// As an open with the call's flags (write access, create, truncate).
    Open,
}

/// A path argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathSpec {
    /// The argument holding the pointer.
    pub ptr: u8,
    pub dir: Dir,
    pub follow: Follow,
    pub modifies: Modifies,
    /// The `AT_*` flags (for `AT_EMPTY_PATH`): argument `i` masked with `mask`.
    pub at_flags: Option<(u8, u64)>,
    /// A NULL pointer means "no path" (the parameter is absent), not a fault.
    pub optional: bool,
}

/// The kind of one exit parameter: what it is read from and how it is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The result (`res`, or `fd` for calls returning one): predicted, assuming success.
    Res,
    /// A file descriptor in argument `i`.
    Fd(u8),
    /// dup2/dup3's `newfd`: also the predicted result.
    NewFd(u8),
    Path(PathSpec),
    /// A NUL-terminated string (not a path); `optional`: NULL means absent.
    Str {
        ptr: u8,
        optional: bool,
    },
    Uid(u8),
    Gid(u8),
    /// A `struct sockaddr` at `ptr` of length `len`; `shown`: also a parameter (sendto's
    /// address is used for `fd.*` only); `optional`: NULL means none.
    Sockaddr {
        ptr: u8,
        len: u8,
        optional: bool,
        shown: bool,
    },
    /// sendmsg's `msg_name` (for `fd.*`; no parameter).
    MsgName(u8),
    /// The open flags ([`Open`]), as Falco's `PPM_O_*`.
    OpenFlags,
    /// The open mode ([`Open`]), in octal.
    OpenMode,
    /// openat2's `resolve` field.
    Resolve,
    /// execve/execveat exe flags, computed from the file.
    ExeFlags,
    /// `argv[0]` / the other arguments joined ([`Open::Exec`]).
    Exe,
    Args,
    /// Flags of `table`, from argument `i` masked with `mask` (the number when none match).
    Flags(u8, u64, fl::Table),
    /// A socket address family.
    Family(u8),
    /// `CLONE_*` flags (unshare, setns).
    Clone(u8),
    /// A ptrace request name.
    Ptrace(u8),
    /// Decimal `unsigned int`, `int`, `unsigned long`.
    U32(u8),
    I32(u8),
    U64(u8),
    /// `0x…` of the low 32 bits; octal of the low 32 bits.
    Hex32(u8),
    Oct32(u8),
    /// A number in argument `i` masked with `mask`, rendered as Falco's `PF_HEX`
    /// ([`Render::Hex`]); `evt.rawarg` gives the number.
    HexNum(u8, u64),
}

/// One exit parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
}

/// What the call opens or executes (read before the parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    None,
    /// Kernel open flags in argument `flags`, mode in `mode` (when the call has one).
    Flags {
        flags: u8,
        mode: Option<u8>,
    },
    /// openat2's `struct open_how` at `ptr` of size `size`.
    How {
        ptr: u8,
        size: u8,
    },
    /// creat: `O_CREAT|O_WRONLY|O_TRUNC`, mode in argument `mode` (Falco's
    /// `evt.is_open_*` are false for it).
    Creat {
        mode: u8,
    },
    /// execve (`at`: execveat): filename, argv, envp (and flags).
    Exec {
        at: bool,
    },
}

/// The fd the call uses, for `fd.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseFd {
    No,
    Arg(u8),
    /// Argument `fd` when the pointer in argument `ptr` is NULL (utimensat on a fd).
    IfNull {
        fd: u8,
        ptr: u8,
    },
}

/// One syscall's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallSpec {
    /// The kernel's name (after i386 `socketcall` demultiplexing).
    pub name: &'static str,
    pub open: Open,
    pub params: &'static [ParamSpec],
    pub use_fd: UseFd,
    /// Returns a new fd on success.
    pub returns_fd: bool,
    /// `fd.name` describes the (first) path argument.
    pub fd_path: bool,
    /// Notified for rules without an event-type restriction (the profile's decoded set):
    /// false for calls too hot or too rarely interesting to stop for every rule.
    pub unrestricted: bool,
}

const fn p(name: &'static str, kind: Kind) -> ParamSpec {
    ParamSpec { name, kind }
}
const RES: ParamSpec = p("res", Kind::Res);
const FDRES: ParamSpec = p("fd", Kind::Res);
const ALL32: u64 = 0xffff_ffff;

const fn path(ptr: u8, dir: Dir, follow: Follow, modifies: Modifies) -> Kind {
    Kind::Path(PathSpec {
        ptr,
        dir,
        follow,
        modifies,
        at_flags: None,
        optional: false,
    })
}
const fn path_at(ptr: u8, dir: Dir, follow: Follow, modifies: Modifies, at: (u8, u64)) -> Kind {
    Kind::Path(PathSpec {
        ptr,
        dir,
        follow,
        modifies,
        at_flags: Some(at),
        optional: false,
    })
}
const fn opt_path(ptr: u8, dir: Dir, follow: Follow, at: Option<(u8, u64)>) -> Kind {
    Kind::Path(PathSpec {
        ptr,
        dir,
        follow,
        modifies: Modifies::Yes,
        at_flags: at,
        optional: true,
    })
}

/// An entry with defaults (no open, no fd, not unrestricted): fields set per entry.
const fn e(name: &'static str, params: &'static [ParamSpec]) -> SyscallSpec {
    SyscallSpec {
        name,
        open: Open::None,
        params,
        use_fd: UseFd::No,
        returns_fd: false,
        fd_path: false,
        unrestricted: false,
    }
}
/// An entry served to unrestricted rules.
const fn u(name: &'static str, params: &'static [ParamSpec]) -> SyscallSpec {
    SyscallSpec {
        unrestricted: true,
        ..e(name, params)
    }
}
const fn with_fd(s: SyscallSpec, i: u8) -> SyscallSpec {
    SyscallSpec {
        use_fd: UseFd::Arg(i),
        ..s
    }
}
const fn new_fd(s: SyscallSpec) -> SyscallSpec {
    SyscallSpec {
        returns_fd: true,
        ..s
    }
}
const fn opens(s: SyscallSpec, open: Open) -> SyscallSpec {
    SyscallSpec {
        open,
        returns_fd: true,
        fd_path: true,
        ..s
    }
}

use Dir::{Arg as D, Cwd};
use Follow::{Always, IfBit, Never, UnlessBit};
use Kind::*;
use Modifies::{No as Keeps, Yes as Changes};

const NOFOLLOW: u64 = AT_SYMLINK_NOFOLLOW;
const OPEN_PARAMS: [ParamSpec; 5] = [
    FDRES,
    p("dirfd", Fd(0)),
    p("name", path(1, D(0), Follow::Open, Modifies::Open)),
    p("flags", OpenFlags),
    p("mode", OpenMode),
];
const PATH_ONLY: &[ParamSpec] = &[RES, p("path", path(0, Cwd, Always, Changes))];
const PATH_NOFOLLOW: &[ParamSpec] = &[RES, p("path", path(0, Cwd, Never, Changes))];
const FD_ONLY: &[ParamSpec] = &[RES, p("fd", Fd(0))];
const SOCK_FD: &[ParamSpec] = &[RES, p("fd", Fd(0))];
const DUP: &[ParamSpec] = &[RES, p("oldfd", Fd(0))];
const DUP2: &[ParamSpec] = &[RES, p("oldfd", Fd(0)), p("newfd", NewFd(1))];
const UID0: &[ParamSpec] = &[RES, p("uid", Uid(0))];
const GID0: &[ParamSpec] = &[RES, p("gid", Gid(0))];
const RENAMEAT: [ParamSpec; 5] = [
    RES,
    p("olddirfd", Fd(0)),
    p("oldpath", path(1, D(0), Never, Changes)),
    p("newdirfd", Fd(2)),
    p("newpath", path(3, D(2), Never, Changes)),
];
const XATTRAT: &[ParamSpec] = &[
    RES,
    p("dirfd", Fd(0)),
    p(
        "path",
        path_at(1, D(0), UnlessBit(2, NOFOLLOW), Changes, (2, u64::MAX)),
    ),
];
const TREE: &[ParamSpec] = &[
    RES,
    p("dirfd", Fd(0)),
    p("path", path_at(1, D(0), Always, Changes, (2, u64::MAX))),
];
const EXECVE: &[ParamSpec] = &[
    RES,
    p("exe", Exe),
    p("args", Args),
    p("flags", ExeFlags),
    p("filename", path(0, Cwd, Always, Keeps)),
];
const EXECVEAT: &[ParamSpec] = &[
    RES,
    p("exe", Exe),
    p("args", Args),
    p("dirfd", Fd(0)),
    p("flags", ExeFlags),
    p(
        "filename",
        path_at(1, D(0), UnlessBit(4, NOFOLLOW), Keeps, (4, u64::MAX)),
    ),
];

/// Every syscall the decoder knows the parameters of. Calls of syscalls not listed here
/// are events with their Falco name and no parameters.
pub static SYSCALLS: &[SyscallSpec] = &[
    // files: open
    opens(
        u(
            "open",
            &[
                FDRES,
                p("name", path(0, Cwd, Follow::Open, Modifies::Open)),
                p("flags", OpenFlags),
                p("mode", OpenMode),
            ],
        ),
        Open::Flags {
            flags: 1,
            mode: Some(2),
        },
    ),
    opens(
        u("openat", &OPEN_PARAMS),
        Open::Flags {
            flags: 2,
            mode: Some(3),
        },
    ),
    opens(
        u(
            "openat2",
            &[
                OPEN_PARAMS[0],
                OPEN_PARAMS[1],
                OPEN_PARAMS[2],
                OPEN_PARAMS[3],
                OPEN_PARAMS[4],
                p("resolve", Resolve),
            ],
        ),
        Open::How { ptr: 2, size: 3 },
    ),
    opens(
        u(
            "creat",
            &[
                FDRES,
                p("name", path(0, Cwd, Always, Changes)),
                p("mode", OpenMode),
            ],
        ),
        Open::Creat { mode: 1 },
    ),
    SyscallSpec {
        fd_path: false,
        ..opens(
            u(
                "open_by_handle_at",
                &[FDRES, p("mountfd", Fd(0)), p("flags", OpenFlags)],
            ),
            Open::Flags {
                flags: 2,
                mode: None,
            },
        )
    },
    // exec
    SyscallSpec {
        open: Open::Exec { at: false },
        ..u("execve", EXECVE)
    },
    SyscallSpec {
        open: Open::Exec { at: true },
        ..u("execveat", EXECVEAT)
    },
    new_fd(u(
        "memfd_create",
        &[
            FDRES,
            p(
                "name",
                Str {
                    ptr: 0,
                    optional: false,
                },
            ),
            p("flags", Flags(1, 7, fl::MEMFD_FLAGS)),
        ],
    )),
    // network
    with_fd(
        u(
            "connect",
            &[
                RES,
                p("fd", Fd(0)),
                p(
                    "addr",
                    Sockaddr {
                        ptr: 1,
                        len: 2,
                        optional: false,
                        shown: true,
                    },
                ),
            ],
        ),
        0,
    ),
    with_fd(
        u(
            "bind",
            &[
                RES,
                p(
                    "addr",
                    Sockaddr {
                        ptr: 1,
                        len: 2,
                        optional: false,
                        shown: true,
                    },
                ),
                p("fd", Fd(0)),
            ],
        ),
        0,
    ),
    with_fd(
        u(
            "sendto",
            &[
                RES,
                p("fd", Fd(0)),
                p("size", U32(2)),
                p(
                    "addr",
                    Sockaddr {
                        ptr: 4,
                        len: 5,
                        optional: true,
                        shown: false,
                    },
                ),
            ],
        ),
        0,
    ),
    with_fd(
        u("sendmsg", &[RES, p("fd", Fd(0)), p("msg", MsgName(1))]),
        0,
    ),
    with_fd(u("recvfrom", SOCK_FD), 0),
    with_fd(u("recvmsg", SOCK_FD), 0),
    with_fd(u("listen", &[RES, p("fd", Fd(0)), p("backlog", U32(1))]), 0),
    new_fd(with_fd(u("accept", &[FDRES, p("fd", Fd(0))]), 0)),
    new_fd(with_fd(
        u("accept4", &[FDRES, p("fd", Fd(0)), p("flags", I32(3))]),
        0,
    )),
    with_fd(e("shutdown", SOCK_FD), 0),
    with_fd(e("getsockopt", SOCK_FD), 0),
    with_fd(e("setsockopt", SOCK_FD), 0),
    new_fd(u(
        "socket",
        &[
            FDRES,
            p("domain", Family(0)),
            p("type", U32(1)),
            p("proto", U32(2)),
        ],
    )),
    // descriptors
    new_fd(with_fd(u("dup", DUP), 0)),
    with_fd(u("dup2", DUP2), 0),
    with_fd(
        u(
            "dup3",
            &[
                RES,
                p("oldfd", Fd(0)),
                p("newfd", NewFd(1)),
                p("flags", U32(2)),
            ],
        ),
        0,
    ),
    // ioctl (Falco's `PPME_SYSCALL_IOCTL_3_X`: res, fd, request, argument, the last two
    // `PF_HEX`). The request is the kernel's `unsigned int cmd`: the low 32 bits, which
    // is what the kernel acts on and what the profile's in-kernel filter compares
    // (Falco's driver shows the whole register: the two differ only when a caller
    // sets bits the kernel ignores, e.g. musl's sign-extended `int` requests).
    // Not served to unrestricted rules: terminals and sockets call it constantly.
    with_fd(
        e(
            "ioctl",
            &[
                RES,
                p("fd", Fd(0)),
                p("request", HexNum(1, ALL32)),
                p("argument", HexNum(2, u64::MAX)),
            ],
        ),
        0,
    ),
    // tracing, links
    u("ptrace", &[RES, p("request", Ptrace(0)), p("pid", I32(1))]),
    u(
        "symlink",
        &[
            RES,
            p(
                "target",
                Str {
                    ptr: 0,
                    optional: false,
                },
            ),
            p("linkpath", path(1, Cwd, Never, Changes)),
        ],
    ),
    u(
        "symlinkat",
        &[
            RES,
            p(
                "target",
                Str {
                    ptr: 0,
                    optional: false,
                },
            ),
            p("linkdirfd", Fd(1)),
            p("linkpath", path(2, D(1), Never, Changes)),
        ],
    ),
    u(
        "link",
        &[
            RES,
            p("oldpath", path(0, Cwd, Never, Keeps)),
            p("newpath", path(1, Cwd, Never, Changes)),
        ],
    ),
    u(
        "linkat",
        &[
            RES,
            p("olddir", Fd(0)),
            p(
                "oldpath",
                path_at(1, D(0), IfBit(4, AT_SYMLINK_FOLLOW), Keeps, (4, u64::MAX)),
            ),
            p("newdir", Fd(2)),
            p("newpath", path(3, D(2), Never, Changes)),
            p("flags", Flags(4, 0x1400, fl::LINKAT_FLAGS)),
        ],
    ),
    // modules
    u(
        "init_module",
        &[
            RES,
            p("length", U64(1)),
            p(
                "uargs",
                Str {
                    ptr: 2,
                    optional: false,
                },
            ),
        ],
    ),
    with_fd(
        u(
            "finit_module",
            &[
                RES,
                p("fd", Fd(0)),
                p(
                    "uargs",
                    Str {
                        ptr: 1,
                        optional: false,
                    },
                ),
                p("flags", U32(2)),
            ],
        ),
        0,
    ),
    u("delete_module", &[]),
    // attributes and ownership
    u(
        "chmod",
        &[
            RES,
            p("filename", path(0, Cwd, Always, Changes)),
            p("mode", Flags(1, 0o7777, fl::CHMOD_MODE)),
        ],
    ),
    with_fd(
        u(
            "fchmod",
            &[
                RES,
                p("fd", Fd(0)),
                p("mode", Flags(1, 0o7777, fl::CHMOD_MODE)),
            ],
        ),
        0,
    ),
    u(
        "fchmodat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p("filename", path(1, D(0), Always, Changes)),
            p("mode", Flags(2, 0o7777, fl::CHMOD_MODE)),
        ],
    ),
    u(
        "fchmodat2",
        &[
            RES,
            p("dirfd", Fd(0)),
            p(
                "filename",
                path_at(1, D(0), UnlessBit(3, NOFOLLOW), Changes, (3, u64::MAX)),
            ),
            p("mode", Flags(2, 0o7777, fl::CHMOD_MODE)),
        ],
    ),
    u(
        "chown",
        &[
            RES,
            p("path", path(0, Cwd, Always, Changes)),
            p("uid", Uid(1)),
            p("gid", Gid(2)),
        ],
    ),
    u(
        "lchown",
        &[
            RES,
            p("path", path(0, Cwd, Never, Changes)),
            p("uid", Uid(1)),
            p("gid", Gid(2)),
        ],
    ),
    with_fd(
        u(
            "fchown",
            &[RES, p("fd", Fd(0)), p("uid", Uid(1)), p("gid", Gid(2))],
        ),
        0,
    ),
    u(
        "fchownat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p(
                "pathname",
                path_at(1, D(0), UnlessBit(4, NOFOLLOW), Changes, (4, u64::MAX)),
            ),
            p("uid", Uid(2)),
            p("gid", Gid(3)),
            p("flags", Flags(4, 0x1400, fl::FCHOWNAT_FLAGS)),
        ],
    ),
    // rename, remove, create
    u(
        "rename",
        &[
            RES,
            p("oldpath", path(0, Cwd, Never, Changes)),
            p("newpath", path(1, Cwd, Never, Changes)),
        ],
    ),
    u("renameat", &RENAMEAT),
    u(
        "renameat2",
        &[
            RENAMEAT[0],
            RENAMEAT[1],
            RENAMEAT[2],
            RENAMEAT[3],
            RENAMEAT[4],
            p("flags", Flags(4, ALL32, fl::RENAMEAT2_FLAGS)),
        ],
    ),
    u("unlink", PATH_NOFOLLOW),
    u("rmdir", PATH_NOFOLLOW),
    u(
        "unlinkat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p("name", path(1, D(0), Never, Changes)),
            p("flags", Flags(2, 0x200, fl::UNLINKAT_FLAGS)),
        ],
    ),
    u(
        "mkdir",
        &[
            RES,
            p("path", path(0, Cwd, Never, Changes)),
            p("mode", Hex32(1)),
        ],
    ),
    u(
        "mkdirat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p("path", path(1, D(0), Never, Changes)),
            p("mode", Hex32(2)),
        ],
    ),
    u(
        "mknod",
        &[
            RES,
            p("path", path(0, Cwd, Never, Changes)),
            p("mode", Oct32(1)),
            p("dev", Hex32(2)),
        ],
    ),
    u(
        "mknodat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p("path", path(1, D(0), Never, Changes)),
            p("mode", Oct32(2)),
            p("dev", Hex32(3)),
        ],
    ),
    // one path
    u("truncate", PATH_ONLY),
    e("utime", PATH_ONLY),
    e("utimes", PATH_ONLY),
    u("setxattr", PATH_ONLY),
    u("removexattr", PATH_ONLY),
    u("chdir", &[RES, p("path", path(0, Cwd, Always, Keeps))]),
    u("chroot", &[RES, p("path", path(0, Cwd, Always, Keeps))]),
    e("acct", PATH_ONLY),
    e("swapon", PATH_ONLY),
    u("lsetxattr", PATH_NOFOLLOW),
    u("lremovexattr", PATH_NOFOLLOW),
    e(
        "futimesat",
        &[
            RES,
            p("dirfd", Fd(0)),
            p("path", opt_path(1, D(0), Always, None)),
        ],
    ),
    SyscallSpec {
        use_fd: UseFd::IfNull { fd: 0, ptr: 1 },
        ..u(
            "utimensat",
            &[
                RES,
                p("dirfd", Fd(0)),
                p(
                    "path",
                    opt_path(1, D(0), UnlessBit(3, NOFOLLOW), Some((3, u64::MAX))),
                ),
            ],
        )
    },
    e("setxattrat", XATTRAT),
    e("removexattrat", XATTRAT),
    u(
        "name_to_handle_at",
        &[
            RES,
            p("dirfd", Fd(0)),
            p(
                "path",
                path_at(1, D(0), IfBit(4, AT_SYMLINK_FOLLOW), Keeps, (4, u64::MAX)),
            ),
        ],
    ),
    // mounts
    u(
        "mount",
        &[
            RES,
            p(
                "dev",
                Str {
                    ptr: 0,
                    optional: true,
                },
            ),
            p("dir", path(1, Cwd, Always, Changes)),
            p(
                "type",
                Str {
                    ptr: 2,
                    optional: true,
                },
            ),
            p("flags", U32(3)),
        ],
    ),
    u(
        "umount2",
        &[
            RES,
            p("name", path(0, Cwd, UnlessBit(1, 8), Changes)),
            p("flags", U32(1)),
        ],
    ),
    e(
        "umount",
        &[RES, p("name", path(0, Cwd, UnlessBit(1, 8), Changes))],
    ),
    u("open_tree", TREE),
    u("mount_setattr", TREE),
    u(
        "move_mount",
        &[
            RES,
            p("from_path", path_at(1, D(0), Always, Changes, (4, 4))),
            p("to_path", path_at(3, D(2), Always, Changes, (4, 0x40))),
        ],
    ),
    u("pivot_root", &[]),
    u("fsopen", &[]),
    u("fsconfig", &[]),
    u("fsmount", &[]),
    // namespaces, credentials
    with_fd(u("setns", &[RES, p("fd", Fd(0)), p("nstype", Clone(1))]), 0),
    u("unshare", &[RES, p("flags", Clone(0))]),
    u("setuid", UID0),
    e("setfsuid", UID0),
    u("setgid", GID0),
    e("setfsgid", GID0),
    u("setreuid", &[]),
    u("setregid", &[]),
    u("setresuid", &[]),
    u("setresgid", &[]),
    u("capset", &[]),
    u("process_vm_readv", &[]),
    u("process_vm_writev", &[]),
    // bpf, userfaultfd, io_uring
    new_fd(u("bpf", &[FDRES, p("cmd", I32(0))])),
    new_fd(u("userfaultfd", &[RES, p("flags", U32(0))])),
    new_fd(e("io_uring_setup", &[RES, p("entries", U32(0))])),
    // fd-only
    with_fd(u("fchdir", FD_ONLY), 0),
    with_fd(u("fsetxattr", FD_ONLY), 0),
    with_fd(u("fremovexattr", FD_ONLY), 0),
    with_fd(e("ftruncate", FD_ONLY), 0),
    with_fd(e("fallocate", FD_ONLY), 0),
];

/// The entry of kernel syscall `name`.
pub fn spec(name: &str) -> Option<&'static SyscallSpec> {
    SYSCALLS.iter().find(|s| s.name == name)
}

/// The entry of syscall `nr` on `arch`, by a per-arch index built once.
fn spec_by_nr(arch: Arch, nr: i32) -> Option<&'static SyscallSpec> {
    use std::sync::OnceLock;
    static X86_64: OnceLock<Vec<Option<&'static SyscallSpec>>> = OnceLock::new();
    static I386: OnceLock<Vec<Option<&'static SyscallSpec>>> = OnceLock::new();
    let cell = match arch {
        Arch::X86_64 => &X86_64,
        Arch::I386 => &I386,
    };
    let index = cell.get_or_init(|| {
        let mut v = Vec::new();
        for (n, name) in syscalls::all_syscalls(arch) {
            let Ok(i) = usize::try_from(n) else { continue };
            if v.len() <= i {
                v.resize(i + 1, None);
            }
            v[i] = spec(name);
        }
        v
    });
    index.get(usize::try_from(nr).ok()?).copied().flatten()
}

/// The syscalls served to rules without an event-type restriction (every entry marked
/// `unrestricted`, in table order).
pub fn unrestricted_syscalls() -> impl Iterator<Item = &'static str> {
    SYSCALLS.iter().filter(|s| s.unrestricted).map(|s| s.name)
}

// ---------------------------------------------------------------------------------------
// The interpreter.
// ---------------------------------------------------------------------------------------

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

fn val(name: &'static str, val: ParamVal) -> Param {
    Param { name, val }
}

struct Ctx<'a> {
    mem: &'a dyn ReadMem,
    a: [u64; 6],
    d: Decoded,
    /// Kernel open flags and openat2 `resolve` of an open (0 otherwise).
    kflags: u64,
    resolve: u64,
}

impl Ctx<'_> {
    fn arg(&self, i: u8) -> u64 {
        self.a.get(usize::from(i)).copied().unwrap_or(0)
    }

    /// Reads a path argument; a fault is recorded and the path is empty.
    fn path(&mut self, name: &'static str, s: &PathSpec) -> Option<Param> {
        let addr = self.arg(s.ptr);
        if s.optional && addr == 0 {
            return None;
        }
        let dirfd = Some(match s.dir {
            Dir::Cwd => AT_FDCWD,
            Dir::Arg(i) => i32a(self.arg(i)),
        });
        let follow_last = match s.follow {
            Follow::Always => true,
            Follow::Never => false,
            Follow::Open => open_follow(self.kflags) && self.resolve & 0x04 == 0,
            Follow::UnlessBit(i, b) => self.arg(i) & b == 0,
            Follow::IfBit(i, b) => self.arg(i) & b != 0,
        };
        let modifies = match s.modifies {
            Modifies::Yes => true,
            Modifies::No => false,
            Modifies::Open => open_modifies(self.kflags),
        };
        let at_flags = s.at_flags.map_or(0, |(i, m)| self.arg(i) & m);
        let (raw, unreadable) = match mem::read_path(self.mem, addr) {
            Ok(p) => (p, false),
            Err(_) => {
                self.d.fault = true;
                (Vec::new(), true)
            }
        };
        let empty_path = raw.is_empty() && at_flags & AT_EMPTY_PATH != 0 && !unreadable;
        self.d.paths.push(PathArg {
            param: name,
            raw,
            dirfd,
            follow_last,
            empty_path,
            modifies,
            unreadable,
        });
        Some(val(name, ParamVal::Path(self.d.paths.len() - 1)))
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

    fn sockaddr(&mut self, addr: u64, len: u64) -> Option<SockAddr> {
        let sa = match mem::read_sockaddr(self.mem, addr, len) {
            Ok(s) => s,
            Err(_) => {
                self.d.fault = true;
                None
            }
        };
        self.d.sockaddr = sa.clone();
        sa
    }

    fn set_open(&mut self, flags: u64, mode: u64) {
        self.kflags = flags;
        self.d.open_flags = Some(flags);
        self.d.open_mode = fl::open_mode(flags, mode);
    }

    fn strvec(&mut self, addr: u64) -> StrVec {
        mem::read_strvec(self.mem, self.d.arch, addr).unwrap_or_else(|_| {
            self.d.fault = true;
            StrVec::default()
        })
    }

    /// Reads what the call opens or executes.
    fn open(&mut self, o: Open) {
        let a = self.a;
        match o {
            Open::None => {}
            Open::Flags { flags, mode } => {
                let m = mode.map_or(0, |i| self.arg(i));
                self.set_open(self.arg(flags), m);
            }
            Open::How { ptr, size } => {
                let how = match mem::read_open_how(self.mem, self.arg(ptr), self.arg(size)) {
                    Ok(h) => h,
                    Err(_) => {
                        self.d.fault = true;
                        OpenHow::default()
                    }
                };
                self.set_open(how.flags, how.mode);
                self.resolve = how.resolve;
                self.d.open_resolve = how.resolve;
            }
            Open::Creat { mode } => {
                self.set_open(fl::O_CREAT | fl::O_WRONLY | fl::O_TRUNC, self.arg(mode));
                self.d.open_flags = None; // Falco's evt.is_open_* are false for creat.
            }
            Open::Exec { at } => {
                let (av, ev, flags) = if at {
                    (a[2], a[3], a[4])
                } else {
                    (a[1], a[2], 0)
                };
                let argv = self.strvec(av);
                let envp = self.strvec(ev);
                self.d.exec = Some(ExecArgs {
                    filename: Vec::new(),
                    argv,
                    envp,
                    flags,
                });
            }
        }
    }

    fn param(&mut self, ps: &ParamSpec) -> Option<Param> {
        let name = ps.name;
        let a = |i: u8| self.arg(i);
        Some(match ps.kind {
            Kind::Res => val(name, ParamVal::Res),
            Kind::Fd(i) => val(name, ParamVal::Fd(i64::from(i32a(a(i))))),
            Kind::NewFd(i) => {
                let fd = i64::from(i32a(a(i)));
                self.d.rawres = Some(fd);
                val(name, ParamVal::Fd(fd))
            }
            Kind::Path(s) => return self.path(name, &s),
            Kind::Str { ptr, optional } => {
                let addr = a(ptr);
                if optional && addr == 0 {
                    return None;
                }
                self.string(name, addr)
            }
            Kind::Uid(i) => val(name, ParamVal::Uid(lo32(a(i)))),
            Kind::Gid(i) => val(name, ParamVal::Gid(lo32(a(i)))),
            Kind::Sockaddr {
                ptr,
                len,
                optional,
                shown,
            } => {
                let (addr, len) = (a(ptr), a(len));
                if optional && addr == 0 {
                    return None;
                }
                let sa = self.sockaddr(addr, len);
                if !shown {
                    return None;
                }
                val(name, ParamVal::Sockaddr(sa))
            }
            Kind::MsgName(i) => {
                match mem::read_msghdr_name(self.mem, self.d.arch, a(i)) {
                    Ok(sa) => self.d.sockaddr = sa,
                    Err(_) => self.d.fault = true,
                }
                return None;
            }
            Kind::OpenFlags => num(
                name,
                Render::FileFlags,
                fl::open_flags_to_ppm(self.kflags).into(),
            ),
            Kind::OpenMode => num(name, Render::Octal, self.d.open_mode.into()),
            Kind::Resolve => text(
                name,
                fl::render_or_num(fl::OPENAT2_RESOLVE, fl::resolve_to_ppm(self.resolve)),
            ),
            Kind::ExeFlags => val(name, ParamVal::ExeFlags),
            Kind::Exe => {
                let argv = self.d.exec.as_ref().map(|e| &e.argv.items);
                text(
                    name,
                    argv.and_then(|v| v.first())
                        .map(|x| String::from_utf8_lossy(x).into_owned())
                        .unwrap_or_default(),
                )
            }
            Kind::Args => {
                let argv = self.d.exec.as_ref().map(|e| e.argv.items.as_slice());
                text(
                    name,
                    argv.unwrap_or_default()
                        .iter()
                        .skip(1)
                        .map(|x| String::from_utf8_lossy(x).into_owned())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }
            Kind::Flags(i, mask, table) => text(name, fl::render_or_num(table, lo32(a(i) & mask))),
            Kind::Family(i) => text(name, fl::render_enum(fl::SOCKET_FAMILIES, lo32(a(i)))),
            Kind::Clone(i) => text(
                name,
                fl::render_or_num(fl::CLONE_FLAGS, fl::clone_flags_to_ppm(a(i))),
            ),
            Kind::Ptrace(i) => text(name, fl::ptrace_request_name(a(i))),
            Kind::U32(i) => text(name, lo32(a(i)).to_string()),
            Kind::I32(i) => text(name, i32a(a(i)).to_string()),
            Kind::U64(i) => text(name, a(i).to_string()),
            Kind::Hex32(i) => text(name, fl::hex(a(i) & ALL32)),
            Kind::Oct32(i) => text(name, fl::octal(lo32(a(i)))),
            Kind::HexNum(i, mask) => num(name, Render::Hex, a(i) & mask),
        })
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
    for (o, w) in out.iter_mut().zip(b.chunks_exact(4)).take(n) {
        *o = u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    Some((name, out))
}

/// Decodes a notification: reads every pointer argument now.
pub fn decode(n: &Notif, mem: &dyn ReadMem) -> Option<Decoded> {
    let arch = Arch::from_audit(n.arch)?;
    let mut a = n.args;
    if arch == Arch::I386 {
        for x in a.iter_mut() {
            *x &= ALL32;
        }
    }
    let mut kname = syscalls::syscall_name(arch, n.nr);
    let mut spec = spec_by_nr(arch, n.nr);
    let mut fault = false;
    if kname == Some("socketcall") {
        match demux_socketcall(mem, &a) {
            Some((k, args)) => {
                kname = Some(k);
                spec = self::spec(k);
                a = args;
            }
            None => fault = true,
        }
    }
    let name = kname.map(syscalls::falco_event_name).unwrap_or("syscall");
    let mut c = Ctx {
        mem,
        a,
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
        kflags: 0,
        resolve: 0,
    };
    let Some(s) = spec else {
        return Some(c.d);
    };
    c.open(s.open);
    // Most events have up to 6 parameters: one allocation, no regrowth.
    let mut params: Vec<Param> = Vec::with_capacity(8);
    for ps in s.params {
        if let Some(p) = c.param(ps) {
            params.push(p);
        }
    }
    c.d.params = params;
    c.d.returns_fd = s.returns_fd;
    if s.fd_path {
        c.d.fd_path = Some(0);
    }
    c.d.use_fd = match s.use_fd {
        UseFd::No => None,
        UseFd::Arg(i) => Some(i32a(c.arg(i))),
        UseFd::IfNull { fd, ptr } => (c.arg(ptr) == 0).then(|| i32a(c.arg(fd))),
    };
    if let Some(e) = c.d.exec.as_mut() {
        e.filename = c.d.paths.last().map(|x| x.raw.clone()).unwrap_or_default();
    }
    Some(c.d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::mem::BufMem;
    use crate::event::syscalls::{syscall_nr, syscall_nr_arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

    /// `AT_FDCWD` in a register.
    const CWD: u64 = 0xffff_ffff_ffff_ff9c;

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

    /// The decoder's table, the profile's syscall sets and the rules' event-type registry
    /// (`tiercel_rules::evttype`) describe the same syscalls by the same names.
    #[test]
    fn decoder_profile_and_registry_agree() {
        use crate::event::syscalls::{all_syscalls, falco_event_name, syscall_name};
        use crate::profile::{falco_event_syscalls, notify_syscalls_for, NEVER_NOTIFY};
        use std::collections::BTreeSet;
        use tiercel_rules::evttype::EventType;

        let mut seen = BTreeSet::new();
        for s in SYSCALLS {
            assert!(seen.insert(s.name), "{} twice", s.name);
            let x86 = syscall_nr_arch(Arch::X86_64, s.name);
            let i386 = syscall_nr_arch(Arch::I386, s.name);
            assert!(
                x86.is_some() || i386.is_some(),
                "{}: no such syscall",
                s.name
            );
            let falco = falco_event_name(s.name);
            let t = EventType::from_name(falco);
            assert!(t.is_some(), "{falco}: the rules cannot name it");
            for (arch, nr) in [(Arch::X86_64, x86), (Arch::I386, i386)] {
                if let Some(nr) = nr {
                    assert_eq!(spec_by_nr(arch, nr).map(|e| e.name), Some(s.name));
                }
            }
            if let Some(nr) = x86 {
                assert!(falco_event_syscalls(falco).contains(&s.name), "{falco}");
                assert_eq!(t.and_then(EventType::syscall_nr), u32::try_from(nr).ok());
            }
            let mut names = BTreeSet::new();
            // (accept's result and its listening socket are both `fd`, as in Falco)
            for ps in s.params.iter().filter(|p| p.kind != Kind::Res) {
                assert!(names.insert(ps.name), "{}: {} twice", s.name, ps.name);
            }
            assert!(!s.unrestricted || x86.is_some(), "{}", s.name);
        }
        // rules without an event-type restriction get exactly the table's unrestricted set
        let served: BTreeSet<String> = notify_syscalls_for(vec![None::<Vec<&str>>])
            .into_iter()
            .collect();
        let table: BTreeSet<String> = unrestricted_syscalls()
            .filter(|n| !NEVER_NOTIFY.contains(n))
            .map(str::to_owned)
            .collect();
        assert_eq!(served, table);
        // every x86_64 syscall: the profile maps its event name back to it, and the
        // registry has its event type (by Falco name, else by kernel name, as the builder)
        for (nr, k) in all_syscalls(Arch::X86_64) {
            let f = falco_event_name(k);
            assert!(falco_event_syscalls(f).contains(&k), "{k} ({f})");
            let t = EventType::from_name(f).or_else(|| EventType::from_name(k));
            assert_eq!(
                t.and_then(EventType::syscall_nr),
                u32::try_from(nr).ok(),
                "{k}"
            );
        }
        // and the registry's x86_64 syscalls are the decoder's, number for number
        for t in EventType::all().filter(|t| t.is_x86_64_syscall()) {
            let nr = t.syscall_nr().and_then(|n| i32::try_from(n).ok()).unwrap();
            // by Falco's event name (`pread` for the kernel's `pread64`)
            let k = syscall_name(Arch::X86_64, nr).unwrap();
            assert_eq!(falco_event_name(k), t.name());
        }
    }

    #[test]
    fn table_arguments_in_range() {
        fn ok(i: u8) -> bool {
            i < 6
        }
        for s in SYSCALLS {
            for ps in s.params {
                let args: Vec<u8> = match ps.kind {
                    Kind::Fd(i)
                    | Kind::NewFd(i)
                    | Kind::Uid(i)
                    | Kind::Gid(i)
                    | Kind::MsgName(i)
                    | Kind::Flags(i, _, _)
                    | Kind::Family(i)
                    | Kind::Clone(i)
                    | Kind::Ptrace(i)
                    | Kind::U32(i)
                    | Kind::I32(i)
                    | Kind::U64(i)
                    | Kind::Hex32(i)
                    | Kind::Oct32(i)
                    | Kind::HexNum(i, _) => vec![i],
                    Kind::Str { ptr, .. } => vec![ptr],
                    Kind::Sockaddr { ptr, len, .. } => vec![ptr, len],
                    Kind::Path(p) => {
                        let mut v = vec![p.ptr];
                        if let Dir::Arg(i) = p.dir {
                            v.push(i);
                        }
                        v.extend(p.at_flags.map(|(i, _)| i));
                        v
                    }
                    _ => vec![],
                };
                assert!(args.into_iter().all(ok), "{} {}", s.name, ps.name);
            }
        }
    }

    #[test]
    fn openat_x86_64() {
        let mut m = BufMem::new(0x1000);
        let path = m.put_cstr(b"../etc/./shadow");
        let n = notif(
            AUDIT_ARCH_X86_64,
            syscall_nr("openat").unwrap(),
            [CWD, path, 0o1101, 0o644, 0, 0],
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
                [t, CWD, l, 0, 0, 0],
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
                [CWD, t, 5, l, 1, 0],
            ),
            &m,
        )
        .unwrap();
        assert_eq!(d.paths.len(), 2);
        assert_eq!(d.paths[1].dirfd, Some(5));
        assert_eq!(ptext(&d, "flags").as_deref(), Some("RENAME_NOREPLACE"));
    }

    #[test]
    fn ioctl_params_as_falco_renders_them() {
        let m = BufMem::new(0x100);
        // FS_IOC_SETFLAGS as musl passes it (an `int`, sign-extended): the kernel's
        // `cmd` is the low 32 bits.
        for req in [0x4008_6602u64, 0xffff_ffff_4008_6602] {
            let d = decode(
                &notif(
                    AUDIT_ARCH_X86_64,
                    syscall_nr("ioctl").unwrap(),
                    [7, req, 0x7ffc_0000_10a8, 0, 0, 0],
                ),
                &m,
            )
            .unwrap();
            assert_eq!(d.name, "ioctl");
            assert_eq!(d.use_fd, Some(7));
            assert_eq!(ptext(&d, "request").as_deref(), Some("40086602"));
            assert_eq!(ptext(&d, "argument").as_deref(), Some("7FFC000010A8"));
            let names: Vec<&str> = d.params.iter().map(|p| p.name).collect();
            assert_eq!(names, ["res", "fd", "request", "argument"]);
            assert_eq!(
                d.params[2].val,
                ParamVal::Num(Render::Hex, 0x4008_6602),
                "evt.rawarg.request is the number"
            );
        }
        assert!(
            !unrestricted_syscalls().any(|n| n == "ioctl"),
            "ioctl is too hot for unrestricted rules"
        );
    }
}
