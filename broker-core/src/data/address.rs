//! Addresses and subnets, with Broker's IPv4-mapped representation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP address, stored as 16 bytes in network order.
///
/// IPv4 addresses are kept as IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`), as
/// Broker does, so `1.2.3.4` and `::ffff:1.2.3.4` are the same value and both
/// print as `1.2.3.4`. Addresses order by their 16 bytes.
///
/// ```
/// use broker_core::data::Address;
/// use std::net::{IpAddr, Ipv4Addr};
///
/// let a: Address = "1.2.3.4".parse().unwrap();
/// let b: Address = "::ffff:1.2.3.4".parse().unwrap();
/// assert_eq!(a, b);
/// assert!(a.is_v4());
/// assert_eq!(a.to_ip(), IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
/// assert_eq!(b.to_string(), "1.2.3.4");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address([u8; 16]);

impl Address {
    /// The address with these 16 bytes (network order).
    pub const fn from_octets(octets: [u8; 16]) -> Address {
        Address(octets)
    }

    /// The 16 bytes of the address (IPv4 as `::ffff:a.b.c.d`).
    pub const fn octets(&self) -> [u8; 16] {
        self.0
    }

    /// Whether this is an IPv4 address (an IPv4-mapped IPv6 address).
    pub fn is_v4(&self) -> bool {
        self.0[..10].iter().all(|&b| b == 0) && self.0[10] == 0xff && self.0[11] == 0xff
    }

    /// The address as a std address: `V4` for IPv4-mapped addresses, `V6` otherwise.
    pub fn to_ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.0);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

impl From<Ipv4Addr> for Address {
    fn from(v4: Ipv4Addr) -> Address {
        Address(v4.to_ipv6_mapped().octets())
    }
}

impl From<Ipv6Addr> for Address {
    fn from(v6: Ipv6Addr) -> Address {
        Address(v6.octets())
    }
}

impl From<IpAddr> for Address {
    fn from(ip: IpAddr) -> Address {
        match ip {
            IpAddr::V4(v4) => v4.into(),
            IpAddr::V6(v6) => v6.into(),
        }
    }
}

impl From<Address> for IpAddr {
    fn from(a: Address) -> IpAddr {
        a.to_ip()
    }
}

impl FromStr for Address {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Address, Self::Err> {
        s.parse::<IpAddr>().map(Address::from)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_ip())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_ip())
    }
}

/// Why a subnet could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubnetError {
    /// The prefix length is longer than the address (32 for IPv4, 128 for IPv6).
    #[error("prefix length {len} is too long for an {family} address")]
    PrefixTooLong {
        /// The length given.
        len: u8,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// The text is not of the form `address/length`.
    #[error("invalid subnet text {0:?}: expected address/length")]
    Syntax(String),
}

/// An IP subnet: a network address and a prefix length.
///
/// Construction masks the host bits and rejects prefix lengths longer than the
/// address, so every `Subnet` is valid. (Broker silently turns an invalid
/// prefix into `::/0`; we report an error instead.) IPv4 subnets are stored the
/// way Broker stores them: a mapped address with the prefix length plus 96, so
/// `0.0.0.0/0` and `::/0` are different subnets.
///
/// ```
/// use broker_core::data::Subnet;
///
/// let net: Subnet = "192.168.1.7/24".parse().unwrap();
/// assert_eq!(net.to_string(), "192.168.1.0/24"); // host bits masked
/// assert_eq!(net.prefix_len(), 24);
/// assert!(net.contains(&"192.168.1.200".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<Subnet>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Subnet {
    network: Address,
    raw_len: u8,
}

impl Subnet {
    /// The subnet `addr/prefix_len`, with host bits masked off.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Subnet, SubnetError> {
        match addr {
            IpAddr::V4(_) if prefix_len > 32 => Err(SubnetError::PrefixTooLong {
                len: prefix_len,
                family: "IPv4",
            }),
            IpAddr::V4(v4) => Ok(Subnet::masked(v4.into(), prefix_len + 96)),
            IpAddr::V6(_) if prefix_len > 128 => Err(SubnetError::PrefixTooLong {
                len: prefix_len,
                family: "IPv6",
            }),
            IpAddr::V6(v6) => Ok(Subnet::masked(v6.into(), prefix_len)),
        }
    }

    /// The subnet from Broker's raw form: a 16-byte address and a length in
    /// IPv6 terms (IPv4 prefixes plus 96). Host bits are masked off; a raw
    /// length above 128 is rejected.
    pub fn from_raw(addr: Address, raw_len: u8) -> Result<Subnet, SubnetError> {
        if raw_len > 128 {
            return Err(SubnetError::PrefixTooLong {
                len: raw_len,
                family: "IPv6",
            });
        }
        Ok(Subnet::masked(addr, raw_len))
    }

    fn masked(addr: Address, raw_len: u8) -> Subnet {
        let bits = u128::from_be_bytes(addr.octets());
        let mask = match raw_len {
            0 => 0,
            n => u128::MAX << (128 - u32::from(n)),
        };
        Subnet {
            network: Address::from_octets((bits & mask).to_be_bytes()),
            raw_len,
        }
    }

    /// The network address (host bits zero).
    pub fn network(&self) -> Address {
        self.network
    }

    /// The prefix length as written by people: 0–32 for IPv4, 0–128 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        if self.is_v4() {
            self.raw_len - 96
        } else {
            self.raw_len
        }
    }

    /// The prefix length in Broker's raw form (IPv4 lengths plus 96).
    pub fn raw_len(&self) -> u8 {
        self.raw_len
    }

    /// Whether this is an IPv4 subnet.
    pub fn is_v4(&self) -> bool {
        // After masking, a mapped network address implies raw_len >= 96.
        self.network.is_v4() && self.raw_len >= 96
    }

    /// Whether `addr` lies in this subnet.
    pub fn contains(&self, addr: &Address) -> bool {
        Subnet::masked(*addr, self.raw_len).network == self.network
    }
}

impl FromStr for Subnet {
    type Err = SubnetError;

    fn from_str(s: &str) -> Result<Subnet, SubnetError> {
        let syntax = || SubnetError::Syntax(s.to_owned());
        let (addr, len) = s.split_once('/').ok_or_else(syntax)?;
        let addr: IpAddr = addr.parse().map_err(|_| syntax())?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let len: u8 = len.parse().map_err(|_| syntax())?;
        // `::ffff:a.b.c.d/len` is an IPv6 prefix over the mapped address.
        Subnet::new(addr, len)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len())
    }
}

impl fmt::Debug for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Subnet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_is_stored_mapped() {
        let a = addr("192.168.1.1");
        let mut expected = [0u8; 16];
        expected[10] = 0xff;
        expected[11] = 0xff;
        expected[12..].copy_from_slice(&[192, 168, 1, 1]);
        assert_eq!(a.octets(), expected);
        assert!(a.is_v4());
        assert!(!addr("::1").is_v4());
        assert!(!addr("::").is_v4());
    }

    #[test]
    fn addresses_sort_by_bytes() {
        assert!(addr("::1") < addr("10.0.0.1"));
        assert!(addr("10.0.0.1") < addr("2001:db8::"));
    }

    #[test]
    fn subnet_masks_host_bits() {
        let s: Subnet = "192.168.1.7/24".parse().unwrap();
        assert_eq!(s.network(), addr("192.168.1.0"));
        assert_eq!(s.raw_len(), 120);
        let s6: Subnet = "2001:db8::ff/32".parse().unwrap();
        assert_eq!(s6.to_string(), "2001:db8::/32");
    }

    #[test]
    fn subnet_rejects_long_prefixes() {
        assert_eq!(
            "10.0.0.0/33".parse::<Subnet>(),
            Err(SubnetError::PrefixTooLong {
                len: 33,
                family: "IPv4"
            })
        );
        assert!("::/129".parse::<Subnet>().is_err());
        assert!(Subnet::from_raw(Address::default(), 200).is_err());
        assert!("10.0.0.0".parse::<Subnet>().is_err());
        assert!("10.0.0.0/+8".parse::<Subnet>().is_err());
    }

    #[test]
    fn v4_zero_prefix_differs_from_v6_zero_prefix() {
        let v4: Subnet = "0.0.0.0/0".parse().unwrap();
        let v6: Subnet = "::/0".parse().unwrap();
        assert_ne!(v4, v6);
        assert_eq!(v4.raw_len(), 96);
        assert_eq!(v4.to_string(), "0.0.0.0/0");
        assert_eq!(v6.to_string(), "::/0");
    }

    #[test]
    fn subnet_contains() {
        let s: Subnet = "10.0.0.0/8".parse().unwrap();
        assert!(s.contains(&addr("10.255.0.1")));
        assert!(!s.contains(&addr("11.0.0.1")));
        let all: Subnet = "::/0".parse().unwrap();
        assert!(all.contains(&addr("10.0.0.1")));
    }
}
