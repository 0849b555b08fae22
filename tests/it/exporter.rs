//! `qemu-dash exporter` watched by a real Prometheus (started here, on loopback), with real
//! QEMUs: the block read counter rises while the guest reads, every VM is up, and a QEMU that
//! stops answering turns `qemu_up` to 0 with its reason instead of serving stale figures.

use crate::support::Qemu;
use crate::support::pty::command;
use crate::support::services::{Prometheus, free_port, http_get};
use crate::support::wait_until;
use std::process::{Child, Stdio};
use std::time::Duration;

/// The exporter binary, killed on drop.
struct Exporter {
    child: Child,
    port: u16,
}

impl Exporter {
    fn start(args: &[&str]) -> Exporter {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = command()
            .args(["exporter", "--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until(Duration::from_secs(10), "the exporter to listen", || {
            http_get(port, "/").filter(|(status, _)| *status == 200)
        });
        Exporter { child, port }
    }

    fn metrics(&self) -> String {
        let (status, body) = http_get(self.port, "/metrics").expect("the exporter answers");
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the one sample a query returned, for the VM named `vm`.
fn value_of(results: &[serde_json::Value], vm: &str) -> Option<f64> {
    results
        .iter()
        .find(|r| r["metric"]["vm"] == vm)
        .and_then(|r| r["value"][1].as_str())
        .and_then(|v| v.parse().ok())
}

#[test]
fn prometheus_scrapes_rising_block_counters_of_real_vms() {
    let reader = Qemu::builder()
        .disk("disk0", "qcow2")
        .name("reader")
        .guest()
        .start();
    let idle = Qemu::builder()
        .machine("none")
        .name("idle")
        .observer()
        .start();
    reader.wait_for_guest();
    let exporter = Exporter::start(&["--interval", "0.5", &reader.target(), &idle.target()]);
    let prometheus = Prometheus::scraping(exporter.port);

    let up = wait_until(Duration::from_secs(30), "both VMs up in Prometheus", || {
        let results = prometheus.query("qemu_up");
        (value_of(&results, "reader") == Some(1.0) && value_of(&results, "idle") == Some(1.0))
            .then_some(results)
    });
    assert_eq!(up.len(), 2, "{up:?}");

    let query = r#"qemu_block_read_bytes_total{vm="reader",device="disk0"}"#;
    let first = wait_until(Duration::from_secs(30), "a read counter", || {
        value_of(&prometheus.query(query), "reader")
    });
    let later = wait_until(Duration::from_secs(30), "the read counter to rise", || {
        value_of(&prometheus.query(query), "reader").filter(|&v| v > first)
    });
    assert!(later > first, "{first} → {later}\n{}", prometheus.log());
    let rate = prometheus.query(r#"rate(qemu_block_read_bytes_total{vm="reader"}[5s])"#);
    assert!(!rate.is_empty(), "rate() works on the counter");

    // Every metric the Grafana dashboard in assets/ plots is one the exporter serves (events
    // are counted once there are some).
    let mut observer = idle.observer();
    observer.execute("stop", serde_json::json!({}));
    observer.execute("cont", serde_json::json!({}));
    wait_until(Duration::from_secs(10), "RESUME counted", || {
        exporter
            .metrics()
            .contains(r#"qemu_events_total{vm="idle",target="#)
            .then_some(())
    });
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/grafana/qemu-dash.json"),
    )
    .unwrap();
    let metrics = exporter.metrics();
    let mut plotted: Vec<&str> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("qemu_") && *word != "qemu_down_info")
        .collect();
    plotted.sort_unstable();
    plotted.dedup();
    assert!(plotted.len() > 10, "{plotted:?}");
    for name in plotted {
        assert!(
            metrics.contains(&format!("\n{name}{{")),
            "{name} is not served:\n{metrics}"
        );
    }
}

#[test]
fn a_qemu_that_stops_answering_is_down_with_its_reason_not_stale() {
    let qemu = Qemu::builder().machine("none").name("frozen").start();
    let exporter = Exporter::start(&[
        "--interval",
        "0.25",
        "--command-timeout",
        "0.5",
        &qemu.target(),
    ]);
    wait_until(Duration::from_secs(10), "qemu_up 1", || {
        exporter
            .metrics()
            .contains(r#"qemu_up{vm="frozen""#)
            .then_some(())?;
        exporter.metrics().contains("} 1.0\n").then_some(())
    });
    assert!(
        exporter
            .metrics()
            .contains("qemu_process_resident_memory_bytes{")
    );

    qemu.signal("STOP");
    let metrics = wait_until(Duration::from_secs(10), "qemu_up 0", || {
        let metrics = exporter.metrics();
        metrics
            .lines()
            .any(|line| line.starts_with(r#"qemu_up{vm="frozen""#) && line.ends_with(" 0.0"))
            .then_some(metrics)
    });
    assert!(metrics.contains("qemu_down_info{"), "{metrics}");
    assert!(
        !metrics.contains("qemu_process_resident_memory_bytes{"),
        "no stale figures while down: {metrics}"
    );

    qemu.signal("CONT");
    wait_until(Duration::from_secs(10), "qemu_up 1 again", || {
        exporter
            .metrics()
            .lines()
            .any(|line| line.starts_with(r#"qemu_up{vm="frozen""#) && line.ends_with(" 1.0"))
            .then_some(())
    });
}
