//! The monitor console end to end: the real binary in a pseudo-terminal against a real QEMU,
//! keys typed, the screen read, the history file checked across runs, and read-only mode
//! checked against a fake server that records every command.

use crate::support::pty::Dashboard;
use crate::support::{FakeQmp, Qemu, history_of};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn console_runs_hmp_and_qmp_and_keeps_history_across_runs() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let data = tempfile::tempdir().unwrap();
    let data_home = data.path().to_str().unwrap();
    let env = [("XDG_DATA_HOME", data_home)];
    let mut dash = Dashboard::start_with_env(&[&target], &env, 120, 36);
    let screen = dash.wait_for("● running", WAIT);
    assert!(
        screen.contains(": console"),
        "the footer names the key: {screen}"
    );

    dash.send(":");
    dash.wait_for("Monitor console", WAIT);
    dash.send("info status\r");
    dash.wait_for("VM status: running", WAIT);

    // QMP mode: an error reply shown as QEMU sent it, then a good reply pretty-printed.
    dash.send("\x14");
    dash.wait_for("┌ QMP ", WAIT);
    dash.send(r#"{"execute": "nosuch"}"#);
    dash.send("\r");
    dash.wait_for(r#""class": "CommandNotFound""#, WAIT);
    dash.wait_for(r#""desc": "The command nosuch has not been found""#, WAIT);
    dash.send("query-status\r");
    dash.wait_for(r#""status": "running""#, WAIT);
    assert_eq!(observer.status(), "running");
    assert_eq!(
        history_of(data.path()),
        vec![
            "info status",
            r#"{"execute":"nosuch"}"#,
            r#"{"execute":"query-status"}"#
        ]
    );

    dash.send("\x1b");
    dash.wait_for("s snapshots", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));

    // A new run: ↑ brings the commands back, oldest last.
    let mut dash = Dashboard::start_with_env(&[&target], &env, 120, 36);
    dash.wait_for("● running", WAIT);
    dash.send(":");
    dash.wait_for("Monitor console", WAIT);
    for _ in 0..3 {
        dash.send("\x1b[A");
    }
    dash.wait_for("│info status", WAIT);
    dash.send("\r");
    dash.wait_for("(hmp) info status", WAIT);
    dash.wait_for("VM status: running", WAIT);
    dash.send("\x03");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn an_unwritable_history_is_a_message_not_a_crash() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    let data = tempfile::tempdir().unwrap();
    // A file where the history's directory should be.
    std::fs::write(data.path().join("qemu-dash"), "not a directory").unwrap();
    let data_home = data.path().to_str().unwrap();
    let mut dash = Dashboard::start_with_env(&[&target], &[("XDG_DATA_HOME", data_home)], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.send(":");
    dash.wait_for("Monitor console", WAIT);
    dash.send("info status\r");
    dash.wait_for("VM status: running", WAIT);
    dash.wait_for("console history not saved:", WAIT);
    dash.send("info name\r");
    dash.wait_for("(hmp) info name", WAIT);
    dash.send("\x03");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn read_only_console_runs_info_but_refuses_the_rest() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let data = tempfile::tempdir().unwrap();
    let data_home = data.path().to_str().unwrap();
    let mut dash = Dashboard::start_with_env(
        &[&target, "--read-only"],
        &[("XDG_DATA_HOME", data_home)],
        120,
        36,
    );
    dash.wait_for("● running", WAIT);
    dash.send(":");
    dash.wait_for("Monitor console", WAIT);
    dash.send("stop\r");
    dash.wait_for(
        "read-only: only HMP `info …` and QMP `query-…` commands are sent",
        WAIT,
    );
    dash.send("info status\r");
    dash.wait_for("VM status: running", WAIT);
    assert_eq!(observer.status(), "running");
}

/// Every screen's keys under `--read-only`, against a server that records what it gets:
/// only queries (and HMP `info …`) may arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_monitor_screens_send_only_queries() {
    let fake = FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_some() {
            conn.serve_plausibly().await;
        }
    });
    let target = fake.target();
    let data = tempfile::tempdir().unwrap();
    let data_home = data.path().to_str().unwrap().to_string();
    let recorder = fake.recorder();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start_with_env(
            &[&target, "--read-only", "--interval", "0.25"],
            &[("XDG_DATA_HOME", &data_home)],
            120,
            36,
        );
        dash.wait_for("● running", WAIT);
        dash.send(":");
        dash.wait_for("Monitor console", WAIT);
        for line in [
            "stop",
            "info status",
            r#"{"execute": "quit"}"#,
            r#"{"execute": "query-status"}"#,
            "system_reset",
        ] {
            dash.send(line);
            dash.send("\r");
        }
        dash.send("\x14");
        dash.send("human-monitor-command {\"command-line\": \"quit\"}\r");
        dash.wait_for("(qmp) human-monitor-command", WAIT);
        let pause = || std::thread::sleep(Duration::from_millis(150));
        dash.send("\x1b");
        pause();
        for keys in [
            "m", "e", "E", "y", "c", "n", "a", "x", "d", "a", "x", "y", "M", "s", "x",
        ] {
            dash.send(keys);
            pause();
        }
        dash.wait_for("read-only:", WAIT);
        // Two more polls after the keys, so anything they sent has arrived.
        recorder.wait_for_polls(2, WAIT);
    })
    .await
    .unwrap();
    let received = fake.received();
    assert!(received.len() > 3, "{received:?}");
    for command in &received {
        let name = command["execute"].as_str().unwrap();
        // qom-get reads a property (the machine type, the CPU model) and changes nothing.
        let allowed = name == "qmp_capabilities"
            || name.starts_with("query-")
            || name == "qom-get"
            || (name == "human-monitor-command"
                && command["arguments"]["command-line"]
                    .as_str()
                    .is_some_and(|line| line.starts_with("info ")));
        assert!(allowed, "read-only sent {command}");
    }
    assert!(
        received
            .iter()
            .any(|c| c["execute"] == "human-monitor-command"),
        "info status and info network were sent"
    );
}
