//! The mouse: which list is under the pointer, and which row. The wheel scrolls the list
//! under the pointer, a click focuses its panel and selects the row. Uses the same layout
//! functions and windows as the drawing, so a click lands on the row it shows.

use super::{blocks, cpus, events, scroll, vm_areas};
use crate::app::{ListId, Pointer};
use crate::app::{Model, View};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use std::time::Instant;

/// The action for a mouse event on a screen of `area`, if it hit a list.
pub fn pointer_for(model: &Model, area: Rect, now: Instant, event: MouseEvent) -> Option<Pointer> {
    if super::too_small(area.width, area.height) || model.confirm.is_some() || model.help {
        return None;
    }
    let at = Position::new(event.column, event.row);
    let (list, row) = hit(model, area, now, at)?;
    match event.kind {
        MouseEventKind::ScrollDown => Some(Pointer::Wheel { list, down: true }),
        MouseEventKind::ScrollUp => Some(Pointer::Wheel { list, down: false }),
        MouseEventKind::Down(MouseButton::Left) => Some(Pointer::Click { list, row }),
        _ => None,
    }
}

/// The list under `at`, and the row (an index into the list) when a row was hit.
fn hit(model: &Model, area: Rect, now: Instant, at: Position) -> Option<(ListId, Option<usize>)> {
    match model.view {
        View::Vm => {
            let vm = model.vm()?;
            let areas = vm_areas(area, model, now);
            if areas.cpus.contains(at) {
                let [table, _] = cpus::cpu_areas(areas.cpus, vm.vcpus.len());
                let shown =
                    scroll::window(model.selected_cpu, vm.vcpus.len(), cpus::rows_of(table));
                return Some((ListId::Cpus, row_in(table, 1, at, shown)));
            }
            if areas.blocks.contains(at) {
                let [table, _] = blocks::block_areas(areas.blocks, vm.blocks.len());
                let shown =
                    scroll::window(model.selected_block, vm.blocks.len(), cpus::rows_of(table));
                return Some((ListId::Blocks, row_in(table, 1, at, shown)));
            }
            if areas.events.contains(at) {
                let lines = events::lines_area(model, vm, areas.events);
                let shown = events::shown(model, vm, usize::from(lines.height));
                return Some((ListId::Events, row_in(lines, 0, at, shown)));
            }
            None
        }
        View::Fleet => {
            let table = super::fleet::table_area(area, model, now);
            let rows = model.fleet.rows(&model.vms, now);
            let inner = ratatui::widgets::Block::bordered().inner(table);
            let shown = scroll::window(
                model.fleet.selected_index(&rows),
                rows.len(),
                cpus::rows_of(inner),
            );
            table
                .contains(at)
                .then(|| (ListId::Fleet, row_in(inner, 1, at, shown)))
        }
        View::Snapshots => {
            let vm = model.vm()?;
            let table = super::snapshots::table_area(area, model, now);
            let inner = ratatui::widgets::Block::bordered().inner(table);
            let shown = scroll::window(
                vm.snapshots.selected,
                vm.snapshots.snapshots.len(),
                cpus::rows_of(inner),
            );
            table
                .contains(at)
                .then(|| (ListId::Snapshots, row_in(inner, 1, at, shown)))
        }
        View::Console => Some((ListId::Console, None)),
        View::Devices => model.devices.tab.list().map(|list| (list, None)),
    }
}

/// The index of the row at `at` among `shown` rows drawn in `area` below `header` rows.
fn row_in(area: Rect, header: u16, at: Position, shown: std::ops::Range<usize>) -> Option<usize> {
    let top = area.y + header;
    if !area.contains(at) || at.y < top {
        return None;
    }
    let index = shown.start + usize::from(at.y - top);
    (index < shown.end).then_some(index)
}
