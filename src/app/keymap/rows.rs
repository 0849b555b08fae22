//! The rows of the key table ([`ROWS`]): for each, the screens it applies on, its default
//! keys, its action, its label and where it is listed. Dispatch, the footer, the help and the
//! config's moves all read these rows; the one key outside them is Ctrl-Z (suspend), which
//! the terminal loop handles itself.

use super::{Action, EDITING, KeyContext, KeyPattern, MonitorKey};
use crate::app::input::Edit;
use crossterm::event::{KeyCode, KeyModifiers};

/// The constructors the table is written with: a key with modifiers, a plain character,
/// Ctrl or Alt with a character, a named key.
const fn pattern(code: KeyCode, modifiers: KeyModifiers) -> KeyPattern {
    KeyPattern { code, modifiers }
}
const fn ch(c: char) -> KeyPattern {
    pattern(KeyCode::Char(c), KeyModifiers::NONE)
}
const fn ctrl(c: char) -> KeyPattern {
    pattern(KeyCode::Char(c), KeyModifiers::CONTROL)
}
const fn alt(c: char) -> KeyPattern {
    pattern(KeyCode::Char(c), KeyModifiers::ALT)
}
const fn code(code: KeyCode) -> KeyPattern {
    pattern(code, KeyModifiers::NONE)
}

/// Where a row shows: in the footer at a priority (1 first), only in the help, or nowhere
/// (a row whose keys another row already describes, such as the fleet's sort digits 2–8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// In the footer, lower numbers first, and in the help.
    Footer(u8),
    /// Only in the help.
    Help,
    /// Not listed.
    Hidden,
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Where it applies.
    pub contexts: &'static [KeyContext],
    /// The keys that send the action.
    pub keys: &'static [KeyPattern],
    /// The action.
    pub action: Action,
    /// What it does, as shown to the user.
    pub label: &'static str,
    /// Where it is listed.
    pub show: Show,
    /// The keys as shown, when one row describes several (the fleet's "1-8").
    pub shown_keys: Option<&'static str>,
    /// The footer's shorter label, if the help's is long.
    pub short: Option<&'static str>,
}

const fn row(
    contexts: &'static [KeyContext],
    keys: &'static [KeyPattern],
    action: Action,
    label: &'static str,
    show: Show,
) -> Row {
    Row {
        contexts,
        keys,
        action,
        label,
        show,
        shown_keys: None,
        short: None,
    }
}

impl Row {
    /// The same row with a shorter label for the footer.
    const fn short(self, short: &'static str) -> Row {
        Row {
            short: Some(short),
            ..self
        }
    }

    /// The same row with its keys shown as `keys` (while they are not moved).
    const fn shown(self, keys: &'static str) -> Row {
        Row {
            shown_keys: Some(keys),
            ..self
        }
    }
}

use Action as A;
use KeyCode as C;
use KeyContext as K;
use MonitorKey as M;
use Show::{Footer as F, Help as H, Hidden};

const TABS: &[K] = &[K::Media, K::Network, K::Hotplug, K::Migration];
/// Screens where letters are commands.
const SCREENS: &[K] = &[
    K::Vm,
    K::Fleet,
    K::Snapshots,
    K::Media,
    K::Network,
    K::Hotplug,
    K::Migration,
];
const LISTS: &[K] = &[
    K::Vm,
    K::Fleet,
    K::Snapshots,
    K::Media,
    K::Network,
    K::Hotplug,
    K::Messages,
    K::Help,
];
/// Lists that page and jump to their ends (the message history pages on its own rows).
const PAGED: &[K] = &[
    K::Vm,
    K::Fleet,
    K::Snapshots,
    K::Media,
    K::Network,
    K::Hotplug,
    K::Help,
];
const VM_SCREENS: &[K] = &[K::Vm, K::Media, K::Network, K::Hotplug, K::Migration];

const fn sort(digit: u8, keys: &'static [KeyPattern]) -> Row {
    Row {
        contexts: &[K::Fleet],
        keys,
        action: A::Sort(digit),
        label: "sort by column",
        show: Hidden,
        shown_keys: None,
        short: None,
    }
}

/// Every row, in the order the help lists them.
pub const ROWS: &[Row] = &[
    // Overlays first: they take the keys before the screen under them.
    row(&[K::Confirm], &[ch('y'), ch('Y')], A::Confirm, "yes", F(1)).shown("y"),
    row(
        &[K::Confirm],
        &[ch('n'), ch('N'), code(C::Esc)],
        A::Cancel,
        "no",
        F(2),
    )
    .shown("n/Esc"),
    row(
        &[K::Help],
        &[ch('?'), code(C::Esc), ch('q'), code(C::F(1))],
        A::Cancel,
        "close the help",
        F(1),
    )
    .shown("?/Esc/q")
    .short("close help"),
    row(
        &[K::Messages],
        &[ch('!'), code(C::Esc), ch('q'), code(C::F(2))],
        A::Cancel,
        "close",
        F(1),
    )
    .shown("!/Esc/q"),
    row(
        &[K::EventDetail],
        &[code(C::Esc), code(C::Enter), ch('q')],
        A::Cancel,
        "close",
        F(1),
    ),
    // The fleet.
    row(&[K::Fleet], &[code(C::Enter)], A::Open, "open", F(1)),
    row(&[K::Fleet], &[ch(' ')], A::Mark, "mark", F(3)),
    row(
        &[K::Fleet],
        &[ch('p')],
        A::TogglePause,
        "pause/resume marked",
        F(4),
    ),
    Row {
        contexts: &[K::Fleet],
        keys: &[ch('1')],
        action: A::Sort(0),
        label: "sort by column (again: reverse)",
        show: F(5),
        shown_keys: Some("1-8"),
        short: Some("sort"),
    },
    sort(1, &[ch('2')]),
    sort(2, &[ch('3')]),
    sort(3, &[ch('4')]),
    sort(4, &[ch('5')]),
    sort(5, &[ch('6')]),
    sort(6, &[ch('7')]),
    sort(7, &[ch('8')]),
    row(&[K::Fleet], &[ch('/')], A::Filter, "filter", F(2)),
    row(
        &[K::Fleet],
        &[code(C::Esc)],
        A::Cancel,
        "clear the filter",
        H,
    ),
    // One VM's dashboard.
    row(
        &[K::Vm],
        &[ch('p'), ch(' ')],
        A::TogglePause,
        "pause/resume",
        F(1),
    ),
    row(&[K::Vm], &[ch('r')], A::Reset, "reset", F(2)),
    row(&[K::Vm], &[ch('P')], A::PowerDown, "power down", F(3)),
    row(&[K::Vm], &[ch('Q')], A::QuitVm, "quit VM", F(4)),
    row(&[K::Vm], &[ch('s')], A::Snapshots, "snapshots", F(5)),
    row(
        &[K::Vm],
        &[code(C::Tab)],
        A::FocusNext,
        "next panel",
        Show::Help,
    ),
    row(
        &[K::Vm],
        &[code(C::BackTab)],
        A::FocusPrevious,
        "previous panel",
        H,
    ),
    row(
        &[K::Vm],
        &[ch('/')],
        A::Filter,
        "filter the event log",
        F(12),
    )
    .short("filter events"),
    row(
        &[K::Vm],
        &[code(C::Enter)],
        A::Open,
        "the selected event's data (event log)",
        H,
    ),
    row(
        &[K::Vm],
        &[code(C::Esc)],
        A::Cancel,
        "clear the filter, else back to the fleet",
        H,
    ),
    // The devices screen's tabs.
    row(
        &[K::Media],
        &[ch('c'), code(C::Enter)],
        A::Monitor(M::ChangeMedium),
        "change medium",
        F(1),
    ),
    row(&[K::Media], &[ch('e')], A::Monitor(M::Eject), "eject", F(2)),
    row(
        &[K::Media],
        &[ch('E')],
        A::Monitor(M::ForceEject),
        "force eject",
        F(3),
    ),
    row(
        &[K::Network],
        &[ch('a'), code(C::Insert)],
        A::Monitor(M::Add),
        "add host forward",
        F(1),
    ),
    row(
        &[K::Network],
        &[ch('x'), code(C::Delete)],
        A::Monitor(M::Remove),
        "remove forward",
        F(2),
    ),
    row(
        &[K::Hotplug],
        &[ch('a'), code(C::Insert)],
        A::Monitor(M::Add),
        "add device",
        F(1),
    ),
    row(
        &[K::Hotplug],
        &[ch('x'), code(C::Delete)],
        A::Monitor(M::Remove),
        "remove device",
        F(2),
    ),
    row(
        &[K::Migration],
        &[ch('s')],
        A::Monitor(M::StartMigration),
        "start migration",
        F(1),
    ),
    row(
        &[K::Migration],
        &[ch('x')],
        A::Monitor(M::CancelMigration),
        "cancel migration",
        F(2),
    ),
    row(
        TABS,
        &[code(C::Tab)],
        A::FocusNext,
        "next/previous tab",
        F(6),
    )
    .shown("Tab/S-Tab"),
    row(
        TABS,
        &[code(C::BackTab)],
        A::FocusPrevious,
        "previous tab",
        Hidden,
    ),
    // The snapshot view.
    row(
        &[K::Snapshots],
        &[ch('c')],
        A::SnapshotCreate,
        "create",
        F(1),
    ),
    row(
        &[K::Snapshots],
        &[code(C::Enter), ch('l')],
        A::SnapshotLoad,
        "load",
        F(2),
    ),
    row(
        &[K::Snapshots],
        &[ch('d')],
        A::SnapshotDelete,
        "delete",
        F(3),
    ),
    row(
        &[K::Snapshots],
        &[ch('n')],
        A::SortByName,
        "sort by name (again: reverse)",
        F(4),
    )
    .short("by name"),
    row(
        &[K::Snapshots],
        &[ch('t')],
        A::SortByDate,
        "sort by date (again: reverse)",
        F(5),
    )
    .short("by date"),
    row(
        &[K::Snapshots, K::Media, K::Network, K::Hotplug, K::Migration],
        &[ch('r')],
        A::Refresh,
        "refresh",
        F(7),
    ),
    // Screens of one VM.
    row(
        VM_SCREENS,
        &[ch(':')],
        A::Monitor(M::OpenConsole),
        "console",
        F(6),
    ),
    row(
        VM_SCREENS,
        &[ch('m')],
        A::Monitor(M::OpenMedia),
        "removable media",
        H,
    ),
    row(
        VM_SCREENS,
        &[ch('n')],
        A::Monitor(M::OpenNetwork),
        "network",
        H,
    ),
    row(
        VM_SCREENS,
        &[ch('d')],
        A::Monitor(M::OpenDevices),
        "devices (hot-plug)",
        H,
    ),
    row(
        VM_SCREENS,
        &[ch('M')],
        A::Monitor(M::OpenMigration),
        "migration",
        H,
    ),
    // Lists.
    row(LISTS, &[code(C::Up), ch('k')], A::Up, "scroll / select", H).shown("↑/k ↓/j"),
    row(LISTS, &[code(C::Down), ch('j')], A::Down, "down", Hidden),
    row(PAGED, &[code(C::PageUp)], A::PageUp, "page up/down", H).shown("PgUp/PgDn"),
    row(
        PAGED,
        &[code(C::PageDown)],
        A::PageDown,
        "page down",
        Hidden,
    ),
    row(
        PAGED,
        &[ch('g'), code(C::Home)],
        A::First,
        "first/last row",
        H,
    )
    .shown("g/G Home/End"),
    row(PAGED, &[ch('G'), code(C::End)], A::Last, "last row", Hidden),
    row(
        &[K::Messages],
        &[code(C::PageUp)],
        A::PageUp,
        "scroll a page",
        F(2),
    )
    .shown("PgUp/PgDn")
    .short("scroll"),
    row(
        &[K::Messages],
        &[code(C::PageDown)],
        A::PageDown,
        "page down",
        Hidden,
    ),
    row(
        &[K::Vm, K::Fleet],
        &[ch('+'), ch('=')],
        A::Faster,
        "poll faster/slower",
        H,
    )
    .shown("+/-"),
    row(
        &[K::Vm, K::Fleet],
        &[ch('-')],
        A::Slower,
        "poll slower",
        Hidden,
    ),
    // Leaving a screen.
    row(
        &[K::Snapshots, K::Media, K::Network, K::Hotplug, K::Migration],
        &[code(C::Esc)],
        A::Cancel,
        "back to the VM",
        F(9),
    )
    .short("back"),
    row(SCREENS, &[ch('!')], A::Messages, "message history", H),
    row(SCREENS, &[ch('?')], A::Help, "help", F(10)),
    row(
        SCREENS,
        &[ch('q')],
        A::QuitDashboard,
        "quit the dashboard (VMs keep running)",
        F(11),
    )
    .short("quit dashboard"),
    // The console.
    row(&[K::Console], &[code(C::Enter)], A::Submit, "run", F(1)),
    row(
        &[K::Console],
        &[code(C::Tab)],
        A::Complete,
        "complete the command name",
        F(2),
    )
    .short("complete"),
    row(
        &[K::Console],
        &[ctrl('t')],
        A::Monitor(M::ToggleMode),
        "HMP/QMP",
        F(3),
    ),
    row(
        &[K::Console],
        &[code(C::Up)],
        A::Up,
        "older/newer command (history)",
        F(4),
    )
    .shown("↑/↓")
    .short("history"),
    row(
        &[K::Console],
        &[code(C::Down)],
        A::Down,
        "newer command (history)",
        Hidden,
    ),
    row(
        &[K::Console],
        &[code(C::PageUp)],
        A::PageUp,
        "scroll the output",
        F(5),
    )
    .shown("PgUp/PgDn")
    .short("scroll"),
    row(
        &[K::Console],
        &[code(C::PageDown)],
        A::PageDown,
        "scroll the output down",
        Hidden,
    ),
    row(
        &[K::Console],
        &[ch('/')],
        A::Filter,
        "filter output (empty line, else types /)",
        H,
    ),
    row(&[K::Console], &[code(C::Esc)], A::Cancel, "back", F(6)),
    row(&[K::Console], &[code(C::F(1))], A::Help, "help", F(7)),
    // Prompts.
    row(&[K::Prompt], &[code(C::Enter)], A::Submit, "done", F(1)),
    row(&[K::Prompt], &[code(C::Esc)], A::Cancel, "cancel", F(2)),
    row(&[K::Form], &[code(C::Enter)], A::Submit, "ok", F(1)),
    row(
        &[K::Form],
        &[code(C::Tab)],
        A::Complete,
        "complete (paths, device drivers)",
        F(2),
    )
    .short("complete"),
    row(
        &[K::Form],
        &[code(C::Down), code(C::Up)],
        A::Monitor(M::NextChoice),
        "next choice",
        F(3),
    )
    .shown("↑/↓"),
    row(&[K::Form], &[code(C::Esc)], A::Cancel, "cancel", F(4)),
    row(EDITING, &[code(C::F(2))], A::Messages, "message history", H),
    // The line editor's keys, shared by every prompt.
    row(
        EDITING,
        &[ctrl('a'), code(C::Home)],
        A::Edit(Edit::Start),
        "start of line",
        H,
    ),
    row(
        EDITING,
        &[ctrl('e'), code(C::End)],
        A::Edit(Edit::End),
        "end of line",
        H,
    ),
    row(
        EDITING,
        &[ctrl('b'), code(C::Left)],
        A::Edit(Edit::Left),
        "character left",
        H,
    ),
    row(
        EDITING,
        &[ctrl('f'), code(C::Right)],
        A::Edit(Edit::Right),
        "character right",
        H,
    ),
    row(
        EDITING,
        &[alt('b'), pattern(C::Left, KeyModifiers::CONTROL)],
        A::Edit(Edit::WordLeft),
        "word left",
        H,
    ),
    row(
        EDITING,
        &[alt('f'), pattern(C::Right, KeyModifiers::CONTROL)],
        A::Edit(Edit::WordRight),
        "word right",
        H,
    ),
    row(
        EDITING,
        &[code(C::Backspace), ctrl('h')],
        A::Edit(Edit::DeleteBack),
        "delete the character before",
        H,
    ),
    row(
        EDITING,
        &[ctrl('d'), code(C::Delete)],
        A::Edit(Edit::DeleteForward),
        "delete the character under the cursor",
        H,
    ),
    row(
        EDITING,
        &[ctrl('w'), pattern(C::Backspace, KeyModifiers::ALT)],
        A::Edit(Edit::DeleteWordBack),
        "delete the word before",
        H,
    ),
    row(
        EDITING,
        &[alt('d')],
        A::Edit(Edit::DeleteWordForward),
        "delete the word after",
        H,
    ),
    row(
        EDITING,
        &[ctrl('u')],
        A::Edit(Edit::DeleteToStart),
        "delete to the start",
        H,
    ),
    row(
        EDITING,
        &[ctrl('k')],
        A::Edit(Edit::DeleteToEnd),
        "delete to the end",
        H,
    ),
    row(
        EDITING,
        &[ctrl('y')],
        A::Edit(Edit::Yank),
        "paste what was deleted",
        H,
    ),
    // Behind the too-small screen only quitting acts: nothing happens unseen.
    row(
        &[K::TooSmall],
        &[ch('q')],
        A::QuitDashboard,
        "quit the dashboard (VMs keep running)",
        F(1),
    )
    .short("quit"),
    // Everywhere.
    row(
        &KeyContext::ALL,
        &[ctrl('c')],
        A::QuitDashboard,
        "quit the dashboard (VMs keep running)",
        H,
    ),
];

impl Row {
    /// True when the row applies in `context`.
    pub fn applies_in(&self, context: KeyContext) -> bool {
        self.contexts.contains(&context)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Keymap;
    use super::*;
    use crossterm::event::KeyEvent;

    fn press(pattern: KeyPattern) -> KeyEvent {
        KeyEvent::new(pattern.code, pattern.modifiers)
    }

    #[test]
    fn every_row_dispatches_to_its_action() {
        let keymap = Keymap::default();
        for row in ROWS {
            assert!(!row.contexts.is_empty(), "{:?} applies nowhere", row.action);
            for &context in row.contexts {
                for &key in row.keys {
                    assert_eq!(
                        keymap.action_for(context, press(key)),
                        Some(row.action),
                        "{} in {} ({})",
                        key.label(),
                        context.name(),
                        row.label
                    );
                }
            }
        }
    }

    #[test]
    fn every_context_has_a_footer_and_a_way_back() {
        let keymap = Keymap::default();
        for context in KeyContext::ALL {
            assert!(!keymap.footer(context).is_empty(), "{}", context.name());
            if context == K::TooSmall {
                // Nothing to go back from: every key but quit is ignored there.
                assert_eq!(
                    keymap.action_for(context, KeyEvent::from(KeyCode::Esc)),
                    None
                );
                continue;
            }
            let back = keymap.action_for(context, KeyEvent::from(KeyCode::Esc));
            assert_eq!(back, Some(A::Cancel), "Esc in {}", context.name());
        }
    }
}
