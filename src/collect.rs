//! Collection: everything that gathers data about a VM in the background.
//!
//! Tasks here never touch the dashboard's model; they send [`AppEvent`](crate::news::AppEvent)s
//! over the news channel and the app loop applies them. [`watch`] runs one VM's connection
//! (with reconnect), its [`poller`] and its [`listener`]; [`host`] samples `/proc`; [`rates`]
//! turns cumulative counters into per-second rates.

pub mod discover;
pub mod eventlog;
mod host;
mod listener;
mod poller;
mod presets;
mod rates;
pub mod watch;

pub use presets::Preset;
