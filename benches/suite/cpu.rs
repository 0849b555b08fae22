//! CPU time of processes from `/proc`, in nanoseconds, and small statistics helpers.
//!
//! `/proc/<pid>/task/<tid>/schedstat` holds each thread's time on CPU in nanoseconds; the sum
//! over a process's threads is its CPU time with far better resolution than the 10 ms ticks
//! of `/proc/<pid>/stat`. (Threads that exit take their time with them; the processes
//! measured here keep their threads for the whole window.)

use std::time::Duration;

/// CPU time of all live threads of `pid`, nanoseconds.
pub fn process_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time of this process (all threads), nanoseconds.
pub fn self_ns() -> u64 {
    process_ns(std::process::id())
}

/// CPU time of a set of processes, nanoseconds.
pub fn processes_ns(pids: &[u32]) -> u64 {
    pids.iter().map(|&pid| process_ns(pid)).sum()
}

/// `VmHWM` (peak RSS) and `VmRSS` of `pid`, KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// The 1-minute load average, as `/proc/loadavg` says.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// The `p`th percentile (nearest rank) of `values` (0 when empty).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds as a float.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
