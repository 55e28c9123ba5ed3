//! `tiercel rules …` and `tiercel fields`: the rules engine on the command line.
//!
//! A stable interface: tests and reviewers use it.
//! Rule paths are files or directories (their `.yaml`/`.yml` files in name order), loaded
//! by [`tiercel::load`] like every other command.
//! - `rules check FILE…`: exit 0 without errors (warnings allowed), 1 otherwise.
//! - `rules parse 'COND'`: prints the tree, exit 0; a syntax error exits 1.
//! - `rules eval -r FILE… [EVENTS.jsonl|-]`: one Falco JSON alert line per match.
//! - `rules list -r FILE…`, `rules syscalls -r FILE…`, `fields [--json]`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use tiercel_rules::diag::Severity;
use tiercel_rules::fields::Availability;
use tiercel_rules::fireable::EventSource;
use tiercel_rules::loader::LoadOutcome;
use tiercel_rules::output::AlertOptions;
use tiercel_rules::program::RuleMatching;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rule files (in order, like `falco -r a -r b`) and report every error and warning.
    Check(CheckArgs),
    /// Parse one condition and print its syntax tree.
    Parse(ParseArgs),
    /// Evaluate rules against events given as JSON lines (field name → value).
    Eval(EvalArgs),
    /// List the rules a set of files defines: name, priority, source, tags, and whether
    /// the rule can fire under tiercel (`yes`, or `no(fields:…)` / `no(events:…)`).
    List(RulesFiles),
    /// Print the syscalls the enabled rules can match (what the seccomp profile notifies),
    /// one a line; calls notified only for some flags are followed by the condition, e.g.
    /// `openat (flags & 0o200003 in {0o1,0o2})` (`flags & mask` has one of these values).
    Syscalls(RulesFiles),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files or directories, loaded in order.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print diagnostics as JSON (one object, Falco's validation format) on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The condition, e.g. `proc.name in (cat, ls) and not fd.name startswith /tmp`.
    condition: String,
    /// Nesting limit: 1000 is what Falco's rule loader uses, 100 is libsinsp's default.
    #[arg(long, default_value_t = tiercel_rules::parser::FALCO_MAX_DEPTH)]
    max_depth: usize,
}

#[derive(Debug, Args)]
pub struct RulesFiles {
    /// Rule files or directories, loaded in order (default: the config's rules_files).
    #[arg(short = 'r', long = "rules")]
    rules: Vec<PathBuf>,
    /// The rule selection (config `rules:`/`priority`, -T, -t, -D), as `supervise` applies it.
    #[command(flatten)]
    select: tiercel::load::SelectArgs,
}

impl RulesFiles {
    /// Loads the selected rules; diagnostics on stderr, `Err` with the exit code on errors.
    fn load(&self) -> Result<Result<LoadOutcome, ExitCode>> {
        let (files, sel) = self.select.resolve(&self.rules)?;
        if files.is_empty() {
            anyhow::bail!("no rule files: pass -r RULES (or rules_files in the config)");
        }
        Ok(load_or_fail_with(&files, &sel))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Matching {
    First,
    All,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Rule files or directories, loaded in order.
    #[arg(short = 'r', long = "rules", required = true)]
    rules: Vec<PathBuf>,
    /// JSON-lines events; `-` or nothing for stdin.
    events: Option<PathBuf>,
    /// Falco's `rule_matching`: stop at the first matching rule, or report all.
    #[arg(long, value_enum, default_value = "first")]
    rule_matching: Matching,
    /// The rule selection and output settings (config `rules:`, `priority`,
    /// `append_output`; -T, -t, -D), as `supervise` applies them.
    #[command(flatten)]
    select: tiercel::load::SelectArgs,
}

#[derive(Debug, Args)]
pub struct FieldsArgs {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    match cmd {
        RulesCommand::Check(a) => check(a),
        RulesCommand::Parse(a) => parse(a),
        RulesCommand::Eval(a) => eval(a),
        RulesCommand::List(a) => list(a),
        RulesCommand::Syscalls(a) => syscalls(a),
    }
}

/// Loads files and directories in order ([`tiercel::load::load`]).
pub fn load(files: &[PathBuf]) -> LoadOutcome {
    tiercel::load::load(files)
}

fn counts(outcome: &LoadOutcome) -> (usize, usize) {
    let errors = outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (errors, outcome.diagnostics.len() - errors)
}

/// Loads, prints diagnostics on stderr, and fails when there is an error.
fn load_or_fail_with(
    files: &[PathBuf],
    sel: &tiercel::load::Selection,
) -> Result<LoadOutcome, ExitCode> {
    let outcome = tiercel::load::load_selected(files, sel);
    let (errors, _) = counts(&outcome);
    if !outcome.diagnostics.is_empty() {
        eprint!("{}", outcome.render_text());
    }
    if errors > 0 || outcome.program.is_none() {
        eprintln!("tiercel: rules not loaded: {errors} error(s)");
        return Err(ExitCode::from(1));
    }
    Ok(outcome)
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let outcome = load(&a.files);
    let (errors, warnings) = counts(&outcome);
    if a.json {
        println!("{}", outcome.render_json());
    } else if !outcome.diagnostics.is_empty() {
        eprint!("{}", outcome.render_text());
    }
    if let Some(p) = &outcome.program {
        match tiercel::load::unfireable_summary(&outcome) {
            Some(s) => eprintln!("{s}"),
            None => eprintln!(
                "0 of {} enabled rules cannot fire under tiercel",
                p.rules().len()
            ),
        }
    }
    eprintln!(
        "{} rules, {} macros, {} lists loaded; {} errors, {} warnings",
        outcome.rules, outcome.macros, outcome.lists, errors, warnings
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse(a: ParseArgs) -> Result<ExitCode> {
    match tiercel_rules::parser::parse(&a.condition, a.max_depth) {
        Ok(expr) => {
            let tree = tiercel_rules::parser::dump_tree(&expr);
            println!("{}", tree.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("filter error at {}:{}: {}", e.line, e.col, e.message);
            eprintln!("{}", caret_line(&a.condition, e.offset));
            Ok(ExitCode::from(1))
        }
    }
}

/// The condition's line holding `offset`, and a caret under it.
fn caret_line(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let end = text[offset..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    let col = text[start..offset].chars().count();
    format!("{line}\n{}^", " ".repeat(col))
}

fn eval(a: EvalArgs) -> Result<ExitCode> {
    let (files, sel) = a.select.resolve(&a.rules)?;
    let outcome = match load_or_fail_with(&files, &sel) {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let program = outcome.program.expect("checked by load_or_fail");
    let matching = match a.rule_matching {
        Matching::First => RuleMatching::First,
        Matching::All => RuleMatching::All,
    };
    let input: Box<dyn BufRead> = match &a.events {
        None => Box::new(BufReader::new(std::io::stdin())),
        Some(p) if p.as_os_str() == "-" => Box::new(BufReader::new(std::io::stdin())),
        Some(p) => Box::new(BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
    };
    let hostname = hostname();
    let mut out = std::io::stdout().lock();
    let mut matches = Vec::new();
    let mut bad = 0usize;
    for (n, line) in input.lines().enumerate() {
        let line = line.context("cannot read events")?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("line {}: not JSON: {e}", n + 1);
                bad += 1;
                continue;
            }
        };
        let event = match tiercel_rules::json_event::JsonEvent::from_json(&value) {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("line {}: {e}", n + 1);
                bad += 1;
                continue;
            }
        };
        // `evt.time` may be given (ns since the epoch); otherwise the time of evaluation.
        let time_ns = value
            .get("evt.time")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or_else(now_ns);
        matches.clear();
        program.eval(&event, matching, &mut matches);
        for &i in &matches {
            let rule = &program.rules()[i];
            let alert = tiercel_rules::output::Alert::new(
                rule,
                &event,
                time_ns,
                &hostname,
                AlertOptions::default(),
            );
            writeln!(out, "{}", alert.json())?;
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(a: RulesFiles) -> Result<ExitCode> {
    let outcome = match a.load()? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let program = outcome.program.as_ref().expect("checked by load_or_fail");
    let mut out = std::io::stdout().lock();
    for (i, rule) in program.rules().iter().enumerate() {
        // Last column: `yes`, or why the rule cannot fire under tiercel.
        let fires = outcome
            .unfireable
            .iter()
            .find(|u| u.rule == i)
            .map_or_else(|| "yes".to_string(), |u| format!("no({})", u.short()));
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            rule.name,
            rule.priority,
            rule.source,
            rule.tags.join(","),
            fires
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn syscalls(a: RulesFiles) -> Result<ExitCode> {
    let outcome = match a.load()? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let program = outcome.program.as_ref().expect("checked by load_or_fail");
    let mut out = std::io::stdout().lock();
    for rule in tiercel::profile::notify_plan(program).rules {
        writeln!(out, "{}", rule.describe())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn fields(a: FieldsArgs) -> Result<ExitCode> {
    let all = tiercel_rules::fields::all();
    let source = tiercel::load::Tiercel;
    let mut out = std::io::stdout().lock();
    if a.json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name,
                    "type": format!("{:?}", f.ftype),
                    "availability": f.availability.name(),
                    "served": source.serves(f.field),
                    "desc": f.desc,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        // Availability: entry (exact at syscall entry), entry-assume-success, exit-only,
        // kernel-derived (approximated), static (per container), not-served; `exit-only*`
        // marks an exit-only field tiercel still serves at entry (from the socket).
        writeln!(
            out,
            "{:<40} {:<10} {:<21} DESCRIPTION",
            "FIELD", "TYPE", "AVAILABILITY"
        )?;
        for f in all {
            let served = source.serves(f.field);
            let avail = match f.availability {
                Availability::ExitOnly | Availability::NotServed if served => {
                    format!("{}*", f.availability.name())
                }
                a => a.name().to_string(),
            };
            writeln!(
                out,
                "{:<40} {:<10} {:<21} {}",
                f.name,
                format!("{:?}", f.ftype),
                avail,
                f.desc
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The host name for alerts (Falco's `hostname` key).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .unwrap_or(0)
}
