//! The terminal output: [`ScreenBackend`], a ratatui backend that writes a frame's escape
//! sequences into one reused byte buffer and hands them to the terminal in one write, and
//! [`draw`], which draws a frame through it comparing the new frame with what the terminal
//! shows in one pass of its own (ratatui's `Terminal::draw` would compare every cell again,
//! measuring each one's width). The bytes are those crossterm writes (`CrosstermBackend`):
//! a cursor move only where a change does not follow the previous one, SGR for modifier and
//! colour changes, every attribute and colour reset at the end. Showing, hiding and placing
//! the cursor are queued with the frame; sizes, clearing and cursor queries are crossterm's.
//! This module owns no state of the dashboard and draws nothing itself.

use crossterm::style::Colored;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellDiffOption, CellWidth};
use ratatui::layout::{Position, Rect, Size};
use ratatui::style::{Color, Modifier};
use ratatui::{CompletedFrame, Frame};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Modifiers that show on a blank cell: a wide character's trailing columns keep showing
/// them until redrawn (the same set as ratatui's diff).
const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
    .union(Modifier::UNDERLINED)
    .union(Modifier::SLOW_BLINK)
    .union(Modifier::RAPID_BLINK)
    .union(Modifier::CROSSED_OUT);

/// A frame rendered by [`draw`], on its way from the render callback to the backend.
#[derive(Debug, Default)]
struct Handover {
    /// The rendered frame, taken by the next [`Backend::draw`].
    next: Option<Buffer>,
    /// A buffer the backend no longer needs, reused for the next frame's rendering.
    spare: Option<Buffer>,
}

/// A ratatui backend for `W` (a terminal) that writes each frame in one `write_all`: the
/// escape sequences are built in a reused buffer, without `fmt`, and sent on
/// [`Backend::flush`]. It keeps a copy of what the terminal shows, so that [`draw`] can
/// compare a new frame with it in one pass.
#[derive(Debug)]
pub struct ScreenBackend<W: Write> {
    inner: CrosstermBackend<W>,
    /// The bytes of the frame being drawn, not written yet.
    out: Vec<u8>,
    /// What the terminal shows; an area other than the frame's means a blank screen.
    shown: Buffer,
    handover: Arc<Mutex<Handover>>,
    /// `NO_COLOR` asked crossterm for no colours: none are written (as crossterm does).
    no_colours: bool,
}

impl<W: Write> ScreenBackend<W> {
    /// A backend writing to `writer`, assuming a blank screen (as after entering the
    /// alternate screen).
    pub fn new(writer: W) -> Self {
        ScreenBackend {
            inner: CrosstermBackend::new(writer),
            out: Vec::with_capacity(32 * 1024),
            shown: Buffer::empty(Rect::ZERO),
            handover: Arc::default(),
            no_colours: Colored::ansi_color_disabled_memoized(),
        }
    }

    /// Forgets what the terminal shows: the screen is blank (after a stop and a clear done
    /// behind ratatui's back), and the next frame draws every cell that is not.
    pub fn screen_cleared(&mut self) {
        self.shown.reset();
    }

    /// Writes the queued bytes to the terminal, in one write.
    fn write_out(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.inner.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Queues the changes from `shown` to `next` (both of `next`'s area) and makes `next`
    /// the shown frame; the previous shown buffer goes back as the spare.
    fn draw_frame(&mut self, next: Buffer) -> Buffer {
        if self.shown.area != next.area {
            // A new size: ratatui cleared the screen when it saw it.
            self.shown.resize(next.area);
            self.shown.reset();
        }
        let mut writer = SequenceWriter::new(&mut self.out, self.no_colours);
        let area = next.area;
        let cells = &next.content;
        let shown = &self.shown.content;
        let len = cells.len().min(shown.len());
        // Cells before this index are the trailing columns of a wide character: passed over.
        let mut resume = 0;
        for (index, (cell, before)) in cells.iter().zip(shown).enumerate() {
            if index < resume {
                continue;
            }
            // Most cells: unchanged, plain, and one column wide.
            if unchanged_narrow(cell, before) {
                continue;
            }
            let plain = matches!(cell.diff_option, CellDiffOption::None);
            #[allow(deprecated)]
            if plain && cell.skip {
                continue;
            }
            let symbol = cell.symbol();
            if plain && same_cell(cell, symbol, before) {
                resume = index + width_of(cell, symbol);
                continue;
            }
            match cell.diff_option {
                CellDiffOption::Skip => continue,
                CellDiffOption::ForcedWidth(forced) => {
                    resume = index + usize::from(forced.get());
                    if !same_cell(cell, symbol, before) {
                        writer.cell(position_of(area, index), cell);
                    }
                    continue;
                }
                CellDiffOption::None | CellDiffOption::AlwaysUpdate => {}
            }
            writer.cell(position_of(area, index), cell);
            let width = width_of(cell, symbol);
            let before_width = width_of(before, before.symbol());
            if width > 1 && symbol.contains('\u{FE0F}') {
                // Some terminals leave the trailing column of an emoji presentation sequence:
                // redraw the trailing cells that changed.
                let end = (index + width).min(len);
                let trailing = cells.iter().zip(shown).enumerate();
                for (j, (cell, before)) in trailing.take(end).skip(index + 1) {
                    if !is_skip(cell) && cell.symbol() != before.symbol() {
                        writer.cell(position_of(area, j), cell);
                    }
                }
                resume = end;
            } else if width > 1 {
                resume = index + width;
            } else if before_width > width
                && (before.bg != Color::Reset || before.modifier.intersects(VISIBLE_ON_BLANK))
            {
                // The wide character this replaces styled its trailing columns: redraw them.
                let end = (index + before_width).min(len);
                for (j, cell) in cells.iter().enumerate().take(end).skip(index + 1) {
                    if !is_skip(cell) {
                        writer.cell(position_of(area, j), cell);
                    }
                }
                resume = end;
            }
        }
        writer.finish();
        std::mem::replace(&mut self.shown, next)
    }

    /// Queues ratatui's own list of changed cells (a frame drawn with `Terminal::draw`
    /// rather than [`draw`]) and records them as shown.
    fn draw_cells<'a, I>(&mut self, content: I)
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut writer = SequenceWriter::new(&mut self.out, self.no_colours);
        for (x, y, cell) in content {
            writer.cell(Position { x, y }, cell);
            if let Some(shown) = self.shown.cell_mut((x, y)) {
                shown.clone_from(cell);
            }
        }
        writer.finish();
    }

    fn handover(&self) -> std::sync::MutexGuard<'_, Handover> {
        lock(&self.handover)
    }
}

/// The dashboard's terminal: standard output through a [`ScreenBackend`].
pub type ScreenTerminal = Terminal<ScreenBackend<io::Stdout>>;

/// Takes the terminal as `ratatui::try_init` does (a panic hook that restores it first, raw
/// mode, the alternate screen), drawing through a [`ScreenBackend`]. `ratatui::restore`
/// gives it back.
pub fn init() -> io::Result<ScreenTerminal> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        ratatui::restore();
        hook(info);
    }));
    crossterm::terminal::enable_raw_mode()?;
    crossterm::execute!(io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    Terminal::new(ScreenBackend::new(io::stdout()))
}

/// Draws a frame with `render` on `terminal`: ratatui's terminal resizes, clears and places
/// the cursor as in `Terminal::draw`, while the comparison with what the screen shows and
/// the escape sequences are [`ScreenBackend`]'s.
pub fn draw<W, F>(
    terminal: &mut Terminal<ScreenBackend<W>>,
    render: F,
) -> io::Result<CompletedFrame<'_>>
where
    W: Write,
    F: FnOnce(&mut Frame),
{
    let handover = Arc::clone(&terminal.backend().handover);
    terminal.draw(|frame| {
        let area = frame.area();
        let buffer = frame.buffer_mut();
        if buffer.area != area {
            // The empty stand-in left by the frame before last: render into the spare.
            let mut spare = lock(&handover).spare.take().unwrap_or_default();
            spare.resize(area);
            spare.reset();
            *buffer = spare;
        }
        render(frame);
        let buffer = frame.buffer_mut();
        // The terminal's own comparison then sees an empty buffer and finds nothing to do.
        let stand_in = Buffer::empty(Rect {
            height: 0,
            ..buffer.area
        });
        lock(&handover).next = Some(std::mem::replace(buffer, stand_in));
    })
}

fn lock(handover: &Mutex<Handover>) -> std::sync::MutexGuard<'_, Handover> {
    handover.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W: Write> Backend for ScreenBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let next = self.handover().next.take();
        match next {
            Some(next) => {
                let spare = self.draw_frame(next);
                self.handover().spare = Some(spare);
            }
            None => self.draw_cells(content),
        }
        Ok(())
    }

    // The cursor's visibility and place are queued after the frame's cells and sent with
    // them on `flush`, as `Terminal::draw` does right after drawing.
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"\x1b[?25l");
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        self.out.extend_from_slice(b"\x1b[?25h");
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.write_out()?;
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        SequenceWriter::new(&mut self.out, self.no_colours).move_to(position.into());
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.write_out()?;
        if matches!(clear_type, ClearType::All) {
            self.shown.reset();
        } else {
            // A partial clear (not used by a full-screen terminal): draw every cell next.
            self.shown = Buffer::empty(Rect::ZERO);
        }
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        Backend::flush(&mut self.inner)
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.write_out()?;
        self.inner.append_lines(n)
    }
}

/// Builds escape sequences for a run of cells, tracking the cursor and the current style as
/// crossterm's backend does.
struct SequenceWriter<'a> {
    out: &'a mut Vec<u8>,
    no_colours: bool,
    fg: Color,
    bg: Color,
    underline: Color,
    modifier: Modifier,
    last: Option<Position>,
}

impl<'a> SequenceWriter<'a> {
    fn new(out: &'a mut Vec<u8>, no_colours: bool) -> Self {
        SequenceWriter {
            out,
            no_colours,
            fg: Color::Reset,
            bg: Color::Reset,
            underline: Color::Reset,
            modifier: Modifier::empty(),
            last: None,
        }
    }

    fn number(&mut self, n: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// `ESC[{row};{column}H`, one-based.
    fn move_to(&mut self, at: Position) {
        self.out.extend_from_slice(b"\x1b[");
        self.number(u32::from(at.y) + 1);
        self.out.push(b';');
        self.number(u32::from(at.x) + 1);
        self.out.push(b'H');
    }

    /// The cell `cell` at `at`: a move unless it follows the last cell, the style changes,
    /// the symbol.
    fn cell(&mut self, at: Position, cell: &Cell) {
        if !matches!(self.last, Some(p) if at.x == p.x + 1 && at.y == p.y) {
            self.move_to(at);
        }
        self.last = Some(at);
        if cell.modifier != self.modifier {
            self.modifiers(self.modifier, cell.modifier);
            self.modifier = cell.modifier;
        }
        if cell.fg != self.fg || cell.bg != self.bg {
            self.out.extend_from_slice(b"\x1b[");
            self.colour(b"38;", b"39", cell.fg);
            self.out.push(b';');
            self.colour(b"48;", b"49", cell.bg);
            self.out.push(b'm');
            self.fg = cell.fg;
            self.bg = cell.bg;
        }
        if cell.underline_color != self.underline {
            self.out.extend_from_slice(b"\x1b[");
            self.colour(b"58;", b"59", cell.underline_color);
            self.out.push(b'm');
            self.underline = cell.underline_color;
        }
        self.out.extend_from_slice(cell.symbol().as_bytes());
    }

    /// `color` as crossterm writes it inside an SGR sequence: `reset` for the default, else
    /// `lead` and the colour (the 16 named ones as 256-colour indices).
    fn colour(&mut self, lead: &[u8], reset: &[u8], color: Color) {
        if self.no_colours {
            return;
        }
        let index: u8 = match color {
            Color::Reset => {
                self.out.extend_from_slice(reset);
                return;
            }
            Color::Rgb(r, g, b) => {
                self.out.extend_from_slice(lead);
                self.out.extend_from_slice(b"2;");
                self.number(r);
                self.out.push(b';');
                self.number(g);
                self.out.push(b';');
                self.number(b);
                return;
            }
            Color::Indexed(index) => index,
            Color::Black => 0,
            Color::Red => 1,
            Color::Green => 2,
            Color::Yellow => 3,
            Color::Blue => 4,
            Color::Magenta => 5,
            Color::Cyan => 6,
            Color::Gray => 7,
            Color::DarkGray => 8,
            Color::LightRed => 9,
            Color::LightGreen => 10,
            Color::LightYellow => 11,
            Color::LightBlue => 12,
            Color::LightMagenta => 13,
            Color::LightCyan => 14,
            Color::White => 15,
        };
        self.out.extend_from_slice(lead);
        self.out.extend_from_slice(b"5;");
        self.number(index);
    }

    /// `ESC[{n}m`.
    fn sgr(&mut self, n: u8) {
        self.out.extend_from_slice(b"\x1b[");
        self.number(n);
        self.out.push(b'm');
    }

    /// The SGR sequences from `from` to `to`, in crossterm's backend's order.
    fn modifiers(&mut self, from: Modifier, to: Modifier) {
        let removed = from - to;
        if removed.contains(Modifier::REVERSED) {
            self.sgr(27);
        }
        let reset_intensity = removed.intersects(Modifier::BOLD | Modifier::DIM);
        if reset_intensity {
            self.sgr(22);
            if to.contains(Modifier::DIM) {
                self.sgr(2);
            }
            if to.contains(Modifier::BOLD) {
                self.sgr(1);
            }
        }
        for (modifier, off) in [
            (Modifier::ITALIC, 23),
            (Modifier::UNDERLINED, 24),
            (Modifier::CROSSED_OUT, 29),
            (Modifier::HIDDEN, 28),
        ] {
            if removed.contains(modifier) {
                self.sgr(off);
            }
        }
        if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
            self.sgr(25);
        }
        let added = to - from;
        for (modifier, on, unless_reset) in [
            (Modifier::REVERSED, 7, false),
            (Modifier::BOLD, 1, true),
            (Modifier::ITALIC, 3, false),
            (Modifier::UNDERLINED, 4, false),
            (Modifier::DIM, 2, true),
            (Modifier::CROSSED_OUT, 9, false),
            (Modifier::HIDDEN, 8, false),
            (Modifier::SLOW_BLINK, 5, false),
            (Modifier::RAPID_BLINK, 6, false),
        ] {
            if added.contains(modifier) && !(unless_reset && reset_intensity) {
                self.sgr(on);
            }
        }
    }

    /// Every colour and attribute back to the default, as crossterm's backend ends a draw.
    fn finish(self) {
        if !self.no_colours {
            self.out.extend_from_slice(b"\x1b[39m\x1b[49m\x1b[59m");
        } else {
            self.out.extend_from_slice(b"\x1b[m\x1b[m\x1b[m");
        }
        self.out.extend_from_slice(b"\x1b[0m");
    }
}

/// Whether ratatui's diff passes over `cell` (the trailing column of a wide character).
#[allow(deprecated)]
fn is_skip(cell: &Cell) -> bool {
    matches!(cell.diff_option, CellDiffOption::Skip)
        || (cell.skip && matches!(cell.diff_option, CellDiffOption::None))
}

/// Columns `cell` (whose symbol is `symbol`) takes, as ratatui measures them, or 1 for a
/// [`narrow`] symbol.
fn width_of(cell: &Cell, symbol: &str) -> usize {
    if narrow(symbol.as_bytes()) && !matches!(cell.diff_option, CellDiffOption::ForcedWidth(_)) {
        1
    } else {
        usize::from(cell.cell_width())
    }
}

/// Whether `cell` is `before` unchanged, with nothing special to its comparison (no diff
/// option, not passed over) and a symbol known to take one column (see [`narrow`]): the
/// cheap fields first, each compared once, and each symbol decoded once.
#[allow(deprecated)]
fn unchanged_narrow(cell: &Cell, before: &Cell) -> bool {
    if !(cell.modifier == before.modifier
        && !(cell.skip | before.skip)
        && matches!(cell.diff_option, CellDiffOption::None)
        && matches!(before.diff_option, CellDiffOption::None)
        && cell.fg == before.fg
        && cell.bg == before.bg
        && cell.underline_color == before.underline_color)
    {
        return false;
    }
    let symbol = cell.symbol().as_bytes();
    same_symbol(symbol, before.symbol().as_bytes()) && narrow(symbol)
}

/// Whether a symbol takes at most one column, known without a lookup: ASCII, two-byte UTF-8
/// (below U+0800, no wide character), box drawing, block elements and braille, most of a
/// dashboard. 0 and 1 columns lead to the same decisions in the diff.
fn narrow(symbol: &[u8]) -> bool {
    matches!(
        symbol,
        [..=0xDF, ..] | [0xE2, 0x94 | 0x95 | 0xA0..=0xA3, _] | [0xE2, 0x96, ..=0x9F]
    )
}

/// `a == b` for cells (ratatui's `Cell::eq`; `symbol` is `a`'s), the cheap fields first:
/// most cells of a frame compare equal.
#[allow(deprecated)]
fn same_cell(a: &Cell, symbol: &str, b: &Cell) -> bool {
    a.modifier == b.modifier
        && a.skip == b.skip
        && a.diff_option == b.diff_option
        && a.fg == b.fg
        && a.bg == b.bg
        && a.underline_color == b.underline_color
        && same_symbol(symbol.as_bytes(), b.symbol().as_bytes())
}

/// `a == b`, one-byte symbols (most cells) without a call to `memcmp`.
fn same_symbol(a: &[u8], b: &[u8]) -> bool {
    match (a, b) {
        ([x], [y]) => x == y,
        _ => a == b,
    }
}

fn position_of(area: Rect, index: usize) -> Position {
    let width = usize::from(area.width.max(1));
    Position {
        x: area.x + (index % width) as u16,
        y: area.y + (index / width) as u16,
    }
}
