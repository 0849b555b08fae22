//! The devices screen end to end: the real binary in a pseudo-terminal against a real QEMU
//! with a CD-ROM, a user-mode NIC and a USB controller. Keys change the medium, eject it,
//! add and remove a host forward, hot-plug and unplug a device, and migrate to a file; each
//! effect is checked through the observer socket.

use crate::monitor_real::{CDROM, USB, USER_NIC, free_port, make_iso};
use crate::support::Qemu;
use crate::support::pty::Dashboard;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn hmp(observer: &mut crate::support::observer::Observer, line: &str) -> String {
    observer
        .execute("human-monitor-command", json!({ "command-line": line }))
        .as_str()
        .unwrap()
        .to_string()
}

fn cd0(observer: &mut crate::support::observer::Observer) -> serde_json::Value {
    observer.execute("query-block", json!({}))[0].clone()
}

#[test]
fn media_network_and_hotplug_from_the_keyboard() {
    let qemu = Qemu::builder()
        .name("dev-vm")
        .args(&CDROM)
        .args(&USER_NIC)
        .args(&USB)
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let dir = tempfile::tempdir().unwrap();
    let iso = make_iso(dir.path());
    let missing = dir.path().join("missing.iso");
    let mut dash = Dashboard::start_with_env(
        &[&target],
        &[("XDG_DATA_HOME", dir.path().to_str().unwrap())],
        120,
        40,
    );
    dash.wait_for("● running", WAIT);

    // Removable media: a missing image is refused, a real one goes in, then out.
    dash.send("m");
    dash.wait_for("Removable media (1)", WAIT);
    dash.wait_for("(empty)", WAIT);
    dash.send("c");
    dash.wait_for("Change medium of cd0", WAIT);
    dash.send(&format!("{}\r", missing.display()));
    dash.wait_for(&format!("no such file: {}", missing.display()), WAIT);
    dash.send("\x15");
    dash.send(&format!("{}\r", iso.display()));
    dash.wait_for("cd0: inserted test.iso (raw)", WAIT);
    dash.wait_for("tray of cd0 closed", WAIT);
    let inserted = cd0(&mut observer);
    assert_eq!(inserted["inserted"]["file"], iso.display().to_string());
    observer.wait_event("DEVICE_TRAY_MOVED", WAIT);
    dash.send("e");
    dash.wait_for("cd0: medium ejected, tray open", WAIT);
    let ejected = cd0(&mut observer);
    assert!(ejected.get("inserted").is_none(), "{ejected}");
    assert_eq!(ejected["tray_open"], true);

    // Network: NIC and netdev listed, a malformed rule explained, a forward added and removed.
    dash.send("n");
    dash.wait_for("e1000", WAIT);
    dash.wait_for("Host forwards (0) on n0", WAIT);
    dash.send("a");
    dash.wait_for("Add a host forward", WAIT);
    dash.send("\x15tcp:2222-22\r");
    dash.wait_for("malformed forward rule 'tcp:2222-22'", WAIT);
    let port = free_port();
    dash.send(&format!("\x15tcp::{port}-:22\r"));
    dash.wait_for(&format!("host forward tcp::{port}-:22 added on n0"), WAIT);
    dash.wait_for("TCP[HOST_FORWARD]", WAIT);
    let usernet = hmp(&mut observer, "info usernet");
    assert!(usernet.contains(&format!("{port}")), "{usernet}");
    dash.send("x");
    dash.wait_for(
        &format!("host forwarding rule for tcp::{port} removed"),
        WAIT,
    );
    assert!(!hmp(&mut observer, "info usernet").contains("HOST_FORWARD"));

    // Hot-plug: a USB tablet added, then unplugged after a question; DEVICE_DELETED shown.
    dash.send("d");
    dash.wait_for("Devices with ids (1)", WAIT);
    dash.send("a");
    dash.wait_for("Add a device", WAIT);
    dash.send("usb-tablet,id=tablet0\r");
    dash.wait_for("device tablet0 (usb-tablet) added", WAIT);
    dash.wait_for("Devices with ids (2)", WAIT);
    dash.send("x");
    dash.wait_for("Unplug tablet0 from dev-vm?", WAIT);
    dash.send("y");
    dash.wait_for("device tablet0 removed (DEVICE_DELETED)", WAIT);
    let deleted = observer.wait_event("DEVICE_DELETED", WAIT);
    assert_eq!(deleted["data"]["device"], "tablet0");
    dash.wait_for("Devices with ids (1)", WAIT);

    dash.send("\x1b");
    dash.wait_for("s snapshots", WAIT);
    assert_eq!(observer.status(), "running");
}

#[test]
fn migration_from_the_keyboard_fails_clearly_then_completes_to_a_file() {
    let qemu = Qemu::builder().name("mig-vm").observer().start();
    let mut observer = qemu.observer();
    // Slow enough to watch: about 1.3 MiB at 128 KiB/s.
    observer.execute(
        "migrate-set-parameters",
        json!({"max-bandwidth": 128 * 1024}),
    );
    let target = qemu.target();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vm.mig");
    let mut dash = Dashboard::start_with_env(
        &[&target],
        &[("XDG_DATA_HOME", dir.path().to_str().unwrap())],
        120,
        40,
    );
    dash.wait_for("● running", WAIT);
    dash.send("M");
    dash.wait_for("no migration on this VM yet", WAIT);

    // A URI that cannot work is explained before anything is sent.
    dash.send("s");
    dash.wait_for("Migrate to", WAIT);
    dash.send("ftp:x\r");
    dash.wait_for("unknown migration scheme 'ftp'", WAIT);
    // An unreachable one is sent, and QEMU's reason is shown.
    let port = free_port();
    dash.send(&format!("\x15tcp:127.0.0.1:{port}\r"));
    dash.wait_for(&format!("Migrate mig-vm to tcp:127.0.0.1:{port}?"), WAIT);
    dash.send("y");
    dash.wait_for("migration failed: Failed to connect", WAIT);
    assert_eq!(observer.status(), "running");

    dash.send("s");
    dash.wait_for("Migrate to", WAIT);
    dash.send(&format!("exec:cat > {}\r", file.display()));
    dash.wait_for("Migrate mig-vm to exec:cat >", WAIT);
    dash.send("y");
    dash.wait_for("status active", WAIT);
    dash.wait_for("% of RAM", WAIT);
    // The dashboard shows the panel too while it runs.
    dash.send("\x1b");
    dash.wait_for("Migration (M: details", WAIT);
    dash.wait_for("expected downtime", WAIT);
    dash.wait_for("migration completed in", Duration::from_secs(90));
    // QEMU reports "completed" a moment before it moves the VM from finish-migrate on.
    crate::support::wait_until(WAIT, "the postmigrate state", || {
        (observer.status() == "postmigrate").then_some(())
    });
    assert!(std::fs::metadata(&file).unwrap().len() > 0);
    dash.send("M");
    dash.wait_for("status completed", WAIT);
    dash.wait_for("100% of RAM", WAIT);
}

/// A left click (SGR mouse report: press and release) at the first place `needle` shows on
/// the screen, `offset` columns into it.
fn click_on(dash: &mut Dashboard, needle: &str, offset: usize) {
    let (row, text) = dash
        .row_with(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on screen: {}", dash.text()));
    let at = text.find(needle).unwrap();
    let column = text[..at].chars().count() + offset;
    // SGR coordinates are 1-based: column;row.
    dash.send(&format!(
        "\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m",
        x = column + 1,
        y = row + 1
    ));
}

/// The mouse on the devices screen: a click on a tab opens it, a click on a row of its
/// table selects that row (the next key acts on it).
#[test]
fn a_click_opens_a_device_tab_and_selects_a_row() {
    let qemu = Qemu::builder()
        .name("click-vm")
        .args(&CDROM)
        .args(&USER_NIC)
        .args(&USB)
        .args(&["-device", "usb-kbd,id=kbd0"])
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 100, 30);
    dash.wait_for("● running", WAIT);
    dash.send("m");
    dash.wait_for("Removable media (1)", WAIT);

    click_on(&mut dash, "Devices ", 2);
    dash.wait_for("Devices with ids (2)", WAIT);
    let (xhci, _) = dash.row_with("│xhci").expect("the controller's row");
    let (kbd, _) = dash.row_with("│kbd0").expect("the keyboard's row");
    assert_eq!(xhci.abs_diff(kbd), 1, "{}", dash.text());
    // The first row is selected: a click on the second selects it, and x asks about it.
    let second = if kbd > xhci { "kbd0" } else { "xhci" };
    click_on(&mut dash, &format!("│{second}"), 2);
    dash.send("x");
    dash.wait_for(&format!("Unplug {second} from click-vm?"), WAIT);
    dash.send("n");
    dash.wait_for("cancelled", WAIT);

    click_on(&mut dash, "Network ", 0);
    dash.wait_for("Host forwards (0) on n0", WAIT);
    click_on(&mut dash, "Media ", 0);
    dash.wait_for("Removable media (1)", WAIT);
    // Nothing was unplugged.
    let devices = observer.execute("qom-list", json!({ "path": "/machine/peripheral" }));
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "kbd0"),
        "{devices}"
    );
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}
