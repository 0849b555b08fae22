//! The command line (clap derive): targets and options for the dashboard and batch mode,
//! and the `demo` and `snapshot` subcommands.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// A terminal dashboard for running QEMU virtual machines, over QMP.
#[derive(Debug, Parser)]
#[command(name = "qemu-dash", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The VM's QMP socket: PATH, unix:PATH or tcp:HOST:PORT. Give QEMU one with
    /// `-qmp unix:/tmp/vm.qmp,server=on,wait=off`.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Seconds between polls (0.25 to 10; default 1, or the config file's).
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<f64>,

    /// Watch every QMP socket in DIR, following sockets that appear and disappear.
    #[arg(long, value_name = "DIR")]
    pub discover: Option<PathBuf>,

    /// The config file (default: ~/.config/qemu-dash/config.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Send nothing but queries: pause, reset, power down, quit and snapshots are refused.
    #[arg(long)]
    pub read_only: bool,

    /// No terminal UI: print one JSON object per VM per poll on stdout.
    #[arg(long)]
    pub batch: bool,

    /// With --batch: stop after this many lines per VM.
    #[arg(short = 'n', long, requires = "batch")]
    pub count: Option<u64>,

    /// QEMU's pid, for host CPU figures when the socket cannot tell it (TCP).
    #[arg(long)]
    pub pid: Option<u32>,

    /// Append every QMP event to FILE as a JSON line (with the VM and the local time).
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,

    /// Seconds to wait for QEMU's greeting before concluding another client holds the socket.
    #[arg(long, default_value_t = 3.0)]
    pub greeting_timeout: f64,

    /// Seconds to wait for the reply to a query.
    #[arg(long, default_value_t = 5.0)]
    pub command_timeout: f64,

    /// What to do instead of watching.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a throwaway VM (a tiny Linux guest under TCG) and watch it.
    Demo(DemoArgs),
    /// List, save, load and delete internal snapshots (for scripts).
    #[command(subcommand)]
    Snapshot(crate::snapshot::SnapshotCommand),
    /// Internal: the demo's guard process (see `demo::guard`).
    #[command(name = "demo-guard", hide = true)]
    DemoGuard,
}

/// Options of `qemu-dash demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Accelerator: tcg works everywhere; kvm needs /dev/kvm and working virtualisation.
    #[arg(long, default_value = "tcg")]
    pub accel: String,
    /// Leave the VM running on exit and print its QMP socket path.
    #[arg(long)]
    pub keep: bool,
    /// The QEMU binary.
    #[arg(long, env = "QEMU_DASH_QEMU", default_value = "qemu-system-x86_64")]
    pub qemu: String,
    /// Where the guest kernel and initramfs are cached.
    #[arg(long, env = "QEMU_DASH_GUEST_DIR")]
    pub guest_dir: Option<PathBuf>,
    /// Start QEMU without a guest OS (no build needed; the disk stays idle).
    #[arg(long)]
    pub no_guest: bool,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
    pub interval: f64,
}

fn parse_interval(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if (0.25..=10.0).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!("{seconds} s is outside 0.25 to 10 s"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_and_options() {
        let cli = Cli::try_parse_from(["qemu-dash", "--interval", "0.5", "/tmp/a.qmp", "tcp:h:1"])
            .unwrap();
        assert_eq!(cli.targets, ["/tmp/a.qmp", "tcp:h:1"]);
        assert_eq!(cli.interval, Some(0.5));
        assert!(Cli::try_parse_from(["qemu-dash", "--interval", "20", "x"]).is_err());
        assert!(Cli::try_parse_from(["qemu-dash", "-n", "3", "x"]).is_err());
        let demo = Cli::try_parse_from(["qemu-dash", "demo", "--keep"]).unwrap();
        assert!(matches!(
            demo.command,
            Some(Command::Demo(DemoArgs { keep: true, .. }))
        ));
    }
}
