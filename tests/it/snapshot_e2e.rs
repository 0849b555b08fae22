//! The snapshot view driven with keys in a pseudo-terminal against a real QEMU, checked
//! through a second QMP socket.

use crate::support::Qemu;
use crate::support::pty::Dashboard;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

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

/// Opens the snapshot view of a VM with no snapshots and types `tag` into the create prompt
/// (over the timestamped suggestion), without pressing Enter.
pub(crate) fn type_new_tag(dash: &mut Dashboard, tag: &str) {
    dash.wait_for("● running", WAIT);
    dash.send("s");
    dash.wait_for("no internal snapshots yet", WAIT);
    dash.send("c");
    dash.wait_for("new snapshot tag: snap-", WAIT);
    dash.send(&"\x7f".repeat(40));
    dash.send(tag);
    dash.wait_for(&format!("new snapshot tag: {tag}"), WAIT);
}

#[test]
fn create_load_and_delete_a_snapshot_with_keys() {
    let qemu = Qemu::builder()
        .name("snap-vm")
        .disk("disk0", "qcow2")
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 120, 30);
    type_new_tag(&mut dash, "before upgrade");
    dash.send("\r");
    dash.wait_for("save 'before upgrade': done on disk0", WAIT);
    assert!(
        dash.wait_raw("save 'before upgrade' (", WAIT),
        "the job's progress was drawn"
    );
    let screen = dash.wait_for("Snapshots (1, by date)", WAIT);
    assert!(screen.contains("before upgrade"), "{screen}");
    assert_eq!(qemu_tags(&mut observer), ["before upgrade"]);

    // The same tag again is refused and the prompt stays open for another.
    dash.send("c");
    dash.wait_for("new snapshot tag:", WAIT);
    dash.send(&"\x7f".repeat(40));
    dash.send("before upgrade\r");
    dash.wait_for("already exists; choose another tag", WAIT);
    dash.send("\x1b");
    dash.wait_for("c create", WAIT);

    // Load asks first, then restores.
    dash.send("l");
    let question = dash.wait_for("Load snapshot 'before upgrade'?", WAIT);
    assert!(question.contains("The VM's current state"), "{question}");
    dash.send("y");
    dash.wait_for("load 'before upgrade': done", WAIT);
    assert_eq!(observer.status(), "running");

    // Delete asks first, then removes it from QEMU.
    dash.send("d");
    dash.wait_for("Delete snapshot 'before upgrade'", WAIT);
    dash.send("y");
    dash.wait_for("delete 'before upgrade': done", WAIT);
    dash.wait_for("no internal snapshots yet", WAIT);
    assert!(qemu_tags(&mut observer).is_empty());

    dash.send("\x1b");
    dash.wait_for("Block devices", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn raw_disk_is_named_before_saving_and_the_others_can_be_saved() {
    let qemu = Qemu::builder()
        .disk("disk0", "qcow2")
        .disk("vars", "raw")
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 120, 30);
    type_new_tag(&mut dash, "partial");
    dash.send("\r");
    let question = dash.wait_for("snapshot the others", WAIT);
    assert!(
        question.contains("vars"),
        "the raw disk is named: {question}"
    );
    dash.send("y");
    dash.wait_for("save 'partial': done on disk0", WAIT);
    assert_eq!(qemu_tags(&mut observer), ["partial"]);
}
