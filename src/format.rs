//! Human-readable numbers: byte sizes, rates, percentages and durations.

use humansize::{BINARY, format_size};
use std::time::Duration;

/// Bytes in binary units, always one decimal above a KiB: "512 B", "1.5 MiB", "48.0 MiB".
pub fn bytes(value: u64) -> String {
    if value < 1024 {
        return format!("{value} B");
    }
    format_size(value, BINARY.decimal_places(1).decimal_zeroes(1))
}

/// Seconds without needless zeros: "1 s", "0.25 s", "2.5 s".
pub fn seconds(value: Duration) -> String {
    let text = format!("{:.2}", value.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

/// A byte rate: "1.50 MiB/s".
pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.max(0.0).round() as u64))
}

/// An operation rate with one decimal below 100: "3.5", "250".
pub fn per_sec(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

/// A percentage: "12.5%", or "-" when unknown.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}%"))
}

/// A duration, compact: "45s", "12m03s", "3h07m", "2d04h".
pub fn duration(value: Duration) -> String {
    let secs = value.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 19), "1.5 MiB");
        assert_eq!(bytes(48 << 20), "48.0 MiB");
        assert_eq!(rate(2048.0), "2.0 KiB/s");
        assert_eq!(seconds(Duration::from_secs(1)), "1 s");
        assert_eq!(seconds(Duration::from_millis(250)), "0.25 s");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(rate(-5.0), "0 B/s");
        assert_eq!(per_sec(3.45), "3.5");
        assert_eq!(per_sec(250.2), "250");
        assert_eq!(percent(Some(12.345)), "12.3%");
        assert_eq!(percent(None), "-");
        assert_eq!(duration(Duration::from_secs(45)), "45s");
        assert_eq!(duration(Duration::from_secs(723)), "12m03s");
        assert_eq!(duration(Duration::from_secs(3 * 3600 + 7 * 60)), "3h07m");
        assert_eq!(duration(Duration::from_secs(2 * 86400 + 4 * 3600)), "2d04h");
    }
}
