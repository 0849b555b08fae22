//! The dashboard's state ([`Model`]) and the only code that changes it ([`Model::apply`] for
//! background news, [`Model::act`] for keys, [`Model::tick`] for time).
//!
//! Pure: no I/O, no terminal. Keys that need QEMU return [`Effect`]s that the runtime
//! spawns; their results come back as [`AppEvent::CommandDone`]. Keyed by VM: one VM shows
//! the dashboard, several show the fleet table first.

pub mod console;
mod dashboard;
pub mod devices;
pub mod fleet;
pub mod help;
pub mod input;
pub mod keymap;
pub mod lists;
mod pointer;
mod prompt;
mod question;
pub mod snapshots;
pub mod vm;

use crate::news::{AppEvent, EventRecord, VmCommand, VmId};
use crate::qmp::Client;
use crate::snapshot::Operation;
pub use dashboard::Panel;
use fleet::FleetState;
use keymap::{Action, KeyContext, Keymap};
pub use prompt::{InputLine, InputPurpose, matches_filter};
pub use question::{Dangerous, Question};
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

/// Work for the runtime.
#[derive(Debug)]
pub enum Effect {
    /// Send a command to a VM; report the result as [`AppEvent::CommandDone`].
    Execute {
        /// Which VM.
        vm: VmId,
        /// The connection to use.
        client: Client,
        /// The command.
        command: VmCommand,
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
    /// The help's first line in view (it scrolls on a small terminal).
    pub help_scroll: usize,
    /// A prompt line is open (snapshot tag, a filter).
    pub input: Option<InputLine>,
    /// The key table, with the config's moves.
    pub keys: Keymap,
    /// The event log shows only events holding this text (any case).
    pub event_filter: String,
    /// One event's full data is open over the dashboard.
    pub event_detail: Option<EventRecord>,
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
            help_scroll: 0,
            input: None,
            keys: Keymap::default(),
            event_filter: String::new(),
            event_detail: None,
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
        } else if self.event_detail.is_some() {
            KeyContext::EventDetail
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
            View::Vm => KeyContext::Vm,
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
        let vm_id = event.vm();
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
    pub(crate) fn refuse(&mut self, vm: VmId, what: &str) -> bool {
        match self.refusal(vm, what) {
            Some(text) => {
                self.say(Message::error(text));
                true
            }
            None => false,
        }
    }

    fn execute(&mut self, vm: VmId, command: VmCommand) -> Vec<Effect> {
        let what = command.label();
        if self.refuse(vm, what) {
            return Vec::new();
        }
        match self.vms.get(vm).and_then(|vm| vm.client.clone()) {
            Some(client) => vec![Effect::Execute {
                vm,
                client,
                command,
            }],
            None => {
                self.say(Message::error(format!(
                    "not connected: {what} was not sent"
                )));
                Vec::new()
            }
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
            self.act_help(action);
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
        if action == Action::Messages {
            self.history_open = true;
            self.history_scroll = 0;
            return Vec::new();
        }
        if self.event_detail.is_some() {
            if action == Action::Cancel {
                self.event_detail = None;
            }
            return Vec::new();
        }
        if self.input.is_some() {
            return self.act_prompt(action);
        }
        if let Action::Pointer(pointer) = action {
            if let lists::Pointer::Tab(index) = pointer {
                return self.click_tab(index);
            }
            self.point(pointer);
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
}
