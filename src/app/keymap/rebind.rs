//! Key bindings from the config file: the main dashboard's single-key actions can be moved to
//! other keys (`[keys] pause = "x"`). An action given a new key loses its default keys; a key
//! already taken by an action that keeps its default is refused with a clear error.

use super::{Action, MonitorKey};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The actions the config file may move, by the name it uses for them.
pub const REBINDABLE: &[(&str, Action)] = &[
    ("pause", Action::TogglePause),
    ("reset", Action::Reset),
    ("power_down", Action::PowerDown),
    ("quit_vm", Action::QuitVm),
    ("snapshots", Action::Snapshots),
    ("console", Action::Monitor(MonitorKey::OpenConsole)),
    ("help", Action::Help),
    ("quit", Action::QuitDashboard),
];

/// The moved keys: each new key and its action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyOverrides {
    moved: Vec<(char, Action)>,
}

static OVERRIDES: OnceLock<KeyOverrides> = OnceLock::new();

/// What a key press means once the overrides are taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A moved key: this action.
    Moved(Action),
    /// A default key of an action that was moved elsewhere: nothing.
    Disabled,
    /// Not affected: use the default table.
    Default,
}

impl KeyOverrides {
    /// Checks the config's `[keys]` table. `default_action` tells what a key does by default.
    pub fn parse(
        keys: &BTreeMap<String, String>,
        default_action: impl Fn(char) -> Option<Action>,
    ) -> Result<KeyOverrides, String> {
        let mut moved: Vec<(char, Action)> = Vec::new();
        for (name, key) in keys {
            let action = REBINDABLE
                .iter()
                .find(|(known, _)| known == name)
                .map(|(_, action)| *action)
                .ok_or_else(|| {
                    let known: Vec<&str> = REBINDABLE.iter().map(|(n, _)| *n).collect();
                    format!("unknown key action '{name}' (known: {})", known.join(", "))
                })?;
            let mut chars = key.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(format!(
                    "the key for '{name}' must be one character, not '{key}'"
                ));
            };
            if c.is_control() {
                return Err(format!(
                    "the key for '{name}' cannot be a control character"
                ));
            }
            if moved.iter().any(|(taken, _)| *taken == c) {
                return Err(format!("the key '{c}' is given to two actions"));
            }
            moved.push((c, action));
        }
        let overrides = KeyOverrides { moved };
        for &(c, action) in &overrides.moved {
            if let Some(other) = default_action(c)
                && other != action
                && !overrides.is_moved(other)
            {
                return Err(format!(
                    "the key '{c}' already does {other:?}; move that action too, or pick another key"
                ));
            }
        }
        Ok(overrides)
    }

    fn is_moved(&self, action: Action) -> bool {
        self.moved.iter().any(|(_, a)| *a == action)
    }

    /// The new key of `action`, if it was moved.
    pub fn key_of(&self, action: Action) -> Option<char> {
        self.moved
            .iter()
            .find(|(_, a)| *a == action)
            .map(|(c, _)| *c)
    }

    /// What pressing `c` on the main dashboard means.
    pub fn resolve(&self, c: char, default_action: Option<Action>) -> Resolution {
        if let Some((_, action)) = self.moved.iter().find(|(key, _)| *key == c) {
            return Resolution::Moved(*action);
        }
        match default_action {
            Some(action) if self.is_moved(action) => Resolution::Disabled,
            _ => Resolution::Default,
        }
    }
}

/// Installs the overrides for this process (once, at start-up).
pub fn install(overrides: KeyOverrides) {
    let _ = OVERRIDES.set(overrides);
}

/// The installed overrides (none unless [`install`] was called).
pub fn installed() -> &'static KeyOverrides {
    static NONE: KeyOverrides = KeyOverrides { moved: Vec::new() };
    OVERRIDES.get().unwrap_or(&NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(c: char) -> Option<Action> {
        match c {
            'p' | ' ' => Some(Action::TogglePause),
            'r' => Some(Action::Reset),
            'x' => None,
            _ => None,
        }
    }

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_moved_action_answers_its_new_key_only() {
        let overrides = KeyOverrides::parse(&keys(&[("pause", "x")]), defaults).unwrap();
        assert_eq!(
            overrides.resolve('x', defaults('x')),
            Resolution::Moved(Action::TogglePause)
        );
        assert_eq!(overrides.resolve('p', defaults('p')), Resolution::Disabled);
        assert_eq!(overrides.resolve('r', defaults('r')), Resolution::Default);
        assert_eq!(overrides.key_of(Action::TogglePause), Some('x'));
    }

    #[test]
    fn swaps_work_and_clashes_are_refused() {
        let swapped =
            KeyOverrides::parse(&keys(&[("pause", "r"), ("reset", "p")]), defaults).unwrap();
        assert_eq!(
            swapped.resolve('p', defaults('p')),
            Resolution::Moved(Action::Reset)
        );
        let clash = KeyOverrides::parse(&keys(&[("pause", "r")]), defaults).unwrap_err();
        assert!(clash.contains("already does Reset"), "{clash}");
        let unknown = KeyOverrides::parse(&keys(&[("explode", "x")]), defaults).unwrap_err();
        assert!(
            unknown.contains("unknown key action 'explode'"),
            "{unknown}"
        );
        let long = KeyOverrides::parse(&keys(&[("pause", "xy")]), defaults).unwrap_err();
        assert!(long.contains("one character"), "{long}");
        let twice =
            KeyOverrides::parse(&keys(&[("pause", "x"), ("reset", "x")]), defaults).unwrap_err();
        assert!(twice.contains("given to two actions"), "{twice}");
    }
}
