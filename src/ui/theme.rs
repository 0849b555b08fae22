//! The one place styles come from. Colours carry meaning (running green, paused yellow,
//! shutdown and errors red), and the word is always written too.

use crate::news::EventKind;
use ratatui::style::{Color, Modifier, Style};
use std::sync::atomic::{AtomicBool, Ordering};

static MONOCHROME: AtomicBool = AtomicBool::new(false);

/// Draws without colours (bold, reverse and dim only): the `mono` theme, or `NO_COLOR` set.
pub fn set_monochrome(on: bool) {
    MONOCHROME.store(on, Ordering::Relaxed);
}

/// The theme names the config file accepts.
pub const THEMES: &[&str] = &["default", "mono"];

/// `style` with its colours removed when the monochrome theme is on.
fn paint(style: Style) -> Style {
    if MONOCHROME.load(Ordering::Relaxed) {
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
pub fn title() -> Style {
    paint(Style::new().add_modifier(Modifier::BOLD))
}

/// Border of the focused panel (bold, so that it shows without colours too).
pub fn focused_border() -> Style {
    paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
}

/// Border of other panels.
pub fn border() -> Style {
    paint(Style::new().fg(Color::DarkGray))
}

/// Column headers.
pub fn header_row() -> Style {
    paint(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

/// The selected row.
pub fn selected() -> Style {
    paint(Style::new().add_modifier(Modifier::REVERSED))
}

/// Data that is stale (the connection is gone).
pub fn stale() -> Style {
    paint(Style::new().add_modifier(Modifier::DIM))
}

/// Secondary text.
pub fn muted() -> Style {
    paint(Style::new().fg(Color::DarkGray))
}

/// An error message.
pub fn error() -> Style {
    paint(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
}

/// Something wrong but not (yet) an error: a QEMU that does not answer.
pub fn warning() -> Style {
    paint(
        Style::new()
            .fg(Color::LightYellow)
            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
    )
}

/// A success or info message.
pub fn info() -> Style {
    paint(Style::new().fg(Color::Green))
}

/// Key names in the footer and help.
pub fn key() -> Style {
    paint(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
}

/// The mark drawn before a state word: ⚠ for a QEMU that does not answer, ■ for a VM that
/// ended, ○ without a connection, else ● (QEMU's run states).
pub fn state_mark(state: &str) -> &'static str {
    match state {
        crate::app::vm::NOT_ANSWERING => "⚠",
        "shut down" | "quit" | "exited" => "■",
        "disconnected" | "connecting" | "removed" => "○",
        _ => "●",
    }
}

/// A run state, by its QEMU name (or the dashboard's own words: "not answering").
pub fn run_state(status: &str) -> Style {
    if status == crate::app::vm::NOT_ANSWERING {
        return warning();
    }
    let color = match status {
        "running" => Color::Green,
        "paused" | "suspended" | "prelaunch" | "inmigrate" | "postmigrate" | "finish-migrate"
        | "save-vm" | "restore-vm" | "debug" | "colo" => Color::Yellow,
        _ => Color::Red,
    };
    paint(Style::new().fg(color).add_modifier(Modifier::BOLD))
}

/// An event log line, by kind.
pub fn event(kind: EventKind) -> Style {
    paint(match kind {
        EventKind::Lifecycle => Style::new().fg(Color::Yellow),
        EventKind::Shutdown | EventKind::Error => Style::new().fg(Color::Red),
        EventKind::Job | EventKind::Migration => Style::new().fg(Color::Magenta),
        EventKind::Device => Style::new().fg(Color::LightBlue),
        EventKind::Other => Style::new(),
    })
}

/// Read-rate series.
pub fn read_series() -> Style {
    paint(Style::new().fg(Color::Green))
}

/// Write-rate series.
pub fn write_series() -> Style {
    paint(Style::new().fg(Color::Magenta))
}

/// CPU series.
pub fn cpu_series() -> Style {
    paint(Style::new().fg(Color::Cyan))
}

/// A migration status, by QEMU's word: completed green, failed red, cancelled yellow,
/// running magenta (like migration events).
pub fn migration_status(status: &str) -> Style {
    let color = match status {
        "completed" => Color::Green,
        "failed" => Color::Red,
        "cancelled" | "cancelling" | "none" => Color::Yellow,
        _ => Color::Magenta,
    };
    paint(Style::new().fg(color).add_modifier(Modifier::BOLD))
}

/// The migration progress gauge.
pub fn migration_gauge() -> Style {
    paint(Style::new().fg(Color::Magenta))
}
