//! Removable media: which device a command names, and the checks on an image before
//! `blockdev-change-medium` (the file exists, is a file, can be read; as qcow2 it names no
//! backing or data file). The format is always the user's choice, raw by default, never probed.

use crate::qmp::types::BlockInfo;
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The format sent with a new medium. Always named explicitly, so QEMU never probes: a guest
/// or a stranger can write any header into an image, and a probed (or detected) qcow2 header
/// can name a host file as its backing file, which the guest would then read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FormatChoice {
    /// Raw: the bytes of the file as they are (ISO images are raw). The default: it follows
    /// no reference to other files.
    #[default]
    Raw,
    /// qcow2, refused for an image that names a backing file or an external data file.
    Qcow2,
}

impl FormatChoice {
    /// The next choice (Tab in the prompt).
    pub fn next(self) -> FormatChoice {
        match self {
            FormatChoice::Raw => FormatChoice::Qcow2,
            FormatChoice::Qcow2 => FormatChoice::Raw,
        }
    }

    /// As shown in the prompt, and the format name QEMU takes.
    pub fn label(self) -> &'static str {
        match self {
            FormatChoice::Raw => "raw",
            FormatChoice::Qcow2 => "qcow2",
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

/// The qcow2 magic, "QFI\xfb".
const QCOW2_MAGIC: &[u8] = b"QFI\xfb";

/// The qcow2 header extension that names an external data file ("DATA").
const QCOW2_EXT_DATA_FILE: u32 = 0x4441_5441;

/// How many bytes of an image are read to check it (a qcow2 header and its extensions fit in
/// the first cluster; 64 KiB is the default cluster size).
const HEAD_BYTES: u64 = 64 * 1024;

/// Another file a qcow2 image would make QEMU open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// The backing file named in the header.
    Backing(String),
    /// An external data file named by a header extension.
    DataFile(String),
}

/// Why an image is refused as qcow2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Qcow2Problem {
    /// The file does not start with the qcow2 magic.
    #[error("is not a qcow2 image (no qcow2 header); insert it as raw")]
    NotQcow2,
    /// The header is cut short or points outside what was read.
    #[error("has a damaged or unusual qcow2 header, which qemu-dash will not pass to QEMU")]
    Damaged,
    /// The image names another file that QEMU would open for the guest.
    #[error(
        "is a qcow2 image whose {} is '{}': the guest would read that host file. Refused; \
         insert it as raw, or flatten it first (`qemu-img convert -O qcow2 IMAGE NEW`)",
        match .0 { Reference::Backing(_) => "backing file", Reference::DataFile(_) => "external data file" },
        match .0 { Reference::Backing(name) | Reference::DataFile(name) => name.escape_debug().to_string() }
    )]
    References(Reference),
}

fn be_u32(head: &[u8], at: usize) -> Option<u32> {
    let bytes = head.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u64(head: &[u8], at: usize) -> Option<u64> {
    let bytes = head.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Reads a qcow2 header (its first bytes in `head`) and refuses an image that would make QEMU
/// open another file: a backing file, or an external data file. A header that points outside
/// `head` is refused too rather than trusted.
pub fn check_qcow2_header(head: &[u8]) -> Result<(), Qcow2Problem> {
    if !head.starts_with(QCOW2_MAGIC) {
        return Err(Qcow2Problem::NotQcow2);
    }
    let version = be_u32(head, 4).ok_or(Qcow2Problem::Damaged)?;
    let backing_offset = be_u64(head, 8).ok_or(Qcow2Problem::Damaged)?;
    let backing_size = be_u32(head, 16).ok_or(Qcow2Problem::Damaged)?;
    let name_at = |offset: u64, size: u32| -> Result<String, Qcow2Problem> {
        let start = usize::try_from(offset).map_err(|_| Qcow2Problem::Damaged)?;
        let end = start
            .checked_add(usize::try_from(size).map_err(|_| Qcow2Problem::Damaged)?)
            .ok_or(Qcow2Problem::Damaged)?;
        let bytes = head.get(start..end).ok_or(Qcow2Problem::Damaged)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    };
    if backing_offset != 0 {
        let name = name_at(backing_offset, backing_size)?;
        return Err(Qcow2Problem::References(Reference::Backing(name)));
    }
    if version < 3 {
        return Ok(());
    }
    // Version 3: header extensions follow the header (its length is at byte 100), each as
    // type (u32), length (u32), data padded to 8 bytes, until type 0.
    let header_length = be_u32(head, 100).ok_or(Qcow2Problem::Damaged)?;
    let mut at = usize::try_from(header_length).map_err(|_| Qcow2Problem::Damaged)?;
    loop {
        let kind = be_u32(head, at).ok_or(Qcow2Problem::Damaged)?;
        let length = be_u32(head, at + 4).ok_or(Qcow2Problem::Damaged)?;
        if kind == 0 {
            return Ok(());
        }
        if kind == QCOW2_EXT_DATA_FILE {
            let name = name_at(at as u64 + 8, length)?;
            return Err(Qcow2Problem::References(Reference::DataFile(name)));
        }
        let padded = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_next_multiple_of(8))
            .ok_or(Qcow2Problem::Damaged)?;
        at = at
            .checked_add(8 + padded)
            .filter(|&next| next < head.len())
            .ok_or(Qcow2Problem::Damaged)?;
    }
}

/// What the checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    /// The absolute path to send.
    pub path: String,
    /// The format to send.
    pub format: FormatChoice,
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

/// The paths on this host that complete `typed` (as typed: `~/` and relative paths stay so),
/// a directory ending with `/`, at most [`PATH_CANDIDATES`], sorted. Hidden files show only
/// when the typed name starts with a dot. Nothing when the directory cannot be read.
pub fn complete_path(typed: &str) -> Vec<String> {
    let (dir_typed, name) = match typed.rfind('/') {
        Some(at) => typed.split_at(at + 1),
        None => ("", typed),
    };
    let dir = if dir_typed.is_empty() {
        absolute(".")
    } else {
        absolute(dir_typed)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut candidates: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            if !file.starts_with(name) || (file.starts_with('.') && !name.starts_with('.')) {
                return None;
            }
            let is_dir = entry.path().is_dir();
            Some(format!(
                "{dir_typed}{file}{}",
                if is_dir { "/" } else { "" }
            ))
        })
        .take(PATH_CANDIDATES)
        .collect();
    candidates.sort();
    candidates
}

/// The most paths one completion lists.
pub const PATH_CANDIDATES: usize = 1000;

/// Checks an image on this host before it is inserted: the file exists, is not a directory,
/// can be read, and, as qcow2, names no other file QEMU would open for the guest. With `local`
/// false (QEMU runs on another host) the path is sent as typed, and only as raw: qemu-dash
/// cannot read the image's header there.
pub fn check_image(path: &str, format: FormatChoice, local: bool) -> Result<CheckedImage, String> {
    let typed = path.trim();
    if typed.is_empty() {
        return Err("no image path given".to_string());
    }
    if typed.chars().any(char::is_control) {
        return Err("the path holds control characters".to_string());
    }
    if !local {
        if format == FormatChoice::Qcow2 {
            return Err(
                "QEMU runs on another host, so qemu-dash cannot check a qcow2 image for a \
                 backing file there; insert it as raw"
                    .to_string(),
            );
        }
        return Ok(CheckedImage {
            path: typed.to_string(),
            format,
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
    let mut head = Vec::new();
    std::fs::File::open(&full)
        .and_then(|file| file.take(HEAD_BYTES).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if format == FormatChoice::Qcow2 {
        check_qcow2_header(&head).map_err(|problem| format!("{shown} {problem}"))?;
    }
    Ok(CheckedImage {
        path: shown,
        format,
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

    /// A qcow2 v3 header (104 bytes, no extensions) with an optional backing file name.
    fn qcow2_head(backing: Option<&str>) -> Vec<u8> {
        let mut head = vec![0u8; 112];
        head[..4].copy_from_slice(QCOW2_MAGIC);
        head[4..8].copy_from_slice(&3u32.to_be_bytes());
        head[100..104].copy_from_slice(&104u32.to_be_bytes());
        if let Some(name) = backing {
            head[8..16].copy_from_slice(&112u64.to_be_bytes());
            head[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
            head.extend_from_slice(name.as_bytes());
        }
        head
    }

    #[test]
    fn qcow2_headers_that_name_other_files_are_refused() {
        assert_eq!(check_qcow2_header(&qcow2_head(None)), Ok(()));
        assert_eq!(
            check_qcow2_header(&qcow2_head(Some("/etc/shadow"))),
            Err(Qcow2Problem::References(Reference::Backing(
                "/etc/shadow".into()
            )))
        );
        let mut with_data_file = qcow2_head(None);
        with_data_file.truncate(104);
        with_data_file.extend_from_slice(&QCOW2_EXT_DATA_FILE.to_be_bytes());
        with_data_file.extend_from_slice(&5u32.to_be_bytes());
        with_data_file.extend_from_slice(b"/dev/\0\0\0");
        with_data_file.extend_from_slice(&[0; 8]);
        assert_eq!(
            check_qcow2_header(&with_data_file),
            Err(Qcow2Problem::References(Reference::DataFile(
                "/dev/".into()
            )))
        );
        assert_eq!(check_qcow2_header(b"CD001"), Err(Qcow2Problem::NotQcow2));
        assert_eq!(check_qcow2_header(b"QFI\xfb\0"), Err(Qcow2Problem::Damaged));
        let mut pointing_away = qcow2_head(None);
        pointing_away[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(
            check_qcow2_header(&pointing_away),
            Err(Qcow2Problem::Damaged)
        );
    }

    #[test]
    fn images_are_checked_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.iso");
        let error = check_image(missing.to_str().unwrap(), FormatChoice::Raw, true).unwrap_err();
        assert!(error.starts_with("no such file: "), "{error}");
        let error = check_image(dir.path().to_str().unwrap(), FormatChoice::Raw, true).unwrap_err();
        assert!(error.contains("is a directory"), "{error}");
        assert_eq!(
            check_image("  ", FormatChoice::Raw, true).unwrap_err(),
            "no image path given"
        );
        let image = dir.path().join("disk.img");
        std::fs::write(&image, qcow2_head(Some("/etc/passwd"))).unwrap();
        let checked = check_image(image.to_str().unwrap(), FormatChoice::Raw, true).unwrap();
        assert_eq!(checked.format, FormatChoice::Raw);
        let error = check_image(image.to_str().unwrap(), FormatChoice::Qcow2, true).unwrap_err();
        assert!(
            error.ends_with("is a qcow2 image whose backing file is '/etc/passwd': the guest would read that host file. Refused; insert it as raw, or flatten it first (`qemu-img convert -O qcow2 IMAGE NEW`)"),
            "{error}"
        );
        let remote = check_image("/srv/x.iso", FormatChoice::Raw, false).unwrap();
        assert_eq!(remote.format, FormatChoice::Raw);
        assert_eq!(remote.path, "/srv/x.iso");
        assert!(check_image("/srv/x.qcow2", FormatChoice::Qcow2, false).is_err());
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
