//! The `snapshot` subcommands for scripts: list (a table or JSON), save, load and delete.
//!
//! Output goes to stdout (the list) and errors are returned for the binary to print, with
//! QEMU's text verbatim. Progress is written to stderr only when stderr is a terminal, so
//! scripts see clean output. No terminal UI here: plain text only.

use super::job::{Operation, Outcome, Progress, SnapshotOptions};
use super::list::{Snapshot, format_vm_clock, sort_by_date};
use crate::qmp::{Client, ConnectOptions, Target};
use crate::safe_text::{for_terminal, json_line};
use anyhow::Context;
use std::io::{IsTerminal, Write};

/// `qemu-dash snapshot ...`: manage a VM's internal snapshots from scripts.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum SnapshotCommand {
    /// List the VM's snapshots, oldest first.
    List {
        /// QMP socket of the VM: PATH, unix:PATH, tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN.
        target: String,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a snapshot of the running VM (disks and VM state).
    Save {
        /// QMP socket of the VM: PATH, unix:PATH, tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN.
        target: String,
        /// The new snapshot's tag.
        tag: String,
    },
    /// Revert the VM to a snapshot.
    Load {
        /// QMP socket of the VM: PATH, unix:PATH, tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN.
        target: String,
        /// The snapshot's tag.
        tag: String,
    },
    /// Delete a snapshot.
    Delete {
        /// QMP socket of the VM: PATH, unix:PATH, tcp:HOST:PORT, ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN.
        target: String,
        /// The snapshot's tag.
        tag: String,
    },
}

/// Runs one `snapshot` subcommand. Errors carry QEMU's message; the caller prints them and
/// exits with a failure status.
pub async fn run_cli(command: SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::List { target, json } => {
            let client = connect(&target).await?;
            let mut snapshots = super::list(&client)
                .await
                .context("cannot list snapshots")?;
            sort_by_date(&mut snapshots);
            let text = if json {
                let text = serde_json::to_string_pretty(&snapshots)?;
                format!("{}\n", json_line(&text))
            } else {
                format_table(&snapshots)
            };
            print_stdout(&text)
        }
        SnapshotCommand::Save { target, tag } => operate(Operation::Save, &target, &tag).await,
        SnapshotCommand::Load { target, tag } => operate(Operation::Load, &target, &tag).await,
        SnapshotCommand::Delete { target, tag } => operate(Operation::Delete, &target, &tag).await,
    }
}

async fn connect(target: &str) -> anyhow::Result<Client> {
    let target: Target = target.parse()?;
    Ok(Client::connect(&target, &ConnectOptions::default()).await?)
}

async fn operate(operation: Operation, target: &str, tag: &str) -> anyhow::Result<()> {
    let client = connect(target).await?;
    // A failure to tidy up is no reason not to do what was asked.
    if let Ok(dismissed) = super::dismiss_stale_jobs(&client).await
        && let Some(sentence) = super::describe_dismissed(&dismissed)
    {
        eprintln!("qemu-dash: {}", for_terminal(&sentence));
    }
    let options = SnapshotOptions::default();
    let terminal = std::io::stderr().is_terminal();
    let show = |progress: Progress| {
        if terminal {
            eprint!("\r\x1b[2K{}", for_terminal(&describe_progress(&progress)));
        }
    };
    let result = match operation {
        Operation::Save => super::save(&client, tag, &options, show).await,
        Operation::Load => super::load(&client, tag, &options, show).await,
        Operation::Delete => super::delete(&client, tag, &options, show).await,
    };
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let outcome = result.with_context(|| {
        format!(
            "cannot {operation} snapshot '{}' on {target}",
            tag.escape_debug()
        )
    })?;
    if terminal {
        eprintln!("{}", for_terminal(&describe_outcome(&outcome)));
    }
    Ok(())
}

fn describe_progress(progress: &Progress) -> String {
    let mut text = format!(
        "{} '{}': {}",
        progress.operation,
        progress.tag.escape_debug(),
        progress.status
    );
    if progress.total > 0 {
        text.push_str(&format!(" ({}/{})", progress.current, progress.total));
    }
    text
}

fn describe_outcome(outcome: &Outcome) -> String {
    let verb = match outcome.operation {
        Operation::Save => "saved",
        Operation::Load => "loaded",
        Operation::Delete => "deleted",
    };
    format!(
        "{verb} snapshot '{}' ({}) in {:.2} s",
        outcome.tag.escape_debug(),
        outcome.disks.join(", "),
        outcome.elapsed.as_secs_f64()
    )
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write to stdout")?),
    }
}

/// The snapshot list as a plain-text table: tag, id, VM state size, local date, VM clock and
/// disks (with the missing ones of a partial snapshot). Control characters in tags are escaped.
pub fn format_table(snapshots: &[Snapshot]) -> String {
    if snapshots.is_empty() {
        return "no snapshots\n".to_string();
    }
    let header = ["TAG", "ID", "VM SIZE", "DATE", "VM CLOCK", "DISKS"].map(str::to_string);
    let rows: Vec<[String; 6]> = snapshots
        .iter()
        .map(|s| {
            let mut disks = s.disks.join(", ");
            if s.partial {
                disks.push_str(&format!(" (missing on {})", s.missing.join(", ")));
            }
            [
                for_terminal(&s.tag.escape_debug().to_string()).into_owned(),
                for_terminal(&s.id).into_owned(),
                humansize::format_size(s.vm_state_size, humansize::BINARY),
                s.date.format("%Y-%m-%d %H:%M:%S").to_string(),
                format_vm_clock(s.vm_clock),
                for_terminal(&disks).into_owned(),
            ]
        })
        .collect();
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index > 0 {
                line.push_str("  ");
            }
            // Right-align the size, like `info snapshots`.
            let pad = " ".repeat(width - cell.chars().count());
            if index == 2 {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Local, TimeZone};
    use clap::Parser;
    use std::time::Duration;

    fn snapshot(tag: &str, size: u64, partial: bool) -> Snapshot {
        Snapshot {
            tag: tag.to_string(),
            id: "12".into(),
            vm_state_size: size,
            date: Local.with_ymd_and_hms(2026, 11, 25, 17, 12, 5).unwrap(),
            vm_clock: Duration::new(65, 17_000_000),
            disks: vec!["disk0".into(), "disk1".into()],
            vmstate_disk: Some("disk0".into()),
            partial,
            missing: if partial {
                vec!["disk2".into()]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn table_aligns_columns_and_marks_partial_snapshots() {
        let table = format_table(&[
            snapshot("before upgrade", 1_048_576, false),
            snapshot("x\ty", 1000, true),
        ]);
        assert_eq!(
            table,
            "TAG             ID  VM SIZE  DATE                 VM CLOCK      DISKS\n\
             before upgrade  12    1 MiB  2026-11-25 17:12:05  00:01:05.017  disk0, disk1\n\
             x\\ty            12   1000 B  2026-11-25 17:12:05  00:01:05.017  disk0, disk1 (missing on disk2)\n"
        );
        assert_eq!(format_table(&[]), "no snapshots\n");
    }

    #[test]
    fn progress_and_outcome_lines() {
        let progress = Progress {
            operation: Operation::Save,
            tag: "a".into(),
            job_id: Some("j".into()),
            status: "running".into(),
            current: 0,
            total: 1,
        };
        assert_eq!(describe_progress(&progress), "save 'a': running (0/1)");
        let outcome = Outcome {
            operation: Operation::Delete,
            tag: "a".into(),
            method: super::super::Method::Qmp,
            job_id: None,
            disks: vec!["disk0".into()],
            elapsed: Duration::from_millis(50),
        };
        assert_eq!(
            describe_outcome(&outcome),
            "deleted snapshot 'a' (disk0) in 0.05 s"
        );
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: SnapshotCommand,
    }

    #[test]
    fn parses_the_subcommands() {
        let cli = Cli::try_parse_from(["x", "list", "/tmp/vm.qmp", "--json"]).unwrap();
        assert_eq!(
            cli.command,
            SnapshotCommand::List {
                target: "/tmp/vm.qmp".into(),
                json: true
            }
        );
        let cli = Cli::try_parse_from(["x", "save", "tcp:localhost:4444", "with space"]).unwrap();
        assert_eq!(
            cli.command,
            SnapshotCommand::Save {
                target: "tcp:localhost:4444".into(),
                tag: "with space".into()
            }
        );
        assert!(Cli::try_parse_from(["x", "load", "/tmp/vm.qmp"]).is_err());
    }
}
