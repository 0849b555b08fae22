//! Render tests: the model in known states drawn on a `TestBackend`, compared with reviewed
//! snapshots (cargo insta review).

use crate::support::model::draw_terminal;
use chrono::{Local, TimeZone};
use qemu_dash::app::keymap::Action;
use qemu_dash::app::{ConnectionState, Model, Question, View};
use qemu_dash::news::{
    AppEvent, BlockRates, BlockSample, EventRecord, HostSample, MachineFacts, MemorySample, Sample,
    SlowSample, VcpuHost, VcpuSample,
};
use qemu_dash::qmp::types::{BlockDeviceInfo, BlockDeviceStats, BlockInfo, StatusInfo};
use qemu_dash::qmp::{Event, QemuVersion, QmpError};
use qemu_dash::ui::theme::Theme;
use ratatui::style::{Color, Modifier};
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A poll's sample of a VM in `status`, its figures moving with `tick`.
pub fn sample(status: &str, tick: u64) -> Sample {
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
            pid: 4321,
            uptime: Some(Duration::from_secs(3600 + tick)),
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
            machine: MachineFacts {
                accelerator: Some("TCG".into()),
                machine: Some("pc-q35-10.0".into()),
                cpu_model: Some("max".into()),
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
pub fn model_in(status: &str, start: Instant) -> Model {
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
    let terminal = draw_terminal(model, now, width, height, &Theme::COLOUR);
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
fn not_answering() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.apply(
        AppEvent::NotAnswering {
            vm: 0,
            since: start + Duration::from_secs(1),
        },
        start + Duration::from_secs(2),
    );
    let screen = draw(&model, start + Duration::from_secs(13), 80, 24);
    assert!(
        screen.contains("web1  ⚠ not answering for 12s (last known: running)"),
        "{screen}"
    );
    assert!(screen.contains("vCPUs (1) · stale, 13s old"), "{screen}");
    insta::assert_snapshot!(screen);
    model.apply(
        AppEvent::Sample {
            vm: 0,
            sample: Box::new(sample("running", 31)),
        },
        start + Duration::from_secs(14),
    );
    let screen = draw(&model, start + Duration::from_secs(14), 80, 24);
    assert!(!screen.contains("not answering"), "{screen}");
    assert!(!screen.contains("stale"), "{screen}");
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
    use qemu_dash::app::RunningJob;
    use qemu_dash::app::View;
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
    let terminal = draw_terminal(&model, start, width, height, &Theme::COLOUR);
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

/// The screen as one line of words, so a wrapped sentence reads whole.
fn flat(screen: &str) -> String {
    screen
        .replace(['│', '"', '\n'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

const LONG_FAILURE: &str = "State blocked by non-migratable device '0000:00:01.0/nvme'; remove the device, or save the disks only with an external snapshot";

#[test]
fn a_long_message_wraps_whole_at_80_columns() {
    use qemu_dash::snapshot::Operation;
    let start = Instant::now();
    let mut model = model_in("running", start);
    model.apply(
        AppEvent::SnapshotDone {
            vm: 0,
            operation: Operation::Save,
            tag: "nightly".into(),
            result: Err(qemu_dash::snapshot::SnapshotError::Qmp(QmpError::Qemu {
                class: "GenericError".into(),
                desc: LONG_FAILURE.into(),
            })),
        },
        start,
    );
    let screen = draw(&model, start, 80, 24);
    assert!(
        flat(&screen).contains(&format!(
            "save 'nightly' failed: {LONG_FAILURE} (GenericError)"
        )),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn messages_belong_to_their_screen_fade_and_stay_in_the_history() {
    let start = Instant::now();
    let mut model = Model::new(
        vec!["unix:/run/a.qmp".into(), "unix:/run/b.qmp".into()],
        Duration::from_secs(1),
        false,
    );
    for (vm, name) in model.vms.iter_mut().zip(["vm-a", "vm-b"]) {
        vm.connection = Some(ConnectionState::Connected);
        vm.name = Some(name.into());
    }
    model.act(Action::Open, start);
    assert_eq!(model.current, 0);
    // A key on vm-a's dashboard answers there.
    model.act(Action::Faster, start);
    let text = |model: &Model, now| model.message_for_screen(now).map(|m| m.text.clone());
    assert_eq!(text(&model, start).as_deref(), Some("polling every 0.5 s"));
    // Background news about vm-b is not for vm-a's screen, but the fleet shows it.
    model.apply(
        AppEvent::CommandDone {
            vm: 1,
            command: qemu_dash::news::VmCommand::Pause,
            result: Err(QmpError::Qemu {
                class: "GenericError".into(),
                desc: "QEMU said no".into(),
            }),
        },
        start,
    );
    assert_eq!(text(&model, start).as_deref(), Some("polling every 0.5 s"));
    model.act(Action::Cancel, start);
    assert_eq!(model.view, View::Fleet);
    assert_eq!(
        text(&model, start).as_deref(),
        Some("pause failed: QEMU said no (GenericError)")
    );
    let fleet = draw(&model, start, 80, 24);
    assert!(
        fleet.contains("vm-b: pause failed: QEMU said no (GenericError)"),
        "{fleet}"
    );
    // vm-a's key answer stays on vm-a's screen, and fades.
    model.act(Action::Open, start);
    assert_eq!(text(&model, start).as_deref(), Some("polling every 0.5 s"));
    let later = start + qemu_dash::app::INFO_LIFETIME + Duration::from_secs(1);
    assert_eq!(text(&model, later), None);
    model.act(Action::Cancel, later);
    assert_eq!(
        text(&model, later).as_deref(),
        Some("pause failed: QEMU said no (GenericError)")
    );
    let much_later = start + qemu_dash::app::ERROR_LIFETIME + Duration::from_secs(1);
    assert_eq!(text(&model, much_later), None, "errors fade too, later");

    // The history keeps them all, with their times, and scrolls.
    model.act(Action::Messages, much_later);
    for (n, message) in model.messages.iter_mut().enumerate() {
        message.at = Local
            .with_ymd_and_hms(2026, 11, 25, 12, 0, n as u32)
            .unwrap();
    }
    let history = draw(&model, much_later, 80, 24);
    assert!(history.contains("Messages (2, newest last)"), "{history}");
    assert!(
        history.contains("12:00:00 vm-a: polling every 0.5 s"),
        "{history}"
    );
    assert!(
        history.contains("12:00:01 vm-b: pause failed: QEMU said no (GenericError)"),
        "{history}"
    );
    insta::assert_snapshot!(history);
    model.act(Action::Up, much_later);
    let scrolled = draw(&model, much_later, 80, 24);
    assert!(!scrolled.contains("pause failed"), "{scrolled}");
    assert!(scrolled.contains("scrolled up 1"), "{scrolled}");
    model.act(Action::Cancel, much_later);
    assert!(!model.messages_open);
}

#[test]
fn an_idle_vm_draws_low_cpu_bars_on_a_stated_scale() {
    let start = Instant::now();
    let mut model = model_in("running", start);
    for tick in 0..40 {
        let mut idle = sample("running", tick);
        for vcpu in &mut idle.vcpus {
            vcpu.host.cpu_percent = Some(0.5);
        }
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(idle),
            },
            start,
        );
    }
    let screen = draw(&model, start, 100, 30);
    let cpu_panel: Vec<&str> = screen
        .lines()
        .skip_while(|line| !line.contains("CPU history") && !line.contains("vCPUs 0.5%"))
        .take(4)
        .collect();
    assert!(
        screen.contains("vCPUs 0.5%"),
        "says what is plotted: {screen}"
    );
    assert!(screen.contains("scale 0–10%"), "{screen}");
    assert!(screen.contains("QEMU CPU      20.0%"), "{screen}");
    assert!(
        !cpu_panel.iter().any(|line| line.contains('█')),
        "0.5% is not a full bar: {cpu_panel:#?}"
    );
}

/// The sizes every screen is drawn at: the standard terminal, a common larger one, the
/// smallest the dashboard draws in, and a large monitor.
const SIZES: [(u16, u16); 4] = [(80, 24), (100, 30), (60, 18), (240, 67)];

const LONG_NAME: &str = "build-server-with-a-rather-long-name-2026";
const DRIVES: [&str; 5] = [
    "system-disk-primary",
    "data-volume-archive-2026",
    "scratch3",
    "logs4",
    "backup-target-five",
];

/// A VM as a busy host shows it: 16 vCPUs, five block devices with long drive names and
/// images, a CD-ROM, 40 events, and a long name.
fn big_model(start: Instant) -> Model {
    let mut model = model_in("running", start);
    for tick in 0..120u64 {
        let mut big = sample("running", tick);
        big.vcpus = (0..16)
            .map(|index| VcpuSample {
                index,
                thread_id: 5000 + index,
                host: VcpuHost {
                    cpu_percent: Some(((index as u64 * 7 + tick) % 50) as f64),
                    steal_percent: Some(0.5),
                    ..Default::default()
                },
            })
            .collect();
        if let Ok(host) = &mut big.host {
            host.vcpus = big.vcpus.iter().map(|v| (v.thread_id, v.host)).collect();
        }
        big.blocks = DRIVES
            .iter()
            .enumerate()
            .map(|(n, drive)| BlockSample {
                device: drive.to_string(),
                node_name: None,
                qdev: None,
                totals: BlockDeviceStats {
                    rd_bytes: (n as u64 + 1) << 30,
                    wr_bytes: (n as u64 + 1) << 28,
                    ..Default::default()
                },
                rates: Some(BlockRates {
                    read_bytes_per_sec: ((tick * 37 + n as u64 * 11) % 90) as f64 * 100_000.0,
                    write_bytes_per_sec: ((tick * 13 + n as u64 * 5) % 40) as f64 * 50_000.0,
                    read_iops: 120.0,
                    write_iops: 33.0,
                    read_latency_ms: Some(0.4),
                    write_latency_ms: Some(2.5),
                }),
            })
            .collect();
        if let Some(slow) = &mut big.slow {
            slow.name = Some(LONG_NAME.into());
            slow.block_info = DRIVES
                .iter()
                .map(|drive| BlockInfo {
                    device: drive.to_string(),
                    inserted: Some(BlockDeviceInfo {
                        file: format!("/var/lib/libvirt/images/{drive}-2026-11-25.qcow2"),
                        drv: "qcow2".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .chain([BlockInfo {
                    device: "installer-cdrom".into(),
                    qdev: Some("/machine/peripheral/installer-cdrom-drive".into()),
                    removable: true,
                    tray_open: Some(false),
                    inserted: Some(BlockDeviceInfo {
                        file: "/srv/iso/debian-13.2.0-amd64-netinst.iso".into(),
                        drv: "raw".into(),
                        ro: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                }])
                .collect();
        }
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(big),
            },
            start,
        );
    }
    for second in 4..44 {
        model.apply(
            event(
                if second % 2 == 0 { "STOP" } else { "RESUME" },
                serde_json::Value::Null,
                second,
            ),
            start,
        );
    }
    model
}

/// `model` drawn at every size of [`SIZES`], each checked by `check` and kept as a snapshot.
fn at_every_size(name: &str, model: &Model, now: Instant, check: impl Fn(&str, (u16, u16))) {
    for (width, height) in SIZES {
        let screen = draw(model, now, width, height);
        check(&screen, (width, height));
        // The footer never ends in the middle of a word, at any size.
        let footer = screen.lines().last().unwrap_or_default().trim_matches('"');
        assert!(
            footer.trim_end().chars().count() < usize::from(width)
                || footer.trim_end().ends_with("help"),
            "{width}x{height}: footer fills the row: {footer:?}"
        );
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), screen);
    }
}

#[test]
fn dashboard_at_every_size() {
    let start = Instant::now();
    let mut model = big_model(start);
    // The third device selected, from the keys.
    model.act(Action::Down, start);
    model.act(Action::Down, start);
    at_every_size("dashboard", &model, start, |screen, (width, height)| {
        let at = format!("{width}x{height}");
        // The selected device's name and rates are always there; every device can be
        // reached, with its position when not all fit.
        assert!(screen.contains("scratch3"), "{at}: {screen}");
        assert!(
            screen.contains("read/s") && screen.contains("write/s"),
            "{at}: {screen}"
        );
        assert!(
            screen.contains("read 1.4 MiB/s"),
            "{at}: the read history: {screen}"
        );
        assert!(
            screen.contains("write 1.8 MiB/s"),
            "{at}: the write history: {screen}"
        );
        assert!(
            screen.contains("scale 0–") && screen.contains("· last "),
            "{at}: {screen}"
        );
        if !DRIVES.iter().all(|drive| screen.contains(drive)) {
            assert!(screen.contains("Block devices 3/5"), "{at}: {screen}");
        }
        assert!(screen.contains("? help"), "{at}: {screen}");
        if width >= 100 {
            assert!(
                screen.contains("device") && screen.contains("image"),
                "{at}: {screen}"
            );
        }
    });
    // At 240x67 the charts have axes and the log shows more than a handful of lines.
    let large = draw(&model, start, 240, 67);
    assert!(large.contains("now"), "time axis: {large}");
    let log_lines = large
        .lines()
        .filter(|line| line.contains(" STOP ") || line.contains(" RESUME "))
        .count();
    assert!(
        log_lines >= 12,
        "{log_lines} event lines at 240x67: {large}"
    );
}

#[test]
fn lists_scroll_to_their_end_and_stop() {
    let start = Instant::now();
    let mut model = big_model(start);
    model.act(Action::FocusPrevious, start);
    assert_eq!(model.focus, qemu_dash::app::Panel::Cpus);
    model.act(Action::Last, start);
    model.act(Action::Down, start);
    let screen = draw(&model, start, 80, 24);
    assert!(screen.contains("vCPUs 16/16"), "{screen}");
    assert!(screen.contains("15   "), "the last vCPU shows: {screen}");
    model.act(Action::First, start);
    let screen = draw(&model, start, 80, 24);
    assert!(screen.contains("vCPUs 1/16"), "{screen}");
    // The event log: up goes back in time and stops at the oldest.
    model.act(Action::FocusPrevious, start);
    assert_eq!(model.focus, qemu_dash::app::Panel::Events);
    for _ in 0..100 {
        model.act(Action::PageUp, start);
    }
    let screen = draw(&model, start, 80, 24);
    assert!(screen.contains("· 1/42"), "{screen}");
    assert!(screen.contains("RESET"), "the oldest event shows: {screen}");
    model.act(Action::Last, start);
    let screen = draw(&model, start, 80, 24);
    assert!(!screen.contains("1/42"), "{screen}");
}

#[test]
fn fleet_at_every_size() {
    let start = Instant::now();
    let mut model = Model::new(
        (0..30)
            .map(|n| format!("unix:/run/vms/guest-{n:02}.qmp"))
            .collect(),
        Duration::from_secs(1),
        false,
    );
    for (n, vm) in model.vms.iter_mut().enumerate() {
        vm.connection = Some(ConnectionState::Connected);
        vm.name = Some(if n == 3 {
            LONG_NAME.to_string()
        } else {
            format!("guest-{n:02}")
        });
    }
    for _ in 0..25 {
        model.act(Action::Down, start);
    }
    at_every_size("fleet", &model, start, |screen, (width, height)| {
        assert!(screen.contains("guest-25"), "{width}x{height}: {screen}");
        if height < 67 {
            assert!(screen.contains("VMs 26/30"), "{width}x{height}: {screen}");
        }
    });
}

#[test]
fn snapshots_at_every_size() {
    use qemu_dash::app::RunningJob;
    use qemu_dash::snapshot::{Operation, Progress, Snapshot};
    let start = Instant::now();
    let mut model = big_model(start);
    model.view = View::Snapshots;
    let snapshots = (0..30)
        .map(|n| Snapshot {
            tag: if n == 7 {
                format!("before-the-{LONG_NAME}-upgrade")
            } else {
                format!("nightly-{n:02}")
            },
            id: n.to_string(),
            vm_state_size: 3 << 20,
            date: Local.with_ymd_and_hms(2026, 11, 25, 9, n, 0).unwrap(),
            vm_clock: Duration::from_secs(3600 + u64::from(n)),
            disks: DRIVES.iter().map(|d| d.to_string()).collect(),
            vmstate_disk: Some(DRIVES[0].into()),
            partial: false,
            missing: vec![],
        })
        .collect();
    let vm = &mut model.vms[0];
    vm.snapshots.set_list(snapshots);
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
    model.act(Action::Last, start);
    at_every_size("snapshots", &model, start, |screen, (width, height)| {
        let at = format!("{width}x{height}");
        assert!(
            screen.contains("nightly-29"),
            "{at}: the last one shows: {screen}"
        );
        assert!(screen.contains("save 'after upgrade'"), "{at}: {screen}");
        if height < 67 {
            assert!(screen.contains("Snapshots 30/30"), "{at}: {screen}");
        }
    });
}

#[test]
fn console_and_devices_at_every_size() {
    use qemu_dash::app::LineKind;
    use qemu_dash::app::keymap::MonitorKey;
    let start = Instant::now();
    let mut model = big_model(start);
    model.act(Action::Monitor(MonitorKey::OpenConsole), start);
    let transcript = &mut model.vms[0].monitor.console;
    for n in 0..40 {
        transcript.push(LineKind::Command, &format!("(hmp) info block {n}"));
        transcript.push(
            LineKind::Output,
            &format!(
                "{}: /var/lib/libvirt/images/{}.qcow2 (qcow2)",
                DRIVES[n % 5],
                DRIVES[n % 5]
            ),
        );
    }
    at_every_size("console", &model, start, |screen, (width, height)| {
        assert!(
            screen.contains("info block 39"),
            "{width}x{height}: {screen}"
        );
        assert!(screen.contains(" HMP "), "{width}x{height}: {screen}");
    });
    model.act(Action::Cancel, start);
    model.act(Action::Monitor(MonitorKey::OpenMedia), start);
    model.message = None;
    model.messages.clear();
    at_every_size("devices_media", &model, start, |screen, (width, height)| {
        let at = format!("{width}x{height}");
        assert!(screen.contains("installer-cdrom"), "{at}: {screen}");
        assert!(
            screen.contains("debian-13"),
            "{at}: the medium shows: {screen}"
        );
    });
}

#[test]
fn the_focused_panel_shows_without_colours() {
    let start = Instant::now();
    let model = big_model(start);
    let screen = draw(&model, start, 100, 30);
    // Focus on the block panel: a marker before its title (and a bold border).
    assert!(screen.contains("┌ ▶ Block devices"), "{screen}");
    assert!(screen.contains("┌ vCPUs"), "{screen}");
    // The mono theme (or NO_COLOR) draws the same words without a colour; the focused
    // border stays bold, the others do not.
    let terminal = draw_terminal(&model, start, 100, 30, &Theme::MONO);
    let buffer = terminal.backend().buffer();
    assert_eq!(terminal.backend().to_string(), screen);
    assert!(
        buffer
            .content
            .iter()
            .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset),
        "a colour was drawn in the mono theme"
    );
    // The top-left corner of the panel whose title starts with `title`.
    let corner_of = |title: &str| {
        let area = buffer.area;
        (area.top()..area.bottom())
            .flat_map(|y| (area.left()..area.right()).map(move |x| (x, y)))
            .find(|&(x, y)| {
                let text: String = (x..area.right().min(x + 20))
                    .map(|x| buffer[(x, y)].symbol())
                    .collect();
                text.starts_with(&format!("┌ {title}"))
            })
            .map(|at| &buffer[at])
            .unwrap()
    };
    assert!(
        corner_of("▶ Block devices")
            .modifier
            .contains(Modifier::BOLD)
    );
    assert!(!corner_of("vCPUs").modifier.contains(Modifier::BOLD));
}

/// A VM watched over HMP: the event panel says that no events come, and the run-state
/// changes the polls see are logged there instead.
#[test]
fn a_vm_watched_without_events_says_so_and_logs_polled_state_changes() {
    let start = Instant::now();
    let mut model = Model::new(
        vec!["unix:/run/web1.sock".into()],
        Duration::from_secs(1),
        false,
    );
    let vm = &mut model.vms[0];
    vm.connection = Some(ConnectionState::Connected);
    vm.abilities = qemu_dash::qmp::Abilities::HMP;
    let empty = draw(&model, start, 120, 40);
    assert!(
        empty.contains("watched over HMP, which has no events"),
        "{empty}"
    );
    for (tick, status) in ["running", "running", "paused", "running"]
        .iter()
        .enumerate()
    {
        model.apply(
            AppEvent::Sample {
                vm: 0,
                sample: Box::new(sample(status, tick as u64)),
            },
            start,
        );
    }
    let screen = flat(&draw(&model, start, 120, 40));
    assert!(screen.contains("run state running → paused"), "{screen}");
    assert!(screen.contains("run state paused → running"), "{screen}");
    // A power-down's answer is seen by polling too.
    model.vms[0].powerdown = Some(qemu_dash::app::PowerdownRequest {
        sent_at: start,
        reported_silence: false,
    });
    model.apply(
        AppEvent::Sample {
            vm: 0,
            sample: Box::new(sample("shutdown", 5)),
        },
        start,
    );
    let screen = flat(&draw(&model, start, 120, 40));
    assert!(
        screen.contains("power-down answered: the VM shut down (seen by polling)"),
        "{screen}"
    );
    assert!(model.vms[0].powerdown.is_none());
    let qmp = flat(&draw(&model_in("paused", start), start, 120, 40));
    assert!(!qmp.contains("no events"), "{qmp}");
    assert!(!qmp.contains("seen by polling"), "{qmp}");
}

/// Draws `model` as the terminal loop does: the frame, then the page size of that screen.
fn draw_as_the_terminal(model: &mut Model, now: Instant, width: u16, height: u16) -> String {
    let screen = draw(model, now, width, height);
    model.page_rows =
        qemu_dash::ui::page_rows(model, ratatui::layout::Rect::new(0, 0, width, height), now);
    screen
}

/// Rows inside the bordered panel whose top border holds `title`: the lines between that
/// border and the panel's bottom corner, as a user counts them.
fn panel_rows(screen: &str, title: &str) -> usize {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let (top, column) = lines
        .iter()
        .enumerate()
        .find_map(|(n, line)| {
            let text: String = line.iter().collect();
            let at = text.find(title)?;
            let before = text[..at].chars().count();
            let corner = line[..before].iter().rposition(|c| *c == '┌')?;
            Some((n, corner))
        })
        .unwrap_or_else(|| panic!("no panel titled {title:?}: {screen}"));
    lines[top + 1..]
        .iter()
        .take_while(|line| line.get(column) != Some(&'└'))
        .count()
}

fn with_snapshots(model: &mut Model, count: u32) {
    use qemu_dash::snapshot::Snapshot;
    let snapshots = (0..count)
        .map(|n| Snapshot {
            tag: format!("nightly-{n:03}"),
            id: n.to_string(),
            vm_state_size: 3 << 20,
            date: Local.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
                + chrono::Duration::minutes(i64::from(n)),
            vm_clock: Duration::from_secs(3600 + u64::from(n)),
            disks: vec![DRIVES[0].into()],
            vmstate_disk: Some(DRIVES[0].into()),
            partial: false,
            missing: vec![],
        })
        .collect();
    model.vms[0].snapshots.set_list(snapshots);
}

/// PgDn and PgUp move by the rows the list's panel shows at this size, not by a guess: in
/// the snapshot list, the event log and the console, at 80x24 and at 240x67.
#[test]
fn page_keys_move_by_the_rows_a_panel_shows() {
    use qemu_dash::app::LineKind;
    use qemu_dash::app::keymap::MonitorKey;
    let start = Instant::now();
    for (width, height) in [(80, 24), (240, 67)] {
        let at = format!("{width}x{height}");
        // The snapshot list: the first row selected, a page down selects the first row
        // that was not in view.
        let mut model = big_model(start);
        with_snapshots(&mut model, 150);
        model.act(Action::Snapshots, start);
        model.act(Action::First, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        let rows = panel_rows(&screen, "Snapshots 1/150") - 1; // less the header row
        assert!(
            screen.contains(&format!("nightly-{:03}", rows - 1)),
            "{at}: {screen}"
        );
        assert!(
            !screen.contains(&format!("nightly-{rows:03}")),
            "{at}: {screen}"
        );
        model.act(Action::PageDown, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!("Snapshots {}/150", rows + 1)),
            "{at}: {rows} rows: {screen}"
        );
        model.act(Action::PageUp, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(screen.contains("Snapshots 1/150"), "{at}: {screen}");

        // The event log, from its oldest line: a page down moves by its rows.
        let mut model = big_model(start);
        for second in 0..60 {
            model.apply(event("RESUME", serde_json::Value::Null, second % 60), start);
        }
        model.act(Action::FocusPrevious, start);
        model.act(Action::FocusPrevious, start);
        assert_eq!(model.focus, qemu_dash::app::Panel::Events);
        model.act(Action::First, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        let len = model.shown_events(&model.vms[0]).len();
        let rows = panel_rows(&screen, &format!("· 1/{len}"));
        model.act(Action::PageDown, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!("· {}/{len}", rows + 1)),
            "{at}: {rows} rows: {screen}"
        );

        // The console: a page up shows the lines just above the ones in view, and the
        // scrolling stops with the oldest line on the top row.
        let mut model = big_model(start);
        model.act(Action::Monitor(MonitorKey::OpenConsole), start);
        let transcript = &mut model.vms[0].monitor.console;
        for n in 0..150 {
            transcript.push(LineKind::Command, &format!("(hmp) info block {n}"));
        }
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        let rows = panel_rows(&screen, "Monitor console");
        assert!(
            screen.contains(&format!("Monitor console {}–150/150", 151 - rows)),
            "{at}: {rows} rows: {screen}"
        );
        assert!(screen.contains('█'), "{at}: a scrollbar: {screen}");
        model.act(Action::PageUp, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!(
                "Monitor console {}–{}/150",
                151 - 2 * rows,
                150 - rows
            )),
            "{at}: {rows} rows: {screen}"
        );
        assert!(
            screen.contains(&format!("info block {} ", 149 - rows)),
            "{at}: {screen}"
        );
        for _ in 0..20 {
            model.act(Action::PageUp, start);
        }
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!("Monitor console 1–{rows}/150")),
            "{at}: the oldest line stays on top: {screen}"
        );
        assert!(screen.contains("info block 0 "), "{at}: {screen}");
        model.act(Action::PageDown, start);
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!("Monitor console {}–{}/150", rows + 1, 2 * rows)),
            "{at}: one page back down: {screen}"
        );
    }
}

/// On a terminal too small for the whole help, it shows its position and scrolls through
/// every row; `?` closes it.
#[test]
fn the_help_scrolls_on_small_terminals() {
    let start = Instant::now();
    for (width, height) in [(80, 24), (60, 18)] {
        let at = format!("{width}x{height}");
        let mut model = big_model(start);
        model.act(Action::Help, start);
        let expected = model.help_lines();
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        let rows = panel_rows(&screen, "Help: vm");
        assert!(rows < expected.len(), "{at}: the help fits: {screen}");
        let len = expected.len();
        assert!(
            screen.contains(" 1–") && screen.contains(&format!("/{len} ┐")),
            "{at}: the position: {screen}"
        );
        assert!(screen.contains("PgUp/PgDn g/G scroll"), "{at}: {screen}");
        insta::assert_snapshot!(format!("help_top_{width}x{height}"), screen);
        // Every row can be reached, a page at a time, and the end stays at the bottom.
        let mut seen = String::new();
        for _ in 0..expected.len() {
            seen.push_str(&draw_as_the_terminal(&mut model, start, width, height));
            model.act(Action::PageDown, start);
        }
        for line in &expected {
            if let qemu_dash::app::HelpLine::Key { label, .. } = line {
                assert!(seen.contains(label), "{at}: {label:?} never shows");
            }
        }
        let screen = draw_as_the_terminal(&mut model, start, width, height);
        assert!(
            screen.contains(&format!("–{len}/{len} ┐")),
            "{at}: {screen}"
        );
        assert!(
            screen.contains("Esc goes back one level."),
            "{at}: {screen}"
        );
        insta::assert_snapshot!(format!("help_end_{width}x{height}"), screen);
        model.act(Action::Help, start);
        assert!(!model.help, "{at}: ? closes the help");
        assert!(!draw(&model, start, width, height).contains("Help:"));
    }
}

/// A click on a tab of the devices screen opens it; a click on a row of its table selects
/// that row.
#[test]
fn a_click_picks_a_device_tab_and_a_row() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    use qemu_dash::app::Tab;
    use qemu_dash::app::keymap::MonitorKey;
    let start = Instant::now();
    let mut model = big_model(start);
    model.act(Action::Monitor(MonitorKey::OpenMedia), start);
    let area = ratatui::layout::Rect::new(0, 0, 100, 30);
    let screen = draw(&model, start, 100, 30);
    let click = |column: usize, row: usize| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: column as u16,
        row: row as u16,
        modifiers: KeyModifiers::NONE,
    };
    let find = |screen: &str, text: &str| {
        screen
            .lines()
            .enumerate()
            .find_map(|(row, line)| {
                let at = line.find(text)?;
                // Less the quote that starts each row of the test screen.
                Some((line[..at].chars().count() - 1, row))
            })
            .unwrap_or_else(|| panic!("{text:?} not on screen: {screen}"))
    };
    let (column, row) = find(&screen, "Network ");
    let pointer = qemu_dash::ui::pointer_for(&model, area, start, click(column + 2, row));
    let pointer = pointer.expect("the tab is hit");
    model.act(Action::Pointer(pointer), start);
    assert_eq!(model.devices.tab, Tab::Network);
    // Back on the media tab (by a click too), a click on a row of the media table.
    let (column, row) = find(&screen, "Media ");
    let pointer = qemu_dash::ui::pointer_for(&model, area, start, click(column, row));
    model.act(Action::Pointer(pointer.expect("the tab is hit")), start);
    assert_eq!(model.devices.tab, Tab::Media);
    let (column, row) = find(&screen, "installer-cdrom");
    let pointer = qemu_dash::ui::pointer_for(&model, area, start, click(column, row));
    assert_eq!(
        pointer,
        Some(qemu_dash::app::Pointer::Click {
            list: qemu_dash::app::ListId::Media,
            row: Some(0)
        })
    );
    // Between the tabs, nothing.
    let (column, row) = find(&screen, "Network ");
    let gap = qemu_dash::ui::pointer_for(&model, area, start, click(column - 4, row));
    assert_eq!(gap, None, "{screen}");
}
