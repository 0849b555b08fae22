//! The one place styles come from. Colours carry meaning (running green, paused yellow,
//! shutdown and errors red), and the word is always written too.

use crate::collect::EventKind;
use ratatui::style::{Color, Modifier, Style};

/// Title of a panel.
pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// Border of the focused panel.
pub fn focused_border() -> Style {
    Style::new().fg(Color::Cyan)
}

/// Border of other panels.
pub fn border() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// Column headers.
pub fn header_row() -> Style {
    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
}

/// The selected row.
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// Data that is stale (the connection is gone).
pub fn stale() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

/// Secondary text.
pub fn muted() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// An error message.
pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// A success or info message.
pub fn info() -> Style {
    Style::new().fg(Color::Green)
}

/// Key names in the footer and help.
pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// A run state, by its QEMU name.
pub fn run_state(status: &str) -> Style {
    let color = match status {
        "running" => Color::Green,
        "paused" | "suspended" | "prelaunch" | "inmigrate" | "postmigrate" | "finish-migrate"
        | "save-vm" | "restore-vm" | "debug" | "colo" => Color::Yellow,
        _ => Color::Red,
    };
    Style::new().fg(color).add_modifier(Modifier::BOLD)
}

/// An event log line, by kind.
pub fn event(kind: EventKind) -> Style {
    match kind {
        EventKind::Lifecycle => Style::new().fg(Color::Yellow),
        EventKind::Shutdown | EventKind::Error => Style::new().fg(Color::Red),
        EventKind::Job | EventKind::Migration => Style::new().fg(Color::Magenta),
        EventKind::Device => Style::new().fg(Color::Blue),
        EventKind::Other => Style::new(),
    }
}

/// Read-rate series.
pub fn read_series() -> Style {
    Style::new().fg(Color::Green)
}

/// Write-rate series.
pub fn write_series() -> Style {
    Style::new().fg(Color::Magenta)
}

/// CPU series.
pub fn cpu_series() -> Style {
    Style::new().fg(Color::Cyan)
}
