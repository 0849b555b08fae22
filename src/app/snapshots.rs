//! The snapshot view's state for one VM: the list as QEMU last reported it, its sort order
//! and selection, and the snapshot job running, if any (one at a time per VM).

use super::keymap::Action;
use super::{Effect, InputLine, InputPurpose, Message, Question, View};
use crate::news::VmId;
use crate::snapshot::{Operation, Progress, Snapshot, sort_by_date, sort_by_name};

/// How the list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotSort {
    /// Oldest first.
    #[default]
    Date,
    /// By tag.
    Name,
}

/// A snapshot job in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningJob {
    /// Save, load or delete.
    pub operation: Operation,
    /// The tag.
    pub tag: String,
    /// The latest progress report.
    pub progress: Option<Progress>,
}

impl RunningJob {
    /// "save 'x' (running, 40%)".
    pub fn describe(&self) -> String {
        let status = match &self.progress {
            Some(progress) => match progress.fraction() {
                Some(fraction) => format!("{}, {:.0}%", progress.status, fraction * 100.0),
                None => progress.status.clone(),
            },
            None => "starting".to_string(),
        };
        format!("{} '{}' ({status})", self.operation, self.tag)
    }
}

/// A snapshot job already runs on the VM: one at a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot job is running: {running}; wait for it to finish")]
pub struct JobRunning {
    /// The job that runs, described ([`RunningJob::describe`]).
    pub running: String,
}

/// What the snapshot view knows about one VM.
#[derive(Debug, Clone, Default)]
pub struct SnapshotView {
    /// The snapshots, in the chosen order.
    pub snapshots: Vec<Snapshot>,
    /// A list has arrived at least once.
    pub loaded: bool,
    /// Why the last listing failed.
    pub error: Option<String>,
    /// The order.
    pub sort: SnapshotSort,
    /// The order is reversed (the same sort key chosen again).
    pub descending: bool,
    /// The selected row.
    pub selected: usize,
    /// The job running, if any.
    pub job: Option<RunningJob>,
}

impl SnapshotView {
    /// Replaces the list, keeping the order and, when it still exists, the selected tag.
    pub fn set_list(&mut self, snapshots: Vec<Snapshot>) {
        let selected_tag = self.selected_tag().map(str::to_string);
        self.snapshots = snapshots;
        self.loaded = true;
        self.error = None;
        self.apply_sort();
        self.selected = selected_tag
            .and_then(|tag| self.snapshots.iter().position(|s| s.tag == tag))
            .unwrap_or(self.snapshots.len().saturating_sub(1));
    }

    /// Sorts by `sort`; choosing the current order again reverses it (as the fleet does).
    pub fn sort_by(&mut self, sort: SnapshotSort) {
        let selected_tag = self.selected_tag().map(str::to_string);
        if self.sort == sort {
            self.descending = !self.descending;
        } else {
            self.sort = sort;
            self.descending = false;
        }
        self.apply_sort();
        if let Some(at) =
            selected_tag.and_then(|tag| self.snapshots.iter().position(|s| s.tag == tag))
        {
            self.selected = at;
        }
    }

    fn apply_sort(&mut self) {
        match self.sort {
            SnapshotSort::Date => sort_by_date(&mut self.snapshots),
            SnapshotSort::Name => sort_by_name(&mut self.snapshots),
        }
        if self.descending {
            self.snapshots.reverse();
        }
    }

    /// The selected snapshot's tag.
    pub fn selected_tag(&self) -> Option<&str> {
        self.snapshots.get(self.selected).map(|s| s.tag.as_str())
    }
}

impl super::Model {
    pub(super) fn list_snapshots(&mut self) -> Vec<Effect> {
        let vm = self.current;
        let refusal = "not connected: cannot list snapshots".to_string();
        self.when_connected(vm, Effect::ListSnapshots { vm }, refusal)
    }

    /// Starts a snapshot job on `vm`, unless read-only or another job runs. QEMU has no job
    /// yet (the disks are checked first): "started" is said when its first progress comes.
    pub(super) fn snapshot_job(
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
        if !entry.is_connected() {
            self.say(Message::error(format!(
                "not connected: snapshot {operation} was not sent"
            )));
            return Vec::new();
        }
        let job = RunningJob {
            operation,
            tag: tag.clone(),
            progress: None,
        };
        if let Err(refusal) = entry.start_snapshot_job(job) {
            self.say(Message::error(refusal.to_string()));
            return Vec::new();
        }
        let checking = Message::info(format!("snapshot {operation} '{tag}': checking the disks…"));
        // A job for another VM (a question answered in the background) is news about it: the
        // message line names it wherever it shows.
        if vm == self.current {
            self.say(checking);
        } else {
            self.say_about(vm, checking);
        }
        vec![Effect::SnapshotJob {
            vm,
            operation,
            tag,
            skip_unsupported,
        }]
    }

    /// Refuses a new job while one runs (and in read-only mode), saying why.
    pub(super) fn can_start_snapshot_job(&mut self, what: &str) -> bool {
        if self.refuse(self.current, &format!("snapshot {what}")) {
            return false;
        }
        if let Some(job) = self.vm().and_then(|vm| vm.snapshots.job.as_ref()) {
            let running = job.describe();
            self.say(Message::error(JobRunning { running }.to_string()));
            return false;
        }
        true
    }

    pub(super) fn submit_snapshot_tag(&mut self, tag: String) -> Vec<Effect> {
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

    pub(super) fn act_snapshots(&mut self, action: Action) -> Vec<Effect> {
        if let Some(movement) = super::lists::Movement::of(action) {
            self.move_list(super::ListId::Snapshots, movement);
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
                self.input = Some(InputLine::new(
                    InputPurpose::SnapshotTag,
                    crate::snapshot::suggest_free_tag(&chrono::Local::now(), &existing),
                ));
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
