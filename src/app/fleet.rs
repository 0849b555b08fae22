//! The fleet view's state: the table of every watched VM, its sort order, its filter, the
//! selection and the marked VMs. Pure; the rows are computed from the VMs on demand.

use super::Vm;
use crate::collect::VmId;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::Instant;

/// A column of the fleet table (also the sort key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetColumn {
    /// Display name.
    Name,
    /// Run or connection state.
    State,
    /// QEMU's host CPU.
    Cpu,
    /// QEMU's RSS.
    Memory,
    /// Disk read rate.
    Read,
    /// Disk write rate.
    Write,
    /// Time in the current state.
    Since,
    /// The last event.
    LastEvent,
}

impl FleetColumn {
    /// Columns in display order; the number key `n` sorts by `ALL[n - 1]`.
    pub const ALL: [FleetColumn; 8] = [
        FleetColumn::Name,
        FleetColumn::State,
        FleetColumn::Cpu,
        FleetColumn::Memory,
        FleetColumn::Read,
        FleetColumn::Write,
        FleetColumn::Since,
        FleetColumn::LastEvent,
    ];

    /// The column's title.
    pub fn title(self) -> &'static str {
        match self {
            FleetColumn::Name => "name",
            FleetColumn::State => "state",
            FleetColumn::Cpu => "host CPU",
            FleetColumn::Memory => "RSS",
            FleetColumn::Read => "read/s",
            FleetColumn::Write => "write/s",
            FleetColumn::Since => "in state",
            FleetColumn::LastEvent => "last event",
        }
    }
}

/// The fleet table's state.
#[derive(Debug, Clone)]
pub struct FleetState {
    /// The sort column.
    pub sort: FleetColumn,
    /// Sort descending.
    pub descending: bool,
    /// Only VMs whose name, target or state contains this (case-insensitive).
    pub filter: String,
    /// Index of the selected row among the visible rows.
    pub selected: usize,
    /// VMs marked for a bulk pause/resume.
    pub marked: BTreeSet<VmId>,
}

impl Default for FleetState {
    fn default() -> Self {
        FleetState {
            sort: FleetColumn::Name,
            descending: false,
            filter: String::new(),
            selected: 0,
            marked: BTreeSet::new(),
        }
    }
}

fn compare_option(a: Option<f64>, b: Option<f64>) -> Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

impl FleetState {
    /// Sorts by `column`; choosing the current column again reverses the order.
    pub fn sort_by(&mut self, column: FleetColumn) {
        if self.sort == column {
            self.descending = !self.descending;
        } else {
            self.sort = column;
            self.descending = matches!(
                column,
                FleetColumn::Cpu | FleetColumn::Memory | FleetColumn::Read | FleetColumn::Write
            );
        }
    }

    /// True when `vm` passes the filter.
    pub fn matches(&self, vm: &Vm) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        [vm.display_name(), &vm.target, &vm.state_word()]
            .iter()
            .any(|field| field.to_lowercase().contains(&needle))
    }

    /// The visible rows (VM ids), filtered and sorted.
    pub fn rows(&self, vms: &[Vm], now: Instant) -> Vec<VmId> {
        let mut rows: Vec<VmId> = vms
            .iter()
            .enumerate()
            .filter(|(_, vm)| !vm.removed && self.matches(vm))
            .map(|(id, _)| id)
            .collect();
        let since = |vm: &Vm| vm.time_in_state(now).map(|d| d.as_secs_f64());
        rows.sort_by(|&a, &b| {
            let (x, y) = (&vms[a], &vms[b]);
            let order = match self.sort {
                FleetColumn::Name => x.display_name().cmp(y.display_name()),
                FleetColumn::State => x.state_word().cmp(&y.state_word()),
                FleetColumn::Cpu => compare_option(x.process_cpu_percent, y.process_cpu_percent),
                FleetColumn::Memory => {
                    compare_option(x.rss_bytes.map(|b| b as f64), y.rss_bytes.map(|b| b as f64))
                }
                FleetColumn::Read => compare_option(x.read_rate(), y.read_rate()),
                FleetColumn::Write => compare_option(x.write_rate(), y.write_rate()),
                FleetColumn::Since => compare_option(since(x), since(y)),
                FleetColumn::LastEvent => {
                    let time = |vm: &Vm| vm.events.back().map(|e| e.time);
                    time(x).cmp(&time(y))
                }
            };
            let order = order.then_with(|| x.display_name().cmp(y.display_name()));
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        rows
    }

    /// The VM of the selected row.
    pub fn selected_vm(&self, vms: &[Vm], now: Instant) -> Option<VmId> {
        let rows = self.rows(vms, now);
        rows.get(self.selected.min(rows.len().saturating_sub(1)))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(name: &str, cpu: Option<f64>) -> Vm {
        let mut vm = Vm::new(format!("unix:/run/{name}.qmp"));
        vm.name = Some(name.to_string());
        vm.process_cpu_percent = cpu;
        vm
    }

    #[test]
    fn sorts_filters_and_reverses() {
        let vms = vec![
            vm("web", Some(5.0)),
            vm("db", Some(50.0)),
            vm("cache", None),
        ];
        let now = Instant::now();
        let mut fleet = FleetState::default();
        assert_eq!(fleet.rows(&vms, now), vec![2, 1, 0]);
        fleet.sort_by(FleetColumn::Cpu);
        assert_eq!(fleet.rows(&vms, now), vec![1, 0, 2], "busiest first");
        fleet.sort_by(FleetColumn::Cpu);
        assert_eq!(fleet.rows(&vms, now), vec![2, 0, 1]);
        fleet.filter = "DB".into();
        assert_eq!(fleet.rows(&vms, now), vec![1]);
        fleet.filter = "connecting".into();
        assert_eq!(fleet.rows(&vms, now).len(), 3, "the state is searchable");
    }
}
