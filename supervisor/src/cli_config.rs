//! `tiercel config check` and `tiercel config reference`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use tiercel::schema::{self, Status};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read a configuration as `supervise` would (config_files, -o) and print, per key,
    /// `applied`, `accepted without effect (why)` or `unknown key`, with file:line:col.
    /// Exit 1 when a value is refused.
    Check(CheckArgs),
    /// Print the configuration reference (docs/configuration.md) from the schema.
    Reference,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file (default: /etc/tiercel/falco.yaml when it exists).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set a key, Falco's `-o KEY=VALUE` syntax (repeatable).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    option: Vec<String>,
}

pub fn run(cmd: ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Reference => {
            print!("{}", schema::reference_markdown());
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check(a) => check(a),
    }
}

fn check(a: CheckArgs) -> Result<ExitCode> {
    let path = a.config.clone().or_else(tiercel::config::default_path);
    let merged = match tiercel::settings::load(path.as_deref(), &a.option) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("tiercel: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    for f in &merged.files {
        println!("# read {}", f.display());
    }
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    let checked = schema::check(&merged.root);
    let (mut applied, mut none, mut unknown) = (0, 0, 0);
    for f in &checked.findings {
        match f.status {
            Status::Applied => applied += 1,
            Status::NoEffect(_) => none += 1,
            Status::Unknown => unknown += 1,
        }
        println!("{f}");
    }
    for e in &checked.errors {
        eprintln!("error: {e}");
    }
    // The typed parsers' own checks (e.g. a file output without a filename).
    let typed = if checked.errors.is_empty() {
        tiercel::config::load_full(path.as_deref(), &a.option).err()
    } else {
        None
    };
    if let Some(e) = &typed {
        eprintln!("error: {e}");
    }
    let errors = checked.errors.len() + usize::from(typed.is_some());
    println!(
        "{applied} applied, {none} accepted without effect, {unknown} unknown, {errors} error(s)"
    );
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
