//! Other hosts over SSH: `ssh://[user@]host[:port]/path` targets, through the system's
//! OpenSSH client.
//!
//! One SSH connection per host (an OpenSSH ControlMaster in a private temp dir) carries every
//! VM on that host: each QMP socket is forwarded by OpenSSH itself (`ssh -O forward -L
//! local.sock:remote.sock`) to a socket in that dir, which the QMP client opens like any unix
//! socket; remote commands (discovery, `/proc` reads) run over the same connection. Nothing
//! but OpenSSH's `sshd` and a POSIX shell is needed on the remote host.
//!
//! This module owns the `ssh` processes and the private dir; it knows nothing of QMP. Every
//! `ssh` runs with `BatchMode=yes` (never a prompt), keepalives, and a timeout, never blocks
//! the async runtime, and its stderr becomes one [`SshError`] line. [`Cleanup`] ends the
//! masters and removes the dir when the program exits; a master left behind by a killed
//! program exits on its own [`PERSIST`] after its last channel closes.

mod error;
mod hub;
mod process;

pub use error::{SshError, classify};
pub use hub::{Cleanup, diagnose_socket, forward, run, shutdown};
pub use process::{RemoteOutput, shell_quote};

use std::fmt;
use std::time::Duration;

/// The environment variable naming the ssh command to run (split at spaces), `ssh` by
/// default: e.g. `ssh -F ~/.ssh/qemu-dash.conf`.
pub const PROGRAM_VAR: &str = "QEMU_DASH_SSH";

/// How long a master stays after its last channel closed (bounds what a killed qemu-dash
/// leaves behind).
pub const PERSIST: Duration = Duration::from_secs(30);

/// How long opening a connection to a host may take (TCP, key exchange, authentication).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// A host as reached by ssh: the user, host name or address, and port of an `ssh://` URL
/// (the user and port default to what ssh and its config say).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SshHost {
    /// The login name, if given.
    pub user: Option<String>,
    /// Host name or IP address, without brackets.
    pub host: String,
    /// The port, if given.
    pub port: Option<u16>,
}

impl fmt::Display for SshHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Characters a user or host name may not hold: they would be options or syntax to ssh.
fn bad_name(name: &str) -> bool {
    name.starts_with('-')
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/@'\"\\`$;&|<>()".contains(c))
}

/// Parses `ssh://[user@]host[:port]/path` (an IPv6 address in brackets). The path is taken
/// literally and must be absolute. Errors say what is wrong, for the caller's message.
pub fn parse_url(input: &str) -> Result<(SshHost, String), &'static str> {
    let rest = input
        .strip_prefix("ssh://")
        .ok_or("an ssh target starts with ssh://")?;
    let slash = rest
        .find('/')
        .ok_or("the path of the socket on the remote host is missing (ssh://HOST/PATH)")?;
    let (authority, path) = rest.split_at(slash);
    if path.len() < 2 {
        return Err("the path of the socket on the remote host is missing (ssh://HOST/PATH)");
    }
    if path.chars().any(char::is_control) {
        return Err("the path holds a control character");
    }
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, authority),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address needs a closing ']'")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("unexpected text after the ']'")?,
                ),
            ),
        }
    } else {
        match host_port.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("an IPv6 address needs brackets: ssh://[ADDRESS]:PORT/PATH");
            }
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty");
    }
    if bad_name(host)
        || (host.contains(':')
            && !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'))
    {
        return Err("the host name holds characters ssh would misread");
    }
    let user = match user {
        Some("") => return Err("the user name before '@' is empty"),
        Some(user) if bad_name(user) => {
            return Err("the user name holds characters ssh would misread");
        }
        other => other.map(str::to_string),
    };
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or("the port is not a number from 1 to 65535")
        })
        .transpose()?;
    Ok((
        SshHost {
            user,
            host: host.to_string(),
            port,
        },
        path.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(user: Option<&str>, host: &str, port: Option<u16>) -> SshHost {
        SshHost {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn parses_urls() {
        assert_eq!(
            parse_url("ssh://h/run/vm.qmp"),
            Ok((host(None, "h", None), "/run/vm.qmp".to_string()))
        );
        assert_eq!(
            parse_url("ssh://me@h.example:2222/a b/vm.qmp"),
            Ok((
                host(Some("me"), "h.example", Some(2222)),
                "/a b/vm.qmp".to_string()
            ))
        );
        assert_eq!(
            parse_url("ssh://[::1]:22/x"),
            Ok((host(None, "::1", Some(22)), "/x".to_string()))
        );
        assert_eq!(
            parse_url("ssh://[fe80::1]/x"),
            Ok((host(None, "fe80::1", None), "/x".to_string()))
        );
        for bad in [
            "ssh://h",
            "ssh://h/",
            "ssh:///x",
            "ssh://-oProxyCommand=x/y",
            "ssh://@h/x",
            "ssh://-l@h/x",
            "ssh://h:0/x",
            "ssh://h:99999/x",
            "ssh://::1/x",
            "ssh://[::1/x",
            "ssh://h;x/y",
            "ssh://[::1;x]/y",
            "ssh://h/x\ny",
            "tcp:h:1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?} is refused");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_what_parses_round_trips(
            text in "ssh://\\PC{0,30}",
        ) {
            if let Ok((host, path)) = parse_url(&text) {
                let again = format!("ssh://{host}{path}");
                proptest::prop_assert_eq!(parse_url(&again), Ok((host.clone(), path)));
                proptest::prop_assert!(!host.host.starts_with('-'));
            }
        }
    }

    #[test]
    fn display_is_the_url_authority() {
        for text in ["h", "me@h:2222", "[::1]:22", "u@[fe80::1]"] {
            let (parsed, _) = parse_url(&format!("ssh://{text}/x")).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
    }
}
