//! The help overlay's content and its scroll: the key rows of the screen under it (from the
//! key table), then what `q` does there and the notes; one line each, so that the overlay
//! draws them as they are and a small terminal scrolls through them ([`Model::act_help`]).

use super::Model;
use super::keymap::Action;
use super::lists::{Movement, moved};

/// One line of the help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    /// A key row: the keys as shown and what they do.
    Key {
        /// The keys ("PgUp/PgDn").
        keys: String,
        /// What they do.
        label: &'static str,
    },
    /// An empty line between the rows and the notes.
    Blank,
    /// A sentence below the rows.
    Note(String),
}

impl Model {
    /// The help's lines for the screen under the overlays.
    pub fn help_lines(&self) -> Vec<HelpLine> {
        let context = self.base_context();
        let mut lines: Vec<HelpLine> = self
            .keys
            .help(context)
            .into_iter()
            .map(|(keys, label)| HelpLine::Key { keys, label })
            .collect();
        lines.extend([
            HelpLine::Blank,
            HelpLine::Note(format!("q here: {}.", self.keys.what_q_does(context))),
            HelpLine::Note("Reset, power down and quit VM ask first.".into()),
            HelpLine::Note("Esc goes back one level.".into()),
        ]);
        lines
    }

    /// A key while the help is open: `?`/Esc close it, the list keys scroll it (by the rows
    /// it shows, [`Model::page_rows`]), and the last line never leaves the bottom row.
    pub(super) fn act_help(&mut self, action: Action) {
        if matches!(action, Action::Cancel | Action::Help) {
            self.help = false;
            self.help_scroll = 0;
            return;
        }
        let Some(movement) = Movement::of(action) else {
            return;
        };
        let rows = self.page_rows.max(1);
        let tops = self.help_lines().len().saturating_sub(rows) + 1;
        let movement = match movement {
            // One line at a time: the help has no selected row, only its top.
            Movement::Up => Movement::By(-1),
            Movement::Down => Movement::By(1),
            other => other,
        };
        self.help_scroll = moved(self.help_scroll, tops, movement, rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_help_scrolls_by_its_rows_and_stops_at_the_end() {
        let now = Instant::now();
        let mut model = Model::new(vec!["unix:/x".into()], Duration::from_secs(1), false);
        model.act(Action::Help, now);
        model.page_rows = 5;
        let len = model.help_lines().len();
        assert!(len > 10, "{len}");
        model.act(Action::PageDown, now);
        assert_eq!(model.help_scroll, 5);
        model.act(Action::Up, now);
        assert_eq!(model.help_scroll, 4);
        model.act(Action::Last, now);
        assert_eq!(model.help_scroll, len - 5);
        model.act(Action::Down, now);
        assert_eq!(
            model.help_scroll,
            len - 5,
            "the last line stays at the bottom"
        );
        model.act(Action::First, now);
        assert_eq!(model.help_scroll, 0);
        model.act(Action::Cancel, now);
        assert!(!model.help);
    }
}
