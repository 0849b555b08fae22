//! The monitor's operations against a real QEMU: console (HMP, raw QMP, error replies),
//! removable media, user-mode host forwards, migration to a file, hot-plug. Each effect is
//! checked through the independent observer socket.

use crate::support::Qemu;
use qemu_dash::monitor::console::{ConsoleCommand, Mode};
use qemu_dash::monitor::hotplug::DeviceSpec;
use qemu_dash::monitor::media::FormatChoice;
use qemu_dash::monitor::migration::{self, MigrationInfo};
use qemu_dash::monitor::{self, Job, News};
use qemu_dash::news::AppEvent;
use qemu_dash::qmp::types::BlockInfo;
use qemu_dash::qmp::{Client, ConnectOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// The CD-ROM of the issue: an empty IDE cdrom on the default pc machine.
pub const CDROM: [&str; 4] = [
    "-drive",
    "if=none,id=cd0,media=cdrom",
    "-device",
    "ide-cd,drive=cd0",
];

/// A user-mode NIC.
pub const USER_NIC: [&str; 4] = ["-netdev", "user,id=n0", "-device", "e1000,netdev=n0"];

/// A USB controller, so USB devices can be hot-plugged and unplugged without a guest.
pub const USB: [&str; 2] = ["-device", "qemu-xhci,id=xhci"];

async fn connect(qemu: &Qemu) -> Client {
    Client::connect(&qemu.target().parse().unwrap(), &ConnectOptions::default())
        .await
        .unwrap()
}

/// Runs a job to its end and returns everything it reported.
async fn run(client: &Client, job: Job) -> Vec<News> {
    let (tx, mut rx) = qemu_dash::news::channel();
    monitor::run(client.clone(), job, tx.monitor_reporter(0)).await;
    let mut news = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let AppEvent::Monitor { news: item, .. } = event {
            news.push(item);
        }
    }
    news
}

fn done(news: &[News]) -> Result<String, String> {
    news.iter()
        .find_map(|n| match n {
            News::Done { result, .. } => Some(result.clone().map_err(|error| error.to_string())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Done in {news:?}"))
}

/// A small file that looks like an ISO 9660 image (raw for QEMU).
pub fn make_iso(dir: &Path) -> PathBuf {
    let path = dir.join("test.iso");
    let mut bytes = vec![0u8; 64 * 1024];
    bytes[0x8001..0x8006].copy_from_slice(b"CD001");
    std::fs::write(&path, bytes).unwrap();
    path
}

pub use crate::support::services::free_port;

fn cd0(observer: &mut crate::support::observer::Observer) -> Value {
    let blocks = observer.execute("query-block", json!({}));
    blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["device"] == "cd0")
        .cloned()
        .unwrap()
}

fn hmp(observer: &mut crate::support::observer::Observer, line: &str) -> String {
    observer
        .execute("human-monitor-command", json!({ "command-line": line }))
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_runs_hmp_and_raw_qmp_and_shows_errors_verbatim() {
    let qemu = Qemu::builder().machine("none").start();
    let client = connect(&qemu).await;
    let hmp_line = ConsoleCommand::parse("info status", Mode::Hmp).unwrap();
    assert_eq!(
        hmp_line.run(&client).await.unwrap().trim(),
        "VM status: running"
    );
    let qmp = ConsoleCommand::parse(r#"{"execute": "query-status"}"#, Mode::Hmp).unwrap();
    let reply = qmp.run(&client).await.unwrap();
    assert!(reply.contains(r#""status": "running""#), "{reply}");
    assert!(
        reply.starts_with("{\n  \"return\""),
        "pretty-printed: {reply}"
    );
    let bare = ConsoleCommand::parse("query-name", Mode::Qmp).unwrap();
    assert!(bare.run(&client).await.unwrap().contains("return"));
    let missing = ConsoleCommand::parse(r#"{"execute": "nosuch"}"#, Mode::Qmp).unwrap();
    let error = monitor::console::error_text(&missing.run(&client).await.unwrap_err());
    assert!(error.contains(r#""class": "CommandNotFound""#), "{error}");
    assert!(
        error.contains("The command nosuch has not been found"),
        "{error}"
    );
    let bad_args = ConsoleCommand::parse(r#"query-status {"x": 1}"#, Mode::Qmp).unwrap();
    let error = bad_args.run(&client).await.unwrap_err().to_string();
    assert!(error.contains("Parameter 'x' is unexpected"), "{error}");
    let unknown = ConsoleCommand::parse("nosuchcmd", Mode::Hmp).unwrap();
    assert!(
        unknown
            .run(&client)
            .await
            .unwrap()
            .contains("unknown command: 'nosuchcmd'")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdrom_medium_is_changed_and_ejected_with_tray_events() {
    let qemu = Qemu::builder().args(&CDROM).observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let dir = tempfile::tempdir().unwrap();
    let iso = make_iso(dir.path());

    let news = run(&client, Job::QueryBlock).await;
    let Some(News::BlockInfo(blocks)) = news.first() else {
        panic!("{news:?}")
    };
    let info: &BlockInfo = blocks.iter().find(|b| b.device == "cd0").unwrap();
    assert!(info.removable);
    assert_eq!(info.tray_open, Some(false), "tray state is read");
    assert!(info.inserted.is_none());
    let device = monitor::media::device_arguments(info);

    let change_medium = |path: String, format: FormatChoice| {
        run(
            &client,
            Job::ChangeMedium {
                device: device.clone(),
                name: "cd0".into(),
                path,
                format,
                local: true,
            },
        )
    };

    // A missing image is refused before anything is sent.
    let missing = dir.path().join("missing.iso");
    let news = change_medium(missing.display().to_string(), FormatChoice::Raw).await;
    let error = done(&news).unwrap_err();
    assert_eq!(error, format!("no such file: {}", missing.display()));

    // An ISO is not qcow2: refused before QEMU sees it.
    let news = change_medium(iso.display().to_string(), FormatChoice::Qcow2).await;
    let error = done(&news).unwrap_err();
    assert!(
        error.ends_with("is not a qcow2 image (no qcow2 header); insert it as raw"),
        "{error}"
    );

    let news = change_medium(iso.display().to_string(), FormatChoice::Raw).await;
    assert_eq!(done(&news).unwrap(), "cd0: inserted test.iso (raw)");
    let inserted = cd0(&mut observer);
    assert_eq!(inserted["inserted"]["file"], iso.display().to_string());
    assert_eq!(inserted["inserted"]["drv"], "raw");
    assert_eq!(inserted["tray_open"], false);
    let tray = observer.wait_event("DEVICE_TRAY_MOVED", WAIT);
    assert_eq!(tray["data"]["device"], "cd0");
    // The job's own refresh shows the medium.
    assert!(news.iter().any(|n| matches!(n, News::BlockInfo(b)
        if b.iter().any(|i| i.inserted.as_ref().is_some_and(|m| m.file.ends_with("test.iso"))))));

    observer.events.clear();
    let news = run(
        &client,
        Job::Eject {
            device,
            name: "cd0".into(),
            force: false,
        },
    )
    .await;
    assert_eq!(done(&news).unwrap(), "cd0: medium ejected, tray open");
    let tray = observer.wait_event("DEVICE_TRAY_MOVED", WAIT);
    assert_eq!(tray["data"]["tray-open"], true);
    let ejected = cd0(&mut observer);
    assert!(ejected.get("inserted").is_none(), "{ejected}");
    assert_eq!(ejected["tray_open"], true);
}

/// An image anyone could have written (a downloaded "ISO") carries a qcow2 header whose
/// backing file is a host file. Inserted as raw (the default) the guest reads the image's own
/// bytes; as qcow2 it is refused, naming the host file. Before, the format was detected from
/// the header and the guest read the host file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_medium_never_exposes_a_host_file_named_as_backing() {
    let qemu = Qemu::builder().args(&CDROM).observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("host-secret");
    std::fs::write(&secret, vec![0x5a_u8; 64 * 1024]).unwrap();
    let evil = dir.path().join("download.iso");
    let status = std::process::Command::new(crate::support::qemu::qemu_img())
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&secret)
        .arg(&evil)
        .status()
        .unwrap();
    assert!(status.success());
    let news = run(&client, Job::QueryBlock).await;
    let Some(News::BlockInfo(blocks)) = news.first() else {
        panic!("{news:?}")
    };
    let device =
        monitor::media::device_arguments(blocks.iter().find(|b| b.device == "cd0").unwrap());
    let change_medium = |format: FormatChoice| {
        run(
            &client,
            Job::ChangeMedium {
                device: device.clone(),
                name: "cd0".into(),
                path: evil.display().to_string(),
                format,
                local: true,
            },
        )
    };

    let news = change_medium(FormatChoice::default()).await;
    assert_eq!(done(&news).unwrap(), "cd0: inserted download.iso (raw)");
    assert_eq!(cd0(&mut observer)["inserted"]["drv"], "raw");
    assert!(
        !qemu.drive_holds(&mut observer, "cd0", 0x5a),
        "the guest must not read the host file"
    );

    let news = change_medium(FormatChoice::Qcow2).await;
    let error = done(&news).unwrap_err();
    assert!(
        error.contains(&format!(
            "is a qcow2 image whose backing file is '{}': the guest would read that host file",
            secret.display()
        )),
        "{error}"
    );
    assert_eq!(
        cd0(&mut observer)["inserted"]["drv"],
        "raw",
        "medium unchanged"
    );
    assert!(!qemu.drive_holds(&mut observer, "cd0", 0x5a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_forward_is_added_listed_and_removed() {
    let qemu = Qemu::builder().args(&USER_NIC).observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;

    let news = run(&client, Job::Network).await;
    let Some(News::Network(Ok(info))) = news.first() else {
        panic!("{news:?}")
    };
    let nics = info.nics();
    assert_eq!(nics.len(), 1, "{info:?}");
    assert_eq!(nics[0].nic.field("model"), Some("e1000"));
    assert_eq!(nics[0].netdev.as_ref().unwrap().name, "n0");
    assert_eq!(info.user_netdevs(), vec!["n0"]);
    assert!(info.forwards().is_empty());

    let port = free_port();
    let rule: monitor::network::HostForward = format!("tcp::{port}-:22").parse().unwrap();
    let news = run(
        &client,
        Job::AddForward {
            netdev: "n0".into(),
            rule,
        },
    )
    .await;
    assert_eq!(
        done(&news).unwrap(),
        format!("host forward tcp::{port}-:22 added on n0")
    );
    let usernet = hmp(&mut observer, "info usernet");
    assert!(
        usernet.contains("HOST_FORWARD") && usernet.contains(&port.to_string()),
        "{usernet}"
    );
    let Some(News::Network(Ok(info))) = news.last() else {
        panic!("{news:?}")
    };
    let forwards = info.forwards();
    assert_eq!(forwards.len(), 1);
    assert_eq!(forwards[0].source_port, port.to_string());
    assert_eq!(forwards[0].dest_port, "22");

    // The same rule again: QEMU's refusal, verbatim.
    let news = run(
        &client,
        Job::AddForward {
            netdev: "n0".into(),
            rule,
        },
    )
    .await;
    let error = done(&news).unwrap_err();
    assert!(
        error.contains("Could not set up host forwarding rule"),
        "{error}"
    );

    let key = forwards[0].forward_key().unwrap();
    let news = run(
        &client,
        Job::RemoveForward {
            netdev: "n0".into(),
            key,
        },
    )
    .await;
    assert_eq!(
        done(&news).unwrap(),
        format!("host forwarding rule for tcp::{port} removed")
    );
    assert!(!hmp(&mut observer, "info usernet").contains("HOST_FORWARD"));
    let news = run(
        &client,
        Job::RemoveForward {
            netdev: "n0".into(),
            key,
        },
    )
    .await;
    assert!(done(&news).unwrap_err().contains("not found"));
}

/// Collects migration news from the follower until `done` says stop.
async fn follow_until(
    rx: &mut qemu_dash::news::NewsReceiver,
    mut done: impl FnMut(&MigrationInfo) -> bool,
) -> Vec<MigrationInfo> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await else {
            continue;
        };
        if let AppEvent::Monitor {
            news: News::Migration(info),
            ..
        } = event
        {
            let stop = done(&info);
            seen.push(info);
            if stop {
                return seen;
            }
        }
    }
    panic!("migration did not finish: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_to_a_file_completes_with_progress() {
    let qemu = Qemu::builder().observer().start();
    let mut observer = qemu.observer();
    // Slow enough that progress is seen: about 1 MiB goes out at 512 KiB/s.
    observer.execute(
        "migrate-set-parameters",
        json!({"max-bandwidth": 512 * 1024}),
    );
    let client = connect(&qemu).await;
    let (tx, mut rx) = qemu_dash::news::channel();
    let follower = tokio::spawn(migration::follow(client.clone(), tx.monitor_reporter(0)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vm.mig");
    let uri = migration::check_uri(&format!("exec:cat > {}", file.display())).unwrap();
    let news = run(&client, Job::Migrate { uri: uri.clone() }).await;
    assert_eq!(done(&news).unwrap(), format!("migration to {uri} started"));
    let seen = follow_until(&mut rx, |info| !info.is_active() && info.status() != "none").await;
    let last = seen.last().unwrap();
    assert_eq!(last.status(), "completed", "{seen:?}");
    assert_eq!(last.progress(), Some(1.0));
    let active: Vec<&MigrationInfo> = seen.iter().filter(|i| i.status() == "active").collect();
    assert!(!active.is_empty(), "no progress seen: {seen:?}");
    assert!(
        active
            .iter()
            .any(|i| i.progress().is_some_and(|p| p > 0.0 && p < 1.0)
                && i.ram.is_some_and(|r| r.total > 0 && r.mbps > 0.0)),
        "{active:?}"
    );
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    // QEMU reports "completed" a moment before it moves the VM from finish-migrate on.
    crate::support::wait_until(WAIT, "the postmigrate state", || {
        (observer.status() == "postmigrate").then_some(())
    });
    // The dashboard turned on MIGRATION events; the observer sees them too.
    let event = observer.wait_event("MIGRATION", WAIT);
    assert!(event["data"]["status"].is_string());
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_migration_uri_fails_with_qemu_reason_and_cancel_works() {
    let qemu = Qemu::builder().observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let (tx, mut rx) = qemu_dash::news::channel();
    let follower = tokio::spawn(migration::follow(client.clone(), tx.monitor_reporter(0)));
    let port = free_port();
    let uri = migration::check_uri(&format!("tcp:127.0.0.1:{port}")).unwrap();
    // QEMU accepts the command and fails in the background.
    let news = run(&client, Job::Migrate { uri }).await;
    assert!(done(&news).is_ok(), "{news:?}");
    let seen = follow_until(&mut rx, |info| info.status() == "failed").await;
    let error = seen.last().unwrap().error_desc.clone().unwrap_or_default();
    assert!(error.contains("Connection refused"), "{error}");
    assert_eq!(observer.status(), "running");

    // A slow migration, cancelled.
    observer.execute(
        "migrate-set-parameters",
        json!({"max-bandwidth": 64 * 1024}),
    );
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("exec:cat > {}", dir.path().join("x").display());
    run(&client, Job::Migrate { uri }).await;
    follow_until(&mut rx, |info| info.status() == "active").await;
    let news = run(&client, Job::CancelMigration).await;
    assert_eq!(done(&news).unwrap(), "migration cancel requested");
    follow_until(&mut rx, |info| info.status() == "cancelled").await;
    assert_eq!(observer.status(), "running");
    follower.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usb_device_is_hot_plugged_and_unplugged_with_device_deleted() {
    let qemu = Qemu::builder().args(&USB).observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let spec = DeviceSpec::parse("usb-tablet,id=tablet0", &[]).unwrap();
    let news = run(&client, Job::AddDevice(spec.clone())).await;
    assert_eq!(done(&news).unwrap(), "device tablet0 (usb-tablet) added");
    let Some(News::Devices(Ok(list))) = news.last() else {
        panic!("{news:?}")
    };
    assert!(
        list.iter()
            .any(|d| d.id == "tablet0" && d.driver == "usb-tablet"),
        "{list:?}"
    );
    // Properties go as strings and QEMU converts them as on its command line.
    let keyboard = DeviceSpec::parse("usb-kbd,id=kbd0,port=2", &[]).unwrap();
    assert!(done(&run(&client, Job::AddDevice(keyboard)).await).is_ok());

    let news = run(&client, Job::AddDevice(spec)).await;
    let error = done(&news).unwrap_err();
    assert!(error.contains("tablet0"), "{error}");

    let news = run(
        &client,
        Job::DeleteDevice {
            id: "tablet0".into(),
        },
    )
    .await;
    assert_eq!(
        news.first(),
        Some(&News::UnplugRequested {
            id: "tablet0".into()
        })
    );
    let deleted = observer.wait_event("DEVICE_DELETED", WAIT);
    assert_eq!(deleted["data"]["device"], "tablet0");
    let news = run(&client, Job::ListDevices).await;
    let Some(News::Devices(Ok(list))) = news.first() else {
        panic!("{news:?}")
    };
    assert!(!list.iter().any(|d| d.id == "tablet0"), "{list:?}");

    let news = run(
        &client,
        Job::DeleteDevice {
            id: "tablet0".into(),
        },
    )
    .await;
    assert!(done(&news).unwrap_err().contains("not found"));
}

/// What QEMU does with PCI hot-unplug on the pc machine and no guest: it accepts
/// `device_del`, but the device stays and no `DEVICE_DELETED` comes (ACPI needs a guest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pci_unplug_without_a_guest_is_accepted_but_never_completes() {
    let qemu = Qemu::builder().observer().start();
    let mut observer = qemu.observer();
    let client = connect(&qemu).await;
    let spec = DeviceSpec::parse("pci-testdev,id=td0", &[]).unwrap();
    assert!(done(&run(&client, Job::AddDevice(spec)).await).is_ok());
    let news = run(&client, Job::DeleteDevice { id: "td0".into() }).await;
    assert_eq!(
        news.first(),
        Some(&News::UnplugRequested { id: "td0".into() })
    );
    // Give QEMU time to act; nothing happens without a guest.
    std::thread::sleep(Duration::from_secs(2));
    observer.execute("query-status", json!({}));
    assert!(
        !observer
            .events
            .iter()
            .any(|e| e["event"] == "DEVICE_DELETED"),
        "{:?}",
        observer.events
    );
    let news = run(&client, Job::ListDevices).await;
    let Some(News::Devices(Ok(list))) = news.first() else {
        panic!("{news:?}")
    };
    assert!(list.iter().any(|d| d.id == "td0"), "{list:?}");
}
