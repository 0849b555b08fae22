//! The network tab: NICs and their netdevs, host forwards (selectable), `info usernet`.

use super::list_table;
use crate::app::{Model, Vm};
use crate::monitor::network::NetworkInfo;
use crate::ui::columns::Column;
use crate::ui::{panel, theme::Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Wrap};

/// The tab's parts: NICs, host forwards, `info usernet`.
fn areas(area: Rect, info: &NetworkInfo) -> [Rect; 3] {
    let nic_height = (info.nics().len().max(1) as u16 + 3)
        .min(area.height / 3)
        .max(3);
    let forward_height = (info.forwards().len().max(1) as u16 + 3)
        .min(area.height / 3)
        .max(4);
    Layout::vertical([
        Constraint::Length(nic_height),
        Constraint::Length(forward_height),
        Constraint::Min(3),
    ])
    .areas(area)
}

/// Where the host forwards table goes in the tab's `area`, once the network is read.
pub fn forward_area(area: Rect, vm: &Vm) -> Option<Rect> {
    match &vm.monitor.network {
        Some(Ok(info)) => Some(areas(area, info)[1]),
        _ => None,
    }
}

/// Draws the network tab.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, theme: &Theme) {
    let info = match &vm.monitor.network {
        None => {
            frame.render_widget(
                Paragraph::new(Line::styled("reading info network…", theme.muted()))
                    .block(panel("Network", true, false, theme)),
                area,
            );
            return;
        }
        Some(Err(error)) => {
            frame.render_widget(
                Paragraph::new(Line::styled(
                    format!("cannot read the network: {error}"),
                    theme.error(),
                ))
                .wrap(Wrap { trim: true })
                .block(panel("Network", true, false, theme)),
                area,
            );
            return;
        }
        Some(Ok(info)) => info,
    };
    let nics = info.nics();
    let forwards = info.forwards();
    let [nic_area, forward_area, usernet_area] = areas(area, info);
    let others = |entry: &crate::monitor::network::NetEntry| {
        entry
            .fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "index" | "type" | "model" | "macaddr"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let nic_cells: Vec<Vec<Cell>> = nics
        .iter()
        .map(|nic| {
            vec![
                Cell::from(nic.nic.name.clone()),
                Cell::from(nic.nic.field("model").unwrap_or("").to_string()),
                Cell::from(nic.nic.field("macaddr").unwrap_or("").to_string()),
                Cell::from(
                    nic.netdev
                        .as_ref()
                        .map(|n| n.name.clone())
                        .unwrap_or_default(),
                ),
                Cell::from(
                    nic.netdev
                        .as_ref()
                        .map(|n| n.kind().to_string())
                        .unwrap_or_default(),
                ),
                Cell::from(nic.netdev.as_ref().map(others).unwrap_or_default()),
            ]
        })
        .collect();
    let nic_columns = [
        Column::growing("NIC", 8, 0),
        Column::new("model", 12, 2),
        Column::new("MAC", 17, 1),
        Column::new("netdev", 8, 0),
        Column::new("type", 6, 3),
        Column::growing("options", 10, 4),
    ];
    let title = format!("NICs ({}) and netdevs", nics.len());
    list_table(
        frame,
        nic_area,
        panel(&title, false, false, theme),
        &nic_columns,
        nic_cells,
        None,
        theme,
    );
    let user = info.user_netdevs();
    let forward_title = if user.is_empty() {
        "Host forwards (no user-mode netdev)".to_string()
    } else {
        format!("Host forwards ({}) on {}", forwards.len(), user.join(", "))
    };
    let forward_block = panel(&forward_title, true, false, theme);
    if forwards.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                if user.is_empty() {
                    "host forwards need user-mode networking (-netdev user,id=n0)"
                } else {
                    "none: a adds one (e.g. tcp::2222-:22 forwards host port 2222 to the guest's ssh)"
                },
                theme.muted(),
            ))
            .block(forward_block),
            forward_area,
        );
    } else {
        let cells: Vec<Vec<Cell>> = forwards
            .iter()
            .map(|f| {
                vec![
                    Cell::from(f.netdev.clone()),
                    Cell::from(f.protocol.to_lowercase()),
                    Cell::from(format!("{}:{}", f.source, f.source_port)),
                    Cell::from(format!("{}:{}", f.dest, f.dest_port)),
                ]
            })
            .collect();
        let columns = [
            Column::new("netdev", 8, 1),
            Column::new("proto", 5, 2),
            Column::growing("host", 21, 0),
            Column::growing("guest", 21, 0),
        ];
        list_table(
            frame,
            forward_area,
            forward_block,
            &columns,
            cells,
            Some(model.devices.forward_selected),
            theme,
        );
    }
    let text: Vec<Line> = if info.usernet_text.is_empty() {
        vec![Line::styled("(no output)", theme.muted())]
    } else {
        info.usernet_text.lines().map(Line::raw).collect()
    };
    frame.render_widget(
        Paragraph::new(text).block(panel("info usernet", false, false, theme)),
        usernet_area,
    );
}
