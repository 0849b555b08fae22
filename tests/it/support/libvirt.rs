//! A real libvirt for the tests: `virtlogd` and `libvirtd` started when no libvirtd answers
//! (and stopped again when the last test using them is done), and TCG domains booting the
//! tiny guest, each with a unique name, a qcow2 disk and its own serial log, destroyed on drop.
//!
//! QEMU runs as libvirt's user (`libvirt-qemu`), so a domain's files live in a world-writable
//! (sticky) temp dir with copies of the guest's kernel and initramfs. The domains run the
//! system's QEMU whatever `QEMU_DASH_QEMU` says: libvirt probes and runs the emulator as that
//! user, and Debian 12's libvirt (9.0) cannot read QEMU 10.0's capabilities ("failed to get
//! emulator capabilities", checked with a copy of 10.0 that user can run).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The connection URI of the system daemon.
pub const URI: &str = "qemu:///system";

/// The system QEMU, which libvirt's user can run.
const EMULATOR: &str = "/usr/bin/qemu-system-x86_64";

/// How many live [`Libvirt`] handles there are, and whether the daemons are ours to stop.
static DAEMONS: Mutex<(usize, bool)> = Mutex::new((0, false));

/// Runs `virsh -c URI ARGS…`: (success, stdout, stderr).
pub fn virsh(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("virsh")
        .args(["-c", URI])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("virsh runs (apt-get install libvirt-clients)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn answers() -> bool {
    virsh(&["version"]).0
}

/// A handle on a running libvirtd. The daemons this process started stop when the last
/// handle is dropped.
pub struct Libvirt(());

impl Libvirt {
    /// Makes sure libvirtd answers, starting `virtlogd -d` and `libvirtd -d` if it does not.
    pub fn get() -> Libvirt {
        let mut daemons = DAEMONS.lock().unwrap_or_else(|e| e.into_inner());
        if daemons.0 == 0 && !answers() {
            for daemon in ["virtlogd", "libvirtd"] {
                let status = Command::new(daemon)
                    .arg("-d")
                    .stdin(Stdio::null())
                    .status()
                    .unwrap_or_else(|e| {
                        panic!(
                            "cannot start {daemon} ({e}): apt-get install libvirt-daemon-system \
                             libvirt-clients-qemu python3-libvirt"
                        )
                    });
                assert!(status.success(), "{daemon} -d failed: {status}");
            }
            super::wait_until(Duration::from_secs(30), "libvirtd to answer", || {
                answers().then_some(())
            });
            daemons.1 = true;
        }
        daemons.0 += 1;
        Libvirt(())
    }

    /// Defines and starts a domain booting the tiny guest; waits until its guest has booted.
    pub fn domain(&self, stem: &str) -> Domain {
        Domain::start(Libvirt::get(), stem)
    }
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        let mut daemons = DAEMONS.lock().unwrap_or_else(|e| e.into_inner());
        daemons.0 -= 1;
        if daemons.0 == 0 && daemons.1 {
            daemons.1 = false;
            for pid_file in ["/run/libvirtd.pid", "/run/virtlogd.pid"] {
                stop(pid_file);
            }
        }
    }
}

/// Ends the daemon whose pid is in `pid_file` and waits for it to go.
fn stop(pid_file: &str) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let start = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running (transient) libvirt domain, destroyed on drop.
pub struct Domain {
    /// Its unique name.
    pub name: String,
    dir: tempfile::TempDir,
    _libvirt: Libvirt,
}

impl Domain {
    fn start(libvirt: Libvirt, stem: &str) -> Domain {
        use std::os::unix::fs::PermissionsExt;
        let (kernel, initrd) = super::qemu::guest_files()
            .expect("the test guest is not built: run assets/guest/build.sh (or .ci/run) first");
        let dir = tempfile::Builder::new()
            .prefix("qemu-dash-libvirt-test")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let copy = |from: &PathBuf, name: &str| {
            let to = dir.path().join(name);
            std::fs::copy(from, &to).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
            to
        };
        let kernel = copy(&kernel, "vmlinuz");
        let initrd = copy(&initrd, "initrd.gz");
        let disk = dir.path().join("disk.qcow2");
        super::qemu::create_image(&disk, "qcow2", "64M");
        std::fs::set_permissions(&disk, std::fs::Permissions::from_mode(0o666)).unwrap();
        let serial = dir.path().join("serial.log");
        // Short (the fleet's name column is narrow) and unique: the temp dir's random part.
        let unique: String = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .rev()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        let name = format!("qd-{stem}-{unique}");
        let xml = format!(
            "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>{EMULATOR}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='{serial}'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
",
            kernel = kernel.display(),
            initrd = initrd.display(),
            disk = disk.display(),
            serial = serial.display(),
        );
        let file = dir.path().join("domain.xml");
        std::fs::write(&file, xml).unwrap();
        let (ok, out, err) = virsh(&["create", file.to_str().unwrap()]);
        assert!(ok, "virsh create failed: {out}{err}");
        let domain = Domain {
            name,
            dir,
            _libvirt: libvirt,
        };
        domain.wait_for_guest();
        domain
    }

    /// The `libvirt:NAME` target.
    pub fn target(&self) -> String {
        format!("libvirt:{}", self.name)
    }

    /// `virsh domstate`.
    pub fn state(&self) -> String {
        virsh(&["domstate", &self.name]).1.trim().to_string()
    }

    /// Runs `virsh ARGS… NAME`, asserting it succeeds.
    pub fn virsh(&self, args: &[&str]) {
        let mut all = args.to_vec();
        all.push(&self.name);
        let (ok, out, err) = virsh(&all);
        assert!(ok, "virsh {all:?} failed: {out}{err}");
    }

    /// Waits until the guest has booted (its shell prompt in the serial log).
    fn wait_for_guest(&self) {
        let log = self.dir.path().join("serial.log");
        super::wait_until(Duration::from_secs(60), "the libvirt guest to boot", || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("guest ready").then_some(())
        });
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = virsh(&["destroy", &self.name]);
    }
}
