//! qemu-dash: a terminal dashboard for running QEMU virtual machines, over QMP.
//!
//! The library holds everything; `main.rs` only parses the command line and calls [`watch`]
//! or a subcommand. [`qmp`] speaks the protocol, [`collect`] gathers figures in background
//! tasks, [`app`] owns the model and its updates, [`ui`] draws it, [`tui`] runs the terminal,
//! [`batch`] prints JSON lines instead, [`snapshot`] lists, checks and runs internal
//! snapshots, [`monitor`] runs the console, media, network, migration and hot-plug commands,
//! [`demo`] starts a throwaway VM.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod batch;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod format;
pub mod monitor;
pub mod qmp;
pub mod runtime;
pub mod safe_text;
pub mod snapshot;
pub mod tui;
pub mod ui;

use anyhow::bail;
use std::time::Duration;

/// Watches the command line's targets, in the terminal UI or in batch mode.
pub async fn watch(cli: cli::Cli) -> anyhow::Result<()> {
    let config = config::Config::load(cli.config.as_deref())?;
    ui::theme::set_monochrome(config.monochrome());
    app::keymap::rebind::install(config.key_overrides()?);
    let discover = cli.discover.clone().or_else(|| config.discover.clone());
    let targets: Vec<String> = if cli.targets.is_empty() && discover.is_none() {
        config.vm.iter().map(|entry| entry.target.clone()).collect()
    } else {
        cli.targets.clone()
    };
    if targets.is_empty() && discover.is_none() {
        bail!(
            "no target given. Usage: qemu-dash TARGET... (a QMP socket: PATH, unix:PATH or \
             tcp:HOST:PORT), qemu-dash --discover DIR, or `qemu-dash demo` to start a throwaway \
             VM and watch it"
        );
    }
    let parsed = runtime::parse_targets(&targets)?;
    for target in parsed.iter().filter(|t| t.is_remote_tcp()) {
        eprintln!(
            "qemu-dash: warning: {} is not on this machine; QMP has no authentication or \
             encryption, so anyone who can reach that port controls the VM",
            safe_text::for_terminal(&target.to_string())
        );
    }
    let (vms, notes) = runtime::dedupe_targets(
        parsed
            .into_iter()
            .zip(&targets)
            .map(|(target, text)| (target, config.name_of(text)))
            .collect(),
    );
    for note in &notes {
        eprintln!("qemu-dash: {}", safe_text::for_terminal(note));
    }
    let mut watchlist = runtime::Watchlist {
        vms,
        discover,
        config: config.clone(),
        notes,
    };
    let read_only = cli.read_only || config.read_only.unwrap_or(false);
    let event_log = cli
        .event_log
        .as_deref()
        .map(collect::eventlog::EventLog::open)
        .transpose()?;
    let options = collect::watch::WatchOptions {
        connect: qmp::ConnectOptions {
            greeting_timeout: cli.greeting_timeout,
            command_timeout: cli.command_timeout,
            ..Default::default()
        },
        pid: cli.pid,
        event_log: event_log.clone(),
        read_only: read_only || cli.batch,
    };
    let interval = cli
        .interval
        .or(config.interval()?)
        .unwrap_or(Duration::from_secs(1));
    let result = if cli.batch {
        watchlist.add_discovered_now()?;
        if watchlist.vms.is_empty() {
            bail!("no QMP sockets to watch");
        }
        batch::run(watchlist, options, interval, cli.count).await
    } else {
        tui::run(watchlist, options, interval, read_only).await
    };
    // The terminal is back to normal by now: finish the log, and say if events are missing
    // from it without a gap line saying so.
    if let Some(log) = event_log {
        let closed = log.close(collect::eventlog::CLOSE_PATIENCE);
        if let (Ok(()), Err(missing)) = (&result, closed) {
            bail!("{missing}");
        }
    }
    result
}
