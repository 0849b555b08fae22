//! `--discover` presets: where known VM managers keep their VMs' monitor sockets, and how each
//! must be watched.
//!
//! Lima, Colima and podman machine dial their `qmp.sock` themselves for each operation, and
//! Proxmox VE opens `/var/run/qemu-server/VMID.qmp` per command: holding such a socket breaks
//! the manager, so they are watched politely (connect, poll, let go). quickemu's
//! `VM-monitor.socket` is a human monitor (HMP), held like any socket; the dialect is told by
//! the connection. libvirt domains are listed with `virsh` and reached through libvirt's proxy.
//! This module only finds sockets; it does not connect to them.

use crate::qmp::Target;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// A VM manager whose sockets `--discover NAME` finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Lima and Colima: `~/.lima/*/qmp.sock` (Colima's `~/.colima/_lima/*/qmp.sock`).
    Lima,
    /// podman machine: `$XDG_RUNTIME_DIR/podman/qmp_*.sock`.
    Podman,
    /// quickemu: `*-monitor.socket` in the VM folders under the current directory.
    Quickemu,
    /// Proxmox VE: `/var/run/qemu-server/*.qmp`.
    Proxmox,
    /// libvirt: every running domain.
    Libvirt,
}

impl Preset {
    /// Every preset, in the order help lists them.
    pub const ALL: [Preset; 5] = [
        Preset::Lima,
        Preset::Podman,
        Preset::Quickemu,
        Preset::Proxmox,
        Preset::Libvirt,
    ];

    /// The name typed after `--discover`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Lima => "lima",
            Preset::Podman => "podman",
            Preset::Quickemu => "quickemu",
            Preset::Proxmox => "proxmox",
            Preset::Libvirt => "libvirt",
        }
    }

    /// The preset called `name` (`colima` is Lima's).
    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "colima" => Some(Preset::Lima),
            _ => Preset::ALL.into_iter().find(|preset| preset.name() == name),
        }
    }

    /// True when the manager dials the socket itself, so it must be watched politely.
    pub fn polite(self) -> bool {
        matches!(self, Preset::Lima | Preset::Podman | Preset::Proxmox)
    }

    /// The glob patterns of this manager's sockets, for `home`, the runtime directory and the
    /// current directory (empty for libvirt, whose domains are listed by `virsh`).
    pub fn patterns(self, home: Option<&Path>, runtime: Option<&Path>, here: &Path) -> Vec<String> {
        let under = |base: &Path, rest: &str| {
            format!("{}/{rest}", glob::Pattern::escape(&base.to_string_lossy()))
        };
        match self {
            Preset::Lima => home
                .map(|home| {
                    vec![
                        under(home, ".lima/*/qmp.sock"),
                        under(home, ".colima/_lima/*/qmp.sock"),
                    ]
                })
                .unwrap_or_default(),
            Preset::Podman => runtime
                .map(|runtime| vec![under(runtime, "podman/qmp_*.sock")])
                .unwrap_or_default(),
            Preset::Quickemu => vec![
                under(here, "*-monitor.socket"),
                under(here, "*/*-monitor.socket"),
            ],
            Preset::Proxmox => vec!["/var/run/qemu-server/*.qmp".to_string()],
            Preset::Libvirt => Vec::new(),
        }
    }

    /// The sockets (or domains) there are now; the error is one line for the user.
    pub async fn scan(self, libvirt_uri: Option<&str>) -> Result<BTreeSet<Target>, String> {
        if self == Preset::Libvirt {
            let uri = crate::libvirt::resolve_uri(libvirt_uri);
            let domains = crate::libvirt::running_domains(&uri)
                .await
                .map_err(|error| error.to_string())?;
            return Ok(domains
                .into_iter()
                .map(|domain| Target::Libvirt { domain })
                .collect());
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let patterns = self.patterns(home.as_deref(), runtime.as_deref(), &here);
        tokio::task::spawn_blocking(move || sockets_matching(&patterns))
            .await
            .map_err(|error| error.to_string())
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The unix sockets matching any of `patterns` (unreadable entries are skipped).
pub fn sockets_matching(patterns: &[String]) -> BTreeSet<Target> {
    use std::os::unix::fs::FileTypeExt;
    patterns
        .iter()
        .filter_map(|pattern| glob::glob(pattern).ok())
        .flatten()
        .flatten()
        .filter(|path| std::fs::metadata(path).is_ok_and(|meta| meta.file_type().is_socket()))
        .map(Target::Unix)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_modes_fit_the_manager() {
        for preset in Preset::ALL {
            assert_eq!(Preset::from_name(preset.name()), Some(preset));
        }
        assert_eq!(Preset::from_name("colima"), Some(Preset::Lima));
        assert_eq!(Preset::from_name("vmware"), None);
        assert!(Preset::Proxmox.polite() && Preset::Lima.polite() && Preset::Podman.polite());
        assert!(!Preset::Quickemu.polite() && !Preset::Libvirt.polite());
    }

    #[test]
    fn lima_and_podman_sockets_are_found_where_the_managers_put_them() {
        let home = tempfile::tempdir().unwrap();
        let lima = home.path().join(".lima/default");
        std::fs::create_dir_all(&lima).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(lima.join("qmp.sock")).unwrap();
        std::fs::write(lima.join("ha.sock"), "not this one").unwrap();
        let runtime = home.path().join("run");
        std::fs::create_dir_all(runtime.join("podman")).unwrap();
        let _podman = std::os::unix::net::UnixListener::bind(
            runtime.join("podman/qmp_podman-machine-default.sock"),
        )
        .unwrap();
        let found = |preset: Preset| {
            sockets_matching(&preset.patterns(Some(home.path()), Some(&runtime), home.path()))
        };
        assert_eq!(
            found(Preset::Lima),
            BTreeSet::from([Target::Unix(lima.join("qmp.sock"))])
        );
        assert_eq!(
            found(Preset::Podman),
            BTreeSet::from([Target::Unix(
                runtime.join("podman/qmp_podman-machine-default.sock")
            )])
        );
        assert!(found(Preset::Quickemu).is_empty());
        let vm = home.path().join("ubuntu-24.04");
        std::fs::create_dir_all(&vm).unwrap();
        let monitor = vm.join("ubuntu-24.04-monitor.socket");
        let _hmp = std::os::unix::net::UnixListener::bind(&monitor).unwrap();
        let _serial =
            std::os::unix::net::UnixListener::bind(vm.join("ubuntu-24.04-serial.socket")).unwrap();
        assert_eq!(
            found(Preset::Quickemu),
            BTreeSet::from([Target::Unix(monitor)])
        );
    }
}
