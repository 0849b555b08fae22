//! The interval loop of one connected VM: queries QEMU and `/proc`, computes rates, and sends
//! a [`Sample`] per tick to the app.
//!
//! A poll that waits a whole interval without an answer (or times out) is reported as
//! [`AppEvent::NotAnswering`], again every interval until QEMU answers.
//!
//! Fast queries (`query-status`, `query-cpus-fast`, `query-blockstats`) run every tick,
//! pipelined; slow-changing ones (`query-block`, `query-name`, memory, balloon) every
//! [`SLOW_EVERY`] ticks and after an event that changes them. A run-state event polls at once;
//! events that come faster are coalesced (one poll running, at most one waiting, event polls
//! at most every [`EVENT_POLL_SPACING`], slow queries for events at most every
//! [`SLOW_EVENT_SPACING`]), so a guest cannot drive polls without limit. Missed ticks are
//! skipped, never bunched. Returns when the connection is gone.
//!
//! Every VM's ticks come from one shared ticker per interval ([`grid_ticks`]) on one grid
//! (multiples of the interval since the process started), so the pollers of a fleet wake
//! together, once per interval, and the runtime re-arms one timer per tick rather than one
//! per VM (each timer armed earlier than the runtime's next wake-up costs it an eventfd
//! write and a spurious wake-up). The same ticks tell a poll that QEMU has left it
//! unanswered for an interval, so a poll arms no timer of its own. A VM polls at once when it
//! connects and when the interval changes, then on the grid. A poll for events stands in
//! for a tick less than half an interval away.

use super::host::{HostReader, HostSampler, remote::RemoteSampler};
use crate::news::{
    AppEvent, BlockRates, BlockSample, MachineFacts, MemorySample, Sample, SlowSample, VcpuSample,
    VmId,
};
use crate::qmp::types::{BlockDeviceStats, BlockStats, CpuInfo, StatusInfo};
use crate::qmp::{Client, Notice, QmpError};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// Slow queries run every this many ticks.
pub const SLOW_EVERY: u32 = 10;
/// Where QEMU sends events, `query-status` runs every this many ticks (a heartbeat of the
/// run state), besides the polls that run-state events ask for: the events carry every change
/// of run state, and the other fast queries, asked every tick, still prove that QEMU answers.
pub const STATUS_EVERY: u32 = 10;

/// Polls asked for by events start at most this often.
pub const EVENT_POLL_SPACING: Duration = Duration::from_millis(100);
/// Slow queries asked for by events run at most this often.
pub const SLOW_EVENT_SPACING: Duration = Duration::from_secs(1);

/// Events that change the run state: the fast queries run at once, so the screen shows the
/// new state without waiting for the next tick (`STOP` alone does not say why it stopped;
/// `query-status` does).
const STATE_EVENTS: &[&str] = &[
    "STOP",
    "RESUME",
    "RESET",
    "SHUTDOWN",
    "SUSPEND",
    "WAKEUP",
    "GUEST_PANICKED",
];

/// Events that change the memory figures (hot-plugged DIMMs, virtio-mem, the balloon) or the
/// devices: the slow queries run at once. Every `DEVICE_*` event counts too.
const MEMORY_EVENTS: &[&str] = &[
    "ACPI_DEVICE_OST",
    "BALLOON_CHANGE",
    "MEMORY_DEVICE_SIZE_CHANGE",
];

/// True for an event after which memory and devices are read again at once.
fn changes_memory(name: &str) -> bool {
    MEMORY_EVENTS.contains(&name) || name.starts_with("DEVICE_")
}

/// Events after which the slow queries run at the next tick.
const REFRESHING_EVENTS: &[&str] = &[
    "DEVICE_TRAY_MOVED",
    "BALLOON_CHANGE",
    "JOB_STATUS_CHANGE",
    "BLOCK_JOB_COMPLETED",
    "DEVICE_DELETED",
    "RESET",
    "MEMORY_DEVICE_SIZE_CHANGE",
];

/// The QEMU target names that CPU type names carry ("max-x86_64-cpu", "cortex-a57-arm-cpu").
const CPU_TYPE_TARGETS: &[&str] = &[
    "x86_64",
    "i386",
    "arm",
    "aarch64",
    "riscv",
    "riscv32",
    "riscv64",
    "powerpc64",
    "powerpc",
    "s390x",
    "mips",
    "mips64",
    "loongarch",
    "sparc",
    "sparc64",
    "m68k",
    "alpha",
    "hppa",
];

/// QOM type names end in a suffix saying what they are: "pc-i440fx-7.2-machine",
/// "max-x86_64-cpu". The name a user gave on the command line is what comes before (for a
/// CPU, before its target too).
pub fn strip_qom_suffix(type_name: &str, suffix: &str) -> String {
    let base = type_name.strip_suffix(suffix).unwrap_or(type_name);
    match base.rsplit_once('-') {
        Some((model, target)) if suffix == "-cpu" && CPU_TYPE_TARGETS.contains(&target) => {
            model.to_string()
        }
        _ => base.to_string(),
    }
}

/// Where the host figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSource {
    /// Read `/proc/<pid>`.
    Pid(u32),
    /// Read `/proc` on the VM's host over ssh (QEMU's pid there, if known).
    Remote(crate::ssh::SshHost, Option<u32>),
    /// Not available, with the reason shown in the panel.
    Unavailable(&'static str),
}

/// Runs the poll loop until the connection is gone; returns the error that ended it.
pub async fn run(
    vm: VmId,
    client: Client,
    mut interval: watch::Receiver<Duration>,
    host_source: HostSource,
    app: crate::news::NewsSender,
) -> QmpError {
    let mut events = client.subscribe();
    let mut state = PollState::new(host_source);
    let mut ticks = grid_ticks(*interval.borrow_and_update());
    let mut schedule = Schedule::new();
    if !client.abilities().events {
        // Nothing tells of a change of run state: ask for it at every tick.
        schedule.status_every = 1;
    }
    // When the first poll QEMU has not answered was sent; `None` while QEMU answers.
    let mut unanswered_since: Option<Instant> = None;
    // Poll at once (on connecting, and when the interval changes), then on the grid.
    let mut poll_now = true;
    // A tick before this is skipped: a poll for events just stood in for it.
    let mut skip_ticks_before: Option<Instant> = None;
    loop {
        let event_poll_at = schedule.event_poll_at(Instant::now());
        let tick = tokio::select! {
            () = std::future::ready(()), if poll_now => {
                poll_now = false;
                true
            }
            changed = ticks.changed() => {
                if changed.is_err() {
                    // The ticker's runtime is gone (tests run several): take a new one.
                    ticks = grid_ticks(*interval.borrow());
                    continue;
                }
                if skip_ticks_before.take().is_some_and(|until| Instant::now() < until) {
                    continue;
                }
                true
            }
            _ = sleep_until(event_poll_at) => false,
            changed = interval.changed() => {
                if changed.is_ok() {
                    ticks = grid_ticks(*interval.borrow_and_update());
                    poll_now = true;
                }
                continue;
            }
            notice = events.recv() => {
                match notice {
                    Some(Notice::Event(event)) => schedule.on_event(&event.name),
                    Some(Notice::Missed(_)) => schedule.on_missed(),
                    // The reader saw the socket close: say so now, not at the next tick.
                    Some(Notice::Disconnected(reason)) => {
                        return QmpError::Disconnected { reason };
                    }
                    None => {
                        return QmpError::Disconnected {
                            reason: client
                                .closed_reason()
                                .unwrap_or_else(|| "the connection closed".to_string()),
                        };
                    }
                    Some(_) => {}
                }
                continue;
            }
        };
        // Asked for by an event (or the first poll): everything slow is read again; otherwise
        // the slow poll is a heartbeat of the block devices and the name, memory and balloon
        // are kept (the events that change them ask for a refresh).
        state.refresh_all = schedule.slow_due;
        let with_status = schedule.status_wanted(tick);
        let with_slow = schedule.start(Instant::now(), tick);
        let patience = *interval.borrow();
        if !tick {
            // The event's poll stands in for the next tick if that is near.
            skip_ticks_before = Some(Instant::now() + patience / 2);
        }
        let started = Instant::now();
        let mut report_unanswered = || {
            let since = *unanswered_since.get_or_insert(started);
            app.send(AppEvent::NotAnswering { vm, since }).is_ok()
        };
        let result = watched_poll(
            &mut state,
            &client,
            with_status,
            with_slow,
            &mut ticks,
            started + patience,
            &mut report_unanswered,
        )
        .await;
        if let Err(QmpError::Timeout { .. }) = &result {
            report_unanswered();
        }
        match result {
            Ok(sample) => {
                unanswered_since = None;
                schedule.succeeded(with_slow);
                if with_status {
                    schedule.status_due = false;
                }
                if app
                    .send(AppEvent::Sample {
                        vm,
                        sample: Box::new(sample),
                    })
                    .is_err()
                {
                    return QmpError::Disconnected {
                        reason: "the dashboard stopped".to_string(),
                    };
                }
            }
            Err(error) if error.is_disconnect() => return error,
            Err(error) => {
                let text = error.to_string();
                if app.send(AppEvent::Problem { vm, text }).is_err() {
                    return error;
                }
            }
        }
    }
}

/// What the poller remembers between polls (counters for rates, host figures), for a caller
/// that dials the socket for each poll (polite mode) and so cannot use [`run`].
pub struct PollMemory(PollState);

impl PollMemory {
    /// Nothing remembered yet; host figures from `host_source`.
    pub fn new(host_source: HostSource) -> PollMemory {
        PollMemory(PollState::new(host_source))
    }

    /// One poll over `client`, with the slow queries when `with_slow`.
    pub async fn poll(&mut self, client: &Client, with_slow: bool) -> Result<Sample, QmpError> {
        self.0.poll(client, true, with_slow).await
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// When to poll besides the ticks, and whether a poll includes the slow queries. Pure, so the
/// coalescing can be tested without a clock.
#[derive(Debug)]
struct Schedule {
    /// An event asked for a poll that has not started yet (at most one waits).
    wanted: bool,
    /// When the last poll asked for by events started.
    last_event_poll: Option<Instant>,
    /// An event asked for the slow queries.
    slow_due: bool,
    /// When the slow queries last ran.
    last_slow: Option<Instant>,
    /// Ticks polled so far.
    ticks: u32,
    /// An event asked for the run state (or events were lost).
    status_due: bool,
    /// A tick asks for the run state every this many ticks.
    status_every: u32,
}

impl Schedule {
    fn new() -> Schedule {
        Schedule {
            wanted: false,
            last_event_poll: None,
            slow_due: true,
            last_slow: None,
            ticks: 0,
            status_due: true,
            status_every: STATUS_EVERY,
        }
    }

    fn on_event(&mut self, name: &str) {
        if REFRESHING_EVENTS.contains(&name) || changes_memory(name) {
            self.slow_due = true;
        }
        if STATE_EVENTS.contains(&name) {
            self.status_due = true;
        }
        if STATE_EVENTS.contains(&name) || changes_memory(name) {
            self.wanted = true;
        }
    }

    /// Whether the poll about to start (at a tick or not) asks for the run state: polls for
    /// events do, and ticks every [`Schedule::status_every`] (call before [`Schedule::start`]).
    fn status_wanted(&self, tick: bool) -> bool {
        !tick || self.status_due || self.ticks.is_multiple_of(self.status_every.max(1))
    }

    /// Events were lost: any of them may have changed anything.
    fn on_missed(&mut self) {
        self.slow_due = true;
        self.status_due = true;
        self.wanted = true;
    }

    /// When the poll an event asked for may start: at once, unless the previous one started
    /// less than [`EVENT_POLL_SPACING`] ago.
    fn event_poll_at(&self, now: Instant) -> Option<Instant> {
        self.wanted.then(|| {
            self.last_event_poll
                .map_or(now, |last| (last + EVENT_POLL_SPACING).max(now))
        })
    }

    /// A poll starts now (a tick, or for events); returns whether it runs the slow queries.
    fn start(&mut self, now: Instant, tick: bool) -> bool {
        self.wanted = false;
        if !tick {
            self.last_event_poll = Some(now);
        }
        let spaced = self
            .last_slow
            .is_none_or(|last| now.duration_since(last) >= SLOW_EVENT_SPACING);
        let with_slow =
            (tick && self.ticks.is_multiple_of(SLOW_EVERY)) || (self.slow_due && spaced);
        if tick {
            self.ticks = self.ticks.wrapping_add(1);
        }
        if with_slow {
            self.last_slow = Some(now);
        }
        with_slow
    }

    /// The poll that started with `with_slow` succeeded.
    fn succeeded(&mut self, with_slow: bool) {
        if with_slow {
            self.slow_due = false;
        }
    }
}

/// Runs one poll; when it is still waiting at the first tick from `first_report` on (less a
/// tenth of an interval: ticks and polls start together), calls `unanswered`, and again at
/// every tick after (gives up if `unanswered` returns false: the app is gone).
async fn watched_poll(
    state: &mut PollState,
    client: &Client,
    with_status: bool,
    with_slow: bool,
    ticks: &mut watch::Receiver<u64>,
    first_report: Instant,
    unanswered: &mut impl FnMut() -> bool,
) -> Result<Sample, QmpError> {
    let poll = state.poll(client, with_status, with_slow);
    tokio::pin!(poll);
    let started = Instant::now();
    let early = first_report.saturating_duration_since(started) / 10;
    let mut reporting = false;
    let mut ticking = true;
    loop {
        tokio::select! {
            result = &mut poll => return result,
            changed = ticks.changed(), if ticking => {
                if changed.is_err() {
                    // No ticker any more: the poll's own timeouts still end it.
                    ticking = false;
                    continue;
                }
                reporting = reporting || Instant::now() + early >= first_report;
                if reporting && !unanswered() {
                    return Err(QmpError::Disconnected {
                        reason: "the dashboard stopped".to_string(),
                    });
                }
            }
        }
    }
}

thread_local! {
    /// The shared tickers of this thread's runtime, by period in nanoseconds: a receiver
    /// each, to subscribe from (their ticker task ends with the runtime).
    static GRIDS: std::cell::RefCell<HashMap<u128, watch::Receiver<u64>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Ticks of the shared ticker of `period` (a counter that goes up once per tick, on the
/// process-wide grid), started on first use.
pub fn grid_ticks(period: Duration) -> watch::Receiver<u64> {
    let key = period.as_nanos();
    GRIDS.with(|grids| {
        let mut grids = grids.borrow_mut();
        if let Some(receiver) = grids.get(&key)
            && receiver.has_changed().is_ok()
        {
            let mut receiver = receiver.clone();
            receiver.mark_unchanged();
            return receiver;
        }
        let (sender, receiver) = watch::channel(0u64);
        tokio::spawn(async move {
            let mut ticker = new_ticker(period);
            // tokio's timer wheel writes to the runtime's eventfd (a spurious wake-up) for
            // every timer armed earlier than the earliest one it knew of when it last fired
            // timers; with none left after a tick, that is every command's timeout of the
            // round. A timer kept armed two ticks ahead stays the earliest then, so the
            // round's timers (the next tick, timeouts longer than an interval) arm quietly.
            let ahead = tokio::time::sleep(period * 2);
            tokio::pin!(ahead);
            loop {
                let at = ticker.tick().await;
                ahead.as_mut().reset(at + period * 2);
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        grids.insert(key, receiver.clone());
        receiver
    })
}

/// The instant every poller's grid counts from.
static GRID_EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The first point of the grid of `period` after `now` (the grid counts from `epoch`).
fn next_grid_point(epoch: Instant, now: Instant, period: Duration) -> Instant {
    let period_ns = period.as_nanos().max(1);
    let since = now.saturating_duration_since(epoch).as_nanos();
    let points = since / period_ns + 1;
    let offset = u64::try_from(points.saturating_mul(period_ns)).unwrap_or(u64::MAX);
    epoch + Duration::from_nanos(offset)
}

/// Ticks every `period` on the process-wide grid, starting at its next point.
fn new_ticker(period: Duration) -> tokio::time::Interval {
    let epoch = *GRID_EPOCH.get_or_init(Instant::now);
    let start = next_grid_point(epoch, Instant::now(), period);
    let mut ticker = tokio::time::interval_at(start.into(), period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker
}

/// What the poller remembers between ticks.
struct PollState {
    host: HostReader,
    /// Each block device's counters at the previous poll, by device and node name (a short
    /// list, searched in place: no key is built per poll).
    previous_blocks: Vec<PreviousBlock>,
    has_balloon: bool,
    last_balloon: Option<u64>,
    /// Read once per connection (they cannot change while QEMU runs).
    facts: Option<MachineFacts>,
    /// The first vCPU's QOM path, for its model.
    first_cpu: Option<String>,
    /// The next slow poll reads name, memory and balloon again (else it reuses `kept`).
    refresh_all: bool,
    /// Name, memory and balloon as last read.
    kept: Option<(Option<String>, MemorySample)>,
    /// The run state as last read (a poll that does not ask for it reports this).
    status: Option<StatusInfo>,
}

/// A block device's counters at the previous poll.
struct PreviousBlock {
    device: String,
    node_name: Option<String>,
    at: Instant,
    stats: BlockDeviceStats,
}

impl PreviousBlock {
    fn is(&self, stats: &BlockStats) -> bool {
        self.device == stats.device && self.node_name == stats.node_name
    }
}

impl PollState {
    /// A poll's block devices with their rates since the previous poll, keeping this poll's
    /// counters for the next. QEMU lists the devices in the same order at every poll: each
    /// then pairs with the previous entry at its place, and the strings move instead of being
    /// copied; only when the list changed are the previous entries looked up by name.
    fn block_samples(&mut self, blockstats: Vec<BlockStats>, now: Instant) -> Vec<BlockSample> {
        let previous = std::mem::take(&mut self.previous_blocks);
        let rates = |before: &PreviousBlock, stats: &BlockStats| {
            BlockRates::between(&before.stats, &stats.stats, now.duration_since(before.at))
        };
        let in_order = previous.len() == blockstats.len()
            && previous
                .iter()
                .zip(&blockstats)
                .all(|(before, stats)| before.is(stats));
        if in_order {
            let mut blocks = Vec::with_capacity(blockstats.len());
            self.previous_blocks = previous
                .into_iter()
                .zip(blockstats)
                .map(|(mut kept, stats)| {
                    let rates = rates(&kept, &stats);
                    kept.stats = stats.stats;
                    kept.at = now;
                    blocks.push(BlockSample {
                        device: stats.device,
                        node_name: stats.node_name,
                        qdev: stats.qdev,
                        totals: stats.stats,
                        rates,
                    });
                    kept
                })
                .collect();
            return blocks;
        }
        let by_name: HashMap<(&str, Option<&str>), &PreviousBlock> = previous
            .iter()
            .map(|before| {
                (
                    (before.device.as_str(), before.node_name.as_deref()),
                    before,
                )
            })
            .collect();
        let blocks = blockstats
            .iter()
            .map(|stats| BlockSample {
                device: stats.device.clone(),
                node_name: stats.node_name.clone(),
                qdev: stats.qdev.clone(),
                totals: stats.stats,
                rates: by_name
                    .get(&(stats.device.as_str(), stats.node_name.as_deref()))
                    .and_then(|before| rates(before, stats)),
            })
            .collect();
        self.previous_blocks = blockstats
            .into_iter()
            .map(|stats| PreviousBlock {
                device: stats.device,
                node_name: stats.node_name,
                at: now,
                stats: stats.stats,
            })
            .collect();
        blocks
    }

    fn new(host_source: HostSource) -> Self {
        PollState {
            host: match host_source {
                HostSource::Pid(pid) => HostReader::Local(HostSampler::new(pid)),
                HostSource::Remote(host, pid) => HostReader::Remote(RemoteSampler::new(host, pid)),
                HostSource::Unavailable(reason) => HostReader::Unavailable(reason),
            },
            previous_blocks: Vec::new(),
            has_balloon: true,
            last_balloon: None,
            facts: None,
            first_cpu: None,
            refresh_all: true,
            kept: None,
            status: None,
        }
    }

    async fn poll(
        &mut self,
        client: &Client,
        with_status: bool,
        with_slow: bool,
    ) -> Result<Sample, QmpError> {
        let started = Instant::now();
        let with_status = with_status || self.status.is_none();
        let mut batch = client.query_batch();
        if with_status {
            batch = batch.query::<StatusInfo>("query-status");
        }
        let mut replies = batch
            .query::<Vec<CpuInfo>>("query-cpus-fast")
            .query::<Vec<BlockStats>>("query-blockstats")
            .run(client.command_timeout())
            .await?;
        let status = if with_status {
            replies.take::<StatusInfo>()?
        } else {
            self.status.clone().unwrap_or_default()
        };
        let cpus: Vec<CpuInfo> = replies.take()?;
        let blockstats: Vec<BlockStats> = replies.take()?;
        if with_status {
            self.status = Some(status.clone());
        }
        let round_trip = started.elapsed();
        if self.first_cpu.is_none() {
            self.first_cpu = cpus.first().map(|cpu| cpu.qom_path.clone());
        }
        let now = Instant::now();
        let thread_ids: Vec<u32> = cpus.iter().map(|c| c.thread_id).collect();
        let host = self.host.sample(&thread_ids).await;
        let vcpus = cpus
            .iter()
            .map(|cpu| VcpuSample {
                index: cpu.cpu_index,
                thread_id: cpu.thread_id,
                host: host
                    .as_ref()
                    .ok()
                    .and_then(|h| h.vcpus.get(&cpu.thread_id).copied())
                    .unwrap_or_default(),
            })
            .collect();
        let blocks = self.block_samples(blockstats, now);
        let slow = if with_slow {
            Some(self.poll_slow(client).await?)
        } else {
            None
        };
        Ok(Sample {
            status,
            vcpus,
            blocks,
            host,
            slow,
            round_trip,
        })
    }

    /// Asks QEMU what it runs the VM on. A question it cannot answer leaves that fact out.
    async fn machine_facts(&self, client: &Client) -> Result<MachineFacts, QmpError> {
        let qom_type = |path: String| async move {
            client
                .execute(
                    "qom-get",
                    Some(serde_json::json!({"path": path, "property": "type"})),
                )
                .await
        };
        let (kvm, machine, cpu) = tokio::join!(
            client.execute("query-kvm", None),
            qom_type("/machine".to_string()),
            async {
                match &self.first_cpu {
                    Some(path) => Some(qom_type(path.clone()).await),
                    None => None,
                }
            }
        );
        let text =
            |reply: Result<serde_json::Value, QmpError>| -> Result<Option<String>, QmpError> {
                match reply {
                    Ok(value) => Ok(value.as_str().map(str::to_string)),
                    Err(error) if error.is_disconnect() => Err(error),
                    Err(_) => Ok(None),
                }
            };
        let accelerator = match kvm {
            Ok(value) => value
                .get("enabled")
                .and_then(serde_json::Value::as_bool)
                .map(|kvm| if kvm { "KVM" } else { "TCG" }.to_string()),
            Err(error) if error.is_disconnect() => return Err(error),
            Err(_) => None,
        };
        Ok(MachineFacts {
            accelerator,
            machine: text(machine)?.map(|t| strip_qom_suffix(&t, "-machine")),
            cpu_model: match cpu {
                Some(reply) => text(reply)?.map(|t| strip_qom_suffix(&t, "-cpu")),
                None => None,
            },
        })
    }

    async fn poll_slow(&mut self, client: &Client) -> Result<SlowSample, QmpError> {
        let machine = match &self.facts {
            Some(facts) => facts.clone(),
            None => {
                let facts = self.machine_facts(client).await?;
                self.facts = Some(facts.clone());
                facts
            }
        };
        let kept = match (&self.kept, self.refresh_all) {
            (Some(kept), false) => Some(kept.clone()),
            _ => None,
        };
        let (name, memory) = match kept {
            Some(kept) => {
                let block_info = client.query_block().await?;
                return Ok(SlowSample {
                    machine,
                    name: kept.0,
                    block_info,
                    memory: kept.1,
                });
            }
            None => {
                let (name, block_info, memory) = tokio::join!(
                    client.query_name(),
                    client.query_block(),
                    client.query_memory_size_summary()
                );
                ((name, block_info), memory.ok())
            }
        };
        let (name, block_info) = name;
        // A balloon read that says nothing (a timeout) is asked again at the next slow poll.
        let mut settled = true;
        let balloon_bytes = if self.has_balloon {
            match client.query_balloon().await {
                Ok(balloon) => {
                    self.last_balloon = Some(balloon.actual);
                    Some(balloon.actual)
                }
                Err(error) if error.is_disconnect() => return Err(error),
                Err(QmpError::Qemu { class, .. })
                    if class == "DeviceNotActive" || class == "CommandNotFound" =>
                {
                    // No balloon device (or no balloon support): stop asking.
                    self.has_balloon = false;
                    self.last_balloon = None;
                    None
                }
                // A timeout or an odd reply says nothing about the device: keep the last
                // known size and ask again next time.
                Err(_) => {
                    settled = false;
                    self.last_balloon
                }
            }
        } else {
            None
        };
        let name = name?.name;
        let memory = MemorySample {
            base_bytes: memory.map(|m| m.base_memory),
            plugged_bytes: memory.and_then(|m| m.plugged_memory),
            balloon_bytes,
        };
        self.kept = settled.then(|| (name.clone(), memory));
        Ok(SlowSample {
            machine,
            name,
            block_info: block_info?,
            memory,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_state_event_polls_at_once() {
        let start = Instant::now();
        let mut schedule = Schedule::new();
        assert!(
            schedule.start(start, true),
            "the first tick runs the slow queries"
        );
        schedule.succeeded(true);
        assert_eq!(schedule.event_poll_at(start), None);
        let later = start + Duration::from_secs(5);
        schedule.on_event("STOP");
        assert_eq!(schedule.event_poll_at(later), Some(later));
        assert!(
            !schedule.start(later, false),
            "STOP does not need the slow queries"
        );
        assert_eq!(schedule.event_poll_at(later), None);
        schedule.on_event("JOB_STATUS_CHANGE");
        assert_eq!(schedule.event_poll_at(later), None, "left to the next tick");
        schedule.on_event("BALLOON_CHANGE");
        assert_eq!(
            schedule.event_poll_at(later),
            Some(later + EVENT_POLL_SPACING),
            "memory changes are read at once (spaced after the STOP's poll)"
        );
    }

    #[test]
    fn a_storm_of_events_is_coalesced_and_spaced() {
        let start = Instant::now();
        let mut schedule = Schedule::new();
        schedule.start(start, true);
        schedule.succeeded(true);
        let (mut polls, mut slow) = (0, 0);
        // 1000 RESETs 1 ms apart; a poll starts whenever one is due, and takes no time.
        for n in 0..1000u64 {
            let now = start + Duration::from_secs(1) + Duration::from_millis(n);
            schedule.on_event("RESET");
            if schedule.event_poll_at(now).is_some_and(|at| at <= now) {
                polls += 1;
                let with_slow = schedule.start(now, false);
                slow += u32::from(with_slow);
                schedule.succeeded(with_slow);
            }
        }
        assert_eq!(polls, 10, "one poll per 100 ms");
        assert_eq!(slow, 1, "the slow queries once per second");
        // The last events still get their poll once the spacing allows.
        let end = start + Duration::from_secs(2);
        assert!(schedule.event_poll_at(end).is_some());
    }

    #[test]
    fn ticks_fall_on_one_grid_whenever_a_poller_starts() {
        let epoch = Instant::now();
        let period = Duration::from_millis(250);
        let at = |ms| epoch + Duration::from_millis(ms);
        assert_eq!(next_grid_point(epoch, at(0), period), at(250));
        assert_eq!(next_grid_point(epoch, at(1), period), at(250));
        assert_eq!(next_grid_point(epoch, at(249), period), at(250));
        assert_eq!(next_grid_point(epoch, at(250), period), at(500));
        assert_eq!(next_grid_point(epoch, at(10_001), period), at(10_250));
    }

    #[test]
    fn qom_type_names_become_the_names_users_give() {
        assert_eq!(
            strip_qom_suffix("pc-i440fx-7.2-machine", "-machine"),
            "pc-i440fx-7.2"
        );
        assert_eq!(strip_qom_suffix("none-machine", "-machine"), "none");
        assert_eq!(strip_qom_suffix("max-x86_64-cpu", "-cpu"), "max");
        assert_eq!(
            strip_qom_suffix("Skylake-Client-x86_64-cpu", "-cpu"),
            "Skylake-Client"
        );
        assert_eq!(strip_qom_suffix("qemu32-i386-cpu", "-cpu"), "qemu32");
        assert_eq!(strip_qom_suffix("cortex-a57-arm-cpu", "-cpu"), "cortex-a57");
        assert_eq!(
            strip_qom_suffix("pc-q35-10.0-machine", "-cpu"),
            "pc-q35-10.0-machine"
        );
        assert_eq!(strip_qom_suffix("odd", "-cpu"), "odd");
    }
}
