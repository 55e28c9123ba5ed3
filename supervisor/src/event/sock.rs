//! What `/proc/<tid>/net/*` says about a socket inode: family, L4 protocol, addresses.

use super::procfs::ProcDir;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Most bytes read of one `/proc/net` table.
const MAX_NET_TABLE: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockInfo {
    /// Falco's typechar: '4', '6', 'u'.
    pub typechar: char,
    /// `tcp`, `udp`, `raw`, or `None` (unix).
    pub l4proto: Option<&'static str>,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// AF_UNIX path, if bound.
    pub unix_path: Option<String>,
}

fn hex_v4(s: &str) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::from(
        u32::from_str_radix(s, 16).ok()?.swap_bytes(),
    ))
}

fn hex_v6(s: &str) -> Option<Ipv6Addr> {
    if s.len() != 32 {
        return None;
    }
    let mut b = [0u8; 16];
    for i in 0..4 {
        let w = u32::from_str_radix(s.get(i * 8..i * 8 + 8)?, 16).ok()?;
        b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    Some(Ipv6Addr::from(b))
}

fn hex_addr(s: &str, v6: bool) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = if v6 {
        IpAddr::V6(hex_v6(a)?)
    } else {
        IpAddr::V4(hex_v4(a)?)
    };
    Some(SocketAddr::new(ip, port))
}

/// An inet socket as the kernel describes it (`crate::sys::remote_socket`); `None` for
/// other families (unix sockets need the table for their path).
pub fn from_kernel(r: &crate::sys::RemoteSocket) -> Option<SockInfo> {
    let mapped = |a: &Option<SocketAddr>| matches!(a.map(|a| a.ip()), Some(IpAddr::V6(v)) if v.to_ipv4_mapped().is_some());
    let typechar = match r.domain {
        libc::AF_INET => '4',
        libc::AF_INET6 if mapped(&r.local) || mapped(&r.peer) => '4',
        libc::AF_INET6 => '6',
        _ => return None,
    };
    let l4proto = match r.sotype {
        libc::SOCK_STREAM => Some("tcp"),
        libc::SOCK_DGRAM => Some("udp"),
        libc::SOCK_RAW => Some("raw"),
        _ => None,
    };
    Some(SockInfo {
        typechar,
        l4proto,
        local: r.local,
        remote: r.peer,
        unix_path: None,
    })
}

/// Parses one inet table (`tcp`, `udp6` ...) looking for `inode`.
pub fn find_inet(table: &str, inode: u64, v6: bool) -> Option<(SocketAddr, SocketAddr)> {
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.len() < 10 || f[9].parse::<u64>().ok() != Some(inode) {
            continue;
        }
        return Some((hex_addr(f[1], v6)?, hex_addr(f[2], v6)?));
    }
    None
}

/// Looks a socket inode up in the task's network namespace tables.
pub fn lookup(dir: &ProcDir, inode: u64) -> Option<SockInfo> {
    let tables: [(&str, bool, &'static str); 6] = [
        ("net/tcp", false, "tcp"),
        ("net/tcp6", true, "tcp"),
        ("net/udp", false, "udp"),
        ("net/udp6", true, "udp"),
        ("net/raw", false, "raw"),
        ("net/raw6", true, "raw"),
    ];
    for (t, v6, proto) in tables {
        let Ok(b) = dir.read_max(t, MAX_NET_TABLE) else {
            continue;
        };
        let s = String::from_utf8_lossy(&b);
        if let Some((l, r)) = find_inet(&s, inode, v6) {
            let mapped = matches!(l.ip(), IpAddr::V6(a) if a.to_ipv4_mapped().is_some());
            return Some(SockInfo {
                typechar: if v6 && !mapped { '6' } else { '4' },
                l4proto: Some(proto),
                local: Some(l),
                remote: Some(r),
                unix_path: None,
            });
        }
    }
    if let Ok(b) = dir.read_max("net/unix", MAX_NET_TABLE) {
        let s = String::from_utf8_lossy(&b);
        for line in s.lines().skip(1) {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            if f.len() >= 7 && f[6].parse::<u64>().ok() == Some(inode) {
                return Some(SockInfo {
                    typechar: 'u',
                    l4proto: None,
                    local: None,
                    remote: None,
                    unix_path: f.get(7).map(|p| p.to_string()),
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_tables() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 0200000A:01BB 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n";
        let (l, r) = find_inet(t, 12345, false).unwrap();
        assert_eq!(l, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(r, "10.0.0.2:443".parse().unwrap());
        assert!(find_inet(t, 1, false).is_none());
        let t6 = "hdr\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1\n";
        let (l, _) = find_inet(t6, 777, true).unwrap();
        assert_eq!(l, "[::1]:22".parse().unwrap());
        assert!(find_inet("garbage\n1 2 3", 3, false).is_none());
    }

    #[test]
    fn real_listening_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        use std::os::fd::AsRawFd;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
        let s = link.to_string_lossy();
        let ino: u64 = s
            .trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .unwrap();
        let dir = ProcDir::open_tid(std::process::id()).unwrap();
        let i = lookup(&dir, ino).unwrap();
        assert_eq!(i.typechar, '4');
        assert_eq!(i.l4proto, Some("tcp"));
        assert_eq!(i.local.unwrap().port(), port);
    }
}
