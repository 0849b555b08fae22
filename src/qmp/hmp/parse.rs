//! Reading the human monitor's `info` output into the `query-*` reply types.
//!
//! HMP is not a stable interface: every parser here is lenient. Lines it does not know are
//! skipped, a missing figure is left at its default, and both layouts QEMU has used are read
//! where they differ (`info blockstats` is one line per device up to QEMU 10.0 and a small
//! table after it; `info snapshots` columns moved between 7.2 and 10.0). Pure functions of
//! the text, so the recorded outputs in `tests/fixtures/hmp` test them exhaustively.

use crate::qmp::types::{
    BalloonInfo, BlockDeviceInfo, BlockDeviceStats, BlockInfo, BlockStats, CpuInfo, ImageInfo,
    MemorySizeSummary, SnapshotInfo, StatusInfo,
};
use chrono::TimeZone;

const MIB: u64 = 1024 * 1024;

/// `info status`: `VM status: running`, `VM status: paused`, `VM status: paused (reason)`,
/// with ` (single step mode)` on QEMUs that still have it. `None` when no status line is there.
pub fn status(text: &str) -> Option<StatusInfo> {
    let rest = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("VM status:"))?
        .trim();
    let running = rest.starts_with("running");
    let mut singlestep = None;
    let mut reason = None;
    for group in rest.split('(').skip(1) {
        let inner = group.split(')').next().unwrap_or_default().trim();
        if inner == "single step mode" {
            singlestep = Some(true);
        } else if !inner.is_empty() {
            reason = Some(inner.to_string());
        }
    }
    let status = match (running, reason) {
        (true, _) => "running".to_string(),
        (false, Some(reason)) => reason,
        (false, None) => "paused".to_string(),
    };
    Some(StatusInfo {
        running,
        status,
        singlestep,
    })
}

/// `info cpus`: `* CPU #0: thread_id=1234` (the star marks the monitor's current CPU).
pub fn cpus(text: &str) -> Vec<CpuInfo> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches('*').trim();
            let (head, fields) = line.strip_prefix("CPU #")?.split_once(':')?;
            let cpu_index = head.trim().parse().ok()?;
            let thread_id = key_values(fields)
                .find(|(key, _)| *key == "thread_id")
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or_default();
            Some(CpuInfo {
                cpu_index,
                thread_id,
                ..CpuInfo::default()
            })
        })
        .collect()
}

/// `key=value` pairs among whitespace-separated words.
fn key_values(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split_whitespace()
        .filter_map(|word| word.split_once('='))
}

/// `info blockstats`, in either layout: one line per device
/// (`disk0: rd_bytes=… wr_bytes=…`, QEMU up to 10.0) or a table per device (newer QEMU):
///
/// ```text
/// disk0: idle_time_ns=261327744
///                           bytes       operations            total_time_ns     merged
/// Read:                      1536                3                    41282          0
/// Write:                     8192                2                    90210          1
/// Flush:                                         4                     1200
/// ```
pub fn blockstats(text: &str) -> Vec<BlockStats> {
    let mut devices: Vec<BlockStats> = Vec::new();
    let numbers = |rest: &str| -> Vec<u64> {
        rest.split_whitespace()
            .filter_map(|word| word.parse().ok())
            .collect()
    };
    for line in text.lines() {
        let Some(current) = devices.last_mut().map(|device| &mut device.stats) else {
            if let Some(device) = device_line(line) {
                devices.push(device);
            }
            continue;
        };
        if let Some(rest) = line.strip_prefix("Read:") {
            let figures = numbers(rest);
            set_from(&mut current.rd_bytes, figures.first());
            set_from(&mut current.rd_operations, figures.get(1));
            set_from(&mut current.rd_total_time_ns, figures.get(2));
        } else if let Some(rest) = line.strip_prefix("Write:") {
            let figures = numbers(rest);
            set_from(&mut current.wr_bytes, figures.first());
            set_from(&mut current.wr_operations, figures.get(1));
            set_from(&mut current.wr_total_time_ns, figures.get(2));
        } else if let Some(rest) = line.strip_prefix("Flush:") {
            let figures = numbers(rest);
            set_from(&mut current.flush_operations, figures.first());
            set_from(&mut current.flush_total_time_ns, figures.get(1));
        } else if let Some(device) = device_line(line) {
            devices.push(device);
        }
    }
    devices
}

fn set_from(field: &mut u64, value: Option<&u64>) {
    if let Some(value) = value {
        *field = *value;
    }
}

/// A device's first line in `info blockstats`: `NAME: key=value…`.
fn device_line(line: &str) -> Option<BlockStats> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let (device, rest) = line.split_once(':')?;
    if device.is_empty() || device.contains(char::is_whitespace) {
        return None;
    }
    let mut stats = BlockDeviceStats::default();
    for (key, value) in key_values(rest) {
        let Ok(value) = value.parse() else { continue };
        let field = match key {
            "rd_bytes" => &mut stats.rd_bytes,
            "wr_bytes" => &mut stats.wr_bytes,
            "rd_operations" => &mut stats.rd_operations,
            "wr_operations" => &mut stats.wr_operations,
            "flush_operations" => &mut stats.flush_operations,
            "rd_total_time_ns" => &mut stats.rd_total_time_ns,
            "wr_total_time_ns" => &mut stats.wr_total_time_ns,
            "flush_total_time_ns" => &mut stats.flush_total_time_ns,
            _ => continue,
        };
        *field = value;
    }
    Some(BlockStats {
        device: device.to_string(),
        stats,
        ..BlockStats::default()
    })
}

/// Where a line of `info block -v` is.
#[derive(PartialEq)]
enum BlockSection {
    /// The indented lines under a device's header.
    Device,
    /// The `Images:` part (qemu-img info of the top image, then its backing chain).
    Images,
    /// The rows under `Snapshot list:`.
    Snapshots,
    /// A backing image, or anything after the top image's details: not read.
    Rest,
}

/// `info block -v`: a header per device (`disk0 (#block116): /path.qcow2 (qcow2)` or
/// `cd0: [not inserted]`), indented details, then with `-v` the top image's details and its
/// internal snapshots (with their real ids, which `info snapshots` hides).
pub fn block(text: &str) -> Vec<BlockInfo> {
    let mut devices: Vec<BlockInfo> = Vec::new();
    let mut section = BlockSection::Rest;
    let mut after_blank = true;
    for line in text.lines() {
        if line.trim().is_empty() {
            after_blank = true;
            continue;
        }
        let starts_block = after_blank || devices.is_empty();
        after_blank = false;
        if line == "Images:" {
            section = BlockSection::Images;
            continue;
        }
        // A backing image's details start with "image:", never a device's header.
        if starts_block
            && !line.starts_with("image:")
            && let Some(device) = block_header(line)
        {
            devices.push(device);
            section = BlockSection::Device;
            continue;
        }
        let Some(device) = devices.last_mut() else {
            continue;
        };
        match section {
            BlockSection::Device => block_detail(device, line),
            BlockSection::Images | BlockSection::Snapshots => {
                section = image_detail(device, line, section);
            }
            BlockSection::Rest => {}
        }
    }
    devices
}

fn block_header(line: &str) -> Option<BlockInfo> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let (name_part, rest) = line.split_once(": ")?;
    let (name, node) = match name_part.split_once(" (") {
        Some((name, node)) => (name, Some(node.trim_end_matches(')').to_string())),
        None => (name_part, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    let mut inserted = if rest.trim() == "[not inserted]" {
        None
    } else {
        let (file, driver) = rest.trim_end().strip_suffix(')')?.rsplit_once(" (")?;
        let mut flags = driver.split(", ");
        Some(BlockDeviceInfo {
            file: file.to_string(),
            drv: flags.next().unwrap_or_default().to_string(),
            ro: flags.any(|flag| flag == "read-only"),
            node_name: node.clone(),
            image: None,
        })
    };
    // A device without a drive id is shown by its node name, its qdev path or
    // "<anonymous>"; a drive id with a medium is always followed by "(node)".
    let mut info = BlockInfo::default();
    if name.starts_with('/') {
        info.qdev = Some(name.to_string());
    } else if name != "<anonymous>" {
        match (inserted.as_mut(), &node) {
            (Some(medium), None) => medium.node_name = Some(name.to_string()),
            _ => info.device = name.to_string(),
        }
    }
    info.inserted = inserted;
    Some(info)
}

fn block_detail(device: &mut BlockInfo, line: &str) {
    let Some((key, value)) = line.trim().split_once(':') else {
        return;
    };
    let value = value.trim();
    match key {
        "Attached to" => device.qdev = Some(value.to_string()),
        "Removable device" => {
            device.removable = true;
            device.locked = !value.starts_with("not locked");
            device.tray_open = Some(value.ends_with("tray open"));
        }
        "I/O status" => device.io_status = Some(value.to_string()),
        _ => {}
    }
}

/// Reads one line of the `Images:` part into the device's top image; returns where the next
/// line is.
fn image_detail(device: &mut BlockInfo, line: &str, section: BlockSection) -> BlockSection {
    let Some(inserted) = device.inserted.as_mut() else {
        return BlockSection::Rest;
    };
    let image = inserted.image.get_or_insert_with(ImageInfo::default);
    if section == BlockSection::Snapshots {
        if line.starts_with("ID") {
            return BlockSection::Snapshots;
        }
        if let Some(snapshot) = snapshot_row(line) {
            image.snapshots.push(snapshot);
            return BlockSection::Snapshots;
        }
    }
    let Some((key, value)) = line.split_once(':') else {
        return BlockSection::Images;
    };
    let value = value.trim();
    match key {
        // A second image is the backing file: the top image's details are complete.
        "image" if !image.filename.is_empty() => return BlockSection::Rest,
        "image" => image.filename = value.to_string(),
        "file format" => image.format = value.to_string(),
        "virtual size" => {
            image.virtual_size = value
                .split_once('(')
                .and_then(|(_, bytes)| bytes.split_whitespace().next())
                .and_then(|bytes| bytes.parse().ok())
                .unwrap_or_default();
        }
        "disk size" => image.actual_size = size(value),
        "Snapshot list" => return BlockSection::Snapshots,
        _ => {}
    }
    BlockSection::Images
}

/// A size as QEMU prints it for people: `957 KiB`, `2.39 MiB`, `0 B`.
fn size(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let number: f64 = words.next()?.parse().ok()?;
    let unit = match words.next()? {
        "B" => 1u64,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "PiB" => 1 << 50,
        "EiB" => 1 << 60,
        _ => return None,
    };
    Some((number * unit as f64).round() as u64)
}

/// One row of a snapshot table: `ID TAG VM-SIZE DATE TIME VM-CLOCK [ICOUNT]`, e.g.
/// `1  first  957 KiB 2026-12-01 21:44:29 00:00:00.315` (7.2) or
/// `1  first  969 KiB 2026-12-01 21:46:30  0000:00:00.295  --` (10.0). The tag may hold
/// spaces, so the row is read from its date outwards.
fn snapshot_row(line: &str) -> Option<SnapshotInfo> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let date_at = words.iter().rposition(|word| is_date(word))?;
    let size_at = date_at.checked_sub(2)?;
    if size_at < 1 {
        return None;
    }
    let id = words.first()?.to_string();
    let name = words.get(1..size_at).unwrap_or_default().join(" ");
    let vm_state_size = size(&format!("{} {}", words[size_at], words[size_at + 1]))?;
    let time = words.get(date_at + 1)?;
    let local = chrono::NaiveDateTime::parse_from_str(
        &format!("{} {time}", words[date_at]),
        "%Y-%m-%d %H:%M:%S",
    )
    .ok()?;
    let date_sec = chrono::Local
        .from_local_datetime(&local)
        .earliest()
        .map(|date| date.timestamp())
        .unwrap_or_else(|| local.and_utc().timestamp());
    let (vm_clock_sec, vm_clock_nsec) = words
        .get(date_at + 2)
        .and_then(|clock| vm_clock(clock))
        .unwrap_or_default();
    Some(SnapshotInfo {
        id,
        name,
        vm_state_size,
        date_sec,
        date_nsec: 0,
        vm_clock_sec,
        vm_clock_nsec,
    })
}

fn is_date(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

/// `HH:MM:SS.mmm` (7.2) or `HHHH:MM:SS.mmm` (10.0) as seconds and nanoseconds.
fn vm_clock(text: &str) -> Option<(i64, i64)> {
    let mut parts = text.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let (seconds, millis) = parts.next()?.split_once('.').unwrap_or((text, "0"));
    let seconds: i64 = seconds.parse().ok()?;
    let millis: i64 = millis.parse().ok()?;
    Some((hours * 3600 + minutes * 60 + seconds, millis * 1_000_000))
}

/// `info balloon`: `balloon: actual=128` (MiB).
pub fn balloon(text: &str) -> Option<BalloonInfo> {
    let rest = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("balloon:"))?;
    let actual: u64 = key_values(rest)
        .find(|(key, _)| *key == "actual")
        .and_then(|(_, value)| value.parse().ok())?;
    Some(BalloonInfo {
        actual: actual * MIB,
    })
}

/// `info kvm`: `kvm support: enabled`, `disabled` or `not compiled`, as `query-kvm`'s
/// `(enabled, present)`.
pub fn kvm(text: &str) -> Option<(bool, bool)> {
    let value = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("kvm support:"))?
        .trim();
    Some((value == "enabled", value != "not compiled"))
}

/// `info memory_size_summary`: `base memory: N` and `plugged memory: N` (bytes).
pub fn memory_size_summary(text: &str) -> Option<MemorySizeSummary> {
    let figure = |key: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(key))
            .and_then(|value| value.trim().parse().ok())
    };
    Some(MemorySizeSummary {
        base_memory: figure("base memory:")?,
        plugged_memory: figure("plugged memory:"),
    })
}

/// `qom-list PATH`: one `name (type)` per line, as (name, type) pairs.
pub fn qom_list(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (name, kind) = line.trim().rsplit_once(" (")?;
            Some((name.to_string(), kind.strip_suffix(')')?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($version:literal, $name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/hmp/",
                $version,
                "/",
                $name,
                ".txt"
            ))
        };
    }

    #[test]
    fn status_running_paused_and_with_a_reason() {
        for text in [
            fixture!("7.2", "info-status-running"),
            fixture!("10.0", "info-status-running"),
        ] {
            let status = status(text).unwrap();
            assert!(status.running);
            assert_eq!(status.status, "running");
        }
        let paused = status("VM status: paused\n").unwrap();
        assert_eq!((paused.running, paused.status.as_str()), (false, "paused"));
        for text in [
            fixture!("7.2", "info-status-paused"),
            fixture!("10.0", "info-status-paused"),
        ] {
            let restored = status(text).unwrap();
            assert!(!restored.running);
            assert_eq!(restored.status, "restore-vm");
        }
        let stepping = status("VM status: running (single step mode)").unwrap();
        assert_eq!(stepping.status, "running");
        assert_eq!(stepping.singlestep, Some(true));
        assert_eq!(status("unknown command: 'info status'"), None);
    }

    #[test]
    fn cpus_with_their_threads() {
        for text in [fixture!("7.2", "info-cpus"), fixture!("10.0", "info-cpus")] {
            let cpus = cpus(text);
            assert_eq!(cpus.len(), 2);
            assert_eq!(cpus[0].cpu_index, 0);
            assert_eq!(cpus[1].cpu_index, 1);
            assert!(cpus.iter().all(|cpu| cpu.thread_id > 0));
        }
        assert!(cpus("").is_empty(), "-M none has no vCPU");
        let old =
            cpus("* CPU #0: pc=0xfffffff0 thread_id=42\n  CPU #1: pc=0x0 (halted) thread_id=43");
        assert_eq!(old[1].thread_id, 43);
    }

    #[test]
    fn blockstats_one_line_per_device() {
        for text in [
            fixture!("7.2", "info-blockstats"),
            fixture!("10.0", "info-blockstats"),
        ] {
            let stats = blockstats(text);
            let names: Vec<&str> = stats.iter().map(|s| s.device.as_str()).collect();
            assert_eq!(names, ["disk0", "cd0"]);
            assert_eq!(stats[0].stats.rd_bytes, 512);
            assert_eq!(stats[0].stats.rd_operations, 1);
            assert!(stats[0].stats.rd_total_time_ns > 0);
            assert_eq!(stats[1].stats, BlockDeviceStats::default());
        }
    }

    #[test]
    fn blockstats_table_of_newer_qemu() {
        let stats = blockstats(fixture!("table", "info-blockstats"));
        let names: Vec<&str> = stats.iter().map(|s| s.device.as_str()).collect();
        assert_eq!(names, ["disk0", "cd0"]);
        let disk = stats[0].stats;
        assert_eq!(
            (disk.rd_bytes, disk.rd_operations, disk.rd_total_time_ns),
            (1536, 3, 41282)
        );
        assert_eq!(
            (disk.wr_bytes, disk.wr_operations, disk.wr_total_time_ns),
            (8192, 2, 90210)
        );
        assert_eq!((disk.flush_operations, disk.flush_total_time_ns), (4, 1200));
        assert_eq!(stats[1].stats, BlockDeviceStats::default());
    }

    #[test]
    fn block_devices_media_and_snapshots_with_ids() {
        for text in [
            fixture!("7.2", "info-block-v"),
            fixture!("10.0", "info-block-v"),
        ] {
            let blocks = block(text);
            assert_eq!(blocks.len(), 2, "{blocks:#?}");
            let disk = &blocks[0];
            assert_eq!(disk.device, "disk0");
            assert!(!disk.removable);
            let qdev = disk.qdev.as_deref().unwrap();
            assert!(
                qdev.starts_with("/machine/peripheral-anon/device[")
                    && qdev.ends_with("]/virtio-backend"),
                "{qdev}"
            );
            let inserted = disk.inserted.as_ref().unwrap();
            assert_eq!(inserted.file, "/var/lib/vms/disk0.qcow2");
            assert_eq!(inserted.drv, "qcow2");
            assert!(!inserted.ro);
            assert!(inserted.node_name.as_deref().unwrap().starts_with("#block"));
            let image = inserted.image.as_ref().unwrap();
            assert_eq!(image.format, "qcow2");
            assert_eq!(image.virtual_size, 64 * MIB);
            let snapshots: Vec<(&str, &str)> = image
                .snapshots
                .iter()
                .map(|s| (s.id.as_str(), s.name.as_str()))
                .collect();
            assert_eq!(snapshots, [("1", "first"), ("2", "7")]);
            assert!(image.snapshots[0].vm_state_size > 900 * 1024);
            assert!(image.snapshots[0].date_sec > 1_700_000_000);
            let cd = &blocks[1];
            assert_eq!(cd.device, "cd0");
            assert!(cd.removable);
            assert!(!cd.locked);
            assert_eq!(cd.tray_open, Some(false));
            let medium = cd.inserted.as_ref().unwrap();
            assert!(medium.ro);
            assert_eq!(medium.drv, "raw");
            assert!(medium.image.as_ref().unwrap().snapshots.is_empty());
        }
    }

    #[test]
    fn block_empty_drive_and_anonymous_devices() {
        let text = "cd0: [not inserted]\n    Attached to:      ide1-cd0\n    Removable device: locked, tray open\n\n\
                    node7: /images/a b (c).qcow2 (qcow2, read-only)\n    Attached to:      /machine/peripheral/vd0/virtio-backend\n    Cache mode:       writeback\n";
        let blocks = block(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].device, "cd0");
        assert!(blocks[0].inserted.is_none());
        assert!(blocks[0].locked);
        assert_eq!(blocks[0].tray_open, Some(true));
        assert_eq!(blocks[1].device, "");
        let inserted = blocks[1].inserted.as_ref().unwrap();
        assert_eq!(inserted.node_name.as_deref(), Some("node7"));
        assert_eq!(inserted.file, "/images/a b (c).qcow2");
        assert!(inserted.ro);
    }

    #[test]
    fn snapshot_rows_of_both_layouts_with_spaces_in_tags() {
        let old = snapshot_row(
            "3         my tag            1.5 MiB 2026-12-01 21:44:03 01:02:03.250           ",
        )
        .unwrap();
        assert_eq!((old.id.as_str(), old.name.as_str()), ("3", "my tag"));
        assert_eq!(old.vm_state_size, 3 * MIB / 2);
        assert_eq!((old.vm_clock_sec, old.vm_clock_nsec), (3723, 250_000_000));
        let new = snapshot_row(
            "12      disk-only           0 B 2026-12-01 21:46:30  0000:00:10.000         --",
        )
        .unwrap();
        assert_eq!((new.id.as_str(), new.name.as_str()), ("12", "disk-only"));
        assert_eq!(new.vm_state_size, 0);
        assert_eq!(new.vm_clock_sec, 10);
        assert_eq!(snapshot_row("ID        TAG               VM SIZE"), None);
    }

    #[test]
    fn qom_list_names_and_types() {
        for text in [
            fixture!("7.2", "qom-list-peripheral"),
            fixture!("10.0", "qom-list-peripheral"),
        ] {
            let list = qom_list(text);
            assert!(
                list.contains(&("type".to_string(), "string".to_string())),
                "{list:?}"
            );
            assert!(
                list.contains(&("tablet0".to_string(), "child<usb-tablet>".to_string())),
                "{list:?}"
            );
        }
    }

    #[test]
    fn balloon_kvm_and_memory() {
        for version in ["7.2", "10.0"] {
            let (balloon_text, kvm_text, memory_text) = match version {
                "7.2" => (
                    fixture!("7.2", "info-balloon"),
                    fixture!("7.2", "info-kvm"),
                    fixture!("7.2", "info-memory-size-summary"),
                ),
                _ => (
                    fixture!("10.0", "info-balloon"),
                    fixture!("10.0", "info-kvm"),
                    fixture!("10.0", "info-memory-size-summary"),
                ),
            };
            assert_eq!(balloon(balloon_text).unwrap().actual, 128 * MIB);
            assert_eq!(kvm(kvm_text), Some((false, true)));
            let memory = memory_size_summary(memory_text).unwrap();
            assert_eq!(memory.base_memory, 128 * MIB);
            assert_eq!(memory.plugged_memory, Some(0));
        }
        assert_eq!(balloon("Error: No balloon device has been activated"), None);
    }
}
