//! Listing snapshots: `query-block` per-disk snapshot tables merged into one entry per tag.
//!
//! QEMU keeps internal snapshots per image; a VM snapshot is the set of per-disk snapshots
//! sharing a tag, one of which also holds the VM state. [`merge`] is the pure part (tested
//! without QEMU); [`list`] runs `query-block` and merges.

use super::SnapshotError;
use super::plan::{disk_name, takes_snapshots};
use crate::qmp::Client;
use crate::qmp::types::{BlockInfo, SnapshotInfo};
use chrono::{DateTime, Local, Utc};
use serde::Serialize;
use std::time::Duration;

/// One VM snapshot: a tag and the disks that carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The tag (QEMU calls it the snapshot's name).
    pub tag: String,
    /// QEMU's numeric id on the disk holding the VM state (ids are per disk and may differ).
    pub id: String,
    /// Size of the saved VM state in bytes (0 for a disk-only snapshot).
    pub vm_state_size: u64,
    /// When it was taken, in local time.
    pub date: DateTime<Local>,
    /// The guest clock when it was taken.
    #[serde(rename = "vm_clock_sec", serialize_with = "seconds")]
    pub vm_clock: Duration,
    /// The disks carrying it (drive ids, or node names for disks without one), in
    /// `query-block` order.
    pub disks: Vec<String>,
    /// The disk holding the VM state, if any.
    pub vmstate_disk: Option<String>,
    /// True when a writable disk that takes snapshots lacks this tag (see `missing`).
    pub partial: bool,
    /// The writable, snapshot-capable disks that lack this tag.
    pub missing: Vec<String>,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl Snapshot {
    /// The creation time as seconds since the epoch.
    pub fn date_epoch_seconds(&self) -> i64 {
        self.date.timestamp()
    }
}

/// Reads every disk's snapshots with `query-block` and merges them by tag (see [`merge`]).
pub async fn list(client: &Client) -> Result<Vec<Snapshot>, SnapshotError> {
    let blocks = client.query_block().await?;
    Ok(merge(&blocks))
}

/// Merges the per-disk snapshot tables of `query-block` by tag, in order of first appearance.
/// Disks without a medium are skipped. A tag is `partial` when some writable disk that can
/// take internal snapshots does not carry it.
pub fn merge(blocks: &[BlockInfo]) -> Vec<Snapshot> {
    struct Entry<'a> {
        tag: &'a str,
        disks: Vec<String>,
        /// The entry holding the VM state, else the first one seen.
        main: &'a SnapshotInfo,
        vmstate_disk: Option<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut capable: Vec<(String, Vec<&str>)> = Vec::new();
    for block in blocks {
        let Some(inserted) = &block.inserted else {
            continue;
        };
        let name = disk_name(block);
        let infos = inserted
            .image
            .as_ref()
            .map(|image| image.snapshots.as_slice())
            .unwrap_or_default();
        if takes_snapshots(inserted) {
            capable.push((
                name.clone(),
                infos.iter().map(|i| i.name.as_str()).collect(),
            ));
        }
        for info in infos {
            let index = match entries.iter().position(|e| e.tag == info.name) {
                Some(index) => index,
                None => {
                    entries.push(Entry {
                        tag: &info.name,
                        disks: Vec::new(),
                        main: info,
                        vmstate_disk: None,
                    });
                    entries.len() - 1
                }
            };
            let entry = &mut entries[index];
            if !entry.disks.contains(&name) {
                entry.disks.push(name.clone());
            }
            if info.vm_state_size > 0 && entry.vmstate_disk.is_none() {
                entry.main = info;
                entry.vmstate_disk = Some(name.clone());
            }
        }
    }
    entries
        .into_iter()
        .map(|entry| {
            let missing: Vec<String> = capable
                .iter()
                .filter(|(_, tags)| !tags.contains(&entry.tag))
                .map(|(name, _)| name.clone())
                .collect();
            let main = entry.main;
            Snapshot {
                tag: entry.tag.to_string(),
                id: main.id.clone(),
                vm_state_size: main.vm_state_size,
                date: local_time(main.date_sec, main.date_nsec),
                vm_clock: duration(main.vm_clock_sec, main.vm_clock_nsec),
                disks: entry.disks,
                vmstate_disk: entry.vmstate_disk,
                partial: !missing.is_empty(),
                missing,
            }
        })
        .collect()
}

fn local_time(seconds: i64, nanoseconds: i64) -> DateTime<Local> {
    let nanoseconds = u32::try_from(nanoseconds.clamp(0, 999_999_999)).unwrap_or(0);
    DateTime::<Utc>::from_timestamp(seconds, nanoseconds)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .with_timezone(&Local)
}

fn duration(seconds: i64, nanoseconds: i64) -> Duration {
    let seconds = u64::try_from(seconds).unwrap_or(0);
    let nanoseconds = u32::try_from(nanoseconds.clamp(0, 999_999_999)).unwrap_or(0);
    Duration::new(seconds, nanoseconds)
}

/// Sorts oldest first; equal dates by tag.
pub fn sort_by_date(snapshots: &mut [Snapshot]) {
    snapshots.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.tag.cmp(&b.tag)));
}

/// Sorts by tag (byte order); equal tags cannot occur after [`merge`], but dates break ties.
pub fn sort_by_name(snapshots: &mut [Snapshot]) {
    snapshots.sort_by(|a, b| a.tag.cmp(&b.tag).then_with(|| a.date.cmp(&b.date)));
}

/// Formats a guest clock the way `info snapshots` does: `HH:MM:SS.mmm` (hours may exceed 99).
pub fn format_vm_clock(clock: Duration) -> String {
    let total = clock.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        total / 3600,
        total / 60 % 60,
        total % 60,
        clock.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blocks(value: serde_json::Value) -> Vec<BlockInfo> {
        serde_json::from_value(value).unwrap()
    }

    fn snap(id: &str, name: &str, state: u64, date: i64) -> serde_json::Value {
        json!({"id": id, "name": name, "vm-state-size": state, "date-sec": date,
               "date-nsec": 5, "vm-clock-sec": 3725, "vm-clock-nsec": 17_000_000})
    }

    fn disk(device: &str, drv: &str, ro: bool, snaps: Vec<serde_json::Value>) -> serde_json::Value {
        json!({"device": device, "locked": false, "removable": false,
               "inserted": {"file": format!("{device}.img"), "node-name": format!("#n-{device}"),
                            "ro": ro, "drv": drv,
                            "image": {"filename": "x", "format": drv, "virtual-size": 1, "snapshots": snaps}}})
    }

    #[test]
    fn merges_by_tag_across_disks() {
        let merged = merge(&blocks(json!([
            disk(
                "disk0",
                "qcow2",
                false,
                vec![snap("1", "a", 1000, 100), snap("2", "b", 2000, 200)]
            ),
            disk(
                "disk1",
                "qcow2",
                false,
                vec![snap("4", "a", 0, 100), snap("5", "b", 0, 200)]
            ),
        ])));
        assert_eq!(merged.len(), 2);
        let a = &merged[0];
        assert_eq!(a.tag, "a");
        assert_eq!(a.id, "1");
        assert_eq!(a.vm_state_size, 1000);
        assert_eq!(a.disks, ["disk0", "disk1"]);
        assert_eq!(a.vmstate_disk.as_deref(), Some("disk0"));
        assert!(!a.partial);
        assert_eq!(a.date_epoch_seconds(), 100);
        assert_eq!(a.vm_clock, Duration::new(3725, 17_000_000));
        assert_eq!(merged[1].vm_state_size, 2000);
    }

    #[test]
    fn vm_state_may_live_on_a_later_disk() {
        let merged = merge(&blocks(json!([
            disk("disk0", "qcow2", false, vec![snap("7", "a", 0, 100)]),
            disk("disk1", "qcow2", false, vec![snap("1", "a", 4096, 100)]),
        ])));
        assert_eq!(merged[0].id, "1");
        assert_eq!(merged[0].vm_state_size, 4096);
        assert_eq!(merged[0].vmstate_disk.as_deref(), Some("disk1"));
    }

    #[test]
    fn partial_counts_only_writable_snapshot_capable_disks() {
        let merged = merge(&blocks(json!([
            disk("disk0", "qcow2", false, vec![snap("1", "both", 10, 1), snap("2", "only0", 10, 2)]),
            disk("disk1", "qcow2", false, vec![snap("1", "both", 0, 1), snap("2", "only1", 0, 3)]),
            // A read-only qcow2 and a writable raw disk never make a snapshot partial.
            disk("cdrom", "qcow2", true, vec![snap("9", "ro-only", 0, 4)]),
            disk("rawd", "raw", false, vec![]),
            {"device": "empty", "locked": false, "removable": true},
        ])));
        let by_tag = |tag: &str| merged.iter().find(|s| s.tag == tag).unwrap();
        assert!(!by_tag("both").partial);
        assert!(by_tag("only0").partial);
        assert_eq!(by_tag("only0").missing, ["disk1"]);
        assert_eq!(by_tag("only1").missing, ["disk0"]);
        assert_eq!(by_tag("only1").vmstate_disk, None);
        let ro = by_tag("ro-only");
        assert_eq!(ro.disks, ["cdrom"]);
        assert!(ro.partial);
        assert_eq!(ro.missing, ["disk0", "disk1"]);
    }

    #[test]
    fn disks_without_a_drive_id_are_named_by_node() {
        let mut value = disk("", "qcow2", false, vec![snap("1", "a", 10, 1)]);
        value["inserted"]["node-name"] = json!("root-node");
        let merged = merge(&blocks(json!([value])));
        assert_eq!(merged[0].disks, ["root-node"]);
    }

    #[test]
    fn sorting_by_date_and_name() {
        let mut merged = merge(&blocks(json!([disk(
            "disk0",
            "qcow2",
            false,
            vec![
                snap("1", "b", 1, 300),
                snap("2", "c", 1, 100),
                snap("3", "a", 1, 200)
            ]
        )])));
        sort_by_date(&mut merged);
        let tags: Vec<_> = merged.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags, ["c", "a", "b"]);
        sort_by_name(&mut merged);
        let tags: Vec<_> = merged.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags, ["a", "b", "c"]);
    }

    #[test]
    fn odd_numbers_from_qemu_do_not_panic() {
        let merged = merge(&blocks(json!([disk(
            "disk0",
            "qcow2",
            false,
            vec![
                json!({"id": "1", "name": "x", "date-sec": i64::MAX, "date-nsec": -4,
                        "vm-clock-sec": -1, "vm-clock-nsec": 5_000_000_000i64})
            ]
        )])));
        assert_eq!(merged[0].vm_clock, Duration::new(0, 999_999_999));
        assert_eq!(merged[0].date_epoch_seconds(), 0);
    }

    #[test]
    fn vm_clock_formats_like_info_snapshots() {
        assert_eq!(format_vm_clock(Duration::from_millis(17)), "00:00:00.017");
        assert_eq!(
            format_vm_clock(Duration::new(3725, 17_000_000)),
            "01:02:05.017"
        );
        assert_eq!(
            format_vm_clock(Duration::from_secs(360_000)),
            "100:00:00.000"
        );
    }

    #[test]
    fn serializes_for_scripts() {
        let merged = merge(&blocks(json!([disk(
            "disk0",
            "qcow2",
            false,
            vec![snap("1", "a", 10, 100)]
        )])));
        let value = serde_json::to_value(&merged).unwrap();
        assert_eq!(value[0]["tag"], "a");
        assert_eq!(value[0]["vm_state_size"], 10);
        assert_eq!(value[0]["vm_clock_sec"], 3725.017);
        assert_eq!(value[0]["disks"], json!(["disk0"]));
        let date = value[0]["date"].as_str().unwrap();
        assert_eq!(DateTime::parse_from_rfc3339(date).unwrap().timestamp(), 100);
    }
}
