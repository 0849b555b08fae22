//! qemu-dash: a terminal dashboard for running QEMU virtual machines, over QMP.
//!
//! The library holds everything; `main.rs` only parses the command line and calls [`watch`]
//! or a subcommand. [`qmp`] speaks the protocol, [`collect`] gathers figures in background
//! tasks, [`app`] owns the model and its updates, [`ui`] draws it, [`tui`] runs the terminal,
//! [`batch`] prints JSON lines instead, [`snapshot`] lists, checks and runs internal
//! snapshots, [`monitor`] runs the console, media, network, migration and hot-plug commands,
//! [`demo`] starts a throwaway VM, [`ssh`] reaches VMs on other hosts.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod batch;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod exporter;
pub mod format;
pub mod libvirt;
pub mod monitor;
pub mod news;
pub mod qmp;
pub mod runtime;
pub mod safe_text;
pub mod snapshot;
pub mod ssh;
pub mod tui;
pub mod ui;

use anyhow::bail;

/// Watches the command line's targets, in the terminal UI or in batch mode.
pub async fn watch(cli: cli::Cli) -> anyhow::Result<()> {
    let setup = runtime::Setup::from_args(&cli.watch, cli.read_only || cli.batch)?;
    let theme = ui::theme::Theme::new(setup.config.theme, ui::theme::no_color_requested());
    let keymap = app::keymap::Keymap::parse(&setup.config.keys)
        .map_err(|error| setup.config.error_in("[keys]", error))?;
    let read_only = cli.read_only || setup.config.read_only.unwrap_or(false);
    let mouse = !cli.no_mouse && setup.config.mouse.unwrap_or(true);
    let runtime::Setup {
        mut watchlist,
        mut options,
        interval,
        ..
    } = setup;
    let event_log = options.event_log.clone();
    let result = if cli.batch {
        watchlist.add_discovered_now(&mut options).await?;
        if watchlist.vms.is_empty() {
            bail!("no QMP sockets to watch");
        }
        batch::run(watchlist, options, interval, cli.count).await
    } else {
        tui::run(
            watchlist, options, interval, read_only, keymap, theme, mouse,
        )
        .await
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
