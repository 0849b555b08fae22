//! The snapshot view: the VM's internal snapshots as QEMU reports them, the running job's
//! progress, and the tag prompt.

use super::columns::{self, Column};
use super::{footer, header, panel, theme::Theme};
use crate::app::{InputPurpose, Model};
use crate::format;
use crate::snapshot::format_vm_clock;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Gauge, Paragraph, Table, TableState};
use std::time::Instant;

/// The snapshot table's columns, in the order of a row's cells (the tag and disks columns
/// then ask for the room their cells need).
const COLUMNS: [Column; 6] = [
    Column::growing("tag", 12, 0),
    Column::new("id", 4, 4),
    Column::new("VM state", 10, 2),
    Column::new("date", 19, 0),
    Column::new("VM clock", 13, 3),
    Column::growing("disks", 10, 1),
];

/// The snapshot screen's parts: header, table, job, prompt, message line, key hints.
fn areas(area: Rect, model: &Model, now: Instant) -> [Rect; 6] {
    let job = model.vm().is_some_and(|vm| vm.snapshots.job.is_some());
    let job_height = if job { 3 } else { 0 };
    let prompt_height = u16::from(model.input.is_some());
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(job_height),
        Constraint::Length(prompt_height),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where the snapshot table is drawn on a screen of `area` (the mouse code finds rows with
/// it).
pub fn table_area(area: Rect, model: &Model, now: Instant) -> Rect {
    areas(area, model, now)[1]
}

/// Draws the snapshot view.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let Some(vm) = model.vm() else {
        return;
    };
    let view = &vm.snapshots;
    let [
        header_area,
        table_area,
        job_area,
        prompt_area,
        message,
        keys,
    ] = areas(area, model, now);
    header::render(frame, header_area, model, vm, now, theme);

    let order = match (view.sort, view.descending) {
        (crate::app::SnapshotSort::Date, false) => "by date",
        (crate::app::SnapshotSort::Date, true) => "by date, newest first",
        (crate::app::SnapshotSort::Name, false) => "by name",
        (crate::app::SnapshotSort::Name, true) => "by name, reversed",
    };
    let len = view.snapshots.len();
    let inner = ratatui::widgets::Block::bordered().inner(table_area);
    let shown = super::scroll::window(
        view.selected,
        len,
        usize::from(inner.height.saturating_sub(1)),
    );
    let title = if shown.len() < len {
        format!(
            "Snapshots {}, {order}",
            super::scroll::position(view.selected, len)
        )
    } else {
        format!("Snapshots ({len}, {order})")
    };
    let block = panel(&title, true, !vm.is_connected(), theme);
    if let Some(error) = &view.error {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("cannot list snapshots: {error}"),
                theme.error(),
            ))
            .block(block),
            table_area,
        );
    } else if !view.loaded {
        frame.render_widget(
            Paragraph::new(Line::styled("reading the snapshot list…", theme.muted())).block(block),
            table_area,
        );
    } else if view.snapshots.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!(
                    "no internal snapshots yet: press {} to take one",
                    model
                        .keys
                        .keys_for(
                            crate::app::keymap::KeyContext::Snapshots,
                            crate::app::keymap::Action::SnapshotCreate
                        )
                        .unwrap_or_default()
                ),
                theme.muted(),
            ))
            .block(block),
            table_area,
        );
    } else {
        let disks_of = |snapshot: &crate::snapshot::Snapshot| {
            let disks = snapshot.disks.join(", ");
            if snapshot.partial {
                format!(
                    "{disks} (PARTIAL: missing on {})",
                    snapshot.missing.join(", ")
                )
            } else {
                disks
            }
        };
        let disks: Vec<String> = view.snapshots.iter().map(disks_of).collect();
        let mut columns = COLUMNS;
        columns[0] = columns[0].wanting(view.snapshots.iter().map(|s| s.tag.as_str()));
        columns[5] = columns[5].wanting(disks.iter().map(String::as_str));
        let fitted = columns::fit(&columns, inner.width);
        let rows = view.snapshots[shown.clone()].iter().map(|snapshot| {
            let disks = disks_of(snapshot);
            let row = fitted.row(vec![
                Cell::from(fitted.clip(0, snapshot.tag.clone())),
                Cell::from(snapshot.id.clone()),
                Cell::from(if snapshot.vm_state_size > 0 {
                    format::bytes(snapshot.vm_state_size)
                } else {
                    "disk only".to_string()
                }),
                Cell::from(snapshot.date.format("%Y-%m-%d %H:%M:%S").to_string()),
                Cell::from(format_vm_clock(snapshot.vm_clock)),
                Cell::from(fitted.clip(5, disks)),
            ]);
            if snapshot.partial {
                row.style(theme.error())
            } else {
                row
            }
        });
        let table = Table::new(rows, fitted.constraints())
            .header(fitted.header(&columns).style(theme.header_row()))
            .row_highlight_style(theme.selected())
            .block(block);
        let selected = view.selected.min(len - 1);
        let mut state = TableState::default().with_selected(Some(selected - shown.start));
        frame.render_stateful_widget(table, table_area, &mut state);
        super::scroll::table_scrollbar(frame, table_area, inner, shown, len, theme);
    }

    if let Some(job) = &view.job {
        let fraction = job
            .progress
            .as_ref()
            .and_then(|p| p.fraction())
            .unwrap_or(0.0);
        frame.render_widget(
            Gauge::default()
                .block(panel("Job", false, false, theme))
                .gauge_style(theme.info())
                .ratio(fraction)
                .label(job.describe()),
            job_area,
        );
    }
    if let Some(input) = model
        .input
        .as_ref()
        .filter(|i| i.purpose == InputPurpose::SnapshotTag)
    {
        super::console::render_text(
            frame,
            prompt_area,
            &input.editor,
            input.purpose.label(),
            theme,
        );
    }
    footer::render_message(frame, message, model, now, theme);
    footer::render_keys(frame, keys, model, theme);
}
