//! Tables that fit their panel: each column has a width and a priority; as the panel
//! narrows the least important columns go first, and the room left over goes to the
//! columns that can use it (names, paths, texts), never to blank space.

use ratatui::layout::Constraint;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row};

/// The priority of a column that is not shown at all (an errors column without errors).
pub const HIDDEN: u8 = u8::MAX;

/// Columns between two table columns (ratatui's default spacing).
const SPACING: u16 = 1;

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its title.
    pub title: &'static str,
    /// Columns it needs.
    pub width: u16,
    /// 0 always shows; higher numbers go first when the panel narrows.
    pub priority: u8,
    /// Takes a share of the room left over (a name, a path, a text).
    pub grows: bool,
    /// Columns its widest cell needs: a growing column gets up to this first.
    pub wants: u16,
}

impl Column {
    /// A column of fixed width.
    pub const fn new(title: &'static str, width: u16, priority: u8) -> Column {
        Column {
            title,
            width,
            priority,
            grows: false,
            wants: width,
        }
    }

    /// A column that takes room left over.
    pub const fn growing(title: &'static str, width: u16, priority: u8) -> Column {
        Column {
            title,
            width,
            priority,
            grows: true,
            wants: width,
        }
    }

    /// The same column, taking what it wants (up to `most` columns) before any less
    /// important column is considered: for the names that identify a row.
    pub fn reserving(self, most: u16) -> Column {
        Column {
            width: self.wants.min(most).max(self.width),
            ..self
        }
    }

    /// The same column, wanting room for `cells` (their widest) when there is room to spare.
    pub fn wanting<'a>(self, cells: impl IntoIterator<Item = &'a str>) -> Column {
        let widest = cells
            .into_iter()
            .map(|cell| Span::raw(cell).width())
            .max()
            .unwrap_or(0);
        Column {
            wants: (widest.min(usize::from(u16::MAX)) as u16).max(self.width),
            ..self
        }
    }
}

/// The columns that fit in `width`, and the width each gets: taken by priority while they
/// fit (priority 0 always, [`HIDDEN`] never), shown in their order; the room left goes to
/// the growing columns up to what they want, then to the last of them (or to the last
/// column when none grows).
#[derive(Debug, Clone)]
pub struct Fitted {
    /// Indices of the columns kept.
    pub kept: Vec<usize>,
    /// Their widths, in the same order.
    pub widths: Vec<u16>,
}

/// Fits `columns` into `width` terminal columns.
pub fn fit(columns: &[Column], width: u16) -> Fitted {
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&at| columns[at].priority);
    let mut keep = vec![false; columns.len()];
    let mut used: u16 = 0;
    for at in order
        .into_iter()
        .filter(|&at| columns[at].priority != HIDDEN)
    {
        let needed = columns[at].width + if used > 0 { SPACING } else { 0 };
        if columns[at].priority == 0 || used + needed <= width {
            keep[at] = true;
            used += needed;
        }
    }
    let kept: Vec<usize> = (0..columns.len()).filter(|&at| keep[at]).collect();
    let mut widths: Vec<u16> = kept.iter().map(|&at| columns[at].width).collect();
    let spare = width.saturating_sub(used);
    let growing: Vec<usize> = (0..kept.len())
        .filter(|&n| columns[kept[n]].grows)
        .collect();
    let growing = if growing.is_empty() {
        kept.len().checked_sub(1).into_iter().collect()
    } else {
        growing
    };
    // First what the growing columns want, in their order; then equal shares of the rest.
    let mut spare = spare;
    for &n in &growing {
        let give = columns[kept[n]].wants.saturating_sub(widths[n]).min(spare);
        widths[n] += give;
        spare -= give;
    }
    // The rest goes to the last growing column (a path, a list, a text).
    if let Some(&last) = growing.last() {
        widths[last] += spare;
    }
    Fitted { kept, widths }
}

impl Fitted {
    /// The layout constraints of the kept columns.
    pub fn constraints(&self) -> Vec<Constraint> {
        self.widths.iter().map(|&w| Constraint::Length(w)).collect()
    }

    /// The header row: the kept columns' titles.
    pub fn header(&self, columns: &[Column]) -> Row<'static> {
        Row::new(self.kept.iter().map(|&at| columns[at].title))
    }

    /// A row of the kept cells of `cells` (one per column).
    pub fn row<'a>(&self, cells: Vec<Cell<'a>>) -> Row<'a> {
        Row::new(
            cells
                .into_iter()
                .enumerate()
                .filter(|(at, _)| self.kept.contains(at))
                .map(|(_, cell)| cell),
        )
    }

    /// `text` cut to the width of column `at` (ending in "…" when cut).
    pub fn clip(&self, at: usize, text: String) -> String {
        match self.kept.iter().position(|&kept| kept == at) {
            Some(n) => clip(text, usize::from(self.widths[n])),
            None => text,
        }
    }
}

/// `text` cut to `width` columns, ending in "…" when cut.
pub fn clip(text: String, width: usize) -> String {
    if Span::raw(text.as_str()).width() <= width {
        return text;
    }
    let mut cut = String::new();
    for c in text.chars() {
        if Span::raw(format!("{cut}{c}…")).width() > width {
            break;
        }
        cut.push(c);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 4] = [
        Column::growing("name", 8, 0),
        Column::new("read/s", 10, 0),
        Column::growing("image", 12, 2),
        Column::new("ops", 6, 1),
    ];

    #[test]
    fn the_least_important_columns_go_first_and_spare_room_grows_names() {
        let wide = fit(&COLUMNS, 60);
        assert_eq!(wide.kept, [0, 1, 2, 3]);
        assert_eq!(wide.widths.iter().sum::<u16>() + 3, 60);
        assert_eq!(
            wide.widths[0], 8,
            "the spare room goes to the last growing column"
        );
        let narrow = fit(&COLUMNS, 30);
        assert_eq!(narrow.kept, [0, 1, 3]);
        assert_eq!(narrow.widths, [12, 10, 6]);
        assert_eq!(clip("scratch-volume".into(), 8), "scratch…");
        assert_eq!(clip("short".into(), 8), "short");
        let wanting = [
            COLUMNS[0].wanting(["a-long-device-name"]),
            COLUMNS[1],
            COLUMNS[2],
        ];
        assert_eq!(fit(&wanting, 60).widths[0], 18);
        let hidden = [COLUMNS[0], Column::new("errors", 6, HIDDEN)];
        assert_eq!(fit(&hidden, 60).kept, [0]);
        let tiny = fit(&COLUMNS, 10);
        assert_eq!(tiny.kept, [0, 1], "priority 0 always shows");
    }
}
