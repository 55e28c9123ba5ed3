//! The `tiercel` command: the supervisor daemon, the seccomp profile generator and the
//! rules tools.

// `unsafe` lives only in the library's `sys` module.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_rules;

/// Falco-compatible runtime security for containers, on seccomp user notification.
#[derive(Debug, Parser)]
#[command(name = "tiercel", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with Falco rule files: check, parse, evaluate, list.
    #[command(subcommand)]
    Rules(cli_rules::RulesCommand),
    /// List the fields the rules engine knows (Falco names and types).
    Fields(cli_rules::FieldsArgs),
    /// Run the supervisor: serve containers' seccomp notifications, evaluate rules, alert, enforce.
    Supervise(tiercel::supervise::SuperviseArgs),
    /// Print the `linux.seccomp` object (config.json / podman profile) for a set of rules.
    Profile(tiercel::profile::ProfileArgs),
    /// Audit → enforce: write the Falco exceptions (`override: {exceptions: append}`)
    /// that silence exactly the alerts of a JSON alerts file, with a summary to review.
    Tune(tiercel::tune::TuneArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TIERCEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs sent to a file or journald stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Rules(cmd) => cli_rules::run(cmd),
        Command::Fields(args) => cli_rules::fields(args),
        Command::Supervise(args) => tiercel::supervise::run(args).map(|()| ExitCode::SUCCESS),
        Command::Profile(args) => tiercel::profile::run(args).map(|()| ExitCode::SUCCESS),
        Command::Tune(args) => tiercel::tune::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tiercel: {e:#}");
            ExitCode::from(2)
        }
    }
}
