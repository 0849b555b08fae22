//! What a scrape returns: metric families built from the model at scrape time, and their
//! encoding in the OpenMetrics text format by a prometheus-client [`Collector`].
//!
//! Names follow Prometheus conventions (prefix `qemu_`, base units, `_total` on counters) and
//! the libvirt exporters' suffixes where they mean the same. Every sample carries `vm` (the
//! name shown on the dashboard) and `target` (the socket), which tell VMs with the same name
//! apart. A VM that is down, not answering or behind on its polls is `qemu_up 0` with the
//! reason in `qemu_down_info`; its figures are then left out rather than served stale.

use crate::app::{ConnectionState, Model, Vm};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::time::{Duration, Instant};

/// Label names and values of one sample.
pub type Labels = Vec<(&'static str, String)>;

/// Gauge or counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A value that only goes up (encoded with `_total`).
    Counter,
}

/// One metric family: its name (without `_total`), help text, kind and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The name, e.g. `qemu_block_read_bytes` (a counter gets `_total` when encoded).
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Gauge or counter.
    pub kind: Kind,
    /// The samples: labels and value.
    pub samples: Vec<(Labels, f64)>,
}

/// A VM whose last poll is older than this is not answering: two intervals and the command
/// timeout (a poll that is merely slow still answers within that).
pub fn stale_after(interval: Duration, command_timeout: Duration) -> Duration {
    interval * 2 + command_timeout
}

/// Why a VM is not up, or `None` when it is connected and its last poll is fresh and good.
pub fn down_reason(vm: &Vm, now: Instant, stale_after: Duration) -> Option<String> {
    match &vm.connection {
        Some(ConnectionState::Connected) => {}
        Some(ConnectionState::Disconnected { reason, .. }) => return Some(reason.clone()),
        Some(ConnectionState::Connecting) | None => return Some("connecting".to_string()),
    }
    if let Some(problem) = &vm.problem {
        return Some(problem.clone());
    }
    match vm.last_sample_at {
        None => Some("no poll has finished yet".to_string()),
        Some(at) if now.saturating_duration_since(at) > stale_after => Some(format!(
            "not answering: the last poll finished {:.0} s ago",
            now.saturating_duration_since(at).as_secs_f64()
        )),
        Some(_) => None,
    }
}

/// Collects families sample by sample, in a fixed order of names.
#[derive(Default)]
struct Families(Vec<Family>);

impl Families {
    fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: Labels,
        value: f64,
    ) {
        match self.0.iter_mut().find(|family| family.name == name) {
            Some(family) => family.samples.push((labels, value)),
            None => self.0.push(Family {
                name,
                help,
                kind,
                samples: vec![(labels, value)],
            }),
        }
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, labels: Labels, value: f64) {
        self.add(name, help, Kind::Gauge, labels, value);
    }

    fn counter(&mut self, name: &'static str, help: &'static str, labels: Labels, value: f64) {
        self.add(name, help, Kind::Counter, labels, value);
    }
}

/// `base` plus more labels.
fn with(base: &Labels, more: &[(&'static str, String)]) -> Labels {
    base.iter().cloned().chain(more.iter().cloned()).collect()
}

/// The metric families of every watched VM as the model stands at `now`.
pub fn families(model: &Model, now: Instant, stale_after: Duration) -> Vec<Family> {
    let mut out = Families::default();
    for vm in model.vms.iter().filter(|vm| !vm.removed) {
        add_vm(&mut out, vm, now, stale_after);
    }
    out.0
}

fn add_vm(out: &mut Families, vm: &Vm, now: Instant, stale_after: Duration) {
    let base: Labels = vec![
        ("vm", vm.display_name().to_string()),
        ("target", vm.target.clone()),
    ];
    let down = down_reason(vm, now, stale_after);
    out.gauge(
        "qemu_up",
        "1 when QEMU is connected and its last poll is fresh and good, else 0",
        base.clone(),
        if down.is_none() { 1.0 } else { 0.0 },
    );
    if let Some(reason) = &down {
        out.gauge(
            "qemu_down_info",
            "why qemu_up is 0",
            with(&base, &[("reason", reason.clone())]),
            1.0,
        );
    }
    if let Some(at) = vm.last_sample_at {
        out.gauge(
            "qemu_last_poll_age_seconds",
            "seconds since the last poll finished",
            base.clone(),
            now.saturating_duration_since(at).as_secs_f64(),
        );
    }
    if let Some(version) = &vm.version {
        out.gauge(
            "qemu_info",
            "QEMU's version (value 1)",
            with(&base, &[("version", version.to_string())]),
            1.0,
        );
    }
    out.counter(
        "qemu_poll_errors",
        "polls that failed (timeouts, bad replies)",
        base.clone(),
        vm.poll_errors as f64,
    );
    for (event, count) in &vm.event_counts {
        out.counter(
            "qemu_events",
            "QMP events seen, by name",
            with(&base, &[("event", event.clone())]),
            *count as f64,
        );
    }
    if down.is_some() {
        return;
    }
    add_figures(out, vm, &base);
}

/// The figures of a VM that is up.
fn add_figures(out: &mut Families, vm: &Vm, base: &Labels) {
    if let Some(status) = &vm.status {
        out.gauge(
            "qemu_running",
            "1 while the guest runs (not paused, shut down or stopped)",
            base.clone(),
            if status.running { 1.0 } else { 0.0 },
        );
        out.gauge(
            "qemu_status_info",
            "the run state as QEMU names it (value 1)",
            with(base, &[("status", status.status.clone())]),
            1.0,
        );
    }
    for vcpu in &vm.vcpus {
        let labels = with(base, &[("vcpu", vcpu.index.to_string())]);
        if let Some(seconds) = vcpu.host.cpu_seconds {
            out.counter(
                "qemu_vcpu_cpu_seconds",
                "host CPU time the vCPU thread ran",
                labels.clone(),
                seconds,
            );
        }
        if let Some(seconds) = vcpu.host.steal_seconds {
            out.counter(
                "qemu_vcpu_steal_seconds",
                "time the vCPU thread waited for a host CPU",
                labels,
                seconds,
            );
        }
    }
    if let Some(seconds) = vm.process_cpu_seconds {
        out.counter(
            "qemu_process_cpu_seconds",
            "host CPU time of the QEMU process (user and system)",
            base.clone(),
            seconds,
        );
    }
    if let Some(bytes) = vm.rss_bytes {
        out.gauge(
            "qemu_process_resident_memory_bytes",
            "resident memory of the QEMU process",
            base.clone(),
            bytes as f64,
        );
    }
    let memory = &vm.memory;
    for (name, help, value) in [
        (
            "qemu_memory_base_bytes",
            "guest RAM at boot",
            memory.base_bytes,
        ),
        (
            "qemu_memory_plugged_bytes",
            "hot-plugged guest RAM",
            memory.plugged_bytes,
        ),
        (
            "qemu_balloon_bytes",
            "guest RAM the balloon leaves the guest",
            memory.balloon_bytes,
        ),
    ] {
        if let Some(bytes) = value {
            out.gauge(name, help, base.clone(), bytes as f64);
        }
    }
    let media = vm.media();
    for row in &vm.blocks {
        let block = &row.sample;
        let file = media.of(block).map(|m| m.file.clone()).unwrap_or_default();
        let labels = with(
            base,
            &[
                ("device", block.device.clone()),
                ("node", block.node_name.clone().unwrap_or_default()),
                ("file", file),
            ],
        );
        let t = &block.totals;
        let seconds = |ns: u64| ns as f64 / 1e9;
        for (name, help, value) in [
            ("qemu_block_read_bytes", "bytes read", t.rd_bytes as f64),
            ("qemu_block_write_bytes", "bytes written", t.wr_bytes as f64),
            (
                "qemu_block_read_requests",
                "read requests",
                t.rd_operations as f64,
            ),
            (
                "qemu_block_write_requests",
                "write requests",
                t.wr_operations as f64,
            ),
            (
                "qemu_block_flush_requests",
                "flush requests",
                t.flush_operations as f64,
            ),
            (
                "qemu_block_read_time_seconds",
                "time spent reading",
                seconds(t.rd_total_time_ns),
            ),
            (
                "qemu_block_write_time_seconds",
                "time spent writing",
                seconds(t.wr_total_time_ns),
            ),
            (
                "qemu_block_flush_time_seconds",
                "time spent flushing",
                seconds(t.flush_total_time_ns),
            ),
        ] {
            out.counter(name, help, labels.clone(), value);
        }
        for (operation, failed) in [
            ("read", t.failed_rd_operations),
            ("write", t.failed_wr_operations),
        ] {
            out.counter(
                "qemu_block_failed_requests",
                "requests that failed, by operation",
                with(&labels, &[("operation", operation.to_string())]),
                failed as f64,
            );
        }
    }
}

/// The families as a prometheus-client collector.
#[derive(Debug)]
struct Scrape(Vec<Family>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0 {
            let metric_type = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
            };
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, metric_type)?;
            for (labels, value) in &family.samples {
                let sample = metric.encode_family(labels)?;
                match family.kind {
                    Kind::Gauge => ConstGauge::new(*value).encode(sample)?,
                    Kind::Counter => ConstCounter::new(*value).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

/// The families in the OpenMetrics text format.
pub fn encode(families: Vec<Family>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(families)));
    let mut text = String::new();
    // Writing to a String cannot fail; a failure would be a bug in the encoder.
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::error!("encoding metrics failed: {error}");
    }
    text
}
