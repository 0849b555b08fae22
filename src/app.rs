//! The dashboard's state ([`Model`]) and the only code that changes it ([`Model::apply`] for
//! background news, [`Model::act`] for keys).
//!
//! Pure: no I/O, no terminal. Keys that need QEMU return [`Effect`]s that the runtime
//! spawns; their results come back as [`AppEvent::CommandDone`]. Keyed by VM from the start,
//! so that a fleet view is a UI change, not a rewrite.

pub mod keymap;

use crate::collect::poller::{BlockSample, MemorySample, VcpuSample};
use crate::collect::{AppEvent, EventKind, EventRecord, VmId};
use crate::qmp::types::{BlockInfo, StatusInfo};
use crate::qmp::{Client, QemuVersion};
use keymap::{Action, KeyContext};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples kept for sparklines and charts.
pub const HISTORY_LEN: usize = 300;
/// Events kept in the log (the total seen is counted separately).
pub const EVENT_LOG_LEN: usize = 1000;
/// Shortest and longest poll interval.
pub const INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_secs(10));
/// After a power-down request, how long before the screen says the guest has not answered.
pub const POWERDOWN_PATIENCE: Duration = Duration::from_secs(10);

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
    /// `-name`.
    pub name: Option<String>,
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
    /// The last poll problem (timeout, bad reply), cleared by the next good sample.
    pub problem: Option<String>,
    /// When the last sample arrived.
    pub last_sample_at: Option<Instant>,
    /// The fast queries' round trip at the last sample.
    pub round_trip: Option<Duration>,
    /// A pending power-down request.
    pub powerdown: Option<PowerdownRequest>,
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

    /// The name to show: `-name`, else the target.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.target)
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.connection == Some(ConnectionState::Connected)
    }

    /// The medium of a block device, matched by node name or drive id.
    pub fn medium_of(&self, block: &BlockSample) -> Option<&crate::qmp::types::BlockDeviceInfo> {
        self.block_info
            .iter()
            .filter_map(|info| info.inserted.as_ref().map(|m| (info, m)))
            .find(|(info, medium)| {
                (!block.device.is_empty() && info.device == block.device)
                    || (medium.node_name.is_some() && medium.node_name == block.node_name)
            })
            .map(|(_, medium)| medium)
    }

    fn log(&mut self, record: EventRecord) {
        if self.events.len() == EVENT_LOG_LEN {
            self.events.pop_front();
        }
        self.events.push_back(record);
    }

    fn set_status(&mut self, status: StatusInfo, now: Instant) {
        let changed = self.status.as_ref().map(|s| &s.status) != Some(&status.status);
        if changed {
            self.status_since = Some(now);
        }
        self.status = Some(status);
    }
}

/// A VM command that needs a yes before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dangerous {
    /// `system_reset`.
    Reset,
    /// `system_powerdown`.
    PowerDown,
    /// `quit`.
    QuitVm,
}

impl Dangerous {
    /// The QMP command.
    pub fn command(self) -> &'static str {
        match self {
            Dangerous::Reset => "system_reset",
            Dangerous::PowerDown => "system_powerdown",
            Dangerous::QuitVm => "quit",
        }
    }

    /// What it is called on screen.
    pub fn label(self) -> &'static str {
        match self {
            Dangerous::Reset => "reset",
            Dangerous::PowerDown => "power down",
            Dangerous::QuitVm => "quit QEMU",
        }
    }

    /// The question asked before sending it.
    pub fn question(self, vm: &str) -> String {
        match self {
            Dangerous::Reset => {
                format!("Reset {vm}? The guest reboots at once, like pressing the reset button.")
            }
            Dangerous::PowerDown => {
                format!("Power down {vm}? An ACPI power-button press is sent to the guest.")
            }
            Dangerous::QuitVm => {
                format!("Quit QEMU for {vm}? The VM process exits and its unsaved state is lost.")
            }
        }
    }
}

/// What the screen is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The dashboard.
    Main,
    /// The help overlay.
    Help,
    /// A yes/no question about a command.
    Confirm(Dangerous),
}

/// The panel that arrows act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// vCPUs.
    Cpus,
    /// Block devices.
    Blocks,
    /// Event log.
    Events,
}

impl Panel {
    const ORDER: [Panel; 3] = [Panel::Cpus, Panel::Blocks, Panel::Events];

    fn step(self, forward: bool) -> Panel {
        let at = Self::ORDER.iter().position(|&p| p == self).unwrap_or(0);
        let len = Self::ORDER.len();
        Self::ORDER[if forward {
            (at + 1) % len
        } else {
            (at + len - 1) % len
        }]
    }
}

/// The message line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text (QEMU's errors verbatim).
    pub text: String,
    /// Shown as an error.
    pub is_error: bool,
}

/// Work for the runtime.
#[derive(Debug)]
pub enum Effect {
    /// Send a command to a VM; report the result as [`AppEvent::CommandDone`].
    Execute {
        /// Which VM.
        vm: VmId,
        /// The connection to use.
        client: Client,
        /// The QMP command.
        command: &'static str,
        /// What to call it in messages.
        what: &'static str,
    },
    /// Change the poll interval.
    SetInterval(Duration),
}

/// The whole state of the dashboard.
#[derive(Debug)]
pub struct Model {
    /// The watched VMs.
    pub vms: Vec<Vm>,
    /// The VM shown.
    pub current: VmId,
    /// What is on screen.
    pub mode: Mode,
    /// The focused panel.
    pub focus: Panel,
    /// Selected block device row.
    pub selected_block: usize,
    /// Selected vCPU row (for scrolling).
    pub cpu_scroll: usize,
    /// Event log scroll, lines up from the newest.
    pub event_scroll: usize,
    /// The poll interval.
    pub interval: Duration,
    /// Only queries are sent.
    pub read_only: bool,
    /// The message line.
    pub message: Option<Message>,
    /// Set when the user quits the dashboard.
    pub should_quit: bool,
}

impl Model {
    /// A model watching `targets`.
    pub fn new(targets: Vec<String>, interval: Duration, read_only: bool) -> Model {
        Model {
            vms: targets.into_iter().map(Vm::new).collect(),
            current: 0,
            mode: Mode::Main,
            focus: Panel::Blocks,
            selected_block: 0,
            cpu_scroll: 0,
            event_scroll: 0,
            interval,
            read_only,
            message: None,
            should_quit: false,
        }
    }

    /// The VM on screen.
    pub fn vm(&self) -> Option<&Vm> {
        self.vms.get(self.current)
    }

    /// Which key table applies now.
    pub fn key_context(&self) -> KeyContext {
        match self.mode {
            Mode::Main => KeyContext::Main,
            Mode::Help => KeyContext::Help,
            Mode::Confirm(_) => KeyContext::Confirm,
        }
    }

    fn say(&mut self, text: impl Into<String>, is_error: bool) {
        self.message = Some(Message {
            text: text.into(),
            is_error,
        });
    }

    /// Applies news from a background task.
    pub fn apply(&mut self, event: AppEvent, now: Instant) {
        let vm_id = crate::runtime::vm_of(&event);
        let Some(vm) = self.vms.get_mut(vm_id) else {
            return;
        };
        match event {
            AppEvent::Connected {
                client, greeting, ..
            } => {
                let was_disconnected =
                    matches!(vm.connection, Some(ConnectionState::Disconnected { .. }));
                vm.client = Some(client);
                vm.version = Some(greeting.version.clone());
                vm.connection = Some(ConnectionState::Connected);
                if was_disconnected {
                    vm.log(EventRecord::note(format!(
                        "reconnected (QEMU {})",
                        greeting.version
                    )));
                }
            }
            AppEvent::Disconnected {
                reason, retry_in, ..
            } => {
                let was_connected = vm.is_connected();
                let first_failure = vm.connection == Some(ConnectionState::Connecting);
                if was_connected || first_failure {
                    vm.log(EventRecord::note(format!("disconnected: {reason}")));
                }
                vm.client = None;
                vm.powerdown = None;
                vm.connection = Some(ConnectionState::Disconnected { reason, retry_in });
            }
            AppEvent::Sample { sample, .. } => {
                vm.set_status(sample.status.clone(), now);
                let total_cpu: f64 = sample.vcpus.iter().filter_map(|v| v.host.cpu_percent).sum();
                vm.vcpus = sample.vcpus;
                match sample.host {
                    Ok(host) => {
                        vm.host_problem = None;
                        vm.process_cpu_percent = host.process_cpu_percent;
                        vm.rss_bytes = host.rss_bytes;
                        if vm.vcpus.iter().any(|v| v.host.cpu_percent.is_some()) {
                            vm.cpu_history.push(total_cpu.round() as u64);
                        }
                    }
                    Err(reason) => {
                        vm.host_problem = Some(reason);
                        vm.process_cpu_percent = None;
                        vm.rss_bytes = None;
                    }
                }
                let mut rows = Vec::with_capacity(sample.blocks.len());
                for block in sample.blocks {
                    let mut row = vm
                        .blocks
                        .iter()
                        .position(|r| {
                            r.sample.device == block.device && r.sample.node_name == block.node_name
                        })
                        .map(|at| vm.blocks.swap_remove(at))
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
                vm.blocks = rows;
                if let Some(slow) = sample.slow {
                    vm.name = slow.name;
                    vm.block_info = slow.block_info;
                    vm.memory = slow.memory;
                }
                vm.problem = None;
                vm.last_sample_at = Some(now);
                vm.round_trip = Some(sample.round_trip);
                self.selected_block = self.selected_block.min(vm.blocks.len().saturating_sub(1));
            }
            AppEvent::Event { record, .. } => {
                vm.events_total += 1;
                let shutdown_by_guest = record.name == "SHUTDOWN"
                    && record.data.get("guest").and_then(|g| g.as_bool()) == Some(true);
                if record.kind == EventKind::Shutdown && vm.powerdown.take().is_some() {
                    let who = if shutdown_by_guest {
                        "the guest shut down"
                    } else {
                        "QEMU shut down"
                    };
                    let text = format!("power-down answered: {who} ({})", record.text);
                    vm.log(record);
                    self.say(text, false);
                } else {
                    vm.log(record);
                }
            }
            AppEvent::EventsMissed { count, .. } => {
                vm.events_total += count;
                vm.log(EventRecord::note(format!(
                    "{count} events arrived faster than the dashboard could take them; they are counted but not listed"
                )));
            }
            AppEvent::Problem { text, .. } => {
                vm.problem = Some(text);
            }
            AppEvent::CommandDone { what, result, .. } => match result {
                Ok(()) if what == Dangerous::PowerDown.label() => {
                    vm.powerdown = Some(PowerdownRequest {
                        sent_at: now,
                        reported_silence: false,
                    });
                    self.say(
                        "power-down request sent; waiting for the guest to shut down…",
                        false,
                    );
                }
                Ok(()) => self.say(format!("{what}: done"), false),
                Err(error) => self.say(format!("{what} failed: {error}"), true),
            },
        }
    }

    /// Time passes: reports a power-down the guest has not answered.
    pub fn tick(&mut self, now: Instant) {
        let mut silent = None;
        for vm in &mut self.vms {
            if let Some(request) = vm.powerdown.as_mut()
                && !request.reported_silence
                && now.duration_since(request.sent_at) >= POWERDOWN_PATIENCE
            {
                request.reported_silence = true;
                silent = Some(vm.display_name().to_string());
            }
        }
        if let Some(name) = silent {
            self.say(
                format!(
                    "{name}: the guest has not answered the power-down request after {} s (no ACPI support, or it is still shutting down; Q quits QEMU)",
                    POWERDOWN_PATIENCE.as_secs()
                ),
                true,
            );
        }
    }

    fn command_effect(&mut self, command: &'static str, what: &'static str) -> Vec<Effect> {
        if self.read_only {
            self.say(format!("read-only: {what} was not sent"), true);
            return Vec::new();
        }
        let current = self.current;
        match self.vms.get(current).and_then(|vm| vm.client.clone()) {
            Some(client) => vec![Effect::Execute {
                vm: current,
                client,
                command,
                what,
            }],
            None => {
                self.say(format!("not connected: {what} was not sent"), true);
                Vec::new()
            }
        }
    }

    /// Applies a user action; returns the effects to run.
    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        match (self.mode, action) {
            (_, Action::QuitDashboard) => {
                self.should_quit = true;
                Vec::new()
            }
            (Mode::Confirm(dangerous), Action::Confirm) => {
                self.mode = Mode::Main;
                self.command_effect(dangerous.command(), dangerous.label())
            }
            (Mode::Confirm(dangerous), Action::Cancel) => {
                self.mode = Mode::Main;
                self.say(format!("{}: cancelled", dangerous.label()), false);
                Vec::new()
            }
            (Mode::Help, Action::Cancel | Action::Help) => {
                self.mode = Mode::Main;
                Vec::new()
            }
            (Mode::Main, action) => self.act_main(action),
            _ => Vec::new(),
        }
    }

    fn act_main(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::TogglePause => {
                let running = self
                    .vm()
                    .and_then(|vm| vm.status.as_ref())
                    .is_some_and(|s| s.running);
                if running {
                    self.command_effect("stop", "pause")
                } else {
                    self.command_effect("cont", "resume")
                }
            }
            Action::Reset | Action::PowerDown | Action::QuitVm => {
                let dangerous = match action {
                    Action::Reset => Dangerous::Reset,
                    Action::PowerDown => Dangerous::PowerDown,
                    _ => Dangerous::QuitVm,
                };
                if self.read_only {
                    self.say(
                        format!("read-only: {} was not sent", dangerous.label()),
                        true,
                    );
                } else {
                    self.mode = Mode::Confirm(dangerous);
                }
                Vec::new()
            }
            Action::Help => {
                self.mode = Mode::Help;
                Vec::new()
            }
            Action::FocusNext | Action::FocusPrevious => {
                self.focus = self.focus.step(action == Action::FocusNext);
                Vec::new()
            }
            Action::Up | Action::Down => {
                self.scroll(action == Action::Down);
                Vec::new()
            }
            Action::Faster | Action::Slower => {
                let factor = if action == Action::Faster { 0.5 } else { 2.0 };
                let next = self
                    .interval
                    .mul_f64(factor)
                    .clamp(INTERVAL_RANGE.0, INTERVAL_RANGE.1);
                self.interval = next;
                self.say(format!("polling every {:.2} s", next.as_secs_f64()), false);
                vec![Effect::SetInterval(next)]
            }
            Action::Snapshots => {
                self.say("the snapshot view is not available yet", true);
                Vec::new()
            }
            Action::QuitDashboard | Action::Confirm | Action::Cancel => Vec::new(),
        }
    }

    fn scroll(&mut self, down: bool) {
        let Some(vm) = self.vms.get(self.current) else {
            return;
        };
        let step = |value: usize, max: usize| {
            if down {
                (value + 1).min(max)
            } else {
                value.saturating_sub(1)
            }
        };
        match self.focus {
            Panel::Cpus => {
                self.cpu_scroll = step(self.cpu_scroll, vm.vcpus.len().saturating_sub(1))
            }
            Panel::Blocks => {
                self.selected_block = step(self.selected_block, vm.blocks.len().saturating_sub(1))
            }
            // The log's offset counts up from the newest line: down moves towards it.
            Panel::Events => {
                let max = vm.events.len().saturating_sub(1);
                self.event_scroll = if down {
                    self.event_scroll.saturating_sub(1)
                } else {
                    (self.event_scroll + 1).min(max)
                };
            }
        }
    }
}
