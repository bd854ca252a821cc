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
pub(crate) const INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl ByteString {
    /// The length and the zero-padded buffer of an inline string.
    #[inline]
    pub(crate) fn inline(&self) -> Option<(u8, &[u8; INLINE])> {
        match &self.0 {
            Repr::Inline { len, buf } => Some((*len, buf)),
            Repr::Heap(_) => None,
        }
    }

    /// Whether the bytes are stored inline (no heap allocation).
    #[inline]
    pub(crate) fn is_inline(&self) -> bool {
        self.inline().is_some()
    }

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
    #[inline]
    fn eq(&self, other: &ByteString) -> bool {
        match (&self.0, &other.0) {
            // Unused bytes are zero, so whole buffers compare.
            (Repr::Inline { len: a, buf: x }, Repr::Inline { len: b, buf: y }) => {
                a == b && split_inline(x) == split_inline(y)
            }
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for ByteString {}

impl PartialOrd for ByteString {
    fn partial_cmp(&self, other: &ByteString) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteString {
    #[inline(always)]
    fn cmp(&self, other: &ByteString) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            // Unused bytes are zero: comparing the zero-padded buffers gives
            // the bytewise order, except that a string and itself followed by
            // zero bytes pad to the same buffer; the shorter is less.
            (Repr::Inline { len: a, buf: x }, Repr::Inline { len: b, buf: y }) => {
                split_inline(x).cmp(&split_inline(y)).then(a.cmp(b))
            }
            _ => self.cmp_bytes(other),
        }
    }
}

impl ByteString {
    #[inline(never)]
    fn cmp_bytes(&self, other: &ByteString) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// An inline buffer as big-endian integers whose order is the bytewise
/// order of the buffer. The pieces are those [`ByteString::from_window`]
/// writes, so that reading a freshly decoded string is forwarded from the
/// stores that wrote it.
/// (Pieces: bytes 0..4, 4..6, 6..14, 14..22. Within a `Data`, whose
/// string buffer starts at offset 10, none straddles offset 16, so neither
/// does reading a value that was just moved by two 16-byte copies.)
#[inline]
fn split_inline(buf: &[u8; INLINE]) -> (u32, u16, u64, u64) {
    let mut a = [0; 4];
    a.copy_from_slice(&buf[..4]);
    let mut b = [0; 2];
    b.copy_from_slice(&buf[4..6]);
    let mut c = [0; 8];
    c.copy_from_slice(&buf[6..14]);
    let mut d = [0; 8];
    d.copy_from_slice(&buf[14..]);
    (
        u32::from_be_bytes(a),
        u16::from_be_bytes(b),
        u64::from_be_bytes(c),
        u64::from_be_bytes(d),
    )
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
    #[inline]
    fn from(bytes: &[u8]) -> ByteString {
        if bytes.len() <= INLINE {
            if let Ok(window) = <&[u8; INLINE]>::try_from(bytes) {
                return ByteString::from_window(window, INLINE);
            }
            // The length fits: it is at most INLINE.
            ByteString(Repr::Inline {
                len: bytes.len() as u8,
                buf: inline_buf(bytes),
            })
        } else {
            ByteString(Repr::Heap(bytes.into()))
        }
    }
}

impl ByteString {
    /// The string of the first `len` bytes of `window` (`len` at most
    /// [`INLINE`]); the rest of `window` is ignored. For decoders that have
    /// the bytes after a short string at hand: the buffer is built from two
    /// fixed-size loads and masks, and written with two stores that later
    /// copies of the value read back whole (no store-forwarding stalls).
    #[inline(always)]
    pub(crate) fn from_window(window: &[u8; INLINE], len: usize) -> ByteString {
        // Bytes `from..from + 8` of the window, the ones at or past `len`
        // zeroed (by the mask of `len` from a table: no shifts or branches),
        // little-endian.
        let keep = &KEEP[len];
        let piece = |from: usize| -> u64 {
            let mut word = [0; 8];
            word.copy_from_slice(&window[from..from + 8]);
            let mut mask = [0; 8];
            mask.copy_from_slice(&keep[from..from + 8]);
            u64::from_le_bytes(word) & u64::from_le_bytes(mask)
        };
        let head = piece(0);
        let mut buf = [0; INLINE];
        buf[..4].copy_from_slice(&(head as u32).to_le_bytes());
        buf[4..6].copy_from_slice(&((head >> 32) as u16).to_le_bytes());
        buf[6..14].copy_from_slice(&piece(6).to_le_bytes());
        buf[14..].copy_from_slice(&piece(14).to_le_bytes());
        ByteString(Repr::Inline {
            len: len as u8,
            buf,
        })
    }
}

/// `KEEP[len]` has its first `len` bytes set: the mask that keeps a string
/// of `len` bytes from a window.
static KEEP: [[u8; INLINE]; INLINE + 1] = {
    let mut masks = [[0; INLINE]; INLINE + 1];
    let mut len = 0;
    while len <= INLINE {
        let mut i = 0;
        while i < len {
            masks[len][i] = 0xff;
            i += 1;
        }
        len += 1;
    }
    masks
};

/// `bytes` (at most [`INLINE`] of them) followed by zeros. Inline strings
/// keep their unused bytes zero, which lets comparisons work on the whole
/// buffer. Copies are of fixed sizes (two overlapping ones), which compile
/// to a few moves instead of a call to `memcpy` with a variable length.
#[inline]
fn inline_buf(bytes: &[u8]) -> [u8; INLINE] {
    let mut buf = [0; INLINE];
    let n = bytes.len();
    debug_assert!(n <= INLINE);
    if n >= 16 {
        buf[..16].copy_from_slice(&bytes[..16]);
        buf[n - 8..n].copy_from_slice(&bytes[n - 8..]);
    } else if n >= 8 {
        buf[..8].copy_from_slice(&bytes[..8]);
        buf[n - 8..n].copy_from_slice(&bytes[n - 8..]);
    } else if n >= 4 {
        buf[..4].copy_from_slice(&bytes[..4]);
        buf[n - 4..n].copy_from_slice(&bytes[n - 4..]);
    } else if n > 0 {
        buf[0] = bytes[0];
        buf[n / 2] = bytes[n / 2];
        buf[n - 1] = bytes[n - 1];
    }
    buf
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

    /// The enum value named by `name`, whose bytes the caller checked to be
    /// UTF-8 (as [`EnumValue::name`] relies on).
    pub(crate) fn from_utf8(name: ByteString) -> EnumValue {
        debug_assert!(name.as_str().is_some());
        EnumValue(name)
    }

    /// Whether the name is stored inline (no heap allocation).
    pub(crate) fn is_inline(&self) -> bool {
        self.0.is_inline()
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
    fn inline_order_and_equality_agree_with_the_bytes() {
        // Every length from 0 to past the inline limit, with zero bytes
        // (which pad inline buffers) and 0xff at either end.
        let mut samples: Vec<Vec<u8>> = Vec::new();
        for len in 0..=24 {
            for fill in [0x00, 0x41, 0xff] {
                let mut v = vec![fill; len];
                samples.push(v.clone());
                if len > 0 {
                    v[len - 1] ^= 0x80;
                    samples.push(v.clone());
                    v[0] ^= 0x01;
                    samples.push(v);
                }
            }
        }
        for a in &samples {
            let x = ByteString::from(a.as_slice());
            assert_eq!(x.as_bytes(), a.as_slice());
            if a.len() <= INLINE {
                let mut window = [0xa5; INLINE];
                window[..a.len()].copy_from_slice(a);
                assert!(ByteString::from_window(&window, a.len()) == x);
                assert_eq!(ByteString::from_window(&window, a.len()).as_bytes(), a);
            }
            for b in &samples {
                let y = ByteString::from(b.clone());
                assert_eq!(x.cmp(&y), a.cmp(b), "{a:?} vs {b:?}");
                assert_eq!(x == y, a == b, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn into_string_keeps_bytes_on_failure() {
        let s = ByteString::from(vec![0xc3]);
        assert_eq!(s.clone().into_string(), Err(s));
        assert_eq!(ByteString::from("ok").into_string().unwrap(), "ok");
    }
}
