//! Questions awaiting y or n: what is asked ([`Question`], [`Dangerous`]), asking (refused
//! under `--read-only`), and carrying out a yes. The dialog's keys come from the key table.

use super::devices::DeviceQuestion;
use super::{Effect, Model, PowerdownRequest};
use crate::news::{VmCommand, VmId};
use crate::snapshot::Operation;
use std::time::Instant;

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
    /// The command sent on a yes.
    pub fn command(self) -> VmCommand {
        match self {
            Dangerous::Reset => VmCommand::Reset,
            Dangerous::PowerDown => VmCommand::PowerDown,
            Dangerous::QuitVm => VmCommand::Quit,
        }
    }

    /// What it is called on screen.
    pub fn label(self) -> &'static str {
        self.command().label()
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
    Device(DeviceQuestion),
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
            Question::Device(question) => question.label(),
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
            Question::Device(question) => question.text(vm_name),
        }
    }
}

impl Model {
    pub(super) fn ask(&mut self, question: Question) {
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

    pub(super) fn answer_yes(&mut self, question: Question, now: Instant) -> Vec<Effect> {
        match question {
            Question::Vm(dangerous) => {
                let effects = self.execute(self.current, dangerous.command());
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
                let command = if resume {
                    VmCommand::Resume
                } else {
                    VmCommand::Pause
                };
                let effects: Vec<Effect> = vms
                    .into_iter()
                    .flat_map(|vm| self.execute(vm, command))
                    .collect();
                self.fleet.marked.clear();
                effects
            }
            Question::Device(question) => self.answer_monitor(question),
        }
    }
}
