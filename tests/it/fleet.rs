//! Many VMs: the fleet view with 20 real QEMUs, discovery, sorting and filtering on the
//! rendered screen, bulk pause, and batch output for every VM.

use crate::support::Qemu;
use crate::support::pty::{Dashboard, run};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn start_named(dir: &std::path::Path, count: usize) -> Vec<Qemu> {
    (0..count)
        .map(|n| {
            Qemu::builder()
                .machine("none")
                .name(&format!("vm{n:02}"))
                .qmp_at(&dir.join(format!("vm{n:02}.qmp")))
                .observer()
                .start()
        })
        .collect()
}

/// The rows of the fleet table as (name, state) in screen order.
fn fleet_rows(screen: &str) -> Vec<(String, String)> {
    screen
        .lines()
        .filter_map(|line| {
            let line = line.trim_start_matches('│').trim_start_matches('*');
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let dot = words.next()?;
            let state = words.next()?;
            (name.starts_with("vm") && ["●", "■", "○"].contains(&dot))
                .then(|| (name.to_string(), state.to_string()))
        })
        .collect()
}

#[test]
fn twenty_vms_in_one_dashboard_one_killed() {
    let dir = tempfile::tempdir().unwrap();
    let vms = start_named(dir.path(), 20);
    let targets: Vec<String> = (0..20)
        .map(|n| {
            dir.path()
                .join(format!("vm{n:02}.qmp"))
                .display()
                .to_string()
        })
        .collect();
    let mut args: Vec<&str> = targets.iter().map(String::as_str).collect();
    args.extend(["--interval", "0.5"]);
    let mut dash = Dashboard::start(&args, 160, 40);
    dash.wait_for("20 VMs, 20 connected", WAIT);
    // Names arrive with the first full poll of each VM.
    crate::support::wait_until(WAIT, "20 named running rows", || {
        let rows = fleet_rows(&dash.text());
        (rows.len() == 20 && rows.iter().all(|(_, state)| state == "running")).then_some(())
    });

    vms[7].signal("KILL");
    dash.wait_for("20 VMs, 19 connected", WAIT);
    crate::support::wait_until(WAIT, "vm07 exited, 19 running", || {
        let rows = fleet_rows(&dash.text());
        (rows.contains(&("vm07".to_string(), "exited".to_string()))
            && rows.iter().filter(|(_, s)| s == "running").count() == 19)
            .then_some(())
    });

    // Sort by state (column 2): "exited" sorts before "running".
    dash.send("2");
    dash.wait_for("2:state ▲", WAIT);
    assert_eq!(fleet_rows(&dash.settled_text())[0].0, "vm07");
    // Sort by name, reversed.
    dash.send("1");
    dash.wait_for("1:name ▲", WAIT);
    dash.send("1");
    dash.wait_for("1:name ▼", WAIT);
    assert_eq!(fleet_rows(&dash.settled_text())[0].0, "vm19");

    // Filter.
    dash.send("/");
    dash.send("vm1");
    dash.wait_for("filter: vm1", WAIT);
    dash.send("\r");
    let start = std::time::Instant::now();
    loop {
        let rows = fleet_rows(&dash.text());
        if rows.len() == 10 {
            assert!(rows.iter().all(|(name, _)| name.starts_with("vm1")));
            break;
        }
        assert!(start.elapsed() < WAIT, "filter did not apply: {rows:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Mark two VMs and pause them together with one confirmation.
    dash.send(" ");
    dash.send(" ");
    dash.send("p");
    let question = dash.wait_for("Pause 2 VMs", WAIT);
    assert!(
        question.contains("vm19, vm18") || question.contains("vm18, vm19"),
        "{question}"
    );
    dash.send("y");
    let mut observer19 = vms[19].observer();
    let mut observer18 = vms[18].observer();
    crate::support::wait_until(WAIT, "vm18 and vm19 paused", || {
        (observer19.status() == "paused" && observer18.status() == "paused").then_some(())
    });
    assert_eq!(vms[10].observer().status(), "running");

    // Enter opens the single-VM dashboard; Esc returns.
    dash.send("\r");
    dash.wait_for("connected  every", WAIT);
    dash.wait_for("vCPUs", WAIT);
    dash.send("\x1b");
    dash.wait_for("1:name", WAIT);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn discovered_sockets_appear_and_vanish() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_named(dir.path(), 1);
    let arg = dir.path().display().to_string();
    let mut dash = Dashboard::start(&["--discover", &arg, "--interval", "0.5"], 140, 30);
    dash.wait_for("1 VMs, 1 connected", WAIT);
    let second = Qemu::builder()
        .machine("none")
        .name("vm05")
        .qmp_at(&dir.path().join("vm05.qmp"))
        .start();
    dash.wait_for("2 VMs, 2 connected", WAIT);
    crate::support::wait_until(WAIT, "vm05's row", || {
        fleet_rows(&dash.text())
            .iter()
            .any(|(name, _)| name == "vm05")
            .then_some(())
    });
    drop(second); // kills QEMU; QEMU removes its socket file
    std::fs::remove_file(dir.path().join("vm05.qmp")).ok();
    dash.wait_for("1 VMs, 1 connected", WAIT);
    drop(first);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

/// Connects to a QMP socket and waits up to `timeout` for QEMU's greeting. QEMU serves one
/// client at a time, so the greeting comes only once no one else holds the socket.
fn greeted_within(
    socket: &std::path::Path,
    timeout: Duration,
) -> Option<std::os::unix::net::UnixStream> {
    use std::io::{BufRead, BufReader};
    let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).ok()?;
    line.contains("\"QMP\"").then_some(stream)
}

#[test]
fn a_vanished_socket_is_let_go_and_comes_back_as_the_same_row() {
    let discovered = tempfile::tempdir().unwrap();
    let aside = tempfile::tempdir().unwrap();
    let vm = start_named(discovered.path(), 1);
    let inside = discovered.path().join("vm00.qmp");
    let outside = aside.path().join("vm00.qmp");
    let arg = discovered.path().display().to_string();
    let mut dash = Dashboard::start(&["--discover", &arg, "--interval", "0.5"], 140, 30);
    dash.wait_for("1 VMs, 1 connected", WAIT);
    // The socket leaves the directory; QEMU keeps serving it under its new name.
    std::fs::rename(&inside, &outside).unwrap();
    let second_client = greeted_within(&outside, Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "the dashboard still holds the removed VM's connection:\n{}",
            dash.text()
        )
    });
    drop(second_client);
    // The screen says so before the socket returns (else the next wait could match the
    // frame from before it left).
    dash.wait_for("0 VMs, 0 connected", WAIT);
    std::fs::rename(&outside, &inside).unwrap();
    dash.wait_for("1 VMs, 1 connected", WAIT);
    let screen = dash.settled_text();
    let rows = fleet_rows(&screen);
    assert_eq!(
        rows.len(),
        1,
        "one row for the VM that came back:\n{screen}"
    );
    drop(vm);
    dash.send("q");
    assert_eq!(dash.wait_exit(WAIT), Some(true));
}

#[test]
fn batch_emits_one_object_per_vm_per_poll() {
    let dir = tempfile::tempdir().unwrap();
    let _vms = start_named(dir.path(), 3);
    let dir_arg = dir.path().display().to_string();
    let lines = run([
        "--batch",
        "-n",
        "2",
        "--interval",
        "0.25",
        "--discover",
        &dir_arg,
    ])
    .json_lines();
    let mut names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert!(lines.len() >= 6, "{lines:?}");
    for name in ["vm00", "vm01", "vm02"] {
        assert!(
            names.iter().filter(|n| **n == name).count() >= 2,
            "{names:?}"
        );
    }
}

#[test]
fn config_file_names_vms() {
    let dir = tempfile::tempdir().unwrap();
    let _vms = start_named(dir.path(), 2);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "interval = 0.25\n[[vm]]\nname = \"database\"\ntarget = \"{}\"\n[[vm]]\ntarget = \"{}\"\n",
            dir.path().join("vm00.qmp").display(),
            dir.path().join("vm01.qmp").display()
        ),
    )
    .unwrap();
    let finished = run([
        "--batch".as_ref(),
        "-n".as_ref(),
        "1".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(finished.success, "{}", finished.stderr);
    let text = finished.stdout;
    assert!(text.contains("\"name\":\"database\""), "{text}");
    assert!(text.contains("\"name\":\"vm01\""), "{text}");
}
