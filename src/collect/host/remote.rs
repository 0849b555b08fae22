//! Host figures of a QEMU on another host: its `/proc` files read by one small shell script
//! per poll over the host's ssh connection.
//!
//! QEMU's pid there is found once from a vCPU thread's `/proc/<tid>/status` (`Tgid:`), unless
//! `--pid` gives it. The script prints each file after a marker line; [`parse_output`] splits
//! them into [`ProcReadings`]. Nothing here blocks the runtime: ssh runs as a child process.

use super::{HostRates, ProcReadings};
use crate::news::{HostError, HostSample};
use crate::ssh::{SshHost, shell_quote};
use std::time::{Duration, Instant};

/// How long one read may take before the panel says so.
pub const READ_TIMEOUT: Duration = Duration::from_secs(3);

/// Marker lines: 16 characters or more, so no process name (at most 15) can forge one.
const PID: &str = "==qemu-dash:pid== ";
const STAT: &str = "==qemu-dash:stat==";
const STATUS: &str = "==qemu-dash:status==";
const UPTIME: &str = "==qemu-dash:uptime==";
const SCHEDSTAT: &str = "==qemu-dash:schedstat== ";

/// The script: `$1` is the pid or `-`, the rest are vCPU thread ids. Exits 3 when the thread
/// is not in `/proc`, 4 when the process cannot be read.
const SCRIPT: &str = "p=$1; shift; \
    if [ \"$p\" = - ]; then \
      [ -r /proc/$1/status ] || exit 3; \
      while read -r k v r; do if [ \"$k\" = Tgid: ]; then p=$v; fi; done < /proc/$1/status; \
    fi; \
    [ -r /proc/$p/stat ] || exit 4; \
    echo \"==qemu-dash:pid== $p\"; \
    echo ==qemu-dash:stat==; cat /proc/$p/stat; \
    echo ==qemu-dash:status==; cat /proc/$p/status 2>/dev/null; \
    echo ==qemu-dash:uptime==; cat /proc/uptime 2>/dev/null; \
    for t in \"$@\"; do echo \"==qemu-dash:schedstat== $t\"; cat /proc/$p/task/$t/schedstat 2>/dev/null; done; \
    exit 0";

/// The command line for the remote shell.
fn command_line(pid: Option<u32>, vcpu_threads: &[u32]) -> String {
    let mut line = format!(
        "sh -c {} qemu-dash {}",
        shell_quote(SCRIPT),
        pid.map_or("-".to_string(), |p| p.to_string())
    );
    for tid in vcpu_threads {
        line.push_str(&format!(" {tid}"));
    }
    line
}

/// Splits the script's output into the pid and the files.
pub fn parse_output(text: &str) -> Option<(u32, ProcReadings)> {
    enum Section {
        None,
        Stat,
        Status,
        Uptime,
        Schedstat(u32),
    }
    let mut pid = None;
    let mut readings = ProcReadings::default();
    let mut status = String::new();
    let mut uptime = String::new();
    let mut section = Section::None;
    for line in text.split('\n') {
        if let Some(number) = line.strip_prefix(PID) {
            pid = number.trim().parse().ok();
            section = Section::None;
        } else if line == STAT {
            section = Section::Stat;
        } else if line == STATUS {
            section = Section::Status;
        } else if line == UPTIME {
            section = Section::Uptime;
        } else if let Some(tid) = line.strip_prefix(SCHEDSTAT) {
            section = match tid.trim().parse() {
                Ok(tid) => Section::Schedstat(tid),
                Err(_) => Section::None,
            };
        } else {
            let target = match section {
                Section::None => continue,
                Section::Stat => &mut readings.stat,
                Section::Status => &mut status,
                Section::Uptime => &mut uptime,
                Section::Schedstat(tid) => readings.schedstat.entry(tid).or_default(),
            };
            target.push_str(line);
            target.push('\n');
        }
    }
    readings.schedstat.retain(|_, text| !text.trim().is_empty());
    readings.status = (!status.is_empty()).then_some(status);
    readings.uptime = (!uptime.is_empty()).then_some(uptime);
    Some((pid?, readings))
}

/// Samples one QEMU process on another host.
#[derive(Debug)]
pub struct RemoteSampler {
    host: SshHost,
    pid: Option<u32>,
    rates: HostRates,
}

impl RemoteSampler {
    /// A sampler for the QEMU on `host`; its pid is found from its vCPU threads unless given.
    pub fn new(host: SshHost, pid: Option<u32>) -> Self {
        RemoteSampler {
            host,
            pid,
            rates: HostRates::default(),
        }
    }

    /// Reads the remote `/proc` now (one ssh command). Fails with a reason for the panel.
    pub async fn sample(&mut self, vcpu_threads: &[u32]) -> Result<HostSample, HostError> {
        let host = self.host.to_string();
        if self.pid.is_none() && vcpu_threads.is_empty() {
            return Err(HostError::NoThreadToFindPid { host });
        }
        let line = command_line(self.pid, vcpu_threads);
        let out = match crate::ssh::run(&self.host, &line, READ_TIMEOUT).await {
            Ok(out) => out,
            Err(error) => {
                let why = error.to_string();
                return Err(HostError::Remote { host, why });
            }
        };
        let now = Instant::now();
        match out.code {
            Some(0) => {}
            Some(3) => return Err(HostError::ThreadsNotFound { host }),
            Some(4) => {
                let pid = self.pid.map_or("?".to_string(), |p| p.to_string());
                return Err(HostError::RemoteStat { host, pid });
            }
            _ => {
                let why = out.stderr.lines().last().unwrap_or("no reason given");
                let why = why.to_string();
                return Err(HostError::Remote { host, why });
            }
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let Some((pid, readings)) = parse_output(&text) else {
            let why = "the reply was cut short".to_string();
            return Err(HostError::Remote { host, why });
        };
        self.pid = Some(pid);
        Ok(self.rates.update(pid, now, &readings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_has_no_single_quote() {
        // It travels in single quotes through the remote shell.
        assert!(!SCRIPT.contains('\''));
        assert!(command_line(Some(7), &[8, 9]).ends_with(" qemu-dash 7 8 9"));
    }

    #[test]
    fn runs_here_and_parses() {
        // The script is plain sh: run it on this machine against this test process.
        let pid = std::process::id();
        let tid: u32 = std::fs::read_link("/proc/thread-self")
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command_line(None, &[tid]))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (found, readings) = parse_output(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(found, pid, "Tgid of the thread");
        assert!(readings.stat.starts_with(&format!("{pid} (")));
        assert!(readings.status.unwrap().contains("VmRSS:"));
        assert!(super::super::parse_uptime(&readings.uptime.unwrap()).is_some());
        assert!(super::super::parse_schedstat(&readings.schedstat[&tid]).is_some());
        let missing = std::process::Command::new("sh")
            .arg("-c")
            .arg(command_line(None, &[u32::MAX]))
            .output()
            .unwrap();
        assert_eq!(missing.status.code(), Some(3));
    }

    #[test]
    fn parses_names_with_newlines_and_cut_replies() {
        let text = "==qemu-dash:pid== 42\n==qemu-dash:stat==\n42 (a\nb) S 1\n==qemu-dash:status==\nVmRSS:\t4 kB\n==qemu-dash:schedstat== 43\n5 6 7\n==qemu-dash:schedstat== 44\n";
        let (pid, readings) = parse_output(text).unwrap();
        assert_eq!(pid, 42);
        assert_eq!(readings.stat, "42 (a\nb) S 1\n");
        assert_eq!(
            readings.schedstat.len(),
            1,
            "a thread with no reading is left out"
        );
        assert_eq!(parse_output("garbage"), None);
    }
}
