//! The event log: newest at the bottom, coloured by kind, filtered by `/`, with a selected
//! line that the movement keys, the wheel and clicks move (it follows the newest line until
//! moved; Enter opens its data), its position in the title and a scrollbar. [`event_line`]
//! draws one event for every event list (the devices screen's too).

use super::{is_focused, panel, scroll, theme::Theme};
use crate::app::{InputLine, InputPurpose, Model, Panel, Vm};
use crate::news::EventRecord;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// One event as a line: time, name (coloured by kind), text.
pub fn event_line(record: &EventRecord, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(record.time.format("%H:%M:%S ").to_string(), theme.muted()),
        Span::styled(format!("{:<18}", record.name), theme.event(record.kind)),
        Span::raw(record.text.clone()),
    ])
}

/// The lines of the log in view in `rows` rows, as indices into the log as shown (the
/// filter applied), from the oldest event.
pub fn shown(model: &Model, vm: &Vm, rows: usize) -> std::ops::Range<usize> {
    let len = model.shown_events(vm).len();
    let selected = len.saturating_sub(1).saturating_sub(model.event_scroll);
    scroll::window(selected, len, rows)
}

/// The event filter being typed, if it is.
fn typing(model: &Model) -> Option<&InputLine> {
    model
        .input
        .as_ref()
        .filter(|input| input.purpose == InputPurpose::EventFilter)
}

/// Where the log's lines go in the panel `area`: below the note on a connection without
/// events (an HMP monitor), above the filter being typed, else the whole inside (the mouse
/// code finds lines with it).
pub fn lines_area(model: &Model, vm: &Vm, area: Rect) -> Rect {
    let inner = ratatui::widgets::Block::bordered().inner(area);
    let note = u16::from(vm.abilities.events_unavailable().is_some()).min(inner.height);
    let prompt = u16::from(typing(model).is_some()).min(inner.height - note);
    Rect {
        y: inner.y + note,
        height: inner.height - note - prompt,
        ..inner
    }
}

/// Draws the event log.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, theme: &Theme) {
    let events = model.shown_events(vm);
    let len = events.len();
    let focused = is_focused(model, Panel::Events);
    let lines_area = lines_area(model, vm, area);
    let in_view = shown(model, vm, usize::from(lines_area.height));
    let selected = len.saturating_sub(1).saturating_sub(model.event_scroll);
    let mut title = format!("Events ({} seen", vm.events_total);
    if vm.events_cut > 0 {
        title.push_str(&format!(", {} cut", vm.events_cut));
    }
    if !model.event_filter.is_empty() {
        title.push_str(&format!(", {len} match '{}'", model.event_filter));
    }
    title.push(')');
    if in_view.len() < len || model.event_scroll > 0 {
        title.push_str(&format!(" · {}", scroll::position(selected, len)));
    }
    let block = panel(&title, focused, false, theme);
    let lacking = vm.abilities.events_unavailable();
    let typing = typing(model);
    if len == 0 && lacking.is_none() && model.event_filter.is_empty() && typing.is_none() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no events yet: QEMU's events (pause, reset, shutdown, I/O errors, jobs…) appear here as they happen",
                theme.muted(),
            ))
            .block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    super::render_panel(frame, block, area, false);
    if let Some(why) = lacking {
        frame.render_widget(Paragraph::new(Line::styled(why, theme.muted())), inner);
    }
    if let Some(input) = typing
        && inner.height > 0
    {
        let row = Rect {
            y: inner.y + inner.height - 1,
            height: 1,
            ..inner
        };
        super::console::render_text(frame, row, &input.editor, input.purpose.label(), theme);
    }
    if len == 0 && !model.event_filter.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no event matches the filter (Esc clears it)",
                theme.muted(),
            )),
            lines_area,
        );
        return;
    }
    // Each line in view is written straight into its row (a `List` would measure every
    // grapheme of every line); the selected one is highlighted when the panel has focus.
    let selected_row = (focused && len > 0).then(|| selected - in_view.start);
    let buf = frame.buffer_mut();
    for (row, record) in (lines_area.y..lines_area.bottom()).zip(&events[in_view.clone()]) {
        let row_area = Rect {
            y: row,
            height: 1,
            ..lines_area
        };
        super::put_line(buf, row_area, &event_line(record, theme));
        if selected_row == Some(usize::from(row - lines_area.y)) {
            buf.set_style(row_area, theme.selected());
        }
    }
    scroll::scrollbar(
        frame,
        scroll::border_beside(area, lines_area),
        in_view,
        len,
        theme,
    );
}
