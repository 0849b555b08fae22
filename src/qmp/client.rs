//! The cheap-to-clone QMP client handle: connect, negotiate, execute, subscribe to events.
//!
//! Every command carries a numeric id and a timeout. Many tasks may call [`Client::execute`]
//! at once; replies find their caller through the pending map in [`super::connection`].

use super::abilities::Abilities;
use super::connection::{EventTap, FrameReader, Notice, Shared, run_reader, run_writer};
use super::fanout::{self, Received};
use super::framing::Frame;
use super::hmp;
use super::message::{Greeting, QemuVersion, QmpError, RawJson, decode_greeting};
use super::target::Target;
use super::types;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
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
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(5),
            greeting_timeout: Duration::from_secs(3),
            command_timeout: Duration::from_secs(5),
            event_tap: None,
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
            .finish()
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Inner {
    target: Target,
    abilities: Abilities,
    greeting: Greeting,
    peer_pid: Option<u32>,
    shared: Arc<Shared>,
    lines: mpsc::Sender<Vec<u8>>,
    next_id: AtomicU64,
    command_timeout: Duration,
    /// The receiver made before the reader started, handed to the first subscriber so that
    /// no event is missed between negotiation and subscription.
    first_subscription: Mutex<Option<fanout::Receiver<Notice>>>,
    reader: AbortHandle,
    /// Set when the monitor speaks HMP: commands go through the session, not `lines`.
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
    /// QMP: JSON lines for the writer task (over HMP a channel nobody reads).
    lines: mpsc::Sender<Vec<u8>>,
    /// HMP: the session that translates and runs commands one at a time.
    hmp: Option<hmp::Session>,
}

impl Client {
    fn assemble(parts: Parts, options: &ConnectOptions) -> Client {
        let abilities = match parts.hmp {
            Some(_) => Abilities::HMP,
            None => Abilities::QMP,
        };
        Client {
            inner: Arc::new(Inner {
                target: parts.target,
                abilities,
                greeting: parts.greeting,
                peer_pid: parts.peer_pid,
                shared: parts.shared,
                lines: parts.lines,
                next_id: AtomicU64::new(1),
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
        let (stream, peer_pid) = open(target, options.connect_timeout).await?;
        let result = Self::handshake(target.clone(), stream, peer_pid, options).await;
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
        stream: Box<dyn Stream>,
        peer_pid: Option<u32>,
        options: &ConnectOptions,
    ) -> Result<Client, QmpError> {
        let (mut read, write) = tokio::io::split(stream);
        let greeting_timeout = || QmpError::GreetingTimeout {
            target: target.to_string(),
            after: options.greeting_timeout,
        };
        let deadline = tokio::time::Instant::now() + options.greeting_timeout;
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
        let (lines, line_receiver) = mpsc::channel(256);
        // A write that makes no progress for a command's timeout means QEMU stopped reading.
        tokio::spawn(run_writer(
            write,
            line_receiver,
            shared.clone(),
            options.command_timeout,
        ));
        let reader = tokio::spawn(run_reader(reader, shared.clone())).abort_handle();
        let parts = Parts {
            target,
            peer_pid,
            greeting,
            shared,
            first_subscription: first_receiver,
            reader,
            lines,
            hmp: None,
        };
        let client = Client::assemble(parts, options);
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
            lines: mpsc::channel(1).0,
            hmp: Some(session),
        };
        Client::assemble(parts, options)
    }

    /// The target this client is connected to.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// What this connection can do (events, pipelining, whether it holds the socket).
    pub fn abilities(&self) -> Abilities {
        self.inner.abilities
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
    /// QEMU sent it, not decoded (for replies that may be big).
    pub async fn execute_raw(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<RawJson, QmpError> {
        if let Some(session) = &self.inner.hmp {
            return session.execute(command, arguments, timeout).await;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            message["arguments"] = arguments;
        }
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        let receiver = self.inner.shared.register(id)?;
        let _forget_on_exit = ForgetGuard {
            shared: &self.inner.shared,
            id,
        };
        let disconnected = || QmpError::Disconnected {
            reason: self
                .closed_reason()
                .unwrap_or_else(|| "the connection task ended".to_string()),
        };
        // The timeout covers the wait for room in the queue too: a peer that stops reading
        // fills the socket buffer and then the queue.
        let call = async {
            self.inner
                .lines
                .send(line)
                .await
                .map_err(|_| disconnected())?;
            receiver.await.map_err(|_| disconnected())?
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(reply) => reply,
            Err(_) => Err(QmpError::Timeout {
                command: command.to_string(),
                after: timeout,
            }),
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
    id: u64,
}

impl Drop for ForgetGuard<'_> {
    fn drop(&mut self) {
        self.shared.forget(self.id);
    }
}

/// Decodes a reply into `T`, naming the command on failure.
pub fn decode_reply<T: DeserializeOwned>(command: &str, reply: &RawJson) -> Result<T, QmpError> {
    reply.decode().map_err(|error| QmpError::Protocol {
        message: format!("cannot decode the reply to {command}: {error}"),
        line: super::message::shorten(reply.get(), 200),
    })
}

async fn open(
    target: &Target,
    connect_timeout: Duration,
) -> Result<(Box<dyn Stream>, Option<u32>), QmpError> {
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
        }
    };
    tokio::time::timeout(connect_timeout, attempt)
        .await
        .map_err(|_| {
            fail(format!(
                "no answer within {:.1} s",
                connect_timeout.as_secs_f64()
            ))
        })?
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
