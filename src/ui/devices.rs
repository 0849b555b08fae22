//! The devices screen: a tab bar, then removable media (trays and media), network (NICs,
//! netdevs, host forwards, `info usernet`), hot-plug (devices with ids) or migration, with
//! the related events below, and the open prompt.

use super::{console, footer, header, migration, panel, theme};
use crate::app::Model;
use crate::app::devices::{Form, Tab};
use crate::collect::EventRecord;
use crate::monitor::media;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Row, Table, TableState, Wrap};
use std::time::Instant;

/// Draws the devices screen.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant) {
    let Some(vm) = model.vm() else {
        return;
    };
    let [header_area, tabs_area, content, message, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, model, vm, now);
    render_tabs(frame, tabs_area, model.devices.tab);
    match model.devices.tab {
        Tab::Media => render_media(frame, content, model, vm),
        Tab::Network => render_network(frame, content, model, vm),
        Tab::Hotplug => render_hotplug(frame, content, model, vm, now),
        Tab::Migration => render_migration(frame, content, vm),
    }
    if let Some(form) = &model.devices.form {
        let height = 6.min(content.height);
        let form_area = Rect {
            y: content.bottom() - height,
            height,
            ..content
        };
        render_form(frame, form_area, form);
    }
    footer::render_message(frame, message, model, now);
    footer::render_keys(frame, keys, model);
}

fn render_tabs(frame: &mut Frame, area: Rect, current: Tab) {
    let mut spans = Vec::new();
    for tab in Tab::ALL {
        let style = if tab == current {
            theme::selected()
        } else {
            theme::muted()
        };
        spans.push(Span::styled(format!(" {} ", tab.key()), theme::key()));
        spans.push(Span::styled(format!("{} ", tab.title()), style));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The newest `count` events named one of `names`, oldest first.
fn events_named<'a>(vm: &'a crate::app::Vm, names: &[&str], count: usize) -> Vec<&'a EventRecord> {
    let mut found: Vec<&EventRecord> = vm
        .events
        .iter()
        .rev()
        .filter(|e| names.contains(&e.name.as_str()))
        .take(count)
        .collect();
    found.reverse();
    found
}

fn render_events(frame: &mut Frame, area: Rect, title: &str, records: &[&EventRecord]) {
    let block = panel(title, false, false);
    let lines: Vec<Line> = if records.is_empty() {
        vec![Line::styled("none yet", theme::muted())]
    } else {
        records
            .iter()
            .map(|record| {
                Line::from(vec![
                    Span::styled(record.time.format("%H:%M:%S ").to_string(), theme::muted()),
                    Span::styled(format!("{:<18}", record.name), theme::event(record.kind)),
                    Span::raw(record.text.clone()),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn split(area: Rect, rows: usize) -> (Rect, Rect) {
    let height = (rows as u16 + 3).clamp(4, (area.height / 2).max(4));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(3)]).areas(area);
    (top, bottom)
}

fn render_media(frame: &mut Frame, area: Rect, model: &Model, vm: &crate::app::Vm) {
    let removable = vm.removable();
    let (table_area, events_area) = split(area, removable.len());
    let block = panel(
        &format!("Removable media ({})", removable.len()),
        true,
        !vm.is_connected(),
    );
    if removable.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("no removable block devices on this VM", theme::muted()),
                Line::styled(
                    "(a CD-ROM: -drive if=none,id=cd0,media=cdrom -device ide-cd,drive=cd0)",
                    theme::muted(),
                ),
            ])
            .block(block),
            table_area,
        );
    } else {
        let rows = removable.iter().map(|info| {
            let tray = match info.tray_open {
                Some(true) => "open",
                Some(false) => "closed",
                None => "-",
            };
            let tray = if info.locked {
                format!("{tray}, locked")
            } else {
                tray.to_string()
            };
            let (medium, format, access) = match &info.inserted {
                Some(m) => (
                    media::file_name(&m.file),
                    m.drv.clone(),
                    if m.ro { "read-only" } else { "read-write" }.to_string(),
                ),
                None => ("(empty)".to_string(), String::new(), String::new()),
            };
            Row::new(vec![
                media::device_name(info),
                info.qdev.clone().unwrap_or_default(),
                tray,
                medium,
                format,
                access,
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Length(36),
                Constraint::Length(14),
                Constraint::Fill(1),
                Constraint::Length(7),
                Constraint::Length(10),
            ],
        )
        .header(
            Row::new([
                "device",
                "guest device",
                "tray",
                "medium",
                "format",
                "access",
            ])
            .style(theme::header_row()),
        )
        .row_highlight_style(theme::selected())
        .block(block);
        let selected = model.devices.media_selected.min(removable.len() - 1);
        let mut state = TableState::default().with_selected(Some(selected));
        frame.render_stateful_widget(table, table_area, &mut state);
    }
    let height = events_area.height.saturating_sub(2) as usize;
    render_events(
        frame,
        events_area,
        "Tray events (DEVICE_TRAY_MOVED)",
        &events_named(vm, &["DEVICE_TRAY_MOVED"], height),
    );
}

fn render_network(frame: &mut Frame, area: Rect, model: &Model, vm: &crate::app::Vm) {
    let info = match &vm.monitor.network {
        None => {
            frame.render_widget(
                Paragraph::new(Line::styled("reading info network…", theme::muted()))
                    .block(panel("Network", true, false)),
                area,
            );
            return;
        }
        Some(Err(error)) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("cannot read the network: {error}"),
                    theme::error(),
                ))
                .wrap(Wrap { trim: true })
                .block(panel("Network", true, false)),
                area,
            );
            return;
        }
        Some(Ok(info)) => info,
    };
    let nics = info.nics();
    let forwards = info.forwards();
    let nic_height = (nics.len().max(1) as u16 + 3).min(area.height / 3).max(3);
    let forward_height = (forwards.len().max(1) as u16 + 3)
        .min(area.height / 3)
        .max(4);
    let [nic_area, forward_area, usernet_area] = Layout::vertical([
        Constraint::Length(nic_height),
        Constraint::Length(forward_height),
        Constraint::Min(3),
    ])
    .areas(area);
    let others = |entry: &crate::monitor::network::NetEntry| {
        entry
            .fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "index" | "type" | "model" | "macaddr"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let nic_rows = nics.iter().map(|nic| {
        Row::new(vec![
            nic.nic.name.clone(),
            nic.nic.field("model").unwrap_or("").to_string(),
            nic.nic.field("macaddr").unwrap_or("").to_string(),
            nic.netdev
                .as_ref()
                .map(|n| n.name.clone())
                .unwrap_or_default(),
            nic.netdev
                .as_ref()
                .map(|n| n.kind().to_string())
                .unwrap_or_default(),
            nic.netdev.as_ref().map(others).unwrap_or_default(),
        ])
    });
    let title = format!("NICs ({}) and netdevs", nics.len());
    frame.render_widget(
        Table::new(
            nic_rows,
            [
                Constraint::Length(12),
                Constraint::Length(14),
                Constraint::Length(18),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Fill(1),
            ],
        )
        .header(
            Row::new(["NIC", "model", "MAC", "netdev", "type", "options"])
                .style(theme::header_row()),
        )
        .block(panel(&title, false, false)),
        nic_area,
    );
    let user = info.user_netdevs();
    let forward_title = if user.is_empty() {
        "Host forwards (no user-mode netdev)".to_string()
    } else {
        format!("Host forwards ({}) on {}", forwards.len(), user.join(", "))
    };
    let forward_block = panel(&forward_title, true, false);
    if forwards.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                if user.is_empty() {
                    "host forwards need user-mode networking (-netdev user,id=n0)"
                } else {
                    "none: a adds one (e.g. tcp::2222-:22 forwards host port 2222 to the guest's ssh)"
                },
                theme::muted(),
            ))
            .block(forward_block),
            forward_area,
        );
    } else {
        let rows = forwards.iter().map(|f| {
            Row::new(vec![
                f.netdev.clone(),
                f.protocol.to_lowercase(),
                format!("{}:{}", f.source, f.source_port),
                format!("{}:{}", f.dest, f.dest_port),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(24),
                Constraint::Fill(1),
            ],
        )
        .header(Row::new(["netdev", "proto", "host", "guest"]).style(theme::header_row()))
        .row_highlight_style(theme::selected())
        .block(forward_block);
        let selected = model.devices.forward_selected.min(forwards.len() - 1);
        let mut state = TableState::default().with_selected(Some(selected));
        frame.render_stateful_widget(table, forward_area, &mut state);
    }
    let text: Vec<Line> = if info.usernet_text.is_empty() {
        vec![Line::styled("(no output)", theme::muted())]
    } else {
        info.usernet_text.lines().map(Line::raw).collect()
    };
    frame.render_widget(
        Paragraph::new(text).block(panel("info usernet", false, false)),
        usernet_area,
    );
}

fn render_hotplug(frame: &mut Frame, area: Rect, model: &Model, vm: &crate::app::Vm, now: Instant) {
    let list = vm.monitor.device_list();
    let (table_area, events_area) = split(area, list.len().max(2));
    let block = panel(
        &format!("Devices with ids ({})", list.len()),
        true,
        !vm.is_connected(),
    );
    let note = |text: &str, style| {
        Paragraph::new(Line::styled(text.to_string(), style))
            .wrap(Wrap { trim: true })
            .block(block.clone())
    };
    if model.read_only {
        frame.render_widget(
            note(
                "read-only: hot-plug is off (qom-list, device_add and device_del are not sent)",
                theme::muted(),
            ),
            table_area,
        );
    } else {
        match &vm.monitor.devices {
            None => frame.render_widget(note("reading the device list…", theme::muted()), table_area),
            Some(Err(error)) => frame.render_widget(
                note(&format!("cannot list devices: {error}"), theme::error()),
                table_area,
            ),
            Some(Ok(_)) if list.is_empty() => frame.render_widget(
                note(
                    "no devices with ids: a adds one, e.g. usb-tablet,id=tablet0 (needs a USB controller) or virtio-balloon-pci,id=balloon0",
                    theme::muted(),
                ),
                table_area,
            ),
            Some(Ok(_)) => {
                let rows = list.iter().map(|device| {
                    let state = vm
                        .monitor
                        .unplugs
                        .iter()
                        .find(|u| u.id == device.id)
                        .map(|u| {
                            format!(
                                "unplug requested {} ago",
                                crate::format::duration(now.duration_since(u.since))
                            )
                        })
                        .unwrap_or_default();
                    Row::new(vec![device.id.clone(), device.driver.clone(), state])
                });
                let table = Table::new(
                    rows,
                    [
                        Constraint::Length(20),
                        Constraint::Length(28),
                        Constraint::Fill(1),
                    ],
                )
                .header(Row::new(["id", "driver", "state"]).style(theme::header_row()))
                .row_highlight_style(theme::selected())
                .block(block);
                let selected = model.devices.device_selected.min(list.len() - 1);
                let mut state = TableState::default().with_selected(Some(selected));
                frame.render_stateful_widget(table, table_area, &mut state);
            }
        }
    }
    let height = events_area.height.saturating_sub(2) as usize;
    render_events(
        frame,
        events_area,
        "Device events (DEVICE_DELETED)",
        &events_named(vm, &["DEVICE_DELETED"], height),
    );
}

fn render_migration(frame: &mut Frame, area: Rect, vm: &crate::app::Vm) {
    let [panel_area, events_area] = Layout::vertical([
        Constraint::Length(migration::HEIGHT + 1),
        Constraint::Min(3),
    ])
    .areas(area);
    match &vm.monitor.migration {
        Some(info) if info.status() != "none" => {
            migration::render(frame, panel_area, info, "");
        }
        _ => frame.render_widget(
            Paragraph::new(vec![
                Line::styled("no migration on this VM yet", theme::muted()),
                Line::styled(
                    "s starts one: to another QEMU started with -incoming (tcp:HOST:PORT), or to a file (exec:cat > /tmp/vm.mig)",
                    theme::muted(),
                ),
            ])
            .wrap(Wrap { trim: true })
            .block(panel("Migration", true, false)),
            panel_area,
        ),
    }
    let height = events_area.height.saturating_sub(2) as usize;
    render_events(
        frame,
        events_area,
        "Migration events",
        &events_named(vm, &["MIGRATION", "MIGRATION_PASS"], height),
    );
}

fn render_form(frame: &mut Frame, area: Rect, form: &Form) {
    frame.render_widget(Clear, area);
    let block = ratatui::widgets::Block::bordered()
        .border_style(theme::focused_border())
        .title(Line::styled(format!(" {} ", form.title()), theme::title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [input_row, hint_row, status_row] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let mut hint = Vec::new();
    if let Some(choice) = form.choice() {
        hint.push(Span::styled(choice, theme::key()));
        hint.push(Span::styled(" (Tab changes)   ", theme::muted()));
    }
    hint.push(Span::styled(form.hint(), theme::muted()));
    frame.render_widget(Paragraph::new(Line::from(hint)), hint_row);
    let status = match (&form.error, &form.waiting) {
        (Some(error), _) => Line::styled(error.clone(), theme::error()),
        (None, Some(_)) => Line::styled("sending…", theme::muted()),
        (None, None) => Line::default(),
    };
    frame.render_widget(Paragraph::new(status).wrap(Wrap { trim: true }), status_row);
    console::render_text(frame, input_row, &form.input, form.label());
}
