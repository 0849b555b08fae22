//! What the model asks the runtime to do ([`Effect`]): the only way a key reaches QEMU, a
//! file or the poll loop. The model stays free of I/O and holds no connection: an effect names
//! its VM, and the runtime, which keeps the connections, runs it and sends its result back as
//! news.

use crate::news::{VmCommand, VmId};
use crate::snapshot::Operation;
use std::time::Duration;

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a command to a VM; report the result as [`crate::news::AppEvent::CommandDone`].
    Execute {
        /// Which VM.
        vm: VmId,
        /// The command.
        command: VmCommand,
    },
    /// Change the poll interval.
    SetInterval(Duration),
    /// Read the VM's snapshot list; reported as [`crate::news::AppEvent::SnapshotList`].
    ListSnapshots {
        /// Which VM.
        vm: VmId,
    },
    /// Console, media, network, migration or hot-plug work; reported as
    /// [`crate::news::AppEvent::Monitor`].
    Monitor {
        /// Which VM.
        vm: VmId,
        /// What to do.
        job: crate::monitor::Job,
    },
    /// Append a command to the console history file; a failure comes back as
    /// [`crate::news::AppEvent::Monitor`].
    SaveHistory {
        /// The VM whose console was used (for the message).
        vm: VmId,
        /// Where (`None`: nowhere known).
        path: Option<std::path::PathBuf>,
        /// The command as the history keeps it.
        line: String,
    },
    /// Run a snapshot job; reported as progress and [`crate::news::AppEvent::SnapshotDone`].
    SnapshotJob {
        /// Which VM.
        vm: VmId,
        /// Save, load or delete.
        operation: Operation,
        /// The tag.
        tag: String,
        /// Leave out writable disks that cannot take internal snapshots.
        skip_unsupported: bool,
    },
}
