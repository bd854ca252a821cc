//! Broker's binary value format, "bin v1".
//!
//! A value is its type tag (one byte, see [`DataType`]) followed by its body.
//! Integers are big-endian and fixed-width; lengths and element counts are
//! "varbytes" (little-endian base 128, at most five bytes, at most
//! `u32::MAX`). Reals use CAF's `pack754` mapping, which is IEEE 754 except
//! that the two infinities are swapped and NaN is all ones.
//!
//! ```
//! use broker_core::data::{bin, Data};
//!
//! let value = Data::Vector(vec![Data::Count(42), Data::from("test")]);
//! let bytes = bin::encode(&value);
//! assert_eq!(hex(&bytes), "0e0202000000000000002a050474657374");
//! assert_eq!(bin::decode(&bytes).unwrap(), value);
//! # fn hex(b: &[u8]) -> String { b.iter().map(|x| format!("{x:02x}")).collect() }
//! ```
//!
//! Decoding is safe on hostile input: it never allocates more than the input
//! could fill, stops at [`MAX_DEPTH`] nested containers, and reports every
//! rejection as a [`DecodeError`] with the byte offset where it was found.
//!
//! Where Broker is lenient with malformed input, this decoder is stricter
//! (see `docs/zeek-compatibility.md`): varbytes longer than five bytes or above
//! `u32::MAX` are rejected, as are subnet lengths above 128 and enum names that
//! are not UTF-8; subnets with host bits set are masked.

use std::mem;

use super::string::INLINE;
use super::{
    Address, ByteString, Data, DataType, EnumValue, Port, Protocol, Set, Subnet, Table, Timespan,
    Timestamp,
};

/// The deepest nesting of containers [`decode`] accepts.
pub const MAX_DEPTH: usize = 100;

/// The most container elements (vector and set elements, table keys and
/// values) one value of `input_len` bytes may decode to: a quarter of the
/// input's bytes, plus 65,536 so that small values are never refused.
/// Decoded, an element takes 32 bytes, so a value takes at most about 8
/// times its encoded size plus 2 MiB. Only containers of elements of one or
/// two bytes (nil, booleans, empty strings) come near the limit.
pub fn element_limit(input_len: usize) -> usize {
    input_len / 4 + (1 << 16)
}

/// Elements reserved up front for a vector; more grow as they arrive.
const PREALLOCATE: usize = 64;

/// Bits CAF writes for +inf (IEEE's -inf pattern).
const CAF_POS_INF: u64 = 0xfff0_0000_0000_0000;
/// Bits CAF writes for -inf (IEEE's +inf pattern).
const CAF_NEG_INF: u64 = 0x7ff0_0000_0000_0000;
/// Bits CAF writes for any NaN.
const CAF_NAN: u64 = u64::MAX;

/// The bin v1 encoding of `data`.
pub fn encode(data: &Data) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(data, &mut out);
    out
}

/// Appends the bin v1 encoding of `data` to `out`.
pub fn encode_into(data: &Data, out: &mut Vec<u8>) {
    encode_element(data, out);
}

/// Any value but an inline string (which [`encode_element`] writes; this
/// writes one too, through the general path).
fn encode_value(data: &Data, out: &mut Vec<u8>) {
    out.push(data.data_type().tag());
    match data {
        Data::None => {}
        Data::Boolean(b) => out.push(u8::from(*b)),
        Data::Count(n) => out.extend_from_slice(&n.to_be_bytes()),
        Data::Integer(n) => out.extend_from_slice(&n.to_be_bytes()),
        Data::Real(x) => out.extend_from_slice(&pack_real(*x).to_be_bytes()),
        Data::String(s) => encode_bytes(s.as_bytes(), out),
        Data::Address(a) => out.extend_from_slice(&a.octets()),
        Data::Subnet(s) => {
            out.extend_from_slice(&s.network().octets());
            out.push(s.raw_len());
        }
        Data::Port(p) => {
            out.extend_from_slice(&p.number.to_be_bytes());
            out.push(p.protocol as u8);
        }
        Data::Timestamp(t) => out.extend_from_slice(&t.as_nanos().to_be_bytes()),
        Data::Timespan(t) => out.extend_from_slice(&t.as_nanos().to_be_bytes()),
        Data::EnumValue(e) => encode_bytes(e.name().as_bytes(), out),
        Data::Set(s) => {
            encode_varbyte(s.len(), out);
            s.iter().for_each(|item| encode_element(item, out));
        }
        Data::Table(t) => {
            encode_varbyte(t.len(), out);
            t.iter().for_each(|(k, v)| {
                encode_element(k, out);
                encode_element(v, out);
            });
        }
        Data::Vector(v) => {
            encode_varbyte(v.len(), out);
            for item in v {
                encode_element(item, out);
            }
        }
    }
}

/// A value, or a container's element: short strings (the most common
/// element) without a call, anything else through [`encode_value`].
#[inline(always)]
fn encode_element(item: &Data, out: &mut Vec<u8>) {
    if let Data::String(s) = item
        && let Some((len, buf)) = s.inline()
    {
        encode_inline(len, buf, out);
    } else {
        encode_value(item, out);
    }
}

/// A string kept inline (`len` bytes of `buf`): tag and length (one
/// varbyte byte: at most 22), then the whole buffer in one fixed-size copy,
/// cut to the string's length: no copy of a variable length per short
/// string. (Built in a temporary array first, the record was read back at
/// other widths than it was written, which stalled the copy.)
#[inline(always)]
fn encode_inline(len: u8, buf: &[u8; INLINE], out: &mut Vec<u8>) {
    let end = out.len() + 2 + usize::from(len);
    out.extend_from_slice(&[DataType::String.tag(), len]);
    out.extend_from_slice(buf);
    out.truncate(end);
}

/// Decodes exactly one bin v1 value that fills all of `input`.
pub fn decode(input: &[u8]) -> Result<Data, DecodeError> {
    // Decoded into the value returned (see `Reader::decode_into`).
    let mut value = Data::None;
    decode_in_place(input, &mut value)?;
    Ok(value)
}

/// [`decode`] into `slot`, which should hold [`Data::None`]: for a value
/// that is decoded where it stays (see `Core::deliver`). On error the slot
/// holds [`Data::None`] or, for trailing bytes, the value before them.
pub(crate) fn decode_in_place(input: &[u8], slot: &mut Data) -> Result<(), DecodeError> {
    let mut reader = Reader::new(input);
    reader.decode_into(0, slot).map_err(|e| *e)?;
    if reader.pos != input.len() {
        return Err(DecodeError::TrailingBytes {
            offset: reader.pos,
            count: input.len() - reader.pos,
        });
    }
    Ok(())
}

/// Why bytes are not a valid bin v1 value. Every variant carries the offset
/// into the input where the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The containers of the value hold more elements than the input's size
    /// allows (see [`element_limit`]): each element takes 32 bytes decoded,
    /// so input made of one-byte elements would otherwise grow 32-fold.
    #[error("more than {limit} container elements in {input} bytes (at offset {offset})")]
    TooManyElements {
        /// Offset of the container that went over.
        offset: usize,
        /// The limit for this input.
        limit: usize,
        /// The input's size.
        input: usize,
    },
    /// The input ended inside a value.
    #[error("input ends at offset {offset}, {needed} more bytes needed")]
    Truncated {
        /// Where the missing bytes should start.
        offset: usize,
        /// How many bytes were needed at least.
        needed: usize,
    },
    /// The first byte of a value is not a known type tag (0 to 14).
    #[error("unknown type tag {tag} at offset {offset}")]
    UnknownTag {
        /// Offset of the tag.
        offset: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A port's protocol byte is not 0 to 3.
    #[error("invalid port protocol {protocol} at offset {offset}")]
    InvalidPortProtocol {
        /// Offset of the protocol byte.
        offset: usize,
        /// The protocol byte.
        protocol: u8,
    },
    /// A varbyte has more than five bytes.
    #[error("varbyte longer than 5 bytes at offset {offset}")]
    VarbyteTooLong {
        /// Offset of the varbyte.
        offset: usize,
    },
    /// A varbyte's value is larger than `u32::MAX`.
    #[error("varbyte value above u32::MAX at offset {offset}")]
    VarbyteOverflow {
        /// Offset of the varbyte.
        offset: usize,
    },
    /// A string or enum length runs past the end of the input.
    #[error("length {declared} at offset {offset} exceeds the {remaining} bytes left")]
    LengthExceedsInput {
        /// Offset of the first content byte.
        offset: usize,
        /// The declared length.
        declared: u32,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A container claims more elements than the rest of the input can hold
    /// (every element takes at least one byte).
    #[error("element count {declared} at offset {offset} exceeds the {remaining} bytes left")]
    CountExceedsInput {
        /// Offset of the first element.
        offset: usize,
        /// The declared count.
        declared: u32,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A subnet's raw prefix length is above 128.
    #[error("subnet length {raw_len} above 128 at offset {offset}")]
    InvalidSubnetLength {
        /// Offset of the length byte.
        offset: usize,
        /// The raw length byte.
        raw_len: u8,
    },
    /// An enum name is not valid UTF-8.
    #[error("enum name at offset {offset} is not valid UTF-8")]
    InvalidEnumName {
        /// Offset of the name.
        offset: usize,
    },
    /// A set holds the same element twice.
    #[error("duplicate set element at offset {offset}")]
    DuplicateSetElement {
        /// Offset of the repeated element.
        offset: usize,
    },
    /// A table holds the same key twice.
    #[error("duplicate table key at offset {offset}")]
    DuplicateTableKey {
        /// Offset of the repeated key.
        offset: usize,
    },
    /// Containers are nested deeper than [`MAX_DEPTH`].
    #[error("containers nested deeper than {limit} at offset {offset}")]
    DepthLimitExceeded {
        /// Offset of the container that was one too deep.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes are left after the value.
    #[error("{count} trailing bytes after the value at offset {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes are left.
        count: usize,
    },
}

/// CAF's `pack754` for doubles, as Broker puts reals on the wire.
///
/// Finite values keep their IEEE bits. CAF writes subnormals with a wrapped
/// exponent that no decoder reads back correctly; we write their IEEE bits
/// instead (Broker reads those as a tiny normal number).
pub fn pack_real(x: f64) -> u64 {
    if x.is_nan() {
        CAF_NAN
    } else if x == f64::INFINITY {
        CAF_POS_INF
    } else if x == f64::NEG_INFINITY {
        CAF_NEG_INF
    } else {
        x.to_bits()
    }
}

/// The inverse of [`pack_real`]. Other all-ones-exponent patterns (NaNs
/// written by IEEE writers) are NaN; Broker would read some of them as +inf.
/// Every NaN becomes the one canonical `f64::NAN`, as the wire has only one.
pub fn unpack_real(bits: u64) -> f64 {
    match bits {
        CAF_NAN => f64::NAN,
        CAF_POS_INF => f64::INFINITY,
        CAF_NEG_INF => f64::NEG_INFINITY,
        _ => match f64::from_bits(bits) {
            x if x.is_nan() => f64::NAN,
            x => x,
        },
    }
}

/// Appends a varbyte (LEB128, at most five bytes). Broker limits lengths to
/// `u32`; larger values are a caller error that we saturate rather than wrap.
pub fn encode_varbyte(value: usize, out: &mut Vec<u8>) {
    let mut v = u32::try_from(value).unwrap_or(u32::MAX);
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_varbyte(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// A cursor over untrusted bytes. Public to the crate so the envelope and
/// handshake decoders share one implementation of the primitives.
pub(crate) struct Reader<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) pos: usize,
    /// Container elements still allowed (see [`element_limit`]).
    elements: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Reader<'a> {
        Reader {
            input,
            pos: 0,
            elements: element_limit(input.len()),
        }
    }

    /// A reader without the element budget, for input already checked.
    pub(crate) fn unlimited(input: &'a [u8]) -> Reader<'a> {
        Reader {
            input,
            pos: 0,
            elements: usize::MAX,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.input.len(),
                needed: n - self.remaining(),
            });
        }
        let bytes = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// The next `N` bytes as an array, read in one load (building it byte
    /// by byte and then reading it as a number stalled on store forwarding).
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        match rest.first_chunk::<N>() {
            Some(bytes) => {
                self.pos += N;
                Ok(*bytes)
            }
            None => Err(DecodeError::Truncated {
                offset: self.input.len(),
                needed: N - rest.len(),
            }),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    pub(crate) fn varbyte(&mut self) -> Result<u32, DecodeError> {
        let offset = self.pos;
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| DecodeError::VarbyteOverflow { offset });
            }
        }
        Err(DecodeError::VarbyteTooLong { offset })
    }

    /// A varbyte length followed by that many bytes.
    pub(crate) fn length_prefixed(&mut self) -> Result<&'a [u8], DecodeError> {
        let declared = self.varbyte()?;
        let len = declared as usize;
        if len > self.remaining() {
            return Err(DecodeError::LengthExceedsInput {
                offset: self.pos,
                declared,
                remaining: self.remaining(),
            });
        }
        self.take(len)
    }

    /// A string's body. Short strings followed by enough input are copied
    /// with fixed-size moves (see [`ByteString::from_window`]).
    #[inline]
    fn string(&mut self) -> Result<ByteString, DecodeError> {
        if let Some(&len) = self.input.get(self.pos)
            && usize::from(len) <= INLINE
        {
            let start = self.pos + 1;
            if let Some(Ok(window)) = self
                .input
                .get(start..start + INLINE)
                .map(<&[u8; INLINE]>::try_from)
            {
                self.pos = start + usize::from(len);
                return Ok(ByteString::from_window(window, usize::from(len)));
            }
        }
        Ok(ByteString::from(self.length_prefixed()?))
    }

    /// Decodes a value into `slot` (which holds [`Data::None`]). Short
    /// strings (the common element of sets) are built from registers and
    /// written into the slot where they stay, instead of being returned
    /// through memory and copied: copying freshly written small stores costs
    /// store-forwarding stalls, which dominated decoding sets of strings.
    #[inline]
    fn value_into(&mut self, depth: usize, slot: &mut Data) -> Result<(), Box<DecodeError>> {
        let pos = self.pos;
        if let Some(&[tag, len]) = self.input.get(pos..pos + 2).map(|b| [b[0], b[1]]).as_ref()
            && tag == DataType::String.tag()
            && usize::from(len) <= INLINE
            && let Some(Ok(window)) = self
                .input
                .get(pos + 2..pos + 2 + INLINE)
                .map(<&[u8; INLINE]>::try_from)
        {
            self.pos = pos + 2 + usize::from(len);
            let string = Data::String(ByteString::from_window(window, usize::from(len)));
            debug_assert!(matches!(slot, Data::None));
            // The slot held `Data::None`: nothing to drop (an assignment
            // would call the destructor of `Data` once per element).
            mem::forget(mem::replace(slot, string));
            return Ok(());
        }
        self.decode_into(depth, slot)
    }

    /// A varbyte element count, checked against the bytes left: each element
    /// needs at least `min_size` bytes.
    fn count(&mut self, min_size: usize) -> Result<usize, DecodeError> {
        let declared = self.varbyte()?;
        let count = declared as usize;
        if count.saturating_mul(min_size) > self.remaining() {
            return Err(DecodeError::CountExceedsInput {
                offset: self.pos,
                declared,
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    /// Errors are boxed so that the hot path moves small results.
    pub(crate) fn value(&mut self, depth: usize) -> Result<Data, Box<DecodeError>> {
        let mut value = Data::None;
        self.decode_into(depth, &mut value)?;
        Ok(value)
    }

    /// Decodes a value into `slot` (which holds [`Data::None`]). The value is
    /// built where it stays: returning it through memory to be copied into
    /// a container's slot read back the fresh stores in other sizes, a
    /// store-forwarding stall on every element.
    fn decode_into(&mut self, depth: usize, slot: &mut Data) -> Result<(), Box<DecodeError>> {
        let offset = self.pos;
        let tag = self.u8()?;
        let Some(data_type) = DataType::from_tag(tag) else {
            return Err(Box::new(DecodeError::UnknownTag { offset, tag }));
        };
        let value = match data_type {
            DataType::None => Data::None,
            DataType::Boolean => Data::Boolean(self.u8()? != 0),
            DataType::Count => Data::Count(self.u64()?),
            DataType::Integer => Data::Integer(self.i64()?),
            DataType::Real => Data::Real(unpack_real(self.u64()?)),
            DataType::String => Data::String(self.string()?),
            DataType::Address => Data::Address(Address::from_octets(self.array()?)),
            DataType::Subnet => {
                let addr = Address::from_octets(self.array()?);
                let len_offset = self.pos;
                let raw_len = self.u8()?;
                let subnet = Subnet::from_raw(addr, raw_len).map_err(|_| {
                    DecodeError::InvalidSubnetLength {
                        offset: len_offset,
                        raw_len,
                    }
                })?;
                Data::Subnet(subnet)
            }
            DataType::Port => {
                let number = u16::from_be_bytes(self.array()?);
                let proto_offset = self.pos;
                let protocol = self.u8()?;
                let protocol =
                    Protocol::from_u8(protocol).ok_or(DecodeError::InvalidPortProtocol {
                        offset: proto_offset,
                        protocol,
                    })?;
                Data::Port(Port::new(number, protocol))
            }
            DataType::Timestamp => Data::Timestamp(Timestamp::from_nanos(self.i64()?)),
            DataType::Timespan => Data::Timespan(Timespan::from_nanos(self.i64()?)),
            DataType::EnumValue => {
                let name_offset = self.pos;
                let string = self.string()?;
                if string.as_str().is_none() {
                    return Err(Box::new(DecodeError::InvalidEnumName {
                        offset: name_offset,
                    }));
                }
                Data::EnumValue(EnumValue::from_utf8(string))
            }
            DataType::Set => {
                self.check_depth(depth, offset)?;
                let count = self.count(1)?;
                Data::Set(self.set(count, depth)?)
            }
            DataType::Table => {
                self.check_depth(depth, offset)?;
                let count = self.count(2)?;
                let start = self.pos;
                let entries = self.slots(count, |reader, (key, value): &mut (Data, Data)| {
                    reader.value_into(depth + 1, key)?;
                    reader.value_into(depth + 1, value)
                })?;
                match Table::from_unique(entries) {
                    Some(table) => Data::Table(table),
                    None => {
                        let offset = self.first_duplicate(start, count, depth, true);
                        return Err(Box::new(DecodeError::DuplicateTableKey { offset }));
                    }
                }
            }
            DataType::Vector => {
                self.check_depth(depth, offset)?;
                let count = self.count(1)?;
                // Reserve little up front: nested vectors could otherwise
                // each reserve for the whole rest of the input.
                Data::Vector(self.slots(count, |reader, item| reader.value_into(depth + 1, item))?)
            }
        };
        // As in `value_into`: the slot held `Data::None`.
        debug_assert!(matches!(slot, Data::None));
        mem::forget(mem::replace(slot, value));
        Ok(())
    }

    fn check_depth(&self, depth: usize, offset: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::DepthLimitExceeded {
                offset,
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    /// The elements of a set, decoded in place into a vector that becomes
    /// the set: Broker writes sets sorted, so this is one pass plus one
    /// check of the order (unsorted input is sorted).
    fn set(&mut self, count: usize, depth: usize) -> Result<Set, Box<DecodeError>> {
        let start = self.pos;
        let items = self.slots(count, |reader, (item, ()): &mut (Data, ())| {
            reader.value_into(depth + 1, item)
        })?;
        Set::from_unique(items).ok_or_else(|| {
            let offset = self.first_duplicate(start, count, depth, false);
            Box::new(DecodeError::DuplicateSetElement { offset })
        })
    }

    /// `count` vector elements, set elements or table entries, decoded by
    /// `decode` in place into the slots of a vector. The slots are filled
    /// with default values ahead of decoding, at most [`PREALLOCATE`] more
    /// than decoded so far, so that hostile counts cannot reserve much.
    fn slots<T: Default>(
        &mut self,
        count: usize,
        mut decode: impl FnMut(&mut Self, &mut T) -> Result<(), Box<DecodeError>>,
    ) -> Result<Vec<T>, Box<DecodeError>> {
        let per_slot = size_of::<T>().div_ceil(size_of::<Data>()).max(1);
        let Some(left) = self.elements.checked_sub(count.saturating_mul(per_slot)) else {
            return Err(Box::new(DecodeError::TooManyElements {
                offset: self.pos,
                limit: element_limit(self.input.len()),
                input: self.input.len(),
            }));
        };
        self.elements = left;
        // Exactly the first slots (growing an empty vector would round
        // small containers up to four slots).
        let mut slots = Vec::with_capacity(count.min(PREALLOCATE));
        slots.resize_with(count.min(PREALLOCATE), T::default);
        for i in 0..count {
            if i == slots.len() {
                slots.resize_with(count.min(2 * i), T::default);
            }
            decode(self, &mut slots[i])?;
        }
        Ok(slots)
    }

    /// The offset of the first repeated element (or key) among the `count`
    /// elements (or entries) of a set (or table) that start at `start`. Only
    /// called once the container turned out to hold fewer elements than it
    /// declared, so the happy path neither records offsets nor compares
    /// elements beyond what building the B-tree needs. The elements decoded
    /// before, so they decode again.
    fn first_duplicate(&self, start: usize, count: usize, depth: usize, table: bool) -> usize {
        let mut again = Reader {
            input: self.input,
            pos: start,
            elements: usize::MAX,
        };
        let mut keys = Vec::with_capacity(count.min(PREALLOCATE));
        let mut offsets = Vec::with_capacity(count.min(PREALLOCATE));
        for _ in 0..count {
            offsets.push(again.pos);
            let Ok(key) = again.value(depth + 1) else {
                return start;
            };
            keys.push(key);
            if table && again.value(depth + 1).is_err() {
                return start;
            }
        }
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
        order
            .windows(2)
            .filter(|w| keys[w[0]] == keys[w[1]])
            .map(|w| offsets[w[1]])
            .min()
            .unwrap_or(start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn varbyte_encodes_leb128() {
        let mut out = Vec::new();
        encode_varbyte(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        encode_varbyte(u32::MAX as usize, &mut out);
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 0x0f]);
    }

    #[test]
    fn reals_use_the_caf_special_values() {
        assert_eq!(pack_real(f64::INFINITY), 0xfff0_0000_0000_0000);
        assert_eq!(pack_real(f64::NEG_INFINITY), 0x7ff0_0000_0000_0000);
        assert_eq!(pack_real(-f64::NAN), u64::MAX);
        assert_eq!(pack_real(-0.0), 0x8000_0000_0000_0000);
        assert_eq!(unpack_real(0xfff0_0000_0000_0000), f64::INFINITY);
        assert!(unpack_real(0x7ff8_0000_0000_0000).is_nan());
        for nan_bits in [
            0x7ff0_0000_0000_0001,
            0xfff8_0000_0000_0000,
            0x7fff_ffff_ffff_ffff,
        ] {
            assert_eq!(unpack_real(nan_bits).to_bits(), f64::NAN.to_bits());
        }
        assert_eq!(unpack_real(1), 5e-324);
    }

    // One test per DecodeError variant.

    #[test]
    fn decode_rejects_truncated_input() {
        assert_eq!(
            decode(&hex("0200000000")),
            Err(DecodeError::Truncated {
                offset: 5,
                needed: 4
            })
        );
        assert!(matches!(decode(&[]), Err(DecodeError::Truncated { .. })));
    }

    #[test]
    fn decode_rejects_unknown_tags() {
        assert_eq!(
            decode(&hex("0e010f")),
            Err(DecodeError::UnknownTag { offset: 2, tag: 15 })
        );
    }

    #[test]
    fn decode_rejects_port_protocol_above_3() {
        assert_eq!(
            decode(&hex("08005004")),
            Err(DecodeError::InvalidPortProtocol {
                offset: 3,
                protocol: 4
            })
        );
    }

    #[test]
    fn decode_rejects_varbytes_longer_than_five_bytes() {
        assert_eq!(
            decode(&hex("05808080808000")),
            Err(DecodeError::VarbyteTooLong { offset: 1 })
        );
    }

    #[test]
    fn decode_rejects_varbytes_above_u32() {
        assert_eq!(
            decode(&hex("0e8080808010")),
            Err(DecodeError::VarbyteOverflow { offset: 1 })
        );
    }

    #[test]
    fn decode_rejects_lengths_past_the_end() {
        assert_eq!(
            decode(&hex("05ffffffff0f")),
            Err(DecodeError::LengthExceedsInput {
                offset: 6,
                declared: u32::MAX,
                remaining: 0
            })
        );
    }

    #[test]
    fn decode_rejects_counts_past_the_end_without_allocating() {
        assert_eq!(
            decode(&hex("0effffffff0f")),
            Err(DecodeError::CountExceedsInput {
                offset: 6,
                declared: u32::MAX,
                remaining: 0
            })
        );
        // A table entry needs two bytes at least.
        assert!(matches!(
            decode(&hex("0d020000")),
            Err(DecodeError::CountExceedsInput { declared: 2, .. })
        ));
    }

    #[test]
    fn decode_rejects_subnet_lengths_above_128() {
        assert_eq!(
            decode(&hex("0720010000000000000000000000000000c8")),
            Err(DecodeError::InvalidSubnetLength {
                offset: 17,
                raw_len: 200
            })
        );
    }

    #[test]
    fn decode_rejects_enum_names_that_are_not_utf8() {
        assert_eq!(
            decode(&hex("0b01ff")),
            Err(DecodeError::InvalidEnumName { offset: 1 })
        );
    }

    #[test]
    fn decode_rejects_duplicate_set_elements() {
        assert_eq!(
            decode(&hex("0c02050161050161")),
            Err(DecodeError::DuplicateSetElement { offset: 5 })
        );
    }

    #[test]
    fn large_sets_and_tables_find_duplicates_in_any_order() {
        let count = |n: u64| {
            let mut v = vec![0x02];
            v.extend_from_slice(&n.to_be_bytes());
            v
        };
        // Six counts, unsorted, with 3 repeated as the fifth element.
        let mut set = vec![0x0c, 0x06];
        let mut offsets = Vec::new();
        for n in [5, 3, 9, 1, 3, 7] {
            offsets.push(set.len());
            set.extend(count(n));
        }
        assert_eq!(
            decode(&set),
            Err(DecodeError::DuplicateSetElement { offset: offsets[4] })
        );
        let mut table = vec![0x0d, 0x06];
        let mut key_offsets = Vec::new();
        for n in [5, 3, 9, 1, 9, 7] {
            key_offsets.push(table.len());
            table.extend(count(n));
            table.push(0x00);
        }
        assert_eq!(
            decode(&table),
            Err(DecodeError::DuplicateTableKey {
                offset: key_offsets[4]
            })
        );
        // Without the duplicate, unsorted input decodes and sorts.
        let mut ok = vec![0x0c, 0x06];
        for n in [5, 3, 9, 1, 4, 7] {
            ok.extend(count(n));
        }
        let Ok(Data::Set(s)) = decode(&ok) else {
            panic!("not a set")
        };
        let sorted: Vec<u64> = s.iter().filter_map(Data::as_count).collect();
        assert_eq!(sorted, [1, 3, 4, 5, 7, 9]);
    }

    #[test]
    fn decode_rejects_duplicate_table_keys() {
        assert_eq!(
            decode(&hex("0d02050161020000000000000001050161020000000000000002")),
            Err(DecodeError::DuplicateTableKey { offset: 14 })
        );
    }

    #[test]
    fn decode_limits_elements_by_the_input_size() {
        // 200,000 nils in 200 KB would take 6.4 MB decoded: refused.
        let n = 200_000;
        let mut nils = vec![14];
        encode_varbyte(n, &mut nils);
        nils.resize(nils.len() + n, 0);
        assert!(matches!(
            decode(&nils),
            Err(DecodeError::TooManyElements { offset: 4, limit, input })
                if limit == element_limit(nils.len()) && input == nils.len()
        ));
        // The same count of elements with real content decodes.
        let counts = encode(&Data::Vector((0..n as u64).map(Data::Count).collect()));
        assert_eq!(decode(&counts).unwrap().as_vector().unwrap().len(), n);
        // Small values are never refused, whatever their elements.
        let small = encode(&Data::Vector(vec![Data::None; 60_000]));
        assert!(decode(&small).is_ok());
        // Tables count keys and values.
        let entries = (0..40_000u64).map(|i| (Data::Count(i), Data::None));
        let table = encode(&Data::Table(entries.collect()));
        assert!(decode(&table).is_ok(), "80,000 elements in 400 KB");
    }

    #[test]
    fn decode_rejects_deep_nesting() {
        let mut bytes = Vec::new();
        for _ in 0..=MAX_DEPTH {
            bytes.extend_from_slice(&[0x0e, 0x01]);
        }
        bytes.push(0x00);
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::DepthLimitExceeded {
                offset: 2 * MAX_DEPTH,
                limit: MAX_DEPTH
            })
        );
        // One level less is fine.
        assert!(decode(&bytes[2..]).is_ok());
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        assert_eq!(
            decode(&hex("0000")),
            Err(DecodeError::TrailingBytes {
                offset: 1,
                count: 1
            })
        );
    }

    #[test]
    fn decode_masks_subnet_host_bits() {
        let data = decode(&hex("0700000000000000000000ffffc0a8010778")).unwrap();
        assert_eq!(data.to_string(), "192.168.1.0/24");
    }
}
