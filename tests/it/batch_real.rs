//! Batch mode against a real QEMU: JSON lines with the dashboard's figures.

use crate::support::Qemu;
use crate::support::pty::run;
use serde_json::Value;

#[test]
fn batch_prints_one_json_object_per_poll() {
    let qemu = Qemu::builder()
        .name("batch-vm")
        .disk("disk0", "qcow2")
        .start();
    let lines = run(["--batch", "-n", "3", "--interval", "0.25", &qemu.target()]).json_lines();
    assert_eq!(lines.len(), 3);
    let first = &lines[0];
    assert_eq!(first["name"], "batch-vm");
    assert_eq!(first["status"], "running");
    assert_eq!(first["running"], true);
    assert_eq!(first["memory"]["base_bytes"], 128 << 20);
    assert!(first["vcpus"][0]["thread_id"].as_u64().unwrap() > 0);
    let disk = &first["blocks"][0];
    assert_eq!(disk["device"], "disk0");
    assert_eq!(disk["format"], "qcow2");
    assert!(disk["file"].as_str().unwrap().ends_with("disk0.qcow2"));
    assert!(disk["rates"].is_null(), "no rate before two samples");
    let later = &lines[2];
    assert!(later["blocks"][0]["rates"]["read_bytes_per_sec"].is_number());
    assert!(later["host"]["rss_bytes"].as_u64().unwrap() > 1 << 20);
    assert!(later["vcpus"][0]["cpu_percent"].is_number());
}

#[test]
fn batch_reports_events_since_the_previous_line() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let mut child = crate::support::pty::command()
        .args(["--batch", "--interval", "0.25", &qemu.target()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let _first = lines.next().unwrap().unwrap();
    observer.execute("stop", serde_json::json!({}));
    let mut seen = Vec::new();
    for line in lines.by_ref().take(20) {
        let value: Value = serde_json::from_str(&line.unwrap()).unwrap();
        for event in value["events"].as_array().unwrap() {
            seen.push(event["event"].as_str().unwrap().to_string());
        }
        if value["status"] == "paused" && seen.iter().any(|e| e == "STOP") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.iter().any(|e| e == "STOP"), "{seen:?}");
}

#[test]
fn batch_exits_non_zero_with_one_line_when_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.qmp");
    let finished = run([
        "--batch".as_ref(),
        "-n".as_ref(),
        "1".as_ref(),
        missing.as_os_str(),
    ]);
    finished.assert_one_line_error("no socket at");
    assert!(finished.stdout.is_empty());
}
