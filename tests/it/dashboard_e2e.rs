//! The real binary in a pseudo-terminal against a real QEMU: keys pressed, the screen read,
//! and the effect checked through a second QMP socket.

use crate::support::Qemu;
use crate::support::pty::Dashboard;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn pause_resume_and_reset_from_the_keyboard() {
    let qemu = Qemu::builder()
        .name("e2e-vm")
        .disk("disk0", "qcow2")
        .observer()
        .start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.25"], 120, 36);
    // A frame may be half drawn when the screen is read: wait for each piece.
    dash.wait_for("● running", WAIT);
    dash.wait_for("e2e-vm", WAIT);
    dash.wait_for("disk0", WAIT);

    dash.send("p");
    dash.wait_for("● paused", WAIT);
    assert_eq!(observer.status(), "paused");
    observer.wait_event("STOP", WAIT);

    dash.send(" ");
    dash.wait_for("● running", WAIT);
    assert_eq!(observer.status(), "running");

    dash.send("r");
    let dialog = dash.wait_for("Reset e2e-vm?", WAIT);
    assert!(dialog.contains("y yes"), "{dialog}");
    dash.send("y");
    dash.wait_for("reset by the host (host-qmp-system-reset)", WAIT);
    observer.wait_event("RESET", WAIT);

    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true), "q quits the dashboard");
    // The terminal was handed back: alternate screen left, and QEMU still runs.
    assert!(
        dash.wait_raw("\x1b[?1049l", WAIT),
        "alternate screen not left"
    );
    assert_eq!(observer.status(), "running");
}

#[test]
fn cancelled_quit_sends_nothing_and_confirmed_quit_stops_qemu() {
    let mut qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 100, 30);
    dash.wait_for("● running", WAIT);
    dash.send("Q");
    dash.wait_for("Quit QEMU for", WAIT);
    dash.send("n");
    dash.wait_for("quit QEMU: cancelled", WAIT);
    assert_eq!(observer.status(), "running");
    dash.send("Q");
    dash.wait_for("Quit QEMU for", WAIT);
    dash.send("y");
    dash.wait_for("DISCONNECTED", WAIT);
    assert!(qemu.wait_exit(WAIT), "QEMU exited after a confirmed quit");
}

#[test]
fn read_only_refuses_commands() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--read-only"], 100, 30);
    dash.wait_for("● running", WAIT);
    dash.send("p");
    dash.wait_for("read-only: pause was not sent", WAIT);
    dash.send("r");
    dash.wait_for("read-only: reset was not sent", WAIT);
    assert_eq!(observer.status(), "running");
}

#[test]
fn tiny_terminal_shows_a_message_instead_of_panels() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 40, 10);
    dash.wait_for("Terminal too small", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn wrong_socket_shows_disconnected_and_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.qmp");
    let target = missing.display().to_string();
    let mut dash = Dashboard::start(&[&target], 120, 30);
    dash.wait_for("DISCONNECTED: cannot connect", WAIT);
    dash.wait_for("no socket at", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_sends_nothing_but_queries() {
    let fake = crate::support::FakeQmp::start(|mut conn| async move {
        if conn.handshake().await.is_some() {
            conn.serve_plausibly().await;
        }
    });
    let target = fake.target();
    let recorder = fake.recorder();
    tokio::task::spawn_blocking(move || {
        let mut dash = Dashboard::start(&[&target, "--read-only", "--interval", "0.25"], 100, 30);
        dash.wait_for("● running", WAIT);
        for (key, refusal) in [
            ("p", "read-only: pause was not sent"),
            ("r", "read-only: reset was not sent"),
            ("P", "read-only: power down was not sent"),
            ("Q", "read-only: quit QEMU was not sent"),
        ] {
            dash.send(key);
            dash.wait_for(refusal, WAIT);
            dash.send("y");
        }
        for key in ["s", "c", "d", "y", "l", "y", "\x1b", " "] {
            dash.send(key);
        }
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
        assert!(
            name == "qmp_capabilities" || name.starts_with("query-") || name == "qom-get",
            "read-only sent {name}"
        );
    }
}

#[test]
fn no_color_draws_without_colours_but_keeps_the_words() {
    // A QMP socket serves one client at a time: one QEMU per dashboard.
    let first = Qemu::builder().machine("none").start();
    let second = Qemu::builder().machine("none").start();
    let coloured = Dashboard::start(&[&first.target()], 100, 30);
    coloured.wait_for("● running", WAIT);
    assert!(coloured.wait_raw("38;5;", WAIT), "colours by default");
    let plain = Dashboard::start_with_env(&[&second.target()], &[("NO_COLOR", "1")], 100, 30);
    plain.wait_for("● running", WAIT);
    plain.wait_for("connected", WAIT);
    let raw = String::from_utf8_lossy(&plain.raw()).to_string();
    assert!(
        !raw.contains("38;5;") && !raw.contains("38;2;"),
        "a colour was drawn"
    );
}

#[test]
fn run_state_follows_events_without_waiting_for_the_next_poll() {
    // Polling every 10 s: the new state must come from the STOP/RESUME events' early poll.
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let dash = Dashboard::start(&[&target, "--interval", "10"], 100, 30);
    dash.wait_for("● running", WAIT);
    observer.execute("stop", serde_json::json!({}));
    dash.wait_for("● paused", Duration::from_secs(5));
    observer.execute("cont", serde_json::json!({}));
    dash.wait_for("● running", Duration::from_secs(5));
}

#[test]
fn config_file_moves_keys() {
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[keys]\npause = \"x\"\n").unwrap();
    let config_arg = config.display().to_string();
    let target = qemu.target();
    let mut dash = Dashboard::start(&["--config", &config_arg, &target], 120, 30);
    dash.wait_for("● running", WAIT);
    dash.wait_for("x pause/resume", WAIT);
    dash.send("p");
    dash.send("?");
    dash.wait_for("close help", WAIT);
    assert_eq!(observer.status(), "running", "p no longer pauses");
    dash.send("\x1b");
    dash.wait_for("x pause/resume", WAIT);
    dash.send("x");
    dash.wait_for("● paused", WAIT);
    assert_eq!(observer.status(), "paused");

    std::fs::write(&config, "[keys]\npause = \"r\"\n").unwrap();
    // The error names the file and the table, as every config error does.
    crate::support::pty::run(["--config", &config_arg, &target]).assert_one_line_error(&format!(
        "in the config file {config_arg}: [keys]: the key 'r' already does reset"
    ));
}

/// Behind the "terminal too small" screen keys do nothing (nothing happens that the user
/// cannot see), except quit; once the window is large enough the same key acts.
#[test]
fn keys_are_ignored_on_the_too_small_screen_except_quit() {
    let qemu = Qemu::builder().name("small-vm").observer().start();
    let mut observer = qemu.observer();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.25"], 50, 14);
    dash.wait_for("Terminal too small: 50x14", WAIT);
    // p would pause, r would ask to reset, s would open the snapshots.
    dash.send("prs");
    dash.wait_for("(3 keys ignored until then.)", WAIT);
    dash.resize(100, 30);
    dash.wait_for("● running", WAIT);
    let screen = dash.wait_for("small-vm", WAIT);
    assert!(!screen.contains("Reset small-vm?"), "{screen}");
    assert!(!screen.contains("Snapshots"), "{screen}");
    assert_eq!(
        observer.status(),
        "running",
        "p behind the small screen paused the VM"
    );
    dash.send("p");
    dash.wait_for("● paused", WAIT);
    assert_eq!(observer.status(), "paused");
    // Quit works on the small screen.
    dash.resize(40, 10);
    dash.wait_for("Terminal too small: 40x10", WAIT);
    dash.send("q");
    assert_eq!(
        dash.wait_exit(WAIT),
        Some(true),
        "q quits from the small screen"
    );
}

/// The mouse wheel over a panel scrolls that panel's list (and focuses it); with
/// `--no-mouse` the terminal keeps the mouse.
#[test]
fn the_mouse_wheel_scrolls_the_panel_under_the_pointer() {
    let qemu = Qemu::builder()
        .name("wheel-vm")
        .args(&["-smp", "16"])
        .observer()
        .start();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.25"], 80, 24);
    // The mouse was asked for (SGR reports).
    assert!(
        dash.wait_raw("\x1b[?1006h", WAIT),
        "mouse capture not enabled"
    );
    dash.wait_for("vCPUs 1/16", WAIT);
    // Wheel down twice over the vCPU table (SGR: button 65 is wheel down; 1-based x;y).
    dash.send("\x1b[<65;10;5M\x1b[<65;10;5M");
    let screen = dash.wait_for("vCPUs 7/16", WAIT);
    assert!(
        screen.contains("▶ vCPUs"),
        "the wheel focused the panel: {screen}"
    );
    // It stops at the end.
    for _ in 0..10 {
        dash.send("\x1b[<65;10;5M");
    }
    let screen = dash.wait_for("vCPUs 16/16", WAIT);
    assert!(screen.contains("15 "), "{screen}");
    // Wheel up goes back; a click on a row selects it.
    dash.send("\x1b[<64;10;5M");
    dash.wait_for("vCPUs 13/16", WAIT);
    dash.send("G");
    dash.wait_for("vCPUs 16/16", WAIT);
    dash.send("g");
    dash.wait_for("vCPUs 1/16", WAIT);
    // Row 5 of the screen is the second vCPU row (header on 4): vCPU 1.
    dash.send("\x1b[<0;10;6M\x1b[<0;10;6m");
    dash.wait_for("vCPUs 2/16", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
    assert!(
        dash.wait_raw("\x1b[?1006l", WAIT),
        "the mouse was not given back"
    );

    let mut dash = Dashboard::start(&[&target, "--no-mouse"], 80, 24);
    dash.wait_for("vCPUs 1/16", WAIT);
    assert!(!String::from_utf8_lossy(&dash.raw()).contains("\x1b[?1006h"));
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}
