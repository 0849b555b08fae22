//! The monitor console: the VM's transcript of commands and replies (scrollable) and the
//! input line with its mode (HMP or QMP) and cursor.

use super::{footer, header, panel, scroll, theme::Theme};
use crate::app::{InputPurpose, LineEditor, LineKind, Model, Vm};
use crate::monitor::console::Mode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use std::ops::Range;
use std::time::Instant;

const INTRO: [&str; 5] = [
    "Type an HMP command and press Enter: info status, info network, info usernet, help.",
    "C-t switches to QMP: a command name (query-status) or raw JSON; Tab completes names",
    "({\"execute\": \"query-block\"}; a line starting with { is QMP in either mode).",
    "↑/↓ recall earlier commands (kept in the history file). PgUp/PgDn scroll, / filters.",
    "Under --read-only only `info …` and `query-…` commands are sent.",
];

/// The console's parts: header, transcript, input line, message line, key hints.
fn areas(area: Rect, model: &Model, now: Instant) -> [Rect; 5] {
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where the transcript's panel is drawn on a screen of `area` (page keys and the mouse use
/// it).
pub fn transcript_area(area: Rect, model: &Model, now: Instant) -> Rect {
    areas(area, model, now)[1]
}

/// The transcript lines (of those the filter shows) in view in `rows` rows: scrolled up from
/// the newest by the console's scroll, and never past the oldest (the top row then holds the
/// oldest line).
pub fn transcript_window(model: &Model, vm: &Vm, rows: u16) -> Range<usize> {
    let len = model.shown_transcript(vm).len();
    let rows = usize::from(rows);
    let end = len.saturating_sub(model.console.scroll).max(rows.min(len));
    end.saturating_sub(rows)..end
}

/// Draws the console.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let Some(vm) = model.vm() else {
        return;
    };
    let [header_area, output_area, input_area, message, keys] = areas(area, model, now);
    header::render(frame, header_area, model, vm, now, theme);

    let transcript = &vm.monitor.console;
    let shown = model.shown_transcript(vm);
    let inner = Block::bordered().inner(output_area);
    let window = transcript_window(model, vm, inner.height);
    let mut title = "Monitor console".to_string();
    if window.len() < shown.len() {
        title.push_str(&format!(" {}", scroll::span_position(&window, shown.len())));
    }
    if transcript.pending > 0 {
        title.push_str(" (running…)");
    }
    if !model.console.filter.is_empty() {
        title.push_str(&format!(" (filter: {})", model.console.filter));
    }
    let block = panel(&title, false, !vm.is_connected(), theme);
    let width = inner.width as usize;
    let lines: Vec<Line> = if transcript.lines.is_empty() {
        INTRO
            .iter()
            .map(|text| Line::styled(*text, theme.muted()))
            .collect()
    } else {
        // Only what fits is drawn: the lines in view, each up to the panel's width.
        shown[window.clone()]
            .iter()
            .map(|line| {
                let text: String = line.text.chars().take(width).collect();
                match line.kind {
                    LineKind::Command => Line::styled(text, theme.key()),
                    LineKind::Output => Line::raw(text),
                    LineKind::Error => Line::styled(text, theme.error()),
                }
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), output_area);
    scroll::scrollbar(
        frame,
        scroll::border_beside(output_area, inner),
        window,
        shown.len(),
        theme,
    );

    let input = &model.console.input;
    let mode = if input.text().trim_start().starts_with('{') {
        " QMP (raw JSON) "
    } else {
        match model.console.mode {
            Mode::Hmp => " HMP ",
            Mode::Qmp => " QMP ",
        }
    };
    match &model.input {
        Some(filter) if filter.purpose == InputPurpose::ConsoleFilter => render_input(
            frame,
            input_area,
            &filter.editor,
            " Filter the output (Enter keeps it, Esc clears it) ",
            filter.purpose.label(),
            theme,
        ),
        _ => render_input(frame, input_area, input, mode, "", theme),
    }
    footer::render_message(frame, message, model, now, theme);
    footer::render_keys(frame, keys, model, theme);
}

/// Draws a bordered one-line input titled `title`; `label` goes before the text.
pub fn render_input(
    frame: &mut Frame,
    area: Rect,
    input: &LineEditor,
    title: &str,
    label: &str,
    theme: &Theme,
) {
    let block = Block::bordered()
        .border_style(theme.focused_border())
        .title(Line::styled(title.to_string(), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    render_text(frame, inner, input, label, theme);
}

/// Draws `label` and the editor's text on the first row of `area`, scrolled so the cursor
/// shows (wide characters take two columns), and puts the terminal cursor there.
pub fn render_text(frame: &mut Frame, area: Rect, input: &LineEditor, label: &str, theme: &Theme) {
    use unicode_width::UnicodeWidthChar;
    let inner = Rect {
        height: area.height.min(1),
        ..area
    };
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let label_width = ratatui::text::Span::raw(label).width() as u16;
    let width = inner.width.saturating_sub(label_width).max(1) as usize;
    let scroll = input.scroll(width);
    let mut column = 0;
    let mut visible = String::new();
    for c in input.text().chars() {
        let w = c.width().unwrap_or(0);
        if column >= scroll && column + w <= scroll + width {
            visible.push(c);
        }
        column += w;
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            ratatui::text::Span::styled(label.to_string(), theme.muted()),
            ratatui::text::Span::raw(visible),
        ])),
        inner,
    );
    let x = inner.x + label_width + input.cursor_column().saturating_sub(scroll) as u16;
    frame.set_cursor_position(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y,
    ));
}
