//! Starting the background tasks for a set of targets and carrying out the model's effects.
//! Shared by the terminal UI and batch mode.

use crate::app::Effect;
use crate::collect::watch::{self, WatchOptions};
use crate::collect::{AppEvent, VmId};
use crate::qmp::Target;
use std::time::Duration;
use tokio::sync::{mpsc, watch as watch_channel};

/// The running collectors: the channel their news arrives on, and the interval control.
pub struct Collectors {
    /// News from every watched VM.
    pub events: mpsc::UnboundedReceiver<AppEvent>,
    sender: mpsc::UnboundedSender<AppEvent>,
    interval: watch_channel::Sender<Duration>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Collectors {
    /// Starts watching every target.
    pub fn start(targets: &[Target], options: &WatchOptions, interval: Duration) -> Collectors {
        let (sender, events) = mpsc::unbounded_channel();
        let (interval_tx, interval_rx) = watch_channel::channel(interval);
        let tasks = targets
            .iter()
            .enumerate()
            .map(|(vm, target)| {
                tokio::spawn(watch::run(
                    vm,
                    target.clone(),
                    options.clone(),
                    interval_rx.clone(),
                    sender.clone(),
                ))
            })
            .collect();
        Collectors {
            events,
            sender,
            interval: interval_tx,
            tasks,
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
        for task in &self.tasks {
            task.abort();
        }
    }
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
        | AppEvent::CommandDone { vm, .. } => *vm,
    }
}
