//! History charts that use the room they are given: a line of figures (now, peak, the
//! scale and the time window), then a braille line chart with a time axis where the panel is
//! tall enough, else a sparkline as wide as the panel.

use super::theme::Theme;
use crate::app::History;
use crate::format;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Sparkline};
use std::time::Duration;

/// Rows from which a history is drawn as a chart with axes rather than a sparkline.
const CHART_ROWS: u16 = 6;

/// One history to draw.
pub struct Series<'a> {
    /// What it is ("read", "vCPUs").
    pub label: &'a str,
    /// The newest figure, formatted.
    pub current: String,
    /// The values, oldest first.
    pub history: &'a History,
    /// The top of the scale, in the history's unit (see [`scale_of`]).
    pub scale: f64,
    /// Formats a value of the history's unit.
    pub format: fn(f64) -> String,
    /// The line's style.
    pub style: Style,
}

/// A round figure at or above `peak` (1, 2 or 5 times a power of ten; at least 1): the top
/// of a rate chart.
pub fn round_scale(peak: f64) -> f64 {
    let mut scale = 1.0;
    loop {
        for step in [1.0, 2.0, 5.0] {
            if peak <= scale * step {
                return scale * step;
            }
        }
        scale *= 10.0;
    }
}

/// [`round_scale`] in units of 1024 (KiB, MiB…), for byte rates: 8.4 MiB/s gives 10 MiB/s.
pub fn round_binary_scale(peak: f64) -> f64 {
    let mut unit = 1.0;
    while peak >= unit * 1024.0 {
        unit *= 1024.0;
    }
    round_scale(peak / unit) * unit
}

/// The top of the scale for `histories` drawn together in areas like `area`: `round` of
/// their peak over the samples shown.
pub fn scale_of(histories: &[&History], area: Rect, round: fn(f64) -> f64) -> f64 {
    let peak = histories
        .iter()
        .flat_map(|history| history.last(capacity(area)))
        .max()
        .unwrap_or(0);
    round(peak as f64)
}

/// True when `area` is tall and wide enough for a chart with axes.
fn is_chart(area: Rect) -> bool {
    area.height >= CHART_ROWS && area.width >= 24
}

/// The time `area` shows, one sample every `interval`: two samples a column in a chart
/// (braille), one in a sparkline, up to the history kept.
pub fn window(area: Rect, interval: Duration) -> Duration {
    interval.mul_f64(capacity(area).max(1) as f64)
}

fn capacity(area: Rect) -> usize {
    let per_column = if is_chart(area) { 2 } else { 1 };
    (usize::from(area.width) * per_column).min(crate::app::HISTORY_LEN)
}

/// The legend for a panel's bottom border: the scale and the time shown.
pub fn legend(scale: &str, window: Duration, theme: &Theme) -> Line<'static> {
    Line::styled(
        format!(" scale 0–{scale} · last {} ", format::duration(window)),
        theme.muted(),
    )
    .right_aligned()
}

/// Draws `series` in `area`: a line with the figure now and the peak, then the history;
/// one sample every `interval`.
pub fn render(frame: &mut Frame, area: Rect, series: &Series, interval: Duration, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let chart = is_chart(area);
    let [figures, plot] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let capacity = capacity(area);
    let data = series.history.last(capacity);
    let peak = data.iter().copied().max().unwrap_or(0) as f64;
    let scale = series.scale;
    let head = format!("{} {}", series.label, series.current);
    let peak_text = format!("  peak {}", (series.format)(peak));
    let fits = Span::raw(format!("{head}{peak_text}")).width() <= usize::from(figures.width);
    let line = Line::from(vec![
        Span::styled(head, series.style),
        Span::styled(if fits { peak_text } else { String::new() }, theme.muted()),
    ]);
    frame.render_widget(Paragraph::new(line), figures);
    if plot.height == 0 {
        return;
    }
    if !chart {
        let data = series.history.last(plot.width as usize);
        frame.render_widget(
            Sparkline::default()
                .data(&data)
                .max(scale.max(1.0) as u64)
                .style(series.style),
            super::right_aligned(plot, data.len()),
        );
        return;
    }
    let seconds = interval.as_secs_f64();
    let newest = data.len() as f64 - 1.0;
    let points: Vec<(f64, f64)> = data
        .iter()
        .enumerate()
        .map(|(at, &value)| ((at as f64 - newest) * seconds, value as f64))
        .collect();
    let window = window(area, interval);
    let span = window.as_secs_f64();
    let x_labels = vec![
        Span::styled(format!("-{}", format::duration(window)), theme.muted()),
        Span::styled(format!("-{}", format::duration(window / 2)), theme.muted()),
        Span::styled("now", theme.muted()),
    ];
    let y_labels = vec![
        Span::styled("0", theme.muted()),
        Span::styled((series.format)(scale), theme.muted()),
    ];
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(series.style)
        .data(&points);
    frame.render_widget(
        Chart::new(vec![dataset])
            .x_axis(
                Axis::default()
                    .bounds([-span, 0.0])
                    .labels(x_labels)
                    .style(theme.muted()),
            )
            .y_axis(
                Axis::default()
                    .bounds([0.0, scale.max(1.0)])
                    .labels(y_labels)
                    .style(theme.muted()),
            ),
        plot,
    );
}

#[cfg(test)]
mod tests {
    use super::{round_binary_scale, round_scale};

    #[test]
    fn scales_are_round_figures_above_the_peak() {
        assert_eq!(round_scale(0.0), 1.0);
        assert_eq!(round_scale(1.5), 2.0);
        assert_eq!(round_scale(3.0), 5.0);
        assert_eq!(round_scale(7_000.0), 10_000.0);
        assert_eq!(round_scale(1_100_000.0), 2_000_000.0);
        assert_eq!(round_binary_scale(8.4 * 1048576.0), 10.0 * 1048576.0);
        assert_eq!(round_binary_scale(0.0), 1.0);
    }
}
