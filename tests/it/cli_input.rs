//! Options and target lists a user can get wrong: each gets one clear line, never a panic,
//! and the command line and the config file apply the same rules.

use crate::support::Qemu;
use crate::support::pty::run;

#[test]
fn durations_that_are_not_finite_or_out_of_range_get_a_clear_error() {
    for (option, value, says) in [
        (
            "--interval",
            "nan",
            "the interval must be a number of seconds from 0.25 to 10, not NaN",
        ),
        (
            "--command-timeout",
            "inf",
            "the command timeout must be a number of seconds",
        ),
        ("--command-timeout", "1e20", "is outside 0.1 to 3600 s"),
        (
            "--greeting-timeout",
            "inf",
            "the greeting timeout must be a number of seconds",
        ),
    ] {
        let finished = run(["--batch", option, value, "/nonexistent.qmp"]);
        assert!(!finished.success, "{option} {value}");
        assert!(!finished.stderr.contains("panicked"), "{}", finished.stderr);
        assert!(
            finished.stderr.contains(says),
            "{option} {value}: {}",
            finished.stderr
        );
    }
}

#[test]
fn the_config_file_refuses_the_intervals_the_command_line_refuses() {
    let dir = tempfile::tempdir().unwrap();
    for (value, says) in [("nan", "not NaN"), ("0.01", "is outside 0.25 to 10 s")] {
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("interval = {value}\n")).unwrap();
        let finished = run(["--batch", "--config", config.to_str().unwrap(), "/x.qmp"]);
        assert!(!finished.success, "interval = {value}");
        assert!(!finished.stderr.contains("panicked"), "{}", finished.stderr);
        assert!(
            finished.stderr.contains("interval: the interval"),
            "{}",
            finished.stderr
        );
        assert!(finished.stderr.contains(says), "{}", finished.stderr);
    }
}

/// The same socket twice (as a path and as `unix:PATH`) is watched once: before, the second
/// connection waited behind the first and was reported as "another client holds this socket".
#[test]
fn the_same_target_twice_is_watched_once_and_said_so() {
    let qemu = Qemu::builder().start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let path = qemu.qmp_path().display().to_string();
    std::fs::write(
        &config,
        format!(
            "[[vm]]\nname = \"web\"\ntarget = \"{path}\"\n[[vm]]\nname = \"again\"\ntarget = \"unix:{path}\"\n"
        ),
    )
    .unwrap();
    let finished = run(["--batch", "-n", "2", "--config", config.to_str().unwrap()]);
    let lines = finished.json_lines();
    assert_eq!(lines.len(), 2, "two polls of one VM: {}", finished.stdout);
    assert!(
        lines.iter().all(|line| line["name"] == "web"),
        "{}",
        finished.stdout
    );
    assert!(
        finished
            .stderr
            .contains(&format!("unix:{path} is listed twice; watching it once")),
        "{}",
        finished.stderr
    );
    assert!(
        !finished.stderr.contains("another client"),
        "{}",
        finished.stderr
    );
}
