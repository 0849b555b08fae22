//! What the screen says about keys, drawn from the key table's rows with the config's moves
//! applied: the footer's hints, the help overlay's lines, the keys of one action (for
//! prompts and questions) and what `q` does on a screen.

use super::{Action, KeyContext, KeyPattern, Keymap, Row, Show};

/// The widest a row's keys may be as the help shows them, in columns.
pub const HELP_KEYS_WIDTH: usize = 16;
/// The widest a row's help label may be, in columns: the help shows one row a line, and on
/// the smallest screen (`ui::MIN_SIZE`) the key column and the borders leave this much.
pub const HELP_LABEL_WIDTH: usize = 40;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl Keymap {
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

    /// The footer's rows of `context` (keys as shown, short label), most important first;
    /// a row whose keys the config moved away entirely is left out.
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(keymap.what_q_does(KeyContext::Help), "close the help");
        assert_eq!(
            keymap.what_q_does(KeyContext::Console),
            "types the letter q"
        );
        assert!(
            keymap
                .what_q_does(KeyContext::Vm)
                .contains("VMs keep running")
        );
    }
}
