//! `--discover DIR`: every QMP socket in a directory is watched; sockets that appear are
//! added and sockets that disappear are dropped. Polls the directory once a second (portable,
//! and cheap for the handful of entries such directories hold). Each scan runs on tokio's
//! blocking pool, so a slow directory (a hung network mount) never stalls the runtime thread.

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the directory is read.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);

/// A change in the watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirChange {
    /// A socket appeared.
    Appeared(PathBuf),
    /// A socket disappeared.
    Vanished(PathBuf),
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

/// The changes from `before` to `after`, removals first.
pub fn diff(before: &BTreeSet<PathBuf>, after: &BTreeSet<PathBuf>) -> Vec<DirChange> {
    before
        .difference(after)
        .cloned()
        .map(DirChange::Vanished)
        .chain(after.difference(before).cloned().map(DirChange::Appeared))
        .collect()
}

/// Reports changes in `dir` until the receiver is dropped. The first scan reports every
/// socket already there. A directory that cannot be read is reported once, then retried.
pub async fn run(
    dir: PathBuf,
    changes: mpsc::UnboundedSender<DirChange>,
    problems: mpsc::UnboundedSender<String>,
) {
    let mut known = BTreeSet::new();
    let mut failing = false;
    loop {
        match scan_off_runtime(&dir).await {
            Ok(now) => {
                failing = false;
                for change in diff(&known, &now) {
                    if changes.send(change).is_err() {
                        return;
                    }
                }
                known = now;
            }
            Err(error) if !failing => {
                failing = true;
                let text = format!("cannot read {}: {error}", dir.display());
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
        assert_eq!(
            diff(&first, &second),
            vec![DirChange::Vanished(a), DirChange::Appeared(b)]
        );
    }
}
