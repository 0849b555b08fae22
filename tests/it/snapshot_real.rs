//! Snapshots against a real QEMU: bare VMs (no guest) with qcow2 disks, checked through an
//! independent observer on a second QMP socket. Run with `QEMU_DASH_QEMU` pointing at each
//! QEMU under test.

use crate::support::observer::Observer;
use crate::support::{Qemu, wait_until};
use qemu_dash::qmp::{Client, ConnectOptions, Target};
use qemu_dash::snapshot::{
    self, Method, MethodChoice, Operation, Progress, SnapshotError, SnapshotOptions, TagError,
};
use serde_json::json;
use std::time::Duration;

async fn connect(qemu: &Qemu) -> Client {
    let target: Target = qemu.target().parse().unwrap();
    Client::connect(&target, &ConnectOptions::default())
        .await
        .expect("connect to QEMU")
}

fn two_disk_vm() -> Qemu {
    Qemu::builder()
        .disk("disk0", "qcow2")
        .disk("disk1", "qcow2")
        .observer()
        .start()
}

fn options(method: MethodChoice) -> SnapshotOptions {
    SnapshotOptions {
        method,
        timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

fn qmp() -> SnapshotOptions {
    options(MethodChoice::Qmp)
}

fn ignore(_: Progress) {}

/// The snapshot tags each disk carries, as the observer sees them: (drive id, tags).
fn tags_by_disk(observer: &mut Observer) -> Vec<(String, Vec<String>)> {
    let blocks = observer.execute("query-block", json!({}));
    blocks
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b.get("inserted").is_some())
        .map(|b| {
            let snapshots = b["inserted"]["image"]["snapshots"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let tags = snapshots
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect();
            (b["device"].as_str().unwrap().to_string(), tags)
        })
        .collect()
}

fn tags_of(observer: &mut Observer, disk: &str) -> Vec<String> {
    tags_by_disk(observer)
        .into_iter()
        .find(|(name, _)| name == disk)
        .map(|(_, tags)| tags)
        .unwrap_or_else(|| panic!("no disk {disk}"))
}

/// True when the first 4 KiB of `disk` all hold the byte `pattern`.
fn disk_holds(qemu: &Qemu, observer: &mut Observer, disk: &str, pattern: u8) -> bool {
    qemu.drive_holds(observer, disk, pattern)
}

fn write_marker(qemu: &Qemu, observer: &mut Observer, disk: &str, pattern: u8) {
    qemu.qemu_io(
        observer,
        disk,
        &format!("write -P 0x{pattern:02x} 0 4k"),
        "wrote 4096/4096 bytes at offset 0",
    );
}

#[tokio::test]
async fn save_two_snapshots_then_list_shows_both_with_vm_state_and_both_disks() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();

    let first = snapshot::save(&client, "first", &qmp(), ignore)
        .await
        .unwrap();
    let second = snapshot::save(&client, "second", &qmp(), ignore)
        .await
        .unwrap();
    assert_eq!(first.method, Method::Qmp);
    assert_eq!(first.disks, ["disk0", "disk1"]);
    eprintln!(
        "save on two 64M qcow2 disks, 128M RAM: {:?}, {:?}",
        first.elapsed, second.elapsed
    );

    let mut snapshots = snapshot::list(&client).await.unwrap();
    snapshot::sort_by_name(&mut snapshots);
    let tags: Vec<_> = snapshots.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["first", "second"]);
    for s in &snapshots {
        assert!(s.vm_state_size > 0, "{s:?}");
        assert_eq!(s.disks, ["disk0", "disk1"], "{s:?}");
        assert_eq!(s.vmstate_disk.as_deref(), Some("disk0"));
        assert!(!s.partial, "{s:?}");
        let age = chrono::Local::now() - s.date;
        assert!(age.num_seconds().abs() < 60, "{s:?}");
    }
    snapshot::sort_by_date(&mut snapshots);
    assert_eq!(snapshots[0].tag, "first");

    // The observer sees the same, on both disks.
    for disk in ["disk0", "disk1"] {
        assert_eq!(tags_of(&mut observer, disk), ["first", "second"]);
    }
    assert_eq!(observer.status(), "running");
}

#[tokio::test]
async fn qmp_jobs_report_progress_with_a_status() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").start();
    let client = connect(&qemu).await;
    assert_eq!(snapshot::detect_method(&client).await.unwrap(), Method::Qmp);

    for operation in [Operation::Save, Operation::Load, Operation::Delete] {
        let mut seen: Vec<Progress> = Vec::new();
        let report = |p: Progress| seen.push(p);
        let options = options(MethodChoice::Auto);
        let outcome = match operation {
            Operation::Save => snapshot::save(&client, "p", &options, report).await,
            Operation::Load => snapshot::load(&client, "p", &options, report).await,
            Operation::Delete => snapshot::delete(&client, "p", &options, report).await,
        }
        .unwrap();
        let job_id = outcome.job_id.expect("a QMP job id");
        assert!(!seen.is_empty(), "{operation}: no progress");
        for p in &seen {
            assert_eq!(p.operation, operation);
            assert_eq!(p.tag, "p");
            assert_eq!(p.job_id.as_deref(), Some(job_id.as_str()));
            assert!(!p.status.is_empty());
        }
        let statuses: Vec<_> = seen.iter().map(|p| p.status.as_str()).collect();
        // QEMU announces the job's start before its reply; the end comes from query-jobs.
        assert_eq!(statuses[..2], ["created", "running"], "{seen:?}");
        assert_eq!(statuses.iter().filter(|s| **s == "concluded").count(), 1);
        let last = seen.last().unwrap();
        assert_eq!(last.status, "concluded", "{seen:?}");
        assert!(last.total > 0 && last.current == last.total, "{seen:?}");
    }
    // Every job was dismissed.
    assert_eq!(client.query_jobs().await.unwrap(), []);
}

#[tokio::test]
async fn tag_with_spaces_and_quotes_round_trips_over_qmp() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    let tag = r#"it's a "snap" \ with 'quotes' & spaces"#;

    snapshot::save(&client, tag, &qmp(), ignore).await.unwrap();
    let listed = snapshot::list(&client).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tag, tag);
    assert_eq!(tags_of(&mut observer, "disk1"), [tag]);

    snapshot::load(&client, tag, &qmp(), ignore).await.unwrap();
    assert_eq!(observer.status(), "running");
    snapshot::delete(&client, tag, &qmp(), ignore)
        .await
        .unwrap();
    assert!(snapshot::list(&client).await.unwrap().is_empty());
    assert_eq!(
        tags_by_disk(&mut observer),
        [("disk0".to_string(), vec![]), ("disk1".to_string(), vec![])]
    );
}

#[tokio::test]
async fn load_restores_the_disk_as_it_was_at_the_snapshot() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").observer().start();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    assert!(disk_holds(&qemu, &mut observer, "disk0", 0));

    let saved = snapshot::save(&client, "clean", &qmp(), ignore)
        .await
        .unwrap();
    write_marker(&qemu, &mut observer, "disk0", 0xab);
    assert!(disk_holds(&qemu, &mut observer, "disk0", 0xab));
    assert!(!disk_holds(&qemu, &mut observer, "disk0", 0));

    let loaded = snapshot::load(&client, "clean", &qmp(), ignore)
        .await
        .unwrap();
    eprintln!(
        "one 64M qcow2 disk, 128M RAM: save {:?}, load {:?}",
        saved.elapsed, loaded.elapsed
    );
    assert!(
        disk_holds(&qemu, &mut observer, "disk0", 0),
        "marker still there"
    );
    assert!(!disk_holds(&qemu, &mut observer, "disk0", 0xab));
    assert_eq!(observer.status(), "running");
}

#[tokio::test]
async fn a_paused_vm_stays_paused_through_save_and_load() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").observer().start();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    observer.execute("stop", json!({}));

    for (method, tag) in [
        (MethodChoice::Qmp, "paused-qmp"),
        (MethodChoice::Hmp, "paused-hmp"),
    ] {
        snapshot::save(&client, tag, &options(method), ignore)
            .await
            .unwrap();
        assert_eq!(observer.status(), "paused", "after save ({method:?})");
        snapshot::load(&client, tag, &options(method), ignore)
            .await
            .unwrap();
        assert_eq!(observer.status(), "paused", "after load ({method:?})");
    }
}

#[tokio::test]
async fn delete_removes_the_snapshot_from_every_disk() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    for tag in ["keep", "drop"] {
        snapshot::save(&client, tag, &qmp(), ignore).await.unwrap();
    }

    let outcome = snapshot::delete(&client, "drop", &qmp(), ignore)
        .await
        .unwrap();
    assert_eq!(outcome.disks, ["disk0", "disk1"]);
    assert_eq!(
        tags_by_disk(&mut observer),
        [
            ("disk0".to_string(), vec!["keep".to_string()]),
            ("disk1".to_string(), vec!["keep".to_string()])
        ]
    );
}

#[tokio::test]
async fn duplicate_tag_is_refused_before_qemu_sees_it() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    snapshot::save(&client, "dup", &qmp(), ignore)
        .await
        .unwrap();

    for method in [MethodChoice::Qmp, MethodChoice::Hmp] {
        let error = snapshot::save(&client, "dup", &options(method), ignore)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, SnapshotError::Tag(TagError::Exists { tag }) if tag == "dup"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "a snapshot tagged 'dup' already exists; choose another tag"
        );
    }
    // HMP savevm would have replaced it: the original is still the only one.
    for disk in ["disk0", "disk1"] {
        assert_eq!(tags_of(&mut observer, disk), ["dup"]);
    }
}

#[tokio::test]
async fn unknown_tag_on_load_and_delete_is_refused_and_the_vm_keeps_running() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    snapshot::save(&client, "real", &qmp(), ignore)
        .await
        .unwrap();

    for method in [MethodChoice::Qmp, MethodChoice::Hmp] {
        let options = options(method);
        let load = snapshot::load(&client, "ghost", &options, ignore).await;
        let delete = snapshot::delete(&client, "ghost", &options, ignore).await;
        for result in [load, delete] {
            let error = result.unwrap_err();
            assert!(matches!(&error, SnapshotError::NotFound { tag } if tag == "ghost"));
            assert_eq!(
                error.to_string(),
                "no snapshot tagged 'ghost' exists on this VM's writable disks"
            );
        }
    }
    // A failed snapshot-load would have left the VM stopped.
    assert_eq!(observer.status(), "running");
    assert_eq!(tags_of(&mut observer, "disk0"), ["real"]);
}

#[tokio::test]
async fn writable_raw_disk_is_named_by_preflight_and_can_be_left_out() {
    let qemu = Qemu::builder()
        .disk("disk0", "qcow2")
        .disk("rawd", "raw")
        .observer()
        .start();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();

    let plan = snapshot::preflight(&client).await.unwrap();
    assert_eq!(plan.disks.len(), 1);
    assert_eq!(plan.disks[0].name, "disk0");
    assert_eq!(plan.vmstate.as_ref().unwrap().name, "disk0");
    assert_eq!(plan.unsupported.len(), 1);
    assert_eq!(plan.unsupported[0].name, "rawd");
    assert_eq!(plan.unsupported[0].format, "raw");
    assert_eq!(
        plan.warning().as_deref(),
        Some("disk rawd (raw) cannot take internal snapshots; snapshot the others or cancel")
    );

    // Without consent, nothing happens.
    for method in [MethodChoice::Qmp, MethodChoice::Hmp] {
        let error = snapshot::save(&client, "s", &options(method), ignore)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, SnapshotError::UnsupportedDisks { disks, .. } if disks[0].name == "rawd"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("disk rawd (raw) cannot take internal snapshots")
        );
    }
    assert_eq!(tags_of(&mut observer, "disk0"), Vec::<String>::new());

    // "Snapshot the others": the qcow2 disk alone, over QMP.
    let leave_out = SnapshotOptions {
        skip_unsupported: true,
        ..qmp()
    };
    let saved = snapshot::save(&client, "s", &leave_out, ignore)
        .await
        .unwrap();
    assert_eq!(saved.disks, ["disk0"]);
    assert_eq!(tags_of(&mut observer, "disk0"), ["s"]);
    let listed = snapshot::list(&client).await.unwrap();
    assert!(!listed[0].partial, "{listed:?}");
    snapshot::load(&client, "s", &leave_out, ignore)
        .await
        .unwrap();
    // The HMP fallback cannot leave a disk out.
    let hmp_leave_out = SnapshotOptions {
        skip_unsupported: true,
        ..options(MethodChoice::Hmp)
    };
    let error = snapshot::load(&client, "s", &hmp_leave_out, ignore)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("cannot leave disks out"),
        "{error}"
    );
    snapshot::delete(&client, "s", &qmp(), ignore)
        .await
        .unwrap();
    assert_eq!(tags_of(&mut observer, "disk0"), Vec::<String>::new());
    assert_eq!(observer.status(), "running");
}

#[tokio::test]
async fn hmp_fallback_saves_loads_and_deletes_a_safe_tag() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    let hmp = options(MethodChoice::Hmp);
    let tag = "hmp-1.0_a:b+c";

    let mut seen = Vec::new();
    let saved = snapshot::save(&client, tag, &hmp, |p| seen.push(p))
        .await
        .unwrap();
    assert_eq!(saved.method, Method::Hmp);
    assert_eq!(saved.job_id, None);
    let statuses: Vec<_> = seen.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(statuses, ["running", "concluded"]);
    for disk in ["disk0", "disk1"] {
        assert_eq!(tags_of(&mut observer, disk), [tag]);
    }
    assert!(snapshot::list(&client).await.unwrap()[0].vm_state_size > 0);

    write_marker(&qemu, &mut observer, "disk1", 0x5a);
    let loaded = snapshot::load(&client, tag, &hmp, ignore).await.unwrap();
    eprintln!(
        "HMP, two 64M qcow2 disks: savevm {:?}, loadvm {:?}",
        saved.elapsed, loaded.elapsed
    );
    assert!(disk_holds(&qemu, &mut observer, "disk1", 0));
    assert_eq!(observer.status(), "running");

    snapshot::delete(&client, tag, &hmp, ignore).await.unwrap();
    for disk in ["disk0", "disk1"] {
        assert_eq!(tags_of(&mut observer, disk), Vec::<String>::new());
    }
}

#[tokio::test]
async fn hmp_fallback_refuses_unsafe_tags() {
    let qemu = two_disk_vm();
    let client = connect(&qemu).await;
    let mut observer = qemu.observer();
    let hmp = options(MethodChoice::Hmp);

    // An all-digit tag is refused on every path, before the method is even chosen.
    let error = snapshot::save(&client, "12", &hmp, ignore)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SnapshotError::Tag(TagError::AllDigits { .. })),
        "{error:?}"
    );
    for tag in ["two words", "quo\"te", "semi;colon"] {
        let error = snapshot::save(&client, tag, &hmp, ignore)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, SnapshotError::HmpUnsafeTag { .. }),
            "{tag}: {error:?}"
        );
        assert!(
            error.to_string().contains("HMP fallback cannot pass"),
            "{error}"
        );
    }
    assert_eq!(tags_of(&mut observer, "disk0"), Vec::<String>::new());

    // A tag saved over QMP that HMP cannot carry is refused for load and delete too.
    snapshot::save(&client, "two words", &qmp(), ignore)
        .await
        .unwrap();
    for result in [
        snapshot::load(&client, "two words", &hmp, ignore).await,
        snapshot::delete(&client, "two words", &hmp, ignore).await,
    ] {
        assert!(matches!(result, Err(SnapshotError::HmpUnsafeTag { .. })));
    }
    assert_eq!(tags_of(&mut observer, "disk0"), ["two words"]);
    assert_eq!(observer.status(), "running");
}

/// Runs `qemu-dash snapshot ARGS...` to completion: (success, stdout, stderr).
fn run_snapshot_cli(args: &[&str]) -> (bool, String, String) {
    let output = crate::support::pty::command()
        .arg("snapshot")
        .args(args)
        .output()
        .expect("run qemu-dash");
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// QEMU's qcow2 driver looks a name up as a snapshot id before it looks at tags: with
/// `before` (id 1) and a snapshot another tool tagged `1` (id 2), loading `1` would restore
/// `before` and lose what was written since. qemu-dash refuses to load or delete such a tag,
/// refuses all-digit tags on save, and the disk keeps its newest data.
#[test]
fn a_tag_that_is_another_snapshots_id_is_never_loaded_or_deleted() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();

    let (ok, _, stderr) = run_snapshot_cli(&["save", &target, "before"]);
    assert!(ok, "{stderr}");
    write_marker(&qemu, &mut observer, "disk0", 0xaa);
    // Another tool (HMP here) takes a snapshot tagged "1"; QEMU gives it id 2.
    let reply = observer.execute("human-monitor-command", json!({"command-line": "savevm 1"}));
    assert_eq!(reply, "", "savevm 1");
    write_marker(&qemu, &mut observer, "disk0", 0xbb);
    assert_eq!(tags_of(&mut observer, "disk0"), ["before", "1"]);

    for operation in ["load", "delete"] {
        let (ok, _, stderr) = run_snapshot_cli(&[operation, &target, "1"]);
        assert!(!ok, "{operation} 1 must be refused");
        assert!(
            stderr.contains(&format!(
                "refusing to {operation} snapshot '1': on disk disk0, '1' is also the id of \
                 snapshot 'before'"
            )),
            "{stderr}"
        );
        assert!(
            disk_holds(&qemu, &mut observer, "disk0", 0xbb),
            "newest data kept after {operation}"
        );
    }
    assert_eq!(tags_of(&mut observer, "disk0"), ["before", "1"]);
    assert_eq!(observer.status(), "running");

    let (ok, _, stderr) = run_snapshot_cli(&["save", &target, "7"]);
    assert!(!ok);
    assert!(
        stderr.contains("the snapshot tag '7' is only digits"),
        "{stderr}"
    );
    assert_eq!(tags_of(&mut observer, "disk0"), ["before", "1"]);

    // The tag that is not an id still loads the snapshot it names.
    let (ok, _, stderr) = run_snapshot_cli(&["load", &target, "before"]);
    assert!(ok, "{stderr}");
    assert!(disk_holds(&qemu, &mut observer, "disk0", 0));
}

/// The `snapshot` subcommands of the binary, as a script would use them.
#[test]
fn cli_saves_lists_loads_and_deletes() {
    let qemu = two_disk_vm();
    let mut observer = qemu.observer();
    let run = run_snapshot_cli;
    let target = qemu.target();

    let (ok, stdout, stderr) = run(&["save", &target, "cli snap"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", ""),
        "quiet when not a terminal"
    );
    assert_eq!(tags_of(&mut observer, "disk1"), ["cli snap"]);

    let (ok, stdout, stderr) = run(&["list", &target, "--json"]);
    assert!(ok, "{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["tag"], "cli snap");
    assert_eq!(listed[0]["disks"], json!(["disk0", "disk1"]));
    assert!(listed[0]["vm_state_size"].as_u64().unwrap() > 0);

    let (ok, stdout, _) = run(&["list", &target]);
    assert!(ok);
    let lines: Vec<_> = stdout.lines().collect();
    assert!(lines[0].starts_with("TAG "), "{stdout}");
    assert!(lines[1].starts_with("cli snap "), "{stdout}");
    assert!(lines[1].ends_with("disk0, disk1"), "{stdout}");

    let (ok, _, stderr) = run(&["load", &target, "cli snap"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["save", &target, "cli snap"]);
    assert!(!ok);
    assert!(
        stderr.contains("a snapshot tagged 'cli snap' already exists"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["delete", &target, "cli snap"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["load", &target, "cli snap"]);
    assert!(!ok);
    assert!(stderr.contains("no snapshot tagged 'cli snap'"), "{stderr}");
    assert_eq!(tags_of(&mut observer, "disk0"), Vec::<String>::new());
    assert_eq!(observer.status(), "running");
}

/// Leaves a finished snapshot job in QEMU as a qemu-dash killed mid-save does (its pid is
/// gone), through the observer; returns its id.
fn leave_stale_job(observer: &mut Observer) -> String {
    let blocks = observer.execute("query-block", json!({}));
    let node = blocks[0]["inserted"]["node-name"]
        .as_str()
        .unwrap()
        .to_string();
    let id = "qemu-dash-save-999999999-0-000000001".to_string();
    observer.execute(
        "snapshot-save",
        json!({"job-id": id, "tag": "left", "vmstate": node, "devices": [node]}),
    );
    wait_until(Duration::from_secs(10), "the job to conclude", || {
        let jobs = observer.execute("query-jobs", json!({}));
        (jobs[0]["status"] == "concluded").then_some(())
    });
    id
}

fn job_ids(observer: &mut Observer) -> Vec<String> {
    let jobs = observer.execute("query-jobs", json!({}));
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap().to_string())
        .collect()
}

/// A killed `snapshot save` leaves a concluded job in QEMU for good; the next qemu-dash that
/// connects dismisses it and says so (the dashboard, unless read-only, and the snapshot CLI).
#[test]
fn finished_jobs_left_by_a_killed_qemu_dash_are_dismissed_on_connect() {
    use crate::support::pty::Dashboard;
    let qemu = Qemu::builder().disk("disk0", "qcow2").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();

    let stale = leave_stale_job(&mut observer);
    let mut read_only = Dashboard::start(&["--read-only", &target], 120, 30);
    read_only.wait_for("running", Duration::from_secs(10));
    read_only.send("q");
    read_only.wait_exit(Duration::from_secs(5));
    assert_eq!(
        job_ids(&mut observer),
        std::slice::from_ref(&stale),
        "read-only sends no job-dismiss"
    );

    let mut dashboard = Dashboard::start(&[&target], 200, 30);
    dashboard.wait_for(
        &format!("dismissed a finished snapshot job an earlier qemu-dash left behind: {stale}"),
        Duration::from_secs(10),
    );
    dashboard.send("q");
    dashboard.wait_exit(Duration::from_secs(5));
    assert_eq!(job_ids(&mut observer), Vec::<String>::new());

    let stale = leave_stale_job(&mut observer);
    let (ok, _, stderr) = run_snapshot_cli(&["save", &target, "after"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("left behind: {stale}")),
        "{stderr}"
    );
    assert_eq!(job_ids(&mut observer), Vec::<String>::new());
}

/// An image can carry any bytes in its snapshot table: a tag and an id holding escape
/// sequences (retitle the terminal, clear it) are printed escaped by `snapshot list`, and
/// `--json` stays valid JSON with the same text.
#[test]
fn snapshot_list_never_prints_escape_sequences_from_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("crafted.qcow2");
    crate::support::qemu::create_image(&image, "qcow2", "16M");
    let hostile_tag = "x\u{1b}]0;PWNED\u{7}\u{1b}[2J";
    let status = std::process::Command::new(crate::support::qemu::qemu_img())
        .args(["snapshot", "-c", hostile_tag])
        .arg(&image)
        .status()
        .unwrap();
    assert!(status.success());
    patch_first_snapshot_id(&image, b'\x1b');

    let drive = format!("file={},format=qcow2,if=virtio,id=disk0", image.display());
    let qemu = Qemu::builder().args(&["-drive", &drive]).start();
    let target = qemu.target();

    let (ok, stdout, stderr) = run_snapshot_cli(&["list", &target]);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout:?}");
    assert!(
        stdout.contains("\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J"),
        "{stdout}"
    );
    let (ok, stdout, stderr) = run_snapshot_cli(&["list", &target, "--json"]);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout:?}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(listed[0]["tag"], hostile_tag);
    assert_eq!(listed[0]["id"], "\u{1b}");
}

/// Overwrites the one-byte id ("1") of the first snapshot in a qcow2 image's snapshot table.
fn patch_first_snapshot_id(image: &std::path::Path, id: u8) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(image)
        .unwrap();
    let mut header = [0u8; 72];
    file.read_exact(&mut header).unwrap();
    let table = u64::from_be_bytes(header[64..72].try_into().unwrap());
    let mut entry = [0u8; 40];
    file.seek(SeekFrom::Start(table)).unwrap();
    file.read_exact(&mut entry).unwrap();
    let id_size = u16::from_be_bytes(entry[12..14].try_into().unwrap());
    assert_eq!(id_size, 1, "qemu-img gave the first snapshot id 1");
    let extra = u32::from_be_bytes(entry[36..40].try_into().unwrap());
    file.seek(SeekFrom::Start(table + 40 + u64::from(extra)))
        .unwrap();
    file.write_all(&[id]).unwrap();
}
