//! The block device panel: a table of devices with rates, totals and I/O errors (failed
//! operations, `io-status`), and read/write sparklines for the selected device.

use super::columns::{self, Column};
use super::{chart, is_focused, panel, theme::Theme, with_stale};
use crate::app::{BlockRow, Model, Panel, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::widgets::{Cell, Paragraph, Table, TableState};

/// The table's columns, in their order (the cells of a row follow it).
/// The names and images measured are those of `rows`, the rows in view (a VM may have
/// thousands of devices).
fn block_columns(vm: &Vm, rows: &[BlockRow], any_errors: bool, show_nodes: bool) -> [Column; 11] {
    let names: Vec<String> = rows.iter().map(|row| device_name(&row.sample)).collect();
    let media = vm.media();
    let images: Vec<String> = rows
        .iter()
        .filter_map(|row| media.of(&row.sample).map(|m| file_name(&m.file)))
        .collect();
    [
        Column::growing("device", 8, 0)
            .wanting(names.iter().map(String::as_str))
            .reserving(20),
        // Only user-given node names are shown; without any, the column takes no room.
        Column::new(
            if show_nodes { "node" } else { "" },
            10,
            if show_nodes { 6 } else { columns::HIDDEN },
        ),
        Column::growing("image", 12, 3).wanting(images.iter().map(String::as_str)),
        Column::new("format", 6, 5),
        // The errors column is there only when a device has errors (the title says so too).
        Column::new(
            "I/O errors",
            22,
            if any_errors { 1 } else { columns::HIDDEN },
        ),
        Column::new("read/s", 11, 0),
        Column::new("write/s", 11, 0),
        Column::new("r IOPS", 6, 4),
        Column::new("w IOPS", 6, 4),
        Column::new("lat ms r/w", 11, 7),
        Column::new("total read / written", 21, 2),
    ]
}

/// The block panel's table and chart areas (the mouse code finds rows with it): the table
/// takes the rows its devices need, up to half the panel, leaving the charts two rows or more.
pub fn block_areas(area: Rect, devices: usize) -> [Rect; 2] {
    let inner = ratatui::widgets::Block::bordered().inner(area);
    let chart_rows = if inner.height >= 4 { 2 } else { 0 };
    let table_rows = (devices as u16 + 1)
        .min(inner.height.saturating_sub(chart_rows))
        .min((inner.height / 2).max(4))
        .max(2.min(inner.height));
    let [table, chart] =
        Layout::vertical([Constraint::Length(table_rows), Constraint::Min(0)]).areas(inner);
    [table, chart]
}

/// The read and write charts' areas: side by side when they are wide enough or too short
/// to stack (each needs a row of figures and one of history), else one over the other.
fn chart_areas(area: Rect) -> [Rect; 2] {
    let direction = if area.width >= 2 * 30 || area.height < 5 {
        Direction::Horizontal
    } else {
        Direction::Vertical
    };
    Layout::new(direction, [Constraint::Fill(1), Constraint::Fill(1)])
        .spacing(1)
        .areas(area)
}

/// Draws the block device table (scrolling, with its position) and the selected device's
/// read and write history.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    model: &Model,
    vm: &Vm,
    stale: Option<&str>,
    theme: &Theme,
) {
    let media = vm.media();
    let failing: Vec<String> = vm
        .blocks
        .iter()
        .filter(|row| media.io_errors(&row.sample).is_some())
        .map(|row| device_name(&row.sample))
        .collect();
    let len = vm.blocks.len();
    let [table_area, chart_area] = block_areas(area, len);
    let shown = super::scroll::window(model.selected_block, len, super::cpus::rows_of(table_area));
    let mut title = if shown.len() < len {
        format!(
            "Block devices {}",
            super::scroll::position(model.selected_block, len)
        )
    } else {
        format!("Block devices ({len})")
    };
    if !failing.is_empty() {
        title.push_str(&format!(" · I/O ERRORS on {}", failing.join(", ")));
    }
    // Read and write share one scale, so that their heights compare.
    let selected = model.selected_block.min(len.saturating_sub(1));
    let [read_area, write_area] = chart_areas(chart_area);
    let scale = vm.blocks.get(selected).map_or(1.0, |row| {
        chart::scale_of(
            &[&row.read_history, &row.write_history],
            read_area,
            chart::round_binary_scale,
        )
    });
    let mut block = panel(
        &with_stale(&title, stale),
        is_focused(model, Panel::Blocks),
        stale.is_some(),
        theme,
    );
    if chart_area.height > 1 {
        block = block.title_bottom(chart::legend(
            &format::rate(scale),
            chart::window(read_area, model.interval),
            theme,
        ));
    }
    let inner = block.inner(area);
    super::render_panel(frame, block, area, stale.is_some());
    if vm.blocks.is_empty() {
        frame.render_widget(
            Paragraph::new("no block devices").style(theme.muted()),
            inner,
        );
        return;
    }
    let any_errors = !failing.is_empty();
    let show_nodes = vm
        .blocks
        .iter()
        .any(|row| !display_node_name(row.sample.node_name.as_deref()).is_empty());
    let columns = block_columns(vm, &vm.blocks[shown.clone()], any_errors, show_nodes);
    let fitted = columns::fit(&columns, table_area.width);
    // Only the rows in view are built (a VM may have thousands of devices).
    let rows = vm.blocks[shown.clone()].iter().map(|row| {
        let sample = &row.sample;
        let medium = media.of(sample);
        let errors = match media.io_errors(sample) {
            Some(text) => Cell::from(text).style(theme.error()),
            None => Cell::from("none"),
        };
        let rates = sample.rates;
        let rate = |pick: fn(&crate::news::BlockRates) -> f64| {
            rates
                .as_ref()
                .map_or_else(|| "-".to_string(), |r| format::rate(pick(r)))
        };
        let ops = |pick: fn(&crate::news::BlockRates) -> f64| {
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
        fitted.row(vec![
            Cell::from(fitted.clip(0, device_name(sample))),
            display_node_name(sample.node_name.as_deref()).into(),
            fitted
                .clip(2, medium.map(|m| file_name(&m.file)).unwrap_or_default())
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
        ])
    });
    let table = Table::new(rows, fitted.constraints())
        .header(fitted.header(&columns).style(theme.header_row()))
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(selected - shown.start));
    frame.render_stateful_widget(table, table_area, &mut state);
    let rows_area = Rect {
        y: table_area.y + 1,
        height: table_area.height.saturating_sub(1),
        ..table_area
    };
    super::scroll::scrollbar(
        frame,
        super::scroll::border_beside(area, rows_area),
        shown,
        len,
        theme,
    );
    let Some(row) = vm.blocks.get(selected) else {
        return;
    };
    let rates = row.sample.rates;
    for (area, label, current, history, style) in [
        (
            read_area,
            "read",
            rates.map(|r| r.read_bytes_per_sec),
            &row.read_history,
            theme.read_series(),
        ),
        (
            write_area,
            "write",
            rates.map(|r| r.write_bytes_per_sec),
            &row.write_history,
            theme.write_series(),
        ),
    ] {
        chart::render(
            frame,
            area,
            &chart::Series {
                label,
                current: current.map_or("-".to_string(), format::rate),
                history,
                scale,
                format: format::rate,
                style,
            },
            model.interval,
            theme,
        );
    }
}

/// The name a block device goes by: its drive id, else its guest device path.
fn device_name(sample: &crate::news::BlockSample) -> String {
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
