//! The event log: newest at the bottom, coloured by kind, scrollable, filtered by `/`; the
//! bottom row is the selected event (Enter opens its data) and is marked when focused.

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
    let shown = model.shown_events(vm);
    if !model.event_filter.is_empty() {
        title.push_str(&format!(", {} match '{}'", shown.len(), model.event_filter));
    }
    title.push(')');
    let focused = is_focused(model, Panel::Events);
    let block = panel(&title, focused, false);
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    let typing = model
        .input
        .as_ref()
        .filter(|input| input.purpose == crate::app::InputPurpose::EventFilter);
    if let Some(input) = typing
        && inner.height > 0
    {
        inner.height -= 1;
        let row = Rect {
            y: inner.y + inner.height,
            height: 1,
            ..inner
        };
        super::console::render_text(frame, row, &input.editor, input.purpose.label());
    }
    let height = inner.height as usize;
    let end = shown.len().saturating_sub(model.event_scroll);
    let start = end.saturating_sub(height);
    let lines: Vec<Line> = shown[start..end]
        .iter()
        .enumerate()
        .map(|(at, record)| {
            let line = Line::from(vec![
                Span::styled(record.time.format("%H:%M:%S ").to_string(), theme::muted()),
                Span::styled(format!("{:<18}", record.name), theme::event(record.kind)),
                Span::raw(record.text.clone()),
            ]);
            if focused && start + at + 1 == end {
                line.patch_style(theme::selected())
            } else {
                line
            }
        })
        .collect();
    let lacking = vm.abilities.events_unavailable();
    let body = if lines.is_empty() && !model.event_filter.is_empty() {
        Paragraph::new(Line::styled(
            "no event matches the filter (Esc clears it)",
            theme::muted(),
        ))
    } else if let Some(why) = lacking {
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
    frame.render_widget(body, inner);
}
