//! Peers that are not a QMP socket held for the session: a proxy that takes one command at a
//! time (scripted like libvirt's `virt-qemu-qmp-proxy`, whose misbehaviour a real QEMU will
//! not show), and polite mode (`--share`) on a real QEMU's socket shared with another client.

use crate::support::fake::{FakeConn, plausible_reply};
use crate::support::observer::Observer;
use crate::support::pty::Dashboard;
use crate::support::{FakeQmp, Qemu};
use serde_json::json;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// Like libvirt's proxy: a slow greeting (made up from the QEMU version libvirt reports,
/// package `qemu-M.m.u`), then one command at a time. A command that arrives
/// while another is unanswered makes the buffer two JSON documents, which the proxy never
/// parses: nothing is answered on that connection again.
async fn one_at_a_time(mut conn: FakeConn) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.send(json!({"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 9}, "package": "qemu-9.0.0"}, "capabilities": ["oob"]}})).await;
    while let Some(command) = conn.command().await {
        // The proxy's event loop wakes late: a second command lands in the same buffer.
        match tokio::time::timeout(Duration::from_millis(50), conn.command()).await {
            Ok(Some(_)) => {
                while conn.command().await.is_some() {}
                return;
            }
            Ok(None) => return,
            Err(_) => {}
        }
        let name = command["execute"].as_str().unwrap_or_default();
        let reply = if name == "qmp_capabilities" {
            json!({})
        } else {
            plausible_reply(name)
        };
        conn.send(json!({"return": reply, "id": command["id"]}))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_takes_one_command_at_a_time_is_watched_after_saying_so() {
    let fake = FakeQmp::start(one_at_a_time);
    let target = fake.target();
    tokio::task::spawn_blocking(move || {
        let dash = Dashboard::start(&["--command-timeout", "1", &target], 140, 36);
        dash.wait_for("takes one command at a time", WAIT);
        dash.wait_for("● running", WAIT);
        // Polls keep coming, one command at a time: the figures stay fresh.
        let screen = dash.wait_for("connected", WAIT);
        assert!(!screen.contains("not answering"), "{screen}");
        let screen = dash.text();
        assert!(
            screen.contains("disconnected: the peer takes one command at a time"),
            "the fallback is logged: {screen}"
        );
        let notes = screen.matches("at a time: watching it").count();
        assert!(
            notes <= 2,
            "said once (message line and event log): {screen}"
        );
    })
    .await
    .unwrap();
}

#[test]
fn polite_mode_leaves_the_socket_to_another_client() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").start();
    let socket = qemu.qmp_path().to_path_buf();
    let dash = Dashboard::start(&["--share", "--interval", "0.25", &qemu.target()], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.wait_for("events not available: polite mode", WAIT);
    // The tutorial's loop: connect, greeting, qmp_capabilities, query-status, close.
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_secs(4) {
        let mut client = Observer::connect(&socket);
        assert_eq!(client.status(), "running", "round {rounds}");
        drop(client);
        rounds += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rounds > 20, "only {rounds} rounds in 4 s");
    // Another client holding the socket makes it busy, not an error; then it is polled again.
    let holder = Observer::connect(&socket);
    dash.wait_for("busy (another client has the socket)", WAIT);
    drop(holder);
    dash.wait_for("● running", WAIT);
    // The dashboard kept polling: a pause made by the other client shows without events.
    Observer::connect(&socket).execute("stop", json!({}));
    dash.wait_for("● paused", WAIT);
    Observer::connect(&socket).execute("cont", json!({}));
    dash.wait_for("● running", WAIT);
}

#[test]
fn the_lima_preset_finds_lima_sockets_and_watches_them_politely() {
    let home = tempfile::tempdir().unwrap();
    let instance = home.path().join(".lima/default");
    std::fs::create_dir_all(&instance).unwrap();
    let qemu = Qemu::builder()
        .machine("none")
        .qmp_at(&instance.join("qmp.sock"))
        .start();
    let home_text = home.path().to_str().unwrap();
    let mut dash =
        Dashboard::start_with_env(&["--discover", "lima"], &[("HOME", home_text)], 140, 36);
    dash.wait_for("1 VMs, 1 connected", WAIT);
    dash.send("\r");
    dash.wait_for("events not available: polite mode", WAIT);
    // Polite: the socket is free between polls.
    let mut other = Observer::connect(qemu.qmp_path());
    assert_eq!(other.status(), "running");
}

/// A model with one connected VM (no QEMU: the model learns limits from what it is told).
fn connected_model() -> qemu_dash::app::Model {
    let mut model =
        qemu_dash::app::Model::new(vec!["libvirt:web1".into()], Duration::from_secs(1), false);
    model.vms[0].connection = Some(qemu_dash::app::ConnectionState::Connected);
    model
}

fn draw(model: &qemu_dash::app::Model) -> String {
    crate::support::model::draw_text(model, 140, 30)
}

#[test]
fn limits_come_from_the_model_controls_off_and_polite_mode_say_why() {
    use qemu_dash::app::keymap::Action;
    use qemu_dash::qmp::Abilities;
    // A libvirt domain without --allow-control.
    let mut model = connected_model();
    model.vms[0].controls_off = Some(qemu_dash::libvirt::CONTROLS_OFF);
    let effects = model.act(Action::TogglePause, Instant::now());
    assert!(effects.is_empty(), "{effects:?}");
    let said = model.message.clone().unwrap();
    assert!(said.is_error, "{said:?}");
    assert!(
        said.text.contains("controls are off for libvirt domains")
            && said.text.contains("--allow-control"),
        "{said:?}"
    );
    // Polite mode: no events, no controls, and a busy socket is a state, not an error.
    let mut model = connected_model();
    model.vms[0].abilities = Abilities {
        events: false,
        holds_socket: false,
        ..Abilities::QMP
    };
    model.act(Action::TogglePause, Instant::now());
    assert!(model.message.clone().unwrap().text.contains("polite mode"));
    assert!(draw(&model).contains("events not available: polite mode"));
    model.apply(qemu_dash::news::AppEvent::Busy { vm: 0 }, Instant::now());
    assert_eq!(model.vms[0].state_word(), qemu_dash::app::BUSY);
    assert!(draw(&model).contains("busy (another client has the socket)"));
}
