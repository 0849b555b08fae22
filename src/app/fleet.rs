//! The fleet view's state: the table of every watched VM, its sort order, its filter, the
//! selection and the marked VMs. No I/O; the rows are computed from the VMs on demand.

use super::keymap::Action;
use super::{Effect, InputLine, InputPurpose, Message, Question, View, Vm};
use crate::news::VmId;
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
    /// The VM under the cursor; the cursor stays on it when the rows sort again.
    pub selected: Option<VmId>,
    /// VMs marked for a bulk pause/resume.
    pub marked: BTreeSet<VmId>,
}

impl Default for FleetState {
    fn default() -> Self {
        FleetState {
            sort: FleetColumn::Name,
            descending: false,
            filter: String::new(),
            selected: None,
            marked: BTreeSet::new(),
        }
    }
}

/// A target's short form: a socket's file name, or TCP's host:port.
fn short_target(target: &str) -> String {
    let path = target.strip_prefix("unix:").unwrap_or(target);
    if target.starts_with("tcp:") {
        return target.trim_start_matches("tcp:").to_string();
    }
    std::path::Path::new(path).file_name().map_or_else(
        || target.to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
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
        [vm.display_name(), &vm.target, vm.state_word()]
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
                FleetColumn::State => x.state_word().cmp(y.state_word()),
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

    /// The VM of the selected row: the VM the cursor is on, else the first row.
    pub fn selected_vm(&self, vms: &[Vm], now: Instant) -> Option<VmId> {
        let rows = self.rows(vms, now);
        rows.get(self.selected_index(&rows)).copied()
    }

    /// Where the cursor is among `rows`: on its VM wherever the sort put it, else the first.
    pub fn selected_index(&self, rows: &[VmId]) -> usize {
        self.selected
            .and_then(|vm| rows.iter().position(|&row| row == vm))
            .unwrap_or(0)
    }

    /// Moves the cursor `by` rows (negative: up), staying within `rows`.
    pub fn move_cursor(&mut self, rows: &[VmId], by: isize) {
        let at = self.selected_index(rows);
        let last = rows.len().saturating_sub(1);
        let next = at.saturating_add_signed(by).min(last);
        self.selected = rows.get(next).copied();
    }

    /// The names to show, one per VM: the display name, with the target's short form after
    /// it when another watched VM has the same name (two VMs started with the same -name).
    pub fn row_names(vms: &[Vm]) -> Vec<String> {
        vms.iter()
            .map(|vm| {
                let name = vm.display_name();
                let twins: Vec<&Vm> = vms
                    .iter()
                    .filter(|other| !other.removed && other.display_name() == name)
                    .collect();
                if twins.len() < 2 {
                    return name.to_string();
                }
                let short = short_target(&vm.target);
                let short_is_unique = twins
                    .iter()
                    .filter(|other| short_target(&other.target) == short)
                    .count()
                    == 1;
                let target = if short_is_unique {
                    short
                } else {
                    vm.target.clone()
                };
                if target == name {
                    name.to_string()
                } else {
                    format!("{name} [{target}]")
                }
            })
            .collect()
    }
}

impl super::Model {
    pub(super) fn act_fleet(&mut self, action: Action, now: Instant) -> Vec<Effect> {
        if let Some(movement) = super::lists::Movement::of(action) {
            self.move_list(super::ListId::Fleet, movement);
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
                self.input = Some(InputLine::new(
                    InputPurpose::Filter,
                    self.fleet.filter.clone(),
                ));
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

    #[test]
    fn the_cursor_stays_on_its_vm_when_the_rows_sort_again() {
        let mut vms = vec![vm("web", Some(5.0)), vm("db", Some(50.0))];
        let now = Instant::now();
        let mut fleet = FleetState::default();
        fleet.sort_by(FleetColumn::Cpu);
        let rows = fleet.rows(&vms, now);
        assert_eq!(rows, vec![1, 0]);
        fleet.move_cursor(&rows, 1);
        assert_eq!(fleet.selected_vm(&vms, now), Some(0), "on web");
        vms[0].process_cpu_percent = Some(90.0);
        let rows = fleet.rows(&vms, now);
        assert_eq!(rows, vec![0, 1], "web sorts first now");
        assert_eq!(
            fleet.selected_index(&rows),
            0,
            "and the cursor went with it"
        );
        assert_eq!(fleet.selected_vm(&vms, now), Some(0));
        fleet.move_cursor(&rows, -5);
        assert_eq!(fleet.selected_vm(&vms, now), Some(0));
        fleet.move_cursor(&rows, 5);
        assert_eq!(fleet.selected_vm(&vms, now), Some(1));
    }

    #[test]
    fn twins_are_told_apart_by_their_target() {
        let mut vms = vec![vm("web", None), vm("web", None), vm("db", None)];
        vms[0].target = "unix:/run/a/web.qmp".into();
        vms[1].target = "unix:/run/b/web.qmp".into();
        vms[2].target = "unix:/run/db.qmp".into();
        let names = FleetState::row_names(&vms);
        assert_eq!(names[0], "web [unix:/run/a/web.qmp]");
        assert_eq!(names[1], "web [unix:/run/b/web.qmp]");
        assert_eq!(names[2], "db");
        vms[1].target = "tcp:host:4444".into();
        let names = FleetState::row_names(&vms);
        assert_eq!(names[0], "web [web.qmp]");
        assert_eq!(names[1], "web [host:4444]");
    }
}
