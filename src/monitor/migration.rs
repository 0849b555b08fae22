//! Migration: the lenient `query-migrate` reply, URI checks before `migrate`, and the
//! background task that follows a migration (whoever started it) and reports its progress.
//!
//! The follower asks `query-migrate` every [`IDLE_POLL`] while nothing runs (a heartbeat:
//! QEMU sends `MIGRATION` events only when the `events` migration capability is on, as
//! libvirt sets it, so a migration another client starts is otherwise noticed by this) and
//! every [`ACTIVE_POLL`] while a migration runs; a `MIGRATION` event wakes it at once. It only
//! sends queries, so it runs in read-only mode too. QEMU reports snapshot saves through
//! `query-migrate` too; [`MigrationInfo::is_snapshot_save`] tells them apart.

use super::News;
use crate::qmp::{Client, Notice};
use serde::Deserialize;
use std::time::Duration;

/// How often `query-migrate` is asked while no migration runs (each request costs QEMU
/// about 0.2 ms of CPU).
pub const IDLE_POLL: Duration = Duration::from_secs(10);
/// How often while one runs.
pub const ACTIVE_POLL: Duration = Duration::from_millis(500);

/// `query-migrate`'s reply (fields missing in older or newer QEMUs are `None`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct MigrationInfo {
    /// "none", "setup", "active", "completed", "failed", "cancelling", "cancelled"…
    pub status: Option<String>,
    /// Milliseconds since it started (or the total, when done).
    pub total_time: Option<u64>,
    /// QEMU's estimate of the stop time, ms.
    pub expected_downtime: Option<u64>,
    /// The real stop time once completed, ms.
    pub downtime: Option<u64>,
    /// RAM transfer figures.
    pub ram: Option<RamStats>,
    /// Why it failed.
    pub error_desc: Option<String>,
}

/// The `ram` part of `query-migrate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RamStats {
    /// Bytes sent so far.
    pub transferred: u64,
    /// Bytes still to send.
    pub remaining: u64,
    /// Guest RAM, bytes.
    pub total: u64,
    /// Throughput, megabits per second.
    pub mbps: f64,
    /// Pages the guest dirties per second.
    pub dirty_pages_rate: u64,
    /// Passes over RAM so far.
    pub dirty_sync_count: u64,
    /// Bytes sent before the switch-over (QEMU 7.1 and later).
    pub precopy_bytes: Option<u64>,
}

impl MigrationInfo {
    /// The status word ("none" when QEMU gave none).
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("none")
    }

    /// True while a migration is under way.
    pub fn is_active(&self) -> bool {
        !matches!(self.status(), "none" | "completed" | "failed" | "cancelled")
    }

    /// True when this is not a migration but the trace of a snapshot save (`savevm`,
    /// `snapshot-save`), whoever ran it: QEMU saves snapshots with its migration code and then
    /// reports "completed" (or "failed") with no time taken, no throughput and nothing sent
    /// before a switch-over. A real migration always takes some milliseconds and sends RAM
    /// while the guest still runs (checked on QEMU 7.2 and 10.0).
    pub fn is_snapshot_save(&self) -> bool {
        let no_time = self.total_time.unwrap_or(0) == 0;
        let no_precopy = self
            .ram
            .is_none_or(|ram| ram.precopy_bytes.unwrap_or(0) == 0 && ram.mbps == 0.0);
        match self.status() {
            "completed" => no_time && no_precopy,
            "failed" => no_time && no_precopy && self.error_desc.is_none(),
            _ => false,
        }
    }

    /// Share of RAM sent, 0.0 to 1.0, when known.
    pub fn progress(&self) -> Option<f64> {
        let ram = self.ram?;
        if ram.total == 0 {
            return None;
        }
        if self.status() == "completed" {
            return Some(1.0);
        }
        let done = ram.total.saturating_sub(ram.remaining) as f64;
        Some((done / ram.total as f64).clamp(0.0, 1.0))
    }

    /// Throughput in bytes per second.
    pub fn bytes_per_sec(&self) -> Option<f64> {
        self.ram.map(|ram| ram.mbps * 1_000_000.0 / 8.0)
    }
}

/// Checks a migration URI's scheme and shape before it is sent.
pub fn check_uri(uri: &str) -> Result<String, String> {
    let uri = uri.trim();
    let hint =
        "write tcp:HOST:PORT, unix:PATH, exec:COMMAND (e.g. exec:cat > /tmp/vm.mig) or file:PATH";
    if uri.is_empty() {
        return Err(format!("no migration URI given: {hint}"));
    }
    if uri.chars().any(char::is_control) {
        return Err(format!("the URI holds control characters: {hint}"));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err(format!("'{uri}' has no scheme: {hint}"));
    };
    match scheme {
        "tcp" => {
            let Some((host, port)) = rest.rsplit_once(':') else {
                return Err(format!("'{uri}' needs a port: tcp:HOST:PORT"));
            };
            if host.is_empty() {
                return Err(format!("'{uri}' needs a host: tcp:HOST:PORT"));
            }
            match port.parse::<u16>() {
                Ok(1..) => {}
                _ => return Err(format!("'{port}' is not a port (1 to 65535) in '{uri}'")),
            }
        }
        "unix" | "exec" | "file" | "fd" | "rdma" | "vsock" => {
            if rest.trim().is_empty() {
                return Err(format!("'{uri}' is missing what follows '{scheme}:'"));
            }
        }
        _ => return Err(format!("unknown migration scheme '{scheme}': {hint}")),
    }
    Ok(uri.to_string())
}

/// Asks `query-migrate`.
pub async fn query(client: &Client) -> Result<MigrationInfo, crate::qmp::QmpError> {
    let value = client.execute("query-migrate", None).await?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

/// Follows migrations on one connection until it closes, sending [`News::Migration`] when
/// the status changes and at every poll while one runs.
/// Ends when the connection closes or `report` says nobody listens.
pub async fn follow(client: Client, report: impl Fn(News) -> Result<(), super::Unheard>) {
    let mut events = client.subscribe();
    // The whole last reply: a migration that starts and completes between two polls leaves
    // the status word as it was ("completed") but not its figures.
    let mut last: Option<MigrationInfo> = None;
    loop {
        let active = match query(&client).await {
            Ok(info) => {
                let active = info.is_active();
                let changed = last.as_ref() != Some(&info);
                last = Some(info.clone());
                if (changed || active) && report(News::Migration(info)).is_err() {
                    return;
                }
                active
            }
            // No migration figures on this monitor (HMP): nothing to follow.
            Err(error) if error.is_disconnect() || error.is_unavailable() => return,
            // A timeout or an odd reply: the poller reports those; try again later.
            Err(_) => false,
        };
        let wait = if active { ACTIVE_POLL } else { IDLE_POLL };
        let woken = tokio::time::timeout(wait, async {
            loop {
                match events.recv().await {
                    Some(Notice::Event(event)) if event.name == "MIGRATION" => return true,
                    Some(Notice::Disconnected(_)) | None => return false,
                    Some(_) => {}
                }
            }
        })
        .await;
        if matches!(woken, Ok(false)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn progress_and_throughput_come_from_ram() {
        let info: MigrationInfo = serde_json::from_value(json!({
            "status": "active", "expected-downtime": 300, "total-time": 506,
            "ram": {"total": 1000, "remaining": 250, "transferred": 700, "mbps": 8.0}
        }))
        .unwrap();
        assert!(info.is_active());
        assert_eq!(info.progress(), Some(0.75));
        assert_eq!(info.bytes_per_sec(), Some(1_000_000.0));
        let none: MigrationInfo = serde_json::from_value(json!({})).unwrap();
        assert_eq!(none.status(), "none");
        assert!(!none.is_active());
        assert_eq!(none.progress(), None);
    }

    #[test]
    fn a_snapshot_save_is_not_a_migration() {
        // What QEMU 7.2 and 10.0 report after savevm / snapshot-save, and after a migration.
        let save: MigrationInfo = serde_json::from_value(json!({
            "status": "completed", "setup-time": 0, "downtime": 0, "total-time": 0,
            "ram": {"total": 134750208, "remaining": 0, "mbps": 0, "transferred": 767099,
                    "precopy-bytes": 0, "downtime-bytes": 767099}
        }))
        .unwrap();
        assert!(save.is_snapshot_save());
        let migration: MigrationInfo = serde_json::from_value(json!({
            "status": "completed", "setup-time": 0, "downtime": 2, "total-time": 16,
            "ram": {"total": 134750208, "remaining": 0, "mbps": 470.6, "transferred": 783522,
                    "precopy-bytes": 767099, "downtime-bytes": 16423}
        }))
        .unwrap();
        assert!(!migration.is_snapshot_save());
        let failed: MigrationInfo = serde_json::from_value(json!({
            "status": "failed", "total-time": 3, "error-desc": "Unable to write"
        }))
        .unwrap();
        assert!(!failed.is_snapshot_save());
        let none: MigrationInfo = serde_json::from_value(json!({})).unwrap();
        assert!(!none.is_snapshot_save());
    }

    #[test]
    fn uris_are_checked() {
        assert!(check_uri("exec:cat > /tmp/x").is_ok());
        assert!(check_uri("tcp:127.0.0.1:4444").is_ok());
        assert!(check_uri("tcp:[::1]:4444").is_ok());
        assert!(check_uri("unix:/tmp/m.sock").is_ok());
        for (uri, expected) in [
            ("", "no migration URI"),
            ("/tmp/x", "no scheme"),
            ("ftp:x", "unknown migration scheme"),
            ("tcp:host", "needs a port"),
            ("tcp::4444", "needs a host"),
            ("tcp:h:99999", "is not a port"),
            ("exec:", "missing"),
        ] {
            let error = check_uri(uri).unwrap_err();
            assert!(error.contains(expected), "{uri:?}: {error}");
        }
    }
}
