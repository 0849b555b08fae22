//! The real binary in a pseudo-terminal: bytes written per second (idle or busy VM),
//! key-to-effect latency, and peak RSS with full histories.

use crate::cpu;
use crate::pty::{Dashboard, Observer};
use anyhow::Context;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// Options of `bytes`.
#[derive(Debug, clap::Args)]
pub struct BytesArgs {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM's QMP socket.
    #[arg(long)]
    socket: PathBuf,
    /// What the VM is doing, for the report ("idle", "busy").
    #[arg(long, default_value = "idle")]
    label: String,
    /// Terminal sizes, COLSxROWS.
    #[arg(long, value_delimiter = ',', default_value = "80x24,240x67")]
    sizes: Vec<String>,
    /// Measured seconds per size.
    #[arg(long, default_value_t = 15.0)]
    seconds: f64,
    /// Seconds after the first sample before measuring.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
}

fn parse_size(text: &str) -> anyhow::Result<(u16, u16)> {
    let (cols, rows) = text.split_once('x').context("size: expected COLSxROWS")?;
    Ok((cols.parse()?, rows.parse()?))
}

/// Bytes, frames and changed cells per second at the default interval.
pub fn bytes(args: BytesArgs) -> anyhow::Result<()> {
    for size in &args.sizes {
        let (cols, rows) = parse_size(size)?;
        let dash = Dashboard::start(
            &args.binary,
            &[args.socket.display().to_string()],
            cols,
            rows,
        )?;
        dash.wait_for("● running", WAIT)?;
        let first_paint = dash.counters().bytes;
        std::thread::sleep(Duration::from_secs_f64(args.settle));
        dash.track_cells(true);
        let before = dash.counters();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        let after = dash.counters();
        let seconds = start.elapsed().as_secs_f64();
        let bytes = (after.bytes - before.bytes) as f64;
        let frames = (after.frames - before.frames) as f64;
        let cells = (after.changed_cells - before.changed_cells) as f64;
        eprintln!(
            "bytes {} {size:>7}: {:7.0} bytes/s, {:4.1} frames/s, {:6.0} bytes/frame, {:6.0} changed cells/s, {:5.1} bytes per changed cell (start-up wrote {first_paint} bytes)",
            args.label,
            bytes / seconds,
            frames / seconds,
            bytes / frames.max(1.0),
            cells / seconds,
            bytes / cells.max(1.0),
        );
        crate::emit(json!({
            "bench": "bytes",
            "label": args.label,
            "size": size,
            "seconds": seconds,
            "bytes_per_s": bytes / seconds,
            "frames_per_s": frames / seconds,
            "bytes_per_frame": bytes / frames.max(1.0),
            "changed_cells_per_s": cells / seconds,
            "bytes_per_changed_cell": bytes / cells.max(1.0),
            "startup_bytes": first_paint,
        }));
    }
    Ok(())
}

/// Options of `keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM's QMP socket for the dashboard.
    #[arg(long)]
    socket: PathBuf,
    /// A second QMP socket of the same VM, for the observer.
    #[arg(long)]
    observer: PathBuf,
    /// Key presses (alternating `p` and space).
    #[arg(long, default_value_t = 20)]
    presses: usize,
    /// Poll intervals to try (seconds), one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,0.25")]
    intervals: Vec<f64>,
}

/// The "Events (N seen" count on screen.
fn events_seen(screen: &str) -> Option<u64> {
    let at = screen.find("Events (")? + "Events (".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A small generator for the pause between presses, seeded from the clock, so presses land
/// at random phases of the poll interval (a fixed seed would give the same phases every run).
struct Jitter(u64);

impl Jitter {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % max
    }
}

/// Key press to: the QMP event on a second socket, the command's result on screen, the event
/// in the on-screen log, and the header's run state.
pub fn keys(args: KeysArgs) -> anyhow::Result<()> {
    for &interval in &args.intervals {
        let observer = Observer::connect(&args.observer)?;
        let mut dash = Dashboard::start(
            &args.binary,
            &[
                args.socket.display().to_string(),
                "--interval".into(),
                interval.to_string(),
            ],
            120,
            36,
        )?;
        dash.wait_for("● running", WAIT)?;
        std::thread::sleep(Duration::from_millis(1500));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(42, |d| d.as_nanos() as u64);
        let mut jitter = Jitter(seed | 1);
        for press in 0..args.presses {
            std::thread::sleep(Duration::from_millis(200 + jitter.next_ms(1000)));
            let pausing = press % 2 == 0;
            let (key, event, state, ack) = if pausing {
                ("p", "STOP", "● paused", "pause: done")
            } else {
                (" ", "RESUME", "● running", "resume: done")
            };
            let seen = events_seen(&dash.text()).context("no event count on screen")?;
            dash.watch(&[
                ack.to_string(),
                format!("Events ({} seen", seen + 1),
                state.to_string(),
            ]);
            observer.drain();
            let pressed = dash.send(key)?;
            let qmp = observer.wait_event(event, WAIT)?;
            let shown = dash.wait_watched(WAIT)?;
            let ms = |at: Instant| cpu::ms(at.saturating_duration_since(pressed));
            eprintln!(
                "keys interval {interval} s press {press:2} {:>5}: QMP {event} {:6.2} ms, result shown {:6.2} ms, logged {:6.2} ms, header \"{state}\" {:7.2} ms",
                if pausing { "p" } else { "space" },
                ms(qmp),
                ms(shown[0]),
                ms(shown[1]),
                ms(shown[2]),
            );
            crate::emit(json!({
                "bench": "keys",
                "interval_s": interval,
                "press": press,
                "key": if pausing { "p" } else { "space" },
                "qmp_event_ms": ms(qmp),
                "result_shown_ms": ms(shown[0]),
                "event_logged_ms": ms(shown[1]),
                "state_shown_ms": ms(shown[2]),
            }));
        }
        drop(dash);
    }
    Ok(())
}

/// Options of `memory`.
#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM list from bench/run.sh; the first `count` are watched.
    #[arg(long)]
    vms: PathBuf,
    /// How many VMs to watch.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 120.0)]
    seconds: f64,
    /// Poll interval (0.25 s fills the 300-sample histories in 75 s).
    #[arg(long, default_value_t = 0.25)]
    interval: f64,
    /// stop/cont pairs per second sent to the first VM through its observer socket, to fill
    /// the event log (1000 entries).
    #[arg(long, default_value_t = 5.0)]
    event_pairs_per_s: f64,
}

/// The dashboard's arguments to watch `vms` every `interval` seconds.
fn watch_argv(vms: &[crate::Vm], interval: f64) -> Vec<String> {
    let mut argv: Vec<String> = vms
        .iter()
        .map(|vm| vm.socket.display().to_string())
        .collect();
    argv.extend(["--interval".into(), interval.to_string()]);
    argv
}

/// Peak and final RSS of the dashboard after watching VMs with full histories.
pub fn memory(args: MemoryArgs) -> anyhow::Result<()> {
    let vms = crate::read_vms(&args.vms)?;
    let chosen = vms.get(..args.count).context("not that many VMs")?;
    let argv = watch_argv(chosen, args.interval);
    let dash = Dashboard::start(&args.binary, &argv, 120, 36)?;
    dash.wait_for("● running", WAIT)?;
    let stop = Arc::new(AtomicBool::new(false));
    let pumped = Arc::new(AtomicU64::new(0));
    let pump = match (&chosen[0].observer, args.event_pairs_per_s > 0.0) {
        (Some(path), true) => {
            let mut observer = Observer::connect(path)?;
            let (stop, pumped) = (stop.clone(), pumped.clone());
            let period = Duration::from_secs_f64(1.0 / args.event_pairs_per_s);
            Some(std::thread::spawn(move || -> anyhow::Result<()> {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    observer.execute("stop")?;
                    observer.execute("cont")?;
                    observer.drain();
                    pumped.fetch_add(2, Ordering::Relaxed);
                    next += period;
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                Ok(())
            }))
        }
        _ => None,
    };
    let start = Instant::now();
    let mut series = Vec::new();
    while start.elapsed().as_secs_f64() < args.seconds {
        std::thread::sleep(Duration::from_secs(5).min(Duration::from_secs_f64(
            (args.seconds - start.elapsed().as_secs_f64()).max(0.0),
        )));
        if let Some((_, rss)) = cpu::memory_kib(dash.pid()) {
            series.push(json!([start.elapsed().as_secs(), rss]));
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(pump) = pump {
        pump.join()
            .map_err(|_| anyhow::anyhow!("the event pump panicked"))??;
    }
    let (hwm, rss) = cpu::memory_kib(dash.pid()).context("the dashboard is gone")?;
    let seen = events_seen(&dash.text());
    eprintln!(
        "memory {} VM(s) for {:.0} s at {} s: peak RSS {hwm} KiB, RSS now {rss} KiB, {} events sent, screen says {seen:?} seen",
        args.count,
        args.seconds,
        args.interval,
        pumped.load(Ordering::Relaxed)
    );
    crate::emit(json!({
        "bench": "memory",
        "vms": args.count,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "samples_per_vm": (args.seconds / args.interval) as u64,
        "events_sent": pumped.load(Ordering::Relaxed),
        "events_seen_on_screen": seen,
        "peak_rss_kib": hwm,
        "final_rss_kib": rss,
        "rss_series_kib": series,
    }));
    Ok(())
}

/// Options of `fleet`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM list from bench/run.sh; the first `count` are watched.
    #[arg(long)]
    vms: PathBuf,
    /// How many VMs to watch (shown as the fleet table).
    #[arg(long, default_value_t = 50)]
    count: usize,
    /// Poll interval, seconds.
    #[arg(long, default_value_t = 0.25)]
    interval: f64,
    /// Terminal size, COLSxROWS.
    #[arg(long, default_value = "240x67")]
    size: String,
    /// Seconds after every VM shows as running before measuring.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    /// Measured seconds per round.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Rounds (one dashboard each).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
}

/// The dashboard's own CPU, frames and bytes per second while it shows the fleet table of
/// `count` VMs polled every `interval`: the whole process (collectors, model, rendering).
pub fn fleet(args: FleetArgs) -> anyhow::Result<()> {
    let vms = crate::read_vms(&args.vms)?;
    let chosen = vms.get(..args.count).context("not that many VMs")?;
    let (cols, rows) = parse_size(&args.size)?;
    let argv = watch_argv(chosen, args.interval);
    for round in 0..args.rounds {
        let dash = Dashboard::start(&args.binary, &argv, cols, rows)?;
        dash.wait_for("● running", WAIT)?;
        std::thread::sleep(Duration::from_secs_f64(args.settle));
        let load = cpu::loadavg();
        let (before, cpu_before) = (dash.counters(), cpu::process_ns(dash.pid()));
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(args.seconds));
        let (after, cpu_after) = (dash.counters(), cpu::process_ns(dash.pid()));
        let seconds = start.elapsed().as_secs_f64();
        let cpu_percent = cpu_after.saturating_sub(cpu_before) as f64 / 1e9 / seconds * 100.0;
        let frames = (after.frames - before.frames) as f64 / seconds;
        let bytes = (after.bytes - before.bytes) as f64 / seconds;
        eprintln!(
            "fleet {} VMs at {} s, {}: {cpu_percent:.2} % of a core, {frames:.2} frames/s, {bytes:.0} bytes/s (round {}, load {load:?})",
            args.count,
            args.interval,
            args.size,
            round + 1
        );
        crate::emit(json!({
            "bench": "fleet",
            "vms": args.count,
            "interval_s": args.interval,
            "size": args.size,
            "seconds": seconds,
            "round": round,
            "cpu_percent": cpu_percent,
            "frames_per_s": frames,
            "bytes_per_s": bytes,
            "load": load,
        }));
    }
    Ok(())
}
