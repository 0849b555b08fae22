//! The block device panel: a table of devices with rates and totals, and read/write
//! sparklines for the selected device.

use super::{is_focused, panel, theme};
use crate::app::{Model, Panel, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Sparkline, Table, TableState};

/// Draws the block device table and the selected device's history.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, stale: bool) {
    let block = panel(
        &format!("Block devices ({})", vm.blocks.len()),
        is_focused(model, Panel::Blocks),
        stale,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if vm.blocks.is_empty() {
        frame.render_widget(
            Paragraph::new("no block devices").style(theme::muted()),
            inner,
        );
        return;
    }
    let [table_area, chart_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(2)]).areas(inner);
    let rows = vm.blocks.iter().map(|row| {
        let sample = &row.sample;
        let medium = vm.medium_of(sample);
        let name = if sample.device.is_empty() {
            sample.qdev.clone().unwrap_or_default()
        } else {
            sample.device.clone()
        };
        let rates = sample.rates;
        let rate = |pick: fn(&crate::collect::rates::BlockRates) -> f64| {
            rates
                .as_ref()
                .map_or_else(|| "-".to_string(), |r| format::rate(pick(r)))
        };
        let ops = |pick: fn(&crate::collect::rates::BlockRates) -> f64| {
            rates
                .as_ref()
                .map_or_else(|| "-".to_string(), |r| format::per_sec(pick(r)))
        };
        let latency = rates
            .and_then(|r| match (r.read_latency_ms, r.write_latency_ms) {
                (None, None) => None,
                (read, write) => Some(format!(
                    "{}/{}",
                    read.map_or("-".to_string(), |v| format!("{v:.2}")),
                    write.map_or("-".to_string(), |v| format!("{v:.2}"))
                )),
            })
            .unwrap_or_else(|| "-".to_string());
        Row::new(vec![
            name,
            sample.node_name.clone().unwrap_or_default(),
            medium.map(|m| file_name(&m.file)).unwrap_or_default(),
            medium.map(|m| m.drv.clone()).unwrap_or_default(),
            rate(|r| r.read_bytes_per_sec),
            rate(|r| r.write_bytes_per_sec),
            ops(|r| r.read_iops),
            ops(|r| r.write_iops),
            latency,
            format!(
                "{} / {}",
                format::bytes(sample.totals.rd_bytes),
                format::bytes(sample.totals.wr_bytes)
            ),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Fill(1),
            Constraint::Length(6),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(11),
            Constraint::Length(21),
        ],
    )
    .header(
        Row::new([
            "device",
            "node",
            "image",
            "format",
            "read/s",
            "write/s",
            "r IOPS",
            "w IOPS",
            "lat ms r/w",
            "total read / written",
        ])
        .style(theme::header_row()),
    )
    .row_highlight_style(theme::selected());
    let mut state = TableState::default().with_selected(Some(model.selected_block));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(row) = vm.blocks.get(model.selected_block) {
        let [labels, sparks] =
            Layout::horizontal([Constraint::Length(20), Constraint::Min(1)]).areas(chart_area);
        let [read_area, write_area] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(sparks);
        let width = read_area.width as usize;
        let read = row.read_history.last(width);
        let write = row.write_history.last(width);
        let now = |rates: Option<f64>| rates.map_or("-".to_string(), format::rate);
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled(
                    format!(
                        "read  {}",
                        now(row.sample.rates.map(|r| r.read_bytes_per_sec))
                    ),
                    theme::read_series(),
                ),
                Line::styled(
                    format!(
                        "write {}",
                        now(row.sample.rates.map(|r| r.write_bytes_per_sec))
                    ),
                    theme::write_series(),
                ),
            ]),
            labels,
        );
        frame.render_widget(
            Sparkline::default().data(&read).style(theme::read_series()),
            read_area,
        );
        frame.render_widget(
            Sparkline::default()
                .data(&write)
                .style(theme::write_series()),
            write_area,
        );
    }
}

/// The last component of an image path (the column is narrow; the batch output has the path).
fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(
        || path.to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
