//! The mouse: which list is under the pointer, and which row. The wheel scrolls the list
//! under the pointer, a click focuses its panel and selects the row. Uses the same layout
//! functions and windows as the drawing, so a click lands on the row it shows.

use super::{devices, lists};
use crate::app::Tab;
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
    if let Some(tab) = tab_at(model, area, now, at)
        && event.kind == MouseEventKind::Down(MouseButton::Left)
    {
        return Some(Pointer::Tab(tab));
    }
    let (list, row) = hit(model, area, now, at)?;
    match event.kind {
        MouseEventKind::ScrollDown => Some(Pointer::Wheel { list, down: true }),
        MouseEventKind::ScrollUp => Some(Pointer::Wheel { list, down: false }),
        MouseEventKind::Down(MouseButton::Left) => Some(Pointer::Click { list, row }),
        _ => None,
    }
}

/// The list under `at`, and the row (an index into the list) when a row was hit. The
/// console's transcript scrolls but has no rows to select.
fn hit(model: &Model, area: Rect, now: Instant, at: Position) -> Option<(ListId, Option<usize>)> {
    let shown = lists::on_screen(model, area, now)
        .into_iter()
        .find(|shown| shown.panel.contains(at))?;
    let row = (shown.list != ListId::Console)
        .then(|| row_in(shown.rows, at, shown.shown))
        .flatten();
    Some((shown.list, row))
}

/// The tab of the devices screen at `at`, if the screen shows and no prompt is open there
/// (its typing would be lost).
fn tab_at(model: &Model, area: Rect, now: Instant, at: Position) -> Option<usize> {
    if model.view != View::Devices || model.devices.form.is_some() {
        return None;
    }
    let (tab, _) = devices::tab_areas(area, model, now)
        .into_iter()
        .find(|(_, label)| label.contains(at))?;
    Tab::ALL.iter().position(|&t| t == tab)
}

/// The index of the row at `at` among `shown` entries drawn in `rows`, one a row.
fn row_in(rows: Rect, at: Position, shown: std::ops::Range<usize>) -> Option<usize> {
    if !rows.contains(at) {
        return None;
    }
    let index = shown.start + usize::from(at.y - rows.y);
    (index < shown.end).then_some(index)
}
