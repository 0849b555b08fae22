//! The fleet view: one row per watched VM, sortable by any column, filterable, with marks
//! for bulk pause/resume.

use super::{footer, panel, theme};
use crate::app::Model;
use crate::app::fleet::FleetColumn;
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState};
use std::time::Instant;

/// The name cell: a VM on another host carries its host (`web1 @db-host`), so a fleet that
/// spans hosts reads at a glance. A VM still shown by its target has the host in it already.
pub fn name_cell(vm: &crate::app::Vm) -> String {
    let name = vm.display_name();
    let host = vm
        .target
        .parse::<crate::qmp::Target>()
        .ok()
        .and_then(|target| target.ssh_host().map(ToString::to_string));
    match host {
        Some(host) if name != vm.target => format!("{name} @{host}"),
        _ => name.to_string(),
    }
}

/// Draws the fleet table with its header, message line and key hints.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    let [header, table_area, message, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let rows = model.fleet.rows(&model.vms, now);
    let watched = model.vms.iter().filter(|vm| !vm.removed).count();
    let connected = model
        .vms
        .iter()
        .filter(|vm| !vm.removed && vm.is_connected())
        .count();
    let mut spans = vec![
        Span::styled("qemu-dash", theme::title()),
        Span::raw(format!(
            "  {watched} VMs, {connected} connected, {} shown  every {}",
            rows.len(),
            format::seconds(model.interval)
        )),
    ];
    if model.read_only {
        spans.push(Span::styled("  [read-only]", theme::key()));
    }
    if let Some(input) = &model.input {
        spans.push(Span::styled(
            format!("  filter: {}▏", input.text),
            theme::key(),
        ));
    } else if !model.fleet.filter.is_empty() {
        spans.push(Span::styled(
            format!("  filter: {}", model.fleet.filter),
            theme::key(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), header);

    let titles = FleetColumn::ALL.iter().enumerate().map(|(n, column)| {
        let arrow = match (model.fleet.sort == *column, model.fleet.descending) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            (false, _) => "",
        };
        format!("{}:{}{arrow}", n + 1, column.title())
    });
    let table_rows = rows.iter().map(|&id| {
        let vm = &model.vms[id];
        let mark = if model.fleet.marked.contains(&id) {
            "*"
        } else {
            " "
        };
        let state = vm.state_word();
        let since = vm
            .status_since
            .filter(|_| vm.is_connected())
            .map(|t| format::duration(now.duration_since(t)))
            .unwrap_or_else(|| "-".to_string());
        let last_event = vm
            .events
            .back()
            .map(|e| format!("{} {} {}", e.time.format("%H:%M:%S"), e.name, e.text))
            .unwrap_or_default();
        let style = if vm.is_connected() {
            ratatui::style::Style::new()
        } else {
            theme::stale()
        };
        Row::new(vec![
            ratatui::text::Text::raw(format!("{mark}{}", name_cell(vm))),
            ratatui::text::Text::styled(format!("● {state}"), theme::run_state(&state)),
            ratatui::text::Text::raw(format::percent(vm.process_cpu_percent)),
            ratatui::text::Text::raw(vm.rss_bytes.map_or("-".to_string(), format::bytes)),
            ratatui::text::Text::raw(vm.read_rate().map_or("-".to_string(), format::rate)),
            ratatui::text::Text::raw(vm.write_rate().map_or("-".to_string(), format::rate)),
            ratatui::text::Text::raw(since),
            ratatui::text::Text::raw(last_event),
        ])
        .style(style)
    });
    let table = Table::new(
        table_rows,
        [
            Constraint::Length(20),
            Constraint::Length(15),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(11),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(titles).style(theme::header_row()))
    .row_highlight_style(theme::selected())
    .block(panel("VMs", true, false));
    let selected = (!rows.is_empty()).then(|| model.fleet.selected.min(rows.len() - 1));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, table_area, &mut state);
    footer::render_message(frame, message, model, None);
    footer::render_keys(frame, keys, model);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Vm;

    #[test]
    fn vms_on_other_hosts_carry_their_host() {
        let mut remote = Vm::new("ssh://me@db1:2222/run/web.qmp".to_string());
        assert_eq!(name_cell(&remote), "ssh://me@db1:2222/run/web.qmp");
        remote.name = Some("web".to_string());
        assert_eq!(name_cell(&remote), "web @me@db1:2222");
        let mut local = Vm::new("unix:/run/web.qmp".to_string());
        local.name = Some("web".to_string());
        assert_eq!(name_cell(&local), "web");
    }
}
