//! The console's command history on disk: one command per line in
//! `$XDG_DATA_HOME/qemu-dash/history` (or `~/.local/share/qemu-dash/history`), the newest
//! last, at most [`MAX_ENTRIES`]. Saving writes a temporary file and renames it, so a crash
//! never leaves half a history.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The most commands kept.
pub const MAX_ENTRIES: usize = 500;

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
pub fn push(entries: &mut Vec<String>, line: &str) {
    if line.trim().is_empty() || entries.last().map(String::as_str) == Some(line) {
        return;
    }
    entries.push(line.to_string());
    if entries.len() > MAX_ENTRIES {
        let excess = entries.len() - MAX_ENTRIES;
        entries.drain(..excess);
    }
}

/// Reads the history; a missing file is an empty history.
pub fn load(path: &Path) -> std::io::Result<Vec<String>> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    for line in text.lines() {
        push(&mut entries, line);
    }
    Ok(entries)
}

/// Writes the history (creating its directory).
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
        push(&mut entries, "info status");
        push(&mut entries, "info status");
        push(&mut entries, "  ");
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
    }
}
