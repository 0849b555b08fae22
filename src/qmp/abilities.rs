//! What a monitor connection can do, so that collectors and the UI learn a transport's limits
//! from one value instead of special cases.
//!
//! A connection is a byte stream (unix socket, TCP, an SSH-forwarded socket) spoken in a
//! dialect (QMP or HMP), reached in a mode (held for the session, or dialled per poll). Each
//! combination can do less than a QMP socket held for the session; [`Abilities`] says what.

/// The language spoken on the monitor socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The JSON machine protocol.
    Qmp,
    /// The human monitor (plain text, a `(qemu) ` prompt).
    Hmp,
}

/// What one monitor connection can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abilities {
    /// The monitor's language.
    pub dialect: Dialect,
    /// QEMU's asynchronous events arrive on this connection.
    pub events: bool,
    /// Several commands may be in flight at once (a proxy may take one at a time).
    pub pipelining: bool,
    /// The socket is held for the whole session (not dialled per poll, leaving it free for a
    /// manager between polls).
    pub holds_socket: bool,
}

impl Abilities {
    /// A QMP socket held for the session: everything.
    pub const QMP: Abilities = Abilities {
        dialect: Dialect::Qmp,
        events: true,
        pipelining: true,
        holds_socket: true,
    };
}

impl Abilities {
    /// Why QEMU's events do not arrive on this connection, in words for the screen; `None`
    /// when they do.
    pub fn events_unavailable(&self) -> Option<&'static str> {
        if self.events {
            None
        } else if !self.holds_socket {
            Some("events not available: polite mode (--share) lets go of the socket between polls")
        } else if self.dialect == Dialect::Hmp {
            Some("events not available: this VM is watched over HMP, which has no events")
        } else {
            Some("events not available on this connection")
        }
    }
}

impl Default for Abilities {
    fn default() -> Self {
        Abilities::QMP
    }
}

impl Abilities {
    /// An HMP monitor (`-monitor unix:…`) held for the session: no events, one command at a
    /// time.
    pub const HMP: Abilities = Abilities {
        dialect: Dialect::Hmp,
        events: false,
        pipelining: false,
        holds_socket: true,
    };
}
