//! The demo's guard: a second `qemu-dash` process (the hidden `demo-guard` subcommand) that
//! starts the demo's QEMU as its own child, and kills it and removes the demo's temp dir when
//! the dashboard goes, however it goes.
//!
//! Why a process of its own: the dashboard can die in ways it cannot catch (SIGKILL, a signal
//! left at its default action such as SIGUSR1, an abort), and then nothing of it runs to clean
//! up. `PR_SET_PDEATHSIG` on QEMU would need `pre_exec`, which is unsafe code (forbidden in
//! this crate, and the safe `prctl` wrappers are still called from it); `setpriv --pdeathsig`
//! would kill QEMU but leave the temp dir with its disk image behind. The guard's stdin is a
//! pipe whose writing end only the dashboard holds, so the kernel closes it when the
//! dashboard exits for any reason: end of file on stdin means "clean up now".
//!
//! The guard runs in a process group of its own (with QEMU), so a Ctrl-C or a terminal
//! hang-up meant for the dashboard's group never reaches it. QEMU's stdout and stdin are
//! null and its stderr goes to a file in the temp dir: nothing of QEMU can block on a pipe
//! nobody reads.
//!
//! The protocol, one JSON line each way: the dashboard sends a [`Spec`]; the guard starts
//! QEMU, waits for its QMP socket, and answers a [`Started`]. Then the line `keep` makes the
//! guard leave QEMU and the files alone (`demo --keep`), and end of file makes it kill QEMU,
//! wait for it, and remove the directory.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The subcommand that runs the guard.
pub const SUBCOMMAND: &str = "demo-guard";
/// How long QEMU may take to create its QMP socket.
pub const SOCKET_PATIENCE: Duration = Duration::from_secs(15);
/// What the dashboard sends to leave QEMU running when it exits.
const KEEP: &str = "keep";
/// QEMU's stderr, in the temp dir.
const STDERR_FILE: &str = "qemu-stderr.log";

/// What to start and what to clean up.
#[derive(Debug, Serialize, Deserialize)]
pub struct Spec {
    /// The QEMU binary.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The demo's temp dir, removed at the end.
    pub dir: OsString,
    /// The QMP socket QEMU creates (in `dir`).
    pub socket: OsString,
}

/// The guard's answer: QEMU's pid, or why it did not start.
#[derive(Debug, Serialize, Deserialize)]
pub struct Started {
    /// QEMU's pid once its socket exists.
    pub pid: Option<u32>,
    /// Why QEMU is not running.
    pub error: Option<String>,
}

/// The dashboard's handle on its guard: QEMU dies and the files go when this is dropped
/// (unless kept), and just as surely when the dashboard dies without dropping it.
#[derive(Debug)]
pub struct Guarded {
    guard: Child,
    /// The pipe whose end of file tells the guard to clean up.
    lifeline: Option<ChildStdin>,
    /// QEMU's pid.
    pub qemu_pid: u32,
    /// Leave QEMU running and the files in place on drop.
    pub keep: bool,
}

impl Guarded {
    /// Starts the guard (this same binary) and through it QEMU; returns once QEMU's socket
    /// exists, or with QEMU's own complaint.
    pub fn start(spec: &Spec) -> anyhow::Result<Guarded> {
        let exe = std::env::current_exe().context("finding the qemu-dash binary")?;
        let mut guard = Command::new(&exe)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {} {SUBCOMMAND}", exe.display()))?;
        let lifeline = guard.stdin.take();
        let reply = guard.stdout.take();
        // From here on, dropping the handle (an early return included) cleans up.
        let mut guarded = Guarded {
            guard,
            lifeline,
            qemu_pid: 0,
            keep: false,
        };
        let (Some(stdin), Some(stdout)) = (guarded.lifeline.as_mut(), reply) else {
            bail!("the demo guard has no pipes");
        };
        let mut answer = String::new();
        let talked = serde_json::to_string(spec)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(stdin, "{line}"))
            .and_then(|()| BufReader::new(stdout).read_line(&mut answer));
        if let Err(error) = talked {
            return Err(error).context("talking to the demo guard");
        }
        match serde_json::from_str::<Started>(&answer) {
            Ok(Started { pid: Some(pid), .. }) => {
                guarded.qemu_pid = pid;
                Ok(guarded)
            }
            Ok(Started { error, .. }) => {
                bail!("{}", error.unwrap_or_else(|| "QEMU did not start".into()))
            }
            Err(_) => bail!("the demo guard exited without starting QEMU"),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(mut lifeline) = self.lifeline.take()
            && self.keep
        {
            let _ = writeln!(lifeline, "{KEEP}");
        }
        // The guard kills QEMU and removes the files; wait for it, so that both are gone when
        // the dashboard exits.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if !matches!(self.guard.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The guard's main: reads the spec, starts QEMU, answers, then waits for its instructions
/// or the end of its stdin.
pub fn run() -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the demo spec")?;
    let spec: Spec = serde_json::from_str(&line).context("reading the demo spec")?;
    let dir = PathBuf::from(&spec.dir);
    let started = start_qemu(&spec, &dir);
    let (mut qemu, answer) = match started {
        Ok((qemu, pid)) => (
            Some(qemu),
            Started {
                pid: Some(pid),
                error: None,
            },
        ),
        Err(error) => (
            None,
            Started {
                pid: None,
                error: Some(format!("{error:#}")),
            },
        ),
    };
    let mut stdout = std::io::stdout();
    let _ = serde_json::to_string(&answer)
        .map_err(std::io::Error::other)
        .and_then(|text| writeln!(stdout, "{text}").and_then(|()| stdout.flush()));
    // Now wait: `keep`, or end of file (the dashboard exited, or died).
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.trim() == KEEP => return Ok(()),
            Ok(_) => {}
        }
    }
    if let Some(qemu) = qemu.as_mut() {
        let _ = qemu.kill();
        let _ = qemu.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Starts QEMU and waits for its QMP socket; QEMU is killed if that fails.
fn start_qemu(spec: &Spec, dir: &Path) -> anyhow::Result<(Child, u32)> {
    let stderr_path = dir.join(STDERR_FILE);
    let stderr = std::fs::File::create(&stderr_path)
        .with_context(|| format!("creating {}", stderr_path.display()))?;
    let mut qemu = Command::new(&spec.program)
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", spec.program.to_string_lossy()))?;
    let socket = Path::new(&spec.socket);
    let started = Instant::now();
    while !socket.exists() {
        if let Some(status) = qemu.try_wait().context("checking on QEMU")? {
            let mut text = String::new();
            if let Ok(file) = std::fs::File::open(&stderr_path) {
                let _ = file.take(64 * 1024).read_to_string(&mut text);
            }
            bail!("QEMU exited at once ({status}): {}", text.trim());
        }
        if started.elapsed() > SOCKET_PATIENCE {
            let _ = qemu.kill();
            let _ = qemu.wait();
            bail!(
                "QEMU did not create its QMP socket within {} s",
                SOCKET_PATIENCE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = qemu.id();
    Ok((qemu, pid))
}
