//! The Kubernetes files (`deploy/kubernetes/`) validated against the Kubernetes API schemas
//! with `kubernetes-validate` (PyPI; it ships the schemas, so no network is needed), in
//! strict mode (unknown fields are errors). A broken copy must fail, so the validator is
//! known to look.
//!
//! `scripts/setup.sh` installs it in `/opt/tiercel-tools/kv`; `$TIERCEL_KUBERNETES_VALIDATE`
//! names another one. Missing: `SKIP:` (a failure under `CI`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tiercel_e2e::{require, run_cmd};

fn validator() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TIERCEL_KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(p));
    }
    let opt = PathBuf::from("/opt/tiercel-tools/kv/bin/kubernetes-validate");
    if opt.is_file() {
        return Some(opt);
    }
    let o = Command::new("sh")
        .args(["-c", "command -v kubernetes-validate"])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
}

fn validate(v: &Path, file: &Path) -> tiercel_e2e::RunOutput {
    run_cmd(
        Command::new(v).args(["--strict", "--no-warn"]).arg(file),
        Duration::from_secs(120),
        || {},
    )
    .unwrap()
}

#[test]
fn kubernetes_files_match_the_api_schemas() {
    let test = "kubernetes_files_match_the_api_schemas";
    let v = validator();
    if !require(
        test,
        "kubernetes-validate not installed (scripts/setup.sh)",
        v.is_some(),
    ) {
        return;
    }
    let v = v.unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let mut kinds = Vec::new();
    for f in &files {
        let o = validate(&v, f);
        assert!(o.success(), "{}: {o:?}", f.display());
        for l in o.stdout.lines().chain(o.stderr.lines()) {
            if let Some(r) = l.split("for resource ").nth(1) {
                kinds.push(r.split('/').next().unwrap_or("").to_string());
            }
        }
    }
    for k in ["daemonset", "runtimeclass", "pod", "configmap"] {
        assert!(kinds.iter().any(|x| x == k), "{k} validated: {kinds:?}");
    }
    // The validator really checks: a RuntimeClass without its handler is refused.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yaml");
    let text = fs::read_to_string(dir.join("runtimeclass.yaml")).unwrap();
    fs::write(&bad, text.replace("handler: tiercel", "handlr: tiercel")).unwrap();
    let o = validate(&v, &bad);
    assert!(!o.success(), "a broken RuntimeClass must fail: {o:?}");
}
