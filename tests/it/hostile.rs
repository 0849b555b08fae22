//! Peers and files that would cost unbounded memory or time: huge events and replies, tens of
//! thousands of block devices, event storms, a peer that stops reading, hundreds of sockets,
//! and a history file that is a FIFO, huge, or shared by two dashboards. Each test checks what
//! a user could check: the real binary's peak memory, the polls the server saw, the screen.

use crate::support::fake::{FakeConn, plausible_reply};
use crate::support::pty::Dashboard;
use crate::support::{FakeQmp, history_of, peak_rss_kib, wait_until};
use qemu_dash::qmp::{Client, ConnectOptions, QmpError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{Mutex, Notify};

const WAIT: Duration = Duration::from_secs(15);

/// A JSON array of `count` zeros: two bytes of JSON per element, 32 bytes each once decoded
/// into a `serde_json::Value`.
fn zeros(count: usize) -> String {
    let mut text = String::with_capacity(count * 2 + 2);
    text.push('[');
    for n in 0..count {
        if n > 0 {
            text.push(',');
        }
        text.push('0');
    }
    text.push(']');
    text
}

fn event_line(name: &str, data: &str) -> String {
    format!(
        "{{\"event\": \"{name}\", \"data\": {data}, \"timestamp\": {{\"seconds\": 1, \"microseconds\": 2}}}}\n"
    )
}

fn reply_line(id: &Value, value: &str) -> String {
    format!("{{\"return\": {value}, \"id\": {id}}}\n")
}

fn name_of(command: &Value) -> String {
    command["execute"].as_str().unwrap_or_default().to_string()
}

/// Answers like an idle VM, except that the commands named in `canned` get those replies
/// (JSON text, sent as is).
async fn serve_canned(mut conn: FakeConn, canned: Arc<Vec<(&'static str, String)>>) {
    if conn.handshake().await.is_none() {
        return;
    }
    while let Some(command) = conn.command().await {
        let name = name_of(&command);
        let id = &command["id"];
        match canned.iter().find(|(known, _)| *known == name) {
            Some((_, reply)) => conn.send_raw(reply_line(id, reply).as_bytes()).await,
            None => conn.reply(id, plausible_reply(&name)).await,
        }
    }
}

/// Asserts the dashboard's peak RSS so far is under `mib` MiB (and prints it, with `what`).
fn assert_peak_below(dash: &Dashboard, mib: u64, what: &str) {
    let peak = peak_rss_kib(dash.pid());
    eprintln!("peak RSS {what}: {peak} KiB");
    assert!(peak < mib * 1024, "peak RSS {what}: {peak} KiB");
}

fn count(fake: &FakeQmp, command: &str) -> usize {
    fake.received()
        .iter()
        .filter(|c| c["execute"] == command)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_events_are_cut_and_memory_stays_bounded() {
    const HUGE: usize = 12;
    let fake = FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_none() {
            return;
        }
        let mut sent = false;
        while let Some(command) = conn.command().await {
            let name = name_of(&command);
            conn.reply(&command["id"], plausible_reply(&name)).await;
            if !sent && name == "query-status" {
                sent = true;
                // 4 MiB of JSON each: an array of zeros, or a BLOCK_IO_ERROR's reason.
                let blob = format!("{{\"blob\": {}}}", zeros(2 << 20));
                let io_error = format!(
                    "{{\"device\": \"disk0\", \"operation\": \"write\", \"action\": \"report\", \"reason\": \"{}\"}}",
                    "r".repeat(4 << 20)
                );
                for n in 0..HUGE {
                    let line = if n % 3 == 0 {
                        event_line("BLOCK_IO_ERROR", &io_error)
                    } else {
                        event_line("HUGE_THING", &blob)
                    };
                    conn.send_raw(line.as_bytes()).await;
                }
            }
        }
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target], 160, 40);
        dash.wait_for(&format!("Events ({HUGE} seen"), Duration::from_secs(60));
        assert_peak_below(&dash, 96, &format!("after {HUGE} events of 4 MiB"));
        // What was cut is counted, and the reason in the text is cut too.
        dash.wait_for(&format!("Events ({HUGE} seen, {HUGE} cut)"), WAIT);
        let screen = dash.wait_for("I/O error on disk0 during write (report): rrrr", WAIT);
        assert!(screen.contains("HUGE_THING"), "{screen}");
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_block_devices_keep_keys_responsive() {
    const DEVICES: usize = 50_000;
    let stats: Vec<Value> = (0..DEVICES)
        .map(|n| json!({"device": format!("d{n}"), "node-name": format!("n{n}"), "stats": {"rd_bytes": n, "wr_bytes": 0}}))
        .collect();
    let block: Vec<Value> = (0..DEVICES)
        .map(|n| json!({"device": format!("d{n}"), "removable": false, "locked": false, "inserted": {"file": format!("/img/d{n}.qcow2"), "node-name": format!("n{n}"), "ro": false, "drv": "qcow2"}}))
        .collect();
    let canned = Arc::new(vec![
        ("query-blockstats", serde_json::to_string(&stats).unwrap()),
        ("query-block", serde_json::to_string(&block).unwrap()),
    ]);
    let fake = FakeQmp::start(move |conn| serve_canned(conn, canned.clone()));
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target], 160, 40);
        dash.wait_for(
            &format!("Block devices 1/{DEVICES}"),
            Duration::from_secs(60),
        );
        // The image column comes from query-block: rows were matched to their media.
        dash.wait_for("d0.qcow2", Duration::from_secs(30));
        let pressed = Instant::now();
        dash.send("q");
        assert_eq!(
            dash.wait_exit(Duration::from_secs(10)),
            Some(true),
            "q did not quit within 10 s while {DEVICES} devices were polled"
        );
        eprintln!(
            "q quit after {:?} with {DEVICES} devices",
            pressed.elapsed()
        );
    })
    .await
    .unwrap();
}

/// Sends the greeting, answers `qmp_capabilities`, then never reads again (for two minutes).
async fn stop_reading(mut conn: FakeConn) {
    if conn.handshake().await.is_some() {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_to_a_peer_that_stopped_reading_fail_in_time_and_break_the_connection() {
    let fake = FakeQmp::start(stop_reading);
    let options = ConnectOptions {
        command_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let client = Client::connect(&fake.target().parse().unwrap(), &options)
        .await
        .unwrap();
    // Enough to fill the socket buffer and the client's queue behind it.
    let padding = "x".repeat(16 << 10);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..400 {
        let (client, padding) = (client.clone(), padding.clone());
        calls.spawn(async move {
            client
                .execute("query-padded", Some(json!({ "pad": padding })))
                .await
        });
    }
    let results = tokio::time::timeout(Duration::from_secs(1 + 5), calls.join_all())
        .await
        .expect("every command fails within its 1 s timeout + 5 s");
    for result in results {
        assert!(
            matches!(
                result,
                Err(QmpError::Timeout { .. } | QmpError::Disconnected { .. })
            ),
            "{result:?}"
        );
    }
    let reason = wait_until_async(|| client.closed_reason()).await;
    assert!(reason.contains("stopped reading"), "{reason}");
    assert_eq!(client.pending_count(), 0);
    let after = client.execute("query-status", None).await;
    assert!(
        matches!(after, Err(QmpError::Disconnected { .. })),
        "{after:?}"
    );
}

async fn wait_until_async<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < WAIT, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_shows_disconnected_and_is_reconnected() {
    let connections = Arc::new(AtomicUsize::new(0));
    let fake = FakeQmp::start(move |mut conn| {
        let first = connections.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                stop_reading(conn).await;
            } else if conn.handshake().await.is_some() {
                conn.serve_plausibly().await;
            }
        }
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target, "--command-timeout", "1"], 120, 30);
        dash.wait_for("QEMU 7.2.0  connected", WAIT);
        // Each `p` sends a command: together they fill the socket buffer and the queue.
        dash.send(&"p".repeat(1500));
        dash.wait_for("stopped reading", WAIT);
        dash.wait_for("reconnected (QEMU 7.2.0)", WAIT);
        dash.wait_for("● running", WAIT);
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

async fn send_line(writer: &Mutex<OwnedWriteHalf>, line: &str) {
    let _ = writer.lock().await.write_all(line.as_bytes()).await;
}

/// Answers like an idle VM; on `go` sends STOP (and then reports paused), on the next `go`
/// a storm of 200 RESETs 5 ms apart, then RESUME (and reports running again).
async fn storm_script(mut conn: FakeConn, go: Arc<Notify>) {
    if conn.handshake().await.is_none() {
        return;
    }
    let (mut commands, writer) = conn.split();
    let writer = Arc::new(Mutex::new(writer));
    let paused = Arc::new(AtomicBool::new(false));
    let scenario = {
        let (writer, paused) = (writer.clone(), paused.clone());
        tokio::spawn(async move {
            go.notified().await;
            paused.store(true, Ordering::SeqCst);
            send_line(&writer, &event_line("STOP", "{}")).await;
            go.notified().await;
            let reset = event_line("RESET", r#"{"guest": true, "reason": "guest-reset"}"#);
            for _ in 0..200 {
                send_line(&writer, &reset).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            paused.store(false, Ordering::SeqCst);
            send_line(&writer, &event_line("RESUME", "{}")).await;
        })
    };
    while let Some(command) = commands.next().await {
        let name = name_of(&command);
        let reply = if name == "query-status" && paused.load(Ordering::SeqCst) {
            json!({"status": "paused", "running": false})
        } else {
            plausible_reply(&name)
        };
        let line = format!("{}\n", json!({"return": reply, "id": command["id"]}));
        send_line(&writer, &line).await;
    }
    scenario.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_storm_is_coalesced_and_a_single_stop_still_polls_at_once() {
    let go = Arc::new(Notify::new());
    let fake = FakeQmp::start({
        let go = go.clone();
        move |conn| storm_script(conn, go.clone())
    });
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        // A 10 s interval: any poll seen sooner was triggered by an event.
        let dash = Dashboard::start(&[&target, "--interval", "10"], 120, 30);
        dash.wait_for("● running", WAIT);
        go.notify_one();
        dash.wait_for("Events (1 seen", WAIT);
        dash.wait_for("● paused", Duration::from_secs(5));

        let (status_before, block_before) =
            (count(&fake, "query-status"), count(&fake, "query-block"));
        go.notify_one();
        dash.wait_for("Events (202 seen", WAIT);
        dash.wait_for("● running", Duration::from_secs(5));
        let polls = count(&fake, "query-status") - status_before;
        let slow = count(&fake, "query-block") - block_before;
        eprintln!("200 RESETs in 1 s: {polls} polls, {slow} with query-block");
        assert!(
            polls <= 20,
            "{polls} polls for a storm of 200 RESETs in 1 s"
        );
        assert!(
            slow <= 5,
            "{slow} query-block for a storm of 200 RESETs in 1 s"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_discovered_sockets_cost_little_memory_each() {
    const VMS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let _fakes: Vec<FakeQmp> = (0..VMS)
        .map(|n| {
            FakeQmp::start_at(
                dir.path().join(format!("vm{n:03}.qmp")),
                |mut conn| async move {
                    if conn.handshake().await.is_some() {
                        conn.serve_plausibly().await;
                    }
                },
            )
        })
        .collect();
    let path = dir.path().display().to_string();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&["--discover", &path, "--interval", "10"], 160, 40);
        dash.wait_for(
            &format!("{VMS} VMs, {VMS} connected"),
            Duration::from_secs(60),
        );
        assert_peak_below(&dash, 48, &format!("watching {VMS} sockets"));
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_console_output_is_cut_and_memory_stays_bounded() {
    // A 10 MiB line of HMP output, and a 14 MiB QMP reply.
    let canned = Arc::new(vec![
        (
            "human-monitor-command",
            format!("\"{}\\r\\n\"", "z".repeat(10 << 20)),
        ),
        ("query-huge", zeros(7 << 20)),
    ]);
    let fake = FakeQmp::start(move |conn| serve_canned(conn, canned.clone()));
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().unwrap();
        let env = [("XDG_DATA_HOME", data.path().to_str().unwrap())];
        let mut dash = Dashboard::start_with_env(&[&target], &env, 120, 36);
        dash.wait_for("● running", WAIT);
        dash.send(":");
        dash.wait_for("Monitor console", WAIT);
        dash.send("\x14query-huge\r\x14");
        for _ in 0..8 {
            dash.send("info huge\r");
        }
        // Every reply arrives, each cut and saying so.
        wait_until(Duration::from_secs(60), "every reply", || {
            let screen = dash.text();
            let notes = screen.matches("… 10.0 MiB reply, ").count();
            (notes == 8 && !screen.contains("running…")).then_some(())
        });
        // The first reply's note sits just above the eight others, in the same page.
        let screen = dash.wait_for("… 14.0 MiB reply, ", WAIT);
        assert!(screen.contains("more items"), "{screen}");
        // Keys still echo.
        dash.send("abc");
        dash.wait_for("│abc", WAIT);
        assert_peak_below(&dash, 100, "after 8 lines of 10 MiB and a 14 MiB reply");
        dash.send("\x03");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

fn plausible_fake() -> FakeQmp {
    FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_some() {
            conn.serve_plausibly().await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_file_that_is_a_fifo_or_huge_neither_blocks_nor_fills_memory() {
    let fake = plausible_fake();
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().unwrap();
        let history = data.path().join("qemu-dash/history");
        std::fs::create_dir_all(history.parent().unwrap()).unwrap();
        let env = [("XDG_DATA_HOME", data.path().to_str().unwrap())];

        let made = std::process::Command::new("mkfifo")
            .arg(&history)
            .status()
            .unwrap();
        assert!(made.success());
        let mut dash = Dashboard::start_with_env(&[&target], &env, 120, 30);
        dash.wait_for("console history not loaded", WAIT);
        dash.wait_for("not a regular file", WAIT);
        dash.send("q");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
        std::fs::remove_file(&history).unwrap();

        // 256 MiB of NUL bytes (sparse), then one command at the end.
        let file = std::fs::File::create(&history).unwrap();
        file.set_len(256 << 20).unwrap();
        drop(file);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&history)
            .unwrap();
        std::io::Write::write_all(&mut file, b"\ninfo from-the-end\n").unwrap();
        let mut dash = Dashboard::start_with_env(&[&target], &env, 120, 30);
        dash.wait_for("● running", WAIT);
        dash.send(":");
        dash.wait_for("Monitor console", WAIT);
        dash.send("\x1b[A");
        dash.wait_for("│info from-the-end", WAIT);
        assert_peak_below(&dash, 64, "with a 256 MiB history file");
        dash.send("\x03");
        assert_eq!(dash.wait_exit(WAIT), Some(true));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dashboards_at_once_keep_both_histories() {
    let fake = plausible_fake();
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let data = tempfile::tempdir().unwrap();
        let env = [("XDG_DATA_HOME", data.path().to_str().unwrap())];
        let mut first = Dashboard::start_with_env(&[&target], &env, 120, 30);
        let mut second = Dashboard::start_with_env(&[&target], &env, 120, 30);
        for dash in [&mut first, &mut second] {
            dash.wait_for("● running", WAIT);
            dash.send(":");
            dash.wait_for("Monitor console", WAIT);
        }
        let mut expected = Vec::new();
        for (which, line) in [(0, "info one"), (1, "info two"), (0, "info three")] {
            let dash = if which == 0 { &mut first } else { &mut second };
            dash.send(&format!("{line}\r"));
            expected.push(line.to_string());
            wait_until(WAIT, line, || {
                (history_of(data.path()).len() >= expected.len()).then_some(())
            });
        }
        for mut dash in [first, second] {
            dash.send("\x03");
            assert_eq!(dash.wait_exit(WAIT), Some(true));
        }
        assert_eq!(history_of(data.path()), expected);
    })
    .await
    .unwrap();
}

fn many_blocks(count: usize, reversed: bool) -> qemu_dash::news::Sample {
    use qemu_dash::news::BlockRates;
    use qemu_dash::news::{BlockSample, Sample, SlowSample};
    use qemu_dash::qmp::types::{BlockDeviceInfo, BlockInfo, StatusInfo};
    let mut order: Vec<usize> = (0..count).collect();
    if reversed {
        order.reverse();
    }
    Sample {
        status: StatusInfo {
            running: true,
            status: "running".into(),
            singlestep: None,
        },
        vcpus: Vec::new(),
        blocks: order
            .iter()
            .map(|n| BlockSample {
                device: format!("d{n}"),
                node_name: Some(format!("n{n}")),
                rates: Some(BlockRates::default()),
                ..Default::default()
            })
            .collect(),
        host: Err(qemu_dash::news::HostError::Unavailable("none")),
        slow: Some(SlowSample {
            block_info: order
                .iter()
                .map(|n| BlockInfo {
                    device: format!("d{n}"),
                    inserted: Some(BlockDeviceInfo {
                        file: format!("/img/d{n}.qcow2"),
                        node_name: Some(format!("n{n}")),
                        drv: "qcow2".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        round_trip: Duration::ZERO,
    }
}

#[test]
fn block_rows_keep_their_history_by_key_and_only_the_rows_in_view_are_drawn() {
    use qemu_dash::app::Model;
    use qemu_dash::news::AppEvent;
    let mut model = Model::new(vec!["vm".into()], Duration::from_secs(1), false);
    for reversed in [false, true] {
        let sample = Box::new(many_blocks(200, reversed));
        model.apply(AppEvent::Sample { vm: 0, sample }, Instant::now());
    }
    let vm = &model.vms[0];
    assert_eq!(vm.blocks.len(), 200);
    assert_eq!(
        vm.blocks[0].sample.device, "d199",
        "rows follow QEMU's order"
    );
    assert!(
        vm.blocks.iter().all(|row| row.read_history.len() == 2),
        "every row kept its history across a reordering"
    );
    model.selected_block = 150;
    let screen = crate::support::model::draw_text(&model, 120, 30);
    // Row 150 in QEMU's (reversed) order is d49, with its own medium.
    assert!(screen.contains("d49.qcow2"), "{screen}");
    assert!(!screen.contains("d199.qcow2"), "{screen}");
}

/// Answers like an idle VM; after the sixth poll sends STOP and reports paused from then on.
async fn stops_after_six_polls(mut conn: FakeConn) {
    if conn.handshake().await.is_none() {
        return;
    }
    let mut polls = 0;
    let mut paused = false;
    while let Some(command) = conn.command().await {
        let name = name_of(&command);
        let reply = if name == "query-status" && paused {
            json!({"status": "paused", "running": false})
        } else {
            plausible_reply(&name)
        };
        conn.reply(&command["id"], reply).await;
        if name == "query-cpus-fast" {
            polls += 1;
            if polls == 6 {
                paused = true;
                conn.event("STOP", json!({})).await;
            }
        }
    }
}

/// The run state comes from events: `query-status` is asked at the first poll, every tenth
/// tick and after a run-state event, not every tick; a STOP still shows in the next line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_state_follows_events_without_asking_it_every_tick() {
    let fake = FakeQmp::start(stops_after_six_polls);
    let target = fake.target();
    let finished = tokio::task::spawn_blocking(move || {
        crate::support::pty::run(["--batch", "-n", "16", "--interval", "0.25", &target])
    })
    .await
    .unwrap();
    let lines = finished.json_lines();
    let states: Vec<&str> = lines
        .iter()
        .map(|line| line["status"].as_str().unwrap_or_default())
        .collect();
    let first_paused = states.iter().position(|s| *s == "paused");
    assert_eq!(states.first(), Some(&"running"), "{states:?}");
    assert!(
        first_paused.is_some_and(|at| at <= 7)
            && states[first_paused.unwrap_or(0)..]
                .iter()
                .all(|s| *s == "paused"),
        "the STOP after the sixth poll shows in the line after it, and stays: {states:?}"
    );
    let (status, polls) = (
        count(&fake, "query-status"),
        count(&fake, "query-cpus-fast"),
    );
    assert!(polls >= 16, "{polls} polls");
    assert!(
        status <= 5,
        "query-status {status} times in {polls} polls: the first, the STOP's, a heartbeat every tenth tick"
    );
}
