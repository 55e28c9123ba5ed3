//! `tiercel profile` as users run it: the real binary, the repository's rule files.

use std::path::PathBuf;
use std::process::{Command, Output};

const SEED: &str = "examples/rules/seed-write-below-binary-dir.yaml";
const PRESET: &str = "examples/rules/protect-binary-dirs.yaml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn profile(rules: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_tiercel"))
        .args(["profile", "--socket", "/run/tiercel-test.sock", "-r"])
        .arg(repo().join(rules))
        .args(extra)
        .env("TIERCEL_LOG", "warn")
        .output()
        .expect("run tiercel profile");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

/// The `notified syscalls:` line, split into its entries.
fn notified(stderr: &str) -> Vec<String> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("notified syscalls: "))
        .unwrap_or_else(|| panic!("no summary line in {stderr:?}"));
    // entries are separated by ", " outside the braces of a class list
    let mut out = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for ch in line.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            out.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(ch);
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[test]
fn no_mode_requested_without_mode() {
    let (p, _) = profile(SEED, &[]);
    assert_eq!(p["listenerPath"], "/run/tiercel-test.sock");
    assert!(p.get("listenerMetadata").is_none(), "{p}");
    let (p, _) = profile(SEED, &["--format", "podman"]);
    assert!(p.get("listenerMetadata").is_none(), "{p}");
    for mode in ["audit", "enforce"] {
        let (p, _) = profile(SEED, &["--mode", mode]);
        assert_eq!(p["listenerMetadata"], format!("mode={mode}"));
    }
    let (p, _) = profile(SEED, &["--metadata", "io.tiercel.mode=enforce"]);
    assert_eq!(p["listenerMetadata"], "io.tiercel.mode=enforce");
}

#[test]
fn help_says_what_the_metadata_does() {
    let out = Command::new(env!("CARGO_BIN_EXE_tiercel"))
        .args(["profile", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listenerMetadata"), "{text}");
    assert!(text.contains("supervisor's"), "{text}");
}

#[test]
fn each_notified_syscall_once_with_its_classes() {
    let (p, err) = profile(SEED, &["--mode", "audit"]);
    // the object holds one NOTIFY rule per class: open twice, openat twice
    let rules = p["syscalls"].as_array().unwrap();
    assert_eq!(rules.len(), 4, "{p}");
    assert_eq!(
        notified(&err),
        [
            "open (flags & 0o200003 in {0o1,0o2})",
            "openat (flags & 0o200003 in {0o1,0o2})"
        ]
    );
    // the preset, merged into podman's profile (64 single-class copies per open call):
    // still each name once
    let (_, err) = profile(PRESET, &["--mode", "enforce", "--format", "podman"]);
    let names = notified(&err);
    let bare: Vec<&str> = names.iter().map(|n| n.split(' ').next().unwrap()).collect();
    let mut unique = bare.clone();
    unique.dedup();
    assert_eq!(bare, unique, "{names:?}");
    assert!(
        bare.contains(&"openat") && bare.contains(&"unlinkat"),
        "{names:?}"
    );
    assert!(
        names.contains(
            &"openat (flags & 0o20201103 not in \
              {0o0,0o3,0o200000,0o200003,0o20000000,0o20000003})"
                .to_string()
        ),
        "{names:?}"
    );
}
