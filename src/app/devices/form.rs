//! The devices screen's prompts: the image for a removable device (Tab completes paths on
//! this host), a host forward rule, a `device_add` spec (Tab completes drivers) and the
//! migration URI; each validated here, sent as a monitor job, and kept open with QEMU's
//! error until the job succeeds.

use super::DeviceQuestion;
use crate::app::input::LineEditor;
use crate::app::keymap::{Action, MonitorKey};
use crate::app::{Effect, Message, Model, Question};
use crate::monitor::hotplug::DeviceSpec;
use crate::monitor::media::FormatChoice;
use crate::monitor::migration;
use crate::monitor::network::{self, HostForward};
use crate::monitor::{Job, News};
use crate::news::AppEvent;
use serde_json::Value;

/// What a prompt is for.
#[derive(Debug, Clone, PartialEq)]
pub enum FormKind {
    /// The image for a removable device.
    ChangeMedium {
        /// The device's arguments.
        device: Value,
        /// Its name.
        name: String,
    },
    /// A host forward rule on one of these user-mode netdevs.
    AddForward {
        /// The user-mode netdevs to choose from (Tab).
        netdevs: Vec<String>,
        /// The chosen one.
        chosen: usize,
    },
    /// A device spec for `device_add`.
    AddDevice,
    /// The migration URI.
    Migrate,
}

/// A prompt on the devices screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    /// What it is for.
    pub kind: FormKind,
    /// The text typed.
    pub input: LineEditor,
    /// The format choice (change medium).
    pub format: FormatChoice,
    /// Why the last attempt was refused (kept on screen to fix it).
    pub error: Option<String>,
    /// The job it waits for; the prompt closes when it succeeds.
    pub waiting: Option<Job>,
}

impl Form {
    pub(super) fn new(kind: FormKind, text: &str) -> Form {
        Form {
            kind,
            input: LineEditor::new(text),
            format: FormatChoice::Raw,
            error: None,
            waiting: None,
        }
    }

    /// The prompt's title.
    pub fn title(&self) -> String {
        match &self.kind {
            FormKind::ChangeMedium { name, .. } => format!("Change medium of {name}"),
            FormKind::AddForward { .. } => "Add a host forward".to_string(),
            FormKind::AddDevice => "Add a device (device_add)".to_string(),
            FormKind::Migrate => "Migrate to".to_string(),
        }
    }

    /// The label before the input.
    pub fn label(&self) -> &'static str {
        match self.kind {
            FormKind::ChangeMedium { .. } => "image path: ",
            FormKind::AddForward { .. } => "rule: ",
            FormKind::AddDevice => "device: ",
            FormKind::Migrate => "URI: ",
        }
    }

    /// The choice Tab changes, as shown.
    pub fn choice(&self) -> Option<String> {
        match &self.kind {
            FormKind::ChangeMedium { .. } => Some(format!("format: {}", self.format.label())),
            FormKind::AddForward { netdevs, chosen } => netdevs
                .get(*chosen)
                .map(|n| format!("netdev: {n} ({} of {})", chosen + 1, netdevs.len())),
            _ => None,
        }
    }

    /// How to fill it in.
    pub fn hint(&self) -> String {
        match self.kind {
            FormKind::ChangeMedium { .. } => {
                "a file on QEMU's host; ~ and relative paths are made absolute".to_string()
            }
            FormKind::AddForward { .. } => network::RULE_SYNTAX.to_string(),
            FormKind::AddDevice => crate::monitor::hotplug::SPEC_SYNTAX.to_string(),
            FormKind::Migrate => {
                "tcp:HOST:PORT, unix:PATH, exec:COMMAND (e.g. exec:cat > /tmp/vm.mig)".to_string()
            }
        }
    }
}

impl Model {
    pub(crate) fn act_form(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.devices.form.as_mut() else {
            return Vec::new();
        };
        match action {
            Action::Cancel => {
                let title = form.title();
                self.devices.form = None;
                self.say(Message::info(format!("{title}: cancelled")));
            }
            Action::Monitor(MonitorKey::NextChoice) => match &mut form.kind {
                FormKind::ChangeMedium { .. } => form.format = form.format.next(),
                FormKind::AddForward { netdevs, chosen } => {
                    *chosen = (*chosen + 1) % netdevs.len().max(1);
                }
                _ => {}
            },
            Action::Submit if form.waiting.is_none() => return self.submit_form(),
            Action::Complete => return self.complete_form(),
            Action::Char(c) => {
                form.input.insert(c);
                form.error = None;
            }
            Action::Edit(edit) if form.input.edit(edit) => form.error = None,
            _ => {}
        }
        Vec::new()
    }

    /// Tab in a prompt: an image path (listed on this host) or a device driver.
    pub(crate) fn complete_form(&mut self) -> Vec<Effect> {
        let Some(form) = self.devices.form.as_ref() else {
            return Vec::new();
        };
        match form.kind {
            FormKind::ChangeMedium { .. } => {
                let local = self.vm().is_none_or(|vm| !vm.remote_tcp);
                if !local {
                    self.say(Message::error(
                        "paths are completed only for a QEMU on this host",
                    ));
                    return Vec::new();
                }
                let typed = form.input.before_cursor().to_string();
                self.monitor_job(Job::Paths { typed })
            }
            FormKind::AddDevice => {
                let before = form.input.before_cursor().to_string();
                if before.contains(',') {
                    self.say(Message::error(
                        "Tab completes the driver (before the first comma)",
                    ));
                    return Vec::new();
                }
                let types = match self.vm().and_then(|vm| vm.monitor.device_types.clone()) {
                    Some(Ok(types)) => types,
                    Some(Err(error)) => {
                        self.say(Message::error(format!(
                            "device drivers could not be read: {error}"
                        )));
                        return Vec::new();
                    }
                    // Read on the first Tab only: `qom-list-types` makes QEMU load every
                    // module it has, which a QEMU whose modules are from another build
                    // does not survive.
                    None => {
                        let effects = self.monitor_job(Job::DeviceTypes);
                        if !effects.is_empty() {
                            self.say(Message::info("reading the device drivers; Tab again"));
                            if let Some(vm) = self.vms.get_mut(self.current) {
                                vm.monitor.device_types = Some(Ok(Vec::new()));
                            }
                        }
                        return effects;
                    }
                };
                let matches = match self.devices.form.as_mut() {
                    Some(form) => form
                        .input
                        .complete(0, types.iter().map(String::as_str), ","),
                    None => return Vec::new(),
                };
                self.say_matches(&matches);
                Vec::new()
            }
            FormKind::AddForward { .. } | FormKind::Migrate => {
                self.say(Message::error("nothing to complete here"));
                Vec::new()
            }
        }
    }

    pub(crate) fn submit_form(&mut self) -> Vec<Effect> {
        let Some(form) = self.devices.form.as_mut() else {
            return Vec::new();
        };
        let text = form.input.text().to_string();
        let job = match &form.kind {
            FormKind::ChangeMedium { device, name } => {
                if text.trim().is_empty() {
                    form.error = Some("type the path of an image file".to_string());
                    return Vec::new();
                }
                let local = self.vms.get(self.current).is_none_or(|vm| !vm.remote_tcp);
                Job::ChangeMedium {
                    device: device.clone(),
                    name: name.clone(),
                    path: text,
                    format: form.format,
                    local,
                }
            }
            FormKind::AddForward { netdevs, chosen } => {
                let netdev = netdevs.get(*chosen).cloned().unwrap_or_default();
                match text.parse::<HostForward>() {
                    Ok(rule) => Job::AddForward { netdev, rule },
                    Err(error) => {
                        form.error = Some(error.to_string());
                        return Vec::new();
                    }
                }
            }
            FormKind::AddDevice => {
                let taken: Vec<String> = self
                    .vms
                    .get(self.current)
                    .map(|vm| {
                        vm.monitor
                            .device_list()
                            .iter()
                            .map(|d| d.id.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                match DeviceSpec::parse(&text, &taken) {
                    Ok(spec) => Job::AddDevice(spec),
                    Err(error) => {
                        form.error = Some(error.to_string());
                        return Vec::new();
                    }
                }
            }
            FormKind::Migrate => {
                match migration::check_uri(&text) {
                    Ok(uri) => {
                        self.devices.form = None;
                        self.ask(Question::Device(DeviceQuestion::Migrate { uri }));
                    }
                    Err(error) => form.error = Some(error),
                }
                return Vec::new();
            }
        };
        form.error = None;
        form.waiting = Some(job.clone());
        let effects = self.monitor_job(job);
        if effects.is_empty()
            && let Some(form) = self.devices.form.as_mut()
        {
            form.waiting = None;
        }
        effects
    }

    /// Lets an open prompt see the result of the job it waits for: it closes on success and
    /// shows the error otherwise, so the input can be fixed.
    pub(crate) fn form_sees(&mut self, event: &AppEvent) {
        if let AppEvent::Monitor {
            vm,
            news: News::Paths { typed, candidates },
        } = event
            && *vm == self.current
        {
            let matches = match self.devices.form.as_mut() {
                Some(form) if form.input.before_cursor() == typed => {
                    form.input
                        .complete(0, candidates.iter().map(String::as_str), "")
                }
                _ => return,
            };
            self.say_matches(&matches);
            return;
        }
        let AppEvent::Monitor {
            vm,
            news: News::Done { job, result },
        } = event
        else {
            return;
        };
        if *vm != self.current {
            return;
        }
        let Some(form) = self.devices.form.as_mut() else {
            return;
        };
        if form.waiting.as_ref() != Some(job) {
            return;
        }
        match result {
            Ok(_) => self.devices.form = None,
            Err(error) => {
                form.waiting = None;
                form.error = Some(error.to_string());
            }
        }
    }
}
