//! A scripted fake QMP server on a unix socket, for what a real QEMU will not do on demand:
//! malformed lines, id-less errors, unknown ids, hangs, floods and hang-ups.
//!
//! Each accepted connection runs the test's script with a [`FakeConn`]; every command the
//! server receives is recorded, so tests can check what a client sent.

use serde_json::{Value, json};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// A fake QMP server; stops when dropped.
pub struct FakeQmp {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    received: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

/// One client connection as seen by the script.
pub struct FakeConn {
    commands: Commands,
    /// The write half, for raw bytes.
    pub writer: OwnedWriteHalf,
}

/// The read half of a connection: the commands the client sends, recorded as they are read.
pub struct Commands {
    reader: BufReader<OwnedReadHalf>,
    received: Arc<Mutex<Vec<Value>>>,
}

/// The greeting a QEMU 7.2 sends.
pub fn greeting() -> Value {
    json!({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}})
}

impl FakeQmp {
    /// Starts a server that runs `script` for every connection.
    pub fn start<F, Fut>(script: F) -> FakeQmp
    where
        F: Fn(FakeConn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut fake = Self::start_at(dir.path().join("fake.qmp"), script);
        fake._dir = Some(dir);
        fake
    }

    /// Starts a server listening at `path` (a directory the caller keeps).
    pub fn start_at<F, Fut>(path: PathBuf, script: F) -> FakeQmp
    where
        F: Fn(FakeConn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = UnixListener::bind(&path).expect("bind fake socket");
        let received = Arc::new(Mutex::new(Vec::new()));
        let recorded = received.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (read, writer) = stream.into_split();
                let conn = FakeConn {
                    commands: Commands {
                        reader: BufReader::new(read),
                        received: recorded.clone(),
                    },
                    writer,
                };
                tokio::spawn(script(conn));
            }
        });
        FakeQmp {
            path,
            _dir: None,
            received,
            task,
        }
    }

    /// The target string (`unix:PATH`).
    pub fn target(&self) -> String {
        format!("unix:{}", self.path.display())
    }

    /// Every command received so far, in order.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    /// A handle on the record of received commands, to wait on from another thread.
    pub fn recorder(&self) -> Recorder {
        Recorder(self.received.clone())
    }
}

/// The commands a [`FakeQmp`] received, shared with the test's threads.
#[derive(Clone)]
pub struct Recorder(Arc<Mutex<Vec<Value>>>);

impl Recorder {
    /// How many `command`s were received so far.
    pub fn count(&self, command: &str) -> usize {
        let received = self.0.lock().unwrap();
        received.iter().filter(|c| c["execute"] == command).count()
    }

    /// A barrier: waits until the client has polled (sent `query-cpus-fast`, which every
    /// poll asks) `polls` more times than now, so that whatever it sent before those polls
    /// has arrived.
    pub fn wait_for_polls(&self, polls: usize, timeout: Duration) {
        let wanted = self.count("query-cpus-fast") + polls;
        crate::support::wait_until(timeout, &format!("{polls} more polls"), || {
            (self.count("query-cpus-fast") >= wanted).then_some(())
        });
    }
}

impl Drop for FakeQmp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeConn {
    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.writer.write_all(bytes).await;
    }

    /// Sends one JSON message and a newline.
    pub async fn send(&mut self, message: Value) {
        let line = format!("{message}\n");
        self.send_raw(line.as_bytes()).await;
    }

    /// Sends an event.
    pub async fn event(&mut self, name: &str, data: Value) {
        self.send(
            json!({"event": name, "data": data, "timestamp": {"seconds": 1, "microseconds": 2}}),
        )
        .await;
    }

    /// Reads the next command (recording it); `None` when the client hung up.
    pub async fn command(&mut self) -> Option<Value> {
        self.commands.next().await
    }

    /// Splits the connection so that one task can read commands while others write.
    pub fn split(self) -> (Commands, OwnedWriteHalf) {
        (self.commands, self.writer)
    }

    /// Sends the greeting and answers `qmp_capabilities`.
    pub async fn handshake(&mut self) -> Option<()> {
        self.send(greeting()).await;
        let command = self.command().await?;
        assert_eq!(command["execute"], "qmp_capabilities");
        self.send(json!({"return": {}, "id": command["id"]})).await;
        Some(())
    }

    /// Replies `value` to the command with this id.
    pub async fn reply(&mut self, id: &Value, value: Value) {
        self.send(json!({"return": value, "id": id})).await;
    }

    /// Answers every command like an idle, running QEMU with one vCPU and one disk would,
    /// until the client hangs up.
    pub async fn serve_plausibly(mut self) {
        while let Some(command) = self.command().await {
            let reply = plausible_reply(command["execute"].as_str().unwrap_or_default());
            self.send(json!({"return": reply, "id": command["id"]}))
                .await;
        }
    }
}

impl Commands {
    /// Reads the next command (recording it); `None` when the client hung up.
    pub async fn next(&mut self) -> Option<Value> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&line).ok()?;
            self.received.lock().unwrap().push(value.clone());
            return Some(value);
        }
    }
}

impl FakeQmp {
    /// A fake QEMU that answers like an idle VM and, right after its first `query-status`,
    /// sends `burst` `RTC_CHANGE` events in one write (`data.offset` counts from 0; `data.pad`
    /// holds `pad` bytes, to make each event bigger).
    pub fn flooding(burst: usize, pad: usize) -> FakeQmp {
        FakeQmp::start(move |mut conn| async move {
            if conn.handshake().await.is_none() {
                return;
            }
            let mut first = true;
            while let Some(command) = conn.command().await {
                let name = command["execute"].as_str().unwrap_or_default().to_string();
                conn.reply(&command["id"], plausible_reply(&name)).await;
                if first && name == "query-status" {
                    first = false;
                    let padding = "x".repeat(pad);
                    let mut flood = String::with_capacity(burst * (100 + pad));
                    for n in 0..burst {
                        flood.push_str(&format!(
                            "{{\"event\": \"RTC_CHANGE\", \"data\": {{\"offset\": {n}, \"pad\": \"{padding}\"}}, \"timestamp\": {{\"seconds\": 1, \"microseconds\": 0}}}}\n"
                        ));
                    }
                    conn.send_raw(flood.as_bytes()).await;
                }
            }
        })
    }
}

/// A plausible reply of an idle running VM to a query.
pub fn plausible_reply(command: &str) -> Value {
    match command {
        "query-status" => json!({"status": "running", "running": true}),
        "query-cpus-fast" => {
            json!([{"cpu-index": 0, "thread-id": 1, "qom-path": "/machine/unattached/device[0]", "target": "x86_64"}])
        }
        "query-blockstats" => {
            json!([{"device": "disk0", "node-name": "n0", "stats": {"rd_bytes": 0, "wr_bytes": 0}}])
        }
        "query-block" => {
            json!([{"device": "disk0", "removable": false, "locked": false, "inserted": {"file": "disk.qcow2", "node-name": "n0", "ro": false, "drv": "qcow2", "image": {"filename": "disk.qcow2", "format": "qcow2", "virtual-size": 67108864}}}])
        }
        "query-name" => json!({"name": "fake"}),
        "query-version" => json!({"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "fake"}),
        "query-memory-size-summary" => json!({"base-memory": 134217728}),
        "query-jobs" => json!([]),
        "query-commands" => json!([{"name": "query-status"}, {"name": "snapshot-save"}]),
        _ => json!({}),
    }
}
