//! Turns QMP events into readable records for the event log, and forwards them to the app.
//!
//! [`EventRecord::decode`] reads nothing but the event (the clock only for a timestamp the
//! local time zone cannot show): every known event gets a sentence, an unknown event shows
//! its name and data, so a newer QEMU's events still appear. A record is bounded: its data
//! was cut when it was read (see [`crate::qmp::EVENT_DATA_BUDGET`]), its text is cut
//! to [`TEXT_BYTES`], and what was cut is counted in [`EventRecord::cut_bytes`].

use crate::news::{AppEvent, EventKind, EventRecord, TEXT_BYTES, VmId};
use crate::qmp::capped;
use crate::qmp::{Event, Notice, Subscription};
use chrono::{Local, TimeZone};
use serde_json::Value;

fn text_of<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("?")
}

fn guest_or_host(data: &Value) -> &'static str {
    match data.get("guest").and_then(Value::as_bool) {
        Some(true) => "guest",
        Some(false) => "host",
        None => "unknown origin",
    }
}

impl EventRecord {
    /// Decodes a QMP event.
    pub fn decode(event: &Event) -> EventRecord {
        let data = &event.data;
        let (kind, text) = match event.name.as_str() {
            "SHUTDOWN" => (
                EventKind::Shutdown,
                format!(
                    "shutdown by the {} ({})",
                    guest_or_host(data),
                    text_of(data, "reason")
                ),
            ),
            "RESET" => (
                EventKind::Lifecycle,
                format!(
                    "reset by the {} ({})",
                    guest_or_host(data),
                    text_of(data, "reason")
                ),
            ),
            "POWERDOWN" => (
                EventKind::Lifecycle,
                "ACPI power-down requested".to_string(),
            ),
            "STOP" => (EventKind::Lifecycle, "paused".to_string()),
            "RESUME" => (EventKind::Lifecycle, "resumed".to_string()),
            "SUSPEND" => (EventKind::Lifecycle, "guest suspended (S3)".to_string()),
            "SUSPEND_DISK" => (EventKind::Lifecycle, "guest suspended to disk".to_string()),
            "WAKEUP" => (EventKind::Lifecycle, "guest woke up".to_string()),
            "GUEST_PANICKED" => (
                EventKind::Error,
                format!("guest panicked (action: {})", text_of(data, "action")),
            ),
            "BLOCK_IO_ERROR" => (
                EventKind::Error,
                format!(
                    "I/O error on {} during {} ({}){}{}",
                    block_name(data),
                    text_of(data, "operation"),
                    text_of(data, "action"),
                    if data.get("nospace").and_then(Value::as_bool) == Some(true) {
                        ", no space left"
                    } else {
                        ""
                    },
                    data.get("reason")
                        .and_then(Value::as_str)
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            ),
            "JOB_STATUS_CHANGE" => (
                EventKind::Job,
                format!("job {} is {}", text_of(data, "id"), text_of(data, "status")),
            ),
            name if name.starts_with("BLOCK_JOB_") => (
                EventKind::Job,
                format!(
                    "block job {} ({}): {}{}",
                    text_of(data, "device"),
                    text_of(data, "type"),
                    name.trim_start_matches("BLOCK_JOB_").to_lowercase(),
                    data.get("error")
                        .and_then(Value::as_str)
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
            ),
            "DEVICE_TRAY_MOVED" => (
                EventKind::Device,
                format!(
                    "tray of {} {}",
                    block_name(data),
                    if data.get("tray-open").and_then(Value::as_bool) == Some(true) {
                        "opened"
                    } else {
                        "closed"
                    }
                ),
            ),
            "BALLOON_CHANGE" => (
                EventKind::Device,
                format!(
                    "balloon: guest memory now {}",
                    data.get("actual")
                        .and_then(Value::as_u64)
                        .map(crate::format::bytes)
                        .unwrap_or_else(|| "?".to_string())
                ),
            ),
            "DEVICE_DELETED" => (
                EventKind::Device,
                format!(
                    "device {} removed",
                    data.get("device")
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| text_of(data, "path"))
                ),
            ),
            "MIGRATION" => (
                EventKind::Migration,
                format!("migration {}", text_of(data, "status")),
            ),
            "MIGRATION_PASS" => (
                EventKind::Migration,
                format!(
                    "migration pass {}",
                    data.get("pass").unwrap_or(&Value::Null)
                ),
            ),
            _ => (
                EventKind::Other,
                if data.is_null() {
                    String::new()
                } else {
                    crate::qmp::shorten(&data.to_string(), 160)
                },
            ),
        };
        let (text, text_cut) = capped::cut_text(&text, TEXT_BYTES);
        EventRecord {
            time: Local
                .timestamp_opt(
                    event.timestamp.0,
                    (event.timestamp.1.clamp(0, 999_999) * 1000) as u32,
                )
                .single()
                .unwrap_or_else(Local::now),
            name: event.name.clone(),
            kind,
            text,
            data: event.data.clone(),
            cut_bytes: event.cut_bytes + text_cut,
        }
    }
}

fn block_name(data: &Value) -> &str {
    ["device", "node-name", "id", "qom-path"]
        .iter()
        .filter_map(|key| data.get(*key).and_then(Value::as_str))
        .find(|name| !name.is_empty())
        .unwrap_or("?")
}

/// Forwards one connection's events to the app until the connection closes.
pub async fn run(vm: VmId, mut subscription: Subscription, app: crate::news::NewsSender) {
    while let Some(notice) = subscription.recv().await {
        let message = match notice {
            Notice::Event(event) => AppEvent::Event {
                vm,
                record: EventRecord::decode(&event),
            },
            Notice::Missed(count) => AppEvent::EventsMissed { vm, count },
            Notice::ProtocolError(text) => AppEvent::Problem { vm, text },
            Notice::Disconnected(_) => break,
        };
        if app.send(message).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(name: &str, data: Value) -> EventRecord {
        EventRecord::decode(&Event {
            name: name.to_string(),
            data,
            timestamp: (1_700_000_000, 5),
            cut_bytes: 0,
        })
    }

    #[test]
    fn decodes_lifecycle_events() {
        let shutdown = decode(
            "SHUTDOWN",
            json!({"guest": true, "reason": "guest-shutdown"}),
        );
        assert_eq!(shutdown.kind, EventKind::Shutdown);
        assert_eq!(shutdown.text, "shutdown by the guest (guest-shutdown)");
        let reset = decode(
            "RESET",
            json!({"guest": false, "reason": "host-qmp-system-reset"}),
        );
        assert_eq!(reset.text, "reset by the host (host-qmp-system-reset)");
        assert_eq!(decode("STOP", Value::Null).text, "paused");
        assert_eq!(
            decode("POWERDOWN", Value::Null).text,
            "ACPI power-down requested"
        );
        assert_eq!(shutdown.time.timestamp(), 1_700_000_000);
    }

    #[test]
    fn decodes_errors_jobs_and_devices() {
        let io = decode(
            "BLOCK_IO_ERROR",
            json!({"device": "disk0", "node-name": "n", "operation": "write", "action": "stop", "nospace": true, "reason": "No space left on device"}),
        );
        assert_eq!(io.kind, EventKind::Error);
        assert_eq!(
            io.text,
            "I/O error on disk0 during write (stop), no space left: No space left on device"
        );
        let job = decode(
            "JOB_STATUS_CHANGE",
            json!({"id": "save0", "status": "concluded"}),
        );
        assert_eq!(job.text, "job save0 is concluded");
        let block_job = decode(
            "BLOCK_JOB_COMPLETED",
            json!({"device": "job1", "type": "mirror", "len": 1, "offset": 1, "speed": 0}),
        );
        assert_eq!(block_job.text, "block job job1 (mirror): completed");
        let tray = decode(
            "DEVICE_TRAY_MOVED",
            json!({"device": "", "id": "cd0", "tray-open": true}),
        );
        assert_eq!(tray.text, "tray of cd0 opened");
        let balloon = decode("BALLOON_CHANGE", json!({"actual": 134217728}));
        assert_eq!(balloon.text, "balloon: guest memory now 128.0 MiB");
        let panic = decode("GUEST_PANICKED", json!({"action": "pause"}));
        assert_eq!(panic.kind, EventKind::Error);
    }

    #[test]
    fn unknown_event_keeps_name_and_data() {
        let record = decode("FUTURE_THING", json!({"x": 1}));
        assert_eq!(record.kind, EventKind::Other);
        assert_eq!(record.name, "FUTURE_THING");
        assert_eq!(record.text, r#"{"x":1}"#);
    }
}
