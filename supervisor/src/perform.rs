//! Path-changing calls performed on the caller's behalf (issue 11 item 2): in enforce
//! mode, a call that changes a path (rename, link, symlink, unlink, rmdir, mkdir, mknod,
//! chmod, chown, truncate, utime*, xattrs) or an object behind a descriptor (fchmod,
//! fchown, ftruncate, fsetxattr, fremovexattr, futimens) that some deny rule could match
//! is never continued: tiercel establishes its objects with the caller's context
//! ([`crate::emulate::Emulator::establish_args`]: the parent directory opened
//! `O_PATH|O_DIRECTORY` plus the last name for calls that act on a directory entry, the
//! object itself opened `O_PATH` for the others; a descriptor duplicated with
//! `pidfd_getfd`), decides on their real paths, performs the call on those handles with
//! the caller's credentials and answers with its result (`SEND` with the value 0, or the
//! kernel's errno). Nothing the caller can change after the check — its path buffer, a
//! symlink, a parent directory, the descriptor number — reaches the call performed.
//!
//! The arguments besides the paths (modes, ids, flags, lengths, times, xattr names and
//! values, the symlink target) are read once, bounded, from the caller's registers and
//! memory, before `ID_VALID`; the kernel's own early checks on them (`EINVAL` for
//! unknown flags, `ERANGE`/`E2BIG` for xattr names and sizes) come first, as in the
//! kernel.
//!
//! [`IOCTLS`]: the inode-changing ioctl requests, for the profile (which requests are
//! notified) and for the supervisor (which it performs).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::decide::{Decider, Mode, Scratch, SecondLook};
use crate::emulate::{ArgHow, Emulated, Emulator, Handle, NotEstablished};
use crate::event::decode::Decoded;
use crate::event::{ReadMem, SyscallEvent};
use crate::sys::{self, Answer};

/// How the kernel takes the argument of an [`IOCTLS`] request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoctlArg {
    /// None (`_IO`): tiercel passes 0.
    None,
    /// The argument register is a descriptor number in the caller's table (`FICLONE`'s
    /// source): tiercel duplicates that descriptor and passes its own number.
    SrcFd,
    /// A pointer to `_IOC_SIZE` bytes of which the kernel reads the first `reads` (and
    /// writes nothing back); `src_fd_at`: the offset of an `s64` source descriptor number
    /// in them (`FICLONERANGE`), replaced by tiercel's duplicate's.
    Mem {
        reads: usize,
        src_fd_at: Option<usize>,
    },
}

/// An inode-changing ioctl request tiercel performs on the caller's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlReq {
    pub name: &'static str,
    pub request: u64,
    pub arg: IoctlArg,
}

const fn mem(reads: usize) -> IoctlArg {
    IoctlArg::Mem {
        reads,
        src_fd_at: None,
    }
}

/// The inode-changing requests tiercel performs: those whose argument is nothing, a
/// descriptor number or a fixed-size struct without pointers that the kernel only reads.
/// Each is performed with the same request number on a `pidfd_getfd` duplicate of the
/// caller's descriptor (the same open file description, so the kernel's `f_mode` checks
/// are the caller's) with the caller's credentials, so the file system's handler gives
/// the caller's result, whatever it does with the request (`FS_IOC32_SETFLAGS` and
/// `FS_IOC32_SETVERSION` are compat aliases most native handlers answer `ENOTTY`).
/// `reads` is what the handlers read (`get_user` of an `int` for the flag and version
/// requests, `copy_from_user` of the struct for the others): the caller's memory is
/// read that far, so a short buffer fails where the kernel's would.
///
/// Not performed (refused when a deny rule could match): `FS_IOC_SET_ENCRYPTION_POLICY`
/// (its size depends on its first byte, v1 or v2), `FS_IOC_ENABLE_VERITY` (its struct
/// holds pointers to the salt and signature in the caller's memory),
/// `EXT4_IOC_MOVE_EXT` (`_IOWR`: the kernel writes `moved_len` back into the caller's
/// memory, which tiercel does not write; and it changes the donor file too).
pub const IOCTLS: &[IoctlReq] = &[
    IoctlReq {
        name: "FS_IOC_SETFLAGS",
        request: 0x4008_6602,
        arg: mem(4),
    },
    IoctlReq {
        name: "FS_IOC32_SETFLAGS",
        request: 0x4004_6602,
        arg: mem(4),
    },
    IoctlReq {
        name: "FS_IOC_FSSETXATTR",
        request: 0x401c_5820,
        arg: mem(28),
    },
    IoctlReq {
        name: "FS_IOC_SETVERSION",
        request: 0x4008_7602,
        arg: mem(4),
    },
    IoctlReq {
        name: "FS_IOC32_SETVERSION",
        request: 0x4004_7602,
        arg: mem(4),
    },
    IoctlReq {
        name: "EXT4_IOC_SETVERSION",
        request: 0x4008_6604,
        arg: mem(4),
    },
    IoctlReq {
        name: "FICLONE",
        request: 0x4004_9409,
        arg: IoctlArg::SrcFd,
    },
    IoctlReq {
        name: "FICLONERANGE",
        request: 0x4020_940d,
        arg: IoctlArg::Mem {
            reads: 32,
            src_fd_at: Some(0),
        },
    },
    IoctlReq {
        name: "FS_IOC_SETFSLABEL",
        request: 0x4100_9432,
        arg: mem(256),
    },
    IoctlReq {
        name: "FS_IOC_RESVSP",
        request: 0x4030_5828,
        arg: mem(48),
    },
    IoctlReq {
        name: "FS_IOC_RESVSP64",
        request: 0x4030_582a,
        arg: mem(48),
    },
    IoctlReq {
        name: "FS_IOC_UNRESVSP",
        request: 0x4030_5829,
        arg: mem(48),
    },
    IoctlReq {
        name: "FS_IOC_UNRESVSP64",
        request: 0x4030_582b,
        arg: mem(48),
    },
    IoctlReq {
        name: "FS_IOC_ZERO_RANGE",
        request: 0x4030_5839,
        arg: mem(48),
    },
    IoctlReq {
        name: "EXT4_IOC_SWAP_BOOT",
        request: 0x6611,
        arg: IoctlArg::None,
    },
    IoctlReq {
        name: "EXT4_IOC_MIGRATE",
        request: 0x6609,
        arg: IoctlArg::None,
    },
];

/// The inode-changing ioctl requests (the preset's `tiercel_inode_change_ioctls`): the
/// performed ones ([`IOCTLS`]) and the refused ones.
pub const IOCTLS_NOTIFIED: &[(&str, u64)] = &[
    ("FS_IOC_SETFLAGS", 0x4008_6602),
    ("FS_IOC32_SETFLAGS", 0x4004_6602),
    ("FS_IOC_FSSETXATTR", 0x401c_5820),
    ("FS_IOC_SETVERSION", 0x4008_7602),
    ("FS_IOC32_SETVERSION", 0x4004_7602),
    ("EXT4_IOC_SETVERSION", 0x4008_6604),
    ("FICLONE", 0x4004_9409),
    ("FICLONERANGE", 0x4020_940d),
    ("FS_IOC_SET_ENCRYPTION_POLICY", 0x800c_6613),
    ("FS_IOC_ENABLE_VERITY", 0x4080_6685),
    ("FS_IOC_SETFSLABEL", 0x4100_9432),
    ("FS_IOC_RESVSP", 0x4030_5828),
    ("FS_IOC_RESVSP64", 0x4030_582a),
    ("FS_IOC_UNRESVSP", 0x4030_5829),
    ("FS_IOC_UNRESVSP64", 0x4030_582b),
    ("FS_IOC_ZERO_RANGE", 0x4030_5839),
    ("EXT4_IOC_MOVE_EXT", 0xc028_660f),
    ("EXT4_IOC_SWAP_BOOT", 0x6611),
    ("EXT4_IOC_MIGRATE", 0x6609),
];

/// The performed request `request` (the kernel compares the low 32 bits).
pub fn ioctl_req(request: u64) -> Option<&'static IoctlReq> {
    IOCTLS
        .iter()
        .find(|r| r.request == u64::from(lo32(request)))
}

/// What kind of object a call acts on, for the calls tiercel performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// open, openat, openat2, creat ([`crate::emulate::open_for_caller`]).
    Open,
    /// A call with path arguments that changes them.
    Paths,
    /// A call that changes the object behind its descriptor.
    Fd,
}

/// The calls performed on the caller's behalf, by kernel name.
pub fn kind(d: &Decoded) -> Option<Kind> {
    Some(match d.kname? {
        "open" | "openat" | "openat2" | "creat" => Kind::Open,
        "rename" | "renameat" | "renameat2" | "link" | "linkat" | "symlink" | "symlinkat"
        | "unlink" | "unlinkat" | "rmdir" | "mkdir" | "mkdirat" | "mknod" | "mknodat" | "chmod"
        | "fchmodat" | "fchmodat2" | "chown" | "lchown" | "fchownat" | "truncate" | "utime"
        | "utimes" | "futimesat" | "setxattr" | "lsetxattr" | "removexattr" | "lremovexattr"
            if !d.paths.is_empty() =>
        {
            Kind::Paths
        }
        "utimensat" if !d.paths.is_empty() => Kind::Paths,
        "utimensat" | "fchmod" | "fchown" | "ftruncate" | "fsetxattr" | "fremovexattr"
        | "ioctl"
            if d.use_fd.is_some() =>
        {
            Kind::Fd
        }
        _ => return None,
    })
}

/// How each path argument of a [`Kind::Paths`] call is established: the directory entry
/// (calls that create, remove or rename it) or the object (the last symlink followed as
/// the call follows it).
pub fn arg_hows(d: &Decoded) -> Vec<ArgHow> {
    let entry = |root_errno| ArgHow::Entry { root_errno };
    let k = d.kname.unwrap_or("");
    d.paths
        .iter()
        .enumerate()
        .map(|(i, p)| match k {
            "rename" | "renameat" | "renameat2" => entry(libc::EBUSY),
            "link" | "linkat" if i == 0 && p.follow_last => ArgHow::Object { follow: true },
            "link" | "linkat" if i == 0 => entry(libc::EPERM),
            "link" | "linkat" | "symlink" | "symlinkat" | "mkdir" | "mkdirat" | "mknod"
            | "mknodat" => entry(libc::EEXIST),
            "rmdir" => entry(libc::EBUSY),
            "unlink" => entry(libc::EISDIR),
            "unlinkat" if lo32(d.args[2]) & libc::AT_REMOVEDIR as u32 != 0 => entry(libc::EBUSY),
            "unlinkat" => entry(libc::EISDIR),
            _ => ArgHow::Object {
                follow: p.follow_last,
            },
        })
        .collect()
}

fn lo32(v: u64) -> u32 {
    (v & 0xffff_ffff) as u32
}

/// Largest xattr name (`XATTR_NAME_MAX`) and value (`XATTR_SIZE_MAX`).
const XATTR_NAME_MAX: usize = 255;
const XATTR_SIZE_MAX: usize = 65536;
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// The arguments of the call besides its paths, read and checked as the kernel does
/// before it looks a path up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Unlink {
        flags: i32,
    },
    Mkdir {
        mode: u32,
    },
    Mknod {
        mode: u32,
        dev: u32,
    },
    Rename {
        flags: u32,
    },
    Link {
        flags: i32,
    },
    Symlink {
        target: Vec<u8>,
    },
    Chmod {
        mode: u32,
        nofollow: bool,
    },
    Chown {
        uid: u32,
        gid: u32,
    },
    Truncate {
        len: i64,
    },
    /// `None`: now (a NULL times pointer).
    Utimes {
        times: Option<[(i64, i64); 2]>,
    },
    SetXattr {
        name: Vec<u8>,
        value: Vec<u8>,
        flags: i32,
    },
    RemoveXattr {
        name: Vec<u8>,
    },
    /// An [`IOCTLS`] request with its argument (for [`IoctlArg::Mem`]: `_IOC_SIZE`
    /// bytes, the part the kernel reads copied from the caller, the rest zero) and the
    /// caller's source descriptor number (`FICLONE`, `FICLONERANGE`), duplicated before
    /// the call.
    Ioctl {
        request: u64,
        arg: Vec<u8>,
        src_fd: Option<i32>,
    },
    /// A call tiercel cannot perform (a notified ioctl request not in [`IOCTLS`]).
    Refuse,
}

fn ts(sec: i64, nsec: i64) -> (i64, i64) {
    (sec, nsec)
}

fn timespecs(t: &Option<[(i64, i64); 2]>) -> Option<[libc::timespec; 2]> {
    t.map(|t| {
        t.map(|(s, n)| libc::timespec {
            tv_sec: s,
            tv_nsec: n,
        })
    })
}

fn i64_at(b: &[u8], i: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i * 8..i * 8 + 8]);
    i64::from_ne_bytes(a)
}

fn read_exact(mem: &dyn ReadMem, addr: u64, n: usize) -> Result<Vec<u8>, i32> {
    let mut b = vec![0u8; n];
    if addr == 0 {
        return Err(libc::EFAULT);
    }
    match mem.read(addr, &mut b) {
        Ok(k) if k == n => Ok(b),
        _ => Err(libc::EFAULT),
    }
}

fn xattr_name(mem: &dyn ReadMem, addr: u64) -> Result<Vec<u8>, i32> {
    match mem.read_cstr(addr, XATTR_NAME_MAX) {
        Ok(n) if n.is_empty() => Err(libc::ERANGE),
        Ok(n) => Ok(n),
        Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => Err(libc::ERANGE),
        Err(_) => Err(libc::EFAULT),
    }
}

/// The `times` of utimensat (`timespec[2]`), utimes/futimesat (`timeval[2]`) or utime
/// (`utimbuf`) as timespecs; `Ok(None)` for a NULL pointer. Errors as the kernel's.
fn read_times(mem: &dyn ReadMem, kname: &str, addr: u64) -> Result<Option<[(i64, i64); 2]>, i32> {
    if addr == 0 {
        return Ok(None);
    }
    let b = read_exact(mem, addr, if kname == "utime" { 16 } else { 32 })?;
    Ok(Some(match kname {
        "utime" => [ts(i64_at(&b, 0), 0), ts(i64_at(&b, 1), 0)],
        "utimes" | "futimesat" => {
            let (u0, u1) = (i64_at(&b, 1), i64_at(&b, 3));
            if !(0..1_000_000).contains(&u0) || !(0..1_000_000).contains(&u1) {
                return Err(libc::EINVAL);
            }
            [ts(i64_at(&b, 0), u0 * 1000), ts(i64_at(&b, 2), u1 * 1000)]
        }
        _ => [
            ts(i64_at(&b, 0), i64_at(&b, 1)),
            ts(i64_at(&b, 2), i64_at(&b, 3)),
        ],
    }))
}

fn nsec_valid(n: i64) -> bool {
    (0..1_000_000_000).contains(&n) || n == UTIME_NOW || n == UTIME_OMIT
}

/// What the call does besides its paths, from its registers and the caller's memory;
/// `Err(errno)` where the kernel fails it before looking a path up, `Ok(None)` where it
/// succeeds without doing anything (utimensat with both times `UTIME_OMIT`).
pub fn op_of(d: &Decoded, mem: &dyn ReadMem) -> Result<Option<Op>, i32> {
    let a = d.args;
    let k = d.kname.unwrap_or("");
    let at_flags = |i: usize, allowed: i32| {
        let f = lo32(a[i]) as i32;
        if f & !allowed != 0 {
            Err(libc::EINVAL)
        } else {
            Ok(f)
        }
    };
    let nofollow_empty = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    Ok(Some(match k {
        "unlink" => Op::Unlink { flags: 0 },
        "rmdir" => Op::Unlink {
            flags: libc::AT_REMOVEDIR,
        },
        "unlinkat" => Op::Unlink {
            flags: at_flags(2, libc::AT_REMOVEDIR)?,
        },
        "mkdir" => Op::Mkdir { mode: lo32(a[1]) },
        "mkdirat" => Op::Mkdir { mode: lo32(a[2]) },
        "mknod" | "mknodat" => {
            let (mode, dev) = if k == "mknod" {
                (lo32(a[1]), lo32(a[2]))
            } else {
                (lo32(a[2]), lo32(a[3]))
            };
            match mode & libc::S_IFMT {
                0
                | libc::S_IFREG
                | libc::S_IFCHR
                | libc::S_IFBLK
                | libc::S_IFIFO
                | libc::S_IFSOCK => {}
                libc::S_IFDIR => return Err(libc::EPERM),
                _ => return Err(libc::EINVAL),
            }
            Op::Mknod { mode, dev }
        }
        "rename" | "renameat" => Op::Rename { flags: 0 },
        "renameat2" => {
            let f = lo32(a[4]);
            let (nr, ex, wo) = (
                libc::RENAME_NOREPLACE,
                libc::RENAME_EXCHANGE,
                libc::RENAME_WHITEOUT,
            );
            if f & !(nr | ex | wo) != 0 || (f & (nr | wo) != 0 && f & ex != 0) {
                return Err(libc::EINVAL);
            }
            Op::Rename { flags: f }
        }
        "link" => Op::Link { flags: 0 },
        "linkat" => Op::Link {
            flags: at_flags(4, libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH)?,
        },
        "symlink" | "symlinkat" => {
            let t = mem
                .read_cstr(a[0], libc::PATH_MAX as usize - 1)
                .map_err(|e| match e.raw_os_error() {
                    Some(libc::ENAMETOOLONG) => libc::ENAMETOOLONG,
                    _ => libc::EFAULT,
                })?;
            if t.is_empty() {
                return Err(libc::ENOENT);
            }
            Op::Symlink { target: t }
        }
        "chmod" => Op::Chmod {
            mode: lo32(a[1]),
            nofollow: false,
        },
        "fchmodat" => Op::Chmod {
            mode: lo32(a[2]),
            nofollow: false,
        },
        "fchmodat2" => Op::Chmod {
            mode: lo32(a[2]),
            nofollow: at_flags(3, nofollow_empty)? & libc::AT_SYMLINK_NOFOLLOW != 0,
        },
        "chown" | "lchown" => Op::Chown {
            uid: lo32(a[1]),
            gid: lo32(a[2]),
        },
        "fchownat" => {
            at_flags(4, nofollow_empty)?;
            Op::Chown {
                uid: lo32(a[2]),
                gid: lo32(a[3]),
            }
        }
        "truncate" => {
            let len = a[1] as i64;
            if len < 0 {
                return Err(libc::EINVAL);
            }
            Op::Truncate { len }
        }
        "utime" | "utimes" | "futimesat" | "utimensat" => {
            let ptr = match k {
                "utime" | "utimes" => a[1],
                _ => a[2],
            };
            let times = read_times(mem, k, ptr)?;
            if k == "utimensat" {
                if let Some(t) = &times {
                    if t[0].1 == UTIME_OMIT && t[1].1 == UTIME_OMIT {
                        return Ok(None);
                    }
                }
                if d.paths.is_empty() {
                    // futimens: flags must be 0 with a NULL path.
                    if lo32(a[3]) != 0 {
                        return Err(libc::EINVAL);
                    }
                } else {
                    at_flags(3, nofollow_empty)?;
                }
            }
            if let Some(t) = &times {
                if !nsec_valid(t[0].1) || !nsec_valid(t[1].1) {
                    return Err(libc::EINVAL);
                }
            }
            Op::Utimes { times }
        }
        "setxattr" | "lsetxattr" | "fsetxattr" => {
            let flags = lo32(a[4]) as i32;
            if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
                return Err(libc::EINVAL);
            }
            let name = xattr_name(mem, a[1])?;
            let size = a[3] as usize;
            if size > XATTR_SIZE_MAX {
                return Err(libc::E2BIG);
            }
            let value = if size == 0 {
                Vec::new()
            } else {
                read_exact(mem, a[2], size)?
            };
            Op::SetXattr { name, value, flags }
        }
        "removexattr" | "lremovexattr" | "fremovexattr" => Op::RemoveXattr {
            name: xattr_name(mem, a[1])?,
        },
        "fchmod" => Op::Chmod {
            mode: lo32(a[1]),
            nofollow: false,
        },
        "fchown" => Op::Chown {
            uid: lo32(a[1]),
            gid: lo32(a[2]),
        },
        "ftruncate" => {
            let len = a[1] as i64;
            if len < 0 {
                return Err(libc::EINVAL);
            }
            Op::Truncate { len }
        }
        "ioctl" => match ioctl_req(a[1]) {
            Some(r) => ioctl_op(r, a[2], mem)?,
            None => Op::Refuse,
        },
        _ => return Err(libc::ENOSYS),
    }))
}

/// The argument of `r` read from the caller (`arg`: its register).
fn ioctl_op(r: &IoctlReq, arg: u64, mem: &dyn ReadMem) -> Result<Op, i32> {
    Ok(match r.arg {
        IoctlArg::None => Op::Ioctl {
            request: r.request,
            arg: Vec::new(),
            src_fd: None,
        },
        // `ioctl_file_clone(filp, arg, ...)`: an `int srcfd`.
        IoctlArg::SrcFd => Op::Ioctl {
            request: r.request,
            arg: Vec::new(),
            src_fd: Some(lo32(arg) as i32),
        },
        IoctlArg::Mem { reads, src_fd_at } => {
            let size = ((r.request >> 16) & 0x3fff) as usize;
            let mut b = read_exact(mem, arg, reads)?;
            b.resize(size.max(reads), 0);
            // `struct file_clone_range.src_fd` is an `__s64` passed on as an `int`.
            let src_fd = src_fd_at.map(|o| i64_at(&b[o..o + 8], 0) as i32);
            Op::Ioctl {
                request: r.request,
                arg: b,
                src_fd,
            }
        }
    })
}

/// Performs the ioctl `request` on `f` with the argument of [`ioctl_op`], `src` being
/// tiercel's duplicate of the caller's source descriptor.
fn perform_ioctl(
    f: BorrowedFd<'_>,
    request: u64,
    arg: &[u8],
    src: Option<BorrowedFd<'_>>,
) -> io::Result<i64> {
    let r = ioctl_req(request).ok_or_else(einval)?;
    match r.arg {
        IoctlArg::None => sys::ioctl_value(f, request, 0),
        IoctlArg::SrcFd => {
            let s = src.ok_or_else(einval)?;
            sys::ioctl_value(f, request, s.as_raw_fd() as u64)
        }
        IoctlArg::Mem { src_fd_at, .. } => {
            let mut arg = arg.to_vec();
            if let Some(o) = src_fd_at {
                let s = src.ok_or_else(einval)?;
                let o = o..o + 8;
                arg.get_mut(o)
                    .ok_or_else(einval)?
                    .copy_from_slice(&i64::from(s.as_raw_fd()).to_ne_bytes());
            }
            sys::ioctl_write(f, request, &arg)
        }
    }
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

fn self_fd(fd: BorrowedFd<'_>) -> String {
    format!("self/fd/{}", fd.as_raw_fd())
}

/// `truncate` of the object behind an `O_PATH` handle: the kernel's checks on the kind,
/// then a write open through the handle (the access check against the caller's
/// credentials, `ETXTBSY`, append-only and immutable files) and `ftruncate`.
fn truncate_handle(proc_: BorrowedFd<'_>, h: BorrowedFd<'_>, len: i64) -> io::Result<()> {
    let st = sys::fstatat(Some(h), b"", true)?;
    match st.kind() {
        libc::S_IFDIR => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
        libc::S_IFREG => {}
        _ => return Err(einval()),
    }
    let f = sys::reopen(Some(proc_), h, libc::O_WRONLY)?;
    sys::ftruncate(f.as_fd(), len)
}

/// Performs `op` on the established handles (with the caller's credentials in place).
fn perform_paths(proc_: BorrowedFd<'_>, op: &Op, h: &[Handle]) -> io::Result<()> {
    let entry = |i: usize| match h.get(i) {
        Some(Handle::Entry { dir, name }) => Ok((dir.as_fd(), name.as_slice())),
        _ => Err(einval()),
    };
    let object = |i: usize| match h.get(i) {
        Some(Handle::Object(fd)) => Ok(fd.as_fd()),
        _ => Err(einval()),
    };
    let proc_path = |fd: BorrowedFd<'_>| format!("/proc/self/fd/{}", fd.as_raw_fd());
    match op {
        Op::Unlink { flags } => {
            let (d, n) = entry(0)?;
            sys::unlinkat(d, n, *flags)
        }
        Op::Mkdir { mode } => {
            let (d, n) = entry(0)?;
            sys::mkdirat(d, n, *mode)
        }
        Op::Mknod { mode, dev } => {
            let (d, n) = entry(0)?;
            sys::mknodat(d, n, *mode, *dev)
        }
        Op::Rename { flags } => {
            let ((d1, n1), (d2, n2)) = (entry(0)?, entry(1)?);
            sys::renameat2(d1, n1, d2, n2, *flags)
        }
        Op::Symlink { target } => {
            let (d, n) = entry(0)?;
            sys::symlinkat(target, d, n)
        }
        Op::Link { flags } => {
            let (d2, n2) = entry(1)?;
            match &h[0] {
                Handle::Entry { dir, name } => sys::linkat(Some(dir.as_fd()), name, d2, n2, 0),
                // AT_EMPTY_PATH: the kernel's own rule for linking a descriptor applies.
                Handle::Object(fd) if flags & libc::AT_EMPTY_PATH != 0 => {
                    sys::linkat(Some(fd.as_fd()), b"", d2, n2, libc::AT_EMPTY_PATH)
                }
                // AT_SYMLINK_FOLLOW: the object, through tiercel's own magic link.
                Handle::Object(fd) => sys::linkat(
                    Some(proc_),
                    self_fd(fd.as_fd()).as_bytes(),
                    d2,
                    n2,
                    libc::AT_SYMLINK_FOLLOW,
                ),
            }
        }
        Op::Chmod { mode, nofollow } => {
            let fd = object(0)?;
            let nf = if *nofollow {
                libc::AT_SYMLINK_NOFOLLOW as u32
            } else {
                0
            };
            match sys::fchmodat2(Some(fd), b"", *mode, libc::AT_EMPTY_PATH as u32 | nf) {
                // Before Linux 6.6: through the magic link (the object, never re-resolved).
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    sys::fchmodat2(None, proc_path(fd).as_bytes(), *mode, 0).or_else(|e| {
                        if e.raw_os_error() == Some(libc::ENOSYS) {
                            sys::chmod_path(proc_path(fd).as_bytes(), *mode)
                        } else {
                            Err(e)
                        }
                    })
                }
                r => r,
            }
        }
        Op::Chown { uid, gid } => {
            sys::fchownat(Some(object(0)?), b"", *uid, *gid, libc::AT_EMPTY_PATH)
        }
        Op::Truncate { len } => truncate_handle(proc_, object(0)?, *len),
        Op::Utimes { times } => sys::utimensat(
            Some(object(0)?),
            Some(b""),
            timespecs(times).as_ref(),
            libc::AT_EMPTY_PATH,
        ),
        Op::SetXattr { name, value, flags } => {
            sys::setxattr(proc_path(object(0)?).as_bytes(), name, value, *flags, false)
        }
        Op::RemoveXattr { name } => sys::removexattr(proc_path(object(0)?).as_bytes(), name, false),
        // Descriptor calls only.
        Op::Ioctl { .. } | Op::Refuse => Err(einval()),
    }
}

/// Performs `op` on a duplicate of the caller's descriptor (`src`: the duplicate of an
/// ioctl's source descriptor).
fn perform_fd(op: &Op, f: BorrowedFd<'_>, src: Option<BorrowedFd<'_>>) -> io::Result<()> {
    match op {
        Op::Chmod { mode, .. } => sys::fchmod(f, *mode),
        Op::Chown { uid, gid } => sys::fchown(f, *uid, *gid),
        Op::Truncate { len } => sys::ftruncate(f, *len),
        Op::Utimes { times } => sys::utimensat(Some(f), None, timespecs(times).as_ref(), 0),
        Op::SetXattr { name, value, flags } => sys::fsetxattr(f, name, value, *flags),
        Op::RemoveXattr { name } => sys::fremovexattr(f, name),
        Op::Ioctl { request, arg, .. } => perform_ioctl(f, *request, arg, src).map(|_| ()),
        _ => Err(einval()),
    }
}

fn not_established(e: NotEstablished, ev: &SyscallEvent, errno: i32) -> Emulated {
    match e {
        NotEstablished::Fail(e) => Emulated::Answer(Answer::Errno(e), SecondLook::None),
        NotEstablished::Unknown(why) => {
            tracing::debug!(evt = ev.type_name(), "object not established: {why}");
            Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown)
        }
    }
}

/// Whether `op` changes the object it names (its inode), rather than a directory entry.
fn changes_object(op: &Op) -> bool {
    matches!(
        op,
        Op::Chmod { .. }
            | Op::Chown { .. }
            | Op::Truncate { .. }
            | Op::Utimes { .. }
            | Op::SetXattr { .. }
            | Op::RemoveXattr { .. }
            | Op::Ioctl { .. }
    )
}

/// The whole call on the caller's behalf, for a decision with [`Decision::object`]
/// (`crate::decide`) in enforce mode: opens go to [`crate::emulate::open_for_caller`];
/// the other calls of [`kind`] are established, checked to still be the caller's
/// (`id_valid`), decided on their objects, and performed.
pub fn for_caller(
    em: &mut Emulator,
    event: &SyscallEvent,
    mem: &dyn ReadMem,
    decider: &Decider,
    mode: Mode,
    scratch: &mut Scratch,
    id_valid: impl Fn() -> bool,
) -> Emulated {
    let d = event.decoded();
    let errno = decider.policy().errno;
    let k = match kind(d) {
        Some(Kind::Open) => {
            return crate::emulate::open_for_caller(em, event, decider, mode, scratch, id_valid)
        }
        Some(k) => k,
        None => return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown),
    };
    let op = match op_of(d, mem) {
        Ok(Some(op)) => op,
        Ok(None) => {
            return if id_valid() {
                Emulated::Answer(Answer::Value(0), SecondLook::None)
            } else {
                Emulated::Gone
            }
        }
        Err(e) => {
            return if id_valid() {
                Emulated::Answer(Answer::Errno(e), SecondLook::None)
            } else {
                Emulated::Gone
            }
        }
    };
    if op == Op::Refuse {
        tracing::debug!(
            evt = event.type_name(),
            "a call tiercel cannot perform, and a deny rule could match it"
        );
        return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
    }
    if k == Kind::Fd {
        let Some(fd) = d.use_fd else {
            return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
        };
        let file = em.caller_file(event, fd);
        // An ioctl's source descriptor (read, not changed: the rules decide on `fd`).
        let src = match &op {
            Op::Ioctl {
                src_fd: Some(s), ..
            } => Some(
                sys::pidfd_open_task(event.tid()).and_then(|p| sys::pidfd_getfd(p.as_fd(), *s)),
            ),
            _ => None,
        };
        if !id_valid() {
            return Emulated::Gone;
        }
        let file = match file {
            Ok(f) => f,
            Err(e) => return not_established(e, event, errno),
        };
        // The rules decided on `fd.name` as read from the caller's table; the duplicate
        // must be that file (another thread may have `dup2`ed another one in between).
        let seen = match tiercel_rules::event::Event::extract(
            event,
            tiercel_rules::fields::Field::FdName,
            &tiercel_rules::fields::FieldArg::None,
        ) {
            Some(tiercel_rules::event::Value::Str(s)) => s.into_owned(),
            _ => String::new(),
        };
        if seen != String::from_utf8_lossy(&file.path) {
            tracing::debug!(
                evt = event.type_name(),
                "the descriptor changed between the decision and its duplicate"
            );
            return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
        }
        if let Some(why) = em.aliased(file.file.as_fd()) {
            tracing::debug!(evt = event.type_name(), "{why}");
            return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
        }
        let src = match src {
            None => None,
            Some(Ok(s)) => Some(s),
            // What `fdget(srcfd)` answers for a descriptor the caller does not have.
            Some(Err(e)) if e.raw_os_error() == Some(libc::EBADF) => {
                return Emulated::Answer(Answer::Errno(libc::EBADF), SecondLook::None)
            }
            Some(Err(e)) => {
                tracing::debug!(evt = event.type_name(), "source descriptor: {e}");
                return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
            }
        };
        let src = src.as_ref().map(|s| s.as_fd());
        return match em.as_file_caller(&file, |_| perform_fd(&op, file.file.as_fd(), src)) {
            Ok(()) => Emulated::Answer(Answer::Value(0), SecondLook::None),
            Err(e) => Emulated::Answer(Answer::Errno(e), SecondLook::None),
        };
    }
    let hows = arg_hows(d);
    let est = em.establish_args(event, &hows);
    if !id_valid() {
        return Emulated::Gone;
    }
    let est = match est {
        Ok(e) => e,
        Err(e) => return not_established(e, event, errno),
    };
    if !event.set_resolved_paths(est.resolved.iter().cloned().map(Ok).collect()) {
        return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
    }
    let second = decider.decide_object(event, mode, scratch);
    if let SecondLook::Rule(_) = second {
        return Emulated::Answer(Answer::Errno(errno), second);
    }
    if let Op::Mknod { mode, dev } = op {
        if let Some(ty) = crate::devices::DevType::of_mode(mode) {
            let (major, minor) = crate::devices::new_decode_dev(dev);
            if !em
                .devices()
                .allows(ty, major, minor, crate::devices::ACC_MKNOD)
            {
                // The container's device cgroup refuses it (tiercel's own does not).
                return Emulated::Answer(Answer::Errno(libc::EPERM), SecondLook::None);
            }
        }
    }
    if changes_object(&op) {
        for h in &est.handles {
            if let Handle::Object(fd) = h {
                if let Some(why) = em.aliased(fd.as_fd()) {
                    tracing::debug!(evt = event.type_name(), "{why}");
                    return Emulated::Answer(Answer::Errno(errno), SecondLook::Unknown);
                }
            }
        }
    }
    match em.as_caller(&est, |p| perform_paths(p, &op, &est.handles)) {
        Ok(()) => Emulated::Answer(Answer::Value(0), SecondLook::None),
        Err(e) => Emulated::Answer(Answer::Errno(e), SecondLook::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;

    fn decoded(name: &str, args: [u64; 6], m: &BufMem) -> Decoded {
        // The decoder needs a live caller for its /proc reads: this process.
        let ev = builder()
            .build(&notif(std::process::id(), name, args), m)
            .unwrap();
        ev.decoded().clone()
    }

    #[test]
    fn kinds_and_argument_handling() {
        let mut m = BufMem::new(0x1000);
        let a = m.put_cstr(b"/tmp/a");
        let b = m.put_cstr(b"/bin/b");
        let cwd = libc::AT_FDCWD as i64 as u64;
        let d = decoded("renameat2", [cwd, a, cwd, b, 0, 0], &m);
        assert_eq!(kind(&d), Some(Kind::Paths));
        assert_eq!(
            arg_hows(&d),
            vec![
                ArgHow::Entry {
                    root_errno: libc::EBUSY
                };
                2
            ]
        );
        let d = decoded(
            "linkat",
            [cwd, a, cwd, b, libc::AT_SYMLINK_FOLLOW as u64, 0],
            &m,
        );
        assert_eq!(
            arg_hows(&d),
            vec![
                ArgHow::Object { follow: true },
                ArgHow::Entry {
                    root_errno: libc::EEXIST
                }
            ]
        );
        let d = decoded(
            "fchownat",
            [cwd, a, 0, 0, libc::AT_SYMLINK_NOFOLLOW as u64, 0],
            &m,
        );
        assert_eq!(arg_hows(&d), vec![ArgHow::Object { follow: false }]);
        let d = decoded("chmod", [a, 0o755, 0, 0, 0, 0], &m);
        assert_eq!(arg_hows(&d), vec![ArgHow::Object { follow: true }]);
        assert_eq!(
            op_of(&d, &m),
            Ok(Some(Op::Chmod {
                mode: 0o755,
                nofollow: false
            }))
        );
        let d = decoded("unlinkat", [cwd, a, libc::AT_REMOVEDIR as u64, 0, 0, 0], &m);
        assert_eq!(
            arg_hows(&d),
            vec![ArgHow::Entry {
                root_errno: libc::EBUSY
            }]
        );
        let d = decoded("fchmod", [1, 0o600, 0, 0, 0, 0], &m);
        assert_eq!(kind(&d), Some(Kind::Fd));
        // utimensat(fd, NULL, ...) is futimens.
        let d = decoded("utimensat", [1, 0, 0, 0, 0, 0], &m);
        assert_eq!(kind(&d), Some(Kind::Fd));
        assert_eq!(op_of(&d, &m), Ok(Some(Op::Utimes { times: None })));
        let d = decoded("getpid", [0; 6], &m);
        assert_eq!(kind(&d), None);
        // ioctl: the performed requests read their argument; others are refused.
        let flags = m.put(&0x80i32.to_ne_bytes());
        let d = decoded("ioctl", [1, 0x4008_6602, flags, 0, 0, 0], &m);
        assert_eq!(
            op_of(&d, &m),
            Ok(Some(Op::Ioctl {
                request: 0x4008_6602,
                arg: vec![0x80, 0, 0, 0, 0, 0, 0, 0],
                src_fd: None,
            }))
        );
        // musl's sign-extended request is the same request.
        let d = decoded("ioctl", [1, 0xffff_ffff_4004_6602, flags, 0, 0, 0], &m);
        assert_eq!(
            op_of(&d, &m),
            Ok(Some(Op::Ioctl {
                request: 0x4004_6602,
                arg: vec![0x80, 0, 0, 0],
                src_fd: None,
            }))
        );
        let d = decoded("ioctl", [1, 0x401c_5820, flags, 0, 0, 0], &m);
        assert_eq!(op_of(&d, &m), Err(libc::EFAULT), "28 bytes, 4 readable");
        let d = decoded("ioctl", [1, 0x4028_660f, flags, 0, 0, 0], &m);
        assert_eq!(op_of(&d, &m), Ok(Some(Op::Refuse)), "not a listed request");
        for refused in [0xc028_660f, 0x800c_6613, 0x4080_6685] {
            let d = decoded("ioctl", [1, refused, flags, 0, 0, 0], &m);
            assert_eq!(op_of(&d, &m), Ok(Some(Op::Refuse)), "{refused:x}");
        }
    }

    #[test]
    fn ioctl_arguments_per_request() {
        let mut m = BufMem::new(0x1000);
        let op =
            |req: u64, arg: u64, m: &BufMem| op_of(&decoded("ioctl", [3, req, arg, 0, 0, 0], m), m);
        // FICLONE: the register is the source descriptor (an int), no memory read.
        assert_eq!(
            op(0x4004_9409, 0xffff_ffff_0000_0007, &m),
            Ok(Some(Op::Ioctl {
                request: 0x4004_9409,
                arg: vec![],
                src_fd: Some(7),
            }))
        );
        // FICLONERANGE: 32 bytes, src_fd the first s64.
        let mut fcr = Vec::new();
        for v in [-5i64, 4096, 8192, 0] {
            fcr.extend_from_slice(&v.to_ne_bytes());
        }
        let p = m.put(&fcr);
        assert_eq!(
            op(0x4020_940d, p, &m),
            Ok(Some(Op::Ioctl {
                request: 0x4020_940d,
                arg: fcr.clone(),
                src_fd: Some(-5),
            }))
        );
        assert_eq!(op(0x4020_940d, 0, &m), Err(libc::EFAULT));
        // SETVERSION: an int read, padded to _IOC_SIZE (8 for the long forms).
        let v = m.put(&7i32.to_ne_bytes());
        for (req, size) in [(0x4008_7602, 8), (0x4004_7602, 4), (0x4008_6604, 8)] {
            let mut want = vec![7, 0, 0, 0];
            want.resize(size, 0);
            assert_eq!(
                op(req, v, &m),
                Ok(Some(Op::Ioctl {
                    request: req,
                    arg: want,
                    src_fd: None,
                })),
                "{req:x}"
            );
        }
        // No argument: nothing read, even from a NULL or bad pointer.
        for req in [0x6611, 0x6609] {
            assert_eq!(
                op(req, 0xdead, &m),
                Ok(Some(Op::Ioctl {
                    request: req,
                    arg: vec![],
                    src_fd: None,
                }))
            );
        }
        // The fallocate-style requests and the label: their whole struct.
        let z = m.put(&[1u8; 256]);
        for (req, n) in [
            (0x4030_5828, 48),
            (0x4030_582a, 48),
            (0x4030_5829, 48),
            (0x4030_582b, 48),
            (0x4030_5839, 48),
            (0x4100_9432, 256),
        ] {
            match op(req, z, &m) {
                Ok(Some(Op::Ioctl { arg, src_fd, .. })) => {
                    assert_eq!((arg, src_fd), (vec![1u8; n], None), "{req:x}")
                }
                o => panic!("{req:x}: {o:?}"),
            }
        }
    }

    #[test]
    fn ioctl_table_sizes_are_the_requests() {
        for r in IOCTLS {
            let size = ((r.request >> 16) & 0x3fff) as usize;
            match r.arg {
                IoctlArg::Mem { reads, src_fd_at } => {
                    assert!(reads <= size && reads > 0, "{}", r.name);
                    assert!(src_fd_at.is_none_or(|o| o + 8 <= reads), "{}", r.name);
                    assert_eq!(r.request >> 30, 1, "{}: _IOW", r.name);
                }
                IoctlArg::SrcFd => assert_eq!(r.request >> 30, 1, "{}: _IOW", r.name),
                IoctlArg::None => assert_eq!(r.request >> 30, 0, "{}: _IO", r.name),
            }
            assert!(IOCTLS_NOTIFIED.iter().any(|(_, q)| *q == r.request));
        }
        // The preset's list is exactly IOCTLS_NOTIFIED.
        let preset = include_str!("../../examples/rules/protect-binary-dirs.yaml");
        let list = preset
            .split("- list: tiercel_inode_change_ioctls")
            .nth(1)
            .unwrap();
        let items: Vec<u64> = list
            .lines()
            .skip(2)
            .map_while(|l| l.trim().strip_prefix("- \""))
            .map(|l| u64::from_str_radix(&l[..l.find('"').unwrap()], 16).unwrap())
            .collect();
        let mut want: Vec<u64> = IOCTLS_NOTIFIED.iter().map(|(_, q)| *q).collect();
        let mut got = items.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        // Performed on a real file: FS_IOC_SETFLAGS with the flags it already has.
        let p = std::env::temp_dir().join(format!("tiercel-ioctl-{}", std::process::id()));
        std::fs::write(&p, b"x").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let mut cur = [0u8; 8];
        // SETFLAGS with EXTENTS_FL, what ext4 gives a new file (the temp directory here):
        // no change, allowed for the owner. Other file systems answer with their errno.
        cur[..4].copy_from_slice(&0x80000i32.to_ne_bytes());
        let r = crate::sys::ioctl_write(f.as_fd(), 0x4008_6602, &cur);
        match r {
            Ok(v) => assert_eq!(v, 0),
            Err(e) => {
                eprintln!("FS_IOC_SETFLAGS here: {e}");
                assert!(matches!(
                    e.raw_os_error(),
                    Some(libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::EPERM)
                ))
            }
        }
        cur[0] = 0;
        assert_eq!(
            crate::sys::ioctl_write(f.as_fd(), 0x4008_6602, &cur[..2])
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EINVAL),
            "a buffer shorter than _IOC_SIZE is refused before the call"
        );
        let _ = std::fs::remove_file(&p);
    }

    /// FICLONE/FICLONERANGE performed with tiercel's duplicate of the source: the
    /// kernel's result with the real source descriptor (whatever the file system
    /// answers), never the caller's number (here a descriptor nobody has).
    #[test]
    fn ioctl_clone_source_is_translated() {
        use std::os::fd::AsRawFd as _;
        let dir = std::env::temp_dir().join(format!("tiercel-clone-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let data = vec![0x5au8; 8192];
        std::fs::write(dir.join("src"), &data).unwrap();
        let src = std::fs::File::open(dir.join("src")).unwrap();
        let rw = |n: &str| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(dir.join(n))
                .unwrap()
        };
        let err = |r: io::Result<i64>| r.map_err(|e| e.raw_os_error());
        // FICLONE: the kernel's own result on one file, tiercel's on another.
        let (k, t) = (rw("k"), rw("t"));
        let kern = err(sys::ioctl_value(
            k.as_fd(),
            0x4004_9409,
            src.as_raw_fd() as u64,
        ));
        let op = ioctl_op(&IOCTLS[6], 1_000_000, &BufMem::new(16)).unwrap();
        let Op::Ioctl {
            request,
            arg,
            src_fd,
        } = op
        else {
            panic!("{op:?}")
        };
        assert_eq!((IOCTLS[6].name, src_fd), ("FICLONE", Some(1_000_000)));
        let ours = err(perform_ioctl(t.as_fd(), request, &arg, Some(src.as_fd())));
        assert_eq!(ours, kern);
        assert_eq!(
            std::fs::read(dir.join("t")).unwrap(),
            std::fs::read(dir.join("k")).unwrap()
        );
        eprintln!("FICLONE here: {kern:?}");
        // FICLONERANGE over the first 4096 bytes.
        let (k, t) = (rw("k2"), rw("t2"));
        let mut m = BufMem::new(0x100);
        let fcr = |fd: i64| {
            let mut b = Vec::new();
            for v in [fd, 0, 4096, 0] {
                b.extend_from_slice(&v.to_ne_bytes());
            }
            b
        };
        let kern = err(sys::ioctl_write(
            k.as_fd(),
            0x4020_940d,
            &fcr(i64::from(src.as_raw_fd())),
        ));
        let p = m.put(&fcr(1_000_000));
        let op = op_of(&decoded("ioctl", [3, 0x4020_940d, p, 0, 0, 0], &m), &m);
        let Ok(Some(Op::Ioctl {
            request,
            arg,
            src_fd,
        })) = op
        else {
            panic!("{op:?}")
        };
        assert_eq!(src_fd, Some(1_000_000));
        let ours = err(perform_ioctl(t.as_fd(), request, &arg, Some(src.as_fd())));
        assert_eq!(ours, kern);
        assert_eq!(
            std::fs::read(dir.join("t2")).unwrap(),
            std::fs::read(dir.join("k2")).unwrap()
        );
        eprintln!("FICLONERANGE here: {kern:?}");
        // Without a source duplicate the clone requests are not performed.
        assert_eq!(
            err(perform_ioctl(t.as_fd(), request, &arg, None)),
            Err(Some(libc::EINVAL))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn early_errors_are_the_kernels() {
        let mut m = BufMem::new(0x2000);
        let a = m.put_cstr(b"/tmp/a");
        let cwd = libc::AT_FDCWD as i64 as u64;
        let e = |n: &str, args: [u64; 6], m: &BufMem| op_of(&decoded(n, args, m), m);
        assert_eq!(e("unlinkat", [cwd, a, 1, 0, 0, 0], &m), Err(libc::EINVAL));
        let both = (libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE) as u64;
        assert_eq!(
            e("renameat2", [cwd, a, cwd, a, both, 0], &m),
            Err(libc::EINVAL)
        );
        assert_eq!(
            e("linkat", [cwd, a, cwd, a, 0x8000, 0], &m),
            Err(libc::EINVAL)
        );
        assert_eq!(
            e("truncate", [a, u64::MAX, 0, 0, 0, 0], &m),
            Err(libc::EINVAL)
        );
        assert_eq!(
            e("mknod", [a, libc::S_IFDIR as u64, 0, 0, 0, 0], &m),
            Err(libc::EPERM)
        );
        // xattrs: empty or overlong names, oversized values, unknown flags.
        let empty = m.put_cstr(b"");
        let long = m.put_cstr(&[b'x'; 300]);
        let name = m.put_cstr(b"user.t");
        let val = m.put_cstr(b"value");
        assert_eq!(
            e("setxattr", [a, empty, val, 1, 0, 0], &m),
            Err(libc::ERANGE)
        );
        assert_eq!(
            e("setxattr", [a, long, val, 1, 0, 0], &m),
            Err(libc::ERANGE)
        );
        assert_eq!(
            e("setxattr", [a, name, val, 70000, 0, 0], &m),
            Err(libc::E2BIG)
        );
        assert_eq!(
            e("setxattr", [a, name, val, 1, 4, 0], &m),
            Err(libc::EINVAL)
        );
        assert_eq!(
            e("setxattr", [a, name, val, 5, 0, 0], &m),
            Ok(Some(Op::SetXattr {
                name: b"user.t".to_vec(),
                value: b"value".to_vec(),
                flags: 0
            }))
        );
        assert_eq!(e("setxattr", [a, name, 8, 5, 0, 0], &m), Err(libc::EFAULT));
        // symlink: an empty target is ENOENT.
        assert_eq!(e("symlink", [empty, a, 0, 0, 0, 0], &m), Err(libc::ENOENT));
        // utimensat: both UTIME_OMIT succeeds without a lookup; bad nanoseconds.
        let mut t = Vec::new();
        for v in [0i64, UTIME_OMIT, 0, UTIME_OMIT] {
            t.extend_from_slice(&v.to_ne_bytes());
        }
        let omit = m.put(&t);
        assert_eq!(e("utimensat", [cwd, a, omit, 0, 0, 0], &m), Ok(None));
        let mut t = Vec::new();
        for v in [0i64, 2_000_000_000, 0, 0] {
            t.extend_from_slice(&v.to_ne_bytes());
        }
        let bad = m.put(&t);
        assert_eq!(
            e("utimensat", [cwd, a, bad, 0, 0, 0], &m),
            Err(libc::EINVAL)
        );
        // utimes: microseconds beyond a second.
        let mut t = Vec::new();
        for v in [5i64, 1_000_000, 6, 0] {
            t.extend_from_slice(&v.to_ne_bytes());
        }
        let bad = m.put(&t);
        assert_eq!(e("utimes", [a, bad, 0, 0, 0, 0], &m), Err(libc::EINVAL));
    }

    /// Path-changing calls for a real process (`sh` → `sleep` in a temp cwd, fd 5 on
    /// `d`), decided by real rules, performed by tiercel. Root only.
    mod real {
        use super::super::*;
        use crate::decide::Decider;
        use crate::event::testutil::*;
        use std::os::unix::fs::MetadataExt;

        fn decider(dir: &str) -> Decider {
            let rules = format!(
                "- rule: protected\n  desc: d\n  condition: >\n    (evt.type in (rename, renameat2, link, linkat, mkdir, unlink, unlinkat, chmod, fchmodat2, symlink, setxattr, truncate, utimensat, lchown)\n     and (evt.arg.oldpath pmatch ({dir}/prot) or evt.arg.newpath pmatch ({dir}/prot) or evt.arg.path pmatch ({dir}/prot)\n          or evt.arg.name pmatch ({dir}/prot) or evt.arg.filename pmatch ({dir}/prot) or evt.arg.linkpath pmatch ({dir}/prot)))\n    or (evt.type in (fchmod, ftruncate) and fd.name pmatch ({dir}/prot))\n  output: p\n  priority: ERROR\n"
            );
            Decider::for_tests(&rules)
        }

        fn run(t: &Target, d: &Decider, name: &str, args: [u64; 6], m: &BufMem) -> Emulated {
            let ev = builder()
                .build(&notif(t.child.id(), name, args), m)
                .unwrap();
            let mut sc = Scratch::default();
            let dec = d.decide(&ev, Mode::Enforce, &mut sc);
            if dec.verdict.deny.is_some() {
                return Emulated::Answer(dec.answer, SecondLook::Rule(usize::MAX));
            }
            assert!(dec.object, "{name}: decided on its objects");
            let mut em = Emulator::new();
            for_caller(&mut em, &ev, m, d, Mode::Enforce, &mut sc, || true)
        }

        fn ok(e: Emulated) {
            assert!(
                matches!(e, Emulated::Answer(Answer::Value(0), SecondLook::None)),
                "expected success: {e:?}"
            );
        }

        fn denied(e: Emulated) {
            assert!(
                matches!(
                    e,
                    Emulated::Answer(Answer::Errno(libc::EPERM), SecondLook::Rule(_))
                ),
                "expected a deny: {e:?}"
            );
        }

        #[test]
        fn path_calls_decide_on_their_objects_and_are_performed_as_the_caller() {
            if crate::emulate::supported().is_err() {
                eprintln!("SKIP: {:?}", crate::emulate::supported());
                return;
            }
            std::thread::spawn(|| {
                let t = target("perform");
                let dir = t.dir.to_string_lossy().to_string();
                std::fs::create_dir_all(t.dir.join("prot")).unwrap();
                std::os::unix::fs::symlink(format!("{dir}/prot"), t.dir.join("alias")).unwrap();
                std::fs::write(t.dir.join("prot/existing"), b"keep").unwrap();
                std::fs::write(t.dir.join("d/f"), b"hello").unwrap();
                let d = decider(&dir);
                let mut m = BufMem::new(0x1000);
                let cwd = libc::AT_FDCWD as i64 as u64;
                // mkdir relative to the caller's cwd: performed with its umask (022).
                let p = m.put_cstr(b"d/new");
                ok(run(&t, &d, "mkdir", [p, 0o777, 0, 0, 0, 0], &m));
                assert_eq!(
                    std::fs::metadata(t.dir.join("d/new")).unwrap().mode() & 0o777,
                    0o755
                );
                // Through a symlinked directory into the protected one: refused on the
                // object, nothing created.
                let p = m.put_cstr(b"alias/evil");
                denied(run(&t, &d, "mkdir", [p, 0o777, 0, 0, 0, 0], &m));
                assert!(!t.dir.join("prot/evil").exists());
                // rename: into the protected directory refused, elsewhere performed.
                let a = m.put_cstr(b"d/new");
                let b = m.put_cstr(b"alias/moved");
                denied(run(&t, &d, "rename", [a, b, 0, 0, 0, 0], &m));
                let b = m.put_cstr(b"d/new2/");
                ok(run(&t, &d, "rename", [a, b, 0, 0, 0, 0], &m));
                assert!(t.dir.join("d/new2").is_dir());
                // The kernel's errors: ENOENT, EEXIST, ENOTEMPTY, ENOTDIR.
                let p = m.put_cstr(b"missing");
                assert!(matches!(
                    run(&t, &d, "unlinkat", [5, p, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::ENOENT), SecondLook::None)
                ));
                let p = m.put_cstr(b"d/new2");
                assert!(matches!(
                    run(&t, &d, "mkdir", [p, 0o777, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EEXIST), _)
                ));
                let p = m.put_cstr(b"d");
                assert!(matches!(
                    run(
                        &t,
                        &d,
                        "unlinkat",
                        [cwd, p, libc::AT_REMOVEDIR as u64, 0, 0, 0],
                        &m
                    ),
                    Emulated::Answer(Answer::Errno(libc::ENOTEMPTY), _)
                ));
                let p = m.put_cstr(b"d/f/");
                assert!(matches!(
                    run(&t, &d, "unlink", [p, 0, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::ENOTDIR), _)
                ));
                // unlinkat through the caller's fd 5 (= d), rmdir of the renamed one.
                let p = m.put_cstr(b"new2");
                ok(run(
                    &t,
                    &d,
                    "unlinkat",
                    [5, p, libc::AT_REMOVEDIR as u64, 0, 0, 0],
                    &m,
                ));
                assert!(!t.dir.join("d/new2").exists());
                // chmod: refused through the alias, performed on d/f.
                let p = m.put_cstr(b"alias/existing");
                denied(run(&t, &d, "chmod", [p, 0o4777, 0, 0, 0, 0], &m));
                let p = m.put_cstr(b"d/f");
                ok(run(&t, &d, "chmod", [p, 0o600, 0, 0, 0, 0], &m));
                assert_eq!(
                    std::fs::metadata(t.dir.join("d/f")).unwrap().mode() & 0o777,
                    0o600
                );
                // truncate and utimensat on the object.
                ok(run(&t, &d, "truncate", [p, 2, 0, 0, 0, 0], &m));
                assert_eq!(std::fs::read(t.dir.join("d/f")).unwrap(), b"he");
                let mut times = Vec::new();
                for v in [100i64, 0, 200, 0] {
                    times.extend_from_slice(&v.to_ne_bytes());
                }
                let tp = m.put(&times);
                ok(run(&t, &d, "utimensat", [cwd, p, tp, 0, 0, 0], &m));
                assert_eq!(std::fs::metadata(t.dir.join("d/f")).unwrap().mtime(), 200);
                let q = m.put_cstr(b"alias/existing");
                denied(run(&t, &d, "truncate", [q, 0, 0, 0, 0, 0], &m));
                assert_eq!(std::fs::read(t.dir.join("prot/existing")).unwrap(), b"keep");
                // symlink and hard link into the protected directory: refused.
                let tg = m.put_cstr(b"/etc/passwd");
                let l = m.put_cstr(b"alias/l");
                denied(run(&t, &d, "symlink", [tg, l, 0, 0, 0, 0], &m));
                let l2 = m.put_cstr(b"d/l");
                ok(run(&t, &d, "symlink", [tg, l2, 0, 0, 0, 0], &m));
                assert_eq!(
                    std::fs::read_link(t.dir.join("d/l")).unwrap(),
                    std::path::PathBuf::from("/etc/passwd")
                );
                denied(run(&t, &d, "link", [p, l, 0, 0, 0, 0], &m));
                // A symlink to the protected directory as a rename's source directory.
                let a = m.put_cstr(b"alias/existing");
                let b = m.put_cstr(b"d/stolen");
                denied(run(&t, &d, "rename", [a, b, 0, 0, 0, 0], &m));
                assert!(t.dir.join("prot/existing").exists());
                // fchmod on the caller's fd 5 (d): decided on the duplicate, performed.
                ok(run(&t, &d, "fchmod", [5, 0o700, 0, 0, 0, 0], &m));
                assert_eq!(
                    std::fs::metadata(t.dir.join("d")).unwrap().mode() & 0o777,
                    0o700
                );
                // A closed descriptor: the kernel's EBADF.
                assert!(matches!(
                    run(&t, &d, "fchmod", [77, 0o700, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EBADF), _)
                ));
                // xattrs: whatever the kernel answers for the same call here.
                let n = m.put_cstr(b"user.tiercel");
                let v = m.put(b"1");
                let want = match crate::sys::setxattr(
                    t.dir.join("d/l").as_os_str().as_encoded_bytes(),
                    b"user.tiercel",
                    b"1",
                    0,
                    false,
                ) {
                    Ok(()) => 0,
                    Err(e) => e.raw_os_error().unwrap_or(0),
                };
                let got = match run(&t, &d, "setxattr", [p, n, v, 1, 0, 0], &m) {
                    Emulated::Answer(Answer::Value(0), _) => 0,
                    Emulated::Answer(Answer::Errno(e), _) => e,
                    other => panic!("setxattr: {other:?}"),
                };
                assert_eq!(got, want, "setxattr as the kernel");
                // The thread got its own root and credentials back.
                assert_eq!(
                    std::fs::read_link("/proc/thread-self/root").unwrap(),
                    std::path::PathBuf::from("/")
                );
                assert_eq!(crate::sys::set_fsuid(u32::MAX), 0);
            })
            .join()
            .unwrap();
        }

        #[test]
        fn a_non_root_caller_gets_the_kernels_refusals() {
            if crate::emulate::supported().is_err() {
                return;
            }
            std::thread::spawn(|| {
                let dir =
                    std::env::temp_dir().join(format!("tiercel-perf-nr-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(dir.join("open")).unwrap();
                std::fs::create_dir_all(dir.join("closed")).unwrap();
                std::fs::write(dir.join("rootfile"), b"r").unwrap();
                use std::os::unix::fs::PermissionsExt;
                let mode = |p: &std::path::Path, m| {
                    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
                };
                mode(&dir, 0o755);
                mode(&dir.join("open"), 0o777);
                mode(&dir.join("closed"), 0o755);
                mode(&dir.join("rootfile"), 0o644);
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
                let p = m.put_cstr(b"open/mine");
                ok(run(&t, &d, "mkdir", [p, 0o750, 0, 0, 0, 0], &m));
                let md = std::fs::metadata(dir.join("open/mine")).unwrap();
                assert_eq!((md.uid(), md.gid()), (65534, 65534), "the caller owns it");
                let p = m.put_cstr(b"closed/x");
                assert!(matches!(
                    run(&t, &d, "mkdir", [p, 0o750, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EACCES), SecondLook::None)
                ));
                let p = m.put_cstr(b"rootfile");
                assert!(matches!(
                    run(&t, &d, "chmod", [p, 0o777, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EPERM), SecondLook::None)
                ));
                assert!(matches!(
                    run(&t, &d, "truncate", [p, 0, 0, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EACCES), SecondLook::None)
                ));
                assert!(matches!(
                    run(&t, &d, "lchown", [p, 65534, 65534, 0, 0, 0], &m),
                    Emulated::Answer(Answer::Errno(libc::EPERM), SecondLook::None)
                ));
                assert_eq!(std::fs::read(dir.join("rootfile")).unwrap(), b"r");
                assert!(!dir.join("closed/x").exists());
                assert_eq!(crate::sys::set_fsuid(u32::MAX), 0);
            })
            .join()
            .unwrap();
        }
    }
}
