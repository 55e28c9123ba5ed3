//! Reading syscall arguments from the target's memory through [`ReadMem`], bounded.

#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use super::syscalls::Arch;
use super::ReadMem;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `PATH_MAX`, including the NUL.
pub const PATH_MAX: usize = 4096;
/// Most argv/envp entries read for one exec.
pub const MAX_ARGS: usize = 1024;
/// Most bytes of argv (or envp) strings read for one exec.
pub const MAX_ARGS_BYTES: usize = 128 * 1024;
/// Largest sockaddr read (`sizeof(struct sockaddr_storage)`).
pub const MAX_SOCKADDR: usize = 128;

/// Reads a NUL-terminated path: at most `PATH_MAX - 1` bytes plus the NUL.
pub fn read_path(mem: &dyn ReadMem, addr: u64) -> io::Result<Vec<u8>> {
    if addr == 0 {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    mem.read_cstr(addr, PATH_MAX - 1)
}

/// Reads exactly `buf.len()` bytes or fails.
pub fn read_exact(mem: &dyn ReadMem, addr: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = mem.read(addr.wrapping_add(done as u64), &mut buf[done..])?;
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        done += n;
    }
    Ok(())
}

/// Reads one user pointer of the arch's width.
pub fn read_ptr(mem: &dyn ReadMem, arch: Arch, addr: u64) -> io::Result<u64> {
    match arch {
        Arch::X86_64 => {
            let mut b = [0u8; 8];
            read_exact(mem, addr, &mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        Arch::I386 => {
            let mut b = [0u8; 4];
            read_exact(mem, addr, &mut b)?;
            Ok(u64::from(u32::from_le_bytes(b)))
        }
    }
}

/// A bounded string vector (argv or envp).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrVec {
    pub items: Vec<Vec<u8>>,
    /// True when the count or byte bound cut the vector short.
    pub truncated: bool,
}

/// Reads a NULL-terminated array of string pointers (argv/envp), bounded by
/// [`MAX_ARGS`] entries and [`MAX_ARGS_BYTES`] bytes. A NULL array is empty (Linux allows it).
pub fn read_strvec(mem: &dyn ReadMem, arch: Arch, addr: u64) -> io::Result<StrVec> {
    let mut out = StrVec::default();
    if addr == 0 {
        return Ok(out);
    }
    let mut bytes = 0usize;
    let ps = arch.ptr_size() as u64;
    for i in 0..=MAX_ARGS as u64 {
        if i == MAX_ARGS as u64 {
            out.truncated = true;
            break;
        }
        let p = read_ptr(mem, arch, addr.wrapping_add(i * ps))?;
        if p == 0 {
            break;
        }
        let left = MAX_ARGS_BYTES.saturating_sub(bytes);
        if left == 0 {
            out.truncated = true;
            break;
        }
        let s = match mem.read_cstr(p, left.min(PATH_MAX * 32)) {
            Ok(s) => s,
            Err(e) if out.items.is_empty() => return Err(e),
            Err(_) => {
                out.truncated = true;
                break;
            }
        };
        bytes += s.len() + 1;
        out.items.push(s);
    }
    Ok(out)
}

/// A decoded socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    Inet(SocketAddr),
    /// AF_UNIX path (abstract names start with `@`, Falco's rendering).
    Unix(Vec<u8>),
    /// Another family, by number.
    Other(u16),
}

impl SockAddr {
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Inet(SocketAddr::V4(_)) => 2,
            SockAddr::Inet(SocketAddr::V6(_)) => 10,
            SockAddr::Unix(_) => 1,
            SockAddr::Other(f) => *f,
        }
    }
}

/// Parses a sockaddr buffer (already bounded by addrlen ≤ 128).
pub fn parse_sockaddr(b: &[u8]) -> Option<SockAddr> {
    if b.len() < 2 {
        return None;
    }
    let fam = u16::from_le_bytes([b[0], b[1]]);
    match fam {
        2 if b.len() >= 8 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Some(SockAddr::Inet(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        10 if b.len() >= 24 => {
            let port = u16::from_be_bytes([b[2], b[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            Some(SockAddr::Inet(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(a)),
                port,
            )))
        }
        1 => {
            let p = &b[2..];
            if p.first() == Some(&0) {
                // Abstract socket: the name is every byte of addrlen; Falco shows '@'.
                let mut v = vec![b'@'];
                v.extend(p[1..].iter().take_while(|c| **c != 0));
                Some(SockAddr::Unix(v))
            } else {
                Some(SockAddr::Unix(
                    p.iter().take_while(|c| **c != 0).copied().collect(),
                ))
            }
        }
        2 | 10 => None,
        f => Some(SockAddr::Other(f)),
    }
}

/// Reads a sockaddr of `len` bytes at `addr` (`len` clamped to 128).
pub fn read_sockaddr(mem: &dyn ReadMem, addr: u64, len: u64) -> io::Result<Option<SockAddr>> {
    if addr == 0 || len == 0 {
        return Ok(None);
    }
    let len = usize::try_from(len.min(MAX_SOCKADDR as u64)).unwrap_or(MAX_SOCKADDR);
    let mut b = vec![0u8; len];
    read_exact(mem, addr, &mut b)?;
    Ok(parse_sockaddr(&b))
}

/// `struct open_how` (openat2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

/// Reads `struct open_how` (the first 24 bytes; a larger `size` has extension fields the
/// kernel requires to be zero).
pub fn read_open_how(mem: &dyn ReadMem, addr: u64, size: u64) -> io::Result<OpenHow> {
    if size < 24 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut b = [0u8; 24];
    read_exact(mem, addr, &mut b)?;
    let g = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(x)
    };
    Ok(OpenHow {
        flags: g(0),
        mode: g(8),
        resolve: g(16),
    })
}

/// The `msg_name`/`msg_namelen` of a `struct msghdr` (sendmsg), per arch.
pub fn read_msghdr_name(mem: &dyn ReadMem, arch: Arch, addr: u64) -> io::Result<Option<SockAddr>> {
    let name = read_ptr(mem, arch, addr)?;
    let mut l = [0u8; 4];
    read_exact(mem, addr.wrapping_add(arch.ptr_size() as u64), &mut l)?;
    read_sockaddr(mem, name, u64::from(u32::from_le_bytes(l)))
}

/// A [`ReadMem`] over a byte buffer mapped at `base` (tests, fuzzing).
#[derive(Debug, Clone)]
pub struct BufMem {
    pub base: u64,
    pub data: Vec<u8>,
}

impl BufMem {
    pub fn new(base: u64) -> Self {
        BufMem {
            base,
            data: Vec::new(),
        }
    }

    /// Appends bytes and returns their address.
    pub fn put(&mut self, bytes: &[u8]) -> u64 {
        let a = self.base + self.data.len() as u64;
        self.data.extend_from_slice(bytes);
        a
    }

    /// Appends a NUL-terminated string and returns its address.
    pub fn put_cstr(&mut self, s: &[u8]) -> u64 {
        let a = self.put(s);
        self.data.push(0);
        a
    }

    /// Appends a pointer array (with the NULL terminator) for `arch`.
    pub fn put_ptrs(&mut self, arch: Arch, ptrs: &[u64]) -> u64 {
        let a = self.base + self.data.len() as u64;
        for p in ptrs.iter().chain(std::iter::once(&0)) {
            match arch {
                Arch::X86_64 => self.data.extend_from_slice(&p.to_le_bytes()),
                Arch::I386 => {
                    let p = u32::try_from(*p).expect("an i386 pointer fits 32 bits");
                    self.data.extend_from_slice(&p.to_le_bytes())
                }
            }
        }
        a
    }
}

impl ReadMem for BufMem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        let off = addr
            .checked_sub(self.base)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|o| *o < self.data.len())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
        let n = buf.len().min(self.data.len() - off);
        buf[..n].copy_from_slice(&self.data[off..off + n]);
        Ok(n)
    }

    fn read_cstr(&self, addr: u64, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let mut c = [0u8; 1];
            if self.read(a, &mut c)? == 0 {
                return Err(io::Error::from_raw_os_error(libc::EFAULT));
            }
            if c[0] == 0 {
                return Ok(out);
            }
            if out.len() >= max {
                return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
            }
            out.push(c[0]);
            a = a.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_bounds() {
        let mut m = BufMem::new(0x1000);
        let a = m.put_cstr(b"/etc/passwd");
        assert_eq!(read_path(&m, a).unwrap(), b"/etc/passwd");
        assert!(read_path(&m, 0).is_err());
        assert!(read_path(&m, 0xdead_0000).is_err());
        // No NUL within PATH_MAX.
        let long = vec![b'a'; PATH_MAX + 10];
        let b = m.put_cstr(&long);
        assert!(read_path(&m, b).is_err());
        // No NUL before the end of memory.
        let c = m.put(b"abc");
        assert!(read_path(&m, c).is_err());
    }

    #[test]
    fn argv_both_arches() {
        for arch in [Arch::X86_64, Arch::I386] {
            let mut m = BufMem::new(0x10_000);
            let a0 = m.put_cstr(b"/bin/sh");
            let a1 = m.put_cstr(b"-c");
            let a2 = m.put_cstr(b"echo hi");
            let v = m.put_ptrs(arch, &[a0, a1, a2]);
            let sv = read_strvec(&m, arch, v).unwrap();
            assert_eq!(
                sv.items,
                vec![b"/bin/sh".to_vec(), b"-c".to_vec(), b"echo hi".to_vec()]
            );
            assert!(!sv.truncated);
            assert!(read_strvec(&m, arch, 0).unwrap().items.is_empty());
        }
    }

    #[test]
    fn argv_bounded() {
        let mut m = BufMem::new(0x10_000);
        let s = m.put_cstr(b"x");
        let ptrs = vec![s; MAX_ARGS + 50];
        let v = m.put_ptrs(Arch::X86_64, &ptrs);
        let sv = read_strvec(&m, Arch::X86_64, v).unwrap();
        assert_eq!(sv.items.len(), MAX_ARGS);
        assert!(sv.truncated);
        // A pointer array running off the end of memory is an error, not a panic.
        let mut m2 = BufMem::new(0x100);
        let p = m2.put(&1u64.to_le_bytes());
        assert!(read_strvec(&m2, Arch::X86_64, p).is_err());
    }

    #[test]
    fn sockaddrs() {
        let mut m = BufMem::new(0x100);
        let sin = [2u8, 0, 0x01, 0xbb, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let a = m.put(&sin);
        assert_eq!(
            read_sockaddr(&m, a, 16).unwrap(),
            Some(SockAddr::Inet("10.0.0.1:443".parse().unwrap()))
        );
        // addrlen larger than memory: error, not panic.
        assert!(read_sockaddr(&m, a, 1 << 40).is_err());
        let mut un = vec![1u8, 0];
        un.extend_from_slice(b"/run/x.sock\0");
        let b = m.put(&un);
        assert_eq!(
            read_sockaddr(&m, b, un.len() as u64).unwrap(),
            Some(SockAddr::Unix(b"/run/x.sock".to_vec()))
        );
        let mut s6 = vec![10u8, 0, 0, 80, 0, 0, 0, 0];
        s6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        s6.extend_from_slice(&[0, 0, 0, 0]);
        let c = m.put(&s6);
        assert_eq!(
            read_sockaddr(&m, c, 28).unwrap(),
            Some(SockAddr::Inet("[::1]:80".parse().unwrap()))
        );
        // Truncated inet address.
        assert_eq!(parse_sockaddr(&[2, 0, 1]), None);
        assert_eq!(parse_sockaddr(&[17, 0]), Some(SockAddr::Other(17)));
    }

    #[test]
    fn open_how() {
        let mut m = BufMem::new(0x100);
        let mut b = Vec::new();
        b.extend_from_slice(&0o1101u64.to_le_bytes());
        b.extend_from_slice(&0o644u64.to_le_bytes());
        b.extend_from_slice(&0x10u64.to_le_bytes());
        let a = m.put(&b);
        let h = read_open_how(&m, a, 24).unwrap();
        assert_eq!((h.flags, h.mode, h.resolve), (0o1101, 0o644, 0x10));
        assert!(read_open_how(&m, a, 8).is_err());
    }
}
