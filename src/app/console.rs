//! The monitor console: an input line with a cursor, HMP or QMP mode, the history (↑/↓,
//! saved after every command), and each VM's transcript of commands and replies.
//!
//! Pure like the rest of the model: running a command and saving the history are
//! [`Effect`]s. Under `--read-only` only HMP `info …` and QMP `query-…` are sent.

use super::keymap::{Action, MonitorKey};
use super::{Effect, Message, Model, View};
use crate::monitor::console::{ConsoleCommand, Mode};
use crate::monitor::{Job, history};
use std::collections::VecDeque;
use std::path::PathBuf;

/// Transcript lines kept per VM.
pub const TRANSCRIPT_LEN: usize = 5000;
/// The longest transcript line kept, in bytes (a line never shows wider than the screen).
pub const LINE_BYTES: usize = 4096;
/// Memory the text of a VM's transcript may take: the oldest lines go first beyond it.
pub const TRANSCRIPT_BYTES: usize = 2 * 1024 * 1024;
/// Lines a page key scrolls the transcript (an overlapping page: a long reply stays in view
/// while it is read).
pub const PAGE: usize = 10;

/// A line of text being edited, with a cursor (counted in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    cursor: usize,
}

impl TextInput {
    /// A line holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> TextInput {
        let text = text.into();
        let cursor = text.chars().count();
        TextInput { text, cursor }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text; the cursor goes to the end.
    pub fn set(&mut self, text: impl Into<String>) {
        *self = TextInput::new(text);
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(at, _)| at)
    }

    /// Applies an editing action; false when the action is not an edit.
    pub fn edit(&mut self, action: Action) -> bool {
        let len = self.text.chars().count();
        match action {
            Action::Char(c) => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            Action::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    let at = self.byte_at(self.cursor);
                    self.text.remove(at);
                }
            }
            Action::Monitor(MonitorKey::Delete) => {
                if self.cursor < len {
                    let at = self.byte_at(self.cursor);
                    self.text.remove(at);
                }
            }
            Action::Monitor(MonitorKey::Left) => self.cursor = self.cursor.saturating_sub(1),
            Action::Monitor(MonitorKey::Right) => self.cursor = (self.cursor + 1).min(len),
            Action::Monitor(MonitorKey::Home) => self.cursor = 0,
            Action::Monitor(MonitorKey::End) => self.cursor = len,
            Action::Monitor(MonitorKey::ClearLine) => self.set(""),
            _ => return false,
        }
        true
    }
}

/// What a transcript line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A command as typed.
    Command,
    /// Its output.
    Output,
    /// An error (QEMU's verbatim, or a refusal).
    Error,
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    /// What it is.
    pub kind: LineKind,
    /// The text (one line).
    pub text: String,
}

/// One VM's console transcript.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// Oldest first, at most [`TRANSCRIPT_LEN`] lines and [`TRANSCRIPT_BYTES`].
    pub lines: VecDeque<ConsoleLine>,
    /// Commands sent and not yet answered.
    pub pending: usize,
    /// Bytes of text in `lines`.
    bytes: usize,
}

impl Transcript {
    /// Appends text, one line per line of it, each cut to [`LINE_BYTES`].
    pub fn push(&mut self, kind: LineKind, text: &str) {
        let text = if text.is_empty() { "(no output)" } else { text };
        for line in text.trim_end_matches('\n').split('\n') {
            let (line, _) = crate::qmp::capped::cut_text(line, LINE_BYTES);
            while !self.lines.is_empty()
                && (self.lines.len() >= TRANSCRIPT_LEN
                    || self.bytes + line.len() > TRANSCRIPT_BYTES)
            {
                if let Some(old) = self.lines.pop_front() {
                    self.bytes = self.bytes.saturating_sub(old.text.len());
                }
            }
            self.bytes += line.len();
            self.lines.push_back(ConsoleLine { kind, text: line });
        }
    }

    /// Bytes of text held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The console's input, mode and history (shared by every VM).
#[derive(Debug, Clone, Default)]
pub struct Console {
    /// The line being typed.
    pub input: TextInput,
    /// HMP or QMP.
    pub mode: Mode,
    /// Earlier commands, oldest first.
    pub history: Vec<String>,
    /// Where the history is saved (`None`: nowhere to save it).
    pub history_path: Option<PathBuf>,
    /// While browsing the history: the entry shown.
    browsing: Option<usize>,
    /// The line being typed before browsing started.
    draft: String,
    /// Transcript scroll, lines up from the newest.
    pub scroll: usize,
}

impl Console {
    fn browse(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let next = match (self.browsing, older) {
            (None, true) => {
                self.draft = self.input.text().to_string();
                Some(self.history.len() - 1)
            }
            (None, false) => return,
            (Some(at), true) => Some(at.saturating_sub(1)),
            (Some(at), false) if at + 1 < self.history.len() => Some(at + 1),
            (Some(_), false) => None,
        };
        self.browsing = next;
        match next {
            Some(at) => self.input.set(self.history[at].clone()),
            None => self.input.set(std::mem::take(&mut self.draft)),
        }
    }
}

impl Model {
    /// Takes the history read at start-up (see [`history::default_path`]).
    pub fn restore_history(&mut self, path: Option<PathBuf>, loaded: Result<Vec<String>, String>) {
        self.console.history_path = path;
        match loaded {
            Ok(entries) => self.console.history = entries,
            Err(error) => self.say(Message::error(format!(
                "console history not loaded: {error}"
            ))),
        }
    }

    pub(super) fn open_console(&mut self) {
        self.view = View::Console;
        self.console.scroll = 0;
    }

    pub(super) fn act_console(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Cancel => self.view = View::Vm,
            Action::Help => self.help = true,
            Action::Submit => return self.submit_console(),
            Action::Up | Action::Down => self.console.browse(action == Action::Up),
            Action::Monitor(MonitorKey::ToggleMode) => {
                self.console.mode = self.console.mode.toggled();
            }
            Action::Monitor(MonitorKey::PageUp) => {
                self.move_list(
                    super::lists::ListId::Console,
                    super::lists::Movement::PageUp,
                );
            }
            Action::Monitor(MonitorKey::PageDown) => {
                self.move_list(
                    super::lists::ListId::Console,
                    super::lists::Movement::PageDown,
                );
            }
            other => {
                if self.console.input.edit(other) {
                    self.console.browsing = None;
                }
            }
        }
        Vec::new()
    }

    fn submit_console(&mut self) -> Vec<Effect> {
        let line = self.console.input.text().to_string();
        if line.trim().is_empty() {
            return Vec::new();
        }
        let command = match ConsoleCommand::parse(&line, self.console.mode) {
            Ok(command) => command,
            // Keep the line so the mistake can be fixed.
            Err(error) => {
                self.say(Message::error(error));
                return Vec::new();
            }
        };
        self.console.input.set("");
        self.console.browsing = None;
        self.console.scroll = 0;
        let history_line = command.history_line();
        let added = history::push(&mut self.console.history, &history_line);
        let vm = self.current;
        let prompt = match command {
            ConsoleCommand::Hmp(_) => "(hmp)",
            ConsoleCommand::Qmp { .. } => "(qmp)",
        };
        let refusal = if command.is_query() {
            None
        } else {
            self.refusal(vm, "this command")
        };
        let client = self.vms.get(vm).and_then(|v| v.client.clone());
        let Some(entry) = self.vms.get_mut(vm) else {
            return Vec::new();
        };
        let transcript = &mut entry.monitor.console;
        transcript.push(LineKind::Command, &format!("{prompt} {line}"));
        let mut effects = Vec::new();
        if added {
            effects.push(Effect::SaveHistory {
                vm,
                path: self.console.history_path.clone(),
                line: history_line,
            });
        }
        if let Some(refusal) = refusal {
            let text = if self.read_only {
                "read-only: only HMP `info …` and QMP `query-…` commands are sent; this one was not"
                    .to_string()
            } else {
                format!("{refusal}; HMP `info …` and QMP `query-…` commands are sent")
            };
            transcript.push(LineKind::Error, &text);
            return effects;
        }
        match client {
            Some(client) => {
                transcript.pending += 1;
                effects.push(Effect::Monitor {
                    vm,
                    client,
                    job: Job::Console { line, command },
                });
            }
            None => transcript.push(LineKind::Error, "not connected: the command was not sent"),
        }
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_edits_in_the_middle() {
        let mut input = TextInput::new("info stus");
        for _ in 0..2 {
            input.edit(Action::Monitor(MonitorKey::Left));
        }
        input.edit(Action::Char('a'));
        input.edit(Action::Char('t'));
        assert_eq!(input.text(), "info status");
        input.edit(Action::Monitor(MonitorKey::Home));
        input.edit(Action::Monitor(MonitorKey::Delete));
        assert_eq!(input.text(), "nfo status");
        input.edit(Action::Monitor(MonitorKey::End));
        input.edit(Action::Backspace);
        assert_eq!(input.text(), "nfo statu");
        let mut wide = TextInput::new("é");
        wide.edit(Action::Backspace);
        assert_eq!(wide.text(), "");
        assert!(!wide.edit(Action::Submit));
    }

    #[test]
    fn history_browses_and_returns_to_the_draft() {
        let mut console = Console {
            history: vec!["info status".into(), "info usernet".into()],
            ..Default::default()
        };
        console.input.set("dra");
        console.browse(true);
        assert_eq!(console.input.text(), "info usernet");
        console.browse(true);
        console.browse(true);
        assert_eq!(console.input.text(), "info status");
        console.browse(false);
        assert_eq!(console.input.text(), "info usernet");
        console.browse(false);
        assert_eq!(console.input.text(), "dra");
    }

    #[test]
    fn transcript_is_bounded_and_splits_lines() {
        let mut transcript = Transcript::default();
        transcript.push(LineKind::Output, "a\nb\n");
        transcript.push(LineKind::Output, "");
        let texts: Vec<&str> = transcript.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "b", "(no output)"]);
        for _ in 0..TRANSCRIPT_LEN {
            transcript.push(LineKind::Output, "x");
        }
        assert_eq!(transcript.lines.len(), TRANSCRIPT_LEN);
    }

    #[test]
    fn transcript_is_bounded_in_bytes() {
        let mut transcript = Transcript::default();
        let line = "z".repeat(10 << 20);
        for _ in 0..8 {
            transcript.push(LineKind::Output, &line);
        }
        assert_eq!(transcript.lines.len(), 8);
        assert!(
            transcript
                .lines
                .iter()
                .all(|l| l.text.len() < 2 * LINE_BYTES)
        );
        assert!(transcript.lines[0].text.ends_with("MiB cut]"));
        let many = "y".repeat(LINE_BYTES - 1) + "\n";
        transcript.push(LineKind::Output, &many.repeat(2000));
        let held: usize = transcript.lines.iter().map(|l| l.text.len()).sum();
        assert_eq!(held, transcript.bytes());
        assert!(held <= TRANSCRIPT_BYTES, "{held}");
    }
}
