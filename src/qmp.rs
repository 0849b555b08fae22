//! The QMP protocol: connecting to QEMU, negotiating, sending commands and receiving events.
//!
//! This module owns everything that touches the QMP socket and nothing else: it never imports
//! ratatui or crossterm and knows nothing about the dashboard. [`Client`] is the entry point;
//! [`types`] holds lenient decodings of the `query-*` replies the dashboard uses.

pub mod abilities;
pub mod capped;
pub mod client;
pub mod connection;
pub mod fanout;
pub mod framing;
pub mod hmp;
pub mod message;
pub mod target;
pub mod types;

pub use abilities::{Abilities, Dialect};
pub use client::{Client, ConnectOptions};
pub use connection::{EventTap, Notice};
pub use message::{Event, Greeting, QemuVersion, QmpError};
pub use target::Target;
