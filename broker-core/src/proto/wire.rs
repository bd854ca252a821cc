//! Broker's wire format, protocol version 1: frames, handshake messages and
//! envelopes.
//!
//! Every message is a frame: a big-endian `u32` length (not counting itself)
//! and that many bytes. During the handshake a frame holds one
//! [`HandshakeMessage`]; afterwards it holds one [`Envelope`].

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

use super::EndpointId;
use crate::data::bin::{DecodeError, Reader, encode_varbyte};
use crate::topic::Topic;

/// "ZEEK": the magic number in hello, probe, version_select and drop_conn.
pub const MAGIC: u32 = 0x5a45_454b;

/// The protocol version Broker speaks.
pub const PROTOCOL_VERSION_1: u8 = 1;

/// Our extension: version 1 plus an envelope that carries the origin endpoint
/// and a per-origin sequence number (see `docs/zeek-compatibility.md`). Only
/// selected between two broker-rs endpoints.
pub const PROTOCOL_VERSION_2: u8 = 2;

/// The TTL Broker writes into every envelope.
pub const DEFAULT_TTL: u16 = 16;

/// The topic of routing updates, pings and pongs.
pub const CONTROL_TOPIC: &str = "<$>";

/// The default largest frame we accept (64 MiB, CAF's default).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Why bytes on the wire are not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// A frame's length prefix exceeds the configured maximum.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The claimed length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Partly received frames of all connections hold more than allowed.
    #[error("partly received frames of all peers hold {total} bytes, above the limit of {max}")]
    InputBufferExceeded {
        /// Bytes held, this connection's included.
        total: usize,
        /// The limit.
        max: usize,
    },
    /// A frame's length prefix is zero.
    #[error("empty frame")]
    EmptyFrame,
    /// A handshake message has an unknown tag.
    #[error("unknown handshake message tag {0}")]
    UnknownTag(u8),
    /// A handshake message has the wrong magic number.
    #[error("wrong magic number {0:#010x}")]
    WrongMagic(u32),
    /// An envelope is shorter than its 37-byte header.
    #[error("envelope of {0} bytes is shorter than its 37-byte header")]
    EnvelopeTooShort(usize),
    /// An envelope has an unknown message type.
    #[error("unknown envelope type {0}")]
    UnknownEnvelopeType(u8),
    /// A topic or filter entry is not valid UTF-8 or too long.
    #[error("invalid topic in message")]
    InvalidTopic,
    /// A filter (in a handshake or routing update) has more entries than
    /// [`MAX_FILTER_SIZE`].
    #[error("filter of {count} topics exceeds the maximum of {MAX_FILTER_SIZE}")]
    FilterTooLarge {
        /// The claimed number of entries.
        count: usize,
    },
    /// A field is malformed.
    #[error("malformed message: {0}")]
    Malformed(#[from] DecodeError),
}

/// How far ahead of the bytes received a frame's buffer is reserved.
const RESERVE_AHEAD: usize = 1 << 20;

/// Splits a byte stream into frames, checking lengths before buffering them.
///
/// ```
/// use broker_core::proto::wire::FrameDecoder;
///
/// let mut frames = FrameDecoder::new(1024);
/// frames.extend(&[0, 0, 0, 5, 7, 0x5a, 0x45]);
/// assert_eq!(frames.next_frame().unwrap(), None); // incomplete
/// frames.extend(&[0x45, 0x4b]);
/// assert_eq!(frames.next_frame().unwrap().unwrap().as_ref(), &[7, 0x5a, 0x45, 0x45, 0x4b]);
/// frames.extend(&[0xff, 0xff, 0xff, 0xff]);
/// assert!(frames.next_frame().is_err()); // 4 GiB claimed: rejected, nothing allocated
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    /// Where the frames not yet returned start (frames returned in place
    /// stay in `buf` until the next `extend` or `compact`).
    read: usize,
    max_frame_size: usize,
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `max_frame_size`.
    pub fn new(max_frame_size: usize) -> FrameDecoder {
        FrameDecoder {
            buf: BytesMut::new(),
            read: 0,
            max_frame_size,
        }
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's payload, if one is buffered. Errors are
    /// final: the stream cannot be resynchronized.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, WireError> {
        self.compact();
        let Some(len) = self.next_frame_len()? else {
            return Ok(None);
        };
        self.compact(); // the length prefix
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Like [`FrameDecoder::next_frame`], but the frame is borrowed from the
    /// buffer (no reference-counted split per frame); the bytes of the
    /// frames returned so are released at the next `extend` or
    /// [`FrameDecoder::compact`].
    pub(crate) fn next_frame_in_place(&mut self) -> Result<Option<&[u8]>, WireError> {
        match self.next_frame_len()? {
            Some(len) => {
                let start = self.read;
                self.read += len;
                Ok(Some(&self.buf[start..start + len]))
            }
            None => Ok(None),
        }
    }

    /// Releases the frames already returned in place.
    pub(crate) fn compact(&mut self) {
        if self.read > 0 {
            self.buf.advance(self.read);
            self.read = 0;
        }
    }

    /// Checks the length of the next frame at `read` and skips its prefix;
    /// `Some(len)` once the whole frame is buffered.
    fn next_frame_len(&mut self) -> Result<Option<usize>, WireError> {
        let rest = &self.buf[self.read..];
        let Some(prefix) = rest.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = self.checked_len(prefix)?;
        if rest.len() < 4 + len {
            // Reserve what the claimed (and accepted) length needs, but at
            // most `RESERVE_AHEAD` beyond what arrived: a peer that claims a
            // large frame and sends nothing costs nothing.
            let missing = 4 + len - rest.len();
            self.compact();
            self.buf.reserve(missing.min(RESERVE_AHEAD));
            return Ok(None);
        }
        self.read += 4;
        Ok(Some(len))
    }

    /// How many more bytes complete the length prefix of the next frame
    /// or, once that is buffered, the frame itself (as claimed: the length
    /// is checked when the frame is read).
    pub(crate) fn missing(&self) -> usize {
        let rest = &self.buf[self.read..];
        match rest.first_chunk::<4>() {
            Some(prefix) => (4 + u32::from_be_bytes(*prefix) as usize).saturating_sub(rest.len()),
            None => 4 - rest.len(),
        }
    }

    /// The frame length in a prefix, if acceptable.
    fn checked_len(&self, prefix: &[u8; 4]) -> Result<usize, WireError> {
        let len = u32::from_be_bytes(*prefix) as usize;
        if len == 0 {
            return Err(WireError::EmptyFrame);
        }
        if len > self.max_frame_size {
            return Err(WireError::FrameTooLarge {
                len,
                max: self.max_frame_size,
            });
        }
        Ok(len)
    }

    /// With nothing buffered, where the payload of the frame that starts
    /// `bytes` lies in `bytes`, if all of it is there, so that it can be read
    /// where it arrived instead of being copied into the buffer first; `None`
    /// if `bytes` holds no complete frame (then [`FrameDecoder::extend`]
    /// takes them). The checks are those of [`FrameDecoder::next_frame`].
    pub(crate) fn whole_frame(&self, bytes: &[u8]) -> Result<Option<Range<usize>>, WireError> {
        debug_assert_eq!(self.buffered(), 0);
        let Some(prefix) = bytes.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = self.checked_len(prefix)?;
        Ok((bytes.len() - 4 >= len).then_some(4..4 + len))
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.read
    }
}

/// Appends a frame (length prefix and payload) produced by `write`.
pub fn write_frame(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    write(out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A message of the handshake (phases 1 and 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeMessage {
    /// Tag 6: who we are and which versions we speak.
    Hello {
        /// The sender's id.
        sender: EndpointId,
        /// The lowest version offered.
        min_version: u8,
        /// The highest version offered.
        max_version: u8,
    },
    /// Tag 7: sent by the accepting side right after accepting.
    Probe,
    /// Tag 8: the originator's choice of version.
    VersionSelect {
        /// The sender's id.
        sender: EndpointId,
        /// The version to speak.
        version: u8,
    },
    /// Tag 9: the connection is refused.
    DropConn {
        /// The sender's id.
        sender: EndpointId,
        /// A Broker error code.
        code: u8,
        /// Why.
        description: String,
    },
    /// Tag 10: the originator's filter.
    OriginatorSyn {
        /// Subscribed prefixes.
        filter: Vec<Topic>,
    },
    /// Tag 11: the responder's filter.
    ResponderSynAck {
        /// Subscribed prefixes.
        filter: Vec<Topic>,
    },
    /// Tag 12: the handshake is complete.
    OriginatorAck,
}

impl HandshakeMessage {
    /// The message's tag byte.
    pub fn tag(&self) -> u8 {
        match self {
            HandshakeMessage::Hello { .. } => 6,
            HandshakeMessage::Probe => 7,
            HandshakeMessage::VersionSelect { .. } => 8,
            HandshakeMessage::DropConn { .. } => 9,
            HandshakeMessage::OriginatorSyn { .. } => 10,
            HandshakeMessage::ResponderSynAck { .. } => 11,
            HandshakeMessage::OriginatorAck => 12,
        }
    }

    /// Appends the message payload (without length prefix).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            HandshakeMessage::Hello {
                sender,
                min_version,
                max_version,
            } => {
                out.extend_from_slice(&MAGIC.to_be_bytes());
                out.extend_from_slice(sender.as_bytes());
                out.push(*min_version);
                out.push(*max_version);
            }
            HandshakeMessage::Probe => out.extend_from_slice(&MAGIC.to_be_bytes()),
            HandshakeMessage::VersionSelect { sender, version } => {
                out.extend_from_slice(&MAGIC.to_be_bytes());
                out.extend_from_slice(sender.as_bytes());
                out.push(*version);
            }
            HandshakeMessage::DropConn {
                sender,
                code,
                description,
            } => {
                out.extend_from_slice(&MAGIC.to_be_bytes());
                out.extend_from_slice(sender.as_bytes());
                out.push(*code);
                encode_varbyte(description.len(), out);
                out.extend_from_slice(description.as_bytes());
            }
            HandshakeMessage::OriginatorSyn { filter }
            | HandshakeMessage::ResponderSynAck { filter } => encode_filter(filter, out),
            HandshakeMessage::OriginatorAck => {}
        }
    }

    /// Appends the message as a frame.
    pub fn encode_frame(&self, out: &mut Vec<u8>) {
        write_frame(out, |out| self.encode(out));
    }

    /// Decodes a frame payload.
    pub fn decode(payload: &[u8]) -> Result<HandshakeMessage, WireError> {
        let mut r = Reader::new(payload);
        let tag = r.u8()?;
        let magic = |r: &mut Reader<'_>| -> Result<(), WireError> {
            let magic = u32::from_be_bytes(r.array()?);
            if magic == MAGIC {
                Ok(())
            } else {
                Err(WireError::WrongMagic(magic))
            }
        };
        let msg = match tag {
            6 => {
                magic(&mut r)?;
                HandshakeMessage::Hello {
                    sender: EndpointId::from_bytes(r.array()?),
                    min_version: r.u8()?,
                    max_version: r.u8()?,
                }
            }
            7 => {
                magic(&mut r)?;
                HandshakeMessage::Probe
            }
            8 => {
                magic(&mut r)?;
                HandshakeMessage::VersionSelect {
                    sender: EndpointId::from_bytes(r.array()?),
                    version: r.u8()?,
                }
            }
            9 => {
                magic(&mut r)?;
                let sender = EndpointId::from_bytes(r.array()?);
                let code = r.u8()?;
                let description = String::from_utf8_lossy(r.length_prefixed()?).into_owned();
                HandshakeMessage::DropConn {
                    sender,
                    code,
                    description,
                }
            }
            10 => HandshakeMessage::OriginatorSyn {
                filter: decode_filter(&mut r)?,
            },
            11 => HandshakeMessage::ResponderSynAck {
                filter: decode_filter(&mut r)?,
            },
            12 => HandshakeMessage::OriginatorAck,
            other => return Err(WireError::UnknownTag(other)),
        };
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                offset: r.pos,
                count: r.remaining(),
            }
            .into());
        }
        Ok(msg)
    }
}

/// Appends a filter: a varbyte count, then each topic as varbyte length + bytes.
pub fn encode_filter<'a>(filter: impl IntoIterator<Item = &'a Topic>, out: &mut Vec<u8>) {
    let topics: Vec<&Topic> = filter.into_iter().collect();
    encode_varbyte(topics.len(), out);
    for topic in topics {
        encode_varbyte(topic.as_str().len(), out);
        out.extend_from_slice(topic.as_str().as_bytes());
    }
}

/// The most topics a peer's filter may hold (a handshake or a routing
/// update with more closes the connection). Real deployments subscribe to
/// tens of prefixes; the limit leaves room for hundreds of thousands while
/// bounding what one peer can make us index.
pub const MAX_FILTER_SIZE: usize = 1 << 18;

fn decode_filter(r: &mut Reader<'_>) -> Result<Vec<Topic>, WireError> {
    let count = r.varbyte()? as usize;
    if count > MAX_FILTER_SIZE {
        return Err(WireError::FilterTooLarge { count });
    }
    // Each entry takes at least one byte.
    if count > r.remaining() {
        return Err(DecodeError::CountExceedsInput {
            offset: r.pos,
            declared: count as u32,
            remaining: r.remaining(),
        }
        .into());
    }
    (0..count)
        .map(|_| Topic::from_bytes(r.length_prefixed()?).map_err(|_| WireError::InvalidTopic))
        .collect()
}

/// Decodes a filter from a routing update's payload.
pub fn decode_filter_payload(payload: &[u8]) -> Result<Vec<Topic>, WireError> {
    let mut r = Reader::new(payload);
    let filter = decode_filter(&mut r)?;
    if r.remaining() != 0 {
        return Err(DecodeError::TrailingBytes {
            offset: r.pos,
            count: r.remaining(),
        }
        .into());
    }
    Ok(filter)
}

/// The type of an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EnvelopeType {
    /// A published value.
    Data = 1,
    /// A data-store command.
    Command = 2,
    /// The sender's complete filter.
    RoutingUpdate = 3,
    /// A ping, echoed by a pong.
    Ping = 4,
    /// The answer to a ping.
    Pong = 5,
}

impl EnvelopeType {
    fn from_u8(n: u8) -> Option<EnvelopeType> {
        match n {
            1 => Some(EnvelopeType::Data),
            2 => Some(EnvelopeType::Command),
            3 => Some(EnvelopeType::RoutingUpdate),
            4 => Some(EnvelopeType::Ping),
            5 => Some(EnvelopeType::Pong),
            _ => None,
        }
    }
}

/// The origin and sequence number that version 2 envelopes carry after the
/// topic, for duplicate suppression. The nil origin means "unknown" (a
/// message that entered our network from a Broker peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The endpoint that published the message.
    pub endpoint: EndpointId,
    /// Its per-origin sequence number.
    pub seq: u64,
}

/// Size of the version 2 extension.
pub const ORIGIN_LEN: usize = 24;

/// An operational message: a 37-byte header, the topic, and the payload.
///
/// | offset | size | field |
/// |---:|---:|---|
/// | 0 | 16 | sender (the last hop) |
/// | 16 | 16 | receiver (nil: by subscription) |
/// | 32 | 1 | type |
/// | 33 | 2 | TTL |
/// | 35 | 2 | topic length |
/// | 37 | n | topic |
/// | 37+n | rest | payload (version 2: 24 bytes of [`Origin`] first) |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The last hop.
    pub sender: EndpointId,
    /// The addressee, or nil.
    pub receiver: EndpointId,
    /// What the payload is.
    pub kind: EnvelopeType,
    /// Hops left.
    pub ttl: u16,
    /// The topic.
    pub topic: Topic,
    /// Version 2 only: origin and sequence number.
    pub origin: Option<Origin>,
    /// The payload (bin v1 for data messages).
    pub payload: Bytes,
}

/// The fixed part of an envelope.
pub const ENVELOPE_HEADER_LEN: usize = 37;

impl Envelope {
    /// Decodes a frame payload; `version` says whether the version 2
    /// extension is present.
    pub fn decode(frame: Bytes, version: u8) -> Result<Envelope, WireError> {
        Envelope::decode_cached(frame, version, &mut None)
    }

    /// Like [`Envelope::decode`], reusing `last` when the topic is the same
    /// as the previous message's (peers tend to send runs of one topic), and
    /// remembering this topic in it.
    pub fn decode_cached(
        frame: Bytes,
        version: u8,
        last: &mut Option<Topic>,
    ) -> Result<Envelope, WireError> {
        let env = EnvelopeRef::decode_cached(&frame, version, last)?;
        Ok(Envelope {
            sender: env.sender,
            receiver: env.receiver,
            kind: env.kind,
            ttl: env.ttl,
            topic: env.topic,
            origin: env.origin,
            payload: frame.slice_ref(env.payload),
        })
    }

    /// Appends the envelope as a frame in the given protocol version: the
    /// origin is written only for version 2.
    pub fn encode_frame(&self, version: u8, out: &mut Vec<u8>) {
        encode_envelope_frame(
            out,
            EnvelopeHeader {
                sender: self.sender,
                receiver: self.receiver,
                kind: self.kind,
                ttl: self.ttl,
                topic: &self.topic,
                origin: self.origin,
            },
            version,
            &self.payload,
        );
    }
}

/// An envelope borrowed from the frame it was decoded from: the core reads
/// frames in place, so a message costs no reference-counted buffer.
#[derive(Clone, Debug)]
pub(crate) struct EnvelopeRef<'a> {
    pub(crate) sender: EndpointId,
    pub(crate) receiver: EndpointId,
    pub(crate) kind: EnvelopeType,
    pub(crate) ttl: u16,
    pub(crate) topic: Topic,
    pub(crate) origin: Option<Origin>,
    pub(crate) payload: &'a [u8],
}

impl<'a> EnvelopeRef<'a> {
    /// Decodes a frame payload in place; `last` is the connection's last
    /// topic, reused (not allocated again) while the topic repeats.
    pub(crate) fn decode_cached(
        frame: &'a [u8],
        version: u8,
        last: &mut Option<Topic>,
    ) -> Result<EnvelopeRef<'a>, WireError> {
        if frame.len() < ENVELOPE_HEADER_LEN {
            return Err(WireError::EnvelopeTooShort(frame.len()));
        }
        let id = |range: std::ops::Range<usize>| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&frame[range]);
            EndpointId::from_bytes(bytes)
        };
        let sender = id(0..16);
        let receiver = id(16..32);
        let kind =
            EnvelopeType::from_u8(frame[32]).ok_or(WireError::UnknownEnvelopeType(frame[32]))?;
        let ttl = u16::from_be_bytes([frame[33], frame[34]]);
        let topic_len = usize::from(u16::from_be_bytes([frame[35], frame[36]]));
        let topic_end = ENVELOPE_HEADER_LEN + topic_len;
        if frame.len() < topic_end {
            return Err(DecodeError::LengthExceedsInput {
                offset: ENVELOPE_HEADER_LEN,
                declared: topic_len as u32,
                remaining: frame.len() - ENVELOPE_HEADER_LEN,
            }
            .into());
        }
        let topic_bytes = &frame[ENVELOPE_HEADER_LEN..topic_end];
        let topic = match last {
            Some(t) if t.as_str().as_bytes() == topic_bytes => t.clone(),
            _ => {
                let t = Topic::from_bytes(topic_bytes).map_err(|_| WireError::InvalidTopic)?;
                *last = Some(t.clone());
                t
            }
        };
        let mut payload_start = topic_end;
        let origin = if version >= PROTOCOL_VERSION_2 {
            if frame.len() < topic_end + ORIGIN_LEN {
                return Err(DecodeError::Truncated {
                    offset: frame.len(),
                    needed: topic_end + ORIGIN_LEN - frame.len(),
                }
                .into());
            }
            let endpoint = id(topic_end..topic_end + 16);
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&frame[topic_end + 16..topic_end + ORIGIN_LEN]);
            payload_start += ORIGIN_LEN;
            Some(Origin {
                endpoint,
                seq: u64::from_be_bytes(seq),
            })
        } else {
            None
        };
        Ok(EnvelopeRef {
            sender,
            receiver,
            kind,
            ttl,
            topic,
            origin,
            payload: &frame[payload_start..],
        })
    }
}

/// The header fields of an envelope, borrowed, for encoding.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeHeader<'a> {
    /// The last hop (us, when we send).
    pub sender: EndpointId,
    /// The addressee, or nil.
    pub receiver: EndpointId,
    /// What the payload is.
    pub kind: EnvelopeType,
    /// Hops left.
    pub ttl: u16,
    /// The topic.
    pub topic: &'a Topic,
    /// Origin and sequence number (written only in version 2).
    pub origin: Option<Origin>,
}

/// Appends an envelope frame without building an [`Envelope`].
pub fn encode_envelope_frame(
    out: &mut Vec<u8>,
    header: EnvelopeHeader<'_>,
    version: u8,
    payload: &[u8],
) {
    out.reserve(envelope_prefix_len(header, version) + payload.len());
    encode_envelope_prefix(out, header, version, payload.len());
    out.extend_from_slice(payload);
}

/// The bytes of an envelope frame before its payload: the length prefix and
/// the header.
fn envelope_prefix_len(header: EnvelopeHeader<'_>, version: u8) -> usize {
    let ext = if version >= PROTOCOL_VERSION_2 {
        ORIGIN_LEN
    } else {
        0
    };
    4 + ENVELOPE_HEADER_LEN + header.topic.as_str().len() + ext
}

/// Appends what [`encode_envelope_frame`] writes before the payload (the
/// length prefix, which counts a payload of `payload_len` bytes, and the
/// header), so that a caller can put the payload after it without copying
/// it into a frame first.
pub(crate) fn encode_envelope_prefix(
    out: &mut Vec<u8>,
    header: EnvelopeHeader<'_>,
    version: u8,
    payload_len: usize,
) {
    let topic = header.topic.as_str().as_bytes();
    let prefix = envelope_prefix_len(header, version);
    let len = prefix - 4 + payload_len;
    out.reserve(prefix);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(header.sender.as_bytes());
    out.extend_from_slice(header.receiver.as_bytes());
    out.push(header.kind as u8);
    out.extend_from_slice(&header.ttl.to_be_bytes());
    // Topic guarantees the length fits in a u16.
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    if version >= PROTOCOL_VERSION_2 {
        let origin = header.origin.unwrap_or(Origin {
            endpoint: EndpointId::NIL,
            seq: 0,
        });
        out.extend_from_slice(origin.endpoint.as_bytes());
        out.extend_from_slice(&origin.seq.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: EndpointId = EndpointId::from_bytes([
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x41, 0x11, 0x81, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11,
    ]);

    #[test]
    fn frames_read_in_place_match_frames_split_off() {
        // Three frames arriving in uneven pieces, read in place by one
        // decoder and split off by another: the same frames, and nothing
        // kept once they are read.
        let bodies: [&[u8]; 3] = [b"a", b"bcdef", &[9; 300]];
        let mut stream = Vec::new();
        for body in bodies {
            write_frame(&mut stream, |out| out.extend_from_slice(body));
        }
        let mut in_place = FrameDecoder::new(1024);
        let mut split = FrameDecoder::new(1024);
        let (mut seen_in_place, mut seen_split) = (Vec::new(), Vec::new());
        for piece in stream.chunks(7) {
            in_place.extend(piece);
            while let Some(frame) = in_place.next_frame_in_place().unwrap() {
                seen_in_place.push(frame.to_vec());
            }
            split.extend(piece);
            while let Some(frame) = split.next_frame().unwrap() {
                seen_split.push(frame.to_vec());
            }
            assert_eq!(in_place.buffered(), split.buffered());
        }
        let expected: Vec<Vec<u8>> = bodies.iter().map(|b| b.to_vec()).collect();
        assert_eq!(seen_in_place, expected);
        assert_eq!(seen_split, expected);
        in_place.compact();
        assert_eq!(in_place.buf.len(), 0);
        // Errors are the same either way.
        in_place.extend(&[0, 0, 0, 0]);
        assert!(matches!(
            in_place.next_frame_in_place(),
            Err(WireError::EmptyFrame)
        ));
    }

    #[test]
    fn a_claimed_large_frame_reserves_only_what_arrives_plus_a_margin() {
        let mut frames = FrameDecoder::new(64 << 20);
        frames.extend(&((64u32 << 20) - 1).to_be_bytes());
        assert_eq!(frames.next_frame().unwrap(), None);
        assert!(
            frames.buf.capacity() <= 2 * RESERVE_AHEAD,
            "{}",
            frames.buf.capacity()
        );
        // It still assembles once the bytes arrive.
        let mut frames = FrameDecoder::new(64 << 20);
        let body = vec![5u8; 3 * RESERVE_AHEAD];
        frames.extend(&(body.len() as u32).to_be_bytes());
        for chunk in body.chunks(65536) {
            assert_eq!(frames.next_frame().unwrap(), None);
            frames.extend(chunk);
        }
        assert_eq!(frames.next_frame().unwrap().unwrap().as_ref(), &body[..]);
    }

    #[test]
    fn filters_above_the_limit_are_rejected_before_decoding() {
        let mut payload = Vec::new();
        crate::data::bin::encode_varbyte(MAX_FILTER_SIZE + 1, &mut payload);
        assert!(matches!(
            decode_filter_payload(&payload),
            Err(WireError::FilterTooLarge { count }) if count == MAX_FILTER_SIZE + 1
        ));
        let mut payload = Vec::new();
        crate::data::bin::encode_varbyte(2, &mut payload);
        payload.extend_from_slice(&[1, b'a', 1, b'b']);
        assert_eq!(decode_filter_payload(&payload).unwrap().len(), 2);
    }

    #[test]
    fn hello_matches_the_spec_example() {
        let mut out = Vec::new();
        HandshakeMessage::Hello {
            sender: "00000000-0000-4000-8000-000000000000".parse().unwrap(),
            min_version: 1,
            max_version: 1,
        }
        .encode_frame(&mut out);
        assert_eq!(
            hex::encode(&out),
            "00000017065a45454b000000000000400080000000000000000101"
        );
    }

    #[test]
    fn handshake_decode_rejects_wrong_magic_and_unknown_tags() {
        assert_eq!(
            HandshakeMessage::decode(&[7, 0xde, 0xad, 0xbe, 0xef]),
            Err(WireError::WrongMagic(0xdead_beef))
        );
        assert_eq!(
            HandshakeMessage::decode(&[13]),
            Err(WireError::UnknownTag(13))
        );
        assert!(matches!(
            HandshakeMessage::decode(&[12, 0]),
            Err(WireError::Malformed(DecodeError::TrailingBytes { .. }))
        ));
        assert!(matches!(
            HandshakeMessage::decode(&[6, 0x5a]),
            Err(WireError::Malformed(DecodeError::Truncated { .. }))
        ));
    }

    #[test]
    fn frame_decoder_rejects_empty_and_oversized_frames() {
        let mut d = FrameDecoder::new(16);
        d.extend(&[0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(WireError::EmptyFrame));
        let mut d = FrameDecoder::new(16);
        d.extend(&[0, 0, 0, 17]);
        assert_eq!(
            d.next_frame(),
            Err(WireError::FrameTooLarge { len: 17, max: 16 })
        );
    }

    #[test]
    fn envelope_round_trips_in_both_versions() {
        let env = Envelope {
            sender: A,
            receiver: EndpointId::NIL,
            kind: EnvelopeType::Data,
            ttl: DEFAULT_TTL,
            topic: Topic::new("/test").unwrap(),
            origin: Some(Origin {
                endpoint: A,
                seq: 7,
            }),
            payload: Bytes::from_static(&[2, 0, 0, 0, 0, 0, 0, 0, 42]),
        };
        let mut v1 = Vec::new();
        env.encode_frame(1, &mut v1);
        assert_eq!(
            hex::encode(&v1),
            "00000033111111111111411181111111111111110000000000000000000000000000000001001000052f7465737402000000000000002a"
        );
        let back = Envelope::decode(Bytes::from(v1[4..].to_vec()), 1).unwrap();
        assert_eq!(
            back,
            Envelope {
                origin: None,
                ..env.clone()
            }
        );
        let mut v2 = Vec::new();
        env.encode_frame(2, &mut v2);
        assert_eq!(
            Envelope::decode(Bytes::from(v2[4..].to_vec()), 2).unwrap(),
            env
        );
    }

    #[test]
    fn a_header_then_its_payload_is_the_whole_frame() {
        let topic = Topic::new("/a/topic").unwrap();
        let header = EnvelopeHeader {
            sender: A,
            receiver: EndpointId::NIL,
            kind: EnvelopeType::Data,
            ttl: DEFAULT_TTL,
            topic: &topic,
            origin: Some(Origin {
                endpoint: A,
                seq: 9,
            }),
        };
        for payload in [&[][..], &[1, 2, 3], &[7; 5000]] {
            for version in [1, 2] {
                let mut whole = Vec::new();
                encode_envelope_frame(&mut whole, header, version, payload);
                let mut parts = b"before".to_vec();
                encode_envelope_prefix(&mut parts, header, version, payload.len());
                parts.extend_from_slice(payload);
                assert_eq!(&parts[6..], &whole[..], "version {version}");
                let back = Envelope::decode(Bytes::from(whole[4..].to_vec()), version).unwrap();
                assert_eq!(&back.payload[..], payload);
            }
        }
    }

    #[test]
    fn envelope_decode_rejects_short_and_bad_frames() {
        assert_eq!(
            Envelope::decode(Bytes::from(vec![0; 36]), 1),
            Err(WireError::EnvelopeTooShort(36))
        );
        let mut bad_type = vec![0u8; 37];
        bad_type[32] = 9;
        assert_eq!(
            Envelope::decode(Bytes::from(bad_type), 1),
            Err(WireError::UnknownEnvelopeType(9))
        );
        let mut long_topic = vec![0u8; 37];
        long_topic[32] = 1;
        long_topic[36] = 5;
        assert!(matches!(
            Envelope::decode(Bytes::from(long_topic), 1),
            Err(WireError::Malformed(DecodeError::LengthExceedsInput { .. }))
        ));
        let mut bad_utf8 = vec![0u8; 38];
        bad_utf8[32] = 1;
        bad_utf8[36] = 1;
        bad_utf8[37] = 0xff;
        assert_eq!(
            Envelope::decode(Bytes::from(bad_utf8), 1),
            Err(WireError::InvalidTopic)
        );
    }
}
