//! Starts real QEMU processes (TCG, no display) with a qcow2 disk and QMP sockets in a temp
//! dir; kills them and removes the files on drop, even when the test fails.

use super::observer::Observer;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// At most this many QEMUs with a machine run at once across the test binary (the machines
/// have 2 cores). `-M none` QEMUs idle at no CPU and are not counted.
const MAX_CONCURRENT_QEMUS: usize = 4;

static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

struct Slot;

impl Slot {
    fn acquire() -> Slot {
        let (lock, cvar) = &RUNNING;
        let mut running = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_CONCURRENT_QEMUS {
            running = cvar.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (lock, cvar) = &RUNNING;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cvar.notify_all();
    }
}

/// The QEMU binary under test: `QEMU_DASH_QEMU` or `qemu-system-x86_64` on PATH.
pub fn qemu_binary() -> String {
    std::env::var("QEMU_DASH_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".to_string())
}

/// `qemu-img`: `QEMU_DASH_QEMU_IMG` or on PATH.
pub fn qemu_img() -> String {
    std::env::var("QEMU_DASH_QEMU_IMG").unwrap_or_else(|_| "qemu-img".to_string())
}

/// Creates a disk image of `format` and `size` (e.g. "64M").
pub fn create_image(path: &Path, format: &str, size: &str) {
    let status = Command::new(qemu_img())
        .args(["create", "-q", "-f", format])
        .arg(path)
        .arg(size)
        .status()
        .expect("run qemu-img");
    assert!(status.success(), "qemu-img create failed");
}

/// The tiny guest's kernel and initramfs, when built (see assets/guest).
pub fn guest_files() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("QEMU_DASH_GUEST_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("qemu-dash/guest"))
        })?;
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initrd.gz");
    (kernel.exists() && initrd.exists()).then_some((kernel, initrd))
}

/// Options for a QEMU under test.
pub struct QemuBuilder {
    machine: Option<String>,
    disks: Vec<(String, String)>,
    observer: bool,
    guest: bool,
    name: Option<String>,
    memory_mib: u32,
    qmp_at: Option<PathBuf>,
    hmp: bool,
    extra: Vec<String>,
}

impl QemuBuilder {
    /// Makes the socket under test an HMP monitor (`-monitor unix:…`) instead of QMP, as
    /// tutorials and VM managers set QEMU up. The observer's socket stays QMP.
    pub fn hmp(mut self) -> Self {
        self.hmp = true;
        self
    }

    /// Adds raw arguments to QEMU's command line (devices, netdevs…).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// `-M` machine type, e.g. "none" for the cheapest QEMU.
    pub fn machine(mut self, machine: &str) -> Self {
        self.machine = Some(machine.to_string());
        self
    }

    /// Adds a virtio disk of this format ("qcow2" or "raw") with drive id `id`.
    pub fn disk(mut self, id: &str, format: &str) -> Self {
        self.disks.push((id.to_string(), format.to_string()));
        self
    }

    /// Adds a second QMP socket for an independent [`Observer`].
    pub fn observer(mut self) -> Self {
        self.observer = true;
        self
    }

    /// Boots the tiny Linux guest (panics with a hint if it was not built).
    pub fn guest(mut self) -> Self {
        self.guest = true;
        self
    }

    /// Puts the QMP socket at `path` instead of the temp dir (to restart QEMU on one path).
    pub fn qmp_at(mut self, path: &Path) -> Self {
        self.qmp_at = Some(path.to_path_buf());
        self
    }

    /// `-name`.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Starts QEMU and waits for its QMP sockets.
    pub fn start(self) -> Qemu {
        let slot = (self.machine.as_deref() != Some("none")).then(Slot::acquire);
        let dir = tempfile::Builder::new()
            .prefix("qemu-dash-test")
            .tempdir()
            .expect("temp dir");
        let qmp = self
            .qmp_at
            .clone()
            .unwrap_or_else(|| dir.path().join("qmp.sock"));
        let observer_socket = dir.path().join("observer.sock");
        let mut command = Command::new(qemu_binary());
        command.args(["-accel", "tcg", "-nodefaults", "-display", "none"]);
        command.args(["-m", &self.memory_mib.to_string()]);
        if let Some(machine) = &self.machine {
            command.args(["-M", machine]);
        }
        if let Some(name) = &self.name {
            command.args(["-name", name]);
        }
        for (id, format) in &self.disks {
            let image = dir.path().join(format!("{id}.{format}"));
            create_image(&image, format, "64M");
            command.arg("-drive").arg(format!(
                "file={},format={format},if=virtio,id={id}",
                image.display()
            ));
        }
        command.args(&self.extra);
        if self.guest {
            let (kernel, initrd) = guest_files().expect(
                "the test guest is not built: run assets/guest/build.sh (or .ci/run) first",
            );
            command
                .arg("-kernel")
                .arg(kernel)
                .arg("-initrd")
                .arg(initrd);
            command.args([
                "-append",
                "console=ttyS0 quiet",
                "-device",
                "virtio-balloon",
            ]);
            command
                .arg("-serial")
                .arg(format!("file:{}", dir.path().join("serial.log").display()));
        }
        command
            .arg(if self.hmp { "-monitor" } else { "-qmp" })
            .arg(format!("unix:{},server=on,wait=off", qmp.display()));
        if self.observer {
            command.arg("-qmp").arg(format!(
                "unix:{},server=on,wait=off",
                observer_socket.display()
            ));
        }
        // stdout is kept: HMP `qemu-io` prints its results there, not in the reply.
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).expect("stdout log");
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", qemu_binary()));
        let mut qemu = Qemu {
            child,
            qmp,
            observer_socket: self.observer.then_some(observer_socket),
            dir,
            _slot: slot,
        };
        qemu.wait_for_sockets();
        qemu
    }
}

/// A running QEMU, killed on drop.
pub struct Qemu {
    child: Child,
    qmp: PathBuf,
    observer_socket: Option<PathBuf>,
    dir: tempfile::TempDir,
    _slot: Option<Slot>,
}

impl Qemu {
    /// A builder with defaults: pc machine, 128 MiB, no disk.
    pub fn builder() -> QemuBuilder {
        QemuBuilder {
            machine: None,
            disks: Vec::new(),
            observer: false,
            guest: false,
            name: None,
            memory_mib: 128,
            qmp_at: None,
            hmp: false,
            extra: Vec::new(),
        }
    }

    /// The monitor socket for the code under test (QMP, or HMP with [`QemuBuilder::hmp`]).
    pub fn qmp_path(&self) -> &Path {
        &self.qmp
    }

    /// Sends a signal to QEMU ("KILL", "STOP", "CONT").
    pub fn signal(&self, signal: &str) {
        send_signal(self.pid(), signal);
    }

    /// The target string for the code under test (`unix:PATH`).
    pub fn target(&self) -> String {
        format!("unix:{}", self.qmp.display())
    }

    /// The target string of the observer's QMP socket (for a second view of the same VM).
    pub fn observer_target(&self) -> String {
        let path = self
            .observer_socket
            .as_ref()
            .expect("start QEMU with .observer() to use its socket");
        format!("unix:{}", path.display())
    }

    /// QEMU's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Connects an independent observer on the second socket.
    pub fn observer(&self) -> Observer {
        let path = self
            .observer_socket
            .as_ref()
            .expect("start QEMU with .observer() to use an observer");
        Observer::connect(path)
    }

    /// The guest's serial output so far.
    pub fn serial(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serial.log")).unwrap_or_default()
    }

    /// What QEMU printed on stdout so far (e.g. the output of HMP `qemu-io`).
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Runs `qemu-io` on `drive` through the observer's HMP and returns what it printed (QEMU
    /// prints qemu-io results on its stdout, not in the reply). Waits for the line `until`.
    pub fn qemu_io(
        &self,
        observer: &mut Observer,
        drive: &str,
        command: &str,
        until: &str,
    ) -> String {
        let before = self.stdout().len();
        let reply = observer.execute(
            "human-monitor-command",
            serde_json::json!({"command-line": format!("qemu-io {drive} \"{command}\"")}),
        );
        assert_eq!(reply, "", "qemu-io {command}");
        super::wait_until(Duration::from_secs(5), until, || {
            let output = self.stdout()[before..].to_string();
            output.contains(until).then_some(output)
        })
    }

    /// True when the first 4 KiB of `drive` all hold the byte `pattern`, as the guest would
    /// read them.
    pub fn drive_holds(&self, observer: &mut Observer, drive: &str, pattern: u8) -> bool {
        let output = self.qemu_io(
            observer,
            drive,
            &format!("read -P 0x{pattern:02x} 0 4k"),
            "read 4096/4096 bytes at offset 0",
        );
        !output.contains("Pattern verification failed")
    }

    /// Waits until the guest prints its ready line.
    pub fn wait_for_guest(&self) {
        super::wait_until(Duration::from_secs(60), "the guest's ready line", || {
            self.serial()
                .contains("qemu-dash guest ready")
                .then_some(())
        });
    }

    /// Waits for QEMU to exit and returns whether it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn wait_for_sockets(&mut self) {
        let start = std::time::Instant::now();
        loop {
            // The file appears at bind(); QEMU listens a moment later. Connecting to find out
            // would take QEMU's one client slot, so ask the kernel instead.
            let listening = listening_unix_sockets();
            let ready = listening.contains(&self.qmp)
                && self
                    .observer_socket
                    .as_ref()
                    .is_none_or(|p| listening.contains(p));
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("QEMU exited early ({status}): {stderr}");
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("QEMU's QMP socket did not appear within 20 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (a name such as "TERM") to `pid` with kill(1).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Paths of the unix sockets in the listening state, from `/proc/net/unix`.
fn listening_unix_sockets() -> Vec<PathBuf> {
    // Columns: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is
    // __SO_ACCEPTCON, set once listen() was called.
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 8 && fields[3] == "00010000").then(|| PathBuf::from(fields[7]))
        })
        .collect()
}
