//! QMP round trip per `query-status`: qemu-dash's client against a raw-socket client (the
//! floor: QEMU's own cost plus one blocking write and read) and Python's `qemu.qmp`.
//!
//! Every contender connects to the same QEMU socket in turn (a QMP socket serves one client
//! at a time), sends `warmup` commands, then `n` one after another (sequential), then `n` with
//! at most `depth` in flight (pipelined). Rounds rotate the order of the contenders so that
//! drift in machine load touches them alike. Wall time and the client's own CPU time are
//! recorded per command.

use crate::cpu;
use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use qemu_dash::qmp::{Client, ConnectOptions, Target};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `rtt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The QEMU's QMP socket.
    #[arg(long)]
    socket: PathBuf,
    /// Commands per measurement.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Commands before measuring.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Commands in flight when pipelined.
    #[arg(long, default_value_t = 16)]
    depth: usize,
    /// Rounds (each runs every contender once; ratios are taken within a round).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// The Python contender: a command line that runs bench/qmp_rtt.py (words split on spaces).
    #[arg(long)]
    python: Option<String>,
    /// Run only these contenders (raw, qemu-dash, qemu-dash-current-thread, qemu.qmp), e.g.
    /// to profile one.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// One contender's figures for one round.
struct Measured {
    /// (wall ns, client CPU ns) for n sequential commands.
    sequential: (u64, u64),
    /// (wall ns, client CPU ns) for n pipelined commands.
    pipelined: (u64, u64),
}

#[derive(Debug, Clone, Copy)]
enum Contender {
    Raw,
    Ours,
    OursCurrentThread,
    Python,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Raw => "raw",
            Contender::Ours => "qemu-dash",
            Contender::OursCurrentThread => "qemu-dash-current-thread",
            Contender::Python => "qemu.qmp",
        }
    }
}

/// Runs every round and prints one JSON line per contender, mode and round.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut contenders = vec![
        Contender::Raw,
        Contender::Ours,
        Contender::OursCurrentThread,
    ];
    if args.python.is_some() {
        contenders.push(Contender::Python);
    }
    if !args.only.is_empty() {
        contenders.retain(|c| args.only.iter().any(|name| name == c.name()));
    }
    for round in 0..args.rounds {
        let count = contenders.len();
        for k in 0..count {
            let contender = contenders[(round + k) % count];
            let measured = match contender {
                Contender::Raw => raw(&args)?,
                Contender::Ours => ours(&args, true)?,
                Contender::OursCurrentThread => ours(&args, false)?,
                Contender::Python => python(&args)?,
            };
            for (mode, (wall, cpu)) in [
                ("sequential", measured.sequential),
                ("pipelined", measured.pipelined),
            ] {
                let n = args.n as f64;
                eprintln!(
                    "rtt round {round} {:<26} {mode:<10} {:7.1} µs/cmd wall {:6.1} µs/cmd CPU",
                    contender.name(),
                    wall as f64 / n / 1e3,
                    cpu as f64 / n / 1e3
                );
                crate::emit(json!({
                    "bench": "rtt",
                    "contender": contender.name(),
                    "mode": mode,
                    "round": round,
                    "n": args.n,
                    "depth": if mode == "pipelined" { args.depth } else { 1 },
                    "wall_us_per_cmd": wall as f64 / n / 1e3,
                    "cpu_us_per_cmd": cpu as f64 / n / 1e3,
                }));
            }
        }
    }
    Ok(())
}

/// Times `work` in wall and CPU nanoseconds of this process.
fn timed<T>(work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(u64, u64)> {
    let cpu0 = cpu::self_ns();
    let start = Instant::now();
    work()?;
    let wall = start.elapsed().as_nanos() as u64;
    Ok((wall, cpu::self_ns().saturating_sub(cpu0)))
}

const QUERY_STATUS: &[u8] = b"{\"execute\":\"query-status\"}\n";

/// The floor: blocking std I/O, one line out, lines in until a `return`.
struct Raw {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl Raw {
    fn connect(path: &Path) -> anyhow::Result<Raw> {
        let stream = UnixStream::connect(path).with_context(|| format!("{}", path.display()))?;
        let writer = stream.try_clone()?;
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
            line: String::new(),
        };
        raw.read_reply()?; // the greeting
        raw.writer
            .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
        raw.read_reply()?;
        Ok(raw)
    }

    /// Reads lines until one that is not an event (a greeting or a reply).
    fn read_reply(&mut self) -> anyhow::Result<()> {
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                bail!("QEMU closed the socket");
            }
            if !self.line.starts_with("{\"event\"") {
                if self.line.contains("\"error\"") {
                    bail!("QMP error: {}", self.line);
                }
                return Ok(());
            }
        }
    }

    fn sequential(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            self.writer.write_all(QUERY_STATUS)?;
            self.read_reply()?;
        }
        Ok(())
    }

    fn pipelined(&mut self, n: usize, depth: usize) -> anyhow::Result<()> {
        let mut sent = 0;
        while sent < depth.min(n) {
            self.writer.write_all(QUERY_STATUS)?;
            sent += 1;
        }
        for _ in 0..n {
            self.read_reply()?;
            if sent < n {
                self.writer.write_all(QUERY_STATUS)?;
                sent += 1;
            }
        }
        Ok(())
    }
}

fn raw(args: &Args) -> anyhow::Result<Measured> {
    let mut raw = Raw::connect(&args.socket)?;
    raw.sequential(args.warmup)?;
    let sequential = timed(|| raw.sequential(args.n))?;
    let pipelined = timed(|| raw.pipelined(args.n, args.depth))?;
    Ok(Measured {
        sequential,
        pipelined,
    })
}

/// qemu-dash's client on the runtime the binary uses (multi-thread, two workers) or on a
/// current-thread runtime.
fn ours(args: &Args, multi_thread: bool) -> anyhow::Result<Measured> {
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    let target = Target::Unix(args.socket.clone());
    let client = runtime.block_on(Client::connect(&target, &ConnectOptions::default()))?;
    let sequential_run = |n: usize| {
        runtime.block_on(async {
            for _ in 0..n {
                client.execute("query-status", None).await?;
            }
            anyhow::Ok(())
        })
    };
    sequential_run(args.warmup)?;
    let sequential = timed(|| sequential_run(args.n))?;
    let pipelined = timed(|| {
        runtime.block_on(async {
            futures_util::stream::iter(0..args.n)
                .map(|_| client.execute("query-status", None))
                .buffer_unordered(args.depth)
                .try_for_each(|_| async { Ok(()) })
                .await?;
            anyhow::Ok(())
        })
    })?;
    drop(client);
    runtime.shutdown_background();
    Ok(Measured {
        sequential,
        pipelined,
    })
}

/// Runs bench/qmp_rtt.py, which measures itself and prints one JSON object.
fn python(args: &Args) -> anyhow::Result<Measured> {
    let command = args.python.as_deref().unwrap_or_default();
    let mut words = command.split_whitespace();
    let program = words.next().context("empty --python")?;
    let output = std::process::Command::new(program)
        .args(words)
        .arg("--socket")
        .arg(&args.socket)
        .args(["--n", &args.n.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--depth", &args.depth.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the Python contender")?;
    if !output.status.success() {
        bail!("the Python contender failed: {}", output.status);
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("the Python contender's output is not JSON")?;
    let pair = |mode: &str| -> anyhow::Result<(u64, u64)> {
        let wall = value[mode]["wall_ns"].as_u64().context("wall_ns")?;
        let cpu = value[mode]["cpu_ns"].as_u64().context("cpu_ns")?;
        Ok((wall, cpu))
    };
    Ok(Measured {
        sequential: pair("sequential")?,
        pipelined: pair("pipelined")?,
    })
}
