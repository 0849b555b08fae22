//! The fleet view: one row per watched VM, sortable by any column (its title carries the
//! arrow), filterable, with marks for bulk pause/resume. VMs with the same name show their
//! target; columns that do not fit are left out, least important first.

use super::theme::{self, Theme};
use super::{footer, panel};
use crate::app::FleetColumn;
use crate::app::Model;
use crate::format;
use crate::news::VmId;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use std::time::Instant;

/// Columns by importance (indices into [`FleetColumn::ALL`]): name and state always show.
const COLUMN_PRIORITY: [usize; 8] = [0, 1, 2, 3, 6, 4, 5, 7];

/// `name` with the VM's host after it when the VM is on another host (`web1 @db1`), so a
/// fleet that spans hosts reads at a glance. A name that shows the target has the host
/// already.
pub fn with_host(vm: &crate::app::Vm, name: &str) -> String {
    let host = vm
        .target
        .parse::<crate::qmp::Target>()
        .ok()
        .and_then(|target| target.ssh_host().map(ToString::to_string));
    match host {
        Some(host) if !name.contains(&vm.target) => format!("{name} @{host}"),
        _ => name.to_string(),
    }
}

/// The fleet screen's parts: header line, table, message line, key hints.
fn areas(area: Rect, model: &Model, now: Instant) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where the fleet table is drawn on a screen of `area` (the mouse code finds rows with it).
pub fn table_area(area: Rect, model: &Model, now: Instant) -> Rect {
    areas(area, model, now)[1]
}

/// Draws the fleet table with its header, message line and key hints.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let [header, table_area, message, keys] = areas(area, model, now);
    let rows = model.fleet.rows(&model.vms, now);
    let watched = model.vms.iter().filter(|vm| !vm.removed).count();
    let connected = model
        .vms
        .iter()
        .filter(|vm| !vm.removed && vm.is_connected())
        .count();
    let mut spans = vec![
        Span::styled("qemu-dash", theme.title()),
        Span::raw(format!(
            "  {watched} VMs, {connected} connected, {} shown  every {}",
            rows.len(),
            format::seconds(model.interval)
        )),
    ];
    if model.read_only {
        spans.push(Span::styled("  [read-only]", theme.key()));
    }
    let typing = model
        .input
        .as_ref()
        .filter(|input| input.purpose == crate::app::InputPurpose::Filter);
    if typing.is_some() {
        spans.push(Span::raw("  "));
    } else if !model.fleet.filter.is_empty() {
        spans.push(Span::styled(
            format!("  filter: {}", model.fleet.filter),
            theme.key(),
        ));
    }
    let line = Line::from(spans);
    let used = (line.width() as u16).min(header.width);
    frame.render_widget(Paragraph::new(line), header);
    if let Some(input) = typing {
        let rest = Rect {
            x: header.x + used,
            width: header.width - used,
            ..header
        };
        super::console::render_text(frame, rest, &input.editor, input.purpose.label(), theme);
    }

    let names = crate::app::FleetState::row_names(&model.vms);
    let cells: Vec<(VmId, [String; 8])> = rows
        .iter()
        .map(|&id| {
            let vm = &model.vms[id];
            let mark = if model.fleet.marked.contains(&id) {
                "*"
            } else {
                " "
            };
            let state = vm.state_word();
            let since = vm
                .time_in_state(now)
                .map(format::duration)
                .unwrap_or_else(|| "-".to_string());
            let last_event = vm
                .events
                .back()
                .map(|e| format!("{} {} {}", e.time.format("%H:%M:%S"), e.name, e.text))
                .unwrap_or_default();
            let name = with_host(
                vm,
                names
                    .get(id)
                    .map_or_else(|| vm.display_name(), String::as_str),
            );
            (
                id,
                [
                    format!("{mark}{name}"),
                    format!("{} {state}", theme::state_mark(state)),
                    format::percent(vm.process_cpu_percent),
                    vm.rss_bytes.map_or("-".to_string(), format::bytes),
                    vm.read_rate().map_or("-".to_string(), format::rate),
                    vm.write_rate().map_or("-".to_string(), format::rate),
                    since,
                    last_event,
                ],
            )
        })
        .collect();
    let titles: Vec<String> = FleetColumn::ALL
        .iter()
        .enumerate()
        .map(|(n, column)| {
            let arrow = match (model.fleet.sort == *column, model.fleet.descending) {
                (true, false) => " ▲",
                (true, true) => " ▼",
                (false, _) => "",
            };
            format!("{}:{}{arrow}", n + 1, column.title())
        })
        .collect();
    // Each column is as wide as its title with an arrow and its widest cell (names at most
    // 40); the last event takes what is left. Columns that do not fit are left out, least
    // important first, but never the one sorted by.
    let inner_width = table_area.width.saturating_sub(2) as usize;
    let widths: Vec<usize> = (0..FleetColumn::ALL.len())
        .map(|at| {
            let widest = cells
                .iter()
                .map(|(_, row)| ratatui::text::Span::raw(row[at].as_str()).width())
                .max()
                .unwrap_or(0);
            let title = ratatui::text::Span::raw(titles[at].as_str()).width() + 2;
            match FleetColumn::ALL[at] {
                FleetColumn::LastEvent => title.max(16),
                FleetColumn::Name => widest.clamp(title, 40),
                _ => widest.max(title),
            }
        })
        .collect();
    // Name and state first, then the column sorted by, then the others by importance.
    let sorted = FleetColumn::ALL
        .iter()
        .position(|&column| column == model.fleet.sort)
        .unwrap_or(0);
    let mut order = vec![0, 1, sorted];
    order.extend(COLUMN_PRIORITY);
    let mut shown = [false; 8];
    let mut used = 0;
    for at in order {
        let needed = widths[at] + usize::from(used > 0);
        if shown[at] {
            continue;
        }
        if used + needed <= inner_width || at <= 1 || at == sorted {
            shown[at] = true;
            used += needed;
        }
    }
    let keep = |row: &[String]| -> Vec<String> {
        row.iter()
            .enumerate()
            .filter(|(at, _)| shown[*at])
            .map(|(_, cell)| cell.clone())
            .collect()
    };
    let constraints: Vec<Constraint> = (0..FleetColumn::ALL.len())
        .filter(|&at| shown[at])
        .map(|at| match FleetColumn::ALL[at] {
            FleetColumn::LastEvent => Constraint::Min(widths[at] as u16),
            _ => Constraint::Length(widths[at] as u16),
        })
        .collect();
    let selected = model.fleet.selected_index(&rows);
    let inner = ratatui::widgets::Block::bordered().inner(table_area);
    let shown = super::scroll::window(
        selected,
        cells.len(),
        usize::from(inner.height.saturating_sub(1)),
    );
    let table_rows = cells[shown.clone()].iter().map(|(id, row)| {
        let vm = &model.vms[*id];
        let style = if vm.is_stale() {
            theme.stale()
        } else {
            ratatui::style::Style::new()
        };
        let state = vm.state_word();
        let cells: Vec<Cell> = keep(row)
            .into_iter()
            .enumerate()
            .map(|(at, text)| {
                // Name and state always show: the state is the second cell.
                if at == 1 {
                    Cell::from(text).style(theme.run_state(state))
                } else {
                    Cell::from(text)
                }
            })
            .collect();
        Row::new(cells).style(style)
    });
    let title = if shown.len() < cells.len() {
        format!("VMs {}", super::scroll::position(selected, cells.len()))
    } else {
        "VMs".to_string()
    };
    let table = Table::new(table_rows, constraints)
        .header(Row::new(keep(&titles)).style(theme.header_row()))
        .row_highlight_style(theme.selected())
        .block(panel(&title, true, false, theme));
    let mut state = TableState::default()
        .with_selected((!rows.is_empty()).then(|| selected.saturating_sub(shown.start)));
    frame.render_stateful_widget(table, table_area, &mut state);
    super::scroll::table_scrollbar(frame, table_area, inner, shown, cells.len(), theme);
    footer::render_message(frame, message, model, now, theme);
    footer::render_keys(frame, keys, model, theme);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Vm;

    #[test]
    fn vms_on_other_hosts_carry_their_host() {
        let mut remote = Vm::new("ssh://me@db1:2222/run/web.qmp".to_string());
        assert_eq!(
            with_host(&remote, remote.display_name()),
            "ssh://me@db1:2222/run/web.qmp"
        );
        remote.name = Some("web".to_string());
        assert_eq!(with_host(&remote, "web"), "web @me@db1:2222");
        assert_eq!(
            with_host(&remote, "web [web.qmp]"),
            "web [web.qmp] @me@db1:2222"
        );
        let mut local = Vm::new("unix:/run/web.qmp".to_string());
        local.name = Some("web".to_string());
        assert_eq!(with_host(&local, "web"), "web");
    }
}
