//! Collector cost: the CPU time of `qemu-dash --batch` watching 1..N real QEMUs at a fixed
//! interval, against the floor reference client ([`crate::floor`], this binary's `floor`
//! subcommand) and the monitor loop of the classic QEMU Monitor tutorial (bench/monitor.py:
//! `query-status`, `query-cpus-fast`, `query-blockstats` per VM per interval), and the extra
//! CPU the QEMUs spend answering each of them (against a window with nothing attached). At
//! the end of each VM count, the medians and their ratios to the floor go to stderr.
//!
//! For each VM count and round, the contenders run in turn (the order rotates): each is
//! started, given `settle` seconds to connect and reach a steady state, then measured over
//! `window` seconds. A VM-poll is one JSON line on the contender's stdout (both print one
//! line per VM per poll). CPU comes from `/proc/<pid>/task/*/schedstat` (ns).

use crate::{Vm, cpu};
use anyhow::{Context, bail};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Options of `collector`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM list from bench/run.sh (`PID SOCKET [OBSERVER]` per line).
    #[arg(long)]
    vms: PathBuf,
    /// How many of the VMs to watch, one configuration per count.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    counts: Vec<usize>,
    /// A label for the kind of VM (shown in the report).
    #[arg(long, default_value = "-M none")]
    label: String,
    /// The Python monitor loop command (words split on spaces); without it, only qemu-dash.
    #[arg(long)]
    python: Option<String>,
    /// Poll interval, seconds.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Measured seconds per contender and round.
    #[arg(long, default_value_t = 10.0)]
    window: f64,
    /// Seconds of the no-contender window (QEMU's own baseline) per round.
    #[arg(long, default_value_t = 5.0)]
    baseline: f64,
    /// Seconds after the first line of every VM before measuring.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Rounds per VM count.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

/// A running contender whose stdout lines are counted.
struct Running {
    child: Child,
    lines: Arc<AtomicU64>,
}

impl Running {
    fn start(mut command: Command) -> anyhow::Result<Running> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let lines = Arc::new(AtomicU64::new(0));
        let counter = lines.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                counter.fetch_add(1, Ordering::Relaxed);
                line.clear();
            }
        });
        Ok(Running { child, lines })
    }

    fn wait_lines(&mut self, at_least: u64, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        while self.lines.load(Ordering::Relaxed) < at_least {
            if let Some(status) = self.child.try_wait()? {
                bail!("the contender exited early: {status}");
            }
            if start.elapsed() > timeout {
                bail!("no {at_least} lines within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One measurement window.
struct Window {
    wall: Duration,
    polls: u64,
    contender_cpu_ns: u64,
    qemu_cpu_ns: u64,
}

/// Measures `seconds` of the contender (if any) and of the QEMUs.
fn window(contender: Option<&Running>, qemus: &[u32], seconds: f64) -> Window {
    let pid = contender.map(|c| c.child.id());
    let lines = || contender.map_or(0, |c| c.lines.load(Ordering::Relaxed));
    let (lines0, cpu0, qemu0, start) = (
        lines(),
        pid.map_or(0, cpu::process_ns),
        cpu::processes_ns(qemus),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs_f64(seconds));
    Window {
        qemu_cpu_ns: cpu::processes_ns(qemus).saturating_sub(qemu0),
        contender_cpu_ns: pid.map_or(0, cpu::process_ns).saturating_sub(cpu0),
        polls: lines().saturating_sub(lines0),
        wall: start.elapsed(),
    }
}

/// Runs every configuration and prints one JSON line per contender, VM count and round.
pub fn run(args: Args) -> anyhow::Result<()> {
    let vms = crate::read_vms(&args.vms)?;
    let mut contenders = vec!["none", "floor", "qemu-dash"];
    if args.python.is_some() {
        contenders.push("python-monitor");
    }
    for &count in &args.counts {
        if count > vms.len() {
            bail!("{count} VMs asked for, {} started", vms.len());
        }
        let chosen: &[Vm] = &vms[..count];
        let qemus: Vec<u32> = chosen.iter().map(|vm| vm.pid).collect();
        let sockets: Vec<String> = chosen
            .iter()
            .map(|vm| vm.socket.display().to_string())
            .collect();
        let mut figures: Vec<(&str, f64, f64)> = Vec::new();
        let mut baseline: Vec<f64> = Vec::new();
        for round in 0..args.rounds {
            for k in 0..contenders.len() {
                let name = contenders[(round + k) % contenders.len()];
                let command = match name {
                    "qemu-dash" => {
                        let mut command = Command::new(&args.binary);
                        command
                            .arg("--batch")
                            .args(["--interval", &args.interval.to_string()])
                            .args(&sockets);
                        Some(command)
                    }
                    "floor" => {
                        let mut command = Command::new(std::env::current_exe()?);
                        command
                            .arg("floor")
                            .args(["--interval", &args.interval.to_string()])
                            .args(&sockets);
                        Some(command)
                    }
                    "python-monitor" => {
                        let line = args.python.as_deref().unwrap_or_default();
                        let mut words = line.split_whitespace();
                        let mut command = Command::new(words.next().context("empty --python")?);
                        command
                            .args(words)
                            .args(["--interval", &args.interval.to_string()])
                            .args(&sockets);
                        Some(command)
                    }
                    _ => None,
                };
                let measured = match command {
                    Some(command) => {
                        let mut running = Running::start(command)?;
                        running.wait_lines(count as u64, Duration::from_secs(30))?;
                        std::thread::sleep(Duration::from_secs_f64(args.settle));
                        window(Some(&running), &qemus, args.window)
                        // Dropped here: killed; QEMU takes the next client.
                    }
                    None => window(None, &qemus, args.baseline),
                };
                // Let QEMU notice the hang-up before the next window.
                std::thread::sleep(Duration::from_millis(300));
                let seconds = measured.wall.as_secs_f64();
                let per_poll =
                    |ns: u64| (measured.polls > 0).then(|| ns as f64 / 1e6 / measured.polls as f64);
                eprintln!(
                    "collector {} x{count} round {round} {name:<15} {:5} polls in {seconds:.1} s: \
                     {:8.3} ms CPU/VM-poll ({:.2} % of a core), QEMUs {:7.1} ms CPU/s",
                    args.label,
                    measured.polls,
                    per_poll(measured.contender_cpu_ns).unwrap_or(0.0),
                    measured.contender_cpu_ns as f64 / 1e7 / seconds,
                    measured.qemu_cpu_ns as f64 / 1e6 / seconds,
                );
                if name == "none" {
                    baseline.push(measured.qemu_cpu_ns as f64 / 1e6 / seconds);
                } else if measured.polls > 0 {
                    figures.push((
                        name,
                        measured.contender_cpu_ns as f64 / 1e6 / measured.polls as f64,
                        measured.qemu_cpu_ns as f64 / 1e6 / seconds,
                    ));
                }
                crate::emit(json!({
                    "bench": "collector",
                    "label": args.label,
                    "vms": count,
                    "interval_s": args.interval,
                    "contender": name,
                    "round": round,
                    "wall_s": seconds,
                    "polls": measured.polls,
                    "cpu_ms": measured.contender_cpu_ns as f64 / 1e6,
                    "qemu_cpu_ms": measured.qemu_cpu_ns as f64 / 1e6,
                    "python": (name == "python-monitor").then(|| args.python.clone()),
                    "load": cpu::loadavg(),
                }));
            }
        }
        summarize(&args.label, count, &figures, &baseline);
    }
    Ok(())
}

/// Prints each contender's medians and their ratios to the floor client's.
fn summarize(label: &str, count: usize, figures: &[(&str, f64, f64)], baseline: &[f64]) {
    let base = cpu::median(baseline);
    let medians = |name: &str| {
        let own: Vec<f64> = figures
            .iter()
            .filter(|f| f.0 == name)
            .map(|f| f.1)
            .collect();
        let qemu: Vec<f64> = figures
            .iter()
            .filter(|f| f.0 == name)
            .map(|f| f.2 - base)
            .collect();
        (!own.is_empty()).then(|| (cpu::median(&own), cpu::median(&qemu)))
    };
    let Some((floor_cpu, floor_qemu)) = medians("floor") else {
        return;
    };
    for name in ["floor", "qemu-dash", "python-monitor"] {
        if let Some((own, qemu)) = medians(name) {
            eprintln!(
                "collector {label} x{count} {name:<15} median {own:.4} ms CPU/VM-poll = {:.2} x floor; \
                 QEMUs' extra {qemu:.1} ms/s = {:.2} x floor's",
                own / floor_cpu,
                qemu / floor_qemu,
            );
        }
    }
}
