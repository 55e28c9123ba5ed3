//! `tiercel-hook createRuntime` starts `tiercel supervise` with the configured rules: a
//! rules directory works, and a broken rule file fails the hook with the supervisor's own
//! words (Falco's text: `file:line:col`, the item). Needs the `tiercel` binary beside the
//! hook (`cargo build --workspace --bins`, or `cargo test --workspace`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tiercel_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_tiercel-hook")).with_file_name("tiercel");
    assert!(
        p.is_file(),
        "{} not built: run `cargo build -p tiercel --bin tiercel` first",
        p.display()
    );
    p
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tiercel-hook-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("bundle/rootfs")).unwrap();
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"]},
        "root": {"path": "rootfs"},
        "linux": {"seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": d.join("run/s.sock"),
            "syscalls": [{"names": ["unlinkat"], "action": "SCMP_ACT_NOTIFY"}]
        }}
    });
    std::fs::write(d.join("bundle/config.json"), config.to_string()).unwrap();
    std::fs::write(d.join("hook.yaml"), "").unwrap();
    d
}

fn hook(root: &Path, stage: &str, rules: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tiercel-hook"))
        .arg(stage)
        // a supervisor that cannot start fails the hook (audit mode defaults to fail-open)
        .env("TIERCEL_ON_MISSING", "fail-closed")
        .env("TIERCEL_SHIM_CONFIG", root.join("hook.yaml"))
        .env("TIERCEL_SOCKET", root.join("run/s.sock"))
        .env("TIERCEL_RULES", rules)
        .env("TIERCEL_SUPERVISOR", tiercel_bin())
        .env("TIERCEL_STATE_DIR", root.join("state"))
        .env("TIERCEL_MODE", "audit")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = serde_json::json!({"ociVersion": "1.0.2", "id": "c1", "status": "creating",
        "pid": 1, "bundle": root.join("bundle")});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(state.to_string().as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_hook_starts_a_supervisor_on_a_rules_directory() {
    let root = scratch("dir");
    let dir = root.join("rules.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1-macro.yaml"),
        "- macro: m\n  condition: proc.name = x\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("2-rule.yml"),
        "- rule: R\n  desc: d\n  condition: evt.type = unlinkat and m\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = hook(&root, "createRuntime", &dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let started = out.status.success();
    // Stop the supervisor the hook started (poststop ends it when no container is left).
    let stop = hook(&root, "poststop", &dir);
    assert!(started, "{err}");
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    let log = std::fs::read_dir(root.join("state/s"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default();
    assert!(log.contains("rules=1"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_broken_rules_file_fails_the_hook_with_its_position_and_item() {
    let root = scratch("bad");
    let bad = root.join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: Broken\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = hook(&root, "createRuntime", &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for w in [
        "supervise exited",
        "bad.yaml:1:3: error: Item has no mapping for key 'desc'",
        "rule 'Broken'",
        "LOAD_ERR_YAML_VALIDATE",
    ] {
        assert!(err.contains(w), "missing {w:?} in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(root);
}

/// The hook passes its `config:` (the supervisor's falco.yaml) to `supervise -c`: a bad
/// value there fails the hook with the supervisor's words and the value's position.
#[test]
fn the_hook_passes_the_supervisors_config() {
    let root = scratch("cfg");
    let rules = root.join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: R\n  desc: d\n  condition: evt.type = unlinkat and proc.name = x\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let falco = root.join("falco.yaml");
    std::fs::write(&falco, "json_output: true\nrule_matching: best\n").unwrap();
    std::fs::write(
        root.join("hook.yaml"),
        format!("config: {}\n", falco.display()),
    )
    .unwrap();
    let out = hook(&root, "createRuntime", &rules);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}:2:1: rule_matching: expected one of first, all, got \"best\"",
        falco.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    let _ = std::fs::remove_dir_all(root);
}
