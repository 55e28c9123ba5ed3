//! Rule loading as users meet it, through the real `tiercel` binary: directories of rule
//! files work in every command, a broken file's error has its position and item in every
//! command (`supervise` included), rules that cannot fire under tiercel are reported,
//! `tiercel fields` shows availability, and the enforce-mode warning says what happens.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{run_with_stdin, spawn_with_log, tiercel, wait_for};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tiercel-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A rules directory: a list, a macro using it, a rule using the macro, split over files
/// whose name order is their dependency order; plus files that are not rules.
fn rules_dir(root: &Path) -> PathBuf {
    let d = root.join("rules.d");
    std::fs::create_dir_all(d.join("nested.yaml")).unwrap();
    std::fs::write(
        d.join("10-lists.yaml"),
        "- list: bin_dirs\n  items: [/bin, /sbin]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("20-macros.yml"),
        "- macro: bin_dir\n  condition: fd.directory in (bin_dirs)\n",
    )
    .unwrap();
    std::fs::write(
        d.join("30-rules.yaml"),
        "- rule: Write below bin\n  desc: d\n  condition: evt.type = openat and \
         evt.is_open_write = true and bin_dir\n  output: wrote %fd.name\n  priority: WARNING\n",
    )
    .unwrap();
    std::fs::write(d.join("README.txt"), "not: [yaml").unwrap();
    d
}

const BROKEN: &str =
    "- rule: Broken\n  condition: evt.type = open\n  output: o\n  priority: WARNING\n";

/// `supervise` run until it is ready (its "ready" log line) or exits; returns its stderr
/// so far and whether it is still running (then it is killed).
fn supervise(args: &[&str], extra: &[&Path]) -> (String, Option<i32>) {
    let mut cmd = tiercel();
    cmd.arg("supervise").args(args);
    for p in extra {
        cmd.arg("-r").arg(p);
    }
    let mut child: Child = cmd
        .env("TIERCEL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tiercel supervise");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("supervisor ready") {
                    let _ = child.kill();
                    let _ = child.wait();
                    return (log, None);
                }
            }
            Err(_) => {
                // EOF (exited) or timeout
                let _ = child.kill();
                let status = child.wait().unwrap();
                while let Ok(line) = rx.try_recv() {
                    log.push_str(&line);
                    log.push('\n');
                }
                return (log, status.code());
            }
        }
    }
}

#[test]
fn every_command_loads_a_directory_in_name_order() {
    let root = scratch("dir");
    let dir = rules_dir(&root);

    let out = tiercel()
        .args(["rules", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("1 rules, 1 macros, 1 lists loaded; 0 errors"),
        "{err}"
    );

    let out = tiercel()
        .args(["rules", "list", "-r"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Write below bin\tWarning\tsyscall\t\tyes\n"
    );

    let out = tiercel()
        .args(["rules", "syscalls", "-r"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("openat"),
        "{}",
        text(&out.stdout)
    );

    let mut cmd = tiercel();
    cmd.args(["rules", "eval", "-r"]).arg(&dir);
    let out = run_with_stdin(
        cmd,
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.name":"/bin/x","fd.directory":"/bin"}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"rule\":\"Write below bin\""),
        "{}",
        text(&out.stdout)
    );

    let out = tiercel()
        .args(["profile", "--socket", "/run/tiercel/t.sock", "-r"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.to_string().contains("\"openat\""), "{v}");

    let sock = root.join("s.sock");
    let (log, code) = supervise(&["--socket", sock.to_str().unwrap()], &[&dir]);
    assert_eq!(code, None, "supervise did not start:\n{log}");
    assert!(log.contains("rules=1"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_broken_file_gives_position_and_item_in_every_command() {
    let root = scratch("broken");
    let bad = root.join("bad.yaml");
    std::fs::write(&bad, BROKEN).unwrap();
    let want = [
        "bad.yaml:1:3: error: Item has no mapping for key 'desc'",
        "rule 'Broken'",
        "LOAD_ERR_YAML_VALIDATE",
    ];

    let out = tiercel()
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let check = text(&out.stderr);

    let sock = root.join("s.sock");
    let (sup, code) = supervise(&["--socket", sock.to_str().unwrap()], &[&bad]);
    assert_eq!(code, Some(2), "supervise should refuse the rules:\n{sup}");

    let out = tiercel()
        .args(["profile", "--socket", "/run/t.sock", "-r"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let profile = text(&out.stderr);

    let out = tiercel()
        .args(["rules", "list", "-r"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let list = text(&out.stderr);

    for (cmd, err) in [
        ("check", &check),
        ("supervise", &sup),
        ("profile", &profile),
        ("list", &list),
    ] {
        for w in want {
            assert!(err.contains(w), "{cmd}: missing {w:?} in:\n{err}");
        }
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn rules_that_cannot_fire_are_reported() {
    let root = scratch("fire");
    let f = root.join("r.yaml");
    std::fs::write(
        &f,
        "- rule: Unconnected send\n  desc: d\n  condition: evt.type in (sendto, sendmsg) and \
         fd.connected = false\n  output: o\n  priority: WARNING\n\
         - rule: Exit\n  desc: d\n  condition: evt.type = procexit and proc.name = x\n  output: o\n  priority: WARNING\n\
         - rule: Either\n  desc: d\n  condition: evt.type = sendto and (fd.connected = false or proc.name = nc)\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();

    let out = tiercel().args(["rules", "check"]).arg(&f).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "warnings only:\n{err}");
    for w in [
        "r.yaml:3:14: warning: Rule 'Unconnected send' cannot fire under tiercel: field fd.connected has no value at syscall entry",
        "r.yaml:8:14: warning: Rule 'Exit' cannot fire under tiercel: event type procexit is not decoded by tiercel",
        "LOAD_COMPILE_CONDITION (Warning in rule condition)",
        "2 rules cannot fire under tiercel: 'Unconnected send', 'Exit'",
    ] {
        assert!(err.contains(w), "missing {w:?} in:\n{err}");
    }
    assert!(!err.contains("Rule 'Either'"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .ends_with("0 errors, 2 warnings"),
        "{err}"
    );

    let out = tiercel()
        .args(["rules", "list", "-r"])
        .arg(&f)
        .output()
        .unwrap();
    let list = text(&out.stdout);
    assert!(
        list.contains("Unconnected send\tWarning\tsyscall\t\tno(fields:fd.connected)\n"),
        "{list}"
    );
    assert!(
        list.contains("Exit\tWarning\tsyscall\t\tno(events:procexit)\n"),
        "{list}"
    );
    assert!(list.contains("Either\tWarning\tsyscall\t\tyes\n"), "{list}");

    let sock = root.join("s.sock");
    let (log, code) = supervise(&["--socket", sock.to_str().unwrap()], &[&f]);
    assert_eq!(code, None, "{log}");
    assert!(
        log.contains("r.yaml:3:14: warning: Rule 'Unconnected send' cannot fire"),
        "{log}"
    );
    assert!(log.contains("2 rules cannot fire under tiercel"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn fields_shows_availability() {
    let out = tiercel().arg("fields").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.starts_with("FIELD"), "{t}");
    let line = |name: &str| {
        t.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_string()
    };
    assert!(
        line("fd.connected").contains(" exit-only "),
        "{}",
        line("fd.connected")
    );
    assert!(
        line("fd.lport").contains(" exit-only* "),
        "{}",
        line("fd.lport")
    );
    assert!(line("fd.name").contains(" entry "), "{}", line("fd.name"));
    assert!(
        line("fd.num").contains(" entry-assume-success "),
        "{}",
        line("fd.num")
    );
    assert!(
        line("evt.latency").contains(" not-served "),
        "{}",
        line("evt.latency")
    );

    let out = tiercel().args(["fields", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let get = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(get("fd.connected")["availability"], "exit-only");
    assert_eq!(get("fd.connected")["served"], false);
    assert_eq!(get("fd.lport")["served"], true);
    assert_eq!(get("proc.name")["availability"], "entry");
}

#[test]
fn enforce_without_selectors_says_every_match_is_refused() {
    let root = scratch("enforce");
    let f = root.join("r.yaml");
    std::fs::write(
        &f,
        "- rule: R\n  desc: d\n  condition: evt.type = openat and proc.name = x\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let sock = root.join("s.sock");
    let (log, code) = supervise(
        &["--socket", sock.to_str().unwrap(), "--mode", "enforce"],
        &[&f],
    );
    assert_eq!(code, None, "{log}");
    assert!(
        log.contains(
            "enforce mode without any --deny selector: every rule match is refused (errno EPERM)"
        ),
        "{log}"
    );
    assert!(!log.contains("nothing will be refused"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn sighup_reload_of_a_broken_file_keeps_the_rules_and_says_where() {
    let root = scratch("hup");
    let dir = rules_dir(&root);
    let sock = root.join("s.sock");
    let (rx, mut child) = spawn_with_log(
        tiercel()
            .args(["supervise", "--socket", sock.to_str().unwrap(), "-r"])
            .arg(&dir)
            .env("TIERCEL_LOG", "info"),
    );
    let mut log = String::new();
    let wait_for = |needle: &str, log: &mut String| wait_for(&rx, needle, log);
    let ready = wait_for("supervisor ready", &mut log);
    // A later file of the directory breaks; SIGHUP re-reads the directory.
    std::fs::write(dir.join("40-broken.yaml"), BROKEN).unwrap();
    // the child this test spawned and has not reaped
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let failed = wait_for("reload failed, keeping the running rules", &mut log);
    let _ = wait_for("LOAD_ERR_YAML_VALIDATE", &mut log);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready && failed, "{log}");
    assert!(
        log.contains("40-broken.yaml:1:3: error: Item has no mapping for key 'desc'"),
        "{log}"
    );
    assert!(log.contains("rule 'Broken'"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}
