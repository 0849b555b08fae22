//! News: what the background tasks tell the app loop, and the bounded channel it travels on.
//!
//! [`AppEvent`] is the one type that crosses from the tasks (collectors, snapshot jobs, the
//! monitor's work, commands) to the app loop; [`channel`] carries it, bounded against event
//! floods. The figures a poll learned ([`Sample`]) and decoded QMP events ([`EventRecord`])
//! are plain data defined here, so this module sits below everything that produces or
//! consumes news: it uses `qmp`, `snapshot` and `monitor` payload types and nothing above
//! them (`collect` fills the figures in, `app` applies them).

mod channel;
mod event;
mod sample;

pub use channel::{Closed, NewsReceiver, NewsSender, QUEUE_BYTES, QUEUE_EVENTS, channel};
pub use event::{EventKind, EventRecord, TEXT_BYTES};
pub use sample::{
    BlockRates, BlockSample, HostError, HostSample, MachineFacts, MemorySample, Sample, SlowSample,
    VcpuHost, VcpuSample,
};

use crate::qmp::{Client, Greeting};

/// Identifies a watched VM (its index in the target list).
pub type VmId = usize;

/// What background tasks tell the app loop.
#[derive(Debug)]
pub enum AppEvent {
    /// A connection to the VM was opened and negotiated.
    Connected {
        /// Which VM.
        vm: VmId,
        /// A handle for sending commands.
        client: Client,
        /// QEMU's greeting.
        greeting: Greeting,
    },
    /// Connecting failed, or the connection dropped; a retry is scheduled.
    Disconnected {
        /// Which VM.
        vm: VmId,
        /// Why, in one line.
        reason: String,
        /// Seconds until the next attempt.
        retry_in: f64,
    },
    /// The QEMU process of a connection that dropped has exited (seen in `/proc`).
    QemuExited {
        /// Which VM.
        vm: VmId,
    },
    /// One poll's figures.
    Sample {
        /// Which VM.
        vm: VmId,
        /// The figures.
        sample: Box<Sample>,
    },
    /// A decoded QMP event.
    Event {
        /// Which VM.
        vm: VmId,
        /// The decoded event.
        record: EventRecord,
    },
    /// Events were lost to a slow subscriber (they still count).
    EventsMissed {
        /// Which VM.
        vm: VmId,
        /// How many.
        count: u64,
    },
    /// Something the user should know that is not a problem (e.g. leftovers tidied up).
    Notice {
        /// Which VM.
        vm: VmId,
        /// One line.
        text: String,
    },
    /// A poll has waited a whole interval (or timed out) without QEMU's answer; sent again at
    /// every interval until QEMU answers (the next [`AppEvent::Sample`] ends it).
    NotAnswering {
        /// Which VM.
        vm: VmId,
        /// When the first unanswered poll was sent.
        since: std::time::Instant,
    },
    /// Polite mode: another client holds the socket (no greeting came in time); the next
    /// tick tries again. Not an error: a VM manager dials its socket now and then.
    Busy {
        /// Which VM.
        vm: VmId,
    },
    /// A poll failed or QEMU said something the client could not use.
    Problem {
        /// Which VM.
        vm: VmId,
        /// One line.
        text: String,
    },
    /// The VM's snapshot list, or why it could not be read.
    SnapshotList {
        /// Which VM.
        vm: VmId,
        /// The list, or why it could not be read.
        result: Result<Vec<crate::snapshot::Snapshot>, crate::snapshot::SnapshotError>,
    },
    /// A snapshot job reported progress.
    SnapshotProgress {
        /// Which VM.
        vm: VmId,
        /// The report.
        progress: crate::snapshot::Progress,
    },
    /// A snapshot job ended.
    SnapshotDone {
        /// Which VM.
        vm: VmId,
        /// What it was.
        operation: crate::snapshot::Operation,
        /// The tag.
        tag: String,
        /// What it did, or why not (QEMU's words verbatim). With
        /// [`SnapshotError::UnsupportedDisks`](crate::snapshot::SnapshotError::UnsupportedDisks)
        /// the job did not start, and the user may agree to leave those disks out.
        result: Result<crate::snapshot::Outcome, crate::snapshot::SnapshotError>,
    },
    /// News from the console, media, network, migration or hot-plug work.
    Monitor {
        /// Which VM.
        vm: VmId,
        /// What happened.
        news: crate::monitor::News,
    },
    /// A command started by a key finished.
    CommandDone {
        /// Which VM.
        vm: VmId,
        /// Which command.
        command: VmCommand,
        /// `Ok`, or QEMU's error (its words verbatim).
        result: Result<(), crate::qmp::QmpError>,
    },
}

/// A run-state command a key sends to a VM (its result comes back as
/// [`AppEvent::CommandDone`], matched by value, never by its words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmCommand {
    /// `stop`.
    Pause,
    /// `cont`.
    Resume,
    /// `system_reset`.
    Reset,
    /// `system_powerdown`.
    PowerDown,
    /// `quit`.
    Quit,
}

impl VmCommand {
    /// The QMP command.
    pub fn qmp(self) -> &'static str {
        match self {
            VmCommand::Pause => "stop",
            VmCommand::Resume => "cont",
            VmCommand::Reset => "system_reset",
            VmCommand::PowerDown => "system_powerdown",
            VmCommand::Quit => "quit",
        }
    }

    /// What it is called on screen.
    pub fn label(self) -> &'static str {
        match self {
            VmCommand::Pause => "pause",
            VmCommand::Resume => "resume",
            VmCommand::Reset => "reset",
            VmCommand::PowerDown => "power down",
            VmCommand::Quit => "quit QEMU",
        }
    }
}

impl AppEvent {
    /// True for news that comes with every poll (samples, a busy socket, job progress): it
    /// may wait for the next frame. Anything else (an event, a command's result, a connection
    /// change) is what a user is waiting to see.
    pub fn is_routine(&self) -> bool {
        matches!(
            self,
            AppEvent::Sample { .. } | AppEvent::Busy { .. } | AppEvent::SnapshotProgress { .. }
        )
    }

    /// The VM this piece of news is about.
    pub fn vm(&self) -> VmId {
        match self {
            AppEvent::Connected { vm, .. }
            | AppEvent::Disconnected { vm, .. }
            | AppEvent::Sample { vm, .. }
            | AppEvent::Event { vm, .. }
            | AppEvent::EventsMissed { vm, .. }
            | AppEvent::Problem { vm, .. }
            | AppEvent::Notice { vm, .. }
            | AppEvent::NotAnswering { vm, .. }
            | AppEvent::Busy { vm }
            | AppEvent::QemuExited { vm }
            | AppEvent::SnapshotList { vm, .. }
            | AppEvent::SnapshotProgress { vm, .. }
            | AppEvent::SnapshotDone { vm, .. }
            | AppEvent::Monitor { vm, .. }
            | AppEvent::CommandDone { vm, .. } => *vm,
        }
    }
}
