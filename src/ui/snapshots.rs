//! The snapshot view: the VM's internal snapshots as QEMU reports them, the running job's
//! progress, and the tag prompt.

use super::{footer, header, panel, theme};
use crate::app::{InputPurpose, Model};
use crate::format;
use crate::snapshot::format_vm_clock;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Gauge, Paragraph, Row, Table, TableState};
use std::time::Instant;

/// Draws the snapshot view.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    let Some(vm) = model.vm() else {
        return;
    };
    let view = &vm.snapshots;
    let job_height = if view.job.is_some() { 3 } else { 0 };
    let prompt_height = u16::from(model.input.is_some());
    let [
        header_area,
        table_area,
        job_area,
        prompt_area,
        message,
        keys,
    ] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(job_height),
        Constraint::Length(prompt_height),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, model, vm, now);

    let order = match (view.sort, view.descending) {
        (crate::app::snapshots::SnapshotSort::Date, false) => "by date",
        (crate::app::snapshots::SnapshotSort::Date, true) => "by date, newest first",
        (crate::app::snapshots::SnapshotSort::Name, false) => "by name",
        (crate::app::snapshots::SnapshotSort::Name, true) => "by name, reversed",
    };
    let title = format!("Snapshots ({}, {order})", view.snapshots.len());
    let block = panel(&title, true, !vm.is_connected());
    if let Some(error) = &view.error {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("cannot list snapshots: {error}"),
                theme::error(),
            ))
            .block(block),
            table_area,
        );
    } else if !view.loaded {
        frame.render_widget(
            Paragraph::new(Line::styled("reading the snapshot list…", theme::muted())).block(block),
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
                theme::muted(),
            ))
            .block(block),
            table_area,
        );
    } else {
        let rows = view.snapshots.iter().map(|snapshot| {
            let mut disks = snapshot.disks.join(", ");
            if snapshot.partial {
                disks = format!(
                    "{disks} (PARTIAL: missing on {})",
                    snapshot.missing.join(", ")
                );
            }
            let row = Row::new(vec![
                snapshot.tag.clone(),
                snapshot.id.clone(),
                if snapshot.vm_state_size > 0 {
                    format::bytes(snapshot.vm_state_size)
                } else {
                    "disk only".to_string()
                },
                snapshot.date.format("%Y-%m-%d %H:%M:%S").to_string(),
                format_vm_clock(snapshot.vm_clock),
                disks,
            ]);
            if snapshot.partial {
                row.style(theme::error())
            } else {
                row
            }
        });
        let table = Table::new(
            rows,
            [
                Constraint::Fill(2),
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Length(19),
                Constraint::Length(13),
                Constraint::Fill(3),
            ],
        )
        .header(
            Row::new(["tag", "id", "VM state", "date", "VM clock", "disks"])
                .style(theme::header_row()),
        )
        .row_highlight_style(theme::selected())
        .block(block);
        let mut state = TableState::default().with_selected(Some(view.selected));
        frame.render_stateful_widget(table, table_area, &mut state);
    }

    if let Some(job) = &view.job {
        let fraction = job
            .progress
            .as_ref()
            .and_then(|p| p.fraction())
            .unwrap_or(0.0);
        frame.render_widget(
            Gauge::default()
                .block(panel("Job", false, false))
                .gauge_style(theme::info())
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
        super::console::render_text(frame, prompt_area, &input.editor, input.purpose.label());
    }
    footer::render_message(frame, message, model, now);
    footer::render_keys(frame, keys, model);
}
