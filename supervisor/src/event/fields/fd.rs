//! `fd.*`: the fd a call opens (from its path and flags) or uses (`/proc/<tid>/fd/N`,
//! the socket itself through `pidfd_getfd`), its endpoints, the predicted fd number.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use tiercel_rules::event::{Field, FieldArg, Value};

use super::{lossy, s};
use crate::event::builder::SyscallEvent;
use crate::event::flags as fl;
use crate::event::mem::SockAddr;
use crate::event::path;
use crate::event::sock::{self, SockInfo};

/// What we know about the fd a call uses.
#[derive(Debug, Clone, Default)]
pub struct FdInfo {
    /// File path (caller's view), or the socket tuple for sockets.
    pub name: String,
    pub typechar: char,
    pub sock: Option<SockInfo>,
}

/// Calls whose fd is a socket when they succeed.
fn is_socket_call(name: &str) -> bool {
    matches!(
        name,
        "connect"
            | "bind"
            | "listen"
            | "accept"
            | "accept4"
            | "sendto"
            | "sendmsg"
            | "sendmmsg"
            | "recvfrom"
            | "recvmsg"
            | "recvmmsg"
            | "shutdown"
            | "getsockopt"
            | "setsockopt"
            | "getsockname"
            | "getpeername"
    )
}

/// The address, IPv4-mapped IPv6 shown as IPv4 (as Falco does).
fn ip_of(a: &SocketAddr) -> IpAddr {
    match a.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// `ip:port`.
pub(super) fn fmt_ep(a: &SocketAddr) -> String {
    match ip_of(a) {
        IpAddr::V4(v4) => format!("{}:{}", v4, a.port()),
        IpAddr::V6(v6) => format!("{}:{}", v6, a.port()),
    }
}

/// `fd.type` of an `fd.typechar`.
fn typename(c: char) -> &'static str {
    match c {
        'f' => "file",
        'd' => "directory",
        '4' => "ipv4",
        '6' => "ipv6",
        'u' => "unix",
        'p' => "pipe",
        'e' => "event",
        's' => "signalfd",
        'l' => "eventpoll",
        'i' => "inotify",
        't' => "timerfd",
        'n' => "netlink",
        'b' => "bpf",
        'r' => "userfaultfd",
        'o' => "io_uring",
        'm' => "memfd",
        'c' => "pidfd",
        _ => "unknown",
    }
}

impl SyscallEvent {
    fn fdinfo(&self) -> Option<&FdInfo> {
        self.fdinfo
            .get_or_init(|| {
                let fd = self.d.use_fd?;
                // Socket calls: ask the socket itself first (inet families); no /proc at all.
                if self.d.sockaddr.is_some() || is_socket_call(self.d.name) {
                    if let Some(si) = crate::sys::remote_socket(self.tid, fd)
                        .ok()
                        .and_then(|r| sock::from_kernel(&r))
                    {
                        let mut info = FdInfo {
                            name: String::new(),
                            typechar: si.typechar,
                            sock: Some(si),
                        };
                        info.name = self.tuple_name(&info);
                        return Some(info);
                    }
                }
                let pd = self.pd()?;
                let link = pd.read_link(&format!("fd/{fd}")).ok();
                let l = link.as_deref().map(lossy).unwrap_or_default().into_owned();
                if let Some(ino) = l.strip_prefix("socket:[").and_then(|x| x.strip_suffix(']')) {
                    // Ask the kernel about the socket itself; scanning the task's
                    // `/proc/net` tables (which the container can make huge) is the
                    // fallback, and the only source for unix socket paths.
                    let si = crate::sys::remote_socket(self.tid, fd)
                        .ok()
                        .or_else(|| {
                            let tgid = self.status()?.tgid;
                            (tgid != self.tid)
                                .then(|| crate::sys::remote_socket(tgid, fd).ok())
                                .flatten()
                        })
                        .and_then(|r| sock::from_kernel(&r))
                        .or_else(|| ino.parse().ok().and_then(|i| sock::lookup(pd, i)));
                    let typechar = si
                        .as_ref()
                        .map(|s| s.typechar)
                        .or_else(|| self.sockaddr_typechar())
                        .unwrap_or('u');
                    let mut info = FdInfo {
                        name: String::new(),
                        typechar,
                        sock: si,
                    };
                    info.name = self.tuple_name(&info);
                    return Some(info);
                }
                if link.is_none() {
                    // Unknown fd (closed or never opened): the sockaddr still tells the family.
                    let typechar = self.sockaddr_typechar()?;
                    let mut info = FdInfo {
                        name: String::new(),
                        typechar,
                        sock: None,
                    };
                    info.name = self.tuple_name(&info);
                    return Some(info);
                }
                let typechar = if l.starts_with('/') {
                    let dir = std::fs::metadata(pd.entry(&format!("fd/{fd}")))
                        .map(|m| m.is_dir())
                        .unwrap_or(false);
                    if dir {
                        'd'
                    } else if l.starts_with("/memfd:") {
                        'm'
                    } else {
                        'f'
                    }
                } else if l.starts_with("pipe:") {
                    'p'
                } else if l.contains("eventfd") {
                    'e'
                } else if l.contains("eventpoll") {
                    'l'
                } else if l.contains("inotify") {
                    'i'
                } else if l.contains("timerfd") {
                    't'
                } else if l.contains("signalfd") {
                    's'
                } else if l.contains("bpf") {
                    'b'
                } else if l.contains("userfaultfd") {
                    'r'
                } else if l.contains("io_uring") {
                    'o'
                } else if l.contains("pidfd") {
                    'c'
                } else {
                    'f'
                };
                Some(FdInfo {
                    name: l,
                    typechar,
                    sock: None,
                })
            })
            .as_ref()
    }

    fn sockaddr_typechar(&self) -> Option<char> {
        Some(match self.d.sockaddr.as_ref()? {
            SockAddr::Inet(SocketAddr::V4(_)) => '4',
            SockAddr::Inet(a @ SocketAddr::V6(_)) => {
                if matches!(ip_of(a), IpAddr::V4(_)) {
                    '4'
                } else {
                    '6'
                }
            }
            SockAddr::Unix(_) => 'u',
            SockAddr::Other(_) => return None,
        })
    }

    /// Local endpoint (client for outbound calls).
    fn local_ep(&self) -> Option<SocketAddr> {
        self.fdinfo()?.sock.as_ref()?.local
    }

    /// Remote endpoint: the call's sockaddr (connect/sendto), else the socket's peer.
    fn remote_ep(&self) -> Option<SocketAddr> {
        if let Some(SockAddr::Inet(a)) = &self.d.sockaddr {
            if self.d.name != "bind" {
                return Some(*a);
            }
        }
        let r = self.fdinfo()?.sock.as_ref()?.remote?;
        (!r.ip().is_unspecified() || r.port() != 0).then_some(r)
    }

    /// Whether this end is the server (bind/listen/accept).
    fn is_server(&self) -> bool {
        matches!(self.d.name, "bind" | "listen" | "accept" | "accept4")
    }

    fn client_server(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        if self.is_server() {
            let local = if self.d.name == "bind" {
                match &self.d.sockaddr {
                    Some(SockAddr::Inet(a)) => Some(*a),
                    _ => self.local_ep(),
                }
            } else {
                self.local_ep()
            };
            (self.remote_ep(), local)
        } else {
            (self.local_ep(), self.remote_ep())
        }
    }

    fn tuple_name(&self, info: &FdInfo) -> String {
        if info.typechar == 'u' {
            if let Some(SockAddr::Unix(p)) = &self.d.sockaddr {
                return lossy(p).into_owned();
            }
            return info
                .sock
                .as_ref()
                .and_then(|s| s.unix_path.clone())
                .unwrap_or_default();
        }
        let (c, sv) = {
            let local = info.sock.as_ref().and_then(|s| s.local);
            let remote = match &self.d.sockaddr {
                Some(SockAddr::Inet(a)) if self.d.name != "bind" => Some(*a),
                _ => info.sock.as_ref().and_then(|s| s.remote),
            };
            if self.is_server() {
                (remote, local)
            } else {
                (local, remote)
            }
        };
        let unspec = SocketAddr::from(([0, 0, 0, 0], 0));
        format!(
            "{}->{}",
            fmt_ep(&c.unwrap_or(unspec)),
            fmt_ep(&sv.unwrap_or(unspec))
        )
    }

    /// `fd.typechar` of the event.
    pub fn fd_typechar(&self) -> Option<char> {
        *self.typechar.get_or_init(|| {
            if self.d.fd_path.is_some() {
                // libsinsp types the fd of an open by its flags alone: O_DIRECTORY gives a
                // directory, anything else a file (creat has no flags: a file). The
                // profile's flags prefilter relies on this
                // (tiercel_rules::prefilter::open_class_fields).
                let flags = self.d.open_flags.unwrap_or(fl::O_CREAT | fl::O_WRONLY);
                return Some(if flags & fl::O_DIRECTORY != 0 {
                    'd'
                } else {
                    'f'
                });
            }
            if self.d.name == "socket" {
                return match self.d.args[0] {
                    2 => Some('4'),
                    10 => Some('6'),
                    1 => Some('u'),
                    16 => Some('n'),
                    _ => None,
                };
            }
            if self.d.name == "memfd_create" {
                return Some('m');
            }
            self.fdinfo().map(|f| f.typechar)
        })
    }

    fn has_fd(&self) -> bool {
        self.d.fd_path.is_some() || self.d.use_fd.is_some() || self.d.returns_fd
    }

    /// The predicted return value if the call succeeds.
    pub fn predicted_rawres(&self) -> i64 {
        if let Some(r) = self.d.rawres {
            return r;
        }
        if self.d.returns_fd {
            return self.lowest_free_fd().unwrap_or(0);
        }
        0
    }

    /// The lowest fd number not open in the caller (what open/socket/dup return on success,
    /// unless another thread races it).
    fn lowest_free_fd(&self) -> Option<i64> {
        let pd = self.pd()?;
        let mut used: Vec<i64> = std::fs::read_dir(pd.entry("fd"))
            .ok()?
            .take(1 << 20)
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        used.sort_unstable();
        let mut want = 0i64;
        for u in used {
            if u == want {
                want += 1;
            } else if u > want {
                break;
            }
        }
        Some(want)
    }

    fn server_or_remote(&self, remote: bool) -> Option<SocketAddr> {
        if remote {
            self.remote_ep()
        } else {
            self.client_server().1
        }
    }

    fn client_or_local(&self, local: bool) -> Option<SocketAddr> {
        if local {
            self.local_ep()
        } else {
            self.client_server().0
        }
    }

    /// The `fd` class: `None` for fields of other classes and fields this event has none of.
    pub(super) fn fd_field(&self, name: Field) -> Option<Value<'_>> {
        match name {
            Field::FdNum => {
                if !self.has_fd() {
                    return None;
                }
                if self.d.fd_path.is_some() || self.d.returns_fd {
                    Some(Value::I64(self.predicted_rawres()))
                } else {
                    Some(Value::I64(i64::from(self.d.use_fd?)))
                }
            }
            Field::FdTypechar => {
                // A static one-letter string for the known kinds (no allocation).
                const KINDS: &str = "fd46upesltinbromc";
                let c = self.fd_typechar()?;
                match KINDS.find(c) {
                    Some(i) => s(&KINDS[i..i + 1]),
                    None => s(c.to_string()),
                }
            }
            Field::FdType => s(typename(self.fd_typechar()?)),
            Field::FdName => {
                if self.d.fd_path.is_some() {
                    s(lossy(self.fd_path_norm()?))
                } else if self.d.name == "socket" {
                    None
                } else {
                    s(self.fdinfo()?.name.as_str())
                }
            }
            Field::FdNameraw => {
                let i = self.d.fd_path?;
                s(lossy(&self.d.paths.get(i)?.raw))
            }
            Field::FdDirectory | Field::FdFilename => {
                let p: &[u8] = match self.d.fd_path {
                    Some(_) => self.fd_path_norm()?,
                    None => {
                        let f = self.fdinfo()?;
                        if !matches!(f.typechar, 'f' | 'd') {
                            return None;
                        }
                        f.name.as_bytes()
                    }
                };
                let part = if name == Field::FdDirectory {
                    path::dirname(p)
                } else {
                    path::basename(p)
                };
                s(lossy(part))
            }
            Field::FdSip | Field::FdRip => Some(Value::Ip(ip_of(
                &self.server_or_remote(name == Field::FdRip)?,
            ))),
            Field::FdCip | Field::FdLip => Some(Value::Ip(ip_of(
                &self.client_or_local(name == Field::FdLip)?,
            ))),
            Field::FdSport | Field::FdRport => Some(Value::U64(u64::from(
                self.server_or_remote(name == Field::FdRport)?.port(),
            ))),
            Field::FdCport | Field::FdLport => Some(Value::U64(u64::from(
                self.client_or_local(name == Field::FdLport)?.port(),
            ))),
            Field::FdSnet | Field::FdRnet => Some(Value::Ip(ip_of(
                &self.server_or_remote(name == Field::FdRnet)?,
            ))),
            Field::FdCnet | Field::FdLnet => Some(Value::Ip(ip_of(
                &self.client_or_local(name == Field::FdLnet)?,
            ))),
            Field::FdIp | Field::FdNet | Field::FdPort => {
                let (c, sv) = self.client_server();
                let items: Vec<Value<'_>> = [c, sv]
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        if name == Field::FdPort {
                            Value::U64(u64::from(a.port()))
                        } else {
                            Value::Ip(ip_of(&a))
                        }
                    })
                    .collect();
                (!items.is_empty()).then_some(Value::List(items))
            }
            Field::FdSipName | Field::FdCipName | Field::FdRipName | Field::FdLipName => {
                let a = match name {
                    Field::FdSipName => self.client_server().1,
                    Field::FdCipName => self.client_server().0,
                    Field::FdRipName => self.remote_ep(),
                    _ => self.local_ep(),
                }?;
                let g = self.ctx.dns.read().ok()?;
                let t = g.as_ref()?.read().ok()?;
                let names = t.get(&ip_of(&a))?;
                Some(Value::List(
                    names
                        .iter()
                        .map(|n| Value::Str(Cow::Owned(n.clone())))
                        .collect(),
                ))
            }
            Field::FdL4proto => {
                let f = self.fdinfo()?;
                if let Some(p) = f.sock.as_ref().and_then(|x| x.l4proto) {
                    return s(p);
                }
                None
            }
            Field::FdSockfamily => match self.fd_typechar()? {
                '4' | '6' => s("ip"),
                'u' => s("unix"),
                _ => None,
            },
            Field::FdIsServer => {
                let t = self.fd_typechar()?;
                matches!(t, '4' | '6' | 'u').then_some(Value::Bool(self.is_server()))
            }
            Field::FdContainername => {
                let n = self.extract_field(Field::FdName, &FieldArg::None)?;
                let Value::Str(n) = n else { return None };
                s(format!("{}:{}", self.container_id(), n))
            }
            Field::FdContainerdirectory => {
                let n = self.extract_field(Field::FdDirectory, &FieldArg::None)?;
                let Value::Str(n) = n else { return None };
                s(format!("{}:{}", self.container_id(), n))
            }
            Field::FdTypes => Some(Value::List(
                self.fd_typechar()
                    .map(|c| Value::Str(Cow::Borrowed(typename(c))))
                    .into_iter()
                    .collect(),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;

    #[test]
    fn network_from_sockaddr() {
        let t = target("net");
        let pid = t.child.id();
        let mut m = BufMem::new(0x1000);
        let sin = m.put(&[2u8, 0, 0x01, 0xbb, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut b = builder();
        let ev = b
            .build(&notif(pid, "connect", [9, sin, 16, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.sip").unwrap(), "10.0.0.1");
        assert_eq!(get(&ev, "fd.sport").unwrap(), "443");
        assert_eq!(get(&ev, "fd.rport").unwrap(), "443");
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "4");
        assert_eq!(get(&ev, "fd.type").unwrap(), "ipv4");
        assert_eq!(get(&ev, "fd.name").unwrap(), "0.0.0.0:0->10.0.0.1:443");
        assert_eq!(get(&ev, "fd.sockfamily").unwrap(), "ip");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("addr".into())).unwrap(),
            "10.0.0.1:443"
        );
        assert!(get(&ev, "fd.sip.name").is_none());
        let t: DnsTable = Default::default();
        t.write().unwrap().insert(
            "10.0.0.1".parse().unwrap(),
            vec!["kubernetes.default".into()],
        );
        b.container().set_dns_table(t);
        assert!(get(&ev, "fd.sip.name")
            .unwrap()
            .contains("kubernetes.default"));
        let ev = b
            .build(&notif(pid, "socket", [17, 3, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("domain".into())).unwrap(),
            "AF_PACKET"
        );
    }
}
