//! QMP round trip per `query-status`: qemu-dash's client against a raw-socket client (the
//! floor: QEMU's own cost plus one blocking write and read) and Python's `qemu.qmp`.
//!
//! QEMU (7.2 at least) reads QMP input one byte per main-loop turn (`monitor_can_read`
//! returns 1), so a longer request costs QEMU more: `raw-id` is the raw client sending the
//! same bytes as qemu-dash (`{"execute":"query-status","id":N}`), `raw` the shortest request.
//!
//! The Rust contenders are connected at once, each to its own QMP socket of the same QEMU
//! (QEMU accepts several `-qmp`; each serves one client), and take turns in short blocks:
//! `block` commands one after another (sequential), then `block` with at most `depth` in
//! flight (pipelined), the order rotating every block. Ratios are taken within a block, so
//! bursts of load from other work on the machine touch the contenders alike; the report
//! gives the median over blocks. Python's `qemu.qmp` runs as a subprocess (bench/qmp_rtt.py)
//! between blocks, `n` commands per round. Wall time and the client's own CPU time are
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
    /// QMP sockets of one QEMU, one per Rust contender (raw, raw-id, raw-tokio, qemu-dash,
    /// qemu-dash-multi-thread).
    #[arg(long, required = true)]
    socket: Vec<PathBuf>,
    /// Another QMP socket of the same QEMU for the Python contender.
    #[arg(long)]
    python_socket: Option<PathBuf>,
    /// Blocks per Rust contender and mode.
    #[arg(long, default_value_t = 40)]
    blocks: usize,
    /// Commands per block.
    #[arg(long, default_value_t = 100)]
    block: usize,
    /// Commands before measuring.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Commands in flight when pipelined.
    #[arg(long, default_value_t = 16)]
    depth: usize,
    /// The Python contender: a command line that runs bench/qmp_rtt.py (words split on spaces).
    #[arg(long)]
    python: Option<String>,
    /// Python rounds (each a fresh process and connection).
    #[arg(long, default_value_t = 5)]
    python_rounds: usize,
    /// Commands per Python round and mode.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Run only these Rust contenders (raw, raw-id, raw-tokio, qemu-dash,
    /// qemu-dash-multi-thread), e.g. to
    /// profile one.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// A connected Rust contender.
enum Session {
    Raw(Raw),
    RawId(Raw),
    RawTokio(Box<RawTokio>),
    Ours {
        name: &'static str,
        runtime: tokio::runtime::Runtime,
        client: Client,
    },
}

impl Session {
    fn name(&self) -> &'static str {
        match self {
            Session::Raw(_) => "raw",
            Session::RawId(_) => "raw-id",
            Session::RawTokio(_) => "raw-tokio",
            Session::Ours { name, .. } => name,
        }
    }

    fn sequential(&mut self, n: usize) -> anyhow::Result<()> {
        match self {
            Session::Raw(raw) | Session::RawId(raw) => raw.sequential(n),
            Session::RawTokio(raw) => raw.sequential(n),
            Session::Ours {
                runtime, client, ..
            } => runtime.block_on(async {
                for _ in 0..n {
                    client.execute("query-status", None).await?;
                }
                Ok(())
            }),
        }
    }

    fn pipelined(&mut self, n: usize, depth: usize) -> anyhow::Result<()> {
        match self {
            Session::Raw(raw) | Session::RawId(raw) => raw.pipelined(n, depth),
            Session::RawTokio(raw) => raw.pipelined(n, depth),
            Session::Ours {
                runtime, client, ..
            } => runtime.block_on(async {
                futures_util::stream::iter(0..n)
                    .map(|_| client.execute("query-status", None))
                    .buffer_unordered(depth)
                    .try_for_each(|_| async { Ok(()) })
                    .await?;
                Ok(())
            }),
        }
    }
}

/// The same plain line I/O as [`Raw`] on a current-thread tokio runtime: what async I/O
/// itself costs, without qemu-dash's client around it.
struct RawTokio {
    runtime: tokio::runtime::Runtime,
    reader: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
    line: String,
}

impl RawTokio {
    fn connect(path: &Path) -> anyhow::Result<RawTokio> {
        use tokio::io::AsyncWriteExt;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let stream = runtime.block_on(tokio::net::UnixStream::connect(path))?;
        let (read, writer) = stream.into_split();
        let mut raw = RawTokio {
            runtime,
            reader: tokio::io::BufReader::new(read),
            writer,
            line: String::new(),
        };
        raw.runtime.block_on(async {
            read_reply_async(&mut raw.reader, &mut raw.line).await?; // the greeting
            raw.writer
                .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
                .await?;
            read_reply_async(&mut raw.reader, &mut raw.line).await
        })?;
        Ok(raw)
    }

    fn sequential(&mut self, n: usize) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let RawTokio {
            runtime,
            reader,
            writer,
            line,
        } = self;
        runtime.block_on(async {
            for _ in 0..n {
                writer.write_all(QUERY_STATUS).await?;
                read_reply_async(reader, line).await?;
            }
            Ok(())
        })
    }

    fn pipelined(&mut self, n: usize, depth: usize) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let RawTokio {
            runtime,
            reader,
            writer,
            line,
        } = self;
        runtime.block_on(async {
            let mut sent = 0;
            while sent < depth.min(n) {
                writer.write_all(QUERY_STATUS).await?;
                sent += 1;
            }
            for _ in 0..n {
                read_reply_async(reader, line).await?;
                if sent < n {
                    writer.write_all(QUERY_STATUS).await?;
                    sent += 1;
                }
            }
            Ok(())
        })
    }
}

/// Reads lines until one that is not an event (a greeting or a reply).
async fn read_reply_async(
    reader: &mut tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    line: &mut String,
) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt;
    loop {
        line.clear();
        if reader.read_line(line).await? == 0 {
            bail!("QEMU closed the socket");
        }
        if !line.starts_with("{\"event\"") {
            if line.contains("\"error\"") {
                bail!("QMP error: {line}");
            }
            return Ok(());
        }
    }
}

/// qemu-dash's client on the runtime the binary uses (current-thread) or on a multi-thread
/// runtime with two workers (what the binary used before).
fn connect_ours(socket: &Path, multi_thread: bool) -> anyhow::Result<Session> {
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
    let target = Target::Unix(socket.to_path_buf());
    let client = runtime.block_on(Client::connect(&target, &ConnectOptions::default()))?;
    Ok(Session::Ours {
        name: if multi_thread {
            "qemu-dash-multi-thread"
        } else {
            "qemu-dash"
        },
        runtime,
        client,
    })
}

fn emit(
    contender: &str,
    mode: &str,
    round: usize,
    n: usize,
    depth: usize,
    (wall, cpu): (u64, u64),
    paired: bool,
) {
    let (wall_us, cpu_us) = (wall as f64 / n as f64 / 1e3, cpu as f64 / n as f64 / 1e3);
    crate::emit(json!({
        "bench": "rtt",
        "contender": contender,
        "mode": mode,
        "round": round,
        "paired": paired,
        "n": n,
        "depth": if mode == "pipelined" { depth } else { 1 },
        "wall_us_per_cmd": wall_us,
        "cpu_us_per_cmd": cpu_us,
    }));
}

/// Runs every block and Python round; prints one JSON line per contender, mode and block.
pub fn run(args: Args) -> anyhow::Result<()> {
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let mut sockets = args.socket.iter().cycle();
    let mut next_socket = || sockets.next().context("no --socket");
    let mut sessions = Vec::new();
    if wanted("raw") {
        sessions.push(Session::Raw(Raw::connect(next_socket()?, false)?));
    }
    if wanted("raw-id") {
        sessions.push(Session::RawId(Raw::connect(next_socket()?, true)?));
    }
    if wanted("raw-tokio") {
        sessions.push(Session::RawTokio(Box::new(RawTokio::connect(
            next_socket()?,
        )?)));
    }
    if wanted("qemu-dash") {
        sessions.push(connect_ours(next_socket()?, false)?);
    }
    if wanted("qemu-dash-multi-thread") {
        sessions.push(connect_ours(next_socket()?, true)?);
    }
    if sessions.len() > args.socket.len() {
        bail!("{} contenders need as many sockets", sessions.len());
    }
    for session in &mut sessions {
        session.sequential(args.warmup)?;
    }
    let python_every = (args.blocks / args.python_rounds.max(1)).max(1);
    let mut python_round = 0;
    for block in 0..args.blocks {
        let count = sessions.len();
        for mode in ["sequential", "pipelined"] {
            for k in 0..count {
                let session = &mut sessions[(block + k) % count];
                let measured = timed(|| match mode {
                    "sequential" => session.sequential(args.block),
                    _ => session.pipelined(args.block, args.depth),
                })?;
                emit(
                    session.name(),
                    mode,
                    block,
                    args.block,
                    args.depth,
                    measured,
                    true,
                );
            }
        }
        if args.python.is_some() && block % python_every == 0 && python_round < args.python_rounds {
            let measured = python(&args)?;
            for (mode, figures) in [
                ("sequential", measured.sequential),
                ("pipelined", measured.pipelined),
            ] {
                emit(
                    "qemu.qmp",
                    mode,
                    python_round,
                    args.n,
                    args.depth,
                    figures,
                    false,
                );
            }
            python_round += 1;
        }
        if block % 10 == 9 {
            eprintln!("rtt: {} of {} blocks", block + 1, args.blocks);
        }
    }
    for session in sessions {
        if let Session::Ours {
            runtime, client, ..
        } = session
        {
            drop(client);
            runtime.shutdown_background();
        }
    }
    Ok(())
}

/// One contender's figures for one round.
struct Measured {
    /// (wall ns, client CPU ns) for n sequential commands.
    sequential: (u64, u64),
    /// (wall ns, client CPU ns) for n pipelined commands.
    pipelined: (u64, u64),
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
    /// When set, each command carries `"id":N` exactly as qemu-dash writes it (QEMU reads a
    /// request one byte per main-loop turn, so its length is part of QEMU's cost).
    next_id: Option<u64>,
    out: Vec<u8>,
}

impl Raw {
    fn connect(path: &Path, with_ids: bool) -> anyhow::Result<Raw> {
        let stream = UnixStream::connect(path).with_context(|| format!("{}", path.display()))?;
        let writer = stream.try_clone()?;
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
            line: String::new(),
            next_id: with_ids.then_some(1),
            out: Vec::new(),
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

    fn send(&mut self) -> anyhow::Result<()> {
        match self.next_id.as_mut() {
            None => self.writer.write_all(QUERY_STATUS)?,
            Some(id) => {
                self.out.clear();
                writeln!(self.out, "{{\"execute\":\"query-status\",\"id\":{id}}}")?;
                *id += 1;
                self.writer.write_all(&self.out)?;
            }
        }
        Ok(())
    }

    fn sequential(&mut self, n: usize) -> anyhow::Result<()> {
        for _ in 0..n {
            self.send()?;
            self.read_reply()?;
        }
        Ok(())
    }

    fn pipelined(&mut self, n: usize, depth: usize) -> anyhow::Result<()> {
        let mut sent = 0;
        while sent < depth.min(n) {
            self.send()?;
            sent += 1;
        }
        for _ in 0..n {
            self.read_reply()?;
            if sent < n {
                self.send()?;
                sent += 1;
            }
        }
        Ok(())
    }
}

/// Runs bench/qmp_rtt.py, which measures itself and prints one JSON object.
fn python(args: &Args) -> anyhow::Result<Measured> {
    let command = args.python.as_deref().unwrap_or_default();
    let mut words = command.split_whitespace();
    let program = words.next().context("empty --python")?;
    let output = std::process::Command::new(program)
        .args(words)
        .arg("--socket")
        .arg(args.python_socket.as_ref().context("no --python-socket")?)
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
