//! Faults and bad input: hostile or broken QMP servers, a QEMU that dies or hangs, floods,
//! signals, panics. The dashboard keeps working and says what is wrong; batch mode exits
//! non-zero with one clear line.

use crate::support::fake::{FakeConn, plausible_reply};
use crate::support::pty::{Dashboard, Finished, run};
use crate::support::qemu::send_signal;
use crate::support::{FakeQmp, Qemu};
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// Answers like an idle VM, except that `query-status` gets `bad` (raw bytes) instead.
async fn serve_with_bad_status(mut conn: FakeConn, bad: Vec<u8>) {
    if conn.handshake().await.is_none() {
        return;
    }
    while let Some(command) = conn.command().await {
        let name = command["execute"].as_str().unwrap_or_default().to_string();
        if name == "query-status" {
            conn.send_raw(&bad).await;
        } else {
            conn.reply(&command["id"], plausible_reply(&name)).await;
        }
    }
}

/// Batch mode against `target` with short timeouts, run to completion.
fn batch_against(target: &str) -> Finished {
    run([
        "--batch",
        "-n",
        "2",
        "--interval",
        "0.25",
        "--command-timeout",
        "1",
        target,
    ])
}

/// Each broken reply: the dashboard names the problem, batch mode exits 1 with one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_replies_are_named_on_screen_and_fail_batch_mode() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "invalid JSON",
            b"{\"return\": {\"status\": \n".to_vec(),
            "invalid JSON from QEMU",
        ),
        (
            "invalid UTF-8",
            b"{\"return\": \"\xff\xfe\"}\n".to_vec(),
            "invalid UTF-8 from QEMU",
        ),
        (
            "a 20 MiB line",
            {
                let mut line = b"{\"return\": \"".to_vec();
                line.extend(std::iter::repeat_n(b'x', 20 << 20));
                line.extend_from_slice(b"\"}\n");
                line
            },
            "over the 16777216-byte limit",
        ),
        (
            "an id-less error",
            b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray\"}}\n"
                .to_vec(),
            "JSON parse error, stray",
        ),
        (
            "an unknown id",
            b"{\"return\": {\"status\": \"running\"}, \"id\": 99999999}\n".to_vec(),
            "got no reply within",
        ),
    ];
    for (what, bad, expected) in cases {
        let bad_for_server = bad.clone();
        let fake = FakeQmp::start(move |conn| serve_with_bad_status(conn, bad_for_server.clone()));
        let target = fake.target();
        let expected = expected.to_string();
        tokio::task::spawn_blocking(move || {
            eprintln!("case: {what}");
            batch_against(&target).assert_one_line_error(&expected);

            let mut dash = Dashboard::start(
                &[&target, "--interval", "0.25", "--command-timeout", "1"],
                120,
                30,
            );
            dash.wait_for(&expected, WAIT);
            dash.send("?");
            dash.wait_for("close help", WAIT);
            dash.send("q");
            dash.send("q");
            assert_eq!(
                dash.wait_exit(WAIT),
                Some(true),
                "{what}: dashboard quits cleanly"
            );
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_lines_keep_memory_bounded() {
    let fake = FakeQmp::start(|conn| async move {
        let mut line = b"{\"return\": \"".to_vec();
        line.extend(std::iter::repeat_n(b'y', 20 << 20));
        line.extend_from_slice(b"\"}\n");
        serve_with_bad_status(conn, line).await;
    });
    let target = fake.target();
    let recorder = fake.recorder();
    tokio::task::spawn_blocking(move || {
        let dash = Dashboard::start(&[&target, "--interval", "0.25"], 120, 30);
        dash.wait_for("over the 16777216-byte limit", WAIT);
        // Several more 20 MiB lines: each poll's query-status is answered with one.
        recorder.wait_for_polls(4, WAIT);
        let rss_kib = crate::support::peak_rss_kib(dash.pid());
        assert!(
            rss_kib < 96 * 1024,
            "peak RSS {rss_kib} KiB after many 20 MiB lines"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_split_into_tiny_reads_decode() {
    let fake = FakeQmp::start(|mut conn| async move {
        // Greeting and every reply sent three bytes at a time.
        let greeting = format!("{}\n", crate::support::fake::greeting());
        for piece in greeting.as_bytes().chunks(3) {
            conn.send_raw(piece).await;
            tokio::task::yield_now().await;
        }
        while let Some(command) = conn.command().await {
            let name = command["execute"].as_str().unwrap_or_default().to_string();
            let value = if name == "qmp_capabilities" {
                json!({})
            } else {
                plausible_reply(&name)
            };
            let line = format!("{}\n", json!({"return": value, "id": command["id"]}));
            for piece in line.as_bytes().chunks(3) {
                conn.send_raw(piece).await;
            }
        }
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let lines = run(["--batch", "-n", "2", "--interval", "0.25", &target]).json_lines();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| line["status"] == "running"));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_greetings_are_one_clear_line() {
    for (greeting, expected) in [
        (
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            "invalid JSON from QEMU",
        ),
        (&b"{\"hello\": 1}\n"[..], "expected the QMP greeting"),
        (&b""[..], "another client probably holds this socket"),
    ] {
        let fake = FakeQmp::start(move |mut conn| async move {
            conn.send_raw(greeting).await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        });
        let target = fake.target();
        tokio::task::spawn_blocking(move || {
            run(["--batch", "-n", "1", "--greeting-timeout", "0.5", &target])
                .assert_one_line_error(expected);
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_that_never_answers_shows_timeouts_and_keys_still_work() {
    let fake = FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_some() {
            while conn.command().await.is_some() {}
        }
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target, "--command-timeout", "0.5"], 120, 30);
        dash.wait_for("got no reply within 0.5 s", WAIT);
        dash.send("?");
        dash.wait_for("close help", WAIT);
        dash.send("\x1b");
        dash.wait_for("p/space pause/resume", WAIT);
        dash.send("+");
        dash.wait_for("polling every 0.5 s", WAIT);
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_in_the_middle_of_a_reply_is_a_disconnect() {
    let fake = FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_some() {
            let _ = conn.command().await;
            conn.send_raw(b"{\"return\": {\"stat").await;
        }
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        batch_against(&target).assert_one_line_error("QEMU closed the connection");
        let mut dash = Dashboard::start(&[&target], 120, 30);
        dash.wait_for("DISCONNECTED: QEMU closed the connection", WAIT);
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_100k_events_is_counted_and_logged_in_full() {
    const BURST: usize = 100_000;
    let fake = FakeQmp::flooding(BURST, 0);
    let target = fake.target();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let log_arg = log.display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target, "--event-log", &log_arg], 120, 30);
        dash.wait_for(&format!("Events ({BURST} seen)"), Duration::from_secs(60));
        dash.send("?");
        dash.wait_for("close help", WAIT);
        dash.send("q");
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), BURST);
    for (n, line) in lines.iter().enumerate() {
        assert_eq!(line["event"], "RTC_CHANGE");
        assert_eq!(line["data"]["offset"], n);
        assert_eq!(line["name"], "fake");
    }
}

#[test]
fn killed_qemu_shows_disconnected_and_a_new_one_on_the_same_path_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vm.qmp");
    let first = Qemu::builder()
        .machine("none")
        .name("first")
        .qmp_at(&socket)
        .start();
    let target = socket.display().to_string();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.25"], 120, 30);
    dash.wait_for("first  ● running", WAIT);
    first.signal("KILL");
    dash.wait_for("DISCONNECTED", WAIT);
    dash.wait_for("disconnected: QEMU closed the connection", WAIT);
    drop(first);
    let _second = Qemu::builder()
        .machine("none")
        .name("second")
        .qmp_at(&socket)
        .start();
    dash.wait_for("reconnected (QEMU", WAIT);
    dash.wait_for("second  ● running", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn stopped_qemu_shows_timeouts_and_recovers_after_sigcont() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    let mut dash = Dashboard::start(
        &[&target, "--interval", "0.25", "--command-timeout", "0.5"],
        120,
        30,
    );
    dash.wait_for("● running", WAIT);
    qemu.signal("STOP");
    dash.wait_for("got no reply within 0.5 s", WAIT);
    dash.send("?");
    dash.wait_for("close help", WAIT);
    dash.send("\x1b");
    dash.wait_for("p/space pause/resume", WAIT);
    qemu.signal("CONT");
    let start = std::time::Instant::now();
    loop {
        let screen = dash.text();
        if screen.contains("● running") && !screen.contains("got no reply") {
            break;
        }
        assert!(start.elapsed() < WAIT, "did not recover:\n{screen}");
        std::thread::sleep(Duration::from_millis(50));
    }
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn socket_held_by_another_client_is_named() {
    let qemu = Qemu::builder().machine("none").start();
    let _holder = crate::support::observer::Observer::connect(qemu.qmp_path());
    let finished = run([
        "--batch",
        "-n",
        "1",
        "--greeting-timeout",
        "1",
        &qemu.target(),
    ]);
    finished.assert_one_line_error("another client probably holds this socket");
    assert!(
        finished.stderr.contains("-qmp unix:"),
        "{}",
        finished.stderr
    );
}

#[test]
fn panic_restores_the_terminal() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    let mut dash = Dashboard::start_with_env(&[&target], &[("QEMU_DASH_TEST_PANIC", "1")], 100, 30);
    assert_eq!(dash.wait_exit(WAIT), Some(false), "a panic exits non-zero");
    assert!(dash.wait_raw("panic forced by QEMU_DASH_TEST_PANIC", WAIT));
    let raw = String::from_utf8_lossy(&dash.raw()).to_string();
    assert!(raw.contains("\x1b[?1049h"), "entered the alternate screen");
    assert!(raw.contains("\x1b[?1049l"), "left the alternate screen");
    let modes = dash.terminal_modes();
    let words: Vec<&str> = modes.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(words.contains(&mode), "{mode} not restored: {modes}");
    }
}

#[test]
fn sigterm_sighup_sigint_and_sigquit_exit_cleanly() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    // INT and QUIT as sent from another shell (in raw mode the keys are only keys).
    for signal in ["TERM", "HUP", "INT", "QUIT"] {
        let mut dash = Dashboard::start(&[&target], 100, 30);
        dash.wait_for("● running", WAIT);
        send_signal(dash.pid(), signal);
        assert_eq!(
            dash.wait_exit(WAIT),
            Some(true),
            "SIG{signal} exits with status 0"
        );
        dash.assert_terminal_given_back(&format!("SIG{signal}"));
    }
}
