//! The block device panel: a table of devices with rates, totals and I/O errors (failed
//! operations, `io-status`), and read/write sparklines for the selected device.

use super::{is_focused, panel, theme, with_stale};
use crate::app::{Model, Panel, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table, TableState};

/// Where the I/O errors column sits in the table.
const ERRORS_COLUMN: usize = 4;

/// Draws the block device table and the selected device's history.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, stale: Option<&str>) {
    let media = vm.media();
    let failing: Vec<String> = vm
        .blocks
        .iter()
        .filter(|row| media.io_errors(&row.sample).is_some())
        .map(|row| device_name(&row.sample))
        .collect();
    let mut title = format!("Block devices ({})", vm.blocks.len());
    if !failing.is_empty() {
        title.push_str(&format!(" · I/O ERRORS on {}", failing.join(", ")));
    }
    let block = panel(
        &with_stale(&title, stale),
        is_focused(model, Panel::Blocks),
        stale.is_some(),
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
    // The table takes the rows it needs (up to half the panel); the history charts the rest.
    let table_height = (vm.blocks.len() as u16 + 1).clamp(2, (inner.height / 2).max(2));
    // In a short panel the table keeps its rows; the charts get what is left.
    let [table_area, _gap, chart_area] = Layout::vertical([
        Constraint::Length(table_height),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let any_errors = !failing.is_empty();
    let show_nodes = vm
        .blocks
        .iter()
        .any(|row| !display_node_name(row.sample.node_name.as_deref()).is_empty());
    // Only the rows that fit are built (a VM may have thousands of devices), scrolled the way
    // the table would scroll them to keep the selected row in view.
    let visible = usize::from(table_area.height.saturating_sub(1)).max(1);
    let selected = model.selected_block.min(vm.blocks.len() - 1);
    let first = (selected + 1).saturating_sub(visible);
    let shown = &vm.blocks[first..(first + visible).min(vm.blocks.len())];
    let rows = shown.iter().map(|row| {
        let sample = &row.sample;
        let medium = media.of(sample);
        let name = device_name(sample);
        let errors = match media.io_errors(sample) {
            Some(text) => Cell::from(text).style(theme::error()),
            None => Cell::from("none"),
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
        let mut cells: Vec<Cell> = vec![
            Cell::from(name),
            display_node_name(sample.node_name.as_deref()).into(),
            medium
                .map(|m| file_name(&m.file))
                .unwrap_or_default()
                .into(),
            medium.map(|m| m.drv.clone()).unwrap_or_default().into(),
            errors,
            rate(|r| r.read_bytes_per_sec).into(),
            rate(|r| r.write_bytes_per_sec).into(),
            ops(|r| r.read_iops).into(),
            ops(|r| r.write_iops).into(),
            latency.into(),
            format!(
                "{} / {}",
                format::bytes(sample.totals.rd_bytes),
                format::bytes(sample.totals.wr_bytes)
            )
            .into(),
        ];
        if !any_errors {
            cells.remove(ERRORS_COLUMN);
        }
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Length(8),
        // Only user-given node names are shown; without any, the column takes no room.
        Constraint::Length(if show_nodes { 10 } else { 0 }),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(22),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(11),
        Constraint::Length(21),
    ];
    let mut titles = vec![
        "device",
        if show_nodes { "node" } else { "" },
        "image",
        "format",
        "I/O errors",
        "read/s",
        "write/s",
        "r IOPS",
        "w IOPS",
        "lat ms r/w",
        "total read / written",
    ];
    // The errors column is there only when a device has errors (the title says so too).
    if !any_errors {
        widths.remove(ERRORS_COLUMN);
        titles.remove(ERRORS_COLUMN);
    }
    let table = Table::new(rows, widths)
        .header(Row::new(titles).style(theme::header_row()))
        .row_highlight_style(theme::selected());
    let mut state = TableState::default().with_selected(Some(selected - first));
    frame.render_stateful_widget(table, table_area, &mut state);
    if let Some(row) = vm.blocks.get(model.selected_block) {
        let [read_row, write_row] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)])
            .spacing(1)
            .areas(chart_area);
        let rates = row.sample.rates;
        render_series(
            frame,
            read_row,
            "read ",
            rates.map(|r| r.read_bytes_per_sec),
            &row.read_history,
            theme::read_series(),
        );
        render_series(
            frame,
            write_row,
            "write",
            rates.map(|r| r.write_bytes_per_sec),
            &row.write_history,
            theme::write_series(),
        );
    }
}

/// One history series: a label with the current and peak rate, and a sparkline.
fn render_series(
    frame: &mut Frame,
    area: Rect,
    label: &str,
    current: Option<f64>,
    history: &crate::app::History,
    style: ratatui::style::Style,
) {
    let [label_area, spark_area] =
        Layout::horizontal([Constraint::Length(20), Constraint::Min(1)]).areas(area);
    let data = history.last(spark_area.width as usize);
    let peak = data.iter().copied().max().unwrap_or(0);
    let text = vec![
        Line::styled(
            format!("{label} {}", current.map_or("-".to_string(), format::rate)),
            style,
        ),
        Line::styled(
            format!("peak  {}", format::rate(peak as f64)),
            theme::muted(),
        ),
    ];
    frame.render_widget(Paragraph::new(text), label_area);
    frame.render_widget(
        Sparkline::default().data(&data).style(style),
        super::right_aligned(spark_area, data.len()),
    );
}

/// The name a block device goes by: its drive id, else its guest device path.
fn device_name(sample: &crate::collect::poller::BlockSample) -> String {
    if sample.device.is_empty() {
        sample.qdev.clone().unwrap_or_default()
    } else {
        sample.device.clone()
    }
}

/// Node names QEMU generated ("#block123") say nothing the device id does not; hide them.
fn display_node_name(node: Option<&str>) -> String {
    match node {
        Some(name) if !name.starts_with('#') => name.to_string(),
        _ => String::new(),
    }
}

/// The last component of an image path (the column is narrow; the batch output has the path).
fn file_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(
        || path.to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
