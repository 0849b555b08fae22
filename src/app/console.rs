//! The monitor console: an input line ([`LineEditor`]) with Tab completion of command names,
//! HMP or QMP mode, the history (↑/↓, saved after every command), each VM's transcript of
//! commands and replies, and a filter over it (`/` on an empty line).
//!
//! No I/O, like the rest of the model: running a command and saving the history are
//! [`Effect`]s. Under `--read-only` only HMP `info …` and QMP `query-…` are sent.

use super::input::LineEditor;
use super::keymap::{Action, MonitorKey};
use super::{Effect, InputLine, InputPurpose, Message, Model, View};
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
    pub input: LineEditor,
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
    /// Transcript scroll, lines up from the newest (of the lines the filter shows).
    pub scroll: usize,
    /// The transcript shows only lines holding this text (any case).
    pub filter: String,
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

    /// Opens the console; the first time for a VM, reads the command names Tab completes.
    pub(super) fn open_console(&mut self) -> Vec<Effect> {
        self.view = View::Console;
        self.console.scroll = 0;
        let needs_names = self
            .vm()
            .is_some_and(|vm| vm.monitor.commands.is_none() && vm.is_connected());
        if needs_names {
            if let Some(vm) = self.vms.get_mut(self.current) {
                vm.monitor.commands = Some(Default::default());
            }
            return self.monitor_job(Job::CommandNames {
                hmp_help: !self.read_only,
            });
        }
        Vec::new()
    }

    /// The transcript lines of `vm` the console shows (the filter applied), oldest first.
    pub fn shown_transcript<'a>(&self, vm: &'a super::Vm) -> Vec<&'a ConsoleLine> {
        vm.monitor
            .console
            .lines
            .iter()
            .filter(|line| super::matches_filter(&line.text, &self.console.filter))
            .collect()
    }

    pub(super) fn act_console(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Cancel if !self.console.filter.is_empty() => {
                self.set_filter(InputPurpose::ConsoleFilter, String::new());
            }
            Action::Cancel => self.view = View::Vm,
            Action::Help => self.help = true,
            Action::Submit => return self.submit_console(),
            Action::Up | Action::Down => self.console.browse(action == Action::Up),
            Action::Monitor(MonitorKey::ToggleMode) => {
                self.console.mode = self.console.mode.toggled();
            }
            Action::PageUp | Action::PageDown => {
                let movement = if action == Action::PageUp {
                    super::lists::Movement::PageUp
                } else {
                    super::lists::Movement::PageDown
                };
                self.move_list(super::ListId::Console, movement);
            }
            Action::Filter if self.console.input.text().is_empty() => {
                self.input = Some(InputLine::new(
                    InputPurpose::ConsoleFilter,
                    self.console.filter.clone(),
                ));
            }
            Action::Filter => self.console.input.insert('/'),
            Action::Complete => self.complete_command(),
            Action::Char(c) => {
                self.console.input.insert(c);
                self.console.browsing = None;
            }
            Action::Edit(edit) if self.console.input.edit(edit) => {
                self.console.browsing = None;
            }
            _ => {}
        }
        Vec::new()
    }

    /// Tab in the console: completes the command name (an HMP `info` subcommand after
    /// `info `) from the names the VM's monitor gave.
    fn complete_command(&mut self) {
        let before = self.console.input.before_cursor().to_string();
        if before.trim_start().starts_with('{') {
            self.say(Message::error(
                "raw QMP JSON is not completed; type a command name instead",
            ));
            return;
        }
        let Some(names) = self.vm().and_then(|vm| vm.monitor.commands.clone()) else {
            self.say(Message::error(
                "not connected: no command names to complete",
            ));
            return;
        };
        let words: Vec<&str> = before.split_whitespace().collect();
        let ends_with_space = before.ends_with(char::is_whitespace);
        let (candidates, start) = match (self.console.mode, words.as_slice(), ends_with_space) {
            (_, [], _) | (_, [_], false) => {
                let list = match self.console.mode {
                    Mode::Hmp => &names.hmp,
                    Mode::Qmp => &names.qmp,
                };
                let start = before.len() - before.trim_start().len();
                (list.clone(), before[..start].chars().count())
            }
            (Mode::Hmp, ["info"], true) | (Mode::Hmp, ["info", _], false) => {
                let start = before.trim_end_matches(|c: char| !c.is_whitespace());
                (names.hmp_info.clone(), start.chars().count())
            }
            _ => {
                self.say(Message::error(
                    "Tab completes command names (and HMP info's subcommands)",
                ));
                return;
            }
        };
        if candidates.is_empty() {
            self.say(Message::error(
                "the monitor gave no command names (yet): nothing to complete",
            ));
            return;
        }
        let matches =
            self.console
                .input
                .complete(start, candidates.iter().map(String::as_str), " ");
        self.console.browsing = None;
        self.say_matches(&matches);
    }

    /// Says what a completion found when it was not one match.
    pub(super) fn say_matches(&mut self, matches: &[String]) {
        match matches {
            [] => self.say(Message::error("no completion")),
            [_] => {}
            many => {
                const SHOWN: usize = 12;
                let mut text = format!(
                    "{} matches: {}",
                    many.len(),
                    many[..many.len().min(SHOWN)].join(" ")
                );
                if many.len() > SHOWN {
                    text.push_str(" …");
                }
                self.say(Message::info(text));
            }
        }
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
        let connected = self.vms.get(vm).is_some_and(|v| v.is_connected());
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
        if connected {
            transcript.pending += 1;
            effects.push(Effect::Monitor {
                vm,
                job: Job::Console { line, command },
            });
        } else {
            transcript.push(LineKind::Error, "not connected: the command was not sent");
        }
        effects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
