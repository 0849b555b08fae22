//! The dashboard's terminal output (`ui::screen`) against ratatui's crossterm backend: the
//! same frames drawn through both give the same bytes and the same terminal screen (text,
//! colours, attributes, cursor), for the real UI and for every colour and modifier.

use crate::render::{model_in, sample};
use qemu_dash::app::View;
use qemu_dash::news::AppEvent;
use qemu_dash::ui::screen::{self, ScreenBackend};
use qemu_dash::ui::theme::Theme;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::{Frame, Terminal, TerminalOptions, Viewport};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A terminal's input: every byte written, kept for the test to read.
#[derive(Clone, Default)]
struct Tape(Arc<Mutex<Vec<u8>>>);

impl Tape {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Write for Tape {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The same frames drawn through ratatui's crossterm backend and through `ui::screen`,
/// each writing into a terminal emulator of `area`'s size.
struct Pair {
    crossterm: Terminal<CrosstermBackend<Tape>>,
    crossterm_tape: Tape,
    crossterm_screen: vt100::Parser,
    ours: Terminal<ScreenBackend<Tape>>,
    our_tape: Tape,
    our_screen: vt100::Parser,
}

/// A terminal emulator of `area`'s size.
fn emulator(area: Rect) -> vt100::Parser {
    vt100::Parser::new(
        std::num::NonZero::new(area.height).unwrap(),
        std::num::NonZero::new(area.width).unwrap(),
        0,
    )
}

impl Pair {
    fn new(area: Rect) -> Pair {
        let options = || TerminalOptions {
            viewport: Viewport::Fixed(area),
        };
        let crossterm_tape = Tape::default();
        let our_tape = Tape::default();
        Pair {
            crossterm: Terminal::with_options(
                CrosstermBackend::new(crossterm_tape.clone()),
                options(),
            )
            .unwrap(),
            crossterm_tape,
            crossterm_screen: emulator(area),
            ours: Terminal::with_options(ScreenBackend::new(our_tape.clone()), options()).unwrap(),
            our_tape,
            our_screen: emulator(area),
        }
    }

    /// Draws `render` through both and checks that they wrote the same bytes and that the
    /// two terminals show the same screen; returns the bytes.
    fn draw(&mut self, render: impl Fn(&mut Frame)) -> Vec<u8> {
        self.crossterm.draw(|frame| render(frame)).unwrap();
        screen::draw(&mut self.ours, |frame| render(frame)).unwrap();
        let (theirs, ours) = (self.crossterm_tape.take(), self.our_tape.take());
        self.crossterm_screen.process(&theirs);
        self.our_screen.process(&ours);
        let (expected, got) = (self.crossterm_screen.screen(), self.our_screen.screen());
        assert_eq!(
            got.contents_formatted(),
            expected.contents_formatted(),
            "screens differ (text, colours or attributes):\n{}\n---\n{}",
            got.contents(),
            expected.contents()
        );
        assert_eq!(got.cursor_position(), expected.cursor_position());
        assert_eq!(got.hide_cursor(), expected.hide_cursor());
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "bytes differ"
        );
        ours
    }
}

#[test]
fn the_dashboard_draws_the_same_screen_through_its_backend_as_through_crossterm() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    let mut pair = Pair::new(Rect::new(0, 0, 160, 45));
    let theme = Theme::COLOUR;
    let mut now = start + Duration::from_secs(65);
    let first = pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &theme));
    assert!(
        first.len() > 4000,
        "a full first frame: {} bytes",
        first.len()
    );
    assert!(
        pair.our_screen
            .screen()
            .contents()
            .contains("running for 1m05s")
    );

    // A new sample: every chart shifts, every figure changes.
    for tick in 30..33 {
        now += Duration::from_secs(1);
        let news = AppEvent::Sample {
            vm: 0,
            sample: Box::new(sample("running", tick)),
        };
        model.apply(news, now);
        pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &theme));
    }
    // Nothing changed: only the styles' final reset is written.
    let idle = pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &theme));
    assert!(idle.len() < 64, "{}", String::from_utf8_lossy(&idle));

    // Overlays (reversed and bold rows), then another view, then the mono theme.
    model.help = true;
    pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &theme));
    model.help = false;
    model.view = View::Snapshots;
    pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &theme));
    model.view = View::Vm;
    pair.draw(|frame| qemu_dash::ui::render(frame, &model, now, &Theme::MONO));
}

/// Cells in every colour form and every modifier, in changing orders, a cursor, and wide
/// characters (CJK, an emoji presentation sequence) that replace and are replaced.
fn palette(frame: &mut Frame, round: usize) {
    let named = [
        Color::Reset,
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
        Color::Indexed(0),
        Color::Indexed(99),
        Color::Indexed(255),
        Color::Rgb(0, 0, 0),
        Color::Rgb(12, 200, 255),
    ];
    let modifiers = [
        Modifier::empty(),
        Modifier::BOLD,
        Modifier::DIM,
        Modifier::BOLD | Modifier::DIM,
        Modifier::ITALIC | Modifier::UNDERLINED,
        Modifier::REVERSED,
        Modifier::CROSSED_OUT | Modifier::HIDDEN,
        Modifier::SLOW_BLINK,
        Modifier::RAPID_BLINK | Modifier::BOLD,
        Modifier::all(),
    ];
    let mut lines = Vec::new();
    for (row, fg) in named.iter().enumerate() {
        let spans: Vec<Span> = modifiers
            .iter()
            .enumerate()
            .map(|(column, modifier)| {
                let bg = named[(row + column + round) % named.len()];
                let underline = named[(row * 3 + column + round) % named.len()];
                let text = if (row + column + round).is_multiple_of(4) {
                    "漢字"
                } else {
                    "ab"
                };
                Span::styled(
                    text,
                    Style::new()
                        .fg(*fg)
                        .bg(bg)
                        .underline_color(underline)
                        .add_modifier(modifiers[(column + round) % modifiers.len()] | *modifier),
                )
            })
            .collect();
        lines.push(Line::from(spans));
    }
    let emoji = if round.is_multiple_of(2) {
        "☀\u{fe0f}x"
    } else {
        "yz"
    };
    lines.push(Line::styled(emoji, Style::new().bg(Color::Blue)));
    frame.render_widget(Paragraph::new(lines), frame.area());
    if round % 3 != 2 {
        frame.set_cursor_position(Position::new(3 + round as u16, 2));
    }
}

#[test]
fn every_colour_and_modifier_reaches_the_terminal_as_crossterm_writes_it() {
    let mut pair = Pair::new(Rect::new(0, 0, 48, 24));
    for round in 0..6 {
        pair.draw(|frame| palette(frame, round));
    }
}
