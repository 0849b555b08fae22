//! The one-line prompts the model itself opens (snapshot tag, the fleet, event log and
//! console filters): what each is for, how keys and pastes edit it ([`super::input`]), and
//! filters applied as they are typed.

use super::input::LineEditor;
use super::keymap::{Action, KeyContext};
use super::{Effect, EventRecord, Model, Vm};

/// What a prompt line is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InputPurpose {
    /// The fleet table's filter (applied as it is typed).
    #[default]
    Filter,
    /// The event log's filter (applied as it is typed).
    EventFilter,
    /// The console output's filter (applied as it is typed).
    ConsoleFilter,
    /// The tag of a new snapshot.
    SnapshotTag,
}

impl InputPurpose {
    /// The label before the text.
    pub fn label(self) -> &'static str {
        match self {
            InputPurpose::Filter | InputPurpose::EventFilter | InputPurpose::ConsoleFilter => {
                "filter: "
            }
            InputPurpose::SnapshotTag => "new snapshot tag: ",
        }
    }
}

/// A prompt line being typed (snapshot tag, filters); the console and the devices screen's
/// prompts keep their own [`LineEditor`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputLine {
    /// What it is for.
    pub purpose: InputPurpose,
    /// The text and its cursor.
    pub editor: LineEditor,
}

impl InputLine {
    pub(super) fn new(purpose: InputPurpose, text: impl Into<String>) -> InputLine {
        InputLine {
            purpose,
            editor: LineEditor::new(text),
        }
    }
}

/// True when `filter` is empty or `text` holds it, ignoring case.
pub fn matches_filter(text: &str, filter: &str) -> bool {
    filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
}

impl Model {
    /// A key while a prompt is open: typing and editing, Enter, Esc.
    pub(super) fn act_prompt(&mut self, action: Action) -> Vec<Effect> {
        let Some(input) = self.input.as_mut() else {
            return Vec::new();
        };
        let purpose = input.purpose;
        match action {
            Action::Char(c) => input.editor.insert(c),
            Action::Edit(edit) => {
                input.editor.edit(edit);
            }
            Action::Submit if purpose == InputPurpose::SnapshotTag => {
                let tag = input.editor.text().to_string();
                return self.submit_snapshot_tag(tag);
            }
            Action::Submit => self.input = None,
            Action::Cancel => {
                self.input = None;
                self.set_filter(purpose, String::new());
                return Vec::new();
            }
            _ => {}
        }
        self.sync_filter();
        Vec::new()
    }

    /// A pasted text (bracketed paste) goes into the line editor that has the keys, if any;
    /// its line breaks never submit.
    pub fn paste(&mut self, text: &str) {
        let editor = match self.key_context() {
            KeyContext::Prompt => self.input.as_mut().map(|input| &mut input.editor),
            KeyContext::Console => Some(&mut self.console.input),
            KeyContext::Form => self.devices.form.as_mut().map(|form| &mut form.input),
            _ => None,
        };
        if let Some(editor) = editor {
            editor.paste(text);
            self.sync_filter();
        }
    }

    /// Applies the filter being typed as it is typed.
    pub(super) fn sync_filter(&mut self) {
        if let Some(input) = &self.input {
            let text = input.editor.text().to_string();
            self.set_filter(input.purpose, text);
        }
    }

    pub(super) fn set_filter(&mut self, purpose: InputPurpose, text: String) {
        match purpose {
            InputPurpose::Filter => {
                self.fleet.filter = text;
                self.fleet.selected = None;
            }
            InputPurpose::EventFilter => {
                self.event_filter = text;
                self.event_scroll = 0;
            }
            InputPurpose::ConsoleFilter => {
                self.console.filter = text;
                self.console.scroll = 0;
            }
            InputPurpose::SnapshotTag => {}
        }
    }

    /// The events of `vm` the event log shows (the filter applied), oldest first.
    pub fn shown_events<'a>(&self, vm: &'a Vm) -> Vec<&'a EventRecord> {
        vm.events
            .iter()
            .filter(|record| {
                self.event_filter.is_empty()
                    || matches_filter(&record.name, &self.event_filter)
                    || matches_filter(&record.text, &self.event_filter)
                    || matches_filter(&record.data.to_string(), &self.event_filter)
            })
            .collect()
    }
}
