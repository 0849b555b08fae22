//! Keeps one VM watched: connects, runs the listener and poller while connected, and
//! reconnects with backoff when the connection drops or cannot be opened. After a drop it
//! watches `/proc` briefly to tell "QEMU exited" from "the connection closed".
//!
//! In polite mode ([`run_polite`]) it dials the socket for each poll and lets it go at once,
//! for sockets a VM manager dials itself; a socket someone else holds is "busy", not an error.
//!
//! The watch task owns every task it starts for a connection (the listener and the migration
//! follower): they end when the connection ends, and when the watch task is aborted (the VM
//! was removed, the app quit), so nothing keeps a removed VM's socket open.

use super::eventlog::{EventLog, NameSlot};
use super::listener;
use super::poller::{self, HostSource};
use crate::news::{AppEvent, VmId};
use crate::qmp::{Client, ConnectOptions, Target};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// The first retry waits this long; each failure doubles it up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to watch a VM.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Connection timeouts.
    pub connect: ConnectOptions,
    /// The QEMU pid given on the command line, overriding the socket's peer credentials.
    pub pid: Option<u32>,
    /// Where every event is appended, if anywhere.
    pub event_log: Option<Arc<EventLog>>,
    /// Send nothing but queries. Otherwise, on connect, finished snapshot jobs an earlier
    /// qemu-dash left behind are dismissed (and said so).
    pub read_only: bool,
    /// Which targets are watched politely (dialled per poll).
    pub share: SharePolicy,
    /// Controls are allowed on libvirt domains (off by default: libvirt taints the domain).
    pub allow_control: bool,
}

/// Which targets are watched in polite mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharePolicy {
    /// Every target (`--share`).
    pub all: bool,
    /// These targets (config file `share = true`, polite `--discover` presets).
    pub targets: std::collections::BTreeSet<Target>,
}

impl SharePolicy {
    /// True when `target` is watched politely. libvirt's proxy is a socket of qemu-dash's own,
    /// never shared.
    pub fn is_polite(&self, target: &Target) -> bool {
        !matches!(target, Target::Libvirt { .. }) && (self.all || self.targets.contains(target))
    }
}

impl WatchOptions {
    /// The options for watching `target`: polite when the policy says so, read-only for a
    /// libvirt domain unless controls are allowed.
    pub fn for_target(&self, target: &Target) -> WatchOptions {
        let mut options = self.clone();
        options.connect.polite = self.share.is_polite(target);
        options.read_only |= controls_off(target, self.allow_control).is_some();
        options
    }
}

/// Why controls are off for `target`, if they are: a libvirt domain without
/// `--allow-control`.
pub fn controls_off(target: &Target, allow_control: bool) -> Option<&'static str> {
    (matches!(target, Target::Libvirt { .. }) && !allow_control)
        .then_some(crate::libvirt::CONTROLS_OFF)
}

/// Said once per VM when it is watched with one command in flight.
fn one_at_a_time_note(target: &Target) -> String {
    format!(
        "{target} takes one command at a time: watching it with one command in flight \
         (figures may lag a little)"
    )
}

/// Picks where host figures come from for this connection.
pub fn host_source(target: &Target, client: &Client, pid_override: Option<u32>) -> HostSource {
    // Over ssh the socket's peer is the local ssh: QEMU's pid is on the other host.
    if let Target::Ssh { host, .. } = target {
        return HostSource::Remote(host.clone(), pid_override);
    }
    if let Some(pid) = pid_override {
        return HostSource::Pid(pid);
    }
    match (target, client.peer_pid()) {
        (_, Some(pid)) => HostSource::Pid(pid),
        (Target::Tcp { .. }, None) => HostSource::Unavailable(
            "QEMU is reached over TCP: pass --pid to read its threads from /proc",
        ),
        (Target::Unix(_) | Target::Ssh { .. }, None) => HostSource::Unavailable(
            "the socket did not tell QEMU's pid: pass --pid to read its threads from /proc",
        ),
        (Target::Libvirt { .. }, None) => HostSource::Unavailable(
            "libvirt's pid file for this domain was not found: pass --pid to read its threads from /proc",
        ),
    }
}

/// How long after a dropped connection the QEMU process is watched for its exit (QEMU closes
/// its sockets a moment before the process ends).
pub const EXIT_WATCH: Duration = Duration::from_secs(3);

/// Tells the app when QEMU `pid` has exited, if it does within [`EXIT_WATCH`].
async fn report_exit(vm: VmId, pid: u32, app: crate::news::NewsSender) {
    let start = tokio::time::Instant::now();
    while start.elapsed() < EXIT_WATCH {
        if super::host::process_exited(pid) {
            let _ = app.send(AppEvent::QemuExited { vm });
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A task that is aborted when its owner drops it, so a task's children end with it.
struct Owned(tokio::task::JoinHandle<()>);

impl Owned {
    fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) -> Owned {
        Owned(tokio::spawn(task))
    }

    /// Waits for the task to end by itself.
    async fn join(&mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Watches `target` forever (until the app's channel closes).
pub async fn run(
    vm: VmId,
    target: Target,
    options: WatchOptions,
    interval: watch::Receiver<Duration>,
    app: crate::news::NewsSender,
) {
    if options.connect.polite {
        return run_polite(vm, target, options, interval, app).await;
    }
    let mut backoff = FIRST_BACKOFF;
    let name: NameSlot = Arc::new(Mutex::new(None));
    let mut connect = options.connect.clone();
    if let Some(log) = &options.event_log {
        connect.event_tap = Some(log.tap(target.to_string(), name.clone()));
    }
    let mut said_one_at_a_time = false;
    loop {
        let mut qemu_pid = None;
        let reason = match Client::connect(&target, &connect).await {
            Ok(client) => {
                backoff = FIRST_BACKOFF;
                if options.event_log.is_some()
                    && let Ok(info) = client.query_name().await
                {
                    *name.lock().unwrap_or_else(PoisonError::into_inner) = info.name;
                }
                let subscription = client.subscribe();
                let connected = AppEvent::Connected {
                    vm,
                    greeting: client.greeting().clone(),
                    client: client.clone(),
                };
                if app.send(connected).is_err() {
                    return;
                }
                if !client.abilities().pipelining && !said_one_at_a_time {
                    said_one_at_a_time = true;
                    let text = one_at_a_time_note(&target);
                    if app.send(AppEvent::Notice { vm, text }).is_err() {
                        return;
                    }
                }
                if !options.read_only
                    && let Ok(dismissed) = crate::snapshot::dismiss_stale_jobs(&client).await
                    && let Some(text) = crate::snapshot::describe_dismissed(&dismissed)
                    && app.send(AppEvent::Notice { vm, text }).is_err()
                {
                    return;
                }
                let mut events = Owned::spawn(listener::run(vm, subscription, app.clone()));
                let migration = Owned::spawn(crate::monitor::migration::follow(
                    client.clone(),
                    app.monitor_reporter(vm),
                ));
                let source = host_source(&target, &client, options.pid);
                if let HostSource::Pid(pid) = source {
                    qemu_pid = Some(pid);
                }
                let error =
                    poller::run(vm, client.clone(), interval.clone(), source, app.clone()).await;
                // Let the listener forward what arrived before the hang-up, so the log is in order.
                events.join().await;
                drop(migration);
                client.closed_reason().unwrap_or_else(|| error.to_string())
            }
            Err(error) => error.to_string(),
        };
        let retry_in = backoff;
        let disconnected = AppEvent::Disconnected {
            vm,
            reason,
            retry_in: retry_in.as_secs_f64(),
        };
        if app.send(disconnected).is_err() {
            return;
        }
        if let Some(pid) = qemu_pid {
            tokio::spawn(report_exit(vm, pid, app.clone()));
        }
        tokio::time::sleep(retry_in).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Polite mode: at each tick, dials the socket, polls once and lets it go, so a VM manager
/// that dials the same socket finds it free between polls. A socket held by another client
/// (no greeting within the interval) is reported as busy and tried again at the next tick.
/// Runs until the app's channel closes.
pub async fn run_polite(
    vm: VmId,
    target: Target,
    options: WatchOptions,
    mut interval: watch::Receiver<Duration>,
    app: crate::news::NewsSender,
) {
    let mut memory: Option<poller::PollMemory> = None;
    let mut connected = false;
    let mut ticks: u32 = 0;
    let mut period = *interval.borrow_and_update();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = interval.changed() => {
                if changed.is_err() {
                    return;
                }
                period = *interval.borrow_and_update();
                ticker = tokio::time::interval(period);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                continue;
            }
        }
        let mut connect = options.connect.clone();
        // Never wait for a greeting longer than a tick: a busy socket is tried again then.
        connect.greeting_timeout = connect.greeting_timeout.min(period);
        let client = match Client::connect(&target, &connect).await {
            Ok(client) => client,
            Err(crate::qmp::QmpError::GreetingTimeout { .. }) => {
                if app.send(AppEvent::Busy { vm }).is_err() {
                    return;
                }
                continue;
            }
            Err(error) => {
                connected = false;
                let gone = AppEvent::Disconnected {
                    vm,
                    reason: error.to_string(),
                    retry_in: period.as_secs_f64(),
                };
                if app.send(gone).is_err() {
                    return;
                }
                continue;
            }
        };
        if !connected {
            connected = true;
            let hello = AppEvent::Connected {
                vm,
                greeting: client.greeting().clone(),
                client: client.clone(),
            };
            if app.send(hello).is_err() {
                return;
            }
        }
        let memory = memory.get_or_insert_with(|| {
            poller::PollMemory::new(host_source(&target, &client, options.pid))
        });
        let with_slow = ticks.is_multiple_of(poller::SLOW_EVERY);
        ticks = ticks.wrapping_add(1);
        let news = match memory.poll(&client, with_slow).await {
            Ok(sample) => AppEvent::Sample {
                vm,
                sample: Box::new(sample),
            },
            Err(error) => AppEvent::Problem {
                vm,
                text: error.to_string(),
            },
        };
        // Let go of the socket before telling the app anything.
        drop(client);
        if app.send(news).is_err() {
            return;
        }
    }
}
