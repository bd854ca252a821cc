//! Parsing of addresses and other argument values.

use std::fmt;

/// A usage error detected after clap's parsing (exit code 2).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `[ADDR:]PORT` for listening: `9999`, `127.0.0.1:9999`, `[::1]:9999`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListenAddr {
    pub(crate) address: String,
    pub(crate) port: u16,
}

pub(crate) fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    match split_host_port(s) {
        Some((host, port)) => Ok(ListenAddr {
            address: host.to_owned(),
            port,
        }),
        None => s
            .parse::<u16>()
            .map(|port| ListenAddr {
                address: String::new(),
                port,
            })
            .map_err(|_| format!("expected [ADDR:]PORT, got {s:?}")),
    }
}

/// `HOST:PORT` for peering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PeerAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

pub(crate) fn parse_peer(s: &str) -> Result<PeerAddr, String> {
    match split_host_port(s) {
        Some((host, port)) if !host.is_empty() => Ok(PeerAddr {
            host: host.to_owned(),
            port,
        }),
        _ => Err(format!("expected HOST:PORT, got {s:?}")),
    }
}

fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.contains(':') && !s.starts_with('[') {
        return None; // a bare IPv6 address needs brackets
    }
    Some((host, port))
}

/// A non-negative number of seconds.
pub(crate) fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|x| std::time::Duration::try_from_secs_f64(x).ok())
        .ok_or_else(|| format!("expected a number of seconds, got {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("9999").unwrap().port, 9999);
        assert_eq!(parse_listen("9999").unwrap().address, "");
        let a = parse_listen("127.0.0.1:0").unwrap();
        assert_eq!((a.address.as_str(), a.port), ("127.0.0.1", 0));
        let a = parse_listen("[::1]:80").unwrap();
        assert_eq!(a.address, "::1");
        assert!(parse_listen("nope").is_err());
        assert!(parse_listen("1.2.3.4:99999").is_err());
    }

    #[test]
    fn peer_addresses() {
        let p = parse_peer("localhost:9999").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("localhost", 9999));
        assert!(parse_peer("9999").is_err());
        assert!(parse_peer(":9999").is_err());
        assert!(parse_peer("::1:80").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1.5").unwrap().as_millis(), 1500);
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("x").is_err());
    }
}
