//! A peer's outbound queue: frames waiting to be written, bounded by count
//! and by bytes (see [`Config`]).

use std::collections::VecDeque;

use bytes::Bytes;

use super::types::Config;

/// Frames waiting to be written to one connection, with their total size.
#[derive(Default)]
pub(super) struct Outbound {
    frames: VecDeque<Bytes>,
    pub(super) bytes: usize,
}

impl Outbound {
    pub(super) fn push(&mut self, frame: Bytes) {
        self.bytes += frame.len();
        self.frames.push_back(frame);
    }

    pub(super) fn pop(&mut self) -> Option<Bytes> {
        let frame = self.frames.pop_front()?;
        self.bytes -= frame.len();
        Some(frame)
    }

    pub(super) fn front(&self) -> Option<&Bytes> {
        self.frames.front()
    }

    pub(super) fn len(&self) -> usize {
        self.frames.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// At either limit of `config`: the overflow policy applies to the next
    /// message.
    pub(super) fn is_full(&self, config: &Config) -> bool {
        self.frames.len() >= config.peer_buffer_size || self.bytes >= config.peer_buffer_bytes
    }
}
