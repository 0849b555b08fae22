//! `--event-log FILE`: every QMP event appended to a file as one JSON line, with the VM's
//! target and name and the local time.
//!
//! The connection's event tap (on the reader task, before any subscriber) only formats the
//! line and puts it on a bounded queue; a thread of its own writes the queue to the file. So a
//! file that stops taking writes (a pipe whose reader stalls, a hung network filesystem) never
//! stalls the dashboard: the queue fills, further events are dropped and counted, and the
//! caller is told through [`EventLog::reports`].
//!
//! Only whole lines reach the file: one line, one `write`; a regular file cut short by a full
//! disk is truncated back to the last whole line. Events that were dropped or could not be
//! written are recorded in the file as a gap line, `{"time": …, "gap": N, "reason": …}`, as
//! soon as the file takes writes again. This module never renders anything and never touches
//! the model.

use crate::qmp::Event;
use crate::qmp::EventTap;
use anyhow::Context;
use chrono::{Local, TimeZone};
use serde_json::json;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// At most this many lines wait for the writer; events beyond are dropped and counted.
pub const MAX_QUEUED_LINES: usize = 65_536;
/// At most this many bytes wait for the writer (whichever bound is reached first).
pub const MAX_QUEUED_BYTES: usize = 16 << 20;

/// The VM's `-name`, learnt after connecting; shared with its tap.
pub type NameSlot = Arc<Mutex<Option<String>>>;

/// News about the log file for the user: a failure, or the file taking writes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One line, naming the file.
    pub text: String,
    /// A failure (events are being lost), as opposed to a recovery.
    pub is_error: bool,
}

/// The next report, or never when there is no log (for a `select!` branch).
pub async fn next_report(reports: &mut Option<mpsc::UnboundedReceiver<Report>>) -> Option<Report> {
    match reports {
        Some(reports) => reports.recv().await,
        None => std::future::pending().await,
    }
}

/// How long quitting waits for a log file that takes no writes before giving up on it.
pub const CLOSE_PATIENCE: Duration = Duration::from_secs(1);

/// One queued line and the events dropped just before it (queue full).
struct Entry {
    line: String,
    dropped_before: u64,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Entry>,
    queued_bytes: usize,
    /// Events dropped since the last queued line because the queue was full.
    dropped: u64,
    /// The queue filled up: events are dropped until it drains to half its bounds (so a
    /// slow file gets a few large gaps, not a gap between every two lines).
    dropping: bool,
    /// The queue's bounds: lines and bytes.
    limits: (usize, usize),
    /// Lines (and gap lines) the writer has finished with, written or not: its progress.
    handled: u64,
    /// The writer should drain the queue and stop.
    closing: bool,
    /// The writer stopped.
    done: bool,
    /// Events lost and not yet recorded in the file (the writer's count, for `close`).
    unrecorded: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a line is queued, on close, and when the writer makes progress.
    changed: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An open event log file, shared by every watched VM.
pub struct EventLog {
    shown: String,
    shared: Arc<Shared>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: Mutex<Option<mpsc::UnboundedReceiver<Report>>>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("file", &self.shown)
            .finish_non_exhaustive()
    }
}

impl EventLog {
    /// Opens `path` for appending (creating it) and starts the writer thread.
    pub fn open(path: &Path) -> anyhow::Result<Arc<EventLog>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the event log {}", path.display()))?;
        EventLog::start(
            file,
            path.display().to_string(),
            (MAX_QUEUED_LINES, MAX_QUEUED_BYTES),
        )
    }

    /// Starts a log writing to `file` (shown as `shown` in reports), with a queue of at most
    /// `limits` lines and bytes.
    pub fn start(
        file: File,
        shown: String,
        limits: (usize, usize),
    ) -> anyhow::Result<Arc<EventLog>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                limits,
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let writer = Writer {
            file,
            shown: shown.clone(),
            shared: shared.clone(),
            reports: reports_tx.clone(),
            failed: 0,
            failure: None,
        };
        std::thread::Builder::new()
            .name("event-log".to_string())
            .spawn(move || writer.run())
            .context("starting the event log writer")?;
        Ok(Arc::new(EventLog {
            shown,
            shared,
            reports_tx,
            reports: Mutex::new(Some(reports)),
        }))
    }

    /// The reports of failures and recoveries; `Some` only the first time it is called.
    pub fn reports(&self) -> Option<mpsc::UnboundedReceiver<Report>> {
        self.reports
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Queues one event for writing; never blocks on the file. With the queue full the event
    /// is dropped, counted, and recorded later as a gap.
    pub fn append(&self, target: &str, name: Option<&str>, event: &Event) {
        let qemu_time = Local
            .timestamp_opt(
                event.timestamp.0,
                (event.timestamp.1.clamp(0, 999_999) * 1000) as u32,
            )
            .single()
            .map(|t| t.to_rfc3339());
        let line = json!({
            "time": Local::now().to_rfc3339(),
            "qemu_time": qemu_time,
            "target": target,
            "name": name,
            "event": event.name,
            "data": event.data,
        });
        // Someone may `tail -f` it: characters a terminal acts on are JSON escapes here too.
        let line = line.to_string();
        self.push(format!("{}\n", crate::safe_text::json_line(&line)));
    }

    fn push(&self, line: String) {
        let mut state = self.shared.state();
        if state.closing {
            return;
        }
        let (max_lines, max_bytes) = state.limits;
        let fits = !state.dropping
            && state.queue.len() < max_lines
            && (state.queue.is_empty() || state.queued_bytes + line.len() <= max_bytes);
        if !fits {
            state.dropped += 1;
            if !state.dropping {
                state.dropping = true;
                let queued = state.queue.len();
                drop(state);
                let _ = self.reports_tx.send(Report {
                    text: format!(
                        "event log {}: the file is not taking writes ({queued} lines queued); \
                         new events are dropped and will be recorded as a gap",
                        self.shown
                    ),
                    is_error: true,
                });
            }
            return;
        }
        let dropped_before = std::mem::take(&mut state.dropped);
        state.queued_bytes += line.len();
        state.queue.push_back(Entry {
            line,
            dropped_before,
        });
        drop(state);
        self.shared.changed.notify_all();
    }

    /// A tap that appends a VM's events, naming it by `target` and the name in `name`.
    pub fn tap(self: &Arc<Self>, target: String, name: NameSlot) -> EventTap {
        let log = self.clone();
        Arc::new(move |event: &Event| {
            let name = name.lock().unwrap_or_else(PoisonError::into_inner).clone();
            log.append(&target, name.as_deref(), event);
        })
    }

    /// Lets the writer drain the queue and stop. Waits while it makes progress, giving up
    /// after `patience` without any (a file that takes no writes). Fails, naming how many
    /// events are missing from the file without a gap line saying so.
    pub fn close(&self, patience: Duration) -> Result<(), EventsMissing> {
        let mut state = self.shared.state();
        state.closing = true;
        self.shared.changed.notify_all();
        let mut progress = state.handled;
        let mut since = Instant::now();
        while !state.done {
            let waited = since.elapsed();
            if waited >= patience {
                break;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, patience - waited)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if state.handled != progress {
                progress = state.handled;
                since = Instant::now();
            }
        }
        let queued = state.queue.len() as u64;
        let missing = state.unrecorded + state.dropped + queued;
        if missing == 0 {
            return Ok(());
        }
        Err(EventsMissing {
            log: self.shown.clone(),
            missing,
            gave_up_waiting: !state.done,
        })
    }
}

/// Events are missing from the log file without a gap line saying so (the file stopped
/// taking writes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event log {log}: {missing} events are missing from the file (it stopped taking writes{})",
    if *gave_up_waiting { "; gave up waiting" } else { "" }
)]
pub struct EventsMissing {
    /// The log file, as shown to the user.
    pub log: String,
    /// How many events are missing.
    pub missing: u64,
    /// The writer was still stuck when closing stopped waiting for it.
    pub gave_up_waiting: bool,
}

/// The writer thread's side: the file, and the events it could not write.
struct Writer {
    file: File,
    shown: String,
    shared: Arc<Shared>,
    reports: mpsc::UnboundedSender<Report>,
    /// Events lost to write errors and not yet recorded as a gap.
    failed: u64,
    /// The error that started the current run of failures.
    failure: Option<String>,
}

enum Job {
    Line(Entry),
    /// Events were dropped after the last queued line and the queue is empty.
    Dropped(u64),
    Stop,
}

impl Writer {
    fn run(mut self) {
        let seekable = self.file.metadata().is_ok_and(|m| m.file_type().is_file());
        loop {
            let job = {
                let mut state = self.shared.state();
                loop {
                    let (max_lines, max_bytes) = state.limits;
                    if state.dropping
                        && state.queue.len() <= max_lines / 2
                        && state.queued_bytes <= max_bytes / 2
                    {
                        state.dropping = false;
                    }
                    if let Some(entry) = state.queue.pop_front() {
                        state.queued_bytes -= entry.line.len();
                        break Job::Line(entry);
                    }
                    if state.dropped > 0 {
                        break Job::Dropped(std::mem::take(&mut state.dropped));
                    }
                    if state.closing {
                        break Job::Stop;
                    }
                    state = self
                        .shared
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            match job {
                Job::Line(entry) => {
                    if entry.dropped_before > 0 {
                        self.dropped(seekable, entry.dropped_before);
                    }
                    self.line(seekable, entry.line.as_bytes());
                }
                Job::Dropped(count) => self.dropped(seekable, count),
                Job::Stop => {
                    // Space may have come back since the last failure: say what was lost.
                    if self.failed > 0 {
                        self.record_failures(seekable);
                    }
                    break;
                }
            }
            let mut state = self.shared.state();
            state.handled += 1;
            state.unrecorded = self.failed;
            drop(state);
            self.shared.changed.notify_all();
        }
        let mut state = self.shared.state();
        state.done = true;
        state.unrecorded = self.failed;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Writes one event line, first recording any earlier failures as a gap.
    fn line(&mut self, seekable: bool, line: &[u8]) {
        if self.failed > 0 && !self.record_failures(seekable) {
            self.failed += 1;
            return;
        }
        if let Err(error) = write_whole_line(&mut self.file, seekable, line) {
            self.fail(1, &error);
        }
    }

    /// Records `count` events dropped from a full queue (and any earlier failures) as gap
    /// lines, and reports that the file caught up.
    fn dropped(&mut self, seekable: bool, count: u64) {
        if self.failed > 0 && !self.record_failures(seekable) {
            self.failed += count;
            return;
        }
        match write_whole_line(&mut self.file, seekable, &gap_line(count, QUEUE_FULL)) {
            Ok(()) => {
                let _ = self.reports.send(Report {
                    text: format!(
                        "event log {}: caught up; {count} events were dropped meanwhile (a gap \
                         line records them)",
                        self.shown
                    ),
                    is_error: false,
                });
            }
            Err(error) => self.fail(count, &error),
        }
    }

    /// Writes the gap line for the events lost to write errors; on success reports that the
    /// file takes writes again.
    fn record_failures(&mut self, seekable: bool) -> bool {
        let reason = format!(
            "write failed: {}",
            self.failure.as_deref().unwrap_or("unknown error")
        );
        if write_whole_line(&mut self.file, seekable, &gap_line(self.failed, &reason)).is_err() {
            return false;
        }
        let _ = self.reports.send(Report {
            text: format!(
                "event log {}: writing again; {} events were lost (a gap line records them)",
                self.shown, self.failed
            ),
            is_error: false,
        });
        self.failed = 0;
        self.failure = None;
        true
    }

    fn fail(&mut self, count: u64, error: &io::Error) {
        self.failed += count;
        if self.failure.is_none() {
            self.failure = Some(error.to_string());
            let _ = self.reports.send(Report {
                text: format!(
                    "event log {}: cannot write: {error}; events are not being logged",
                    self.shown
                ),
                is_error: true,
            });
        }
    }
}

const QUEUE_FULL: &str = "queue full: the file did not take writes fast enough";

fn gap_line(count: u64, reason: &str) -> Vec<u8> {
    let line = json!({
        "time": Local::now().to_rfc3339(),
        "gap": count,
        "reason": reason,
    });
    format!("{line}\n").into_bytes()
}

/// Writes `line` whole or not at all. A regular file takes it in one `write`; when that is
/// cut short (a full disk) and the rest cannot follow, the part written is cut off again, so
/// the file ends with a whole line. (Another process appending to the same file at that very
/// moment could lose its last bytes; qemu-dash does not share its log.) A pipe or device gets
/// the rest after a short write, since it cannot be cut back.
fn write_whole_line(file: &mut File, seekable: bool, line: &[u8]) -> io::Result<()> {
    if !seekable {
        return file.write_all(line);
    }
    let mut written = 0;
    while written < line.len() {
        match file.write(&line[written..]) {
            Ok(0) => {
                return Err(cut_back(
                    file,
                    written,
                    io::Error::from(io::ErrorKind::WriteZero),
                ));
            }
            Ok(n) => written += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(cut_back(file, written, error)),
        }
    }
    Ok(())
}

/// Removes the `written` bytes of a partial line from the end of `file`; returns `error`.
fn cut_back(file: &mut File, written: usize, error: io::Error) -> io::Error {
    if written > 0
        && let Ok(meta) = file.metadata()
    {
        let _ = file.set_len(meta.len().saturating_sub(written as u64));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn event(n: u64) -> Event {
        Event {
            name: "RTC_CHANGE".to_string(),
            data: json!({ "offset": n }),
            timestamp: (1, 0),
            cut_bytes: 0,
        }
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn writes_every_event_as_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = EventLog::open(&path).unwrap();
        for n in 0..100 {
            log.append("unix:vm", Some("vm"), &event(n));
        }
        assert_eq!(log.close(Duration::from_secs(5)), Ok(()));
        let lines = lines(&path);
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99]["data"]["offset"], 99);
        assert_eq!(lines[0]["name"], "vm");
    }

    #[test]
    fn a_stalled_pipe_drops_counts_and_records_a_gap_once_it_drains() {
        let (reader, writer) = std::io::pipe().unwrap();
        let file = File::from(std::os::fd::OwnedFd::from(writer));
        let log = EventLog::start(file, "pipe".to_string(), (4, 1 << 20)).unwrap();
        let mut reports = log.reports().unwrap();
        assert!(log.reports().is_none(), "taken once");
        // Enough to fill the pipe's buffer, then the queue, then drop some.
        let total = 2000;
        for n in 0..total {
            log.append("unix:vm", None, &event(n));
        }
        let report = reports.blocking_recv().unwrap();
        assert!(report.is_error);
        assert!(report.text.contains("not taking writes"), "{}", report.text);
        let reading = std::thread::spawn(move || std::io::read_to_string(reader).unwrap());
        assert_eq!(log.close(Duration::from_secs(5)), Ok(()));
        drop(log);
        let text = reading.join().unwrap();
        let mut events = 0;
        let mut gaps = 0;
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            match value["gap"].as_u64() {
                Some(gap) => gaps += gap,
                None => events += 1,
            }
        }
        assert!(gaps > 0);
        assert_eq!(events + gaps, total);
    }

    #[test]
    fn write_errors_are_reported_and_closing_names_the_loss() {
        let file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        let log = EventLog::start(file, "/dev/full".to_string(), (16, 1 << 20)).unwrap();
        let mut reports = log.reports().unwrap();
        for n in 0..3 {
            log.append("unix:vm", None, &event(n));
        }
        let report = reports.blocking_recv().unwrap();
        assert!(report.is_error);
        assert!(report.text.contains("No space left"), "{}", report.text);
        let closed = log.close(Duration::from_secs(5)).unwrap_err();
        assert_eq!(closed.missing, 3, "{closed}");
        assert!(
            closed.to_string().contains("3 events are missing"),
            "{closed}"
        );
    }
}
