//! Host-side figures of a QEMU process from `/proc`: CPU per vCPU thread, steal, total CPU,
//! RSS and how long the process has run.
//!
//! Reads `/proc/<pid>/task/<tid>/schedstat` (run time and run-queue wait in nanoseconds) for
//! each vCPU thread id that `query-cpus-fast` reports, and `/proc/<pid>/stat` and `status` for
//! the whole process: on this machine ([`HostSampler`]), or on the VM's host over ssh
//! ([`remote`]). Parsing and the rates ([`HostRates`]) are pure and unit-tested; only
//! [`HostSampler::sample`] and [`remote::RemoteSampler::sample`] read files.
//!
//! Locally the files are opened once and read again with `pread` at offset 0 into a buffer
//! kept between polls (procfs makes each read afresh): one system call per file and poll,
//! no open, stat or close. RSS comes from `stat` too (in pages), and the process's start
//! from the first reading of `/proc/uptime`, so a poll reads `stat` and one `schedstat` per
//! vCPU. These reads take microseconds and never wait for the disk, so they run on the
//! poller's own thread; the remote sampler runs an ssh process, so neither stalls the runtime.

pub mod remote;

use crate::news::{HostError, HostSample, VcpuHost};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Linux reports process times in USER_HZ ticks, 100 per second on every mainstream
/// architecture (it is fixed ABI, independent of the kernel's HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// `(run_ns, wait_ns)` from a `schedstat` file.
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace();
    let run = fields.next()?.parse().ok()?;
    let wait = fields.next()?.parse().ok()?;
    Some((run, wait))
}

/// The fields of a `/proc/<pid>/stat` file that qemu-dash reads, found in one pass (the
/// command name may hold spaces and ')': fields are counted after its last ')'). A field
/// the file does not have, or cannot be read as a number, is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatFields {
    /// The state letter, field 3 ('R', 'S', 'Z'…).
    pub state: Option<char>,
    /// `utime + stime` in ticks, fields 14 and 15.
    pub cpu_ticks: Option<u64>,
    /// When the process started, in ticks after boot, field 22.
    pub start_ticks: Option<u64>,
    /// Resident pages, field 24.
    pub rss_pages: Option<u64>,
}

impl StatFields {
    /// The fields of `text`, the contents of a `stat` file.
    pub fn parse(text: &str) -> StatFields {
        let Some(name_end) = text.rfind(')') else {
            return StatFields::default();
        };
        let number = |field: Option<&str>| field.and_then(|f| f.parse::<u64>().ok());
        // Counted from the state (field 3 of stat(5)) as 0.
        let mut fields = text[name_end + 1..].split_ascii_whitespace();
        let state = fields.next().and_then(|f| f.chars().next());
        let utime = number(fields.nth(10));
        let stime = number(fields.next());
        let start_ticks = number(fields.nth(6));
        let rss_pages = number(fields.nth(1));
        StatFields {
            state,
            cpu_ticks: utime.zip(stime).map(|(user, system)| user + system),
            start_ticks,
            rss_pages,
        }
    }
}

/// Seconds since boot from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// How long a process started at `start_ticks` after boot has run, given the system's uptime.
fn process_uptime(start_ticks: u64, system_uptime: f64) -> Option<Duration> {
    let age = system_uptime - start_ticks as f64 / TICKS_PER_SECOND;
    (age.is_finite() && age >= 0.0).then(|| Duration::from_secs_f64(age))
}

/// True when process `pid` is gone or a zombie (it exited and only awaits its parent).
pub fn process_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(StatFields::parse(&stat).state, Some('Z' | 'X')),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

/// `VmRSS` in bytes from a `status` file.
pub fn parse_status_rss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn percent(delta: u64, unit_per_second: f64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (seconds > 0.0).then(|| delta as f64 / unit_per_second / seconds * 100.0)
}

/// The `/proc` files of one process as read (here or on another host).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcReadings {
    /// `/proc/<pid>/stat`.
    pub stat: String,
    /// `/proc/<pid>/status`, if it could be read.
    pub status: Option<String>,
    /// The page size of the process's host, when known: RSS then comes from `stat` if
    /// there is no `status`.
    pub page_size: Option<u64>,
    /// `/proc/uptime` of the process's host, if it could be read.
    pub uptime: Option<String>,
    /// `/proc/<pid>/task/<tid>/schedstat` of each vCPU thread that could be read.
    pub schedstat: HashMap<u32, String>,
}

/// Turns successive [`ProcReadings`] of one process into figures and rates.
#[derive(Debug, Default)]
pub struct HostRates {
    /// When the process started, on the monotonic clock (from the first `/proc/uptime`).
    started: Option<Instant>,
    last: Option<Instant>,
    last_process_ticks: Option<u64>,
    last_threads: HashMap<u32, (u64, u64)>,
}

impl HostRates {
    /// The figures of process `pid` from `readings` taken at `now`, with rates since the
    /// previous readings.
    pub fn update(&mut self, pid: u32, now: Instant, readings: &ProcReadings) -> HostSample {
        let elapsed = self.last.map(|last| now.duration_since(last));
        let stat = StatFields::parse(&readings.stat);
        let uptime = readings.uptime.as_deref().and_then(parse_uptime);
        let uptime = match stat
            .start_ticks
            .zip(uptime)
            .and_then(|(start, now)| process_uptime(start, now))
        {
            Some(age) => {
                self.started = now.checked_sub(age);
                Some(age)
            }
            None => self.started.map(|started| now.duration_since(started)),
        };
        let rss_bytes = match &readings.status {
            Some(status) => parse_status_rss(status),
            None => stat
                .rss_pages
                .zip(readings.page_size)
                .map(|(pages, size)| pages * size),
        };
        let mut sample = HostSample {
            pid,
            uptime,
            rss_bytes,
            ..Default::default()
        };
        let ticks = stat.cpu_ticks;
        sample.process_cpu_seconds = ticks.map(|t| t as f64 / TICKS_PER_SECOND);
        if let (Some(elapsed), Some(prev), Some(cur)) = (elapsed, self.last_process_ticks, ticks) {
            sample.process_cpu_percent = cur
                .checked_sub(prev)
                .and_then(|d| percent(d, TICKS_PER_SECOND, elapsed));
        }
        self.last_process_ticks = ticks;
        let mut threads = HashMap::new();
        for (&tid, text) in &readings.schedstat {
            let Some(reading) = parse_schedstat(text) else {
                continue;
            };
            let mut vcpu = VcpuHost {
                cpu_seconds: Some(reading.0 as f64 / 1e9),
                steal_seconds: Some(reading.1 as f64 / 1e9),
                ..VcpuHost::default()
            };
            if let (Some(elapsed), Some(&(run0, wait0))) = (elapsed, self.last_threads.get(&tid)) {
                let (run1, wait1) = reading;
                vcpu.cpu_percent = run1
                    .checked_sub(run0)
                    .and_then(|d| percent(d, 1e9, elapsed));
                vcpu.steal_percent = wait1
                    .checked_sub(wait0)
                    .and_then(|d| percent(d, 1e9, elapsed));
            }
            threads.insert(tid, reading);
            sample.vcpus.insert(tid, vcpu);
        }
        self.last_threads = threads;
        self.last = Some(now);
        sample
    }
}

/// Samples one QEMU process on this machine, keeping the previous readings to compute rates
/// and its `/proc` files open between polls.
#[derive(Debug)]
pub struct HostSampler {
    pid: u32,
    proc_dir: PathBuf,
    rates: HostRates,
    /// `/proc/<pid>/stat`, once opened.
    stat: Option<File>,
    /// `/proc/<pid>/task/<tid>/schedstat` of the vCPU threads of the last poll.
    schedstat: HashMap<u32, File>,
    /// The buffer every file is read into.
    buffer: Vec<u8>,
    /// The last readings, their strings reused.
    readings: ProcReadings,
}

/// Bytes a `stat` or `schedstat` file takes, with room to spare (a longer file is read again
/// with a bigger buffer).
const PROC_BUFFER: usize = 1024;

/// Reads all of `file` from offset 0 into `buffer` (growing it when the file fills it), as
/// text into `text`.
fn read_proc_file(file: &File, buffer: &mut Vec<u8>, text: &mut String) -> std::io::Result<()> {
    if buffer.len() < PROC_BUFFER {
        buffer.resize(PROC_BUFFER, 0);
    }
    loop {
        let read = file.read_at(buffer, 0)?;
        if read < buffer.len() {
            text.clear();
            // procfs writes ASCII but for the command name, which may hold anything.
            match std::str::from_utf8(&buffer[..read]) {
                Ok(read) => text.push_str(read),
                Err(_) => text.push_str(&String::from_utf8_lossy(&buffer[..read])),
            }
            return Ok(());
        }
        let bigger = buffer.len() * 2;
        buffer.resize(bigger, 0);
    }
}

impl HostSampler {
    /// A sampler for the process `pid`.
    pub fn new(pid: u32) -> Self {
        HostSampler {
            pid,
            proc_dir: PathBuf::from(format!("/proc/{pid}")),
            rates: HostRates::default(),
            stat: None,
            schedstat: HashMap::new(),
            buffer: Vec::new(),
            readings: ProcReadings {
                page_size: Some(rustix::param::page_size() as u64),
                ..ProcReadings::default()
            },
        }
    }

    /// Reads `/proc` now, on this thread. Fails with a reason when the process cannot be read at all.
    pub fn sample(&mut self, vcpu_threads: &[u32]) -> Result<HostSample, HostError> {
        let now = Instant::now();
        let cannot_read = |path: PathBuf, error: std::io::Error| HostError::Proc {
            path: path.display().to_string(),
            error: error.to_string(),
        };
        let first = self.stat.is_none();
        if first {
            let path = self.proc_dir.join("stat");
            self.stat = Some(File::open(&path).map_err(|error| cannot_read(path, error))?);
        }
        if let Some(stat) = &self.stat
            && let Err(error) = read_proc_file(stat, &mut self.buffer, &mut self.readings.stat)
        {
            // Opened again at the next poll.
            self.stat = None;
            return Err(cannot_read(self.proc_dir.join("stat"), error));
        }
        // The process's start is learned once; later polls count from it.
        self.readings.uptime = if first {
            std::fs::read_to_string("/proc/uptime").ok()
        } else {
            None
        };
        self.schedstat.retain(|tid, _| vcpu_threads.contains(tid));
        let mut texts = std::mem::take(&mut self.readings.schedstat);
        texts.retain(|tid, _| vcpu_threads.contains(tid));
        for &tid in vcpu_threads {
            if !self.schedstat.contains_key(&tid) {
                let path = self.proc_dir.join(format!("task/{tid}/schedstat"));
                match File::open(path) {
                    Ok(file) => {
                        self.schedstat.insert(tid, file);
                    }
                    Err(_) => {
                        texts.remove(&tid);
                        continue;
                    }
                }
            }
            let text = texts.entry(tid).or_default();
            let read = match self.schedstat.get(&tid) {
                Some(file) => read_proc_file(file, &mut self.buffer, text),
                None => continue,
            };
            if read.is_err() {
                self.schedstat.remove(&tid);
                texts.remove(&tid);
            }
        }
        self.readings.schedstat = texts;
        Ok(self.rates.update(self.pid, now, &self.readings))
    }
}

/// Where a poller's host figures come from, and its sampler.
#[derive(Debug)]
pub enum HostReader {
    /// `/proc` on this machine.
    Local(HostSampler),
    /// `/proc` on the VM's host, over ssh.
    Remote(remote::RemoteSampler),
    /// None, with the reason shown in the panel.
    Unavailable(&'static str),
}

impl HostReader {
    /// The figures now: read with a few `pread`s here, or by an ssh process.
    pub async fn sample(&mut self, vcpu_threads: &[u32]) -> Result<HostSample, HostError> {
        match self {
            HostReader::Local(sampler) => sampler.sample(vcpu_threads),
            HostReader::Remote(sampler) => sampler.sample(vcpu_threads).await,
            HostReader::Unavailable(reason) => Err(HostError::Unavailable(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_schedstat("123 456 7\n"), Some((123, 456)));
        assert_eq!(parse_schedstat("garbage"), None);
        let stat = "4242 (qemu-system-x86) (x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 1 2 3";
        assert_eq!(StatFields::parse(stat).cpu_ticks, Some(300));
        assert_eq!(StatFields::parse(stat).rss_pages, Some(3));
        assert_eq!(StatFields::parse("1 (x) S 1 2").rss_pages, None);
        assert_eq!(StatFields::parse("1 (x) S").cpu_ticks, None);
        assert_eq!(StatFields::parse(stat).state, Some('S'));
        let long = "7 (q) S 1 7 7 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 12345 2 3";
        assert_eq!(StatFields::parse(long).start_ticks, Some(12345));
        let full = "7 (q) S 1 7 7 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 12345 999 321 18446744073709551615";
        assert_eq!(StatFields::parse(full).rss_pages, Some(321));
        assert_eq!(parse_uptime("350.25 1000.0\n"), Some(350.25));
        assert_eq!(
            process_uptime(12345, 350.25),
            Some(Duration::from_secs_f64(350.25 - 123.45))
        );
        assert_eq!(process_uptime(99999, 1.0), None);
        assert_eq!(StatFields::parse("1 (a) b) Z 0").state, Some('Z'));
        assert_eq!(StatFields::parse("garbage"), StatFields::default());
        assert!(!process_exited(std::process::id()));
        assert!(process_exited(u32::MAX));
        assert_eq!(
            parse_status_rss("Name:\tqemu\nVmRSS:\t   2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
    }

    #[test]
    fn samples_this_process() {
        let pid = std::process::id();
        // This test's own thread plays the vCPU thread.
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        let tid: u32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
        let mut sampler = HostSampler::new(pid);
        let first = sampler.sample(&[tid]).unwrap();
        assert!(first.rss_bytes.unwrap() > 0);
        assert_eq!(first.pid, pid);
        assert!(first.uptime.is_some(), "this process has run for some time");
        assert_eq!(first.vcpus[&tid].cpu_percent, None);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(100) {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        let second = sampler.sample(&[tid]).unwrap();
        let busy = second.vcpus[&tid].cpu_percent.unwrap();
        assert!(busy > 10.0, "a busy thread shows CPU: {busy}");
    }

    #[test]
    fn rss_and_uptime_need_no_file_but_stat_after_the_first_poll() {
        let mut sampler = HostSampler::new(std::process::id());
        let first = sampler.sample(&[]).unwrap();
        let second = sampler.sample(&[]).unwrap();
        assert!(second.rss_bytes.unwrap() > 0);
        assert!(second.uptime.unwrap() >= first.uptime.unwrap());
        assert!(second.process_cpu_percent.is_some());
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let from_status = parse_status_rss(&status).unwrap() as f64;
        let from_stat = second.rss_bytes.unwrap() as f64;
        assert!(
            (from_stat / from_status - 1.0).abs() < 0.5,
            "RSS from stat's pages ({from_stat}) is status's VmRSS ({from_status})"
        );
    }

    #[test]
    fn missing_process_is_a_reason_not_zeros() {
        let mut sampler = HostSampler::new(u32::MAX);
        let error = sampler.sample(&[1]).unwrap_err();
        assert!(matches!(error, HostError::Proc { .. }), "{error:?}");
        assert!(
            error.to_string().starts_with("cannot read /proc/"),
            "{error}"
        );
    }
}
