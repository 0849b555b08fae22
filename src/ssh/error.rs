//! What went wrong with ssh, in one line a user can act on: [`classify`] reads OpenSSH's
//! stderr (its wording is stable across versions) and picks the case.

use std::time::Duration;

/// Why a host or a socket on it could not be reached over ssh. Each is one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// The ssh program could not be started.
    #[error(
        "cannot run {program}: {reason} (qemu-dash reaches other hosts with OpenSSH's ssh \
         client: install it, or name it in QEMU_DASH_SSH)"
    )]
    Spawn {
        /// The program.
        program: String,
        /// The system's error.
        reason: String,
    },
    /// `QEMU_DASH_SSH` is set but empty.
    #[error("QEMU_DASH_SSH is empty: unset it, or set it to the ssh command to run")]
    EmptyProgram,
    /// The host did not answer (name unknown, refused, timed out, closed during the handshake).
    #[error("host {host} unreachable: {detail}")]
    Unreachable {
        /// `[user@]host[:port]`.
        host: String,
        /// ssh's words.
        detail: String,
    },
    /// The server refused every key.
    #[error(
        "authentication failed on {host}: {detail} (qemu-dash never asks for a password or \
         passphrase: use a key that ssh-agent holds or ~/.ssh/config names)"
    )]
    AuthFailed {
        /// `[user@]host[:port]`.
        host: String,
        /// ssh's words.
        detail: String,
    },
    /// The server's host key differs from the one in known_hosts.
    #[error(
        "host key of {host} has changed (REMOTE HOST IDENTIFICATION HAS CHANGED): ssh refuses \
         to connect. If the change is expected, remove the old key with `ssh-keygen -R {known_as}`"
    )]
    HostKeyChanged {
        /// `[user@]host[:port]`.
        host: String,
        /// The host's name in known_hosts.
        known_as: String,
    },
    /// The server's host key is not in known_hosts and ssh may not ask.
    #[error(
        "host key of {host} is not known: connect once with ssh to check and accept it (qemu-dash \
         runs ssh with BatchMode=yes, which never asks)"
    )]
    HostKeyUnknown {
        /// `[user@]host[:port]`.
        host: String,
    },
    /// Nothing is at the remote path, or it is not a socket.
    #[error("no socket at {path} on {host}{detail}")]
    NoRemoteSocket {
        /// `[user@]host[:port]`.
        host: String,
        /// The remote path.
        path: String,
        /// More, e.g. " (it is a regular file)"; may be empty.
        detail: String,
    },
    /// The socket is there but the ssh user may not open it.
    #[error(
        "permission denied on {path} on {host}: the ssh user must be able to read and write \
         QEMU's socket"
    )]
    RemotePermission {
        /// `[user@]host[:port]`.
        host: String,
        /// The remote path.
        path: String,
    },
    /// ssh took too long.
    #[error("ssh to {host} gave no answer within {:.0} s", after.as_secs_f64())]
    Timeout {
        /// `[user@]host[:port]`.
        host: String,
        /// The limit.
        after: Duration,
    },
    /// Anything else, with ssh's last words.
    #[error("ssh to {host} failed: {detail}")]
    Failed {
        /// `[user@]host[:port]`.
        host: String,
        /// ssh's words.
        detail: String,
    },
    /// The private dir for the sockets could not be made.
    #[error("cannot make a private directory for ssh's sockets: {0}")]
    Dir(String),
}

/// The last line of `stderr` that says something, joined into one line.
fn last_words(stderr: &str) -> String {
    let line = stderr
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .unwrap_or("ssh exited without saying why");
    line.strip_prefix("ssh: ").unwrap_or(line).to_string()
}

/// Turns ssh's stderr (of a run that exited 255) into the error it describes. `host` is the
/// `[user@]host[:port]` the user wrote.
pub fn classify(stderr: &str, host: &str) -> SshError {
    let host = host.to_string();
    let has = |needle: &str| stderr.contains(needle);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || (has("Host key for ") && has("has changed"))
    {
        let known_as = stderr
            .lines()
            .find_map(|line| {
                let line = line.trim();
                line.strip_prefix("Host key for ")
                    .and_then(|rest| rest.split_once(" has changed"))
                    .map(|(name, _)| name.to_string())
            })
            .unwrap_or_else(|| host.clone());
        let known_as = if known_as.contains(['[', ']', ' ']) {
            super::shell_quote(&known_as)
        } else {
            known_as
        };
        return SshError::HostKeyChanged { host, known_as };
    }
    if has("Host key verification failed") || has("host key is known for") {
        return SshError::HostKeyUnknown { host };
    }
    if has("Permission denied (") || has("Too many authentication failures") {
        return SshError::AuthFailed {
            host,
            detail: last_words(stderr),
        };
    }
    let unreachable = [
        "Could not resolve hostname",
        "connect to host",
        "Connection refused",
        "Connection timed out",
        "Operation timed out",
        "No route to host",
        "Network is unreachable",
        "kex_exchange_identification",
        "Connection closed by",
        "Connection reset by",
        "banner exchange",
    ];
    if unreachable.iter().any(|needle| has(needle)) {
        let detail = last_words(stderr);
        // "connect to host H port P: Connection refused" says the host twice.
        let detail = match detail.rsplit_once(": ") {
            Some((_, why)) if detail.starts_with("connect to host") => why.to_string(),
            _ => detail,
        };
        return SshError::Unreachable { host, detail };
    }
    SshError::Failed {
        host,
        detail: last_words(stderr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Verbatim stderr of OpenSSH 9.2.
    const CHANGED: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:t6VrJcs+IxJbK5kDxzuMGAmAJnEoZqd++vaQjAwoHq0.
Please contact your system administrator.
Add correct host key in /home/u/.ssh/known_hosts to get rid of this message.
Offending ED25519 key in /home/u/.ssh/known_hosts:1
  remove with:
  ssh-keygen -f \"/home/u/.ssh/known_hosts\" -R \"[127.0.0.1]:22723\"
Host key for [127.0.0.1]:22723 has changed and you have requested strict checking.
Host key verification failed.
";

    #[test]
    fn classifies_what_ssh_says() {
        let h = "127.0.0.1:22723";
        let changed = classify(CHANGED, h);
        assert_eq!(
            changed,
            SshError::HostKeyChanged {
                host: h.into(),
                known_as: "'[127.0.0.1]:22723'".into()
            }
        );
        assert!(
            changed
                .to_string()
                .contains("ssh-keygen -R '[127.0.0.1]:22723'")
        );
        assert!(matches!(
            classify(
                "No ED25519 host key is known for [127.0.0.1]:22723 and you have requested strict checking.\nHost key verification failed.\n",
                h
            ),
            SshError::HostKeyUnknown { .. }
        ));
        assert_eq!(
            classify("root@127.0.0.1: Permission denied (publickey).\n", h).to_string(),
            "authentication failed on 127.0.0.1:22723: root@127.0.0.1: Permission denied \
             (publickey). (qemu-dash never asks for a password or passphrase: use a key that \
             ssh-agent holds or ~/.ssh/config names)"
        );
        assert_eq!(
            classify(
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n",
                "127.0.0.1:1"
            )
            .to_string(),
            "host 127.0.0.1:1 unreachable: Connection refused"
        );
        assert_eq!(
            classify(
                "ssh: Could not resolve hostname nowhere.invalid: Name or service not known\n",
                "nowhere.invalid"
            )
            .to_string(),
            "host nowhere.invalid unreachable: Could not resolve hostname nowhere.invalid: Name or service not known"
        );
        assert_eq!(
            classify("something new\n\n", h).to_string(),
            "ssh to 127.0.0.1:22723 failed: something new"
        );
        assert_eq!(
            classify("", h).to_string(),
            "ssh to 127.0.0.1:22723 failed: ssh exited without saying why"
        );
    }
}
