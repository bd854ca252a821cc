//! Byte strings and enum names.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// A Broker string: a sequence of bytes that need not be UTF-8.
///
/// Zeek strings are bytes (packet payloads, file names), so this type keeps
/// them as they are. [`ByteString::as_str`] gives a `&str` when the bytes are
/// valid UTF-8; it checks them on each call, which is a fast scan.
///
/// ```
/// use broker_core::data::ByteString;
///
/// let text = ByteString::from("grüße");
/// assert_eq!(text.as_str(), Some("grüße"));
/// let raw = ByteString::from(vec![0xff, 0xfe]);
/// assert_eq!(raw.as_str(), None);
/// assert_eq!(raw.as_bytes(), &[0xff, 0xfe]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteString(Vec<u8>);

impl ByteString {
    /// An empty string.
    pub const fn new() -> ByteString {
        ByteString(Vec::new())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text, if the bytes are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The text, with invalid UTF-8 sequences replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// The bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The text, if the bytes are valid UTF-8; the string itself otherwise.
    pub fn into_string(self) -> Result<String, ByteString> {
        String::from_utf8(self.0).map_err(|e| ByteString(e.into_bytes()))
    }
}

impl Deref for ByteString {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for ByteString {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> ByteString {
        ByteString(s.as_bytes().to_vec())
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> ByteString {
        ByteString(s.into_bytes())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> ByteString {
        ByteString(bytes)
    }
}

impl From<&[u8]> for ByteString {
    fn from(bytes: &[u8]) -> ByteString {
        ByteString(bytes.to_vec())
    }
}

impl PartialEq<str> for ByteString {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteString {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

/// A Zeek enum value, carried by name (for example `Conn::LOG`).
///
/// The receiver maps names to its own enum numbers, so only the name travels.
/// Names are UTF-8 text; Zeek's are ASCII identifiers with `::` separators.
///
/// ```
/// use broker_core::data::EnumValue;
///
/// let v = EnumValue::new("Notice::ACTION_LOG");
/// assert_eq!(v.name(), "Notice::ACTION_LOG");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnumValue(String);

impl EnumValue {
    /// The enum value with this name.
    pub fn new(name: impl Into<String>) -> EnumValue {
        EnumValue(name.into())
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The name, by value.
    pub fn into_name(self) -> String {
        self.0
    }
}

impl From<&str> for EnumValue {
    fn from(s: &str) -> EnumValue {
        EnumValue(s.to_owned())
    }
}

impl From<String> for EnumValue {
    fn from(s: String) -> EnumValue {
        EnumValue(s)
    }
}

impl fmt::Display for EnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnumValue({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_order_bytewise() {
        let (upper, lower) = (ByteString::from("Baz"), ByteString::from("bar"));
        assert!(upper < lower);
        assert!(ByteString::from(vec![0x7f]) < ByteString::from(vec![0x80]));
    }

    #[test]
    fn debug_shows_invalid_utf8_escaped() {
        let s = ByteString::from(vec![b'a', 0xff]);
        assert_eq!(format!("{s:?}"), "b\"a\\xff\"");
        assert_eq!(format!("{:?}", ByteString::from("a")), "\"a\"");
    }

    #[test]
    fn into_string_keeps_bytes_on_failure() {
        let s = ByteString::from(vec![0xc3]);
        assert_eq!(s.clone().into_string(), Err(s));
        assert_eq!(ByteString::from("ok").into_string().unwrap(), "ok");
    }
}
