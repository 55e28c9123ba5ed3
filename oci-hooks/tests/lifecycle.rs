//! The hook's supervisor lifecycle (issue 16 a): only the configured socket gets a
//! supervisor (a container naming another socket in the same directory gets none), one
//! supervisor per socket however many containers use it, and poststop of the last
//! container stops exactly that supervisor and removes its socket. Needs the `tiercel`
//! binary beside the hook (`cargo build -p tiercel --bin tiercel`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn tiercel_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_tiercel-hook")).with_file_name("tiercel");
    assert!(
        p.is_file(),
        "{} not built: run `cargo build -p tiercel --bin tiercel` first",
        p.display()
    );
    p
}

fn bundle(root: &Path, name: &str, listener: &Path) -> PathBuf {
    let b = root.join(name);
    std::fs::create_dir_all(b.join("rootfs")).unwrap();
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"]},
        "root": {"path": "rootfs"},
        "linux": {"seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": listener,
            "syscalls": [{"names": ["unlinkat"], "action": "SCMP_ACT_NOTIFY"}]
        }}
    });
    std::fs::write(b.join("config.json"), config.to_string()).unwrap();
    b
}

fn hook(root: &Path, stage: &str, id: &str, bundle: &Path) -> Output {
    let rules = root.join("rules.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiercel-hook"))
        .arg(stage)
        .env("TIERCEL_ON_MISSING", "fail-closed")
        .env("TIERCEL_SHIM_CONFIG", root.join("hook.yaml"))
        .env("TIERCEL_SOCKET", root.join("run/s.sock"))
        .env("TIERCEL_RULES", &rules)
        .env("TIERCEL_SUPERVISOR", tiercel_bin())
        .env("TIERCEL_STATE_DIR", root.join("state"))
        .env("TIERCEL_MODE", "audit")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = serde_json::json!({"ociVersion": "1.0.2", "id": id, "status": "creating",
        "pid": 1, "bundle": bundle});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(state.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Running `tiercel supervise` processes whose command line names `socket`.
fn supervisors_on(socket: &Path) -> Vec<u32> {
    let want = socket.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            let args: Vec<&[u8]> = c.split(|&b| b == 0).collect();
            !zombie && args.iter().any(|a| *a == b"supervise") && args.contains(&want.as_bytes())
        })
        .collect()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn one_supervisor_for_the_configured_socket_only_stopped_by_the_last_poststop() {
    let root = std::env::temp_dir().join(format!("tiercel-hook-life-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("run")).unwrap();
    std::fs::write(root.join("hook.yaml"), "").unwrap();
    std::fs::write(
        root.join("rules.yaml"),
        "- rule: R\n  desc: d\n  condition: evt.type = unlinkat\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let socket = root.join("run/s.sock");

    // Another name in the socket's directory: no supervisor, no state.
    let other = root.join("run/other.sock");
    let b0 = bundle(&root, "b0", &other);
    let o = hook(&root, "createRuntime", "c0", &b0);
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not the configured socket"),
        "{o:?}"
    );
    assert!(
        supervisors_on(&other).is_empty(),
        "a supervisor for a name the container chose"
    );
    assert!(!other.exists());

    // Two containers on the configured socket: one supervisor.
    let b1 = bundle(&root, "b1", &socket);
    let b2 = bundle(&root, "b2", &socket);
    ok(&hook(&root, "createRuntime", "c1", &b1));
    let first = supervisors_on(&socket);
    assert_eq!(first.len(), 1, "{first:?}");
    ok(&hook(&root, "createRuntime", "c2", &b2));
    assert_eq!(supervisors_on(&socket), first, "never a second supervisor");

    // The first poststop leaves it to the other container; the last one stops it.
    ok(&hook(&root, "poststop", "c1", &b1));
    assert_eq!(supervisors_on(&socket), first);
    ok(&hook(&root, "poststop", "c2", &b2));
    let end = Instant::now() + Duration::from_secs(5);
    while !supervisors_on(&socket).is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(supervisors_on(&socket).is_empty(), "leaked supervisor");
    assert!(!socket.exists(), "socket left behind");
    let left: Vec<_> = std::fs::read_dir(root.join("state/s"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| n.to_string_lossy().ends_with(".pid"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    ok(&hook(&root, "poststop", "c0", &b0));
    let _ = std::fs::remove_dir_all(root);
}
