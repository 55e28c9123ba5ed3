//! `tiercel profile`: the command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;
use tiercel_rules::program::Program;

use super::{merge_into, metadata_for, notify_plan, seccomp_object, Mode};

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
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Falco rule files, loaded in order (repeatable, like `falco -r`).
    #[arg(short = 'r', long = "rules", required = true, num_args = 1.., action = clap::ArgAction::Append)]
    pub rules: Vec<PathBuf>,
    /// The supervisor's socket (`listenerPath`); must be absolute.
    #[arg(long)]
    pub socket: PathBuf,
    /// Mode requested for containers using this profile.
    #[arg(long, default_value_t = Mode::Audit)]
    pub mode: Mode,
    /// `listenerMetadata` (default: `mode=<mode>`).
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
}

/// Loads rule files like `falco -r a -r b`; an error lists the load's error diagnostics.
pub fn load_program(rules: &[PathBuf]) -> anyhow::Result<Program> {
    let mut loader = tiercel_rules::loader::Loader::new(Default::default());
    for r in rules {
        loader.add_file(r);
    }
    let outcome = loader.finish();
    for d in &outcome.diagnostics {
        if d.severity == tiercel_rules::diag::Severity::Warning {
            tracing::warn!(code = d.code, "{}", d.message);
        }
    }
    match outcome.program {
        Some(p) => Ok(p),
        None => {
            let errs: Vec<String> = outcome
                .diagnostics
                .iter()
                .filter(|d| d.severity == tiercel_rules::diag::Severity::Error)
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect();
            anyhow::bail!("the rules did not load:\n{}", errs.join("\n"))
        }
    }
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
    let plan = notify_plan(program);
    let metadata = args
        .metadata
        .clone()
        .unwrap_or_else(|| metadata_for(args.mode));
    let base = match (&args.base, args.format) {
        (Some(b), _) => read_base(b)?,
        (None, Format::Podman) if Path::new(PODMAN_DEFAULT_PROFILE).exists() => {
            read_base(Path::new(PODMAN_DEFAULT_PROFILE))?
        }
        (None, _) => None,
    };
    match base {
        Some(b) => {
            let m = merge_into(&b, &plan, socket, Some(&metadata), args.mode)?;
            Ok((m.seccomp, m.notes))
        }
        None => Ok((
            seccomp_object(&plan, socket, Some(&metadata), args.mode),
            Vec::new(),
        )),
    }
}

/// `tiercel profile …`.
pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let program = load_program(&args.rules)?;
    let (profile, notes) = build(&args, &program)?;
    for n in &notes {
        tracing::info!("{n}");
    }
    let mut text = serde_json::to_string_pretty(&profile)?;
    text.push('\n');
    match &args.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
