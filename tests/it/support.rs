//! Test harness: real QEMU processes, an independent raw QMP observer, and a scripted fake
//! QMP server for what a real QEMU will not do on demand.

pub mod fake;
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
