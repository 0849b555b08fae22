//! The header: VM name, QEMU version, run state with time in state, connection, interval.

use super::theme;
use crate::app::{ConnectionState, Model, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Instant;

/// The run state as the header says it: how the VM ended, a QEMU that does not answer, the
/// live state with its time, or the last known state of a lost connection.
pub fn state_spans(vm: &Vm, now: Instant) -> Vec<Span<'static>> {
    if let Some(ending) = vm.ended() {
        let mut spans = vec![
            Span::styled(
                format!(
                    "■ {} at {}",
                    ending.describe(),
                    ending.at.format("%H:%M:%S")
                ),
                theme::run_state("shutdown"),
            ),
            Span::styled(
                format!(
                    ", {} ago",
                    format::duration(now.saturating_duration_since(ending.since))
                ),
                theme::muted(),
            ),
        ];
        if ending.exited && ending.word() != "exited" {
            spans.push(Span::styled(" · QEMU exited", theme::muted()));
        }
        return spans;
    }
    if let Some(silent) = vm.not_answering_for(now) {
        return vec![
            Span::styled(
                format!("⚠ not answering for {}", format::duration(silent)),
                theme::warning(),
            ),
            Span::styled(
                format!(
                    " (last known: {})",
                    vm.status
                        .as_ref()
                        .map_or("nothing yet", |s| s.status.as_str())
                ),
                theme::muted(),
            ),
        ];
    }
    match (&vm.status, vm.is_connected()) {
        (Some(status), true) => {
            let since = vm
                .status_since
                .map(|t| {
                    format!(
                        " for {}",
                        format::duration(now.saturating_duration_since(t))
                    )
                })
                .unwrap_or_default();
            vec![
                Span::styled(
                    format!("● {}", status.status),
                    theme::run_state(&status.status),
                ),
                Span::styled(since, theme::muted()),
            ]
        }
        (Some(status), false) => vec![Span::styled(
            format!("○ {} (last known: {})", vm.state_word(), status.status),
            theme::stale(),
        )],
        (None, _) => vec![Span::styled("state unknown", theme::muted())],
    }
}

/// Draws the two header lines.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, now: Instant) {
    let mut first = vec![
        Span::styled(vm.display_name().to_string(), theme::title()),
        Span::raw("  "),
    ];
    first.extend(state_spans(vm, now));
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
