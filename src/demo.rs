//! `qemu-dash demo`: starts a throwaway VM (the tiny guest from `assets/guest`, under TCG by
//! default) in a temp dir, watches it, and on exit stops QEMU and removes the files.
//!
//! The guest is built on first use by the script embedded from `assets/guest/build.sh` and
//! cached; when it cannot be built, the demo says so and starts QEMU without a guest OS.
//! QEMU runs under a [`guard`] process, so it dies and the temp dir goes even when the
//! dashboard is killed.

pub mod guard;

use crate::cli::DemoArgs;
use crate::collect::session::WatchOptions;
use crate::qmp::{ConnectOptions, Target};
use anyhow::{Context, bail};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The guest build script, embedded so an installed binary can build the guest too.
pub const GUEST_BUILD_SCRIPT: &str = include_str!("../assets/guest/build.sh");

/// Where the guest is cached by default: `$XDG_CACHE_HOME/qemu-dash/guest` or
/// `~/.cache/qemu-dash/guest`.
pub fn default_guest_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(cache.join("qemu-dash").join("guest"))
}

/// The kernel and initramfs in `dir`, if both are there.
pub fn guest_files(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("initrd.gz");
    (kernel.is_file() && initrd.is_file()).then_some((kernel, initrd))
}

/// Builds the guest into `dir` (progress on stderr), or says why it could not.
pub fn build_guest(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    eprintln!(
        "qemu-dash: building the demo guest in {} (once)…",
        dir.display()
    );
    let mut child = Command::new("bash")
        .arg("-s")
        .arg("--")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("running bash to build the guest")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(GUEST_BUILD_SCRIPT.as_bytes())
            .context("sending the build script to bash")?;
    }
    let status = child.wait().context("waiting for the guest build")?;
    if !status.success() {
        bail!("the guest build script failed ({status})");
    }
    guest_files(dir).context("the guest build finished but vmlinuz/initrd.gz are missing")
}

fn which(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

const INSTALL_HINT: &str = "install it with `sudo apt-get install qemu-system-x86 qemu-utils` \
     (Debian/Ubuntu) or `sudo dnf install qemu-system-x86 qemu-img` (Fedora), or point \
     QEMU_DASH_QEMU at a qemu-system binary";

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !which(&args.qemu) {
        bail!("QEMU ({}) was not found: {INSTALL_HINT}", args.qemu);
    }
    let qemu_img = std::env::var("QEMU_DASH_QEMU_IMG").unwrap_or_else(|_| "qemu-img".into());
    if !which(&qemu_img) {
        bail!("qemu-img was not found: {INSTALL_HINT}");
    }
    let guest = if args.no_guest {
        None
    } else {
        let dir = args
            .guest_dir
            .clone()
            .or_else(default_guest_dir)
            .context("no cache dir: set HOME or pass --guest-dir")?;
        match guest_files(&dir)
            .map(Ok)
            .unwrap_or_else(|| build_guest(&dir))
        {
            Ok(files) => Some(files),
            Err(error) => {
                eprintln!(
                    "qemu-dash: {error:#}; starting QEMU without a guest OS (the disk will stay idle)"
                );
                None
            }
        }
    };
    let workdir = tempfile::Builder::new()
        .prefix("qemu-dash-demo-")
        .tempdir()
        .context("creating a temp dir")?;
    let disk = workdir.path().join("disk.qcow2");
    let made = Command::new(&qemu_img)
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("256M")
        .status()
        .context("running qemu-img")?;
    if !made.success() {
        bail!("qemu-img could not create {}", disk.display());
    }
    let socket = workdir.path().join("qmp.sock");
    let driver_socket = workdir.path().join("demo-driver.sock");
    let os = |text: &dyn AsRef<OsStr>| text.as_ref().to_os_string();
    let mut qemu_args: Vec<OsString> = vec![
        os(&"-name"),
        os(&"qemu-dash-demo"),
        os(&"-accel"),
        os(&args.accel),
        os(&"-m"),
        os(&"256"),
        os(&"-smp"),
        os(&"2"),
        os(&"-nodefaults"),
        os(&"-display"),
        os(&"none"),
        os(&"-drive"),
        os(&format!(
            "file={},format=qcow2,if=virtio,id=disk0",
            disk.display()
        )),
        os(&"-device"),
        os(&"virtio-balloon"),
        os(&"-qmp"),
        os(&format!("unix:{},server=on,wait=off", socket.display())),
        os(&"-serial"),
        os(&format!(
            "file:{}",
            workdir.path().join("serial.log").display()
        )),
    ];
    if let Some((kernel, initrd)) = &guest {
        qemu_args.extend([
            os(&"-qmp"),
            os(&format!(
                "unix:{},server=on,wait=off",
                driver_socket.display()
            )),
            os(&"-kernel"),
            os(kernel),
            os(&"-initrd"),
            os(initrd),
            os(&"-append"),
            os(&"console=ttyS0 quiet"),
        ]);
    }
    let mut vm = guard::Guarded::start(&guard::Spec {
        program: args.qemu.clone().into(),
        args: qemu_args,
        dir: workdir.path().into(),
        socket: socket.clone().into(),
    })?;
    let driver = guest
        .is_some()
        .then(|| tokio::spawn(drive_balloon(Target::Unix(driver_socket))));
    let target = Target::Unix(socket.clone());
    let options = WatchOptions {
        connect: ConnectOptions::default(),
        pid: Some(vm.qemu_pid),
        event_log: None,
        read_only: false,
        ..Default::default()
    };
    let watchlist = crate::runtime::Watchlist {
        vms: vec![(target, None)],
        ..Default::default()
    };
    let result = crate::tui::run(
        watchlist,
        options,
        args.interval,
        false,
        crate::app::keymap::Keymap::default(),
        crate::ui::theme::Theme::new(
            crate::config::ThemeName::default(),
            crate::ui::theme::no_color_requested(),
        ),
        true,
    )
    .await;
    if let Some(driver) = driver {
        driver.abort();
    }
    if args.keep {
        vm.keep = true;
        let kept = workdir.keep();
        println!(
            "The demo VM is still running (pid {}). QMP socket: {}\nWatch it again: qemu-dash {}\nFiles: {}",
            vm.qemu_pid,
            socket.display(),
            socket.display(),
            kept.display()
        );
    }
    result
}

/// How often the demo moves the guest's balloon.
pub const BALLOON_PERIOD: Duration = Duration::from_secs(10);

/// Moves the demo guest's balloon between 192 and 256 MiB every [`BALLOON_PERIOD`] over its
/// own QMP socket, so that a new user sees events arrive and the memory panel change.
async fn drive_balloon(target: Target) {
    let Ok(client) = crate::qmp::Client::connect(&target, &ConnectOptions::default()).await else {
        return;
    };
    // Give the guest time to boot and load its balloon driver.
    tokio::time::sleep(BALLOON_PERIOD / 2).await;
    for mib in [192u64, 256].into_iter().cycle() {
        let value = serde_json::json!({ "value": mib << 20 });
        if client.execute("balloon", Some(value)).await.is_err() && client.closed_reason().is_some()
        {
            return;
        }
        tokio::time::sleep(BALLOON_PERIOD).await;
    }
}
