//! The QMP protocol: connecting to QEMU, negotiating, sending commands and receiving events.
//!
//! This module owns everything that touches the QMP socket and nothing else: it never imports
//! ratatui or crossterm and knows nothing about the dashboard. [`Client`] is the entry point;
//! [`types`] holds lenient decodings of the `query-*` replies the dashboard uses.

mod abilities;
pub mod capped;
mod client;
mod connection;
mod fanout;
mod framing;
mod hmp;
mod message;
mod target;
pub mod types;

pub use abilities::{Abilities, Dialect};
pub use client::{Client, ConnectOptions, Subscription};
pub use connection::{EventTap, Notice};
pub use message::{EVENT_DATA_BUDGET, Event, Greeting, QemuVersion, QmpError, RawJson, shorten};
pub use target::Target;
