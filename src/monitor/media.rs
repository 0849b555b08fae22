//! Removable media: which device a command names, the checks on an image before
//! `blockdev-change-medium` (the file exists, is a file, can be read) and format detection
//! from the image's first bytes.

use crate::qmp::types::BlockInfo;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The format sent with a new medium.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FormatChoice {
    /// Read the image's header and name the format it has.
    #[default]
    Detect,
    /// Raw (ISO images are raw).
    Raw,
    /// qcow2.
    Qcow2,
}

impl FormatChoice {
    /// The next choice (Tab in the prompt).
    pub fn next(self) -> FormatChoice {
        match self {
            FormatChoice::Detect => FormatChoice::Raw,
            FormatChoice::Raw => FormatChoice::Qcow2,
            FormatChoice::Qcow2 => FormatChoice::Detect,
        }
    }

    /// As shown in the prompt.
    pub fn label(self) -> &'static str {
        match self {
            FormatChoice::Detect => "detect",
            FormatChoice::Raw => "raw",
            FormatChoice::Qcow2 => "qcow2",
        }
    }

    fn fixed(self) -> Option<&'static str> {
        match self {
            FormatChoice::Detect => None,
            FormatChoice::Raw => Some("raw"),
            FormatChoice::Qcow2 => Some("qcow2"),
        }
    }
}

/// The arguments that name a block device in `eject` and `blockdev-change-medium`: the
/// guest device (`id`, also for `-blockdev` drives) when QEMU gave one, else the drive id.
pub fn device_arguments(info: &BlockInfo) -> Value {
    match info.qdev.as_deref().filter(|q| !q.is_empty()) {
        Some(qdev) => json!({ "id": qdev }),
        None => json!({ "device": info.device }),
    }
}

/// The name shown for a removable device: the drive id, else the guest device.
pub fn device_name(info: &BlockInfo) -> String {
    if info.device.is_empty() {
        info.qdev.clone().unwrap_or_default()
    } else {
        info.device.clone()
    }
}

/// The format named by an image's first bytes (64 KiB are enough for ISO 9660's marker).
pub fn detect_format(head: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"QFI\xfb") {
        "qcow2"
    } else if starts(b"QFI\0") {
        "qed"
    } else if starts(b"KDMV") || starts(b"# Disk DescriptorFile") {
        "vmdk"
    } else if starts(b"vhdxfile") {
        "vhdx"
    } else if starts(b"conectix") {
        "vpc"
    } else if head.len() >= 0x44 && head[0x40..0x44] == [0x7f, 0x10, 0xda, 0xbe] {
        "vdi"
    } else {
        // ISO 9660 ("CD001" at 0x8001) and anything unrecognised are raw.
        "raw"
    }
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    /// The absolute path to send.
    pub path: String,
    /// The format to send (`None`: let QEMU probe).
    pub format: Option<String>,
    /// The format was read from the header.
    pub detected: bool,
}

/// Expands `~/`, makes the path absolute (QEMU's working directory is not ours).
pub fn absolute(path: &str) -> PathBuf {
    let expanded = match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(&expanded))
            .unwrap_or(expanded)
    }
}

/// Checks an image on this host and settles its format. With `local` false (QEMU runs on
/// another host), the path is sent as typed and QEMU judges it.
pub fn check_image(path: &str, choice: FormatChoice, local: bool) -> Result<CheckedImage, String> {
    let typed = path.trim();
    if typed.is_empty() {
        return Err("no image path given".to_string());
    }
    if typed.chars().any(char::is_control) {
        return Err("the path holds control characters".to_string());
    }
    if !local {
        return Ok(CheckedImage {
            path: typed.to_string(),
            format: choice.fixed().map(str::to_string),
            detected: false,
        });
    }
    let full = absolute(typed);
    let shown = full.display().to_string();
    let metadata = std::fs::metadata(&full).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no such file: {shown}"),
        _ => format!("cannot use {shown}: {e}"),
    })?;
    if metadata.is_dir() {
        return Err(format!("{shown} is a directory, not an image file"));
    }
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(&full)
        .and_then(|file| file.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let (format, detected) = match choice.fixed() {
        Some(format) => (format, false),
        None => (detect_format(&head), true),
    };
    Ok(CheckedImage {
        path: shown,
        format: Some(format.to_string()),
        detected,
    })
}

/// The file name of a path, for short messages.
pub fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_headers() {
        assert_eq!(detect_format(b"QFI\xfb\0\0\0\x03"), "qcow2");
        assert_eq!(detect_format(b"KDMV...."), "vmdk");
        let mut iso = vec![0u8; 0x8010];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(detect_format(&iso), "raw");
        assert_eq!(detect_format(b""), "raw");
    }

    #[test]
    fn images_are_checked_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.iso");
        let error = check_image(missing.to_str().unwrap(), FormatChoice::Detect, true).unwrap_err();
        assert!(error.starts_with("no such file: "), "{error}");
        let error = check_image(dir.path().to_str().unwrap(), FormatChoice::Raw, true).unwrap_err();
        assert!(error.contains("is a directory"), "{error}");
        assert_eq!(
            check_image("  ", FormatChoice::Raw, true).unwrap_err(),
            "no image path given"
        );
        let image = dir.path().join("disk.img");
        std::fs::write(&image, b"QFI\xfb rest").unwrap();
        let checked = check_image(image.to_str().unwrap(), FormatChoice::Detect, true).unwrap();
        assert_eq!(checked.format.as_deref(), Some("qcow2"));
        assert!(checked.detected);
        let checked = check_image(image.to_str().unwrap(), FormatChoice::Raw, true).unwrap();
        assert_eq!(checked.format.as_deref(), Some("raw"));
        let remote = check_image("/srv/x.iso", FormatChoice::Detect, false).unwrap();
        assert_eq!(remote.format, None);
        assert_eq!(remote.path, "/srv/x.iso");
    }

    #[test]
    fn devices_are_named_by_guest_device_when_possible() {
        let info = BlockInfo {
            device: "cd0".into(),
            qdev: Some("/machine/peripheral-anon/device[0]".into()),
            ..Default::default()
        };
        assert_eq!(
            device_arguments(&info),
            json!({"id": "/machine/peripheral-anon/device[0]"})
        );
        assert_eq!(device_name(&info), "cd0");
        let bare = BlockInfo {
            device: "cd1".into(),
            ..Default::default()
        };
        assert_eq!(device_arguments(&bare), json!({"device": "cd1"}));
    }
}
