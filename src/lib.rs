//! qemu-dash: a terminal dashboard for running QEMU virtual machines, over QMP.
//!
//! The library holds everything; `main.rs` only parses the command line and calls [`watch`]
//! or a subcommand. [`qmp`] speaks the protocol, [`collect`] gathers figures in background
//! tasks, [`app`] owns the model and its updates, [`ui`] draws it, [`tui`] runs the terminal,
//! [`batch`] prints JSON lines instead, [`demo`] starts a throwaway VM.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod batch;
pub mod cli;
pub mod collect;
pub mod demo;
pub mod format;
pub mod qmp;
pub mod runtime;
pub mod tui;
pub mod ui;

use anyhow::bail;
use std::time::Duration;

/// Watches the command line's targets, in the terminal UI or in batch mode.
pub async fn watch(cli: cli::Cli) -> anyhow::Result<()> {
    if cli.targets.is_empty() {
        bail!(
            "no target given. Usage: qemu-dash TARGET (a QMP socket: PATH, unix:PATH or tcp:HOST:PORT), \
             or `qemu-dash demo` to start a throwaway VM and watch it"
        );
    }
    let targets = runtime::parse_targets(&cli.targets)?;
    for target in targets.iter().filter(|t| t.is_remote_tcp()) {
        eprintln!(
            "qemu-dash: warning: {target} is not on this machine; QMP has no authentication or \
             encryption, so anyone who can reach that port controls the VM"
        );
    }
    let options = collect::watch::WatchOptions {
        connect: qmp::ConnectOptions {
            greeting_timeout: Duration::from_secs_f64(cli.greeting_timeout.max(0.1)),
            command_timeout: Duration::from_secs_f64(cli.command_timeout.max(0.1)),
            ..Default::default()
        },
        pid: cli.pid,
        event_log: cli
            .event_log
            .as_deref()
            .map(collect::eventlog::EventLog::open)
            .transpose()?,
    };
    let interval = Duration::from_secs_f64(cli.interval);
    if cli.batch {
        batch::run(targets, options, interval, cli.count).await
    } else {
        tui::run(targets, options, interval, cli.read_only).await
    }
}
