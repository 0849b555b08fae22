//! The real `qemu-dash` in a pseudo-terminal, with everything it writes timed and counted,
//! and an independent raw QMP observer on a second socket.
//!
//! A reader thread feeds the output to a vt100 terminal emulator as it arrives, counts bytes
//! and frames (each ratatui draw ends with a cursor-hide sequence), optionally counts the
//! screen cells each chunk changed, and stamps the moment the screen first shows each
//! "watched" text. Stamps are taken right after `read` returns, before parsing.

use anyhow::{Context, bail};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The end of every ratatui frame: the cursor is hidden after drawing.
const FRAME_END: &[u8] = b"\x1b[?25l";

/// Counters of what the dashboard wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    /// Bytes written.
    pub bytes: u64,
    /// Frames drawn.
    pub frames: u64,
    /// Screen cells changed (only counted while tracking is on).
    pub changed_cells: u64,
}

struct State {
    parser: vt100::Parser,
    counters: Counters,
    tail: Vec<u8>,
    watches: Vec<(String, Option<Instant>)>,
    previous: Option<vt100::Screen>,
    track_cells: bool,
}

/// A running dashboard on a pseudo-terminal.
pub struct Dashboard {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    state: Arc<Mutex<State>>,
    _master: Box<dyn MasterPty + Send>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Dashboard {
    /// Starts `binary ARGS` on a `cols`x`rows` terminal.
    pub fn start(binary: &Path, args: &[String], cols: u16, rows: u16) -> anyhow::Result<Self> {
        let pty = native_pty_system().openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut command = CommandBuilder::new(binary);
        command.args(args);
        command.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(command)?;
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader()?;
        let writer = pty.master.take_writer()?;
        let state = Arc::new(Mutex::new(State {
            parser: vt100::Parser::new(
                std::num::NonZero::new(rows).context("rows > 0")?,
                std::num::NonZero::new(cols).context("cols > 0")?,
                0,
            ),
            counters: Counters::default(),
            tail: Vec::new(),
            watches: Vec::new(),
            previous: None,
            track_cells: false,
        }));
        let feed = state.clone();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            while let Ok(read) = reader.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let now = Instant::now();
                let chunk = &buffer[..read];
                let mut state = lock(&feed);
                state.parser.process(chunk);
                state.counters.bytes += read as u64;
                let mut scan = std::mem::take(&mut state.tail);
                scan.extend_from_slice(chunk);
                state.counters.frames += scan
                    .windows(FRAME_END.len())
                    .filter(|w| *w == FRAME_END)
                    .count() as u64;
                let keep = scan.len().saturating_sub(FRAME_END.len() - 1);
                state.tail = scan.split_off(keep);
                if state.watches.iter().any(|(_, seen)| seen.is_none()) {
                    let text = state.parser.screen().contents();
                    for (needle, seen) in &mut state.watches {
                        if seen.is_none() && text.contains(needle.as_str()) {
                            *seen = Some(now);
                        }
                    }
                }
                if state.track_cells {
                    let screen = state.parser.screen().clone();
                    if let Some(previous) = &state.previous {
                        state.counters.changed_cells += changed_cells(previous, &screen);
                    }
                    state.previous = Some(screen);
                }
            }
        });
        Ok(Dashboard {
            child,
            writer,
            state,
            _master: pty.master,
        })
    }

    /// The dashboard's pid.
    pub fn pid(&self) -> u32 {
        self.child.process_id().unwrap_or(0)
    }

    /// The screen's text now.
    pub fn text(&self) -> String {
        lock(&self.state).parser.screen().contents()
    }

    /// What was written so far.
    pub fn counters(&self) -> Counters {
        lock(&self.state).counters
    }

    /// Starts or stops counting changed cells.
    pub fn track_cells(&self, on: bool) {
        let mut state = lock(&self.state);
        state.track_cells = on;
        state.previous = on.then(|| state.parser.screen().clone());
    }

    /// Waits until the screen shows `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let text = self.text();
            if text.contains(needle) {
                return Ok(text);
            }
            if start.elapsed() > timeout {
                bail!("the screen did not show {needle:?} within {timeout:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Watches for these texts from now on (replacing earlier watches).
    pub fn watch(&self, needles: &[String]) {
        lock(&self.state).watches = needles.iter().map(|n| (n.clone(), None)).collect();
    }

    /// Waits until every watched text was seen; returns when each first appeared.
    pub fn wait_watched(&self, timeout: Duration) -> anyhow::Result<Vec<Instant>> {
        let start = Instant::now();
        loop {
            {
                let state = lock(&self.state);
                if let Some(seen) = state.watches.iter().map(|(_, seen)| *seen).collect() {
                    return Ok(seen);
                }
                if start.elapsed() > timeout {
                    let missing: Vec<&str> = state
                        .watches
                        .iter()
                        .filter(|(_, seen)| seen.is_none())
                        .map(|(needle, _)| needle.as_str())
                        .collect();
                    bail!(
                        "the screen did not show {missing:?} within {timeout:?}:\n{}",
                        state.parser.screen().contents()
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Types `keys`; returns the moment they were written.
    pub fn send(&mut self, keys: &str) -> anyhow::Result<Instant> {
        let at = Instant::now();
        self.writer.write_all(keys.as_bytes())?;
        self.writer.flush()?;
        Ok(at)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        // The reader thread holds the other end: shutting down ends it and frees the socket.
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

fn changed_cells(before: &vt100::Screen, after: &vt100::Screen) -> u64 {
    let (rows, cols) = after.size();
    let mut changed = 0;
    for row in 0..rows.get() {
        for col in 0..cols.get() {
            if before.cell(row, col) != after.cell(row, col) {
                changed += 1;
            }
        }
    }
    changed
}

/// An independent raw QMP connection on a second socket: events arrive on a channel, stamped
/// with the moment they were read.
pub struct Observer {
    writer: UnixStream,
    /// Events: (name, when read).
    pub events: mpsc::Receiver<(String, Instant)>,
    replies: mpsc::Receiver<serde_json::Value>,
}

impl Observer {
    /// Connects and negotiates.
    pub fn connect(path: &Path) -> anyhow::Result<Observer> {
        let stream = UnixStream::connect(path).with_context(|| format!("{}", path.display()))?;
        let writer = stream.try_clone()?;
        let (event_tx, events) = mpsc::channel();
        let (reply_tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                let now = Instant::now();
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(name) = value.get("event").and_then(|e| e.as_str()) {
                        let _ = event_tx.send((name.to_string(), now));
                    } else {
                        let _ = reply_tx.send(value);
                    }
                }
                line.clear();
            }
        });
        let mut observer = Observer {
            writer,
            events,
            replies,
        };
        let greeting = observer.reply(Duration::from_secs(10))?;
        if greeting.get("QMP").is_none() {
            bail!("not a QMP greeting: {greeting}");
        }
        observer.execute("qmp_capabilities")?;
        Ok(observer)
    }

    fn reply(&self, timeout: Duration) -> anyhow::Result<serde_json::Value> {
        self.replies
            .recv_timeout(timeout)
            .context("no reply from QEMU on the observer socket")
    }

    /// Runs a command without arguments and waits for its reply.
    pub fn execute(&mut self, command: &str) -> anyhow::Result<serde_json::Value> {
        writeln!(self.writer, "{{\"execute\":\"{command}\"}}")?;
        let reply = self.reply(Duration::from_secs(10))?;
        if reply.get("error").is_some() {
            bail!("{command}: {reply}");
        }
        Ok(reply)
    }

    /// Forgets the events read so far.
    pub fn drain(&self) {
        while self.events.try_recv().is_ok() {}
    }

    /// Waits for the event `name`; returns when it was read.
    pub fn wait_event(&self, name: &str, timeout: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (event, at) = self
                .events
                .recv_timeout(left)
                .with_context(|| format!("no {name} event within {timeout:?}"))?;
            if event == name {
                return Ok(at);
            }
        }
    }
}
