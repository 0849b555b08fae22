//! The vCPU panel (host CPU and steal per vCPU thread, a sparkline of the total) and the
//! memory panel.

use super::{is_focused, panel, theme, with_stale};
use crate::app::{Model, Panel, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Sparkline, Table};

/// Draws the vCPU table and the total CPU sparkline.
pub fn render_cpus(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, stale: Option<&str>) {
    let block = panel(
        &with_stale(&format!("vCPUs ({})", vm.vcpus.len()), stale),
        is_focused(model, Panel::Cpus),
        stale.is_some(),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let table_height = (vm.vcpus.len() as u16 + 1).clamp(2, inner.height.saturating_sub(2).max(2));
    let [table_area, spark_area] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(2)]).areas(inner);
    if let Some(problem) = &vm.host_problem {
        frame.render_widget(
            Paragraph::new(format!("host CPU unavailable: {problem}"))
                .style(theme::muted())
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    let rows = vm.vcpus.iter().skip(model.cpu_scroll).map(|cpu| {
        Row::new(vec![
            cpu.index.to_string(),
            cpu.thread_id.to_string(),
            format::percent(cpu.host.cpu_percent),
            format::percent(cpu.host.steal_percent),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["vCPU", "thread", "host CPU", "steal"]).style(theme::header_row()));
    frame.render_widget(table, table_area);
    let data = vm
        .cpu_history
        .last(spark_area.width.saturating_sub(14) as usize);
    let [label, spark] =
        Layout::horizontal([Constraint::Length(14), Constraint::Min(1)]).areas(spark_area);
    let total = format!("QEMU {}", format::percent(vm.process_cpu_percent));
    frame.render_widget(
        Paragraph::new(vec![Line::raw("CPU history"), Line::raw(total)]),
        label,
    );
    frame.render_widget(
        Sparkline::default().data(&data).style(theme::cpu_series()),
        super::right_aligned(spark, data.len()),
    );
}

/// Draws the memory figures.
pub fn render_memory(frame: &mut Frame, area: Rect, vm: &Vm, stale: Option<&str>) {
    let block = panel(&with_stale("Memory", stale), false, stale.is_some());
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
        None => Line::styled("balloon       none", theme::muted()),
    });
    lines.push(line("QEMU RSS", vm.rss_bytes));
    if let Some(rtt) = vm.round_trip {
        lines.push(Line::styled(
            format!("poll took     {:.2} ms", rtt.as_secs_f64() * 1000.0),
            theme::muted(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
