//! Decoded QMP events as the event log keeps them: plain, bounded data. Decoding a QMP event
//! into a record is `collect::listener`'s work.

use crate::qmp::capped;
use chrono::{DateTime, Local};
use serde::Serialize;
use serde_json::Value;

/// The longest text a record keeps, in bytes.
pub const TEXT_BYTES: usize = 1024;

/// What an event is about, for colour and filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Run state changes: STOP, RESUME, RESET, SUSPEND, WAKEUP, POWERDOWN.
    Lifecycle,
    /// SHUTDOWN.
    Shutdown,
    /// Errors: I/O errors, guest panics.
    Error,
    /// Jobs and block jobs.
    Job,
    /// Devices: tray, balloon, hot-plug.
    Device,
    /// Migration.
    Migration,
    /// Anything else, and notes from qemu-dash itself (connection changes).
    Other,
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// When it happened (QEMU's timestamp), local time.
    pub time: DateTime<Local>,
    /// The QMP event name, or "qemu-dash" for the dashboard's own notes.
    pub name: String,
    /// The category.
    pub kind: EventKind,
    /// A readable sentence.
    pub text: String,
    /// The raw data (cut when it was read, if it was too big).
    pub data: Value,
    /// Bytes of the event not kept (of its data, name or text); 0 when it is whole.
    pub cut_bytes: u64,
}

impl EventRecord {
    /// A note from the dashboard itself (connection lost, reconnected...).
    pub fn note(text: impl Into<String>) -> EventRecord {
        EventRecord {
            time: Local::now(),
            name: "qemu-dash".to_string(),
            kind: EventKind::Other,
            text: text.into(),
            data: Value::Null,
            cut_bytes: 0,
        }
    }

    /// About what the record takes in memory.
    pub fn cost(&self) -> usize {
        std::mem::size_of::<EventRecord>()
            + self.name.len()
            + self.text.len()
            + capped::cost(&self.data)
    }
}
