//! The migration panel: status, a progress gauge (RAM sent of the total), throughput,
//! remaining, expected downtime. Shown on the dashboard while a migration runs, and on the
//! devices screen's migration tab.

use super::{panel, theme::Theme};
use crate::format;
use crate::monitor::migration::MigrationInfo;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};
use std::time::Duration;

/// Rows the panel needs (with its border and a row for the error).
pub const HEIGHT: u16 = 6;
/// Rows of the panel without the error row (the dashboard's, while a migration runs).
pub const COMPACT_HEIGHT: u16 = 5;

/// The figures line.
pub fn figures(info: &MigrationInfo) -> String {
    let mut parts = Vec::new();
    if let Some(ram) = info.ram {
        parts.push(format!(
            "sent {} of {} RAM",
            format::bytes(ram.transferred),
            format::bytes(ram.total)
        ));
    }
    if let Some(rate) = info.bytes_per_sec() {
        parts.push(format!("throughput {}", format::rate(rate)));
    }
    if let Some(ram) = info.ram.filter(|_| info.is_active()) {
        parts.push(format!("remaining {}", format::bytes(ram.remaining)));
    }
    if let Some(ms) = info.expected_downtime.filter(|_| info.is_active()) {
        parts.push(format!("expected downtime {ms} ms"));
    }
    if let Some(ms) = info.downtime {
        parts.push(format!("downtime {ms} ms"));
    }
    if let Some(ram) = info.ram.filter(|r| r.dirty_sync_count > 0) {
        parts.push(format!("pass {}", ram.dirty_sync_count));
    }
    parts.join("   ")
}

/// Draws the panel for `info`.
pub fn render(frame: &mut Frame, area: Rect, info: &MigrationInfo, hint: &str, theme: &Theme) {
    let block = panel(&format!("Migration{hint}"), false, false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status_area, gauge_area, figures_area, error_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let mut status = vec![
        Span::raw("status "),
        Span::styled(
            info.status().to_string(),
            theme.migration_status(info.status()),
        ),
    ];
    if let Some(ms) = info.total_time {
        status.push(Span::styled(
            format!(
                "  {} {}",
                if info.is_active() { "for" } else { "took" },
                format::seconds(Duration::from_millis(ms))
            ),
            theme.muted(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(status)), status_area);
    let ratio = info.progress().unwrap_or(0.0);
    let label = match info.progress() {
        // Floored, so that 100% means done.
        Some(p) => format!("{}% of RAM", (p * 100.0).floor()),
        None => "no figures yet".to_string(),
    };
    frame.render_widget(
        Gauge::default()
            .ratio(ratio)
            .label(label)
            .gauge_style(theme.migration_gauge()),
        gauge_area,
    );
    frame.render_widget(Paragraph::new(figures(info)), figures_area);
    if let Some(error) = &info.error_desc {
        frame.render_widget(
            Paragraph::new(Line::styled(format!("error: {error}"), theme.error())),
            error_area,
        );
    }
}
