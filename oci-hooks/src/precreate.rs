//! `tiercel-hook precreate`: podman's `precreate` stage (podman ≥ 4, not CRI-O, not the
//! OCI runtime spec) runs the hook with the container's whole `config.json` on stdin and
//! uses what the hook prints as the new config. The hook adds tiercel's seccomp
//! notification to it exactly as `tiercel-shim` does: NOTIFY for the rules' syscalls merged
//! into the profile already there (podman's default one, which keeps its refusals), with
//! the configured socket as `listenerPath` and the container's mode in
//! `listenerMetadata`. The `createRuntime` hook then makes sure a supervisor listens there.
//!
//! Which containers: the hooks.d file's `when` (`always`, or the opt-in annotation
//! `io.tiercel.watch=true`); the hook itself also skips a container whose annotation says
//! `io.tiercel.watch=false`. A container that already notifies a listener is left alone.
//! Any error leaves the config unchanged unless the container's mode is enforce (then the
//! hook fails and podman refuses to create the container: fail-closed).

use std::io::{Read as _, Write as _};

use anyhow::{bail, Context as _};
use serde_json::Value;
use tiercel::engines::IntegrationConfig;
use tiercel::profile::{self, Mode};

/// Largest config.json accepted on stdin.
const MAX_CONFIG: u64 = 16 << 20;

/// The annotation a container uses to opt in (`true`) or out (`false`).
pub const WATCH_ANNOTATION: &str = "io.tiercel.watch";

pub fn run() -> anyhow::Result<()> {
    let mut raw = String::new();
    std::io::stdin()
        .take(MAX_CONFIG + 1)
        .read_to_string(&mut raw)
        .context("reading the container config from stdin")?;
    if raw.len() as u64 > MAX_CONFIG {
        bail!("the container config is larger than {MAX_CONFIG} bytes");
    }
    let mut config: Value = serde_json::from_str(&raw).context("parsing the container config")?;
    let cfg = IntegrationConfig::load()?;
    let (mode, note) = cfg.container_mode(config.get("annotations"));
    if let Some(n) = note {
        eprintln!("tiercel-hook precreate: {n}");
    }
    match add_notify(&cfg, &mut config, mode) {
        Ok(()) => {}
        Err(e) if mode == Mode::Audit => {
            eprintln!("tiercel-hook precreate: {e:#}; the container starts unwatched (audit)");
        }
        Err(e) => return Err(e),
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &config).context("writing the config")?;
    out.flush().context("writing the config")?;
    Ok(())
}

/// Adds NOTIFY for the configured rules to `config` (see the module documentation).
pub fn add_notify(cfg: &IntegrationConfig, config: &mut Value, mode: Mode) -> anyhow::Result<()> {
    let opted_out = config
        .get("annotations")
        .and_then(|a| a.get(WATCH_ANNOTATION))
        .and_then(Value::as_str)
        == Some("false");
    if opted_out {
        return Ok(());
    }
    // The merge's notes (syscalls left un-notified) have no log to go to here.
    profile::add_notify_to_config(
        config,
        &cfg.rules,
        cfg.config.as_deref(),
        &cfg.socket,
        Some(&profile::metadata_for(mode)),
        mode,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(rules: &std::path::Path) -> IntegrationConfig {
        IntegrationConfig {
            rules: vec![rules.to_path_buf()],
            socket: "/run/tiercel/test.sock".into(),
            ..Default::default()
        }
    }

    #[test]
    fn merges_into_the_existing_profile_and_honours_opt_out() {
        let dir = std::env::temp_dir().join(format!("tiercel-precreate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = dir.join("r.yaml");
        std::fs::write(
            &rules,
            "- rule: w\n  desc: w\n  condition: evt.type = mkdirat and fd.name startswith /bin/\n  output: w\n  priority: WARNING\n",
        )
        .unwrap();
        let c = cfg(&rules);
        let mut config = json!({"ociVersion": "1.0.2", "linux": {"seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": ["mkdirat", "getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}
        ]}}});
        add_notify(&c, &mut config, Mode::Enforce).unwrap();
        let s = &config["linux"]["seccomp"];
        assert_eq!(s["listenerPath"], "/run/tiercel/test.sock");
        assert_eq!(s["defaultAction"], "SCMP_ACT_ERRNO", "refusals stay");
        let notified: Vec<&str> = s["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_NOTIFY")
            .flat_map(|r| {
                r["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
            })
            .collect();
        assert!(notified.contains(&"mkdirat"), "{s}");
        assert!(!notified.contains(&"getpid"), "{s}");
        // Opted out: untouched.
        let mut config = json!({"annotations": {"io.tiercel.watch": "false"}, "linux": {}});
        let before = config.clone();
        add_notify(&c, &mut config, Mode::Enforce).unwrap();
        assert_eq!(config, before);
        // No profile yet: tiercel's own object.
        let mut config = json!({"linux": {}});
        add_notify(&c, &mut config, Mode::Audit).unwrap();
        assert_eq!(
            config["linux"]["seccomp"]["defaultAction"],
            "SCMP_ACT_ALLOW"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
