//! Overlays drawn over the dashboard: the confirmation dialog and the help.

use super::theme;
use crate::app::keymap::{BINDINGS, KeyContext, keys_label};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

/// Draws a yes/no question.
pub fn render_confirm(frame: &mut Frame, area: Rect, question: &str) {
    let popup = centered(area, 60, 6);
    frame.render_widget(Clear, popup);
    let text = vec![
        Line::raw(question.to_string()),
        Line::from(vec![
            Span::styled("y", theme::key()),
            Span::raw(" yes    "),
            Span::styled("n/Esc", theme::key()),
            Span::raw(" no"),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(Line::styled(" Confirm ", theme::error()))),
        popup,
    );
}

/// Draws the help overlay from the key table.
pub fn render_help(frame: &mut Frame, area: Rect, context: KeyContext, has_fleet: bool) {
    let rows: Vec<Line> = BINDINGS
        .iter()
        .filter(|b| b.context == context && b.applies(has_fleet))
        .map(|b| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", keys_label(b)), theme::key()),
                Span::raw(b.description),
            ])
        })
        .chain([
            Line::default(),
            Line::styled(
                "Reset, power down and quit ask first. q leaves the VM running.",
                theme::muted(),
            ),
        ])
        .collect();
    let popup = centered(area, 68, rows.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(rows).block(Block::bordered().title(Line::styled(" Help ", theme::title()))),
        popup,
    );
}
