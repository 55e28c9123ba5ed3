//! `tiercel supervise --deny` response-action syntax through the real binary: bad items
//! are refused at start with the reason, before any socket is created.

use std::process::Command;

fn supervise_with(deny: &str, dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tiercel"))
        .arg("supervise")
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .args(["--mode", "enforce", "--deny", deny])
        .arg("-r")
        .arg(dir.join("missing.yaml"))
        .output()
        .expect("run tiercel");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_deny_items_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, says) in [
        ("tag:T1,action=kill", "unknown action \"kill\""),
        ("rule:x=EWHAT", "unknown errno name \"EWHAT\""),
        ("tag:T1,signal=9", "unknown option \"signal\""),
        (
            "tag:T1,action=kill-process,action=deny",
            "action given twice",
        ),
        ("proc:x,action=kill-process", "unknown kind"),
    ] {
        let (ok, err) = supervise_with(bad, dir.path());
        assert!(!ok, "{bad}: accepted");
        assert!(err.contains(says), "{bad}: {err}");
        assert!(!dir.path().join("s.sock").exists());
    }
}

#[test]
fn config_deny_mappings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "tiercel:\n  deny:\n    - {rule: Write below binary dir, action: kill-process}\n    - {tag: T1, action: explode}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tiercel"))
        .arg("supervise")
        .arg("--socket")
        .arg(dir.path().join("s.sock"))
        .arg("-c")
        .arg(&cfg)
        .output()
        .expect("run tiercel");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("tiercel.deny[1]") && err.contains("unknown action \"explode\""),
        "{err}"
    );
}
