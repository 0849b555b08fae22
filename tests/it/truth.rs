//! Issue 14, "the screen tells the truth": hung, disconnected, shut-down and busy VMs are
//! shown as they are, on screen and in batch lines, against real QEMU wherever QEMU can do it.

use crate::support::Qemu;
use crate::support::pty::{Dashboard, binary};
use serde_json::Value;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Waits until the fleet table shows every one of `names`, all connected.
fn wait_for_rows(dash: &Dashboard, names: &[&str]) {
    crate::support::wait_until(WAIT, "every VM's row", || {
        let screen = dash.text();
        (names.iter().all(|name| screen.contains(name)) && !screen.contains("connecting"))
            .then_some(())
    });
}

/// The number of seconds in "not answering for Ns" on `screen`, if shown.
fn silent_seconds(screen: &str) -> Option<u64> {
    let at = screen.find("not answering for ")? + "not answering for ".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_stopped_qemu_is_shown_not_answering_by_itself_and_recovers() {
    let live = Qemu::builder().machine("none").name("a-live").start();
    let hung = Qemu::builder().machine("none").name("b-hung").start();
    let mut dash = Dashboard::start(
        &[&live.target(), &hung.target(), "--interval", "0.25"],
        120,
        30,
    );
    wait_for_rows(&dash, &["a-live", "b-hung"]);

    // No key is pressed: the fleet row changes by itself, in the warning colour.
    hung.signal("STOP");
    let screen = dash.wait_for("⚠ not answering", WAIT);
    let row = screen
        .lines()
        .find(|line| line.contains("b-hung"))
        .expect("the hung VM's row");
    assert!(row.contains("⚠ not answering"), "{screen}");
    let live_row = screen.lines().find(|l| l.contains("a-live")).unwrap();
    assert!(live_row.contains("● running"), "{screen}");
    let style = dash.style_of("⚠ not answering").expect("drawn");
    assert_eq!(style.fg, vt100::Color::Idx(11), "warning colour: {style:?}");
    assert!(style.bold && style.underline, "{style:?}");
    assert!(
        dash.style_of("b-hung").is_some_and(|s| s.dim),
        "the hung VM's figures are dimmed"
    );

    // Its dashboard: the header counts the silence, the panels say their figures are stale.
    dash.send("j\r");
    let screen = dash.wait_for("(last known: running)", WAIT);
    assert!(screen.contains("b-hung  ⚠ not answering for "), "{screen}");
    assert!(screen.contains("· stale, "), "{screen}");
    let first = silent_seconds(&screen).expect("seconds shown");
    crate::support::wait_until(WAIT, "the silence counted up without a key", || {
        silent_seconds(&dash.text()).filter(|&now| now > first)
    });

    hung.signal("CONT");
    crate::support::wait_until(WAIT, "the header back to running", || {
        let screen = dash.text();
        (screen.contains("b-hung  ● running")
            && !screen.contains("not answering")
            && !screen.contains("stale"))
        .then_some(())
    });
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn batch_lines_say_when_qemu_is_not_answering() {
    let qemu = Qemu::builder().machine("none").start();
    let mut child = Command::new(binary())
        .args([
            "--batch",
            "--interval",
            "0.25",
            "--command-timeout",
            "3",
            &qemu.target(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["state"], "running");
    assert!(first["not_answering_for_s"].is_null());
    qemu.signal("STOP");
    let silent = lines
        .by_ref()
        .map(|line| serde_json::from_str::<Value>(&line.unwrap()).unwrap())
        .find(|line| line["state"] == "not answering")
        .expect("a line saying QEMU is not answering");
    assert!(silent["not_answering_for_s"].as_f64().unwrap() > 0.0);
    assert!(silent["figures_age_s"].as_f64().unwrap() > 0.0);
    assert_eq!(silent["status"], "running", "the last known run state");
    // The command timeout then ends the run, as before.
    let status = child.wait().unwrap();
    qemu.signal("CONT");
    assert!(!status.success());
}

/// Within this, a dropped connection must show; the poll interval in these tests is twice as
/// long, so only the reader's news can be that quick.
const SOONER_THAN_A_POLL: Duration = Duration::from_secs(5);

#[test]
fn a_dropped_connection_shows_at_once_not_at_the_next_poll() {
    let qemu = Qemu::builder().machine("none").start();
    let dash = Dashboard::start(&[&qemu.target(), "--interval", "10"], 100, 30);
    dash.wait_for("● running", WAIT);
    qemu.signal("KILL");
    dash.wait_for("QEMU closed the connection", SOONER_THAN_A_POLL);

    let qemu = Qemu::builder().machine("none").start();
    let mut child = Command::new(binary())
        .args(["--batch", "--interval", "10", &qemu.target()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["state"], "running");
    qemu.signal("KILL");
    let exited = crate::support::wait_until(SOONER_THAN_A_POLL, "batch mode to exit", || {
        child.try_wait().unwrap()
    });
    assert!(!exited.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("QEMU closed the connection"), "{stderr}");
}

/// The screen as one line of words: borders and line ends become spaces, so a sentence
/// wrapped over lines reads whole.
fn flat(screen: &str) -> String {
    screen
        .replace(['│', '\n'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The header's first line (name and state).
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

/// Waits until the header shows `state` ended "at HH:MM:SS", and no longer a run state.
fn wait_for_ending(dash: &Dashboard, state: &str) -> String {
    crate::support::wait_until(WAIT, state, || {
        let screen = dash.text();
        let line = header(&screen);
        (line.contains(&format!("■ {state} at ")) && line.contains(" ago")).then(|| screen.clone())
    })
}

#[test]
fn the_header_says_how_qemu_ended_and_when() {
    // quit, from the dashboard.
    let mut qemu = Qemu::builder().machine("none").name("ends").start();
    let mut dash = Dashboard::start(&[&qemu.target(), "--interval", "0.25"], 100, 30);
    dash.wait_for("ends  ● running", WAIT);
    dash.send("Q");
    dash.wait_for("Quit QEMU for", WAIT);
    dash.send("y");
    let screen = wait_for_ending(&dash, "quit (QMP quit command)");
    assert!(!screen.contains("last known"), "{screen}");
    assert!(qemu.wait_exit(WAIT));
    dash.wait_for("· QEMU exited", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));

    // Killed: no SHUTDOWN event, the process is gone.
    let qemu = Qemu::builder().machine("none").name("ends").start();
    let dash = Dashboard::start(&[&qemu.target(), "--interval", "0.25"], 100, 30);
    dash.wait_for("ends  ● running", WAIT);
    qemu.signal("KILL");
    let screen = wait_for_ending(&dash, "QEMU exited");
    assert!(!screen.contains("● running"), "{screen}");

    // Terminated: QEMU says SHUTDOWN host-signal, then exits.
    let qemu = Qemu::builder().machine("none").name("ends").start();
    let dash = Dashboard::start(&[&qemu.target(), "--interval", "0.25"], 100, 30);
    dash.wait_for("ends  ● running", WAIT);
    qemu.signal("TERM");
    wait_for_ending(&dash, "QEMU exited on a signal");
}

#[test]
fn a_guest_that_powers_off_is_shown_shut_down_by_the_guest() {
    let qemu = Qemu::builder().name("guest-off").guest().observer().start();
    let mut observer = qemu.observer();
    qemu.wait_for_guest();
    let dash = Dashboard::start(&[&qemu.target()], 100, 30);
    dash.wait_for("guest-off  ● running", WAIT);
    // Another client asks; the guest answers by powering off, and QEMU exits.
    observer.execute("system_powerdown", serde_json::json!({}));
    let screen = wait_for_ending(&dash, "shut down by the guest");
    assert!(!screen.contains("● running"), "{screen}");
    dash.wait_for("· QEMU exited", WAIT);
}

/// Answers like an idle VM with a 100 MiB balloon, except that the first `query-balloon`
/// gets no answer at all (the fake stands in for a QEMU that was briefly too busy).
async fn serve_with_one_lost_balloon_reply(mut conn: crate::support::fake::FakeConn) {
    if conn.handshake().await.is_none() {
        return;
    }
    let mut balloon_asked = 0;
    while let Some(command) = conn.command().await {
        let name = command["execute"].as_str().unwrap_or_default().to_string();
        if name == "query-balloon" {
            balloon_asked += 1;
            if balloon_asked == 1 {
                continue;
            }
            conn.reply(&command["id"], serde_json::json!({"actual": 100 << 20}))
                .await;
        } else {
            let reply = crate::support::fake::plausible_reply(&name);
            conn.reply(&command["id"], reply).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_lost_balloon_reply_does_not_hide_the_balloon() {
    let fake = crate::support::FakeQmp::start(serve_with_one_lost_balloon_reply);
    let target = fake.target();
    let lines = tokio::task::spawn_blocking(move || {
        // Slow queries (the balloon among them) run every 10th poll: 14 lines see two.
        crate::support::pty::run([
            "--batch",
            "-n",
            "14",
            "--interval",
            "0.25",
            "--command-timeout",
            "0.5",
            &target,
        ])
        .json_lines()
    })
    .await
    .unwrap();
    let balloons: Vec<Option<u64>> = lines
        .iter()
        .map(|line| line["memory"]["balloon_bytes"].as_u64())
        .collect();
    assert_eq!(balloons[0], None, "the first answer was lost");
    assert_eq!(
        balloons.last().copied().flatten(),
        Some(100 << 20),
        "asked again and shown: {balloons:?}"
    );
    let asked = fake
        .received()
        .iter()
        .filter(|c| c["execute"] == "query-balloon")
        .count();
    assert!(asked >= 2, "query-balloon asked {asked} times");
}

/// The migration tab of `model`'s VM, drawn.
fn migration_tab(model: &mut qemu_dash::app::Model) -> String {
    model.view = qemu_dash::app::View::Devices;
    model.devices.tab = qemu_dash::app::Tab::Migration;
    crate::support::model::draw_text(model, 100, 30)
}

/// Applies the follower's migration news to `model` until one satisfies `done`; returns
/// the messages the model said on the way.
async fn apply_migration_news_until(
    model: &mut qemu_dash::app::Model,
    news: &mut qemu_dash::news::NewsReceiver,
    what: &str,
    mut done: impl FnMut(&qemu_dash::monitor::migration::MigrationInfo) -> bool,
) -> Vec<String> {
    use qemu_dash::monitor::News;
    use qemu_dash::news::AppEvent;
    let mut said = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, news.recv())
            .await
            .unwrap_or_else(|_| panic!("no migration news: {what}"))
            .expect("the follower runs");
        let stop =
            matches!(&event, AppEvent::Monitor { news: News::Migration(info), .. } if done(info));
        model.message = None;
        model.apply(event, std::time::Instant::now());
        said.extend(model.message.take().map(|m| m.text));
        if stop {
            return said;
        }
    }
}

/// QEMU reports a snapshot save as a completed migration in `query-migrate` (7.2 and 10.0).
/// A save by another client must not read as a migration, and a real migration, also by
/// another client, still shows and is not overwritten by a later save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_saves_are_not_migrations_but_real_migrations_still_show() {
    use qemu_dash::monitor::migration;
    let qemu = Qemu::builder().disk("disk0", "qcow2").observer().start();
    let mut observer = qemu.observer();
    let client = qemu_dash::qmp::Client::connect(
        &qemu.target().parse().unwrap(),
        &qemu_dash::qmp::ConnectOptions::default(),
    )
    .await
    .unwrap();
    let mut model = qemu_dash::app::Model::new(vec![qemu.target()], Duration::from_secs(1), false);
    let (tx, mut news) = qemu_dash::news::channel();
    let follower = tokio::spawn(migration::follow(client.clone(), tx.monitor_reporter(0)));
    let said =
        apply_migration_news_until(&mut model, &mut news, "the first report", |_| true).await;
    assert!(said.is_empty(), "{said:?}");

    // A snapshot saved by another client (HMP savevm).
    let hmp = |observer: &mut crate::support::observer::Observer, line: &str| {
        observer.execute(
            "human-monitor-command",
            serde_json::json!({"command-line": line}),
        )
    };
    assert_eq!(hmp(&mut observer, "savevm first"), "");
    let said = apply_migration_news_until(&mut model, &mut news, "the save's trace", |info| {
        info.status() == "completed"
    })
    .await;
    assert!(
        !said.iter().any(|text| text.contains("migration")),
        "a snapshot save read as a migration: {said:?}"
    );
    let tab = migration_tab(&mut model);
    assert!(tab.contains("no migration on this VM yet"), "{tab}");

    // A real migration by another client shows, with its message.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vm.mig");
    observer.execute(
        "migrate",
        serde_json::json!({"uri": format!("exec:cat > {}", file.display())}),
    );
    let said = apply_migration_news_until(&mut model, &mut news, "the migration's end", |info| {
        info.status() == "completed" && info.total_time.unwrap_or(0) > 0
    })
    .await;
    assert!(
        said.iter()
            .any(|text| text.starts_with("migration completed in")),
        "{said:?}"
    );
    let tab = migration_tab(&mut model);
    assert!(tab.contains("status completed"), "{tab}");
    assert!(tab.contains("throughput"), "{tab}");

    // A later save neither speaks of a migration nor replaces the migration's record.
    crate::support::wait_until(WAIT, "the postmigrate state", || {
        (observer.status() == "postmigrate").then_some(())
    });
    observer.execute("cont", serde_json::json!({}));
    let migrated = model.vms[0].monitor.migration.clone();
    assert_eq!(hmp(&mut observer, "savevm second"), "");
    let said =
        apply_migration_news_until(&mut model, &mut news, "the second save's trace", |info| {
            info.total_time == Some(0)
        })
        .await;
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(model.vms[0].monitor.migration, migrated);
    let tab = migration_tab(&mut model);
    assert!(
        tab.contains("status completed") && tab.contains("throughput"),
        "{tab}"
    );
    follower.abort();
}

/// A snapshot save is "started" only once QEMU has a job, and the raw-disk question, raised
/// in the background, saves the VM it was raised for although the user moved to another.
#[test]
fn a_background_question_acts_on_its_own_vm_and_started_means_a_job() {
    let disks = Qemu::builder()
        .name("a-disks")
        .disk("disk0", "qcow2")
        .disk("vars", "raw")
        .observer()
        .start();
    let mut observer = disks.observer();
    let other = Qemu::builder().machine("none").name("b-other").start();
    let mut dash = Dashboard::start(
        &[&disks.target(), &other.target(), "--command-timeout", "60"],
        120,
        30,
    );
    wait_for_rows(&dash, &["a-disks", "b-other"]);
    dash.send("\r");
    dash.wait_for("a-disks  ● running", WAIT);
    crate::snapshot_e2e::type_new_tag(&mut dash, "bg");
    // QEMU is held still, so the disk check waits while the user moves to the other VM.
    disks.signal("STOP");
    dash.send("\r");
    let screen = dash.wait_for("snapshot save 'bg': checking the disks…", WAIT);
    assert!(!screen.contains("started"), "{screen}");
    dash.send("\x1b");
    dash.wait_for("Block devices", WAIT);
    dash.send("\x1b");
    dash.wait_for("2 VMs", WAIT);
    dash.send("j\r");
    dash.wait_for("b-other  ● running", WAIT);
    disks.signal("CONT");
    let question = flat(&dash.wait_for("Confirm", WAIT));
    assert!(question.contains("snapshot the others"), "{question}");
    assert!(
        question.contains("a-disks:"),
        "the question names its VM: {question}"
    );
    assert!(question.contains("vars"), "and the raw disk: {question}");
    assert!(!question.contains("started"), "no job yet: {question}");
    dash.send("y");
    let mut tags = || {
        let block = observer.execute("query-block", serde_json::json!({}));
        block[0]["inserted"]["image"]["snapshots"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    crate::support::wait_until(WAIT, "the snapshot on a-disks", || {
        (tags() == ["bg"]).then_some(())
    });
    // The news about a-disks stays off b-other's screen; the history has it, in order.
    dash.send("!");
    let history = flat(&dash.wait_for("done on disk0", WAIT));
    let at = |needle: &str| {
        history
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in the history: {history}"))
    };
    let checking = at("a-disks: snapshot save 'bg': checking the disks…");
    let started = at("a-disks: snapshot save 'bg' started (QEMU job");
    let done = at("a-disks: save 'bg': done on disk0");
    assert!(checking < started && started < done, "{history}");
}

/// A QEMU whose only disk (raw, virtio) fails every read through blkdebug, with the error
/// policy `rerror`. Its firmware reads the disk at boot: no guest is needed.
fn qemu_with_a_failing_disk(dir: &std::path::Path, rerror: &str) -> Qemu {
    let conf = dir.join(format!("blkdebug-{rerror}.conf"));
    std::fs::write(
        &conf,
        "[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\n",
    )
    .unwrap();
    let image = dir.join(format!("disk-{rerror}.raw"));
    crate::support::qemu::create_image(&image, "raw", "64M");
    let drive = format!(
        "file=blkdebug:{}:{},format=raw,if=virtio,id=disk0,rerror={rerror}",
        conf.display(),
        image.display()
    );
    Qemu::builder().args(&["-drive", &drive]).start()
}

#[test]
fn failed_io_is_shown_per_block_device() {
    let dir = tempfile::tempdir().unwrap();
    let reported = qemu_with_a_failing_disk(dir.path(), "report");
    let dash = Dashboard::start(&[&reported.target(), "--interval", "0.25"], 120, 30);
    let screen = dash.wait_for("I/O ERRORS on disk0", WAIT);
    let row = screen
        .lines()
        .find(|line| line.contains("│disk0"))
        .unwrap_or_else(|| panic!("no disk0 row: {screen}"));
    assert!(row.contains("failed 1 read"), "{screen}");

    let stopped = qemu_with_a_failing_disk(dir.path(), "stop");
    let line = crate::support::wait_until(WAIT, "the VM stopped on the error", || {
        let lines =
            crate::support::pty::run(["--batch", "-n", "1", &stopped.target()]).json_lines();
        lines
            .into_iter()
            .next()
            .filter(|line| line["status"] == "io-error")
    });
    assert_eq!(line["blocks"][0]["io_status"], "failed", "{line}");
    assert_eq!(line["blocks"][0]["io_errors"], "failed", "{line}");
}

#[test]
fn memory_follows_balloon_events_without_waiting_for_the_slow_poll() {
    let qemu = Qemu::builder()
        .name("balloon-vm")
        .guest()
        .observer()
        .start();
    let mut observer = qemu.observer();
    qemu.wait_for_guest();
    // Polling every 10 s, slow queries (memory) every 10th poll: only the event is quick.
    let dash = Dashboard::start(&[&qemu.target(), "--interval", "10"], 100, 30);
    dash.wait_for("balloon size  128.0 MiB", WAIT);
    observer.execute("balloon", serde_json::json!({"value": 96 << 20}));
    observer.wait_event("BALLOON_CHANGE", WAIT);
    dash.wait_for("balloon size  96.0 MiB", SOONER_THAN_A_POLL);
}

#[test]
fn the_header_says_what_qemu_runs_the_vm_on() {
    let qemu = Qemu::builder().name("facts").args(&["-cpu", "max"]).start();
    let dash = Dashboard::start(&[&qemu.target()], 120, 30);
    let screen = dash.wait_for("cpu max", WAIT);
    let line = screen.lines().nth(1).unwrap_or_default();
    for needle in [
        "TCG",
        "pc-i440fx-",
        &format!("pid {}", qemu.pid()),
        "up ",
        "connected",
    ] {
        assert!(line.contains(needle), "{needle:?} missing: {line}");
    }
    // At 80 columns the least important fields go; the state and the connection stay.
    // (A QMP socket serves one client at a time.)
    drop(dash);
    let narrow = Dashboard::start(&[&qemu.target()], 80, 24);
    let screen = narrow.wait_for("facts  ● running", WAIT);
    let mut lines = screen.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .contains("facts  ● running"),
        "{screen}"
    );
    let second = lines.next().unwrap_or_default();
    assert!(
        second.contains("TCG") && second.contains("connected"),
        "{screen}"
    );
    drop(narrow);

    let lines = crate::support::pty::run(["--batch", "-n", "1", &qemu.target()]).json_lines();
    let line = &lines[0];
    assert_eq!(line["accelerator"], "TCG");
    assert_eq!(line["cpu_model"], "max");
    assert!(
        line["machine"].as_str().unwrap().starts_with("pc-i440fx-"),
        "{line}"
    );
    assert_eq!(line["qemu_pid"], qemu.pid());
    assert!(line["qemu_uptime_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn fleet_rows_tell_twins_apart_keep_the_cursor_and_show_every_sort_arrow() {
    let dir = tempfile::tempdir().unwrap();
    let start = |name: &str, socket: &str| {
        Qemu::builder()
            .machine("none")
            .name(name)
            .qmp_at(&dir.path().join(socket))
            .observer()
            .start()
    };
    let _twin_a = start("twin", "a.qmp");
    let twin_b = start("twin", "b.qmp");
    let _solo = start("solo", "solo.qmp");
    let targets: Vec<String> = ["a.qmp", "b.qmp", "solo.qmp"]
        .iter()
        .map(|s| dir.path().join(s).display().to_string())
        .collect();
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend(["--interval", "0.25"]);
    let mut dash = Dashboard::start(&args, 80, 24);
    dash.wait_for("twin [a.qmp]", WAIT);
    dash.wait_for("twin [b.qmp]", WAIT);

    // Every column shows its arrow when sorted by, even at 80 columns.
    let titles = [
        "name",
        "state",
        "host CPU",
        "RSS",
        "read/s",
        "write/s",
        "in state",
        "last event",
    ];
    for (n, title) in titles.iter().enumerate() {
        let key = (n + 1).to_string();
        dash.send(&key);
        let sorted = dash.wait_for(&format!("{key}:{title} "), WAIT);
        assert!(
            sorted.contains(&format!("{key}:{title} ▲"))
                || sorted.contains(&format!("{key}:{title} ▼")),
            "no arrow on {title}:\n{sorted}"
        );
    }

    // Sorted by state (then name), the cursor on the last row, twin b; pausing it moves its
    // row to the top, and the cursor with it.
    dash.send("2");
    dash.wait_for("2:state ▲", WAIT);
    let rows = |screen: &str| -> Vec<String> {
        screen
            .lines()
            .filter(|l| l.contains("● "))
            .map(|l| {
                l.trim_start_matches('│')
                    .split(" ●")
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let screen = dash.settled_text();
    let at = rows(&screen)
        .iter()
        .position(|name| name == "twin [b.qmp]")
        .unwrap_or_else(|| panic!("{screen}"));
    for _ in 0..at {
        dash.send("j");
    }
    assert_eq!(at, 2, "{screen}");
    let mut observer = twin_b.observer();
    observer.execute("stop", serde_json::json!({}));
    crate::support::wait_until(WAIT, "twin b sorted first as paused", || {
        rows(&dash.text())
            .first()
            .filter(|name| *name == "twin [b.qmp]")
            .map(|_| ())
    });
    dash.send("\r");
    dash.wait_for("twin  ● paused", WAIT);
}
