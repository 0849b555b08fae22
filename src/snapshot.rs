//! Internal snapshots of a running VM: listing, tag checks, preflight, and save/load/delete.
//!
//! This module owns everything the dashboard and the `snapshot` subcommands need to know about
//! QEMU's internal (qcow2) snapshots: it reads them from `query-block` and merges them by tag
//! across disks ([`list`]), checks tags before QEMU sees them ([`validate_tag`]), works out which
//! disks can take part ([`preflight`]), and runs the snapshot jobs ([`save`], [`load`],
//! [`delete`]) over QMP (`snapshot-save` and friends, QEMU ≥ 6.0) or, when those are missing or
//! the caller asks for it, over HMP's `savevm`/`loadvm`/`delvm`. It speaks to QEMU only through
//! [`crate::qmp::Client`] and never imports ratatui or crossterm: the dashboard renders the data
//! it returns ([`Snapshot`], [`Plan`], [`Progress`]), and [`run_cli`] prints it for scripts.

mod cli;
mod job;
mod list;
mod plan;
mod stale;
mod tag;

pub use cli::{SnapshotCommand, format_table, run_cli};
pub use job::{
    DEFAULT_TIMEOUT, MethodChoice, Operation, Outcome, Progress, SnapshotOptions, delete,
    detect_method, load, save,
};
pub use list::{Snapshot, format_vm_clock, list, merge, sort_by_date, sort_by_name};
pub use plan::{BlockedDisk, Method, Plan, PlanDisk, plan_from_blocks, preflight};
pub use stale::{DismissedJob, describe_dismissed, dismiss_stale_jobs};
pub use tag::{
    HMP_SAFE_PUNCTUATION, MAX_TAG_BYTES, TagError, check_hmp_tag, suggest_free_tag, suggest_tag,
    validate_tag,
};

use crate::qmp::QmpError;
use std::time::Duration;

/// Why a snapshot operation could not be done. QEMU's own text is kept verbatim.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Talking to QEMU failed, or QEMU refused a command outright.
    #[error(transparent)]
    Qmp(#[from] QmpError),
    /// The tag is not acceptable (empty, control characters, too long, already used).
    #[error(transparent)]
    Tag(#[from] TagError),
    /// No snapshot carries this tag (checked before asking QEMU).
    #[error("no snapshot tagged '{tag}' exists on this VM's writable disks")]
    NotFound {
        /// The tag asked for.
        tag: String,
    },
    /// Some writable disks cannot take internal snapshots and the caller did not agree to
    /// leave them out.
    #[error("{}; {hint}", plan::describe_blocked(disks))]
    UnsupportedDisks {
        /// The disks that cannot take part, each with its reason.
        disks: Vec<BlockedDisk>,
        /// What the user can do about it.
        hint: &'static str,
    },
    /// No writable disk of the VM can take an internal snapshot.
    #[error("{}", plan::describe_no_disk(unsupported))]
    NoSnapshotDisk {
        /// Writable disks that cannot take internal snapshots (may be empty: no disk at all).
        unsupported: Vec<BlockedDisk>,
    },
    /// The snapshot is missing on some disks that take snapshots, so loading it would give
    /// an inconsistent VM (QEMU refuses it too).
    #[error(
        "snapshot '{tag}' is missing on {}: loading it would leave those disks out of step",
        missing.join(", ")
    )]
    Partial {
        /// The tag.
        tag: String,
        /// The disks that lack it.
        missing: Vec<String>,
    },
    /// The tag is also the numeric id of another snapshot on a disk taking part. QEMU looks
    /// ids up before tags, so it would act on that other snapshot and report success.
    #[error(
        "refusing to {operation} snapshot '{}': on disk {disk}, '{}' is also the id of \
         snapshot '{}', and QEMU looks ids up before tags, so it would {operation} that one \
         instead",
        tag.escape_debug(), tag.escape_debug(), other.escape_debug()
    )]
    IdClash {
        /// What was asked.
        operation: Operation,
        /// The tag asked for.
        tag: String,
        /// The tag of the snapshot whose id is `tag`.
        other: String,
        /// The disk where the two meet.
        disk: String,
    },
    /// The snapshot holds no VM state on a writable disk, so it cannot be loaded while the VM
    /// runs.
    #[error(
        "snapshot '{tag}' holds no VM state (a disk-only snapshot): revert to it with \
         `qemu-img snapshot -a` while the VM is off"
    )]
    DiskOnly {
        /// The tag.
        tag: String,
    },
    /// The tag cannot be passed through an HMP command line safely.
    #[error(
        "snapshot tag '{}' cannot be used: {why}, and the HMP fallback cannot pass {reason} \
         safely (use letters, digits and {HMP_SAFE_PUNCTUATION}, not only digits)",
        tag.escape_debug()
    )]
    HmpUnsafeTag {
        /// The tag.
        tag: String,
        /// What is wrong with it.
        reason: &'static str,
        /// Why HMP is in use ("this QEMU has no snapshot-save", ...).
        why: &'static str,
    },
    /// A snapshot job concluded with an error.
    #[error("{operation} of snapshot '{tag}' failed (job {job_id}): {message}")]
    Job {
        /// What was attempted.
        operation: Operation,
        /// The tag.
        tag: String,
        /// The QEMU job id.
        job_id: String,
        /// QEMU's error text, verbatim.
        message: String,
    },
    /// An HMP command printed an error.
    #[error("`{command}` failed: {message}")]
    Hmp {
        /// The HMP command line.
        command: String,
        /// QEMU's output, verbatim (surrounding whitespace trimmed).
        message: String,
    },
    /// The operation did not finish in time.
    #[error(
        "{operation} of snapshot '{tag}' did not finish within {:.0} s{}",
        after.as_secs_f64(),
        job_id.as_ref().map(|id| format!(" (job {id} may still be running)")).unwrap_or_default()
    )]
    Timeout {
        /// What was attempted.
        operation: Operation,
        /// The tag.
        tag: String,
        /// The QEMU job id, for QMP jobs.
        job_id: Option<String>,
        /// The time allowed.
        after: Duration,
    },
    /// The job left `query-jobs` before it concluded (someone else dismissed it).
    #[error("snapshot job {job_id} disappeared before it concluded; its outcome is unknown")]
    JobVanished {
        /// The QEMU job id.
        job_id: String,
    },
    /// A disk taking part has no node name, which `snapshot-save` needs.
    #[error("disk {disk} has no block node name, which the QMP snapshot commands need")]
    NoNodeName {
        /// The disk.
        disk: String,
    },
    /// This QEMU offers no way to take snapshots over QMP.
    #[error("this QEMU offers neither snapshot-save nor human-monitor-command")]
    NoMethod,
}
