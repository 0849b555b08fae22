//! qemu-dash's benchmark suite: one binary, one subcommand per measurement.
//!
//! `bench/run.sh` starts the QEMUs, builds this binary and runs every subcommand; each prints
//! progress on stderr and one JSON object per measurement on stdout, which `bench/report.py`
//! turns into `bench/RESULTS.md`. Each subcommand can also be run by hand, e.g.
//! `cargo bench --bench suite -- render`.
//!
//! - `rtt`: QMP round trip of `query-status`, qemu-dash's client vs a raw socket vs `qemu.qmp`.
//! - `collector`: CPU of `qemu-dash --batch`, of the floor client and of a Python monitor loop
//!   per VM-poll, and the extra CPU the watched QEMUs spend answering each.
//! - `floor`: the floor reference client itself (a contender `collector` starts).
//! - `render`: time and bytes per frame of `ui::render` with full histories.
//! - `bytes`, `keys`, `memory`: the real binary in a pseudo-terminal: bytes written per
//!   second, key-to-effect latency, peak RSS.
//! - `exporter`: time per scrape of `qemu-dash exporter` watching N VMs.

mod collector;
mod cpu;
mod exporter;
mod floor;
mod pty;
mod render;
mod rtt;
mod tui;

use clap::{Parser, Subcommand};

/// qemu-dash benchmark suite.
#[derive(Debug, Parser)]
struct Cli {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, global = true, hide = true)]
    bench: bool,
    /// Without one (plain `cargo bench`), `render`: the one measurement that needs no QEMU.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// QMP round trip per `query-status`, sequential and pipelined.
    Rtt(rtt::Args),
    /// CPU per VM-poll of the collector, and the extra CPU of the watched QEMUs.
    Collector(collector::Args),
    /// Time and bytes per frame of the renderer.
    Render(render::Args),
    /// Bytes written to the terminal per second by the real binary in a PTY.
    Bytes(tui::BytesArgs),
    /// Key press to effect (QMP event, screen) latency.
    Keys(tui::KeysArgs),
    /// Peak RSS of the dashboard watching VMs for a while.
    Memory(tui::MemoryArgs),
    /// CPU and frames of the dashboard showing the fleet table of many VMs.
    Fleet(tui::FleetArgs),
    /// Time per scrape of the Prometheus exporter watching N VMs.
    Exporter(exporter::Args),
    /// The floor reference client (runs until killed; `collector` starts it).
    Floor(floor::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        eprintln!("no measurement named: running `render` (bench/run.sh runs them all)");
        Command::Render(render::Args::default())
    });
    match command {
        Command::Rtt(args) => rtt::run(args),
        Command::Collector(args) => collector::run(args),
        Command::Render(args) => render::run(args),
        Command::Bytes(args) => tui::bytes(args),
        Command::Keys(args) => tui::keys(args),
        Command::Memory(args) => tui::memory(args),
        Command::Fleet(args) => tui::fleet(args),
        Command::Exporter(args) => exporter::run(args),
        Command::Floor(args) => floor::run(args),
    }
}

/// Prints one result object as a JSON line on stdout.
pub fn emit(value: serde_json::Value) {
    println!("{value}");
}

/// Reads a VM list written by bench/run.sh: one `PID MAIN_SOCKET OBSERVER_SOCKET` per line.
pub fn read_vms(path: &std::path::Path) -> anyhow::Result<Vec<Vm>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let pid = fields.next().context("pid")?.parse()?;
            let socket = fields.next().context("socket")?.into();
            let observer = fields.next().map(Into::into);
            Ok(Vm {
                pid,
                socket,
                observer,
            })
        })
        .collect()
}

/// A QEMU started by bench/run.sh.
#[derive(Debug, Clone)]
pub struct Vm {
    /// QEMU's pid.
    pub pid: u32,
    /// The QMP socket for the program under test.
    pub socket: std::path::PathBuf,
    /// A second QMP socket for an observer, if any.
    pub observer: Option<std::path::PathBuf>,
}
