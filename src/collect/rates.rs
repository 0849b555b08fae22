//! Per-second rates from cumulative counters, over a monotonic clock.
//!
//! Pure functions: a counter that goes backwards (QEMU restarted, a device re-created, a
//! reconnect) yields no rate rather than a negative or absurd one.

use crate::news::BlockRates;
use crate::qmp::types::BlockDeviceStats;
use std::time::Duration;

/// The increase of a counter, or `None` when it went backwards.
pub fn delta(previous: u64, current: u64) -> Option<u64> {
    current.checked_sub(previous)
}

/// Increase per second; `None` when the counter went backwards or no time passed.
pub fn per_second(previous: u64, current: u64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return None;
    }
    delta(previous, current).map(|d| d as f64 / seconds)
}

fn mean_latency_ms(time_prev: u64, time_cur: u64, ops_prev: u64, ops_cur: u64) -> Option<f64> {
    let ops = delta(ops_prev, ops_cur).filter(|&ops| ops > 0)?;
    let time = delta(time_prev, time_cur)?;
    Some(time as f64 / ops as f64 / 1e6)
}

impl BlockRates {
    /// Rates between two samples taken `elapsed` apart; `None` if any counter went
    /// backwards (the device was reset), so the caller shows "no rate" for one interval.
    pub fn between(
        previous: &BlockDeviceStats,
        current: &BlockDeviceStats,
        elapsed: Duration,
    ) -> Option<BlockRates> {
        Some(BlockRates {
            read_bytes_per_sec: per_second(previous.rd_bytes, current.rd_bytes, elapsed)?,
            write_bytes_per_sec: per_second(previous.wr_bytes, current.wr_bytes, elapsed)?,
            read_iops: per_second(previous.rd_operations, current.rd_operations, elapsed)?,
            write_iops: per_second(previous.wr_operations, current.wr_operations, elapsed)?,
            read_latency_ms: mean_latency_ms(
                previous.rd_total_time_ns,
                current.rd_total_time_ns,
                previous.rd_operations,
                current.rd_operations,
            ),
            write_latency_ms: mean_latency_ms(
                previous.wr_total_time_ns,
                current.wr_total_time_ns,
                previous.wr_operations,
                current.wr_operations,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rd: u64, wr: u64, rd_ops: u64, wr_ops: u64, rd_ns: u64) -> BlockDeviceStats {
        BlockDeviceStats {
            rd_bytes: rd,
            wr_bytes: wr,
            rd_operations: rd_ops,
            wr_operations: wr_ops,
            rd_total_time_ns: rd_ns,
            wr_total_time_ns: wr_ops * 1_500_000,
            ..Default::default()
        }
    }

    #[test]
    fn rates_are_deltas_per_second() {
        let a = stats(1000, 0, 10, 0, 1_000_000);
        let b = stats(5000, 2048, 14, 2, 9_000_000);
        let rates = BlockRates::between(&a, &b, Duration::from_millis(500)).unwrap();
        assert_eq!(rates.read_bytes_per_sec, 8000.0);
        assert_eq!(rates.write_bytes_per_sec, 4096.0);
        assert_eq!(rates.read_iops, 8.0);
        assert_eq!(rates.write_iops, 4.0);
        assert_eq!(rates.read_latency_ms, Some(2.0));
        assert_eq!(rates.write_latency_ms, Some(1.5));
        let idle = BlockRates::between(&b, &b, Duration::from_secs(1)).unwrap();
        assert_eq!(idle.read_latency_ms, None, "no operations, no latency");
    }

    #[test]
    fn counter_going_backwards_gives_no_rate() {
        let before = stats(1 << 40, 1 << 40, 100, 100, 0);
        let after_reset = stats(10, 10, 1, 1, 0);
        assert_eq!(
            BlockRates::between(&before, &after_reset, Duration::from_secs(1)),
            None
        );
        assert_eq!(per_second(5, 4, Duration::from_secs(1)), None);
    }

    #[test]
    fn no_time_no_rate() {
        assert_eq!(per_second(1, 2, Duration::ZERO), None);
    }
}
