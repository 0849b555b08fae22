//! Process life: signals sent from another shell, job control (Ctrl-Z, `fg`), and the demo's
//! QEMU and files when the dashboard dies.

use crate::support::Qemu;
use crate::support::pty::Dashboard;
use crate::support::qemu::send_signal;
use crate::support::wait_until;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// The process's state letter from `/proc/PID/stat` (`T` when stopped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn wait_state(pid: u32, stopped: bool, what: &str) {
    wait_until(WAIT, what, || {
        (process_state(pid).is_some_and(|s| s == 'T') == stopped).then_some(())
    });
}

fn assert_cooked(dash: &Dashboard, when: &str) {
    dash.assert_modes(&["icanon", "echo", "isig"], when);
}

fn assert_raw(dash: &Dashboard, when: &str) {
    dash.assert_modes(&["-icanon", "-echo"], when);
}

fn count(haystack: &[u8], needle: &str) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

/// Ctrl-Z, SIGTSTP and SIGSTOP each stop the dashboard; `fg` (SIGCONT) brings it back in raw
/// mode with the whole screen redrawn over whatever the shell wrote meanwhile.
#[test]
fn suspend_and_fg_give_the_terminal_back_and_take_it_again() {
    let qemu = Qemu::builder().machine("none").start();
    let target = qemu.target();
    let mut dash = Dashboard::start(&[&target, "--interval", "0.25"], 100, 30);
    dash.wait_for("● running", WAIT);
    let pid = dash.pid();
    for how in ["Ctrl-Z", "SIGTSTP", "SIGSTOP"] {
        let left = count(&dash.raw(), "\x1b[?1049l");
        match how {
            "Ctrl-Z" => dash.send("\x1a"),
            "SIGTSTP" => send_signal(pid, "TSTP"),
            _ => send_signal(pid, "STOP"),
        }
        wait_state(pid, true, &format!("{how}: the dashboard to stop"));
        if how == "SIGSTOP" {
            // Nothing can be done before a SIGSTOP: the shell puts its own modes back.
            dash.run_beside("stty", &["sane"]);
        } else {
            wait_until(WAIT, &format!("{how}: left the alternate screen"), || {
                (count(&dash.raw(), "\x1b[?1049l") > left).then_some(())
            });
            assert_cooked(&dash, how);
        }
        // The shell writes its job-control line and a prompt.
        dash.run_beside("echo", &["[1]+  Stopped  SHELL-LINE"]);
        send_signal(pid, "CONT");
        wait_state(pid, false, &format!("{how}: the dashboard to continue"));
        let redrawn = (0..500).any(|_| {
            let screen = dash.text();
            std::thread::sleep(Duration::from_millis(30));
            screen.contains("● running") && !screen.contains("SHELL-LINE")
        });
        assert!(redrawn, "{how}: no full redraw:\n{}", dash.text());
        // Keys work again, one at a time (raw mode).
        dash.send("?");
        dash.wait_for("close help", WAIT);
        dash.send("\x1b");
        wait_until(WAIT, "help closed", || {
            (!dash.text().contains("close help")).then_some(())
        });
        // Last: stty's output lands on the dashboard's screen.
        assert_raw(&dash, &format!("{how} then fg"));
    }
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
    assert_cooked(&dash, "after q");
}

/// The pid of the process whose command line holds `needle` and `-name qemu-dash-demo`.
fn demo_qemu_in(needle: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("-name qemu-dash-demo") && cmdline.contains(needle)).then_some(pid)
        })
}

/// Kills a process left behind when the test fails, so one failure does not load the machine.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

/// Alive and not a zombie waiting for its parent (or a PID 1 that never reaps).
fn alive(pid: u32) -> bool {
    process_state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// However the dashboard goes (SIGKILL, or SIGINT, SIGQUIT, SIGUSR1 from another shell), the
/// demo's QEMU goes with it and its temp dir is removed.
#[test]
fn demo_qemu_and_files_go_with_the_dashboard_however_it_dies() {
    let _one = crate::demo::ONE_DEMO_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for signal in ["KILL", "INT", "QUIT", "USR1"] {
        let tmp = tempfile::tempdir().unwrap();
        let tmp_path = tmp.path().display().to_string();
        let mut dash = Dashboard::start_with_env(
            &["demo", "--no-guest"],
            &[("TMPDIR", tmp_path.as_str())],
            120,
            30,
        );
        dash.wait_for("● running", Duration::from_secs(60));
        let qemu = demo_qemu_in(&tmp_path).expect("the demo's QEMU");
        let _reaper = KillOnDrop(qemu);
        send_signal(dash.pid(), signal);
        assert!(dash.wait_exit(WAIT).is_some(), "SIG{signal}: still running");
        wait_until(WAIT, &format!("SIG{signal}: QEMU {qemu} to go"), || {
            (!alive(qemu)).then_some(())
        });
        wait_until(WAIT, &format!("SIG{signal}: the demo dir to go"), || {
            let left = std::fs::read_dir(tmp.path()).unwrap().count();
            (left == 0).then_some(())
        });
    }
}
