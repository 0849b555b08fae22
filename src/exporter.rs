//! `qemu-dash exporter`: the watched VMs' figures as Prometheus metrics on `/metrics`.
//!
//! The same collectors and model as the dashboard and batch mode: one connection per VM,
//! events counted as they arrive, one loop that owns the model. A scrape asks that loop for
//! the metrics ([`metrics::families`]), which it builds from the model as it stands, so a
//! scrape never waits on a VM (a slow or hung VM shows as `qemu_up 0` with its reason and the
//! age of its last poll, never as fresh figures) and never blocks a collector. The HTTP side
//! ([`http`]) only passes requests and answers along.

mod http;
mod metrics;

use crate::app::Model;
use crate::cli::ExporterArgs;
use crate::collect::discover;
use crate::qmp::Target;
use crate::runtime::{Collectors, Setup, apply_dir_change};
use anyhow::Context;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

pub use metrics::{Family, Kind, families};

/// A scrape's request to the loop: the reply carries the encoded metrics.
type ScrapeRequest = oneshot::Sender<String>;

/// Serves metrics for the args' targets until SIGINT or SIGTERM.
pub async fn run(args: ExporterArgs) -> anyhow::Result<()> {
    // The exporter only watches: collectors send nothing but queries.
    let Setup {
        watchlist,
        options,
        interval,
        ..
    } = Setup::from_args(&args.watch, true)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "qemu-dash: warning: serving metrics on {} beyond this machine: they name VMs, disks \
             and image files",
            args.listen
        );
    }
    let stale_after = metrics::stale_after(interval, options.connect.command_timeout);
    let targets: Vec<Target> = watchlist.vms.iter().map(|(t, _)| t.clone()).collect();
    let names = targets.iter().map(ToString::to_string).collect();
    let mut model = Model::new(names, interval, true);
    for (vm, (_, name)) in model.vms.iter_mut().zip(&watchlist.vms) {
        vm.configured_name = name.clone();
    }
    let mut collectors = Collectors::start(&targets, &options, interval);
    let (changes_tx, mut changes) = mpsc::unbounded_channel();
    let (problems_tx, mut problems) = mpsc::unbounded_channel();
    if let Some(dir) = watchlist.discover.clone() {
        tokio::spawn(discover::run(dir, changes_tx, problems_tx));
    }
    let (scrapes_tx, mut scrapes) = mpsc::channel::<ScrapeRequest>(64);
    let server = tokio::spawn(http::serve(listener, scrapes_tx));
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut log_reports = options.event_log.as_ref().and_then(|log| log.reports());
    eprintln!(
        "qemu-dash: serving metrics of {} VM(s) on http://{}/metrics",
        model.vms.len(),
        args.listen
    );
    loop {
        tokio::select! {
            news = collectors.next_news() => {
                let Some(news) = news else { break };
                model.apply(news, Instant::now());
            }
            Some(reply) = scrapes.recv() => {
                let text = metrics::encode(families(&model, Instant::now(), stale_after));
                let _ = reply.send(text);
            }
            Some(change) = changes.recv() => {
                apply_dir_change(&mut model, &mut collectors, &watchlist, change);
            }
            Some(problem) = problems.recv() => {
                eprintln!("qemu-dash: {}", crate::safe_text::for_terminal(&problem));
            }
            Some(report) = crate::collect::eventlog::next_report(&mut log_reports) => {
                eprintln!("qemu-dash: {}", crate::safe_text::for_terminal(&report.text));
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    server.abort();
    match &options.event_log {
        Some(log) => log
            .close(crate::collect::eventlog::CLOSE_PATIENCE)
            .map_err(anyhow::Error::from),
        None => Ok(()),
    }
}

/// How long a scrape may wait for the loop before it is answered with an error (the loop only
/// stalls if something is badly wrong; a scrape must still end).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
