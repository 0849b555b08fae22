//! The floor reference: the least a collector can do and still print what the tutorial's
//! monitor loop prints, so every other contender is measured as a ratio of it.
//!
//! Per tick: one write of `query-status`, `query-cpus-fast` and `query-blockstats` (no ids,
//! no OOB) to every VM; `poll()` over all sockets, each reply decoded straight into a small
//! typed struct (events skipped); `/proc/<pid>/stat` of every QEMU kept open and read with
//! `pread`; one write of all the output lines. No async runtime, no threads, no timers but
//! the sleep to the next tick. It prints one JSON line per VM per tick, as `qemu-dash
//! --batch` and `bench/monitor.py` do, so the collector benchmark counts VM-polls alike.
//!
//! `suite floor [--interval SECS] SOCKET...` runs until killed.

use anyhow::{Context, bail};
use rustix::event::{PollFd, PollFlags, poll};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `floor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds between ticks.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// QMP sockets.
    #[arg(required = true)]
    sockets: Vec<PathBuf>,
}

/// The three queries, in one write.
const QUERIES: &[u8] = b"{\"execute\":\"query-status\"}\n{\"execute\":\"query-cpus-fast\"}\n{\"execute\":\"query-blockstats\"}\n";

#[derive(Debug, Default, Deserialize, Serialize)]
struct Status {
    status: String,
    running: bool,
}

#[derive(Debug, Deserialize, Serialize)]
struct Cpu {
    #[serde(rename = "cpu-index")]
    cpu_index: u32,
    #[serde(rename = "thread-id")]
    thread_id: u32,
}

#[derive(Debug, Deserialize, Serialize)]
struct Counters {
    rd_bytes: u64,
    wr_bytes: u64,
    rd_operations: u64,
    wr_operations: u64,
}

#[derive(Debug, Deserialize, Serialize)]
struct Block {
    #[serde(default)]
    device: String,
    stats: Counters,
}

/// One reply, decoded into the type its place in the tick says it is.
#[derive(Deserialize)]
struct Reply<T> {
    #[serde(rename = "return")]
    value: Option<T>,
    event: Option<serde::de::IgnoredAny>,
}

/// One VM: its socket, its QEMU's `stat` file, and what this tick has read.
struct Vm {
    target: String,
    socket: UnixStream,
    stat: File,
    input: Vec<u8>,
    /// Replies read this tick (0..=3).
    replies: usize,
    status: Status,
    cpus: Vec<Cpu>,
    blocks: Vec<Block>,
}

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    target: &'a str,
    status: &'a Status,
    cpus: &'a [Cpu],
    blocks: &'a [Block],
    cpu_ticks: u64,
    rss_pages: u64,
}

fn connect(path: &PathBuf) -> anyhow::Result<Vm> {
    let mut socket =
        UnixStream::connect(path).with_context(|| format!("connecting {}", path.display()))?;
    let pid = rustix::net::sockopt::socket_peercred(&socket)?
        .pid
        .as_raw_nonzero()
        .get();
    let mut reader = std::io::BufReader::new(socket.try_clone()?);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line)?; // the greeting
    socket.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    line.clear();
    std::io::BufRead::read_line(&mut reader, &mut line)?;
    if !line.contains("return") {
        bail!("{}: qmp_capabilities: {line}", path.display());
    }
    socket.set_nonblocking(true)?;
    Ok(Vm {
        target: path.display().to_string(),
        socket,
        stat: File::open(format!("/proc/{pid}/stat"))?,
        input: Vec::with_capacity(4096),
        replies: 0,
        status: Status::default(),
        cpus: Vec::new(),
        blocks: Vec::new(),
    })
}

impl Vm {
    /// Reads what the socket holds and decodes every whole line.
    fn read(&mut self, chunk: &mut [u8]) -> anyhow::Result<()> {
        loop {
            match self.socket.read(chunk) {
                Ok(0) => bail!("{}: QEMU closed the connection", self.target),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) => return Err(error.into()),
            }
        }
        let input = std::mem::take(&mut self.input);
        let mut start = 0;
        while let Some(end) = input[start..].iter().position(|&b| b == b'\n') {
            let line = &input[start..start + end];
            start += end + 1;
            self.decode(line)?;
        }
        self.input = input;
        self.input.drain(..start);
        Ok(())
    }

    fn decode(&mut self, line: &[u8]) -> anyhow::Result<()> {
        fn value<'a, T: Deserialize<'a>>(line: &'a [u8]) -> anyhow::Result<Option<T>> {
            let reply: Reply<T> = serde_json::from_slice(line)?;
            if reply.event.is_some() {
                return Ok(None);
            }
            Ok(Some(reply.value.context("an error reply")?))
        }
        let taken = match self.replies {
            0 => value(line)?.map(|v| self.status = v),
            1 => value(line)?.map(|v| self.cpus = v),
            2 => value(line)?.map(|v| self.blocks = v),
            _ => None, // an event after the tick's replies
        };
        if taken.is_some() {
            self.replies += 1;
        }
        Ok(())
    }

    /// `utime + stime` and RSS pages from `/proc/<pid>/stat`.
    fn stat(&self, buffer: &mut [u8]) -> (u64, u64) {
        let n = self.stat.read_at(buffer, 0).unwrap_or(0);
        let text = std::str::from_utf8(&buffer[..n]).unwrap_or_default();
        let after = text.rfind(')').map_or("", |i| &text[i + 1..]);
        let mut fields = after.split_ascii_whitespace();
        let field = |fields: &mut std::str::SplitAsciiWhitespace, skip: usize| {
            fields
                .nth(skip)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let utime = field(&mut fields, 11);
        let stime = field(&mut fields, 0);
        let rss = field(&mut fields, 8);
        (utime + stime, rss)
    }
}

/// Runs the floor client until killed (or a VM goes away).
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut vms: Vec<Vm> = args.sockets.iter().map(connect).collect::<Result<_, _>>()?;
    let interval = Duration::from_secs_f64(args.interval);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut stat_buffer = [0u8; 1024];
    let mut out = Vec::with_capacity(vms.len() * 512);
    let mut stdout = std::io::stdout().lock();
    let mut next = Instant::now();
    loop {
        for vm in &mut vms {
            vm.replies = 0;
            vm.socket.write_all(QUERIES)?;
        }
        while vms.iter().any(|vm| vm.replies < 3) {
            let waiting: Vec<usize> = (0..vms.len()).filter(|&i| vms[i].replies < 3).collect();
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .map(|&i| PollFd::new(&vms[i].socket, PollFlags::IN))
                .collect();
            poll(&mut fds, None)?;
            let ready: Vec<usize> = waiting
                .iter()
                .zip(&fds)
                .filter(|(_, fd)| !fd.revents().is_empty())
                .map(|(&i, _)| i)
                .collect();
            drop(fds);
            for i in ready {
                vms[i].read(&mut chunk)?;
            }
        }
        out.clear();
        for vm in &vms {
            let (cpu_ticks, rss_pages) = vm.stat(&mut stat_buffer);
            serde_json::to_writer(
                &mut out,
                &Line {
                    target: &vm.target,
                    status: &vm.status,
                    cpus: &vm.cpus,
                    blocks: &vm.blocks,
                    cpu_ticks,
                    rss_pages,
                },
            )?;
            out.push(b'\n');
        }
        match stdout.write_all(&out).and_then(|()| stdout.flush()) {
            Err(error) if error.kind() == ErrorKind::BrokenPipe => return Ok(()),
            result => result?,
        }
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}
