//! QMP messages: the greeting, commands, replies, events, and the client's error type.
//!
//! Decoding is lenient: unknown fields are ignored and unknown events are kept with their data
//! as `serde_json::Value`, so a newer QEMU never breaks the client.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// QEMU's version as announced in the greeting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuVersion {
    /// Major version, e.g. 7.
    pub major: u32,
    /// Minor version, e.g. 2.
    pub minor: u32,
    /// Micro version, e.g. 0.
    pub micro: u32,
    /// Distribution package string, e.g. "Debian 1:7.2+dfsg-7".
    pub package: String,
}

impl QemuVersion {
    /// True when this QEMU is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The first message of a QMP session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Greeting {
    /// QEMU's version.
    pub version: QemuVersion,
    /// Capabilities offered (e.g. "oob").
    pub capabilities: Vec<String>,
}

/// An asynchronous QMP event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event name, e.g. "STOP".
    pub name: String,
    /// The event's data object (`Null` when it has none).
    pub data: Value,
    /// QEMU's timestamp: seconds and microseconds since the epoch.
    pub timestamp: (i64, i64),
}

/// Anything QEMU sends after the greeting.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A successful reply.
    Return {
        /// The command's id, if it had one.
        id: Option<u64>,
        /// The reply's `return` value.
        value: Value,
    },
    /// An error reply.
    Error {
        /// The command's id; `None` for errors QEMU could not tie to a command.
        id: Option<u64>,
        /// QEMU's error class, e.g. "CommandNotFound".
        class: String,
        /// QEMU's description, verbatim.
        desc: String,
    },
    /// An asynchronous event.
    Event(Event),
    /// A second greeting or another message shape this client does not know.
    Unknown(Value),
}

/// Errors of the QMP client. QEMU's own error text is kept verbatim.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Opening the socket failed; the message says what to check.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// The target as the user gave it.
        target: String,
        /// What went wrong, in words a user can act on.
        reason: String,
    },
    /// Reading from or writing to the socket failed.
    #[error("I/O error on the QMP socket: {0}")]
    Io(#[from] std::io::Error),
    /// The greeting did not arrive in time.
    #[error(
        "no QMP greeting from {target} within {:.1} s: another client probably holds this socket \
         (a QMP socket serves one client at a time). Give qemu-dash its own socket: add \
         `-qmp unix:/tmp/vm-dash.qmp,server=on,wait=off` to QEMU's command line",
        after.as_secs_f64()
    )]
    GreetingTimeout {
        /// The target.
        target: String,
        /// How long we waited.
        after: Duration,
    },
    /// A line was not valid JSON.
    #[error("invalid JSON from QEMU ({error}): {line}")]
    InvalidJson {
        /// The parser's message.
        error: String,
        /// The offending line, shortened.
        line: String,
    },
    /// A line was not valid UTF-8.
    #[error("invalid UTF-8 from QEMU: {line}")]
    InvalidUtf8 {
        /// The offending line, lossily decoded and shortened.
        line: String,
    },
    /// A line exceeded the size limit.
    #[error("a line from QEMU was {seen} bytes, over the {limit}-byte limit; it was discarded")]
    LineTooLong {
        /// Bytes seen.
        seen: usize,
        /// The limit.
        limit: usize,
    },
    /// QEMU answered with an error.
    #[error("{desc} ({class})")]
    Qemu {
        /// QEMU's error class.
        class: String,
        /// QEMU's description, verbatim.
        desc: String,
    },
    /// No reply within the timeout.
    #[error("'{command}' got no reply within {:.1} s", after.as_secs_f64())]
    Timeout {
        /// The command name.
        command: String,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The connection is gone.
    #[error("disconnected: {reason}")]
    Disconnected {
        /// Why (EOF, an I/O error...).
        reason: String,
    },
    /// The peer broke the protocol.
    #[error("QMP protocol error: {message}: {line}")]
    Protocol {
        /// What was wrong.
        message: String,
        /// The offending line, shortened.
        line: String,
    },
}

impl QmpError {
    /// True for errors that mean the connection is unusable.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, QmpError::Disconnected { .. } | QmpError::Io(_))
    }

    /// The QEMU error class, if QEMU answered with an error.
    pub fn qemu_class(&self) -> Option<&str> {
        match self {
            QmpError::Qemu { class, .. } => Some(class),
            _ => None,
        }
    }
}

/// Shortens text for error messages: at most `max` characters, with a marker when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}… ({} bytes in all)", text.len())
}

const SHOWN_LINE_CHARS: usize = 200;

/// Decodes one line from QEMU.
pub fn decode_line(bytes: &[u8]) -> Result<Incoming, QmpError> {
    let text = std::str::from_utf8(bytes).map_err(|_| QmpError::InvalidUtf8 {
        line: shorten(&String::from_utf8_lossy(bytes), SHOWN_LINE_CHARS),
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| QmpError::InvalidJson {
        error: e.to_string(),
        line: shorten(text, SHOWN_LINE_CHARS),
    })?;
    Ok(classify(value))
}

fn classify(mut value: Value) -> Incoming {
    let Some(object) = value.as_object_mut() else {
        return Incoming::Unknown(value);
    };
    let id = object.get("id").and_then(Value::as_u64);
    if let Some(ret) = object.remove("return") {
        return Incoming::Return { id, value: ret };
    }
    if let Some(error) = object.get("error") {
        let text = |key| {
            error
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        return Incoming::Error {
            id,
            class: text("class"),
            desc: text("desc"),
        };
    }
    if let Some(name) = object.get("event").and_then(Value::as_str) {
        let stamp = object.get("timestamp");
        let field = |key| {
            stamp
                .and_then(|s| s.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        return Incoming::Event(Event {
            name: name.to_string(),
            timestamp: (field("seconds"), field("microseconds")),
            data: object.remove("data").unwrap_or(Value::Null),
        });
    }
    Incoming::Unknown(value)
}

/// Decodes the greeting line, or says why it is not one.
pub fn decode_greeting(bytes: &[u8]) -> Result<Greeting, QmpError> {
    let line = String::from_utf8_lossy(bytes);
    let not_greeting = |message: &str| QmpError::Protocol {
        message: message.to_string(),
        line: shorten(&line, SHOWN_LINE_CHARS),
    };
    let value = match decode_line(bytes)? {
        Incoming::Unknown(value) => value,
        _ => return Err(not_greeting("expected the QMP greeting")),
    };
    let qmp = value
        .get("QMP")
        .ok_or_else(|| not_greeting("expected the QMP greeting"))?;
    let qemu = qmp.get("version").and_then(|v| v.get("qemu"));
    let number = |key| {
        qemu.and_then(|q| q.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32
    };
    let version = QemuVersion {
        major: number("major"),
        minor: number("minor"),
        micro: number("micro"),
        package: qmp
            .get("version")
            .and_then(|v| v.get("package"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    let capabilities = qmp
        .get("capabilities")
        .and_then(Value::as_array)
        .map(|caps| {
            caps.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Greeting {
        version,
        capabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_greeting_of_qemu_7_2() {
        let line = br#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u7"}, "capabilities": ["oob"]}}"#;
        let greeting = decode_greeting(line).unwrap();
        assert_eq!(greeting.version.to_string(), "7.2.0");
        assert_eq!(greeting.version.package, "Debian 1:7.2+dfsg-7+deb12u7");
        assert_eq!(greeting.capabilities, vec!["oob"]);
        assert!(greeting.version.at_least(6, 0));
    }

    #[test]
    fn rejects_a_reply_as_greeting() {
        let err = decode_greeting(br#"{"return": {}}"#).unwrap_err();
        assert!(
            err.to_string().contains("expected the QMP greeting"),
            "{err}"
        );
    }

    #[test]
    fn classifies_replies_errors_and_events() {
        assert_eq!(
            decode_line(br#"{"return": {"running": true}, "id": 7}"#).unwrap(),
            Incoming::Return {
                id: Some(7),
                value: json!({"running": true})
            }
        );
        assert_eq!(
            decode_line(br#"{"error": {"class": "GenericError", "desc": "JSON parse error"}}"#)
                .unwrap(),
            Incoming::Error {
                id: None,
                class: "GenericError".into(),
                desc: "JSON parse error".into()
            }
        );
        let Incoming::Event(event) =
            decode_line(br#"{"timestamp": {"seconds": 5, "microseconds": 6}, "event": "STOP"}"#)
                .unwrap()
        else {
            panic!("not an event");
        };
        assert_eq!(event.name, "STOP");
        assert_eq!(event.timestamp, (5, 6));
        assert_eq!(event.data, Value::Null);
    }

    #[test]
    fn bad_lines_are_clear_errors() {
        let err = decode_line(b"{not json").unwrap_err();
        assert!(matches!(err, QmpError::InvalidJson { .. }), "{err}");
        let err = decode_line(b"\xff\xfe{}").unwrap_err();
        assert!(matches!(err, QmpError::InvalidUtf8 { .. }), "{err}");
        assert!(matches!(
            decode_line(b"[1,2]").unwrap(),
            Incoming::Unknown(_)
        ));
    }

    #[test]
    fn shorten_marks_the_cut() {
        assert_eq!(shorten("abc", 5), "abc");
        let cut = shorten(&"x".repeat(300), 10);
        assert!(cut.starts_with("xxxxxxxxxx…"), "{cut}");
        assert!(cut.contains("300 bytes"), "{cut}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_line(&bytes);
            let _ = decode_greeting(&bytes);
        }

        #[test]
        fn replies_and_events_round_trip(id in 0u64..u64::MAX / 2, text in "\\PC{0,40}", name in "[A-Z_]{1,20}") {
            let reply = json!({"return": {"text": text}, "id": id}).to_string();
            proptest::prop_assert_eq!(
                decode_line(reply.as_bytes()).unwrap(),
                Incoming::Return { id: Some(id), value: json!({"text": text}) }
            );
            let event = json!({"event": name, "data": {"text": text}, "timestamp": {"seconds": 1, "microseconds": 2}}).to_string();
            let Incoming::Event(decoded) = decode_line(event.as_bytes()).unwrap() else {
                panic!("not an event");
            };
            proptest::prop_assert_eq!(decoded.name, name);
            proptest::prop_assert_eq!(decoded.data, json!({"text": text}));
        }
    }
}
