//! Overlays drawn over the dashboard: the confirmation dialog, the help and the message
//! history.

use super::scroll;
use super::theme::Theme;
use crate::app::HelpLine;
use crate::app::Model;
use crate::app::keymap::{KeyContext, Keymap};
use crate::news::EventRecord;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// A popup over all of `area` but a margin: two columns each side, a row above and below.
fn nearly_full(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    )
}

/// Draws a yes/no question, as tall as its text needs; its keys come from the key table.
pub fn render_confirm(frame: &mut Frame, area: Rect, question: &str, keys: &Keymap, theme: &Theme) {
    let width = area.width.min(72);
    let mut text: Vec<Line> = super::footer::wrap(question, width.saturating_sub(2) as usize)
        .into_iter()
        .map(Line::raw)
        .collect();
    text.push(Line::from(
        keys.footer(KeyContext::Confirm)
            .into_iter()
            .flat_map(|(keys, label)| {
                [
                    Span::styled(keys, theme.key()),
                    Span::raw(format!(" {label}    ")),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    let popup = centered(area, width, text.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(text)
            .block(Block::bordered().title(Line::styled(" Confirm ", theme.error()))),
        popup,
    );
}

/// Width of the help overlay (less on a narrow terminal).
const HELP_WIDTH: u16 = 76;

/// Where the help overlay goes on a screen of `area`: as tall as its lines, at most the
/// screen.
fn help_area(area: Rect, model: &Model) -> Rect {
    let lines = model.help_lines().len() as u16;
    // The last row stays uncovered: the footer there says how to close the help.
    let above_footer = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    centered(above_footer, HELP_WIDTH, lines.saturating_add(2))
}

/// Rows of help lines the overlay shows on a screen of `area` (what a page key scrolls).
/// One line a row: the key table keeps its help labels short enough for the smallest
/// screen ([`crate::app::keymap::HELP_LABEL_WIDTH`]).
pub fn help_rows(area: Rect, model: &Model) -> usize {
    usize::from(Block::bordered().inner(help_area(area, model)).height)
}

/// Draws the help overlay from the key table: the rows of the screen under it, and what `q`
/// does there. Where it does not fit, it shows its position ("1–14/40"), a scrollbar and
/// the keys that scroll it.
pub fn render_help(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let help = model.help_lines();
    let popup = help_area(area, model);
    let mut block = Block::bordered().title(Line::styled(
        format!(" Help: {} ", model.base_context().name()),
        theme.title(),
    ));
    let inner = block.inner(popup);
    let rows = usize::from(inner.height);
    let top = model.help_scroll.min(help.len().saturating_sub(rows));
    let shown = top..(top + rows).min(help.len());
    let scrolls = shown.len() < help.len();
    if scrolls {
        block = block
            .title_top(
                Line::styled(
                    format!(" {} ", scroll::span_position(&shown, help.len())),
                    theme.title(),
                )
                .right_aligned(),
            )
            .title_bottom(Line::from(vec![
                Span::styled(" ↑/↓ PgUp/PgDn g/G", theme.key()),
                Span::raw(" scroll  "),
                Span::styled("?/Esc", theme.key()),
                Span::raw(" close "),
            ]));
    }
    let lines: Vec<Line> = help[shown.clone()]
        .iter()
        .map(|line| match line {
            HelpLine::Key { keys, label } => Line::from(vec![
                Span::styled(format!("{keys:>16}  "), theme.key()),
                Span::raw(*label),
            ]),
            HelpLine::Blank => Line::default(),
            HelpLine::Note(text) => Line::styled(text.clone(), theme.muted()),
        })
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
    if scrolls {
        scroll::scrollbar(
            frame,
            scroll::border_beside(popup, inner),
            shown,
            help.len(),
            theme,
        );
    }
}

/// Draws the message history: every message with its time and VM, wrapped whole, newest at
/// the bottom, scrolled up by `model.messages_scroll` messages.
pub fn render_messages(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let popup = nearly_full(area);
    frame.render_widget(Clear, popup);
    let total = model.messages.len();
    let title = if model.messages_scroll > 0 {
        format!(
            " Messages ({total}, newest last; scrolled up {}) ",
            model.messages_scroll
        )
    } else {
        format!(" Messages ({total}, newest last) ")
    };
    let block = Block::bordered()
        .border_style(theme.focused_border())
        .title(Line::styled(title, theme.title()))
        .title_bottom(Line::from(vec![
            Span::styled(" ↑/↓ PgUp/PgDn", theme.key()),
            Span::raw(" scroll  "),
            Span::styled("!/Esc", theme.key()),
            Span::raw(" close "),
        ]));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    if model.messages.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled("no messages yet", theme.muted())),
            inner,
        );
        return;
    }
    const TIME_WIDTH: usize = 9;
    let text_width = (inner.width as usize).saturating_sub(TIME_WIDTH).max(1);
    let shown = total.saturating_sub(model.messages_scroll);
    let mut lines: Vec<Line> = Vec::new();
    for message in model.messages.iter().take(shown) {
        let style = if message.is_error {
            theme.error()
        } else {
            ratatui::style::Style::new()
        };
        let text = match message.vm.and_then(|id| model.vms.get(id)) {
            Some(vm) => format!("{}: {}", vm.display_name(), message.text),
            _ => message.text.clone(),
        };
        for (n, part) in super::footer::wrap(&text, text_width)
            .into_iter()
            .enumerate()
        {
            let time = if n == 0 {
                format!("{:<TIME_WIDTH$}", message.at.format("%H:%M:%S"))
            } else {
                " ".repeat(TIME_WIDTH)
            };
            lines.push(Line::from(vec![
                Span::styled(time, theme.muted()),
                Span::styled(part, style),
            ]));
        }
    }
    let skip = lines.len().saturating_sub(inner.height as usize);
    frame.render_widget(Paragraph::new(lines.split_off(skip)), inner);
}

/// Draws one event's full data: its name, time, sentence and the data as indented JSON.
pub fn render_event_detail(frame: &mut Frame, area: Rect, record: &EventRecord, theme: &Theme) {
    let popup = nearly_full(area);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_style(theme.focused_border())
        .title(Line::styled(
            format!(
                " {} at {} ",
                record.name,
                record.time.format("%H:%M:%S%.3f")
            ),
            theme.title(),
        ))
        .title_bottom(Line::from(vec![
            Span::styled(" Esc/Enter", theme.key()),
            Span::raw(" close "),
        ]));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let data = serde_json::to_string_pretty(&record.data).unwrap_or_default();
    let mut lines = vec![Line::raw(record.text.clone()), Line::default()];
    lines.extend(data.lines().map(|line| Line::raw(line.to_string())));
    if record.cut_bytes > 0 {
        lines.push(Line::styled(
            format!("({} bytes of this event were not kept)", record.cut_bytes),
            theme.muted(),
        ));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}
