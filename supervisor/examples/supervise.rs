//! Temporary: runs `tiercel supervise` until the lead wires it into main.rs.
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: tiercel::supervise::SuperviseArgs,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    tiercel::supervise::run(Cli::parse().args)
}
