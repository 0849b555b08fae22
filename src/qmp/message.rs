//! QMP messages: the greeting, commands, replies, events, and the client's error type.
//!
//! Decoding is lenient: unknown fields are ignored and unknown events are kept with their data
//! as `serde_json::Value`, so a newer QEMU never breaks the client. It is also bounded: a
//! reply is kept as the JSON text it came in (callers decode it straight into their types),
//! and an event's data, an error or an unknown message is decoded within a memory budget
//! (see [`super::capped`]), so a peer's 16 MiB line never becomes a quarter gigabyte of
//! `Value`s.

use super::capped;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::ops::Range;
use std::time::Duration;

/// Memory an event's data may take once decoded; beyond it the data is cut (and the cut
/// counted in [`Event::cut_bytes`]).
pub const EVENT_DATA_BUDGET: usize = 64 * 1024;
/// Memory an error reply or an unknown message may take once decoded.
const MESSAGE_BUDGET: usize = 64 * 1024;
/// The longest event name kept, in bytes.
const EVENT_NAME_BYTES: usize = 256;

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
    /// The event's data object (`Null` when it has none), cut to [`EVENT_DATA_BUDGET`].
    pub data: Value,
    /// QEMU's timestamp: seconds and microseconds since the epoch.
    pub timestamp: (i64, i64),
    /// Bytes of the event (its data, or a very long name) not kept; 0 when it is whole.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cut_bytes: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A JSON value as QEMU sent it, not decoded: a piece of the line it came in, so a big reply
/// is neither copied nor turned into `Value`s before its caller decodes it.
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson {
    line: String,
    range: Range<usize>,
}

impl RawJson {
    /// The whole of `text` (which must be one JSON value).
    pub fn new(text: String) -> RawJson {
        let range = 0..text.len();
        RawJson { line: text, range }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.line.get(self.range.clone()).unwrap_or_default()
    }

    /// Decodes the value into `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.get())
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&shorten(self.get(), SHOWN_LINE_CHARS))
    }
}

/// Anything QEMU sends after the greeting.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A successful reply.
    Return {
        /// The command's id, if it had one.
        id: Option<u64>,
        /// The reply's `return` value, as sent.
        value: RawJson,
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
    /// The command has no counterpart on this connection's monitor (an HMP socket offers a
    /// subset of QMP); screens show it as unavailable, not as a failure.
    #[error(
        "'{command}' is not available over HMP (the human monitor); give qemu-dash a QMP \
         socket for it: add `-qmp unix:/tmp/vm-dash.qmp,server=on,wait=off` to QEMU's command line"
    )]
    Unavailable {
        /// The QMP command.
        command: String,
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

    /// True when the command does not exist on this kind of connection (see
    /// [`QmpError::Unavailable`]): nothing failed, the figure or action is just not there.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, QmpError::Unavailable { .. })
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

/// The members of a message this client looks at, as text borrowed from the line (any
/// other member is skipped without being decoded).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "return", borrow, default, deserialize_with = "present")]
    ret: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    event: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    data: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
}

/// A member that is there, even as `null`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// A reply's `return` value decoded by the connection as it read the line, in the type its
/// caller asked for (see [`ReturnDecoder`]).
pub type Decoded = Box<dyn std::any::Any + Send>;

/// Decodes a reply line straight into its caller's type, in one pass over the line: `None`
/// unless the line is a plain successful reply (`return`, no `id`, `error` or `event`) whose
/// value has that type. Made by [`decode_return`].
pub type ReturnDecoder = fn(&str) -> Option<Decoded>;

/// The [`ReturnDecoder`] of replies of type `T`.
pub fn decode_return<T: serde::de::DeserializeOwned + Send + 'static>(
    line: &str,
) -> Option<Decoded> {
    use serde::de::IgnoredAny;
    #[derive(Deserialize)]
    struct Plain<T> {
        #[serde(rename = "return")]
        ret: Option<T>,
        id: Option<IgnoredAny>,
        error: Option<IgnoredAny>,
        event: Option<IgnoredAny>,
    }
    match serde_json::from_str::<Plain<T>>(line).ok()? {
        Plain {
            ret: Some(value),
            id: None,
            error: None,
            event: None,
        } => Some(Box::new(value)),
        _ => None,
    }
}

/// Decodes one line from QEMU.
pub fn decode_line(bytes: &[u8]) -> Result<Incoming, QmpError> {
    decode_owned(bytes.to_vec())
}

/// Decodes one line from QEMU, keeping a reply inside the line itself (no copy).
pub fn decode_owned(line: Vec<u8>) -> Result<Incoming, QmpError> {
    let text = String::from_utf8(line).map_err(|error| QmpError::InvalidUtf8 {
        line: shorten(&String::from_utf8_lossy(error.as_bytes()), SHOWN_LINE_CHARS),
    })?;
    let (id, range) = match classify(&text)? {
        Classified::Return { id, range } => (id, range),
        Classified::Other(incoming) => return Ok(incoming),
    };
    Ok(Incoming::Return {
        id,
        value: RawJson { line: text, range },
    })
}

enum Classified {
    Return {
        id: Option<u64>,
        range: Range<usize>,
    },
    Other(Incoming),
}

/// Where `part` (a slice of `whole`) starts and ends in it.
fn range_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let range = start..start.checked_add(part.len())?;
    (whole.get(range.clone()) == Some(part)).then_some(range)
}

fn classify(text: &str) -> Result<Classified, QmpError> {
    let invalid = |error: serde_json::Error| QmpError::InvalidJson {
        error: error.to_string(),
        line: shorten(text, SHOWN_LINE_CHARS),
    };
    // Only an object is a message (a derived struct would also take an array).
    let object = text.trim_start().starts_with('{');
    let Some(envelope) = object
        .then(|| serde_json::from_str::<Envelope>(text).ok())
        .flatten()
    else {
        // Not an object (or not JSON at all: the full decoder says which, and where).
        let whole = capped::decode(text, MESSAGE_BUDGET).map_err(invalid)?;
        return Ok(Classified::Other(Incoming::Unknown(whole.value)));
    };
    let small = |raw: &RawValue| {
        capped::decode(raw.get(), MESSAGE_BUDGET)
            .map(|c| c.value)
            .unwrap_or_default()
    };
    let id = envelope
        .id
        .and_then(|raw| serde_json::from_str::<u64>(raw.get()).ok());
    if let Some(ret) = envelope.ret {
        return Ok(match range_in(text, ret.get()) {
            Some(range) => Classified::Return { id, range },
            None => Classified::Other(Incoming::Return {
                id,
                value: RawJson::new(ret.get().to_string()),
            }),
        });
    }
    if let Some(error) = envelope.error {
        let error = small(error);
        let text = |key| {
            error
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        return Ok(Classified::Other(Incoming::Error {
            id,
            class: text("class"),
            desc: text("desc"),
        }));
    }
    if let Some(name) = envelope
        .event
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    {
        let stamp = envelope.timestamp.map(small).unwrap_or_default();
        let field = |key| stamp.get(key).and_then(Value::as_i64).unwrap_or(0);
        let (name, name_cut) = capped::cut_text(&name, EVENT_NAME_BYTES);
        let data = match envelope.data {
            Some(raw) => capped::decode(raw.get(), EVENT_DATA_BUDGET).map_err(invalid)?,
            None => capped::Capped {
                value: Value::Null,
                cut_bytes: 0,
            },
        };
        return Ok(Classified::Other(Incoming::Event(Event {
            name,
            timestamp: (field("seconds"), field("microseconds")),
            data: data.value,
            cut_bytes: data.cut_bytes + name_cut,
        })));
    }
    let whole = capped::decode(text, MESSAGE_BUDGET).map_err(invalid)?;
    Ok(Classified::Other(Incoming::Unknown(whole.value)))
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

    /// The reply's id and value, decoded.
    fn reply(line: &[u8]) -> (Option<u64>, Value) {
        match decode_line(line).unwrap() {
            Incoming::Return { id, value } => (id, value.decode().unwrap()),
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn classifies_replies_errors_and_events() {
        assert_eq!(
            reply(br#"{"return": {"running": true}, "id": 7}"#),
            (Some(7), json!({"running": true}))
        );
        assert_eq!(
            reply(br#"{"id": "x", "return": null}"#),
            (None, Value::Null)
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
    fn a_reply_stays_in_its_line_and_big_event_data_is_cut() {
        let line = format!(r#"{{"return": [{}0], "id": 3}}"#, "0,".repeat(1 << 20)).into_bytes();
        let capacity = line.capacity();
        let Incoming::Return { value, .. } = decode_owned(line).unwrap() else {
            panic!("not a reply");
        };
        assert_eq!(value.line.capacity(), capacity, "no copy");
        assert!(value.get().starts_with("[0,0,") && value.get().ends_with("0]"));

        let reason = "r".repeat(1 << 20);
        let line = json!({"event": "BLOCK_IO_ERROR", "data": {"device": "disk0", "reason": reason}, "timestamp": {"seconds": 1, "microseconds": 2}});
        let Incoming::Event(event) = decode_line(line.to_string().as_bytes()).unwrap() else {
            panic!("not an event");
        };
        assert_eq!(event.data["device"], "disk0");
        assert!(capped::cost(&event.data) <= EVENT_DATA_BUDGET);
        assert!(event.cut_bytes > (1 << 20) - EVENT_DATA_BUDGET as u64);
        assert!(event.data["reason"].as_str().unwrap().ends_with(" cut]"));
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
                super::tests::reply(reply.as_bytes()),
                (Some(id), json!({"text": text}))
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
