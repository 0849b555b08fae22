//! Exporter scrape time: `qemu-dash exporter` watching N real QEMUs, scraped over HTTP the way
//! Prometheus does; the time per scrape (median, p90, max), the size of the answer, and the
//! exporter's CPU per scrape.

use crate::{Vm, cpu};
use anyhow::{Context, bail};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `exporter`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The qemu-dash binary.
    #[arg(long)]
    binary: PathBuf,
    /// The VM list from bench/run.sh (`PID SOCKET [OBSERVER]` per line).
    #[arg(long)]
    vms: PathBuf,
    /// How many of the VMs to watch.
    #[arg(long, default_value_t = 50)]
    count: usize,
    /// Scrapes to time.
    #[arg(long, default_value_t = 100)]
    scrapes: usize,
}

fn get(port: u16) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut body = String::new();
    stream.read_to_string(&mut body)?;
    Ok(body)
}

/// Measures and prints one JSON line.
pub fn run(args: Args) -> anyhow::Result<()> {
    let vms: Vec<Vm> = crate::read_vms(&args.vms)?
        .into_iter()
        .take(args.count)
        .collect();
    if vms.len() < args.count {
        bail!("only {} VMs in {}", vms.len(), args.vms.display());
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(&args.binary)
        .args(["exporter", "--listen", &format!("127.0.0.1:{port}")])
        .args(vms.iter().map(|vm| &vm.socket))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the exporter")?;
    let result = (|| {
        let start = Instant::now();
        loop {
            let up = get(port)
                .map(|body| {
                    body.lines()
                        .filter(|l| l.starts_with("qemu_up{") && l.ends_with(" 1.0"))
                        .count()
                })
                .unwrap_or(0);
            if up == vms.len() {
                break;
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("only {up} of {} VMs up after 30 s", vms.len());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let cpu0 = cpu::process_ns(child.id());
        let mut times = Vec::with_capacity(args.scrapes);
        let mut bytes = 0;
        for _ in 0..args.scrapes {
            let begin = Instant::now();
            bytes = get(port)?.len();
            times.push(begin.elapsed().as_secs_f64() * 1e3);
        }
        let cpu_ms = cpu::process_ns(child.id()).saturating_sub(cpu0) as f64 / 1e6;
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        crate::emit(json!({
            "bench": "exporter",
            "vms": vms.len(),
            "scrapes": args.scrapes,
            "scrape_ms_median": at(0.5),
            "scrape_ms_p90": at(0.9),
            "scrape_ms_max": at(1.0),
            "bytes": bytes,
            // Includes the collectors' polls during the scrapes: an upper bound.
            "exporter_cpu_ms_per_scrape": cpu_ms / args.scrapes as f64,
        }));
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
