//! How news about one VM from the background changes what the dashboard knows of it
//! ([`Vm::apply`]): a connection made or lost, a sample, an event, a snapshot or command
//! result. Returns what the message line should say, if anything.

use super::{BlockRow, ConnectionState, Ending, MAX_EVENT_NAMES, Vm};
use crate::app::Message;
use crate::news::{AppEvent, BlockSample, EventKind, EventRecord, VmCommand};
use chrono::Local;
use std::collections::HashMap;
use std::time::Instant;

impl Vm {
    /// Takes a poll's block devices, each row keeping its histories. Rows are matched by
    /// drive id and node name: in place when the devices come in the order of the last poll
    /// (the usual case), through a map otherwise (thousands of devices stay cheap).
    fn update_block_rows(&mut self, blocks: Vec<BlockSample>) {
        let in_place = self.blocks.len() == blocks.len()
            && self.blocks.iter().zip(&blocks).all(|(row, block)| {
                row.sample.device == block.device && row.sample.node_name == block.node_name
            });
        if !in_place {
            let mut previous: HashMap<(String, Option<String>), BlockRow> = self
                .blocks
                .drain(..)
                .map(|row| {
                    let key = (row.sample.device.clone(), row.sample.node_name.clone());
                    (key, row)
                })
                .collect();
            self.blocks = blocks
                .iter()
                .map(|block| {
                    previous
                        .remove(&(block.device.clone(), block.node_name.clone()))
                        .unwrap_or_default()
                })
                .collect();
        }
        for (row, block) in self.blocks.iter_mut().zip(blocks) {
            if let Some(rates) = &block.rates {
                row.read_history
                    .push(rates.read_bytes_per_sec.round() as u64);
                row.write_history
                    .push(rates.write_bytes_per_sec.round() as u64);
            }
            row.sample = block;
        }
    }

    /// Counts one event by name, up to [`MAX_EVENT_NAMES`] names.
    fn count_event(&mut self, name: &str) {
        if let Some(count) = self.event_counts.get_mut(name) {
            *count += 1;
        } else if self.event_counts.len() < MAX_EVENT_NAMES - 1 {
            self.event_counts.insert(name.to_string(), 1);
        } else {
            *self.event_counts.entry("other".to_string()).or_default() += 1;
        }
    }

    /// Applies news about this VM; returns a message for the message line, if any.
    pub fn apply(&mut self, event: AppEvent, now: Instant) -> Option<Message> {
        match event {
            AppEvent::Connected {
                client, greeting, ..
            } => {
                let was_disconnected =
                    matches!(self.connection, Some(ConnectionState::Disconnected { .. }));
                self.abilities = client.abilities();
                self.remote_tcp = client.target().is_remote_tcp();
                self.unanswered_since = None;
                self.ending = None;
                // Perhaps another QEMU on the same socket: its facts come with its first poll.
                self.machine = Default::default();
                self.qemu_pid = None;
                self.qemu_uptime = None;
                self.version = Some(greeting.version.clone());
                self.connection = Some(ConnectionState::Connected);
                if was_disconnected {
                    self.log(EventRecord::note(format!(
                        "reconnected (QEMU {})",
                        greeting.version
                    )));
                }
            }
            AppEvent::Disconnected {
                reason, retry_in, ..
            } => {
                let was_connected = self.is_connected();
                let first_failure = self.connection == Some(ConnectionState::Connecting);
                if was_connected || first_failure {
                    self.log(EventRecord::note(format!("disconnected: {reason}")));
                }
                if was_connected {
                    self.dropped_at = Some((Local::now(), now));
                }
                self.unanswered_since = None;
                self.busy = false;
                self.powerdown = None;
                self.connection = Some(ConnectionState::Disconnected { reason, retry_in });
            }
            AppEvent::Sample { sample, .. } => {
                self.busy = false;
                if sample.status.running {
                    self.ending = None;
                }
                // Without events, a change of run state is only seen by polling: log it.
                if !self.abilities.events
                    && let Some(previous) = &self.status
                    && previous.status != sample.status.status
                {
                    let text = format!(
                        "run state {} → {} (seen by polling: no events on this monitor)",
                        previous.status, sample.status.status
                    );
                    self.log(EventRecord::note(text));
                }
                // Nor is the guest's answer to a power-down (no SHUTDOWN event).
                let powered_down = !self.abilities.events
                    && sample.status.status == "shutdown"
                    && self.powerdown.take().is_some();
                self.set_status(sample.status, now);
                self.vcpus = sample.vcpus;
                match sample.host {
                    Ok(host) => {
                        self.host_problem = None;
                        self.qemu_pid = Some(host.pid);
                        self.qemu_uptime = host.uptime.map(|uptime| (uptime, now));
                        self.process_cpu_percent = host.process_cpu_percent;
                        self.process_cpu_seconds = host.process_cpu_seconds;
                        self.rss_bytes = host.rss_bytes;
                        if let Some(total) = self.vcpu_cpu_percent() {
                            self.cpu_history.push((total * 10.0).round() as u64);
                        }
                    }
                    Err(reason) => {
                        self.host_problem = Some(reason.to_string());
                        self.process_cpu_percent = None;
                        self.process_cpu_seconds = None;
                        self.rss_bytes = None;
                    }
                }
                self.update_block_rows(sample.blocks);
                if let Some(slow) = sample.slow {
                    self.machine = slow.machine;
                    self.name = slow.name;
                    self.block_info = slow.block_info;
                    self.memory = slow.memory;
                }
                self.problem = None;
                self.unanswered_since = None;
                self.last_sample_at = Some(now);
                self.round_trip = Some(sample.round_trip);
                if powered_down {
                    return Some(Message::info(
                        "power-down answered: the VM shut down (seen by polling)",
                    ));
                }
            }
            AppEvent::Event { record, .. } => {
                self.events_total += 1;
                self.count_event(&record.name);
                if record.name == "SHUTDOWN" {
                    self.ending = Some(Ending {
                        reason: record
                            .data
                            .get("reason")
                            .and_then(|r| r.as_str())
                            .map(str::to_string),
                        by_guest: record.data.get("guest").and_then(|g| g.as_bool()) == Some(true),
                        at: record.time,
                        since: now,
                        exited: false,
                    });
                }
                let shutdown_by_guest = record.name == "SHUTDOWN"
                    && record.data.get("guest").and_then(|g| g.as_bool()) == Some(true);
                if record.kind == EventKind::Shutdown && self.powerdown.take().is_some() {
                    let who = if shutdown_by_guest {
                        "the guest shut down"
                    } else {
                        "QEMU shut down"
                    };
                    let text = format!("power-down answered: {who} ({})", record.text);
                    self.log(record);
                    return Some(Message::info(text));
                } else {
                    let note = self.note_monitor_event(&record);
                    self.log(record);
                    return note;
                }
            }
            AppEvent::Monitor { news, .. } => return self.apply_monitor(news, now),
            AppEvent::EventsMissed { count, .. } => {
                self.events_total += count;
                self.log(EventRecord::note(format!(
                    "{count} events arrived faster than the dashboard could take them; they are counted but not listed"
                )));
            }
            AppEvent::Busy { .. } => self.busy = true,
            AppEvent::Problem { text, .. } => {
                self.poll_errors += 1;
                self.problem = Some(text);
            }
            AppEvent::Notice { text, .. } => {
                self.log(EventRecord::note(text.clone()));
                return Some(Message::info(text));
            }
            AppEvent::QemuExited { .. } => {
                if !self.is_connected() {
                    let ending = self.ending.get_or_insert_with(|| Ending {
                        reason: None,
                        by_guest: false,
                        at: self.dropped_at.map_or_else(Local::now, |(at, _)| at),
                        since: self.dropped_at.map_or(now, |(_, since)| since),
                        exited: false,
                    });
                    ending.exited = true;
                }
            }
            AppEvent::NotAnswering { since, .. } => {
                if self.is_connected() {
                    let earliest = self.unanswered_since.map_or(since, |s| s.min(since));
                    self.unanswered_since = Some(earliest);
                }
            }
            AppEvent::SnapshotList { result, .. } => match result {
                Ok(list) => self.snapshots.set_list(list),
                Err(error) => self.snapshots.error = Some(error.to_string()),
            },
            AppEvent::SnapshotProgress { progress, .. } => {
                if let Some(job) = self.snapshots.job.as_mut() {
                    // The first report means QEMU has the job (or runs the HMP command).
                    let started = job.progress.is_none().then(|| {
                        let by = match &progress.job_id {
                            Some(id) => format!("QEMU job {id}"),
                            None => "HMP".to_string(),
                        };
                        Message::info(format!(
                            "snapshot {} '{}' started ({by})",
                            job.operation, job.tag
                        ))
                    });
                    job.progress = Some(progress);
                    return started;
                }
            }
            AppEvent::SnapshotDone {
                operation,
                tag,
                result,
                ..
            } => {
                self.snapshots.job = None;
                return Some(match result {
                    Ok(outcome) => Message::info(format!(
                        "{operation} '{tag}': done on {} in {:.2} s",
                        outcome.disks.join(", "),
                        outcome.elapsed.as_secs_f64()
                    )),
                    Err(error) => Message::error(format!("{operation} '{tag}' failed: {error}")),
                });
            }
            AppEvent::CommandDone {
                command, result, ..
            } => match result {
                // Still waiting for the guest (its SHUTDOWN, if already read, said so instead).
                Ok(()) if command == VmCommand::PowerDown => {
                    return self.powerdown.is_some().then(|| {
                        Message::info(
                            "power-down request sent; waiting for the guest to shut down…",
                        )
                    });
                }
                Ok(()) => return Some(Message::info(format!("{}: done", command.label()))),
                Err(error) => {
                    let what = command.label();
                    if command == VmCommand::PowerDown {
                        self.powerdown = None;
                    }
                    return Some(Message::error(format!("{what} failed: {error}")));
                }
            },
        }
        None
    }
}
