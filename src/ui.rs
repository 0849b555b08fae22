//! Drawing: [`render`] is a pure function of the [`Model`] (and the current instant, for
//! "time in state"). One file per panel; styles come from [`theme`]. No widget is given an
//! area it cannot handle: below [`MIN_SIZE`] a message replaces the panels.

pub mod blocks;
pub mod console;
pub mod cpus;
pub mod devices;
pub mod events;
pub mod fleet;
pub mod footer;
pub mod header;
pub mod migration;
pub mod overlay;
pub mod snapshots;
pub mod theme;

use crate::app::{Model, Panel, View};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use std::time::Instant;

/// The smallest terminal the dashboard draws in: (columns, rows).
pub const MIN_SIZE: (u16, u16) = (60, 18);

/// Draws the whole screen.
pub fn render(frame: &mut Frame, model: &Model, now: Instant) {
    draw(frame, model, now);
    replace_unsafe_cells(frame.buffer_mut());
}

/// Replaces, in every cell, the characters a terminal could take for a command or measure
/// differently from us ([`crate::safe_text::is_unsafe`]): names, tags and texts come from
/// peers. A cell keeps its width, so every row stays aligned: zero-width extras are dropped
/// when the rest keeps the width, otherwise the cell shows U+FFFD (twice for a wide cell).
pub fn replace_unsafe_cells(buffer: &mut Buffer) {
    use crate::safe_text::is_unsafe;
    use unicode_width::UnicodeWidthStr;
    for cell in &mut buffer.content {
        let symbol = cell.symbol();
        if !symbol.chars().any(is_unsafe) {
            continue;
        }
        let width = symbol.width();
        let kept: String = symbol.chars().filter(|c| !is_unsafe(*c)).collect();
        let replacement = if !kept.is_empty() && kept.width() == width {
            kept
        } else {
            "\u{fffd}".repeat(width.max(1))
        };
        cell.set_symbol(&replacement);
    }
}

fn draw(frame: &mut Frame, model: &Model, now: Instant) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        render_too_small(frame, area);
        return;
    }
    match model.view {
        View::Fleet => fleet::render(frame, area, model, now),
        View::Vm => render_vm(frame, area, model, now),
        View::Snapshots => snapshots::render(frame, area, model, now),
        View::Console => console::render(frame, area, model, now),
        View::Devices => devices::render(frame, area, model, now),
    }
    if let Some(record) = &model.event_detail {
        overlay::render_event_detail(frame, area, record);
    }
    if model.history_open {
        overlay::render_history(frame, area, model);
    }
    if model.help {
        overlay::render_help(frame, area, model.base_context(), &model.keys);
    }
    if let Some(question) = &model.confirm {
        let vm = question.vm().map_or(model.vm(), |id| model.vms.get(id));
        let name = vm.map_or("", |vm| vm.display_name());
        overlay::render_confirm(frame, area, &question.text(name), &model.keys);
    }
}

fn render_vm(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    let vcpu_rows = model.vm().map_or(1, |vm| vm.vcpus.len()) as u16;
    let [header, upper, blocks, events, message, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length((vcpu_rows + 7).clamp(8, 12)),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area);
    let Some(vm) = model.vm() else {
        return;
    };
    let stale = stale_label(vm, now);
    let stale = stale.as_deref();
    header::render(frame, header, model, vm, now);
    let [cpu_area, memory_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(upper);
    cpus::render_cpus(frame, cpu_area, model, vm, stale);
    cpus::render_memory(frame, memory_area, vm, stale);
    // While a migration runs, its panel takes rows from the block panel.
    let blocks = match vm.monitor.migration.as_ref().filter(|m| m.is_active()) {
        Some(info) if blocks.height >= migration::COMPACT_HEIGHT + 4 => {
            let [panel, rest] = Layout::vertical([
                Constraint::Length(migration::COMPACT_HEIGHT),
                Constraint::Min(4),
            ])
            .areas(blocks);
            migration::render(frame, panel, info, " (M: details, x there cancels)");
            rest
        }
        _ => blocks,
    };
    blocks::render(frame, blocks, model, vm, stale);
    events::render(frame, events, model, vm);
    footer::render_message(frame, message, model, now);
    footer::render_keys(frame, footer, model);
}

fn render_too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "Terminal too small: {}x{}. qemu-dash needs at least {}x{}. Enlarge the window, or press q to quit.",
        area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

/// What a panel title says when its figures are not live ("stale, 12s old"), else `None`.
pub fn stale_label(vm: &crate::app::Vm, now: Instant) -> Option<String> {
    if !vm.is_stale() {
        return None;
    }
    Some(match vm.stale_age(now) {
        Some(age) => format!("stale, {} old", crate::format::duration(age)),
        None => "stale".to_string(),
    })
}

/// `title`, followed by the stale label when there is one.
pub fn with_stale(title: &str, stale: Option<&str>) -> String {
    match stale {
        Some(label) => format!("{title} · {label}"),
        None => title.to_string(),
    }
}

/// A bordered panel block with a title; highlighted when focused, dimmed when stale.
pub fn panel(title: &str, focused: bool, stale: bool) -> Block<'static> {
    let border = if focused {
        theme::focused_border()
    } else {
        theme::border()
    };
    let block = Block::bordered()
        .border_style(border)
        .title(Line::styled(format!(" {title} "), theme::title()));
    if stale {
        block.style(theme::stale())
    } else {
        block.style(Style::new())
    }
}

/// True when `panel` has focus in the main mode.
pub fn is_focused(model: &Model, panel: Panel) -> bool {
    model.focus == panel
}

/// The right-most `width` columns of `area`, so that the newest sample sits at the right edge.
pub fn right_aligned(area: Rect, width: usize) -> Rect {
    let width = (width as u16).min(area.width);
    Rect {
        x: area.x + area.width - width,
        width,
        ..area
    }
}
