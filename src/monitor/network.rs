//! NICs, netdevs and user-mode networking: parses `info network` and `info usernet`, and
//! validates host-forward rules and netdev ids before they are put into an HMP command line.
//!
//! Nothing typed by the user reaches `hostfwd_add`/`hostfwd_remove` as typed: a rule is parsed
//! into [`HostForward`] and written back from its parts, so only digits, dots, colons, a dash
//! and `tcp`/`udp` can appear, and a netdev id must pass [`valid_id`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// How a rule is written, for error messages and prompts.
pub const RULE_SYNTAX: &str =
    "[tcp|udp]:[host address]:host port-[guest address]:guest port, e.g. tcp::2222-:22";

/// A host forward rule for user-mode networking (`hostfwd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostForward {
    /// UDP instead of TCP.
    pub udp: bool,
    /// The host address to listen on (any when `None`).
    pub host_addr: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
    /// The guest address (the first DHCP address, 10.0.2.15, when `None`).
    pub guest_addr: Option<Ipv4Addr>,
    /// The guest port.
    pub guest_port: u16,
}

/// The part of a rule that `hostfwd_remove` names: protocol, host address, host port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardKey {
    /// UDP instead of TCP.
    pub udp: bool,
    /// The host address (any when `None`).
    pub host_addr: Option<Ipv4Addr>,
    /// The host port.
    pub host_port: u16,
}

/// Why a rule or id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The rule does not have the shape QEMU expects.
    #[error("malformed forward rule '{rule}': {reason}; write {RULE_SYNTAX}")]
    Malformed {
        /// The rule as typed.
        rule: String,
        /// What is wrong.
        reason: String,
    },
    /// A netdev id QEMU would not accept (or that could smuggle text into HMP).
    #[error(
        "invalid netdev id '{0}': ids start with a letter and hold only letters, digits, '-', '.', '_'"
    )]
    BadId(String),
}

fn protocol(word: &str) -> Option<bool> {
    match word.to_ascii_lowercase().as_str() {
        "" | "tcp" => Some(false),
        "udp" => Some(true),
        _ => None,
    }
}

fn address(text: &str, which: &str) -> Result<Option<Ipv4Addr>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<Ipv4Addr>()
        .map(Some)
        .map_err(|_| format!("the {which} address '{text}' is not an IPv4 address"))
}

fn port(text: &str, which: &str) -> Result<u16, String> {
    if text.is_empty() {
        return Err(format!("the {which} port is missing"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the {which} port '{text}' is not a number"));
    }
    match text.parse::<u32>() {
        Ok(value @ 1..=65535) => Ok(value as u16),
        _ => Err(format!(
            "the {which} port {text} is not between 1 and 65535"
        )),
    }
}

fn opt_addr(addr: Option<Ipv4Addr>) -> String {
    addr.map(|a| a.to_string()).unwrap_or_default()
}

impl FromStr for HostForward {
    type Err = RuleError;

    fn from_str(rule: &str) -> Result<HostForward, RuleError> {
        let malformed = |reason: String| RuleError::Malformed {
            rule: rule.to_string(),
            reason,
        };
        let text = rule.trim();
        if text.is_empty() {
            return Err(malformed("it is empty".to_string()));
        }
        let Some((host, guest)) = text.split_once('-') else {
            return Err(malformed(
                "there is no '-' between the host and the guest side".to_string(),
            ));
        };
        let host_parts: Vec<&str> = host.split(':').collect();
        let [proto, host_addr, host_port] = host_parts[..] else {
            return Err(malformed(
                "the host side needs two ':' (protocol:address:port; leave parts empty, not out)"
                    .to_string(),
            ));
        };
        let guest_parts: Vec<&str> = guest.split(':').collect();
        let [guest_addr, guest_port] = guest_parts[..] else {
            return Err(malformed(
                "the guest side needs one ':' (address:port; the address may be empty)".to_string(),
            ));
        };
        let udp = protocol(proto)
            .ok_or_else(|| malformed(format!("the protocol '{proto}' is neither tcp nor udp")))?;
        Ok(HostForward {
            udp,
            host_addr: address(host_addr, "host").map_err(malformed)?,
            host_port: port(host_port, "host").map_err(malformed)?,
            guest_addr: address(guest_addr, "guest").map_err(malformed)?,
            guest_port: port(guest_port, "guest").map_err(malformed)?,
        })
    }
}

impl fmt::Display for HostForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}:{}",
            self.key(),
            opt_addr(self.guest_addr),
            self.guest_port
        )
    }
}

impl HostForward {
    /// The part `hostfwd_remove` needs.
    pub fn key(&self) -> ForwardKey {
        ForwardKey {
            udp: self.udp,
            host_addr: self.host_addr,
            host_port: self.host_port,
        }
    }
}

impl fmt::Display for ForwardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            if self.udp { "udp" } else { "tcp" },
            opt_addr(self.host_addr),
            self.host_port
        )
    }
}

/// Checks an id (netdev, device) against QEMU's rules: a letter, then letters, digits, `-`,
/// `.`, `_`. Such an id cannot carry a space or anything else HMP would parse.
pub fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The HMP command line that adds `rule` on `netdev`.
pub fn hostfwd_add_line(netdev: &str, rule: &HostForward) -> Result<String, RuleError> {
    if !valid_id(netdev) {
        return Err(RuleError::BadId(netdev.to_string()));
    }
    Ok(format!("hostfwd_add {netdev} {rule}"))
}

/// The HMP command line that removes the forward `key` from `netdev`.
pub fn hostfwd_remove_line(netdev: &str, key: &ForwardKey) -> Result<String, RuleError> {
    if !valid_id(netdev) {
        return Err(RuleError::BadId(netdev.to_string()));
    }
    Ok(format!("hostfwd_remove {netdev} {key}"))
}

/// One line of `info network`: a NIC, a netdev, or a hub port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetEntry {
    /// The name (the NIC's id or the netdev's id).
    pub name: String,
    /// Listed as the peer of the entry above it.
    pub is_peer: bool,
    /// `key=value` pairs in order (`type`, `model`, `macaddr`, `net`…).
    pub fields: Vec<(String, String)>,
}

impl NetEntry {
    /// A field's value.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `type` field ("nic", "user", "tap"…).
    pub fn kind(&self) -> &str {
        self.field("type").unwrap_or("?")
    }
}

/// A NIC and the netdev behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The NIC.
    pub nic: NetEntry,
    /// Its netdev, if it has one.
    pub netdev: Option<NetEntry>,
}

/// One established connection or forward from `info usernet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernetEntry {
    /// The user-mode netdev it belongs to.
    pub netdev: String,
    /// "TCP" or "UDP".
    pub protocol: String,
    /// "HOST_FORWARD", "ESTABLISHED", "236 sec"…
    pub state: String,
    /// The source address ("*" for any).
    pub source: String,
    /// The source port.
    pub source_port: String,
    /// The destination address.
    pub dest: String,
    /// The destination port.
    pub dest_port: String,
}

impl UsernetEntry {
    /// For a host forward, the key that removes it.
    pub fn forward_key(&self) -> Option<ForwardKey> {
        if self.state != "HOST_FORWARD" {
            return None;
        }
        let udp = protocol(&self.protocol)?;
        let host_addr = match self.source.as_str() {
            "*" | "0.0.0.0" | "" => None,
            text => Some(text.parse().ok()?),
        };
        Some(ForwardKey {
            udp,
            host_addr,
            host_port: self.source_port.parse().ok()?,
        })
    }
}

/// What the network tab shows: NICs, netdevs and user-mode networking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    /// Every line of `info network`, parsed.
    pub entries: Vec<NetEntry>,
    /// The connections and forwards of user-mode networking.
    pub usernet: Vec<UsernetEntry>,
    /// `info usernet` as QEMU printed it.
    pub usernet_text: String,
}

impl NetworkInfo {
    /// NICs with their netdevs.
    pub fn nics(&self) -> Vec<Nic> {
        let mut nics = Vec::new();
        for (at, entry) in self.entries.iter().enumerate() {
            if entry.is_peer || entry.kind() != "nic" {
                continue;
            }
            let netdev = self.entries.get(at + 1).filter(|e| e.is_peer).cloned();
            nics.push(Nic {
                nic: entry.clone(),
                netdev,
            });
        }
        nics
    }

    /// Netdevs that are not NICs (with or without a NIC in front).
    pub fn netdevs(&self) -> Vec<&NetEntry> {
        self.entries.iter().filter(|e| e.kind() != "nic").collect()
    }

    /// The ids of user-mode netdevs (the ones host forwards can go on).
    pub fn user_netdevs(&self) -> Vec<String> {
        self.netdevs()
            .into_iter()
            .filter(|e| e.kind() == "user")
            .map(|e| e.name.clone())
            .collect()
    }

    /// The host forwards, in the order `info usernet` lists them.
    pub fn forwards(&self) -> Vec<&UsernetEntry> {
        self.usernet
            .iter()
            .filter(|e| e.forward_key().is_some())
            .collect()
    }
}

/// Parses `info network`.
pub fn parse_info_network(text: &str) -> Vec<NetEntry> {
    let mut entries = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        let (is_peer, rest) = match trimmed.strip_prefix('\\') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, trimmed),
        };
        let Some((name, fields)) = rest.split_once(": ") else {
            continue;
        };
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        let fields = fields
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        entries.push(NetEntry {
            name: name.to_string(),
            is_peer,
            fields,
        });
    }
    entries
}

/// Parses `info usernet` (the `Hub N (id):` headings name the netdev of the rows below).
pub fn parse_info_usernet(text: &str) -> Vec<UsernetEntry> {
    let mut netdev = String::new();
    let mut entries = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r').trim();
        if let Some(heading) = line.strip_suffix("):") {
            if let Some((_, name)) = heading.rsplit_once(" (") {
                netdev = name.to_string();
            }
            continue;
        }
        let Some(open) = line.find('[') else {
            continue;
        };
        let Some(close) = line[open..].find(']').map(|c| open + c) else {
            continue;
        };
        let protocol = line[..open].to_string();
        if protocol.starts_with("Protocol") {
            continue;
        }
        let state = line[open + 1..close].to_string();
        let columns: Vec<&str> = line[close + 1..].split_whitespace().collect();
        // FD, source address, source port, destination address, destination port, queues.
        if columns.len() < 5 {
            continue;
        }
        entries.push(UsernetEntry {
            netdev: netdev.clone(),
            protocol,
            state,
            source: columns[1].to_string(),
            source_port: columns[2].to_string(),
            dest: columns[3].to_string(),
            dest_port: columns[4].to_string(),
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_print_canonically() {
        let rule: HostForward = "tcp::2222-:22".parse().unwrap();
        assert_eq!(rule.to_string(), "tcp::2222-:22");
        assert_eq!(rule.key().to_string(), "tcp::2222");
        let rule: HostForward = "UDP:127.0.0.1:5353-10.0.2.15:53".parse().unwrap();
        assert_eq!(rule.to_string(), "udp:127.0.0.1:5353-10.0.2.15:53");
        let rule: HostForward = " :0.0.0.0:8080-:80 ".parse().unwrap();
        assert_eq!(rule.to_string(), "tcp:0.0.0.0:8080-:80");
    }

    #[test]
    fn malformed_rules_say_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("2222:22", "no '-'"),
            ("tcp:2222-:22", "two ':'"),
            ("tcp::2222-22", "one ':'"),
            ("sctp::2222-:22", "neither tcp nor udp"),
            ("tcp::70000-:22", "between 1 and 65535"),
            ("tcp::0-:22", "between 1 and 65535"),
            ("tcp::22x-:22", "not a number"),
            ("tcp:host:2222-:22", "not an IPv4 address"),
            ("tcp::2222-:", "guest port is missing"),
            ("tcp::2222-:22 ; quit", "not a number"),
            ("tcp::2222-:22\nquit", "not a number"),
        ];
        for (rule, expected) in cases {
            let error = rule.parse::<HostForward>().unwrap_err().to_string();
            assert!(error.contains(expected), "{rule:?}: {error}");
            assert!(error.contains("tcp::2222-:22"), "shows the syntax: {error}");
        }
    }

    #[test]
    fn command_lines_refuse_bad_ids() {
        let rule: HostForward = "tcp::2222-:22".parse().unwrap();
        assert_eq!(
            hostfwd_add_line("n0", &rule).unwrap(),
            "hostfwd_add n0 tcp::2222-:22"
        );
        assert_eq!(
            hostfwd_remove_line("user.0", &rule.key()).unwrap(),
            "hostfwd_remove user.0 tcp::2222"
        );
        for bad in ["", "0n", "n0 quit", "n0;x", "n\u{e9}"] {
            assert!(hostfwd_add_line(bad, &rule).is_err(), "{bad:?}");
        }
    }

    const INFO_NETWORK: &str = "nic0: index=0,type=nic,model=e1000,macaddr=52:54:00:12:34:56\r\n \\ n0: index=0,type=user,net=10.0.2.0,restrict=off\r\nn1: index=0,type=user,net=10.0.3.0,restrict=on\r\n";

    #[test]
    fn info_network_gives_nics_and_netdevs() {
        let info = NetworkInfo {
            entries: parse_info_network(INFO_NETWORK),
            ..Default::default()
        };
        let nics = info.nics();
        assert_eq!(nics.len(), 1);
        assert_eq!(nics[0].nic.name, "nic0");
        assert_eq!(nics[0].nic.field("macaddr"), Some("52:54:00:12:34:56"));
        assert_eq!(nics[0].netdev.as_ref().unwrap().name, "n0");
        assert_eq!(info.user_netdevs(), vec!["n0", "n1"]);
    }

    const INFO_USERNET: &str = "Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n  TCP[HOST_FORWARD]  12               *  2223       10.0.2.15    22     0     0\r\n  UDP[HOST_FORWARD]   8       127.0.0.1  5353       10.0.2.15    53     0     0\r\n  UDP[236 sec]        9       10.0.2.15  5000     10.0.2.3    53     0     0\r\n";

    #[test]
    fn info_usernet_gives_forwards() {
        let entries = parse_info_usernet(INFO_USERNET);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].netdev, "n0");
        assert_eq!(entries[2].state, "236 sec");
        let keys: Vec<String> = entries
            .iter()
            .filter_map(|e| e.forward_key())
            .map(|k| k.to_string())
            .collect();
        assert_eq!(keys, vec!["tcp::2223", "udp:127.0.0.1:5353"]);
    }
}
