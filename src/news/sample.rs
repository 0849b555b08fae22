//! The figures one poll learned about a VM: plain data, filled in by the collectors
//! (`collect::poller`, `collect::host`, `collect::rates`) and read by the model, the batch
//! output and the exporter.

use crate::qmp::types::{BlockDeviceStats, BlockInfo, StatusInfo};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// One vCPU in a sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VcpuSample {
    /// QEMU's cpu index.
    pub index: u32,
    /// Host thread id.
    pub thread_id: u32,
    /// Host CPU and steal over the last interval.
    #[serde(flatten)]
    pub host: VcpuHost,
}

/// One block device in a sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlockSample {
    /// Drive id (may be empty for -blockdev devices).
    pub device: String,
    /// Node name.
    pub node_name: Option<String>,
    /// Guest device.
    pub qdev: Option<String>,
    /// Cumulative counters.
    pub totals: BlockDeviceStats,
    /// Rates over the last interval (`None` on the first sample or after a counter reset).
    pub rates: Option<BlockRates>,
}

/// Memory figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MemorySample {
    /// Boot memory, bytes.
    pub base_bytes: Option<u64>,
    /// Hot-plugged memory, bytes.
    pub plugged_bytes: Option<u64>,
    /// Memory the balloon leaves the guest, bytes (with a balloon device).
    pub balloon_bytes: Option<u64>,
}

/// What QEMU runs the VM on, read once per connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MachineFacts {
    /// "KVM" or "TCG" (`query-kvm`).
    pub accelerator: Option<String>,
    /// The machine type ("pc-i440fx-7.2", "q35", "none").
    pub machine: Option<String>,
    /// The first vCPU's model ("qemu64", "max", "host"), when QEMU tells it.
    pub cpu_model: Option<String>,
}

/// Slow-changing facts, refreshed every few ticks.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlowSample {
    /// `-name`.
    pub name: Option<String>,
    /// Block devices and their media.
    pub block_info: Vec<BlockInfo>,
    /// Memory.
    pub memory: MemorySample,
    /// Accelerator, machine type, CPU model.
    pub machine: MachineFacts,
}

/// Everything one tick learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Run state.
    pub status: StatusInfo,
    /// vCPUs with host figures.
    pub vcpus: Vec<VcpuSample>,
    /// Block devices with rates.
    pub blocks: Vec<BlockSample>,
    /// The QEMU process on the host, or why it cannot be read.
    pub host: Result<HostSample, HostError>,
    /// Slow facts, when refreshed at this tick.
    pub slow: Option<SlowSample>,
    /// How long the fast queries took.
    pub round_trip: Duration,
}

/// Host figures of one vCPU thread over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VcpuHost {
    /// Share of one host CPU the thread ran, percent.
    pub cpu_percent: Option<f64>,
    /// Share of the interval the thread waited to run (steal), percent.
    pub steal_percent: Option<f64>,
    /// CPU time the thread has run in all, seconds (a counter, for the exporter).
    pub cpu_seconds: Option<f64>,
    /// Time the thread has waited to run in all (steal), seconds.
    pub steal_seconds: Option<f64>,
}

/// Host figures of the QEMU process.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostSample {
    /// The QEMU process id.
    pub pid: u32,
    /// How long the QEMU process has run.
    pub uptime: Option<Duration>,
    /// CPU of the whole process, percent of one host CPU.
    pub process_cpu_percent: Option<f64>,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// CPU time of the whole process in all (user and system), seconds.
    pub process_cpu_seconds: Option<f64>,
    /// Per vCPU thread id.
    pub vcpus: HashMap<u32, VcpuHost>,
}

/// Rates of one block device between two samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BlockRates {
    /// Bytes read per second.
    pub read_bytes_per_sec: f64,
    /// Bytes written per second.
    pub write_bytes_per_sec: f64,
    /// Read operations per second.
    pub read_iops: f64,
    /// Write operations per second.
    pub write_iops: f64,
    /// Mean latency of the reads in the interval, milliseconds (`None` without reads).
    pub read_latency_ms: Option<f64>,
    /// Mean latency of the writes in the interval, milliseconds (`None` without writes).
    pub write_latency_ms: Option<f64>,
}

/// Why the QEMU process's host figures could not be read; shown in the vCPU panel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// This connection gives no way to the process (the reason says why).
    #[error("{0}")]
    Unavailable(&'static str),
    /// A file of this machine's `/proc` could not be read.
    #[error("cannot read {path}: {error}")]
    Proc {
        /// The file.
        path: String,
        /// The system's words.
        error: String,
    },
    /// On another host, QEMU's pid is found from its vCPU threads, and it has none.
    #[error("QEMU has no vCPU thread to find its pid on {host} by: pass --pid")]
    NoThreadToFindPid {
        /// The host.
        host: String,
    },
    /// On another host, QEMU's vCPU threads are not in its `/proc`.
    #[error(
        "QEMU's vCPU threads are not in /proc on {host} (is QEMU in a container there? pass --pid)"
    )]
    ThreadsNotFound {
        /// The host.
        host: String,
    },
    /// On another host, QEMU's `stat` could not be read.
    #[error("cannot read /proc/{pid}/stat on {host}")]
    RemoteStat {
        /// The host.
        host: String,
        /// QEMU's pid there, or "?".
        pid: String,
    },
    /// On another host, `/proc` could not be read (ssh failed, or the reply was cut short).
    #[error("cannot read /proc on {host}: {why}")]
    Remote {
        /// The host.
        host: String,
        /// Why, in ssh's or the script's words.
        why: String,
    },
}
