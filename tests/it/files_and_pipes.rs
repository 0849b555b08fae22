//! Files and pipes that misbehave: an `--event-log` file whose reader stalls or whose disk
//! fills up, a batch stdout closed by `head`, and batch lines in an event burst. The dashboard
//! keeps working and says what was lost; files hold whole lines and record their gaps.

use crate::support::pty::{Dashboard, binary, run};
use crate::support::qemu::send_signal;
use crate::support::{FakeQmp, Qemu, wait_until};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// A FIFO whose reader never reads: the log's queue fills, the dashboard keeps counting
/// events, says the file is stuck, and quits on `q` and on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_log_to_a_stalled_pipe_never_freezes_the_dashboard() {
    // 30 000 events of ~1.2 KiB: more than the pipe (64 KiB) and the queue (16 MiB) hold.
    const BURST: usize = 30_000;
    let fake = FakeQmp::flooding(BURST, 1000);
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        for how in ["q", "SIGTERM"] {
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("events.fifo");
            let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            // Held open for reading (so opening it for writing does not wait), never read.
            let _stalled_reader = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&fifo)
                .unwrap();
            let log = fifo.display().to_string();
            let mut dash = Dashboard::start(&[&target, "--event-log", &log], 200, 30);
            dash.wait_for(&format!("Events ({BURST} seen)"), Duration::from_secs(60));
            dash.wait_for("the file is not taking writes", WAIT);
            match how {
                "q" => dash.send("q"),
                _ => send_signal(dash.pid(), "TERM"),
            }
            let exit = dash.wait_exit(WAIT);
            assert!(exit.is_some(), "{how}: the dashboard did not exit");
            assert_eq!(exit, Some(false), "{how}: events are missing, so exit 1");
            dash.assert_terminal_given_back(how);
            assert!(
                dash.wait_raw("events are missing from the file", WAIT),
                "{how}: says what was lost"
            );
        }
    })
    .await
    .unwrap();
}

/// Batch mode with a log that cannot be written (`/dev/full`) stops with one line on stderr
/// and exit 1 at the first event, instead of running on with nothing logged.
#[test]
fn event_log_write_error_fails_batch_mode() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut child = Command::new(binary())
        .args(["--batch", "-n", "40", "--interval", "0.25"])
        .args(["--event-log", "/dev/full", &qemu.target()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap();
    qemu.observer().execute("stop", json!({}));
    let status = wait_until(WAIT, "batch mode to exit", || child.try_wait().unwrap());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "exit status {status}; stderr {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("event log /dev/full: cannot write: No space left on device"),
        "{stderr}"
    );
}

/// `qemu-dash --batch | head -1`: when the reader goes, batch mode ends quietly with status 0.
#[test]
fn batch_to_a_closed_pipe_ends_quietly() {
    let qemu = Qemu::builder().machine("none").start();
    let mut child = Command::new(binary())
        .args(["--batch", "--interval", "0.25", &qemu.target()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"status\":\"running\""), "{first}");
    drop(stdout);
    let status = wait_until(WAIT, "batch mode to exit", || child.try_wait().unwrap());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit status {status}; stderr {stderr}");
    assert_eq!(stderr, "", "nothing on stderr");
}

/// Events lost to a burst are counted on the line (`events_missed`): listed plus missed
/// events add up to `events_total`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_lines_count_the_events_a_burst_made_them_miss() {
    const BURST: u64 = 30_000;
    let fake = FakeQmp::flooding(BURST as usize, 0);
    let target = fake.target();
    let lines = tokio::task::spawn_blocking(move || {
        run(["--batch", "-n", "4", "--interval", "0.25", &target]).json_lines()
    })
    .await
    .unwrap();
    let listed: u64 = lines
        .iter()
        .map(|l| l["events"].as_array().unwrap().len() as u64)
        .sum();
    let missed: u64 = lines
        .iter()
        .map(|l| {
            l["events_missed"]
                .as_u64()
                .expect("events_missed on every line")
        })
        .sum();
    let total = lines.last().unwrap()["events_total"].as_u64().unwrap();
    assert_eq!(total, BURST, "{} lines", lines.len());
    assert!(
        missed > 0,
        "the burst outran the batch loop ({listed} listed)"
    );
    assert_eq!(listed + missed, total);
}
