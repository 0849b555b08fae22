//! Collection: everything that gathers data about a VM in the background.
//!
//! Tasks here never touch the dashboard's model; they send [`AppEvent`](crate::news::AppEvent)s
//! over the news channel and the app loop applies them. [`session`] runs one VM's connection
//! (with reconnect), its poller and its event listener; `host` samples `/proc`; `rates` turns
//! cumulative counters into per-second rates; [`discover`] finds sockets in folders and
//! through VM managers' presets ([`Preset`]); [`eventlog`] appends events to a file.

pub mod discover;
pub mod eventlog;
mod host;
mod listener;
mod poller;
mod presets;
mod rates;
pub mod session;

pub use presets::Preset;
