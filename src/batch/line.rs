//! One batch line: the JSON object for one VM at one poll ([`BatchLine`], built by
//! [`batch_line`]) and its writer ([`BatchLine::write`]).
//!
//! The derived `Serialize` is the line's definition: field names, their (alphabetical) order
//! and nesting, as README.md documents them. [`BatchLine::write`] writes the same bytes by
//! hand (keys as literals, values through `itoa` and serde_json), because a line for every
//! VM at every poll made serde's derived code the collector's largest cost after decoding
//! QEMU's replies (escaping each of ~60 keys a byte at a time). A unit test holds the two
//! to the same bytes for a line with every field filled.

use super::json::{WriteJson, write_object};
use crate::app::Vm;
use crate::news::{BlockRates, EventRecord, MemorySample, VcpuSample};
use crate::qmp::types::BlockDeviceStats;
use serde::Serialize;
use std::time::Instant;

/// The JSON object for one VM at one poll, with the events since the previous line and how
/// many more were lost to a burst (`events_missed`). Field names are documented in README.md;
/// they come in alphabetical order.
#[derive(Debug, Serialize)]
pub struct BatchLine<'a> {
    accelerator: Option<&'a str>,
    blocks: Vec<BatchBlock<'a>>,
    cpu_model: Option<&'a str>,
    events: Vec<BatchEvent<'a>>,
    events_missed: u64,
    events_total: u64,
    figures_age_s: Option<f64>,
    host: BatchHost<'a>,
    machine: Option<&'a str>,
    memory: &'a MemorySample,
    name: Option<&'a str>,
    not_answering_for_s: Option<f64>,
    poll_problem: Option<&'a str>,
    qemu_pid: Option<u32>,
    qemu_uptime_s: Option<f64>,
    qemu_version: Option<String>,
    running: Option<bool>,
    state: &'a str,
    status: Option<&'a str>,
    target: &'a str,
    time: String,
    vcpus: &'a [VcpuSample],
}

/// `host` in a batch line.
#[derive(Debug, Serialize)]
struct BatchHost<'a> {
    problem: Option<&'a str>,
    process_cpu_percent: Option<f64>,
    rss_bytes: Option<u64>,
}

/// One of `blocks` in a batch line.
#[derive(Debug, Serialize)]
struct BatchBlock<'a> {
    device: &'a str,
    file: Option<&'a str>,
    format: Option<&'a str>,
    io_errors: Option<String>,
    io_status: Option<&'a str>,
    node_name: Option<&'a str>,
    qdev: Option<&'a str>,
    rates: Option<&'a BlockRates>,
    totals: &'a BlockDeviceStats,
}

/// One of `events` in a batch line.
#[derive(Debug, Serialize)]
struct BatchEvent<'a> {
    data: &'a serde_json::Value,
    event: &'a str,
    text: &'a str,
    time: String,
}

/// The line for `vm` now, with `events` since its previous line.
pub fn batch_line<'a>(vm: &'a Vm, events: &'a [EventRecord], events_missed: u64) -> BatchLine<'a> {
    let status = vm.status.as_ref();
    let media = vm.media();
    let now = Instant::now();
    BatchLine {
        time: chrono::Local::now().to_rfc3339(),
        target: &vm.target,
        name: vm.configured_name.as_deref().or(vm.name.as_deref()),
        qemu_version: vm.version.as_ref().map(ToString::to_string),
        state: vm.state_word(),
        not_answering_for_s: vm.not_answering_for(now).map(|d| d.as_secs_f64()),
        figures_age_s: vm.stale_age(now).map(|d| d.as_secs_f64()),
        accelerator: vm.machine.accelerator.as_deref(),
        machine: vm.machine.machine.as_deref(),
        cpu_model: vm.machine.cpu_model.as_deref(),
        qemu_pid: vm.qemu_pid,
        qemu_uptime_s: vm.qemu_uptime_now(now).map(|d| d.as_secs_f64()),
        status: status.map(|s| s.status.as_str()),
        running: status.map(|s| s.running),
        vcpus: &vm.vcpus,
        host: BatchHost {
            process_cpu_percent: vm.process_cpu_percent,
            rss_bytes: vm.rss_bytes,
            problem: vm.host_problem.as_deref(),
        },
        memory: &vm.memory,
        blocks: vm
            .blocks
            .iter()
            .map(|row| {
                let medium = media.of(&row.sample);
                BatchBlock {
                    device: &row.sample.device,
                    node_name: row.sample.node_name.as_deref(),
                    qdev: row.sample.qdev.as_deref(),
                    file: medium.map(|m| m.file.as_str()),
                    format: medium.map(|m| m.drv.as_str()),
                    io_status: media
                        .info_of(&row.sample)
                        .and_then(|i| i.io_status.as_deref()),
                    io_errors: media.io_errors(&row.sample),
                    totals: &row.sample.totals,
                    rates: row.sample.rates.as_ref(),
                }
            })
            .collect(),
        events: events
            .iter()
            .map(|e| BatchEvent {
                time: e.time.to_rfc3339(),
                event: &e.name,
                text: &e.text,
                data: &e.data,
            })
            .collect(),
        events_missed,
        events_total: vm.events_total,
        poll_problem: vm.problem.as_deref(),
    }
}

impl BatchLine<'_> {
    /// Appends this line's JSON to `out`: the bytes `serde_json::to_writer` writes for it.
    pub fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.write_json(out)
    }
}

impl WriteJson for BatchLine<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "accelerator": &self.accelerator,
            "blocks": &self.blocks,
            "cpu_model": &self.cpu_model,
            "events": &self.events,
            "events_missed": &self.events_missed,
            "events_total": &self.events_total,
            "figures_age_s": &self.figures_age_s,
            "host": &self.host,
            "machine": &self.machine,
            "memory": self.memory,
            "name": &self.name,
            "not_answering_for_s": &self.not_answering_for_s,
            "poll_problem": &self.poll_problem,
            "qemu_pid": &self.qemu_pid,
            "qemu_uptime_s": &self.qemu_uptime_s,
            "qemu_version": &self.qemu_version,
            "running": &self.running,
            "state": &self.state,
            "status": &self.status,
            "target": self.target,
            "time": &self.time,
            "vcpus": self.vcpus,
        });
        Ok(())
    }
}

impl WriteJson for BatchHost<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "problem": &self.problem,
            "process_cpu_percent": &self.process_cpu_percent,
            "rss_bytes": &self.rss_bytes,
        });
        Ok(())
    }
}

impl WriteJson for BatchBlock<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "device": self.device,
            "file": &self.file,
            "format": &self.format,
            "io_errors": &self.io_errors,
            "io_status": &self.io_status,
            "node_name": &self.node_name,
            "qdev": &self.qdev,
            "rates": &self.rates,
            "totals": self.totals,
        });
        Ok(())
    }
}

impl WriteJson for BatchEvent<'_> {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "data": self.data,
            "event": self.event,
            "text": self.text,
            "time": &self.time,
        });
        Ok(())
    }
}

impl WriteJson for MemorySample {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "base_bytes": &self.base_bytes,
            "plugged_bytes": &self.plugged_bytes,
            "balloon_bytes": &self.balloon_bytes,
        });
        Ok(())
    }
}

impl WriteJson for VcpuSample {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "index": &self.index,
            "thread_id": &self.thread_id,
            "cpu_percent": &self.host.cpu_percent,
            "steal_percent": &self.host.steal_percent,
            "cpu_seconds": &self.host.cpu_seconds,
            "steal_seconds": &self.host.steal_seconds,
        });
        Ok(())
    }
}

impl WriteJson for BlockRates {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "read_bytes_per_sec": &self.read_bytes_per_sec,
            "write_bytes_per_sec": &self.write_bytes_per_sec,
            "read_iops": &self.read_iops,
            "write_iops": &self.write_iops,
            "read_latency_ms": &self.read_latency_ms,
            "write_latency_ms": &self.write_latency_ms,
        });
        Ok(())
    }
}

impl WriteJson for BlockDeviceStats {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        write_object!(out, {
            "rd_bytes": &self.rd_bytes,
            "wr_bytes": &self.wr_bytes,
            "rd_operations": &self.rd_operations,
            "wr_operations": &self.wr_operations,
            "flush_operations": &self.flush_operations,
            "rd_total_time_ns": &self.rd_total_time_ns,
            "wr_total_time_ns": &self.wr_total_time_ns,
            "flush_total_time_ns": &self.flush_total_time_ns,
            "failed_rd_operations": &self.failed_rd_operations,
            "failed_wr_operations": &self.failed_wr_operations,
            "failed_flush_operations": &self.failed_flush_operations,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::news::VcpuHost;

    #[test]
    fn the_writer_writes_what_serde_writes() {
        let memory = MemorySample {
            base_bytes: Some(1 << 30),
            plugged_bytes: Some(0),
            balloon_bytes: None,
        };
        let vcpus = [VcpuSample {
            index: 1,
            thread_id: 4242,
            host: VcpuHost {
                cpu_percent: Some(12.5),
                steal_percent: Some(0.25),
                cpu_seconds: Some(3.0),
                steal_seconds: None,
            },
        }];
        let totals = BlockDeviceStats {
            rd_bytes: 1,
            wr_bytes: 2,
            rd_operations: 3,
            wr_operations: 4,
            flush_operations: 5,
            rd_total_time_ns: 6,
            wr_total_time_ns: 7,
            flush_total_time_ns: 8,
            failed_rd_operations: 9,
            failed_wr_operations: 10,
            failed_flush_operations: 11,
        };
        let rates = BlockRates {
            read_bytes_per_sec: 1e6,
            write_bytes_per_sec: 0.5,
            read_iops: 3.0,
            write_iops: 0.0,
            read_latency_ms: Some(0.125),
            write_latency_ms: None,
        };
        let data = serde_json::json!({"device": "disk\"0", "nested": [1, 2.5, null]});
        let block = |rates| BatchBlock {
            device: "disk0",
            file: Some("/var/lib/vms/a b.qcow2"),
            format: Some("qcow2"),
            io_errors: Some("failed: 9 reads".into()),
            io_status: None,
            node_name: Some("#block123"),
            qdev: Some("/machine/peripheral/vda/virtio-backend"),
            rates,
            totals: &totals,
        };
        let line = BatchLine {
            accelerator: Some("TCG"),
            blocks: vec![block(Some(&rates)), block(None)],
            cpu_model: None,
            events: vec![BatchEvent {
                data: &data,
                event: "BLOCK_IO_ERROR",
                text: "disk0: write error (report)",
                time: "2026-12-02T03:31:25.752854866+00:00".into(),
            }],
            events_missed: 2,
            events_total: 40,
            figures_age_s: Some(1.25),
            host: BatchHost {
                problem: Some("cannot read /proc/1/stat: gone"),
                process_cpu_percent: Some(99.75),
                rss_bytes: Some(33_603_584),
            },
            machine: Some("pc-i440fx-7.2"),
            memory: &memory,
            name: Some("web \u{1b}[2J"),
            not_answering_for_s: None,
            poll_problem: Some("timed out"),
            qemu_pid: Some(17515),
            qemu_uptime_s: Some(48.237_584_451),
            qemu_version: Some("7.2.22".into()),
            running: Some(false),
            state: "paused",
            status: Some("paused"),
            target: "unix:/tmp/vm.qmp",
            time: "2026-12-02T03:31:25.752854866+00:00".into(),
            vcpus: &vcpus,
        };
        let mut ours = Vec::new();
        line.write(&mut ours).unwrap();
        let serde = serde_json::to_vec(&line).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde).unwrap()
        );
    }
}
