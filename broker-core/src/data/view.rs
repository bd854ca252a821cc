//! Received values read in place: a value kept in its bin v1 encoding,
//! checked once, with an index of where each nested value starts.
//!
//! Decoding into [`Data`] builds a tree: a vector, set or table is a heap
//! allocation, and the whole tree is freed again value by value. A
//! subscriber that reads a few fields of each message, counts messages or
//! passes them on pays for all of it. A [`DataBuf`] is what Broker's own
//! receivers get (a `variant`, parsed into an arena): the bytes, and one
//! flat index of the values in them, two allocations whatever the shape.
//! Reading a field is a lookup; [`DataView::to_data`] builds the owned
//! value when one is needed.
//!
//! [`DataBuf::parse`] accepts exactly the input [`bin::decode`] accepts and
//! fails with the same error: the limits (depth, element budget), tags,
//! subnet lengths, port protocols, UTF-8 enum names and repeated set
//! elements or table keys are all checked up front, so a view never finds
//! bad input later.
//!
//! ```
//! use broker_core::data::{Data, DataType, bin, view::DataBuf};
//!
//! let value = Data::Vector(vec![Data::Count(42), Data::from("test")]);
//! let buf = DataBuf::parse(&bin::encode(&value)).unwrap();
//! let root = buf.root();
//! assert_eq!(root.data_type(), DataType::Vector);
//! assert_eq!(root.get(0).and_then(|v| v.as_count()), Some(42));
//! assert_eq!(root.get(1).and_then(|v| v.as_str()), Some("test"));
//! assert_eq!(buf.to_data(), value);
//! ```

use std::cmp::Ordering;
use std::fmt;

use super::bin::{self, DecodeError, Reader};
use super::{Address, Data, DataType, Port, Protocol, Subnet, Timespan, Timestamp};

/// One value in the index: where its encoding starts, and the index just
/// past its nested values. Values are indexed in the order they are
/// encoded, so a value's encoding ends where the next node's (at `next`)
/// starts, or at the end of the input; a container's element count is read
/// from its encoding. Offsets are `u32`: a frame is far smaller than 4 GiB.
#[derive(Clone, Copy, Debug)]
struct Node {
    start: u32,
    next: u32,
}

/// A value in its bin v1 encoding, checked, with an index of its nested
/// values. Cloning copies the bytes and the index (two allocations).
#[derive(Clone)]
pub struct DataBuf {
    /// Boxed, not a `Vec`: a delivery event carries this by value.
    bytes: Box<[u8]>,
    nodes: Vec<Node>,
}

impl DataBuf {
    /// Checks `bytes` (one bin v1 value filling all of them) and indexes
    /// them. Fails where [`bin::decode`] fails, with the same error.
    pub fn parse(bytes: &[u8]) -> Result<DataBuf, DecodeError> {
        DataBuf::from_vec(bytes.to_vec())
    }

    /// [`DataBuf::parse`], keeping `bytes` instead of copying them.
    pub fn from_vec(bytes: Vec<u8>) -> Result<DataBuf, DecodeError> {
        // A guess (values take 2 to 10 bytes, 7.5 on average in the
        // benchmark payloads); the index grows as needed. It is bounded as
        // decoding is: every value but the root is a container element, and
        // the element budget allows a quarter of the input's bytes plus
        // 65,536, so at most 2 bytes of index per byte of input plus 512 KiB.
        let mut nodes = Vec::with_capacity((bytes.len() / 6 + 2).min(4096));
        let mut indexer = Indexer {
            input: &bytes,
            pos: 0,
            elements: bin::element_limit(bytes.len()),
            nodes: &mut nodes,
        };
        let parsed = indexer.value(0).is_some() && indexer.pos == bytes.len();
        if parsed && u32::try_from(bytes.len()).is_ok() {
            return Ok(DataBuf {
                bytes: bytes.into_boxed_slice(),
                nodes,
            });
        }
        // The error, exactly as decoding reports it. Input the index
        // refused always fails to decode (the property tests in
        // tests/data_properties.rs and the fuzz target `bin_decode` check
        // both ways); should the two ever disagree, or the input pass 4 GiB
        // (offsets are 32 bits; frames are far smaller), the refusal stands.
        Err(bin::decode(&bytes)
            .err()
            .unwrap_or(DecodeError::TrailingBytes {
                offset: 0,
                count: bytes.len(),
            }))
    }

    /// The encoding of `data` (fails for values that would not decode, such
    /// as containers nested deeper than [`bin::MAX_DEPTH`]).
    pub fn from_data(data: &Data) -> Result<DataBuf, DecodeError> {
        DataBuf::from_vec(bin::encode(data))
    }

    /// The value.
    pub fn root(&self) -> DataView<'_> {
        DataView {
            buf: self,
            index: 0,
        }
    }

    /// The value's bin v1 encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The value, decoded into an owned tree.
    pub fn to_data(&self) -> Data {
        self.root().to_data()
    }

    /// The encoding of the value at `index` (tag included).
    fn encoded(&self, index: usize) -> &[u8] {
        // Every index handed out points into `nodes` (the root is always
        // there: parsing pushed it first).
        let Some(node) = self.nodes.get(index) else {
            return &[];
        };
        let end = self
            .nodes
            .get(node.next as usize)
            .map_or(self.bytes.len(), |n| n.start as usize);
        self.bytes.get(node.start as usize..end).unwrap_or_default()
    }

    fn next(&self, index: usize) -> usize {
        self.nodes.get(index).map_or(index + 1, |n| n.next as usize)
    }
}

impl fmt::Debug for DataBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_data(), f)
    }
}

impl fmt::Display for DataBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_data(), f)
    }
}

impl PartialEq for DataBuf {
    /// Equal values (sets and tables compare as sets and tables, whatever
    /// order they arrived in).
    fn eq(&self, other: &DataBuf) -> bool {
        self.bytes == other.bytes || self.to_data() == other.to_data()
    }
}

/// One value inside a [`DataBuf`].
#[derive(Clone, Copy)]
pub struct DataView<'a> {
    buf: &'a DataBuf,
    index: usize,
}

impl<'a> DataView<'a> {
    /// The value's encoding (tag included).
    pub fn encoded(&self) -> &'a [u8] {
        self.buf.encoded(self.index)
    }

    /// The encoding after the tag.
    fn body(&self) -> &'a [u8] {
        self.encoded().get(1..).unwrap_or_default()
    }

    fn fixed<const N: usize>(&self, ty: DataType) -> Option<[u8; N]> {
        if self.data_type() != ty {
            return None;
        }
        self.body().first_chunk::<N>().copied()
    }

    /// The value's type.
    pub fn data_type(&self) -> DataType {
        self.encoded()
            .first()
            .and_then(|&tag| DataType::from_tag(tag))
            .unwrap_or(DataType::None)
    }

    /// Whether the value is `none`.
    pub fn is_none(&self) -> bool {
        self.data_type() == DataType::None
    }

    /// A boolean.
    pub fn as_bool(&self) -> Option<bool> {
        self.fixed::<1>(DataType::Boolean).map(|[b]| b != 0)
    }

    /// A count.
    pub fn as_count(&self) -> Option<u64> {
        self.fixed(DataType::Count).map(u64::from_be_bytes)
    }

    /// An integer.
    pub fn as_integer(&self) -> Option<i64> {
        self.fixed(DataType::Integer).map(i64::from_be_bytes)
    }

    /// A real.
    pub fn as_real(&self) -> Option<f64> {
        self.fixed(DataType::Real)
            .map(|b| bin::unpack_real(u64::from_be_bytes(b)))
    }

    /// A string's bytes, or an enum value's name.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        if !matches!(self.data_type(), DataType::String | DataType::EnumValue) {
            return None;
        }
        let mut reader = Reader::new(self.body());
        reader.length_prefixed().ok()
    }

    /// A string, if it is UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        if self.data_type() != DataType::String {
            return None;
        }
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An enum value's name.
    pub fn as_enum(&self) -> Option<&'a str> {
        if self.data_type() != DataType::EnumValue {
            return None;
        }
        // Checked to be UTF-8 when parsed.
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An address.
    pub fn as_address(&self) -> Option<Address> {
        self.fixed(DataType::Address).map(Address::from_octets)
    }

    /// A subnet.
    pub fn as_subnet(&self) -> Option<Subnet> {
        let bytes = self.fixed::<17>(DataType::Subnet)?;
        let (octets, len) = bytes.split_first_chunk::<16>()?;
        Subnet::from_raw(Address::from_octets(*octets), *len.first()?).ok()
    }

    /// A port.
    pub fn as_port(&self) -> Option<Port> {
        let [hi, lo, proto] = self.fixed::<3>(DataType::Port)?;
        Some(Port::new(
            u16::from_be_bytes([hi, lo]),
            Protocol::from_u8(proto)?,
        ))
    }

    /// A timestamp.
    pub fn as_timestamp(&self) -> Option<Timestamp> {
        self.fixed(DataType::Timestamp)
            .map(|b| Timestamp::from_nanos(i64::from_be_bytes(b)))
    }

    /// A timespan.
    pub fn as_timespan(&self) -> Option<Timespan> {
        self.fixed(DataType::Timespan)
            .map(|b| Timespan::from_nanos(i64::from_be_bytes(b)))
    }

    /// The number of elements of a vector or set, or of entries of a
    /// table; 0 for other values.
    pub fn len(&self) -> usize {
        match self.data_type() {
            DataType::Vector | DataType::Set | DataType::Table => {
                Reader::new(self.body()).varbyte().map_or(0, |n| n as usize)
            }
            _ => 0,
        }
    }

    /// Whether [`DataView::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements of a vector or set (in the order they arrived: Broker
    /// writes sets sorted), or the keys and values of a table, alternating.
    /// Empty for other values.
    pub fn iter(&self) -> Children<'a> {
        let items = match self.data_type() {
            DataType::Vector | DataType::Set => self.len(),
            DataType::Table => self.len() * 2,
            _ => 0,
        };
        Children {
            buf: self.buf,
            index: self.index + 1,
            left: items,
        }
    }

    /// The entries of a table, in the order they arrived. Empty for other
    /// values.
    pub fn entries(&self) -> impl Iterator<Item = (DataView<'a>, DataView<'a>)> + 'a {
        let mut children = if self.data_type() == DataType::Table {
            self.iter()
        } else {
            Children {
                buf: self.buf,
                index: 0,
                left: 0,
            }
        };
        std::iter::from_fn(move || Some((children.next()?, children.next()?)))
    }

    /// Element `i` of a vector (or set, in arrival order).
    pub fn get(&self, i: usize) -> Option<DataView<'a>> {
        match self.data_type() {
            DataType::Vector | DataType::Set => self.iter().nth(i),
            _ => None,
        }
    }

    /// The value decoded into an owned tree.
    pub fn to_data(&self) -> Data {
        // Checked when parsed, so decoding cannot fail here.
        let mut reader = Reader::unlimited(self.encoded());
        reader.value(0).unwrap_or_default()
    }
}

impl fmt::Debug for DataView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_data(), f)
    }
}

/// The elements of a container (see [`DataView::iter`]).
#[derive(Clone)]
pub struct Children<'a> {
    buf: &'a DataBuf,
    index: usize,
    left: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = DataView<'a>;

    fn next(&mut self) -> Option<DataView<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let view = DataView {
            buf: self.buf,
            index: self.index,
        };
        self.index = self.buf.next(self.index);
        Some(view)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Children<'_> {}

/// Builds the index while checking the input as the decoder does; any
/// failure (`None`) makes [`DataBuf::from_vec`] ask the decoder for its
/// error. Reads go straight to the slice: the decoder's `Result`s carry its
/// errors, which made this walk a third slower.
struct Indexer<'a, 'n> {
    input: &'a [u8],
    pos: usize,
    /// Container elements still allowed (see [`bin::element_limit`]).
    elements: usize,
    nodes: &'n mut Vec<Node>,
}

impl<'a> Indexer<'a, '_> {
    #[inline]
    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        (end <= self.input.len()).then(|| self.pos = end)
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.input.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// A varbyte number, as the decoder reads it (at most five bytes, at
    /// most `u32::MAX`).
    #[inline]
    fn varbyte(&mut self) -> Option<usize> {
        let first = self.byte()?;
        if first & 0x80 == 0 {
            return Some(usize::from(first));
        }
        let mut value = u64::from(first & 0x7f);
        for shift in (7..35).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).ok().map(|v| v as usize);
            }
        }
        None
    }

    #[inline]
    fn length_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = self.varbyte()?;
        let start = self.pos;
        self.skip(len)?;
        self.input.get(start..self.pos)
    }

    /// Indexes a value without nested values that starts at `start` and
    /// ends at `end` (the input holds it), and moves past it.
    #[inline(always)]
    fn leaf(&mut self, start: usize, end: usize) {
        let next = self.nodes.len() as u32 + 1;
        self.nodes.push(Node {
            start: start as u32,
            next,
        });
        self.pos = end;
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        let start = self.pos;
        let index = self.nodes.len();
        self.nodes.push(Node {
            start: start as u32,
            next: 0,
        });
        match DataType::from_tag(self.byte()?)? {
            DataType::None => {}
            DataType::Boolean => self.skip(1)?,
            DataType::Count
            | DataType::Integer
            | DataType::Real
            | DataType::Timestamp
            | DataType::Timespan => self.skip(8)?,
            DataType::String => {
                self.length_prefixed()?;
            }
            DataType::EnumValue => {
                std::str::from_utf8(self.length_prefixed()?).ok()?;
            }
            DataType::Address => self.skip(16)?,
            DataType::Subnet => {
                let octets = *self.input.get(self.pos..)?.first_chunk::<16>()?;
                self.skip(16)?;
                let raw_len = self.byte()?;
                Subnet::from_raw(Address::from_octets(octets), raw_len).ok()?;
            }
            DataType::Port => {
                self.skip(2)?;
                Protocol::from_u8(self.byte()?)?;
            }
            ty @ (DataType::Vector | DataType::Set | DataType::Table) => {
                if depth >= bin::MAX_DEPTH {
                    return None;
                }
                let per_entry = if ty == DataType::Table { 2 } else { 1 };
                // As the decoder: each element takes at least a byte per
                // value, and the budget shrinks before the elements are read.
                let count = self.varbyte()?;
                if count.saturating_mul(per_entry) > self.input.len() - self.pos {
                    return None;
                }
                self.elements = self.elements.checked_sub(count * per_entry)?;
                if ty == DataType::Vector {
                    for _ in 0..count {
                        self.element(depth)?;
                    }
                } else if !self.sorted_entries(count, per_entry == 2, depth)? {
                    // Out of order (Broker never sends that) or repeated:
                    // the decoder sorts, and refuses repeats.
                    let mut again = Reader::unlimited(self.input);
                    again.pos = start;
                    again.value(depth).ok()?;
                }
            }
        }
        let next = self.nodes.len() as u32;
        self.nodes.get_mut(index)?.next = next;
        Some(())
    }

    /// One element of a container at `depth`: strings of up to 127 bytes
    /// and values of a fixed size that any bytes make valid (numbers,
    /// times, booleans, addresses) without a call.
    #[inline(always)]
    fn element(&mut self, depth: usize) -> Option<()> {
        let start = self.pos;
        let Some(&[tag, second]) = self.input.get(start..).and_then(|v| v.first_chunk::<2>())
        else {
            return self.value(depth + 1);
        };
        let size = match DataType::from_tag(tag) {
            Some(DataType::String) if second & 0x80 == 0 => 1 + usize::from(second),
            Some(DataType::None) => 0,
            Some(DataType::Boolean) => 1,
            Some(
                DataType::Count
                | DataType::Integer
                | DataType::Real
                | DataType::Timestamp
                | DataType::Timespan,
            ) => 8,
            Some(DataType::Address) => 16,
            _ => return self.value(depth + 1),
        };
        let end = start + 1 + size;
        if end > self.input.len() {
            return None;
        }
        self.leaf(start, end);
        Some(())
    }

    /// Indexes the `count` entries of a set or table (`table`: two values
    /// per entry) at `depth`; whether their keys are in strictly
    /// increasing order. Each key is compared with the one before as it is
    /// read; strings of up to 15 bytes (most keys) as one number each (see
    /// [`short_key`]), and runs of them in sets in a loop of their own.
    fn sorted_entries(&mut self, count: usize, table: bool, depth: usize) -> Option<bool> {
        let mut sorted = true;
        let mut previous: Option<Previous> = None;
        let mut done = 0;
        while done < count {
            if !table {
                done += self.short_strings(count - done, &mut previous, &mut sorted);
                if done == count {
                    break;
                }
            }
            let start = self.pos;
            let key = match short_key(self.input, start) {
                Some((key, end)) => {
                    self.leaf(start, end);
                    Some(key)
                }
                None => {
                    self.element(depth)?;
                    None
                }
            };
            let this = Previous {
                start,
                end: self.pos,
                key,
            };
            if sorted && let Some(before) = &previous {
                sorted = before.is_less(&this, self.input);
            }
            previous = Some(this);
            if table {
                self.element(depth)?;
            }
            done += 1;
        }
        Some(sorted)
    }

    /// Indexes up to `left` set elements that are strings of up to 15
    /// bytes, as many as follow each other; how many. Each is compared
    /// with the one before (`previous`, then each other) as a number, and
    /// `sorted` is cleared if one is not less than the next.
    #[inline(always)]
    fn short_strings(
        &mut self,
        left: usize,
        previous: &mut Option<Previous>,
        sorted: &mut bool,
    ) -> usize {
        let input = self.input;
        let mut start = self.pos;
        let Some((mut key, mut end)) = short_key(input, start) else {
            return 0;
        };
        let this = Previous {
            start,
            end,
            key: Some(key),
        };
        if *sorted && let Some(before) = previous {
            *sorted = before.is_less(&this, input);
        }
        // The run's state stays in locals (the index's length included),
        // which the compiler keeps in registers.
        let nodes = &mut *self.nodes;
        nodes.push(Node {
            start: start as u32,
            next: nodes.len() as u32 + 1,
        });
        let mut ordered = true;
        let mut done = 1;
        while done < left {
            let Some((next_key, next_end)) = short_key(input, end) else {
                break;
            };
            nodes.push(Node {
                start: end as u32,
                next: nodes.len() as u32 + 1,
            });
            ordered &= key < next_key;
            (start, end, key) = (end, next_end, next_key);
            done += 1;
        }
        *sorted &= ordered;
        *previous = Some(Previous {
            start,
            end,
            key: Some(key),
        });
        self.pos = end;
        done
    }
}

/// A set element or table key already read, for the order check: where
/// it is, and its number if it is a short string (see [`short_key`]).
struct Previous {
    start: usize,
    end: usize,
    key: Option<u128>,
}

impl Previous {
    /// Whether this key orders before `next` as [`Data`] orders them.
    #[inline(always)]
    fn is_less(&self, next: &Previous, input: &[u8]) -> bool {
        if let (Some(x), Some(y)) = (self.key, next.key) {
            return x < y;
        }
        let this = input.get(self.start..self.end).unwrap_or_default();
        let that = input.get(next.start..next.end).unwrap_or_default();
        compare_encoded(this, that) == Ordering::Less
    }
}

/// A string of at most 15 bytes at `start` (when 16 bytes of input follow
/// its length byte) as a number that orders as [`Data`] orders strings:
/// its bytes from the high end, zeros, and its length in the low byte. A
/// string and itself followed by zero bytes pad alike; the length tells
/// them apart, the shorter first. Also where the string ends.
#[inline(always)]
fn short_key(input: &[u8], start: usize) -> Option<(u128, usize)> {
    let [tag, len] = *input.get(start..)?.first_chunk::<2>()?;
    if tag != DataType::String.tag() || len > 15 {
        return None;
    }
    let window = input.get(start + 2..)?.first_chunk::<16>()?;
    let (high, low) = window.split_first_chunk::<8>()?;
    let high = u64::from_be_bytes(*high);
    let low = u64::from_be_bytes(*low.first_chunk::<8>()?);
    // Each half masked with a shift below 64 (cheaper than one of 128
    // bits); `len` is below 16, so the low byte is free.
    let (high, low) = if len < 8 {
        (high & !(u64::MAX >> (8 * u32::from(len))), 0)
    } else {
        (high, low & !(u64::MAX >> (8 * u32::from(len - 8))))
    };
    let key = (u128::from(high) << 64) | u128::from(low | u64::from(len));
    Some((key, start + 2 + usize::from(len)))
}

/// The order of two encoded values, as [`Data`]'s order: values of
/// different types by type, strings bytewise and counts numerically without
/// decoding, anything else decoded first.
#[inline]
fn compare_encoded(a: &[u8], b: &[u8]) -> Ordering {
    let (Some(&ta), Some(&tb)) = (a.first(), b.first()) else {
        return a.len().cmp(&b.len());
    };
    if ta != tb {
        return ta.cmp(&tb);
    }
    if ta == DataType::Count.tag() && a.len() == 9 && b.len() == 9 {
        // Big-endian: the bytes order as the numbers do.
        return a.cmp(b);
    }
    if ta == DataType::String.tag() {
        // A value's encoding ends where its body does: with a one-byte
        // length, the body is all after it.
        if let ([_, la, x @ ..], [_, lb, y @ ..]) = (a, b)
            && la & 0x80 == 0
            && lb & 0x80 == 0
        {
            return x.cmp(y);
        }
        if let (Some(x), Some(y)) = (string_body(a), string_body(b)) {
            return x.cmp(y);
        }
    }
    let decode = |v: &[u8]| Reader::unlimited(v).value(0).ok();
    decode(a).cmp(&decode(b))
}

/// An encoded string's bytes.
fn string_body(encoded: &[u8]) -> Option<&[u8]> {
    Reader::new(encoded.get(1..)?).length_prefixed().ok()
}
