//! Starting the background tasks for a set of targets and carrying out the model's effects.
//! Shared by the terminal UI and batch mode.

use crate::app::Effect;
use crate::collect::watch::{self, WatchOptions};
use crate::collect::{AppEvent, VmId};
use crate::qmp::{Client, Target};
use crate::snapshot::{self, Operation, SnapshotError, SnapshotOptions};
use std::time::Duration;
use tokio::sync::{mpsc, watch as watch_channel};

/// The running collectors: the channel their news arrives on, and the interval control.
/// VM ids are assigned in the order VMs are added, matching [`crate::app::Model::add_vm`].
pub struct Collectors {
    /// News from every watched VM.
    pub events: mpsc::UnboundedReceiver<AppEvent>,
    sender: mpsc::UnboundedSender<AppEvent>,
    interval: watch_channel::Sender<Duration>,
    interval_receiver: watch_channel::Receiver<Duration>,
    options: WatchOptions,
    tasks: Vec<Option<tokio::task::JoinHandle<()>>>,
}

impl Collectors {
    /// Starts watching every target.
    pub fn start(targets: &[Target], options: &WatchOptions, interval: Duration) -> Collectors {
        let (sender, events) = mpsc::unbounded_channel();
        let (interval_tx, interval_rx) = watch_channel::channel(interval);
        let mut collectors = Collectors {
            events,
            sender,
            interval: interval_tx,
            interval_receiver: interval_rx,
            options: options.clone(),
            tasks: Vec::new(),
        };
        for target in targets {
            collectors.add(target.clone());
        }
        collectors
    }

    /// Starts watching one more target; returns its VM id.
    pub fn add(&mut self, target: Target) -> VmId {
        let vm = self.tasks.len();
        self.tasks.push(Some(tokio::spawn(watch::run(
            vm,
            target,
            self.options.clone(),
            self.interval_receiver.clone(),
            self.sender.clone(),
        ))));
        vm
    }

    /// Stops watching a VM (its connection closes).
    pub fn stop(&mut self, vm: VmId) {
        if let Some(task) = self.tasks.get_mut(vm).and_then(Option::take) {
            task.abort();
        }
    }

    /// Carries out effects: commands are spawned and report back as events.
    pub fn run_effects(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Execute {
                    vm,
                    client,
                    command,
                    what,
                } => {
                    let sender = self.sender.clone();
                    tokio::spawn(async move {
                        let result = client
                            .execute(command, None)
                            .await
                            .map(|_| ())
                            .map_err(|e| e.to_string());
                        let _ = sender.send(AppEvent::CommandDone {
                            vm,
                            what: what.to_string(),
                            result,
                        });
                    });
                }
                Effect::SetInterval(interval) => {
                    let _ = self.interval.send(interval);
                }
                Effect::Monitor { vm, client, job } => {
                    tokio::spawn(crate::monitor::run(vm, client, job, self.sender.clone()));
                }
                Effect::SaveHistory { vm, path, entries } => {
                    let sender = self.sender.clone();
                    tokio::spawn(crate::monitor::save_history(vm, path, entries, sender));
                }
                Effect::ListSnapshots { vm, client } => {
                    tokio::spawn(send_snapshot_list(vm, client, self.sender.clone()));
                }
                Effect::SnapshotJob {
                    vm,
                    client,
                    operation,
                    tag,
                    skip_unsupported,
                } => {
                    tokio::spawn(run_snapshot_job(
                        vm,
                        client,
                        operation,
                        tag,
                        skip_unsupported,
                        self.sender.clone(),
                    ));
                }
            }
        }
    }

    /// A sender for news that does not come from a collector (tests, snapshot jobs).
    pub fn sender(&self) -> mpsc::UnboundedSender<AppEvent> {
        self.sender.clone()
    }
}

impl Drop for Collectors {
    fn drop(&mut self) {
        for task in self.tasks.iter().flatten() {
            task.abort();
        }
    }
}

async fn send_snapshot_list(vm: VmId, client: Client, sender: mpsc::UnboundedSender<AppEvent>) {
    let result = snapshot::list(&client).await.map_err(|e| e.to_string());
    let _ = sender.send(AppEvent::SnapshotList { vm, result });
}

/// Runs a snapshot job, reporting progress and the end as events, then refreshes the list.
async fn run_snapshot_job(
    vm: VmId,
    client: Client,
    operation: Operation,
    tag: String,
    skip_unsupported: bool,
    sender: mpsc::UnboundedSender<AppEvent>,
) {
    let options = SnapshotOptions {
        skip_unsupported,
        ..Default::default()
    };
    let progress_sender = sender.clone();
    let report = move |progress| {
        let _ = progress_sender.send(AppEvent::SnapshotProgress { vm, progress });
    };
    let result = match operation {
        Operation::Save => snapshot::save(&client, &tag, &options, report).await,
        Operation::Load => snapshot::load(&client, &tag, &options, report).await,
        Operation::Delete => snapshot::delete(&client, &tag, &options, report).await,
    };
    let unsupported_disks = matches!(result, Err(SnapshotError::UnsupportedDisks { .. }));
    let _ = sender.send(AppEvent::SnapshotDone {
        vm,
        operation,
        tag,
        result: result.map_err(|e| e.to_string()),
        unsupported_disks,
    });
    send_snapshot_list(vm, client, sender).await;
}

/// Parses target strings, failing on the first invalid one.
pub fn parse_targets(targets: &[String]) -> anyhow::Result<Vec<Target>> {
    targets
        .iter()
        .map(|t| t.parse::<Target>().map_err(anyhow::Error::from))
        .collect()
}

/// The VM a piece of news is about.
pub fn vm_of(event: &AppEvent) -> VmId {
    match event {
        AppEvent::Connected { vm, .. }
        | AppEvent::Disconnected { vm, .. }
        | AppEvent::Sample { vm, .. }
        | AppEvent::Event { vm, .. }
        | AppEvent::EventsMissed { vm, .. }
        | AppEvent::Problem { vm, .. }
        | AppEvent::NotAnswering { vm, .. }
        | AppEvent::QemuExited { vm }
        | AppEvent::SnapshotList { vm, .. }
        | AppEvent::SnapshotProgress { vm, .. }
        | AppEvent::SnapshotDone { vm, .. }
        | AppEvent::Monitor { vm, .. }
        | AppEvent::CommandDone { vm, .. } => *vm,
    }
}

/// What to watch: targets with optional display names, and a directory to discover.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    /// Targets and their configured names.
    pub vms: Vec<(Target, Option<String>)>,
    /// Watch every QMP socket in this directory too.
    pub discover: Option<std::path::PathBuf>,
    /// Names from the config file, for discovered sockets.
    pub config: crate::config::Config,
}

impl Watchlist {
    /// Adds the sockets now in the discovery directory (for batch mode, which does not follow
    /// later changes).
    pub fn add_discovered_now(&mut self) -> anyhow::Result<()> {
        use anyhow::Context;
        let Some(dir) = &self.discover else {
            return Ok(());
        };
        let sockets = crate::collect::discover::scan(dir)
            .with_context(|| format!("reading {}", dir.display()))?;
        for path in sockets {
            let target = Target::Unix(path);
            if !self.vms.iter().any(|(t, _)| *t == target) {
                let name = self.config.name_of(&target.to_string());
                self.vms.push((target, name));
            }
        }
        Ok(())
    }
}
