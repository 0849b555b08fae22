//! VMs whose only monitor is HMP (`-monitor unix:…`, no `-qmp`), as tutorials, quickemu and
//! QEMU-in-Docker images start them. The dashboard, batch mode and the snapshot commands run
//! against the HMP socket; a QMP observer socket, used only by the test, checks the effect.
//! Run with `QEMU_DASH_QEMU` pointing at each QEMU under test.

use crate::support::pty::{Dashboard, run};
use crate::support::{Qemu, wait_until};
use qemu_dash::qmp::{Client, ConnectOptions, Dialect, Target};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// Run state, vCPUs with their threads, the disk with moving rates, the "no events" line,
/// and pause/resume with the keys, checked from the QMP side.
#[test]
fn dashboard_over_hmp_shows_state_vcpus_disk_rates_and_pauses() {
    let qemu = Qemu::builder()
        .name("hmp-vm")
        .disk("disk0", "qcow2")
        .guest()
        .hmp()
        .observer()
        .start();
    let mut observer = qemu.observer();
    qemu.wait_for_guest();
    let thread = observer.execute("query-cpus-fast", json!({}))[0]["thread-id"]
        .as_u64()
        .unwrap();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.5"], 130, 40);
    dash.wait_for("● running", WAIT);
    dash.wait_for("hmp-vm", WAIT);
    dash.wait_for("disk0", WAIT);
    dash.wait_for(&thread.to_string(), WAIT);
    dash.wait_for("watched over HMP, which has no events", WAIT);
    // The guest moves its disk: the peak of a disk rate series ("peak 4 KiB/s") leaves zero.
    wait_until(WAIT, "a disk rate above zero", || {
        let text = dash.text();
        text.split("peak ")
            .skip(1)
            .filter_map(|rest| rest.split("/s").next())
            .any(|peak| peak.trim() != "0 B")
            .then_some(())
    });
    let screen = dash.text();
    assert!(!screen.contains("invalid JSON"), "{screen}");

    dash.send("p");
    dash.wait_for("● paused", WAIT);
    assert_eq!(observer.status(), "paused");
    dash.wait_for("run state running → paused (seen by polling", WAIT);
    dash.send(" ");
    dash.wait_for("● running", WAIT);
    assert_eq!(observer.status(), "running");

    // A pause from elsewhere is seen by polling too.
    observer.execute("stop", json!({}));
    dash.wait_for("● paused", WAIT);
    observer.execute("cont", json!({}));
    dash.wait_for("● running", WAIT);
    dash.send("q");
    assert_eq!(
        observer.status(),
        "running",
        "quitting the dashboard leaves QEMU"
    );
}

/// Batch mode prints the same JSON fields over HMP as over QMP, with the same figures.
#[test]
fn batch_over_hmp_prints_the_same_fields_as_over_qmp() {
    let qemu = Qemu::builder()
        .name("hmp-batch")
        .disk("disk0", "qcow2")
        .args(&["-smp", "2"])
        .hmp()
        .observer()
        .start();
    let args = |target: String| {
        run([
            "--batch".to_string(),
            "-n".to_string(),
            "2".to_string(),
            "--interval".to_string(),
            "0.25".to_string(),
            target,
        ])
        .json_lines()
    };
    let over_hmp = args(qemu.target());
    let over_qmp = args(qemu.observer_target());
    assert_eq!(over_hmp.len(), 2);
    let (hmp, qmp) = (&over_hmp[1], &over_qmp[1]);
    assert_eq!(keys(hmp), keys(qmp), "HMP: {hmp}\nQMP: {qmp}");
    for field in [
        "name",
        "status",
        "running",
        "qemu_version",
        "qemu_pid",
        "accelerator",
        "machine",
    ] {
        assert_eq!(hmp[field], qmp[field], "{field}");
    }
    assert_eq!(hmp["status"], "running");
    assert_eq!(hmp["memory"]["base_bytes"], 128 << 20);
    let threads = |line: &Value| -> Vec<u64> {
        line["vcpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cpu| cpu["thread_id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(threads(hmp).len(), 2);
    assert_eq!(threads(hmp), threads(qmp));
    let disk = &hmp["blocks"][0];
    for field in ["device", "file", "format"] {
        assert_eq!(disk[field], qmp["blocks"][0][field], "{field}");
    }
    assert_eq!(disk["device"], "disk0");
    assert!(disk["rates"]["read_bytes_per_sec"].is_number());
}

/// Every key path of a JSON value (objects descended, arrays by their first element).
fn keys(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_keys(value, "", &mut found);
    found.sort();
    found
}

fn collect_keys(value: &Value, prefix: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}.{key}");
                found.push(path.clone());
                collect_keys(inner, &path, found);
            }
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                collect_keys(first, &format!("{prefix}[]"), found);
            }
        }
        _ => {}
    }
}

/// Runs `qemu-dash snapshot ARGS...`: (success, stdout, stderr).
fn snapshot_cli(args: &[&str]) -> (bool, String, String) {
    let finished = run(std::iter::once("snapshot").chain(args.iter().copied()));
    (finished.success, finished.stdout, finished.stderr)
}

fn write_marker(qemu: &Qemu, observer: &mut crate::support::observer::Observer, pattern: u8) {
    qemu.qemu_io(
        observer,
        "disk0",
        &format!("write -P 0x{pattern:02x} 0 4k"),
        "wrote 4096/4096 bytes at offset 0",
    );
}

fn tags(observer: &mut crate::support::observer::Observer) -> Vec<String> {
    let blocks = observer.execute("query-block", json!({}));
    blocks[0]["inserted"]["image"]["snapshots"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// `snapshot save/list/load/delete` over HMP with a real qcow2 disk: the data on disk is as
/// it was at the snapshot after a load, and a tag that is another snapshot's id is refused.
#[test]
fn snapshots_over_hmp_save_list_load_and_delete() {
    let qemu = Qemu::builder()
        .disk("disk0", "qcow2")
        .hmp()
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();

    write_marker(&qemu, &mut observer, 0x11);
    let (ok, _, stderr) = snapshot_cli(&["save", &target, "before"]);
    assert!(ok, "{stderr}");
    assert_eq!(tags(&mut observer), ["before"]);
    write_marker(&qemu, &mut observer, 0x22);

    let (ok, stdout, stderr) = snapshot_cli(&["list", &target, "--json"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["tag"], "before");
    assert_eq!(listed[0]["disks"], json!(["disk0"]));
    assert!(listed[0]["vm_state_size"].as_u64().unwrap() > 0);

    let (ok, _, stderr) = snapshot_cli(&["load", &target, "before"]);
    assert!(ok, "{stderr}");
    assert!(
        qemu.drive_holds(&mut observer, "disk0", 0x11),
        "the disk holds what it held at the snapshot"
    );
    assert_eq!(observer.status(), "running");

    // HMP's loadvm takes an id or a tag: a snapshot tagged "1" (id 2) must not be loaded,
    // since QEMU would load "before" (id 1) instead.
    let reply = observer.execute("human-monitor-command", json!({"command-line": "savevm 1"}));
    assert_eq!(reply, "");
    write_marker(&qemu, &mut observer, 0x33);
    let (ok, _, stderr) = snapshot_cli(&["load", &target, "1"]);
    assert!(!ok);
    assert!(
        stderr.contains("'1' is also the id of snapshot 'before'"),
        "{stderr}"
    );
    assert!(qemu.drive_holds(&mut observer, "disk0", 0x33));

    for tag in ["before", "1"] {
        let (ok, _, stderr) = snapshot_cli(&["delete", &target, tag]);
        if tag == "1" {
            assert!(!ok, "deleting '1' would delete 'before'");
            continue;
        }
        assert!(ok, "{stderr}");
    }
    assert_eq!(tags(&mut observer), ["1"]);
    let (ok, _, stderr) = snapshot_cli(&["load", &target, "before"]);
    assert!(!ok);
    assert!(stderr.contains("no snapshot tagged 'before'"), "{stderr}");
}

/// The client on an HMP socket: the banner is recognised (never "invalid JSON"), the
/// connection says it has no events, commands without HMP are unavailable rather than
/// failed, and `quit` ends QEMU.
#[tokio::test]
async fn client_speaks_hmp_and_says_what_it_cannot_do() {
    let mut qemu = Qemu::builder()
        .args(&["-device", "qemu-xhci", "-device", "usb-tablet,id=tablet0"])
        .hmp()
        .observer()
        .start();
    let target: Target = qemu.target().parse().unwrap();
    let client = Client::connect(&target, &ConnectOptions::default())
        .await
        .unwrap_or_else(|error| panic!("connect over HMP: {error}"));
    let abilities = client.abilities();
    assert_eq!(abilities.dialect, Dialect::Hmp);
    assert!(!abilities.events);
    assert!(client.greeting().version.major >= 7);
    assert_eq!(client.peer_pid(), Some(qemu.pid()));
    let status = client.query_status().await.unwrap();
    assert_eq!(status.status, "running");
    client.execute("stop", None).await.unwrap();
    assert_eq!(client.query_status().await.unwrap().status, "paused");
    assert_eq!(qemu.observer().status(), "paused");
    let devices = client
        .execute("qom-list", Some(json!({"path": "/machine/peripheral"})))
        .await
        .unwrap();
    assert!(
        devices
            .as_array()
            .unwrap()
            .contains(&json!({"name": "tablet0", "type": "child<usb-tablet>"})),
        "{devices}"
    );
    let missing = client.execute("query-migrate", None).await.unwrap_err();
    assert!(missing.is_unavailable(), "{missing}");
    let output = client
        .execute(
            "human-monitor-command",
            Some(json!({"command-line": "info version"})),
        )
        .await
        .unwrap();
    assert!(
        output
            .as_str()
            .unwrap()
            .starts_with(&client.greeting().version.to_string())
    );
    client.execute("quit", None).await.unwrap();
    assert!(qemu.wait_exit(WAIT), "QEMU quit");
}

/// The snapshot view with keys over HMP: create, load and delete, checked from the QMP side.
#[test]
fn snapshot_view_over_hmp_creates_loads_and_deletes() {
    let qemu = Qemu::builder()
        .name("hmp-snap")
        .disk("disk0", "qcow2")
        .hmp()
        .observer()
        .start();
    let mut observer = qemu.observer();
    let mut dash = Dashboard::start(&[&qemu.target()], 120, 30);
    crate::snapshot_e2e::type_new_tag(&mut dash, "before-upgrade");
    dash.send("\r");
    dash.wait_for("save 'before-upgrade': done on disk0", WAIT);
    let screen = dash.wait_for("Snapshots (1, by date)", WAIT);
    assert!(screen.contains("before-upgrade"), "{screen}");
    assert_eq!(tags(&mut observer), ["before-upgrade"]);
    dash.send("l");
    dash.wait_for("Load snapshot 'before-upgrade'?", WAIT);
    dash.send("y");
    dash.wait_for("load 'before-upgrade': done", WAIT);
    assert_eq!(observer.status(), "running");
    dash.send("d");
    dash.wait_for("Delete snapshot 'before-upgrade'", WAIT);
    dash.send("y");
    dash.wait_for("delete 'before-upgrade': done", WAIT);
    dash.wait_for("no internal snapshots yet", WAIT);
    assert!(tags(&mut observer).is_empty());
}
