//! The dashboard's state ([`Model`]) and how it changes: [`Model::apply`] for background
//! news, [`Model::act`] for keys, [`Model::tick`] for time.
//!
//! No I/O and no terminal; the one outside thing it reads is the clock. Keys that need QEMU
//! return [`Effect`]s that the runtime spawns; their results come back as
//! [`AppEvent::CommandDone`]. Keyed by VM: one VM shows the dashboard, several show the fleet
//! table first.

mod console;
mod dashboard;
mod devices;
mod effect;
mod fleet;
mod help;
mod input;
pub mod keymap;
mod lists;
mod message;
mod pointer;
mod prompt;
mod question;
mod snapshots;
mod vm;

use crate::news::{AppEvent, EventRecord, VmCommand, VmId};
use crate::snapshot::Operation;
pub use console::LineKind;
pub use dashboard::Panel;
pub use devices::{Form, Tab};
pub use effect::Effect;
pub use fleet::{FleetColumn, FleetState};
pub use help::HelpLine;
pub use input::{Edit, LineEditor};
use keymap::{Action, KeyContext, Keymap};
pub use message::{ERROR_LIFETIME, INFO_LIFETIME, MESSAGE_HISTORY_LEN, Message};
pub use pointer::{ListId, Pointer};
pub use prompt::{InputLine, InputPurpose, matches_filter};
pub use question::{Dangerous, Question};
pub use snapshots::{RunningJob, SnapshotSort};
use std::time::{Duration, Instant};
pub use vm::{
    BUSY, BlockRow, ConnectionState, EVENT_LOG_BYTES, EVENT_LOG_LEN, HISTORY_LEN, History,
    NOT_ANSWERING, PowerdownRequest, Vm,
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
    pub messages_open: bool,
    /// The message history's scroll, messages up from the newest.
    pub messages_scroll: usize,
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
            messages_open: false,
            messages_scroll: 0,
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

    /// Whether `news` brings what a user waits to see: anything but routine news, and a sample
    /// that changes a VM's run state (the `● paused` after `p` comes with the poll that the
    /// STOP event asked for). Call before applying it.
    pub fn awaits(&self, news: &AppEvent) -> bool {
        match news {
            AppEvent::Sample { vm, sample } => self.vms.get(*vm).is_some_and(|known| {
                known.status.as_ref().is_none_or(|status| {
                    status.running != sample.status.running || status.status != sample.status.status
                })
            }),
            _ => !news.is_routine(),
        }
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
        } else if self.messages_open {
            KeyContext::Messages
        } else if self.event_detail.is_some() {
            KeyContext::EventDetail
        } else if self.input.is_some() {
            KeyContext::Prompt
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
            operation: Operation::Save,
            tag,
            result: Err(warning @ crate::snapshot::SnapshotError::UnsupportedDisks { .. }),
            ..
        } = &event
        {
            vm.snapshots.job = None;
            self.confirm = Some(Question::SnapshotSkipDisks {
                vm: vm_id,
                tag: tag.clone(),
                warning: warning.to_string(),
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

    /// Time passes: reports a power-down the guest has not answered (and an unplug QEMU
    /// still waits for). Returns whether it said something.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.clock = Some(now);
        let mut silent = None;
        for (id, vm) in self.vms.iter_mut().enumerate() {
            if let Some(request) = vm.powerdown.as_mut()
                && !request.reported_silence
                && now.duration_since(request.sent_at) >= POWERDOWN_PATIENCE
            {
                request.reported_silence = true;
                silent = Some(id);
            }
        }
        let said = silent.is_some();
        if let Some(id) = silent {
            self.say_about(id, Message::error(format!(
                    "the guest has not answered the power-down request after {} s (no ACPI support, or it is still shutting down; Q quits QEMU)",
                    POWERDOWN_PATIENCE.as_secs()
            )));
        }
        self.tick_monitor(now) || said
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
        let refusal = format!("not connected: {what} was not sent");
        self.when_connected(vm, Effect::Execute { vm, command }, refusal)
    }

    /// `effect`, when `vm` is connected; otherwise nothing, and `refusal` on the message line.
    /// (The runtime holds the connections; the model only knows whether there is one.)
    fn when_connected(&mut self, vm: VmId, effect: Effect, refusal: String) -> Vec<Effect> {
        if self.vms.get(vm).is_some_and(Vm::is_connected) {
            vec![effect]
        } else {
            self.say(Message::error(refusal));
            Vec::new()
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
        if self.messages_open {
            let last = self.messages.len().saturating_sub(1);
            let scroll = self.messages_scroll;
            match action {
                Action::Up => self.messages_scroll = (scroll + 1).min(last),
                Action::Down => self.messages_scroll = scroll.saturating_sub(1),
                Action::PageUp => self.messages_scroll = (scroll + 10).min(last),
                Action::PageDown => self.messages_scroll = scroll.saturating_sub(10),
                Action::Cancel | Action::Messages => self.messages_open = false,
                _ => {}
            }
            return Vec::new();
        }
        if action == Action::Messages {
            self.messages_open = true;
            self.messages_scroll = 0;
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
            if let Pointer::Tab(index) = pointer {
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
