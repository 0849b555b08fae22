//! The one place styles come from: a [`Theme`] value, built once from the config file's
//! choice and `NO_COLOR` and passed down to every panel (no process-wide switch). Colours
//! carry meaning (running green, paused yellow, shutdown and errors red), and the word is
//! always written too.

use crate::config::ThemeName;
use crate::news::EventKind;
use ratatui::style::{Color, Modifier, Style};

/// The styles of one screen: with colours, or monochrome (bold, reverse and dim only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Theme {
    monochrome: bool,
}

/// True when the `NO_COLOR` environment variable is set and not empty (no-color.org).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

impl Theme {
    /// The colour theme.
    pub const COLOUR: Theme = Theme { monochrome: false };
    /// The theme without colours.
    pub const MONO: Theme = Theme { monochrome: true };

    /// The theme `choice` names, without colours when `no_color` (`NO_COLOR` is set).
    pub fn new(choice: ThemeName, no_color: bool) -> Theme {
        Theme {
            monochrome: no_color || choice == ThemeName::Mono,
        }
    }

    /// `style` with its colours removed when this theme is monochrome.
    fn paint(&self, style: Style) -> Style {
        if self.monochrome {
            Style {
                fg: None,
                bg: None,
                ..style
            }
        } else {
            style
        }
    }

    /// Title of a panel.
    pub fn title(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::BOLD))
    }

    /// Border of the focused panel (bold, so that it shows without colours too).
    pub fn focused_border(&self) -> Style {
        self.paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }

    /// Border of other panels.
    pub fn border(&self) -> Style {
        self.paint(Style::new().fg(Color::DarkGray))
    }

    /// Column headers.
    pub fn header_row(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
    }

    /// The selected row.
    pub fn selected(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::REVERSED))
    }

    /// Data that is stale (the connection is gone).
    pub fn stale(&self) -> Style {
        self.paint(Style::new().add_modifier(Modifier::DIM))
    }

    /// Secondary text.
    pub fn muted(&self) -> Style {
        self.paint(Style::new().fg(Color::DarkGray))
    }

    /// An error message.
    pub fn error(&self) -> Style {
        self.paint(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
    }

    /// Something wrong but not (yet) an error: a QEMU that does not answer.
    pub fn warning(&self) -> Style {
        self.paint(
            Style::new()
                .fg(Color::LightYellow)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    /// A success or info message.
    pub fn info(&self) -> Style {
        self.paint(Style::new().fg(Color::Green))
    }

    /// Key names in the footer and help.
    pub fn key(&self) -> Style {
        self.paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
    }

    /// A run state, by its QEMU name (or the dashboard's own words: "not answering").
    pub fn run_state(&self, status: &str) -> Style {
        if status == crate::app::NOT_ANSWERING {
            return self.warning();
        }
        let color = match status {
            "running" => Color::Green,
            "paused" | "suspended" | "prelaunch" | "inmigrate" | "postmigrate"
            | "finish-migrate" | "save-vm" | "restore-vm" | "debug" | "colo" => Color::Yellow,
            _ => Color::Red,
        };
        self.paint(Style::new().fg(color).add_modifier(Modifier::BOLD))
    }

    /// An event log line, by kind.
    pub fn event(&self, kind: EventKind) -> Style {
        self.paint(match kind {
            EventKind::Lifecycle => Style::new().fg(Color::Yellow),
            EventKind::Shutdown | EventKind::Error => Style::new().fg(Color::Red),
            EventKind::Job | EventKind::Migration => Style::new().fg(Color::Magenta),
            EventKind::Device => Style::new().fg(Color::LightBlue),
            EventKind::Other => Style::new(),
        })
    }

    /// Read-rate series.
    pub fn read_series(&self) -> Style {
        self.paint(Style::new().fg(Color::Green))
    }

    /// Write-rate series.
    pub fn write_series(&self) -> Style {
        self.paint(Style::new().fg(Color::Magenta))
    }

    /// CPU series.
    pub fn cpu_series(&self) -> Style {
        self.paint(Style::new().fg(Color::Cyan))
    }

    /// A migration status, by QEMU's word: completed green, failed red, cancelled yellow,
    /// running magenta (like migration events).
    pub fn migration_status(&self, status: &str) -> Style {
        let color = match status {
            "completed" => Color::Green,
            "failed" => Color::Red,
            "cancelled" | "cancelling" | "none" => Color::Yellow,
            _ => Color::Magenta,
        };
        self.paint(Style::new().fg(color).add_modifier(Modifier::BOLD))
    }

    /// The migration progress gauge.
    pub fn migration_gauge(&self) -> Style {
        self.paint(Style::new().fg(Color::Magenta))
    }
}

/// The mark drawn before a state word: ⚠ for a QEMU that does not answer, ■ for a VM that
/// ended, ○ without a connection, else ● (QEMU's run states). The same in every theme.
pub fn state_mark(state: &str) -> &'static str {
    match state {
        crate::app::NOT_ANSWERING => "⚠",
        "shut down" | "quit" | "exited" => "■",
        "disconnected" | "connecting" | "removed" => "○",
        _ => "●",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_keeps_the_emphasis_and_drops_the_colours() {
        let mono = Theme::new(ThemeName::Default, true);
        assert_eq!(mono, Theme::MONO);
        assert_eq!(Theme::new(ThemeName::Mono, false), Theme::MONO);
        assert_eq!(Theme::new(ThemeName::Default, false), Theme::COLOUR);
        let border = mono.focused_border();
        assert_eq!((border.fg, border.bg), (None, None));
        assert!(border.add_modifier.contains(Modifier::BOLD));
        assert_eq!(mono.run_state("running").fg, None);
        assert_eq!(Theme::COLOUR.run_state("running").fg, Some(Color::Green));
    }
}
