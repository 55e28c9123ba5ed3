//! End-to-end test of podman's `precreate` hook: `podman run --hooks-dir DIR …` with nothing
//! else (no seccomp option, no runtime wrapper) is watched. The hooks directory is
//! `oci-hooks/hooks.d-podman/` (precreate puts the filter in place, createRuntime starts a
//! supervisor on demand, poststop stops it), with the paths rewritten to the built binaries.
//! A second directory uses the opt-in `when` (`deploy/podman/tiercel-precreate-optin.json`):
//! only containers annotated `io.tiercel.watch=true` are watched.
//!
//! Needs root, podman, runc, busybox-static and the binaries. A missing prerequisite prints
//! `SKIP:` (and fails under `CI`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiercel_e2e::daemons::{engine_prereq, write_below_bin_rules, TOUCH_BIN_SCRIPT as SCRIPT};
use tiercel_e2e::{busybox_rootfs, have, run_cmd, RunOutput};

const IMAGE: &str = "localhost/tiercel-e2e-precreate:latest";
const RULE: &str = "Write below /bin (precreate test)";

struct Bins {
    tiercel: PathBuf,
    hook: PathBuf,
}

fn prereq(test: &str) -> Option<Bins> {
    let needs = [("podman not installed", have("podman"))];
    let (tiercel, hook) = engine_prereq(test, &needs, "tiercel-hook", "TIERCEL_HOOK_BIN")?;
    Some(Bins { tiercel, hook })
}

fn sh(cmd: &mut Command) -> RunOutput {
    run_cmd(cmd, Duration::from_secs(120), || {}).unwrap()
}

fn import_image() {
    let dir = tempfile::tempdir().unwrap();
    let root = busybox_rootfs(dir.path()).unwrap();
    let tar = dir.path().join("rootfs.tar");
    let o = sh(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    assert!(o.success(), "{o:?}");
    let o = sh(Command::new("podman").arg("import").arg(&tar).arg(IMAGE));
    assert!(o.success(), "podman import: {o:?}");
}

/// A hooks directory from the shipped podman one, `precreate` replaced by `precreate`
/// (when given), paths and config rewritten.
fn hooks_dir(b: &Bins, dir: &Path, cfg: &Path, precreate: Option<&Path>) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let hooks = dir.join("hooks.d");
    fs::create_dir_all(&hooks).unwrap();
    let mut files: Vec<PathBuf> = fs::read_dir(repo.join("oci-hooks/hooks.d-podman"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    if let Some(p) = precreate {
        files.retain(|f| !f.ends_with("tiercel-precreate.json"));
        files.push(p.to_path_buf());
    }
    for p in &files {
        let mut v: Value = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
        v["hook"]["path"] = json!(b.hook);
        v["hook"]["env"] = json!([format!("TIERCEL_SHIM_CONFIG={}", cfg.display())]);
        fs::write(hooks.join(p.file_name().unwrap()), v.to_string()).unwrap();
    }
    assert_eq!(files.len(), 3, "precreate, createRuntime and poststop");
    hooks
}

/// The alerts of [`RULE`], waiting up to 10 s for at least `n`.
fn wait_alerts(p: &Path, n: usize) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let a: Vec<Value> = read_alerts(p)
            .into_iter()
            .filter(|a| a["rule"] == RULE)
            .collect();
        if a.len() >= n || Instant::now() > end {
            return a;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_alerts(p: &Path) -> Vec<Value> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn podman_run(hooks: &Path, name: &str, extra: &[&str]) -> RunOutput {
    let o = sh(Command::new("podman")
        .arg("--hooks-dir")
        .arg(hooks)
        .args([
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--network",
            "none",
            "--name",
            name,
        ])
        // This machine's root lacks CAP_SYS_RESOURCE: podman's default rlimits would be
        // refused by runc (nothing to do with tiercel; the other podman tests do the same).
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(extra)
        .args([IMAGE, "sh", "-c", SCRIPT]));
    let _ = Command::new("podman").args(["rm", "-f", name]).output();
    o
}

struct Setup {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    socket: PathBuf,
    alerts: PathBuf,
}

fn setup(b: &Bins, mode: &str) -> Setup {
    let dir = tempfile::Builder::new()
        .prefix("tiercel-precreate-")
        .tempdir()
        .unwrap();
    let rules = dir.path().join("rules.yaml");
    let text = write_below_bin_rules(
        RULE,
        "File below /bin opened (file=%fd.name name=%container.name \
         image=%container.image.repository)",
    );
    fs::write(&rules, text).unwrap();
    let socket = dir.path().join("run/tiercel.sock");
    let alerts = dir.path().join("alerts.json");
    let cfg = dir.path().join("shim.yaml");
    fs::write(
        &cfg,
        format!(
            "socket: {}\nrules: [{}]\nmode: {mode}\nsupervisor: {}\nsupervisor_args: [--alerts, {}]\nstate_dir: {}\n",
            socket.display(),
            rules.display(),
            b.tiercel.display(),
            alerts.display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    Setup {
        dir,
        cfg,
        socket,
        alerts,
    }
}

fn wait_gone(p: &Path) {
    let end = Instant::now() + Duration::from_secs(10);
    while p.exists() {
        assert!(Instant::now() < end, "poststop left {} behind", p.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn podman_precreate_hook_only() {
    let test = "podman_precreate_hook_only";
    let Some(b) = prereq(test) else { return };
    import_image();
    for mode in ["audit", "enforce"] {
        let s = setup(&b, mode);
        let hooks = hooks_dir(&b, s.dir.path(), &s.cfg, None);
        let name = format!("tce-precreate-{mode}-{}", std::process::id());
        let o = podman_run(&hooks, &name, &[]);
        assert!(o.success() && o.stdout.contains("tmp-ok"), "{o:?}");
        let want = if mode == "enforce" {
            "touch-rc=1"
        } else {
            "touch-rc=0"
        };
        assert!(o.stdout.contains(want), "{mode}: {o:?}");
        let a = wait_alerts(&s.alerts, 1);
        assert_eq!(a.len(), 1, "{mode}: {a:?}\n{o:?}");
        assert_eq!(a[0]["output_fields"]["container.name"], name.as_str());
        assert_eq!(
            a[0]["output_fields"]["container.image.repository"],
            "localhost/tiercel-e2e-precreate"
        );
        wait_gone(&s.socket);
    }
}

#[test]
fn podman_precreate_hook_opt_in_annotation() {
    let test = "podman_precreate_hook_opt_in_annotation";
    let Some(b) = prereq(test) else { return };
    import_image();
    let s = setup(&b, "enforce");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let hooks = hooks_dir(
        &b,
        s.dir.path(),
        &s.cfg,
        Some(&repo.join("deploy/podman/tiercel-precreate-optin.json")),
    );
    // Not opted in: unwatched, no supervisor started.
    let name = format!("tce-precreate-plain-{}", std::process::id());
    let o = podman_run(&hooks, &name, &[]);
    assert!(o.stdout.contains("touch-rc=0"), "{o:?}");
    assert!(read_alerts(&s.alerts).is_empty());
    // Opted in: refused and alerted.
    let name = format!("tce-precreate-optin-{}", std::process::id());
    let o = podman_run(&hooks, &name, &["--annotation", "io.tiercel.watch=true"]);
    assert!(o.stdout.contains("touch-rc=1"), "{o:?}");
    let a = wait_alerts(&s.alerts, 1);
    assert_eq!(a.len(), 1, "{a:?}");
    wait_gone(&s.socket);
}
