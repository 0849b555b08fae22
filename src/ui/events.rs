//! The event log: newest at the bottom, coloured by kind, with a selected line that the
//! movement keys, the wheel and clicks move (it follows the newest line until moved), its
//! position in the title and a scrollbar. [`event_line`] draws one event for every event
//! list (the devices screen's too).

use super::{is_focused, panel, scroll, theme};
use crate::app::{Model, Panel, Vm};
use crate::collect::EventRecord;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListState, Paragraph};

/// One event as a line: time, name (coloured by kind), text.
pub fn event_line(record: &EventRecord) -> Line<'static> {
    Line::from(vec![
        Span::styled(record.time.format("%H:%M:%S ").to_string(), theme::muted()),
        Span::styled(format!("{:<18}", record.name), theme::event(record.kind)),
        Span::raw(record.text.clone()),
    ])
}

/// The lines of the log in view in `inner` rows, as indices from the oldest event.
pub fn shown(model: &Model, vm: &Vm, rows: usize) -> std::ops::Range<usize> {
    let len = vm.events.len();
    let selected = len.saturating_sub(1).saturating_sub(model.event_scroll);
    scroll::window(selected, len, rows)
}

/// Where the log's lines go in the panel `area`: below the note on a connection without
/// events (an HMP monitor), else the whole inside (the mouse code finds lines with it).
pub fn lines_area(vm: &Vm, area: Rect) -> Rect {
    let inner = ratatui::widgets::Block::bordered().inner(area);
    let note = u16::from(vm.abilities.events_unavailable().is_some()).min(inner.height);
    Rect {
        y: inner.y + note,
        height: inner.height - note,
        ..inner
    }
}

/// Draws the event log.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm) {
    let len = vm.events.len();
    let focused = is_focused(model, Panel::Events);
    let lines_area = lines_area(vm, area);
    let in_view = shown(model, vm, usize::from(lines_area.height));
    let selected = len.saturating_sub(1).saturating_sub(model.event_scroll);
    let mut title = format!("Events ({} seen", vm.events_total);
    if vm.events_cut > 0 {
        title.push_str(&format!(", {} cut", vm.events_cut));
    }
    title.push(')');
    if in_view.len() < len || model.event_scroll > 0 {
        title.push_str(&format!(" · {}", scroll::position(selected, len)));
    }
    let block = panel(&title, focused, false);
    let lacking = vm.abilities.events_unavailable();
    if len == 0 && lacking.is_none() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no events yet: QEMU's events (pause, reset, shutdown, I/O errors, jobs…) appear here as they happen",
                theme::muted(),
            ))
            .block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(why) = lacking {
        frame.render_widget(Paragraph::new(Line::styled(why, theme::muted())), inner);
    }
    let lines: Vec<Line> = vm.events.range(in_view.clone()).map(event_line).collect();
    let mut list = List::new(lines);
    if focused {
        list = list.highlight_style(theme::selected());
    }
    let mut state = ListState::default().with_selected((len > 0).then(|| selected - in_view.start));
    frame.render_stateful_widget(list, lines_area, &mut state);
    scroll::scrollbar(frame, scroll::border_beside(area, lines_area), in_view, len);
}
