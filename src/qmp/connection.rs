//! The tasks that own a QMP socket once it is open: one reads, one writes.
//!
//! Commands are short: QEMU answers in-band commands in the order it reads them, so a command
//! is sent without an `id` and its reply goes to the oldest id-less command still waiting
//! (each byte a client sends costs QEMU about 10 µs of CPU). Ids come back only while the
//! order cannot be trusted: once a caller gave up on an id-less command (a timeout), its reply
//! may still come or never come, so every command carries an `id` until each abandoned one has
//! been answered. A command is queued and put in the pending map under one lock, so the order
//! of the map is the order on the wire; the writer sends everything queued in one write.
//!
//! The reader frames lines, routes replies to their callers (by id when they carry one; an
//! id-less error or an undecodable line goes to the oldest pending command, since QEMU
//! answers in order), and fans events out to subscribers the moment they are read. When the
//! socket closes, every pending call fails with `Disconnected` at once. Nothing here knows
//! which commands exist; that is [`super::client`]'s business.

use super::fanout::{self, Fanout};
use super::framing::{Frame, LineFramer, MAX_LINE_BYTES};
use super::message::{Decoded, Event, Incoming, QmpError, RawJson, ReturnDecoder, decode_owned};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, oneshot, watch};

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

/// One reply of a batch: decoded as the line was read when its command came with a
/// [`ReturnDecoder`] and the reply was a plain one, else the value as QEMU sent it.
pub enum Answer {
    /// Decoded by the command's decoder.
    Decoded(Decoded),
    /// As QEMU sent it.
    Raw(RawJson),
}

/// The result a batch's caller gets for each of its commands.
pub type BatchReply = Result<Answer, QmpError>;

/// The replies of a batch of commands ([`Shared::send_batch`]), gathered as they come and
/// handed over together when the last one is in: one wake-up of the caller per batch.
struct BatchReplies {
    replies: Vec<Option<BatchReply>>,
    left: usize,
    done: Option<oneshot::Sender<Vec<BatchReply>>>,
}

/// Where a reply goes.
enum Route {
    /// To a caller of one command.
    One(oneshot::Sender<Reply>),
    /// Into place `index` of a batch.
    Part {
        batch: Arc<Mutex<BatchReplies>>,
        index: usize,
        /// Decodes a plain reply as the reader reads it.
        decoder: Option<ReturnDecoder>,
    },
}

impl Route {
    /// Hands `reply` over (for a batch, once all its replies are in).
    fn deliver(self, reply: Reply) {
        match self {
            Route::One(sender) => {
                let _ = sender.send(reply);
            }
            Route::Part { .. } => self.deliver_answer(reply.map(Answer::Raw)),
        }
    }

    /// Hands an answer over; only a batch's part takes one (a caller of one command gets
    /// the value as sent).
    fn deliver_answer(self, answer: BatchReply) {
        match self {
            Route::One(sender) => {
                let reply = match answer {
                    Ok(Answer::Raw(raw)) => Ok(raw),
                    Ok(Answer::Decoded(_)) => Err(QmpError::Protocol {
                        message: "a decoded reply for a single command".to_string(),
                        line: String::new(),
                    }),
                    Err(error) => Err(error),
                };
                let _ = sender.send(reply);
            }
            Route::Part { batch, index, .. } => {
                let mut batch = batch.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(slot) = batch.replies.get_mut(index)
                    && slot.is_none()
                {
                    *slot = Some(answer);
                    batch.left = batch.left.saturating_sub(1);
                }
                if batch.left == 0
                    && let Some(done) = batch.done.take()
                {
                    let replies = std::mem::take(&mut batch.replies);
                    let _ = done.send(replies.into_iter().flatten().collect());
                }
            }
        }
    }
}

struct PendingCall {
    /// Where the reply goes; `None` once the caller gave up (the reply is then dropped).
    reply: Option<Route>,
    /// Sent with its sequence number as `id` (otherwise routed by order).
    tagged: bool,
}

#[derive(Default)]
struct State {
    /// Calls waiting for replies, by sequence number: the order they went on the wire.
    pending: BTreeMap<u64, PendingCall>,
    /// The next command's sequence number.
    next_seq: u64,
    /// Id-less calls whose caller gave up before the reply came: while there are any, the
    /// order of replies cannot be trusted and new commands carry ids.
    abandoned_untagged: usize,
    /// Bytes queued for the writer.
    outgoing: Vec<u8>,
    /// The client is gone: the writer sends what is queued and shuts the socket's write side.
    hung_up: bool,
    /// Set once the connection is gone, with the reason.
    closed: Option<String>,
}

impl State {
    /// The sequence number of the oldest call sent without an id.
    fn oldest_untagged(&self) -> Option<u64> {
        self.pending
            .iter()
            .find(|(_, call)| !call.tagged)
            .map(|(&seq, _)| seq)
    }
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
    /// Wakes the writer: something was queued, the client hung up, or the connection closed.
    writer_wake: Notify,
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
            writer_wake: Notify::new(),
        })
    }

    /// A new subscriber to notices (nothing but the end, once the connection is closed).
    pub fn subscribe(&self) -> fanout::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one command for the writer and registers its caller, under one lock so that
    /// the pending map keeps the order of the wire. `encode` appends the command's line to
    /// the queue, with the given `id` when there must be one. Returns the command's sequence
    /// number (for [`Shared::forget`]) and where its reply will come; fails if the connection
    /// is gone.
    pub fn send(
        &self,
        encode: impl FnOnce(Option<u64>, &mut Vec<u8>),
    ) -> Result<(u64, oneshot::Receiver<Reply>), QmpError> {
        let receiver = {
            let mut state = self.state();
            if let Some(reason) = &state.closed {
                return Err(QmpError::Disconnected {
                    reason: reason.clone(),
                });
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            let tagged = state.abandoned_untagged > 0;
            encode(tagged.then_some(seq), &mut state.outgoing);
            let (reply, receiver) = oneshot::channel();
            state.pending.insert(
                seq,
                PendingCall {
                    reply: Some(Route::One(reply)),
                    tagged,
                },
            );
            (seq, receiver)
        };
        self.writer_wake.notify_one();
        Ok(receiver)
    }

    /// Queues `count` commands at once, like [`Shared::send`] each (`encode` is called with
    /// the command's index, and returns the decoder of its reply, if it has one), and
    /// registers one caller for all their replies: the receiver gets them together, in the
    /// order of the commands, once the last one is in. Returns the sequence numbers of the
    /// commands (for [`Shared::forget_all`]).
    pub fn send_batch(
        &self,
        count: usize,
        mut encode: impl FnMut(usize, Option<u64>, &mut Vec<u8>) -> Option<ReturnDecoder>,
    ) -> Result<(std::ops::Range<u64>, oneshot::Receiver<Vec<BatchReply>>), QmpError> {
        let (done, receiver) = oneshot::channel();
        let batch = Arc::new(Mutex::new(BatchReplies {
            replies: (0..count).map(|_| None).collect(),
            left: count,
            done: Some(done),
        }));
        let seqs = {
            let mut state = self.state();
            if let Some(reason) = &state.closed {
                return Err(QmpError::Disconnected {
                    reason: reason.clone(),
                });
            }
            let first = state.next_seq;
            let tagged = state.abandoned_untagged > 0;
            for index in 0..count {
                let seq = state.next_seq;
                state.next_seq += 1;
                let decoder = encode(index, tagged.then_some(seq), &mut state.outgoing);
                let route = Route::Part {
                    batch: batch.clone(),
                    index,
                    decoder,
                };
                state.pending.insert(
                    seq,
                    PendingCall {
                        reply: Some(route),
                        tagged,
                    },
                );
            }
            first..state.next_seq
        };
        self.writer_wake.notify_one();
        Ok((seqs, receiver))
    }

    /// Forgets a pending call (its caller gave up or timed out). A call sent without an id
    /// keeps its place in the order, so that its reply, if it comes, is dropped and not
    /// taken for the next one's.
    pub fn forget(&self, seq: u64) {
        self.forget_all(seq..seq + 1);
    }

    /// Forgets the pending calls `seqs` (a batch), under one lock, like [`Shared::forget`].
    pub fn forget_all(&self, seqs: std::ops::Range<u64>) {
        let mut state = self.state();
        for seq in seqs {
            let untagged = match state.pending.get_mut(&seq) {
                Some(call) if !call.tagged => {
                    if call.reply.take().is_none() {
                        continue;
                    }
                    true
                }
                Some(_) => false,
                None => continue,
            };
            if untagged {
                state.abandoned_untagged += 1;
            } else {
                state.pending.remove(&seq);
            }
        }
    }

    /// The client is gone: the writer sends what is queued, then shuts the write side.
    pub fn hang_up(&self) {
        self.state().hung_up = true;
        self.writer_wake.notify_one();
    }

    /// How many calls are waiting for replies.
    pub fn pending_count(&self) -> usize {
        self.state()
            .pending
            .values()
            .filter(|call| call.reply.is_some())
            .count()
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
            state.outgoing = Vec::new();
            std::mem::take(&mut state.pending)
        };
        self.closing.send_replace(true);
        self.writer_wake.notify_one();
        for route in drained.into_values().filter_map(|call| call.reply) {
            route.deliver(Err(QmpError::Disconnected {
                reason: reason.to_string(),
            }));
        }
        self.notices.send(Notice::Disconnected(reason.to_string()));
        self.notices.close();
    }

    /// Routes a reply: by id to the call sent with that id; without one, to the oldest call
    /// sent without an id (an id-less error, to the oldest call of any kind when no id-less
    /// one waits: QEMU could not read its id). A reply with an id this client did not send
    /// is dropped, but it came in its turn: the oldest id-less call loses its turn (it gets no
    /// reply, and times out), so the replies after it still find their callers.
    fn complete(&self, id: Option<u64>, reply: Reply) {
        let call = {
            let mut state = self.state();
            let seq = match id {
                Some(id) if state.pending.get(&id).is_some_and(|call| call.tagged) => Some(id),
                Some(_) => {
                    if let Some(oldest) = state.oldest_untagged()
                        && let Some(call) = state.pending.get_mut(&oldest)
                    {
                        if call.reply.is_some() {
                            call.tagged = true;
                        } else {
                            state.pending.remove(&oldest);
                            state.abandoned_untagged = state.abandoned_untagged.saturating_sub(1);
                        }
                    }
                    None
                }
                None => state.oldest_untagged().or_else(|| {
                    reply
                        .is_err()
                        .then(|| state.pending.keys().next().copied())
                        .flatten()
                }),
            };
            match seq.and_then(|seq| state.pending.remove(&seq)) {
                Some(call) => match call.reply {
                    Some(reply) => Some(reply),
                    None => {
                        // The reply of a call whose caller gave up: the order is back in
                        // step for it.
                        state.abandoned_untagged = state.abandoned_untagged.saturating_sub(1);
                        return;
                    }
                },
                None => None,
            }
        };
        match (call, reply) {
            (Some(route), reply) => route.deliver(reply),
            (None, Err(error)) => {
                self.notices.send(Notice::ProtocolError(error.to_string()));
            }
            (None, Ok(value)) => {
                let shown = super::message::shorten(value.get(), 200);
                tracing::warn!(?id, reply = %shown, "dropping a reply with an unknown id");
            }
        }
    }

    /// Decodes `line` in one pass when it is the plain reply of the oldest call sent without
    /// an id and that call came with a decoder; returns whether it did (and delivered it).
    /// Anything else (an event, an error, an id, another type) is left to [`Shared::dispatch`].
    fn complete_decoded(&self, line: &[u8]) -> bool {
        let (seq, decoder) = {
            let state = self.state();
            let Some(seq) = state.oldest_untagged() else {
                return false;
            };
            match state.pending.get(&seq).and_then(|call| call.reply.as_ref()) {
                Some(Route::Part {
                    decoder: Some(decoder),
                    ..
                }) => (seq, *decoder),
                _ => return false,
            }
        };
        let Some(value) = std::str::from_utf8(line).ok().and_then(decoder) else {
            return false;
        };
        let route = {
            let mut state = self.state();
            if state.oldest_untagged() != Some(seq) {
                return false;
            }
            match state.pending.remove(&seq).and_then(|call| call.reply) {
                Some(route) => route,
                None => {
                    // Its caller gave up meanwhile: the order is back in step for it.
                    state.abandoned_untagged = state.abandoned_untagged.saturating_sub(1);
                    return true;
                }
            }
        };
        route.deliver_answer(Ok(Answer::Decoded(value)));
        true
    }

    fn dispatch(&self, frame: Frame) {
        if let Frame::Line(line) = &frame
            && self.complete_decoded(line)
        {
            return;
        }
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
    /// The frames of one read, before they join `ready` (kept to reuse its allocation).
    framed: Vec<Frame>,
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
            framed: Vec::new(),
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
            self.framer.feed(&self.buffer[..read], &mut self.framed);
            self.ready.extend(self.framed.drain(..));
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

/// The most commands one write carries: a poll's three fast queries go out together, and a
/// flood of commands (keys held down) still goes out in small pieces, so a peer that stops
/// reading fills its socket's buffer (counted per write, not per byte) soon and is noticed.
const LINES_PER_WRITE: usize = 3;

/// Moves up to `lines` whole lines from the front of `queue` to `batch`.
fn take_lines(queue: &mut Vec<u8>, batch: &mut Vec<u8>, lines: usize) {
    let cut = queue
        .iter()
        .enumerate()
        .filter(|(_, byte)| **byte == b'\n')
        .nth(lines.saturating_sub(1))
        .map_or(queue.len(), |(at, _)| at + 1);
    if cut == queue.len() {
        std::mem::swap(queue, batch);
    } else {
        batch.extend_from_slice(&queue[..cut]);
        queue.drain(..cut);
    }
}

/// Runs the writer: sends what is queued, a few commands per write (a poll's commands go
/// out together). A write error, or a write that makes no progress for `stall` (QEMU stopped
/// reading), closes the connection: every pending call fails and the reader stops. When the
/// client hangs up, what is queued is sent and the write side shut.
pub async fn run_writer<W: AsyncWrite + Unpin>(mut write: W, shared: Arc<Shared>, stall: Duration) {
    let mut batch = Vec::new();
    loop {
        let hung_up = {
            let mut state = shared.state();
            if state.closed.is_some() {
                return;
            }
            take_lines(&mut state.outgoing, &mut batch, LINES_PER_WRITE);
            state.hung_up
        };
        if batch.is_empty() {
            if hung_up {
                break;
            }
            shared.writer_wake.notified().await;
            continue;
        }
        if let Err(reason) = write_line(&mut write, &batch, stall).await {
            shared.close(&reason);
            return;
        }
        batch.clear();
        // A burst of big commands does not keep its buffer for the connection's life.
        if batch.capacity() > MAX_READ_BUFFER {
            batch = Vec::new();
        }
    }
    let _ = write.shutdown().await;
}

/// Writes one or more lines, failing when a write makes no progress for `stall`.
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
