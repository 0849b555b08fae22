//! The lists on screen: for the screen showing now, where each list's panel and rows are and
//! which of its entries those rows show. Computed from the model and the terminal size with
//! the drawing's own layout functions, so that a click lands on the row it shows
//! ([`super::mouse`]) and a page key moves by the rows the panel really has
//! ([`super::page_rows`]). Draws nothing.

use super::{blocks, console, cpus, devices, events, fleet, snapshots, vm_areas};
use crate::app::ListId;
use crate::app::{Model, View};
use ratatui::layout::Rect;
use ratatui::widgets::Block;
use std::ops::Range;
use std::time::Instant;

/// A list as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOnScreen {
    /// Which list.
    pub list: ListId,
    /// Its whole panel (the wheel and clicks anywhere in it reach the list).
    pub panel: Rect,
    /// The rows that show entries (below a table's header row).
    pub rows: Rect,
    /// The entries those rows show, top row first.
    pub shown: Range<usize>,
}

impl ListOnScreen {
    /// A table in `table` (its header row first) inside `panel`, with `len` entries and
    /// `selected` in view.
    fn table(list: ListId, panel: Rect, table: Rect, selected: usize, len: usize) -> Self {
        let rows = Rect {
            y: table.y.saturating_add(1).min(table.bottom()),
            height: table.height.saturating_sub(1),
            ..table
        };
        ListOnScreen {
            list,
            panel,
            rows,
            shown: crate::ui::scroll::window(selected, len, usize::from(rows.height)),
        }
    }

    /// A bordered panel holding a table, as the fleet, the snapshots and the devices draw.
    fn bordered_table(list: ListId, panel: Rect, selected: usize, len: usize) -> Self {
        Self::table(list, panel, Block::bordered().inner(panel), selected, len)
    }
}

/// The lists on a screen of `area` showing `model` (none behind the too-small screen).
pub fn on_screen(model: &Model, area: Rect, now: Instant) -> Vec<ListOnScreen> {
    if super::too_small(area.width, area.height) {
        return Vec::new();
    }
    let Some(vm) = model.vm() else {
        return Vec::new();
    };
    match model.view {
        View::Vm => {
            let areas = vm_areas(area, model, now);
            let [cpu_table, _] = cpus::cpu_areas(areas.cpus, vm.vcpus.len());
            let [block_table, _] = blocks::block_areas(areas.blocks, vm.blocks.len());
            let log = events::lines_area(model, vm, areas.events);
            vec![
                ListOnScreen::table(
                    ListId::Cpus,
                    areas.cpus,
                    cpu_table,
                    model.selected_cpu,
                    vm.vcpus.len(),
                ),
                ListOnScreen::table(
                    ListId::Blocks,
                    areas.blocks,
                    block_table,
                    model.selected_block,
                    vm.blocks.len(),
                ),
                ListOnScreen {
                    list: ListId::Events,
                    panel: areas.events,
                    rows: log,
                    shown: events::shown(model, vm, usize::from(log.height)),
                },
            ]
        }
        View::Fleet => {
            let rows = model.fleet.rows(&model.vms, now);
            vec![ListOnScreen::bordered_table(
                ListId::Fleet,
                fleet::table_area(area, model, now),
                model.fleet.selected_index(&rows),
                rows.len(),
            )]
        }
        View::Snapshots => vec![ListOnScreen::bordered_table(
            ListId::Snapshots,
            snapshots::table_area(area, model, now),
            vm.snapshots.selected,
            vm.snapshots.snapshots.len(),
        )],
        View::Console => {
            let panel = console::transcript_area(area, model, now);
            let rows = Block::bordered().inner(panel);
            let shown = console::transcript_window(model, vm, rows.height);
            vec![ListOnScreen {
                list: ListId::Console,
                panel,
                rows,
                shown,
            }]
        }
        View::Devices => {
            let (Some(list), Some(panel)) = (
                model.devices.tab.list(),
                devices::list_area(area, model, now),
            ) else {
                return Vec::new();
            };
            let (selected, len) = match list {
                ListId::Media => (model.devices.media_selected, vm.removable().len()),
                ListId::Forwards => (model.devices.forward_selected, vm.monitor.forwards().len()),
                _ => (
                    model.devices.device_selected,
                    vm.monitor.device_list().len(),
                ),
            };
            vec![ListOnScreen::bordered_table(list, panel, selected, len)]
        }
    }
}

/// The list the keys move on the screen showing now: the focused panel's on the dashboard,
/// the screen's one list elsewhere.
pub fn keyed(model: &Model, area: Rect, now: Instant) -> Option<ListOnScreen> {
    let lists = on_screen(model, area, now);
    let wanted = (model.view == View::Vm).then(|| model.focus.list());
    lists
        .into_iter()
        .find(|shown| wanted.is_none_or(|list| shown.list == list))
}
