//! The message line (command results, QEMU's errors verbatim, poll problems) and the key
//! hints for the current mode, drawn from the key table.
//!
//! A long message wraps onto up to [`MESSAGE_MAX_LINES`] lines (the layouts ask
//! [`message_height`] for the rows it needs); anything longer ends with a pointer to the
//! message history, which keeps every message whole.

use super::theme::Theme;
use crate::app::keymap::Action;
use crate::app::{Model, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use std::time::Instant;

/// The most lines the message line grows to.
pub const MESSAGE_MAX_LINES: usize = 3;
/// Ends a message cut short on the message line.
const CUT: &str = "… (! shows it all)";

/// The width of `text` in terminal columns.
fn width_of(text: &str) -> usize {
    Span::raw(text).width()
}

/// Splits `text` into lines of at most `width` columns, at spaces where it can (a word wider
/// than a line is split where it must be).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = if line.is_empty() {
            width_of(word)
        } else {
            width_of(&line) + 1 + width_of(word)
        };
        if needed <= width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if width_of(&line) + width_of(c.encode_utf8(&mut [0; 4])) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    lines
}

/// The text of the message line now, and whether it tells of an error: the screen's
/// message, else the VM's poll problem.
fn message_text(model: &Model, now: Instant) -> Option<(String, bool)> {
    if let Some(message) = model.message_for_screen(now) {
        let mut text = message.text.clone();
        // In the fleet table, news about one VM says which.
        if model.view == View::Fleet
            && let Some(name) = message
                .vm
                .and_then(|id| model.vms.get(id))
                .map(|vm| vm.display_name())
        {
            text = format!("{name}: {text}");
        }
        return Some((text, message.is_error));
    }
    if model.view == View::Fleet {
        return None;
    }
    let problem = model.vm().and_then(|vm| vm.problem.as_ref())?;
    Some((format!("poll problem: {problem}"), true))
}

/// The message line's lines for `width` columns, wrapped and cut at [`MESSAGE_MAX_LINES`],
/// and whether they tell of an error; `None` without a message.
fn message_lines(model: &Model, width: u16, now: Instant) -> Option<(Vec<String>, bool)> {
    let (text, is_error) = message_text(model, now)?;
    let width = width as usize;
    let mut lines = wrap(&text, width);
    if lines.len() > MESSAGE_MAX_LINES {
        lines.truncate(MESSAGE_MAX_LINES);
        if let Some(last) = lines.last_mut() {
            let keep = width.saturating_sub(width_of(CUT));
            let mut cut: String = String::new();
            for c in last.chars() {
                if width_of(&cut) + width_of(c.encode_utf8(&mut [0; 4])) > keep {
                    break;
                }
                cut.push(c);
            }
            *last = format!("{cut}{CUT}");
        }
    }
    Some((lines, is_error))
}

/// Rows the message line needs at `width` columns now: none without a message (the row
/// goes to the panels), else 1 to [`MESSAGE_MAX_LINES`].
pub fn message_height(model: &Model, width: u16, now: Instant) -> u16 {
    message_lines(model, width, now).map_or(0, |(lines, _)| {
        lines.len().clamp(1, MESSAGE_MAX_LINES) as u16
    })
}

/// Draws the message line: the screen's latest message that has not faded, else the VM's
/// poll problem (on a VM's screens).
pub fn render_message(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let lines = match message_lines(model, area.width, now) {
        Some((lines, is_error)) => {
            let style = if is_error {
                theme.error()
            } else {
                theme.info()
            };
            lines
                .into_iter()
                .map(|line| Line::styled(line, style))
                .collect()
        }
        None => vec![Line::default()],
    };
    super::put_lines(frame.buffer_mut(), area, &lines);
}

/// The key hints of the current mode that fit in `width` columns: the key table's footer
/// rows in their priority order while whole hints fit, and the help key last, so that a
/// narrow footer keeps the first keys and "? help" and never cuts a word.
pub fn key_hints(model: &Model, width: u16, theme: &Theme) -> Line<'static> {
    let context = model.key_context();
    let mut hints = model.keys.footer(context);
    let help_keys = model.keys.keys_for(context, Action::Help);
    let help = help_keys
        .and_then(|keys| hints.iter().position(|(shown, _)| *shown == keys))
        .map(|at| hints.remove(at));
    let width_of_hint = |(keys, label): &(String, &str)| width_of(keys) + 1 + width_of(label);
    let mut room = usize::from(width);
    if let Some(help) = &help {
        room = room.saturating_sub(width_of_hint(help));
    }
    let mut shown = Vec::new();
    for hint in hints {
        let needed = width_of_hint(&hint) + 2;
        if needed > room {
            break;
        }
        room -= needed;
        shown.push(hint);
    }
    if let Some(help) = help.filter(|help| width_of_hint(help) <= usize::from(width)) {
        shown.push(help);
    }
    let mut spans = Vec::new();
    for (at, (keys, label)) in shown.into_iter().enumerate() {
        if at > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::raw(format!(" {label}")));
    }
    Line::from(spans)
}

/// Draws the key hints of the current mode.
pub fn render_keys(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    super::put_line(
        frame.buffer_mut(),
        area,
        &key_hints(model, area.width, theme),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        assert_eq!(wrap("a  b", 10), ["a  b"]);
        for line in wrap(&"word ".repeat(50), 13) {
            assert!(width_of(&line) <= 13, "{line:?}");
        }
    }
}
