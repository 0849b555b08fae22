//! The key table: which key does what in which mode. The footer and the help overlay are
//! drawn from this same table, so they can never disagree with the behaviour.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

mod monitor;
pub use monitor::MonitorKey;
pub mod rebind;

/// Something the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the dashboard (the VM keeps running).
    QuitDashboard,
    /// Pause a running VM or resume a paused one.
    TogglePause,
    /// Ask to reset the VM.
    Reset,
    /// Ask to send an ACPI power-down.
    PowerDown,
    /// Ask to quit QEMU.
    QuitVm,
    /// Confirm the question asked.
    Confirm,
    /// Cancel the question or close the overlay.
    Cancel,
    /// Show or hide the help overlay.
    Help,
    /// Move focus to the next panel.
    FocusNext,
    /// Move focus to the previous panel.
    FocusPrevious,
    /// Scroll or move the selection up.
    Up,
    /// Scroll or move the selection down.
    Down,
    /// Poll more often.
    Faster,
    /// Poll less often.
    Slower,
    /// Open the snapshot view.
    Snapshots,
    /// Open the selected VM (fleet view).
    Open,
    /// Mark or unmark the selected VM (fleet view).
    Mark,
    /// Sort the fleet table by column number (0-based); again reverses.
    Sort(u8),
    /// Start typing the fleet filter.
    Filter,
    /// A character typed into an input line.
    Char(char),
    /// Delete the last character of an input line.
    Backspace,
    /// Finish an input line.
    Submit,
    /// Take a new snapshot (prompts for the tag).
    SnapshotCreate,
    /// Load the selected snapshot.
    SnapshotLoad,
    /// Delete the selected snapshot.
    SnapshotDelete,
    /// Sort snapshots by tag.
    SortByName,
    /// Sort snapshots by date.
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
    /// The mouse wheel or a click over a list.
    Pointer(super::lists::Pointer),
}

/// Which key table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyContext {
    /// One VM's dashboard.
    Main,
    /// The fleet table.
    Fleet,
    /// The snapshot view.
    Snapshots,
    /// Typing into an input line.
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
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Where it applies.
    pub context: KeyContext,
    /// The keys as shown to the user.
    pub keys: &'static str,
    /// What it does, as shown to the user.
    pub description: &'static str,
    /// The action.
    pub action: Action,
    /// Shown in the footer (the help overlay shows all).
    pub in_footer: bool,
}

impl Binding {
    /// Whether the binding does anything now: "back to the fleet" needs a fleet.
    pub fn applies(&self, has_fleet: bool) -> bool {
        has_fleet || !(self.context == KeyContext::Main && self.action == Action::Cancel)
    }
}

const fn bind(
    context: KeyContext,
    keys: &'static str,
    description: &'static str,
    action: Action,
    in_footer: bool,
) -> Binding {
    Binding {
        context,
        keys,
        description,
        action,
        in_footer,
    }
}

use Action as A;
use KeyContext as K;
use MonitorKey as M;

/// Every binding, in the order the help shows them.
pub const BINDINGS: &[Binding] = &[
    bind(K::Fleet, "↑/↓", "select", A::Up, false),
    bind(K::Fleet, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(K::Fleet, "g/G Home/End", "first/last row", A::First, false),
    bind(K::Fleet, "Enter", "open", A::Open, true),
    bind(K::Fleet, "space", "mark", A::Mark, true),
    bind(K::Fleet, "p", "pause/resume marked", A::TogglePause, true),
    bind(
        K::Fleet,
        "1-8",
        "sort by column (again: reverse)",
        A::Sort(0),
        true,
    ),
    bind(K::Fleet, "/", "filter", A::Filter, true),
    bind(K::Fleet, "Esc", "clear filter", A::Cancel, false),
    bind(K::Fleet, "+/-", "poll faster/slower", A::Faster, false),
    bind(K::Fleet, "!", "messages", A::Messages, true),
    bind(K::Fleet, "?", "help", A::Help, true),
    bind(K::Fleet, "q/C-c", "quit dashboard", A::QuitDashboard, true),
    bind(K::Snapshots, "↑/↓", "select", A::Up, false),
    bind(K::Snapshots, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(
        K::Snapshots,
        "g/G Home/End",
        "first/last row",
        A::First,
        false,
    ),
    bind(K::Snapshots, "c", "create", A::SnapshotCreate, true),
    bind(K::Snapshots, "Enter/l", "load", A::SnapshotLoad, true),
    bind(K::Snapshots, "d", "delete", A::SnapshotDelete, true),
    bind(
        K::Snapshots,
        "n/t",
        "sort by name/date",
        A::SortByName,
        true,
    ),
    bind(K::Snapshots, "r", "refresh", A::Refresh, true),
    bind(K::Snapshots, "Esc", "back", A::Cancel, true),
    bind(K::Snapshots, "!", "message history", A::Messages, false),
    bind(K::Snapshots, "?", "help", A::Help, false),
    bind(
        K::Snapshots,
        "q/C-c",
        "quit dashboard",
        A::QuitDashboard,
        true,
    ),
    bind(K::Input, "Enter", "done", A::Submit, true),
    bind(K::Input, "Esc", "cancel", A::Cancel, true),
    bind(K::Main, "p/space", "pause/resume", A::TogglePause, true),
    bind(K::Main, "r", "reset", A::Reset, true),
    bind(K::Main, "P", "power down", A::PowerDown, true),
    bind(K::Main, "Q", "quit VM", A::QuitVm, true),
    bind(K::Main, "s", "snapshots", A::Snapshots, true),
    bind(K::Main, "Tab", "next panel", A::FocusNext, false),
    bind(K::Main, "S-Tab", "previous panel", A::FocusPrevious, false),
    bind(K::Main, "↑/k ↓/j", "scroll / select", A::Up, false),
    bind(K::Main, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(K::Main, "g/G Home/End", "first/last row", A::First, false),
    bind(K::Main, "+/-", "poll faster/slower", A::Faster, false),
    bind(K::Main, "Esc", "back to the fleet", A::Cancel, false),
    bind(K::Main, ":", "console", A::Monitor(M::OpenConsole), true),
    bind(
        K::Main,
        "m",
        "removable media",
        A::Monitor(M::OpenMedia),
        false,
    ),
    bind(K::Main, "n", "network", A::Monitor(M::OpenNetwork), false),
    bind(
        K::Main,
        "d",
        "devices (hot-plug)",
        A::Monitor(M::OpenDevices),
        false,
    ),
    bind(
        K::Main,
        "M",
        "migration",
        A::Monitor(M::OpenMigration),
        false,
    ),
    bind(K::Main, "!", "message history", A::Messages, false),
    bind(K::Main, "?", "help", A::Help, true),
    bind(K::Main, "q/C-c", "quit dashboard", A::QuitDashboard, true),
    bind(K::Confirm, "y", "yes", A::Confirm, true),
    bind(K::Confirm, "n/Esc", "no", A::Cancel, true),
    bind(K::Help, "?/Esc/q", "close help", A::Cancel, true),
    bind(K::Console, "Enter", "run", A::Submit, true),
    bind(
        K::Console,
        "Tab",
        "HMP/QMP",
        A::Monitor(M::ToggleMode),
        true,
    ),
    bind(K::Console, "↑/↓", "history", A::Up, true),
    bind(
        K::Console,
        "PgUp/PgDn",
        "scroll",
        A::Monitor(M::PageUp),
        true,
    ),
    bind(
        K::Console,
        "←/→ Home/End",
        "move the cursor",
        A::Monitor(M::Left),
        false,
    ),
    bind(
        K::Console,
        "C-u",
        "clear the line",
        A::Monitor(M::ClearLine),
        false,
    ),
    bind(K::Console, "Esc", "back", A::Cancel, true),
    bind(K::Console, "F1", "help", A::Help, true),
    bind(K::Console, "F2", "message history", A::Messages, false),
    bind(K::Console, "C-c", "quit dashboard", A::QuitDashboard, false),
    bind(K::Media, "↑/↓", "select", A::Up, false),
    bind(K::Media, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(K::Media, "g/G Home/End", "first/last row", A::First, false),
    bind(
        K::Media,
        "c/Enter",
        "change medium",
        A::Monitor(M::ChangeMedium),
        true,
    ),
    bind(K::Media, "e", "eject", A::Monitor(M::Eject), true),
    bind(
        K::Media,
        "E",
        "force eject",
        A::Monitor(M::ForceEject),
        true,
    ),
    bind(K::Network, "↑/↓", "select a forward", A::Up, false),
    bind(K::Network, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(
        K::Network,
        "g/G Home/End",
        "first/last row",
        A::First,
        false,
    ),
    bind(
        K::Network,
        "a",
        "add host forward",
        A::Monitor(M::Add),
        true,
    ),
    bind(
        K::Network,
        "x/Del",
        "remove forward",
        A::Monitor(M::Remove),
        true,
    ),
    bind(K::Hotplug, "↑/↓", "select", A::Up, false),
    bind(K::Hotplug, "PgUp/PgDn", "page up/down", A::PageUp, false),
    bind(
        K::Hotplug,
        "g/G Home/End",
        "first/last row",
        A::First,
        false,
    ),
    bind(K::Hotplug, "a", "add device", A::Monitor(M::Add), true),
    bind(
        K::Hotplug,
        "x/Del",
        "remove device",
        A::Monitor(M::Remove),
        true,
    ),
    bind(
        K::Migration,
        "s",
        "start migration",
        A::Monitor(M::StartMigration),
        true,
    ),
    bind(
        K::Migration,
        "x",
        "cancel migration",
        A::Monitor(M::CancelMigration),
        true,
    ),
    bind(K::Media, "r", "refresh", A::Refresh, true),
    bind(
        K::Media,
        "Tab/S-Tab",
        "next/previous tab",
        A::FocusNext,
        true,
    ),
    bind(
        K::Media,
        "m n d M",
        "media, network, devices, migration",
        A::Monitor(M::OpenMedia),
        false,
    ),
    bind(K::Media, ":", "console", A::Monitor(M::OpenConsole), false),
    bind(K::Media, "Esc", "back", A::Cancel, true),
    bind(K::Media, "!", "message history", A::Messages, false),
    bind(K::Media, "?", "help", A::Help, true),
    bind(K::Media, "q/C-c", "quit dashboard", A::QuitDashboard, false),
    bind(K::Network, "r", "refresh", A::Refresh, true),
    bind(
        K::Network,
        "Tab/S-Tab",
        "next/previous tab",
        A::FocusNext,
        true,
    ),
    bind(
        K::Network,
        "m n d M",
        "media, network, devices, migration",
        A::Monitor(M::OpenMedia),
        false,
    ),
    bind(
        K::Network,
        ":",
        "console",
        A::Monitor(M::OpenConsole),
        false,
    ),
    bind(K::Network, "Esc", "back", A::Cancel, true),
    bind(K::Network, "!", "message history", A::Messages, false),
    bind(K::Network, "?", "help", A::Help, true),
    bind(
        K::Network,
        "q/C-c",
        "quit dashboard",
        A::QuitDashboard,
        false,
    ),
    bind(K::Hotplug, "r", "refresh", A::Refresh, true),
    bind(
        K::Hotplug,
        "Tab/S-Tab",
        "next/previous tab",
        A::FocusNext,
        true,
    ),
    bind(
        K::Hotplug,
        "m n d M",
        "media, network, devices, migration",
        A::Monitor(M::OpenMedia),
        false,
    ),
    bind(
        K::Hotplug,
        ":",
        "console",
        A::Monitor(M::OpenConsole),
        false,
    ),
    bind(K::Hotplug, "Esc", "back", A::Cancel, true),
    bind(K::Hotplug, "!", "message history", A::Messages, false),
    bind(K::Hotplug, "?", "help", A::Help, true),
    bind(
        K::Hotplug,
        "q/C-c",
        "quit dashboard",
        A::QuitDashboard,
        false,
    ),
    bind(K::Migration, "r", "refresh", A::Refresh, true),
    bind(
        K::Migration,
        "Tab/S-Tab",
        "next/previous tab",
        A::FocusNext,
        true,
    ),
    bind(
        K::Migration,
        "m n d M",
        "media, network, devices, migration",
        A::Monitor(M::OpenMedia),
        false,
    ),
    bind(
        K::Migration,
        ":",
        "console",
        A::Monitor(M::OpenConsole),
        false,
    ),
    bind(K::Migration, "Esc", "back", A::Cancel, true),
    bind(K::Migration, "!", "message history", A::Messages, false),
    bind(K::Migration, "?", "help", A::Help, true),
    bind(
        K::Migration,
        "q/C-c",
        "quit dashboard",
        A::QuitDashboard,
        false,
    ),
    bind(K::Messages, "↑/↓ PgUp/PgDn", "scroll", A::Up, true),
    bind(K::Messages, "!/Esc/q", "close", A::Cancel, true),
    bind(K::Form, "Enter", "ok", A::Submit, true),
    bind(
        K::Form,
        "Tab",
        "next choice",
        A::Monitor(M::NextChoice),
        true,
    ),
    bind(K::Form, "Esc", "cancel", A::Cancel, true),
    bind(
        K::Form,
        "←/→ Home/End",
        "move the cursor",
        A::Monitor(M::Left),
        false,
    ),
];

/// The keys every list shares: PgUp/PgDn a page, Home/g the first row, End/G the last. One
/// place, so that each list context takes the same keys (and a key table can take them as
/// rows).
pub fn list_movement(code: KeyCode) -> Option<Action> {
    match code {
        KeyCode::PageUp => Some(A::PageUp),
        KeyCode::PageDown => Some(A::PageDown),
        KeyCode::Home | KeyCode::Char('g') => Some(A::First),
        KeyCode::End | KeyCode::Char('G') => Some(A::Last),
        _ => None,
    }
}

/// The main dashboard's default action for a key.
fn main_default_action(code: KeyCode) -> Option<Action> {
    match code {
        KeyCode::Char('p') | KeyCode::Char(' ') => Some(A::TogglePause),
        KeyCode::Char('r') => Some(A::Reset),
        KeyCode::Char('P') => Some(A::PowerDown),
        KeyCode::Char('Q') => Some(A::QuitVm),
        KeyCode::Char('s') => Some(A::Snapshots),
        KeyCode::Char(':') => Some(A::Monitor(M::OpenConsole)),
        KeyCode::Char('m') => Some(A::Monitor(M::OpenMedia)),
        KeyCode::Char('n') => Some(A::Monitor(M::OpenNetwork)),
        KeyCode::Char('d') => Some(A::Monitor(M::OpenDevices)),
        KeyCode::Char('M') => Some(A::Monitor(M::OpenMigration)),
        KeyCode::Tab => Some(A::FocusNext),
        KeyCode::BackTab => Some(A::FocusPrevious),
        KeyCode::Up | KeyCode::Char('k') => Some(A::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(A::Down),
        KeyCode::Char('+') | KeyCode::Char('=') => Some(A::Faster),
        KeyCode::Char('-') => Some(A::Slower),
        KeyCode::Char('?') => Some(A::Help),
        KeyCode::Char('!') => Some(A::Messages),
        KeyCode::Char('q') => Some(A::QuitDashboard),
        KeyCode::Esc => Some(A::Cancel),
        _ => None,
    }
}

/// The main dashboard's default action for a character key.
pub fn main_char_action(c: char) -> Option<Action> {
    main_default_action(KeyCode::Char(c))
}

/// The keys shown for a binding: the config's key where it moved the action.
pub fn keys_label(binding: &Binding) -> std::borrow::Cow<'static, str> {
    match rebind::installed().key_of(binding.action) {
        Some(c) if binding.context == KeyContext::Main => c.to_string().into(),
        _ => binding.keys.into(),
    }
}

/// The action for a key press in a context, if any.
pub fn action_for(context: KeyContext, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(A::QuitDashboard);
    }
    // F2 opens the message history wherever letters are typed as text.
    if key.code == KeyCode::F(2) && !matches!(context, K::Confirm | K::Help) {
        return Some(A::Messages);
    }
    match context {
        K::Main => {
            if let KeyCode::Char(c) = key.code {
                match rebind::installed().resolve(c, main_char_action(c)) {
                    rebind::Resolution::Moved(action) => return Some(action),
                    rebind::Resolution::Disabled => return None,
                    rebind::Resolution::Default => {}
                }
            }
            main_default_action(key.code).or_else(|| list_movement(key.code))
        }
        K::Fleet => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(A::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(A::Down),
            KeyCode::Enter => Some(A::Open),
            KeyCode::Char(' ') => Some(A::Mark),
            KeyCode::Char('p') => Some(A::TogglePause),
            KeyCode::Char(digit @ '1'..='8') => Some(A::Sort(digit as u8 - b'1')),
            KeyCode::Char('/') => Some(A::Filter),
            KeyCode::Char('!') => Some(A::Messages),
            KeyCode::Esc => Some(A::Cancel),
            KeyCode::Char('+') | KeyCode::Char('=') => Some(A::Faster),
            KeyCode::Char('-') => Some(A::Slower),
            KeyCode::Char('?') => Some(A::Help),
            KeyCode::Char('q') => Some(A::QuitDashboard),
            code => list_movement(code),
        },
        K::Snapshots => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(A::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(A::Down),
            KeyCode::Char('c') => Some(A::SnapshotCreate),
            KeyCode::Enter | KeyCode::Char('l') => Some(A::SnapshotLoad),
            KeyCode::Char('d') => Some(A::SnapshotDelete),
            KeyCode::Char('n') => Some(A::SortByName),
            KeyCode::Char('t') => Some(A::SortByDate),
            KeyCode::Char('r') => Some(A::Refresh),
            KeyCode::Esc => Some(A::Cancel),
            KeyCode::Char('?') => Some(A::Help),
            KeyCode::Char('!') => Some(A::Messages),
            KeyCode::Char('q') => Some(A::QuitDashboard),
            code => list_movement(code),
        },
        K::Messages => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(A::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(A::Down),
            KeyCode::PageUp => Some(A::PageUp),
            KeyCode::PageDown => Some(A::PageDown),
            KeyCode::Char('!') | KeyCode::Esc | KeyCode::Char('q') => Some(A::Cancel),
            _ => None,
        },
        K::Input => match key.code {
            KeyCode::Enter => Some(A::Submit),
            KeyCode::Esc => Some(A::Cancel),
            KeyCode::Backspace => Some(A::Backspace),
            KeyCode::Char(c) if !ctrl => Some(A::Char(c)),
            _ => None,
        },
        K::Confirm => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(A::Confirm),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(A::Cancel),
            _ => None,
        },
        K::Help => match key.code {
            KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q') => Some(A::Cancel),
            KeyCode::F(1) => Some(A::Cancel),
            _ => None,
        },
        K::Console | K::Form | K::Media | K::Network | K::Hotplug | K::Migration => {
            monitor::action_for(context, key, ctrl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn main_keys() {
        assert_eq!(
            action_for(K::Main, key(KeyCode::Char('p'))),
            Some(A::TogglePause)
        );
        assert_eq!(
            action_for(K::Main, key(KeyCode::Char(' '))),
            Some(A::TogglePause)
        );
        assert_eq!(
            action_for(K::Main, key(KeyCode::Char('P'))),
            Some(A::PowerDown)
        );
        assert_eq!(
            action_for(K::Main, key(KeyCode::Char('q'))),
            Some(A::QuitDashboard)
        );
        assert_eq!(action_for(K::Main, key(KeyCode::Char('x'))), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(K::Confirm, ctrl_c), Some(A::QuitDashboard));
    }

    #[test]
    fn fleet_and_input_keys() {
        assert_eq!(
            action_for(K::Fleet, key(KeyCode::Char('3'))),
            Some(A::Sort(2))
        );
        assert_eq!(action_for(K::Fleet, key(KeyCode::Enter)), Some(A::Open));
        assert_eq!(
            action_for(K::Input, key(KeyCode::Char('q'))),
            Some(A::Char('q'))
        );
        assert_eq!(action_for(K::Input, key(KeyCode::Enter)), Some(A::Submit));
    }

    #[test]
    fn confirm_only_takes_yes_or_no() {
        assert_eq!(
            action_for(K::Confirm, key(KeyCode::Char('y'))),
            Some(A::Confirm)
        );
        assert_eq!(action_for(K::Confirm, key(KeyCode::Esc)), Some(A::Cancel));
        assert_eq!(action_for(K::Confirm, key(KeyCode::Char('p'))), None);
        assert_eq!(action_for(K::Confirm, key(KeyCode::Char('q'))), None);
    }

    #[test]
    fn every_footer_context_has_bindings() {
        for context in [
            K::Main,
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
        ] {
            assert!(BINDINGS.iter().any(|b| b.context == context && b.in_footer));
        }
    }
}
