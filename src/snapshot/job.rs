//! Running snapshot operations: QMP jobs (`snapshot-save`/`-load`/`-delete`) or HMP fallback.
//!
//! Every operation reads `query-block` first, so it can refuse what QEMU would do badly or
//! silently: a duplicate tag on save (HMP `savevm` overwrites), an unknown tag on load (a
//! failed load leaves the VM stopped) or delete (QEMU reports success), a partial snapshot, or
//! writable disks that cannot take part. A QMP job is followed by subscribing to events before
//! the command is sent (`JOB_STATUS_CHANGE` can arrive before the reply), waking on them and
//! polling `query-jobs` for progress until the job concludes; its error is read from
//! `query-jobs`, and the job is dismissed. Nothing here renders anything: progress goes to the
//! caller's callback as [`Progress`] values.

use super::list::merge;
use super::plan::{Method, Plan, PlanDisk, disk_name, plan_from_blocks};
use super::stale::JOB_PREFIX;
use super::tag::{check_hmp_tag, validate_tag};
use super::{Snapshot, SnapshotError};
use crate::qmp::types::BlockInfo;
use crate::qmp::{Client, Notice, QmpError};
use futures_util::FutureExt;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long an operation may take by default: saving a large VM to a slow disk takes minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// What to do with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Take a snapshot.
    Save,
    /// Revert the VM to a snapshot.
    Load,
    /// Delete a snapshot.
    Delete,
}

impl Operation {
    /// The QMP command.
    pub fn qmp_command(self) -> &'static str {
        match self {
            Operation::Save => "snapshot-save",
            Operation::Load => "snapshot-load",
            Operation::Delete => "snapshot-delete",
        }
    }

    /// The HMP command.
    pub fn hmp_command(self) -> &'static str {
        match self {
            Operation::Save => "savevm",
            Operation::Load => "loadvm",
            Operation::Delete => "delvm",
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Save => "save",
            Operation::Load => "load",
            Operation::Delete => "delete",
        })
    }
}

/// Which [`Method`] to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MethodChoice {
    /// QMP jobs when `query-commands` lists them, else HMP.
    #[default]
    Auto,
    /// QMP jobs, always.
    Qmp,
    /// HMP, always (tests use it to exercise the fallback).
    Hmp,
}

/// Options for [`save`], [`load`] and [`delete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// How to talk to QEMU.
    pub method: MethodChoice,
    /// How long the whole operation may take.
    pub timeout: Duration,
    /// Save or load only the disks that can take internal snapshots, leaving out writable
    /// disks that cannot (the user agreed to "snapshot the others"). QMP only.
    pub skip_unsupported: bool,
    /// How often to poll `query-jobs` for progress between events.
    pub poll_interval: Duration,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            method: MethodChoice::Auto,
            timeout: DEFAULT_TIMEOUT,
            skip_unsupported: false,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// A progress report, for a status line or a gauge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub operation: Operation,
    /// The snapshot's tag.
    pub tag: String,
    /// The QEMU job id (`None` on the HMP path, which has no job).
    pub job_id: Option<String>,
    /// The job status as QEMU names it ("created", "running", "pending", "concluded"...);
    /// on the HMP path "running", then "concluded".
    pub status: String,
    /// Work done so far, in the job's own units.
    pub current: u64,
    /// Work expected in all (0 when unknown).
    pub total: u64,
}

impl Progress {
    /// Done so far as a fraction from 0 to 1, when the total is known.
    pub fn fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| (self.current as f64 / self.total as f64).clamp(0.0, 1.0))
    }
}

/// What a finished operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What was done.
    pub operation: Operation,
    /// The snapshot's tag.
    pub tag: String,
    /// How it was done.
    pub method: Method,
    /// The QEMU job id, for QMP jobs.
    pub job_id: Option<String>,
    /// The disks involved.
    pub disks: Vec<String>,
    /// How long it took, checks included.
    pub elapsed: Duration,
}

/// Asks QEMU (`query-commands`) which method [`MethodChoice::Auto`] would use.
pub async fn detect_method(client: &Client) -> Result<Method, SnapshotError> {
    let names = client.query_command_names().await?;
    let has = |name: &str| names.iter().any(|n| n == name);
    if Operation::ALL.iter().all(|op| has(op.qmp_command())) {
        Ok(Method::Qmp)
    } else if has("human-monitor-command") {
        Ok(Method::Hmp)
    } else {
        Err(SnapshotError::NoMethod)
    }
}

impl Operation {
    const ALL: [Operation; 3] = [Operation::Save, Operation::Load, Operation::Delete];
}

/// Why HMP is in use, for error messages.
const HMP_DETECTED: &str = "this QEMU has no snapshot-save";
const HMP_CHOSEN: &str = "the HMP method was chosen";

async fn resolve(
    client: &Client,
    choice: MethodChoice,
) -> Result<(Method, &'static str), SnapshotError> {
    Ok(match choice {
        MethodChoice::Qmp => (Method::Qmp, ""),
        MethodChoice::Hmp => (Method::Hmp, HMP_CHOSEN),
        MethodChoice::Auto => (detect_method(client).await?, HMP_DETECTED),
    })
}

/// The VM's state as one `query-block` shows it.
struct Survey {
    plan: Plan,
    snapshots: Vec<Snapshot>,
    blocks: Vec<BlockInfo>,
}

async fn survey(client: &Client) -> Result<Survey, SnapshotError> {
    let blocks = client.query_block().await?;
    Ok(Survey {
        plan: plan_from_blocks(&blocks),
        snapshots: merge(&blocks),
        blocks,
    })
}

impl Survey {
    /// Refuses to `operation` the snapshot tagged `tag` when a disk taking part holds another
    /// snapshot whose numeric id is `tag`: QEMU's qcow2 driver looks a name up as an id first,
    /// so it would load (or delete) that other snapshot and report success.
    fn refuse_id_clash(&self, tag: &str, operation: Operation) -> Result<(), SnapshotError> {
        let taking_part = |block: &&BlockInfo| {
            let name = disk_name(block);
            self.plan.disks.iter().any(|disk| disk.name == name)
        };
        for block in self.blocks.iter().filter(taking_part) {
            let snapshots = block
                .inserted
                .as_ref()
                .and_then(|inserted| inserted.image.as_ref())
                .map(|image| image.snapshots.as_slice())
                .unwrap_or_default();
            if let Some(other) = snapshots.iter().find(|s| s.id == tag && s.name != tag) {
                return Err(SnapshotError::IdClash {
                    operation,
                    tag: tag.to_string(),
                    other: other.name.clone(),
                    disk: disk_name(block),
                });
            }
        }
        Ok(())
    }
}

/// Takes a snapshot tagged `tag` of the whole VM (RAM and device state on the first
/// snapshot-capable disk, see [`super::preflight`]). Refuses invalid or already used tags
/// before asking QEMU, and writable disks that cannot take part unless
/// `options.skip_unsupported`. `progress` is called as the job moves.
pub async fn save<F: FnMut(Progress) + Send>(
    client: &Client,
    tag: &str,
    options: &SnapshotOptions,
    progress: F,
) -> Result<Outcome, SnapshotError> {
    let start = Instant::now();
    let Survey {
        plan, snapshots, ..
    } = survey(client).await?;
    validate_tag(tag, &snapshots)?;
    let (method, why) = resolve(client, options.method).await?;
    plan.check(method, options.skip_unsupported)?;
    let disks = plan.disks.iter().collect::<Vec<_>>();
    let run = Run::new(client, Operation::Save, tag, start, options);
    let arguments = || {
        let vmstate = plan
            .vmstate
            .as_ref()
            .ok_or_else(|| SnapshotError::NoSnapshotDisk {
                unsupported: plan.unsupported.clone(),
            })?;
        state_arguments(tag, vmstate, &disks)
    };
    run.by(method, why, arguments, names(&disks), progress)
        .await
}

/// Reverts the VM to the snapshot tagged `tag` (disks and VM state). Refuses unknown tags and
/// partial snapshots before asking QEMU (a failed load leaves the VM stopped). A running VM
/// runs again afterwards; a paused one stays paused.
pub async fn load<F: FnMut(Progress) + Send>(
    client: &Client,
    tag: &str,
    options: &SnapshotOptions,
    progress: F,
) -> Result<Outcome, SnapshotError> {
    let start = Instant::now();
    let survey = survey(client).await?;
    survey.refuse_id_clash(tag, Operation::Load)?;
    let Survey {
        plan, snapshots, ..
    } = survey;
    let snapshot = find(&snapshots, &plan, tag)?;
    let (method, why) = resolve(client, options.method).await?;
    plan.check(method, options.skip_unsupported)?;
    if snapshot.partial {
        return Err(SnapshotError::Partial {
            tag: tag.to_string(),
            missing: snapshot.missing.clone(),
        });
    }
    let vmstate = snapshot
        .vmstate_disk
        .as_ref()
        .and_then(|name| plan.disks.iter().find(|d| &d.name == name))
        .ok_or_else(|| SnapshotError::DiskOnly {
            tag: tag.to_string(),
        })?;
    let disks = plan.disks.iter().collect::<Vec<_>>();
    let run = Run::new(client, Operation::Load, tag, start, options);
    let arguments = || state_arguments(tag, vmstate, &disks);
    run.by(method, why, arguments, names(&disks), progress)
        .await
}

/// Deletes the snapshot tagged `tag` from every writable disk carrying it. Refuses unknown
/// tags before asking QEMU (which would report success). A partial snapshot is deleted from
/// the disks that have it.
pub async fn delete<F: FnMut(Progress) + Send>(
    client: &Client,
    tag: &str,
    options: &SnapshotOptions,
    progress: F,
) -> Result<Outcome, SnapshotError> {
    let start = Instant::now();
    let survey = survey(client).await?;
    survey.refuse_id_clash(tag, Operation::Delete)?;
    let Survey {
        plan, snapshots, ..
    } = survey;
    let snapshot = find(&snapshots, &plan, tag)?;
    let (method, why) = resolve(client, options.method).await?;
    let carriers: Vec<&PlanDisk> = plan
        .disks
        .iter()
        .filter(|disk| snapshot.disks.contains(&disk.name))
        .collect();
    if method == Method::Hmp {
        // delvm touches every writable disk and fails if one cannot take snapshots.
        plan.check(Method::Hmp, false)?;
    }
    let run = Run::new(client, Operation::Delete, tag, start, options);
    let arguments = || Ok(json!({"tag": tag, "devices": node_names(&carriers)?}));
    run.by(method, why, arguments, names(&carriers), progress)
        .await
}

/// Arguments of `snapshot-save` and `snapshot-load`: the tag, the node holding the VM state,
/// and every node taking part.
fn state_arguments(
    tag: &str,
    vmstate: &PlanDisk,
    disks: &[&PlanDisk],
) -> Result<Value, SnapshotError> {
    Ok(json!({
        "tag": tag,
        "vmstate": node_name(vmstate)?,
        "devices": node_names(disks)?,
    }))
}

/// The snapshot tagged `tag`, if a writable snapshot-capable disk carries it.
fn find<'a>(
    snapshots: &'a [Snapshot],
    plan: &Plan,
    tag: &str,
) -> Result<&'a Snapshot, SnapshotError> {
    snapshots
        .iter()
        .find(|s| s.tag == tag && plan.disks.iter().any(|d| s.disks.contains(&d.name)))
        .ok_or_else(|| SnapshotError::NotFound {
            tag: tag.to_string(),
        })
}

fn node_name(disk: &PlanDisk) -> Result<String, SnapshotError> {
    disk.node_name
        .clone()
        .ok_or_else(|| SnapshotError::NoNodeName {
            disk: disk.name.clone(),
        })
}

fn node_names(disks: &[&PlanDisk]) -> Result<Vec<String>, SnapshotError> {
    disks.iter().map(|disk| node_name(disk)).collect()
}

fn names(disks: &[&PlanDisk]) -> Vec<String> {
    disks.iter().map(|d| d.name.clone()).collect()
}

/// A job id no other job of this QEMU uses: this process, a counter and the time.
fn new_job_id(operation: Operation) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{JOB_PREFIX}{operation}-{}-{count}-{nanos:09}",
        std::process::id()
    )
}

/// One operation in flight.
struct Run<'a> {
    client: &'a Client,
    operation: Operation,
    tag: &'a str,
    start: Instant,
    deadline: Instant,
    poll_interval: Duration,
}

impl<'a> Run<'a> {
    fn new(
        client: &'a Client,
        operation: Operation,
        tag: &'a str,
        start: Instant,
        options: &SnapshotOptions,
    ) -> Self {
        Run {
            client,
            operation,
            tag,
            start,
            deadline: start + options.timeout,
            poll_interval: options.poll_interval,
        }
    }

    /// Runs the operation by `method`: a QMP job with the `arguments` built on demand, or
    /// HMP once the tag is known to be safe on its command line.
    async fn by<F: FnMut(Progress) + Send>(
        &self,
        method: Method,
        why: &'static str,
        arguments: impl FnOnce() -> Result<Value, SnapshotError>,
        disks: Vec<String>,
        progress: F,
    ) -> Result<Outcome, SnapshotError> {
        match method {
            Method::Qmp => self.qmp(arguments()?, disks, progress).await,
            Method::Hmp => {
                check_hmp_tag(self.tag, why)?;
                self.hmp(disks, progress).await
            }
        }
    }

    fn timeout(&self, job_id: Option<&str>) -> SnapshotError {
        SnapshotError::Timeout {
            operation: self.operation,
            tag: self.tag.to_string(),
            job_id: job_id.map(str::to_string),
            after: self.deadline - self.start,
        }
    }

    fn progress(&self, job_id: Option<&str>, status: &str, current: u64, total: u64) -> Progress {
        Progress {
            operation: self.operation,
            tag: self.tag.to_string(),
            job_id: job_id.map(str::to_string),
            status: status.to_string(),
            current,
            total,
        }
    }

    fn outcome(&self, method: Method, job_id: Option<String>, disks: Vec<String>) -> Outcome {
        Outcome {
            operation: self.operation,
            tag: self.tag.to_string(),
            method,
            job_id,
            disks,
            elapsed: self.start.elapsed(),
        }
    }

    /// Starts the QMP job with `arguments` (plus a fresh `job-id`) and follows it to the end.
    async fn qmp<F: FnMut(Progress) + Send>(
        &self,
        mut arguments: Value,
        disks: Vec<String>,
        mut report: F,
    ) -> Result<Outcome, SnapshotError> {
        let job_id = new_job_id(self.operation);
        arguments["job-id"] = json!(job_id);
        // Subscribe first: JOB_STATUS_CHANGE may arrive before the command's reply.
        let mut events = self.client.subscribe();
        let left = self.deadline.saturating_duration_since(Instant::now());
        self.client
            .execute_with_timeout(self.operation.qmp_command(), Some(arguments), left)
            .await
            .map_err(|error| match error {
                QmpError::Timeout { .. } => self.timeout(Some(&job_id)),
                other => other.into(),
            })?;
        let mut last: Option<Progress> = None;
        let mut emit = |progress: Progress| {
            if last.as_ref() != Some(&progress) {
                report(progress.clone());
                last = Some(progress);
            }
        };
        // The statuses QEMU announced while the command ran: on these QEMUs the reply comes
        // only after the job has run, so they are often the whole story.
        // "concluded" is left to `query-jobs`, which has the numbers and the error.
        while let Some(Some(status)) = next_status(&mut events, &job_id).now_or_never() {
            if status != "concluded" {
                emit(self.progress(Some(&job_id), &status, 0, 0));
            }
        }
        loop {
            let jobs = self.client.query_jobs().await?;
            let Some(job) = jobs.into_iter().find(|job| job.id == job_id) else {
                return Err(SnapshotError::JobVanished { job_id });
            };
            let (current, total) = (job.current_progress, job.total_progress);
            emit(self.progress(Some(&job_id), &job.status, current, total));
            if job.status == "concluded" {
                self.client
                    .execute("job-dismiss", Some(json!({"id": job_id})))
                    .await?;
                return match job.error {
                    Some(message) => Err(SnapshotError::Job {
                        operation: self.operation,
                        tag: self.tag.to_string(),
                        job_id,
                        message,
                    }),
                    None => Ok(self.outcome(Method::Qmp, Some(job_id), disks)),
                };
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(self.timeout(Some(&job_id)));
            }
            let wake = self.deadline.min(now + self.poll_interval);
            // Wake early when QEMU reports a change of our job's status.
            if let Ok(Some(status)) =
                tokio::time::timeout_at(wake, next_status(&mut events, &job_id)).await
                && status != "concluded"
            {
                emit(self.progress(Some(&job_id), &status, current, total));
            }
        }
    }

    /// Runs the HMP command for this operation; any output is QEMU's error message.
    async fn hmp<F: FnMut(Progress) + Send>(
        &self,
        disks: Vec<String>,
        mut report: F,
    ) -> Result<Outcome, SnapshotError> {
        let command = format!("{} {}", self.operation.hmp_command(), self.tag);
        report(self.progress(None, "running", 0, 1));
        let left = self.deadline.saturating_duration_since(Instant::now());
        let output = self
            .client
            .execute_with_timeout(
                "human-monitor-command",
                Some(json!({"command-line": command})),
                left,
            )
            .await
            .map_err(|error| match error {
                QmpError::Timeout { .. } => self.timeout(None),
                other => other.into(),
            })?;
        let message = output.as_str().unwrap_or_default().trim();
        if !message.is_empty() {
            return Err(SnapshotError::Hmp {
                command,
                message: message.to_string(),
            });
        }
        report(self.progress(None, "concluded", 1, 1));
        Ok(self.outcome(Method::Hmp, None, disks))
    }
}

/// Waits for a `JOB_STATUS_CHANGE` of `job_id` and returns its status; `None` when the
/// connection is gone or events were missed (the caller polls `query-jobs` either way).
async fn next_status(events: &mut crate::qmp::Subscription, job_id: &str) -> Option<String> {
    loop {
        match events.recv().await? {
            Notice::Event(event)
                if event.name == "JOB_STATUS_CHANGE"
                    && event.data.get("id").and_then(Value::as_str) == Some(job_id) =>
            {
                let status = event.data.get("status").and_then(Value::as_str)?;
                return Some(status.to_string());
            }
            Notice::Missed(_) | Notice::Disconnected(_) => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_are_unique_and_name_the_operation() {
        let a = new_job_id(Operation::Save);
        let b = new_job_id(Operation::Save);
        assert_ne!(a, b);
        assert!(a.starts_with("qemu-dash-save-"), "{a}");
        assert!(new_job_id(Operation::Delete).starts_with("qemu-dash-delete-"));
    }

    #[test]
    fn a_missing_node_name_is_named() {
        let disk = PlanDisk {
            name: "old".into(),
            node_name: None,
            format: "qcow2".into(),
        };
        let error = node_names(&[&disk]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "disk old has no block node name, which the QMP snapshot commands need"
        );
    }

    #[test]
    fn progress_fraction() {
        let mut progress = Progress {
            operation: Operation::Save,
            tag: "t".into(),
            job_id: None,
            status: "running".into(),
            current: 1,
            total: 4,
        };
        assert_eq!(progress.fraction(), Some(0.25));
        progress.total = 0;
        assert_eq!(progress.fraction(), None);
        progress.total = 1;
        progress.current = 7;
        assert_eq!(progress.fraction(), Some(1.0));
    }
}
