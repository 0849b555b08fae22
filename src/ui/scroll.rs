//! Lists longer than their panel: the window of rows shown around the selection, the
//! position ("3/16") for the panel title and the scrollbar on the panel's right border.
//!
//! Stateless: the window is a function of the selection, the length and the height, so the
//! mouse code finds the row under the pointer from the same numbers the drawing used.

use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState};
use std::ops::Range;

/// The rows of a list of `len` shown in `height` rows with `selected` in view: the top of
/// the list until the selection reaches the bottom row, then the selection on the bottom
/// row; the last row never leaves the bottom (scrolling stops at the end).
pub fn window(selected: usize, len: usize, height: usize) -> Range<usize> {
    if height == 0 {
        return 0..0;
    }
    if len <= height {
        return 0..len;
    }
    let selected = selected.min(len - 1);
    let first = (selected + 1).saturating_sub(height);
    first..first + height
}

/// The selection's position for a title ("3/16"), or nothing for an empty list.
pub fn position(selected: usize, len: usize) -> String {
    if len == 0 {
        String::new()
    } else {
        format!("{}/{}", selected.min(len - 1) + 1, len)
    }
}

/// The position of a view of `shown` lines of `len` for a title ("21–40/80"), for a text
/// that scrolls rather than selects.
pub fn span_position(shown: &Range<usize>, len: usize) -> String {
    if shown.is_empty() {
        format!("0/{len}")
    } else {
        format!("{}–{}/{len}", shown.start + 1, shown.end)
    }
}

/// Draws a scrollbar in the right-most column of `area` (the rows of the list, or the
/// panel border beside them) when the list (`len` rows, `shown` of them) is longer than the
/// rows it has.
pub fn scrollbar(frame: &mut Frame, area: Rect, shown: Range<usize>, len: usize, theme: &Theme) {
    let height = shown.len();
    if len <= height || height == 0 || area.height == 0 {
        return;
    }
    let mut state = ScrollbarState::new(len - height)
        .position(shown.start)
        .viewport_content_length(height);
    frame.render_stateful_widget(
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .thumb_style(theme.focused_border())
            .track_style(theme.border()),
        area,
        &mut state,
    );
}

/// The column of `panel`'s right border beside `rows` (rows inside the panel).
pub fn border_beside(panel: Rect, rows: Rect) -> Rect {
    Rect {
        x: panel.right().saturating_sub(1),
        width: panel.width.min(1),
        ..rows
    }
}

/// The scrollbar of a table drawn in `table_area` (a bordered panel whose inside is `inner`,
/// with one header row): on the right border, beside the rows.
pub fn table_scrollbar(
    frame: &mut Frame,
    table_area: Rect,
    inner: Rect,
    shown: Range<usize>,
    len: usize,
    theme: &Theme,
) {
    let rows_area = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    scrollbar(
        frame,
        border_beside(table_area, rows_area),
        shown,
        len,
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_selection_and_stops_at_the_end() {
        assert_eq!(window(0, 3, 5), 0..3);
        assert_eq!(window(0, 16, 5), 0..5);
        assert_eq!(window(4, 16, 5), 0..5);
        assert_eq!(window(5, 16, 5), 1..6);
        assert_eq!(window(15, 16, 5), 11..16);
        assert_eq!(window(99, 16, 5), 11..16);
        assert_eq!(window(3, 16, 0), 0..0);
        assert_eq!(position(2, 5), "3/5");
        assert_eq!(position(0, 0), "");
        assert_eq!(span_position(&(20..40), 80), "21–40/80");
    }
}
