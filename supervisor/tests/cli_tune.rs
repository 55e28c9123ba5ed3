//! `tiercel tune` (audit → enforce) with the real binary: alerts from `tiercel rules eval`,
//! the generated exceptions loaded with `tiercel rules check`, the same events replayed
//! with them (no alert left), other events of the same rules still alerting.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{run_with_stdin as run, tiercel};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tiercel rules eval --json -r RULES… -` on the events: the alert lines.
fn eval(rules: &[&Path], events: &str) -> Vec<Value> {
    let mut cmd = tiercel();
    cmd.args(["rules", "eval", "--rule-matching", "all"]);
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.arg("-");
    let out = run(cmd, events);
    assert!(
        out.status.success(),
        "rules eval: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn tune(rules: &[&Path], alerts: &Path, out: &Path) -> Output {
    let mut cmd = tiercel();
    cmd.arg("tune").arg("--alerts").arg(alerts);
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.arg("-o").arg(out);
    run(cmd, "")
}

fn check(rules: &[&Path]) -> Output {
    let mut cmd = tiercel();
    cmd.args(["rules", "check"]);
    for r in rules {
        cmd.arg(r);
    }
    run(cmd, "")
}

const RULES: &str = r#"
- list: bin_dirs
  items: [/bin, /usr/bin]
- rule: Write below binary dir
  desc: a write below a binary directory
  condition: evt.type = openat and evt.is_open_write = true and fd.directory in (bin_dirs)
  output: write (evt.type=%evt.type evt.is_open_write=%evt.is_open_write proc.name=%proc.name fd.name=%fd.name fd.directory=%fd.directory)
  priority: ERROR
  exceptions:
    - name: proc_writer
      fields: [proc.name, fd.directory]
      values:
        - [apt, /usr/bin]
- rule: Read sensitive file
  desc: a read of a sensitive file
  condition: evt.type = openat and evt.is_open_read = true and fd.name startswith /etc/
  output: read (evt.type=%evt.type evt.is_open_read=%evt.is_open_read proc.name=%proc.name fd.name=%fd.name container.image.repository=%container.image.repository)
  priority: WARNING
"#;

fn ev(kv: &[(&str, Value)]) -> String {
    let m: serde_json::Map<String, Value> =
        kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Value::Object(m).to_string()
}

fn write_ev(proc_name: &str, file: &str, dir: &str) -> String {
    ev(&[
        ("evt.type", "openat".into()),
        ("evt.is_open_write", true.into()),
        ("proc.name", proc_name.into()),
        ("fd.name", file.into()),
        ("fd.directory", dir.into()),
    ])
}

fn read_ev(proc_name: &str, file: &str, image: &str) -> String {
    ev(&[
        ("evt.type", "openat".into()),
        ("evt.is_open_read", true.into()),
        ("proc.name", proc_name.into()),
        ("fd.name", file.into()),
        ("container.image.repository", image.into()),
    ])
}

/// The output fields of alerts, as events (null = missing).
fn as_events(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| {
            let m: serde_json::Map<String, Value> = a["output_fields"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(m).to_string() + "\n"
        })
        .collect()
}

#[test]
fn tune_silences_exactly_the_audited_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();
    // The audit period: events as the supervisor would have seen them.
    let audit: String = [
        write_ev("touch", "/bin/evil", "/bin"),
        write_ev("touch", "/bin/evil2", "/bin"),
        write_ev("cp", "/usr/bin/tool", "/usr/bin"),
        write_ev("apt", "/usr/bin/x", "/usr/bin"), // already excepted: no alert
        read_ev("cat", "/etc/shadow", "docker.io/library/busybox"),
        read_ev("cat", "/etc/shadow", "docker.io/library/busybox"),
        read_ev("sh", "/etc/my passwd", "docker.io/library/busybox"),
    ]
    .join("\n");
    let alerts = eval(&[&rules], &audit);
    assert_eq!(alerts.len(), 6, "{alerts:#?}");
    let alerts_path = dir.path().join("alerts.json");
    let text: String = alerts.iter().map(|a| a.to_string() + "\n").collect();
    std::fs::write(&alerts_path, text + "garbage line\n").unwrap();

    let out_path = dir.path().join("tuned.yaml");
    let out = tune(&[&rules], &alerts_path, &out_path);
    let summary = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tune: {summary}");
    let yaml = std::fs::read_to_string(&out_path).unwrap();
    // The summary to review: per rule, alerts, distinct tuples, what was added.
    assert!(
        summary.contains(
            "Write below binary dir: 3 alerts, 2 distinct (proc.name, fd.directory) tuples; \
             appended to existing exception \"proc_writer\": 2 added, 0 already there"
        ),
        "{summary}"
    );
    assert!(
        summary.contains(
            "Read sensitive file: 3 alerts, 2 distinct (proc.name, fd.name, container.image.repository) \
             tuples; appended to new exception \"tiercel_tune\": 2 added"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("(1 lines of the alerts file were not alerts)"),
        "{summary}"
    );
    // Falco syntax: an override append on the rule's existing exception (values only),
    // a new exception with fields and comps.
    assert!(
        yaml.contains("- name: \"proc_writer\"\n      values:\n"),
        "{yaml}"
    );
    assert!(yaml.contains("        - [\"touch\", \"/bin\"]"), "{yaml}");
    assert!(yaml.contains("override:\n    exceptions: append"), "{yaml}");
    assert!(
        yaml.contains("fields: [\"proc.name\", \"fd.name\", \"container.image.repository\"]"),
        "{yaml}"
    );

    // It loads with the rules.
    let c = check(&[&rules, &out_path]);
    assert!(
        c.status.success(),
        "rules check: {}{}",
        String::from_utf8_lossy(&c.stdout),
        String::from_utf8_lossy(&c.stderr)
    );
    // The same events, and the alerts' output fields as events: no alert left.
    assert_eq!(eval(&[&rules, &out_path], &audit), Vec::<Value>::new());
    let replay = as_events(&alerts);
    assert_eq!(
        eval(&[&rules], &replay).len(),
        6,
        "replayed events alert without tuning"
    );
    assert_eq!(eval(&[&rules, &out_path], &replay), Vec::<Value>::new());
    // Exactness: other events of the same rules still alert.
    let other = [
        write_ev("touch", "/usr/bin/evil", "/usr/bin"), // touch only excepted in /bin
        write_ev("dd", "/bin/evil", "/bin"),
        read_ev("cat", "/etc/shadow", "docker.io/library/alpine"),
        read_ev("cat", "/etc/passwd", "docker.io/library/busybox"),
    ]
    .join("\n");
    let still = eval(&[&rules, &out_path], &other);
    assert_eq!(still.len(), 4, "{still:#?}\n{yaml}");

    // Tuning again with the generated file loaded adds nothing.
    let again = dir.path().join("again.yaml");
    let out = tune(&[&rules, &out_path], &alerts_path, &again);
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{summary}");
    assert!(summary.contains("0 added, 2 already there"), "{summary}");
    let c = check(&[&rules, &out_path, &again]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stdout));
}

/// The seed rule (no exceptions, output without proc.name): a new exception on fd.name.
#[test]
fn tune_the_seed_rule() {
    let seed = repo().join("examples/rules/seed-write-below-binary-dir.yaml");
    let dir = tempfile::tempdir().unwrap();
    let event = |file: &str| {
        ev(&[
            ("evt.type", "openat".into()),
            ("evt.is_open_write", true.into()),
            ("fd.typechar", "f".into()),
            ("proc.name", "touch".into()),
            ("proc.cmdline", "touch x".into()),
            ("fd.name", file.into()),
            ("fd.directory", "/bin".into()),
        ])
    };
    let audit = event("/bin/evil");
    let alerts = eval(&[&seed], &audit);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alerts_path = dir.path().join("alerts.json");
    std::fs::write(&alerts_path, alerts[0].to_string()).unwrap();
    let out_path = dir.path().join("tuned.yaml");
    let out = tune(&[&seed], &alerts_path, &out_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(check(&[&seed, &out_path]).status.success());
    assert!(eval(&[&seed, &out_path], &audit).is_empty());
    assert_eq!(eval(&[&seed, &out_path], &event("/bin/other")).len(), 1);
    // A rules file that does not load is an error, not an empty result.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "- rule: x\n").unwrap();
    let out = tune(&[&broken], &alerts_path, &out_path);
    assert!(!out.status.success());
}
