//! End-to-end checks of the smaller classes of the adversarial review (issue 16, part 9),
//! with real runc/crun containers and the real `tiercel supervise`:
//!
//! * (e) the runtime-phase exemption is tied to the runtime's executable identity: runc's
//!   own first `execve` (from its sealed memfd) is exempt in enforce mode, the workload's
//!   later one is not; a crun workload that is a script named `runc` (comm `runc`), handed
//!   over late (`noNewPrivileges`), gets no exemption.
//! * (c) name and image claimed by annotations (plain runc) are marked as claims in the
//!   JSON alert's `tiercel.meta_source`.
//! * (d) idle connections to the listener socket are bounded per peer process; a real
//!   container still gets its session while they are held.
//!
//! Root, runc, busybox-static and the release binaries (`TIERCEL_BIN`); crun for the crun
//! test. A missing prerequisite prints `SKIP:` (a failure under `CI`).

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(90);
const ALERT_WAIT: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_millis(1000);

const EXEC_RULE: &str = "Exec of the marker program";
const EXEC_RULES: &str = r#"
- rule: Exec of the marker program
  desc: the program named first is started
  condition: evt.type in (execve, execveat) and proc.name = first
  output: "marker exec (name=%proc.name exe=%proc.exepath image=%container.image.repository)"
  priority: WARNING
"#;

const WRITE_RULE: &str = "Write below binary dir (hardening)";
const WRITE_RULES: &str = r#"
- rule: Write below binary dir (hardening)
  desc: a file below /bin opened for writing
  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write=true and fd.name startswith /bin/
  output: "write below /bin (file=%fd.name name=%proc.name)"
  priority: WARNING
"#;

fn rules(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("rules.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn script(b: &Bundle, path: &str, body: &str) {
    let p = b.host_path(path);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// (e) + (c): in enforce mode, runc's own exec of the workload (runtime phase, runc runs
/// from its memfd copy) is allowed; the workload's exec of the same program is denied.
/// Had the runtime not been recognised, the container would not start at all. The alert
/// of the exempt exec marks the annotated image as a claim.
#[test]
fn runc_runtime_phase_is_exempt_and_the_workload_is_not() {
    let t = "runc_runtime_phase_is_exempt_and_the_workload_is_not";
    let Some(env) = container_env(t) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts::new(&[rules(tmp.path(), EXEC_RULES)], "enforce"),
    )
    .expect("supervisor");
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    b.set_seccomp(sup.profile().expect("profile"));
    script(
        &b,
        "/bin/first",
        "#!/bin/sh\n[ \"$1\" = again ] && { echo again-ran; exit 0; }\necho first-ran\n/bin/first again\necho rc=$?\n",
    );
    b.set_args(&["/bin/first"]);
    b.annotate("io.kubernetes.cri.image-name", "registry.corp/trusted:1");
    let id = container_id("hsrunc");
    let out = run_container(&b, &id, RUN).expect("runc run");
    assert!(
        out.success() && out.stdout.contains("first-ran"),
        "{t}: runc's exec of the workload must be exempt: {out:?}\n{}",
        sup.dump()
    );
    assert!(
        !out.stdout.contains("again-ran") && out.stdout.contains("rc=126"),
        "{t}: the workload's own exec must be denied: {out:?}\n{}",
        sup.dump()
    );
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| by_rule(a, EXEC_RULE).len() >= 2)
        .unwrap();
    let got = by_rule(&alerts, EXEC_RULE);
    assert_eq!(got.len(), 2, "{t}: {}", sup.dump());
    let denied = got
        .iter()
        .filter(|a| a["tiercel"]["action"] == "deny")
        .count();
    assert_eq!(denied, 1, "{t}: exactly the workload's exec is denied");
    for a in &got {
        assert_eq!(
            a["tiercel"]["meta_source"]["container.image"],
            "annotation io.kubernetes.cri.image-name (claim)",
            "{t}: {a}"
        );
    }
}

/// (e): crun with `noNewPrivileges` hands the listener over at `start`, when the workload
/// may already run. A workload that is a script named `runc` (its comm is `runc`) must get
/// no exemption: its write below /bin is refused in enforce mode.
#[test]
fn crun_workload_named_runc_gets_no_exemption() {
    let t = "crun_workload_named_runc_gets_no_exemption";
    let Some(env) = container_env(t) else { return };
    if !require(t, "crun not installed", have("crun"))
        || !require(t, "unshare not installed", have("unshare"))
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = SupervisorOpts::new(&[rules(tmp.path(), WRITE_RULES)], "enforce");
    opts.extra = vec!["--deny".into(), format!("rule:{WRITE_RULE}")];
    let sup = Supervisor::start(&env.tiercel, opts).expect("supervisor");
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    b.set_seccomp(sup.profile().expect("profile"));
    // The first thing the workload does is the write; `touch` is a busybox applet that
    // runs without exec, so the task keeps the comm `runc`.
    script(
        &b,
        "/bin/runc",
        "#!/bin/sh\ntouch /bin/evil; echo touch-rc=$? > /tmp/result\n",
    );
    b.set_args(&["/bin/runc"]);
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.config["process"]["terminal"] = json!(false);
    b.annotate("io.tiercel.mode", "enforce");
    b.write().unwrap();
    let root = tempfile::tempdir().unwrap();
    let id = container_id("hscrun");
    let crun = format!(
        "crun --root {} --cgroup-manager=disabled",
        root.path().display()
    );
    let b_s = b.path().display();
    let body = format!(
        "{crun} create -b {b_s} {id} || exit 9; sleep 0.5; {crun} start {id} || exit 8; \
         i=0; while ! {crun} state {id} | grep -q '\"stopped\"'; do i=$((i+1)); \
         [ $i -gt 200 ] && exit 7; sleep 0.1; done; {crun} delete {id}"
    );
    let sh = format!(
        "umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup || exit 10; {body}"
    );
    let o = run_cmd(
        Command::new("unshare").args(["-m", "sh", "-c", &sh]),
        Duration::from_secs(60),
        || {},
    )
    .unwrap();
    assert!(o.success(), "{t}: {o:?}\n{}", sup.dump());
    assert!(
        !b.host_path("/bin/evil").exists(),
        "{t}: a workload named runc was exempted\n{}",
        sup.dump()
    );
    let result = std::fs::read_to_string(b.host_path("/tmp/result")).unwrap_or_default();
    assert!(result.contains("touch-rc=1"), "{t}: {result:?}");
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| !by_rule(a, WRITE_RULE).is_empty())
        .unwrap();
    let got = by_rule(&alerts, WRITE_RULE);
    assert!(
        got.iter().any(|a| a["tiercel"]["action"] == "deny"),
        "{t}: {}",
        sup.dump()
    );
}

/// (d): one process holding idle connections gets at most 4; the fifth is closed by the
/// supervisor. A container started meanwhile is watched as usual.
#[test]
fn idle_connections_are_bounded_per_peer() {
    let t = "idle_connections_are_bounded_per_peer";
    let Some(env) = container_env(t) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts::new(&[rules(tmp.path(), WRITE_RULES)], "audit"),
    )
    .expect("supervisor");
    let conns: Vec<UnixStream> = (0..5)
        .map(|_| {
            let c = UnixStream::connect(&sup.socket).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            c
        })
        .collect();
    // The server closes what it refuses (read gives EOF) and keeps the others (timeout).
    let closed: Vec<bool> = conns
        .iter()
        .map(|c| {
            let mut buf = [0u8; 1];
            matches!((&*c).read(&mut buf), Ok(0))
        })
        .collect();
    assert_eq!(
        closed,
        vec![false, false, false, false, true],
        "{t}\n{}",
        sup.dump()
    );
    assert!(
        sup.stderr()
            .contains("too many connections waiting for their state"),
        "{t}: the refusal is logged\n{}",
        sup.dump()
    );
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    b.set_seccomp(sup.profile().expect("profile"));
    b.set_script("touch /bin/evil; echo done");
    let id = container_id("hsidle");
    let start = Instant::now();
    let out = run_container(&b, &id, RUN).expect("runc run");
    assert!(out.success(), "{t}: {out:?}\n{}", sup.dump());
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| !by_rule(a, WRITE_RULE).is_empty())
        .unwrap();
    assert!(
        !by_rule(&alerts, WRITE_RULE).is_empty(),
        "{t}: the container was watched ({:?})\n{}",
        start.elapsed(),
        sup.dump()
    );
    drop(conns);
}
