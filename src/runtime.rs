//! Starting the background tasks for a set of targets and carrying out the model's effects.
//! Shared by the terminal UI and batch mode.

use crate::app::Effect;
use crate::collect::session::{self, WatchOptions};
use crate::news::{self, NewsReceiver, NewsSender};
use crate::news::{AppEvent, VmId};
use crate::qmp::{Client, Target};
use crate::snapshot::{self, Operation, SnapshotOptions};
use std::time::Duration;
use tokio::sync::watch as watch_channel;

/// The running collectors: the channel their news arrives on, the interval control, and the
/// connections the model's effects run on. VM ids are assigned in the order VMs are added,
/// matching [`crate::app::Model::add_vm`].
///
/// The model only knows whether a VM is connected; the client handles live here. Both learn
/// it from the same news, taken in the same loop ([`Collectors::next_news`] keeps the clients
/// before the model applies the news), so an effect the model emits for a connected VM always
/// finds its client.
pub struct Collectors {
    /// News from every watched VM (bounded against event floods; see [`news`]).
    events: NewsReceiver,
    /// The client of each connected VM, by VM id.
    clients: Vec<Option<Client>>,
    sender: NewsSender,
    interval: watch_channel::Sender<Duration>,
    interval_receiver: watch_channel::Receiver<Duration>,
    options: WatchOptions,
    tasks: Vec<Option<tokio::task::JoinHandle<()>>>,
}

impl Collectors {
    /// Starts watching every target.
    pub fn start(targets: &[Target], options: &WatchOptions, interval: Duration) -> Collectors {
        let (sender, events) = news::channel();
        let (interval_tx, interval_rx) = watch_channel::channel(interval);
        let mut collectors = Collectors {
            events,
            sender,
            interval: interval_tx,
            interval_receiver: interval_rx,
            options: options.clone(),
            tasks: Vec::new(),
            clients: Vec::new(),
        };
        for target in targets {
            collectors.add(target.clone());
        }
        collectors
    }

    /// Starts watching one more target; returns its VM id.
    pub fn add(&mut self, target: Target) -> VmId {
        let vm = self.tasks.len();
        self.tasks.push(Some(self.spawn_watch(vm, target)));
        vm
    }

    /// Watches a stopped VM's target again under the same id (its socket came back).
    pub fn restart(&mut self, vm: VmId, target: Target) {
        let task = self.spawn_watch(vm, target);
        if let Some(slot) = self.tasks.get_mut(vm) {
            if let Some(old) = slot.replace(task) {
                old.abort();
            }
        } else {
            task.abort();
        }
    }

    /// Watches `target` politely from now on (found by a polite `--discover` preset).
    pub fn share(&mut self, target: Target) {
        self.options.share.targets.insert(target);
    }

    /// How the collectors watch.
    pub fn options(&self) -> &WatchOptions {
        &self.options
    }

    fn spawn_watch(&self, vm: VmId, target: Target) -> tokio::task::JoinHandle<()> {
        let options = self.options.for_target(&target);
        tokio::spawn(session::run(
            vm,
            target,
            options,
            self.interval_receiver.clone(),
            self.sender.clone(),
        ))
    }

    /// Stops watching a VM: its watch task is aborted, and with it every task it started for
    /// the connection (listener, migration follower), so the socket closes.
    pub fn stop(&mut self, vm: VmId) {
        if let Some(task) = self.tasks.get_mut(vm).and_then(Option::take) {
            task.abort();
        }
        self.set_client(vm, None);
    }

    /// The next news from the collectors; `None` once every sender is gone. Keeps the
    /// connections the effects run on: take news only through here (or
    /// [`Collectors::try_next_news`]).
    pub async fn next_news(&mut self) -> Option<AppEvent> {
        let news = self.events.recv().await?;
        self.keep_client(&news);
        Some(news)
    }

    /// News already waiting, if any.
    pub fn try_next_news(&mut self) -> Option<AppEvent> {
        let news = self.events.try_recv().ok()?;
        self.keep_client(&news);
        Some(news)
    }

    /// True when no news is waiting.
    pub fn no_news_waiting(&self) -> bool {
        self.events.is_empty()
    }

    /// Takes a new connection's client; forgets it when the connection ends.
    fn keep_client(&mut self, news: &AppEvent) {
        match news {
            AppEvent::Connected { vm, client, .. } => self.set_client(*vm, Some(client.clone())),
            AppEvent::Disconnected { vm, .. } => self.set_client(*vm, None),
            _ => {}
        }
    }

    fn set_client(&mut self, vm: VmId, client: Option<Client>) {
        if self.clients.len() <= vm {
            self.clients.resize_with(vm + 1, || None);
        }
        self.clients[vm] = client;
    }

    /// The client of a connected VM. The model emits effects only for VMs it saw connect, from
    /// the same news, so a missing client means news was taken past [`Collectors::next_news`].
    fn client(&self, vm: VmId) -> Option<Client> {
        let client = self.clients.get(vm).cloned().flatten();
        if client.is_none() {
            tracing::error!(vm, "an effect for a VM without a connection was dropped");
        }
        client
    }

    /// Carries out effects: commands are spawned and report back as events.
    pub fn run_effects(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Execute { vm, command } => {
                    let Some(client) = self.client(vm) else {
                        continue;
                    };
                    let sender = self.sender.clone();
                    tokio::spawn(async move {
                        let result = client.execute(command.qmp(), None).await.map(|_| ());
                        let _ = sender.send(AppEvent::CommandDone {
                            vm,
                            command,
                            result,
                        });
                    });
                }
                Effect::SetInterval(interval) => {
                    let _ = self.interval.send(interval);
                }
                Effect::Monitor { vm, job } => {
                    let Some(client) = self.client(vm) else {
                        continue;
                    };
                    let report = self.sender.monitor_reporter(vm);
                    tokio::spawn(crate::monitor::run(client, job, report));
                }
                Effect::SaveHistory { vm, path, line } => {
                    let report = self.sender.monitor_reporter(vm);
                    tokio::spawn(crate::monitor::save_history(path, line, report));
                }
                Effect::ListSnapshots { vm } => {
                    let Some(client) = self.client(vm) else {
                        continue;
                    };
                    tokio::spawn(send_snapshot_list(vm, client, self.sender.clone()));
                }
                Effect::SnapshotJob {
                    vm,
                    operation,
                    tag,
                    skip_unsupported,
                } => {
                    let Some(client) = self.client(vm) else {
                        continue;
                    };
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
    pub fn sender(&self) -> NewsSender {
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

async fn send_snapshot_list(vm: VmId, client: Client, sender: NewsSender) {
    let result = snapshot::list(&client).await;
    let _ = sender.send(AppEvent::SnapshotList { vm, result });
}

/// Runs a snapshot job, reporting progress and the end as events, then refreshes the list.
async fn run_snapshot_job(
    vm: VmId,
    client: Client,
    operation: Operation,
    tag: String,
    skip_unsupported: bool,
    sender: NewsSender,
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
    let _ = sender.send(AppEvent::SnapshotDone {
        vm,
        operation,
        tag,
        result,
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

/// Keeps the first of targets that reach the same socket (`/run/a.qmp`, `unix:/run/a.qmp`
/// and a symlink to it are one socket, which serves one client: watching it twice would show
/// the second as "held by another client"). Returns what is kept, and a sentence for each
/// duplicate left out.
pub fn dedupe_targets<T>(targets: Vec<(Target, T)>) -> (Vec<(Target, T)>, Vec<String>) {
    let mut kept: Vec<(Target, T)> = Vec::new();
    let mut keys: Vec<Target> = Vec::new();
    let mut notes = Vec::new();
    for (target, extra) in targets {
        let key = same_socket_key(&target);
        if let Some(index) = keys.iter().position(|k| *k == key) {
            let first = &kept[index].0;
            notes.push(if *first == target {
                format!("{target} is listed twice; watching it once")
            } else {
                format!("{target} is the same socket as {first}; watching it once")
            });
            continue;
        }
        keys.push(key);
        kept.push((target, extra));
    }
    (kept, notes)
}

/// What makes two targets the same socket: a unix path with its links resolved (when it
/// exists), a TCP host and port as given.
fn same_socket_key(target: &Target) -> Target {
    match target {
        Target::Unix(path) => Target::Unix(
            std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.clone()),
        ),
        other => other.clone(),
    }
}

/// Everything a watching mode (dashboard, batch, exporter) needs, worked out from the command
/// line and the config file: the command line wins, the config file fills in.
pub struct Setup {
    /// The config file's contents (or the defaults).
    pub config: crate::config::Config,
    /// What to watch.
    pub watchlist: Watchlist,
    /// How to connect and collect.
    pub options: WatchOptions,
    /// The poll interval.
    pub interval: Duration,
}

impl Setup {
    /// Reads the config file, resolves and de-duplicates the targets (warning about TCP that
    /// leaves the machine), opens the event log. With `queries_only`, collectors send nothing
    /// but queries (the config file's `read_only` turns that on too).
    pub fn from_args(args: &crate::cli::WatchArgs, queries_only: bool) -> anyhow::Result<Setup> {
        use crate::safe_text::for_terminal;
        let config = crate::config::Config::load(args.config.as_deref())?;
        let libvirt_uri = args.libvirt_uri.clone().or(config.libvirt_uri.clone());
        let discover = match (&args.discover, &config.discover) {
            _ if args.libvirt => Some(crate::collect::discover::Place::Preset {
                preset: crate::collect::Preset::Libvirt,
                libvirt_uri: None,
            }),
            (Some(place), _) => Some(place.clone()),
            (None, Some(text)) => Some(
                text.parse::<crate::collect::discover::Place>()
                    .map_err(|error| anyhow::anyhow!("in the config file: discover: {error}"))?,
            ),
            (None, None) => None,
        };
        let discover = discover.map(|place| match place {
            crate::collect::discover::Place::Preset { preset, .. } => {
                crate::collect::discover::Place::Preset {
                    preset,
                    libvirt_uri: libvirt_uri.clone(),
                }
            }
            other => other,
        });
        let targets: Vec<String> = if args.targets.is_empty() && discover.is_none() {
            config.vm.iter().map(|entry| entry.target.clone()).collect()
        } else {
            args.targets.clone()
        };
        if targets.is_empty() && discover.is_none() {
            anyhow::bail!(
                "no target given. Usage: qemu-dash TARGET... (a QMP socket: PATH, unix:PATH, \
                 tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN), qemu-dash \
                 --discover DIR|PRESET, qemu-dash --libvirt, or `qemu-dash demo` to start a \
                 throwaway VM and watch it"
            );
        }
        let parsed = parse_targets(&targets)?;
        for target in parsed.iter().filter(|t| t.is_remote_tcp()) {
            eprintln!(
                "qemu-dash: warning: {} is not on this machine; QMP has no authentication or \
                 encryption, so anyone who can reach that port controls the VM",
                for_terminal(&target.to_string())
            );
        }
        let (vms, notes) = dedupe_targets(
            parsed
                .into_iter()
                .zip(&targets)
                .map(|(target, text)| (target, config.name_of(text)))
                .collect(),
        );
        for note in &notes {
            eprintln!("qemu-dash: {}", for_terminal(note));
        }
        let shared = config
            .vm
            .iter()
            .filter(|entry| entry.share == Some(true))
            .filter_map(|entry| entry.target.parse::<Target>().ok())
            .collect();
        let options = WatchOptions {
            connect: crate::qmp::ConnectOptions {
                greeting_timeout: args.greeting_timeout,
                command_timeout: args.command_timeout,
                libvirt_uri,
                ..Default::default()
            },
            share: crate::collect::session::SharePolicy {
                all: args.share || config.share.unwrap_or(false),
                targets: shared,
            },
            allow_control: args.allow_control || config.allow_control.unwrap_or(false),
            pid: args.pid,
            event_log: args
                .event_log
                .as_deref()
                .map(crate::collect::eventlog::EventLog::open)
                .transpose()?,
            read_only: queries_only || config.read_only.unwrap_or(false),
        };
        let interval = args
            .interval
            .or(config.interval()?)
            .unwrap_or(Duration::from_secs(1));
        Ok(Setup {
            watchlist: Watchlist {
                vms,
                discover,
                config: config.clone(),
                notes,
            },
            config,
            options,
            interval,
        })
    }
}

/// What to watch: targets with optional display names, and a directory to discover.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    /// Targets and their configured names.
    pub vms: Vec<(Target, Option<String>)>,
    /// Watch every QMP socket in this directory (here or on another host) too.
    pub discover: Option<crate::collect::discover::Place>,
    /// Names from the config file, for discovered sockets.
    pub config: crate::config::Config,
    /// Things the user should know about the list (duplicates left out), shown at start.
    pub notes: Vec<String>,
}

impl Watchlist {
    /// Adds the sockets now in the discovery directory (for batch mode, which does not follow
    /// later changes); those of a polite preset are watched politely.
    pub async fn add_discovered_now(&mut self, options: &mut WatchOptions) -> anyhow::Result<()> {
        let Some(place) = &self.discover else {
            return Ok(());
        };
        let sockets = crate::collect::discover::scan_place(place)
            .await
            .map_err(anyhow::Error::msg)?;
        let polite = self.discovers_polite();
        for target in sockets {
            if !self.vms.iter().any(|(t, _)| *t == target) {
                if polite {
                    options.share.targets.insert(target.clone());
                }
                let name = self.config.name_of(&target.to_string());
                self.vms.push((target, name));
            }
        }
        Ok(())
    }

    /// True when the discovered sockets belong to a manager that dials them itself.
    pub fn discovers_polite(&self) -> bool {
        matches!(
            &self.discover,
            Some(crate::collect::discover::Place::Preset { preset, .. }) if preset.polite()
        )
    }
}

/// Adds a socket that appeared in the discovery directory (one seen before is the same VM
/// again), or drops one that vanished (its connection closes, its data is freed).
pub fn apply_dir_change(
    model: &mut crate::app::Model,
    collectors: &mut Collectors,
    watchlist: &Watchlist,
    change: crate::collect::discover::DirChange,
) {
    match change {
        crate::collect::discover::DirChange::Appeared(target) => {
            let text = target.to_string();
            if model.vms.iter().any(|vm| !vm.removed && vm.target == text) {
                return;
            }
            if watchlist.discovers_polite() {
                collectors.share(target.clone());
            }
            let controls_off =
                crate::collect::session::controls_off(&target, collectors.options().allow_control);
            if let Some(vm) = model.restore_vm(&text) {
                model.vms[vm].controls_off = controls_off;
                collectors.restart(vm, target);
                return;
            }
            let vm = model.add_vm(text.clone());
            model.vms[vm].configured_name = watchlist.config.name_of(&text);
            model.vms[vm].controls_off = controls_off;
            let collector = collectors.add(target);
            debug_assert_eq!(vm, collector, "model and collectors number VMs alike");
        }
        crate::collect::discover::DirChange::Vanished(target) => {
            let text = target.to_string();
            let found = model
                .vms
                .iter()
                .position(|vm| !vm.removed && vm.target == text);
            if let Some(vm) = found {
                model.remove_vm(vm);
                collectors.stop(vm);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::discover::DirChange;

    #[tokio::test]
    async fn a_socket_that_comes_back_is_the_same_vm_starting_afresh() {
        let options = WatchOptions {
            connect: crate::qmp::ConnectOptions::default(),
            pid: None,
            event_log: None,
            read_only: true,
            ..Default::default()
        };
        let interval = Duration::from_secs(1);
        let mut collectors = Collectors::start(&[], &options, interval);
        let mut model = crate::app::Model::new(Vec::new(), interval, true);
        let watchlist = Watchlist::default();
        let path = std::path::PathBuf::from("/nonexistent/qemu-dash-test/vm.qmp");
        let appeared = || DirChange::Appeared(Target::Unix(path.clone()));
        apply_dir_change(&mut model, &mut collectors, &watchlist, appeared());
        model.vms[0].name = Some("old".to_string());
        model.vms[0].events_total = 7;
        apply_dir_change(
            &mut model,
            &mut collectors,
            &watchlist,
            DirChange::Vanished(Target::Unix(path.clone())),
        );
        assert!(model.vms[0].removed);
        assert_eq!(model.vms[0].events_total, 0, "a removed VM's data is freed");
        assert_eq!(model.vms[0].name, None);
        apply_dir_change(&mut model, &mut collectors, &watchlist, appeared());
        assert_eq!(
            model.vms.len(),
            1,
            "the socket that came back is the same VM"
        );
        assert!(!model.vms[0].removed);
        assert_eq!(model.vms[0].target, Target::Unix(path).to_string());
        assert!(collectors.tasks[0].is_some(), "and it is watched again");
    }
}
