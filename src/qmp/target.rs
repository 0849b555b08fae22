//! Where a QMP server listens: a unix socket path, a TCP host and port, or a unix socket on
//! another host reached over ssh.
//!
//! Parses the forms users type (`PATH`, `unix:PATH`, `tcp:HOST:PORT`, `tcp:[V6]:PORT`,
//! `ssh://[USER@]HOST[:PORT]/PATH`, `libvirt:DOMAIN`). It does not speak QMP.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

pub use crate::ssh::SshHost;

/// A QMP endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A unix domain socket at this path.
    Unix(PathBuf),
    /// A TCP endpoint; `host` is a name or an IP address (without brackets).
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix socket on another host, reached through the system's ssh client.
    Ssh {
        /// The host (user, name, port).
        host: SshHost,
        /// The socket's absolute path on that host.
        path: String,
    },
    /// A libvirt domain, reached through libvirt's QMP proxy (see the `libvirt` module).
    Libvirt {
        /// The domain's name (or id or UUID).
        domain: String,
    },
}

impl Target {
    /// True when this is TCP to an address that is not loopback (QMP has no authentication).
    pub fn is_remote_tcp(&self) -> bool {
        match self {
            Target::Unix(_) | Target::Ssh { .. } | Target::Libvirt { .. } => false,
            Target::Tcp { host, .. } => match host.parse::<IpAddr>() {
                Ok(ip) => !ip.to_canonical().is_loopback(),
                Err(_) => host != "localhost",
            },
        }
    }

    /// The other host this target is on, for labels (`[user@]host[:port]`); `None` for a
    /// socket on this machine or TCP.
    pub fn ssh_host(&self) -> Option<&SshHost> {
        match self {
            Target::Ssh { host, .. } => Some(host),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Target::Ssh { host, path } => write!(f, "ssh://{host}{path}"),
            Target::Libvirt { domain } => write!(f, "libvirt:{domain}"),
        }
    }
}

/// Why a target string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid target '{input}': {reason} (expected PATH, unix:PATH, tcp:HOST:PORT, \
     ssh://[USER@]HOST[:PORT]/PATH or libvirt:DOMAIN)"
)]
pub struct TargetParseError {
    input: String,
    reason: &'static str,
}

impl FromStr for Target {
    type Err = TargetParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| TargetParseError {
            input: input.to_string(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("it is empty"));
        }
        if let Some(path) = input.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(fail("the socket path is empty"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        if let Some(domain) = input.strip_prefix("libvirt:") {
            if domain.is_empty() {
                return Err(fail("the domain name is empty"));
            }
            return Ok(Target::Libvirt {
                domain: domain.to_string(),
            });
        }
        if input.starts_with("ssh://") {
            let (host, path) = crate::ssh::parse_url(input).map_err(fail)?;
            return Ok(Target::Ssh { host, path });
        }
        let Some(rest) = input.strip_prefix("tcp:") else {
            return Ok(Target::Unix(PathBuf::from(input)));
        };
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| fail("an IPv6 address needs a closing ']'"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| fail("the port is missing"))?;
            (host, port)
        } else {
            rest.rsplit_once(':')
                .ok_or_else(|| fail("the port is missing"))?
        };
        if host.is_empty() {
            return Err(fail("the host is empty"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| fail("the port is not a number from 0 to 65535"))?;
        Ok(Target::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            "/tmp/vm.qmp".parse::<Target>(),
            Ok(Target::Unix("/tmp/vm.qmp".into()))
        );
        assert_eq!(
            "unix:rel/vm.sock".parse::<Target>(),
            Ok(Target::Unix("rel/vm.sock".into()))
        );
        assert_eq!(
            "tcp:localhost:4444".parse::<Target>(),
            Ok(Target::Tcp {
                host: "localhost".into(),
                port: 4444
            })
        );
        assert_eq!(
            "tcp:[::1]:4444".parse::<Target>(),
            Ok(Target::Tcp {
                host: "::1".into(),
                port: 4444
            })
        );
        assert!("tcp:host".parse::<Target>().is_err());
        assert!("tcp:host:99999".parse::<Target>().is_err());
        assert!("tcp:[::1:4".parse::<Target>().is_err());
        assert!("".parse::<Target>().is_err());
        assert_eq!(
            "libvirt:web".parse::<Target>(),
            Ok(Target::Libvirt {
                domain: "web".into()
            })
        );
        assert!("libvirt:".parse::<Target>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "unix:/a/b",
            "tcp:127.0.0.1:1",
            "tcp:[::1]:2",
            "tcp:example.org:3",
            "ssh://h/run/vm.qmp",
            "ssh://me@[::1]:2222/a b.qmp",
            "libvirt:web-1",
        ] {
            let target: Target = text.parse().unwrap();
            assert_eq!(target.to_string(), text);
        }
    }

    #[test]
    fn remote_tcp_is_flagged() {
        let remote: Target = "tcp:192.0.2.1:4444".parse().unwrap();
        let local: Target = "tcp:127.0.0.1:4444".parse().unwrap();
        assert!(remote.is_remote_tcp());
        assert!(!local.is_remote_tcp());
        assert!(!"tcp:localhost:1".parse::<Target>().unwrap().is_remote_tcp());
        let mapped: Target = "tcp:[::ffff:127.0.0.1]:1".parse().unwrap();
        assert!(!mapped.is_remote_tcp(), "IPv4-mapped loopback is local");
        let v6: Target = "tcp:[2001:db8::1]:1".parse().unwrap();
        assert!(v6.is_remote_tcp());
        assert!(!"/x".parse::<Target>().unwrap().is_remote_tcp());
        let ssh: Target = "ssh://h/x".parse().unwrap();
        assert!(!ssh.is_remote_tcp(), "ssh is encrypted and authenticated");
        assert_eq!(
            ssh.ssh_host().map(ToString::to_string).as_deref(),
            Some("h")
        );
    }

    #[test]
    fn ssh_errors_name_the_problem() {
        let error = "ssh://h".parse::<Target>().unwrap_err().to_string();
        assert!(error.contains("path of the socket"), "{error}");
        assert!(error.contains("ssh://[USER@]HOST[:PORT]/PATH"), "{error}");
    }
}
