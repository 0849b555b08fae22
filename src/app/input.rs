//! The one line editor every prompt uses (snapshot tag, filters, console, media path,
//! hot-plug spec, forward rule, migration URI): `tui-input`'s buffer with the readline
//! keys, a pasted text that never submits, and Tab completion against known values.
//!
//! Which key makes which [`Edit`] is in the key table ([`super::keymap`]); this module only
//! knows what each edit does. Cursor and scroll are counted in terminal columns, so wide
//! (CJK) characters keep the cursor where the user sees it.

use tui_input::{Input, InputRequest};

/// An editing command (the key table says which keys send it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Cursor to the start of the line (Ctrl-A, Home).
    Start,
    /// Cursor to the end of the line (Ctrl-E, End).
    End,
    /// One character left (Ctrl-B, ←).
    Left,
    /// One character right (Ctrl-F, →).
    Right,
    /// One word left (Alt-B, Ctrl-←).
    WordLeft,
    /// One word right (Alt-F, Ctrl-→).
    WordRight,
    /// Delete the character before the cursor (Backspace, Ctrl-H).
    DeleteBack,
    /// Delete the character under the cursor (Delete, Ctrl-D).
    DeleteForward,
    /// Delete the word before the cursor (Ctrl-W, Alt-Backspace).
    DeleteWordBack,
    /// Delete the word after the cursor (Alt-D).
    DeleteWordForward,
    /// Delete from the start of the line to the cursor (Ctrl-U).
    DeleteToStart,
    /// Delete from the cursor to the end of the line (Ctrl-K).
    DeleteToEnd,
    /// Insert the text deleted last (Ctrl-Y).
    Yank,
}

impl Edit {
    fn request(self) -> InputRequest {
        match self {
            Edit::Start => InputRequest::GoToStart,
            Edit::End => InputRequest::GoToEnd,
            Edit::Left => InputRequest::GoToPrevChar,
            Edit::Right => InputRequest::GoToNextChar,
            Edit::WordLeft => InputRequest::GoToPrevWord,
            Edit::WordRight => InputRequest::GoToNextWord,
            Edit::DeleteBack => InputRequest::DeletePrevChar,
            Edit::DeleteForward => InputRequest::DeleteNextChar,
            Edit::DeleteWordBack => InputRequest::DeletePrevWord,
            Edit::DeleteWordForward => InputRequest::DeleteNextWord,
            Edit::DeleteToStart => InputRequest::DeleteFromStart,
            Edit::DeleteToEnd => InputRequest::DeleteTillEnd,
            Edit::Yank => InputRequest::Yank,
        }
    }
}

/// A line of text being edited, with a cursor.
#[derive(Debug, Clone, Default)]
pub struct LineEditor {
    input: Input,
}

impl PartialEq for LineEditor {
    fn eq(&self, other: &LineEditor) -> bool {
        self.text() == other.text() && self.input.cursor() == other.input.cursor()
    }
}

impl LineEditor {
    /// A line holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> LineEditor {
        LineEditor {
            input: Input::new(text.into()),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        self.input.value()
    }

    /// Replaces the text; the cursor goes to the end.
    pub fn set(&mut self, text: impl Into<String>) {
        self.input = Input::new(text.into());
    }

    /// Replaces the text and puts the cursor `cursor` characters from the start.
    pub fn set_with_cursor(&mut self, text: impl Into<String>, cursor: usize) {
        self.input = Input::new(text.into()).with_cursor(cursor);
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.input.cursor()
    }

    /// The text before the cursor.
    pub fn before_cursor(&self) -> &str {
        let text = self.text();
        let at = text
            .char_indices()
            .nth(self.cursor())
            .map_or(text.len(), |(at, _)| at);
        &text[..at]
    }

    /// The cursor's column (wide characters count two).
    pub fn cursor_column(&self) -> usize {
        self.input.visual_cursor()
    }

    /// The first column shown when `width` columns are free: the cursor stays in view.
    pub fn scroll(&self, width: usize) -> usize {
        self.input.visual_scroll(width.saturating_sub(1).max(1))
    }

    /// Types a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.input.handle(InputRequest::InsertChar(c));
    }

    /// Pastes text at the cursor. A line break never submits: line breaks and tabs become
    /// spaces, a trailing line break is dropped, other control characters are left out.
    pub fn paste(&mut self, text: &str) {
        for c in text.trim_end_matches(['\r', '\n']).chars() {
            match c {
                '\r' | '\n' | '\t' => self.insert(' '),
                c if c.is_control() => {}
                c => self.insert(c),
            }
        }
    }

    /// Applies an editing command; true when the text changed.
    pub fn edit(&mut self, edit: Edit) -> bool {
        let before = self.text().len();
        let changed = self.input.handle(edit.request());
        changed.is_some_and(|changed| changed.value) || before != self.text().len()
    }

    /// Completes the word before the cursor (it starts `start` characters from the start)
    /// from `candidates`: one match is written out whole followed by `suffix`, several are
    /// extended to their common prefix. Returns the matches.
    pub fn complete<'a>(
        &mut self,
        start: usize,
        candidates: impl IntoIterator<Item = &'a str>,
        suffix: &str,
    ) -> Vec<String> {
        let cursor = self.cursor();
        let before: Vec<char> = self.text().chars().collect();
        let start = start.min(cursor);
        let word: String = before[start..cursor].iter().collect();
        let mut matches: Vec<String> = candidates
            .into_iter()
            .filter(|candidate| candidate.starts_with(&word))
            .map(str::to_string)
            .collect();
        matches.sort();
        matches.dedup();
        let completed = match matches.as_slice() {
            [] => return matches,
            [only] => format!("{only}{suffix}"),
            [first, rest @ ..] => rest.iter().fold(first.clone(), |prefix, next| {
                prefix
                    .chars()
                    .zip(next.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            }),
        };
        let head: String = before[..start].iter().collect();
        let tail: String = before[cursor..].iter().collect();
        let new_cursor = start + completed.chars().count();
        self.set_with_cursor(format!("{head}{completed}{tail}"), new_cursor);
        matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readline_edits() {
        let mut line = LineEditor::new("savevm before upgrade");
        line.edit(Edit::WordLeft);
        line.edit(Edit::DeleteWordBack);
        assert_eq!(line.text(), "savevm upgrade");
        line.edit(Edit::Start);
        line.edit(Edit::DeleteWordForward);
        assert_eq!(line.text(), "upgrade");
        line.edit(Edit::End);
        line.edit(Edit::DeleteToStart);
        assert_eq!(line.text(), "");
        line.edit(Edit::Yank);
        assert_eq!(line.text(), "upgrade");
        line.edit(Edit::Start);
        line.edit(Edit::Right);
        line.edit(Edit::DeleteToEnd);
        assert_eq!(line.text(), "u");
        assert!(!line.edit(Edit::Right));
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let mut line = LineEditor::new("快照一");
        assert_eq!(line.cursor_column(), 6);
        line.edit(Edit::Left);
        assert_eq!(line.cursor_column(), 4);
        line.edit(Edit::DeleteBack);
        assert_eq!(line.text(), "快一");
        assert_eq!(line.before_cursor(), "快");
        let long = LineEditor::new("日本語のタグ".repeat(4));
        assert!(long.cursor_column() - long.scroll(10) < 10);
    }

    #[test]
    fn a_pasted_line_break_is_a_space() {
        let mut line = LineEditor::new("info ");
        line.paste("status\nquit\r\n");
        assert_eq!(line.text(), "info status quit");
        line.paste("\x1b[31m");
        assert_eq!(line.text(), "info status quit[31m");
    }

    #[test]
    fn completion_writes_one_match_out_and_extends_to_the_common_prefix() {
        let mut line = LineEditor::new("query-st");
        let matches = line.complete(0, ["query-status", "query-stats", "quit"], " ");
        assert_eq!(matches, ["query-stats", "query-status"]);
        assert_eq!(line.text(), "query-stat");
        line.insert('u');
        line.complete(0, ["query-status", "query-stats"], " ");
        assert_eq!(line.text(), "query-status ");
        let mut middle = LineEditor::new("a/b");
        middle.edit(Edit::Left);
        middle.edit(Edit::Left);
        middle.complete(0, ["alpha"], "");
        assert_eq!(middle.text(), "alpha/b");
        assert_eq!(middle.cursor(), 5);
    }
}
