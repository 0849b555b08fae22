//! Batch mode: the same collectors and model as the dashboard, printed as JSON lines.
//!
//! One object per VM per poll on stdout, with the figures the screen shows and the events
//! since that VM's previous line. A target that cannot be reached, a connection that drops,
//! or a poll that fails (a timeout, a malformed reply) ends the run with a non-zero exit and
//! one clear line on stderr: a script must not mistake stale figures for live ones. So does an
//! `--event-log` file that stops taking events. Before a timeout, a poll that waits a whole
//! interval prints a line whose `state` is "not answering", with `not_answering_for_s` and the
//! age of the (stale) figures. A closed stdout (`qemu-dash --batch | head`) ends the run
//! quietly with status 0, as Unix tools do.
//!
//! Lines are written from borrowed structs by [`line::BatchLine::write`] into one buffer, and
//! the buffer is written once the news that arrived together has been handled: one write per
//! poll burst, not per line.

use crate::app::Model;
use crate::collect::session::WatchOptions;
use crate::news::{AppEvent, EventRecord};
use crate::qmp::Target;
use crate::runtime::{Collectors, Watchlist};
use anyhow::{Context, bail};
use std::io::Write;
use std::time::{Duration, Instant};

mod json;
mod line;

use line::batch_line;

/// What a piece of news means for the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewsKind {
    /// A poll's figures: a line, counted.
    Sample,
    /// QEMU has not answered a poll for an interval: a line, not counted.
    Silence,
    /// Anything else: no line.
    Other,
}

/// Prints `count` answered polls per VM (forever when `None`), plus a line for each interval
/// QEMU leaves a poll unanswered.
pub async fn run(
    watchlist: Watchlist,
    options: WatchOptions,
    interval: Duration,
    count: Option<u64>,
) -> anyhow::Result<()> {
    let targets: Vec<Target> = watchlist.vms.iter().map(|(t, _)| t.clone()).collect();
    let names: Vec<String> = targets.iter().map(ToString::to_string).collect();
    let mut model = Model::new(names.clone(), interval, true);
    for (vm, (_, name)) in model.vms.iter_mut().zip(&watchlist.vms) {
        vm.configured_name = name.clone();
    }
    let mut collectors = Collectors::start(&targets, &options, interval);
    let mut pending_events: Vec<Vec<EventRecord>> = vec![Vec::new(); targets.len()];
    let mut missed = vec![0u64; targets.len()];
    let mut printed = vec![0u64; targets.len()];
    let mut log_reports = options.event_log.as_ref().and_then(|log| log.reports());
    let stdout = std::io::stdout();
    // Lines waiting for the write at the end of this burst of news.
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        if !out.is_empty() && collectors.no_news_waiting() {
            match write_out(&stdout, &mut out) {
                Ok(()) => {}
                // The reader went away (`| head`): nothing more to say, and nobody to say it to.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(error) => return Err(error).context("writing to stdout"),
            }
        }
        let news = tokio::select! {
            news = collectors.next_news() => match news {
                Some(news) => news,
                None => break,
            },
            Some(report) = crate::collect::eventlog::next_report(&mut log_reports) => {
                if report.is_error {
                    bail!("{}", report.text);
                }
                continue;
            }
        };
        let vm = news.vm();
        match &news {
            AppEvent::Disconnected { reason, .. } => {
                // Say how the VM ended when QEMU said so (SHUTDOWN) before the socket closed.
                let ended = model
                    .vms
                    .get(vm)
                    .and_then(|v| v.ending.as_ref())
                    .map(|e| format!("{} at {}; ", e.describe(), e.at.format("%H:%M:%S")))
                    .unwrap_or_default();
                bail!(
                    "{}: {ended}{reason}",
                    names.get(vm).map_or("?", String::as_str)
                );
            }
            AppEvent::Problem { text, .. } => {
                bail!("{}: {text}", names.get(vm).map_or("?", String::as_str));
            }
            AppEvent::Event { record, .. } => {
                if let Some(pending) = pending_events.get_mut(vm) {
                    pending.push(record.clone());
                }
            }
            AppEvent::EventsMissed { count, .. } => {
                if let Some(missed) = missed.get_mut(vm) {
                    *missed += count;
                }
            }
            _ => {}
        }
        // A poll QEMU has not answered for an interval gets a line too, saying so; only
        // answered polls count towards -n.
        let news_kind = match &news {
            AppEvent::Sample { .. } => NewsKind::Sample,
            AppEvent::NotAnswering { .. } => NewsKind::Silence,
            _ => NewsKind::Other,
        };
        model.apply(news, Instant::now());
        if news_kind == NewsKind::Other {
            continue;
        }
        let (Some(vm_state), Some(pending), Some(missed)) = (
            model.vms.get(vm),
            pending_events.get_mut(vm),
            missed.get_mut(vm),
        ) else {
            continue;
        };
        let events = std::mem::take(pending);
        let line = batch_line(vm_state, &events, std::mem::take(missed));
        let start = out.len();
        line.write(&mut out).context("formatting a line")?;
        // What could drive a terminal is escaped (a line may end up on one).
        if let Some(text) = out.get(start..).and_then(|l| std::str::from_utf8(l).ok())
            && let std::borrow::Cow::Owned(safe) = crate::safe_text::json_line(text)
        {
            out.truncate(start);
            out.extend_from_slice(safe.as_bytes());
        }
        out.push(b'\n');
        if news_kind == NewsKind::Sample {
            printed[vm] += 1;
        }
        if count.is_some_and(|n| printed.iter().all(|&p| p >= n)) {
            break;
        }
    }
    match write_out(&stdout, &mut out) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("writing to stdout")
        }
        _ => Ok(()),
    }
}

/// Writes and empties `out` in one write.
fn write_out(stdout: &std::io::Stdout, out: &mut Vec<u8>) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut lock = stdout.lock();
    let written = lock.write_all(out).and_then(|()| lock.flush());
    out.clear();
    written
}
