//! Lenient decodings of the `query-*` replies the dashboard uses.
//!
//! Every field has a default and unknown fields are ignored, so replies from QEMU 7.2 (which
//! has `singlestep` in `query-status`) and 10.0 (which dropped it) both decode, and so will
//! replies from QEMUs not yet written.

use serde::{Deserialize, Serialize};

/// `query-status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusInfo {
    /// Whether the vCPUs are running.
    pub running: bool,
    /// The run state: "running", "paused", "shutdown", "inmigrate", ...
    pub status: String,
    /// Present up to QEMU 9.x.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub singlestep: Option<bool>,
}

/// One entry of `query-cpus-fast`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CpuInfo {
    /// The vCPU's index.
    pub cpu_index: u32,
    /// The host thread id running this vCPU.
    pub thread_id: u32,
    /// QOM path of the CPU object.
    pub qom_path: String,
    /// Target architecture, e.g. "x86".
    pub target: String,
}

/// One entry of `query-blockstats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BlockStats {
    /// The drive id ("" for devices created with -blockdev).
    pub device: String,
    /// The block node name.
    pub node_name: Option<String>,
    /// The guest device's QOM path or id.
    pub qdev: Option<String>,
    /// The counters.
    pub stats: BlockDeviceStats,
}

/// The cumulative counters of a block device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockDeviceStats {
    /// Bytes read.
    pub rd_bytes: u64,
    /// Bytes written.
    pub wr_bytes: u64,
    /// Read operations.
    pub rd_operations: u64,
    /// Write operations.
    pub wr_operations: u64,
    /// Flush operations.
    pub flush_operations: u64,
    /// Total time spent on reads, ns.
    pub rd_total_time_ns: u64,
    /// Total time spent on writes, ns.
    pub wr_total_time_ns: u64,
    /// Total time spent on flushes, ns.
    pub flush_total_time_ns: u64,
    /// Failed reads.
    pub failed_rd_operations: u64,
    /// Failed writes.
    pub failed_wr_operations: u64,
    /// Failed flushes.
    pub failed_flush_operations: u64,
}

/// One entry of `query-block`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BlockInfo {
    /// The drive id.
    pub device: String,
    /// The guest device's QOM path or id.
    pub qdev: Option<String>,
    /// Whether the medium is removable.
    pub removable: bool,
    /// Whether the tray is locked.
    pub locked: bool,
    /// Whether the tray is open (removable devices only). QEMU spells it `tray_open`.
    #[serde(alias = "tray_open")]
    pub tray_open: Option<bool>,
    /// The inserted medium, if any.
    pub inserted: Option<BlockDeviceInfo>,
    /// "ok", "failed" or "nospace", for devices with an error policy (`rerror`/`werror`).
    pub io_status: Option<String>,
}

/// The medium inserted in a block device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BlockDeviceInfo {
    /// The image file name.
    pub file: String,
    /// The top node's name.
    pub node_name: Option<String>,
    /// Read-only.
    pub ro: bool,
    /// The format driver, e.g. "qcow2" or "raw".
    pub drv: String,
    /// Image details.
    pub image: Option<ImageInfo>,
}

/// Details of an image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ImageInfo {
    /// The file name.
    pub filename: String,
    /// The format.
    pub format: String,
    /// Guest-visible size in bytes.
    pub virtual_size: u64,
    /// Bytes used on the host.
    pub actual_size: Option<u64>,
    /// Internal snapshots.
    pub snapshots: Vec<SnapshotInfo>,
}

/// An internal snapshot in an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SnapshotInfo {
    /// The snapshot's numeric id (as a string).
    pub id: String,
    /// The tag.
    pub name: String,
    /// Size of the saved VM state, bytes (0 for disk-only snapshots).
    pub vm_state_size: u64,
    /// Creation time, seconds since the epoch.
    pub date_sec: i64,
    /// Creation time, nanoseconds part.
    pub date_nsec: i64,
    /// Guest clock at creation, seconds.
    pub vm_clock_sec: i64,
    /// Guest clock at creation, nanoseconds part.
    pub vm_clock_nsec: i64,
}

/// `query-name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NameInfo {
    /// The VM's name from `-name`, if set.
    pub name: Option<String>,
}

/// `query-version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionInfo {
    /// The numeric version.
    pub qemu: VersionTriple,
    /// The package string.
    pub package: String,
}

/// major.minor.micro.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionTriple {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Micro.
    pub micro: u32,
}

/// `query-memory-size-summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct MemorySizeSummary {
    /// Boot memory, bytes.
    pub base_memory: u64,
    /// Hot-plugged memory, bytes (absent without memory hot-plug).
    pub plugged_memory: Option<u64>,
}

/// `query-balloon`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BalloonInfo {
    /// The guest's current memory size as set by the balloon, bytes.
    pub actual: u64,
}

/// One entry of `query-jobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct JobInfo {
    /// The job id.
    pub id: String,
    /// The job type, e.g. "snapshot-save".
    #[serde(rename = "type")]
    pub job_type: String,
    /// The job status, e.g. "running", "concluded".
    pub status: String,
    /// Progress so far (arbitrary units).
    pub current_progress: u64,
    /// Estimated total (same units).
    pub total_progress: u64,
    /// The error, if the job failed.
    pub error: Option<String>,
}

/// One entry of `query-commands`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommandInfo {
    /// The command's name.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_decodes_with_and_without_singlestep() {
        let old: StatusInfo = serde_json::from_value(
            json!({"status": "running", "singlestep": false, "running": true}),
        )
        .unwrap();
        let new: StatusInfo =
            serde_json::from_value(json!({"status": "paused", "running": false, "future": 1}))
                .unwrap();
        assert_eq!(old.singlestep, Some(false));
        assert!(old.running);
        assert_eq!(new.status, "paused");
        assert_eq!(new.singlestep, None);
    }

    #[test]
    fn blockstats_decode_kebab_and_snake_fields() {
        let stats: Vec<BlockStats> = serde_json::from_value(json!([{
            "device": "disk0", "node-name": "#block123", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
            "stats": {"rd_bytes": 512, "wr_bytes": 1024, "rd_operations": 1, "wr_operations": 2,
                      "rd_total_time_ns": 1000, "unmap_operations": 0, "timed_stats": []},
            "parent": {"stats": {}}
        }]))
        .unwrap();
        assert_eq!(stats[0].node_name.as_deref(), Some("#block123"));
        assert_eq!(stats[0].stats.wr_bytes, 1024);
        assert_eq!(stats[0].stats.rd_total_time_ns, 1000);
    }

    #[test]
    fn jobs_decode() {
        let jobs: Vec<JobInfo> = serde_json::from_value(json!([{
            "id": "save0", "type": "snapshot-save", "status": "running",
            "current-progress": 1, "total-progress": 4
        }]))
        .unwrap();
        assert_eq!(jobs[0].job_type, "snapshot-save");
        assert_eq!(jobs[0].total_progress, 4);
    }
}
