//! `tiercel-shim create` loads its configured rules through the supervisor's one loading
//! path: a rules directory works, a broken file fails the create with Falco's text
//! (`file:line:col`, the item).
//!
//! The shim only checks that something listens on the supervisor socket before it edits the
//! bundle; a plain listening socket stands in for the supervisor there (nothing connects to
//! it afterwards: the runtime is `/bin/true`).

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tiercel-shim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("bundle/rootfs")).unwrap();
    std::fs::write(
        d.join("bundle/config.json"),
        r#"{"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"},"linux":{}}"#,
    )
    .unwrap();
    std::fs::write(d.join("shim.yaml"), "").unwrap();
    d
}

fn create(root: &Path, rules: &Path) -> Output {
    let socket = root.join("s.sock");
    let _listener = UnixListener::bind(&socket).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tiercel-shim"))
        .env("TIERCEL_SHIM_CONFIG", root.join("shim.yaml"))
        .env("TIERCEL_DEFAULT_CONFIG", "/nonexistent/tiercel.yaml")
        .env("TIERCEL_RUNTIME", "/bin/true")
        .env("TIERCEL_SOCKET", &socket)
        .env("TIERCEL_RULES", rules)
        .env("TIERCEL_MODE", "audit")
        .arg("create")
        .arg("--bundle")
        .arg(root.join("bundle"))
        .arg("c1")
        .output()
        .unwrap()
}

#[test]
fn a_rules_directory_is_loaded_in_name_order() {
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
    let out = create(&root, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("bundle/config.json")).unwrap()).unwrap();
    let seccomp = &config["linux"]["seccomp"];
    assert_eq!(
        seccomp["listenerPath"],
        root.join("s.sock").to_str().unwrap()
    );
    assert!(seccomp.to_string().contains("\"unlinkat\""), "{seccomp}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_broken_rules_file_fails_with_its_position_and_item() {
    let root = scratch("bad");
    let bad = root.join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: Broken\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let out = create(&root, &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for w in [
        "bad.yaml:1:3: error: Item has no mapping for key 'desc'",
        "rule 'Broken'",
        "LOAD_ERR_YAML_VALIDATE",
    ] {
        assert!(err.contains(w), "missing {w:?} in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(root);
}

/// The supervisor config the shim names (`config:`): its `rules:` selection shapes the
/// profile, so a disabled rule's syscall is not notified.
#[test]
fn the_supervisors_rule_selection_shapes_the_profile() {
    let root = scratch("select");
    let rules = root.join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: U\n  desc: d\n  condition: evt.type = unlinkat and proc.name = x\n  output: o\n  priority: WARNING\n  tags: [files]\n\
         - rule: C\n  desc: d\n  condition: evt.type = connect and proc.name = x\n  output: o\n  priority: WARNING\n  tags: [net]\n",
    )
    .unwrap();
    let seccomp = |root: &Path| {
        let out = create(root, &rules);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(root.join("bundle/config.json")).unwrap())
                .unwrap();
        config["linux"]["seccomp"].to_string()
    };
    let all = seccomp(&root);
    assert!(
        all.contains("\"connect\"") && all.contains("\"unlinkat\""),
        "{all}"
    );
    let root2 = scratch("select2");
    std::fs::write(
        root2.join("falco.yaml"),
        "rules:\n  - disable: {tag: net}\n",
    )
    .unwrap();
    std::fs::write(
        root2.join("shim.yaml"),
        format!("config: {}\n", root2.join("falco.yaml").display()),
    )
    .unwrap();
    let some = seccomp(&root2);
    assert!(
        !some.contains("\"connect\"") && some.contains("\"unlinkat\""),
        "{some}"
    );
    let _ = std::fs::remove_dir_all(root);
    let _ = std::fs::remove_dir_all(root2);
}
