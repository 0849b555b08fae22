//! The config's `[keys]` table: moves any row of the key table to other keys. A name at the
//! top (`pause = "x"`) moves that action on every screen; a table named after a screen
//! (`[keys.snapshots]`, `create = "a"`) moves it on that screen only. A key is one character
//! (`"x"`), a modified one (`"C-x"`, `"M-x"`), or a named key (`"F5"`, `"Esc"`, `"PgUp"`);
//! a list gives several. An action given new keys loses its defaults; a key that would do
//! two things on one screen is refused, naming both.

use super::{Action, KeyContext, KeyPattern, Keymap, MonitorKey, ROWS, Row};
use crate::app::input::Edit;
use crossterm::event::{KeyCode, KeyModifiers};
use std::collections::BTreeMap;

/// The config's names of the actions it may move.
pub const ACTION_NAMES: &[(&str, Action)] = &[
    ("quit", Action::QuitDashboard),
    ("pause", Action::TogglePause),
    ("reset", Action::Reset),
    ("power_down", Action::PowerDown),
    ("quit_vm", Action::QuitVm),
    ("yes", Action::Confirm),
    ("back", Action::Cancel),
    ("help", Action::Help),
    ("next", Action::FocusNext),
    ("previous", Action::FocusPrevious),
    ("up", Action::Up),
    ("down", Action::Down),
    ("page_up", Action::PageUp),
    ("page_down", Action::PageDown),
    ("first", Action::First),
    ("last", Action::Last),
    ("faster", Action::Faster),
    ("slower", Action::Slower),
    ("snapshots", Action::Snapshots),
    ("open", Action::Open),
    ("mark", Action::Mark),
    ("filter", Action::Filter),
    ("complete", Action::Complete),
    ("submit", Action::Submit),
    ("create", Action::SnapshotCreate),
    ("load", Action::SnapshotLoad),
    ("delete", Action::SnapshotDelete),
    ("sort_name", Action::SortByName),
    ("sort_date", Action::SortByDate),
    ("refresh", Action::Refresh),
    ("messages", Action::Messages),
    ("console", Action::Monitor(MonitorKey::OpenConsole)),
    ("media", Action::Monitor(MonitorKey::OpenMedia)),
    ("network", Action::Monitor(MonitorKey::OpenNetwork)),
    ("devices", Action::Monitor(MonitorKey::OpenDevices)),
    ("migration", Action::Monitor(MonitorKey::OpenMigration)),
    ("eject", Action::Monitor(MonitorKey::Eject)),
    ("force_eject", Action::Monitor(MonitorKey::ForceEject)),
    ("change_medium", Action::Monitor(MonitorKey::ChangeMedium)),
    ("add", Action::Monitor(MonitorKey::Add)),
    ("remove", Action::Monitor(MonitorKey::Remove)),
    (
        "start_migration",
        Action::Monitor(MonitorKey::StartMigration),
    ),
    (
        "cancel_migration",
        Action::Monitor(MonitorKey::CancelMigration),
    ),
    ("hmp_qmp", Action::Monitor(MonitorKey::ToggleMode)),
    ("next_choice", Action::Monitor(MonitorKey::NextChoice)),
    ("line_start", Action::Edit(Edit::Start)),
    ("line_end", Action::Edit(Edit::End)),
    ("char_left", Action::Edit(Edit::Left)),
    ("char_right", Action::Edit(Edit::Right)),
    ("word_left", Action::Edit(Edit::WordLeft)),
    ("word_right", Action::Edit(Edit::WordRight)),
    ("delete_back", Action::Edit(Edit::DeleteBack)),
    ("delete_forward", Action::Edit(Edit::DeleteForward)),
    ("delete_word_back", Action::Edit(Edit::DeleteWordBack)),
    ("delete_word_forward", Action::Edit(Edit::DeleteWordForward)),
    ("delete_to_start", Action::Edit(Edit::DeleteToStart)),
    ("delete_to_end", Action::Edit(Edit::DeleteToEnd)),
    ("yank", Action::Edit(Edit::Yank)),
];

/// Named keys: how the config writes them and how the screen shows them.
const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("S-Tab", KeyCode::BackTab),
    ("Bksp", KeyCode::Backspace),
    ("Del", KeyCode::Delete),
    ("Ins", KeyCode::Insert),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
    ("↑", KeyCode::Up),
    ("↓", KeyCode::Down),
    ("←", KeyCode::Left),
    ("→", KeyCode::Right),
];

/// Other spellings the config accepts.
const ALIASES: &[(&str, KeyCode)] = &[
    ("space", KeyCode::Char(' ')),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("BackTab", KeyCode::BackTab),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Escape", KeyCode::Esc),
    ("Return", KeyCode::Enter),
];

/// How a named key is shown.
pub fn code_name(code: KeyCode) -> Option<&'static str> {
    NAMED
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(name, _)| *name)
}

/// Why the `[keys]` table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyOverrideError {
    /// A name that is no action.
    #[error("unknown key action '{name}' (known: {known})")]
    UnknownAction {
        /// The name.
        name: String,
        /// The names known.
        known: String,
    },
    /// A table named after no screen.
    #[error("unknown screen '[keys.{name}]' (known: {known})")]
    UnknownScreen {
        /// The name.
        name: String,
        /// The screens known.
        known: String,
    },
    /// A key the config cannot mean.
    #[error("the key for '{action}' {why}")]
    BadKey {
        /// The action's name.
        action: String,
        /// What is wrong.
        why: String,
    },
    /// One key, two actions on one screen.
    #[error(
        "the key '{key}' already does {other} on the {screen} screen; move that action too, or pick another key"
    )]
    Clash {
        /// The key.
        key: String,
        /// What the key does by default there.
        other: &'static str,
        /// The screen.
        screen: &'static str,
    },
}

/// Moved keys of an action, on one screen or everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    context: Option<KeyContext>,
    action: Action,
    keys: Vec<KeyPattern>,
}

/// The keys of `row` in `context` once `moves` are applied.
pub fn keys_of(moves: &[Move], row: &Row, context: KeyContext) -> Vec<KeyPattern> {
    let moved = |on: Option<KeyContext>| {
        moves
            .iter()
            .find(|m| m.action == row.action && m.context == on)
    };
    match moved(Some(context)).or_else(|| moved(None)) {
        Some(m) => m.keys.clone(),
        None => row.keys.to_vec(),
    }
}

fn parse_key(action: &str, spec: &str) -> Result<KeyPattern, KeyOverrideError> {
    let bad = |why: String| KeyOverrideError::BadKey {
        action: action.to_string(),
        why,
    };
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = spec;
    loop {
        if let Some(after) = rest.strip_prefix("C-").filter(|a| !a.is_empty()) {
            modifiers |= KeyModifiers::CONTROL;
            rest = after;
        } else if let Some(after) = rest.strip_prefix("M-").filter(|a| !a.is_empty()) {
            modifiers |= KeyModifiers::ALT;
            rest = after;
        } else {
            break;
        }
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_control() => {
            return Err(bad("cannot be a control character".to_string()));
        }
        (Some(c), None) => KeyCode::Char(c),
        (None, _) => return Err(bad("is empty".to_string())),
        _ => {
            let named = NAMED
                .iter()
                .chain(ALIASES)
                .find(|(name, _)| name.eq_ignore_ascii_case(rest))
                .map(|(_, code)| *code);
            let function = rest
                .strip_prefix(['F', 'f'])
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| (1..=12).contains(n))
                .map(KeyCode::F);
            named.or(function).ok_or_else(|| {
                bad(format!(
                    "must be one character, C-x, M-x, F1-F12 or a named key (Enter, Esc, Tab, Del, Home, End, PgUp, PgDn, Up, Down, Left, Right, space), not '{spec}'"
                ))
            })?
        }
    };
    Ok(KeyPattern { code, modifiers })
}

fn parse_keys(action: &str, value: &toml::Value) -> Result<Vec<KeyPattern>, KeyOverrideError> {
    match value {
        toml::Value::String(spec) => Ok(vec![parse_key(action, spec)?]),
        toml::Value::Array(specs) if !specs.is_empty() => specs
            .iter()
            .map(|spec| match spec {
                toml::Value::String(spec) => parse_key(action, spec),
                other => Err(KeyOverrideError::BadKey {
                    action: action.to_string(),
                    why: format!("must be a string, not {other}"),
                }),
            })
            .collect(),
        other => Err(KeyOverrideError::BadKey {
            action: action.to_string(),
            why: format!("must be a key (\"x\") or a list of keys, not {other}"),
        }),
    }
}

fn action_named(name: &str) -> Result<Action, KeyOverrideError> {
    ACTION_NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, action)| *action)
        .ok_or_else(|| KeyOverrideError::UnknownAction {
            name: name.to_string(),
            known: ACTION_NAMES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl Keymap {
    /// Reads the config's `[keys]` table into a key map, or says what is wrong with it.
    pub fn parse(table: &BTreeMap<String, toml::Value>) -> Result<Keymap, KeyOverrideError> {
        let mut moves = Vec::new();
        for (name, value) in table {
            if let toml::Value::Table(screen) = value {
                let context = KeyContext::ALL
                    .into_iter()
                    .find(|c| c.name() == name)
                    .ok_or_else(|| KeyOverrideError::UnknownScreen {
                        name: name.clone(),
                        known: KeyContext::ALL.map(KeyContext::name).join(", "),
                    })?;
                for (action_name, keys) in screen {
                    moves.push(Move {
                        context: Some(context),
                        action: action_named(action_name)?,
                        keys: parse_keys(action_name, keys)?,
                    });
                }
            } else {
                moves.push(Move {
                    context: None,
                    action: action_named(name)?,
                    keys: parse_keys(name, value)?,
                });
            }
        }
        let keymap = Keymap { moves };
        keymap.check()?;
        Ok(keymap)
    }

    /// Refuses a key that would do two things on one screen.
    fn check(&self) -> Result<(), KeyOverrideError> {
        for context in KeyContext::ALL {
            let rows: Vec<(&Row, Vec<KeyPattern>)> = ROWS
                .iter()
                .filter(|row| row.applies_in(context))
                .map(|row| (row, self.keys_of(row, context)))
                .collect();
            for (at, (row, keys)) in rows.iter().enumerate() {
                for (other, other_keys) in &rows[at + 1..] {
                    if other.action == row.action {
                        continue;
                    }
                    if let Some(key) = keys.iter().find(|k| other_keys.contains(k)) {
                        let moved = |r: &Row| self.moves.iter().any(|m| m.action == r.action);
                        let kept = if moved(row) && !moved(other) {
                            other
                        } else {
                            row
                        };
                        return Err(KeyOverrideError::Clash {
                            key: key.label(),
                            other: kept.label,
                            screen: context.name(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;

    #[test]
    fn the_default_table_has_no_clash() {
        Keymap::default().check().unwrap();
    }

    fn parse(text: &str) -> Result<Keymap, KeyOverrideError> {
        let table: BTreeMap<String, toml::Value> = toml::from_str(text).unwrap();
        Keymap::parse(&table)
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::from(KeyCode::Char(c))
    }

    #[test]
    fn a_moved_action_answers_its_new_keys_only() {
        let keymap = parse("pause = \"x\"").unwrap();
        assert_eq!(
            keymap.action_for(KeyContext::Vm, key('x')),
            Some(Action::TogglePause)
        );
        assert_eq!(keymap.action_for(KeyContext::Vm, key('p')), None);
        assert_eq!(keymap.action_for(KeyContext::Vm, key(' ')), None);
        assert_eq!(
            keymap.action_for(KeyContext::Vm, key('r')),
            Some(Action::Reset)
        );
    }

    #[test]
    fn a_screen_table_moves_keys_on_that_screen_only() {
        let keymap = parse("[keys.snapshots]\ncreate = [\"a\", \"C-n\"]\n").unwrap_err();
        assert!(
            matches!(keymap, KeyOverrideError::UnknownScreen { .. }),
            "{keymap}"
        );
        let keymap = parse("[snapshots]\ncreate = [\"a\", \"C-n\"]\nback = \"b\"\n").unwrap();
        assert_eq!(
            keymap.action_for(KeyContext::Snapshots, key('a')),
            Some(Action::SnapshotCreate)
        );
        let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(
            keymap.action_for(KeyContext::Snapshots, ctrl_n),
            Some(Action::SnapshotCreate)
        );
        assert_eq!(keymap.action_for(KeyContext::Snapshots, key('c')), None);
        assert_eq!(
            keymap.action_for(KeyContext::Snapshots, key('b')),
            Some(Action::Cancel)
        );
        assert_eq!(
            keymap.action_for(KeyContext::Console, KeyEvent::from(KeyCode::Esc)),
            Some(Action::Cancel)
        );
        let footer = keymap.footer(KeyContext::Snapshots);
        assert!(
            footer.contains(&("a/C-n".to_string(), "create")),
            "{footer:?}"
        );
    }

    #[test]
    fn swaps_work_and_clashes_are_refused() {
        let swapped = parse("pause = \"r\"\nreset = \"p\"\n").unwrap();
        assert_eq!(
            swapped.action_for(KeyContext::Vm, key('p')),
            Some(Action::Reset)
        );
        let clash = parse("pause = \"r\"").unwrap_err().to_string();
        assert!(clash.contains("the key 'r' already does reset"), "{clash}");
        let unknown = parse("explode = \"x\"").unwrap_err().to_string();
        assert!(
            unknown.contains("unknown key action 'explode'"),
            "{unknown}"
        );
        let long = parse("pause = \"xy\"").unwrap_err().to_string();
        assert!(long.contains("must be one character"), "{long}");
        let twice = parse("pause = \"x\"\nreset = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(twice.contains("the key 'x' already does"), "{twice}");
        let named = parse("[console]\nhmp_qmp = \"F5\"\n").unwrap();
        assert_eq!(
            named.action_for(KeyContext::Console, KeyEvent::from(KeyCode::F(5))),
            Some(Action::Monitor(MonitorKey::ToggleMode))
        );
    }
}
