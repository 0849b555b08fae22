//! Tests that need a guest that acts: the tiny Linux guest from assets/guest answers ACPI
//! power-down, moves its disk and burns some CPU.

use crate::support::Qemu;
use crate::support::pty::{Dashboard, run};
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn power_down_is_answered_by_the_guest_and_shown() {
    let qemu = Qemu::builder()
        .name("guest-vm")
        .disk("disk0", "qcow2")
        .guest()
        .observer()
        .start();
    let mut observer = qemu.observer();
    qemu.wait_for_guest();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.send("P");
    dash.wait_for("Power down guest-vm?", WAIT);
    dash.send("y");
    dash.wait_for("shutdown by the guest (guest-shutdown)", WAIT);
    dash.wait_for("POWERDOWN", WAIT);
    dash.wait_for("power-down answered: the guest shut down", WAIT);
    let shutdown = observer.wait_event("SHUTDOWN", WAIT);
    assert_eq!(shutdown["data"]["guest"], true);
    assert_eq!(shutdown["data"]["reason"], "guest-shutdown");
}

#[test]
fn busy_guest_shows_disk_rates_and_vcpu_cpu() {
    let qemu = Qemu::builder().disk("disk0", "qcow2").guest().start();
    qemu.wait_for_guest();
    let lines = run(["--batch", "-n", "8", "--interval", "0.5", &qemu.target()]).json_lines();
    let rate = |line: &Value, key: &str| line["blocks"][0]["rates"][key].as_f64().unwrap_or(0.0);
    assert!(
        lines.iter().any(|l| rate(l, "read_bytes_per_sec") > 0.0),
        "no read rate: {lines:?}"
    );
    assert!(
        lines.iter().any(|l| rate(l, "write_bytes_per_sec") > 0.0),
        "no write rate"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["vcpus"][0]["cpu_percent"].as_f64().unwrap_or(0.0) > 0.0),
        "no vCPU CPU"
    );
}
