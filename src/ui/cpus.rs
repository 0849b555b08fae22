//! The vCPU panel (host CPU and steal per vCPU thread, a sparkline of their sum with its
//! scale) and the memory panel (with the QEMU process's own CPU and RSS).

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
        .last(spark_area.width.saturating_sub(LABEL_WIDTH) as usize);
    let [label, spark] =
        Layout::horizontal([Constraint::Length(LABEL_WIDTH), Constraint::Min(1)]).areas(spark_area);
    // The history is in tenths of a percent; the scale is a round figure above its peak.
    let peak = data.iter().copied().max().unwrap_or(0) as f64 / 10.0;
    let scale = cpu_scale(peak);
    let mut text = vec![
        Line::raw(format!("vCPUs {}", format::percent(vm.vcpu_cpu_percent()))),
        Line::styled(format!("scale 0–{scale:.0}%"), theme::muted()),
    ];
    if label.height > 2 {
        text.push(Line::styled(format!("peak {peak:.1}%"), theme::muted()));
    }
    frame.render_widget(Paragraph::new(text), label);
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .max((scale * 10.0) as u64)
            .style(theme::cpu_series()),
        super::right_aligned(spark, data.len()),
    );
}

/// Columns of the CPU history's label.
const LABEL_WIDTH: u16 = 14;

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
    lines.push(Line::raw(format!(
        "{:<14}{}",
        "QEMU CPU",
        format::percent(vm.process_cpu_percent)
    )));
    lines.push(line("QEMU RSS", vm.rss_bytes));
    if let Some(rtt) = vm.round_trip {
        lines.push(Line::styled(
            format!("poll took     {:.2} ms", rtt.as_secs_f64() * 1000.0),
            theme::muted(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
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
