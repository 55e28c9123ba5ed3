//! The supervisor's only `unsafe`: thin, safe wrappers over the system calls the notify
//! loop and the listenerPath server need (seccomp notification ioctls, `poll`,
//! `recvmsg` with `SCM_RIGHTS`, `SO_PEERCRED`, `process_vm_readv`, signal masks, and
//! `pidfd_getfd` to ask the kernel about a container's socket).
//!
//! Every wrapper takes and returns `OwnedFd`/`BorrowedFd`, never a bare descriptor
//! number, and every `unsafe` block states why it is sound.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// One seccomp notification, as received (`struct seccomp_notif`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notif {
    pub id: u64,
    /// Thread id of the caller, in the supervisor's pid namespace.
    pub pid: u32,
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    pub nr: i32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// What [`Listener::wait`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// A notification is pending: [`Listener::recv`] will not block.
    Pending,
    /// Every task using the filter is gone (or the fd failed): the session ends.
    Closed,
    /// The shutdown fd became readable.
    Shutdown,
    /// Nothing happened within the timeout.
    Timeout,
}

/// What the notify loop needs from a listener: the kernel's ([`NotifyFd`]) or, in unit
/// tests, an in-memory one (`sys::fake`). Sessions are generic over it (no dynamic
/// dispatch on the hot path).
pub trait Listener {
    /// Waits (`timeout_ms < 0`: forever) until a notification is pending, the filter has
    /// no task left, or `shutdown` is readable. `EINTR` is returned to the caller.
    fn wait(&self, shutdown: Option<BorrowedFd<'_>>, timeout_ms: i32) -> io::Result<Ready>;
    /// `SECCOMP_IOCTL_NOTIF_RECV`; `ENOENT` when the caller went away before the copy.
    fn recv(&self) -> io::Result<Notif>;
    /// `SECCOMP_IOCTL_NOTIF_SEND`; `ENOENT` when the caller was interrupted or died.
    fn send(&self, id: u64, answer: Answer) -> io::Result<()>;
    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`: `Ok(true)` while the notification is pending.
    fn id_valid(&self, id: u64) -> io::Result<bool>;
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, where available.
    fn set_sync_wakeup(&self) -> io::Result<()>;
    /// `SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SEND`: installs a duplicate
    /// of `fd` in the caller (`O_CLOEXEC` when `cloexec`) and answers the notification
    /// with its number, atomically (Linux 5.14). `ENOENT`: the caller is gone; any other
    /// error leaves the notification unanswered.
    fn addfd_send(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> io::Result<i32>;
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (uapi `linux/seccomp.h`, Linux 6.6).
pub const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Size of the zeroed buffers handed to RECV/SEND: the kernel copies *its* struct size,
/// which may be larger than the one this program was built with.
const NOTIF_BUF: usize = 512;

#[repr(C, align(8))]
struct AlignedBuf([u8; NOTIF_BUF]);

/// The kernel's `struct seccomp_notif_sizes`, queried once.
#[derive(Debug, Clone, Copy)]
pub struct NotifSizes {
    pub notif: usize,
    pub resp: usize,
    pub data: usize,
}

/// `seccomp(SECCOMP_GET_NOTIF_SIZES)`, cached. Fails when the kernel has no user
/// notification or reports sizes larger than the buffers used here.
pub fn notif_sizes() -> io::Result<NotifSizes> {
    static SIZES: OnceLock<Result<NotifSizes, i32>> = OnceLock::new();
    let r = SIZES.get_or_init(|| {
        let mut s = MaybeUninit::<libc::seccomp_notif_sizes>::zeroed();
        // SAFETY: SECCOMP_GET_NOTIF_SIZES writes one `struct seccomp_notif_sizes` to the
        // pointer, which points to a live, writable value of exactly that type.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_GET_NOTIF_SIZES as libc::c_ulong,
                0 as libc::c_ulong,
                s.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        // SAFETY: the call succeeded, so the kernel initialised the struct (it was also
        // zeroed beforehand, so every byte is initialised either way).
        let s = unsafe { s.assume_init() };
        let sizes = NotifSizes {
            notif: usize::from(s.seccomp_notif),
            resp: usize::from(s.seccomp_notif_resp),
            data: usize::from(s.seccomp_data),
        };
        if sizes.notif > NOTIF_BUF || sizes.resp > NOTIF_BUF {
            return Err(libc::E2BIG);
        }
        Ok(sizes)
    });
    r.map_err(io::Error::from_raw_os_error)
}

/// A seccomp user-notification listener fd (`anon_inode:seccomp notify`).
#[derive(Debug)]
pub struct NotifyFd {
    fd: OwnedFd,
}

impl AsFd for NotifyFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What an answer to a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Run the call (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
    /// Fail the call with this (positive) errno; it never runs.
    Errno(i32),
    /// The call's result, performed by the supervisor on the caller's behalf: the call
    /// returns this value (`SEND` with `val`, `error` 0) and the kernel does not run it.
    Value(i64),
}

impl NotifyFd {
    /// Wraps an fd; checks that it really is a seccomp notify fd.
    pub fn new(fd: OwnedFd) -> io::Result<NotifyFd> {
        if !is_seccomp_notify_fd(fd.as_fd()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "received fd is not a seccomp notify fd",
            ));
        }
        notif_sizes()?;
        Ok(NotifyFd { fd })
    }

    /// `SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)`. `EINVAL` or
    /// `ENOTTY` on kernels before 6.6: the caller falls back to the default wake-up.
    pub fn set_sync_wakeup(&self) -> io::Result<()> {
        // SAFETY: SET_FLAGS takes its flags by value in the ioctl argument (despite the
        // `_IOW` encoding); no memory is passed. The fd is a live, owned descriptor.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP as libc::c_ulong,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `SECCOMP_IOCTL_NOTIF_RECV`. Blocks when nothing is pending (poll first).
    /// `ENOENT`: the caller was interrupted or died before the copy; receive again.
    pub fn recv(&self) -> io::Result<Notif> {
        notif_sizes()?;
        let mut buf = AlignedBuf([0u8; NOTIF_BUF]);
        // SAFETY: `buf` is a zeroed, 8-aligned, writable buffer of NOTIF_BUF bytes, at
        // least as large as the kernel's `struct seccomp_notif` (checked in notif_sizes),
        // so the kernel's copy_to_user stays inside it.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                buf.0.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the buffer is 8-aligned, initialised (zeroed, then written by the
        // kernel) and larger than `seccomp_notif`, a plain-old-data struct for which any
        // bit pattern is valid.
        let n: libc::seccomp_notif =
            unsafe { std::ptr::read(buf.0.as_ptr().cast::<libc::seccomp_notif>()) };
        Ok(Notif {
            id: n.id,
            pid: n.pid,
            arch: n.data.arch,
            nr: n.data.nr,
            instruction_pointer: n.data.instruction_pointer,
            args: n.data.args,
        })
    }

    /// `SECCOMP_IOCTL_NOTIF_SEND`. `ENOENT`: the caller was interrupted (the call will be
    /// re-issued with a new id) or died.
    pub fn send(&self, id: u64, answer: Answer) -> io::Result<()> {
        notif_sizes()?;
        let resp = match answer {
            Answer::Continue => libc::seccomp_notif_resp {
                id,
                val: 0,
                error: 0,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            },
            Answer::Errno(e) => libc::seccomp_notif_resp {
                id,
                val: 0,
                error: -e.abs(),
                flags: 0,
            },
            Answer::Value(v) => libc::seccomp_notif_resp {
                id,
                val: v,
                error: 0,
                flags: 0,
            },
        };
        let mut buf = AlignedBuf([0u8; NOTIF_BUF]);
        // SAFETY: `seccomp_notif_resp` is plain old data no larger than the aligned
        // buffer; writing it at offset 0 stays in bounds.
        unsafe { std::ptr::write(buf.0.as_mut_ptr().cast::<libc::seccomp_notif_resp>(), resp) };
        // SAFETY: the kernel reads its `struct seccomp_notif_resp` (at most NOTIF_BUF
        // bytes, checked in notif_sizes) from the live buffer; the rest is zero.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                buf.0.as_mut_ptr(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`: `Ok(true)` while the notification is pending.
    pub fn id_valid(&self, id: u64) -> io::Result<bool> {
        // SAFETY: ID_VALID reads one u64 from the pointer, which points to a live local.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
                &id as *const u64,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            Ok(false)
        } else {
            Err(e)
        }
    }
}

impl Listener for NotifyFd {
    fn wait(&self, shutdown: Option<BorrowedFd<'_>>, timeout_ms: i32) -> io::Result<Ready> {
        let (ev, stop) = poll2(self.fd.as_fd(), shutdown, POLLIN, timeout_ms)?;
        Ok(if stop != 0 {
            Ready::Shutdown
        } else if ev & POLLIN != 0 {
            Ready::Pending
        } else if ev & (POLLHUP | POLLERR | POLLNVAL) != 0 {
            Ready::Closed
        } else {
            Ready::Timeout
        })
    }

    #[inline]
    fn recv(&self) -> io::Result<Notif> {
        NotifyFd::recv(self)
    }

    #[inline]
    fn send(&self, id: u64, answer: Answer) -> io::Result<()> {
        NotifyFd::send(self, id, answer)
    }

    #[inline]
    fn id_valid(&self, id: u64) -> io::Result<bool> {
        NotifyFd::id_valid(self, id)
    }

    fn set_sync_wakeup(&self) -> io::Result<()> {
        NotifyFd::set_sync_wakeup(self)
    }

    fn addfd_send(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> io::Result<i32> {
        let a = libc::seccomp_notif_addfd {
            id,
            flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
            srcfd: fd.as_raw_fd() as u32,
            newfd: 0,
            newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
        };
        // SAFETY: ADDFD reads one `struct seccomp_notif_addfd` from the pointer, which
        // points to a live, fully initialised local; `fd` is borrowed for the call.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ADDFD as _,
                &a as *const libc::seccomp_notif_addfd,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }
}

/// True when `fd` is a seccomp user-notification fd (`anon_inode:seccomp notify`).
pub fn is_seccomp_notify_fd(fd: BorrowedFd<'_>) -> bool {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    match std::fs::read_link(path) {
        Ok(target) => target.as_os_str().as_encoded_bytes() == b"anon_inode:seccomp notify",
        Err(_) => false,
    }
}

/// Events for [`poll`].
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLHUP: i16 = libc::POLLHUP;
pub const POLLERR: i16 = libc::POLLERR;
pub const POLLNVAL: i16 = libc::POLLNVAL;

/// `poll(2)` on up to two fds; returns their `revents`. `timeout_ms < 0` waits forever.
/// `EINTR` is returned to the caller.
pub fn poll2(
    a: BorrowedFd<'_>,
    b: Option<BorrowedFd<'_>>,
    events: i16,
    timeout_ms: i32,
) -> io::Result<(i16, i16)> {
    let mut fds = [
        libc::pollfd {
            fd: a.as_raw_fd(),
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: b.map_or(-1, |b| b.as_raw_fd()),
            events,
            revents: 0,
        },
    ];
    let n: libc::nfds_t = if b.is_some() { 2 } else { 1 };
    // SAFETY: `fds` is a live array of `n` (≤ 2) initialised pollfd structs; the fds are
    // borrowed for the duration of the call, so they stay open.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), n, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0].revents, fds[1].revents))
}

/// Maximum number of fds accepted in one `SCM_RIGHTS` message; more are discarded by
/// the kernel (`MSG_CTRUNC`).
pub const MAX_RECV_FDS: usize = 8;

/// What one [`recv_with_fds`] call returned.
#[derive(Debug)]
pub struct RecvFds {
    /// Bytes of payload; 0 at EOF.
    pub len: usize,
    /// Control data was truncated (more fds than [`MAX_RECV_FDS`]); the extra fds were
    /// dropped by the kernel.
    pub truncated: bool,
}

/// `recvmsg(2)` with `MSG_CMSG_CLOEXEC`, collecting `SCM_RIGHTS` fds into `fds` (each one
/// owned, so anything the caller does not keep is closed).
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<RecvFds> {
    // u64 storage keeps the control buffer aligned for cmsghdr.
    const CMSG_WORDS: usize = 64;
    let mut cbuf = [0u64; CMSG_WORDS];
    // SAFETY: CMSG_SPACE is a pure computation on its argument.
    let space = unsafe { libc::CMSG_SPACE((MAX_RECV_FDS * size_of::<libc::c_int>()) as u32) };
    let space = (space as usize).min(CMSG_WORDS * 8);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points to one live iovec over `buf` and to a live, aligned control
    // buffer of `space` bytes; the kernel writes only inside them.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let truncated = msg.msg_flags & libc::MSG_CTRUNC != 0;
    // SAFETY: `msg` was filled by a successful recvmsg; the CMSG_* macros walk the
    // control buffer within msg_controllen, which the kernel set to what it wrote.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR returned a non-null header inside the buffer.
        let hdr = unsafe { &*cmsg };
        if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: pure computation of the header length for zero payload bytes.
            let base = unsafe { libc::CMSG_LEN(0) } as usize;
            let payload = (hdr.cmsg_len as usize).saturating_sub(base);
            let count = payload / size_of::<libc::c_int>();
            // SAFETY: CMSG_DATA points at the payload of this header, which holds
            // `count` ints written by the kernel inside the control buffer.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<libc::c_int>();
            for i in 0..count {
                // SAFETY: `i < count`, inside the payload; read_unaligned because the
                // payload alignment is not guaranteed for `c_int` reads.
                let raw = unsafe { std::ptr::read_unaligned(data.add(i)) };
                if raw >= 0 {
                    // SAFETY: SCM_RIGHTS installed `raw` as a new descriptor owned by this
                    // process and nothing else refers to it: taking ownership is sound.
                    fds.push(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        // SAFETY: `cmsg` is a valid header within `msg`'s control buffer.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(RecvFds {
        len: n as usize,
        truncated,
    })
}

/// `sendmsg(2)` of `data` with `fds` in one `SCM_RIGHTS` message (at most
/// [`MAX_RECV_FDS`]); what a runtime does on the listenerPath socket. Returns the bytes sent.
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    if fds.len() > MAX_RECV_FDS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    const CMSG_WORDS: usize = 64;
    let mut cbuf = [0u64; CMSG_WORDS];
    let payload = (fds.len() * size_of::<libc::c_int>()) as u32;
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid (empty) value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        // SAFETY: pure computation on its argument.
        let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space.min(CMSG_WORDS * 8) as _;
        // SAFETY: the control buffer is live, aligned and at least CMSG_SPACE(payload)
        // bytes (≤ 8 fds), so the first header and its data lie inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
            let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
            for (i, fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned(data.add(i), fd.as_raw_fd());
            }
        }
    }
    // SAFETY: `msg` points to a live iovec over `data` (only read by the kernel) and to
    // the initialised control buffer; the fds are borrowed, so open, for the call.
    let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// The peer of a connected unix socket (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

pub fn peer_cred(sock: BorrowedFd<'_>) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED writes at most `len` bytes (one ucred) into the live local.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// This process's effective uid.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `process_vm_readv(2)` with one local and one remote iovec. The caller keeps the
/// remote range inside one page (a single remote iovec never splits: a range that
/// crosses into an unmapped page returns nothing).
pub fn vm_read(pid: u32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: the local iovec covers exactly the live, writable `buf`; the remote iovec is
    // only an address in the other process, checked by the kernel (EFAULT), never
    // dereferenced here.
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Runs `f` with `name` as a NUL-terminated C string, on the stack when short (the names
/// of `/proc/<tid>` entries: `stat`, `fd/12`), so per-event lookups do not allocate.
fn with_cstr<T>(name: &str, f: impl FnOnce(&std::ffi::CStr) -> io::Result<T>) -> io::Result<T> {
    let b = name.as_bytes();
    if b.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut buf = [0u8; 128];
    if b.len() < buf.len() {
        buf[..b.len()].copy_from_slice(b);
        let c = std::ffi::CStr::from_bytes_with_nul(&buf[..=b.len()])
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        f(c)
    } else {
        let c =
            std::ffi::CString::new(b).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        f(&c)
    }
}

/// `openat(dir, name, O_RDONLY | O_CLOEXEC | flags)`: an entry of an open directory,
/// without a path walk from `/` (per-event `/proc/<tid>/…` reads).
pub fn open_at(dir: BorrowedFd<'_>, name: &str, flags: i32) -> io::Result<OwnedFd> {
    with_cstr(name, |c| {
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call;
        // `dir` is a live descriptor borrowed for it; the result is a new descriptor we
        // own (or -1).
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC | flags,
            )
        };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            // SAFETY: `fd` was just returned by openat and is owned by nobody else.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    })
}

/// Opens `path` (a path in the container's view; absolute or relative, both taken from
/// `root`) inside the directory tree `root` with `openat2(RESOLVE_IN_ROOT |
/// RESOLVE_NO_MAGICLINKS)`: symlinks and `..` are resolved by the kernel as if `root` were
/// `/`, so no component (nor a race that swaps one, e.g. RENAME_EXCHANGE) reaches a host
/// file outside it, and procfs magic links are refused. `flags` are added to
/// `O_CLOEXEC | O_NOCTTY | O_NONBLOCK` (a FIFO or a device does not block the open), or
/// to `O_CLOEXEC` alone with `O_PATH`.
pub fn open_in_root(root: BorrowedFd<'_>, path: &[u8], flags: i32) -> io::Result<OwnedFd> {
    // `RESOLVE_IN_ROOT` treats a leading `/` as `root`; an empty path would open the root
    // itself only with AT_EMPTY_PATH semantics, which openat2 does not offer: use ".".
    let p: &[u8] = if path.iter().all(|c| *c == b'/') {
        b"."
    } else {
        path
    };
    let c = std::ffi::CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    openat2_in_root(root, &c, flags)
}

/// The kernel's `struct open_how` (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn openat2_in_root(root: BorrowedFd<'_>, c: &std::ffi::CStr, flags: i32) -> io::Result<OwnedFd> {
    // openat2 refuses (EINVAL) anything but O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC beside
    // O_PATH; an O_PATH open neither blocks nor acquires a terminal anyway.
    let base = if flags & libc::O_PATH != 0 {
        libc::O_CLOEXEC
    } else {
        libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK
    };
    let how = OpenHow {
        flags: (base | flags) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `c` is NUL-terminated and live for the call; `how` is a fully initialised
        // `struct open_how` (three u64, the kernel's layout) whose size is passed; `root` is a live descriptor borrowed for the
        // call; the result is a new descriptor we own (or -1).
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c.as_ptr(),
                &how as *const OpenHow,
                size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: a concurrent rename made the kernel's in-root walk unsure; retry.
            if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EAGAIN)) {
                continue;
            }
            return Err(e);
        }
        // SAFETY: `fd` was just returned by openat2 and is owned by nobody else.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as std::os::fd::RawFd) });
    }
}

/// A regular file of a container, read through [`open_in_root`]: at most `max` bytes, and
/// its identity (`fstat` of the descriptor read). Anything but a regular file (a FIFO, a
/// device, a directory) is refused with `EINVAL` before any read.
pub fn read_in_root(
    root: BorrowedFd<'_>,
    path: &[u8],
    max: usize,
) -> io::Result<(Vec<u8>, FileId)> {
    use std::io::Read;
    // Looked at before it is opened: opening a device node runs its driver's open
    // (a watchdog, a tape, a terminal becoming ours) with tiercel's privileges and outside
    // the container's device cgroup; only a regular file is reopened for reading, through
    // the handle (the same inode, no second walk).
    let h = open_in_root(root, path, libc::O_PATH)?;
    let md = std::fs::File::from(h.try_clone()?).metadata()?;
    if !md.file_type().is_file() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let id = FileId::of(&md);
    let f = std::fs::File::from(reopen(None, h.as_fd(), libc::O_RDONLY)?);
    let mut v = Vec::new();
    f.take(max as u64).read_to_end(&mut v)?;
    Ok((v, id))
}

/// Opens the object an `O_PATH` handle names with `flags` (through procfs's magic link
/// `fd/N`: the same inode, no path walk), non-blocking and without acquiring a terminal.
/// `proc`: a handle on `/proc` (needed while the thread's root is not the host's);
/// without it, `/proc/thread-self`.
pub fn reopen(proc: Option<BorrowedFd<'_>>, h: BorrowedFd<'_>, flags: i32) -> io::Result<OwnedFd> {
    let p = match proc {
        Some(_) => format!("self/fd/{}", h.as_raw_fd()),
        None => format!("/proc/thread-self/fd/{}", h.as_raw_fd()),
    };
    openat_mode(
        proc,
        p.as_bytes(),
        flags | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK,
        0,
    )
}

/// What identifies a version of a file for a change check: device, inode, size, mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileId {
    pub fn of(md: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
        }
    }
}

/// The identity of a container file without reading it (`O_PATH` through
/// [`open_in_root`], then `fstat`); `None` when it is missing or not a regular file.
pub fn stat_in_root(root: BorrowedFd<'_>, path: &[u8]) -> Option<FileId> {
    let f = std::fs::File::from(open_in_root(root, path, libc::O_PATH).ok()?);
    let md = f.metadata().ok()?;
    md.file_type().is_file().then(|| FileId::of(&md))
}

/// Returns the allocator's free memory to the kernel (`malloc_trim(0)`, every arena):
/// glibc keeps freed heap pages otherwise, so a container's tables freed at its end would
/// still count in the supervisor's RSS. musl (the static image build) has no such call and
/// returns large freed blocks by itself: nothing to do there.
pub fn malloc_trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes a padding size and only walks the allocator's own state;
    // it is thread-safe (it locks each arena).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `readlinkat(dir, name)`: the link's target, at most `max` bytes (ENAMETOOLONG if it
/// is longer).
pub fn read_link_at(dir: BorrowedFd<'_>, name: &str, max: usize) -> io::Result<Vec<u8>> {
    with_cstr(name, |c| {
        let mut buf = vec![0u8; max.saturating_add(1)];
        // SAFETY: `c` is NUL-terminated; `buf` is live and writable for `buf.len()` bytes,
        // which is the size passed; `dir` is borrowed for the call.
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n > max {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        buf.truncate(n);
        Ok(buf)
    })
}

/// `poll(2)` on any number of fds: `fds[i] = (fd, events)`; `revents` receives one entry
/// per fd. `timeout_ms < 0` waits forever; `EINTR` is returned to the caller.
pub fn poll_many(
    fds: &[(BorrowedFd<'_>, i16)],
    revents: &mut Vec<i16>,
    timeout_ms: i32,
) -> io::Result<usize> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|(fd, events)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: *events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a live array of `p.len()` initialised pollfd structs; the fds are
    // borrowed for the duration of the call, so they stay open.
    let rc = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    revents.clear();
    revents.extend(p.iter().map(|x| x.revents));
    Ok(rc as usize)
}

/// A shared, writable mapping of a memfd, seen as 64-bit atomic words. Processes that
/// map the same memfd see each other's stores (the keeper's in-flight records).
pub struct SharedWords {
    ptr: std::ptr::NonNull<std::sync::atomic::AtomicU64>,
    words: usize,
    fd: OwnedFd,
}

// SAFETY: the mapping is only accessed through `AtomicU64`s, which are Sync; the pointer
// stays valid until Drop unmaps it.
unsafe impl Send for SharedWords {}
// SAFETY: as above: shared access goes through atomics only.
unsafe impl Sync for SharedWords {}

impl std::fmt::Debug for SharedWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWords")
            .field("words", &self.words)
            .finish_non_exhaustive()
    }
}

impl SharedWords {
    /// A new zeroed memfd of `words` 64-bit words (`memfd_create` + `ftruncate`), mapped.
    pub fn create(name: &str, words: usize) -> io::Result<SharedWords> {
        let len = words
            .checked_mul(8)
            .filter(|&l| l > 0 && l <= 1 << 26)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let fd = with_cstr(name, |c| {
            // SAFETY: `c` is a valid NUL-terminated string for the duration of the call;
            // the result is a new descriptor we own (or -1).
            let fd = unsafe { libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: a fresh descriptor returned by memfd_create, owned by nobody else.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            }
        })?;
        // SAFETY: ftruncate on a descriptor we own; no memory is passed.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        SharedWords::map(fd, words)
    }

    /// Maps a memfd received from another process; it must hold at least `words` words.
    pub fn map(fd: OwnedFd, words: usize) -> io::Result<SharedWords> {
        let len = words
            .checked_mul(8)
            .filter(|&l| l > 0 && l <= 1 << 26)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut st = MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: fstat writes one `struct stat` into the live, zeroed value.
        if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fstat succeeded, so the struct is initialised (it was zeroed anyway).
        let st = unsafe { st.assume_init() };
        if (st.st_mode & libc::S_IFMT) != libc::S_IFREG || (st.st_size as u64) < len as u64 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: a new shared mapping of `len` bytes of a regular file at least that long;
        // the kernel picks the address; nothing else is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast::<std::sync::atomic::AtomicU64>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(SharedWords { ptr, words, fd })
    }

    /// The words (page-aligned, so 8-aligned; zero-filled by the kernel at creation).
    #[inline]
    pub fn words(&self) -> &[std::sync::atomic::AtomicU64] {
        // SAFETY: the mapping is `words * 8` bytes, readable and writable, aligned to a
        // page, and lives as long as `self`; AtomicU64 has the size and alignment of u64
        // and any bit pattern is a valid value; all access is atomic, so other processes
        // writing concurrently is no data race.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.words) }
    }

    /// The memfd (to send to another process).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; no reference into it outlives
        // `self` (`words` borrows `self`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.words * 8) };
    }
}

/// A set of signals blocked in this thread (and inherited by threads spawned after).
#[derive(Clone, Copy)]
pub struct BlockedSignals {
    set: libc::sigset_t,
}

impl std::fmt::Debug for BlockedSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockedSignals")
    }
}

/// Blocks `signals` in the calling thread, so that [`BlockedSignals::wait`] can take
/// them synchronously. Call before spawning threads.
pub fn block_signals(signals: &[i32]) -> io::Result<BlockedSignals> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set behind the pointer.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    for &s in signals {
        // SAFETY: the set was initialised by sigemptyset above.
        if unsafe { libc::sigaddset(set.as_mut_ptr(), s) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: initialised by sigemptyset/sigaddset.
    let set = unsafe { set.assume_init() };
    // SAFETY: `set` is a valid sigset; the old mask is not requested (null).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(BlockedSignals { set })
}

impl BlockedSignals {
    /// Waits for one of the blocked signals; returns its number.
    pub fn wait(&self) -> io::Result<i32> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `self.set` is a valid sigset and `sig` a live out-parameter.
        let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(sig)
    }
}

/// Raises `sig` in this process (for tests and for waking [`BlockedSignals::wait`]).
pub fn raise_process_signal(sig: i32) -> io::Result<()> {
    // SAFETY: kill on our own pid with a valid signal number has no memory effects.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    /// `read_in_root` never leaves the root: not by an absolute or `..` symlink, not by a
    /// procfs magic link, not while another thread swaps a directory with a symlink to the
    /// host (RENAME_EXCHANGE); a FIFO is refused without blocking.
    #[test]
    fn in_root_reads_stay_in_the_root() {
        let base = std::env::temp_dir().join(format!("tiercel-inroot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let host = base.join("host");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(host.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside\n").unwrap();
        std::fs::write(host.join("etc/passwd"), "HOST SECRET\n").unwrap();
        std::os::unix::fs::symlink(host.join("etc"), root.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../host/etc/passwd", root.join("dotdot")).unwrap();
        std::os::unix::fs::symlink("/proc/self/root/etc/passwd", root.join("magic")).unwrap();
        let st = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(st.success());
        let dir = std::fs::File::open(&root).unwrap();
        let r = dir.as_fd();
        let (b, id) = read_in_root(r, b"/etc/passwd", 1 << 20).unwrap();
        assert_eq!(b, b"inside\n");
        assert_eq!(stat_in_root(r, b"etc/passwd"), Some(id));
        // Bounded.
        assert_eq!(read_in_root(r, b"/etc/passwd", 3).unwrap().0, b"ins");
        // The absolute symlink is taken from the root: root/<host path> does not exist.
        assert!(read_in_root(r, b"/evil/passwd", 1 << 20).is_err());
        // `..` stops at the root: /host/etc/passwd inside it does not exist.
        assert!(read_in_root(r, b"/dotdot", 1 << 20).is_err());
        assert!(read_in_root(r, b"/../../host/etc/passwd", 1 << 20).is_err());
        // Magic links are refused.
        assert!(read_in_root(r, b"/magic", 1 << 20).is_err());
        // A FIFO: refused at once (the open does not wait for a writer).
        let t0 = std::time::Instant::now();
        let e = read_in_root(r, b"/fifo", 1 << 20).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
        assert!(stat_in_root(r, b"/fifo").is_none());
        // Not even opened: a writer waiting for a reader of the FIFO is still waiting
        // afterwards (any open for reading, non-blocking or not, would have released it).
        let fifo = root.join("fifo");
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (fifo, opened) = (fifo.clone(), opened.clone());
            std::thread::spawn(move || {
                let f = std::fs::OpenOptions::new().write(true).open(&fifo);
                opened.store(true, std::sync::atomic::Ordering::SeqCst);
                drop(f);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(read_in_root(r, b"/fifo", 1 << 20).is_err());
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !opened.load(std::sync::atomic::Ordering::SeqCst),
            "read_in_root opened the FIFO"
        );
        // Release the writer.
        use std::os::unix::fs::OpenOptionsExt;
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        writer.join().unwrap();
        drop(reader);
        // A directory is not a file.
        assert!(read_in_root(r, b"/etc", 1 << 20).is_err());
        // The race: etc and evil (a symlink to the host's etc) swapped in a loop.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipper = {
            let stop = stop.clone();
            let (a, b) = (
                std::ffi::CString::new(root.join("etc").into_os_string().into_encoded_bytes())
                    .unwrap(),
                std::ffi::CString::new(root.join("evil").into_os_string().into_encoded_bytes())
                    .unwrap(),
            );
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // SAFETY: both paths are NUL-terminated and live for the call.
                    let rc = unsafe {
                        libc::renameat2(
                            libc::AT_FDCWD,
                            a.as_ptr(),
                            libc::AT_FDCWD,
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                    assert_eq!(rc, 0);
                    n += 1;
                }
                n
            })
        };
        let (mut inside, mut refused) = (0, 0);
        for _ in 0..20_000 {
            match read_in_root(r, b"/etc/passwd", 1 << 20) {
                Ok((b, _)) => {
                    assert_eq!(b, b"inside\n", "host data read through the race");
                    inside += 1;
                }
                Err(_) => refused += 1,
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = flipper.join().unwrap();
        assert!(
            swaps > 100 && inside > 0 && refused > 0,
            "{swaps} {inside} {refused}"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn sizes_are_known() {
        let s = notif_sizes().expect("kernel with user notification");
        assert!(s.notif >= size_of::<libc::seccomp_notif>());
        assert!(s.resp >= size_of::<libc::seccomp_notif_resp>());
        assert!(s.data > 0);
    }

    #[test]
    fn not_a_notify_fd() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(!is_seccomp_notify_fd(a.as_fd()));
        let fd: OwnedFd = a.into();
        assert!(NotifyFd::new(fd).is_err());
    }

    #[test]
    fn scm_rights_roundtrip_and_peercred() {
        use std::io::Write;
        let (a, b) = UnixStream::pair().unwrap();
        let cred = peer_cred(a.as_fd()).unwrap();
        assert_eq!(cred.uid, geteuid());
        (&b).write_all(b"hello").unwrap();
        drop(b);
        let mut buf = [0u8; 16];
        let mut fds = Vec::new();
        let r = recv_with_fds(a.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..r.len], b"hello");
        assert!(fds.is_empty());
        let r = recv_with_fds(a.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(r.len, 0);
    }

    #[test]
    fn scm_rights_with_fds() {
        let (a, b) = UnixStream::pair().unwrap();
        let (p1, p2) = UnixStream::pair().unwrap();
        send_with_fds(b.as_fd(), b"{}", &[p1.as_fd(), p2.as_fd()]).unwrap();
        drop(b);
        let mut buf = [0u8; 16];
        let mut fds = Vec::new();
        let r = recv_with_fds(a.as_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..r.len], b"{}");
        assert_eq!(fds.len(), 2);
        assert!(!r.truncated);
        assert!(!is_seccomp_notify_fd(fds[0].as_fd()));
    }

    #[test]
    fn vm_read_self() {
        let src = b"some bytes\0".to_vec();
        let mut out = [0u8; 11];
        let n = vm_read(std::process::id(), src.as_ptr() as u64, &mut out).unwrap();
        assert_eq!(n, 11);
        assert_eq!(&out, &src[..]);
        assert!(vm_read(std::process::id(), 8, &mut out).is_err());
    }
}

/// What the kernel says about a socket held by another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteSocket {
    /// `AF_INET`, `AF_INET6`, `AF_UNIX` ...
    pub domain: i32,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW` ...
    pub sotype: i32,
    /// `IPPROTO_TCP`, `IPPROTO_UDP` ...
    pub protocol: i32,
    /// `getsockname` (inet families only).
    pub local: Option<std::net::SocketAddr>,
    /// `getpeername` (inet families only; `None` when not connected).
    pub peer: Option<std::net::SocketAddr>,
}

/// Whether task `tid` leads its thread group (its tid is the process id): `pidfd_open`
/// without `PIDFD_THREAD` accepts exactly those (EINVAL for other threads). `None` when
/// the task is gone or pidfds are unavailable. Far cheaper than `/proc/<tid>/status`.
pub fn is_thread_group_leader(tid: u32) -> Option<bool> {
    let pid = libc::pid_t::try_from(tid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no
    // memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd >= 0 {
        // SAFETY: a successful pidfd_open returned a fresh descriptor that nothing else
        // owns; it is closed when dropped.
        drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        return Some(true);
    }
    (io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)).then_some(false)
}

/// A pidfd for task `tid`: its process when `tid` leads its thread group, else (Linux
/// ≥ 6.9, `PIDFD_THREAD`) the thread itself. A pidfd names one task for good: signals
/// sent through it never reach a later task that reuses the number.
pub fn pidfd_open_task(tid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(tid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let open = |flags: libc::c_int| {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no
        // memory is passed.
        unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) }
    };
    let mut fd = open(0);
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        fd = open(PIDFD_THREAD);
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful pidfd_open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the task of `pidfd` still lives: a pidfd turns readable when its task exits
/// (one `poll` that does not wait; an error counts as exited).
pub fn pidfd_lives(pidfd: BorrowedFd<'_>) -> bool {
    matches!(poll2(pidfd, None, POLLIN, 0), Ok((0, _)))
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`. ESRCH when the task has exited (even if
/// its number was reused since).
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the info pointer is NULL (the kernel fills a default siginfo) and the
    // flags are 0; the descriptor is borrowed for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for a thread that is not its group's leader.
const PIDFD_THREAD: libc::c_int = libc::O_EXCL;

/// Duplicates descriptor `fd` of task `tid` (`pidfd_open` + `pidfd_getfd`, needs
/// ptrace-attach rights over it) and asks the kernel about the socket behind it. Much
/// cheaper than scanning `/proc/<pid>/net/*`, whose size the container controls. `tid`
/// may be any thread: a thread that is not its group's leader is opened with
/// `PIDFD_THREAD` (EINVAL before Linux 6.9: the caller then passes the thread group id).
pub fn remote_socket(tid: u32, fd: i32) -> io::Result<RemoteSocket> {
    let pid = libc::pid_t::try_from(tid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let open = |flags: libc::c_int| {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; no
        // memory is passed.
        unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) }
    };
    let mut pidfd = open(0);
    if pidfd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        pidfd = open(PIDFD_THREAD);
    }
    if pidfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful pidfd_open returned a fresh descriptor that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // SAFETY: pidfd_getfd takes a pidfd, a target descriptor number and flags, and
    // returns a new descriptor (a duplicate, close-on-exec) or -1; no memory is passed.
    let sfd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if sfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful pidfd_getfd returned a fresh descriptor that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(sfd as i32) };
    let domain = sockopt_int(sock.as_fd(), libc::SO_DOMAIN)?;
    let sotype = sockopt_int(sock.as_fd(), libc::SO_TYPE)?;
    let protocol = sockopt_int(sock.as_fd(), libc::SO_PROTOCOL)?;
    let inet = domain == libc::AF_INET || domain == libc::AF_INET6;
    let (local, peer) = if inet {
        (
            sock_addr(sock.as_fd(), false),
            sock_addr(sock.as_fd(), true),
        )
    } else {
        (None, None)
    };
    Ok(RemoteSocket {
        domain,
        sotype,
        protocol,
        local,
        peer,
    })
}

fn sockopt_int(sock: BorrowedFd<'_>, opt: i32) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the option writes at most `len` bytes (one int) into the live local.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v)
}

/// `getsockname` (`peer == false`) or `getpeername`, for inet sockets.
fn sock_addr(sock: BorrowedFd<'_>, peer: bool) -> Option<std::net::SocketAddr> {
    let mut ss = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the call writes at most `len` bytes (the size of the live, zeroed
    // sockaddr_storage) and updates `len`.
    let rc = unsafe {
        if peer {
            libc::getpeername(sock.as_raw_fd(), ss.as_mut_ptr().cast(), &mut len)
        } else {
            libc::getsockname(sock.as_raw_fd(), ss.as_mut_ptr().cast(), &mut len)
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: zero-initialised, and the kernel wrote a valid address prefix into it.
    let ss = unsafe { ss.assume_init() };
    match i32::from(ss.ss_family) {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which fits in it
            // (sockaddr_storage is large and aligned enough for every family).
            let a = unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(std::net::SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(std::net::SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}

#[cfg(test)]
mod remote_socket_tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn facts_of_a_connected_tcp_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let r = remote_socket(std::process::id(), s.as_raw_fd()).unwrap();
        assert_eq!(r.domain, libc::AF_INET);
        assert_eq!(r.sotype, libc::SOCK_STREAM);
        assert_eq!(r.protocol, libc::IPPROTO_TCP);
        assert_eq!(r.local, Some(s.local_addr().unwrap()));
        assert_eq!(r.peer, Some(l.local_addr().unwrap()));
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = remote_socket(std::process::id(), u.as_raw_fd()).unwrap();
        assert_eq!(
            (r.sotype, r.protocol),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDP)
        );
        assert_eq!(r.peer, None);
        // Not a descriptor of that process / no such process.
        assert!(remote_socket(std::process::id(), 1_000_000).is_err());
        assert!(remote_socket(u32::MAX, 0).is_err());
    }
}

/// An in-memory [`Listener`] for unit tests of the notify loop (no root, no container):
/// notifications are queued by the test, received, validated and answered like the
/// kernel does (an answered or cancelled id is no longer valid; SEND on it fails with
/// `ENOENT`), and every operation is logged in order.
#[cfg(test)]
pub(crate) mod fake {
    use super::*;
    use std::collections::{BTreeSet, HashSet, VecDeque};
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    /// One operation on the fake, in the order the session did them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        Recv(u64),
        IdValid(u64, bool),
        /// SEND of `id` with `answer`; `ok` false when it failed (ENOENT); `alerts` is
        /// the observed alert counter at that moment.
        Send {
            id: u64,
            answer: Answer,
            ok: bool,
            alerts: u64,
        },
        /// ADDFD with SEND of `id` (an emulated open answered with a new fd).
        AddFd {
            id: u64,
            cloexec: bool,
            ok: bool,
            alerts: u64,
        },
    }

    #[derive(Debug, Default)]
    struct State {
        queue: VecDeque<Notif>,
        /// Received and not answered: ID_VALID true, SEND accepted.
        pending: BTreeSet<u64>,
        /// No more notifications will come: `wait` reports `Closed` once the queue is
        /// empty.
        closed: bool,
        /// Ids whose caller is interrupted right after RECV (ID_VALID false).
        cancel_after_recv: HashSet<u64>,
        /// Ids whose caller is interrupted between ID_VALID and SEND (SEND fails).
        cancel_before_send: HashSet<u64>,
        /// Ids on which ID_VALID panics (stands for any bug in the handling).
        panic_on_id_valid: HashSet<u64>,
        log: Vec<Op>,
    }

    /// Reads the session's alert counter.
    pub type AlertCounter = Box<dyn Fn() -> u64 + Send + Sync>;

    /// See the module documentation.
    #[derive(Default)]
    pub struct FakeListener {
        state: Mutex<State>,
        /// Snapshotted at each SEND (the session's alert counter).
        alerts: Option<AlertCounter>,
        /// Raised when `set_sync_wakeup` was called.
        pub sync_wakeup: std::sync::atomic::AtomicBool,
    }

    impl std::fmt::Debug for FakeListener {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FakeListener").finish_non_exhaustive()
        }
    }

    impl FakeListener {
        pub fn new() -> FakeListener {
            FakeListener::default()
        }

        /// Snapshots `alerts` at every SEND (checks that alerts come after the answer).
        pub fn watching(alerts: AlertCounter) -> FakeListener {
            FakeListener {
                alerts: Some(alerts),
                ..FakeListener::default()
            }
        }

        fn st(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        pub fn push(&self, n: Notif) {
            self.st().queue.push_back(n);
        }

        /// Makes a received, unanswered notification pending again (as if a previous
        /// holder of the listener had received it and died).
        pub fn leave_pending(&self, id: u64) {
            self.st().pending.insert(id);
        }

        pub fn close(&self) {
            self.st().closed = true;
        }

        pub fn cancel_after_recv(&self, id: u64) {
            self.st().cancel_after_recv.insert(id);
        }

        pub fn cancel_before_send(&self, id: u64) {
            self.st().cancel_before_send.insert(id);
        }

        pub fn panic_on_id_valid(&self, id: u64) {
            self.st().panic_on_id_valid.insert(id);
        }

        pub fn log(&self) -> Vec<Op> {
            self.st().log.clone()
        }

        /// The SENDs, in order: (id, answer, ok, alerts at that moment).
        pub fn sends(&self) -> Vec<(u64, Answer, bool, u64)> {
            self.log()
                .into_iter()
                .filter_map(|o| match o {
                    Op::Send {
                        id,
                        answer,
                        ok,
                        alerts,
                    } => Some((id, answer, ok, alerts)),
                    _ => None,
                })
                .collect()
        }

        /// Ids received or left pending and not answered.
        pub fn pending(&self) -> Vec<u64> {
            self.st().pending.iter().copied().collect()
        }
    }

    impl Listener for FakeListener {
        fn wait(&self, shutdown: Option<BorrowedFd<'_>>, timeout_ms: i32) -> io::Result<Ready> {
            let start = std::time::Instant::now();
            loop {
                {
                    let st = self.st();
                    if !st.queue.is_empty() {
                        return Ok(Ready::Pending);
                    }
                    if st.closed {
                        return Ok(Ready::Closed);
                    }
                }
                if let Some(s) = shutdown {
                    let (r, _) = poll2(s, None, POLLIN, 0)?;
                    if r != 0 {
                        return Ok(Ready::Shutdown);
                    }
                }
                if timeout_ms >= 0 && start.elapsed().as_millis() >= timeout_ms as u128 {
                    return Ok(Ready::Timeout);
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }

        fn recv(&self) -> io::Result<Notif> {
            let mut st = self.st();
            let n = st
                .queue
                .pop_front()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
            st.log.push(Op::Recv(n.id));
            if !st.cancel_after_recv.contains(&n.id) {
                st.pending.insert(n.id);
            }
            Ok(n)
        }

        fn send(&self, id: u64, answer: Answer) -> io::Result<()> {
            let alerts = self.alerts.as_ref().map_or(0, |a| a());
            let mut st = self.st();
            let ok = !st.cancel_before_send.contains(&id) && st.pending.remove(&id);
            st.pending.remove(&id);
            st.log.push(Op::Send {
                id,
                answer,
                ok,
                alerts,
            });
            if ok {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::ENOENT))
            }
        }

        fn id_valid(&self, id: u64) -> io::Result<bool> {
            let mut st = self.st();
            if st.panic_on_id_valid.contains(&id) {
                drop(st);
                panic!("injected failure while handling notification {id}");
            }
            let v = st.pending.contains(&id);
            st.log.push(Op::IdValid(id, v));
            Ok(v)
        }

        fn set_sync_wakeup(&self) -> io::Result<()> {
            self.sync_wakeup.store(true, Ordering::Relaxed);
            Ok(())
        }

        /// Like SEND: answers a pending id (the fd number is the fd's own, standing for
        /// the one the caller would get), logged as a SEND of `Continue`-like success.
        fn addfd_send(&self, id: u64, fd: BorrowedFd<'_>, cloexec: bool) -> io::Result<i32> {
            let alerts = self.alerts.as_ref().map_or(0, |a| a());
            let mut st = self.st();
            let ok = !st.cancel_before_send.contains(&id) && st.pending.remove(&id);
            st.pending.remove(&id);
            st.log.push(Op::AddFd {
                id,
                cloexec,
                ok,
                alerts,
            });
            if ok {
                Ok(fd.as_raw_fd())
            } else {
                Err(io::Error::from_raw_os_error(libc::ENOENT))
            }
        }
    }
}

// ---- Calls on the caller's behalf: the thread's filesystem context and credentials ----
//
// Linux keeps the root, cwd and umask (`fs_struct`) and the credentials per thread; glibc
// broadcasts `setgroups`/`setuid` to every thread, so these wrappers use the raw system
// calls, which change only the calling thread. The session thread first gives itself a
// private `fs_struct` ([`unshare_fs`]); only then may it `chroot`.

fn cvt(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn cpath(p: &[u8]) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(p).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn raw_dir(dir: Option<BorrowedFd<'_>>) -> libc::c_int {
    dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd())
}

/// `unshare(CLONE_FS)`: this thread gets its own root, cwd and umask.
pub fn unshare_fs() -> io::Result<()> {
    // SAFETY: unshare takes a flag word; CLONE_FS affects only this thread's fs_struct.
    cvt(unsafe { libc::unshare(libc::CLONE_FS) } as libc::c_long).map(|_| ())
}

/// `fchdir(fd)` (this thread only, after [`unshare_fs`]).
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `fd` is a live descriptor borrowed for the call.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) } as libc::c_long).map(|_| ())
}

/// `chroot(".")`: the cwd becomes this thread's root (after [`unshare_fs`]).
pub fn chroot_cwd() -> io::Result<()> {
    // SAFETY: the argument is a static NUL-terminated string.
    cvt(unsafe { libc::chroot(c".".as_ptr()) } as libc::c_long).map(|_| ())
}

/// `setfsuid(uid)` for this thread; returns the previous fsuid.
pub fn set_fsuid(uid: u32) -> u32 {
    // SAFETY: setfsuid takes an id by value and changes only this thread's credentials.
    unsafe { libc::syscall(libc::SYS_setfsuid, uid as libc::c_long) as u32 }
}

/// `setfsgid(gid)` for this thread; returns the previous fsgid.
pub fn set_fsgid(gid: u32) -> u32 {
    // SAFETY: as for set_fsuid.
    unsafe { libc::syscall(libc::SYS_setfsgid, gid as libc::c_long) as u32 }
}

/// `setgroups` for this thread only (the raw call; glibc's applies to every thread).
pub fn set_thread_groups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the kernel reads `groups.len()` gid_t values from the live slice.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_setgroups,
            groups.len() as libc::c_long,
            groups.as_ptr(),
        )
    })
    .map(|_| ())
}

/// This thread's supplementary groups.
pub fn thread_groups() -> io::Result<Vec<u32>> {
    let mut v = vec![0u32; 65536];
    // SAFETY: the kernel writes at most `v.len()` gid_t values into the live buffer.
    let n = cvt(unsafe {
        libc::syscall(libc::SYS_getgroups, v.len() as libc::c_long, v.as_mut_ptr())
    })?;
    v.truncate(n as usize);
    Ok(v)
}

/// A thread's capability sets (the low 64 bits of each, `_LINUX_CAPABILITY_VERSION_3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// `capget` of this thread.
pub fn cap_get() -> io::Result<Caps> {
    let mut h = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    // SAFETY: v3 capget writes two `CapData` entries into the live array and may update
    // the live header.
    cvt(unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut CapHeader, d.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(Caps {
        effective: join(d[0].effective, d[1].effective),
        permitted: join(d[0].permitted, d[1].permitted),
        inheritable: join(d[0].inheritable, d[1].inheritable),
    })
}

/// `capset` of this thread only.
pub fn cap_set(c: Caps) -> io::Result<()> {
    let mut h = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let d = [
        CapData {
            effective: c.effective as u32,
            permitted: c.permitted as u32,
            inheritable: c.inheritable as u32,
        },
        CapData {
            effective: (c.effective >> 32) as u32,
            permitted: (c.permitted >> 32) as u32,
            inheritable: (c.inheritable >> 32) as u32,
        },
    ];
    // SAFETY: v3 capset reads the live header and two `CapData` entries.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut CapHeader, d.as_ptr()) })
        .map(|_| ())
}

/// `umask(mask)` of this thread's `fs_struct`; returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask takes a mode by value and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// `openat2(dir, path, {flags, mode, resolve})` (`dir` `None`: the cwd). `O_CLOEXEC` is
/// added: the descriptor is the supervisor's.
pub fn openat2(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    flags: u64,
    mode: u64,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let how = OpenHow {
        flags: flags | libc::O_CLOEXEC as u64,
        mode,
        resolve,
    };
    // SAFETY: `c` is NUL-terminated and `how` a live, initialised `open_how` whose size
    // is passed; the result is a new descriptor nobody else owns.
    let fd = cvt(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            raw_dir(dir),
            c.as_ptr(),
            &how as *const OpenHow,
            size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: `fd` was just returned by openat2.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// What `fstatat` says about a file (one `statx`: the basic fields, the mount id and the
/// birth time where the file system records it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u32,
    /// The device a device node names (`st_rdev`).
    pub rdev: u64,
    /// `STATX_MNT_ID`; `None` when the kernel did not say.
    pub mnt_id: Option<u64>,
    /// Birth time (seconds, nanoseconds) since the epoch; `None` when not recorded.
    pub btime: Option<(i64, u32)>,
}

impl FileStat {
    pub fn kind(&self) -> u32 {
        self.mode & libc::S_IFMT
    }

    /// The birth time as a `SystemTime` (`None` when not recorded).
    pub fn born(&self) -> Option<std::time::SystemTime> {
        let (s, ns) = self.btime?;
        let d = std::time::Duration::new(s.unsigned_abs(), ns);
        if s >= 0 {
            std::time::UNIX_EPOCH.checked_add(d)
        } else {
            std::time::UNIX_EPOCH.checked_sub(d)
        }
    }
}

/// `fstatat(dir, path, flags)` as one `statx`; an empty `path` with `AT_EMPTY_PATH`
/// describes `dir`.
pub fn fstatat(dir: Option<BorrowedFd<'_>>, path: &[u8], nofollow: bool) -> io::Result<FileStat> {
    let c = cpath(path)?;
    let mut flags = libc::AT_STATX_SYNC_AS_STAT;
    if nofollow {
        flags |= libc::AT_SYMLINK_NOFOLLOW;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH;
    }
    let mut st = MaybeUninit::<libc::statx>::zeroed();
    let mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME | libc::STATX_MNT_ID;
    // SAFETY: `c` is NUL-terminated; the kernel fills the live, zeroed `statx` buffer.
    let rc = unsafe { libc::statx(raw_dir(dir), c.as_ptr(), flags, mask, st.as_mut_ptr()) };
    cvt(rc as libc::c_long)?;
    // SAFETY: statx succeeded (and the buffer was zeroed before).
    let st = unsafe { st.assume_init() };
    let dev = libc::makedev(st.stx_dev_major, st.stx_dev_minor);
    Ok(FileStat {
        mode: u32::from(st.stx_mode),
        uid: st.stx_uid,
        gid: st.stx_gid,
        dev,
        ino: st.stx_ino,
        nlink: st.stx_nlink,
        rdev: libc::makedev(st.stx_rdev_major, st.stx_rdev_minor),
        mnt_id: (st.stx_mask & libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id),
        btime: (st.stx_mask & libc::STATX_BTIME != 0)
            .then_some((st.stx_btime.tv_sec, st.stx_btime.tv_nsec)),
    })
}

/// `readlinkat(dir, path)` with a byte path, at most `max` bytes (`ENAMETOOLONG` beyond).
pub fn read_link_bytes(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    max: usize,
) -> io::Result<Vec<u8>> {
    let c = cpath(path)?;
    let mut buf = vec![0u8; max.saturating_add(1)];
    // SAFETY: `c` is NUL-terminated; `buf` is live and writable for `buf.len()` bytes.
    let n = cvt(unsafe {
        libc::readlinkat(raw_dir(dir), c.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    } as libc::c_long)? as usize;
    if n > max {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(buf)
}

/// Clears `O_NONBLOCK` on an open file description.
pub fn clear_nonblock(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL take and return an int; `fd` is borrowed for the calls.
    let fl = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } as libc::c_long)?;
    // SAFETY: as above.
    cvt(unsafe {
        libc::fcntl(
            fd.as_raw_fd(),
            libc::F_SETFL,
            (fl as libc::c_int) & !libc::O_NONBLOCK,
        )
    } as libc::c_long)
    .map(|_| ())
}

/// The kernel release (`uname -r`), e.g. `6.18.0`.
pub fn kernel_release() -> String {
    let mut u = MaybeUninit::<libc::utsname>::uninit();
    // SAFETY: uname fills the live buffer.
    if unsafe { libc::uname(u.as_mut_ptr()) } != 0 {
        return String::new();
    }
    // SAFETY: uname succeeded; `release` is NUL-terminated within the struct.
    let u = unsafe { u.assume_init() };
    // SAFETY: as above, a NUL-terminated array inside a live struct.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// `openat(dir, path, flags, mode)` with a byte path (`dir` `None`: the cwd); `O_CLOEXEC`
/// is added (the descriptor is the supervisor's). Unknown flag bits are ignored, as by
/// the kernel's `openat`.
pub fn openat_mode(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: `c` is NUL-terminated; the result is a new descriptor nobody else owns.
    let fd = cvt(unsafe {
        libc::openat(
            raw_dir(dir),
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    } as libc::c_long)?;
    // SAFETY: `fd` was just returned by openat.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The mount id of the file behind `fd` (`statx` `STATX_MNT_ID`, Linux 5.8; `ENOSYS`
/// when the kernel does not say).
pub fn mnt_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    fstatat(Some(fd), b"", true)?
        .mnt_id
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS))
}

// ---- Calls performed on a caller's behalf (perform.rs): on handles, never on strings
// that could be re-resolved; each returns the kernel's errno as an `io::Error`.

fn cvt0(rc: libc::c_long) -> io::Result<()> {
    cvt(rc).map(|_| ())
}

/// `unlinkat(dir, name, flags)`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &[u8], flags: i32) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: `c` is NUL-terminated and `dir` a live descriptor borrowed for the call.
    cvt0(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) } as libc::c_long)
}

/// `mkdirat(dir, name, mode)` (the thread's umask applies).
pub fn mkdirat(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: as for unlinkat.
    cvt0(
        unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) } as libc::c_long,
    )
}

/// The raw `mknodat(dir, name, mode, dev)`: `dev` is the kernel's 32-bit encoding, as
/// the caller passed it in its register.
pub fn mknodat(dir: BorrowedFd<'_>, name: &[u8], mode: u32, dev: u32) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: `c` is NUL-terminated, `dir` live; mode and dev are passed by value.
    cvt0(unsafe {
        libc::syscall(
            libc::SYS_mknodat,
            dir.as_raw_fd(),
            c.as_ptr(),
            mode as libc::c_long,
            dev as libc::c_long,
        )
    })
}

/// `renameat2(d1, n1, d2, n2, flags)`.
pub fn renameat2(
    d1: BorrowedFd<'_>,
    n1: &[u8],
    d2: BorrowedFd<'_>,
    n2: &[u8],
    flags: u32,
) -> io::Result<()> {
    let (c1, c2) = (cpath(n1)?, cpath(n2)?);
    // SAFETY: both names are NUL-terminated, both descriptors live for the call.
    cvt0(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            d1.as_raw_fd(),
            c1.as_ptr(),
            d2.as_raw_fd(),
            c2.as_ptr(),
            flags as libc::c_long,
        )
    })
}

/// `linkat(d1, n1, d2, n2, flags)` (`d1` `None`: the cwd).
pub fn linkat(
    d1: Option<BorrowedFd<'_>>,
    n1: &[u8],
    d2: BorrowedFd<'_>,
    n2: &[u8],
    flags: i32,
) -> io::Result<()> {
    let (c1, c2) = (cpath(n1)?, cpath(n2)?);
    // SAFETY: both names are NUL-terminated, the descriptors live for the call.
    cvt0(
        unsafe { libc::linkat(raw_dir(d1), c1.as_ptr(), d2.as_raw_fd(), c2.as_ptr(), flags) }
            as libc::c_long,
    )
}

/// `symlinkat(target, dir, name)`.
pub fn symlinkat(target: &[u8], dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let (t, c) = (cpath(target)?, cpath(name)?);
    // SAFETY: both strings are NUL-terminated, `dir` live for the call.
    cvt0(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) } as libc::c_long)
}

/// The raw `fchmodat2(dir, path, mode, flags)` (Linux 6.6; `ENOSYS` before).
pub fn fchmodat2(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    mode: u32,
    flags: u32,
) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: `c` is NUL-terminated; mode and flags are passed by value.
    cvt0(unsafe {
        libc::syscall(
            452, // fchmodat2, x86_64 and the generic table alike
            raw_dir(dir),
            c.as_ptr(),
            mode as libc::c_long,
            flags as libc::c_long,
        )
    })
}

/// `fchmodat(AT_FDCWD, path, mode, 0)` (kernels without `fchmodat2`).
pub fn chmod_path(path: &[u8], mode: u32) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: `c` is NUL-terminated; the mode is passed by value.
    cvt0(
        unsafe { libc::fchmodat(libc::AT_FDCWD, c.as_ptr(), mode as libc::mode_t, 0) }
            as libc::c_long,
    )
}

/// `fchownat(dir, path, uid, gid, flags)`; `u32::MAX` leaves an id unchanged.
pub fn fchownat(
    dir: Option<BorrowedFd<'_>>,
    path: &[u8],
    uid: u32,
    gid: u32,
    flags: i32,
) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: `c` is NUL-terminated; the ids and flags are passed by value.
    cvt0(unsafe { libc::fchownat(raw_dir(dir), c.as_ptr(), uid, gid, flags) } as libc::c_long)
}

/// `utimensat(dir, path, times, flags)`; `path` `None` is the kernel's NULL (the call
/// then acts on `dir` itself, `futimens`), `times` `None` is NULL (now).
pub fn utimensat(
    dir: Option<BorrowedFd<'_>>,
    path: Option<&[u8]>,
    times: Option<&[libc::timespec; 2]>,
    flags: i32,
) -> io::Result<()> {
    let c = path.map(cpath).transpose()?;
    let p = c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let t = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `p` is NULL or a NUL-terminated string, `t` NULL or two live timespecs;
    // the raw call is used because glibc refuses a NULL path.
    cvt0(unsafe {
        libc::syscall(
            libc::SYS_utimensat,
            raw_dir(dir),
            p,
            t,
            flags as libc::c_long,
        )
    })
}

/// `ftruncate(fd, len)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: i64) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; the length is passed by value.
    cvt0(unsafe { libc::ftruncate(fd.as_raw_fd(), len) } as libc::c_long)
}

/// `fchmod(fd, mode)`.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; the mode is passed by value.
    cvt0(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } as libc::c_long)
}

/// `fchown(fd, uid, gid)`; `u32::MAX` leaves an id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `fd` is live for the call; the ids are passed by value.
    cvt0(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) } as libc::c_long)
}

/// `setxattr(path, name, value, flags)`, or `lsetxattr` when `nofollow`.
pub fn setxattr(
    path: &[u8],
    name: &[u8],
    value: &[u8],
    flags: i32,
    nofollow: bool,
) -> io::Result<()> {
    let (c, n) = (cpath(path)?, cpath(name)?);
    let f = if nofollow {
        libc::lsetxattr
    } else {
        libc::setxattr
    };
    // SAFETY: path and name are NUL-terminated; the kernel reads `value.len()` bytes from
    // the live slice.
    cvt0(unsafe {
        f(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    } as libc::c_long)
}

/// `fsetxattr(fd, name, value, flags)`.
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &[u8], value: &[u8], flags: i32) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: as for setxattr, on a live descriptor.
    cvt0(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    } as libc::c_long)
}

/// `removexattr(path, name)`, or `lremovexattr` when `nofollow`.
pub fn removexattr(path: &[u8], name: &[u8], nofollow: bool) -> io::Result<()> {
    let (c, n) = (cpath(path)?, cpath(name)?);
    let f = if nofollow {
        libc::lremovexattr
    } else {
        libc::removexattr
    };
    // SAFETY: both strings are NUL-terminated.
    cvt0(unsafe { f(c.as_ptr(), n.as_ptr()) } as libc::c_long)
}

/// `fremovexattr(fd, name)`.
pub fn fremovexattr(fd: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let n = cpath(name)?;
    // SAFETY: `n` is NUL-terminated, `fd` live for the call.
    cvt0(unsafe { libc::fremovexattr(fd.as_raw_fd(), n.as_ptr()) } as libc::c_long)
}

/// `pidfd_getfd(pidfd, fd, 0)`: a duplicate of descriptor `fd` of the task behind
/// `pidfd` (the same open file description: same access mode and offset), close-on-exec.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags by value and
    // returns a new descriptor or -1; no memory is passed.
    let r = cvt(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) })?;
    // SAFETY: a successful pidfd_getfd returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// `ioctl(fd, request, arg)` with an argument buffer the kernel reads (`_IOW`
/// requests); the buffer must be at least the request's `_IOC_SIZE` (checked).
pub fn ioctl_write(fd: BorrowedFd<'_>, request: u64, arg: &[u8]) -> io::Result<i64> {
    let size = ((request >> 16) & 0x3fff) as usize;
    if arg.len() < size {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: the kernel reads at most `_IOC_SIZE(request)` bytes from the live buffer,
    // which is at least that long (checked above).
    let r =
        cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg.as_ptr()) } as libc::c_long)?;
    Ok(r as i64)
}

#[cfg(test)]
mod perform_tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn tmpdir(tag: &str) -> (std::path::PathBuf, OwnedFd) {
        let d = std::env::temp_dir().join(format!("tiercel-sys-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let fd = openat2(
            None,
            d.as_os_str().as_encoded_bytes(),
            libc::O_PATH as u64 | libc::O_DIRECTORY as u64,
            0,
            0,
        )
        .unwrap();
        (d, fd)
    }

    #[test]
    fn entry_calls_on_a_directory_handle() {
        let (d, fd) = tmpdir("entry");
        let dir = fd.as_fd();
        mkdirat(dir, b"sub", 0o700).unwrap();
        assert_eq!(
            mkdirat(dir, b"sub", 0o700).unwrap_err().raw_os_error(),
            Some(libc::EEXIST)
        );
        mknodat(dir, b"fifo", libc::S_IFIFO | 0o600, 0).unwrap();
        assert!(std::fs::metadata(d.join("fifo")).unwrap().mode() & libc::S_IFMT == libc::S_IFIFO);
        symlinkat(b"sub", dir, b"link").unwrap();
        assert_eq!(
            std::fs::read_link(d.join("link")).unwrap(),
            std::path::PathBuf::from("sub")
        );
        linkat(Some(dir), b"fifo", dir, b"fifo2", 0).unwrap();
        renameat2(dir, b"fifo2", dir, b"fifo3", 0).unwrap();
        assert_eq!(
            renameat2(dir, b"fifo", dir, b"fifo3", libc::RENAME_NOREPLACE)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EEXIST)
        );
        unlinkat(dir, b"fifo3", 0).unwrap();
        assert_eq!(
            unlinkat(dir, b"sub", 0).unwrap_err().raw_os_error(),
            Some(libc::EISDIR)
        );
        unlinkat(dir, b"sub", libc::AT_REMOVEDIR).unwrap();
        assert!(!d.join("sub").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn attribute_calls_on_an_o_path_handle() {
        let (d, _fd) = tmpdir("attr");
        std::fs::write(d.join("f"), b"hello").unwrap();
        let f = openat2(
            None,
            d.join("f").as_os_str().as_encoded_bytes(),
            libc::O_PATH as u64,
            0,
            0,
        )
        .unwrap();
        match fchmodat2(Some(f.as_fd()), b"", 0o600, libc::AT_EMPTY_PATH as u32) {
            Ok(()) => assert_eq!(
                std::fs::metadata(d.join("f")).unwrap().mode() & 0o777,
                0o600
            ),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
        }
        fchownat(Some(f.as_fd()), b"", u32::MAX, 4242, libc::AT_EMPTY_PATH).unwrap();
        assert_eq!(std::fs::metadata(d.join("f")).unwrap().gid(), 4242);
        let ts = [
            libc::timespec {
                tv_sec: 1000,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 2000,
                tv_nsec: 5,
            },
        ];
        utimensat(Some(f.as_fd()), Some(b""), Some(&ts), libc::AT_EMPTY_PATH).unwrap();
        let md = std::fs::metadata(d.join("f")).unwrap();
        assert_eq!((md.atime(), md.mtime(), md.mtime_nsec()), (1000, 2000, 5));
        // O_PATH descriptors are refused by the fd forms, as for the caller.
        assert_eq!(
            fchmod(f.as_fd(), 0o644).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
        let w = std::fs::OpenOptions::new()
            .write(true)
            .open(d.join("f"))
            .unwrap();
        ftruncate(w.as_fd(), 2).unwrap();
        assert_eq!(std::fs::read(d.join("f")).unwrap(), b"he");
        fchown(w.as_fd(), 7, u32::MAX).unwrap();
        assert_eq!(std::fs::metadata(d.join("f")).unwrap().uid(), 7);
        let dup = pidfd_getfd(
            pidfd_open_task(std::process::id()).unwrap().as_fd(),
            w.as_raw_fd(),
        )
        .unwrap();
        fchmod(dup.as_fd(), 0o640).unwrap();
        assert_eq!(
            std::fs::metadata(d.join("f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            pidfd_getfd(
                pidfd_open_task(std::process::id()).unwrap().as_fd(),
                1_000_000
            )
            .unwrap_err()
            .raw_os_error(),
            Some(libc::EBADF)
        );
        // xattrs: user.* works on most local file systems; tmpfs since 6.6.
        let p = format!("/proc/self/fd/{}", f.as_raw_fd());
        match setxattr(p.as_bytes(), b"user.tiercel", b"v", 0, false) {
            Ok(()) => {
                removexattr(p.as_bytes(), b"user.tiercel", false).unwrap();
                fsetxattr(w.as_fd(), b"user.t2", b"x", 0).unwrap();
                fremovexattr(w.as_fd(), b"user.t2").unwrap();
                assert_eq!(
                    fremovexattr(w.as_fd(), b"user.t2")
                        .unwrap_err()
                        .raw_os_error(),
                    Some(libc::ENODATA)
                );
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP)),
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// `ioctl(fd, request, arg)` with an integer argument (a descriptor number, or 0 for a
/// request without argument): the kernel reads no memory of ours for the requests
/// `perform.rs` passes here.
pub fn ioctl_value(fd: BorrowedFd<'_>, request: u64, arg: u64) -> io::Result<i64> {
    // SAFETY: `arg` is passed as an integer; for the requests perform.rs uses it with
    // (`_IO` ones and `FICLONE`) the kernel does not dereference it.
    let r = cvt(
        unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as libc::c_ulong) } as libc::c_long,
    )?;
    Ok(r as i64)
}
