//! The command line (clap derive): targets and options for the dashboard and batch mode,
//! and the `demo` and `snapshot` subcommands.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// A terminal dashboard for running QEMU virtual machines, over QMP.
#[derive(Debug, Parser)]
#[command(name = "qemu-dash", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to watch and how.
    #[command(flatten)]
    pub watch: WatchArgs,

    /// Send nothing but queries: pause, reset, power down, quit and snapshots are refused.
    #[arg(long)]
    pub read_only: bool,

    /// No terminal UI: print one JSON object per VM per poll on stdout.
    #[arg(long)]
    pub batch: bool,

    /// Leave the mouse to the terminal (text selection) instead of scrolling lists and
    /// focusing panels with it; the config's `mouse = false` does the same.
    #[arg(long)]
    pub no_mouse: bool,

    /// With --batch: stop after this many lines per VM.
    #[arg(short = 'n', long, requires = "batch")]
    pub count: Option<u64>,

    /// What to do instead of watching.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to watch and how: shared by the dashboard, batch mode and the exporter.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The VM's QMP socket: PATH, unix:PATH, tcp:HOST:PORT, or ssh://[USER@]HOST[:PORT]/PATH
    /// on another host (through the system's ssh; QEMU_DASH_SSH names another ssh command), or
    /// libvirt:DOMAIN (through libvirt's virt-qemu-qmp-proxy). Give QEMU a socket with
    /// `-qmp unix:/tmp/vm.qmp,server=on,wait=off`.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Seconds between polls (0.25 to 10; default 1, or the config file's).
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<Duration>,

    /// Watch every QMP socket in DIR (or ssh://[USER@]HOST[:PORT]/DIR), following sockets that
    /// appear and disappear. Or a VM manager's sockets, each watched the right way: lima
    /// (and colima), podman, proxmox (polite, see --share), quickemu, libvirt (every running
    /// domain, like --libvirt). A directory with one of those names is written ./NAME.
    #[arg(long, value_name = "DIR|PRESET")]
    pub discover: Option<crate::collect::discover::Place>,

    /// Watch every running libvirt domain through libvirt's QMP proxy, following domains that
    /// start and stop (the same as --discover libvirt). Read-only unless --allow-control.
    #[arg(long, conflicts_with = "discover")]
    pub libvirt: bool,

    /// The libvirt connection URI for libvirt:DOMAIN targets and --libvirt (default:
    /// LIBVIRT_DEFAULT_URI, else qemu:///system).
    #[arg(long, value_name = "URI")]
    pub libvirt_uri: Option<String>,

    /// Allow controls (pause, reset, snapshots…) on libvirt domains. Off by default: libvirt
    /// marks a domain tainted when another client sends it commands.
    #[arg(long)]
    pub allow_control: bool,

    /// Polite mode, for sockets a VM manager dials itself (Lima, podman machine, Proxmox):
    /// connect, poll and let go at every tick, and wait quietly while another client holds
    /// the socket. No events and no controls in this mode.
    #[arg(long)]
    pub share: bool,

    /// The config file (default: ~/.config/qemu-dash/config.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// QEMU's pid, for host CPU figures when the socket cannot tell it (TCP); for an ssh://
    /// target, its pid on that host.
    #[arg(long)]
    pub pid: Option<u32>,

    /// Append every QMP event to FILE as a JSON line (with the VM and the local time).
    #[arg(long, value_name = "FILE")]
    pub event_log: Option<PathBuf>,

    /// Seconds to wait for QEMU's greeting before concluding another client holds the socket
    /// (0.1 to 600).
    #[arg(long, default_value = "3", value_parser = parse_greeting_timeout)]
    pub greeting_timeout: Duration,

    /// Seconds to wait for the reply to a query (0.1 to 3600).
    #[arg(long, default_value = "5", value_parser = parse_command_timeout)]
    pub command_timeout: Duration,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a throwaway VM (a tiny Linux guest under TCG) and watch it.
    Demo(DemoArgs),
    /// List, save, load and delete internal snapshots (for scripts).
    #[command(subcommand)]
    Snapshot(crate::snapshot::SnapshotCommand),
    /// Serve the VMs' figures as Prometheus metrics on /metrics.
    Exporter(ExporterArgs),
    /// Internal: the demo's guard process (see `demo::guard`).
    #[command(name = "demo-guard", hide = true)]
    DemoGuard,
}

/// The exporter's default address: loopback only, since QMP has no authentication and the
/// metrics name VMs, disks and files.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9850";

/// Options of `qemu-dash exporter`.
#[derive(Debug, clap::Args)]
pub struct ExporterArgs {
    /// The address to serve /metrics on (ADDR:PORT). Anything but loopback is the operator's
    /// choice: the metrics name VMs, disks and image files.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// What to watch and how.
    #[command(flatten)]
    pub watch: WatchArgs,
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
    /// Seconds between polls (0.25 to 10).
    #[arg(long, default_value = "1", value_parser = parse_interval)]
    pub interval: Duration,
}

/// The range a duration option accepts. The command line and the config file check a value
/// with the same range, so neither clamps what the other refuses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondsRange {
    /// The option's name, for messages.
    pub name: &'static str,
    /// The shortest accepted, seconds.
    pub min: f64,
    /// The longest accepted, seconds.
    pub max: f64,
}

/// `--interval` and the config file's `interval`.
pub const INTERVAL: SecondsRange = SecondsRange {
    name: "interval",
    min: 0.25,
    max: 10.0,
};

/// `--greeting-timeout`.
pub const GREETING_TIMEOUT: SecondsRange = SecondsRange {
    name: "greeting timeout",
    min: 0.1,
    max: 600.0,
};

/// `--command-timeout`.
pub const COMMAND_TIMEOUT: SecondsRange = SecondsRange {
    name: "command timeout",
    min: 0.1,
    max: 3600.0,
};

impl SecondsRange {
    /// Checks a number of seconds: finite and within the range.
    pub fn check(&self, seconds: f64) -> Result<Duration, String> {
        let SecondsRange { name, min, max } = *self;
        if !seconds.is_finite() {
            return Err(format!(
                "the {name} must be a number of seconds from {min} to {max}, not {seconds}"
            ));
        }
        if !(min..=max).contains(&seconds) {
            return Err(format!(
                "the {name} of {seconds} s is outside {min} to {max} s"
            ));
        }
        Ok(Duration::from_secs_f64(seconds))
    }

    /// Parses and checks a number of seconds typed on the command line.
    pub fn parse(&self, text: &str) -> Result<Duration, String> {
        let seconds: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{}' is not a number of seconds", text.escape_debug()))?;
        self.check(seconds)
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    INTERVAL.parse(text)
}

fn parse_greeting_timeout(text: &str) -> Result<Duration, String> {
    GREETING_TIMEOUT.parse(text)
}

fn parse_command_timeout(text: &str) -> Result<Duration, String> {
    COMMAND_TIMEOUT.parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_and_options() {
        let cli = Cli::try_parse_from(["qemu-dash", "--interval", "0.5", "/tmp/a.qmp", "tcp:h:1"])
            .unwrap();
        assert_eq!(cli.watch.targets, ["/tmp/a.qmp", "tcp:h:1"]);
        assert_eq!(cli.watch.interval, Some(Duration::from_millis(500)));
        assert_eq!(cli.watch.command_timeout, Duration::from_secs(5));
        assert_eq!(cli.watch.greeting_timeout, Duration::from_secs(3));
        let exporter =
            Cli::try_parse_from(["qemu-dash", "exporter", "--interval", "2", "/tmp/a.qmp"])
                .unwrap();
        let Some(Command::Exporter(args)) = exporter.command else {
            panic!("{exporter:?}")
        };
        assert_eq!(args.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(args.watch.targets, ["/tmp/a.qmp"]);
        assert!(Cli::try_parse_from(["qemu-dash", "--interval", "20", "x"]).is_err());
        assert!(Cli::try_parse_from(["qemu-dash", "-n", "3", "x"]).is_err());
        let demo = Cli::try_parse_from(["qemu-dash", "demo", "--keep"]).unwrap();
        assert!(matches!(
            demo.command,
            Some(Command::Demo(DemoArgs { keep: true, .. }))
        ));
    }

    #[test]
    fn durations_that_are_not_finite_or_out_of_range_are_refused() {
        for (option, value) in [
            ("--interval", "nan"),
            ("--interval", "0.1"),
            ("--command-timeout", "inf"),
            ("--command-timeout", "1e20"),
            ("--command-timeout", "0"),
            ("--greeting-timeout", "inf"),
            ("--greeting-timeout", "NaN"),
            ("--greeting-timeout", "soon"),
        ] {
            let error = Cli::try_parse_from(["qemu-dash", option, value, "x"]).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{option} {value}"
            );
        }
        assert_eq!(
            INTERVAL.check(f64::NAN).unwrap_err(),
            "the interval must be a number of seconds from 0.25 to 10, not NaN"
        );
        assert_eq!(
            COMMAND_TIMEOUT.parse("1e20").unwrap_err(),
            "the command timeout of 100000000000000000000 s is outside 0.1 to 3600 s"
        );
        assert_eq!(
            GREETING_TIMEOUT.parse(" 0.5 "),
            Ok(Duration::from_millis(500))
        );
    }
}
