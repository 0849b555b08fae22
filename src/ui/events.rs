//! The event log: newest at the bottom, coloured by kind, scrollable.

use super::{is_focused, panel, theme};
use crate::app::{Model, Panel, Vm};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the event log.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm) {
    let mut title = format!("Events ({} seen", vm.events_total);
    if vm.events_cut > 0 {
        title.push_str(&format!(", {} cut", vm.events_cut));
    }
    if model.event_scroll > 0 {
        title.push_str(&format!(", scrolled up {}", model.event_scroll));
    }
    title.push(')');
    let block = panel(&title, is_focused(model, Panel::Events), false);
    let height = block.inner(area).height as usize;
    let end = vm.events.len().saturating_sub(model.event_scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = vm
        .events
        .range(start..end)
        .map(|record| {
            Line::from(vec![
                Span::styled(record.time.format("%H:%M:%S ").to_string(), theme::muted()),
                Span::styled(format!("{:<18}", record.name), theme::event(record.kind)),
                Span::raw(record.text.clone()),
            ])
        })
        .collect();
    let lacking = vm.abilities.events_unavailable();
    let body = if let Some(why) = lacking {
        let mut lines = lines;
        let room = height.saturating_sub(1);
        let cut = lines.len().saturating_sub(room);
        lines.drain(..cut);
        lines.insert(0, Line::styled(why, theme::muted()));
        Paragraph::new(lines)
    } else if lines.is_empty() {
        Paragraph::new(Line::styled(
            "no events yet: QEMU's events (pause, reset, shutdown, I/O errors, jobs…) appear here as they happen",
            theme::muted(),
        ))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(body.block(block), area);
}
