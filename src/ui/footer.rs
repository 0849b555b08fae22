//! The message line (command results, QEMU's errors verbatim, poll problems) and the key
//! hints for the current mode, drawn from the key table.

use super::theme;
use crate::app::Model;
use crate::app::keymap::{BINDINGS, keys_label};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the message line: the last message, else the VM's poll problem (if a VM is shown).
pub fn render_message(frame: &mut Frame, area: Rect, model: &Model, vm: Option<&crate::app::Vm>) {
    let line = if let Some(message) = &model.message {
        let style = if message.is_error {
            theme::error()
        } else {
            theme::info()
        };
        Line::styled(message.text.clone(), style)
    } else if let Some(problem) = vm.and_then(|vm| vm.problem.as_ref()) {
        Line::styled(format!("poll problem: {problem}"), theme::error())
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Draws the key hints of the current mode.
pub fn render_keys(frame: &mut Frame, area: Rect, model: &Model) {
    let context = model.key_context();
    let mut spans = Vec::new();
    for binding in BINDINGS
        .iter()
        .filter(|b| b.context == context && b.in_footer && b.applies(model.has_fleet()))
    {
        spans.push(Span::styled(keys_label(binding), theme::key()));
        spans.push(Span::raw(format!(" {}  ", binding.description)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
