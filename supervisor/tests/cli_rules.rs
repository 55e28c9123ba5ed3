//! `tiercel rules …` as users and reviewers run it: the real binary, real files. The upstream
//! corpora come from the shared directory (`tiercel_testdata`): without it the tests that
//! need them are skipped with a line saying so, under CI they fail.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{run_with_stdin, tiercel};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[derive(serde::Deserialize)]
struct ParserCase {
    test: String,
    kind: String,
    input: String,
    msg: Option<String>,
}

fn parse_cli(input: &str) -> Output {
    // libsinsp's parser tests run with its default nesting limit of 100.
    tiercel()
        .args(["rules", "parse", "--max-depth", "100", "--", input])
        .output()
        .expect("run tiercel rules parse")
}

/// Every upstream parser case gets Falco's verdict through `tiercel rules parse`,
/// and accepted inputs also with the upstream harness's variants (padded, spaces
/// replaced by newlines, then by tabs).
#[test]
fn parse_gives_falco_verdict_for_every_upstream_case() {
    let Some(path) = tiercel_testdata::upstream("upstream-tests/libsinsp_filter_parser_cases.json")
    else {
        return;
    };
    let cases: Vec<ParserCase> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(cases.len(), 530);
    let mut failures = Vec::new();
    for c in &cases {
        match c.kind.as_str() {
            "accept" => {
                let padded = format!(" {} ", c.input);
                let variants = [
                    c.input.clone(),
                    padded.clone(),
                    padded.replace(' ', "\n"),
                    padded.replace(' ', "\t"),
                ];
                for v in &variants {
                    let out = parse_cli(v);
                    if out.status.code() != Some(0) || out.stdout.is_empty() {
                        failures.push(format!(
                            "{}: should accept {v:?}: {}",
                            c.test,
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                }
            }
            "reject" => {
                let out = parse_cli(&c.input);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.code() != Some(1) {
                    failures.push(format!("{}: should reject {:?}", c.test, c.input));
                } else if let Some(msg) = &c.msg {
                    if !stderr.contains(msg.as_str()) {
                        failures.push(format!(
                            "{}: {:?}: expected message {msg:?}, got {stderr}",
                            c.test, c.input
                        ));
                    }
                }
            }
            other => panic!("unknown case kind {other}"),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn parse_error_shows_position_and_caret() {
    let out = parse_cli("proc.name = cat and in (a)");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1:24: unexpected token after 'in', expecting 'or', 'and'"),
        "{err}"
    );
    assert!(err.contains("\n                       ^"), "{err}");
}

#[test]
fn check_loads_the_upstream_files_together() {
    let Some(s) = tiercel_testdata::upstream("upstream-rules") else {
        return;
    };
    let out = tiercel()
        .args(["rules", "check"])
        .arg(s.join("falco_rules.yaml"))
        .arg(s.join("falco-incubating_rules.yaml"))
        .arg(s.join("falco-sandbox_rules.yaml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let last = err.lines().last().unwrap();
    assert!(last.contains("93 rules"), "{last}");
    // the one upstream rule that needs an exit-only field (`evt.buffer`) is disabled
    assert!(
        err.lines()
            .any(|l| l == "0 of 81 enabled rules cannot fire under tiercel"),
        "{err}"
    );
    assert!(last.contains("0 errors"), "{last}");
}

#[test]
fn check_refuses_the_original_seed_with_positions() {
    let out = tiercel()
        .args(["rules", "check"])
        .arg(repo().join("rules/tests/data/seed-original.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "seed-original.yaml:7:3: error: Item has no mapping for key 'condition'",
        "seed-original.yaml:10:3: error: Item has no mapping for key 'priority'",
        "seed-original.yaml:2:17: error: unexpected token after 'in', expecting 'or', 'and'",
        "seed-original.yaml:12:64: error: unexpected token after 'in', expecting 'or', 'and'",
        "LOAD_ERR_YAML_VALIDATE",
        "LOAD_ERR_COMPILE_CONDITION",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(err.lines().last().unwrap().contains("5 errors"), "{err}");

    let json = tiercel()
        .args(["rules", "check", "--json"])
        .arg(repo().join("rules/tests/data/seed-original.yaml"))
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    let text = v.to_string();
    assert!(text.contains("LOAD_ERR_COMPILE_CONDITION"), "{text}");
}

const SEED: &str = "examples/rules/seed-write-below-binary-dir.yaml";

#[test]
fn seed_matches_touch_bin_evil_only() {
    let events = [
        // touch /bin/evil as the shell of a container
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.typechar":"f","fd.name":"/bin/evil","fd.directory":"/bin","proc.name":"touch","proc.cmdline":"touch /bin/evil","container.id":"0123456789ab"}"#,
        // dpkg may write there
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.typechar":"f","fd.name":"/usr/bin/foo","fd.directory":"/usr/bin","proc.name":"dpkg","proc.cmdline":"dpkg -i foo.deb"}"#,
        // a write in /tmp
        r#"{"evt.type":"openat","evt.is_open_write":true,"fd.typechar":"f","fd.name":"/tmp/x","fd.directory":"/tmp","proc.name":"touch","proc.cmdline":"touch /tmp/x"}"#,
        // a read of a binary
        r#"{"evt.type":"openat","evt.is_open_write":false,"fd.typechar":"f","fd.name":"/bin/sh","fd.directory":"/bin","proc.name":"cat","proc.cmdline":"cat /bin/sh"}"#,
    ];
    let mut cmd = tiercel();
    cmd.args(["rules", "eval", "-r"]).arg(repo().join(SEED));
    let out = run_with_stdin(cmd, &(events.join("\n") + "\n"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let alerts: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{stdout}");
    let a = &alerts[0];
    assert_eq!(a["rule"], "Write below binary dir");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert_eq!(a["output_fields"]["fd.name"], "/bin/evil");
    assert_eq!(a["output_fields"]["proc.cmdline"], "touch /bin/evil");
    let output = a["output"].as_str().unwrap();
    assert!(
        output.contains(": Warning File below a known binary directory opened for writing (file=/bin/evil command=touch /bin/evil)"),
        "{output}"
    );
    for key in [
        "hostname",
        "output",
        "output_fields",
        "priority",
        "rule",
        "source",
        "tags",
        "time",
    ] {
        assert!(a.get(key).is_some(), "alert lacks {key}: {a}");
    }
}

#[test]
fn syscalls_and_list() {
    let out = tiercel()
        .args(["rules", "syscalls", "-r"])
        .arg(repo().join(SEED))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // the seed rule only matches opens of a file (not O_DIRECTORY) for writing: the
    // kernel filters the flags
    assert!(
        names.contains(&"openat (flags & 0o200003 in {0o1,0o2})".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"open (flags & 0o200003 in {0o1,0o2})".to_string()),
        "{names:?}"
    );
    assert!(!names.contains(&"write".to_string()), "{names:?}");

    let out = tiercel()
        .args(["rules", "list", "-r"])
        .arg(repo().join(SEED))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Write below binary dir\tWarning\tsyscall"),
        "{text}"
    );
}

#[test]
fn fields_lists_the_registry() {
    let out = tiercel().args(["fields", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for n in [
        "evt.type",
        "fd.name",
        "proc.cmdline",
        "proc.aname",
        "container.id",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
}
