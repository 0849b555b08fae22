//! The interactive terminal: sets the terminal up, runs the event loop, and restores the
//! terminal on every exit path (normal, error, panic, SIGTERM, SIGHUP).
//!
//! The loop owns the [`Model`]: it waits on keys, background news and a one-second tick,
//! applies them, and redraws only when something changed.

use crate::app::Model;
use crate::app::keymap::action_for;
use crate::collect::discover::{self, DirChange};
use crate::collect::watch::WatchOptions;
use crate::qmp::Target;
use crate::runtime::{Collectors, Watchlist};
use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Restores the terminal when dropped, whatever path leaves the loop.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the dashboard until the user quits or a signal arrives.
pub async fn run(
    watchlist: Watchlist,
    options: WatchOptions,
    interval: Duration,
    read_only: bool,
) -> anyhow::Result<()> {
    let targets: Vec<Target> = watchlist.vms.iter().map(|(t, _)| t.clone()).collect();
    let names = targets.iter().map(ToString::to_string).collect();
    let mut model = Model::new(names, interval, read_only);
    for (vm, (_, name)) in model.vms.iter_mut().zip(&watchlist.vms) {
        vm.configured_name = name.clone();
    }
    if watchlist.discover.is_some() {
        model.view = crate::app::View::Fleet;
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
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let _guard = TerminalGuard;
    if std::env::var_os("QEMU_DASH_TEST_PANIC").is_some() {
        // Lets the test suite check that a panic hands the terminal back in a sane state.
        panic!("panic forced by QEMU_DASH_TEST_PANIC");
    }
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    loop {
        if dirty {
            let now = Instant::now();
            terminal
                .draw(|frame| crate::ui::render(frame, &model, now))
                .context("drawing the dashboard")?;
            dirty = false;
        }
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(key))) => {
                    if let Some(action) = action_for(model.key_context(), key) {
                        let effects = model.act(action, Instant::now());
                        collectors.run_effects(effects);
                        dirty = true;
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).context("reading the terminal"),
                None => break,
            },
            news = collectors.events.recv() => {
                let Some(news) = news else { break };
                let now = Instant::now();
                model.apply(news, now);
                // Take everything already queued before drawing once, so a flood of events
                // costs one frame, not one per event.
                while let Ok(more) = collectors.events.try_recv() {
                    model.apply(more, now);
                }
                dirty = true;
            }
            Some(change) = changes.recv() => {
                apply_dir_change(&mut model, &mut collectors, &watchlist, change);
                dirty = true;
            }
            Some(problem) = problems.recv() => {
                model.say(crate::app::Message::error(problem));
                dirty = true;
            }
            _ = tick.tick() => {
                model.tick(Instant::now());
                dirty = true;
            }
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
        }
        if model.should_quit {
            break;
        }
    }
    Ok(())
}

/// Adds a socket that appeared in the discovery directory, or drops one that vanished.
fn apply_dir_change(
    model: &mut Model,
    collectors: &mut Collectors,
    watchlist: &Watchlist,
    change: DirChange,
) {
    match change {
        DirChange::Appeared(path) => {
            let target = Target::Unix(path);
            let text = target.to_string();
            if model.vms.iter().any(|vm| !vm.removed && vm.target == text) {
                return;
            }
            let vm = model.add_vm(text.clone());
            model.vms[vm].configured_name = watchlist.config.name_of(&text);
            let collector = collectors.add(target);
            debug_assert_eq!(vm, collector, "model and collectors number VMs alike");
        }
        DirChange::Vanished(path) => {
            let text = Target::Unix(path).to_string();
            let found = model
                .vms
                .iter()
                .position(|vm| !vm.removed && vm.target == text);
            if let Some(vm) = found {
                model.remove_vm(vm);
                collectors.stop(vm);
            }
        }
    }
}
