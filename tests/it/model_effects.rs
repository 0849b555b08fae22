//! Every action that reaches QEMU, from its key to the effect the runtime carries out, on a
//! connected model without a socket or a terminal: the model says what to send and to which
//! VM; the runtime, which holds the connections, sends it.

use crate::support::model::{connected_model, press, type_keys};
use crossterm::event::KeyCode;
use qemu_dash::app::{Effect, Model, View};
use qemu_dash::monitor::Job;
use qemu_dash::news::{AppEvent, VmCommand};
use qemu_dash::qmp::types::StatusInfo;
use qemu_dash::snapshot::{Operation, Snapshot};
use std::time::{Duration, Instant};

fn running(model: &mut Model, running: bool) {
    model.vms[0].status = Some(StatusInfo {
        running,
        status: if running { "running" } else { "paused" }.into(),
        singlestep: None,
    });
}

fn execute(command: VmCommand) -> Vec<Effect> {
    vec![Effect::Execute { vm: 0, command }]
}

fn message(model: &Model) -> String {
    model
        .message
        .as_ref()
        .map(|message| message.text.clone())
        .unwrap_or_default()
}

/// The snapshot view, its list read, holding one snapshot "base".
fn snapshot_view(read_only: bool) -> Model {
    let mut model = connected_model(read_only);
    assert_eq!(
        press(&mut model, KeyCode::Char('s')),
        vec![Effect::ListSnapshots { vm: 0 }],
        "opening the snapshot view reads the list"
    );
    let base = Snapshot {
        tag: "base".into(),
        id: "1".into(),
        vm_state_size: 1 << 20,
        date: chrono::Local::now(),
        vm_clock: Duration::from_secs(3),
        disks: vec!["disk0".into()],
        vmstate_disk: Some("disk0".into()),
        partial: false,
        missing: Vec::new(),
    };
    model.apply(
        AppEvent::SnapshotList {
            vm: 0,
            result: Ok(vec![base]),
        },
        Instant::now(),
    );
    model
}

#[test]
fn run_state_keys_send_their_command_and_dangerous_ones_only_after_yes() {
    let mut model = connected_model(false);
    running(&mut model, true);
    assert_eq!(
        press(&mut model, KeyCode::Char('p')),
        execute(VmCommand::Pause)
    );
    running(&mut model, false);
    assert_eq!(
        press(&mut model, KeyCode::Char(' ')),
        execute(VmCommand::Resume)
    );
    for (key, command) in [
        ('r', VmCommand::Reset),
        ('P', VmCommand::PowerDown),
        ('Q', VmCommand::Quit),
    ] {
        assert_eq!(
            press(&mut model, KeyCode::Char(key)),
            vec![],
            "{key} asks first"
        );
        assert_eq!(press(&mut model, KeyCode::Char('y')), execute(command));
        assert_eq!(press(&mut model, KeyCode::Char(key)), vec![]);
        assert_eq!(
            press(&mut model, KeyCode::Char('n')),
            vec![],
            "no sends nothing"
        );
        assert_eq!(press(&mut model, KeyCode::Char(key)), vec![]);
        assert_eq!(press(&mut model, KeyCode::Esc), vec![], "Esc sends nothing");
    }
}

#[test]
fn interval_keys_change_the_poll_interval() {
    let mut model = connected_model(false);
    let faster = press(&mut model, KeyCode::Char('+'));
    assert!(
        matches!(faster[..], [Effect::SetInterval(d)] if d < Duration::from_secs(1)),
        "{faster:?}"
    );
    let slower = type_keys(&mut model, "--");
    assert!(
        matches!(slower[..], [_, Effect::SetInterval(d)] if d > Duration::from_secs(1)),
        "{slower:?}"
    );
}

#[test]
fn snapshot_keys_start_jobs_on_the_selected_snapshot() {
    let mut model = snapshot_view(false);
    assert_eq!(
        press(&mut model, KeyCode::Char('r')),
        vec![Effect::ListSnapshots { vm: 0 }]
    );
    for (key, operation) in [('l', Operation::Load), ('d', Operation::Delete)] {
        let mut model = snapshot_view(false);
        assert_eq!(
            press(&mut model, KeyCode::Char(key)),
            vec![],
            "{key} asks first"
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('y')),
            vec![Effect::SnapshotJob {
                vm: 0,
                operation,
                tag: "base".into(),
                skip_unsupported: false,
            }]
        );
    }
    // Create: the prompt's tag is sent as typed.
    assert_eq!(press(&mut model, KeyCode::Char('c')), vec![]);
    let tag = model
        .input
        .as_ref()
        .map(|input| input.editor.text().to_string())
        .unwrap_or_default();
    assert!(!tag.is_empty(), "the prompt offers a tag");
    let effects = type_keys(&mut model, "-x");
    assert_eq!(effects, vec![]);
    assert_eq!(
        press(&mut model, KeyCode::Enter),
        vec![Effect::SnapshotJob {
            vm: 0,
            operation: Operation::Save,
            tag: format!("{tag}-x"),
            skip_unsupported: false,
        }]
    );
}

#[test]
fn monitor_screens_ask_for_their_data_and_send_their_commands() {
    let mut model = connected_model(false);
    assert_eq!(
        press(&mut model, KeyCode::Char(':')),
        vec![Effect::Monitor {
            vm: 0,
            job: Job::CommandNames { hmp_help: true }
        }],
        "the console reads the command names for Tab"
    );
    type_keys(&mut model, "info status");
    let effects = press(&mut model, KeyCode::Enter);
    assert!(
        effects.iter().any(|effect| matches!(
            effect,
            Effect::Monitor { vm: 0, job: Job::Console { line, .. } } if line == "info status"
        )),
        "{effects:?}"
    );
    assert!(
        effects
            .iter()
            .any(|effect| matches!(effect, Effect::SaveHistory { vm: 0, line, .. } if line == "info status")),
        "{effects:?}"
    );
    press(&mut model, KeyCode::Esc);
    assert_eq!(model.view, View::Vm);

    assert_eq!(
        press(&mut model, KeyCode::Char('m')),
        vec![Effect::Monitor {
            vm: 0,
            job: Job::QueryBlock
        }]
    );
    let eject = press(&mut model, KeyCode::Char('e'));
    assert!(
        matches!(&eject[..], [Effect::Monitor { vm: 0, job: Job::Eject { name, force: false, .. } }] if name.contains("cd0")),
        "{eject:?}"
    );
    assert_eq!(
        press(&mut model, KeyCode::Char('E')),
        vec![],
        "force eject asks first"
    );
    let forced = press(&mut model, KeyCode::Char('y'));
    assert!(
        matches!(
            &forced[..],
            [Effect::Monitor {
                vm: 0,
                job: Job::Eject { force: true, .. }
            }]
        ),
        "{forced:?}"
    );
    assert_eq!(
        press(&mut model, KeyCode::Char('n')),
        vec![Effect::Monitor {
            vm: 0,
            job: Job::Network
        }]
    );
    assert_eq!(
        press(&mut model, KeyCode::Char('d')),
        vec![Effect::Monitor {
            vm: 0,
            job: Job::ListDevices
        }]
    );
}

#[test]
fn read_only_sends_queries_and_refuses_every_control_saying_why() {
    let mut model = connected_model(true);
    running(&mut model, true);
    for keys in ["p", "ry", "Py", "Qy"] {
        assert_eq!(type_keys(&mut model, keys), vec![], "{keys}");
        assert!(
            message(&model).contains("read-only"),
            "{keys}: {}",
            message(&model)
        );
        model.message = None;
    }
    let mut model = snapshot_view(true);
    for keys in ["ly", "dy", "c"] {
        let effects = type_keys(&mut model, keys);
        let effects: Vec<_> = effects
            .into_iter()
            .chain(press(&mut model, KeyCode::Enter))
            .collect();
        assert!(
            !effects
                .iter()
                .any(|effect| matches!(effect, Effect::SnapshotJob { .. })),
            "{keys}: {effects:?}"
        );
        assert!(
            message(&model).contains("read-only"),
            "{keys}: {}",
            message(&model)
        );
        model.message = None;
        press(&mut model, KeyCode::Esc);
        if model.view != View::Snapshots {
            press(&mut model, KeyCode::Char('s'));
        }
    }
}

#[test]
fn a_disconnected_vm_gets_nothing_sent_and_the_user_is_told() {
    let mut model = connected_model(false);
    running(&mut model, true);
    model.apply(
        AppEvent::Disconnected {
            vm: 0,
            reason: "connection reset".into(),
            retry_in: 1.0,
        },
        Instant::now(),
    );
    assert_eq!(press(&mut model, KeyCode::Char('p')), vec![]);
    assert!(
        message(&model).contains("not connected"),
        "{}",
        message(&model)
    );
    assert_eq!(type_keys(&mut model, "ry"), vec![]);
    assert_eq!(press(&mut model, KeyCode::Char('m')), vec![]);
}

#[test]
fn a_sample_that_changes_the_run_state_is_drawn_at_once_and_others_wait() {
    use qemu_dash::news::{HostSample, Sample};
    let mut model = connected_model(false);
    running(&mut model, true);
    let sample = |running: bool| AppEvent::Sample {
        vm: 0,
        sample: Box::new(Sample {
            status: StatusInfo {
                running,
                status: if running { "running" } else { "paused" }.into(),
                singlestep: None,
            },
            vcpus: Vec::new(),
            blocks: Vec::new(),
            host: Ok(HostSample::default()),
            slow: None,
            round_trip: Duration::from_millis(1),
        }),
    };
    assert!(
        !model.awaits(&sample(true)),
        "the same state waits for the frame cap"
    );
    assert!(model.awaits(&sample(false)), "● paused is drawn at once");
    model.apply(sample(false), Instant::now());
    assert!(!model.awaits(&sample(false)));
    assert!(model.awaits(&sample(true)), "● running is drawn at once");
}
