//! Which HMP command line answers a QMP command, and how its text becomes the QMP reply.
//!
//! The rest of the program speaks QMP and decodes QMP replies; over an HMP monitor each
//! command it sends is translated here into one HMP line, and the text that comes back is
//! read (by [`super::parse`]) into the JSON shape QMP would have sent. A command with no HMP
//! counterpart fails with [`QmpError::Unavailable`], which screens show as "not available",
//! never as a failure. HMP reports errors as text (`Error: …`); they become
//! [`QmpError::Qemu`] with QEMU's words verbatim.

use super::parse;
use crate::qmp::message::{QemuVersion, QmpError};
use serde_json::{Value, json};

/// How the output of an HMP command is read into a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The command prints nothing on success; any text is QEMU's error.
    Nothing,
    /// The output is the reply, as a JSON string (`human-monitor-command`).
    Text,
    /// `info status`.
    Status,
    /// `info cpus`.
    Cpus,
    /// `info blockstats`.
    Blockstats,
    /// `info block -v`.
    Block,
    /// `info balloon`.
    Balloon,
    /// `info kvm`.
    Kvm,
    /// `info memory_size_summary`.
    MemorySummary,
    /// `info name`.
    Name,
    /// HMP prints the value as JSON (`qom-get`).
    Json,
    /// `qom-list`: `name (type)` per line.
    QomList,
}

/// What to send for one QMP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Translation {
    /// Answered without asking QEMU.
    Local(Value),
    /// Send `line` and read its output as `reading`.
    Line {
        /// The HMP command line (one line, no newline).
        line: String,
        /// How to read the output.
        reading: Reading,
        /// QEMU exits on this command: the connection closing is its success.
        quits: bool,
    },
}

/// The longest command line sent to an HMP monitor.
const MAX_LINE: usize = 1024;

/// The QMP commands that work over HMP (what `query-commands` answers there).
pub const AVAILABLE: &[&str] = &[
    "qmp_capabilities",
    "query-commands",
    "query-version",
    "query-status",
    "query-cpus-fast",
    "query-blockstats",
    "query-block",
    "query-balloon",
    "query-kvm",
    "query-memory-size-summary",
    "query-name",
    "qom-get",
    "qom-list",
    "stop",
    "cont",
    "system_reset",
    "system_powerdown",
    "quit",
    "balloon",
    "eject",
    "human-monitor-command",
];

/// The HMP line for `command` with `arguments`, or why there is none.
pub fn translate(
    command: &str,
    arguments: Option<&Value>,
    version: &QemuVersion,
) -> Result<Translation, QmpError> {
    let argument = |name: &str| arguments.and_then(|arguments| arguments.get(name));
    let word = |name: &str| -> Result<String, QmpError> {
        let value = argument(name).and_then(Value::as_str).unwrap_or_default();
        if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "'{command}' over HMP needs '{name}' as one word, not {value:?}"
            )));
        }
        Ok(value.to_string())
    };
    let line = |line: String, reading: Reading| {
        Ok(Translation::Line {
            line,
            reading,
            quits: false,
        })
    };
    match command {
        "qmp_capabilities" => Ok(Translation::Local(json!({}))),
        "query-commands" => Ok(Translation::Local(Value::Array(
            AVAILABLE
                .iter()
                .map(|name| json!({ "name": name }))
                .collect(),
        ))),
        "query-version" => Ok(Translation::Local(json!({
            "qemu": {"major": version.major, "minor": version.minor, "micro": version.micro},
            "package": version.package,
        }))),
        "query-status" => line("info status".into(), Reading::Status),
        "query-cpus-fast" => line("info cpus".into(), Reading::Cpus),
        "query-blockstats" => line("info blockstats".into(), Reading::Blockstats),
        "query-block" => line("info block -v".into(), Reading::Block),
        "query-balloon" => line("info balloon".into(), Reading::Balloon),
        "query-kvm" => line("info kvm".into(), Reading::Kvm),
        "query-memory-size-summary" => {
            line("info memory_size_summary".into(), Reading::MemorySummary)
        }
        "query-name" => line("info name".into(), Reading::Name),
        "qom-get" => line(
            format!("qom-get {} {}", word("path")?, word("property")?),
            Reading::Json,
        ),
        "qom-list" => line(format!("qom-list {}", word("path")?), Reading::QomList),
        "stop" | "cont" | "system_reset" | "system_powerdown" => {
            line(command.to_string(), Reading::Nothing)
        }
        "quit" => Ok(Translation::Line {
            line: "quit".to_string(),
            reading: Reading::Nothing,
            quits: true,
        }),
        "balloon" => {
            let bytes = argument("value")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid("'balloon' needs 'value', a size in bytes".to_string()))?;
            line(
                format!("balloon {}", bytes / (1024 * 1024)),
                Reading::Nothing,
            )
        }
        "eject" => {
            let force = argument("force").and_then(Value::as_bool) == Some(true);
            let flag = if force { "-f " } else { "" };
            line(format!("eject {flag}{}", word("device")?), Reading::Nothing)
        }
        "human-monitor-command" => {
            let text = argument("command-line")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if text.chars().any(char::is_control) {
                return Err(invalid(
                    "an HMP command line must be one line without control characters".to_string(),
                ));
            }
            // QEMU's line editor echoes a line in time and bytes that grow with its square.
            if text.len() > MAX_LINE {
                return Err(invalid(format!(
                    "an HMP command line over an HMP monitor is limited to {MAX_LINE} bytes"
                )));
            }
            line(text.to_string(), Reading::Text)
        }
        _ => Err(QmpError::Unavailable {
            command: command.to_string(),
        }),
    }
}

fn invalid(desc: String) -> QmpError {
    QmpError::Qemu {
        class: "GenericError".to_string(),
        desc,
    }
}

/// Reads the output of the HMP line sent for `command` into its QMP reply.
pub fn reply(command: &str, reading: Reading, output: &str) -> Result<Value, QmpError> {
    if reading == Reading::Text {
        return Ok(Value::String(output.to_string()));
    }
    let text = output.trim();
    if let Some(error) = error_in(text) {
        return Err(match error {
            QmpError::Qemu { desc, .. }
                if reading == Reading::Balloon && desc.contains("No balloon device") =>
            {
                QmpError::Qemu {
                    class: "DeviceNotActive".to_string(),
                    desc,
                }
            }
            other => other,
        });
    }
    let unreadable = || QmpError::Protocol {
        message: format!("cannot read the HMP answer to {command}"),
        line: crate::qmp::message::shorten(text, 200),
    };
    let encode = |value: Result<Value, serde_json::Error>| value.map_err(|_| unreadable());
    match reading {
        Reading::Nothing if text.is_empty() => Ok(json!({})),
        Reading::Nothing => Err(invalid(text.to_string())),
        Reading::Text => Ok(Value::String(output.to_string())),
        Reading::Status => encode(serde_json::to_value(
            parse::status(text).ok_or_else(unreadable)?,
        )),
        Reading::Cpus => encode(serde_json::to_value(parse::cpus(text))),
        Reading::Blockstats => encode(serde_json::to_value(parse::blockstats(text))),
        Reading::Block => encode(serde_json::to_value(parse::block(text))),
        Reading::Balloon => encode(serde_json::to_value(
            parse::balloon(text).ok_or_else(unreadable)?,
        )),
        Reading::Kvm => {
            let (enabled, present) = parse::kvm(text).ok_or_else(unreadable)?;
            Ok(json!({ "enabled": enabled, "present": present }))
        }
        Reading::MemorySummary => encode(serde_json::to_value(
            parse::memory_size_summary(text).ok_or_else(unreadable)?,
        )),
        Reading::Name if text.is_empty() => Ok(json!({})),
        Reading::Name => Ok(json!({ "name": text })),
        Reading::Json => serde_json::from_str(text).map_err(|_| unreadable()),
        Reading::QomList => Ok(Value::Array(
            parse::qom_list(text)
                .into_iter()
                .map(|(name, kind)| json!({ "name": name, "type": kind }))
                .collect(),
        )),
    }
}

/// QEMU's error in an HMP answer: `Error: …` or `unknown command: '…'`.
fn error_in(text: &str) -> Option<QmpError> {
    let first = text.lines().next().unwrap_or_default().trim();
    if let Some(desc) = first.strip_prefix("Error: ") {
        return Some(QmpError::Qemu {
            class: "GenericError".to_string(),
            desc: desc.to_string(),
        });
    }
    first
        .starts_with("unknown command:")
        .then(|| QmpError::Qemu {
            class: "CommandNotFound".to_string(),
            desc: first.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qmp::types::{BlockInfo, StatusInfo};

    fn version() -> QemuVersion {
        QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
            package: String::new(),
        }
    }

    fn line_of(command: &str, arguments: Option<Value>) -> String {
        match translate(command, arguments.as_ref(), &version()).unwrap() {
            Translation::Line { line, .. } => line,
            other => panic!("{command} answered locally: {other:?}"),
        }
    }

    #[test]
    fn queries_and_controls_become_hmp_lines() {
        assert_eq!(line_of("query-status", None), "info status");
        assert_eq!(line_of("query-block", None), "info block -v");
        assert_eq!(
            line_of(
                "qom-get",
                Some(json!({"path": "/machine", "property": "type"}))
            ),
            "qom-get /machine type"
        );
        assert_eq!(line_of("stop", None), "stop");
        assert_eq!(
            line_of("qom-list", Some(json!({"path": "/machine/peripheral"}))),
            "qom-list /machine/peripheral"
        );
        assert_eq!(
            line_of("eject", Some(json!({"device": "cd0", "force": true}))),
            "eject -f cd0"
        );
        assert_eq!(
            line_of("balloon", Some(json!({"value": 64 * 1024 * 1024}))),
            "balloon 64"
        );
        assert!(matches!(
            translate("quit", None, &version()),
            Ok(Translation::Line { quits: true, .. })
        ));
    }

    #[test]
    fn commands_without_hmp_are_unavailable_and_unsafe_lines_refused() {
        let error = translate("query-migrate", None, &version()).unwrap_err();
        assert!(error.is_unavailable(), "{error}");
        assert!(error.to_string().contains("not available over HMP"));
        let injected = translate(
            "human-monitor-command",
            Some(&json!({"command-line": "info status\nquit"})),
            &version(),
        );
        assert!(injected.is_err());
        let spaced = translate(
            "qom-get",
            Some(&json!({"path": "/machine quit", "property": "type"})),
            &version(),
        );
        assert!(spaced.is_err());
    }

    #[test]
    fn query_commands_lists_what_works_and_nothing_else() {
        let Translation::Local(list) = translate("query-commands", None, &version()).unwrap()
        else {
            panic!("query-commands is answered locally");
        };
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert!(names.contains(&"human-monitor-command"));
        assert!(!names.contains(&"snapshot-save"));
        for name in names {
            let arguments =
                json!({"path": "/machine", "property": "type", "value": 1, "device": "d"});
            assert!(
                translate(name, Some(&arguments), &version()).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn replies_decode_as_qmp_types_and_errors_keep_qemus_words() {
        let status: StatusInfo = serde_json::from_value(
            reply("query-status", Reading::Status, "VM status: paused\n").unwrap(),
        )
        .unwrap();
        assert_eq!(status.status, "paused");
        let blocks: Vec<BlockInfo> = serde_json::from_value(
            reply(
                "query-block",
                Reading::Block,
                "cd0: [not inserted]\n    Removable device: not locked, tray open\n",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(blocks[0].tray_open, Some(true));
        let error = reply(
            "human-monitor-command",
            Reading::Nothing,
            "Error: Snapshot 'missing' does not exist in one or more devices\n",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Snapshot 'missing' does not exist in one or more devices (GenericError)"
        );
        let balloon = reply(
            "query-balloon",
            Reading::Balloon,
            "Error: No balloon device has been activated",
        )
        .unwrap_err();
        assert_eq!(balloon.qemu_class(), Some("DeviceNotActive"));
        let unknown = reply("query-kvm", Reading::Kvm, "unknown command: 'info kvm'").unwrap_err();
        assert_eq!(unknown.qemu_class(), Some("CommandNotFound"));
        assert_eq!(
            reply("human-monitor-command", Reading::Text, "Error: x\n").unwrap(),
            json!("Error: x\n"),
            "the passthrough returns the text as QMP's human-monitor-command does"
        );
        assert!(matches!(
            reply("query-status", Reading::Status, "garbage"),
            Err(QmpError::Protocol { .. })
        ));
    }
}
