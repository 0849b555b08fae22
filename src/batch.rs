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

use crate::app::{Model, Vm};
use crate::collect::watch::WatchOptions;
use crate::collect::{AppEvent, EventRecord};
use crate::qmp::Target;
use crate::runtime::{Collectors, Watchlist};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

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
    loop {
        let news = tokio::select! {
            news = collectors.events.recv() => match news {
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
        let vm = crate::runtime::vm_of(&news);
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
        let line = batch_line(vm_state, std::mem::take(pending), std::mem::take(missed));
        let mut out = stdout.lock();
        let written = writeln!(out, "{}", crate::safe_text::json_line(&line.to_string()))
            .and_then(|_| out.flush());
        match written {
            Ok(()) => {}
            // The reader went away (`| head`): nothing more to say, and nobody to say it to.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(error) => return Err(error).context("writing to stdout"),
        }
        if news_kind == NewsKind::Sample {
            printed[vm] += 1;
        }
        if count.is_some_and(|n| printed.iter().all(|&p| p >= n)) {
            break;
        }
    }
    Ok(())
}

/// The JSON object for one VM at one poll, with the events since the previous line and how
/// many more were lost to a burst (`events_missed`). Field names are documented in README.md.
pub fn batch_line(vm: &Vm, events: Vec<EventRecord>, events_missed: u64) -> Value {
    let status = vm.status.as_ref();
    let media = vm.media();
    let now = Instant::now();
    json!({
        "time": chrono::Local::now().to_rfc3339(),
        "target": vm.target,
        "name": vm.configured_name.as_ref().or(vm.name.as_ref()),
        "qemu_version": vm.version.as_ref().map(ToString::to_string),
        "state": vm.state_word(),
        "not_answering_for_s": vm.not_answering_for(now).map(|d| d.as_secs_f64()),
        "figures_age_s": vm.stale_age(now).map(|d| d.as_secs_f64()),
        "accelerator": vm.machine.accelerator,
        "machine": vm.machine.machine,
        "cpu_model": vm.machine.cpu_model,
        "qemu_pid": vm.qemu_pid,
        "qemu_uptime_s": vm.qemu_uptime_now(now).map(|d| d.as_secs_f64()),
        "status": status.map(|s| s.status.clone()),
        "running": status.map(|s| s.running),
        "vcpus": vm.vcpus,
        "host": {
            "process_cpu_percent": vm.process_cpu_percent,
            "rss_bytes": vm.rss_bytes,
            "problem": vm.host_problem,
        },
        "memory": vm.memory,
        "blocks": vm.blocks.iter().map(|row| {
            let medium = media.of(&row.sample);
            json!({
                "device": row.sample.device,
                "node_name": row.sample.node_name,
                "qdev": row.sample.qdev,
                "file": medium.map(|m| m.file.clone()),
                "format": medium.map(|m| m.drv.clone()),
                "io_status": media.info_of(&row.sample).and_then(|i| i.io_status.clone()),
                "io_errors": media.io_errors(&row.sample),
                "totals": row.sample.totals,
                "rates": row.sample.rates,
            })
        }).collect::<Vec<_>>(),
        "events": events.iter().map(|e| json!({
            "time": e.time.to_rfc3339(),
            "event": e.name,
            "text": e.text,
            "data": e.data,
        })).collect::<Vec<_>>(),
        "events_missed": events_missed,
        "events_total": vm.events_total,
        "poll_problem": vm.problem,
    })
}
