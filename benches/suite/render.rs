//! Rendering cost: time per frame of `ui::render` with full histories (every sparkline full,
//! the event log full, four vCPUs, three disks), at 80x24 and 240x67, and the bytes a frame
//! writes through the dashboard's backend (`ui::screen`, into a byte-counting sink).
//!
//! Three cases per size: `render` (the pure `ui::render` into a frame, no diff, no output),
//! `idle frame` (a full `Terminal::draw` when only the clock moved: the header's
//! "running for" changes) and `busy frame` (a new sample arrived: every sparkline shifts and
//! every figure changes). Each frame is timed on its own; medians and p99 are reported, with
//! the mean CPU time per frame.

use crate::cpu;
use qemu_dash::app::{ConnectionState, HISTORY_LEN, Model};
use qemu_dash::news::BlockRates;
use qemu_dash::news::{AppEvent, EventRecord};
use qemu_dash::news::{BlockSample, MemorySample, Sample, SlowSample, VcpuSample};
use qemu_dash::news::{HostSample, VcpuHost};
use qemu_dash::qmp::types::{BlockDeviceInfo, BlockDeviceStats, BlockInfo, StatusInfo};
use qemu_dash::qmp::{Event, QemuVersion};
use qemu_dash::ui::screen::{self, ScreenBackend};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Options of `render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Frames per case and size.
    #[arg(long, default_value_t = 2000)]
    frames: usize,
    /// Terminal sizes, COLSxROWS.
    #[arg(long, value_delimiter = ',', default_value = "80x24,240x67")]
    sizes: Vec<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            frames: 2000,
            sizes: vec!["80x24".into(), "240x67".into()],
        }
    }
}

const VCPUS: u32 = 4;
const DISKS: usize = 3;

fn sample(tick: u64) -> Sample {
    let threads: Vec<u32> = (0..VCPUS).map(|i| 4242 + i).collect();
    let vcpus: HashMap<u32, VcpuHost> = threads
        .iter()
        .map(|&tid| {
            let host = VcpuHost {
                cpu_percent: Some(((tick * 7 + tid as u64) % 100) as f64 + 0.5),
                steal_percent: Some(((tick + tid as u64) % 5) as f64),
                ..Default::default()
            };
            (tid, host)
        })
        .collect();
    let blocks = (0..DISKS)
        .map(|d| BlockSample {
            device: format!("disk{d}"),
            node_name: Some(format!("node{d}")),
            qdev: None,
            totals: BlockDeviceStats {
                rd_bytes: (10 << 20) + tick * 123_456,
                wr_bytes: (3 << 20) + tick * 65_536,
                rd_operations: tick * 30,
                wr_operations: tick * 10,
                ..Default::default()
            },
            rates: Some(BlockRates {
                read_bytes_per_sec: ((tick * 7919 + d as u64 * 31) % 5000) as f64 * 1000.0,
                write_bytes_per_sec: ((tick * 104_729 + d as u64) % 3000) as f64 * 1000.0,
                read_iops: (tick % 300) as f64,
                write_iops: (tick % 70) as f64,
                read_latency_ms: Some(0.25 + (tick % 10) as f64 / 10.0),
                write_latency_ms: Some(1.5),
            }),
        })
        .collect();
    Sample {
        status: StatusInfo {
            running: true,
            status: "running".into(),
            singlestep: None,
        },
        vcpus: threads
            .iter()
            .enumerate()
            .map(|(index, &tid)| VcpuSample {
                index: index as u32,
                thread_id: tid,
                host: vcpus[&tid],
            })
            .collect(),
        blocks,
        host: Ok(HostSample {
            process_cpu_percent: Some((tick % 200) as f64),
            rss_bytes: Some((300 << 20) + tick * 4096),
            vcpus,
            ..Default::default()
        }),
        slow: Some(SlowSample {
            name: Some("bench-vm".into()),
            block_info: (0..DISKS)
                .map(|d| BlockInfo {
                    device: format!("disk{d}"),
                    inserted: Some(BlockDeviceInfo {
                        file: format!("/var/lib/vms/bench-vm-{d}.qcow2"),
                        node_name: Some(format!("node{d}")),
                        drv: "qcow2".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
            memory: MemorySample {
                base_bytes: Some(1 << 30),
                plugged_bytes: None,
                balloon_bytes: Some(900 << 20),
            },
            ..Default::default()
        }),
        round_trip: Duration::from_micros(600 + tick % 100),
    }
}

/// A model with every history and the event log full.
pub fn full_model(start: Instant) -> Model {
    let mut model = Model::new(
        vec!["unix:/run/bench-vm.qmp".into()],
        Duration::from_secs(1),
        false,
    );
    let vm = &mut model.vms[0];
    vm.connection = Some(ConnectionState::Connected);
    vm.version = Some(QemuVersion {
        major: 7,
        minor: 2,
        micro: 22,
        package: String::new(),
    });
    for tick in 0..(HISTORY_LEN as u64 + 10) {
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(sample(tick)),
            },
            start,
        );
    }
    for i in 0..qemu_dash::app::EVENT_LOG_LEN + 10 {
        let (name, data) = match i % 3 {
            0 => ("STOP", serde_json::Value::Null),
            1 => ("RESUME", serde_json::Value::Null),
            _ => (
                "BLOCK_IO_ERROR",
                json!({"device": "disk1", "operation": "write", "action": "report"}),
            ),
        };
        let record = EventRecord::decode(&Event {
            name: name.into(),
            data,
            timestamp: (1_700_000_000 + i as i64, 0),
            cut_bytes: 0,
        });
        model.apply(AppEvent::Event { vm: 0, record }, start);
    }
    model
}

fn parse_size(text: &str) -> anyhow::Result<(u16, u16)> {
    let (cols, rows) = text
        .split_once('x')
        .ok_or_else(|| anyhow::anyhow!("size {text}: expected COLSxROWS"))?;
    Ok((cols.parse()?, rows.parse()?))
}

/// A terminal that takes every byte and only counts them.
#[derive(Default)]
struct CountingSink {
    bytes: Arc<AtomicU64>,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Timing {
    frames: Vec<f64>,
    cpu_ns: u64,
    bytes: u64,
}

fn report(size: &str, case: &str, timing: &Timing, full_frame_bytes: usize) {
    let n = timing.frames.len() as f64;
    let median = cpu::median(&timing.frames);
    let p99 = cpu::percentile(&timing.frames, 99.0);
    let cpu_us = timing.cpu_ns as f64 / 1e3 / n;
    let bytes = timing.bytes as f64 / n;
    eprintln!(
        "render {size:>7} {case:<11} median {median:7.1} µs  p99 {p99:7.1} µs  CPU {cpu_us:7.1} µs  {bytes:7.0} bytes/frame"
    );
    crate::emit(json!({
        "bench": "render",
        "size": size,
        "case": case,
        "frames": timing.frames.len(),
        "median_us": median,
        "p99_us": p99,
        "cpu_us_per_frame": cpu_us,
        "bytes_per_frame": bytes,
        "full_frame_bytes": full_frame_bytes,
    }));
}

/// Runs every case at every size.
pub fn run(args: Args) -> anyhow::Result<()> {
    for size in &args.sizes {
        let (cols, rows) = parse_size(size)?;
        let start = Instant::now();
        let mut model = full_model(start);
        let area = Rect::new(0, 0, cols, rows);

        // The pure render into a frame: no diff, no escape sequences.
        let mut test_terminal = Terminal::new(TestBackend::new(cols, rows))?;
        let mut pure = Timing {
            frames: Vec::with_capacity(args.frames),
            cpu_ns: 0,
            bytes: 0,
        };
        let cpu0 = cpu::self_ns();
        for i in 0..args.frames {
            let now = start + Duration::from_secs(i as u64);
            let began = Instant::now();
            let mut frame = test_terminal.get_frame();
            qemu_dash::ui::render(
                &mut frame,
                &model,
                now,
                &qemu_dash::ui::theme::Theme::COLOUR,
            );
            pure.frames.push(began.elapsed().as_secs_f64() * 1e6);
        }
        pure.cpu_ns = cpu::self_ns() - cpu0;

        // The real backend writing into a Vec: the first frame is a full repaint.
        let options = TerminalOptions {
            viewport: Viewport::Fixed(area),
        };
        let sink = CountingSink::default();
        let written = sink.bytes.clone();
        let mut terminal = Terminal::with_options(ScreenBackend::new(sink), options)?;
        screen::draw(&mut terminal, |frame| {
            qemu_dash::ui::render(frame, &model, start, &qemu_dash::ui::theme::Theme::COLOUR)
        })?;
        let full_frame_bytes = written.swap(0, Ordering::Relaxed) as usize;

        for case in ["idle frame", "busy frame"] {
            let mut timing = Timing {
                frames: Vec::with_capacity(args.frames),
                cpu_ns: 0,
                bytes: 0,
            };
            let mut cpu_ns = 0;
            for i in 0..args.frames {
                let now = start + Duration::from_secs(1 + i as u64);
                if case == "busy frame" {
                    let news = AppEvent::Sample {
                        vm: 0,
                        sample: Box::new(sample(1000 + i as u64)),
                    };
                    model.apply(news, now);
                }
                written.store(0, Ordering::Relaxed);
                let cpu0 = cpu::self_ns();
                let began = Instant::now();
                screen::draw(&mut terminal, |frame| {
                    qemu_dash::ui::render(frame, &model, now, &qemu_dash::ui::theme::Theme::COLOUR)
                })?;
                timing.frames.push(began.elapsed().as_secs_f64() * 1e6);
                cpu_ns += cpu::self_ns() - cpu0;
                timing.bytes += written.load(Ordering::Relaxed);
            }
            // Reading /proc costs a little on each side of a frame: take it off, measured.
            let probe0 = cpu::self_ns();
            for _ in 0..100 {
                std::hint::black_box(cpu::self_ns());
            }
            let probe_ns = (cpu::self_ns() - probe0) / 100;
            timing.cpu_ns = cpu_ns.saturating_sub(probe_ns * args.frames as u64);
            report(size, case, &timing, full_frame_bytes);
        }
        report(size, "render", &pure, full_frame_bytes);
    }
    Ok(())
}
