//! `qemu-dash demo`: one command starts a real guest, shows it live, and cleans up on exit.

use crate::support::pty::{Dashboard, run_with_env};
use std::process::Command;
use std::time::Duration;

/// Demo tests run one at a time: this one counts every demo QEMU on the machine.
pub static ONE_DEMO_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn demo_dirs() -> Vec<std::path::PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("qemu-dash-demo-")
        })
        .map(|e| e.path())
        .collect()
}

fn demo_qemus() -> usize {
    let output = Command::new("pgrep")
        .args(["-f", "[-]name qemu-dash-demo"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).lines().count()
}

#[test]
fn demo_shows_a_live_guest_and_leaves_nothing_behind() {
    let _one = ONE_DEMO_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dirs_before = demo_dirs();
    let mut dash = Dashboard::start(&["demo"], 140, 40);
    dash.wait_for("qemu-dash-demo", Duration::from_secs(60));
    dash.wait_for("● running", Duration::from_secs(60));
    assert_eq!(demo_qemus(), 1);
    // The guest's workload moves the disk: a read rate other than zero shows up.
    crate::support::wait_until(Duration::from_secs(60), "disk reads on screen", || {
        let screen = dash.text();
        screen
            .lines()
            // "read 1.2 MiB/s  peak …": the figure now, before the two spaces.
            .find_map(|l| l.trim_start_matches('│').strip_prefix("read "))
            .and_then(|rest| rest.split("  ").next())
            .filter(|now| now.ends_with("B/s") && *now != "0 B/s")
            .map(|_| ())
    });
    // The demo moves the balloon, so events arrive on their own.
    dash.wait_for("BALLOON_CHANGE", Duration::from_secs(60));
    dash.send("q");
    assert_eq!(dash.wait_exit(Duration::from_secs(20)), Some(true));
    crate::support::wait_until(Duration::from_secs(10), "QEMU gone", || {
        (demo_qemus() == 0).then_some(())
    });
    assert_eq!(demo_dirs(), dirs_before, "temp files removed");
}

#[test]
fn demo_without_qemu_says_how_to_install_it() {
    run_with_env(
        ["demo"],
        &[("QEMU_DASH_QEMU", "/nonexistent/qemu-system-x86_64")],
    )
    .assert_one_line_error("apt-get install qemu-system-x86");
}
