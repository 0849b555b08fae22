//! History charts that use the room they are given: a line of figures (now, peak, the
//! scale and the time window), then a braille line chart with a time axis where the panel is
//! tall enough, else a sparkline as wide as the panel.

use super::theme::Theme;
use crate::app::History;
use crate::format;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::Sparkline;
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
    super::put_line(frame.buffer_mut(), figures, &line);
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
    let window = window(area, interval);
    let labels = AxisLabels {
        x: [
            format!("-{}", format::duration(window)),
            format!("-{}", format::duration(window / 2)),
            "now".to_string(),
        ],
        y: ["0".to_string(), (series.format)(scale)],
    };
    let plot_style = Style::default().fg(series.style.fg.unwrap_or(Color::Reset));
    LineChart {
        labels: &labels,
        data: &data,
        slots: capacity,
        top: scale.max(1.0),
        line_style: plot_style,
        axis_style: theme.muted(),
    }
    .draw(frame.buffer_mut(), plot);
}

/// The labels around a line chart: the time axis (oldest, middle, newest) and the value axis
/// (bottom, top).
struct AxisLabels {
    x: [String; 3],
    y: [String; 2],
}

/// A history drawn as a braille line on a scale of 0 to `top`, with axes and their labels.
struct LineChart<'a> {
    /// The labels of the time and value axes.
    labels: &'a AxisLabels,
    /// The values, oldest first; the newest at the right edge.
    data: &'a [u64],
    /// Samples across the plot (the window shown).
    slots: usize,
    /// The top of the value axis.
    top: f64,
    /// The line's style.
    line_style: Style,
    /// The axes' and labels' style.
    axis_style: Style,
}

impl LineChart<'_> {
    /// Draws the chart in `area` straight into the buffer: one pass over the history, each dot
    /// set in a grid of braille bits, then one write per cell with dots.
    ///
    /// The layout is the one of ratatui's `Chart` with a left and a bottom axis: the value
    /// labels left of the vertical axis, the time labels under the horizontal one (the first
    /// right-aligned under the corner, the middle one centred in the middle third, the last at
    /// the right edge).
    fn draw(&self, buf: &mut Buffer, area: Rect) {
        let LineChart {
            labels,
            data,
            slots,
            top,
            line_style,
            axis_style,
        } = *self;
        let area = area.intersection(buf.area);
        if area.width < 3 || area.height < 3 {
            return;
        }
        let width_of = |text: &str| Span::raw(text).width() as u16;
        let label_width = labels
            .y
            .iter()
            .map(|label| width_of(label))
            .chain(std::iter::once(width_of(&labels.x[0]).saturating_sub(1)))
            .max()
            .unwrap_or(0)
            .min(area.width / 3);
        let label_row = area.bottom() - 1;
        let axis_row = label_row - 1;
        let axis_column = area.x + label_width;
        let graph = Rect {
            x: axis_column + 1,
            y: area.y,
            width: area.right() - axis_column - 1,
            height: axis_row - area.y,
        };
        if graph.width < 3 || graph.height == 0 {
            return;
        }
        // The value labels: 0 on the graph's bottom row, the top of the scale on its top row.
        for (label, row) in labels.y.iter().zip([graph.bottom() - 1, graph.y]) {
            buf.set_stringn(area.x, row, label, usize::from(label_width), axis_style);
        }
        // The time labels.
        let third = graph.width / 3;
        let [first, middle, last] = &labels.x;
        let first_width = width_of(first).min(graph.x - area.x);
        buf.set_stringn(
            graph.x - first_width,
            label_row,
            first,
            usize::from(first_width),
            axis_style,
        );
        let middle_room = third.saturating_sub(1);
        let middle_width = width_of(middle).min(middle_room);
        buf.set_stringn(
            graph.x + third + 1 + (middle_room - middle_width) / 2,
            label_row,
            middle,
            usize::from(middle_width),
            axis_style,
        );
        let last_width = width_of(last).min(third);
        buf.set_stringn(
            graph.right() - last_width,
            label_row,
            last,
            usize::from(last_width),
            axis_style,
        );
        // The axes.
        for x in graph.left()..graph.right() {
            buf[(x, axis_row)]
                .set_symbol(symbols::line::HORIZONTAL)
                .set_style(axis_style);
        }
        for y in graph.top()..graph.bottom() {
            buf[(axis_column, y)]
                .set_symbol(symbols::line::VERTICAL)
                .set_style(axis_style);
        }
        buf[(axis_column, axis_row)]
            .set_symbol(symbols::line::BOTTOM_LEFT)
            .set_style(axis_style);
        // The line, in braille dots (2 across and 4 down a cell).
        let mut dots = BrailleGrid::new(graph.width, graph.height);
        let (dots_wide, dots_high) = (dots.dots_wide(), dots.dots_high());
        let slots = slots.max(1);
        let newest = data.len().saturating_sub(1);
        let point = |at: usize, value: u64| {
            // The newest sample is at the right edge, the window's start (`slots` samples
            // earlier) at the left one.
            let slot = slots.saturating_sub(newest - at);
            let x = (slot * (dots_wide - 1) + slots / 2) / slots;
            let fraction = (value as f64 / top).clamp(0.0, 1.0);
            let y = ((1.0 - fraction) * (dots_high - 1) as f64).round() as usize;
            (x, y)
        };
        let mut previous = None;
        for (at, &value) in data.iter().enumerate() {
            let here = point(at, value);
            match previous {
                Some(from) => dots.line(from, here),
                None => dots.column(here.0, here.1, here.1),
            }
            previous = Some(here);
        }
        dots.render(graph, buf, line_style);
    }
}

/// Braille dots for a `width` × `height` cell area: two dots across and four down each cell,
/// kept as the bits of the braille pattern (U+2800 plus the bits).
struct BrailleGrid {
    width: usize,
    cells: Vec<u8>,
}

impl BrailleGrid {
    /// The bit of each dot, by its row (0–3) and column (0–1) in the cell.
    const BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

    fn new(width: u16, height: u16) -> Self {
        let width = usize::from(width);
        BrailleGrid {
            width,
            cells: vec![0; width * usize::from(height)],
        }
    }

    fn dots_wide(&self) -> usize {
        self.width * 2
    }

    fn dots_high(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0) * 4
    }

    /// Sets the dots of the line from `from` to `to` (both ends included), a dot column at a
    /// time: in each column, the dots between where the line enters and leaves it. A steep
    /// line (a history jumping) is a few columns of whole cells, not a dot at a time.
    fn line(&mut self, from: (usize, usize), to: (usize, usize)) {
        let ((x0, y0), (x1, y1)) = if from.0 <= to.0 {
            (from, to)
        } else {
            (to, from)
        };
        if x0 == x1 {
            self.column(x0, y0.min(y1), y0.max(y1));
            return;
        }
        let (left, right) = (x0 as f64, x1 as f64);
        let (start, rise) = (y0 as f64, y1 as f64 - y0 as f64);
        let y_at = |x: f64| start + rise * (x.clamp(left, right) - left) / (right - left);
        for x in x0..=x1 {
            let (enter, leave) = (y_at(x as f64 - 0.5), y_at(x as f64 + 0.5));
            let (low, high) = (enter.min(leave).round(), enter.max(leave).round());
            self.column(x, low as usize, high as usize);
        }
    }

    /// Sets the dots of column `x` from row `top` to row `bottom` (included), a cell at a time.
    fn column(&mut self, x: usize, top: usize, bottom: usize) {
        let (cell_column, side) = (x / 2, x % 2);
        if cell_column >= self.width {
            return;
        }
        for cell_row in top / 4..=bottom / 4 {
            let first = if cell_row == top / 4 { top % 4 } else { 0 };
            let last = if cell_row == bottom / 4 {
                bottom % 4
            } else {
                3
            };
            let mask = (first..=last).fold(0, |mask, row| mask | Self::BITS[row][side]);
            if let Some(cell) = self.cells.get_mut(cell_row * self.width + cell_column) {
                *cell |= mask;
            }
        }
    }

    /// Writes the cells with dots into `area` of `buf`, in `style`; cells without dots are
    /// left as they are.
    fn render(&self, area: Rect, buf: &mut Buffer, style: Style) {
        for (index, &bits) in self.cells.iter().enumerate() {
            if bits == 0 {
                continue;
            }
            let (column, row) = (index % self.width, index / self.width);
            let symbol = char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ');
            buf[(area.x + column as u16, area.y + row as u16)]
                .set_char(symbol)
                .set_style(style);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AxisLabels, LineChart, round_binary_scale, round_scale};
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    #[test]
    fn a_spike_is_drawn_in_its_column_at_the_top_with_axes_and_labels() {
        let area = Rect::new(0, 0, 30, 8);
        let mut buf = Buffer::empty(area);
        let labels = AxisLabels {
            x: ["-6s".into(), "-3s".into(), "now".into()],
            y: ["0".into(), "10".into()],
        };
        LineChart {
            labels: &labels,
            data: &[0, 0, 0, 10, 0, 0],
            slots: 6,
            top: 10.0,
            line_style: Style::new(),
            axis_style: Style::new(),
        }
        .draw(&mut buf, area);
        let row = |y: u16| -> String { (0..30).map(|x| buf[(x, y)].symbol()).collect() };
        // Labels two wide, the axis in column 2, the plot from column 3: 54 dots across for 6
        // slots, the spike (4th of 6 samples, slot 4) at dot 35, so in cell column 3 + 17; the
        // fall towards the next sample (dot 44) starts in the top row of the cell after it.
        let top = row(0);
        let dotted: Vec<usize> = top
            .chars()
            .enumerate()
            .filter(|(_, c)| ('\u{2801}'..='\u{28ff}').contains(c))
            .map(|(x, _)| x)
            .collect();
        assert_eq!(dotted, vec![20, 21], "{top}");
        assert!(top.starts_with("10│"), "{top}");
        assert!(row(5).starts_with("0 │"), "{}", row(5));
        assert!(row(6).starts_with("  └───"), "{}", row(6));
        assert!(row(7).starts_with("-6s"), "{}", row(7));
        assert!(row(7).ends_with("now"), "{}", row(7));
    }

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
