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
/// Strings of up to 22 bytes are stored inline, without a heap allocation;
/// most strings in Zeek events (identifiers, states, short names) are that
/// short, and decoding them is then allocation-free.
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
#[derive(Clone)]
pub struct ByteString(Repr);

/// Inline capacity: with the length byte and the enum tag this keeps
/// `ByteString` at 24 bytes, the size of a `Vec`.
const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl ByteString {
    /// An empty string.
    pub const fn new() -> ByteString {
        ByteString(Repr::Inline {
            len: 0,
            buf: [0; INLINE],
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }

    /// The text, if the bytes are valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }

    /// The text, with invalid UTF-8 sequences replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// The bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { .. } => self.as_bytes().to_vec(),
            Repr::Heap(bytes) => bytes.into_vec(),
        }
    }

    /// The text, if the bytes are valid UTF-8; the string itself otherwise.
    pub fn into_string(self) -> Result<String, ByteString> {
        if self.as_str().is_none() {
            return Err(self);
        }
        String::from_utf8(self.into_bytes()).map_err(|e| ByteString::from(e.into_bytes()))
    }
}

impl Default for ByteString {
    fn default() -> ByteString {
        ByteString::new()
    }
}

impl PartialEq for ByteString {
    fn eq(&self, other: &ByteString) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ByteString {}

impl PartialOrd for ByteString {
    fn partial_cmp(&self, other: &ByteString) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteString {
    fn cmp(&self, other: &ByteString) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for ByteString {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl Deref for ByteString {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ByteString {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for ByteString {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> ByteString {
        ByteString::from(s.as_bytes())
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> ByteString {
        ByteString::from(s.into_bytes())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> ByteString {
        if bytes.len() <= INLINE {
            ByteString::from(bytes.as_slice())
        } else {
            ByteString(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl From<&[u8]> for ByteString {
    fn from(bytes: &[u8]) -> ByteString {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            // The length fits: it is at most INLINE.
            ByteString(Repr::Inline {
                len: bytes.len() as u8,
                buf,
            })
        } else {
            ByteString(Repr::Heap(bytes.into()))
        }
    }
}

impl PartialEq<str> for ByteString {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteString {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
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
            None => write!(f, "b\"{}\"", self.as_bytes().escape_ascii()),
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
pub struct EnumValue(ByteString);

impl EnumValue {
    /// The enum value with this name.
    pub fn new(name: impl AsRef<str>) -> EnumValue {
        EnumValue(ByteString::from(name.as_ref()))
    }

    /// The name.
    pub fn name(&self) -> &str {
        // Only ever built from `&str`, so the bytes are UTF-8.
        self.0.as_str().unwrap_or_default()
    }

    /// The name, by value.
    pub fn into_name(self) -> String {
        self.name().to_owned()
    }
}

impl From<&str> for EnumValue {
    fn from(s: &str) -> EnumValue {
        EnumValue::new(s)
    }
}

impl From<String> for EnumValue {
    fn from(s: String) -> EnumValue {
        EnumValue::new(s)
    }
}

impl fmt::Display for EnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for EnumValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnumValue({:?})", self.name())
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
    fn short_and_long_strings_compare_by_content() {
        let short = ByteString::from("x".repeat(22));
        let long = ByteString::from("x".repeat(23));
        assert!(short < long);
        assert_eq!(
            ByteString::from("x".repeat(30).as_bytes()),
            ByteString::from("x".repeat(30))
        );
        assert_eq!(long.clone().into_bytes().len(), 23);
        assert_eq!(short.into_string().unwrap().len(), 22);
        assert_eq!(std::mem::size_of::<ByteString>(), 24);
    }

    #[test]
    fn into_string_keeps_bytes_on_failure() {
        let s = ByteString::from(vec![0xc3]);
        assert_eq!(s.clone().into_string(), Err(s));
        assert_eq!(ByteString::from("ok").into_string().unwrap(), "ok");
    }
}
