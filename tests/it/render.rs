//! Render tests: the model in known states drawn on a `TestBackend`, compared with reviewed
//! snapshots (cargo insta review).

use chrono::{Local, TimeZone};
use qemu_dash::app::keymap::Action;
use qemu_dash::app::{ConnectionState, Model, Question};
use qemu_dash::collect::host::{HostSample, VcpuHost};
use qemu_dash::collect::poller::{BlockSample, MemorySample, Sample, SlowSample, VcpuSample};
use qemu_dash::collect::rates::BlockRates;
use qemu_dash::collect::{AppEvent, EventRecord};
use qemu_dash::qmp::types::{BlockDeviceInfo, BlockDeviceStats, BlockInfo, StatusInfo};
use qemu_dash::qmp::{Event, QemuVersion};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn sample(status: &str, tick: u64) -> Sample {
    let mut vcpus = HashMap::new();
    vcpus.insert(
        4242,
        VcpuHost {
            cpu_percent: Some(12.5 + tick as f64),
            steal_percent: Some(0.5),
            ..Default::default()
        },
    );
    Sample {
        status: StatusInfo {
            running: status == "running",
            status: status.to_string(),
            singlestep: None,
        },
        vcpus: vec![VcpuSample {
            index: 0,
            thread_id: 4242,
            host: vcpus[&4242],
        }],
        blocks: vec![BlockSample {
            device: "disk0".into(),
            node_name: Some("node0".into()),
            qdev: None,
            totals: BlockDeviceStats {
                rd_bytes: 10 << 20,
                wr_bytes: 3 << 20,
                ..Default::default()
            },
            rates: Some(BlockRates {
                read_bytes_per_sec: (tick * 100_000) as f64,
                write_bytes_per_sec: 2048.0,
                read_iops: 25.0,
                write_iops: 0.5,
                read_latency_ms: Some(0.25),
                write_latency_ms: Some(1.5),
            }),
        }],
        host: Ok(HostSample {
            process_cpu_percent: Some(20.0),
            rss_bytes: Some(64 << 20),
            vcpus,
            ..Default::default()
        }),
        slow: Some(SlowSample {
            name: Some("web1".into()),
            block_info: vec![BlockInfo {
                device: "disk0".into(),
                inserted: Some(BlockDeviceInfo {
                    file: "/var/lib/vms/web1.qcow2".into(),
                    node_name: Some("node0".into()),
                    drv: "qcow2".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            memory: MemorySample {
                base_bytes: Some(256 << 20),
                plugged_bytes: None,
                balloon_bytes: Some(200 << 20),
            },
        }),
        round_trip: Duration::from_micros(800),
    }
}

fn event(name: &str, data: serde_json::Value, second: u32) -> AppEvent {
    let time = Local.with_ymd_and_hms(2026, 11, 25, 12, 0, second).unwrap();
    let mut record = EventRecord::decode(&Event {
        name: name.into(),
        data,
        timestamp: (0, 0),
        cut_bytes: 0,
    });
    record.time = time;
    AppEvent::Event { vm: 0, record }
}

/// A model that has seen a few polls and events of a VM now in `status`.
fn model_in(status: &str, start: Instant) -> Model {
    let mut model = Model::new(
        vec!["unix:/run/web1.qmp".into()],
        Duration::from_secs(1),
        false,
    );
    let vm = &mut model.vms[0];
    vm.connection = Some(ConnectionState::Connected);
    vm.version = Some(QemuVersion {
        major: 10,
        minor: 0,
        micro: 2,
        package: String::new(),
    });
    for tick in 0..30 {
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(sample("running", tick)),
            },
            start,
        );
    }
    model.apply(
        event(
            "RESET",
            json!({"guest": false, "reason": "host-qmp-system-reset"}),
            1,
        ),
        start,
    );
    model.apply(
        event(
            "BLOCK_IO_ERROR",
            json!({"device": "disk0", "operation": "write", "action": "report"}),
            2,
        ),
        start,
    );
    if status != "running" {
        model.apply(event("STOP", serde_json::Value::Null, 3), start);
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(sample(status, 30)),
            },
            start,
        );
    }
    model
}

fn draw(model: &Model, now: Instant, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| qemu_dash::ui::render(frame, model, now))
        .unwrap();
    if width == 0 || height == 0 {
        return String::new(); // drawn without panicking; nothing to show
    }
    terminal.backend().to_string()
}

#[test]
fn running() {
    let start = Instant::now();
    let screen = draw(
        &model_in("running", start),
        start + Duration::from_secs(65),
        120,
        34,
    );
    assert!(screen.contains("● running for 1m05s"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn paused() {
    let start = Instant::now();
    let screen = draw(
        &model_in("paused", start),
        start + Duration::from_secs(5),
        120,
        34,
    );
    assert!(screen.contains("● paused for 5s"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn disconnected() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.apply(
        AppEvent::Disconnected {
            vm: 0,
            reason: "QEMU closed the connection".into(),
            retry_in: 0.5,
        },
        start,
    );
    // The "disconnected" note is stamped with the wall clock; pin it for the snapshot.
    let note = model.vms[0].events.back_mut().unwrap();
    assert_eq!(note.text, "disconnected: QEMU closed the connection");
    note.time = Local.with_ymd_and_hms(2026, 11, 25, 12, 0, 9).unwrap();
    let screen = draw(&model, start, 120, 34);
    assert!(
        screen.contains("DISCONNECTED: QEMU closed the connection"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn tiny_terminal() {
    let start = Instant::now();
    let model = model_in("running", start);
    for (width, height) in [(0, 0), (1, 1), (20, 5), (59, 40), (200, 17)] {
        let screen = draw(&model, start, width, height);
        if width >= 20 {
            assert!(screen.contains("Terminal"), "{width}x{height}: {screen}");
        }
    }
    insta::assert_snapshot!(draw(&model, start, 40, 8));
}

#[test]
fn confirm_dialog() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.act(Action::Reset, start);
    assert!(matches!(model.confirm, Some(Question::Vm(_))));
    insta::assert_snapshot!(draw(&model, start, 100, 30));
}

#[test]
fn help_overlay() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.act(Action::Help, start);
    insta::assert_snapshot!(draw(&model, start, 100, 30));
}

#[test]
fn snapshot_view_with_a_job_in_progress() {
    use qemu_dash::app::View;
    use qemu_dash::app::snapshots::RunningJob;
    use qemu_dash::snapshot::{Operation, Progress, Snapshot};
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.view = View::Snapshots;
    let snapshot = |tag: &str, minute: u32, partial: bool| Snapshot {
        tag: tag.into(),
        id: minute.to_string(),
        vm_state_size: 3 << 20,
        date: Local.with_ymd_and_hms(2026, 11, 25, 9, minute, 0).unwrap(),
        vm_clock: Duration::from_secs(3600 + u64::from(minute)),
        disks: vec!["disk0".into()],
        vmstate_disk: Some("disk0".into()),
        partial,
        missing: if partial {
            vec!["disk1".into()]
        } else {
            vec![]
        },
    };
    let vm = &mut model.vms[0];
    vm.snapshots.set_list(vec![
        snapshot("before upgrade", 5, false),
        snapshot("nightly", 30, true),
    ]);
    vm.snapshots.job = Some(RunningJob {
        operation: Operation::Save,
        tag: "after upgrade".into(),
        progress: Some(Progress {
            operation: Operation::Save,
            tag: "after upgrade".into(),
            job_id: Some("qemu-dash-save-1".into()),
            status: "running".into(),
            current: 2,
            total: 5,
        }),
    });
    let screen = draw(&model, start, 110, 20);
    assert!(
        screen.contains("save 'after upgrade' (running, 40%)"),
        "{screen}"
    );
    assert!(screen.contains("PARTIAL: missing on disk1"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// A VM name and an event from a peer holding a soft hyphen, a Hangul filler, a bidi override
/// and an emoji with a variation selector: terminals measure these differently from us (tmux
/// gives U+00AD one column, U+3164 two, and "❤️" one where we count two), so rows misaligned.
/// No cell may hold them, and every row keeps the terminal's full width.
#[test]
fn invisible_and_bidi_characters_never_reach_the_terminal() {
    use unicode_width::UnicodeWidthStr;
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.vms[0].configured_name = Some("web\u{ad}1\u{3164}\u{202e}x❤\u{fe0f}".into());
    model.apply(
        event(
            "DEVICE_DELETED",
            json!({"device": "nic\u{ad}0\u{3164}\u{200b}❤\u{fe0f}", "path": "/machine/peripheral/nic0"}),
            4,
        ),
        start,
    );
    let (width, height) = (120, 34);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| qemu_dash::ui::render(frame, &model, start))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let text = terminal.backend().to_string();
    assert!(text.contains("web"), "{text}");
    for y in 0..height {
        let mut row_width = 0;
        let mut hidden = 0;
        for x in 0..width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(qemu_dash::safe_text::is_unsafe),
                "row {y} column {x}: {symbol:?}"
            );
            if hidden > 0 {
                hidden -= 1;
                continue;
            }
            let cell_width = symbol.width();
            row_width += cell_width;
            hidden = cell_width.saturating_sub(1);
        }
        assert_eq!(row_width, usize::from(width), "row {y}: {text}");
    }
}
