//! Preflight: which disks can take part in an internal snapshot, and which would stop it.
//!
//! QEMU snapshots every writable disk, and refuses the whole snapshot if one of them cannot
//! take an internal snapshot ("Device 'x' is writable but does not support snapshots"). The
//! QMP commands can be given the disks to use, so the dashboard can offer to snapshot the
//! others. [`plan_from_blocks`] is the pure part; [`preflight`] runs `query-block` first.

use super::SnapshotError;
use crate::qmp::Client;
use crate::qmp::types::{BlockDeviceInfo, BlockInfo};
use serde::Serialize;

/// How an operation talks to QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// QMP jobs: `snapshot-save`, `snapshot-load`, `snapshot-delete` (QEMU ≥ 6.0).
    Qmp,
    /// HMP through `human-monitor-command`: `savevm`, `loadvm`, `delvm`.
    Hmp,
}

/// Image formats that can hold internal snapshots. Other formats (raw, vmdk, vdi...) cannot;
/// a raw format over a protocol that snapshots (e.g. rbd) is treated as unable too.
const SNAPSHOT_FORMATS: &[&str] = &["qcow2"];

/// A writable disk that can take internal snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanDisk {
    /// The name users know: the drive id, or the node name for disks without one.
    pub name: String,
    /// The block node name the QMP snapshot commands take, if QEMU reported one.
    pub node_name: Option<String>,
    /// The image format, e.g. "qcow2".
    pub format: String,
}

/// A writable disk that cannot take internal snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedDisk {
    /// The name users know: the drive id, or the node name for disks without one.
    pub name: String,
    /// The image format, e.g. "raw".
    pub format: String,
    /// Why, in words for the user, naming the disk.
    pub reason: String,
}

/// What a snapshot of this VM would cover.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Writable disks that can take internal snapshots, in `query-block` order.
    pub disks: Vec<PlanDisk>,
    /// The disk that would hold the VM state: the first of `disks`.
    pub vmstate: Option<PlanDisk>,
    /// Writable disks that cannot take internal snapshots; QEMU refuses a snapshot of the
    /// whole VM while they are present.
    pub unsupported: Vec<BlockedDisk>,
    /// Read-only disks, left alone (QEMU does not snapshot them).
    pub read_only: Vec<String>,
}

impl Plan {
    /// True when every writable disk can take part and there is at least one.
    pub fn is_complete(&self) -> bool {
        self.unsupported.is_empty() && !self.disks.is_empty()
    }

    /// The sentence the UI shows when some writable disks cannot take part, e.g. "disk rawd
    /// (raw) cannot take internal snapshots; snapshot the others or cancel", or when none can.
    pub fn warning(&self) -> Option<String> {
        if self.disks.is_empty() {
            return Some(describe_no_disk(&self.unsupported));
        }
        if self.unsupported.is_empty() {
            return None;
        }
        Some(format!(
            "{}; snapshot the others or cancel",
            describe_blocked(&self.unsupported)
        ))
    }

    /// Checks that an operation may go ahead: some disk can take part, and any disk that
    /// cannot is either allowed to be left out (`skip_unsupported`, QMP only) or irrelevant.
    pub(super) fn check(
        &self,
        method: Method,
        skip_unsupported: bool,
    ) -> Result<(), SnapshotError> {
        if self.disks.is_empty() {
            return Err(SnapshotError::NoSnapshotDisk {
                unsupported: self.unsupported.clone(),
            });
        }
        if self.unsupported.is_empty() {
            return Ok(());
        }
        match method {
            Method::Qmp if skip_unsupported => Ok(()),
            Method::Qmp => Err(SnapshotError::UnsupportedDisks {
                disks: self.unsupported.clone(),
                hint: "snapshot the others or cancel",
            }),
            Method::Hmp => Err(SnapshotError::UnsupportedDisks {
                disks: self.unsupported.clone(),
                hint: "the HMP fallback (savevm/loadvm/delvm) cannot leave disks out; \
                       make them read-only or remove them",
            }),
        }
    }
}

/// Runs `query-block` and works out the plan (see [`plan_from_blocks`]).
pub async fn preflight(client: &Client) -> Result<Plan, SnapshotError> {
    let blocks = client.query_block().await?;
    Ok(plan_from_blocks(&blocks))
}

/// Sorts the disks with a medium into those that can take internal snapshots, those that are
/// writable but cannot, and read-only ones. Empty drives are ignored.
pub fn plan_from_blocks(blocks: &[BlockInfo]) -> Plan {
    let mut plan = Plan::default();
    for block in blocks {
        let Some(inserted) = &block.inserted else {
            continue;
        };
        let name = disk_name(block);
        if inserted.ro {
            plan.read_only.push(name);
        } else if takes_snapshots(inserted) {
            plan.disks.push(PlanDisk {
                name,
                node_name: inserted.node_name.clone().filter(|n| !n.is_empty()),
                format: inserted.drv.clone(),
            });
        } else {
            let reason = format!(
                "disk {name} ({}) cannot take internal snapshots (only {} images can)",
                inserted.drv,
                SNAPSHOT_FORMATS.join(", ")
            );
            plan.unsupported.push(BlockedDisk {
                name,
                format: inserted.drv.clone(),
                reason,
            });
        }
    }
    plan.vmstate = plan.disks.first().cloned();
    plan
}

/// The name users know a disk by: its drive id, else its node name, else its device path.
pub(super) fn disk_name(block: &BlockInfo) -> String {
    let node = block.inserted.as_ref().and_then(|i| i.node_name.as_deref());
    [Some(block.device.as_str()), node, block.qdev.as_deref()]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .unwrap_or("(unnamed disk)")
        .to_string()
}

/// True for a writable medium whose format can hold internal snapshots.
pub(super) fn takes_snapshots(inserted: &BlockDeviceInfo) -> bool {
    !inserted.ro && SNAPSHOT_FORMATS.contains(&inserted.drv.as_str())
}

/// "disk rawd (raw) cannot take internal snapshots", or "disks a (raw), b (vmdk) cannot...".
pub(super) fn describe_blocked(disks: &[BlockedDisk]) -> String {
    let names: Vec<String> = disks
        .iter()
        .map(|d| format!("{} ({})", d.name, d.format))
        .collect();
    let noun = if disks.len() == 1 { "disk" } else { "disks" };
    format!("{noun} {} cannot take internal snapshots", names.join(", "))
}

/// Why nothing can be snapshotted.
pub(super) fn describe_no_disk(unsupported: &[BlockedDisk]) -> String {
    if unsupported.is_empty() {
        "this VM has no writable disk that can take internal snapshots (a qcow2 image is needed)"
            .to_string()
    } else {
        format!(
            "no writable disk of this VM can take internal snapshots: {} (a qcow2 image is needed)",
            describe_blocked(unsupported)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blocks() -> Vec<BlockInfo> {
        serde_json::from_value(json!([
            {"device": "disk0", "inserted": {"node-name": "#b1", "ro": false, "drv": "qcow2"}},
            {"device": "rawd", "inserted": {"node-name": "#b2", "ro": false, "drv": "raw"}},
            {"device": "cd", "inserted": {"node-name": "#b3", "ro": true, "drv": "raw"}},
            {"device": "", "qdev": "/machine/peripheral/vd1/virtio-backend",
             "inserted": {"node-name": "data", "ro": false, "drv": "qcow2"}},
            {"device": "floppy0", "removable": true},
        ]))
        .unwrap()
    }

    #[test]
    fn sorts_disks_into_capable_unsupported_and_read_only() {
        let plan = plan_from_blocks(&blocks());
        let names: Vec<_> = plan.disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["disk0", "data"]);
        assert_eq!(
            plan.vmstate.as_ref().unwrap().node_name.as_deref(),
            Some("#b1")
        );
        assert_eq!(plan.read_only, ["cd"]);
        assert_eq!(plan.unsupported.len(), 1);
        assert_eq!(plan.unsupported[0].name, "rawd");
        assert_eq!(
            plan.unsupported[0].reason,
            "disk rawd (raw) cannot take internal snapshots (only qcow2 images can)"
        );
        assert!(!plan.is_complete());
        assert_eq!(
            plan.warning().unwrap(),
            "disk rawd (raw) cannot take internal snapshots; snapshot the others or cancel"
        );
    }

    #[test]
    fn check_depends_on_method_and_consent() {
        let plan = plan_from_blocks(&blocks());
        let error = plan.check(Method::Qmp, false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "disk rawd (raw) cannot take internal snapshots; snapshot the others or cancel"
        );
        assert!(plan.check(Method::Qmp, true).is_ok());
        let error = plan.check(Method::Hmp, true).unwrap_err();
        assert!(
            error.to_string().contains("cannot leave disks out"),
            "{error}"
        );

        let only_raw: Vec<BlockInfo> = serde_json::from_value(json!([
            {"device": "a", "inserted": {"ro": false, "drv": "raw"}},
            {"device": "b", "inserted": {"ro": false, "drv": "vmdk"}},
        ]))
        .unwrap();
        let plan = plan_from_blocks(&only_raw);
        let error = plan.check(Method::Qmp, true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no writable disk of this VM can take internal snapshots: disks a (raw), b (vmdk) \
             cannot take internal snapshots (a qcow2 image is needed)"
        );
        assert_eq!(plan.warning(), Some(error.to_string()));
        assert!(plan_from_blocks(&[]).check(Method::Qmp, true).is_err());
    }

    #[test]
    fn a_complete_plan_has_no_warning() {
        let only_qcow2: Vec<BlockInfo> = serde_json::from_value(json!([
            {"device": "a", "inserted": {"node-name": "n", "ro": false, "drv": "qcow2"}},
        ]))
        .unwrap();
        let plan = plan_from_blocks(&only_qcow2);
        assert!(plan.is_complete());
        assert_eq!(plan.warning(), None);
    }
}
