//! The `tiercel` command: the supervisor daemon, the seccomp profile generator and the
//! rules tools.

// `unsafe` lives only in the library's `sys` module.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli_config;
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
    /// Hold the listener fds so that containers outlive the supervisor (started by `supervise`).
    #[command(hide = true)]
    Keeper(tiercel::keeper::KeeperArgs),
    /// Print the `linux.seccomp` object (config.json / podman profile) for a set of rules.
    Profile(tiercel::profile::ProfileArgs),
    /// Check a configuration (falco.yaml keys plus `tiercel:`) or print its reference.
    #[command(subcommand)]
    Config(cli_config::ConfigCommand),
    /// Audit → enforce: write the Falco exceptions (`override: {exceptions: append}`)
    /// that silence exactly the alerts of a JSON alerts file, with a summary to review.
    Tune(tiercel::tune::TuneArgs),
}

/// Sets up tiercel's own log: for `supervise`, from the config's `log_level`,
/// `log_stderr`, `log_syslog` (a config that does not load is reported by the command
/// itself); elsewhere info on stderr.
fn init_logging(cmd: &Command) {
    let mut setup = tiercel::logging::LogSetup::default();
    if let Command::Supervise(args) = cmd {
        if let Ok(f) = tiercel::supervise::read_file_config(args) {
            let d = tiercel::supervise::LogConfig::default();
            setup.level = f.log_level.unwrap_or(d.level);
            setup.stderr = f.log_stderr.unwrap_or(d.stderr);
            setup.syslog = f.log_syslog.unwrap_or(d.syslog);
            setup.syslog_socket = f.syslog_socket.clone();
        }
    }
    if let Some(note) = tiercel::logging::init(&setup) {
        tracing::debug!("{note}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::Rules(cmd) => cli_rules::run(cmd),
        Command::Fields(args) => cli_rules::fields(args),
        Command::Supervise(args) => tiercel::supervise::run(args).map(|()| ExitCode::SUCCESS),
        Command::Keeper(args) => tiercel::keeper::run(args).map(|()| ExitCode::SUCCESS),
        Command::Profile(args) => tiercel::profile::run(args).map(|()| ExitCode::SUCCESS),
        Command::Config(cmd) => cli_config::run(cmd),
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
