//! One watched VM as the dashboard knows it: the latest figures, histories, the event log,
//! and how news from the collectors changes them.

use super::snapshots::{RunningJob, SnapshotView};
use super::{Dangerous, Message};
use crate::collect::poller::{BlockSample, MemorySample, VcpuSample};
use crate::collect::{AppEvent, EventKind, EventRecord};
use crate::qmp::types::BlockDeviceInfo;
use crate::qmp::types::{BlockInfo, StatusInfo};
use crate::qmp::{Client, QemuVersion};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Samples kept for sparklines and charts.
pub const HISTORY_LEN: usize = 300;
/// Events kept in the log (the total seen is counted separately).
pub const EVENT_LOG_LEN: usize = 1000;
/// Memory the event log may take: the oldest events go first beyond it.
pub const EVENT_LOG_BYTES: usize = 2 * 1024 * 1024;
/// Event names counted one by one; a peer inventing names cannot grow the counts beyond this.
pub const MAX_EVENT_NAMES: usize = 128;

/// A bounded series for sparklines.
#[derive(Debug, Clone, Default)]
pub struct History {
    values: VecDeque<u64>,
}

impl History {
    /// Appends a value, dropping the oldest beyond [`HISTORY_LEN`].
    pub fn push(&mut self, value: u64) {
        if self.values.len() == HISTORY_LEN {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    /// The newest `count` values, oldest first.
    pub fn last(&self, count: usize) -> Vec<u64> {
        let skip = self.values.len().saturating_sub(count);
        self.values.iter().skip(skip).copied().collect()
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The media of a VM's block devices, indexed by drive id and node name, so that matching
/// every block row to its medium costs one lookup each.
#[derive(Debug)]
pub struct Media<'a> {
    infos: &'a [BlockInfo],
    by_device: HashMap<&'a str, usize>,
    by_node: HashMap<&'a str, usize>,
}

impl<'a> Media<'a> {
    fn new(infos: &'a [BlockInfo]) -> Media<'a> {
        let mut by_device = HashMap::new();
        let mut by_node = HashMap::new();
        for (at, info) in infos.iter().enumerate() {
            let Some(medium) = &info.inserted else {
                continue;
            };
            if !info.device.is_empty() {
                by_device.entry(info.device.as_str()).or_insert(at);
            }
            if let Some(node) = &medium.node_name {
                by_node.entry(node.as_str()).or_insert(at);
            }
        }
        Media {
            infos,
            by_device,
            by_node,
        }
    }

    /// The medium of a block device: the first device with a medium whose drive id or node
    /// name matches.
    pub fn of(&self, block: &BlockSample) -> Option<&'a BlockDeviceInfo> {
        let by_device = (!block.device.is_empty())
            .then(|| self.by_device.get(block.device.as_str()))
            .flatten();
        let by_node = block
            .node_name
            .as_deref()
            .and_then(|node| self.by_node.get(node));
        let at = match (by_device, by_node) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) | (None, Some(&a)) => a,
            (None, None) => return None,
        };
        self.infos.get(at).and_then(|info| info.inserted.as_ref())
    }
}

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
    /// A handle for commands while connected.
    pub client: Option<Client>,
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
    /// Total host CPU of all vCPUs, percent, history.
    pub cpu_history: History,
    /// Why host figures are missing, if they are.
    pub host_problem: Option<String>,
    /// QEMU process CPU percent.
    pub process_cpu_percent: Option<f64>,
    /// QEMU process RSS.
    pub rss_bytes: Option<u64>,
    /// QEMU process CPU time in all, seconds.
    pub process_cpu_seconds: Option<f64>,
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
    /// The fast queries' round trip at the last sample.
    pub round_trip: Option<Duration>,
    /// A pending power-down request.
    pub powerdown: Option<PowerdownRequest>,
    /// The snapshot list and job.
    pub snapshots: SnapshotView,
    /// Console output, network, devices and migration (the monitor's screens).
    pub monitor: super::devices::VmMonitor,
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

    /// Sum of the block devices' read rates, bytes/s (`None` before two samples).
    pub fn read_rate(&self) -> Option<f64> {
        self.sum_rates(|r| r.read_bytes_per_sec)
    }

    /// Sum of the block devices' write rates, bytes/s.
    pub fn write_rate(&self) -> Option<f64> {
        self.sum_rates(|r| r.write_bytes_per_sec)
    }

    fn sum_rates(&self, pick: fn(&crate::collect::rates::BlockRates) -> f64) -> Option<f64> {
        let rates: Vec<f64> = self
            .blocks
            .iter()
            .filter_map(|b| b.sample.rates.as_ref().map(pick))
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum())
    }

    /// Counts one event by name, up to [`MAX_EVENT_NAMES`] names.
    fn count_event(&mut self, name: &str) {
        if let Some(count) = self.event_counts.get_mut(name) {
            *count += 1;
        } else if self.event_counts.len() < MAX_EVENT_NAMES - 1 {
            self.event_counts.insert(name.to_string(), 1);
        } else {
            *self.event_counts.entry("other".to_string()).or_default() += 1;
        }
    }

    /// The run state word, or the connection state when there is none.
    pub fn state_word(&self) -> String {
        match (&self.connection, &self.status) {
            (_, _) if self.removed => "removed".to_string(),
            (Some(ConnectionState::Connected), Some(status)) => status.status.clone(),
            (Some(ConnectionState::Disconnected { .. }), _) => "disconnected".to_string(),
            _ => "connecting".to_string(),
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
    pub fn start_snapshot_job(&mut self, job: RunningJob) -> Result<(), String> {
        if let Some(running) = &self.snapshots.job {
            return Err(format!(
                "a snapshot job is running: {}; wait for it to finish",
                running.describe()
            ));
        }
        self.snapshots.job = Some(job);
        Ok(())
    }

    /// Applies news about this VM; returns a message for the message line, if any.
    pub fn apply(&mut self, event: AppEvent, now: Instant) -> Option<Message> {
        match event {
            AppEvent::Connected {
                client, greeting, ..
            } => {
                let was_disconnected =
                    matches!(self.connection, Some(ConnectionState::Disconnected { .. }));
                self.client = Some(client);
                self.version = Some(greeting.version.clone());
                self.connection = Some(ConnectionState::Connected);
                if was_disconnected {
                    self.log(EventRecord::note(format!(
                        "reconnected (QEMU {})",
                        greeting.version
                    )));
                }
            }
            AppEvent::Disconnected {
                reason, retry_in, ..
            } => {
                let was_connected = self.is_connected();
                let first_failure = self.connection == Some(ConnectionState::Connecting);
                if was_connected || first_failure {
                    self.log(EventRecord::note(format!("disconnected: {reason}")));
                }
                self.client = None;
                self.powerdown = None;
                self.connection = Some(ConnectionState::Disconnected { reason, retry_in });
            }
            AppEvent::Sample { sample, .. } => {
                self.set_status(sample.status.clone(), now);
                let total_cpu: f64 = sample.vcpus.iter().filter_map(|v| v.host.cpu_percent).sum();
                self.vcpus = sample.vcpus;
                match sample.host {
                    Ok(host) => {
                        self.host_problem = None;
                        self.process_cpu_percent = host.process_cpu_percent;
                        self.process_cpu_seconds = host.process_cpu_seconds;
                        self.rss_bytes = host.rss_bytes;
                        if self.vcpus.iter().any(|v| v.host.cpu_percent.is_some()) {
                            self.cpu_history.push(total_cpu.round() as u64);
                        }
                    }
                    Err(reason) => {
                        self.host_problem = Some(reason);
                        self.process_cpu_percent = None;
                        self.process_cpu_seconds = None;
                        self.rss_bytes = None;
                    }
                }
                // Rows keep their histories, found by key (thousands of devices stay cheap).
                let mut previous: HashMap<(String, Option<String>), BlockRow> = self
                    .blocks
                    .drain(..)
                    .map(|row| {
                        (
                            (row.sample.device.clone(), row.sample.node_name.clone()),
                            row,
                        )
                    })
                    .collect();
                let mut rows = Vec::with_capacity(sample.blocks.len());
                for block in sample.blocks {
                    let mut row = previous
                        .remove(&(block.device.clone(), block.node_name.clone()))
                        .unwrap_or_default();
                    if let Some(rates) = block.rates {
                        row.read_history
                            .push(rates.read_bytes_per_sec.round() as u64);
                        row.write_history
                            .push(rates.write_bytes_per_sec.round() as u64);
                    }
                    row.sample = block;
                    rows.push(row);
                }
                self.blocks = rows;
                if let Some(slow) = sample.slow {
                    self.name = slow.name;
                    self.block_info = slow.block_info;
                    self.memory = slow.memory;
                }
                self.problem = None;
                self.last_sample_at = Some(now);
                self.round_trip = Some(sample.round_trip);
            }
            AppEvent::Event { record, .. } => {
                self.events_total += 1;
                self.count_event(&record.name);
                let shutdown_by_guest = record.name == "SHUTDOWN"
                    && record.data.get("guest").and_then(|g| g.as_bool()) == Some(true);
                if record.kind == EventKind::Shutdown && self.powerdown.take().is_some() {
                    let who = if shutdown_by_guest {
                        "the guest shut down"
                    } else {
                        "QEMU shut down"
                    };
                    let text = format!("power-down answered: {who} ({})", record.text);
                    self.log(record);
                    return Some(Message::info(text));
                } else {
                    let note = self.note_monitor_event(&record);
                    self.log(record);
                    return note;
                }
            }
            AppEvent::Monitor { news, .. } => return self.apply_monitor(news, now),
            AppEvent::EventsMissed { count, .. } => {
                self.events_total += count;
                self.log(EventRecord::note(format!(
                    "{count} events arrived faster than the dashboard could take them; they are counted but not listed"
                )));
            }
            AppEvent::Problem { text, .. } => {
                self.poll_errors += 1;
                self.problem = Some(text);
            }
            AppEvent::Notice { text, .. } => {
                self.log(EventRecord::note(text.clone()));
                return Some(Message::info(text));
            }
            AppEvent::SnapshotList { result, .. } => match result {
                Ok(list) => self.snapshots.set_list(list),
                Err(error) => self.snapshots.error = Some(error),
            },
            AppEvent::SnapshotProgress { progress, .. } => {
                if let Some(job) = self.snapshots.job.as_mut() {
                    job.progress = Some(progress);
                }
            }
            AppEvent::SnapshotDone {
                operation,
                tag,
                result,
                ..
            } => {
                self.snapshots.job = None;
                return Some(match result {
                    Ok(outcome) => Message::info(format!(
                        "{operation} '{tag}': done on {} in {:.2} s",
                        outcome.disks.join(", "),
                        outcome.elapsed.as_secs_f64()
                    )),
                    Err(error) => Message::error(format!("{operation} '{tag}' failed: {error}")),
                });
            }
            AppEvent::CommandDone { what, result, .. } => match result {
                // Still waiting for the guest (its SHUTDOWN, if already read, said so instead).
                Ok(()) if what == Dangerous::PowerDown.label() => {
                    return self.powerdown.is_some().then(|| {
                        Message::info(
                            "power-down request sent; waiting for the guest to shut down…",
                        )
                    });
                }
                Ok(()) => return Some(Message::info(format!("{what}: done"))),
                Err(error) => {
                    if what == Dangerous::PowerDown.label() {
                        self.powerdown = None;
                    }
                    return Some(Message::error(format!("{what} failed: {error}")));
                }
            },
        }
        None
    }
}
