//! Endpoint identifiers.

use std::fmt;
use std::str::FromStr;

/// The identity of an endpoint: 16 bytes, written as a UUID.
///
/// Ids order by their bytes; in a handshake the endpoint with the smaller id
/// leads (it is the "originator"). Broker cannot parse ids whose UUID version
/// nibble is 0 or above 5 back from text, so generated ids are version 4.
///
/// ```
/// use broker_core::proto::EndpointId;
///
/// let id: EndpointId = "11111111-1111-4111-8111-111111111111".parse().unwrap();
/// assert_eq!(id.to_string(), "11111111-1111-4111-8111-111111111111");
/// assert!(EndpointId::NIL < id);
/// assert!("not-a-uuid".parse::<EndpointId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EndpointId([u8; 16]);

impl EndpointId {
    /// The all-zero id, which on the wire means "no particular receiver".
    pub const NIL: EndpointId = EndpointId([0; 16]);

    /// The id with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> EndpointId {
        EndpointId(bytes)
    }

    /// The id made from 16 random bytes, stamped as a version 4 UUID.
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> EndpointId {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        EndpointId(bytes)
    }

    /// The bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Whether this is the nil id.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EndpointId({self})")
    }
}

/// Why a text is not an endpoint id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint id {0:?}: expected a UUID like 11111111-1111-4111-8111-111111111111")]
pub struct EndpointIdParseError(pub String);

impl FromStr for EndpointId {
    type Err = EndpointIdParseError;

    fn from_str(s: &str) -> Result<EndpointId, EndpointIdParseError> {
        let err = || EndpointIdParseError(s.to_owned());
        let bytes = s.as_bytes();
        if bytes.len() != 36 {
            return Err(err());
        }
        let mut out = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if bytes[i] != b'-' {
                    return Err(err());
                }
                i += 1;
                continue;
            }
            let hi = (bytes[i] as char).to_digit(16).ok_or_else(err)?;
            let lo = (bytes[i + 1] as char).to_digit(16).ok_or_else(err)?;
            out[n] = (hi * 16 + lo) as u8;
            n += 1;
            i += 2;
        }
        Ok(EndpointId(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_version_4() {
        let id = EndpointId::from_random_bytes([0xff; 16]);
        assert_eq!(id.as_bytes()[6] >> 4, 4);
        assert_eq!(id.as_bytes()[8] >> 6, 0b10);
        assert_eq!(id.to_string().parse::<EndpointId>().unwrap(), id);
    }

    #[test]
    fn parse_rejects_malformed_text() {
        for bad in [
            "",
            "11111111111141118111111111111111",
            "11111111-1111-4111-8111-11111111111g",
            "11111111-1111-4111-8111_111111111111",
        ] {
            assert!(bad.parse::<EndpointId>().is_err(), "{bad}");
        }
    }
}
