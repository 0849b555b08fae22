//! Keys of the monitor's screens: the console, the devices screen's tabs (media, network,
//! hot-plug, migration) and their prompts. The rows the footer and help show are in
//! [`super::BINDINGS`], next to every other key.

use super::{Action, KeyContext};
use crossterm::event::{KeyCode, KeyEvent};

/// A monitor action (one variant of [`Action`], so the key table stays one table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorKey {
    /// Open the monitor console.
    OpenConsole,
    /// Open the removable media tab.
    OpenMedia,
    /// Open the network tab.
    OpenNetwork,
    /// Open the hot-plug (devices) tab.
    OpenDevices,
    /// Open the migration tab.
    OpenMigration,
    /// Eject the selected medium.
    Eject,
    /// Eject even from a tray the guest locked (asks first).
    ForceEject,
    /// Insert a new medium (prompts for the image).
    ChangeMedium,
    /// Add a host forward or a device (prompts).
    Add,
    /// Remove the selected host forward or device.
    Remove,
    /// Start a migration (prompts for the URI, then asks).
    StartMigration,
    /// Cancel the running migration.
    CancelMigration,
    /// Switch the console between HMP and QMP.
    ToggleMode,
    /// The next choice in a prompt (format, netdev).
    NextChoice,
    /// Scroll the console output up a page.
    PageUp,
    /// Scroll the console output down a page.
    PageDown,
    /// Move the cursor left.
    Left,
    /// Move the cursor right.
    Right,
    /// Move the cursor to the start.
    Home,
    /// Move the cursor to the end.
    End,
    /// Delete the character under the cursor.
    Delete,
    /// Clear the line.
    ClearLine,
}

use MonitorKey as M;

fn edit_key(key: KeyEvent, ctrl: bool) -> Option<Action> {
    Some(match key.code {
        KeyCode::Enter => Action::Submit,
        KeyCode::Esc => Action::Cancel,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Left => Action::Monitor(M::Left),
        KeyCode::Right => Action::Monitor(M::Right),
        KeyCode::Home => Action::Monitor(M::Home),
        KeyCode::End => Action::Monitor(M::End),
        KeyCode::Delete => Action::Monitor(M::Delete),
        KeyCode::Char('a') if ctrl => Action::Monitor(M::Home),
        KeyCode::Char('e') if ctrl => Action::Monitor(M::End),
        KeyCode::Char('u') if ctrl => Action::Monitor(M::ClearLine),
        KeyCode::Char(c) if !ctrl => Action::Char(c),
        _ => return None,
    })
}

/// The action for a key in one of the monitor's contexts.
pub fn action_for(context: KeyContext, key: KeyEvent, ctrl: bool) -> Option<Action> {
    match context {
        KeyContext::Console => match key.code {
            KeyCode::Tab | KeyCode::BackTab => Some(Action::Monitor(M::ToggleMode)),
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down => Some(Action::Down),
            KeyCode::PageUp => Some(Action::Monitor(M::PageUp)),
            KeyCode::PageDown => Some(Action::Monitor(M::PageDown)),
            KeyCode::F(1) => Some(Action::Help),
            _ => edit_key(key, ctrl),
        },
        KeyContext::Form => match key.code {
            KeyCode::Tab | KeyCode::BackTab => Some(Action::Monitor(M::NextChoice)),
            _ => edit_key(key, ctrl),
        },
        KeyContext::Media | KeyContext::Network | KeyContext::Hotplug | KeyContext::Migration => {
            let common = match key.code {
                KeyCode::Tab => Some(Action::FocusNext),
                KeyCode::BackTab => Some(Action::FocusPrevious),
                KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
                KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
                KeyCode::Char('m') => Some(Action::Monitor(M::OpenMedia)),
                KeyCode::Char('n') => Some(Action::Monitor(M::OpenNetwork)),
                KeyCode::Char('d') => Some(Action::Monitor(M::OpenDevices)),
                KeyCode::Char('M') => Some(Action::Monitor(M::OpenMigration)),
                KeyCode::Char(':') => Some(Action::Monitor(M::OpenConsole)),
                KeyCode::Char('r') => Some(Action::Refresh),
                KeyCode::Esc => Some(Action::Cancel),
                KeyCode::Char('?') => Some(Action::Help),
                KeyCode::Char('!') => Some(Action::Messages),
                KeyCode::Char('q') => Some(Action::QuitDashboard),
                code => super::list_movement(code),
            };
            common.or_else(|| {
                let key = match (context, key.code) {
                    (KeyContext::Media, KeyCode::Char('c') | KeyCode::Enter) => M::ChangeMedium,
                    (KeyContext::Media, KeyCode::Char('e')) => M::Eject,
                    (KeyContext::Media, KeyCode::Char('E')) => M::ForceEject,
                    (
                        KeyContext::Network | KeyContext::Hotplug,
                        KeyCode::Char('a') | KeyCode::Insert,
                    ) => M::Add,
                    (
                        KeyContext::Network | KeyContext::Hotplug,
                        KeyCode::Char('x') | KeyCode::Delete,
                    ) => M::Remove,
                    (KeyContext::Migration, KeyCode::Char('s')) => M::StartMigration,
                    (KeyContext::Migration, KeyCode::Char('x')) => M::CancelMigration,
                    _ => return None,
                };
                Some(Action::Monitor(key))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::action_for as table;
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn console_types_every_letter() {
        for c in ['q', '?', 'p', 'r', ':'] {
            assert_eq!(
                table(KeyContext::Console, key(KeyCode::Char(c))),
                Some(Action::Char(c))
            );
        }
        assert_eq!(
            table(KeyContext::Console, key(KeyCode::Tab)),
            Some(Action::Monitor(M::ToggleMode))
        );
        assert_eq!(
            table(KeyContext::Console, key(KeyCode::Up)),
            Some(Action::Up)
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            table(KeyContext::Console, ctrl_c),
            Some(Action::QuitDashboard)
        );
    }

    #[test]
    fn tabs_have_their_own_actions() {
        let e = key(KeyCode::Char('e'));
        assert_eq!(table(KeyContext::Media, e), Some(Action::Monitor(M::Eject)));
        assert_eq!(table(KeyContext::Network, e), None);
        let x = key(KeyCode::Char('x'));
        assert_eq!(
            table(KeyContext::Network, x),
            Some(Action::Monitor(M::Remove))
        );
        assert_eq!(
            table(KeyContext::Migration, x),
            Some(Action::Monitor(M::CancelMigration))
        );
        assert_eq!(
            table(KeyContext::Hotplug, key(KeyCode::Char('M'))),
            Some(Action::Monitor(M::OpenMigration))
        );
        assert_eq!(
            table(KeyContext::Main, key(KeyCode::Char(':'))),
            Some(Action::Monitor(M::OpenConsole))
        );
    }
}
