//! A connected model without QEMU or a socket: the model knows only that a VM is connected
//! (the runtime holds the client), so keys can be driven through it and their effects read;
//! and drawing a model on a test backend.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use qemu_dash::app::{ConnectionState, Effect, Model};
use qemu_dash::qmp::QemuVersion;
use qemu_dash::qmp::types::{BlockDeviceInfo, BlockInfo};
use qemu_dash::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::{Duration, Instant};

/// One VM, "web1", connected to QEMU 10.0.2, with a CD-ROM drive holding an ISO.
pub fn connected_model(read_only: bool) -> Model {
    let mut model = Model::new(
        vec!["unix:/run/web1.qmp".into()],
        Duration::from_secs(1),
        read_only,
    );
    let vm = &mut model.vms[0];
    vm.connection = Some(ConnectionState::Connected);
    vm.name = Some("web1".into());
    vm.version = Some(QemuVersion {
        major: 10,
        minor: 0,
        micro: 2,
        package: String::new(),
    });
    vm.block_info = vec![BlockInfo {
        device: "cd0".into(),
        qdev: Some("/machine/peripheral-anon/device[0]".into()),
        removable: true,
        tray_open: Some(false),
        inserted: Some(BlockDeviceInfo {
            file: "/srv/iso/debian.iso".into(),
            drv: "raw".into(),
            ro: true,
            ..Default::default()
        }),
        ..Default::default()
    }];
    model
}

/// Presses `code` on the screen showing now, through the model's key table, as the terminal
/// loop does; returns the effects for the runtime.
pub fn press(model: &mut Model, code: KeyCode) -> Vec<Effect> {
    let modifiers = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    let key = KeyEvent::new(code, modifiers);
    match model.keys.action_for(model.key_context(), key) {
        Some(action) => model.act(action, Instant::now()),
        None => Vec::new(),
    }
}

/// Presses each character of `keys` in turn; returns all their effects.
pub fn type_keys(model: &mut Model, keys: &str) -> Vec<Effect> {
    keys.chars()
        .flat_map(|c| press(model, KeyCode::Char(c)))
        .collect()
}

/// The terminal after drawing `model` at `width`x`height` in `theme`, as of `now`: its cells
/// keep their styles.
pub fn draw_terminal(
    model: &Model,
    now: Instant,
    width: u16,
    height: u16,
    theme: &Theme,
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| qemu_dash::ui::render(frame, model, now, theme))
        .unwrap();
    terminal
}

/// The screen's text after drawing `model` at `width`x`height` in colour, as of now.
pub fn draw_text(model: &Model, width: u16, height: u16) -> String {
    draw_terminal(model, Instant::now(), width, height, &Theme::COLOUR)
        .backend()
        .to_string()
}
