//! Transport-layer ports.

use std::fmt;
use std::str::FromStr;

/// The protocol of a [`Port`], numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Protocol {
    /// Unknown protocol (written `?`).
    #[default]
    Unknown = 0,
    /// TCP.
    Tcp = 1,
    /// UDP.
    Udp = 2,
    /// ICMP; the port number holds the ICMP type or code.
    Icmp = 3,
}

impl Protocol {
    /// The protocol with this wire number (0–3).
    pub fn from_u8(n: u8) -> Option<Protocol> {
        match n {
            0 => Some(Protocol::Unknown),
            1 => Some(Protocol::Tcp),
            2 => Some(Protocol::Udp),
            3 => Some(Protocol::Icmp),
            _ => None,
        }
    }

    /// The name used in text forms: `tcp`, `udp`, `icmp` or `?`.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Unknown => "?",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        }
    }
}

/// A port number with its protocol, e.g. `80/tcp`.
///
/// The text form is `<number>/<tcp|udp|icmp|?>`. Parsing follows Broker: a bare
/// number is TCP and an unknown protocol name (compared case-sensitively) is
/// [`Protocol::Unknown`]; unlike Broker, a number above 65535 is an error rather
/// than wrapping around.
///
/// ```
/// use broker_core::data::{Port, Protocol};
///
/// let p: Port = "53/udp".parse().unwrap();
/// assert_eq!(p, Port::new(53, Protocol::Udp));
/// assert_eq!("80".parse::<Port>().unwrap().protocol, Protocol::Tcp);
/// assert_eq!("80/sctp".parse::<Port>().unwrap().to_string(), "80/?");
/// assert!("70000/tcp".parse::<Port>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Port {
    /// The port number (for ICMP: the type or code).
    pub number: u16,
    /// The transport protocol.
    pub protocol: Protocol,
}

impl Port {
    /// The port `number/protocol`.
    pub const fn new(number: u16, protocol: Protocol) -> Port {
        Port { number, protocol }
    }
}

/// Why a port text could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid port {0:?}: expected <0-65535>/<tcp|udp|icmp|?>")]
pub struct PortParseError(pub String);

impl FromStr for Port {
    type Err = PortParseError;

    fn from_str(s: &str) -> Result<Port, PortParseError> {
        let (num, proto) = match s.split_once('/') {
            Some((num, proto)) => (num, Some(proto)),
            None => (s, None),
        };
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PortParseError(s.to_owned()));
        }
        let number: u16 = num.parse().map_err(|_| PortParseError(s.to_owned()))?;
        let protocol = match proto {
            None | Some("tcp") => Protocol::Tcp,
            Some("udp") => Protocol::Udp,
            Some("icmp") => Protocol::Icmp,
            Some(_) => Protocol::Unknown,
        };
        Ok(Port { number, protocol })
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_text_round_trips() {
        for text in ["80/tcp", "53/udp", "8/icmp", "0/?", "65535/tcp"] {
            assert_eq!(text.parse::<Port>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn port_parse_rejects_garbage() {
        for text in ["", "/tcp", "x/tcp", "-1/tcp", "65536", "+80/tcp"] {
            assert!(text.parse::<Port>().is_err(), "{text}");
        }
    }

    #[test]
    fn ports_order_by_number_then_protocol() {
        assert!(Port::new(80, Protocol::Udp) < Port::new(81, Protocol::Tcp));
        assert!(Port::new(80, Protocol::Tcp) < Port::new(80, Protocol::Udp));
    }
}
