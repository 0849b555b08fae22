//! Snapshot jobs an earlier qemu-dash left behind: a `snapshot save` killed mid-job leaves its
//! concluded job in QEMU for good (only `job-dismiss` removes it). Found on connect, they are
//! dismissed and reported. A job whose qemu-dash is still running on this machine is left to it.

use super::SnapshotError;
use crate::qmp::Client;
use serde_json::json;

/// The prefix of every job id qemu-dash gives QEMU (see `job::new_job_id`).
pub(super) const JOB_PREFIX: &str = "qemu-dash-";

/// A concluded job that was dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DismissedJob {
    /// The QEMU job id.
    pub id: String,
    /// The job's error, if it had failed.
    pub error: Option<String>,
}

/// Dismisses the concluded `qemu-dash-*` jobs whose qemu-dash is gone, and returns them.
pub async fn dismiss_stale_jobs(client: &Client) -> Result<Vec<DismissedJob>, SnapshotError> {
    let mut dismissed = Vec::new();
    for job in client.query_jobs().await? {
        if job.status != "concluded" || !job.id.starts_with(JOB_PREFIX) || owner_alive(&job.id) {
            continue;
        }
        client
            .execute("job-dismiss", Some(json!({ "id": job.id })))
            .await?;
        dismissed.push(DismissedJob {
            id: job.id,
            error: job.error,
        });
    }
    Ok(dismissed)
}

/// One sentence for the user about what was dismissed, or `None` when nothing was.
pub fn describe_dismissed(jobs: &[DismissedJob]) -> Option<String> {
    let described: Vec<String> = jobs
        .iter()
        .map(|job| match &job.error {
            Some(error) => format!("{} (it had failed: {error})", job.id),
            None => job.id.clone(),
        })
        .collect();
    match described.len() {
        0 => None,
        1 => Some(format!(
            "dismissed a finished snapshot job an earlier qemu-dash left behind: {}",
            described[0]
        )),
        n => Some(format!(
            "dismissed {n} finished snapshot jobs earlier qemu-dash runs left behind: {}",
            described.join(", ")
        )),
    }
}

/// True when the job id names the pid of a qemu-dash that still runs on this machine.
fn owner_alive(job_id: &str) -> bool {
    let Some(pid) = owner_pid(job_id) else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|comm| comm.trim_end() == env!("CARGO_PKG_NAME"))
}

/// The pid in `qemu-dash-OPERATION-PID-COUNT-NANOS`.
fn owner_pid(job_id: &str) -> Option<u32> {
    job_id
        .strip_prefix(JOB_PREFIX)?
        .split('-')
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_read_from_the_job_id() {
        assert_eq!(owner_pid("qemu-dash-save-4242-0-000000001"), Some(4242));
        assert_eq!(owner_pid("qemu-dash-save"), None);
        assert_eq!(owner_pid("other-save-1-2-3"), None);
        assert!(!owner_alive("qemu-dash-save-999999999-0-1"));
    }

    #[test]
    fn dismissed_jobs_are_described_in_one_sentence() {
        assert_eq!(describe_dismissed(&[]), None);
        let failed = DismissedJob {
            id: "qemu-dash-save-1-0-5".into(),
            error: Some("No space left on device".into()),
        };
        assert_eq!(
            describe_dismissed(std::slice::from_ref(&failed)).unwrap(),
            "dismissed a finished snapshot job an earlier qemu-dash left behind: \
             qemu-dash-save-1-0-5 (it had failed: No space left on device)"
        );
        let done = DismissedJob {
            id: "qemu-dash-load-2-0-6".into(),
            error: None,
        };
        assert!(
            describe_dismissed(&[failed, done])
                .unwrap()
                .starts_with("dismissed 2 finished snapshot jobs")
        );
    }
}
