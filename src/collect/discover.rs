//! `--discover DIR` and `--discover ssh://HOST/DIR`: every QMP socket in a directory, here or
//! on another host, is watched; sockets that appear are added and sockets that disappear are
//! dropped. Polls the directory once a second (portable, and cheap for the handful of entries
//! such directories hold). A local scan runs on tokio's blocking pool, so a slow directory (a
//! hung network mount) never stalls the runtime thread; a remote directory is listed by a
//! shell loop over the host's ssh connection (no `find` or `ls` parsing needed there). A
//! preset name (`lima`, `podman`, `quickemu`, `proxmox`, `libvirt`) looks where that manager
//! keeps its sockets instead (see [`super::Preset`]).

use super::presets::Preset;
use crate::qmp::Target;
use crate::ssh::{SshHost, shell_quote};
use std::collections::BTreeSet;
use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the directory is read.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);

/// How long listing a remote directory may take.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(10);

/// A change in the watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirChange {
    /// A socket appeared.
    Appeared(Target),
    /// A socket disappeared.
    Vanished(Target),
}

/// Where sockets are discovered: a directory on this machine, or on another host, or where a
/// known VM manager keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A VM manager's sockets (or libvirt's running domains).
    Preset {
        /// Which manager.
        preset: Preset,
        /// The libvirt connection URI, for the libvirt preset (`None`: the default).
        libvirt_uri: Option<String>,
    },
    /// A directory here.
    Local(PathBuf),
    /// A directory on another host, over ssh.
    Ssh {
        /// The host.
        host: SshHost,
        /// The directory's absolute path there.
        dir: String,
    },
}

impl FromStr for Place {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with("ssh://") {
            let (host, dir) = crate::ssh::parse_url(text)
                .map_err(|reason| format!("invalid directory '{text}': {reason}"))?;
            Ok(Place::Ssh { host, dir })
        } else if text.is_empty() {
            Err("the directory is empty".to_string())
        } else if let Some(preset) = Preset::from_name(text) {
            // A directory with a preset's name is written `./lima`.
            Ok(Place::Preset {
                preset,
                libvirt_uri: None,
            })
        } else {
            Ok(Place::Local(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Local(dir) => write!(f, "{}", dir.display()),
            Place::Ssh { host, dir } => write!(f, "ssh://{host}{dir}"),
            Place::Preset { preset, .. } => write!(f, "{preset}"),
        }
    }
}

/// The sockets in `dir` now.
pub fn scan(dir: &Path) -> std::io::Result<BTreeSet<PathBuf>> {
    let mut sockets = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type().is_ok_and(|t| t.is_socket()) {
            sockets.insert(entry.path());
        }
    }
    Ok(sockets)
}

/// [`scan`] on tokio's blocking pool.
pub async fn scan_off_runtime(dir: &Path) -> std::io::Result<BTreeSet<PathBuf>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || scan(&dir))
        .await
        .unwrap_or_else(|error| Err(std::io::Error::other(error)))
}

/// Prints the name of each socket in `$1`, each ended by a NUL; exits 3 when there is no
/// such directory, 4 when it cannot be read.
const LIST_SCRIPT: &str = "cd \"$1\" 2>/dev/null || { if [ -d \"$1\" ]; then exit 4; fi; exit 3; }; \
    for f in * .[!.]* ..?*; do if [ -S \"$f\" ]; then printf \"%s\\0\" \"$f\"; fi; done; exit 0";

/// The sockets in `dir` on `host` now, as targets.
pub async fn scan_remote(host: &SshHost, dir: &str) -> Result<BTreeSet<Target>, String> {
    let line = format!(
        "sh -c {} qemu-dash {}",
        shell_quote(LIST_SCRIPT),
        shell_quote(dir)
    );
    let out = crate::ssh::run(host, &line, REMOTE_TIMEOUT)
        .await
        .map_err(|error| error.to_string())?;
    match out.code {
        Some(0) => {}
        Some(3) => return Err(format!("no directory {dir} on {host}")),
        Some(4) => return Err(format!("cannot read {dir} on {host}: permission denied")),
        _ => {
            let why = out.stderr.lines().last().unwrap_or("no reason given");
            return Err(format!("cannot list {dir} on {host}: {why}"));
        }
    }
    let base = dir.trim_end_matches('/');
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| Target::Ssh {
            host: host.clone(),
            path: format!("{base}/{}", String::from_utf8_lossy(name)),
        })
        .collect())
}

/// The sockets in `place` now, as targets; the error is one line for the user.
pub async fn scan_place(place: &Place) -> Result<BTreeSet<Target>, String> {
    match place {
        Place::Local(dir) => scan_off_runtime(dir)
            .await
            .map(|paths| paths.into_iter().map(Target::Unix).collect())
            .map_err(|error| format!("cannot read {}: {error}", dir.display())),
        Place::Ssh { host, dir } => scan_remote(host, dir).await,
        Place::Preset {
            preset,
            libvirt_uri,
        } => preset.scan(libvirt_uri.as_deref()).await,
    }
}

/// The changes from `before` to `after`, removals first.
pub fn diff(before: &BTreeSet<Target>, after: &BTreeSet<Target>) -> Vec<DirChange> {
    before
        .difference(after)
        .cloned()
        .map(DirChange::Vanished)
        .chain(after.difference(before).cloned().map(DirChange::Appeared))
        .collect()
}

/// Reports changes in `place` until the receiver is dropped. The first scan reports every
/// socket already there. A directory that cannot be read is reported once, then retried.
pub async fn run(
    place: Place,
    changes: mpsc::UnboundedSender<DirChange>,
    problems: mpsc::UnboundedSender<String>,
) {
    let mut known = BTreeSet::new();
    let mut failing = false;
    loop {
        match scan_place(&place).await {
            Ok(now) => {
                failing = false;
                for change in diff(&known, &now) {
                    if changes.send(change).is_err() {
                        return;
                    }
                }
                known = now;
            }
            Err(text) if !failing => {
                failing = true;
                if problems.send(text).is_err() {
                    return;
                }
            }
            Err(_) => {}
        }
        tokio::time::sleep(SCAN_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sockets_only_and_diffs() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.qmp");
        let _listener = std::os::unix::net::UnixListener::bind(&a).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let first = scan(dir.path()).unwrap();
        assert_eq!(first, BTreeSet::from([a.clone()]));
        let b = dir.path().join("b.qmp");
        let _other = std::os::unix::net::UnixListener::bind(&b).unwrap();
        std::fs::remove_file(&a).unwrap();
        let second = scan(dir.path()).unwrap();
        let targets = |set: BTreeSet<PathBuf>| set.into_iter().map(Target::Unix).collect();
        assert_eq!(
            diff(&targets(first), &targets(second)),
            vec![
                DirChange::Vanished(Target::Unix(a)),
                DirChange::Appeared(Target::Unix(b))
            ]
        );
    }

    #[test]
    fn the_listing_script_runs_in_sh() {
        // It travels in single quotes through the remote shell; run it here.
        assert!(!LIST_SCRIPT.contains('\''));
        let dir = tempfile::tempdir().unwrap();
        let _a = std::os::unix::net::UnixListener::bind(dir.path().join("a b.qmp")).unwrap();
        let _b = std::os::unix::net::UnixListener::bind(dir.path().join(".hidden")).unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let run = |dir: &str| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(LIST_SCRIPT)
                .arg("qemu-dash")
                .arg(dir)
                .output()
                .unwrap()
        };
        let out = run(dir.path().to_str().unwrap());
        assert_eq!(out.status.code(), Some(0));
        let mut names: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        names.sort();
        assert_eq!(names, [&b""[..], b".hidden", b"a b.qmp"]);
        assert_eq!(run("/nonexistent/dir").status.code(), Some(3));
    }

    #[test]
    fn places_parse() {
        assert_eq!("/run/qemu".parse(), Ok(Place::Local("/run/qemu".into())));
        let remote: Place = "ssh://u@h:2/run/qemu/".parse().unwrap();
        assert_eq!(remote.to_string(), "ssh://u@h:2/run/qemu/");
        assert!("ssh://h".parse::<Place>().is_err());
        assert_eq!(
            "proxmox".parse(),
            Ok(Place::Preset {
                preset: Preset::Proxmox,
                libvirt_uri: None
            })
        );
        assert_eq!("./proxmox".parse(), Ok(Place::Local("./proxmox".into())));
    }
}
