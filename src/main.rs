//! qemu-dash's binary. For now it only wires the `snapshot` subcommands; the dashboard comes
//! with the main branch.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "qemu-dash",
    version,
    about = "A terminal dashboard for QEMU VMs, over QMP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List, save, load and delete internal snapshots (for scripts).
    #[command(subcommand)]
    Snapshot(qemu_dash::snapshot::SnapshotCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Snapshot(command) => qemu_dash::snapshot::run_cli(command).await,
    }
}
