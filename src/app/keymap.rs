//! The key table: one list of rows ([`ROWS`], in `rows`), each with the screens it applies
//! on, its key patterns (code and modifiers), its action and the label the user reads.
//! Dispatch is a lookup in it ([`Keymap::action_for`], here); the footer, the help and the
//! confirmation dialog are drawn from the same rows (in `help`), and the config's `[keys]`
//! moves any row's keys ([`Keymap::parse`], in `overrides`) into a plain [`Keymap`] value
//! the model holds.
//!
//! Typing is the one thing that is not a row: on a screen with a line editor, a printable
//! character that no row claims is typed.

use super::input::Edit;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

mod help;
mod monitor;
mod overrides;
mod rows;
pub use help::{HELP_KEYS_WIDTH, HELP_LABEL_WIDTH};
pub use monitor::MonitorKey;
pub use overrides::KeyOverrideError;
pub use rows::{ROWS, Row, Show};

use KeyContext as K;

/// Something the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the dashboard (the VMs keep running).
    QuitDashboard,
    /// Pause a running VM or resume a paused one.
    TogglePause,
    /// Ask to reset the VM.
    Reset,
    /// Ask to send an ACPI power-down.
    PowerDown,
    /// Ask to quit QEMU.
    QuitVm,
    /// Say yes to the question asked.
    Confirm,
    /// Go back one level: close the overlay or prompt, cancel the question, leave the screen.
    Cancel,
    /// Show or hide the help overlay.
    Help,
    /// Move focus to the next panel (next tab on the devices screen).
    FocusNext,
    /// Move focus to the previous panel (previous tab).
    FocusPrevious,
    /// Scroll or move the selection up (older history in the console).
    Up,
    /// Scroll or move the selection down (newer history in the console).
    Down,
    /// Poll more often.
    Faster,
    /// Poll less often.
    Slower,
    /// Open the snapshot view.
    Snapshots,
    /// Open what is selected: a VM of the fleet, an event of the log.
    Open,
    /// Mark or unmark the selected VM (fleet view).
    Mark,
    /// Sort the fleet table by column number (0-based); again reverses.
    Sort(u8),
    /// Start typing a filter (fleet, event log, console output).
    Filter,
    /// A character typed into a line editor.
    Char(char),
    /// An editing key of a line editor.
    Edit(Edit),
    /// Complete the word before the cursor (Tab in a prompt).
    Complete,
    /// Finish a line (run it, save it, apply it).
    Submit,
    /// Take a new snapshot (prompts for the tag).
    SnapshotCreate,
    /// Load the selected snapshot.
    SnapshotLoad,
    /// Delete the selected snapshot.
    SnapshotDelete,
    /// Sort snapshots by tag; again reverses.
    SortByName,
    /// Sort snapshots by date; again reverses.
    SortByDate,
    /// Read the list again.
    Refresh,
    /// A key of the console or the devices screen.
    Monitor(MonitorKey),
    /// Open the message history (or close it).
    Messages,
    /// Scroll a page up.
    PageUp,
    /// Scroll a page down.
    PageDown,
    /// Go to the first row of the list.
    First,
    /// Go to the last row of the list.
    Last,
    /// The mouse wheel or a click over a list (not a key: the terminal loop sends it).
    Pointer(super::pointer::Pointer),
}

/// Which screen or overlay the keys go to (the rows say where they apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    /// One VM's dashboard ([`super::View::Vm`]).
    Vm,
    /// The fleet table.
    Fleet,
    /// The snapshot view.
    Snapshots,
    /// A one-line prompt: the snapshot tag, a filter.
    Prompt,
    /// A yes/no question.
    Confirm,
    /// The help overlay.
    Help,
    /// The monitor console.
    Console,
    /// The removable media tab.
    Media,
    /// The network tab.
    Network,
    /// The hot-plug tab.
    Hotplug,
    /// The migration tab.
    Migration,
    /// A prompt on the devices screen.
    Form,
    /// The message history overlay.
    Messages,
    /// One event's full data.
    EventDetail,
    /// The terminal is too small to draw the dashboard: only quitting acts.
    TooSmall,
}

impl KeyContext {
    /// Every context.
    pub const ALL: [KeyContext; 15] = [
        K::Vm,
        K::Fleet,
        K::Snapshots,
        K::Prompt,
        K::Confirm,
        K::Help,
        K::Console,
        K::Media,
        K::Network,
        K::Hotplug,
        K::Migration,
        K::Form,
        K::Messages,
        K::EventDetail,
        K::TooSmall,
    ];

    /// The name the config's `[keys.NAME]` tables use, and the help's title.
    pub fn name(self) -> &'static str {
        match self {
            K::Vm => "vm",
            K::Fleet => "fleet",
            K::Snapshots => "snapshots",
            K::Prompt => "prompt",
            K::Confirm => "confirm",
            K::Help => "help",
            K::Console => "console",
            K::Media => "media",
            K::Network => "network",
            K::Hotplug => "devices",
            K::Migration => "migration",
            K::Form => "form",
            K::Messages => "messages",
            K::EventDetail => "event",
            K::TooSmall => "too_small",
        }
    }

    /// True where printable characters that no row claims are typed into a line editor.
    pub fn types_text(self) -> bool {
        EDITING.contains(&self)
    }
}

/// Contexts with a line editor: printable characters no row claims are typed there.
const EDITING: &[K] = &[K::Prompt, K::Console, K::Form];

/// A key: its code and modifiers (Shift is part of the character, not a modifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPattern {
    /// The key.
    pub code: KeyCode,
    /// Control, Alt.
    pub modifiers: KeyModifiers,
}

impl KeyPattern {
    /// The pattern a key press matches: Shift is dropped from characters and Shift-Tab.
    pub fn of(key: &KeyEvent) -> KeyPattern {
        let mut modifiers = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(key.code, KeyCode::Char(_) | KeyCode::BackTab) {
            modifiers |= key.modifiers & KeyModifiers::SHIFT;
        }
        KeyPattern {
            code: key.code,
            modifiers,
        }
    }

    /// How the key is written on screen and in the config ("p", "C-a", "M-b", "Enter", "↑").
    pub fn label(&self) -> String {
        let mut out = String::new();
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            out.push_str("C-");
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            out.push_str("M-");
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            out.push_str("S-");
        }
        match self.code {
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            KeyCode::F(n) => out.push_str(&format!("F{n}")),
            code => out.push_str(overrides::code_name(code).unwrap_or("?")),
        }
        out
    }
}

/// The key table with the config's moves applied: which keys each row answers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keymap {
    moves: Vec<overrides::Move>,
}

impl Keymap {
    /// The keys of `row` in `context`: the config's, where it moved them.
    pub fn keys_of(&self, row: &Row, context: KeyContext) -> Vec<KeyPattern> {
        overrides::keys_of(&self.moves, row, context)
    }

    /// The rows of `context`, in the help's order.
    pub fn rows(&self, context: KeyContext) -> impl Iterator<Item = &'static Row> {
        ROWS.iter().filter(move |row| row.applies_in(context))
    }

    /// The first row of `context` that `key` (with the config's moves) sends.
    fn row_for(&self, context: KeyContext, key: KeyPattern) -> Option<&'static Row> {
        self.rows(context)
            .find(|row| self.keys_of(row, context).contains(&key))
    }

    /// The action for a key press in `context`, if any.
    pub fn action_for(&self, context: KeyContext, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let pattern = KeyPattern::of(&key);
        if let Some(row) = self.row_for(context, pattern) {
            return Some(row.action);
        }
        match pattern {
            KeyPattern {
                code: KeyCode::Char(c),
                modifiers: KeyModifiers::NONE,
            } if context.types_text() && !c.is_control() => Some(Action::Char(c)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_is_part_of_the_character() {
        let keymap = Keymap::default();
        let shifted = KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action_for(K::Vm, shifted), Some(Action::PowerDown));
        let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(
            keymap.action_for(K::Vm, back_tab),
            Some(Action::FocusPrevious)
        );
    }

    #[test]
    fn prompts_type_letters_but_not_alt_letters() {
        let keymap = Keymap::default();
        for context in EDITING {
            for c in ['q', '?', 'p', 'r', ':', '快'] {
                assert_eq!(
                    keymap.action_for(*context, KeyEvent::from(KeyCode::Char(c))),
                    Some(Action::Char(c))
                );
            }
            let alt_x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT);
            assert_eq!(keymap.action_for(*context, alt_x), None);
            let alt_b = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::ALT);
            assert_eq!(
                keymap.action_for(*context, alt_b),
                Some(Action::Edit(Edit::WordLeft))
            );
        }
        assert_eq!(
            keymap.action_for(K::Confirm, KeyEvent::from(KeyCode::Char('p'))),
            None
        );
    }
}
