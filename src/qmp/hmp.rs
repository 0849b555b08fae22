//! The human monitor (HMP) as a dialect of the monitor socket: `-monitor unix:…` without
//! `-qmp`, as tutorials, quickemu and QEMU-in-Docker images set QEMU up.
//!
//! A [`Session`] owns the socket once [`is_banner`] has recognised HMP's first line. It runs
//! one command at a time: it writes the command line, reads until the next `(qemu) ` prompt,
//! and drops QEMU's echo of the line (readline redraws it with escape sequences, so the
//! output starts after the first CRLF). [`translate`] turns the QMP commands the rest of the
//! program sends into HMP lines and [`parse`] reads the text back into QMP's reply shapes, so
//! collectors, controls and snapshots work unchanged. HMP has no events; the connection's
//! [`super::Abilities`] say so. This module never imports the UI.

pub mod parse;
pub mod translate;

use super::connection::Shared;
use super::framing::MAX_LINE_BYTES;
use super::message::{QemuVersion, QmpError, RawJson};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

/// The prompt HMP prints when it is ready for the next command.
const PROMPT: &[u8] = b"(qemu) ";

/// How much of the first line [`read_first_line`] reads at most before giving up on finding
/// its end (a QMP greeting is a few hundred bytes; the QMP reader then handles the rest).
const FIRST_LINE_LIMIT: usize = 64 * 1024;

/// Reads from a fresh monitor connection until its first line is complete (or the peer
/// closes, or [`FIRST_LINE_LIMIT`] bytes came without a newline). Returns every byte read,
/// which may go past the line: the dialect's reader starts with them.
pub async fn read_first_line<R: AsyncRead + Unpin>(read: &mut R) -> Result<Vec<u8>, QmpError> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    while !bytes.contains(&b'\n') && bytes.len() < FIRST_LINE_LIMIT {
        match read.read(&mut chunk).await? {
            0 => break,
            read => bytes.extend_from_slice(&chunk[..read]),
        }
    }
    Ok(bytes)
}

/// What QEMU's HMP monitor says first: `QEMU 7.2.22 monitor - type 'help' for more
/// information`. Returns the version it names, or `None` for anything else (a QMP greeting).
/// `preface` is what the connection sent first; only its first line is looked at.
pub fn is_banner(preface: &[u8]) -> Option<QemuVersion> {
    let first_line = preface.split(|&byte| byte == b'\n').next()?;
    let line = String::from_utf8_lossy(first_line);
    // A telnet monitor (`-monitor telnet:…`) sends its option negotiation before the banner.
    let rest = &line[line.find("QEMU ")? + "QEMU ".len()..];
    let (version, tail) = rest.split_once(' ')?;
    if !tail.starts_with("monitor") {
        return None;
    }
    let mut numbers = version.split('.').map(|part| {
        part.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    });
    Some(QemuVersion {
        major: numbers.next().unwrap_or(0),
        minor: numbers.next().unwrap_or(0),
        micro: numbers.next().unwrap_or(0),
        package: String::new(),
    })
}

/// One command for the session task.
struct Request {
    line: String,
    quits: bool,
    reply: oneshot::Sender<Result<String, QmpError>>,
}

/// A running HMP session: commands go to its task one at a time.
pub struct Session {
    requests: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    version: QemuVersion,
}

impl Session {
    /// Starts the task that owns the socket. `read` continues after `preface` (bytes already
    /// read, starting with the banner). A write that makes no progress for `stall` closes the
    /// session. The connection's end is published through `shared` (notices, closed reason).
    pub fn start<R, W>(
        read: R,
        write: W,
        preface: Vec<u8>,
        shared: Arc<Shared>,
        version: QemuVersion,
        stall: Duration,
    ) -> (Session, AbortHandle)
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (requests, receiver) = mpsc::channel(64);
        let reader = PromptReader {
            read,
            buffer: preface,
        };
        let task = tokio::spawn(run(reader, write, receiver, shared.clone(), stall));
        (
            Session {
                requests,
                shared,
                version,
            },
            task.abort_handle(),
        )
    }

    /// Runs the QMP `command` through its HMP translation, failing with `Timeout` after
    /// `timeout` and with [`QmpError::Unavailable`] when HMP has no such command.
    pub async fn execute(
        &self,
        command: &str,
        arguments: Option<Value>,
        timeout: Duration,
    ) -> Result<RawJson, QmpError> {
        let (line, reading, quits) =
            match translate::translate(command, arguments.as_ref(), &self.version)? {
                translate::Translation::Local(value) => {
                    return Ok(RawJson::new(value.to_string()));
                }
                translate::Translation::Line {
                    line,
                    reading,
                    quits,
                } => (line, reading, quits),
            };
        let output = self.run(line, quits, command, timeout).await?;
        let value = translate::reply(command, reading, &output)?;
        Ok(RawJson::new(value.to_string()))
    }

    async fn run(
        &self,
        line: String,
        quits: bool,
        command: &str,
        timeout: Duration,
    ) -> Result<String, QmpError> {
        let disconnected = || QmpError::Disconnected {
            reason: self
                .shared
                .closed_reason()
                .unwrap_or_else(|| "the HMP session ended".to_string()),
        };
        if self.shared.closed_reason().is_some() {
            return Err(disconnected());
        }
        let (reply, receiver) = oneshot::channel();
        let call = async {
            self.requests
                .send(Request { line, quits, reply })
                .await
                .map_err(|_| disconnected())?;
            receiver.await.map_err(|_| disconnected())?
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(QmpError::Timeout {
                command: command.to_string(),
                after: timeout,
            }),
        }
    }
}

/// Reads the byte stream up to each prompt.
struct PromptReader<R> {
    read: R,
    buffer: Vec<u8>,
}

/// Why reading stopped.
enum ReadEnd {
    Closed,
    Failed(String),
}

impl<R: AsyncRead + Unpin> PromptReader<R> {
    /// Everything up to the next prompt (the prompt itself removed).
    async fn until_prompt(&mut self) -> Result<Vec<u8>, ReadEnd> {
        let mut chunk = [0u8; 8192];
        loop {
            if self.buffer.ends_with(PROMPT) {
                let mut answer = std::mem::take(&mut self.buffer);
                answer.truncate(answer.len() - PROMPT.len());
                return Ok(answer);
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(ReadEnd::Failed(format!(
                    "an HMP answer went over {MAX_LINE_BYTES} bytes without a prompt"
                )));
            }
            self.fill(&mut chunk).await?;
        }
    }

    async fn fill(&mut self, chunk: &mut [u8]) -> Result<(), ReadEnd> {
        match self.read.read(chunk).await {
            Ok(0) => Err(ReadEnd::Closed),
            Ok(read) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                Ok(())
            }
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                Err(ReadEnd::Closed)
            }
            Err(error) => Err(ReadEnd::Failed(format!("read failed: {error}"))),
        }
    }
}

/// The output of one command: what follows QEMU's echo of the line, without CRs.
fn output_of(answer: &[u8]) -> String {
    let after_echo = answer
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|at| &answer[at + 2..])
        .unwrap_or_default();
    String::from_utf8_lossy(after_echo).replace('\r', "")
}

async fn run<R, W>(
    mut reader: PromptReader<R>,
    mut write: W,
    mut requests: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    stall: Duration,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let closed = |end: ReadEnd| match end {
        ReadEnd::Closed => "QEMU closed the connection".to_string(),
        ReadEnd::Failed(reason) => reason,
    };
    // The banner and the first prompt.
    if let Err(end) = reader.until_prompt().await {
        shared.close(&closed(end));
        return;
    }
    let mut chunk = [0u8; 8192];
    let reason = loop {
        // Between commands, watch the socket too: QEMU exiting closes it at once.
        let request = tokio::select! {
            request = requests.recv() => request,
            filled = reader.fill(&mut chunk) => match filled {
                // Text QEMU printed on its own (rare): not an answer to anything.
                Ok(()) => {
                    tracing::debug!(bytes = reader.buffer.len(), "unprompted HMP output");
                    reader.buffer.clear();
                    continue;
                }
                Err(end) => break closed(end),
            },
        };
        let Some(request) = request else {
            let _ = write.shutdown().await;
            return;
        };
        if request.reply.is_closed() {
            continue;
        }
        let mut line = request.line.into_bytes();
        line.push(b'\n');
        match tokio::time::timeout(stall, write.write_all(&line)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => break format!("write failed: {error}"),
            Err(_) => {
                break format!(
                    "QEMU stopped reading commands: a write made no progress for {:.1} s",
                    stall.as_secs_f64()
                );
            }
        }
        match reader.until_prompt().await {
            Ok(answer) => {
                let _ = request.reply.send(Ok(output_of(&answer)));
            }
            Err(ReadEnd::Closed) if request.quits => {
                let _ = request.reply.send(Ok(String::new()));
                break closed(ReadEnd::Closed);
            }
            Err(end) => break closed(end),
        }
    };
    shared.close(&reason);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_version() {
        let version =
            is_banner(b"QEMU 7.2.22 monitor - type 'help' for more information\r").unwrap();
        assert_eq!(version.to_string(), "7.2.22");
        let newer = is_banner(b"QEMU 10.0.2 monitor - type 'help' for more information").unwrap();
        assert_eq!((newer.major, newer.minor), (10, 0));
        assert_eq!(is_banner(br#"{"QMP": {"version": {}}}"#), None);
        assert_eq!(is_banner(b"QEMU rocks"), None);
        let telnet = is_banner(b"\xff\xfb\x01\xff\xfb\x03QEMU 7.2.22 monitor - type 'help'");
        assert_eq!(telnet.unwrap().to_string(), "7.2.22");
    }

    #[test]
    fn the_echo_is_dropped() {
        let answer =
            b"i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinfo status\x1b[K\r\nVM status: running\r\n";
        assert_eq!(output_of(answer), "VM status: running\n");
        assert_eq!(output_of(b"stop\x1b[K\r\n"), "");
        assert_eq!(output_of(b""), "");
    }

    #[tokio::test]
    async fn commands_run_one_at_a_time_and_a_closed_socket_ends_the_session() {
        let (ours, theirs) = tokio::io::duplex(4096);
        let (read, write) = tokio::io::split(ours);
        let shared = Shared::new(None);
        let (session, _task) = Session::start(
            read,
            write,
            b"QEMU 7.2.22 monitor - type 'help' for more information\r\n".to_vec(),
            shared.clone(),
            QemuVersion::default(),
            Duration::from_secs(5),
        );
        let qemu = tokio::spawn(async move {
            let (mut read, mut write) = tokio::io::split(theirs);
            write.write_all(b"(qemu) ").await.unwrap();
            let mut lines = Vec::new();
            let mut byte = [0u8; 1];
            let mut line = Vec::new();
            while lines.len() < 2 {
                read.read_exact(&mut byte).await.unwrap();
                if byte[0] != b'\n' {
                    line.push(byte[0]);
                    continue;
                }
                let text = String::from_utf8(std::mem::take(&mut line)).unwrap();
                let answer = match text.as_str() {
                    "info status" => "VM status: paused (prelaunch)\r\n",
                    _ => "unknown command: 'x'\r\n",
                };
                write
                    .write_all(format!("{text}\x1b[K\r\n{answer}(qemu) ").as_bytes())
                    .await
                    .unwrap();
                lines.push(text);
            }
            lines
        });
        let timeout = Duration::from_secs(5);
        let (status, unknown) = tokio::join!(
            session.execute("query-status", None, timeout),
            session.execute("query-kvm", None, timeout)
        );
        assert_eq!(
            status.unwrap().get(),
            r#"{"running":false,"status":"prelaunch"}"#
        );
        assert_eq!(unknown.unwrap_err().qemu_class(), Some("CommandNotFound"));
        assert_eq!(qemu.await.unwrap(), ["info status", "info kvm"]);
        // The fake QEMU is gone: its end of the stream closed.
        let after = session.execute("query-status", None, timeout).await;
        assert!(after.unwrap_err().is_disconnect());
        assert!(shared.closed_reason().is_some());
    }
}
