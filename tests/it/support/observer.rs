//! An independent QMP client for tests: plain blocking std I/O, written separately from the
//! code under test, so a test can check the VM's real state through a second socket.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A raw QMP connection that keeps every event it reads.
pub struct Observer {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Events read so far, in order.
    pub events: Vec<Value>,
}

impl Observer {
    /// Connects and negotiates.
    pub fn connect(path: &Path) -> Observer {
        let stream = UnixStream::connect(path).expect("observer connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set timeout");
        let writer = stream.try_clone().expect("clone");
        let mut observer = Observer {
            reader: BufReader::new(stream),
            writer,
            events: Vec::new(),
        };
        // The greeting comes first; anything else before it is skipped (seen once under heavy
        // load: a stray event on a fresh observer connection).
        loop {
            let message = observer
                .read_message(Duration::from_secs(10))
                .expect("greeting");
            if message.get("QMP").is_some() {
                break;
            }
        }
        observer.execute("qmp_capabilities", json!({}));
        observer
    }

    fn read_message(&mut self, timeout: Duration) -> Option<Value> {
        let start = Instant::now();
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) if line.ends_with('\n') => {
                    return Some(serde_json::from_str(&line).expect("observer: valid JSON"));
                }
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("observer read: {e}"),
            }
            if start.elapsed() > timeout {
                return None;
            }
        }
    }

    /// Runs a command and returns its `return` value; panics on an error reply.
    pub fn execute(&mut self, command: &str, arguments: Value) -> Value {
        let message = json!({"execute": command, "arguments": arguments});
        writeln!(self.writer, "{message}").expect("observer write");
        loop {
            let reply = self
                .read_message(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("observer: no reply to {command}"));
            if reply.get("event").is_some() {
                self.events.push(reply);
                continue;
            }
            if let Some(value) = reply.get("return") {
                return value.clone();
            }
            panic!("observer: {command} failed: {reply}");
        }
    }

    /// The VM's run state ("running", "paused", ...).
    pub fn status(&mut self) -> String {
        self.execute("query-status", json!({}))["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits for an event named `name` (already seen ones count) and returns it.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            if let Some(event) = self.events.iter().find(|e| e["event"] == name) {
                return event.clone();
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                panic!(
                    "observer: no {name} event within {timeout:?}; saw {:?}",
                    self.events
                );
            }
            if let Some(message) = self.read_message(left.min(Duration::from_millis(200)))
                && message.get("event").is_some()
            {
                self.events.push(message);
            }
        }
    }
}
