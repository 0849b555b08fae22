//! The hot-plug tab: devices with ids (selectable, with unplugs waiting for the guest), and
//! the device events below.

use super::{list_table, render_events, split};
use crate::app::{Model, Vm};
use crate::ui::columns::Column;
use crate::ui::{panel, theme::Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Wrap};
use std::time::Instant;

/// Where the device table goes in the tab's `area`.
pub fn table_area(area: Rect, vm: &Vm) -> Rect {
    split(area, vm.monitor.device_list().len().max(2)).0
}

/// Draws the hot-plug tab.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, now: Instant, theme: &Theme) {
    let list = vm.monitor.device_list();
    let (table_area, events_area) = split(area, list.len().max(2));
    let block = panel(
        &format!("Devices with ids ({})", list.len()),
        true,
        !vm.is_connected(),
        theme,
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
                theme.muted(),
            ),
            table_area,
        );
    } else {
        match &vm.monitor.devices {
            None => frame.render_widget(note("reading the device list…", theme.muted()), table_area),
            Some(Err(error)) => frame.render_widget(
                note(&format!("cannot list devices: {error}"), theme.error()),
                table_area,
            ),
            Some(Ok(_)) if list.is_empty() => frame.render_widget(
                note(
                    "no devices with ids: a adds one, e.g. usb-tablet,id=tablet0 (needs a USB controller) or virtio-balloon-pci,id=balloon0",
                    theme.muted(),
                ),
                table_area,
            ),
            Some(Ok(_)) => {
                let cells: Vec<Vec<Cell>> = list
                    .iter()
                    .map(|device| {
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
                        vec![
                            Cell::from(device.id.clone()),
                            Cell::from(device.driver.clone()),
                            Cell::from(state),
                        ]
                    })
                    .collect();
                let columns = [
                    Column::growing("id", 12, 0)
                        .wanting(list.iter().map(|d| d.id.as_str()))
                        .reserving(24),
                    Column::growing("driver", 16, 0),
                    Column::growing("state", 12, 1),
                ];
                list_table(
                    frame,
                    table_area,
                    block,
                    &columns,
                    cells,
                    Some(model.devices.device_selected),
                    theme,
                );
            }
        }
    }
    render_events(
        frame,
        events_area,
        "Device events (DEVICE_DELETED)",
        vm,
        &["DEVICE_DELETED"],
        theme,
    );
}
