//! A peer's outbound queue: frames waiting to be written, back to back in
//! one buffer, bounded by count and by bytes (see [`Config`]).
//!
//! Frames are copied in once and leave as one chunk of many frames without
//! another copy ([`Outbound::take`] splits the buffer), so queuing a frame
//! costs no allocation of its own. Their lengths are kept apart, so the
//! overflow policy can still drop the oldest frame and a chunk can stop at
//! a frame boundary.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::types::Config;

/// Frames waiting to be written to one connection.
#[derive(Default)]
pub(super) struct Outbound {
    /// The frames, oldest first.
    buf: BytesMut,
    /// Each frame's length, in the same order.
    lens: VecDeque<usize>,
}

impl Outbound {
    /// Appends a frame.
    pub(super) fn push(&mut self, frame: &[u8]) {
        self.buf.extend_from_slice(frame);
        self.lens.push_back(frame.len());
    }

    /// Drops the oldest frame; false if there was none.
    pub(super) fn pop(&mut self) -> bool {
        match self.lens.pop_front() {
            Some(len) => {
                self.buf.advance(len);
                true
            }
            None => false,
        }
    }

    /// Takes the oldest frames, at most about `max_bytes` of them but at
    /// least one, as one chunk; with the number of frames.
    pub(super) fn take(&mut self, max_bytes: usize) -> Option<(Bytes, usize)> {
        let mut bytes = 0;
        let mut frames = 0;
        for &len in &self.lens {
            if frames > 0 && bytes + len > max_bytes {
                break;
            }
            bytes += len;
            frames += 1;
        }
        if frames == 0 {
            return None;
        }
        self.lens.drain(..frames);
        Some((self.buf.split_to(bytes).freeze(), frames))
    }

    /// Frames queued.
    pub(super) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Bytes queued.
    pub(super) fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// At either limit of `config`: the overflow policy applies to the next
    /// message.
    pub(super) fn is_full(&self, config: &Config) -> bool {
        self.lens.len() >= config.peer_buffer_size || self.buf.len() >= config.peer_buffer_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_leave_in_order_in_chunks_that_end_at_frame_boundaries() {
        let mut q = Outbound::default();
        q.push(b"aaa");
        q.push(b"bb");
        q.push(b"cccc");
        assert_eq!((q.len(), q.bytes()), (3, 9));
        let (chunk, n) = q.take(5).unwrap();
        assert_eq!((&chunk[..], n), (&b"aaabb"[..], 2));
        // A frame larger than the limit still goes, alone.
        let (chunk, n) = q.take(1).unwrap();
        assert_eq!((&chunk[..], n), (&b"cccc"[..], 1));
        assert!(q.is_empty() && q.take(100).is_none());
        // The buffer is used again once drained.
        q.push(b"d");
        assert_eq!(&q.take(100).unwrap().0[..], b"d");
    }

    #[test]
    fn a_queue_that_keeps_dropping_its_oldest_stays_small() {
        // A stalled peer under DropOldest: push one, drop one, forever;
        // now and then the writer takes a chunk and lets it go.
        let mut q = Outbound::default();
        let frame = [7u8; 100];
        let mut peak = 0;
        for i in 0..200_000 {
            q.push(&frame);
            if q.len() > 10 {
                assert!(q.pop());
            }
            if i % 1000 == 0 {
                drop(q.take(300));
            }
            peak = peak.max(q.buf.capacity());
        }
        assert!(peak < 64 * 1024, "capacity grew to {peak}");
    }

    #[test]
    fn pop_drops_the_oldest_frame() {
        let mut q = Outbound::default();
        q.push(b"old");
        q.push(b"new");
        assert!(q.pop());
        assert_eq!((q.len(), q.bytes()), (1, 3));
        assert_eq!(&q.take(100).unwrap().0[..], b"new");
        assert!(!q.pop());
    }
}
