//! Host-side figures of a QEMU process from `/proc`: CPU per vCPU thread, steal, total CPU,
//! RSS and how long the process has run.
//!
//! Reads `/proc/<pid>/task/<tid>/schedstat` (run time and run-queue wait in nanoseconds) for
//! each vCPU thread id that `query-cpus-fast` reports, and `/proc/<pid>/stat` and `status` for
//! the whole process. Parsing is pure and unit-tested; only [`HostSampler::sample`] reads files,
//! and the poller calls it through [`HostSampler::sample_off_runtime`] so that a slow `/proc`
//! never stalls the runtime thread that reads every VM's QMP socket.

use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Linux reports process times in USER_HZ ticks, 100 per second on every mainstream
/// architecture (it is fixed ABI, independent of the kernel's HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// Host figures of one vCPU thread over the last interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct VcpuHost {
    /// Share of one host CPU the thread ran, percent.
    pub cpu_percent: Option<f64>,
    /// Share of the interval the thread waited to run (steal), percent.
    pub steal_percent: Option<f64>,
    /// CPU time the thread has run in all, seconds (a counter, for the exporter).
    pub cpu_seconds: Option<f64>,
    /// Time the thread has waited to run in all (steal), seconds.
    pub steal_seconds: Option<f64>,
}

/// Host figures of the QEMU process.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostSample {
    /// The QEMU process id.
    pub pid: u32,
    /// How long the QEMU process has run.
    pub uptime: Option<Duration>,
    /// CPU of the whole process, percent of one host CPU.
    pub process_cpu_percent: Option<f64>,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// CPU time of the whole process in all (user and system), seconds.
    pub process_cpu_seconds: Option<f64>,
    /// Per vCPU thread id.
    pub vcpus: HashMap<u32, VcpuHost>,
}

/// `(run_ns, wait_ns)` from a `schedstat` file.
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace();
    let run = fields.next()?.parse().ok()?;
    let wait = fields.next()?.parse().ok()?;
    Some((run, wait))
}

/// `utime + stime` in ticks from a `stat` file (the command name may hold spaces and ')').
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), utime field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// When the process started, in ticks after boot (field 22 of a `stat` file).
pub fn parse_stat_start_ticks(text: &str) -> Option<u64> {
    let after_name = &text[text.rfind(')')? + 1..];
    // After the name the state is field 3 of stat(5): starttime, field 22, is the 20th here.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Seconds since boot from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// How long a process started at `start_ticks` after boot has run, given the system's uptime.
fn process_uptime(start_ticks: u64, system_uptime: f64) -> Option<Duration> {
    let age = system_uptime - start_ticks as f64 / TICKS_PER_SECOND;
    (age.is_finite() && age >= 0.0).then(|| Duration::from_secs_f64(age))
}

/// The state letter from a `stat` file ('R', 'S', 'Z'…).
pub fn parse_stat_state(text: &str) -> Option<char> {
    text[text.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// True when process `pid` is gone or a zombie (it exited and only awaits its parent).
pub fn process_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => matches!(parse_stat_state(&stat), Some('Z' | 'X')),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

/// `VmRSS` in bytes from a `status` file.
pub fn parse_status_rss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn percent(delta: u64, unit_per_second: f64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (seconds > 0.0).then(|| delta as f64 / unit_per_second / seconds * 100.0)
}

/// Samples one QEMU process, keeping the previous readings to compute rates.
#[derive(Debug)]
pub struct HostSampler {
    pid: u32,
    proc_dir: PathBuf,
    last: Option<Instant>,
    last_process_ticks: Option<u64>,
    last_threads: HashMap<u32, (u64, u64)>,
}

impl HostSampler {
    /// A sampler for the process `pid`.
    pub fn new(pid: u32) -> Self {
        HostSampler {
            pid,
            proc_dir: PathBuf::from(format!("/proc/{pid}")),
            last: None,
            last_process_ticks: None,
            last_threads: HashMap::new(),
        }
    }

    /// Reads `/proc` on tokio's blocking pool (never on the runtime thread). When that thread
    /// is lost, the reason is returned and the next reading starts afresh.
    pub async fn sample_off_runtime(
        &mut self,
        vcpu_threads: Vec<u32>,
    ) -> Result<HostSample, String> {
        let fresh = HostSampler::new(self.pid);
        let mut sampler = std::mem::replace(self, fresh);
        let reading = tokio::task::spawn_blocking(move || {
            let sample = sampler.sample(&vcpu_threads);
            (sampler, sample)
        })
        .await;
        match reading {
            Ok((sampler, sample)) => {
                *self = sampler;
                sample
            }
            Err(error) => Err(format!(
                "reading {} failed: {error}",
                self.proc_dir.display()
            )),
        }
    }

    /// Reads `/proc` now, on this thread. Fails with a reason when the process cannot be read at all.
    pub fn sample(&mut self, vcpu_threads: &[u32]) -> Result<HostSample, String> {
        let now = Instant::now();
        let elapsed = self.last.map(|last| now.duration_since(last));
        let stat = std::fs::read_to_string(self.proc_dir.join("stat")).map_err(|error| {
            format!(
                "cannot read {}: {error}",
                self.proc_dir.join("stat").display()
            )
        })?;
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|text| parse_uptime(&text));
        let mut sample = HostSample {
            pid: self.pid,
            uptime: parse_stat_start_ticks(&stat)
                .zip(uptime)
                .and_then(|(start, now)| process_uptime(start, now)),
            rss_bytes: std::fs::read_to_string(self.proc_dir.join("status"))
                .ok()
                .and_then(|s| parse_status_rss(&s)),
            ..Default::default()
        };
        let ticks = parse_stat_cpu_ticks(&stat);
        sample.process_cpu_seconds = ticks.map(|t| t as f64 / TICKS_PER_SECOND);
        if let (Some(elapsed), Some(prev), Some(cur)) = (elapsed, self.last_process_ticks, ticks) {
            sample.process_cpu_percent = cur
                .checked_sub(prev)
                .and_then(|d| percent(d, TICKS_PER_SECOND, elapsed));
        }
        self.last_process_ticks = ticks;
        let mut threads = HashMap::new();
        for &tid in vcpu_threads {
            let path = self.proc_dir.join(format!("task/{tid}/schedstat"));
            let Some(reading) = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| parse_schedstat(&text))
            else {
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
        Ok(sample)
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
        assert_eq!(parse_stat_cpu_ticks(stat), Some(300));
        assert_eq!(parse_stat_cpu_ticks("1 (x) S"), None);
        assert_eq!(parse_stat_state(stat), Some('S'));
        let long = "7 (q) S 1 7 7 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 5 0 12345 2 3";
        assert_eq!(parse_stat_start_ticks(long), Some(12345));
        assert_eq!(parse_uptime("350.25 1000.0\n"), Some(350.25));
        assert_eq!(
            process_uptime(12345, 350.25),
            Some(Duration::from_secs_f64(350.25 - 123.45))
        );
        assert_eq!(process_uptime(99999, 1.0), None);
        assert_eq!(parse_stat_state("1 (a) b) Z 0"), Some('Z'));
        assert_eq!(parse_stat_state("garbage"), None);
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

    #[tokio::test(flavor = "current_thread")]
    async fn samples_off_the_runtime_thread_keep_their_rates() {
        let mut sampler = HostSampler::new(std::process::id());
        let first = sampler.sample_off_runtime(Vec::new()).await.unwrap();
        assert!(first.rss_bytes.unwrap() > 0);
        assert_eq!(first.process_cpu_percent, None);
        let second = sampler.sample_off_runtime(Vec::new()).await.unwrap();
        assert!(
            second.process_cpu_percent.is_some(),
            "the second reading has a rate, so the sampler came back from the blocking pool"
        );
    }

    #[test]
    fn missing_process_is_a_reason_not_zeros() {
        let mut sampler = HostSampler::new(u32::MAX);
        let error = sampler.sample(&[1]).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
    }
}
