//! The connections: one OpenSSH ControlMaster per host, its control socket and the forwarded
//! QMP sockets in one private dir (mode 0700) made on first use.
//!
//! A master is started with `ControlMaster=auto`, `ControlPersist` and `-N`: ssh authenticates,
//! puts the master in the background and exits, so its exit status and stderr say whether the
//! host was reached. `ssh -O check` tells whether it still runs and its pid; a new pid means
//! a new master (the old one died: the network dropped, the server restarted), which has
//! none of the old forwards, so they are set up again on the next connect. Remote commands
//! run as clients of the master (they would start one themselves if it were gone).

use super::process::{RemoteOutput, output, program, shell_quote};
use super::{CONNECT_TIMEOUT, PERSIST, SshError, SshHost};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// How long a request to a running master (`-O check`, `-O forward`) may take.
const MUX_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many remote commands run at once on one host: sshd allows 10 sessions per
/// connection by default (`MaxSessions`), and forwarded sockets do not count.
const COMMANDS_AT_ONCE: usize = 4;
/// How long a failure to reach a host is the answer for every VM on it, before the next try.
const FAILURE_HOLDS: Duration = Duration::from_secs(1);
/// How long the exit request to each master may take at shutdown.
const EXIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Seconds between keepalives, and how many may go unanswered before ssh gives up.
const ALIVE_INTERVAL: u32 = 5;
const ALIVE_COUNT: u32 = 3;

/// Every host reached in this process, and the private dir.
struct Hub {
    dir: Mutex<Option<tempfile::TempDir>>,
    hosts: Mutex<HashMap<SshHost, Arc<Host>>>,
}

/// One host: its master's control socket and the QMP sockets forwarded through it.
struct Host {
    dest: SshHost,
    label: String,
    control: PathBuf,
    dir: PathBuf,
    index: usize,
    /// A master may be running (so shutdown asks it to exit).
    used: AtomicBool,
    /// Bounds the remote commands running at once.
    commands: tokio::sync::Semaphore,
    state: tokio::sync::Mutex<HostState>,
}

#[derive(Default)]
struct HostState {
    /// The pid of the master the forwards below live in.
    master_pid: Option<u32>,
    /// Remote paths forwarded on that master.
    forwarded: HashSet<String>,
    /// The local socket of each remote path (kept across masters).
    sockets: HashMap<String, PathBuf>,
    /// The last failure to start a master, and when: the VMs waiting for the host's lock get
    /// it at once instead of each trying again (an unreachable host can take
    /// `ConnectTimeout` per try).
    last_failure: Option<(std::time::Instant, SshError)>,
}

static HUB: OnceLock<Hub> = OnceLock::new();

fn hub() -> &'static Hub {
    HUB.get_or_init(|| Hub {
        dir: Mutex::new(None),
        hosts: Mutex::new(HashMap::new()),
    })
}

/// Where the private dir goes: the temp dir, unless its path is so long that a socket path in
/// it would pass the 108 bytes a unix socket's name may have.
fn base_dir() -> PathBuf {
    let temp = std::env::temp_dir();
    if temp.as_os_str().len() <= 48 {
        temp
    } else {
        PathBuf::from("/tmp")
    }
}

impl Hub {
    fn host(&self, dest: &SshHost) -> Result<Arc<Host>, SshError> {
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(host) = hosts.get(dest) {
            return Ok(host.clone());
        }
        let dir = {
            let mut slot = self.dir.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                let made = tempfile::Builder::new()
                    .prefix("qemu-dash-ssh-")
                    .tempdir_in(base_dir())
                    .map_err(|error| SshError::Dir(error.to_string()))?;
                *slot = Some(made);
            }
            slot.as_ref()
                .map(|dir| dir.path().to_path_buf())
                .ok_or_else(|| SshError::Dir("it vanished".to_string()))?
        };
        let index = hosts.len();
        let host = Arc::new(Host {
            dest: dest.clone(),
            label: dest.to_string(),
            control: dir.join(format!("{index}.ctl")),
            dir,
            index,
            used: AtomicBool::new(false),
            commands: tokio::sync::Semaphore::new(COMMANDS_AT_ONCE),
            state: tokio::sync::Mutex::new(HostState::default()),
        });
        hosts.insert(dest.clone(), host.clone());
        Ok(host)
    }
}

/// What an ssh invocation is for: its options differ.
enum Use<'a> {
    /// Start a master or run a command (either may become the master).
    Connect,
    /// A request to the running master: `-O check`, `-O forward`, `-O exit`.
    Control(&'a str),
}

/// `-L` takes `local:remote`; a `\` makes the next character literal (OpenSSH's
/// `parse_fwd_field`), so a path may hold `:`.
fn forward_field(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', r"\\")
        .replace(':', r"\:")
}

impl Host {
    /// The ssh command line (the program first) for `purpose`, with `extra` options before
    /// the host and the `remote` command line after it.
    fn args(
        &self,
        purpose: Use<'_>,
        extra: &[&str],
        remote: Option<&str>,
    ) -> Result<Vec<String>, SshError> {
        let mut args = program()?;
        let options = [
            "BatchMode=yes".to_string(),
            format!("ControlPath={}", self.control.display()),
            format!("ServerAliveInterval={ALIVE_INTERVAL}"),
            format!("ServerAliveCountMax={ALIVE_COUNT}"),
            "ConnectTimeout=10".to_string(),
        ];
        for option in options {
            args.extend(["-o".to_string(), option]);
        }
        args.extend(["-a", "-x", "-T", "-n"].map(str::to_string));
        match purpose {
            Use::Connect => {
                let options = [
                    "ControlMaster=auto".to_string(),
                    format!("ControlPersist={}", PERSIST.as_secs()),
                    // A LocalForward in the user's config is for their own sessions, not
                    // ours; a socket left by a master that was killed is replaced.
                    "ClearAllForwardings=yes".to_string(),
                    "StreamLocalBindUnlink=yes".to_string(),
                ];
                for option in options {
                    args.extend(["-o".to_string(), option]);
                }
            }
            Use::Control(operation) => args.extend(["-O".to_string(), operation.to_string()]),
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(port) = self.dest.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        if let Some(user) = &self.dest.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        args.extend(["--".to_string(), self.dest.host.clone()]);
        args.extend(remote.map(str::to_string));
        Ok(args)
    }

    /// [`Host::args`] as a command to run on the async runtime.
    fn command(
        &self,
        purpose: Use<'_>,
        extra: &[&str],
        remote: Option<&str>,
    ) -> Result<tokio::process::Command, SshError> {
        let args = self.args(purpose, extra, remote)?;
        let (program, rest) = args.split_first().ok_or(SshError::EmptyProgram)?;
        let mut command = tokio::process::Command::new(program);
        command.args(rest);
        Ok(command)
    }

    /// The running master's pid, if one answers.
    async fn check(&self) -> Option<u32> {
        let command = self.command(Use::Control("check"), &[], None).ok()?;
        let out = output(command, &self.label, MUX_TIMEOUT).await.ok()?;
        if out.code != Some(0) {
            return None;
        }
        let text = out.stderr.trim();
        let pid = text.split_once("pid=")?.1.trim_end_matches(')');
        pid.parse().ok()
    }

    /// Makes sure a master runs; returns its pid. Forwards of a master that is gone are
    /// forgotten.
    async fn ensure(&self, state: &mut HostState) -> Result<u32, SshError> {
        let pid = match self.check().await {
            Some(pid) => pid,
            None => {
                if let Some((when, error)) = &state.last_failure
                    && when.elapsed() < FAILURE_HOLDS
                {
                    return Err(error.clone());
                }
                let started = self.start().await;
                state.last_failure = started
                    .as_ref()
                    .err()
                    .map(|error| (std::time::Instant::now(), error.clone()));
                started?
            }
        };
        if state.master_pid != Some(pid) {
            state.master_pid = Some(pid);
            state.forwarded.clear();
        }
        Ok(pid)
    }

    /// Starts a master; returns its pid.
    async fn start(&self) -> Result<u32, SshError> {
        // A control socket left by a master that was killed would keep the new one from
        // listening.
        let _ = tokio::fs::remove_file(&self.control).await;
        self.used.store(true, Ordering::Relaxed);
        let command = self.command(Use::Connect, &["-N"], None)?;
        let out = output(command, &self.label, CONNECT_TIMEOUT).await?;
        if out.code != Some(0) {
            return Err(super::classify(&out.stderr, &self.label));
        }
        self.check().await.ok_or_else(|| SshError::Failed {
            host: self.label.clone(),
            detail: "the connection opened, but its control socket does not answer".to_string(),
        })
    }
}

/// Makes `path` on `dest` reachable through a local socket (starting the host's connection if
/// needed) and returns that socket's path.
pub async fn forward(dest: &SshHost, path: &str) -> Result<PathBuf, SshError> {
    let host = hub().host(dest)?;
    let mut state = host.state.lock().await;
    host.ensure(&mut state).await?;
    let next = state.sockets.len();
    let local = state
        .sockets
        .entry(path.to_string())
        .or_insert_with(|| host.dir.join(format!("{}-{next}.sock", host.index)))
        .clone();
    if !state.forwarded.contains(path) {
        let spec = format!(
            "{}:{}",
            forward_field(&local),
            forward_field(Path::new(path))
        );
        let command = host.command(Use::Control("forward"), &["-L", &spec], None)?;
        let out = output(command, &host.label, MUX_TIMEOUT).await?;
        if out.code != Some(0) {
            return Err(SshError::Failed {
                host: host.label.clone(),
                detail: format!(
                    "cannot forward {path}: {}",
                    out.stderr
                        .lines()
                        .last()
                        .unwrap_or("no reason given")
                        .trim()
                ),
            });
        }
        state.forwarded.insert(path.to_string());
    }
    Ok(local)
}

/// Runs `command_line` (one line for the remote shell; quote what it passes with
/// [`shell_quote`]) on `dest` over its connection. An error when ssh failed; otherwise the
/// remote command's output and exit code.
pub async fn run(
    dest: &SshHost,
    command_line: &str,
    timeout: Duration,
) -> Result<RemoteOutput, SshError> {
    let host = hub().host(dest)?;
    let out = tokio::time::timeout(timeout, async {
        // Without a master, start one first (under the host's lock, so two commands do not
        // race to be the master); a command finds it by its control socket.
        if !tokio::fs::try_exists(&host.control).await.unwrap_or(false) {
            let mut state = host.state.lock().await;
            host.ensure(&mut state).await?;
        }
        let command = host.command(Use::Connect, &[], Some(command_line))?;
        // The semaphore is never closed; a closed one would only mean no limit.
        let _permit = host.commands.acquire().await.ok();
        output(command, &host.label, timeout).await
    })
    .await
    .map_err(|_| SshError::Timeout {
        host: host.label.clone(),
        after: timeout,
    })??;
    if out.ssh_failed() {
        return Err(super::classify(&out.stderr, &host.label));
    }
    Ok(out)
}

/// Checks the remote `path` after a forwarded connection closed before QEMU said anything,
/// and says why: no socket there, no permission, or (the socket is fine) that it closed.
pub async fn diagnose_socket(dest: &SshHost, path: &str) -> SshError {
    const SCRIPT: &str = "if [ -S \"$1\" ]; then if [ -r \"$1\" ] && [ -w \"$1\" ]; then \
                          exit 0; fi; exit 4; fi; if [ -e \"$1\" ]; then exit 5; fi; exit 3";
    let line = format!(
        "sh -c {} qemu-dash {}",
        shell_quote(SCRIPT),
        shell_quote(path)
    );
    let host = dest.to_string();
    match run(dest, &line, MUX_TIMEOUT * 2).await {
        Err(error) => error,
        Ok(out) => match out.code {
            Some(3) => SshError::NoRemoteSocket {
                host,
                path: path.to_string(),
                detail: " (is QEMU running there with -qmp unix:PATH,server=on,wait=off?)"
                    .to_string(),
            },
            Some(5) => SshError::NoRemoteSocket {
                host,
                path: path.to_string(),
                detail: " (something else is at that path)".to_string(),
            },
            Some(4) => SshError::RemotePermission {
                host,
                path: path.to_string(),
            },
            _ => SshError::Failed {
                host: host.clone(),
                detail: format!(
                    "the socket {path} closed the connection at once (QEMU has exited and left \
                     it behind, or sshd on {host} does not forward unix sockets: \
                     AllowStreamLocalForwarding)"
                ),
            },
        },
    }
}

/// Ends every master this process started and removes the private dir. Blocking: call it when
/// the program ends (or let [`Cleanup`] do it).
pub fn shutdown() {
    let Some(hub) = HUB.get() else { return };
    let hosts: Vec<Arc<Host>> = hub
        .hosts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain()
        .map(|(_, host)| host)
        .collect();
    for host in hosts.iter().filter(|h| h.used.load(Ordering::Relaxed)) {
        exit_master(host);
    }
    let dir = hub
        .dir
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    drop(dir);
}

/// `ssh -O exit`, waited for at most [`EXIT_TIMEOUT`] (the runtime may be gone: plain
/// processes).
fn exit_master(host: &Host) {
    let Ok(args) = host.args(Use::Control("exit"), &[], None) else {
        return;
    };
    let Some((program, rest)) = args.split_first() else {
        return;
    };
    let spawned = std::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = spawned else { return };
    let started = std::time::Instant::now();
    while started.elapsed() < EXIT_TIMEOUT {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Ends the masters and removes the private dir when dropped (on every exit path of `main`).
#[derive(Debug, Default)]
pub struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_fields_escape_colons() {
        assert_eq!(forward_field(Path::new("/run/a:b.qmp")), r"/run/a\:b.qmp");
        assert_eq!(forward_field(Path::new(r"/x\y")), r"/x\\y");
    }
}
