//! libvirt domains through libvirt's QMP proxy: a real libvirtd running TCG domains that boot
//! the tiny guest, watched as `libvirt:DOMAIN` and with `--libvirt`.

use crate::support::libvirt::Libvirt;
use crate::support::pty::Dashboard;
use crate::support::wait_until;
use std::time::Duration;

/// The proxy greets slowly (4 to 5 s) and a domain boots in seconds under TCG.
const WAIT: Duration = Duration::from_secs(60);

/// The proxies `parent` started for `domain` (their pids), from `/proc`. Other tests'
/// dashboards (`--libvirt`) may run proxies for the same domain: only `parent`'s count.
fn proxies_for(domain: &str, parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let words: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            words.iter().any(|w| w.ends_with(b"virt-qemu-qmp-proxy"))
                && words.contains(&domain.as_bytes())
                && parent_of(*pid) == Some(parent)
        })
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// True when `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

#[test]
fn a_libvirt_domain_is_watched_read_only_with_state_blocks_and_events() {
    let libvirt = Libvirt::get();
    let domain = libvirt.domain("watch");
    let mut dash = Dashboard::start(&[&domain.target()], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.wait_for("disk.qcow2", WAIT);
    dash.wait_for("one command at a time", WAIT);
    let first = proxies_for(&domain.name, dash.pid());
    assert_eq!(first.len(), 1, "one proxy for the domain");

    // A proxy that dies is started again, and the domain is watched through the new one.
    let status = std::process::Command::new("kill")
        .args(["-KILL", &first[0].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    dash.wait_for("disconnected", WAIT);
    let proxies = wait_until(WAIT, "a new proxy", || {
        let now = proxies_for(&domain.name, dash.pid());
        (now.len() == 1 && now != first).then_some(now)
    });
    dash.wait_for("reconnected", WAIT);
    dash.wait_for("● running", WAIT);

    // Controls are off by default, and the key says why.
    dash.send("p");
    dash.wait_for("controls are off for libvirt domains", WAIT);
    assert_eq!(domain.state(), "running", "the pause key sent nothing");

    // libvirt forwards QEMU's events through the proxy.
    domain.virsh(&["suspend"]);
    dash.wait_for("● paused", WAIT);
    dash.wait_for("STOP", WAIT);
    drop(dash);
    wait_until(
        Duration::from_secs(10),
        "the proxy to end with qemu-dash",
        || proxies.iter().all(|&pid| ended(pid)).then_some(()),
    );

    // With --allow-control, the pause key reaches the domain.
    domain.virsh(&["resume"]);
    let mut dash = Dashboard::start(&["--allow-control", &domain.target()], 120, 36);
    dash.wait_for("● running", WAIT);
    dash.send("p");
    wait_until(WAIT, "virsh to say paused", || {
        (domain.state() == "paused").then_some(())
    });
    dash.wait_for("● paused", WAIT);
}

#[test]
fn the_libvirt_flag_follows_domains_that_start_and_stop() {
    let libvirt = Libvirt::get();
    let dash = Dashboard::start(&["--libvirt"], 160, 36);
    dash.wait_for("qemu-dash", WAIT);
    let domain = libvirt.domain("follow");
    let name = domain.name.clone();
    let proxy = wait_until(WAIT, "a proxy for the new domain", || {
        proxies_for(&name, dash.pid()).first().copied()
    });
    // The fleet shows the domain by name, once its figures come.
    wait_until(WAIT, "the new domain's row, running", || {
        let text = dash.text();
        text.lines()
            .any(|line| line.contains(&name) && line.contains("running"))
            .then_some(())
    });
    drop(domain);
    wait_until(WAIT, "the destroyed domain's row to go", || {
        (!dash.text().contains(&name)).then_some(())
    });
    wait_until(Duration::from_secs(10), "its proxy to end", || {
        ended(proxy).then_some(())
    });
}
