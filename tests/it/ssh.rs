//! VMs on "another host" over ssh: real QEMUs reached through a real sshd that the test starts
//! on 127.0.0.1 with its own host key and an authorized key made for it, and a client config
//! (passed in `QEMU_DASH_SSH`) that reads nothing of the user's. The dashboard's fleet follows
//! a remote directory and survives the connection dropping; batch mode, the exporter and the
//! snapshot CLI work over it; each kind of failure is one clear line; nothing is left behind.

use crate::support::pty::{Dashboard, command, run_with_env};
use crate::support::services::{Sshd, free_port, http_get};
use crate::support::{Qemu, wait_until};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// QEMUs with a vCPU (host figures need its thread) and a `-name`, their sockets in `dir`.
fn start_vms(dir: &Path, names: &[&str]) -> Vec<Qemu> {
    names
        .iter()
        .map(|name| {
            Qemu::builder()
                .name(name)
                .qmp_at(&dir.join(format!("{name}.qmp")))
                .start()
        })
        .collect()
}

/// The fleet rows as (name cell, state, host CPU) for VMs named `vm…`.
fn fleet_rows(screen: &str) -> Vec<(String, String, String)> {
    screen
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.trim_start_matches('│').split_once('●')?;
            let name = name.trim().trim_start_matches('*');
            let mut words = rest.split_whitespace();
            let state = words.next()?;
            let cpu = words.next()?;
            name.starts_with("vm")
                .then(|| (name.to_string(), state.to_string(), cpu.to_string()))
        })
        .collect()
}

/// A child process killed if the test ends before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pids of ssh processes of a qemu-dash run that used `tmp` as its temp dir (its masters).
fn ssh_processes_under(tmp: &Path) -> Vec<u32> {
    let needle = format!("ControlPath={}", tmp.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(&needle)
                .then_some(pid)
        })
        .collect()
}

/// Asserts that a qemu-dash run that ended left no ssh process and no private dir in `tmp`.
fn assert_nothing_left(tmp: &Path) {
    wait_until(Duration::from_secs(10), "the ssh masters to exit", || {
        ssh_processes_under(tmp).is_empty().then_some(())
    });
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind in the temp dir: {left:?}");
}

#[test]
fn an_ssh_fleet_in_the_dashboard_follows_the_remote_dir_and_the_dropped_connection() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut vms = start_vms(dir.path(), &["vm1", "vm2"]);
    let ssh = sshd.ssh_command();
    let tmp_text = tmp.path().display().to_string();
    let remote_dir = sshd.target(dir.path());
    let mut dash = Dashboard::start_with_env(
        &["--discover", &remote_dir, "--interval", "0.5"],
        &[("QEMU_DASH_SSH", &ssh), ("TMPDIR", &tmp_text)],
        160,
        30,
    );
    dash.wait_for("2 VMs, 2 connected", WAIT);
    // The name cell carries the host (cut to the column's width). A bare VM (no vCPU) has no
    // thread to find QEMU's pid by: its CPU is "-".
    let all_running_with_cpu = |count: usize| {
        let rows = fleet_rows(&dash.text());
        (rows.len() == count
            && rows.iter().all(|(name, state, cpu)| {
                name.contains(" @127.0.0.1:")
                    && state == "running"
                    && (cpu.ends_with('%') || name.starts_with("vm3"))
            }))
        .then_some(rows)
    };
    wait_until(
        WAIT,
        "2 running rows labelled by host, with host CPU",
        || all_running_with_cpu(2),
    );

    // A VM that appears in the remote dir joins the fleet (a bare one: the harness runs few
    // QEMUs with a machine at once, and a test must not wait for one while holding others).
    vms.push(
        Qemu::builder()
            .machine("none")
            .name("vm3")
            .qmp_at(&dir.path().join("vm3.qmp"))
            .start(),
    );
    dash.wait_for("3 VMs, 3 connected", WAIT);
    wait_until(
        WAIT,
        "3 running rows, host CPU for the VMs with vCPUs",
        || all_running_with_cpu(3),
    );

    // The connection to the host drops (the server restarts its sessions): the VMs show it,
    // then the connection and the tunnels come back by themselves.
    sshd.drop_connections();
    dash.wait_for("disconnected", WAIT);
    dash.wait_for("3 VMs, 3 connected", WAIT);
    wait_until(WAIT, "3 running rows again", || all_running_with_cpu(3));

    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true), "q quits");
    assert_nothing_left(tmp.path());
}

#[test]
fn batch_exporter_and_snapshots_over_ssh() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Two QEMUs, all this test needs at once: the first has a disk for snapshots.
    let first = Qemu::builder()
        .name("vm1")
        .disk("disk0", "qcow2")
        .qmp_at(&dir.path().join("vm1.qmp"))
        .start();
    let _second = start_vms(dir.path(), &["vm2"]);
    let ssh = sshd.ssh_command();
    let tmp_text = tmp.path().display().to_string();
    let env = [
        ("QEMU_DASH_SSH", ssh.as_str()),
        ("TMPDIR", tmp_text.as_str()),
    ];
    let targets: Vec<String> = ["vm1", "vm2"]
        .iter()
        .map(|name| sshd.target(&dir.path().join(format!("{name}.qmp"))))
        .collect();

    // Batch: JSON lines for each VM, with host figures from the remote /proc.
    let mut args = vec!["--batch", "-n", "3", "--interval", "0.5"];
    args.extend(targets.iter().map(String::as_str));
    let lines = run_with_env(&args, &env).json_lines();
    for target in &targets {
        let mine: Vec<_> = lines.iter().filter(|l| l["target"] == *target).collect();
        assert_eq!(mine.len(), 3, "{target}: {lines:?}");
        let last = mine[2];
        assert_eq!(last["status"], "running", "{last}");
        assert!(last["host"]["problem"].is_null(), "{last}");
        assert!(last["host"]["rss_bytes"].as_u64().unwrap() > 0, "{last}");
        assert!(last["host"]["process_cpu_percent"].is_f64(), "{last}");
        assert!(last["vcpus"][0]["cpu_seconds"].is_f64(), "{last}");
    }
    assert_nothing_left(tmp.path());

    // The exporter: the VMs are up, labelled with their ssh targets.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut exporter = KillOnDrop(
        command()
            .args(["exporter", "--listen", &listen, "--interval", "0.5"])
            .args(&targets)
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(WAIT, "the exporter to show both VMs up", || {
        let (_, body) = http_get(port, "/metrics")?;
        targets
            .iter()
            .all(|t| {
                body.lines().any(|l| {
                    l.starts_with("qemu_up{")
                        && l.contains(t)
                        && l.rsplit(' ').next().and_then(|v| v.parse().ok()) == Some(1.0)
                })
            })
            .then_some(())
    });
    crate::support::qemu::send_signal(exporter.0.id(), "TERM");
    assert!(exporter.0.wait().unwrap().success());
    assert_nothing_left(tmp.path());

    // The snapshot CLI.
    let target = sshd.target(first.qmp_path());
    let saved = run_with_env(["snapshot", "save", &target, "over-ssh"], &env);
    assert!(saved.success, "{}", saved.stderr);
    let listed = run_with_env(["snapshot", "list", &target, "--json"], &env);
    assert!(listed.success, "{}", listed.stderr);
    let list: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(list[0]["tag"], "over-ssh", "{list}");
    let deleted = run_with_env(["snapshot", "delete", &target, "over-ssh"], &env);
    assert!(deleted.success, "{}", deleted.stderr);
    assert_nothing_left(tmp.path());
}

#[test]
fn ssh_failures_are_one_clear_line() {
    let sshd = Sshd::start();
    let qemu = Qemu::builder().machine("none").start();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_text = tmp.path().display().to_string();
    let good = sshd.ssh_command();
    let target = sshd.target(qemu.qmp_path());
    let batch = |target: &str, ssh: &str| {
        run_with_env(
            ["--batch", "-n", "1", target],
            &[("QEMU_DASH_SSH", ssh), ("TMPDIR", &tmp_text)],
        )
    };

    let nobody = format!("ssh://127.0.0.1:{}/tmp/vm.qmp", free_port());
    batch(&nobody, &good).assert_one_line_error("host 127.0.0.1:");
    batch(&nobody, &good).assert_one_line_error("unreachable: Connection refused");
    batch(&target, &sshd.ssh_command_with_wrong_key())
        .assert_one_line_error("authentication failed on 127.0.0.1");
    batch(&target, &sshd.ssh_command_with_changed_host_key())
        .assert_one_line_error("REMOTE HOST IDENTIFICATION HAS CHANGED");
    let missing = sshd.target(&qemu.qmp_path().with_file_name("missing.qmp"));
    batch(&missing, &good).assert_one_line_error("no socket at");
    // The host was fine: the right one still works after all that.
    let lines = batch(&target, &good).json_lines();
    assert_eq!(lines[0]["status"], "running");
    assert_nothing_left(tmp.path());
}
