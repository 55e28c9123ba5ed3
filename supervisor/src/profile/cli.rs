//! `tiercel profile`: the command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;
use tiercel_rules::program::Program;

use super::object::{access_mode_of, Seccomp, NOTIFY};
use super::plan::{AccessFilter, NotifyRule, ValueFilter, VALUE_FILTERED};
use super::{merge_into, metadata_for, notify_plan, seccomp_object, Mode, ACCESS_MODE_SYSCALLS};

/// Output form of `tiercel profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The `linux.seccomp` object of an OCI `config.json` (also accepted by podman).
    #[default]
    Oci,
    /// A containers-common/docker `seccomp.json`: merged into `--base`, by default
    /// podman's own default profile, so its refusals stay.
    Podman,
}

/// Where podman's (containers-common) default seccomp profile lives.
pub const PODMAN_DEFAULT_PROFILE: &str = "/usr/share/containers/seccomp.json";

/// `tiercel profile`: print the `linux.seccomp` object that sends the syscalls the rules
/// need to the supervisor at `--socket`.
///
/// The object's `listenerMetadata` carries `mode=<mode>` only when `--mode` (or
/// `--metadata`) is given: the supervisor then applies that mode to containers using the
/// profile (raising its own; lowering it only with `supervise --allow-mode-downgrade`). Without
/// it, no mode is requested and the supervisor's own `--mode` applies. Stderr gets one
/// line naming each notified syscall once, with the flag classes it is notified in.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Falco rule files or directories (their .yaml/.yml files in name order), loaded in
    /// order (repeatable, like `falco -r`).
    /// Default: the config's `rules_files`.
    #[arg(short = 'r', long = "rules", num_args = 1.., action = clap::ArgAction::Append)]
    pub rules: Vec<PathBuf>,
    /// The supervisor's socket (`listenerPath`); must be absolute.
    #[arg(long)]
    pub socket: PathBuf,
    /// Build the profile for this mode and request it from the supervisor for containers
    /// using the profile (`listenerMetadata: "mode=<mode>"`). Enforce also refuses
    /// io_uring in the kernel. Without `--mode`: an audit-form profile that requests no
    /// mode (the supervisor's `--mode` applies).
    #[arg(long)]
    pub mode: Option<Mode>,
    /// `listenerMetadata` to write verbatim (default: `mode=<mode>` with `--mode`, none
    /// without).
    #[arg(long)]
    pub metadata: Option<String>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Oci)]
    pub format: Format,
    /// Merge into this profile instead of allowing everything else: a seccomp.json, a
    /// `linux.seccomp` object, or a bundle's `config.json`.
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Enforce: do not refuse `clone` with a `CLONE_NEW*` flag (EPERM) and `clone3`
    /// (ENOSYS) in the kernel, which enforce profiles do while an enabled rule refuses
    /// making namespaces (the preset's "Namespace or root change in protected
    /// container"; disabling that rule turns both off). For sandboxes in the container
    /// (bwrap, chromium, buildah).
    #[arg(long)]
    pub allow_namespaces: bool,
    /// The rule selection (config `rules:`/`priority`, -T, -t, -D), as `supervise` applies it.
    #[command(flatten)]
    pub select: crate::load::SelectArgs,
}

/// Loads rule files like `falco -r a -r b`; an error lists the load's error diagnostics.
pub fn load_program(rules: &[PathBuf]) -> anyhow::Result<Program> {
    Ok(crate::load::program(rules)?)
}

/// Reads a profile to merge into: a `config.json` (its `linux.seccomp`, or `None` when it
/// has none), a bare `linux.seccomp` object or a docker/podman `seccomp.json`.
pub fn read_base(path: &Path) -> anyhow::Result<Option<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if v.get("ociVersion").is_some() || v.get("process").is_some() || v.get("root").is_some() {
        return Ok(v.get("linux").and_then(|l| l.get("seccomp")).cloned());
    }
    Ok(Some(v))
}

/// Builds the profile `args` asks for.
pub fn build(args: &ProfileArgs, program: &Program) -> anyhow::Result<(Value, Vec<String>)> {
    if !args.socket.is_absolute() {
        anyhow::bail!("--socket must be an absolute path (runc and crun require it)");
    }
    let socket = args
        .socket
        .to_str()
        .context("--socket is not valid UTF-8")?;
    let mut plan = notify_plan(program);
    if args.allow_namespaces {
        plan.refuse_namespaces = false;
    }
    let metadata = args.metadata.clone().or(args.mode.map(metadata_for));
    let mode = args.mode.unwrap_or(Mode::Audit);
    let base = match (&args.base, args.format) {
        (Some(b), _) => read_base(b)?,
        (None, Format::Podman) if Path::new(PODMAN_DEFAULT_PROFILE).exists() => {
            read_base(Path::new(PODMAN_DEFAULT_PROFILE))?
        }
        (None, _) => None,
    };
    match base {
        Some(b) => {
            let m = merge_into(&b, &plan, socket, metadata.as_deref(), mode)?;
            Ok((m.seccomp, m.notes))
        }
        None => Ok((
            seccomp_object(&plan, socket, metadata.as_deref(), mode),
            Vec::new(),
        )),
    }
}

/// `tiercel profile …`.
pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let (files, sel) = args.select.resolve(&args.rules)?;
    if files.is_empty() {
        anyhow::bail!("no rule files: pass -r RULES (or rules_files in the config)");
    }
    let program = crate::load::program_selected(&files, &sel)?;
    let (profile, notes) = build(&args, &program)?;
    for n in &notes {
        tracing::info!("{n}");
    }
    eprintln!(
        "notified syscalls: {}",
        notified_summary(&profile).join(", ")
    );
    let mut text = serde_json::to_string_pretty(&profile)?;
    text.push('\n');
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Each syscall `profile` sends to the supervisor, once, with the flag classes it is
/// notified in (as `tiercel rules syscalls` shows them): `execve`, `openat (flags &
/// 0o200003 in {0o1,0o2})`; `name (under conditions)` when its NOTIFY rules carry other
/// conditions (of a merged base profile).
pub fn notified_summary(profile: &Value) -> Vec<String> {
    use std::collections::BTreeMap;
    let Ok(s) = serde_json::from_value::<Seccomp>(profile.clone()) else {
        return Vec::new();
    };
    /// (unconditional, flag classes by (index, mask), other conditions, notified values)
    type Seen = (
        bool,
        BTreeMap<(u32, u64), Vec<u64>>,
        bool,
        Option<(u32, u64, Vec<u64>)>,
    );
    let mut by_name: BTreeMap<String, Seen> = BTreeMap::new();
    for r in s.syscalls.iter().flatten() {
        if r.action.as_deref() != Some(NOTIFY) {
            continue;
        }
        for n in r.all_names() {
            let e = by_name.entry(n.clone()).or_default();
            let index = ACCESS_MODE_SYSCALLS
                .iter()
                .find(|(s, _)| *s == n)
                .map(|x| x.1);
            let valued = VALUE_FILTERED
                .iter()
                .find(|v| v.0 == n)
                .and_then(|&(_, _, i, m)| match r.args.as_deref() {
                    Some([a]) if a.index == i && a.op == "SCMP_CMP_MASKED_EQ" && a.value == m => {
                        Some((i, m, a.value_two.unwrap_or(0)))
                    }
                    _ => None,
                });
            if let Some(v) = valued {
                e.3.get_or_insert((v.0, v.1, Vec::new())).2.push(v.2);
                continue;
            }
            match index.and_then(|i| Some((i, access_mode_of(r.args.as_deref(), i)?))) {
                Some((i, (mask, v))) => e.1.entry((i, mask)).or_default().push(v),
                None if r.conditional() => e.2 = true,
                None => e.0 = true,
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, (all, classes, other, valued))| {
            if all {
                return name;
            }
            if let Some((index, mask, mut values)) = valued {
                if other || !classes.is_empty() {
                    return format!("{name} (under conditions)");
                }
                values.sort_unstable();
                values.dedup();
                return NotifyRule {
                    name,
                    access: None,
                    values: Some(ValueFilter {
                        index,
                        mask,
                        values,
                    }),
                }
                .describe();
            }
            match classes.into_iter().collect::<Vec<_>>().as_slice() {
                [((index, mask), values)] if !other => {
                    let mut values = values.clone();
                    values.sort_unstable();
                    values.dedup();
                    let access = AccessFilter {
                        index: *index,
                        mask: *mask,
                        values,
                    };
                    let access =
                        (access.values.len() < access.all_values().len()).then_some(access);
                    NotifyRule {
                        name,
                        access,
                        values: None,
                    }
                    .describe()
                }
                _ => format!("{name} (under conditions)"),
            }
        })
        .collect()
}
