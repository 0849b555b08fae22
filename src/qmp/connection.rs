//! The tasks that own a QMP socket once it is open: one reads, one writes.
//!
//! The reader frames lines, routes replies to their callers through the pending map (by id;
//! an id-less error or an undecodable line goes to the oldest pending command, since QEMU
//! answers in order), and fans events out to subscribers the moment they are read. When the
//! socket closes, every pending call fails with `Disconnected` at once. Nothing here knows
//! which commands exist; that is [`super::client`]'s business.

use super::fanout::{self, Fanout};
use super::framing::{Frame, LineFramer, MAX_LINE_BYTES};
use super::message::{Event, Incoming, QmpError, RawJson, decode_owned};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// How many notices a subscriber may fall behind before it is told it missed some.
///
/// A subscriber's queue grows only while notices wait in it (see [`super::fanout`]), so an
/// idle connection costs nothing for it; a lagging subscriber is told how many it missed, and
/// the event tap (the event log file) never lags.
pub const SUBSCRIBER_BACKLOG: usize = 4096;

/// What subscribers receive: events as they arrive, and news about the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A QMP event.
    Event(Event),
    /// QEMU sent something this client could not use (the text says what).
    ProtocolError(String),
    /// The subscriber fell behind and this many notices were lost to it.
    Missed(u64),
    /// The connection closed; the text says why.
    Disconnected(String),
}

/// The result a waiting caller gets: the reply's value as QEMU sent it.
pub type Reply = Result<RawJson, QmpError>;

struct PendingCall {
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
struct State {
    pending: BTreeMap<u64, PendingCall>,
    /// Set once the connection is gone, with the reason.
    closed: Option<String>,
}

/// A function called with every event, on the reader task, before subscribers see it.
/// It never misses an event, however far subscribers fall behind (an event log file).
pub type EventTap = Arc<dyn Fn(&Event) + Send + Sync>;

/// State shared by the reader task and the callers.
pub struct Shared {
    state: Mutex<State>,
    events_seen: AtomicU64,
    notices: Fanout<Notice>,
    tap: Option<EventTap>,
    /// Becomes true when the connection is closed, so the reader stops too.
    closing: watch::Sender<bool>,
}

impl Shared {
    /// New shared state publishing events to `tap` and notices to subscribers.
    pub fn new(tap: Option<EventTap>) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State::default()),
            events_seen: AtomicU64::new(0),
            notices: Fanout::new(SUBSCRIBER_BACKLOG),
            tap,
            closing: watch::Sender::new(false),
        })
    }

    /// A new subscriber to notices (nothing but the end, once the connection is closed).
    pub fn subscribe(&self) -> fanout::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a call waiting for the reply with this id; fails if the connection is gone.
    pub fn register(&self, id: u64) -> Result<oneshot::Receiver<Reply>, QmpError> {
        let mut state = self.state();
        if let Some(reason) = &state.closed {
            return Err(QmpError::Disconnected {
                reason: reason.clone(),
            });
        }
        let (reply, receiver) = oneshot::channel();
        state.pending.insert(id, PendingCall { reply });
        Ok(receiver)
    }

    /// Forgets a pending call (its caller gave up or timed out).
    pub fn forget(&self, id: u64) {
        self.state().pending.remove(&id);
    }

    /// How many calls are waiting for replies.
    pub fn pending_count(&self) -> usize {
        self.state().pending.len()
    }

    /// Total events read on this connection.
    pub fn events_seen(&self) -> u64 {
        self.events_seen.load(Ordering::Relaxed)
    }

    /// The reason the connection closed, if it did.
    pub fn closed_reason(&self) -> Option<String> {
        self.state().closed.clone()
    }

    /// Marks the connection closed and fails every pending call with `Disconnected`.
    pub fn close(&self, reason: &str) {
        let drained = {
            let mut state = self.state();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason.to_string());
            std::mem::take(&mut state.pending)
        };
        self.closing.send_replace(true);
        for (_, call) in drained {
            let _ = call.reply.send(Err(QmpError::Disconnected {
                reason: reason.to_string(),
            }));
        }
        self.notices.send(Notice::Disconnected(reason.to_string()));
        self.notices.close();
    }

    fn complete(&self, id: Option<u64>, reply: Reply) {
        let call = {
            let mut state = self.state();
            match id {
                Some(id) => state.pending.remove(&id),
                None => state.pending.pop_first().map(|(_, call)| call),
            }
        };
        match (call, reply) {
            (Some(call), reply) => {
                let _ = call.reply.send(reply);
            }
            (None, Err(error)) => {
                self.notices.send(Notice::ProtocolError(error.to_string()));
            }
            (None, Ok(value)) => {
                let shown = super::message::shorten(value.get(), 200);
                tracing::warn!(?id, reply = %shown, "dropping a reply with an unknown id");
            }
        }
    }

    fn dispatch(&self, frame: Frame) {
        let incoming = match frame {
            Frame::TooLong(seen) => Err(QmpError::LineTooLong {
                seen,
                limit: MAX_LINE_BYTES,
            }),
            Frame::Line(bytes) => decode_owned(bytes),
        };
        match incoming {
            Ok(Incoming::Event(event)) => {
                self.events_seen.fetch_add(1, Ordering::Relaxed);
                if let Some(tap) = &self.tap {
                    tap(&event);
                }
                self.notices.send(Notice::Event(event));
            }
            Ok(Incoming::Return { id, value }) => self.complete(id, Ok(value)),
            // An id-less error belongs to the oldest pending command, if any.
            Ok(Incoming::Error { id, class, desc }) => {
                self.complete(id, Err(QmpError::Qemu { class, desc }))
            }
            Ok(Incoming::Unknown(value)) => {
                let message = format!("unexpected message: {}", value);
                self.notices
                    .send(Notice::ProtocolError(super::message::shorten(
                        &message, 200,
                    )));
            }
            // An undecodable line is most likely the reply of the oldest pending command.
            Err(error) => self.complete(None, Err(error)),
        }
    }
}

/// The read buffer starts this small (most connections only ever read short replies)...
const FIRST_READ_BUFFER: usize = 4 * 1024;
/// ...and doubles, while reads fill it, up to this.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// Reads frames from a byte stream.
pub struct FrameReader<R> {
    read: R,
    framer: LineFramer,
    ready: std::collections::VecDeque<Frame>,
    buffer: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader over `read` with the standard line limit.
    pub fn new(read: R) -> Self {
        Self::with_limit(read, MAX_LINE_BYTES)
    }

    /// A reader with a custom line limit (tests).
    pub fn with_limit(read: R, limit: usize) -> Self {
        FrameReader {
            read,
            framer: LineFramer::new(limit),
            ready: Default::default(),
            buffer: vec![0; FIRST_READ_BUFFER],
        }
    }

    /// The next frame; `Ok(None)` at end of stream.
    pub async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Ok(Some(frame));
            }
            let read = self.read.read(&mut self.buffer).await?;
            if read == 0 {
                return Ok(None);
            }
            let mut frames = Vec::new();
            self.framer.feed(&self.buffer[..read], &mut frames);
            self.ready.extend(frames);
            // A full buffer means more was waiting: read in bigger pieces from now on.
            if read == self.buffer.len() && self.buffer.len() < MAX_READ_BUFFER {
                self.buffer.resize(self.buffer.len() * 2, 0);
            }
        }
    }
}

/// Runs the reader until the stream ends (then closes the connection) or the connection is
/// closed from the other side (a write stalled or failed).
pub async fn run_reader<R: AsyncRead + Unpin>(mut reader: FrameReader<R>, shared: Arc<Shared>) {
    let mut closing = shared.closing.subscribe();
    let reason = loop {
        let frame = tokio::select! {
            frame = reader.next_frame() => frame,
            _ = closing.wait_for(|closed| *closed) => return,
        };
        match frame {
            Ok(Some(frame)) => shared.dispatch(frame),
            Ok(None) => break "QEMU closed the connection".to_string(),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                break "QEMU closed the connection (reset)".to_string();
            }
            Err(error) => break format!("read failed: {error}"),
        }
    };
    shared.close(&reason);
}

/// Runs the writer: sends each queued line. A write error, or a write that makes no progress
/// for `stall` (QEMU stopped reading), closes the connection: every pending call fails and
/// the reader stops.
pub async fn run_writer<W: AsyncWrite + Unpin>(
    mut write: W,
    mut lines: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    stall: Duration,
) {
    while let Some(line) = lines.recv().await {
        if let Err(reason) = write_line(&mut write, &line, stall).await {
            shared.close(&reason);
            return;
        }
    }
    let _ = write.shutdown().await;
}

/// Writes one line, failing when a write makes no progress for `stall`.
async fn write_line<W: AsyncWrite + Unpin>(
    write: &mut W,
    line: &[u8],
    stall: Duration,
) -> Result<(), String> {
    let stalled = || {
        format!(
            "QEMU stopped reading commands: a write made no progress for {:.1} s",
            stall.as_secs_f64()
        )
    };
    let failed = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
            "QEMU closed the connection".to_string()
        }
        _ => format!("write failed: {error}"),
    };
    let mut rest = line;
    while !rest.is_empty() {
        match tokio::time::timeout(stall, write.write(rest)).await {
            Ok(Ok(0)) => return Err("QEMU closed the connection".to_string()),
            Ok(Ok(written)) => rest = rest.get(written..).unwrap_or_default(),
            Ok(Err(error)) => return Err(failed(error)),
            Err(_) => return Err(stalled()),
        }
    }
    match tokio::time::timeout(stall, write.flush()).await {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(stalled()),
    }
}
