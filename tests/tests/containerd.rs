//! End-to-end tests with a real containerd (Debian's 1.6): a `containerd` of the test's own
//! (root, state and socket in a temporary directory; CRI plugin off; never the host's),
//! driven with `ctr run --runc-binary tiercel-shim` (the shim finds its config through
//! `TIERCEL_SHIM_CONFIG`, which containerd hands to its runc shims and they to the
//! runtime), and a real `tiercel supervise`: audit and enforce, a `ctr task exec` session,
//! `container.type` from the bundle path.
//!
//! Needs root, containerd and ctr, runc, busybox-static and the binaries (`cargo build
//! --release --workspace --bins`). A missing prerequisite prints `SKIP:` (and fails under
//! `CI`).

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tiercel_e2e::{
    busybox_rootfs, busybox_static, have, is_root, require, tiercel_bin, workspace_bin, Containerd,
    Supervisor, SupervisorOpts,
};

const RULE: &str = "Write below /bin (containerd test)";
const RULES: &str = r#"
- rule: Write below /bin (containerd test)
  desc: a file below /bin opened for writing
  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write=true and fd.name startswith /bin/
  output: "File below /bin opened (file=%fd.name id=%container.id type=%container.type)"
  priority: WARNING
"#;
const T: Duration = Duration::from_secs(60);

struct Bins {
    tiercel: PathBuf,
    shim: PathBuf,
}

fn prereq(test: &str) -> Option<Bins> {
    if !require(test, "must run as root", is_root())
        || !require(test, "containerd not installed", have("containerd"))
        || !require(test, "ctr not installed (containerd)", have("ctr"))
        || !require(test, "runc not installed", have("runc"))
        || !require(test, "busybox-static missing", busybox_static().is_some())
    {
        return None;
    }
    let b = (|| {
        Some(Bins {
            tiercel: tiercel_bin()?,
            shim: workspace_bin("tiercel-shim", "TIERCEL_SHIM_BIN")?,
        })
    })();
    require(
        test,
        "binaries not built (cargo build --release --workspace --bins)",
        b.is_some(),
    )
    .then_some(b?)
}

fn runc() -> String {
    let o = Command::new("sh")
        .args(["-c", "command -v runc"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn alerts_of<'a>(alerts: &'a [Value], id: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["rule"] == RULE && a["output_fields"]["container.id"] == id[..12])
        .collect()
}

fn ctr_mode(mode: &str) {
    let test = format!("containerd_{mode}");
    let Some(b) = prereq(&test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.yaml");
    fs::write(&rules, RULES).unwrap();
    let sup = Supervisor::start(
        &b.tiercel,
        SupervisorOpts::new(std::slice::from_ref(&rules), mode),
    )
    .unwrap();
    let cfg = tmp.path().join("shim.yaml");
    fs::write(
        &cfg,
        format!(
            "runtime: {}\nsocket: {}\nrules: [{}]\nmode: {mode}\n",
            runc(),
            sup.socket.display(),
            rules.display()
        ),
    )
    .unwrap();
    let c = Containerd::start(&[("TIERCEL_SHIM_CONFIG", cfg.to_str().unwrap())]).unwrap();
    let rootfs = busybox_rootfs(tmp.path()).unwrap();
    let shim = b.shim.to_str().unwrap();
    let root = rootfs.to_str().unwrap();

    // A task in the foreground: the write below /bin, then other work.
    let id = format!("tce2e-ctr-{mode}-{}", std::process::id());
    let o = c
        .ctr(
            &[
                "run",
                "--rm",
                "--env",
                "PATH=/bin",
                "--runc-binary",
                shim,
                "--rootfs",
                root,
                &id,
                "/bin/sh",
                "-c",
                "touch /bin/evil; echo touch-rc=$?; touch /tmp/ok && echo tmp-ok",
            ],
            T,
        )
        .unwrap();
    assert!(o.stdout.contains("tmp-ok"), "{o:?}\n{}", c.log());
    let evil = rootfs.join("bin/evil").exists();
    if mode == "enforce" {
        assert!(o.stdout.contains("touch-rc=1"), "{o:?}\n{}", sup.dump());
        assert!(!evil, "enforce: /bin/evil must not exist");
    } else {
        assert!(o.stdout.contains("touch-rc=0"), "{o:?}\n{}", sup.dump());
        assert!(evil, "audit: /bin/evil must exist");
    }
    let alerts = sup
        .wait_alerts(Duration::from_secs(20), Duration::from_millis(300), |a| {
            !alerts_of(a, &id).is_empty()
        })
        .unwrap();
    let a = alerts_of(&alerts, &id);
    assert_eq!(a.len(), 1, "one alert\n{}", sup.dump());
    assert_eq!(a[0]["output_fields"]["container.type"], "containerd");
    assert_eq!(a[0]["output_fields"]["fd.name"], "/bin/evil");

    // A running task and `ctr task exec`: the exec'd process has a session of its own.
    let id2 = format!("tce2e-ctrx-{mode}-{}", std::process::id());
    let o = c
        .ctr(
            &[
                "run",
                "-d",
                "--env",
                "PATH=/bin",
                "--runc-binary",
                shim,
                "--rootfs",
                root,
                &id2,
                "/bin/sleep",
                "300",
            ],
            T,
        )
        .unwrap();
    assert!(o.success(), "{o:?}\n{}", c.log());
    let o = c
        .ctr(
            &[
                "task",
                "exec",
                "--exec-id",
                "x1",
                &id2,
                "/bin/sh",
                "-c",
                "touch /bin/exec-evil; echo exec-rc=$?",
            ],
            T,
        )
        .unwrap();
    let want = if mode == "enforce" {
        "exec-rc=1"
    } else {
        "exec-rc=0"
    };
    assert!(o.stdout.contains(want), "{o:?}\n{}", sup.dump());
    let alerts = sup
        .wait_alerts(Duration::from_secs(20), Duration::from_millis(300), |a| {
            alerts_of(a, &id2)
                .iter()
                .any(|x| x["output_fields"]["fd.name"] == "/bin/exec-evil")
        })
        .unwrap();
    assert!(
        alerts_of(&alerts, &id2)
            .iter()
            .any(|x| x["output_fields"]["fd.name"] == "/bin/exec-evil"),
        "exec session watched\n{}",
        sup.dump()
    );
    let _ = c.ctr(&["task", "kill", "-s", "KILL", &id2], T);
    drop(c);
    let mut sup = sup;
    assert!(sup.is_alive(), "{}", sup.dump());
}

#[test]
fn containerd_audit() {
    ctr_mode("audit");
}

#[test]
fn containerd_enforce() {
    ctr_mode("enforce");
}
