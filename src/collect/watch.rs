//! Keeps one VM watched: connects, runs the listener and poller while connected, and
//! reconnects with backoff when the connection drops or cannot be opened. After a drop it
//! watches `/proc` briefly to tell "QEMU exited" from "the connection closed".
//!
//! The watch task owns every task it starts for a connection (the listener and the migration
//! follower): they end when the connection ends, and when the watch task is aborted (the VM
//! was removed, the app quit), so nothing keeps a removed VM's socket open.

use super::eventlog::{EventLog, NameSlot};
use super::poller::{self, HostSource};
use super::{AppEvent, VmId, listener};
use crate::qmp::{Client, ConnectOptions, Target};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// The first retry waits this long; each failure doubles it up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to watch a VM.
#[derive(Debug, Clone)]
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
    }
}

/// How long after a dropped connection the QEMU process is watched for its exit (QEMU closes
/// its sockets a moment before the process ends).
pub const EXIT_WATCH: Duration = Duration::from_secs(3);

/// Tells the app when QEMU `pid` has exited, if it does within [`EXIT_WATCH`].
async fn report_exit(vm: VmId, pid: u32, app: crate::collect::news::NewsSender) {
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
    app: crate::collect::news::NewsSender,
) {
    let mut backoff = FIRST_BACKOFF;
    let name: NameSlot = Arc::new(Mutex::new(None));
    let mut connect = options.connect.clone();
    if let Some(log) = &options.event_log {
        connect.event_tap = Some(log.tap(target.to_string(), name.clone()));
    }
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
                if !options.read_only
                    && let Ok(dismissed) = crate::snapshot::dismiss_stale_jobs(&client).await
                    && let Some(text) = crate::snapshot::describe_dismissed(&dismissed)
                    && app.send(AppEvent::Notice { vm, text }).is_err()
                {
                    return;
                }
                let mut events = Owned::spawn(listener::run(vm, subscription, app.clone()));
                let migration = Owned::spawn(crate::monitor::migration::follow(
                    vm,
                    client.clone(),
                    app.clone(),
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
