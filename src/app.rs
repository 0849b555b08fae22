//! The dashboard's state ([`Model`]) and the only code that changes it ([`Model::apply`] for
//! background news, [`Model::act`] for keys, [`Model::tick`] for time).
//!
//! Pure: no I/O, no terminal. Keys that need QEMU return [`Effect`]s that the runtime
//! spawns; their results come back as [`AppEvent::CommandDone`]. Keyed by VM: one VM shows
//! the dashboard, several show the fleet table first.

pub mod console;
pub mod devices;
pub mod fleet;
pub mod keymap;
pub mod lists;
pub mod snapshots;
pub mod vm;

use crate::collect::{AppEvent, VmId};
use crate::qmp::Client;
use crate::snapshot::Operation;
use fleet::{FleetColumn, FleetState};
use keymap::{Action, KeyContext};
use snapshots::{RunningJob, SnapshotSort};
use std::time::{Duration, Instant};
pub use vm::{
    BlockRow, ConnectionState, EVENT_LOG_BYTES, EVENT_LOG_LEN, HISTORY_LEN, History,
    PowerdownRequest, Vm,
};

/// Shortest and longest poll interval.
pub const INTERVAL_RANGE: (Duration, Duration) =
    (Duration::from_millis(250), Duration::from_secs(10));
/// After a power-down request, how long before the screen says the guest has not answered.
pub const POWERDOWN_PATIENCE: Duration = Duration::from_secs(10);

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

/// A question awaiting y or n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A dangerous command for the VM on screen.
    Vm(Dangerous),
    /// Revert the VM to a snapshot.
    SnapshotLoad(String),
    /// Delete a snapshot.
    SnapshotDelete(String),
    /// Some writable disks cannot take internal snapshots: snapshot the others?
    SnapshotSkipDisks {
        /// The VM it was raised for (the user may have moved to another meanwhile).
        vm: VmId,
        /// The tag to save.
        tag: String,
        /// Which disks and why (from the preflight).
        warning: String,
    },
    /// Pause (or resume) several VMs marked in the fleet view.
    Marked {
        /// Resume instead of pause.
        resume: bool,
        /// The VMs.
        vms: Vec<VmId>,
        /// Their names, for the question.
        names: Vec<String>,
    },
    /// A question of the devices screen (force eject, migrate, unplug).
    Monitor(devices::Ask),
}

impl Question {
    /// The VM the question is about when it is not the one on screen: a question raised in
    /// the background belongs to the VM it was raised for.
    pub fn vm(&self) -> Option<VmId> {
        match self {
            Question::SnapshotSkipDisks { vm, .. } => Some(*vm),
            _ => None,
        }
    }

    /// What is asked about, in a word or two.
    pub fn label(&self) -> &'static str {
        match self {
            Question::Vm(dangerous) => dangerous.label(),
            Question::SnapshotLoad(_) => "snapshot load",
            Question::SnapshotDelete(_) => "snapshot delete",
            Question::SnapshotSkipDisks { .. } => "snapshot save",
            Question::Marked { resume: true, .. } => "resume",
            Question::Marked { resume: false, .. } => "pause",
            Question::Monitor(ask) => ask.label(),
        }
    }

    /// The text of the question.
    pub fn text(&self, vm_name: &str) -> String {
        match self {
            Question::Vm(dangerous) => dangerous.question(vm_name),
            Question::SnapshotLoad(tag) => format!(
                "Load snapshot '{tag}'? The VM's current state will be replaced by snapshot '{tag}'."
            ),
            Question::SnapshotDelete(tag) => {
                format!(
                    "Delete snapshot '{tag}' from every disk of {vm_name}? It cannot be undone."
                )
            }
            Question::SnapshotSkipDisks { tag, warning, .. } => {
                format!(
                    "{vm_name}: {warning}. Save '{tag}' on the other disks? (y: snapshot the others, n: cancel)"
                )
            }
            Question::Marked { resume, names, .. } => format!(
                "{} {} VM{}: {}?",
                if *resume { "Resume" } else { "Pause" },
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            Question::Monitor(ask) => ask.text(vm_name),
        }
    }
}

/// Which screen is showing under any overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The table of all VMs.
    Fleet,
    /// One VM's dashboard.
    Vm,
    /// One VM's snapshots.
    Snapshots,
    /// The monitor console.
    Console,
    /// Removable media, network, hot-plug and migration.
    Devices,
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
    /// The dashboard panel that shows `list`, if it is one of the dashboard's.
    pub fn of(list: lists::ListId) -> Option<Panel> {
        match list {
            lists::ListId::Cpus => Some(Panel::Cpus),
            lists::ListId::Blocks => Some(Panel::Blocks),
            lists::ListId::Events => Some(Panel::Events),
            _ => None,
        }
    }

    /// The list the panel shows.
    pub fn list(self) -> lists::ListId {
        match self {
            Panel::Cpus => lists::ListId::Cpus,
            Panel::Blocks => lists::ListId::Blocks,
            Panel::Events => lists::ListId::Events,
        }
    }

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

/// How long an information message stays on the message line.
pub const INFO_LIFETIME: Duration = Duration::from_secs(10);
/// How long an error stays on the message line.
pub const ERROR_LIFETIME: Duration = Duration::from_secs(30);
/// Messages kept in the history.
pub const MESSAGE_HISTORY_LEN: usize = 500;

/// A message for the message line, kept in the history afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The text (QEMU's errors verbatim).
    pub text: String,
    /// Shown as an error.
    pub is_error: bool,
    /// When it was said (wall clock, for the history).
    pub at: chrono::DateTime<chrono::Local>,
    /// When it was said (monotonic, for fading); set when the model says it.
    pub said: Option<Instant>,
    /// The VM it is about, if any.
    pub vm: Option<VmId>,
    /// The screen it was said on; `None` for news from the background, which belongs to
    /// every screen of its VM and to the fleet table.
    pub view: Option<View>,
}

impl Message {
    /// A success or information message.
    pub fn info(text: impl Into<String>) -> Message {
        Message::new(text.into(), false)
    }

    /// An error message.
    pub fn error(text: impl Into<String>) -> Message {
        Message::new(text.into(), true)
    }

    fn new(text: String, is_error: bool) -> Message {
        Message {
            text,
            is_error,
            at: chrono::Local::now(),
            said: None,
            vm: None,
            view: None,
        }
    }

    /// True while it is young enough for the message line (errors stay longer).
    pub fn is_fresh(&self, now: Instant) -> bool {
        let lifetime = if self.is_error {
            ERROR_LIFETIME
        } else {
            INFO_LIFETIME
        };
        self.said
            .is_none_or(|said| now.saturating_duration_since(said) < lifetime)
    }
}

/// What an input line is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InputPurpose {
    /// The fleet table's filter (applied as it is typed).
    #[default]
    Filter,
    /// The tag of a new snapshot.
    SnapshotTag,
}

/// A line of text being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLine {
    /// What it is for.
    pub purpose: InputPurpose,
    /// What was typed so far.
    pub text: String,
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
    /// Read the VM's snapshot list; reported as [`AppEvent::SnapshotList`].
    ListSnapshots {
        /// Which VM.
        vm: VmId,
        /// The connection.
        client: Client,
    },
    /// Console, media, network, migration or hot-plug work; reported as
    /// [`AppEvent::Monitor`].
    Monitor {
        /// Which VM.
        vm: VmId,
        /// The connection.
        client: Client,
        /// What to do.
        job: crate::monitor::Job,
    },
    /// Append a command to the console history file; a failure comes back as
    /// [`AppEvent::Monitor`].
    SaveHistory {
        /// The VM whose console was used (for the message).
        vm: VmId,
        /// Where (`None`: nowhere known).
        path: Option<std::path::PathBuf>,
        /// The command as the history keeps it.
        line: String,
    },
    /// Run a snapshot job; reported as progress and [`AppEvent::SnapshotDone`].
    SnapshotJob {
        /// Which VM.
        vm: VmId,
        /// The connection.
        client: Client,
        /// Save, load or delete.
        operation: Operation,
        /// The tag.
        tag: String,
        /// Leave out writable disks that cannot take internal snapshots.
        skip_unsupported: bool,
    },
}

/// The whole state of the dashboard.
#[derive(Debug)]
pub struct Model {
    /// The watched VMs (ids are indices and never change; removed VMs stay, flagged).
    pub vms: Vec<Vm>,
    /// The VM shown in the VM view.
    pub current: VmId,
    /// The screen under any overlay.
    pub view: View,
    /// A question awaiting y or n.
    pub confirm: Option<Question>,
    /// The help overlay is open.
    pub help: bool,
    /// The fleet filter is being typed.
    pub input: Option<InputLine>,
    /// The fleet table's state.
    pub fleet: FleetState,
    /// The focused panel.
    pub focus: Panel,
    /// Selected block device row.
    pub selected_block: usize,
    /// Selected vCPU row.
    pub selected_cpu: usize,
    /// The event log's selected line, counted up from the newest (0: the newest, followed as
    /// events come).
    pub event_scroll: usize,
    /// Keys pressed while the terminal was too small to draw the dashboard (they do
    /// nothing; the too-small screen counts them so the user sees they were not taken).
    pub ignored_keys: usize,
    /// Rows a page key moves in the list on screen: the terminal loop sets it from the layout
    /// (`ui::page_rows`).
    pub page_rows: usize,
    /// The poll interval.
    pub interval: Duration,
    /// Only queries are sent.
    pub read_only: bool,
    /// The latest message (the message line shows the newest one that belongs to the screen
    /// and has not faded, see [`Model::message_for_screen`]).
    pub message: Option<Message>,
    /// Every message said, oldest first, bounded by [`MESSAGE_HISTORY_LEN`].
    pub messages: std::collections::VecDeque<Message>,
    /// The message history overlay is open.
    pub history_open: bool,
    /// History scroll, lines up from the newest.
    pub history_scroll: usize,
    /// The latest instant the model was given (act, apply, tick): when messages are said.
    clock: Option<Instant>,
    /// Set when the user quits the dashboard.
    pub should_quit: bool,
    /// The monitor console's input, mode and history.
    pub console: console::Console,
    /// The devices screen's tab, selections and prompt.
    pub devices: devices::DevicesUi,
}

impl Model {
    /// A model watching `targets`; with more than one, the fleet view opens first.
    pub fn new(targets: Vec<String>, interval: Duration, read_only: bool) -> Model {
        let view = if targets.len() > 1 {
            View::Fleet
        } else {
            View::Vm
        };
        Model {
            vms: targets.into_iter().map(Vm::new).collect(),
            current: 0,
            view,
            confirm: None,
            help: false,
            input: None,
            fleet: FleetState::default(),
            focus: Panel::Blocks,
            selected_block: 0,
            selected_cpu: 0,
            event_scroll: 0,
            page_rows: 10,
            ignored_keys: 0,
            interval,
            read_only,
            message: None,
            messages: std::collections::VecDeque::new(),
            history_open: false,
            history_scroll: 0,
            clock: None,
            should_quit: false,
            console: console::Console::default(),
            devices: devices::DevicesUi::default(),
        }
    }

    /// Adds a VM (found by discovery) and returns its id.
    pub fn add_vm(&mut self, target: String) -> VmId {
        self.vms.push(Vm::new(target));
        self.vms.len() - 1
    }

    /// Marks a VM as no longer watched (its socket went away) and frees what was gathered
    /// about it (histories, events, the connection); only its target and configured name stay,
    /// so that the socket coming back is this VM again ([`Model::restore_vm`]).
    pub fn remove_vm(&mut self, vm: VmId) {
        if let Some(entry) = self.vms.get_mut(vm) {
            let target = std::mem::take(&mut entry.target);
            let configured_name = entry.configured_name.take();
            let mut freed = Vm::new(target);
            freed.removed = true;
            freed.configured_name = configured_name;
            *entry = freed;
        }
        self.fleet.marked.remove(&vm);
    }

    /// Watches a removed VM again (its socket came back): the same id and row, starting afresh.
    /// Returns the VM's id, or `None` when no removed VM has this target.
    pub fn restore_vm(&mut self, target: &str) -> Option<VmId> {
        let vm = self
            .vms
            .iter()
            .position(|vm| vm.removed && vm.target == target)?;
        self.vms[vm].removed = false;
        Some(vm)
    }

    /// True when there is a fleet view to return to.
    pub fn has_fleet(&self) -> bool {
        self.vms.len() > 1
    }

    /// The VM on screen.
    pub fn vm(&self) -> Option<&Vm> {
        self.vms.get(self.current)
    }

    /// Which key table applies now.
    pub fn key_context(&self) -> KeyContext {
        if self.confirm.is_some() {
            KeyContext::Confirm
        } else if self.help {
            KeyContext::Help
        } else if self.history_open {
            KeyContext::Messages
        } else if self.input.is_some() {
            KeyContext::Input
        } else {
            self.base_context()
        }
    }

    /// The key table of the view under the overlays (the help lists it).
    pub fn base_context(&self) -> KeyContext {
        match self.view {
            View::Fleet => KeyContext::Fleet,
            View::Vm => KeyContext::Main,
            View::Snapshots => KeyContext::Snapshots,
            View::Console => KeyContext::Console,
            View::Devices => self.devices.key_context(),
        }
    }

    /// Says `message` on the screen showing now (the fleet, or a screen of the current VM).
    pub fn say(&mut self, message: Message) {
        let vm = (self.view != View::Fleet).then_some(self.current);
        self.record(Message {
            vm,
            view: Some(self.view),
            ..message
        });
    }

    /// Says `message` on every screen: news about the whole program (the event log file, the
    /// discovery directory, the targets), not about one VM.
    pub fn say_everywhere(&mut self, message: Message) {
        self.record(Message {
            vm: None,
            view: None,
            ..message
        });
    }

    /// Says `message` as news about `vm` from the background, for every screen of that VM.
    pub(crate) fn say_about(&mut self, vm: VmId, message: Message) {
        self.record(Message {
            vm: Some(vm),
            view: None,
            ..message
        });
    }

    fn record(&mut self, mut message: Message) {
        message.said = Some(self.clock.unwrap_or_else(Instant::now));
        if self.messages.len() == MESSAGE_HISTORY_LEN {
            self.messages.pop_front();
        }
        self.messages.push_back(message.clone());
        self.message = Some(message);
    }

    /// Shows an information message from outside the model on every screen (e.g. a note about
    /// the targets).
    pub fn note(&mut self, text: &str) {
        self.say_everywhere(Message::info(text));
    }

    /// The message the message line shows now: the newest that belongs to this screen (said
    /// on it, or background news about its VM; the fleet shows news about every VM) and has
    /// not faded.
    pub fn message_for_screen(&self, now: Instant) -> Option<&Message> {
        self.messages.iter().rev().find(|message| {
            let everywhere = message.vm.is_none() && message.view.is_none();
            let belongs = everywhere
                || match (self.view, message.view) {
                    (View::Fleet, view) => view.is_none_or(|v| v == View::Fleet),
                    (view, said_on) => {
                        message.vm == Some(self.current) && said_on.is_none_or(|v| v == view)
                    }
                };
            belongs && message.is_fresh(now)
        })
    }

    /// Applies news from a background task.
    pub fn apply(&mut self, event: AppEvent, now: Instant) {
        self.clock = Some(now);
        let vm_id = crate::runtime::vm_of(&event);
        let Some(vm) = self.vms.get_mut(vm_id) else {
            return;
        };
        if vm.removed {
            return;
        }
        if let AppEvent::SnapshotDone {
            unsupported_disks: true,
            operation: Operation::Save,
            tag,
            result: Err(warning),
            ..
        } = &event
        {
            vm.snapshots.job = None;
            self.confirm = Some(Question::SnapshotSkipDisks {
                vm: vm_id,
                tag: tag.clone(),
                warning: warning.clone(),
            });
            return;
        }
        self.form_sees(&event);
        let Some(vm) = self.vms.get_mut(vm_id) else {
            return;
        };
        if let Some(message) = vm.apply(event, now) {
            self.say_about(vm_id, message);
        }
        if vm_id == self.current {
            let blocks = self.vms[vm_id].blocks.len();
            self.selected_block = self.selected_block.min(blocks.saturating_sub(1));
        }
    }

    /// Time passes: reports a power-down the guest has not answered.
    pub fn tick(&mut self, now: Instant) {
        self.clock = Some(now);
        let mut silent = None;
        for (id, vm) in self.vms.iter_mut().enumerate() {
            if let Some(request) = vm.powerdown.as_mut()
                && !request.reported_silence
                && now.duration_since(request.sent_at) >= POWERDOWN_PATIENCE
            {
                request.reported_silence = true;
                silent = Some((id, vm.display_name().to_string()));
            }
        }
        if let Some((id, name)) = silent {
            self.say_about(id, Message::error(format!(
                    "{name}: the guest has not answered the power-down request after {} s (no ACPI support, or it is still shutting down; Q quits QEMU)",
                    POWERDOWN_PATIENCE.as_secs()
            )));
        }
        self.tick_monitor(now);
    }

    /// Why `what` may not be sent to `vm`, if it may not: read-only mode, controls off for
    /// the VM (a libvirt domain), or a connection that does not hold the socket.
    pub fn refusal(&self, vm: VmId, what: &str) -> Option<String> {
        if self.read_only {
            return Some(format!("read-only: {what} was not sent"));
        }
        let entry = self.vms.get(vm)?;
        if let Some(why) = entry.controls_off {
            return Some(format!("{what} was not sent: {why}"));
        }
        if !entry.abilities.holds_socket {
            return Some(format!(
                "{what} was not sent: controls are off in polite mode (--share), which lets go \
                 of the socket between polls"
            ));
        }
        None
    }

    /// True (after saying why) when `what` may not be sent to `vm`.
    fn refuse(&mut self, vm: VmId, what: &str) -> bool {
        match self.refusal(vm, what) {
            Some(text) => {
                self.say(Message::error(text));
                true
            }
            None => false,
        }
    }

    fn execute(&mut self, vm: VmId, command: &'static str, what: &'static str) -> Vec<Effect> {
        if self.refuse(vm, what) {
            return Vec::new();
        }
        match self.vms.get(vm).and_then(|vm| vm.client.clone()) {
            Some(client) => vec![Effect::Execute {
                vm,
                client,
                command,
                what,
            }],
            None => {
                self.say(Message::error(format!(
                    "not connected: {what} was not sent"
                )));
                Vec::new()
            }
        }
    }

    fn ask(&mut self, question: Question) {
        let vm = question.vm().unwrap_or(self.current);
        let blocked = match &question {
            // Each marked VM is checked when the answer comes.
            Question::Marked { .. } => self.read_only && self.refuse(vm, question.label()),
            _ => self.refuse(vm, question.label()),
        };
        if !blocked {
            self.confirm = Some(question);
        }
    }

    /// Applies a user action; returns the effects to run.
    pub fn act(&mut self, action: Action, now: Instant) -> Vec<Effect> {
        self.clock = Some(now);
        if action == Action::QuitDashboard {
            self.should_quit = true;
            return Vec::new();
        }
        if let Some(question) = self.confirm.take() {
            return match action {
                Action::Confirm => self.answer_yes(question, now),
                Action::Cancel => {
                    self.say(Message::info(format!("{}: cancelled", question.label())));
                    Vec::new()
                }
                _ => {
                    self.confirm = Some(question);
                    Vec::new()
                }
            };
        }
        if self.help {
            if matches!(action, Action::Cancel | Action::Help) {
                self.help = false;
            }
            return Vec::new();
        }
        if self.history_open {
            let last = self.messages.len().saturating_sub(1);
            let scroll = self.history_scroll;
            match action {
                Action::Up => self.history_scroll = (scroll + 1).min(last),
                Action::Down => self.history_scroll = scroll.saturating_sub(1),
                Action::PageUp => self.history_scroll = (scroll + 10).min(last),
                Action::PageDown => self.history_scroll = scroll.saturating_sub(10),
                Action::Cancel | Action::Messages => self.history_open = false,
                _ => {}
            }
            return Vec::new();
        }
        if let Some(input) = self.input.as_mut() {
            let purpose = input.purpose;
            match action {
                Action::Char(c) => input.text.push(c),
                Action::Backspace => {
                    input.text.pop();
                }
                Action::Submit if purpose == InputPurpose::SnapshotTag => {
                    let tag = input.text.clone();
                    return self.submit_snapshot_tag(tag);
                }
                Action::Submit => self.input = None,
                Action::Cancel => {
                    self.input = None;
                    if purpose == InputPurpose::Filter {
                        self.fleet.filter.clear();
                    }
                }
                _ => {}
            }
            if purpose == InputPurpose::Filter {
                if let Some(input) = &self.input {
                    self.fleet.filter = input.text.clone();
                }
                self.fleet.selected = None;
            }
            return Vec::new();
        }
        if let Action::Pointer(pointer) = action {
            self.point(pointer);
            return Vec::new();
        }
        if action == Action::Messages {
            self.history_open = true;
            self.history_scroll = 0;
            return Vec::new();
        }
        match self.view {
            View::Fleet => self.act_fleet(action, now),
            View::Vm => self.act_vm(action),
            View::Snapshots => self.act_snapshots(action),
            View::Console => self.act_console(action),
            View::Devices => self.act_devices(action),
        }
    }

    fn answer_yes(&mut self, question: Question, now: Instant) -> Vec<Effect> {
        match question {
            Question::Vm(dangerous) => {
                let effects = self.execute(self.current, dangerous.command(), dangerous.label());
                // Wait for the guest's answer from the moment the request leaves: its SHUTDOWN
                // may be read before the command's own result comes back to the loop.
                if dangerous == Dangerous::PowerDown
                    && !effects.is_empty()
                    && let Some(vm) = self.vms.get_mut(self.current)
                {
                    vm.powerdown = Some(PowerdownRequest {
                        sent_at: now,
                        reported_silence: false,
                    });
                }
                effects
            }
            Question::SnapshotLoad(tag) => {
                self.snapshot_job(self.current, Operation::Load, tag, false)
            }
            Question::SnapshotDelete(tag) => {
                self.snapshot_job(self.current, Operation::Delete, tag, false)
            }
            Question::SnapshotSkipDisks { vm, tag, .. } => {
                self.snapshot_job(vm, Operation::Save, tag, true)
            }
            Question::Marked { resume, vms, .. } => {
                let (command, what) = if resume {
                    ("cont", "resume")
                } else {
                    ("stop", "pause")
                };
                let effects: Vec<Effect> = vms
                    .into_iter()
                    .flat_map(|vm| self.execute(vm, command, what))
                    .collect();
                self.fleet.marked.clear();
                effects
            }
            Question::Monitor(ask) => self.answer_monitor(ask),
        }
    }

    fn change_interval(&mut self, faster: bool) -> Vec<Effect> {
        let factor = if faster { 0.5 } else { 2.0 };
        let next = self
            .interval
            .mul_f64(factor)
            .clamp(INTERVAL_RANGE.0, INTERVAL_RANGE.1);
        self.interval = next;
        self.say(Message::info(format!(
            "polling every {}",
            crate::format::seconds(next)
        )));
        vec![Effect::SetInterval(next)]
    }

    fn act_fleet(&mut self, action: Action, now: Instant) -> Vec<Effect> {
        if let Some(movement) = lists::Movement::of(action) {
            self.move_list(lists::ListId::Fleet, movement);
            return Vec::new();
        }
        let rows = self.fleet.rows(&self.vms, now);
        match action {
            Action::Open => {
                if let Some(vm) = self.fleet.selected_vm(&self.vms, now) {
                    self.current = vm;
                    self.view = View::Vm;
                    self.selected_block = 0;
                    self.selected_cpu = 0;
                    self.event_scroll = 0;
                }
            }
            Action::Mark => {
                if let Some(vm) = self.fleet.selected_vm(&self.vms, now)
                    && !self.fleet.marked.remove(&vm)
                {
                    self.fleet.marked.insert(vm);
                }
                self.fleet.move_cursor(&rows, 1);
            }
            Action::TogglePause => {
                let targets: Vec<VmId> = if self.fleet.marked.is_empty() {
                    self.fleet.selected_vm(&self.vms, now).into_iter().collect()
                } else {
                    self.fleet.marked.iter().copied().collect()
                };
                let running = |vm: &VmId| self.vms[*vm].status.as_ref().is_some_and(|s| s.running);
                let resume = !targets.iter().any(running);
                let vms: Vec<VmId> = targets
                    .into_iter()
                    .filter(|vm| running(vm) != resume)
                    .collect();
                if vms.is_empty() {
                    self.say(Message::error("nothing to pause or resume"));
                } else {
                    let names = vms
                        .iter()
                        .map(|&vm| self.vms[vm].display_name().to_string())
                        .collect();
                    self.ask(Question::Marked { resume, vms, names });
                }
            }
            Action::Sort(column) => {
                if let Some(&column) = FleetColumn::ALL.get(column as usize) {
                    self.fleet.sort_by(column);
                }
            }
            Action::Filter => {
                self.input = Some(InputLine {
                    purpose: InputPurpose::Filter,
                    text: self.fleet.filter.clone(),
                });
            }
            Action::Cancel => self.fleet.filter.clear(),
            Action::Help => self.help = true,
            Action::Faster | Action::Slower => {
                return self.change_interval(action == Action::Faster);
            }
            _ => {}
        }
        Vec::new()
    }

    fn act_vm(&mut self, action: Action) -> Vec<Effect> {
        if let Some(movement) = lists::Movement::of(action) {
            self.move_list(self.focus.list(), movement);
            return Vec::new();
        }
        match action {
            Action::TogglePause => {
                let running = self
                    .vm()
                    .and_then(|vm| vm.status.as_ref())
                    .is_some_and(|s| s.running);
                if running {
                    return self.execute(self.current, "stop", "pause");
                }
                return self.execute(self.current, "cont", "resume");
            }
            Action::Reset => self.ask(Question::Vm(Dangerous::Reset)),
            Action::PowerDown => self.ask(Question::Vm(Dangerous::PowerDown)),
            Action::QuitVm => self.ask(Question::Vm(Dangerous::QuitVm)),
            Action::Help => self.help = true,
            Action::Cancel if self.has_fleet() => self.view = View::Fleet,
            Action::FocusNext | Action::FocusPrevious => {
                self.focus = self.focus.step(action == Action::FocusNext);
            }
            Action::Faster | Action::Slower => {
                return self.change_interval(action == Action::Faster);
            }
            Action::Snapshots => {
                self.view = View::Snapshots;
                return self.list_snapshots();
            }
            Action::Monitor(key) => return self.act_monitor_key(key),
            _ => {}
        }
        Vec::new()
    }

    fn list_snapshots(&mut self) -> Vec<Effect> {
        let vm = self.current;
        match self.vms.get(vm).and_then(|v| v.client.clone()) {
            Some(client) => vec![Effect::ListSnapshots { vm, client }],
            None => {
                self.say(Message::error("not connected: cannot list snapshots"));
                Vec::new()
            }
        }
    }

    /// Starts a snapshot job on `vm`, unless read-only or another job runs. QEMU has no job
    /// yet (the disks are checked first): "started" is said when its first progress comes.
    fn snapshot_job(
        &mut self,
        vm: VmId,
        operation: Operation,
        tag: String,
        skip_unsupported: bool,
    ) -> Vec<Effect> {
        if self.refuse(vm, &format!("snapshot {operation}")) {
            return Vec::new();
        }
        let Some(entry) = self.vms.get_mut(vm) else {
            return Vec::new();
        };
        let name = entry.display_name().to_string();
        let Some(client) = entry.client.clone() else {
            self.say(Message::error(format!(
                "not connected: snapshot {operation} was not sent"
            )));
            return Vec::new();
        };
        let job = RunningJob {
            operation,
            tag: tag.clone(),
            progress: None,
        };
        if let Err(refusal) = entry.start_snapshot_job(job) {
            self.say(Message::error(refusal));
            return Vec::new();
        }
        let whose = if vm == self.current {
            String::new()
        } else {
            format!("{name}: ")
        };
        self.say(Message::info(format!(
            "{whose}snapshot {operation} '{tag}': checking the disks…"
        )));
        vec![Effect::SnapshotJob {
            vm,
            client,
            operation,
            tag,
            skip_unsupported,
        }]
    }

    /// Refuses a new job while one runs (and in read-only mode), saying why.
    fn can_start_snapshot_job(&mut self, what: &str) -> bool {
        if self.refuse(self.current, &format!("snapshot {what}")) {
            return false;
        }
        if let Some(job) = self.vm().and_then(|vm| vm.snapshots.job.as_ref()) {
            let text = format!(
                "a snapshot job is running: {}; wait for it to finish",
                job.describe()
            );
            self.say(Message::error(text));
            return false;
        }
        true
    }

    fn submit_snapshot_tag(&mut self, tag: String) -> Vec<Effect> {
        let existing = self
            .vm()
            .map(|vm| vm.snapshots.snapshots.clone())
            .unwrap_or_default();
        match crate::snapshot::validate_tag(&tag, &existing) {
            Ok(()) => {
                self.input = None;
                self.snapshot_job(self.current, Operation::Save, tag, false)
            }
            // Keep the prompt open so the user can pick another tag.
            Err(error) => {
                self.say(Message::error(error.to_string()));
                Vec::new()
            }
        }
    }

    fn act_snapshots(&mut self, action: Action) -> Vec<Effect> {
        if let Some(movement) = lists::Movement::of(action) {
            self.move_list(lists::ListId::Snapshots, movement);
            return Vec::new();
        }
        let selected = self
            .vm()
            .and_then(|vm| vm.snapshots.selected_tag())
            .map(str::to_string);
        match action {
            Action::SnapshotCreate if self.can_start_snapshot_job("save") => {
                let existing = self
                    .vm()
                    .map(|vm| vm.snapshots.snapshots.clone())
                    .unwrap_or_default();
                self.input = Some(InputLine {
                    purpose: InputPurpose::SnapshotTag,
                    text: crate::snapshot::suggest_free_tag(&chrono::Local::now(), &existing),
                });
            }
            Action::SnapshotLoad | Action::SnapshotDelete => match selected {
                Some(tag) => {
                    let load = action == Action::SnapshotLoad;
                    if self.can_start_snapshot_job(if load { "load" } else { "delete" }) {
                        self.confirm = Some(if load {
                            Question::SnapshotLoad(tag)
                        } else {
                            Question::SnapshotDelete(tag)
                        });
                    }
                }
                None => self.say(Message::error("no snapshot selected")),
            },
            Action::SortByName | Action::SortByDate => {
                let sort = if action == Action::SortByName {
                    SnapshotSort::Name
                } else {
                    SnapshotSort::Date
                };
                if let Some(vm) = self.vms.get_mut(self.current) {
                    vm.snapshots.sort_by(sort);
                }
            }
            Action::Refresh => return self.list_snapshots(),
            Action::Cancel => self.view = View::Vm,
            Action::Help => self.help = true,
            _ => {}
        }
        Vec::new()
    }
}
