//! Drawing: [`render`] draws a frame from the [`Model`], the current instant (for "time in
//! state") and the [`Theme`], and from nothing else: no global, no clock of its own. One file
//! per panel; every style comes from the theme passed down. No widget is given an area it
//! cannot handle: below [`MIN_SIZE`] a message replaces the panels.

mod blocks;
mod chart;
mod columns;
mod console;
mod cpus;
mod devices;
mod events;
mod fleet;
mod footer;
mod header;
mod lists;
mod migration;
mod mouse;
mod overlay;
pub mod screen;
mod scroll;
mod snapshots;
pub mod theme;

pub use mouse::pointer_for;

use crate::app::{Model, Panel, View};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use std::cell::RefCell;
use std::time::Instant;
use theme::Theme;

/// The smallest terminal the dashboard draws in: (columns, rows).
pub const MIN_SIZE: (u16, u16) = (60, 18);

/// Draws the whole screen in `theme`'s styles.
pub fn render(frame: &mut Frame, model: &Model, now: Instant, theme: &Theme) {
    draw(frame, model, now, theme);
    replace_unsafe_cells(frame.buffer_mut());
}

/// Writes `line` (its spans' styles over the line's) on the row `area.y` from `area.x`, at most
/// `area.width` columns, and returns the columns used. Spans of printable ASCII, most of what a
/// log shows, go one byte a cell with no grapheme or width lookup; any other span goes through
/// ratatui's [`Buffer::set_stringn`].
pub fn put_line(buf: &mut Buffer, area: Rect, line: &Line) -> u16 {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return 0;
    }
    let mut x = area.x;
    for span in &line.spans {
        let room = area.right() - x;
        if room == 0 {
            break;
        }
        let style = line.style.patch(span.style);
        let text = span.content.as_ref();
        if text.bytes().all(|byte| (0x20..0x7f).contains(&byte)) {
            let shown = &text.as_bytes()[..text.len().min(usize::from(room))];
            for &byte in shown {
                buf[(x, area.y)].set_char(char::from(byte)).set_style(style);
                x += 1;
            }
        } else {
            x = buf.set_stringn(x, area.y, text, usize::from(room), style).0;
        }
    }
    x - area.x
}

/// Writes `lines` on the rows of `area`, one a row from the top, as far as `area` goes: the
/// cells a `Paragraph` of left-aligned lines (no block, wrap or style of its own) would draw,
/// through [`put_line`] rather than a paragraph's layout of every line.
pub fn put_lines(buf: &mut Buffer, area: Rect, lines: &[Line]) {
    for (line, y) in lines.iter().zip(area.top()..area.bottom()) {
        put_line(
            buf,
            Rect {
                y,
                height: 1,
                ..area
            },
            line,
        );
    }
}

/// Everything [`render`] shows that changes with the clock alone (the model unchanged): each
/// VM's time in its state, time since it ended or stopped answering, QEMU's uptime, the age
/// of stale figures, an unplug's wait, and which message the footer shows (messages expire).
/// The dashboard compares it at each clock tick with its value at the last frame, and draws
/// only when it differs: a frame whose text would not change is not rendered at all. It
/// covers every VM, not only the one in view, so it errs towards drawing.
pub fn clock_text(model: &Model, now: Instant) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for vm in &model.vms {
        // Only the text counts here: any theme writes the same words.
        for span in header::state_spans(vm, now, &Theme::default()) {
            text.push_str(&span.content);
        }
        if let Some(uptime) = vm.qemu_uptime_now(now) {
            let _ = write!(text, "|{}", crate::format::duration(uptime));
        }
        if let Some(since) = vm.time_in_state(now) {
            let _ = write!(text, "|{}", crate::format::duration(since));
        }
        if let Some(label) = stale_label(vm, now) {
            let _ = write!(text, "|{label}");
        }
        for unplug in &vm.monitor.unplugs {
            let waited = now.saturating_duration_since(unplug.since);
            let _ = write!(text, "|{}", crate::format::duration(waited));
        }
        text.push('\n');
    }
    if let Some(message) = model.message_for_screen(now) {
        let _ = write!(text, "{:?} {}", message.said, message.text);
    }
    text
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
        // Most cells are one printable ASCII character: nothing to look up for those.
        if let [byte] = symbol.as_bytes()
            && (0x20..0x7f).contains(byte)
        {
            continue;
        }
        // One box-drawing, block or braille character (U+2500 to U+25BF, U+2800 to U+28FF,
        // the panels' borders and charts): safe.
        if let [0xE2, 0x94..=0x96 | 0xA0..=0xA3, _] = symbol.as_bytes() {
            continue;
        }
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

/// True when a terminal of `width` x `height` is below [`MIN_SIZE`]: the screen then says so
/// and takes no key but quit (the terminal loop asks this before it acts on a key).
pub fn too_small(width: u16, height: u16) -> bool {
    width < MIN_SIZE.0 || height < MIN_SIZE.1
}

fn draw(frame: &mut Frame, model: &Model, now: Instant, theme: &Theme) {
    let area = frame.area();
    if too_small(area.width, area.height) {
        render_too_small(frame, area, model.ignored_keys);
        return;
    }
    match model.view {
        View::Fleet => fleet::render(frame, area, model, now, theme),
        View::Vm => render_vm(frame, area, model, now, theme),
        View::Snapshots => snapshots::render(frame, area, model, now, theme),
        View::Console => console::render(frame, area, model, now, theme),
        View::Devices => devices::render(frame, area, model, now, theme),
    }
    if let Some(record) = &model.event_detail {
        overlay::render_event_detail(frame, area, record, theme);
    }
    if model.messages_open {
        overlay::render_messages(frame, area, model, theme);
    }
    if model.help {
        overlay::render_help(frame, area, model, theme);
    }
    if let Some(question) = &model.confirm {
        let vm = question.vm().map_or(model.vm(), |id| model.vms.get(id));
        let name = vm.map_or("", |vm| vm.display_name());
        overlay::render_confirm(frame, area, &question.text(name), &model.keys, theme);
    }
}

/// Where the dashboard's parts go on a screen of `area`.
#[derive(Debug, Clone, Copy)]
pub struct VmAreas {
    /// The two header lines.
    pub header: Rect,
    /// The vCPU panel.
    pub cpus: Rect,
    /// The memory panel.
    pub memory: Rect,
    /// The migration panel, while a migration runs.
    pub migration: Option<Rect>,
    /// The block device panel.
    pub blocks: Rect,
    /// The event log.
    pub events: Rect,
    /// The message line.
    pub message: Rect,
    /// The key hints.
    pub footer: Rect,
}

/// Columns of the memory panel.
const MEMORY_WIDTH: u16 = 30;

/// The dashboard's layout: the vCPU row takes what its vCPUs need up to 30% of the height,
/// the block panel 60% of the rest (its table what its devices need, the charts the rest)
/// and the event log what is left, so that a tall screen gives its rows to the charts and
/// the log. The mouse code uses the same areas.
pub fn vm_areas(area: Rect, model: &Model, now: Instant) -> VmAreas {
    let message_height = footer::message_height(model, area.width, now);
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(message_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let vcpus = model.vm().map_or(1, |vm| vm.vcpus.len()) as u16;
    // The smallest screens give the vCPU table two rows (it scrolls) to keep the charts.
    let least = if body.height < 18 { 5 } else { 6 };
    let upper_height = (vcpus + 3).clamp(least, (body.height * 3 / 10).max(least));
    let rest = body.height.saturating_sub(upper_height);
    let blocks_height = rest * 3 / 5;
    let [upper, blocks, events] = Layout::vertical([
        Constraint::Length(upper_height),
        Constraint::Length(blocks_height),
        Constraint::Min(0),
    ])
    .areas(body);
    let [cpus, memory] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(MEMORY_WIDTH)]).areas(upper);
    // While a migration runs, its panel takes rows from the block panel.
    let migrating = model
        .vm()
        .and_then(|vm| vm.monitor.migration.as_ref())
        .is_some_and(|m| m.is_active());
    let (migration, blocks) = if migrating && blocks.height >= migration::COMPACT_HEIGHT + 4 {
        let [panel, rest] = Layout::vertical([
            Constraint::Length(migration::COMPACT_HEIGHT),
            Constraint::Min(4),
        ])
        .areas(blocks);
        (Some(panel), rest)
    } else {
        (None, blocks)
    };
    VmAreas {
        header,
        cpus,
        memory,
        migration,
        blocks,
        events,
        message,
        footer,
    }
}

fn render_vm(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let areas = vm_areas(area, model, now);
    let Some(vm) = model.vm() else {
        return;
    };
    let stale = stale_label(vm, now);
    let stale = stale.as_deref();
    header::render(frame, areas.header, model, vm, now, theme);
    cpus::render_cpus(frame, areas.cpus, model, vm, stale, theme);
    cpus::render_memory(frame, areas.memory, vm, stale, theme);
    if let (Some(panel), Some(info)) = (areas.migration, vm.monitor.migration.as_ref()) {
        migration::render(frame, panel, info, " (M: details, x there cancels)", theme);
    }
    blocks::render(frame, areas.blocks, model, vm, stale, theme);
    events::render(frame, areas.events, model, vm, theme);
    footer::render_message(frame, areas.message, model, now, theme);
    footer::render_keys(frame, areas.footer, model, theme);
}

/// Rows a page key moves in the list the keys act on now, on a screen of `area`: the rows
/// its panel shows (the help's rows while the help is open).
pub fn page_rows(model: &Model, area: Rect, now: Instant) -> usize {
    let rows = if model.help {
        overlay::help_rows(area, model)
    } else {
        lists::keyed(model, area, now).map_or(0, |list| usize::from(list.rows.height))
    };
    rows.max(1)
}

fn render_too_small(frame: &mut Frame, area: Rect, ignored_keys: usize) {
    let mut text = format!(
        "Terminal too small: {}x{}. qemu-dash needs at least {}x{}. Enlarge the window, or press q to quit.",
        area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
    );
    if ignored_keys > 0 {
        let s = if ignored_keys == 1 { "" } else { "s" };
        text.push_str(&format!(" ({ignored_keys} key{s} ignored until then.)"));
    }
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

/// A bordered panel block with a title, in `theme`; dimmed when stale. The focused panel
/// shows it three ways, so that it shows without colours too: its border colour, a bold
/// border and a marker before its title.
pub fn panel(title: &str, focused: bool, stale: bool, theme: &Theme) -> Block<'static> {
    let block = if focused {
        Block::bordered()
            .border_style(theme.focused_border())
            .title(Line::styled(format!(" ▶ {title} "), theme.title()))
    } else {
        Block::bordered()
            .border_style(theme.border())
            .title(Line::styled(format!(" {title} "), theme.title()))
    };
    if stale {
        block.style(theme.stale())
    } else {
        block.style(Style::new())
    }
}

/// Panels' strips kept between frames: at most this many (a screen shows a handful).
const KEPT_STRIPS: usize = 8;

thread_local! {
    /// The strips [`render_panel`] rendered lately, with the block and width each was
    /// rendered from: a panel whose block (titles, styles) and width did not change since a
    /// frame before is copied from its strip rather than rendered again.
    static PANEL_STRIPS: RefCell<Vec<(Block<'static>, Buffer)>> = const { RefCell::new(Vec::new()) };
}

/// Draws `block`, a bordered panel from [`panel`], on `area`, on blank cells. A panel
/// without a style of its own (`styled` false: not stale) changes only its border cells, so
/// only those are written: the block is rendered on a three-row strip (top border and titles,
/// one row of sides, bottom border and titles) whose rows are copied to the panel's edges,
/// where ratatui's `Block::render` would also set the panel's empty style on every cell
/// inside (a quarter of a frame's rendering at 240x67). The strip is kept for the next frames
/// (see [`PANEL_STRIPS`]): most panels' borders and titles do not change from one to the next.
pub fn render_panel(frame: &mut Frame, block: Block<'static>, area: Rect, styled: bool) {
    let buf = frame.buffer_mut();
    let area = area.intersection(buf.area);
    if styled || area.width < 2 || area.height < 3 {
        frame.render_widget(block, area);
        return;
    }
    PANEL_STRIPS.with_borrow_mut(|strips| {
        let kept = strips
            .iter()
            .position(|(kept, strip)| strip.area.width == area.width && *kept == block);
        let strip = match kept {
            Some(index) => &strips[index].1,
            None => {
                let strip_area = Rect::new(0, 0, area.width, 3);
                let mut strip = Buffer::empty(strip_area);
                ratatui::widgets::Widget::render(&block, strip_area, &mut strip);
                if strips.len() == KEPT_STRIPS {
                    strips.remove(0);
                }
                strips.push((block, strip));
                &strips[strips.len() - 1].1
            }
        };
        copy_strip(buf, area, strip);
    });
}

/// Copies a panel's strip (see [`render_panel`]) to the edges of `area`, `strip`'s width.
fn copy_strip(buf: &mut Buffer, area: Rect, strip: &Buffer) {
    let width = usize::from(area.width);
    let (top, sides, bottom) = (
        &strip.content[..width],
        &strip.content[width..2 * width],
        &strip.content[2 * width..],
    );
    let first = buf.index_of(area.x, area.y);
    buf.content[first..first + width].clone_from_slice(top);
    let last = buf.index_of(area.x, area.bottom() - 1);
    buf.content[last..last + width].clone_from_slice(bottom);
    for y in area.y + 1..area.bottom() - 1 {
        let row = buf.index_of(area.x, y);
        buf.content[row].clone_from(&sides[0]);
        buf.content[row + width - 1].clone_from(&sides[width - 1]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// A panel drawn again with another title or width shows what `Block::render` draws for
    /// it, not the strip kept from the frame before.
    #[test]
    fn a_panel_drawn_again_with_another_title_or_width_shows_the_new_one() {
        let theme = Theme::COLOUR;
        let mut terminal = Terminal::new(TestBackend::new(40, 6)).unwrap();
        for (title, focused, width) in [
            ("first", false, 30),
            ("second", false, 30),
            ("second", true, 30),
            ("second", true, 24),
            ("first", false, 30),
        ] {
            let area = Rect::new(2, 1, width, 5);
            let shown = terminal
                .draw(|frame| {
                    render_panel(frame, panel(title, focused, false, &theme), area, false)
                })
                .unwrap()
                .buffer
                .clone();
            let mut expected = Buffer::empty(shown.area);
            ratatui::widgets::Widget::render(
                panel(title, focused, false, &theme),
                area,
                &mut expected,
            );
            assert_eq!(shown, expected, "{title} focused {focused} width {width}");
        }
    }
}
