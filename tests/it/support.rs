//! Test harness: real QEMU processes, an independent raw QMP observer, and a scripted fake
//! QMP server for what a real QEMU will not do on demand.

pub mod fake;
pub mod libvirt;
pub mod model;
pub mod observer;
pub mod pty;
pub mod qemu;
pub mod services;

pub use fake::FakeQmp;
pub use qemu::Qemu;

use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The peak resident memory of a process so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// The console history a dashboard wrote under `XDG_DATA_HOME=data`, one entry per line.
pub fn history_of(data: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(data.join("qemu-dash/history"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
