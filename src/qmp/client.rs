//! The cheap-to-clone QMP client handle: connect, negotiate, execute, subscribe to events.
//!
//! Every command has a timeout. Many tasks may call [`Client::execute`] at once; replies find
//! their caller through the pending map in [`super::connection`], by order, or by id while
//! the order cannot be trusted. When the greeting offers `oob`, it is negotiated (QEMU then
//! reads commands on its monitor thread, which costs it less per request); a proxy that
//! offers it without doing it can turn this off ([`ConnectOptions::oob`]).
//!
//! Some peers take one command at a time (libvirt's QMP proxy parses its buffer as one JSON
//! document, so pipelined commands are never answered). For them the client keeps one command
//! in flight: known up front for libvirt targets, and learnt when pipelined commands to a peer
//! that greets like libvirt's proxy time out (the connection is then closed, since such a peer
//! never recovers, and the target is remembered for the rest of the session). A QEMU that
//! stops answering greets like QEMU, so it is never taken for such a proxy.

use super::abilities::Abilities;
use super::connection::{
    Answer, BatchReply, EventTap, FrameReader, Notice, Shared, run_reader, run_writer,
};
use super::fanout::{self, Received};
use super::framing::Frame;
use super::hmp;
use super::message::{
    Greeting, QemuVersion, QmpError, RawJson, ReturnDecoder, decode_greeting, decode_return,
};
use super::target::Target;
use super::types;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::task::AbortHandle;

/// Timeouts and limits for a connection.
#[derive(Clone)]
pub struct ConnectOptions {
    /// How long to wait for the socket to open.
    pub connect_timeout: Duration,
    /// How long to wait for QEMU's greeting before concluding another client holds the socket.
    pub greeting_timeout: Duration,
    /// Timeout for commands that do not name their own.
    pub command_timeout: Duration,
    /// Called with every event as it is read (see [`EventTap`]).
    pub event_tap: Option<EventTap>,
    /// Negotiate the `oob` capability when the greeting offers it.
    pub oob: bool,
    /// The libvirt connection URI for `libvirt:` targets (`None`: `LIBVIRT_DEFAULT_URI`, else
    /// `qemu:///system`).
    pub libvirt_uri: Option<String>,
    /// Polite mode: the caller dials the socket for each poll and lets it go, so no events
    /// arrive and the socket is not held ([`Abilities`] says so).
    pub polite: bool,
}

/// The shortest greeting timeout for peers known to greet slowly (libvirt's QMP proxy can
/// take 4 to 5 s).
pub const SLOW_PEER_GREETING: Duration = Duration::from_secs(15);

/// Targets that answered pipelined commands with silence: one command at a time from then on.
static ONE_AT_A_TIME: Mutex<BTreeSet<Target>> = Mutex::new(BTreeSet::new());

/// True when `target` is known to take one command at a time.
fn takes_one_at_a_time(target: &Target) -> bool {
    matches!(target, Target::Libvirt { .. })
        || ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(target)
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(5),
            greeting_timeout: Duration::from_secs(3),
            command_timeout: Duration::from_secs(5),
            event_tap: None,
            oob: true,
            libvirt_uri: None,
            polite: false,
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("greeting_timeout", &self.greeting_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("event_tap", &self.event_tap.is_some())
            .field("oob", &self.oob)
            .field("libvirt_uri", &self.libvirt_uri)
            .field("polite", &self.polite)
            .finish()
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Inner {
    target: Target,
    abilities: Abilities,
    /// Cleared when the peer turns out to take one command at a time.
    pipelining: AtomicBool,
    /// The greeting looks like libvirt's QMP proxy's: pipelined commands that get no reply
    /// mean it takes one command at a time.
    may_take_one_at_a_time: bool,
    /// Held by the command in flight while pipelining is off.
    turn: tokio::sync::Semaphore,
    /// The proxy serving a `libvirt:` target; killed when the last clone is dropped.
    _proxy: Option<crate::libvirt::Proxy>,
    greeting: Greeting,
    peer_pid: Option<u32>,
    shared: Arc<Shared>,
    command_timeout: Duration,
    /// The receiver made before the reader started, handed to the first subscriber so that
    /// no event is missed between negotiation and subscription.
    first_subscription: Mutex<Option<fanout::Receiver<Notice>>>,
    reader: AbortHandle,
    /// Set when the monitor speaks HMP: commands go through the session, not the QMP
    /// writer's queue.
    hmp: Option<hmp::Session>,
}

/// What every client is made of, whichever dialect its monitor speaks.
struct Parts {
    target: Target,
    peer_pid: Option<u32>,
    greeting: Greeting,
    shared: Arc<Shared>,
    first_subscription: fanout::Receiver<Notice>,
    reader: AbortHandle,
    /// HMP: the session that translates and runs commands one at a time.
    hmp: Option<hmp::Session>,
    /// The proxy serving a `libvirt:` target.
    proxy: Option<crate::libvirt::Proxy>,
}

impl Client {
    fn assemble(parts: Parts, options: &ConnectOptions) -> Client {
        let dialect = match parts.hmp {
            Some(_) => Abilities::HMP,
            None => Abilities::QMP,
        };
        // Polite mode lets go of the socket between polls: no events can arrive.
        let abilities = Abilities {
            events: dialect.events && !options.polite,
            holds_socket: !options.polite,
            ..dialect
        };
        let one_at_a_time = takes_one_at_a_time(&parts.target);
        Client {
            inner: Arc::new(Inner {
                may_take_one_at_a_time: greets_like_libvirts_proxy(&parts.greeting),
                pipelining: AtomicBool::new(abilities.pipelining && !one_at_a_time),
                turn: tokio::sync::Semaphore::new(1),
                _proxy: parts.proxy,
                target: parts.target,
                abilities,
                greeting: parts.greeting,
                peer_pid: parts.peer_pid,
                shared: parts.shared,
                command_timeout: options.command_timeout,
                first_subscription: Mutex::new(Some(parts.first_subscription)),
                reader: parts.reader,
                hmp: parts.hmp,
            }),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.hang_up();
        self.reader.abort();
    }
}

/// A connected, negotiated QMP session. Clones share the connection.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A stream of [`Notice`]s for one subscriber.
pub struct Subscription {
    receiver: fanout::Receiver<Notice>,
}

impl Subscription {
    /// The next notice; `None` once the connection is gone and everything was delivered.
    /// Falling behind yields [`Notice::Missed`] with the number of notices lost.
    pub async fn recv(&mut self) -> Option<Notice> {
        match self.receiver.recv().await {
            Received::Item(notice) => Some(notice),
            Received::Missed(missed) => Some(Notice::Missed(missed)),
            Received::Closed => None,
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.inner.target)
            .field("version", &self.inner.greeting.version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `target`, reads the greeting and negotiates capabilities.
    pub async fn connect(target: &Target, options: &ConnectOptions) -> Result<Client, QmpError> {
        let opened = open(target, options).await?;
        let result = Self::handshake(target.clone(), opened, options).await;
        match (result, target) {
            // A forwarded socket accepts at once and closes when the remote end fails: ask
            // the host why.
            (Err(error), Target::Ssh { host, path }) if error.is_disconnect() => {
                Err(QmpError::Connect {
                    target: target.to_string(),
                    reason: crate::ssh::diagnose_socket(host, path).await.to_string(),
                })
            }
            (result, _) => result,
        }
    }

    async fn handshake(
        target: Target,
        opened: Opened,
        options: &ConnectOptions,
    ) -> Result<Client, QmpError> {
        let Opened {
            stream,
            peer_pid,
            proxy,
        } = opened;
        // libvirt's proxy greets late (its event loop wakes late).
        let greeting_wait = if proxy.is_some() {
            options.greeting_timeout.max(SLOW_PEER_GREETING)
        } else {
            options.greeting_timeout
        };
        let (mut read, write) = tokio::io::split(stream);
        let greeting_timeout = || QmpError::GreetingTimeout {
            target: target.to_string(),
            after: greeting_wait,
        };
        let deadline = tokio::time::Instant::now() + greeting_wait;
        // The first line says which dialect the monitor speaks.
        let preface = tokio::time::timeout_at(deadline, hmp::read_first_line(&mut read))
            .await
            .map_err(|_| greeting_timeout())??;
        if let Some(version) = hmp::is_banner(&preface) {
            return Ok(Self::hmp_session(
                target, read, write, preface, peer_pid, version, options,
            ));
        }
        let mut reader = FrameReader::new(std::io::Cursor::new(preface).chain(read));
        let first = tokio::time::timeout_at(deadline, reader.next_frame())
            .await
            .map_err(|_| greeting_timeout())?;
        let greeting = match first? {
            Some(Frame::Line(line)) => decode_greeting(&line)?,
            Some(Frame::TooLong(seen)) => {
                return Err(QmpError::LineTooLong {
                    seen,
                    limit: super::framing::MAX_LINE_BYTES,
                });
            }
            None => {
                return Err(QmpError::Disconnected {
                    reason: "the peer closed the connection before sending a QMP greeting"
                        .to_string(),
                });
            }
        };
        let shared = Shared::new(options.event_tap.clone());
        let first_receiver = shared.subscribe();
        // A write that makes no progress for a command's timeout means QEMU stopped reading.
        tokio::spawn(run_writer(write, shared.clone(), options.command_timeout));
        let reader = tokio::spawn(run_reader(reader, shared.clone())).abort_handle();
        let parts = Parts {
            target,
            peer_pid,
            greeting,
            shared,
            first_subscription: first_receiver,
            reader,
            hmp: None,
            proxy,
        };
        let client = Client::assemble(parts, options);
        let offers_oob = client
            .inner
            .greeting
            .capabilities
            .iter()
            .any(|c| c == "oob");
        // libvirt's proxy offers oob without doing it.
        let oob = options.oob && offers_oob && !client.inner.may_take_one_at_a_time;
        if oob {
            let enable = json!({"enable": ["oob"]});
            match client.execute("qmp_capabilities", Some(enable)).await {
                Ok(_) => return Ok(client),
                // Offered but refused: negotiate without it.
                Err(QmpError::Qemu { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        client.execute("qmp_capabilities", None).await?;
        Ok(client)
    }

    /// A client over an HMP monitor whose banner was `preface`.
    fn hmp_session(
        target: Target,
        read: ReadHalf<Box<dyn Stream>>,
        write: WriteHalf<Box<dyn Stream>>,
        preface: Vec<u8>,
        peer_pid: Option<u32>,
        version: QemuVersion,
        options: &ConnectOptions,
    ) -> Client {
        let shared = Shared::new(options.event_tap.clone());
        let first_receiver = shared.subscribe();
        let (session, reader) = hmp::Session::start(
            read,
            write,
            preface,
            shared.clone(),
            version.clone(),
            options.command_timeout,
        );
        let parts = Parts {
            target,
            peer_pid,
            greeting: Greeting {
                version,
                capabilities: Vec::new(),
            },
            shared,
            first_subscription: first_receiver,
            reader,
            hmp: Some(session),
            proxy: None,
        };
        Client::assemble(parts, options)
    }

    /// The target this client is connected to.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// What this connection can do (events, pipelining, whether it holds the socket).
    pub fn abilities(&self) -> Abilities {
        Abilities {
            pipelining: self.inner.pipelining.load(Ordering::Relaxed),
            ..self.inner.abilities
        }
    }

    /// QEMU's greeting (version and capabilities).
    pub fn greeting(&self) -> &Greeting {
        &self.inner.greeting
    }

    /// The pid of the QEMU process, when known (unix sockets on this host).
    pub fn peer_pid(&self) -> Option<u32> {
        self.inner.peer_pid
    }

    /// Total events read on this connection, including any a subscriber missed.
    pub fn events_seen(&self) -> u64 {
        self.inner.shared.events_seen()
    }

    /// Why the connection closed, or `None` while it is open.
    pub fn closed_reason(&self) -> Option<String> {
        self.inner.shared.closed_reason()
    }

    /// The timeout of commands that do not name their own.
    pub fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    /// Commands sent and still waiting for a reply.
    pub fn pending_count(&self) -> usize {
        self.inner.shared.pending_count()
    }

    /// Subscribes to events and connection notices. The first call receives everything since
    /// the connection opened; later calls receive what arrives from then on.
    pub fn subscribe(&self) -> Subscription {
        let first = self
            .inner
            .first_subscription
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Subscription {
            receiver: first.unwrap_or_else(|| self.inner.shared.subscribe()),
        }
    }

    /// Runs `command` with optional `arguments` and the default timeout.
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
    ) -> Result<Value, QmpError> {
        self.execute_with_timeout(command, arguments, self.inner.command_timeout)
            .await
    }

    /// Runs `command` with optional `arguments`, failing with `Timeout` after `timeout`.
    pub async fn execute_with_timeout(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, QmpError> {
        let reply = self.execute_raw(command, arguments, timeout).await?;
        decode_reply(command, &reply)
    }

    /// Runs `command` like [`Client::execute_with_timeout`], returning the reply's value as
    /// QEMU sent it, not decoded (for replies that may be big). With pipelining off, waits
    /// for the command in flight first (within `timeout`).
    pub async fn execute_raw(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<RawJson, QmpError> {
        if let Some(session) = &self.inner.hmp {
            return session.execute(command, arguments, timeout).await;
        }
        if !self.inner.pipelining.load(Ordering::Relaxed) {
            let started = tokio::time::Instant::now();
            let turn = tokio::time::timeout(timeout, self.inner.turn.acquire())
                .await
                .map_err(|_| QmpError::Timeout {
                    command: command.to_string(),
                    after: timeout,
                })?;
            let _turn = turn.map_err(|_| QmpError::Disconnected {
                reason: "the connection task ended".to_string(),
            })?;
            let left = timeout.saturating_sub(started.elapsed());
            return self.exchange(command, arguments, left, timeout).await;
        }
        let others_in_flight = self.pending_count() > 0;
        let result = self.exchange(command, arguments, timeout, timeout).await;
        if let Err(QmpError::Timeout { .. }) = &result
            && self.inner.may_take_one_at_a_time
            && (others_in_flight || self.pending_count() > 0)
        {
            self.fall_back_to_one_at_a_time();
        }
        result
    }

    /// Pipelined commands got no reply: the peer takes one command at a time. Such a peer
    /// (libvirt's proxy) never answers again on this connection, so it is closed; the target
    /// is remembered, and the next connection keeps one command in flight.
    fn fall_back_to_one_at_a_time(&self) {
        let newly = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.inner.target.clone());
        self.inner.pipelining.store(false, Ordering::Relaxed);
        if newly {
            tracing::warn!(target = %self.inner.target, "pipelined commands got no reply: one command at a time from now on");
        }
        self.inner.shared.close(FELL_BACK);
    }

    /// Sends one command and waits for its reply, for at most `wait`; a timeout names
    /// `timeout`, the caller's whole budget.
    async fn exchange(
        &self,
        command: &str,
        arguments: Option<Value>,
        wait: Duration,
        timeout: Duration,
    ) -> Result<RawJson, QmpError> {
        let (seq, receiver) = self
            .inner
            .shared
            .send(|id, out| encode_command(command, arguments.as_ref(), id, out))?;
        let _forget_on_exit = ForgetGuard {
            shared: &self.inner.shared,
            seq,
        };
        let disconnected = || QmpError::Disconnected {
            reason: self
                .closed_reason()
                .unwrap_or_else(|| "the connection task ended".to_string()),
        };
        // A peer that stops reading leaves the command queued: the timeout covers that too.
        let call = async { receiver.await.map_err(|_| disconnected())? };
        match tokio::time::timeout(wait, call).await {
            Ok(reply) => reply,
            Err(_) => Err(QmpError::Timeout {
                command: command.to_string(),
                after: timeout,
            }),
        }
    }

    /// Runs several argument-less `commands` (queries) as one batch within one `timeout`:
    /// they go out in one write and their replies come back together, one wake-up and one
    /// timer for the lot. Returns each command's own result, in order; fails as a whole when
    /// the connection is gone or the replies do not all come within `timeout` (naming the
    /// first command left unanswered). Peers that take one command at a time (and HMP) run
    /// them one after the other within the same `timeout`.
    pub async fn execute_batch(
        &self,
        commands: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Result<RawJson, QmpError>>, QmpError> {
        let commands: Vec<(&str, Option<ReturnDecoder>)> =
            commands.iter().map(|command| (*command, None)).collect();
        let answers = self.answer_batch(&commands, timeout).await?;
        Ok(answers
            .into_iter()
            .map(|answer| match answer {
                Ok(Answer::Raw(raw)) => Ok(raw),
                Ok(Answer::Decoded(_)) => Err(QmpError::Protocol {
                    message: "a decoded reply to an undecoded command".to_string(),
                    line: String::new(),
                }),
                Err(error) => Err(error),
            })
            .collect())
    }

    /// Starts a batch of typed queries ([`Client::execute_batch`]): each reply that is a
    /// plain `return` is decoded as the connection reads it, in one pass over the line.
    pub fn query_batch(&self) -> QueryBatch<'_> {
        QueryBatch {
            client: self,
            commands: Vec::new(),
        }
    }

    /// Runs argument-less `commands`, each with the decoder of its reply, as one batch (see
    /// [`Client::execute_batch`]).
    async fn answer_batch(
        &self,
        commands: &[(&str, Option<ReturnDecoder>)],
        timeout: Duration,
    ) -> Result<Vec<BatchReply>, QmpError> {
        if self.inner.hmp.is_some() || !self.inner.pipelining.load(Ordering::Relaxed) {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut results = Vec::with_capacity(commands.len());
            for (command, _) in commands {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let result = match self.execute_raw(command, None, left).await {
                    Err(QmpError::Timeout { command, .. }) => {
                        return Err(QmpError::Timeout {
                            command,
                            after: timeout,
                        });
                    }
                    Err(error) if error.is_disconnect() => return Err(error),
                    result => result,
                };
                results.push(result.map(Answer::Raw));
            }
            return Ok(results);
        }
        let (seqs, receiver) = self
            .inner
            .shared
            .send_batch(commands.len(), |index, id, out| {
                let (command, decoder) = commands.get(index).copied().unwrap_or_default();
                encode_command(command, None, id, out);
                decoder
            })?;
        let _forget_on_exit = BatchForgetGuard {
            shared: &self.inner.shared,
            seqs,
        };
        match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(mut replies)) => {
                let lost = replies
                    .iter()
                    .position(|reply| reply.as_ref().is_err_and(QmpError::is_disconnect));
                if let Some(Err(error)) = lost.map(|at| replies.swap_remove(at)) {
                    return Err(error);
                }
                Ok(replies)
            }
            Ok(Err(_)) => Err(QmpError::Disconnected {
                reason: self
                    .closed_reason()
                    .unwrap_or_else(|| "the connection task ended".to_string()),
            }),
            Err(_) => {
                if self.inner.may_take_one_at_a_time && commands.len() > 1 {
                    self.fall_back_to_one_at_a_time();
                }
                Err(QmpError::Timeout {
                    command: commands
                        .first()
                        .map(|(command, _)| command.to_string())
                        .unwrap_or_default(),
                    after: timeout,
                })
            }
        }
    }

    /// Runs `command` and decodes its reply straight into `T`.
    pub async fn query<T: DeserializeOwned>(&self, command: &str) -> Result<T, QmpError> {
        let reply = self
            .execute_raw(command, None, self.inner.command_timeout)
            .await?;
        decode_reply(command, &reply)
    }

    /// `query-status`.
    pub async fn query_status(&self) -> Result<types::StatusInfo, QmpError> {
        self.query("query-status").await
    }

    /// `query-cpus-fast`.
    pub async fn query_cpus_fast(&self) -> Result<Vec<types::CpuInfo>, QmpError> {
        self.query("query-cpus-fast").await
    }

    /// `query-blockstats`.
    pub async fn query_blockstats(&self) -> Result<Vec<types::BlockStats>, QmpError> {
        self.query("query-blockstats").await
    }

    /// `query-block`.
    pub async fn query_block(&self) -> Result<Vec<types::BlockInfo>, QmpError> {
        self.query("query-block").await
    }

    /// `query-name`.
    pub async fn query_name(&self) -> Result<types::NameInfo, QmpError> {
        self.query("query-name").await
    }

    /// `query-version`.
    pub async fn query_version(&self) -> Result<types::VersionInfo, QmpError> {
        self.query("query-version").await
    }

    /// `query-memory-size-summary`.
    pub async fn query_memory_size_summary(&self) -> Result<types::MemorySizeSummary, QmpError> {
        self.query("query-memory-size-summary").await
    }

    /// `query-balloon` (an error with class `DeviceNotActive` when there is no balloon).
    pub async fn query_balloon(&self) -> Result<types::BalloonInfo, QmpError> {
        self.query("query-balloon").await
    }

    /// `query-jobs`.
    pub async fn query_jobs(&self) -> Result<Vec<types::JobInfo>, QmpError> {
        self.query("query-jobs").await
    }

    /// `query-commands`: the names of the commands this QEMU offers.
    pub async fn query_command_names(&self) -> Result<Vec<String>, QmpError> {
        let commands: Vec<types::CommandInfo> = self.query("query-commands").await?;
        Ok(commands.into_iter().map(|c| c.name).collect())
    }
}

struct ForgetGuard<'a> {
    shared: &'a Shared,
    seq: u64,
}

/// A batch of typed queries being put together ([`Client::query_batch`]).
pub struct QueryBatch<'a> {
    client: &'a Client,
    commands: Vec<(&'static str, Option<ReturnDecoder>)>,
}

impl QueryBatch<'_> {
    /// Adds `command`, whose reply is a `T`.
    pub fn query<T: DeserializeOwned + Send + 'static>(mut self, command: &'static str) -> Self {
        self.commands.push((command, Some(decode_return::<T>)));
        self
    }

    /// Runs the batch within `timeout`; take each reply with [`Replies::take`], in order.
    pub async fn run(self, timeout: Duration) -> Result<Replies, QmpError> {
        let answers = self.client.answer_batch(&self.commands, timeout).await?;
        Ok(Replies {
            commands: self.commands.into_iter().map(|(c, _)| c).collect(),
            answers: answers.into_iter(),
            taken: 0,
        })
    }
}

/// The replies of a [`QueryBatch`], taken in the order of its queries.
pub struct Replies {
    commands: Vec<&'static str>,
    answers: std::vec::IntoIter<BatchReply>,
    taken: usize,
}

impl Replies {
    /// The next query's reply as a `T` (the type it was added with).
    pub fn take<T: DeserializeOwned + 'static>(&mut self) -> Result<T, QmpError> {
        let command = self.commands.get(self.taken).copied().unwrap_or_default();
        self.taken += 1;
        match self.answers.next() {
            Some(Ok(Answer::Decoded(value))) => {
                value
                    .downcast::<T>()
                    .map(|value| *value)
                    .map_err(|_| QmpError::Protocol {
                        message: format!("the reply to {command} was decoded as another type"),
                        line: String::new(),
                    })
            }
            Some(Ok(Answer::Raw(raw))) => decode_reply(command, &raw),
            Some(Err(error)) => Err(error),
            None => Err(QmpError::Protocol {
                message: format!("no reply to {command} in its batch"),
                line: String::new(),
            }),
        }
    }
}

/// Forgets the commands of a batch whose caller gave up (or is done: forgetting an answered
/// command does nothing).
struct BatchForgetGuard<'a> {
    shared: &'a Shared,
    seqs: std::ops::Range<u64>,
}

impl Drop for BatchForgetGuard<'_> {
    fn drop(&mut self) {
        self.shared.forget_all(self.seqs.clone());
    }
}

impl Drop for ForgetGuard<'_> {
    fn drop(&mut self) {
        self.shared.forget(self.seq);
    }
}

/// Appends one command line to `out`: `{"execute":"query-status"}`, with `arguments` and
/// `id` only when there are some. Built straight into the queue, no `Value` tree.
pub fn encode_command(
    command: &str,
    arguments: Option<&Value>,
    id: Option<u64>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"{\"execute\":");
    let plain = command
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        out.push(b'"');
        out.extend_from_slice(command.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(Value::from(command).to_string().as_bytes());
    }
    if let Some(arguments) = arguments {
        out.extend_from_slice(b",\"arguments\":");
        out.extend_from_slice(arguments.to_string().as_bytes());
    }
    if let Some(id) = id {
        out.extend_from_slice(format!(",\"id\":{id}").as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

/// Decodes a reply into `T`, naming the command on failure.
pub fn decode_reply<T: DeserializeOwned>(command: &str, reply: &RawJson) -> Result<T, QmpError> {
    reply.decode().map_err(|error| QmpError::Protocol {
        message: format!("cannot decode the reply to {command}: {error}"),
        line: super::message::shorten(reply.get(), 200),
    })
}

/// True when `greeting` is the one libvirt's `virt-qemu-qmp-proxy` makes up: its package is
/// `qemu-MAJOR.MINOR.MICRO` (QEMU itself sends its build's package string, often empty or a
/// distribution's).
pub fn greets_like_libvirts_proxy(greeting: &Greeting) -> bool {
    let version = &greeting.version;
    version.package == format!("qemu-{}.{}.{}", version.major, version.minor, version.micro)
}

/// Why a connection was closed after pipelined commands got no reply.
pub const FELL_BACK: &str = "the peer takes one command at a time (pipelined commands got no \
     reply); reconnecting with one command in flight";

/// An open byte stream to a QMP server.
struct Opened {
    stream: Box<dyn Stream>,
    /// QEMU's pid, when known.
    peer_pid: Option<u32>,
    /// The proxy serving the stream, for `libvirt:` targets.
    proxy: Option<crate::libvirt::Proxy>,
}

async fn open(target: &Target, options: &ConnectOptions) -> Result<Opened, QmpError> {
    let connect_timeout = options.connect_timeout;
    let fail = |reason: String| QmpError::Connect {
        target: target.to_string(),
        reason,
    };
    // Over ssh, the host's connection and the forward come first, with their own timeouts
    // (authentication may take a while); then the local end is opened like any socket.
    let forwarded = match target {
        Target::Ssh { host, path } => Some(
            crate::ssh::forward(host, path)
                .await
                .map_err(|error| fail(error.to_string()))?,
        ),
        _ => None,
    };
    if let Target::Libvirt { domain } = target {
        let uri = crate::libvirt::resolve_uri(options.libvirt_uri.as_deref());
        let started = crate::libvirt::Proxy::start(domain, &uri)
            .await
            .map_err(|error| fail(error.to_string()))?;
        let pid = crate::libvirt::qemu_pid(domain, &uri);
        let stream = tokio::time::timeout(
            connect_timeout,
            tokio::net::UnixStream::connect(started.socket()),
        )
        .await
        .map_err(|_| fail("the proxy's socket did not accept".to_string()))?
        .map_err(|error| fail(format!("the proxy's socket: {error}")))?;
        return Ok(Opened {
            stream: Box::new(stream),
            peer_pid: pid,
            proxy: Some(started),
        });
    }
    let attempt = async {
        match target {
            Target::Unix(path) => {
                check_socket_path(path).map_err(fail)?;
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|error| fail(describe_unix_error(path, &error)))?;
                let pid = stream
                    .peer_cred()
                    .ok()
                    .and_then(|cred| cred.pid())
                    .and_then(|pid| u32::try_from(pid).ok())
                    .filter(|&pid| pid > 0);
                Ok((Box::new(stream) as Box<dyn Stream>, pid))
            }
            Target::Tcp { host, port } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|error| fail(describe_tcp_error(host, *port, &error)))?;
                let _ = stream.set_nodelay(true);
                Ok((Box::new(stream) as Box<dyn Stream>, None))
            }
            Target::Ssh { .. } => {
                let local = forwarded.unwrap_or_default();
                let stream = tokio::net::UnixStream::connect(&local)
                    .await
                    .map_err(|error| fail(format!("the forwarded socket: {error}")))?;
                // Its peer is the local ssh, not QEMU: no pid from it.
                Ok((Box::new(stream) as Box<dyn Stream>, None))
            }
            Target::Libvirt { .. } => Err(fail("opened through its proxy".to_string())),
        }
    };
    let (stream, peer_pid) = tokio::time::timeout(connect_timeout, attempt)
        .await
        .map_err(|_| {
            fail(format!(
                "no answer within {:.1} s",
                connect_timeout.as_secs_f64()
            ))
        })??;
    Ok(Opened {
        stream,
        peer_pid,
        proxy: None,
    })
}

fn check_socket_path(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Ok(()),
        Ok(meta) if meta.is_dir() => {
            Err(format!("{} is a directory, not a socket", path.display()))
        }
        Ok(_) => Err(format!(
            "{} is not a socket (is it the right path? QEMU creates it with -qmp unix:PATH,server=on,wait=off)",
            path.display()
        )),
        Err(error) => Err(describe_unix_error(path, &error)),
    }
}

fn describe_unix_error(path: &std::path::Path, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let path = path.display();
    match error.kind() {
        ErrorKind::NotFound => format!(
            "no socket at {path} (is QEMU running with -qmp unix:{path},server=on,wait=off?)"
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied on {path} (run as the user that owns QEMU's socket, or change its permissions)"
        ),
        ErrorKind::ConnectionRefused => format!(
            "nothing is listening on {path} (QEMU has exited and left the socket file behind?)"
        ),
        ErrorKind::WouldBlock => format!(
            "{path} is busy: another client probably holds this socket (a QMP socket serves one \
             client at a time). Give qemu-dash its own socket: add \
             `-qmp unix:/tmp/vm-dash.qmp,server=on,wait=off` to QEMU's command line"
        ),
        _ => format!("{path}: {error}"),
    }
}

fn describe_tcp_error(host: &str, port: u16, error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => format!(
            "connection refused (is QEMU running with -qmp tcp:{host}:{port},server=on,wait=off?)"
        ),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirts_proxy_is_told_from_qemu_by_its_greeting() {
        let greeting = |package: &str| Greeting {
            version: super::super::QemuVersion {
                major: 7,
                minor: 2,
                micro: 22,
                package: package.to_string(),
            },
            capabilities: vec!["oob".to_string()],
        };
        assert!(greets_like_libvirts_proxy(&greeting("qemu-7.2.22")));
        assert!(!greets_like_libvirts_proxy(&greeting(
            "Debian 1:7.2+dfsg-7+deb12u7"
        )));
        assert!(!greets_like_libvirts_proxy(&greeting("")));
        assert!(!greets_like_libvirts_proxy(&greeting("qemu-7.2.0")));
    }
}
