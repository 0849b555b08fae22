//! Running one `ssh` process: the command from [`super::PROGRAM_VAR`], its output read in
//! full but bounded, a timeout that kills it, and shell quoting for remote command lines.

use super::SshError;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most stdout a remote command may send (a `/proc` read or a directory listing is a few
/// KiB); more is cut.
const STDOUT_LIMIT: u64 = 1 << 20;
/// The most stderr kept.
const STDERR_LIMIT: u64 = 64 << 10;

/// What an `ssh` process printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOutput {
    /// Its exit code; `None` when a signal ended it. 255 is ssh's own failure.
    pub code: Option<i32>,
    /// Standard output (bounded).
    pub stdout: Vec<u8>,
    /// Standard error, as text.
    pub stderr: String,
}

impl RemoteOutput {
    /// True when ssh itself failed (it exits 255), not the remote command.
    pub fn ssh_failed(&self) -> bool {
        self.code.is_none_or(|code| code == 255)
    }
}

/// The ssh command to run: `QEMU_DASH_SSH` split at spaces, or `ssh`.
pub fn program() -> Result<Vec<String>, SshError> {
    match std::env::var(super::PROGRAM_VAR) {
        Ok(text) => {
            let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                Err(SshError::EmptyProgram)
            } else {
                Ok(words)
            }
        }
        Err(_) => Ok(vec!["ssh".to_string()]),
    }
}

/// Runs `command` (stdin closed), reading its output within `timeout`; the process is killed
/// if it takes longer. `host` names the host in errors.
pub async fn output(
    mut command: tokio::process::Command,
    host: &str,
    timeout: Duration,
) -> Result<RemoteOutput, SshError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let mut child = command.spawn().map_err(|error| SshError::Spawn {
        program,
        reason: error.to_string(),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let finished = {
        let reads = async {
            tokio::join!(
                read_into(stdout, &mut out, STDOUT_LIMIT),
                read_into(stderr, &mut err, STDERR_LIMIT)
            )
        };
        let wait = child.wait();
        tokio::pin!(reads, wait);
        // Something ssh started (a ProxyJump's ssh, a master it put in the background) may
        // keep the pipes open after ssh exits: once it has exited, what it wrote is in the
        // pipes, so the reads get a moment to take it, not until the pipes close.
        let both = async {
            tokio::select! {
                _ = &mut reads => wait.await,
                status = &mut wait => {
                    let _ = tokio::time::timeout(AFTER_EXIT, &mut reads).await;
                    status
                }
            }
        };
        tokio::time::timeout(timeout, both).await
    };
    match finished {
        Ok(status) => Ok(RemoteOutput {
            code: status.ok().and_then(|s| s.code()),
            stdout: out,
            stderr: String::from_utf8_lossy(&err).into_owned(),
        }),
        // The child is dropped on return, which kills it.
        Err(_) => Err(SshError::Timeout {
            host: host.to_string(),
            after: timeout,
        }),
    }
}

/// How long the pipes are read after ssh exited.
const AFTER_EXIT: Duration = Duration::from_millis(200);

/// Reads `reader` to its end into `kept`, keeping at most `limit` bytes (the rest is read and
/// dropped, so the writer never blocks on a full pipe).
async fn read_into<R: AsyncRead + Unpin>(reader: Option<R>, kept: &mut Vec<u8>, limit: u64) {
    let Some(mut reader) = reader else {
        return;
    };
    let mut buffer = [0u8; 8192];
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let room = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..read.min(room)]);
    }
}

/// `text` as one word for a POSIX shell: in single quotes, each `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/run/vm.qmp"), "'/run/vm.qmp'");
        assert_eq!(shell_quote("a'b $c"), r"'a'\''b $c'");
        let script = format!("printf %s {}", shell_quote("it's $HOME `x`"));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $HOME `x`");
    }

    #[tokio::test]
    async fn output_is_bounded_and_timed() {
        let mut flood = tokio::process::Command::new("sh");
        flood
            .arg("-c")
            .arg("head -c 3000000 /dev/zero; echo oops >&2; exit 3");
        let out = output(flood, "h", Duration::from_secs(10)).await.unwrap();
        assert_eq!(out.stdout.len() as u64, STDOUT_LIMIT);
        assert_eq!(out.stderr, "oops\n");
        assert_eq!(out.code, Some(3));
        assert!(!out.ssh_failed());
        let mut leaves_a_child = tokio::process::Command::new("sh");
        leaves_a_child.arg("-c").arg("sleep 5 & echo hi");
        let started = std::time::Instant::now();
        let out = output(leaves_a_child, "h", Duration::from_secs(4))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a child holding the pipes is not waited for"
        );
        let mut slow = tokio::process::Command::new("sleep");
        slow.arg("10");
        let error = output(slow, "h", Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(matches!(error, SshError::Timeout { .. }), "{error}");
        let missing = tokio::process::Command::new("/nonexistent/ssh");
        let error = output(missing, "h", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ssh"), "{error}");
    }
}
