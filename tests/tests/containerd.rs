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
use std::time::Duration;

use serde_json::Value;
use tiercel_e2e::daemons::{
    command_path, engine_prereq, shim_config, write_below_bin_rules, TOUCH_BIN_SCRIPT,
};
use tiercel_e2e::{busybox_rootfs, have, Containerd, Supervisor, SupervisorOpts};

const RULE: &str = "Write below /bin (containerd test)";
const T: Duration = Duration::from_secs(60);

struct Bins {
    tiercel: PathBuf,
    shim: PathBuf,
}

fn prereq(test: &str) -> Option<Bins> {
    let needs = [
        ("containerd not installed", have("containerd")),
        ("ctr not installed (containerd)", have("ctr")),
    ];
    let (tiercel, shim) = engine_prereq(test, &needs, "tiercel-shim", "TIERCEL_SHIM_BIN")?;
    Some(Bins { tiercel, shim })
}

fn alerts_of<'a>(alerts: &'a [Value], id: &str) -> Vec<&'a Value> {
    tiercel_e2e::daemons::alerts_of(alerts, RULE, id)
}

fn ctr_mode(mode: &str) {
    let test = format!("containerd_{mode}");
    let Some(b) = prereq(&test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.yaml");
    let text = write_below_bin_rules(
        RULE,
        "File below /bin opened (file=%fd.name id=%container.id type=%container.type)",
    );
    fs::write(&rules, text).unwrap();
    let sup = Supervisor::start(
        &b.tiercel,
        SupervisorOpts::new(std::slice::from_ref(&rules), mode),
    )
    .unwrap();
    let cfg = tmp.path().join("shim.yaml");
    fs::write(
        &cfg,
        shim_config(
            &command_path("runc"),
            &sup.socket,
            std::slice::from_ref(&rules),
            mode,
        ),
    )
    .unwrap();
    let c = Containerd::start(&[("TIERCEL_SHIM_CONFIG", cfg.to_str().unwrap())]).unwrap();
    let rootfs = busybox_rootfs(tmp.path()).unwrap();
    // `ctr run OPTION` of a task (`id_cmd`: its id and command) on the busybox rootfs
    // through the shim. `--rootfs` is a switch: the rootfs path is the first argument, so
    // every option comes before it.
    let run = |option: &str, id_cmd: &[&str]| {
        let shim = b.shim.to_str().unwrap();
        let root = rootfs.to_str().unwrap();
        let mut args = vec![
            "run",
            option,
            "--env",
            "PATH=/bin",
            "--runc-binary",
            shim,
            "--rootfs",
            root,
        ];
        args.extend(id_cmd);
        c.ctr(&args, T).unwrap()
    };

    // A task in the foreground: the write below /bin, then other work.
    let id = format!("tce2e-ctr-{mode}-{}", std::process::id());
    let o = run("--rm", &[&id, "/bin/sh", "-c", TOUCH_BIN_SCRIPT]);
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
    let o = run("-d", &[&id2, "/bin/sleep", "300"]);
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
