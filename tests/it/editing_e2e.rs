//! The line editor, the key table's moves and the lists' filters, driven with real keys in a
//! pseudo-terminal against a real QEMU, with the effect checked on the VM.

use crate::support::Qemu;
use crate::support::pty::Dashboard;
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);
const CTRL_A: &str = "\x01";
const CTRL_E: &str = "\x05";
const CTRL_T: &str = "\x14";
const CTRL_U: &str = "\x15";
const CTRL_W: &str = "\x17";
const ALT_B: &str = "\x1bb";
const UP: &str = "\x1b[A";

/// Tags of the internal snapshots QEMU has on disk0, read through the observer socket.
fn qemu_tags(observer: &mut crate::support::observer::Observer) -> Vec<String> {
    let block = observer.execute("query-block", json!({}));
    block[0]["inserted"]["image"]["snapshots"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| s["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The text of the screen row holding `label`, from the label on, without trailing blanks.
fn prompt_line(dash: &Dashboard, label: &str) -> String {
    let (_, row) = dash
        .row_with(label)
        .unwrap_or_else(|| panic!("no {label:?} on screen:\n{}", dash.text()));
    let from = row.find(label).unwrap_or(0);
    row[from..]
        .trim_end()
        .trim_end_matches('│')
        .trim_end()
        .to_string()
}

/// Waits until the row holding `label` reads exactly `expected` from the label on.
fn wait_prompt(dash: &Dashboard, label: &str, expected: &str) {
    let start = Instant::now();
    loop {
        if dash.row_with(label).is_some() && prompt_line(dash, label) == expected {
            return;
        }
        if start.elapsed() > WAIT {
            panic!("the prompt never read {expected:?}:\n{}", dash.text());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `needle` is gone from the screen.
fn wait_gone(dash: &Dashboard, needle: &str) {
    let start = Instant::now();
    while dash.text().contains(needle) {
        if start.elapsed() > WAIT {
            panic!("{needle:?} stayed on screen:\n{}", dash.text());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The row of `a` is above the row of `b`.
fn above(dash: &Dashboard, a: &str, b: &str) -> bool {
    let row = |needle| dash.row_with(needle).map(|(row, _)| row);
    matches!((row(a), row(b)), (Some(a), Some(b)) if a < b)
}

#[test]
fn snapshot_tag_prompt_edits_like_readline_and_saves_a_wide_tag() {
    let qemu = Qemu::builder()
        .name("edit-vm")
        .disk("disk0", "qcow2")
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 120, 30);
    dash.wait_for("● running", WAIT);
    dash.send("s");
    dash.wait_for("no internal snapshots yet", WAIT);
    dash.send("c");
    dash.wait_for("new snapshot tag: snap-", WAIT);
    // One Ctrl-U clears the suggested tag.
    dash.send(CTRL_U);
    wait_prompt(&dash, "new snapshot tag:", "new snapshot tag:");
    dash.send("before big upgrade");
    wait_prompt(
        &dash,
        "new snapshot tag:",
        "new snapshot tag: before big upgrade",
    );
    // Alt-B goes back a word, Ctrl-W deletes the word before the cursor.
    dash.send(ALT_B);
    dash.send(CTRL_W);
    wait_prompt(
        &dash,
        "new snapshot tag:",
        "new snapshot tag: before upgrade",
    );
    // Alt-letter is a command, never the letter.
    dash.send("\x1bx");
    // Wide characters at the start: the cursor lands after them, two columns each.
    dash.send(CTRL_A);
    dash.send("快照 ");
    wait_prompt(
        &dash,
        "new snapshot tag:",
        "new snapshot tag: 快照 before upgrade",
    );
    let (row, line) = dash.row_with("new snapshot tag:").unwrap();
    let label_column = line.find("new snapshot tag:").unwrap() as u16;
    assert_eq!(
        dash.cursor(),
        (row, label_column + "new snapshot tag: ".len() as u16 + 5),
        "the cursor sits after 快照 and the space"
    );
    dash.send("\r");
    dash.wait_for("save '快照 before upgrade': done on disk0", WAIT);
    dash.wait_for("Snapshots (1, by date)", WAIT);
    assert_eq!(qemu_tags(&mut observer), ["快照 before upgrade"]);

    // A second one, then n sorts by name and n again reverses, as the fleet does.
    dash.send("c");
    dash.wait_for("new snapshot tag: snap-", WAIT);
    dash.send(CTRL_U);
    dash.send("alpha\r");
    dash.wait_for("save 'alpha': done on disk0", WAIT);
    dash.wait_for("Snapshots (2, by date)", WAIT);
    dash.send("n");
    dash.wait_for("Snapshots (2, by name)", WAIT);
    assert!(
        above(&dash, "alpha", "快照 before upgrade"),
        "{}",
        dash.text()
    );
    dash.send("n");
    dash.wait_for("Snapshots (2, by name, reversed)", WAIT);
    assert!(
        above(&dash, "快照 before upgrade", "alpha"),
        "{}",
        dash.text()
    );
    let mut tags = qemu_tags(&mut observer);
    tags.sort();
    assert_eq!(tags, ["alpha", "快照 before upgrade"]);
    dash.send("\x03");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

/// Presses Tab after `typed` on a fresh line until the monitor's command names have arrived
/// and the line reads `completed`.
fn complete(dash: &mut Dashboard, typed: &str, completed: &str) {
    let start = Instant::now();
    loop {
        dash.send(CTRL_U);
        dash.send(typed);
        dash.send("\t");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if dash.text().contains(&format!("│{completed}")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if start.elapsed() > WAIT {
            panic!("Tab never completed {typed:?}:\n{}", dash.text());
        }
    }
}

#[test]
fn console_line_edits_recalls_pastes_and_completes() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let data = tempfile::tempdir().unwrap();
    let data_home = data.path().to_str().unwrap();
    let mut dash = Dashboard::start_with_env(&[&target], &[("XDG_DATA_HOME", data_home)], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.send(":");
    dash.wait_for("Monitor console", WAIT);

    // Ctrl-A and Ctrl-E move to the ends of the line.
    dash.send("nfo statu");
    dash.send(CTRL_A);
    dash.send("i");
    dash.send(CTRL_E);
    dash.send("s\r");
    dash.wait_for("(hmp) info status", WAIT);
    dash.wait_for("VM status: running", WAIT);

    // ↑ recalls it.
    dash.send(UP);
    dash.wait_for("│info status", WAIT);
    dash.send(CTRL_U);

    // A pasted line break does not run anything: the text waits on the line.
    dash.send("\x1b[200~stop\ninfo name\n\x1b[201~");
    dash.wait_for("│stop info name", WAIT);
    assert_eq!(observer.status(), "running", "the paste ran nothing");
    assert!(!dash.text().contains("(hmp) stop"), "{}", dash.text());

    // Tab completes HMP command names, HMP info subcommands and QMP command names.
    complete(&mut dash, "system_r", "system_reset ");
    complete(&mut dash, "info versi", "info version ");
    dash.send("\r");
    dash.wait_for("(hmp) info version", WAIT);
    dash.send(CTRL_T);
    dash.wait_for("┌ QMP ", WAIT);
    complete(&mut dash, "query-kv", "query-kvm ");
    dash.send("\r");
    dash.wait_for("(qmp) query-kvm", WAIT);
    dash.wait_for("\"present\"", WAIT);
    assert_eq!(observer.status(), "running");
    dash.send("\x03");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn a_screen_table_in_the_config_moves_that_screens_keys() {
    let qemu = Qemu::builder()
        .name("keys-vm")
        .disk("disk0", "qcow2")
        .observer()
        .start();
    let mut observer = qemu.observer();
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join("qemu-dash")).unwrap();
    std::fs::write(
        config.path().join("qemu-dash").join("config.toml"),
        "[keys.snapshots]\ncreate = \"a\"\n\n[keys.console]\nhmp_qmp = \"F5\"\n",
    )
    .unwrap();
    let config_home = config.path().to_str().unwrap();
    let target = qemu.target();
    let mut dash =
        Dashboard::start_with_env(&[&target], &[("XDG_CONFIG_HOME", config_home)], 120, 30);
    dash.wait_for("● running", WAIT);
    dash.send("s");
    dash.wait_for("no internal snapshots yet: press a to take one", WAIT);
    dash.wait_for("a create", WAIT);
    // c no longer creates; a does.
    dash.send("c?");
    dash.wait_for("Help: snapshots", WAIT);
    assert!(
        dash.row_with("new snapshot tag:").is_none(),
        "{}",
        dash.text()
    );
    dash.send("\x1b");
    wait_gone(&dash, "Help: snapshots");
    dash.send("a");
    dash.wait_for("new snapshot tag: snap-", WAIT);
    dash.send(CTRL_U);
    dash.send("moved\r");
    dash.wait_for("save 'moved': done on disk0", WAIT);
    assert_eq!(qemu_tags(&mut observer), ["moved"]);
    // The main dashboard keeps its keys; the console's mode switch moved to F5.
    dash.send("\x1b");
    dash.wait_for("s snapshots", WAIT);
    dash.send(":");
    dash.wait_for("F5 HMP/QMP", WAIT);
    dash.send("\x1b[15~");
    dash.wait_for("┌ QMP ", WAIT);
    dash.send("\x03");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn slash_filters_the_event_log_and_enter_opens_an_event() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 120, 36);
    dash.wait_for("● running", WAIT);
    observer.execute("stop", json!({}));
    observer.execute("cont", json!({}));
    observer.execute(
        "human-monitor-command",
        json!({"command-line": "info status"}),
    );
    dash.wait_for("RESUME", WAIT);
    dash.wait_for("STOP", WAIT);

    dash.send("/");
    dash.send("stop");
    dash.wait_for("1 match 'stop'", WAIT);
    assert!(!dash.text().contains("RESUME"), "{}", dash.text());
    // Enter keeps the filter; Enter again opens the selected event's data.
    dash.send("\r");
    wait_gone(&dash, "filter: stop");
    dash.send("\r");
    dash.wait_for("STOP at ", WAIT);
    dash.wait_for("Esc/Enter close", WAIT);
    // Esc goes back one level at a time: the event, then the filter.
    dash.send("\x1b");
    wait_gone(&dash, "STOP at ");
    dash.wait_for("1 match 'stop'", WAIT);
    dash.send("\x1b");
    dash.wait_for("RESUME", WAIT);
    assert!(!dash.text().contains("match 'stop'"), "{}", dash.text());
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
    assert_eq!(observer.status(), "running");
}
