//! The monitor console's commands: an HMP line (sent through `human-monitor-command`) or a
//! raw QMP command (`{"execute": …, "arguments": …}`, or a bare command name in QMP mode),
//! what read-only mode lets through, and how replies are turned into text. A reply is decoded
//! within [`REPLY_BUDGET`] straight from the text QEMU sent, so a huge one is cut (and says
//! so) instead of filling memory.

use super::MonitorError;
use crate::qmp::{Client, RawJson, capped};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How long a console command may take (HMP `savevm` and friends block the monitor).
pub const CONSOLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Memory a console reply may take once decoded; the rest is cut, with a note saying so.
pub const REPLY_BUDGET: usize = 1024 * 1024;

/// Which language the console line is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// HMP: `info status`, `device_add usb-tablet,id=t0`…
    #[default]
    Hmp,
    /// QMP: `{"execute": "query-status"}` or `query-status`.
    Qmp,
}

impl Mode {
    /// The other mode.
    pub fn toggled(self) -> Mode {
        match self {
            Mode::Hmp => Mode::Qmp,
            Mode::Qmp => Mode::Hmp,
        }
    }
}

/// A parsed console command.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleCommand {
    /// An HMP command line.
    Hmp(String),
    /// A QMP command.
    Qmp {
        /// The command name.
        execute: String,
        /// Its arguments.
        arguments: Option<Value>,
    },
}

fn parse_json_command(text: &str) -> Result<ConsoleCommand, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut object) = value else {
        return Err(
            "a QMP command is a JSON object: {\"execute\": \"NAME\", \"arguments\": {…}}"
                .to_string(),
        );
    };
    let execute = match object.remove("execute") {
        Some(Value::String(name)) if !name.is_empty() => name,
        Some(_) => return Err("\"execute\" must be a command name (a string)".to_string()),
        None => return Err("the object has no \"execute\" member".to_string()),
    };
    let arguments = match object.remove("arguments") {
        None | Some(Value::Null) => None,
        Some(args @ Value::Object(_)) => Some(args),
        Some(_) => return Err("\"arguments\" must be an object".to_string()),
    };
    // The client numbers commands itself; an id typed by the user is dropped.
    object.remove("id");
    if let Some(key) = object.keys().next() {
        return Err(format!(
            "unknown member \"{key}\" (a QMP command has \"execute\" and \"arguments\")"
        ));
    }
    Ok(ConsoleCommand::Qmp { execute, arguments })
}

impl ConsoleCommand {
    /// Parses a console line. A line starting with `{` is raw QMP JSON in either mode; in
    /// QMP mode a bare `NAME [JSON-ARGUMENTS]` works too.
    pub fn parse(line: &str, mode: Mode) -> Result<ConsoleCommand, String> {
        let text = line.trim();
        if text.is_empty() {
            return Err("nothing to run".to_string());
        }
        if text.starts_with('{') {
            return parse_json_command(text);
        }
        match mode {
            Mode::Hmp => Ok(ConsoleCommand::Hmp(text.to_string())),
            Mode::Qmp => {
                let (name, rest) = text
                    .split_once(char::is_whitespace)
                    .map_or((text, ""), |(n, r)| (n, r.trim()));
                if !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                {
                    return Err(format!(
                        "'{name}' is not a QMP command name; type NAME [ARGUMENTS-AS-JSON] or {{\"execute\": …}}"
                    ));
                }
                let arguments = if rest.is_empty() {
                    None
                } else {
                    match serde_json::from_str::<Value>(rest) {
                        Ok(args @ Value::Object(_)) => Some(args),
                        Ok(_) => return Err("the arguments must be a JSON object".to_string()),
                        Err(e) => return Err(format!("the arguments are not valid JSON: {e}")),
                    }
                };
                Ok(ConsoleCommand::Qmp {
                    execute: name.to_string(),
                    arguments,
                })
            }
        }
    }

    /// True for what read-only mode sends: HMP `info …` and QMP `query-…`.
    pub fn is_query(&self) -> bool {
        match self {
            ConsoleCommand::Hmp(line) => line.split_whitespace().next() == Some("info"),
            ConsoleCommand::Qmp { execute, .. } => execute.starts_with("query-"),
        }
    }

    /// The line kept in the history: HMP as typed, QMP as compact JSON.
    pub fn history_line(&self) -> String {
        match self {
            ConsoleCommand::Hmp(line) => line.clone(),
            ConsoleCommand::Qmp { execute, arguments } => {
                let mut object = Map::new();
                object.insert("execute".into(), Value::String(execute.clone()));
                if let Some(arguments) = arguments {
                    object.insert("arguments".into(), arguments.clone());
                }
                Value::Object(object).to_string()
            }
        }
    }

    /// Runs the command; the reply as text, or the error as text (QEMU's verbatim).
    pub async fn run(&self, client: &Client) -> Result<String, MonitorError> {
        match self {
            ConsoleCommand::Hmp(line) => client
                .execute_raw(
                    "human-monitor-command",
                    Some(json!({ "command-line": line })),
                    CONSOLE_TIMEOUT,
                )
                .await
                .map(|reply| reply_text(&reply, hmp_text))
                .map_err(MonitorError::from),
            ConsoleCommand::Qmp { execute, arguments } => client
                .execute_raw(execute, arguments.clone(), CONSOLE_TIMEOUT)
                .await
                .map(|reply| {
                    reply_text(&reply, |value| {
                        let mut object = Map::new();
                        object.insert("return".to_string(), value.clone());
                        pretty(&Value::Object(object))
                    })
                })
                .map_err(MonitorError::from),
        }
    }
}

/// A reply as text, shown by `show`; a reply over [`REPLY_BUDGET`] is cut, with a last line
/// saying how much was left out.
pub fn reply_text(reply: &RawJson, show: impl Fn(&Value) -> String) -> String {
    let capped = match capped::decode(reply.get(), REPLY_BUDGET) {
        Ok(capped) => capped,
        Err(error) => return format!("cannot decode the reply: {error}"),
    };
    let mut text = show(&capped.value);
    if capped.cut_bytes > 0 {
        text.push_str(&format!(
            "\n… {} reply, {} of it not kept",
            crate::format::bytes(reply.get().len() as u64),
            crate::format::bytes(capped.cut_bytes)
        ));
    }
    text
}

/// HMP's output string without carriage returns.
pub fn hmp_text(reply: &Value) -> String {
    reply.as_str().unwrap_or_default().replace("\r\n", "\n")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// An error reply as QEMU sent it (`{"error": {"class": …, "desc": …}}`), or the client's
/// error (a timeout, a lost connection) in words.
pub fn error_text(error: &MonitorError) -> String {
    match error {
        MonitorError::Qemu { class, desc } | MonitorError::TrayLocked { class, desc } => {
            pretty(&json!({ "error": { "class": class, "desc": desc } }))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmp_lines_and_qmp_json_parse() {
        assert_eq!(
            ConsoleCommand::parse(" info status ", Mode::Hmp).unwrap(),
            ConsoleCommand::Hmp("info status".into())
        );
        let raw = ConsoleCommand::parse(
            r#"{"execute": "device_del", "arguments": {"id": "t0"}, "id": 7}"#,
            Mode::Hmp,
        )
        .unwrap();
        assert_eq!(
            raw,
            ConsoleCommand::Qmp {
                execute: "device_del".into(),
                arguments: Some(json!({"id": "t0"}))
            }
        );
        assert_eq!(
            raw.history_line(),
            r#"{"arguments":{"id":"t0"},"execute":"device_del"}"#
        );
        let bare = ConsoleCommand::parse("query-block", Mode::Qmp).unwrap();
        assert_eq!(bare.history_line(), r#"{"execute":"query-block"}"#);
        let with_args =
            ConsoleCommand::parse(r#"qom-list {"path": "/machine"}"#, Mode::Qmp).unwrap();
        assert!(matches!(
            with_args,
            ConsoleCommand::Qmp {
                arguments: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn bad_lines_are_explained() {
        for (line, mode, expected) in [
            ("", Mode::Hmp, "nothing to run"),
            ("{\"execute\": ", Mode::Hmp, "not valid JSON"),
            ("{\"arguments\": {}}", Mode::Qmp, "no \"execute\""),
            ("{\"execute\": 1}", Mode::Qmp, "must be a command name"),
            (
                "{\"execute\": \"x\", \"arguments\": 1}",
                Mode::Qmp,
                "must be an object",
            ),
            (
                "{\"execute\": \"x\", \"extra\": 1}",
                Mode::Qmp,
                "unknown member",
            ),
            ("info status", Mode::Qmp, "arguments are not valid JSON"),
            ("x;y", Mode::Qmp, "not a QMP command name"),
        ] {
            let error = ConsoleCommand::parse(line, mode).unwrap_err();
            assert!(error.contains(expected), "{line:?}: {error}");
        }
    }

    #[test]
    fn read_only_lets_only_queries_through() {
        let allowed = |line: &str, mode| ConsoleCommand::parse(line, mode).unwrap().is_query();
        assert!(allowed("info status", Mode::Hmp));
        assert!(allowed("info   usernet", Mode::Hmp));
        assert!(!allowed("information", Mode::Hmp));
        assert!(!allowed("quit", Mode::Hmp));
        assert!(!allowed("hostfwd_add tcp::1-:2", Mode::Hmp));
        assert!(allowed("query-status", Mode::Qmp));
        assert!(allowed(r#"{"execute": "query-migrate"}"#, Mode::Hmp));
        assert!(!allowed("stop", Mode::Qmp));
        assert!(!allowed(
            r#"{"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}"#,
            Mode::Qmp
        ));
    }

    #[test]
    fn a_huge_reply_is_cut_and_says_so() {
        let reply = RawJson::new(format!("\"{}\"", "z".repeat(3 << 20)));
        let text = reply_text(&reply, hmp_text);
        assert!(text.len() < 2 * REPLY_BUDGET, "{}", text.len());
        assert!(text.starts_with("zzzz"));
        assert!(
            text.ends_with("… 3.0 MiB reply, 2.0 MiB of it not kept"),
            "{}",
            &text[text.len() - 80..]
        );
        let small = RawJson::new(r#"{"status": "running"}"#.to_string());
        assert_eq!(
            reply_text(&small, |v| v["status"].to_string()),
            "\"running\""
        );
    }

    #[test]
    fn errors_are_shown_as_qemu_sent_them() {
        let error = crate::qmp::QmpError::Qemu {
            class: "CommandNotFound".into(),
            desc: "The command nosuch has not been found".into(),
        };
        let text = error_text(&error.into());
        assert!(text.contains("\"class\": \"CommandNotFound\""), "{text}");
        assert!(text.contains("\"desc\": \"The command nosuch has not been found\""));
        assert_eq!(
            hmp_text(&json!("VM status: running\r\n")),
            "VM status: running\n"
        );
    }
}
