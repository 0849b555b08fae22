//! The key table: one list of rows ([`ROWS`]), each with the screens it applies on, its key
//! patterns (code and modifiers), its action and the label the user reads. Dispatch is a
//! lookup in it ([`Keymap::action_for`]); the footer, the help and the confirmation dialog
//! are drawn from the same rows, and the config's `[keys]` moves any row's keys
//! ([`Keymap::parse`], in `overrides`) into a plain [`Keymap`] value the model holds.
//!
//! Typing is the one thing that is not a row: on a screen with a line editor, a printable
//! character that no row claims is typed.

use super::input::Edit;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

mod monitor;
mod overrides;
pub use monitor::MonitorKey;
pub use overrides::KeyOverrideError;

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
    Input,
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
        K::Input,
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
            K::Input => "prompt",
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

const EDITING: &[K] = &[K::Input, K::Console, K::Form];
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

/// The widest a row's keys may be as the help shows them, in columns.
pub const HELP_KEYS_WIDTH: usize = 16;
/// The widest a row's help label may be, in columns: the help shows one row a line, and on
/// the smallest screen (`ui::MIN_SIZE`) the key column and the borders leave this much.
pub const HELP_LABEL_WIDTH: usize = 40;

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
    row(&[K::Input], &[code(C::Enter)], A::Submit, "done", F(1)),
    row(&[K::Input], &[code(C::Esc)], A::Cancel, "cancel", F(2)),
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

    /// The keys of `row` as shown in `context` ("p/space", "C-a/Home", "1-8").
    pub fn keys_label(&self, row: &Row, context: KeyContext) -> String {
        let keys = self.keys_of(row, context);
        match row.shown_keys {
            Some(shown) if keys == row.keys => shown.to_string(),
            _ => keys
                .iter()
                .map(KeyPattern::label)
                .collect::<Vec<_>>()
                .join("/"),
        }
    }

    /// The rows of `context`, in the help's order.
    pub fn rows(&self, context: KeyContext) -> impl Iterator<Item = &'static Row> {
        ROWS.iter().filter(move |row| row.applies_in(context))
    }

    /// The footer's rows of `context`, most important first; `has_fleet` leaves out "back
    /// to the fleet" where there is none.
    pub fn footer(&self, context: KeyContext) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(u8, &Row)> = self
            .rows(context)
            .filter_map(|row| match row.show {
                Show::Footer(priority) => Some((priority, row)),
                _ => None,
            })
            .collect();
        rows.sort_by_key(|(priority, _)| *priority);
        rows.into_iter()
            .filter(|(_, row)| !self.keys_of(row, context).is_empty())
            .map(|(_, row)| {
                (
                    self.keys_label(row, context),
                    row.short.unwrap_or(row.label),
                )
            })
            .collect()
    }

    /// The help's rows of `context`: keys as shown and what they do.
    pub fn help(&self, context: KeyContext) -> Vec<(String, &'static str)> {
        self.rows(context)
            .filter(|row| row.show != Show::Hidden)
            .map(|row| (self.keys_label(row, context), row.label))
            .collect()
    }

    /// The keys of `action` in `context` as shown, if a row has it.
    pub fn keys_for(&self, context: KeyContext, action: Action) -> Option<String> {
        self.rows(context)
            .find(|row| row.action == action)
            .map(|row| self.keys_label(row, context))
    }

    /// What `q` does in `context`, as the help says it.
    pub fn what_q_does(&self, context: KeyContext) -> &'static str {
        let q = KeyPattern::of(&KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
        match self.row_for(context, q) {
            Some(row) => row.label,
            None if context.types_text() => "types the letter q",
            None => "nothing",
        }
    }

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
            } if context.types_text() && !c.is_control() => Some(A::Char(c)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn shift_is_part_of_the_character() {
        let keymap = Keymap::default();
        let shifted = KeyEvent::new(KeyCode::Char('P'), KeyModifiers::SHIFT);
        assert_eq!(keymap.action_for(K::Vm, shifted), Some(A::PowerDown));
        let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(keymap.action_for(K::Vm, back_tab), Some(A::FocusPrevious));
    }

    #[test]
    fn prompts_type_letters_but_not_alt_letters() {
        let keymap = Keymap::default();
        for context in EDITING {
            for c in ['q', '?', 'p', 'r', ':', '快'] {
                assert_eq!(
                    keymap.action_for(*context, KeyEvent::from(KeyCode::Char(c))),
                    Some(A::Char(c))
                );
            }
            let alt_x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT);
            assert_eq!(keymap.action_for(*context, alt_x), None);
            let alt_b = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::ALT);
            assert_eq!(
                keymap.action_for(*context, alt_b),
                Some(A::Edit(Edit::WordLeft))
            );
        }
        assert_eq!(
            keymap.action_for(K::Confirm, KeyEvent::from(KeyCode::Char('p'))),
            None
        );
    }

    #[test]
    fn every_help_row_fits_the_smallest_screen() {
        use unicode_width::UnicodeWidthStr;
        let keymap = Keymap::default();
        for context in KeyContext::ALL {
            for (keys, label) in keymap.help(context) {
                assert!(keys.width() <= HELP_KEYS_WIDTH, "{context:?}: {keys}");
                assert!(label.width() <= HELP_LABEL_WIDTH, "{context:?}: {label}");
            }
        }
    }

    #[test]
    fn the_help_says_what_q_does() {
        let keymap = Keymap::default();
        assert_eq!(keymap.what_q_does(K::Help), "close the help");
        assert_eq!(keymap.what_q_does(K::Console), "types the letter q");
        assert!(keymap.what_q_does(K::Vm).contains("VMs keep running"));
    }
}
