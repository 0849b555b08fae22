//! The console and devices screens without QEMU: keys through the model (what is sent, what
//! is refused and why), and the screens drawn on a `TestBackend` with reviewed snapshots.

use qemu_dash::app::Edit;
use qemu_dash::app::Tab;
use qemu_dash::app::keymap::{Action, MonitorKey as M};
use qemu_dash::app::{Effect, Model, View};
use qemu_dash::monitor::migration::MigrationInfo;
use qemu_dash::monitor::network::{NetworkInfo, parse_info_network, parse_info_usernet};
use qemu_dash::monitor::{Job, MonitorError, News};
use qemu_dash::news::AppEvent;
use serde_json::json;
use std::time::{Duration, Instant};

fn model(read_only: bool) -> Model {
    crate::support::model::connected_model(read_only)
}

fn typed(model: &mut Model, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(model.act(Action::Char(c), Instant::now()));
    }
    effects
}

fn news(model: &mut Model, news: News) {
    model.apply(AppEvent::Monitor { vm: 0, news }, Instant::now());
}

fn draw(model: &Model) -> String {
    crate::support::model::draw_text(model, 120, 30)
}

fn text_of(screen: &str) -> String {
    // The first header line shows the time in state, which moves; drop it.
    screen.lines().skip(1).collect::<Vec<_>>().join("\n")
}

#[test]
fn console_refuses_commands_in_read_only_mode_and_keeps_history() {
    let mut model = model(true);
    model.act(Action::Monitor(M::OpenConsole), Instant::now());
    assert_eq!(model.view, View::Console);
    typed(&mut model, "stop");
    let effects = model.act(Action::Submit, Instant::now());
    // Only the history is saved; nothing goes to QEMU.
    assert!(
        effects
            .iter()
            .all(|e| matches!(e, Effect::SaveHistory { .. })),
        "{effects:?}"
    );
    let screen = draw(&model);
    assert!(screen.contains("(hmp) stop"), "{screen}");
    assert!(
        screen.contains("read-only: only HMP `info …` and QMP `query-…` commands are sent"),
        "{screen}"
    );
    assert_eq!(model.console.history, vec!["stop"]);
    model.act(Action::Up, Instant::now());
    assert_eq!(model.console.input.text(), "stop");
}

#[test]
fn console_keeps_a_malformed_json_line_for_fixing() {
    let mut model = model(false);
    model.act(Action::Monitor(M::OpenConsole), Instant::now());
    typed(&mut model, "{\"execute\": ");
    let effects = model.act(Action::Submit, Instant::now());
    assert!(effects.is_empty());
    assert_eq!(model.console.input.text(), "{\"execute\": ");
    let message = model.message.clone().unwrap();
    assert!(message.is_error && message.text.starts_with("not valid JSON"));
}

#[test]
fn devices_screen_refuses_changes_in_read_only_mode() {
    let mut model = model(true);
    model.act(Action::Monitor(M::OpenMedia), Instant::now());
    for (key, what) in [
        (M::Eject, "eject"),
        (M::ForceEject, "force eject"),
        (M::ChangeMedium, "change medium"),
    ] {
        let effects = model.act(Action::Monitor(key), Instant::now());
        assert!(effects.is_empty());
        assert_eq!(
            model.message.as_ref().unwrap().text,
            format!("read-only: {what} was not sent")
        );
    }
    model.act(Action::Monitor(M::OpenMigration), Instant::now());
    model.act(Action::Monitor(M::StartMigration), Instant::now());
    assert_eq!(
        model.message.as_ref().unwrap().text,
        "read-only: migration was not sent"
    );
    assert!(model.devices.form.is_none() && model.confirm.is_none());
}

#[test]
fn forms_explain_bad_input_and_stay_open() {
    let mut model = model(false);
    news(
        &mut model,
        News::Network(Ok(NetworkInfo {
            entries: parse_info_network(" \\ n0: index=0,type=user,net=10.0.2.0\r\n"),
            ..Default::default()
        })),
    );
    model.act(Action::Monitor(M::OpenNetwork), Instant::now());
    model.act(Action::Monitor(M::Add), Instant::now());
    model.act(Action::Edit(Edit::DeleteToStart), Instant::now());
    typed(&mut model, "tcp::2222-:22;quit");
    assert!(model.act(Action::Submit, Instant::now()).is_empty());
    let form = model.devices.form.as_ref().unwrap();
    assert!(
        form.error
            .as_ref()
            .unwrap()
            .contains("malformed forward rule"),
        "{form:?}"
    );

    model.act(Action::Cancel, Instant::now());
    model.act(Action::Monitor(M::OpenMigration), Instant::now());
    model.act(Action::Monitor(M::StartMigration), Instant::now());
    typed(&mut model, "tcp:localhost");
    model.act(Action::Submit, Instant::now());
    let error = model.devices.form.as_ref().unwrap().error.clone().unwrap();
    assert!(error.contains("needs a port"), "{error}");
    model.act(Action::Edit(Edit::DeleteToStart), Instant::now());
    typed(&mut model, "exec:cat > /tmp/vm.mig");
    model.act(Action::Submit, Instant::now());
    assert!(model.devices.form.is_none());
    let question = model.confirm.clone().unwrap();
    assert!(
        question.text("web1").contains("exec:cat > /tmp/vm.mig"),
        "{question:?}"
    );
    // The yes sends the migration to the URI as typed.
    let effects = model.act(Action::Confirm, Instant::now());
    assert_eq!(
        effects,
        vec![Effect::Monitor {
            vm: 0,
            job: Job::Migrate {
                uri: "exec:cat > /tmp/vm.mig".into()
            }
        }]
    );
}

#[test]
fn a_change_medium_error_comes_back_into_the_prompt() {
    let mut model = model(false);
    model.act(Action::Monitor(M::OpenMedia), Instant::now());
    model.act(Action::Monitor(M::ChangeMedium), Instant::now());
    typed(&mut model, "/nope.iso");
    let effects = model.act(Action::Submit, Instant::now());
    let [Effect::Monitor { job, .. }] = &effects[..] else {
        panic!("{effects:?}");
    };
    assert!(matches!(job, Job::ChangeMedium { path, .. } if path == "/nope.iso"));
    assert!(model.devices.form.as_ref().unwrap().waiting.is_some());
    news(
        &mut model,
        News::Done {
            job: job.clone(),
            result: Err(MonitorError::Refused("no such file: /nope.iso".into())),
        },
    );
    let form = model.devices.form.as_ref().unwrap();
    assert_eq!(form.error.as_deref(), Some("no such file: /nope.iso"));
    assert!(form.waiting.is_none());
    insta::assert_snapshot!(text_of(&draw(&model)));
}

#[test]
fn console_screen() {
    let mut model = model(false);
    model.act(Action::Monitor(M::OpenConsole), Instant::now());
    let transcript = &mut model.vms[0].monitor.console;
    use qemu_dash::app::LineKind;
    transcript.push(LineKind::Command, "(hmp) info status");
    transcript.push(LineKind::Output, "VM status: running\n");
    transcript.push(LineKind::Command, "(qmp) {\"execute\": \"nosuch\"}");
    transcript.push(
        LineKind::Error,
        "{\n  \"error\": {\n    \"class\": \"CommandNotFound\",\n    \"desc\": \"The command nosuch has not been found\"\n  }\n}",
    );
    model.act(Action::Monitor(M::ToggleMode), Instant::now());
    typed(&mut model, "query-kvm");
    let screen = draw(&model);
    assert!(screen.contains("VM status: running"), "{screen}");
    assert!(screen.contains(" QMP "), "{screen}");
    insta::assert_snapshot!(text_of(&screen));
}

#[test]
fn network_tab() {
    let mut model = model(false);
    news(
        &mut model,
        News::Network(Ok(NetworkInfo {
            entries: parse_info_network(
                "nic0: index=0,type=nic,model=e1000,macaddr=52:54:00:12:34:56\r\n \\ n0: index=0,type=user,net=10.0.2.0,restrict=off\r\n",
            ),
            usernet: parse_info_usernet(USERNET),
            usernet_text: USERNET.replace("\r\n", "\n").trim_end().to_string(),
        })),
    );
    model.act(Action::Monitor(M::OpenNetwork), Instant::now());
    model.message = None;
    model.messages.clear();
    assert_eq!(model.devices.tab, Tab::Network);
    let screen = draw(&model);
    assert!(screen.contains("*:2222"), "{screen}");
    insta::assert_snapshot!(text_of(&screen));
}

const USERNET: &str = "Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n  TCP[HOST_FORWARD]  12               *  2222       10.0.2.15    22     0     0\r\n";

#[test]
fn migration_panel_shows_on_the_dashboard_while_it_runs() {
    let mut model = model(false);
    let info: MigrationInfo = serde_json::from_value(json!({
        "status": "active", "expected-downtime": 300, "total-time": 1500,
        "ram": {"total": 134217728, "remaining": 73819750, "transferred": 1048576,
                "mbps": 8.0, "dirty-sync-count": 1}
    }))
    .unwrap();
    news(&mut model, News::Migration(info.clone()));
    let screen = draw(&model);
    assert!(screen.contains("Migration (M: details"), "{screen}");
    assert!(screen.contains("45% of RAM"), "{screen}");
    assert!(screen.contains("throughput 976.6 KiB/s"), "{screen}");
    assert!(screen.contains("expected downtime 300 ms"), "{screen}");
    insta::assert_snapshot!(text_of(&screen));
    let done: MigrationInfo = serde_json::from_value(json!({
        "status": "completed", "total-time": 9200, "downtime": 5,
        "ram": {"total": 134217728, "remaining": 0, "transferred": 1400000, "mbps": 1.2}
    }))
    .unwrap();
    news(&mut model, News::Migration(done));
    let screen = draw(&model);
    assert!(!screen.contains("Migration (M: details"), "{screen}");
    assert!(
        screen.contains("migration completed in 9.2 s (downtime 5 ms)"),
        "{screen}"
    );
    let failed = MigrationInfo {
        status: Some("failed".into()),
        error_desc: Some("Failed to connect to '127.0.0.1:1': Connection refused".into()),
        ..Default::default()
    };
    news(&mut model, News::Migration(info));
    news(&mut model, News::Migration(failed));
    assert_eq!(
        model.message.as_ref().unwrap().text,
        "migration failed: Failed to connect to '127.0.0.1:1': Connection refused"
    );
}

#[test]
fn an_unplug_without_device_deleted_is_explained_after_a_while() {
    let mut model = model(false);
    let start = Instant::now();
    model.apply(
        AppEvent::Monitor {
            vm: 0,
            news: News::UnplugRequested { id: "nic1".into() },
        },
        start,
    );
    assert!(
        model
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("waiting for DEVICE_DELETED")
    );
    model.tick(start + Duration::from_secs(2));
    assert!(!model.message.as_ref().unwrap().is_error);
    model.tick(start + Duration::from_secs(6));
    let message = model.message.clone().unwrap();
    assert!(message.is_error, "{message:?}");
    assert!(
        message.text.contains("no DEVICE_DELETED after 5 s"),
        "{message:?}"
    );
    assert!(message.text.contains("ACPI"), "{message:?}");

    // When it does come, the screen says so.
    model.apply(
        AppEvent::Monitor {
            vm: 0,
            news: News::UnplugRequested { id: "t0".into() },
        },
        start,
    );
    let record = qemu_dash::news::EventRecord::decode(&qemu_dash::qmp::Event {
        name: "DEVICE_DELETED".into(),
        data: json!({"device": "t0", "path": "/machine/peripheral/t0"}),
        timestamp: (0, 0),
        cut_bytes: 0,
    });
    model.apply(AppEvent::Event { vm: 0, record }, start);
    assert_eq!(
        model.message.as_ref().unwrap().text,
        "device t0 removed (DEVICE_DELETED)"
    );
}

#[test]
fn tray_events_update_the_media_tab_at_once() {
    let mut model = model(false);
    let record = qemu_dash::news::EventRecord::decode(&qemu_dash::qmp::Event {
        name: "DEVICE_TRAY_MOVED".into(),
        data: json!({"device": "cd0", "tray-open": true, "id": "/machine/peripheral-anon/device[0]"}),
        timestamp: (0, 0),
        cut_bytes: 0,
    });
    model.apply(AppEvent::Event { vm: 0, record }, Instant::now());
    assert_eq!(model.vms[0].block_info[0].tray_open, Some(true));
}

#[test]
fn every_monitor_screen_draws_at_the_smallest_and_a_large_size() {
    let mut model = model(false);
    news(
        &mut model,
        News::Network(Ok(NetworkInfo {
            entries: parse_info_network(" \\ n0: index=0,type=user,net=10.0.2.0\r\n"),
            usernet: parse_info_usernet(USERNET),
            usernet_text: USERNET.to_string(),
        })),
    );
    let draw_at = |model: &Model, width, height| {
        crate::support::model::draw_text(model, width, height);
    };
    let screens = [
        (M::OpenConsole, None),
        (M::OpenMedia, None),
        (M::OpenMedia, Some(M::ChangeMedium)),
        (M::OpenNetwork, Some(M::Add)),
        (M::OpenDevices, Some(M::Add)),
        (M::OpenMigration, Some(M::StartMigration)),
    ];
    for (open, then) in screens {
        model.devices.form = None;
        model.view = View::Vm;
        model.act(Action::Monitor(open), Instant::now());
        if let Some(key) = then {
            model.act(Action::Monitor(key), Instant::now());
        }
        typed(
            &mut model,
            "a rather long line of text that is wider than the smallest terminal",
        );
        assert!(
            then.is_none() || model.devices.form.is_some(),
            "{open:?} {then:?}"
        );
        for (width, height) in [(60, 18), (61, 19), (200, 60)] {
            draw_at(&model, width, height);
        }
    }
}

#[test]
fn tab_completes_commands_drivers_and_paths_and_a_paste_never_submits() {
    use qemu_dash::monitor::CommandNames;
    let mut model = model(false);
    model.act(Action::Monitor(M::OpenConsole), Instant::now());
    news(
        &mut model,
        News::CommandNames(CommandNames {
            hmp: vec![
                "info".into(),
                "system_reset".into(),
                "system_powerdown".into(),
            ],
            hmp_info: vec!["status".into(), "stats".into(), "usernet".into()],
            qmp: vec!["query-status".into(), "query-kvm".into()],
        }),
    );
    typed(&mut model, "system_r");
    model.act(Action::Complete, Instant::now());
    assert_eq!(model.console.input.text(), "system_reset ");
    model.act(Action::Edit(Edit::DeleteToStart), Instant::now());
    typed(&mut model, "info sta");
    model.act(Action::Complete, Instant::now());
    assert_eq!(model.console.input.text(), "info stat");
    let said = model.message.clone().unwrap().text;
    assert_eq!(said, "2 matches: stats status");
    model.act(Action::Edit(Edit::DeleteToStart), Instant::now());
    model.act(Action::Monitor(M::ToggleMode), Instant::now());
    typed(&mut model, "query-k");
    model.act(Action::Complete, Instant::now());
    assert_eq!(model.console.input.text(), "query-kvm ");
    // A pasted line break is a space: nothing is sent.
    model.act(Action::Edit(Edit::DeleteToStart), Instant::now());
    model.paste("stop\nquit\n");
    assert_eq!(model.console.input.text(), "stop quit");
    assert!(model.vms[0].monitor.console.lines.is_empty());
    model.act(Action::Cancel, Instant::now());

    // The hot-plug prompt completes driver names, up to the first comma.
    model.act(Action::Monitor(M::OpenDevices), Instant::now());
    model.act(Action::Monitor(M::Add), Instant::now());
    news(
        &mut model,
        News::DeviceTypes(Ok(vec!["virtio-blk-pci".into(), "virtio-net-pci".into()])),
    );
    typed(&mut model, "virtio-n");
    model.act(Action::Complete, Instant::now());
    let form = model.devices.form.as_ref().unwrap();
    assert_eq!(form.input.text(), "virtio-net-pci,");
    model.act(Action::Cancel, Instant::now());

    // The media prompt completes a path once this host has listed it.
    model.act(Action::Monitor(M::OpenMedia), Instant::now());
    model.act(Action::Monitor(M::ChangeMedium), Instant::now());
    typed(&mut model, "/srv/is");
    model.act(Action::Complete, Instant::now());
    news(
        &mut model,
        News::Paths {
            typed: "/srv/is".into(),
            candidates: vec!["/srv/iso/".into()],
        },
    );
    let form = model.devices.form.as_ref().unwrap();
    assert_eq!(form.input.text(), "/srv/iso/");
    // A listing for text the user has since changed is not applied.
    typed(&mut model, "d");
    news(
        &mut model,
        News::Paths {
            typed: "/srv/iso/".into(),
            candidates: vec!["/srv/iso/debian.iso".into()],
        },
    );
    assert_eq!(
        model.devices.form.as_ref().unwrap().input.text(),
        "/srv/iso/d"
    );
}

#[test]
fn path_completion_lists_this_hosts_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("images")).unwrap();
    std::fs::write(dir.path().join("image.iso"), b"").unwrap();
    std::fs::write(dir.path().join(".hidden"), b"").unwrap();
    let base = format!("{}/", dir.path().display());
    let found = qemu_dash::monitor::media::complete_path(&format!("{base}ima"));
    assert_eq!(
        found,
        [format!("{base}image.iso"), format!("{base}images/")]
    );
    assert!(qemu_dash::monitor::media::complete_path(&base).len() == 2);
    assert!(qemu_dash::monitor::media::complete_path("/no/such/dir/x").is_empty());
}

/// A guest that locked its tray refuses a plain eject (QEMU: a `GenericError` saying the
/// device "is locked"; no guest here locks one on demand, so a scripted QEMU says it): the
/// error comes back as QEMU wrote it, with the forced eject offered. Another refusal of the
/// same class offers nothing.
#[tokio::test]
async fn a_locked_tray_offers_the_forced_eject_and_other_refusals_do_not() {
    use crate::support::FakeQmp;
    use qemu_dash::qmp::{Client, ConnectOptions};
    let locked = "Device 'cd0' is locked and force was not specified, wait for tray to open and \
                  try again";
    let fake = FakeQmp::start(move |mut conn| async move {
        conn.handshake().await;
        while let Some(command) = conn.command().await {
            let id = command["id"].clone();
            match (
                command["execute"].as_str(),
                command["arguments"]["id"].as_str(),
            ) {
                (Some("eject"), Some("cd0")) if command["arguments"]["force"] == false => {
                    let error = json!({"class": "GenericError", "desc": locked});
                    conn.send(json!({"error": error, "id": id})).await;
                }
                (Some("eject"), Some("disk0")) => {
                    let desc = "Device 'disk0' is not removable";
                    let error = json!({"class": "GenericError", "desc": desc});
                    conn.send(json!({"error": error, "id": id})).await;
                }
                _ => conn.reply(&id, json!({})).await,
            }
        }
    });
    let client = Client::connect(&fake.target().parse().unwrap(), &ConnectOptions::default())
        .await
        .unwrap();
    let eject = |id: &str, force: bool| Job::Eject {
        device: json!({ "id": id }),
        name: id.to_string(),
        force,
    };
    let run = |job: Job| {
        let client = client.clone();
        async move {
            let (tx, mut rx) = qemu_dash::news::channel();
            qemu_dash::monitor::run(client, job, tx.monitor_reporter(0)).await;
            let mut done = None;
            while let Ok(event) = rx.try_recv() {
                if let AppEvent::Monitor {
                    news: news @ News::Done { .. },
                    ..
                } = event
                {
                    done = Some(news);
                }
            }
            done.expect("the job reports its end")
        }
    };
    let mut model = model(false);

    let refused = run(eject("cd0", false)).await;
    let News::Done {
        result: Err(error), ..
    } = &refused
    else {
        panic!("{refused:?}");
    };
    assert!(
        matches!(error, MonitorError::TrayLocked { .. }),
        "{error:?}"
    );
    news(&mut model, refused);
    let message = model.message.clone().unwrap();
    assert!(message.is_error);
    assert_eq!(
        message.text,
        format!("eject cd0 failed: {locked} (GenericError); E ejects by force (asks first)")
    );

    let forced = run(eject("cd0", true)).await;
    assert!(
        matches!(&forced, News::Done { result: Ok(_), .. }),
        "{forced:?}"
    );

    let not_removable = run(eject("disk0", false)).await;
    news(&mut model, not_removable);
    let text = model.message.clone().unwrap().text;
    assert_eq!(
        text,
        "eject disk0 failed: Device 'disk0' is not removable (GenericError)"
    );
}
