//! The header: VM name and run state (with time in state, or how it ended, or how long QEMU
//! has not answered), then QEMU's version, accelerator, machine type, CPU model, pid and
//! uptime, the connection, the interval and the target, as many as fit.

use super::theme::Theme;
use crate::app::{ConnectionState, Model, Vm};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use std::time::Instant;

/// " (last known: paused)": the state the figures on screen are from, when they are stale.
fn last_known(vm: &Vm, theme: &Theme) -> Span<'static> {
    let known = vm
        .status
        .as_ref()
        .map_or("nothing yet", |s| s.status.as_str());
    Span::styled(format!(" (last known: {known})"), theme.muted())
}

/// The run state as the header says it: how the VM ended, a QEMU that does not answer, the
/// live state with its time, or the last known state of a lost connection.
pub fn state_spans(vm: &Vm, now: Instant, theme: &Theme) -> Vec<Span<'static>> {
    if let Some(ending) = vm.ended() {
        let mut spans = vec![
            Span::styled(
                format!(
                    "■ {} at {}",
                    ending.describe(),
                    ending.at.format("%H:%M:%S")
                ),
                theme.run_state("shutdown"),
            ),
            Span::styled(
                format!(
                    ", {} ago",
                    format::duration(now.saturating_duration_since(ending.since))
                ),
                theme.muted(),
            ),
        ];
        if ending.exited && ending.word() != "exited" {
            spans.push(Span::styled(" · QEMU exited", theme.muted()));
        }
        return spans;
    }
    if let Some(silent) = vm.not_answering_for(now) {
        return vec![
            Span::styled(
                format!("⚠ not answering for {}", format::duration(silent)),
                theme.warning(),
            ),
            last_known(vm, theme),
        ];
    }
    if vm.busy {
        return vec![
            Span::styled(format!("◌ {}", crate::app::BUSY), theme.muted()),
            last_known(vm, theme),
        ];
    }
    match (&vm.status, vm.is_connected()) {
        (Some(status), true) => {
            let since = vm
                .status_since
                .map(|t| {
                    format!(
                        " for {}",
                        format::duration(now.saturating_duration_since(t))
                    )
                })
                .unwrap_or_default();
            vec![
                Span::styled(
                    format!("● {}", status.status),
                    theme.run_state(&status.status),
                ),
                Span::styled(since, theme.muted()),
            ]
        }
        (Some(status), false) => vec![Span::styled(
            format!("○ {} (last known: {})", vm.state_word(), status.status),
            theme.stale(),
        )],
        (None, _) => vec![Span::styled("state unknown", theme.muted())],
    }
}

/// A piece of a header line: how important it is (0 always shows), its spans, and whether
/// it continues the piece before it (no gap).
struct Item {
    priority: u8,
    spans: Vec<Span<'static>>,
    glued: bool,
}

impl Item {
    fn new(priority: u8, spans: Vec<Span<'static>>) -> Item {
        Item {
            priority,
            spans,
            glued: false,
        }
    }
}

/// Draws the two header lines. What does not fit the width is left out, least important
/// first: the target, the interval, the CPU model, the machine type, the pid, the uptime,
/// the accelerator, the version, and on the first line the details of the state; the name,
/// the state and the connection always show.
pub fn render(frame: &mut Frame, area: Rect, model: &Model, vm: &Vm, now: Instant, theme: &Theme) {
    let width = area.width as usize;
    let mut state = state_spans(vm, now, theme).into_iter();
    let mut first = vec![Item::new(
        0,
        [
            Span::styled(vm.display_name().to_string(), theme.title()),
            Span::raw("  "),
        ]
        .into_iter()
        .chain(state.next())
        .collect(),
    )];
    for (n, detail) in state.enumerate() {
        first.push(Item {
            priority: 2 + n as u8,
            spans: vec![detail],
            glued: true,
        });
    }
    if model.read_only {
        first.push(Item::new(1, vec![Span::styled("[read-only]", theme.key())]));
    }
    let version = vm
        .version
        .as_ref()
        .map(|v| format!("QEMU {v}"))
        .unwrap_or_else(|| "QEMU ?".to_string());
    let connection = match &vm.connection {
        Some(ConnectionState::Connected) => Span::styled("connected", theme.info()),
        Some(ConnectionState::Connecting) | None => Span::styled("connecting…", theme.muted()),
        Some(ConnectionState::Disconnected { reason, retry_in }) => Span::styled(
            format!("DISCONNECTED: {reason} (retry in {retry_in:.1} s)"),
            theme.error(),
        ),
    };
    let facts = &vm.machine;
    let plain = |priority, text: String| Item::new(priority, vec![Span::raw(text)]);
    let muted =
        |priority, text: String| Item::new(priority, vec![Span::styled(text, theme.muted())]);
    let mut second = vec![plain(1, version)];
    if let Some(accel) = &facts.accelerator {
        second.push(plain(2, accel.clone()));
    }
    if let Some(machine) = &facts.machine {
        second.push(plain(5, machine.clone()));
    }
    if let Some(cpu) = &facts.cpu_model {
        second.push(plain(6, format!("cpu {cpu}")));
    }
    if let Some(pid) = vm.qemu_pid {
        second.push(plain(4, format!("pid {pid}")));
    }
    if let Some(uptime) = vm.qemu_uptime_now(now) {
        second.push(plain(3, format!("up {}", format::duration(uptime))));
    }
    second.push(Item::new(0, vec![connection]));
    second.push(muted(
        7,
        format!("every {}", format::seconds(model.interval)),
    ));
    second.push(muted(8, vm.target.clone()));
    super::put_lines(
        frame.buffer_mut(),
        area,
        &[fit(first, width), fit(second, width)],
    );
}

/// One line of the items that fit in `width` columns, in their order, two spaces apart
/// (glued items follow their neighbour directly); items are taken by priority (0 first,
/// always) while they fit.
fn fit(items: Vec<Item>, width: usize) -> Line<'static> {
    let widths: Vec<usize> = items
        .iter()
        .map(|item| {
            item.spans.iter().map(Span::width).sum::<usize>() + if item.glued { 0 } else { 2 }
        })
        .collect();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&at| items[at].priority);
    let mut keep = vec![false; items.len()];
    let mut used = 0;
    for at in order {
        if items[at].priority == 0 || used + widths[at] <= width + 2 {
            keep[at] = true;
            used += widths[at];
        }
    }
    let mut spans = Vec::new();
    for (at, item) in items.into_iter().enumerate() {
        if keep[at] {
            if !spans.is_empty() && !item.glued {
                spans.push(Span::raw("  "));
            }
            spans.extend(item.spans);
        }
    }
    Line::from(spans)
}
