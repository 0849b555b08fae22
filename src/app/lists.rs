//! Lists that move: the movements every list shares (a step, a page, the first row, the
//! last), the pointer (wheel and click) and the one function that moves a selection.
//!
//! Every list keeps a selected row, never a free scroll offset: the screen shows the window
//! around the selection (`ui::scroll`), so scrolling stops at the last row and a click can
//! be mapped back to a row from the same window. The page size comes from the layout
//! ([`crate::app::Model::page_rows`], set by the terminal loop).

use super::keymap::Action;
use super::pointer::{ListId, Pointer};

/// How a selection moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// One row up.
    Up,
    /// One row down.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the first row.
    First,
    /// To the last row.
    Last,
    /// Rows up (negative) or down, as the mouse wheel moves.
    By(isize),
}

/// Rows one notch of the mouse wheel moves.
pub const WHEEL_ROWS: isize = 3;

impl Movement {
    /// The movement an action asks for, if it is one.
    pub fn of(action: Action) -> Option<Movement> {
        Some(match action {
            Action::Up => Movement::Up,
            Action::Down => Movement::Down,
            Action::PageUp => Movement::PageUp,
            Action::PageDown => Movement::PageDown,
            Action::First => Movement::First,
            Action::Last => Movement::Last,
            Action::Pointer(Pointer::Wheel { down, .. }) => {
                Movement::By(if down { WHEEL_ROWS } else { -WHEEL_ROWS })
            }
            _ => return None,
        })
    }

    /// The same movement in a list drawn upside down (newest last, counted from the end).
    pub fn reversed(self) -> Movement {
        match self {
            Movement::Up => Movement::Down,
            Movement::Down => Movement::Up,
            Movement::PageUp => Movement::PageDown,
            Movement::PageDown => Movement::PageUp,
            Movement::First => Movement::Last,
            Movement::Last => Movement::First,
            Movement::By(rows) => Movement::By(-rows),
        }
    }
}

/// `selected` moved in a list of `len` rows, `page` rows to a page; stays within the list.
pub fn moved(selected: usize, len: usize, movement: Movement, page: usize) -> usize {
    let last = len.saturating_sub(1);
    let page = page.max(1) as isize;
    let by = match movement {
        Movement::Up => -1,
        Movement::Down => 1,
        Movement::PageUp => -page,
        Movement::PageDown => page,
        Movement::First => return 0,
        Movement::Last => return last,
        Movement::By(rows) => rows,
    };
    selected.min(last).saturating_add_signed(by).min(last)
}

impl super::Model {
    /// Moves the selection of `list` (a list of the screen showing now).
    pub(super) fn move_list(&mut self, list: ListId, movement: Movement) {
        let page = self.page_rows;
        // The console's transcript as shown (its filter applied), scrolled up from the newest
        // line: a page is the rows its panel shows, and it stops with the oldest line on top.
        if list == ListId::Console {
            let len = self.vm().map_or(0, |vm| self.shown_transcript(vm).len());
            let scrolls = len.saturating_sub(page) + 1;
            self.console.scroll = moved(self.console.scroll, scrolls, movement.reversed(), page);
            return;
        }
        // The log as shown (its filter applied) counts from the newest line, at the bottom: up
        // goes back in time.
        if list == ListId::Events {
            let len = self.vm().map_or(0, |vm| self.shown_events(vm).len());
            self.event_scroll = moved(self.event_scroll, len, movement.reversed(), page);
            return;
        }
        let Some(vm) = self.vms.get_mut(self.current) else {
            return;
        };
        match list {
            ListId::Cpus => {
                self.selected_cpu = moved(self.selected_cpu, vm.vcpus.len(), movement, page);
            }
            ListId::Blocks => {
                self.selected_block = moved(self.selected_block, vm.blocks.len(), movement, page);
            }
            ListId::Events | ListId::Console => {}
            ListId::Snapshots => {
                let len = vm.snapshots.snapshots.len();
                vm.snapshots.selected = moved(vm.snapshots.selected, len, movement, page);
            }
            ListId::Media => {
                let len = vm.removable().len();
                self.devices.media_selected =
                    moved(self.devices.media_selected, len, movement, page);
            }
            ListId::Forwards => {
                let len = vm.monitor.forwards().len();
                self.devices.forward_selected =
                    moved(self.devices.forward_selected, len, movement, page);
            }
            ListId::Hotplug => {
                let len = vm.monitor.device_list().len();
                self.devices.device_selected =
                    moved(self.devices.device_selected, len, movement, page);
            }
            ListId::Fleet => {
                let now = self.clock.unwrap_or_else(std::time::Instant::now);
                let rows = self.fleet.rows(&self.vms, now);
                let at = self.fleet.selected_index(&rows);
                let next = moved(at, rows.len(), movement, page);
                self.fleet.selected = rows.get(next).copied();
            }
        }
    }

    /// Applies a wheel notch or a click on a list: the panel under the pointer takes the
    /// focus (on the dashboard), a clicked row is selected, the wheel moves the selection.
    pub(super) fn point(&mut self, pointer: Pointer) {
        let (list, row) = match pointer {
            // The devices screen opens its tabs (`Model::click_tab`).
            Pointer::Tab(_) => return,
            Pointer::Wheel { list, down } => {
                let rows = if down { WHEEL_ROWS } else { -WHEEL_ROWS };
                self.move_list(list, Movement::By(rows));
                (list, None)
            }
            Pointer::Click { list, row } => (list, row),
        };
        if let Some(panel) = super::Panel::of(list) {
            self.focus = panel;
        }
        // Rows count from the top of the list as drawn; the log and the console, which count
        // from their newest line, turn that around in `move_list`.
        if let Some(row) = row {
            self.move_list(list, Movement::First);
            self.move_list(list, Movement::By(row as isize));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_stop_at_both_ends() {
        assert_eq!(moved(0, 5, Movement::Up, 3), 0);
        assert_eq!(moved(4, 5, Movement::Down, 3), 4);
        assert_eq!(moved(1, 5, Movement::PageDown, 3), 4);
        assert_eq!(moved(4, 5, Movement::PageDown, 3), 4);
        assert_eq!(moved(4, 5, Movement::PageUp, 3), 1);
        assert_eq!(moved(2, 5, Movement::PageUp, 3), 0);
        assert_eq!(moved(2, 5, Movement::First, 3), 0);
        assert_eq!(moved(2, 5, Movement::Last, 3), 4);
        assert_eq!(moved(0, 0, Movement::Last, 3), 0);
        assert_eq!(
            moved(9, 5, Movement::Up, 3),
            3,
            "a stale selection comes back in"
        );
        assert_eq!(moved(0, 16, Movement::By(WHEEL_ROWS), 3), 3);
        assert_eq!(moved(1, 16, Movement::By(-WHEEL_ROWS), 3), 0);
    }

    #[test]
    fn a_reversed_list_moves_the_other_way() {
        assert_eq!(Movement::Up.reversed(), Movement::Down);
        assert_eq!(Movement::First.reversed(), Movement::Last);
        assert_eq!(Movement::By(3).reversed(), Movement::By(-3));
    }
}
