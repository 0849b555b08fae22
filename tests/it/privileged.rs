//! Tests that need what a machine may not grant: root, or the right to mount a tmpfs.
//!
//! They run under their own harness (libtest-mimic) so that a test whose precondition does not
//! hold is reported as ignored, with the reason, instead of passing without having run. A
//! separate binary: cargo runs test binaries one after the other, so the QEMU harness's bound on
//! concurrent QEMUs still holds.

#[allow(dead_code, unused_imports)]
// The shared harness serves the `it` suite; these tests use a part of it.
mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::Qemu;
use support::observer::Observer;
use support::pty::{Dashboard, binary};

const WAIT: Duration = Duration::from_secs(15);

fn main() {
    let arguments = Arguments::from_args();
    let root = running_as_root();
    let tmpfs = SmallDisk::mount().is_some();
    let trials = vec![
        trial(
            "permission_denied_is_one_clear_line",
            root,
            "needs root, to switch to an unprivileged user",
            permission_denied_is_one_clear_line,
        ),
        trial(
            "event_log_on_a_full_disk_keeps_whole_lines_and_records_the_gap",
            tmpfs,
            "needs the right to mount a tmpfs (event_log_write_error_fails_batch_mode covers \
             write errors with /dev/full)",
            event_log_on_a_full_disk_keeps_whole_lines_and_records_the_gap,
        ),
    ];
    libtest_mimic::run(&arguments, trials).exit();
}

/// A trial that runs `test` when `possible`, and is reported as ignored with `needs` otherwise.
fn trial(name: &str, possible: bool, needs: &str, test: fn()) -> Trial {
    let trial = Trial::test(name, move || {
        std::panic::catch_unwind(test).map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Failed::from(message)
        })
    });
    if possible {
        trial
    } else {
        eprintln!("{name}: not run here: {needs}");
        trial.with_ignored_flag(true)
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Root passes every permission check, so qemu-dash runs as an unprivileged user against a
/// socket in a directory only root may enter.
fn permission_denied_is_one_clear_line() {
    let qemu = Qemu::builder().machine("none").start();
    let dir = tempfile::tempdir().unwrap();
    let link_dir = dir.path().join("private");
    std::fs::create_dir(&link_dir).unwrap();
    let socket = link_dir.join("vm.qmp");
    std::os::unix::fs::symlink(qemu.qmp_path(), &socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&link_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (hermetic, removed) = crate::support::pty::hermetic_env();
    let output = Command::new("setpriv")
        .envs(hermetic)
        .env_remove(removed[0])
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(binary())
        .args(["--batch", "-n", "1"])
        .arg(&socket)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("permission denied"), "{stderr}");
}

/// A tmpfs of 64 KiB, unmounted on drop.
struct SmallDisk {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` when mounting is not allowed here (not root, or a container without the right).
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("small");
        std::fs::create_dir(&mount).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&mount)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { mount, _dir: dir })
    }

    /// Fills every free block with a file (returned, to delete when space should come back).
    fn fill(&self) -> PathBuf {
        let filler = self.mount.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = [0u8; 4096];
        while file.write_all(&block).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// Pauses and resumes the VM: a STOP and a RESUME event.
fn two_events(observer: &mut Observer, sent: &mut u64) {
    observer.execute("stop", json!({}));
    observer.execute("cont", json!({}));
    *sent += 2;
}

/// The log's disk fills up and later has room again: the dashboard says so both times, the
/// file holds only whole lines, and a gap line counts exactly the events that are missing.
fn event_log_on_a_full_disk_keeps_whole_lines_and_records_the_gap() {
    let disk = SmallDisk::mount().expect("the precondition said a tmpfs can be mounted");
    let qemu = Qemu::builder().machine("none").observer().start();
    let mut observer = qemu.observer();
    let log = disk.mount.join("events.jsonl");
    let log_arg = log.display().to_string();
    let mut dash = Dashboard::start(
        &[
            &qemu.target(),
            "--interval",
            "0.25",
            "--event-log",
            &log_arg,
        ],
        200,
        30,
    );
    dash.wait_for("● running", WAIT);
    let mut sent = 0;
    two_events(&mut observer, &mut sent);
    let filler = disk.fill();
    // Whatever room the log's last block has left goes first; then writes fail.
    for _ in 0..200 {
        two_events(&mut observer, &mut sent);
        if dash
            .text()
            .contains("cannot write: No space left on device")
        {
            break;
        }
    }
    dash.wait_for("cannot write: No space left on device", WAIT);
    for _ in 0..3 {
        two_events(&mut observer, &mut sent);
    }
    std::fs::remove_file(filler).unwrap();
    for _ in 0..3 {
        two_events(&mut observer, &mut sent);
    }
    dash.wait_for("writing again", WAIT);
    dash.wait_for(&format!("Events ({sent} seen)"), WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "the file ends with a whole line");
    let (mut events, mut gaps, mut gap_lines) = (0, 0, 0);
    for line in text.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a torn or invalid line ({e}): {line:?}"));
        match value["gap"].as_u64() {
            Some(gap) => {
                gaps += gap;
                gap_lines += 1;
                let reason = value["reason"].as_str().unwrap();
                assert!(reason.contains("No space left on device"), "{reason}");
            }
            None => events += 1,
        }
    }
    assert!(
        events > 0 && gap_lines > 0,
        "{events} events, {gap_lines} gaps"
    );
    assert_eq!(
        events + gaps,
        sent,
        "every event is in the file or in a gap"
    );
}
