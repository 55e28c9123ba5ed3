//! Adding tiercel's NOTIFY to a whole OCI `config.json`: what `tiercel-shim` does to a
//! bundle before the runtime creates the container, and `tiercel-hook precreate` to the
//! config podman hands its `precreate` hook.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::{merge_into, notify_plan, seccomp_object, Mode};

/// Adds NOTIFY for the syscalls the rules in `rules` need to `config.linux.seccomp`,
/// with `socket` (an absolute UTF-8 path) as `listenerPath` and `metadata` as
/// `listenerMetadata`: merged into the profile already there (which keeps its refusals,
/// see [`merge_into`]), or tiercel's own object ([`seccomp_object`]) when there is none.
/// The rules are selected as the supervisor selects them with `select_config` (its config
/// file's `rules:` and `priority`). Returns the merge's notes (syscalls left un-notified and
/// why); `config` is unchanged on error.
pub fn add_notify_to_config(
    config: &mut Value,
    rules: &[PathBuf],
    select_config: Option<&Path>,
    socket: &Path,
    metadata: Option<&str>,
    mode: Mode,
) -> anyhow::Result<Vec<String>> {
    if rules.is_empty() {
        bail!("no rule files configured (`rules:` in the shim's config, or TIERCEL_RULES)");
    }
    let socket = socket
        .to_str()
        .filter(|s| s.starts_with('/'))
        .context("the supervisor socket must be an absolute UTF-8 path")?;
    let select = crate::load::SelectArgs {
        config: select_config.map(Path::to_path_buf),
        ..Default::default()
    };
    let (files, selection) = select.resolve(rules)?;
    let program = crate::load::program_selected(&files, &selection)?;
    let plan = notify_plan(&program);
    let linux = config
        .as_object_mut()
        .context("config.json is not a JSON object")?
        .entry("linux")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .context("config.json: linux is not an object")?;
    let (seccomp, notes) = match linux.get("seccomp") {
        Some(existing) if !existing.is_null() => {
            let merged = merge_into(existing, &plan, socket, metadata, mode)?;
            (merged.seccomp, merged.notes)
        }
        _ => (seccomp_object(&plan, socket, metadata, mode), Vec::new()),
    };
    linux.insert("seccomp".into(), seccomp);
    Ok(notes)
}
