//! VMs run by libvirt, reached through libvirt's own QMP proxy.
//!
//! libvirt holds each domain's QMP socket. Its supported way in for other QMP clients is
//! `virt-qemu-qmp-proxy DOMAIN SOCKET`, which serves a QMP socket backed by libvirt's monitor
//! API and forwards QEMU's events. This module starts that proxy (one per connection, its
//! socket in a private directory, killed when the connection is dropped), finds the domain's
//! QEMU pid for `/proc` figures, and lists the running domains for `--libvirt`. It does not
//! speak QMP: the `qmp` module's client does, through the proxy's socket.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The proxy script (Debian package `libvirt-clients-qemu`).
pub const PROXY_SCRIPT: &str = "/usr/bin/virt-qemu-qmp-proxy";
/// The interpreter the proxy runs under: the system's, which has the `libvirt` module
/// (the script's `env python3` shebang can pick another python first on PATH).
pub const PROXY_PYTHON: &str = "/usr/bin/python3";
/// The connection URI used when neither the option nor `LIBVIRT_DEFAULT_URI` names one.
pub const DEFAULT_URI: &str = "qemu:///system";
/// How long the proxy may take to start and create its socket.
const PROXY_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `virsh` may take to list the domains.
const VIRSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Why controls are off on a libvirt domain unless the user allows them.
pub const CONTROLS_OFF: &str = "controls are off for libvirt domains (libvirt marks a domain \
     tainted when another client sends it commands); start with --allow-control to enable them";

/// What went wrong reaching a domain through libvirt.
#[derive(Debug, thiserror::Error)]
pub enum LibvirtError {
    /// The proxy's private directory could not be made.
    #[error("cannot make a directory for the libvirt proxy's socket: {0}")]
    TempDir(std::io::Error),
    /// The proxy could not be started.
    #[error(
        "cannot start {PROXY_PYTHON} {PROXY_SCRIPT}: {0} (install the libvirt-clients-qemu and \
         python3-libvirt packages)"
    )]
    Spawn(std::io::Error),
    /// The proxy exited before serving its socket; its last words.
    #[error("the libvirt QMP proxy for domain '{domain}' exited: {said}")]
    ProxyExited {
        /// The domain.
        domain: String,
        /// The last line it printed.
        said: String,
    },
    /// The proxy did not create its socket in time.
    #[error("the libvirt QMP proxy for domain '{domain}' made no socket within {} s", .after.as_secs())]
    ProxySlow {
        /// The domain.
        domain: String,
        /// How long it was given.
        after: Duration,
    },
    /// `virsh` failed.
    #[error("cannot list libvirt domains ({uri}): {reason}")]
    List {
        /// The connection URI.
        uri: String,
        /// virsh's message.
        reason: String,
    },
}

/// The libvirt connection URI: the one given, else `LIBVIRT_DEFAULT_URI`, else
/// [`DEFAULT_URI`].
pub fn resolve_uri(given: Option<&str>) -> String {
    given
        .map(str::to_string)
        .or_else(|| {
            std::env::var("LIBVIRT_DEFAULT_URI")
                .ok()
                .filter(|uri| !uri.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_URI.to_string())
}

/// A running `virt-qemu-qmp-proxy` for one domain. Dropping it kills the proxy and removes
/// its directory.
#[derive(Debug)]
pub struct Proxy {
    child: tokio::process::Child,
    socket: PathBuf,
    output: PathBuf,
    // Last, so the directory goes after the child is killed.
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts the proxy for `domain` on `uri` and waits until its socket exists.
    pub async fn start(domain: &str, uri: &str) -> Result<Proxy, LibvirtError> {
        let dir = tempfile::Builder::new()
            .prefix("qemu-dash-libvirt-")
            .tempdir()
            .map_err(LibvirtError::TempDir)?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(LibvirtError::TempDir)?;
        let socket = dir.path().join("qmp.sock");
        let output = dir.path().join("proxy.log");
        let log = std::fs::File::create(&output).map_err(LibvirtError::TempDir)?;
        let log_err = log.try_clone().map_err(LibvirtError::TempDir)?;
        let child = tokio::process::Command::new(PROXY_PYTHON)
            .arg(PROXY_SCRIPT)
            .arg("--connect")
            .arg(uri)
            .arg(domain)
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .map_err(LibvirtError::Spawn)?;
        let mut proxy = Proxy {
            child,
            socket,
            output,
            _dir: dir,
        };
        proxy.wait_for_socket(domain).await?;
        Ok(proxy)
    }

    async fn wait_for_socket(&mut self, domain: &str) -> Result<(), LibvirtError> {
        let start = tokio::time::Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(LibvirtError::ProxyExited {
                    domain: domain.to_string(),
                    said: last_line(&self.output),
                });
            }
            if self.socket.exists() {
                return Ok(());
            }
            if start.elapsed() >= PROXY_START_TIMEOUT {
                return Err(LibvirtError::ProxySlow {
                    domain: domain.to_string(),
                    after: PROXY_START_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The QMP socket the proxy serves.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The proxy's pid (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The last non-empty line of a file, or a note that there was none.
fn last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| {
            // The proxy prefixes its messages with its own path.
            line.strip_prefix(PROXY_SCRIPT)
                .map(|rest| rest.trim_start_matches(':').trim())
                .unwrap_or(line)
                .to_string()
        })
        .unwrap_or_else(|| "it printed nothing".to_string())
}

/// Where libvirt writes a domain's QEMU pid for `uri` (system or session daemon).
fn pid_files(domain: &str, uri: &str) -> Vec<PathBuf> {
    let name = format!("{domain}.pid");
    let mut files = Vec::new();
    if uri.contains("/session") {
        if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
            files.push(PathBuf::from(runtime).join("libvirt/qemu/run").join(&name));
        }
        if let Some(home) = std::env::var_os("HOME") {
            files.push(
                PathBuf::from(home)
                    .join(".config/libvirt/qemu/run")
                    .join(&name),
            );
        }
    } else {
        files.push(Path::new("/run/libvirt/qemu").join(&name));
        files.push(Path::new("/var/run/libvirt/qemu").join(&name));
    }
    files
}

/// True when `cmdline` (NUL-separated, from `/proc/PID/cmdline`) is QEMU run by libvirt for
/// `domain`: libvirt passes `-name guest=DOMAIN,…`.
fn is_domain_qemu(cmdline: &[u8], domain: &str) -> bool {
    let mut words = cmdline.split(|&b| b == 0);
    while let Some(word) = words.next() {
        if word == b"-name" {
            let Some(value) = words.next() else {
                return false;
            };
            let value = String::from_utf8_lossy(value);
            // Commas in a name are doubled on QEMU's command line.
            let wanted = domain.replace(',', ",,");
            let name = value.strip_prefix("guest=").unwrap_or(&value);
            return name == wanted || name.starts_with(&format!("{wanted},"));
        }
    }
    false
}

fn cmdline_of(pid: u32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline")).ok()
}

/// The pid of the QEMU running `domain`: libvirt's pid file, checked against the process's
/// command line; else the process whose command line names the domain.
pub fn qemu_pid(domain: &str, uri: &str) -> Option<u32> {
    let from_file = pid_files(domain, uri).into_iter().find_map(|file| {
        let pid: u32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
        is_domain_qemu(&cmdline_of(pid)?, domain).then_some(pid)
    });
    from_file.or_else(|| {
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                is_domain_qemu(&cmdline_of(pid)?, domain).then_some(pid)
            })
    })
}

/// The names of the running (and paused) domains on `uri`.
pub async fn running_domains(uri: &str) -> Result<BTreeSet<String>, LibvirtError> {
    let fail = |reason: String| LibvirtError::List {
        uri: uri.to_string(),
        reason,
    };
    let output = tokio::process::Command::new("virsh")
        .args(["-q", "-c", uri, "list", "--name"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(VIRSH_TIMEOUT, output)
        .await
        .map_err(|_| {
            fail(format!(
                "virsh gave no answer within {} s",
                VIRSH_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|error| fail(format!("cannot run virsh: {error}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("virsh failed")
            .to_string();
        return Err(fail(why));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_is_found_on_qemus_command_line() {
        let line = b"qemu-system-x86_64\0-name\0guest=web,debug-threads=on\0-S\0";
        assert!(is_domain_qemu(line, "web"));
        assert!(!is_domain_qemu(line, "we"));
        assert!(!is_domain_qemu(b"qemu\0-name\0", "web"));
        assert!(is_domain_qemu(b"q\0-name\0guest=a,,b,x=1\0", "a,b"));
        assert!(!is_domain_qemu(b"python3\0proxy\0web\0", "web"));
    }

    #[test]
    fn the_uri_comes_from_the_option_then_the_environment() {
        assert_eq!(resolve_uri(Some("qemu:///session")), "qemu:///session");
        // The environment is shared by tests: only the explicit value is checked here.
        assert!(pid_files("d", "qemu:///system")[0].ends_with("libvirt/qemu/d.pid"));
    }

    #[test]
    fn the_proxys_last_words_lose_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log");
        std::fs::write(
            &file,
            format!("{PROXY_SCRIPT}: Domain not found: no domain with matching name 'x'\n\n"),
        )
        .unwrap();
        assert_eq!(
            last_line(&file),
            "Domain not found: no domain with matching name 'x'"
        );
        assert_eq!(last_line(&dir.path().join("none")), "it printed nothing");
    }
}
