//! `--event-log FILE`: every QMP event appended to a file as one JSON line the moment it is
//! read, with the VM's target and name and the local time, and flushed.
//!
//! It runs as the connection's event tap (on the reader task, before any subscriber), so no
//! event is lost however busy the UI is or however slow the terminal.

use crate::qmp::Event;
use crate::qmp::connection::EventTap;
use anyhow::Context;
use chrono::{Local, TimeZone};
use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// An open event log file, shared by every watched VM.
#[derive(Debug)]
pub struct EventLog {
    file: Mutex<BufWriter<File>>,
}

/// The VM's `-name`, learnt after connecting; shared with its tap.
pub type NameSlot = Arc<Mutex<Option<String>>>;

impl EventLog {
    /// Opens `path` for appending (creating it).
    pub fn open(path: &Path) -> anyhow::Result<Arc<EventLog>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the event log {}", path.display()))?;
        Ok(Arc::new(EventLog {
            file: Mutex::new(BufWriter::new(file)),
        }))
    }

    /// Appends one event and flushes. Write errors are logged, never fatal.
    pub fn append(&self, target: &str, name: Option<&str>, event: &Event) {
        let qemu_time = Local
            .timestamp_opt(
                event.timestamp.0,
                (event.timestamp.1.clamp(0, 999_999) * 1000) as u32,
            )
            .single()
            .map(|t| t.to_rfc3339());
        let line = json!({
            "time": Local::now().to_rfc3339(),
            "qemu_time": qemu_time,
            "target": target,
            "name": name,
            "event": event.name,
            "data": event.data,
        });
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let written = writeln!(file, "{line}").and_then(|_| file.flush());
        if let Err(error) = written {
            tracing::error!(%error, "cannot write the event log");
        }
    }

    /// A tap that appends a VM's events, naming it by `target` and the name in `name`.
    pub fn tap(self: &Arc<Self>, target: String, name: NameSlot) -> EventTap {
        let log = self.clone();
        Arc::new(move |event: &Event| {
            let name = name.lock().unwrap_or_else(PoisonError::into_inner).clone();
            log.append(&target, name.as_deref(), event);
        })
    }
}
