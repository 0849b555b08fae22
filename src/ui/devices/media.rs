//! The removable media tab: trays and media of the VM's removable block devices, with the
//! tray events below.

use super::{list_table, render_events, split};
use crate::app::{Model, Vm};
use crate::monitor::media;
use crate::ui::columns::Column;
use crate::ui::{panel, theme::Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph};

/// Where the media table goes in the tab's `area`.
pub fn table_area(area: Rect, vm: &Vm) -> Rect {
    split(area, vm.removable().len()).0
}

/// Draws the removable media tab.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, theme: &Theme) {
    let removable = vm.removable();
    let (table_area, events_area) = split(area, removable.len());
    let block = panel(
        &format!("Removable media ({})", removable.len()),
        true,
        !vm.is_connected(),
        theme,
    );
    if removable.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("no removable block devices on this VM", theme.muted()),
                Line::styled(
                    "(a CD-ROM: -drive if=none,id=cd0,media=cdrom -device ide-cd,drive=cd0)",
                    theme.muted(),
                ),
            ])
            .block(block),
            table_area,
        );
    } else {
        let cells: Vec<Vec<Cell>> = removable
            .iter()
            .map(|info| {
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
                vec![
                    Cell::from(media::device_name(info)),
                    Cell::from(info.qdev.clone().unwrap_or_default()),
                    Cell::from(tray),
                    Cell::from(medium),
                    Cell::from(format),
                    Cell::from(access),
                ]
            })
            .collect();
        let names: Vec<String> = removable
            .iter()
            .map(|info| media::device_name(info))
            .collect();
        let media_names: Vec<String> = removable
            .iter()
            .filter_map(|info| info.inserted.as_ref().map(|m| media::file_name(&m.file)))
            .collect();
        let columns = [
            Column::growing("device", 8, 0)
                .wanting(names.iter().map(String::as_str))
                .reserving(16),
            Column::growing("guest device", 12, 5),
            Column::new("tray", 14, 1),
            Column::growing("medium", 12, 0)
                .wanting(media_names.iter().map(String::as_str))
                .reserving(30),
            Column::new("format", 7, 3),
            Column::new("access", 10, 2),
        ];
        list_table(
            frame,
            table_area,
            block,
            &columns,
            cells,
            Some(model.devices.media_selected),
            theme,
        );
    }
    render_events(
        frame,
        events_area,
        "Tray events (DEVICE_TRAY_MOVED)",
        vm,
        &["DEVICE_TRAY_MOVED"],
        theme,
    );
}
