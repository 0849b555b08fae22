//! Services the tests start for themselves, on loopback only, with their files in a temp dir:
//! a Prometheus server (Debian's `prometheus`), a plain HTTP GET to talk to it and to the
//! exporter, and an OpenSSH server (Debian's `openssh-server`) for `ssh://` targets. Each is
//! killed when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A TCP port on 127.0.0.1 that nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` from `127.0.0.1:port` over HTTP/1.0: (status code, body). `None` when nothing
/// answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Percent-encodes a query-string value.
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus server scraping one target every second.
pub struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus on 127.0.0.1 scraping `127.0.0.1:target_port` every second, and waits
    /// until it is ready. Panics with the install hint when it is not installed.
    pub fn scraping(target_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: qemu\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start prometheus ({e}): install it with `apt-get install prometheus`"
                )
            });
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        super::wait_until(Duration::from_secs(30), "Prometheus to be ready", || {
            http_get(port, "/-/ready").filter(|(status, _)| *status == 200)
        });
        prometheus
    }

    /// Runs a PromQL instant query; the `data.result` array of the answer.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/query?query={}", url_encode(promql));
        let Some((200, body)) = http_get(self.port, &path) else {
            return Vec::new();
        };
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The log Prometheus wrote so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ssh-keygen` to make an ed25519 key pair at `path` (and `path.pub`), no passphrase.
fn make_key(path: &std::path::Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "qemu-dash-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run ssh-keygen ({e}): install it with `apt-get install openssh-client`")
        });
    assert!(status.success(), "ssh-keygen failed");
}

/// A client config that reads nothing of the user's (`~/.ssh`, the agent, the system's
/// known_hosts): only `known_hosts` and `key` in the test's dir.
fn client_config(known_hosts: &std::path::Path, key: &std::path::Path) -> String {
    format!(
        "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  IdentityFile {}\n  \
         IdentitiesOnly yes\n  IdentityAgent none\n  StrictHostKeyChecking yes\n  \
         CheckHostIP no\n  UpdateHostKeys no\n",
        known_hosts.display(),
        key.display()
    )
}

/// An OpenSSH server on 127.0.0.1 for the test alone: its own host key, an authorized key
/// made for the test, its files in a temp dir, and client configs (for `QEMU_DASH_SSH`) that
/// read nothing of the user's. The server and every session it started are killed on drop.
pub struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd and waits until it answers. Panics with the install hint when it is not
    /// installed.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("qemu-dash-sshd")
            .tempdir()
            .unwrap();
        let path = |name: &str| dir.path().join(name);
        for key in ["host_key", "other_host_key", "user_key", "other_user_key"] {
            make_key(&path(key));
        }
        std::fs::copy(path("user_key.pub"), path("authorized_keys")).unwrap();
        // The sessions' home: the login shell reads no rc file of the user's (a slow
        // ~/.bashrc would time the remote commands).
        std::fs::create_dir(path("home")).unwrap();
        let port = free_port();
        let known = |key: &str| {
            let public = std::fs::read_to_string(path(&format!("{key}.pub"))).unwrap();
            format!("[127.0.0.1]:{port} {public}")
        };
        std::fs::write(path("known_hosts"), known("host_key")).unwrap();
        std::fs::write(path("changed_known_hosts"), known("other_host_key")).unwrap();
        for (config, known_hosts, key) in [
            ("client.conf", "known_hosts", "user_key"),
            ("wrong_key.conf", "known_hosts", "other_user_key"),
            ("changed_host_key.conf", "changed_known_hosts", "user_key"),
        ] {
            std::fs::write(path(config), client_config(&path(known_hosts), &path(key))).unwrap();
        }
        std::fs::write(
            path("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 LogLevel VERBOSE\nSetEnv HOME={}\n",
                path("host_key").display(),
                path("authorized_keys").display(),
                path("sshd.pid").display(),
                path("home").display(),
            ),
        )
        .unwrap();
        // sshd's privilege separation wants this dir (made at boot on a normal system).
        let _ = std::fs::create_dir_all("/run/sshd");
        // sshd re-executes itself, so it must be started by its absolute path.
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(path("sshd_config"))
            .arg("-E")
            .arg(path("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start sshd ({e}): install it with `apt-get install openssh-server`")
            });
        let mut sshd = Sshd { child, port, dir };
        super::wait_until(Duration::from_secs(20), "sshd to answer", || {
            if let Ok(Some(status)) = sshd.child.try_wait() {
                panic!("sshd exited ({status}): {}", sshd.log());
            }
            let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
            let mut banner = [0u8; 8];
            stream.read_exact(&mut banner).ok()?;
            (&banner == b"SSH-2.0-").then_some(())
        });
        sshd
    }

    /// `QEMU_DASH_SSH` for a client that trusts this server and holds the authorized key.
    pub fn ssh_command(&self) -> String {
        self.ssh_command_with("client.conf")
    }

    /// `QEMU_DASH_SSH` for a client whose key the server does not know.
    pub fn ssh_command_with_wrong_key(&self) -> String {
        self.ssh_command_with("wrong_key.conf")
    }

    /// `QEMU_DASH_SSH` for a client that knows another host key for this server.
    pub fn ssh_command_with_changed_host_key(&self) -> String {
        self.ssh_command_with("changed_host_key.conf")
    }

    fn ssh_command_with(&self, config: &str) -> String {
        format!("ssh -F {}", self.dir.path().join(config).display())
    }

    /// The `ssh://` target of the socket at `path` (on this machine, through this server).
    pub fn target(&self, path: &std::path::Path) -> String {
        format!("ssh://127.0.0.1:{}{}", self.port, path.display())
    }

    /// Ends every connection to the server (as a server restart or a network drop would),
    /// leaving the server listening.
    pub fn drop_connections(&self) {
        for pid in descendants(self.child.id()) {
            kill_quietly(pid);
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

/// SIGKILL to `pid`, which may have exited already.
fn kill_quietly(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Every process below `pid` (children first found, then theirs).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 1..];
            let parent = after_name.split_whitespace().nth(1)?.parse().ok()?;
            Some((child, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        index += 1;
    }
    found.remove(0);
    found
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let sessions = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in sessions {
            kill_quietly(pid);
        }
    }
}
