//! The `tiercel` command.

fn main() -> anyhow::Result<()> {
    Ok(())
}
