//! The interactive terminal: sets the terminal up, runs the event loop, and restores the
//! terminal on every exit path (normal, error, panic, SIGTERM, SIGHUP, SIGINT, SIGQUIT).
//! Ctrl-Z and SIGTSTP give the terminal back and stop the process; SIGCONT (`fg`) takes it
//! again and redraws the whole screen, whoever stopped the process.
//!
//! The loop owns the [`Model`]: it waits on keys, background news and a one-second tick,
//! applies them, and redraws only when something changed. A key (or a resize, a signal)
//! draws at once; news waits a moment ([`NEWS_GATHER`], [`AWAITED_GATHER`]) so that the samples of one poll round
//! (the pollers tick together) and a burst of events make one frame. Frames for routine news
//! (samples) come at most once per poll interval; news a user waits for (an event, a
//! command's result) is drawn as soon as its burst is gathered. The one-second tick draws
//! nothing unless it changed what is shown (`ui::clock_text`), and then only when no frame
//! for news came within the second.

use crate::app::Model;
use crate::app::keymap::{KeyContext, Keymap};
use crate::collect::discover;
use crate::collect::session::WatchOptions;
use crate::qmp::Target;
use crate::runtime::{Collectors, Watchlist};
use crate::ui::theme::Theme;
use anyhow::Context;
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind,
    KeyModifiers,
};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

mod input;

/// How long routine news (samples) waits for the rest of its poll round before it is drawn.
const NEWS_GATHER: Duration = Duration::from_millis(8);
/// How long news a user waits for (an event, a command's result) waits for the rest of its
/// burst: short, since the key that caused it was pressed a moment ago.
const AWAITED_GATHER: Duration = Duration::from_millis(2);

/// How often the clock may change what is on screen (times are shown to the second).
const CLOCK_TICK: Duration = Duration::from_secs(1);
/// A change the clock made waits this much longer than [`CLOCK_TICK`] after the last frame
/// for a frame drawn for news, which shows it too: with samples every second, the clock
/// draws no frames of its own.
const CLOCK_SLACK: Duration = Duration::from_millis(60);

/// When news that arrived `now` is drawn: after [`NEWS_GATHER`], and no sooner than an
/// interval after the previous frame drawn for news (samples that come later than their
/// round are drawn with the next round).
fn news_frame_at(now: Instant, last_news_frame: Option<Instant>, interval: Duration) -> Instant {
    let gathered = now + NEWS_GATHER;
    match last_news_frame {
        Some(last) => gathered.max(last + interval),
        None => gathered,
    }
}

/// When a change the clock made at `now` is drawn, the last frame drawn at `last_frame`: at
/// once when no frame came for a [`CLOCK_TICK`], else at most [`CLOCK_SLACK`] after a tick
/// from that frame (a frame for news before then shows it, and cancels this one).
fn clock_frame_at(now: Instant, last_frame: Instant) -> Instant {
    if now >= last_frame + CLOCK_TICK {
        now
    } else {
        last_frame + CLOCK_TICK + CLOCK_SLACK
    }
}

/// Restores the terminal when dropped, whatever path leaves the loop (and gives the mouse
/// back when it was taken).
struct TerminalGuard {
    mouse: bool,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        give_back(self.mouse);
    }
}

/// Bracketed paste: a pasted text comes as one event, so its line breaks never submit.
fn enable_paste() -> std::io::Result<()> {
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste)
}

/// Hands the terminal back as it was: no mouse capture (when it was taken), no bracketed
/// paste, cooked mode, the normal screen.
fn give_back(mouse: bool) {
    if mouse {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    }
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
}

/// Runs the dashboard until the user quits or a signal arrives.
pub async fn run(
    watchlist: Watchlist,
    options: WatchOptions,
    interval: Duration,
    read_only: bool,
    keys: Keymap,
    theme: Theme,
    mouse: bool,
) -> anyhow::Result<()> {
    let targets: Vec<Target> = watchlist.vms.iter().map(|(t, _)| t.clone()).collect();
    let names = targets.iter().map(ToString::to_string).collect();
    let mut model = Model::new(names, interval, read_only);
    model.keys = keys;
    for (vm, (target, name)) in model.vms.iter_mut().zip(&watchlist.vms) {
        vm.configured_name = name.clone();
        vm.controls_off = crate::collect::session::controls_off(target, options.allow_control);
    }
    if watchlist.discover.is_some() {
        model.view = crate::app::View::Fleet;
    }
    if let Some(note) = watchlist.notes.first() {
        model.note(note);
    }
    let (history_path, history) = crate::monitor::history::load_default();
    model.restore_history(history_path, history);
    let mut collectors = Collectors::start(&targets, &options, interval);
    let (changes_tx, mut changes) = mpsc::unbounded_channel();
    let (problems_tx, mut problems) = mpsc::unbounded_channel();
    if let Some(dir) = watchlist.discover.clone() {
        tokio::spawn(discover::run(dir, changes_tx, problems_tx));
    }
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing a SIGHUP handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut quit = signal(SignalKind::quit()).context("installing a SIGQUIT handler")?;
    let mut stop = signal(SignalKind::from_raw(signal_hook::consts::SIGTSTP))
        .context("installing a SIGTSTP handler")?;
    let mut resumed = signal(SignalKind::from_raw(signal_hook::consts::SIGCONT))
        .context("installing a SIGCONT handler")?;
    let mut terminal = crate::ui::screen::init().context("setting up the terminal")?;
    let _guard = TerminalGuard { mouse };
    enable_paste().context("setting up the terminal")?;
    if mouse {
        crossterm::execute!(std::io::stdout(), EnableMouseCapture)
            .context("setting up the terminal")?;
    }
    if std::env::var_os("QEMU_DASH_TEST_PANIC").is_some() {
        // Lets the test suite check that a panic hands the terminal back in a sane state.
        panic!("panic forced by QEMU_DASH_TEST_PANIC");
    }
    let mut log_reports = options.event_log.as_ref().and_then(|log| log.reports());
    let mut keys = input::Input::start().context("reading the terminal")?;
    let mut tick = tokio::time::interval(CLOCK_TICK);
    let mut dirty = true;
    // What the clock alone changes on screen, as of the last frame (see `ui::clock_text`).
    let mut clock_text_drawn = String::new();
    // When the last frame was drawn, and when a change the clock made waits to be drawn.
    let mut last_frame = Instant::now();
    let mut clock_frame: Option<Instant> = None;
    // News not drawn yet waits for this moment; `None` when there is none.
    let mut news_frame: Option<Instant> = None;
    // The last frame drawn for routine news only: the twice-per-interval cap counts those.
    let mut last_news_frame: Option<Instant> = None;
    // The news waiting for `news_frame` includes something a user waits for.
    let mut pending_awaited = false;
    loop {
        if news_frame.is_some_and(|at| at <= Instant::now())
            || clock_frame.is_some_and(|at| at <= Instant::now())
        {
            dirty = true;
        }
        if dirty {
            let now = Instant::now();
            let frame = crate::ui::screen::draw(&mut terminal, |frame| {
                crate::ui::render(frame, &model, now, &theme)
            })
            .context("drawing the dashboard")?;
            model.page_rows = crate::ui::page_rows(&model, frame.area, now);
            clock_text_drawn = crate::ui::clock_text(&model, now);
            last_frame = now;
            clock_frame = None;
            dirty = false;
            if news_frame.take().is_some() && !std::mem::take(&mut pending_awaited) {
                last_news_frame = Some(now);
            }
        }
        tokio::select! {
            () = sleep_until(news_frame) => {}
            () = sleep_until(clock_frame) => {}
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(key))) if is_suspend(&key) => {
                    suspend(&mut terminal, mouse)?;
                    dirty = true;
                }
                Some(Ok(TermEvent::Key(key))) => {
                    // Behind the too-small screen only quitting acts (the key table's
                    // `too_small` rows): nothing happens unseen.
                    let size = terminal.size().context("reading the terminal size")?;
                    let too_small = crate::ui::too_small(size.width, size.height);
                    let context = if too_small {
                        KeyContext::TooSmall
                    } else {
                        model.key_context()
                    };
                    let action = model.keys.action_for(context, key);
                    if too_small && action.is_none() && key.kind != KeyEventKind::Release {
                        model.ignored_keys += 1;
                        dirty = true;
                    } else if let Some(action) = action {
                        let effects = model.act(action, Instant::now());
                        collectors.run_effects(effects);
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Mouse(event))) => {
                    let size = terminal.size().context("reading the terminal size")?;
                    let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    if let Some(pointer) =
                        crate::ui::pointer_for(&model, area, Instant::now(), event)
                    {
                        let action = crate::app::keymap::Action::Pointer(pointer);
                        let effects = model.act(action, Instant::now());
                        collectors.run_effects(effects);
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Paste(text))) => {
                    model.paste(&text);
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(..))) => {
                    model.ignored_keys = 0;
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("reading the terminal"),
                None => break,
            },
            news = collectors.next_news() => {
                let Some(news) = news else { break };
                let now = Instant::now();
                let mut awaited = model.awaits(&news);
                model.apply(news, now);
                // Take everything already queued before drawing once, so a flood of events
                // costs one frame, not one per event.
                while let Some(more) = collectors.try_next_news() {
                    awaited |= model.awaits(&more);
                    model.apply(more, now);
                }
                // What a user waits for (the STOP after `p`, a command's result, the state
                // the next poll reads) is drawn once its burst is gathered; routine samples
                // keep the once-per-interval cap.
                pending_awaited |= awaited;
                let at = if awaited {
                    now + AWAITED_GATHER
                } else {
                    news_frame_at(now, last_news_frame, model.interval)
                };
                news_frame = Some(news_frame.map_or(at, |pending| pending.min(at)));
            }
            Some(change) = changes.recv() => {
                crate::runtime::apply_dir_change(&mut model, &mut collectors, &watchlist, change);
                dirty = true;
            }
            Some(problem) = problems.recv() => {
                model.say_everywhere(crate::app::Message::error(problem));
                dirty = true;
            }
            Some(report) = crate::collect::eventlog::next_report(&mut log_reports) => {
                model.say_everywhere(if report.is_error {
                    crate::app::Message::error(report.text)
                } else {
                    crate::app::Message::info(report.text)
                });
                dirty = true;
            }
            _ = tick.tick() => {
                // Drawn only when the tick said something, or changed what the clock shows
                // (a time in state, an uptime, a message that expired): then with the next
                // frame for news, or on its own when none comes within a second.
                let now = Instant::now();
                if model.tick(now) {
                    dirty = true;
                } else if clock_frame.is_none()
                    && crate::ui::clock_text(&model, now) != clock_text_drawn
                {
                    clock_frame = Some(clock_frame_at(now, last_frame));
                }
            }
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
            _ = interrupt.recv() => break,
            _ = quit.recv() => break,
            _ = stop.recv() => {
                suspend(&mut terminal, mouse)?;
                dirty = true;
            }
            _ = resumed.recv() => {
                retake(&mut terminal, mouse)?;
                dirty = true;
            }
        }
        if model.should_quit {
            break;
        }
    }
    Ok(())
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Ctrl-Z: in raw mode the terminal sends it as a key rather than a signal.
fn is_suspend(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('z') && key.modifiers.contains(KeyModifiers::CONTROL)
}

/// Gives the terminal back (normal screen, cooked mode, cursor) and stops the process, as a
/// shell expects of Ctrl-Z; once continued, takes the terminal again.
fn suspend(terminal: &mut crate::ui::screen::ScreenTerminal, mouse: bool) -> anyhow::Result<()> {
    give_back(mouse);
    let _ = terminal.show_cursor();
    // The backend sends what it queued (here, showing the cursor) when flushed.
    let _ = ratatui::backend::Backend::flush(terminal.backend_mut());
    // SIGSTOP rather than SIGTSTP, whose handler is ours: the shell sees the job stopped.
    signal_hook::low_level::raise(signal_hook::consts::SIGSTOP).context("stopping the process")?;
    retake(terminal, mouse)
}

/// After a stop, by Ctrl-Z or by a SIGSTOP from elsewhere: the shell may have put the terminal
/// in cooked mode and written over the screen. Raw mode, the alternate screen, a blank screen,
/// and the next frame draws every cell.
fn retake(terminal: &mut crate::ui::screen::ScreenTerminal, mouse: bool) -> anyhow::Result<()> {
    use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen};
    // crossterm does nothing when asked for raw mode it believes is on: switch it off first.
    let _ = crossterm::terminal::disable_raw_mode();
    crossterm::terminal::enable_raw_mode().context("setting up the terminal again")?;
    // Not `terminal.clear()`: it asks the terminal where the cursor is, which needs an answer
    // on stdin while the key reader owns it.
    crossterm::execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        crossterm::event::EnableBracketedPaste,
        Clear(ClearType::All)
    )
    .context("setting up the terminal again")?;
    if mouse {
        crossterm::execute!(std::io::stdout(), EnableMouseCapture)
            .context("setting up the terminal again")?;
    }
    // Blank, like the screen: the next frame is drawn in full.
    terminal.backend_mut().screen_cleared();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_is_gathered_and_drawn_at_most_once_per_interval() {
        let start = Instant::now();
        let interval = Duration::from_millis(250);
        assert_eq!(news_frame_at(start, None, interval), start + NEWS_GATHER);
        let after_frame = start + Duration::from_millis(10);
        assert_eq!(
            news_frame_at(after_frame, Some(start), interval),
            start + interval,
            "news right after a frame waits for the next interval"
        );
        let later = start + Duration::from_secs(3);
        assert_eq!(
            news_frame_at(later, Some(start), interval),
            later + NEWS_GATHER
        );
    }

    #[test]
    fn the_clock_draws_only_when_no_frame_came_for_a_second() {
        let frame = Instant::now();
        let soon = frame + Duration::from_millis(400);
        assert_eq!(
            clock_frame_at(soon, frame),
            frame + CLOCK_TICK + CLOCK_SLACK,
            "a frame for news due within the second shows the clock too"
        );
        let late = frame + Duration::from_millis(1500);
        assert_eq!(clock_frame_at(late, frame), late);
    }
}
