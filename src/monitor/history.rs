//! The console's command history on disk: one command per line in
//! `$XDG_DATA_HOME/qemu-dash/history` (or `~/.local/share/qemu-dash/history`), the newest
//! last, at most [`MAX_ENTRIES`] kept.
//!
//! Loading reads only a regular file, and only its last [`MAX_READ_BYTES`] (what
//! [`MAX_ENTRIES`] of the longest entries need), so a FIFO, a device or a huge file can neither
//! block the start nor fill memory. Each new command is appended under a lock (a
//! `history.lock` beside the file), so two dashboards open at once never overwrite each
//! other's commands; once the file has grown well past what it keeps, it is rewritten with the
//! newest [`MAX_ENTRIES`] through a temporary file and a rename, so a crash never leaves half a
//! history.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The most commands kept.
pub const MAX_ENTRIES: usize = 500;
/// The longest command kept in the file, in bytes; longer ones stay in memory only.
pub const MAX_ENTRY_BYTES: usize = 4096;
/// The most bytes read from the end of the file.
pub const MAX_READ_BYTES: u64 = (MAX_ENTRIES * (MAX_ENTRY_BYTES + 1)) as u64;
/// Below this size the file is never rewritten.
const COMPACT_FROM: u64 = 64 * 1024;

/// Where the history lives, or `None` when neither `XDG_DATA_HOME` nor `HOME` is set.
pub fn default_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    Some(data.join("qemu-dash").join("history"))
}

/// The default path and what it holds (a problem reading it is an error to show, never fatal).
pub fn load_default() -> (Option<PathBuf>, Result<Vec<String>, String>) {
    let path = default_path();
    let loaded = match &path {
        Some(path) => load(path).map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(Vec::new()),
    };
    (path, loaded)
}

/// Appends `line` unless it repeats the newest entry; drops the oldest beyond the bound.
/// Returns whether it was added.
pub fn push(entries: &mut Vec<String>, line: &str) -> bool {
    if line.trim().is_empty() || entries.last().map(String::as_str) == Some(line) {
        return false;
    }
    entries.push(line.to_string());
    if entries.len() > MAX_ENTRIES {
        let excess = entries.len() - MAX_ENTRIES;
        entries.drain(..excess);
    }
    true
}

fn not_regular() -> std::io::Error {
    std::io::Error::other("not a regular file")
}

/// The newest [`MAX_ENTRIES`] of `lines`, skipping blank, over-long and repeated lines.
fn newest<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut kept: Vec<&str> = Vec::new();
    for line in lines.map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() || line.len() > MAX_ENTRY_BYTES || kept.last() == Some(&line) {
            continue;
        }
        kept.push(line);
    }
    let skip = kept.len().saturating_sub(MAX_ENTRIES);
    kept[skip..].iter().map(|l| l.to_string()).collect()
}

/// Reads the history; a missing file is an empty history, anything but a regular file an
/// error. Reads at most the last [`MAX_READ_BYTES`].
pub fn load(path: &Path) -> std::io::Result<Vec<String>> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    }
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let start = meta.len().saturating_sub(MAX_READ_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(MAX_READ_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split('\n');
    if start > 0 {
        // Reading began in the middle of a line.
        lines.next();
    }
    Ok(newest(lines))
}

/// Appends one command to the history file (creating it and its directory), under the lock
/// every dashboard takes; rewrites the file with the newest entries once it has grown well
/// past them. A command over [`MAX_ENTRY_BYTES`] is not written.
pub fn append(path: &Path, line: &str) -> std::io::Result<()> {
    if line.len() > MAX_ENTRY_BYTES || line.contains('\n') || line.trim().is_empty() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(path))?;
    lock.lock()?;
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => return Err(not_regular()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    let size = file.metadata()?.len();
    drop(file);
    if size > COMPACT_FROM {
        let entries = load(path)?;
        let kept: u64 = entries.iter().map(|e| e.len() as u64 + 1).sum();
        if size > 2 * kept {
            save(path, &entries)?;
        }
    }
    Ok(())
}

/// The lock file beside the history.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// Writes the history whole through a temporary file and a rename (creating its directory).
pub fn save(path: &Path, entries: &[String]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    let skip = entries.len().saturating_sub(MAX_ENTRIES);
    for line in &entries[skip..] {
        writeln!(file, "{line}")?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_skips_repeats() {
        let mut entries = Vec::new();
        assert!(push(&mut entries, "info status"));
        assert!(!push(&mut entries, "info status"));
        assert!(!push(&mut entries, "  "));
        assert_eq!(entries, vec!["info status"]);
        for n in 0..(MAX_ENTRIES + 10) {
            push(&mut entries, &format!("c{n}"));
        }
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert_eq!(entries.last().unwrap(), &format!("c{}", MAX_ENTRIES + 9));
    }

    #[test]
    fn history_round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/history");
        assert!(load(&path).unwrap().is_empty());
        let entries = vec![
            "info status".to_string(),
            r#"{"execute":"query-kvm"}"#.into(),
        ];
        save(&path, &entries).unwrap();
        assert_eq!(load(&path).unwrap(), entries);
    }

    #[test]
    fn saving_where_it_cannot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        assert!(save(&blocker.join("history"), &["x".to_string()]).is_err());
        assert!(append(&blocker.join("history"), "x").is_err());
    }

    #[test]
    fn only_regular_files_are_read() {
        let error = load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file");
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_err());
        assert!(append(dir.path(), "info status").is_err());
    }

    #[test]
    fn only_the_tail_of_a_long_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history");
        let mut text = String::new();
        for n in 0..100_000 {
            text.push_str(&format!("command {n}\n"));
        }
        // An over-long line near the end is skipped, not kept.
        text.push_str(&"y".repeat(MAX_ENTRY_BYTES + 1));
        text.push_str("\nlast\n");
        std::fs::write(&path, &text).unwrap();
        let entries = load(&path).unwrap();
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert_eq!(entries[MAX_ENTRIES - 2], "command 99999");
        assert_eq!(entries[MAX_ENTRIES - 1], "last");
    }

    #[test]
    fn appends_from_two_sessions_keep_both_and_the_file_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q/history");
        // Two sessions, each with the history it loaded at start.
        let mut sessions = [load(&path).unwrap(), load(&path).unwrap()];
        for (session, line) in [(0, "info one"), (1, "info two"), (0, "info three")] {
            assert!(push(&mut sessions[session], line));
            append(&path, line).unwrap();
        }
        assert_eq!(load(&path).unwrap(), ["info one", "info two", "info three"]);
        // Thousands more: the file is rewritten with the newest entries now and then.
        for n in 0..5_000 {
            append(&path, &format!("console command {n}")).unwrap();
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 2 * COMPACT_FROM, "{size} bytes");
        let entries = load(&path).unwrap();
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert_eq!(entries.last().unwrap(), "console command 4999");
        // Over-long commands are not written.
        append(&path, &"x".repeat(MAX_ENTRY_BYTES + 1)).unwrap();
        assert_eq!(load(&path).unwrap().last().unwrap(), "console command 4999");
    }
}
