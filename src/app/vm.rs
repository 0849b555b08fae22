//! One watched VM as the dashboard knows it: the latest figures, histories and the event
//! log, and what the screens ask of them. How news from the collectors changes them is in
//! `update` ([`Vm::apply`]).

mod history;
mod media;
mod update;
pub use history::History;
pub use media::Media;

use super::snapshots::{JobRunning, RunningJob, SnapshotView};
use crate::news::EventRecord;
use crate::news::{BlockSample, MemorySample, VcpuSample};
use crate::qmp::QemuVersion;
use crate::qmp::types::{BlockInfo, StatusInfo};
use chrono::{DateTime, Local};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples kept for sparklines and charts.
pub const HISTORY_LEN: usize = 300;
/// Events kept in the log (the total seen is counted separately).
pub const EVENT_LOG_LEN: usize = 1000;
/// Memory the event log may take: the oldest events go first beyond it.
pub const EVENT_LOG_BYTES: usize = 2 * 1024 * 1024;
/// Event names counted one by one; a peer inventing names cannot grow the counts beyond this.
pub const MAX_EVENT_NAMES: usize = 128;
/// The state word of a connected VM whose QEMU does not answer the poller.
pub const NOT_ANSWERING: &str = "not answering";
/// The state word while another client holds a socket watched in polite mode.
pub const BUSY: &str = "busy (another client has the socket)";

/// The state of the connection to one VM.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// First attempt under way.
    Connecting,
    /// Connected and negotiated.
    Connected,
    /// Not connected; retrying.
    Disconnected {
        /// Why, in one line.
        reason: String,
        /// Seconds until the next attempt.
        retry_in: f64,
    },
}

/// How a VM ended: the `SHUTDOWN` event QEMU sent, or its process found gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// QEMU's shutdown reason ("guest-shutdown", "host-qmp-quit"…), `None` when the process
    /// exited without a `SHUTDOWN` event (killed, crashed).
    pub reason: Option<String>,
    /// The shutdown came from the guest.
    pub by_guest: bool,
    /// When (the event's time, or when the connection dropped).
    pub at: DateTime<Local>,
    /// The same moment on the monotonic clock, for "2m05s ago".
    pub since: Instant,
    /// The QEMU process is gone.
    pub exited: bool,
}

impl Ending {
    /// The state word for the fleet row and batch lines: "shut down", "quit", "exited".
    pub fn word(&self) -> &'static str {
        match self.reason.as_deref() {
            _ if self.by_guest => "shut down",
            Some("host-qmp-quit") => "quit",
            Some("host-signal" | "host-error") | None => "exited",
            Some(_) => "shut down",
        }
    }

    /// What happened, in a few words: "shut down by the guest", "quit", "QEMU exited".
    pub fn describe(&self) -> String {
        match self.reason.as_deref() {
            Some("guest-shutdown") => "shut down by the guest".to_string(),
            Some(reason) if self.by_guest => format!("shut down by the guest ({reason})"),
            Some("host-qmp-quit") => "quit (QMP quit command)".to_string(),
            Some("host-signal") => "QEMU exited on a signal".to_string(),
            Some("host-ui") => "closed from QEMU's window".to_string(),
            Some("host-error") => "QEMU exited on an error".to_string(),
            Some(reason) => format!("shut down by the host ({reason})"),
            None => "QEMU exited".to_string(),
        }
    }
}

/// A block device row: the latest sample, its medium, and rate history.
#[derive(Debug, Clone, Default)]
pub struct BlockRow {
    /// The latest counters and rates.
    pub sample: BlockSample,
    /// Read bytes/s history.
    pub read_history: History,
    /// Write bytes/s history.
    pub write_history: History,
}

/// A power-down request awaiting the guest's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerdownRequest {
    /// When it was sent.
    pub sent_at: Instant,
    /// Whether the "not yet" message was shown.
    pub reported_silence: bool,
}

/// Everything the dashboard knows about one VM.
#[derive(Debug, Default)]
pub struct Vm {
    /// The target as given.
    pub target: String,
    /// QEMU is reached over TCP on another host (its files are not this host's).
    pub remote_tcp: bool,
    /// The connection's state.
    pub connection: Option<ConnectionState>,
    /// The name from the config file, shown in preference to `-name`.
    pub configured_name: Option<String>,
    /// `-name`.
    pub name: Option<String>,
    /// The socket went away (discovery): the VM is no longer watched.
    pub removed: bool,
    /// QEMU's version.
    pub version: Option<QemuVersion>,
    /// The latest run state.
    pub status: Option<StatusInfo>,
    /// When the run state last changed.
    pub status_since: Option<Instant>,
    /// vCPUs.
    pub vcpus: Vec<VcpuSample>,
    /// Total host CPU of all vCPU threads, in tenths of a percent of one host CPU, history.
    pub cpu_history: History,
    /// Why host figures are missing, if they are.
    pub host_problem: Option<String>,
    /// QEMU process CPU percent.
    pub process_cpu_percent: Option<f64>,
    /// QEMU process RSS.
    pub rss_bytes: Option<u64>,
    /// QEMU process CPU time in all, seconds.
    pub process_cpu_seconds: Option<f64>,
    /// The QEMU process id, when known.
    pub qemu_pid: Option<u32>,
    /// How long the QEMU process had run, and when that was read.
    pub qemu_uptime: Option<(Duration, Instant)>,
    /// Accelerator, machine type and CPU model.
    pub machine: crate::news::MachineFacts,
    /// Block devices.
    pub blocks: Vec<BlockRow>,
    /// Media info from `query-block`.
    pub block_info: Vec<BlockInfo>,
    /// Memory.
    pub memory: MemorySample,
    /// Recent events, oldest first.
    pub events: VecDeque<EventRecord>,
    /// Events seen since the dashboard started (including any the log dropped).
    pub events_total: u64,
    /// Events whose data, name or text was cut to fit.
    pub events_cut: u64,
    /// What the events in the log take in memory (see [`EventRecord::cost`]).
    events_bytes: usize,
    /// Events seen by name (at most [`MAX_EVENT_NAMES`] names; the rest count as "other").
    pub event_counts: std::collections::BTreeMap<String, u64>,
    /// Polls that failed (timeouts, bad replies) since the dashboard started.
    pub poll_errors: u64,
    /// The last poll problem (timeout, bad reply), cleared by the next good sample.
    pub problem: Option<String>,
    /// When the last sample arrived.
    pub last_sample_at: Option<Instant>,
    /// When the first poll QEMU has not answered was sent (`None` while QEMU answers).
    pub unanswered_since: Option<Instant>,
    /// The fast queries' round trip at the last sample.
    pub round_trip: Option<Duration>,
    /// A pending power-down request.
    pub powerdown: Option<PowerdownRequest>,
    /// How the VM ended, once it did (cleared when a VM runs on this target again).
    pub ending: Option<Ending>,
    /// When the last connection dropped.
    pub dropped_at: Option<(DateTime<Local>, Instant)>,
    /// The snapshot list and job.
    pub snapshots: SnapshotView,
    /// Console output, network, devices and migration (the monitor's screens).
    pub monitor: super::devices::VmMonitor,
    /// What the VM's monitor connection can do (events, one command at a time, held or
    /// dialled per poll), from its latest connection.
    pub abilities: crate::qmp::Abilities,
    /// Polite mode: another client held the socket at the last tick.
    pub busy: bool,
    /// Why controls are off for this VM (a libvirt domain without `--allow-control`), if so.
    pub controls_off: Option<&'static str>,
}

impl Vm {
    /// A VM not yet connected.
    pub fn new(target: String) -> Vm {
        Vm {
            target,
            connection: Some(ConnectionState::Connecting),
            ..Default::default()
        }
    }

    /// The name to show: the configured name, else `-name`, else the target.
    pub fn display_name(&self) -> &str {
        self.configured_name
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.target)
    }

    /// Host CPU of all vCPU threads together over the last interval, percent of one host CPU
    /// (what the CPU history plots).
    pub fn vcpu_cpu_percent(&self) -> Option<f64> {
        let known: Vec<f64> = self
            .vcpus
            .iter()
            .filter_map(|v| v.host.cpu_percent)
            .collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// Sum of the block devices' read rates, bytes/s (`None` before two samples).
    pub fn read_rate(&self) -> Option<f64> {
        self.sum_rates(|r| r.read_bytes_per_sec)
    }

    /// Sum of the block devices' write rates, bytes/s.
    pub fn write_rate(&self) -> Option<f64> {
        self.sum_rates(|r| r.write_bytes_per_sec)
    }

    fn sum_rates(&self, pick: fn(&crate::news::BlockRates) -> f64) -> Option<f64> {
        let rates: Vec<f64> = self
            .blocks
            .iter()
            .filter_map(|b| b.sample.rates.as_ref().map(pick))
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    }

    /// The run state word, or the connection state when there is none: what the fleet row,
    /// the filter and batch mode's `state` field say.
    pub fn state_word(&self) -> &str {
        match (&self.connection, &self.status) {
            (_, _) if self.removed => "removed",
            (_, _) if self.busy => BUSY,
            (Some(ConnectionState::Connected), _) if self.unanswered_since.is_some() => {
                NOT_ANSWERING
            }
            (Some(ConnectionState::Connected), Some(status)) => &status.status,
            (_, _) if self.ended().is_some() => self.ended().map_or("ended", Ending::word),
            (Some(ConnectionState::Disconnected { .. }), _) => "disconnected",
            _ => "connecting",
        }
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.connection == Some(ConnectionState::Connected)
    }

    /// The media of the block devices, indexed for matching rows to them.
    pub fn media(&self) -> Media<'_> {
        Media::new(&self.block_info)
    }

    /// How the VM ended, when that is its state now: disconnected after a `SHUTDOWN` or with
    /// its process gone, or still connected in QEMU's "shutdown" state (`-no-shutdown`).
    pub fn ended(&self) -> Option<&Ending> {
        let ending = self.ending.as_ref()?;
        let shut = self.status.as_ref().is_some_and(|s| s.status == "shutdown");
        let gone = matches!(self.connection, Some(ConnectionState::Disconnected { .. }));
        (gone || shut).then_some(ending)
    }

    /// How long the QEMU process has run, now (while its figures are live).
    pub fn qemu_uptime_now(&self, now: Instant) -> Option<Duration> {
        let (uptime, at) = self.qemu_uptime?;
        (!self.is_stale()).then(|| uptime + now.saturating_duration_since(at))
    }

    /// How long the VM has been in the state the fleet row shows: silent, ended, or its live
    /// run state (`None` for a lost connection, whose state is not known).
    pub fn time_in_state(&self, now: Instant) -> Option<Duration> {
        self.not_answering_for(now)
            .or_else(|| self.ended().map(|e| now.saturating_duration_since(e.since)))
            .or_else(|| {
                self.status_since
                    .filter(|_| self.is_connected())
                    .map(|t| now.saturating_duration_since(t))
            })
    }

    /// How long QEMU has not answered the poller, while connected and silent.
    pub fn not_answering_for(&self, now: Instant) -> Option<Duration> {
        self.unanswered_since
            .filter(|_| self.is_connected())
            .map(|since| now.saturating_duration_since(since))
    }

    /// True when the figures on screen are not live: disconnected, or QEMU not answering.
    pub fn is_stale(&self) -> bool {
        !self.is_connected() || self.unanswered_since.is_some() || self.busy
    }

    /// How old the figures are, when they are stale and there are any.
    pub fn stale_age(&self, now: Instant) -> Option<Duration> {
        self.last_sample_at
            .filter(|_| self.is_stale())
            .map(|at| now.saturating_duration_since(at))
    }

    /// Adds a record to the log, dropping the oldest beyond [`EVENT_LOG_LEN`] records or
    /// [`EVENT_LOG_BYTES`].
    pub(crate) fn log(&mut self, record: EventRecord) {
        if record.cut_bytes > 0 {
            self.events_cut += 1;
        }
        let cost = record.cost();
        while !self.events.is_empty()
            && (self.events.len() >= EVENT_LOG_LEN || self.events_bytes + cost > EVENT_LOG_BYTES)
        {
            if let Some(old) = self.events.pop_front() {
                self.events_bytes = self.events_bytes.saturating_sub(old.cost());
            }
        }
        self.events_bytes += cost;
        self.events.push_back(record);
    }

    pub(crate) fn set_status(&mut self, status: StatusInfo, now: Instant) {
        let changed = self.status.as_ref().map(|s| &s.status) != Some(&status.status);
        if changed {
            self.status_since = Some(now);
        }
        self.status = Some(status);
    }

    /// Starts tracking a snapshot job (refused while another runs).
    pub fn start_snapshot_job(&mut self, job: RunningJob) -> Result<(), JobRunning> {
        if let Some(running) = &self.snapshots.job {
            return Err(JobRunning {
                running: running.describe(),
            });
        }
        self.snapshots.job = Some(job);
        Ok(())
    }
}
