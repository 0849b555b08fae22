//! The snapshot view's state for one VM: the list as QEMU last reported it, its sort order
//! and selection, and the snapshot job running, if any (one at a time per VM).

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

    /// Sorts by `sort`.
    pub fn sort_by(&mut self, sort: SnapshotSort) {
        let selected_tag = self.selected_tag().map(str::to_string);
        self.sort = sort;
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
    }

    /// The selected snapshot's tag.
    pub fn selected_tag(&self) -> Option<&str> {
        self.snapshots.get(self.selected).map(|s| s.tag.as_str())
    }
}
