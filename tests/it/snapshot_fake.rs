//! Snapshots against a scripted fake QMP server: what a real QEMU will not do on demand (an
//! old QEMU without snapshot-save, a job that fails or crawls).

use crate::support::FakeQmp;
use qemu_dash::qmp::{Client, ConnectOptions, Target};
use qemu_dash::snapshot::{self, Method, Progress, SnapshotError, SnapshotOptions};
use serde_json::{Value, json};
use std::time::Duration;

async fn connect(fake: &FakeQmp) -> Client {
    let target: Target = fake.target().parse().unwrap();
    Client::connect(&target, &ConnectOptions::default())
        .await
        .unwrap()
}

fn one_disk_with(snapshots: Value) -> Value {
    json!([{"device": "disk0", "inserted": {"node-name": "n0", "ro": false, "drv": "qcow2",
            "image": {"filename": "d.qcow2", "format": "qcow2", "virtual-size": 1,
                      "snapshots": snapshots}}}])
}

fn executed(fake: &FakeQmp, name: &str) -> Vec<Value> {
    fake.received()
        .into_iter()
        .filter(|c| c["execute"] == name)
        .collect()
}

#[tokio::test]
async fn old_qemu_without_snapshot_save_falls_back_to_hmp_and_keeps_its_error_text() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        while let Some(cmd) = conn.command().await {
            let reply = match cmd["execute"].as_str().unwrap() {
                "query-commands" => {
                    json!([{"name": "query-block"}, {"name": "human-monitor-command"}])
                }
                "query-block" => one_disk_with(json!([{"id": "1", "name": "a",
                    "vm-state-size": 100, "date-sec": 1, "date-nsec": 0,
                    "vm-clock-sec": 0, "vm-clock-nsec": 0}])),
                "human-monitor-command" => {
                    json!("Error: Missing section footer for 0000:00:02.0/virtio-blk\r\n")
                }
                _ => json!({}),
            };
            conn.reply(&cmd["id"], reply).await;
        }
    });
    let client = connect(&fake).await;
    assert_eq!(snapshot::detect_method(&client).await.unwrap(), Method::Hmp);
    let options = SnapshotOptions::default();

    let error = snapshot::save(&client, "two words", &options, |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "snapshot tag 'two words' cannot be used: this QEMU has no snapshot-save, and the HMP \
         fallback cannot pass spaces, quotes or backslashes safely (use letters, digits and \
         ._:+-, not only digits)"
    );
    assert!(executed(&fake, "human-monitor-command").is_empty());

    let error = snapshot::load(&client, "a", &options, |_| {})
        .await
        .unwrap_err();
    let SnapshotError::Hmp { command, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(command, "loadvm a");
    assert_eq!(
        message,
        "Error: Missing section footer for 0000:00:02.0/virtio-blk"
    );
    assert_eq!(
        executed(&fake, "human-monitor-command")[0]["arguments"],
        json!({"command-line": "loadvm a"})
    );
}

#[tokio::test]
async fn a_failed_job_reports_qemus_error_and_is_dismissed() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let mut job = String::new();
        while let Some(cmd) = conn.command().await {
            let reply = match cmd["execute"].as_str().unwrap() {
                "query-block" => one_disk_with(json!([])),
                "snapshot-save" => {
                    // The whole job runs before the reply, as on real QEMUs.
                    job = cmd["arguments"]["job-id"].as_str().unwrap().to_string();
                    for status in ["created", "running", "aborting", "concluded"] {
                        conn.event("JOB_STATUS_CHANGE", json!({"id": job, "status": status}))
                            .await;
                    }
                    json!({})
                }
                "query-jobs" => json!([{"id": job, "type": "snapshot-save",
                    "status": "concluded", "current-progress": 1, "total-progress": 1,
                    "error": "Error while writing VM state: No space left on device"}]),
                _ => json!({}),
            };
            conn.reply(&cmd["id"], reply).await;
        }
    });
    let client = connect(&fake).await;
    let options = SnapshotOptions {
        method: snapshot::MethodChoice::Qmp,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let error = snapshot::save(&client, "s", &options, |p| seen.push(p.status))
        .await
        .unwrap_err();
    let SnapshotError::Job {
        job_id, message, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        message,
        "Error while writing VM state: No space left on device"
    );
    assert_eq!(seen, ["created", "running", "aborting", "concluded"]);
    let save = &executed(&fake, "snapshot-save")[0];
    assert_eq!(save["arguments"]["job-id"], json!(job_id));
    assert_eq!(
        save["arguments"],
        json!({"job-id": job_id, "tag": "s", "vmstate": "n0", "devices": ["n0"]})
    );
    assert_eq!(
        executed(&fake, "job-dismiss")[0]["arguments"],
        json!({"id": job_id})
    );
}

#[tokio::test]
async fn a_slow_job_is_followed_to_its_end_with_progress() {
    let fake = FakeQmp::start(|mut conn| async move {
        conn.handshake().await;
        let mut job = String::new();
        let mut polls = 0u64;
        while let Some(cmd) = conn.command().await {
            let reply = match cmd["execute"].as_str().unwrap() {
                "query-block" => one_disk_with(json!([{"id": "1", "name": "old",
                    "vm-state-size": 100, "date-sec": 1, "date-nsec": 0,
                    "vm-clock-sec": 0, "vm-clock-nsec": 0}])),
                "snapshot-delete" => {
                    job = cmd["arguments"]["job-id"].as_str().unwrap().to_string();
                    json!({})
                }
                "query-jobs" => {
                    polls += 1;
                    let (status, current) = match polls {
                        1 => ("running", 1),
                        2 => ("running", 2),
                        _ => ("concluded", 4),
                    };
                    let jobs = json!([{"id": job, "status": status,
                        "current-progress": current, "total-progress": 4}]);
                    conn.reply(&cmd["id"], jobs).await;
                    // Each event wakes the client long before its poll interval ends.
                    let next = if polls == 1 { "running" } else { "waiting" };
                    if polls < 3 {
                        conn.event("JOB_STATUS_CHANGE", json!({"id": job, "status": next}))
                            .await;
                    }
                    continue;
                }
                _ => json!({}),
            };
            conn.reply(&cmd["id"], reply).await;
        }
    });
    let client = connect(&fake).await;
    let options = SnapshotOptions {
        method: snapshot::MethodChoice::Qmp,
        // Only the events can wake the client in time: polling alone would take minutes.
        poll_interval: Duration::from_secs(120),
        ..Default::default()
    };
    let mut seen: Vec<Progress> = Vec::new();
    let delete = snapshot::delete(&client, "old", &options, |p| seen.push(p));
    let outcome = tokio::time::timeout(Duration::from_secs(10), delete)
        .await
        .expect("the job's events did not wake the client")
        .unwrap();
    let steps: Vec<_> = seen
        .iter()
        .map(|p| (p.status.as_str(), p.current, p.total))
        .collect();
    assert_eq!(
        steps,
        [
            ("running", 1, 4),
            ("running", 2, 4),
            ("waiting", 2, 4),
            ("concluded", 4, 4)
        ]
    );
    assert_eq!(seen[2].fraction(), Some(0.5));
    assert_eq!(outcome.disks, ["disk0"]);
    assert_eq!(executed(&fake, "query-jobs").len(), 3);
}
