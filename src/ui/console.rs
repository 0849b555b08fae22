//! The monitor console: the VM's transcript of commands and replies (scrollable) and the
//! input line with its mode (HMP or QMP) and cursor.

use super::{footer, header, panel, theme::Theme};
use crate::app::InputPurpose;
use crate::app::LineEditor;
use crate::app::LineKind;
use crate::app::Model;
use crate::monitor::console::Mode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use std::time::Instant;

const INTRO: [&str; 5] = [
    "Type an HMP command and press Enter: info status, info network, info usernet, help.",
    "C-t switches to QMP: a command name (query-status) or raw JSON; Tab completes names",
    "({\"execute\": \"query-block\"}; a line starting with { is QMP in either mode).",
    "↑/↓ recall earlier commands (kept in the history file). PgUp/PgDn scroll, / filters.",
    "Under --read-only only `info …` and `query-…` commands are sent.",
];

/// Draws the console.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let Some(vm) = model.vm() else {
        return;
    };
    let [header_area, output_area, input_area, message, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, model, vm, now, theme);

    let transcript = &vm.monitor.console;
    let mut title = "Monitor console".to_string();
    if transcript.pending > 0 {
        title.push_str(" (running…)");
    }
    if model.console.scroll > 0 {
        title.push_str(&format!(" (scrolled up {})", model.console.scroll));
    }
    if !model.console.filter.is_empty() {
        title.push_str(&format!(" (filter: {})", model.console.filter));
    }
    let shown = model.shown_transcript(vm);
    let block = panel(&title, false, !vm.is_connected(), theme);
    let inner = block.inner(output_area);
    let (height, width) = (inner.height as usize, inner.width as usize);
    let lines: Vec<Line> = if transcript.lines.is_empty() {
        INTRO
            .iter()
            .map(|text| Line::styled(*text, theme.muted()))
            .collect()
    } else {
        let end = shown.len().saturating_sub(model.console.scroll);
        let start = end.saturating_sub(height);
        // Only what fits is drawn: the lines in view, each up to the panel's width.
        shown[start..end]
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
