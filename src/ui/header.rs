//! The header: VM name, QEMU version, run state with time in state, connection, interval.

use super::theme;
use crate::app::{ConnectionState, Model, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Instant;

/// Draws the two header lines.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, now: Instant) {
    let mut first = vec![
        Span::styled(vm.display_name().to_string(), theme::title()),
        Span::raw("  "),
    ];
    match &vm.status {
        Some(status) if vm.not_answering_for(now).is_some() => {
            let silent = vm.not_answering_for(now).unwrap_or_default();
            first.push(Span::styled(
                format!("⚠ not answering for {}", format::duration(silent)),
                theme::warning(),
            ));
            first.push(Span::styled(
                format!(" (last known: {})", status.status),
                theme::muted(),
            ));
        }
        Some(status) => {
            let since = vm
                .status_since
                .map(|t| format!(" for {}", format::duration(now.duration_since(t))))
                .unwrap_or_default();
            if vm.is_connected() {
                first.push(Span::styled(
                    format!("● {}", status.status),
                    theme::run_state(&status.status),
                ));
                first.push(Span::styled(since, theme::muted()));
            } else {
                first.push(Span::styled(
                    format!("● {} (last known)", status.status),
                    theme::stale(),
                ));
            }
        }
        None => first.push(Span::styled("state unknown", theme::muted())),
    }
    if model.read_only {
        first.push(Span::styled("  [read-only]", theme::key()));
    }
    let version = vm
        .version
        .as_ref()
        .map(|v| format!("QEMU {v}"))
        .unwrap_or_else(|| "QEMU ?".to_string());
    let connection = match &vm.connection {
        Some(ConnectionState::Connected) => Span::styled("connected", theme::info()),
        Some(ConnectionState::Connecting) | None => Span::styled("connecting…", theme::muted()),
        Some(ConnectionState::Disconnected { reason, retry_in }) => Span::styled(
            format!("DISCONNECTED: {reason} (retry in {retry_in:.1} s)"),
            theme::error(),
        ),
    };
    let second = vec![
        Span::raw(format!("{version}  ")),
        connection,
        Span::styled(
            format!("  every {}  {}", format::seconds(model.interval), vm.target),
            theme::muted(),
        ),
    ];
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}
