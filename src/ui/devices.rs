//! The devices screen: a tab bar, then removable media (trays and media), network (NICs,
//! netdevs, host forwards, `info usernet`), hot-plug (devices with ids) or migration, with
//! the related events below, and the open prompt.

mod hotplug;
mod media;
mod network;

use super::columns::{self, Column};
use super::{console, events, footer, header, migration, panel, scroll, theme::Theme};
use crate::app::Model;
use crate::app::{Form, Tab};
use crate::news::EventRecord;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Row, Table, TableState, Wrap};
use std::time::Instant;

/// The devices screen's parts: header, tab bar, the tab's content, message line, key hints.
fn areas(area: Rect, model: &Model, now: Instant) -> [Rect; 5] {
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(footer::message_height(model, area.width, now)),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where the tab bar is drawn on a screen of `area`, and the columns each tab's label takes
/// in it (the mouse code finds the tab clicked with it).
pub fn tab_areas(area: Rect, model: &Model, now: Instant) -> Vec<(Tab, Rect)> {
    let bar = areas(area, model, now)[1];
    let mut x = bar.x;
    let mut tabs = Vec::new();
    for (tab, [key, title, gap]) in Tab::ALL.into_iter().zip(tab_labels()) {
        let width = Span::raw(key).width() + Span::raw(title).width();
        let label = Rect {
            x,
            width: (width as u16).min(bar.right().saturating_sub(x)),
            ..bar
        };
        tabs.push((tab, label));
        x = x.saturating_add((width + Span::raw(gap).width()) as u16);
    }
    tabs
}

/// The texts of each tab's label: its key, its title, the gap after it.
fn tab_labels() -> impl Iterator<Item = [String; 3]> {
    Tab::ALL.into_iter().map(|tab| {
        [
            format!(" {} ", tab.key()),
            format!("{} ", tab.title()),
            "  ".into(),
        ]
    })
}

/// The panel of the tab's selectable table on a screen of `area` (media, host forwards or
/// devices with ids), if the tab has one: page keys and the mouse use it.
pub fn list_area(area: Rect, model: &Model, now: Instant) -> Option<Rect> {
    let vm = model.vm()?;
    let content = areas(area, model, now)[2];
    match model.devices.tab {
        Tab::Media => Some(media::table_area(content, vm)),
        Tab::Network => network::forward_area(content, vm),
        Tab::Hotplug => Some(hotplug::table_area(content, vm)),
        Tab::Migration => None,
    }
}

/// Draws the devices screen.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, now: Instant, theme: &Theme) {
    let Some(vm) = model.vm() else {
        return;
    };
    let [header_area, tabs_area, content, message, keys] = areas(area, model, now);
    header::render(frame, header_area, model, vm, now, theme);
    render_tabs(frame, tabs_area, model.devices.tab, theme);
    match model.devices.tab {
        Tab::Media => media::render(frame, content, model, vm, theme),
        Tab::Network => network::render(frame, content, model, vm, theme),
        Tab::Hotplug => hotplug::render(frame, content, model, vm, now, theme),
        Tab::Migration => render_migration(frame, content, vm, theme),
    }
    if let Some(form) = &model.devices.form {
        let height = 6.min(content.height);
        let form_area = Rect {
            y: content.bottom() - height,
            height,
            ..content
        };
        render_form(frame, form_area, form, theme);
    }
    footer::render_message(frame, message, model, now, theme);
    footer::render_keys(frame, keys, model, theme);
}

fn render_tabs(frame: &mut Frame, area: Rect, current: Tab, theme: &Theme) {
    let mut spans = Vec::new();
    for (tab, [key, title, gap]) in Tab::ALL.into_iter().zip(tab_labels()) {
        let style = if tab == current {
            theme.selected()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::styled(title, style));
        spans.push(Span::raw(gap));
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

/// Draws the panel `title` with the newest events named one of `names` that fit in `area`.
pub(super) fn render_events(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    vm: &crate::app::Vm,
    names: &[&str],
    theme: &Theme,
) {
    let records = events_named(vm, names, usize::from(area.height.saturating_sub(2)));
    let block = panel(title, false, false, theme);
    let lines: Vec<Line> = if records.is_empty() {
        vec![Line::styled("none yet", theme.muted())]
    } else {
        records
            .iter()
            .map(|record| events::event_line(record, theme))
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub(super) fn split(area: Rect, rows: usize) -> (Rect, Rect) {
    let height = (rows as u16 + 3).clamp(4, (area.height / 2).max(4));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(height), Constraint::Min(3)]).areas(area);
    (top, bottom)
}

/// Draws a table of `cells` (one per column, a row each) in a bordered panel: the columns
/// that fit, the rows around `selected` (highlighted; a table without a selection shows its
/// first rows), the position in the title when not all rows fit, and a scrollbar.
pub(super) fn list_table(
    frame: &mut Frame,
    area: Rect,
    block: ratatui::widgets::Block<'static>,
    columns: &[Column],
    cells: Vec<Vec<ratatui::widgets::Cell<'static>>>,
    selected: Option<usize>,
    theme: &Theme,
) {
    let highlighted = selected;
    let selected = selected.unwrap_or(0);
    let len = cells.len();
    let inner = block.inner(area);
    let shown = scroll::window(selected, len, usize::from(inner.height.saturating_sub(1)));
    let fitted = columns::fit(columns, inner.width);
    let mut block = block;
    if shown.len() < len {
        block = block.title_top(
            Line::styled(
                format!(" {} ", scroll::position(selected, len)),
                theme.title(),
            )
            .right_aligned(),
        );
    }
    let rows: Vec<Row> = cells
        .into_iter()
        .skip(shown.start)
        .take(shown.len())
        .map(|row| fitted.row(row))
        .collect();
    let table = Table::new(rows, fitted.constraints())
        .header(fitted.header(columns).style(theme.header_row()))
        .row_highlight_style(theme.selected())
        .block(block);
    let selected = selected.min(len.saturating_sub(1));
    let mut state = TableState::default().with_selected(
        highlighted
            .filter(|_| len > 0)
            .map(|_| selected.saturating_sub(shown.start)),
    );
    frame.render_stateful_widget(table, area, &mut state);
    let rows_area = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    scroll::scrollbar(
        frame,
        scroll::border_beside(area, rows_area),
        shown,
        len,
        theme,
    );
}

fn render_migration(frame: &mut Frame, area: Rect, vm: &crate::app::Vm, theme: &Theme) {
    let [panel_area, events_area] = Layout::vertical([
        Constraint::Length(migration::HEIGHT + 1),
        Constraint::Min(3),
    ])
    .areas(area);
    match &vm.monitor.migration {
        Some(info) if info.status() != "none" => {
            migration::render(frame, panel_area, info, "", theme);
        }
        _ => frame.render_widget(
            Paragraph::new(vec![
                Line::styled("no migration on this VM yet", theme.muted()),
                Line::styled(
                    "s starts one: to another QEMU started with -incoming (tcp:HOST:PORT), or to a file (exec:cat > /tmp/vm.mig)",
                    theme.muted(),
                ),
            ])
            .wrap(Wrap { trim: true })
            .block(panel("Migration", true, false, theme)),
            panel_area,
        ),
    }
    render_events(
        frame,
        events_area,
        "Migration events",
        vm,
        &["MIGRATION", "MIGRATION_PASS"],
        theme,
    );
}

fn render_form(frame: &mut Frame, area: Rect, form: &Form, theme: &Theme) {
    frame.render_widget(Clear, area);
    let block = ratatui::widgets::Block::bordered()
        .border_style(theme.focused_border())
        .title(Line::styled(format!(" {} ", form.title()), theme.title()));
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
        hint.push(Span::styled(choice, theme.key()));
        hint.push(Span::styled(" (Tab changes)   ", theme.muted()));
    }
    hint.push(Span::styled(form.hint(), theme.muted()));
    frame.render_widget(Paragraph::new(Line::from(hint)), hint_row);
    let status = match (&form.error, &form.waiting) {
        (Some(error), _) => Line::styled(error.clone(), theme.error()),
        (None, Some(_)) => Line::styled("sending…", theme.muted()),
        (None, None) => Line::default(),
    };
    frame.render_widget(Paragraph::new(status).wrap(Wrap { trim: true }), status_row);
    console::render_text(frame, input_row, &form.input, form.label(), theme);
}
