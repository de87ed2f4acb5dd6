//! The `playstream` binary: parses the command line, starts telemetry and dispatches.

fn main() -> anyhow::Result<()> {
    Ok(())
}
