//! The devices screen: tabs for removable media, network, hot-plug and migration, their keys
//! and questions, what each VM's monitor state is ([`VmMonitor`]) and how the monitor's news
//! changes it. The tabs' prompts are in `form`.
//!
//! No I/O, like the rest of the model: input is validated here (rules, specs, URIs) and the
//! work goes out as [`Effect::Monitor`]. Under `--read-only` only queries are sent.

mod form;
pub use form::{Form, FormKind};

use super::console::Transcript;
use super::keymap::{Action, KeyContext, MonitorKey};
use super::{Effect, Message, Model, Question, View, Vm};
use crate::monitor::hotplug::Peripheral;
use crate::monitor::media;
use crate::monitor::migration::MigrationInfo;
use crate::monitor::network::{self, NetworkInfo};
use crate::monitor::{CommandNames, Job, MonitorError, News};
use crate::news::EventRecord;
use crate::qmp::types::BlockInfo;
use serde_json::Value;
use std::time::{Duration, Instant};

/// After `device_del`, how long before the screen says `DEVICE_DELETED` has not come.
pub const UNPLUG_PATIENCE: Duration = Duration::from_secs(5);

/// A tab of the devices screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tab {
    /// Removable media: trays, eject, change medium.
    #[default]
    Media,
    /// NICs, netdevs, user-mode networking and host forwards.
    Network,
    /// Devices with ids: device_add, device_del.
    Hotplug,
    /// Migration status, start, cancel.
    Migration,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 4] = [Tab::Media, Tab::Network, Tab::Hotplug, Tab::Migration];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Media => "Media",
            Tab::Network => "Network",
            Tab::Hotplug => "Devices",
            Tab::Migration => "Migration",
        }
    }

    /// The key that opens it.
    pub fn key(self) -> &'static str {
        match self {
            Tab::Media => "m",
            Tab::Network => "n",
            Tab::Hotplug => "d",
            Tab::Migration => "M",
        }
    }

    fn step(self, forward: bool) -> Tab {
        let at = Self::ALL.iter().position(|&t| t == self).unwrap_or(0);
        let len = Self::ALL.len();
        Self::ALL[if forward {
            (at + 1) % len
        } else {
            (at + len - 1) % len
        }]
    }

    /// The list the tab's movement keys move (the migration tab has none).
    pub fn list(self) -> Option<super::ListId> {
        use super::ListId;
        match self {
            Tab::Media => Some(ListId::Media),
            Tab::Network => Some(ListId::Forwards),
            Tab::Hotplug => Some(ListId::Hotplug),
            Tab::Migration => None,
        }
    }

    fn context(self) -> KeyContext {
        match self {
            Tab::Media => KeyContext::Media,
            Tab::Network => KeyContext::Network,
            Tab::Hotplug => KeyContext::Hotplug,
            Tab::Migration => KeyContext::Migration,
        }
    }
}

/// A monitor question (y/n).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceQuestion {
    /// Eject although the guest locked the tray.
    ForceEject {
        /// The device's arguments.
        device: Value,
        /// Its name.
        name: String,
    },
    /// Start a migration.
    Migrate {
        /// The destination.
        uri: String,
    },
    /// Unplug a device.
    DeleteDevice {
        /// The device's id.
        id: String,
    },
}

impl DeviceQuestion {
    /// What is asked about, in a word or two.
    pub fn label(&self) -> &'static str {
        match self {
            DeviceQuestion::ForceEject { .. } => "force eject",
            DeviceQuestion::Migrate { .. } => "migration",
            DeviceQuestion::DeleteDevice { .. } => "device_del",
        }
    }

    /// The question.
    pub fn text(&self, vm: &str) -> String {
        match self {
            DeviceQuestion::ForceEject { name, .. } => format!(
                "Force the medium out of {name}? If the guest locked the tray it may be reading from it."
            ),
            DeviceQuestion::Migrate { uri } if uri.starts_with("exec:") => format!(
                "Migrate {vm} to {uri}? QEMU runs that command on its host. When the migration completes, {vm} stays paused here."
            ),
            DeviceQuestion::Migrate { uri } => format!(
                "Migrate {vm} to {uri}? When the migration completes, {vm} stays paused here."
            ),
            DeviceQuestion::DeleteDevice { id } => format!(
                "Unplug {id} from {vm}? PCI devices go only when the guest releases them (ACPI)."
            ),
        }
    }
}

/// The devices screen's state (shared by every VM).
#[derive(Debug, Clone, Default)]
pub struct DevicesUi {
    /// The tab shown.
    pub tab: Tab,
    /// Selected removable device.
    pub media_selected: usize,
    /// Selected host forward.
    pub forward_selected: usize,
    /// Selected device.
    pub device_selected: usize,
    /// An open prompt.
    pub form: Option<Form>,
}

impl DevicesUi {
    /// The key table of the screen: the prompt's, else the tab's.
    pub fn key_context(&self) -> KeyContext {
        if self.form.is_some() {
            KeyContext::Form
        } else {
            self.tab.context()
        }
    }
}

/// A `device_del` waiting for `DEVICE_DELETED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplug {
    /// The device's id.
    pub id: String,
    /// When QEMU accepted the request.
    pub since: Instant,
    /// Whether the "still waiting" message was shown.
    pub reported: bool,
}

/// One VM's monitor state.
#[derive(Debug, Clone, Default)]
pub struct VmMonitor {
    /// The console transcript.
    pub console: Transcript,
    /// NICs and user-mode networking, once read.
    pub network: Option<Result<NetworkInfo, MonitorError>>,
    /// Devices with ids, once listed.
    pub devices: Option<Result<Vec<Peripheral>, MonitorError>>,
    /// The latest migration state.
    pub migration: Option<MigrationInfo>,
    /// Unplug requests without `DEVICE_DELETED` yet.
    pub unplugs: Vec<Unplug>,
    /// The command names the console completes (asked for when the console first opens).
    pub commands: Option<CommandNames>,
    /// The device drivers the hot-plug prompt completes (asked for when it first opens).
    pub device_types: Option<Result<Vec<String>, MonitorError>>,
}

impl VmMonitor {
    /// The host forwards on screen.
    pub fn forwards(&self) -> Vec<&network::UsernetEntry> {
        match &self.network {
            Some(Ok(info)) => info.forwards(),
            _ => Vec::new(),
        }
    }

    /// The devices on screen.
    pub fn device_list(&self) -> &[Peripheral] {
        match &self.devices {
            Some(Ok(list)) => list,
            _ => &[],
        }
    }

    /// True while a migration runs.
    pub fn migrating(&self) -> bool {
        self.migration
            .as_ref()
            .is_some_and(MigrationInfo::is_active)
    }
}

impl Vm {
    /// The removable block devices.
    pub fn removable(&self) -> Vec<&BlockInfo> {
        self.block_info.iter().filter(|b| b.removable).collect()
    }

    /// Applies news from the monitor's tasks.
    pub fn apply_monitor(&mut self, news: News, _now: Instant) -> Option<Message> {
        match news {
            News::Console { result, .. } => {
                let console = &mut self.monitor.console;
                console.pending = console.pending.saturating_sub(1);
                match result {
                    Ok(text) => console.push(super::console::LineKind::Output, &text),
                    Err(error) => console.push(
                        super::console::LineKind::Error,
                        &crate::monitor::console::error_text(&error),
                    ),
                }
            }
            News::BlockInfo(blocks) => self.block_info = blocks,
            News::Network(result) => self.monitor.network = Some(result),
            News::Devices(result) => self.monitor.devices = Some(result),
            News::Migration(info) => {
                // A snapshot save shows in query-migrate too: it is not a migration, and it
                // must not replace the record of a real one.
                if info.is_snapshot_save() {
                    self.monitor
                        .migration
                        .get_or_insert_with(MigrationInfo::default);
                    return None;
                }
                // The first report after connecting may be an old migration's end: only a
                // change seen here is news.
                let changed = self
                    .monitor
                    .migration
                    .as_ref()
                    .is_some_and(|before| *before != info);
                let message = match info.status() {
                    _ if !changed || info.is_active() => None,
                    "none" => None,
                    "completed" => Some(Message::info(format!(
                        "migration completed in {:.1} s (downtime {} ms)",
                        info.total_time.unwrap_or(0) as f64 / 1000.0,
                        info.downtime.unwrap_or(0)
                    ))),
                    "failed" => Some(Message::error(format!(
                        "migration failed: {}",
                        info.error_desc.as_deref().unwrap_or("QEMU gave no reason")
                    ))),
                    status => Some(Message::info(format!("migration {status}"))),
                };
                self.monitor.migration = Some(info);
                return message;
            }
            News::Done { job, result } => {
                let what = job.what();
                return Some(match result {
                    Ok(text) => Message::info(text),
                    Err(error @ MonitorError::TrayLocked { .. }) => Message::error(format!(
                        "{what} failed: {error}; E ejects by force (asks first)"
                    )),
                    Err(error) => Message::error(format!("{what} failed: {error}")),
                });
            }
            News::UnplugRequested { id } => {
                let text = format!("device_del {id}: accepted; waiting for DEVICE_DELETED…");
                self.monitor.unplugs.retain(|u| u.id != id);
                self.monitor.unplugs.push(Unplug {
                    id,
                    since: _now,
                    reported: false,
                });
                return Some(Message::info(text));
            }
            News::HistoryNotSaved(error) => {
                return Some(Message::error(format!(
                    "console history not saved: {error}"
                )));
            }
            News::CommandNames(names) => self.monitor.commands = Some(names),
            News::DeviceTypes(types) => self.monitor.device_types = Some(types),
            // The open prompt takes them (see `Model::form_sees`).
            News::Paths { .. } => {}
        }
        None
    }

    /// Keeps the monitor's state in step with an event; a message when one is due.
    pub fn note_monitor_event(&mut self, record: &EventRecord) -> Option<Message> {
        let text = |key: &str| record.data.get(key).and_then(Value::as_str);
        match record.name.as_str() {
            "DEVICE_TRAY_MOVED" => {
                let open = record.data.get("tray-open").and_then(Value::as_bool);
                for info in &mut self.block_info {
                    let by_drive = !info.device.is_empty() && text("device") == Some(&info.device);
                    let by_qdev = info.qdev.is_some() && text("id") == info.qdev.as_deref();
                    if by_drive || by_qdev {
                        info.tray_open = open;
                    }
                }
                None
            }
            "DEVICE_DELETED" => {
                let id = text("device")?;
                if let Some(Ok(list)) = &mut self.monitor.devices {
                    list.retain(|d| d.id != id);
                }
                let before = self.monitor.unplugs.len();
                self.monitor.unplugs.retain(|u| u.id != id);
                (self.monitor.unplugs.len() < before)
                    .then(|| Message::info(format!("device {id} removed (DEVICE_DELETED)")))
            }
            _ => None,
        }
    }
}

impl Model {
    /// Opens the devices screen on `tab`, reading what it shows.
    pub(super) fn open_tab(&mut self, tab: Tab) -> Vec<Effect> {
        self.view = View::Devices;
        if self.devices.tab != tab {
            self.devices.tab = tab;
        }
        self.devices.form = None;
        self.load_tab()
    }

    /// A click on the tab at `index` of the tab bar: opens it.
    pub(super) fn click_tab(&mut self, index: usize) -> Vec<Effect> {
        match Tab::ALL.get(index) {
            Some(&tab) => self.open_tab(tab),
            None => Vec::new(),
        }
    }

    /// Re-reads what the current tab shows (only queries).
    fn load_tab(&mut self) -> Vec<Effect> {
        match self.devices.tab {
            Tab::Media => self.monitor_job(Job::QueryBlock),
            Tab::Network => self.monitor_job(Job::Network),
            Tab::Hotplug if self.read_only => Vec::new(),
            Tab::Hotplug => self.monitor_job(Job::ListDevices),
            Tab::Migration => Vec::new(),
        }
    }

    /// An effect running `job` on the VM on screen, or a message saying why not.
    pub(super) fn monitor_job(&mut self, job: Job) -> Vec<Effect> {
        let vm = self.current;
        let refusal = format!("not connected: {} was not sent", job.what());
        self.when_connected(vm, Effect::Monitor { vm, job }, refusal)
    }

    /// True (after saying so) when read-only mode forbids `what`.
    fn refused(&mut self, what: &str) -> bool {
        self.refuse(self.current, what)
    }

    /// Acts on a monitor key pressed on the dashboard.
    pub(super) fn act_monitor_key(&mut self, key: MonitorKey) -> Vec<Effect> {
        match key {
            MonitorKey::OpenConsole => self.open_console(),
            MonitorKey::OpenMedia => self.open_tab(Tab::Media),
            MonitorKey::OpenNetwork => self.open_tab(Tab::Network),
            MonitorKey::OpenDevices => self.open_tab(Tab::Hotplug),
            MonitorKey::OpenMigration => self.open_tab(Tab::Migration),
            _ => Vec::new(),
        }
    }

    pub(super) fn act_devices(&mut self, action: Action) -> Vec<Effect> {
        if self.devices.form.is_some() {
            return self.act_form(action);
        }
        match action {
            Action::Cancel => self.view = View::Vm,
            Action::Help => self.help = true,
            Action::FocusNext | Action::FocusPrevious => {
                return self.open_tab(self.devices.tab.step(action == Action::FocusNext));
            }
            Action::Refresh => return self.load_tab(),
            Action::Monitor(key) => return self.act_tab_key(key),
            _ => {
                if let (Some(movement), Some(list)) =
                    (super::lists::Movement::of(action), self.devices.tab.list())
                {
                    self.move_list(list, movement);
                }
            }
        }
        Vec::new()
    }

    fn selected_medium(&self) -> Option<(Value, String)> {
        let vm = self.vm()?;
        let removable = vm.removable();
        let info = removable
            .get(self.devices.media_selected)
            .or(removable.first())?;
        Some((media::device_arguments(info), media::device_name(info)))
    }

    fn act_tab_key(&mut self, key: MonitorKey) -> Vec<Effect> {
        use MonitorKey as M;
        match key {
            M::OpenConsole | M::OpenMedia | M::OpenNetwork | M::OpenDevices | M::OpenMigration => {
                return self.act_monitor_key(key);
            }
            M::Eject | M::ForceEject | M::ChangeMedium => {
                let what = match key {
                    M::Eject => "eject",
                    M::ForceEject => "force eject",
                    _ => "change medium",
                };
                if self.refused(what) {
                    return Vec::new();
                }
                let Some((device, name)) = self.selected_medium() else {
                    self.say(Message::error(
                        "no removable block device (a CD-ROM, a floppy) on this VM",
                    ));
                    return Vec::new();
                };
                match key {
                    M::Eject => {
                        return self.monitor_job(Job::Eject {
                            device,
                            name,
                            force: false,
                        });
                    }
                    M::ForceEject => self.ask(Question::Device(DeviceQuestion::ForceEject {
                        device,
                        name,
                    })),
                    _ => {
                        self.devices.form =
                            Some(Form::new(FormKind::ChangeMedium { device, name }, ""));
                    }
                }
            }
            M::Add if self.devices.tab == Tab::Network => {
                if self.refused("hostfwd_add") {
                    return Vec::new();
                }
                let netdevs = match self.vm().and_then(|vm| vm.monitor.network.as_ref()) {
                    Some(Ok(info)) => info.user_netdevs(),
                    _ => Vec::new(),
                };
                if netdevs.is_empty() {
                    self.say(Message::error(
                        "no user-mode netdev (-netdev user,id=…): host forwards need one; r reads the list again",
                    ));
                } else {
                    self.devices.form = Some(Form::new(
                        FormKind::AddForward { netdevs, chosen: 0 },
                        "tcp::2222-:22",
                    ));
                }
            }
            M::Remove if self.devices.tab == Tab::Network => {
                if self.refused("hostfwd_remove") {
                    return Vec::new();
                }
                let chosen = self.vm().and_then(|vm| {
                    let forwards = vm.monitor.forwards();
                    let entry = forwards.get(self.devices.forward_selected)?;
                    Some((entry.netdev.clone(), entry.forward_key()?))
                });
                match chosen {
                    Some((netdev, key)) => {
                        return self.monitor_job(Job::RemoveForward { netdev, key });
                    }
                    None => self.say(Message::error("no host forward selected")),
                }
            }
            M::Add if self.devices.tab == Tab::Hotplug => {
                if self.refused("device_add") {
                    return Vec::new();
                }
                self.devices.form = Some(Form::new(FormKind::AddDevice, ""));
            }
            M::Remove if self.devices.tab == Tab::Hotplug => {
                let id = self.vm().and_then(|vm| {
                    vm.monitor
                        .device_list()
                        .get(self.devices.device_selected)
                        .map(|d| d.id.clone())
                });
                match id {
                    Some(id) => self.ask(Question::Device(DeviceQuestion::DeleteDevice { id })),
                    None if self.read_only => {
                        self.say(Message::error("read-only: device_del was not sent"));
                    }
                    None => self.say(Message::error("no device selected")),
                }
            }
            M::StartMigration => {
                if self.vm().is_some_and(|vm| vm.monitor.migrating()) {
                    self.say(Message::error("a migration is running; x cancels it first"));
                } else if !self.refused("migration") {
                    self.devices.form = Some(Form::new(FormKind::Migrate, ""));
                }
            }
            M::CancelMigration => {
                if self.refused("migrate_cancel") {
                    return Vec::new();
                }
                if self.vm().is_some_and(|vm| vm.monitor.migrating()) {
                    return self.monitor_job(Job::CancelMigration);
                }
                self.say(Message::error("no migration is running"));
            }
            _ => {}
        }
        Vec::new()
    }

    /// Carries out a yes to a monitor question.
    pub(super) fn answer_monitor(&mut self, question: DeviceQuestion) -> Vec<Effect> {
        match question {
            DeviceQuestion::ForceEject { device, name } => self.monitor_job(Job::Eject {
                device,
                name,
                force: true,
            }),
            DeviceQuestion::Migrate { uri } => self.monitor_job(Job::Migrate { uri }),
            DeviceQuestion::DeleteDevice { id } => self.monitor_job(Job::DeleteDevice { id }),
        }
    }

    /// Reports unplug requests that `DEVICE_DELETED` has not answered.
    pub(super) fn tick_monitor(&mut self, now: Instant) -> bool {
        let mut late = Vec::new();
        for (vm_id, vm) in self.vms.iter_mut().enumerate() {
            for unplug in &mut vm.monitor.unplugs {
                if !unplug.reported && now.duration_since(unplug.since) >= UNPLUG_PATIENCE {
                    unplug.reported = true;
                    late.push((vm_id, unplug.id.clone()));
                }
            }
        }
        if let Some((vm_id, id)) = late.pop() {
            self.say_about(vm_id, Message::error(format!(
                "device_del {id}: no DEVICE_DELETED after {} s. QEMU waits for the guest to release it: PCI hot-unplug on the pc machine goes through ACPI and needs a guest OS that answers (USB devices go at once)",
                UNPLUG_PATIENCE.as_secs()
            )));
            return true;
        }
        false
    }
}
