//! What the engine tests (`docker`, `containerd`, `precreate`, `rootless`) share: their
//! prerequisites, the write-below-`/bin` rule each writes with its own output fields and
//! the script that triggers it, the shim's config file, and their alerts by container.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{busybox_static, have, is_root, require, tiercel_bin, workspace_bin};

/// In the container: a write below `/bin` (`touch-rc=` says whether it was refused), then
/// other work (`tmp-ok`).
pub const TOUCH_BIN_SCRIPT: &str =
    "touch /bin/evil; echo touch-rc=$?; touch /tmp/ok && echo tmp-ok";

/// A rules file with the one rule `name`: a file below `/bin` opened for writing, with
/// `output` (the fields each engine test checks).
pub fn write_below_bin_rules(name: &str, output: &str) -> String {
    format!(
        r#"
- rule: {name}
  desc: a file below /bin opened for writing
  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write=true and fd.name startswith /bin/
  output: "{output}"
  priority: WARNING
"#
    )
}

/// The prerequisites of an engine test, in order: root, each of `needs` (what is missing,
/// whether it is there), runc and busybox-static, then the built `tiercel` and the
/// workspace binary `bin` (or the path in the environment variable `env`). The first one
/// missing prints `SKIP:` (and fails under `CI`). Returns the paths of `tiercel` and `bin`.
pub fn engine_prereq(
    test: &str,
    needs: &[(&str, bool)],
    bin: &str,
    env: &str,
) -> Option<(PathBuf, PathBuf)> {
    if !require(test, "must run as root", is_root())
        || !needs.iter().all(|&(what, ok)| require(test, what, ok))
        || !require(test, "runc not installed", have("runc"))
        || !require(test, "busybox-static missing", busybox_static().is_some())
    {
        return None;
    }
    let b = (|| Some((tiercel_bin()?, workspace_bin(bin, env)?)))();
    require(
        test,
        "binaries not built (cargo build --release --workspace --bins)",
        b.is_some(),
    )
    .then_some(b?)
}

/// The full path of `prog` on `PATH` (empty when there is none).
pub fn command_path(prog: &str) -> String {
    let o = Command::new("sh")
        .args(["-c", &format!("command -v {prog}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The shim's config file: the real `runtime` behind it, the supervisor's `socket`, its
/// `rules` and the `mode`.
pub fn shim_config(runtime: &str, socket: &Path, rules: &[PathBuf], mode: &str) -> String {
    let rules: Vec<String> = rules.iter().map(|r| r.display().to_string()).collect();
    format!(
        "runtime: {runtime}\nsocket: {}\nrules: [{}]\nmode: {mode}\n",
        socket.display(),
        rules.join(", ")
    )
}

/// The alerts of `rule` for the container `id` (its full id; alerts carry the first 12).
pub fn alerts_of<'a>(alerts: &'a [Value], rule: &str, id: &str) -> Vec<&'a Value> {
    let short = id.get(..12).unwrap_or(id);
    alerts
        .iter()
        .filter(|a| a["rule"] == rule && a["output_fields"]["container.id"] == short)
        .collect()
}
