//! The vCPU panel (host CPU and steal per vCPU thread, a sparkline of their sum with its
//! scale) and the memory panel (with the QEMU process's own CPU and RSS).

use super::columns::{self, Column};
use super::{chart, is_focused, panel, scroll, theme::Theme, with_stale};
use crate::app::{Model, Panel, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Table, TableState};

/// The vCPU table's columns.
const CPU_COLUMNS: [Column; 4] = [
    Column::new("vCPU", 4, 0),
    Column::new("thread", 8, 2),
    Column::new("host CPU", 8, 0),
    Column::new("steal", 6, 1),
];
/// Columns the vCPU table takes beside its chart.
const TABLE_WIDTH: u16 = 29;
/// Columns from which the chart goes beside the table rather than under it.
const SIDE_BY_SIDE: u16 = TABLE_WIDTH + 16;

/// Draws the vCPU table (scrolling, with its position) and the total CPU history.
pub fn render_cpus(
    frame: &mut Frame,
    area: Rect,
    model: &Model,
    vm: &Vm,
    stale: Option<&str>,
    theme: &Theme,
) {
    let focused = is_focused(model, Panel::Cpus);
    let len = vm.vcpus.len();
    let [table_area, chart_area] = cpu_areas(area, len);
    let shown = scroll::window(model.selected_cpu, len, rows_of(table_area));
    let mut title = format!("vCPUs ({len})");
    if shown.len() < len {
        title = format!("vCPUs {}", scroll::position(model.selected_cpu, len));
    }
    // The history is in tenths of a percent.
    let scale = chart::scale_of(&[&vm.cpu_history], chart_area, |peak| {
        cpu_scale(peak / 10.0) * 10.0
    });
    let tenths = |value: f64| format!("{:.0}%", value / 10.0);
    let mut block = panel(&with_stale(&title, stale), focused, stale.is_some(), theme);
    if chart_area.height > 1 {
        block = block.title_bottom(chart::legend(
            &tenths(scale),
            chart::window(chart_area, model.interval),
            theme,
        ));
    }
    super::render_panel(frame, block, area, stale.is_some());
    if let Some(problem) = &vm.host_problem {
        frame.render_widget(
            Paragraph::new(format!("host CPU unavailable: {problem}"))
                .style(theme.muted())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner_of(area),
        );
        return;
    }
    let fitted = columns::fit(&CPU_COLUMNS, table_area.width);
    let rows = vm.vcpus[shown.clone()].iter().map(|cpu| {
        fitted.row(vec![
            Cell::from(cpu.index.to_string()),
            Cell::from(cpu.thread_id.to_string()),
            Cell::from(format::percent(cpu.host.cpu_percent)),
            Cell::from(format::percent(cpu.host.steal_percent)),
        ])
    });
    let mut table = Table::new(rows, fitted.constraints())
        .header(fitted.header(&CPU_COLUMNS).style(theme.header_row()));
    if focused {
        table = table.row_highlight_style(theme.selected());
    }
    let selected = model.selected_cpu.min(len.saturating_sub(1));
    let mut state = TableState::default().with_selected((len > 0).then(|| selected - shown.start));
    frame.render_stateful_widget(table, table_area, &mut state);
    let rows_area = Rect {
        y: table_area.y + 1,
        height: table_area.height.saturating_sub(1),
        ..table_area
    };
    // The scrollbar goes right of the table: on the border, or between table and chart.
    let bar = if chart_area.x > table_area.right() {
        Rect {
            x: table_area.right(),
            width: 1,
            ..rows_area
        }
    } else {
        scroll::border_beside(area, rows_area)
    };
    scroll::scrollbar(frame, bar, shown, len, theme);
    chart::render(
        frame,
        chart_area,
        &chart::Series {
            label: "vCPUs",
            current: format::percent(vm.vcpu_cpu_percent()),
            history: &vm.cpu_history,
            scale,
            format: |value| format!("{:.1}%", value / 10.0),
            style: theme.cpu_series(),
        },
        model.interval,
        theme,
    );
}

/// Inside a panel's border.
fn inner_of(area: Rect) -> Rect {
    ratatui::widgets::Block::bordered().inner(area)
}

/// Rows of a table area left for data (its first row is the header).
pub fn rows_of(table: Rect) -> usize {
    usize::from(table.height.saturating_sub(1))
}

/// The vCPU panel's table and chart areas (the mouse code finds rows with it): side by side
/// when the panel is wide, else the table over a chart of at least two rows.
pub fn cpu_areas(area: Rect, vcpus: usize) -> [Rect; 2] {
    let inner = inner_of(area);
    if inner.width >= SIDE_BY_SIDE {
        let [table, _bar, chart] = Layout::horizontal([
            Constraint::Length(TABLE_WIDTH),
            Constraint::Length(2),
            Constraint::Min(0),
        ])
        .areas(inner);
        return [table, chart];
    }
    let chart_rows = if inner.height >= 5 { 2 } else { 0 };
    let table_rows = (vcpus as u16 + 1).min(inner.height.saturating_sub(chart_rows));
    let [table, chart] =
        Layout::vertical([Constraint::Length(table_rows), Constraint::Min(0)]).areas(inner);
    [table, chart]
}

/// The CPU history's full height, percent of one host CPU: the smallest of 10, 25, 50, 100,
/// 200, 400… at or above `peak`, so an idle VM draws low bars and a busy one fits.
pub fn cpu_scale(peak: f64) -> f64 {
    let mut scale = 10.0;
    for step in [25.0, 50.0, 100.0] {
        if peak <= scale {
            return scale;
        }
        scale = step;
    }
    while peak > scale {
        scale *= 2.0;
    }
    scale
}

/// Draws the memory figures.
pub fn render_memory(frame: &mut Frame, area: Rect, vm: &Vm, stale: Option<&str>, theme: &Theme) {
    let block = panel(&with_stale("Memory", stale), false, stale.is_some(), theme);
    let memory = &vm.memory;
    let line = |label: &str, value: Option<u64>| {
        Line::raw(format!(
            "{label:<14}{}",
            value.map_or_else(|| "-".to_string(), format::bytes)
        ))
    };
    let mut lines = vec![line("guest RAM", memory.base_bytes)];
    if memory.plugged_bytes.is_some_and(|b| b > 0) {
        lines.push(line("hot-plugged", memory.plugged_bytes));
    }
    lines.push(match memory.balloon_bytes {
        Some(bytes) => line("balloon size", Some(bytes)),
        None => Line::styled("balloon       none", theme.muted()),
    });
    lines.push(Line::raw(format!(
        "{:<14}{}",
        "QEMU CPU",
        format::percent(vm.process_cpu_percent)
    )));
    lines.push(line("QEMU RSS", vm.rss_bytes));
    if let Some(rtt) = vm.round_trip {
        lines.push(Line::styled(
            format!("poll took     {:.2} ms", rtt.as_secs_f64() * 1000.0),
            theme.muted(),
        ));
    }
    let inner = block.inner(area);
    super::render_panel(frame, block, area, stale.is_some());
    super::put_lines(frame.buffer_mut(), inner, &lines);
}

#[cfg(test)]
mod tests {
    use super::cpu_scale;

    #[test]
    fn the_cpu_scale_is_a_round_figure_above_the_peak() {
        assert_eq!(cpu_scale(0.0), 10.0);
        assert_eq!(cpu_scale(0.5), 10.0);
        assert_eq!(cpu_scale(10.0), 10.0);
        assert_eq!(cpu_scale(12.0), 25.0);
        assert_eq!(cpu_scale(99.0), 100.0);
        assert_eq!(cpu_scale(150.0), 200.0);
        assert_eq!(cpu_scale(790.0), 800.0);
    }
}
