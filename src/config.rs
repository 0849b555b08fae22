//! The config file (TOML): VMs to watch with display names, and defaults for options.
//!
//! Read from `--config FILE`, else `$XDG_CONFIG_HOME/qemu-dash/config.toml` (or
//! `~/.config/qemu-dash/config.toml`) when it exists. Command-line options win over it.
//!
//! ```toml
//! interval = 0.5        # seconds between polls
//! read_only = false
//! discover = "/run/qemu"   # watch every socket in this directory (or ssh://HOST/DIR,
//!                          # or a preset: lima, podman, quickemu, proxmox, libvirt)
//! share = false            # polite mode for every VM (--share)
//! allow_control = false    # controls on libvirt domains (--allow-control)
//! libvirt_uri = "qemu:///system"
//! theme = "mono"           # no colours (NO_COLOR does the same)
//! mouse = false            # leave the mouse to the terminal (as --no-mouse does)
//!
//! [keys]                   # move keys: an action everywhere (pause, reset, help, quit, back…),
//! pause = "x"              # one key, "C-x", "M-x", "F5", or a list
//! [keys.snapshots]         # or on one screen only (vm, fleet, snapshots, console, media, …)
//! create = ["a", "C-n"]
//!
//! [[vm]]
//! name = "web1"
//! target = "/run/qemu/web1.qmp"
//!
//! [[vm]]
//! target = "/home/me/.lima/default/qmp.sock"
//! share = true             # Lima dials this socket itself: poll politely
//! ```

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One VM in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmEntry {
    /// The name to show (instead of `-name` or the socket path).
    pub name: Option<String>,
    /// PATH, unix:PATH, tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN.
    pub target: String,
    /// Watch this VM in polite mode (connect, poll, let go at every tick).
    pub share: Option<bool>,
}

/// The config file's contents.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default poll interval, seconds (checked as `--interval` is, see [`Config::interval`]).
    pub interval: Option<f64>,
    /// Default for `--read-only`.
    pub read_only: Option<bool>,
    /// Default for `--discover`: a directory, `ssh://HOST/DIR`, or a preset name.
    pub discover: Option<String>,
    /// Default for `--share` (polite mode for every VM).
    pub share: Option<bool>,
    /// Default for `--allow-control` (controls on libvirt domains).
    pub allow_control: Option<bool>,
    /// Default for `--libvirt-uri`.
    pub libvirt_uri: Option<String>,
    /// "default", or "mono" for no colours (as does the `NO_COLOR` environment variable).
    #[serde(default)]
    pub theme: ThemeName,
    /// Default `true`: the wheel scrolls lists and a click focuses; `false` as `--no-mouse`.
    pub mouse: Option<bool>,
    /// Keys moved, as written: action name → key or keys, or screen name → such a table. The
    /// key table checks them (names, keys, clashes) when it is built from them.
    #[serde(default)]
    pub keys: KeyOverrides,
    /// VMs to watch when none are given on the command line.
    #[serde(default)]
    pub vm: Vec<VmEntry>,
    /// The file this was read from; `None` for the defaults or text parsed directly.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// The `[keys]` table as written: action name → key or keys, or screen name → such a table.
pub type KeyOverrides = std::collections::BTreeMap<String, toml::Value>;

/// The themes the config file's `theme` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum ThemeName {
    /// Colours that carry meaning (running green, paused yellow, errors red).
    #[default]
    Default,
    /// No colours: bold, reverse and dim only.
    Mono,
}

impl ThemeName {
    /// Every theme with its name in the config file.
    pub const ALL: [(ThemeName, &'static str); 2] =
        [(ThemeName::Default, "default"), (ThemeName::Mono, "mono")];
}

/// A `theme` the config file gives that names no theme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown theme '{name}' (known: {known})")]
pub struct UnknownTheme {
    /// The name given.
    name: String,
    /// The names known, comma-separated.
    known: String,
}

impl std::str::FromStr for ThemeName {
    type Err = UnknownTheme;

    fn from_str(name: &str) -> Result<ThemeName, UnknownTheme> {
        ThemeName::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(theme, _)| *theme)
            .ok_or_else(|| UnknownTheme {
                name: name.to_string(),
                known: ThemeName::ALL.map(|(_, known)| known).join(", "),
            })
    }
}

impl TryFrom<String> for ThemeName {
    type Error = UnknownTheme;

    fn try_from(name: String) -> Result<ThemeName, UnknownTheme> {
        name.parse()
    }
}

impl Config {
    /// Parses config text; errors name the line and field.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.interval()?;
        Ok(config)
    }

    /// The poll interval, checked with the same rules as `--interval`.
    pub fn interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        self.interval
            .map(|seconds| crate::cli::INTERVAL.check(seconds))
            .transpose()
            .map_err(|error| anyhow::anyhow!("interval: {error}"))
    }

    /// `error`, found in this config's `field` after it was read (the `[keys]` table's clash),
    /// told as [`Config::load`] tells its own: naming the file and the field.
    pub fn error_in(&self, field: &str, error: impl std::fmt::Display) -> anyhow::Error {
        let error = anyhow::anyhow!("{field}: {error}");
        match &self.source {
            Some(path) => error.context(format!("in the config file {}", path.display())),
            None => error,
        }
    }

    /// Reads `explicit` (which must exist), else the default file if it exists, else nothing.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match default_path() {
                Some(path) if path.is_file() => path,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        let config = Config::parse(&text)
            .with_context(|| format!("in the config file {}", path.display()))?;
        Ok(Config {
            source: Some(path),
            ..config
        })
    }

    /// The configured name of `target`, if the file lists it.
    pub fn name_of(&self, target: &str) -> Option<String> {
        let wanted: Option<crate::qmp::Target> = target.parse().ok();
        self.vm
            .iter()
            .find(|entry| entry.target == target || entry.target.parse().ok() == wanted)
            .and_then(|entry| entry.name.clone())
    }
}

/// `$XDG_CONFIG_HOME/qemu-dash/config.toml`, or `~/.config/qemu-dash/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("qemu-dash").join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vms_and_defaults() {
        let config = Config::parse(
            "interval = 0.5\n[[vm]]\nname = \"web1\"\ntarget = \"/run/web1.qmp\"\n[[vm]]\ntarget = \"tcp:127.0.0.1:4444\"\n",
        )
        .unwrap();
        assert_eq!(config.interval, Some(0.5));
        assert_eq!(config.vm.len(), 2);
        assert_eq!(
            config.name_of("unix:/run/web1.qmp").as_deref(),
            Some("web1")
        );
        assert_eq!(config.name_of("/run/other.qmp"), None);
    }

    #[test]
    fn intervals_follow_the_command_line_rules() {
        for text in [
            "interval = nan",
            "interval = inf",
            "interval = 0.1",
            "interval = 11",
        ] {
            let error = Config::parse(text).unwrap_err().to_string();
            assert!(
                error.starts_with("interval: the interval "),
                "{text}: {error}"
            );
        }
        assert_eq!(
            Config::parse("interval = 10").unwrap().interval().unwrap(),
            Some(std::time::Duration::from_secs(10))
        );
    }

    #[test]
    fn themes_are_checked() {
        assert_eq!(
            Config::parse("theme = \"mono\"\n").unwrap().theme,
            ThemeName::Mono
        );
        assert_eq!(Config::parse("").unwrap().theme, ThemeName::Default);
        let error = Config::parse("theme = \"neon\"\n").unwrap_err().to_string();
        assert!(
            error.contains("unknown theme 'neon' (known: default, mono)"),
            "{error}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_that_name_them() {
        let error = Config::parse("intervall = 1\n").unwrap_err().to_string();
        assert!(error.contains("intervall"), "{error}");
    }
}
