//! The listenerPath server against hostile or broken peers: garbage, oversized
//! messages, fds that are not seccomp listeners, too many fds, peers that never finish.
//! None may crash the supervisor, leak fds, or stop it from accepting.

use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tiercel::decide::Policy;
use tiercel::sinks::SinkConfig;
use tiercel::supervise::{Supervisor, SupervisorConfig};
use tiercel::sys;
use tiercel_rules::program::{Program, RuleMatching};

fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

fn start(dir: &Path) -> Supervisor {
    Supervisor::start(SupervisorConfig {
        socket: dir.join("s.sock"),
        program: Program::default(),
        matching: RuleMatching::First,
        policy: Policy::default(),
        alert_options: Default::default(),
        web: Default::default(),
        metrics: Default::default(),
        sinks: SinkConfig {
            queue: 16,
            ..SinkConfig::default()
        },
        watched: Vec::new(),
        watch: false,
        log: Default::default(),
    })
    .unwrap()
}

fn wait_fds(target: usize) -> usize {
    let t = Instant::now();
    loop {
        let n = open_fds();
        if n <= target || t.elapsed() > Duration::from_secs(5) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn hostile_peers_do_not_break_the_server() {
    let dir = std::env::temp_dir().join(format!("tiercel-hostile-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let sup = start(&dir);
    let sock = sup.socket().to_path_buf();
    let baseline = open_fds();

    // Garbage, then EOF.
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all(b"\x00\xffnot json at all").unwrap();
    drop(c);

    // A well-formed state whose fd is a pipe-like socket, not a seccomp listener.
    let (p1, p2) = UnixStream::pair().unwrap();
    let c = UnixStream::connect(&sock).unwrap();
    let state = br#"{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1,"state":{"id":"x","status":"creating","pid":1}}"#;
    sys::send_with_fds(c.as_fd(), state, &[p1.as_fd()]).unwrap();
    drop(c);

    // Eight fds with the state: all must be closed by the server.
    let c = UnixStream::connect(&sock).unwrap();
    let many: Vec<_> = (0..8).map(|_| p2.as_fd()).collect();
    sys::send_with_fds(c.as_fd(), state, &many).unwrap();
    drop(c);

    // Oversized message (more than 1 MiB without a complete JSON value).
    let mut c = UnixStream::connect(&sock).unwrap();
    let _ = c.write_all(b"[");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        if c.write_all(&chunk).is_err() {
            break;
        }
    }
    drop(c);

    // A peer that connects and never sends: must not block others.
    let idle = UnixStream::connect(&sock).unwrap();

    // Deep nesting.
    let mut c = UnixStream::connect(&sock).unwrap();
    c.write_all(&b"[".repeat(100_000)).unwrap();
    drop(c);

    // Still accepting: a last connection is read and dropped.
    let c = UnixStream::connect(&sock).unwrap();
    sys::send_with_fds(c.as_fd(), state, &[p1.as_fd()]).unwrap();
    drop(c);

    drop(p1);
    drop(p2);
    drop(idle);
    // Everything the server received was closed: back to the baseline (taken before
    // the pair was created).
    let now = wait_fds(baseline);
    assert!(now <= baseline, "fd leak: {baseline} before, {now} after");
    assert_eq!(sup.stats().sessions_started.load(Ordering::Relaxed), 0);
    sup.shutdown();
    assert!(!sock.exists());
    let _ = fs::remove_dir_all(&dir);
}
