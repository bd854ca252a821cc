//! A peer's outbound queue: frames waiting to be written, back to back in
//! a few large blocks, bounded by count and by bytes (see [`Config`]).
//!
//! Frames are copied in once and leave as one chunk of many frames without
//! another copy ([`Outbound::take`] splits a block), so queuing a frame
//! costs no allocation of its own. A full block is never grown: the next
//! frame starts a new one, so a long queue (a slow peer, large messages) is
//! never copied again when it grows, and memory is handed back block by
//! block as chunks are written. A frame never spans two blocks. The
//! frames' lengths are kept apart, so the overflow policy can still drop
//! the oldest frame and a chunk can stop at a frame boundary.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::types::Config;

/// The size of a block (a frame larger than this gets a block of its own).
/// As large as the chunks the runtime writes, so that a chunk is rarely cut
/// short by a block's end.
pub(super) const BLOCK: usize = 256 * 1024;

/// Frames waiting to be written to one connection.
#[derive(Default)]
pub(super) struct Outbound {
    /// The frames, oldest first, in blocks of at most [`BLOCK`] bytes (or
    /// one larger frame).
    blocks: VecDeque<BytesMut>,
    /// Each frame's length, in the same order.
    lens: VecDeque<usize>,
    /// The bytes of all frames queued.
    bytes: usize,
}

impl Outbound {
    /// Appends a frame.
    pub(super) fn push(&mut self, frame: &[u8]) {
        self.push_parts(frame, &[]);
    }

    /// Appends the frame made of `head` followed by `body` (an envelope's
    /// header and its payload, which is copied once, into the block).
    pub(super) fn push_parts(&mut self, head: &[u8], body: &[u8]) {
        let len = head.len() + body.len();
        match self.blocks.back_mut() {
            Some(block) if block.capacity() - block.len() >= len => {
                block.extend_from_slice(head);
                block.extend_from_slice(body);
            }
            _ => {
                // An emptied block kept for its room, too small for this
                // frame, goes (a queue's first block holds its first frame).
                if self.blocks.back().is_some_and(BytesMut::is_empty) {
                    self.blocks.pop_back();
                }
                let mut block = BytesMut::with_capacity(BLOCK.max(len));
                block.extend_from_slice(head);
                block.extend_from_slice(body);
                self.blocks.push_back(block);
            }
        }
        self.lens.push_back(len);
        self.bytes += len;
    }

    /// Drops the oldest frame; false if there was none.
    pub(super) fn pop(&mut self) -> bool {
        let Some(len) = self.lens.pop_front() else {
            return false;
        };
        if let Some(block) = self.blocks.front_mut() {
            block.advance(len);
        }
        self.bytes -= len;
        self.release_front();
        true
    }

    /// Takes the oldest frames, at most about `max_bytes` of them but at
    /// least one, as one chunk; with the number of frames. A chunk ends at
    /// the end of a block.
    pub(super) fn take(&mut self, max_bytes: usize) -> Option<(Bytes, usize)> {
        let block = self.blocks.front_mut()?;
        let mut bytes = 0;
        let mut frames = 0;
        for &len in &self.lens {
            if bytes + len > block.len() || (frames > 0 && bytes + len > max_bytes) {
                break;
            }
            bytes += len;
            frames += 1;
        }
        if frames == 0 {
            return None;
        }
        self.lens.drain(..frames);
        self.bytes -= bytes;
        let chunk = block.split_to(bytes).freeze();
        self.release_front();
        Some((chunk, frames))
    }

    /// Drops the first block once its frames are gone, unless it is the
    /// only one (new frames then fill the rest of its room).
    fn release_front(&mut self) {
        if self.blocks.len() > 1 && self.blocks.front().is_some_and(BytesMut::is_empty) {
            self.blocks.pop_front();
        }
    }

    /// Frames queued.
    pub(super) fn len(&self) -> usize {
        self.lens.len()
    }

    /// Bytes queued.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// At either limit of `config`: the overflow policy applies to the next
    /// message.
    pub(super) fn is_full(&self, config: &Config) -> bool {
        self.lens.len() >= config.peer_buffer_size || self.bytes >= config.peer_buffer_bytes
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
    fn a_frame_pushed_in_two_parts_leaves_as_one() {
        let mut q = Outbound::default();
        q.push(b"ab");
        q.push_parts(b"cd", b"efg");
        q.push_parts(b"h", b"");
        q.push_parts(&[1; 10], &vec![2; BLOCK]);
        assert_eq!((q.len(), q.bytes()), (4, 8 + 10 + BLOCK));
        assert_eq!(&q.take(5).unwrap().0[..], b"ab");
        assert_eq!(&q.take(5).unwrap().0[..], b"cdefg");
        assert!(q.pop());
        let (big, frames) = q.take(1).unwrap();
        assert_eq!(frames, 1);
        assert_eq!(big.len(), 10 + BLOCK);
        assert!(big[..10].iter().all(|&b| b == 1) && big[10..].iter().all(|&b| b == 2));
        assert!(q.is_empty());
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
            peak = peak.max(q.blocks.iter().map(BytesMut::capacity).sum::<usize>());
        }
        assert!(peak <= 2 * BLOCK, "capacity grew to {peak}");
    }

    #[test]
    fn a_long_queue_fills_blocks_without_copying_them() {
        let mut q = Outbound::default();
        let frame: Vec<u8> = (0..9000u32).map(|i| i as u8).collect();
        for i in 0..1000u32 {
            let mut f = frame.clone();
            f[..4].copy_from_slice(&i.to_be_bytes());
            q.push(&f);
        }
        assert_eq!((q.len(), q.bytes()), (1000, 9_000_000));
        // Whole blocks, never grown: each holds as many frames as fit.
        let per_block = BLOCK / frame.len();
        assert_eq!(q.blocks.len(), 1000usize.div_ceil(per_block));
        assert!(q.blocks.iter().all(|b| b.capacity() == BLOCK));
        // Out in order, in chunks that stop at a block's end.
        let mut next = 0u32;
        while let Some((chunk, n)) = q.take(usize::MAX) {
            assert!(n <= per_block && chunk.len() == n * frame.len());
            for f in chunk.chunks(frame.len()) {
                assert_eq!(f[..4], next.to_be_bytes());
                assert_eq!(f[4..], frame[4..]);
                next += 1;
            }
        }
        assert_eq!((next, q.len(), q.bytes()), (1000, 0, 0));
        assert_eq!(q.blocks.len(), 1);
    }

    #[test]
    fn a_frame_larger_than_a_block_has_one_of_its_own() {
        let mut q = Outbound::default();
        let big = vec![3u8; BLOCK + 10];
        q.push(b"a");
        q.push(&big);
        q.push(b"b");
        assert_eq!(q.blocks.len(), 3);
        assert_eq!(&q.take(usize::MAX).unwrap().0[..], b"a");
        let (chunk, n) = q.take(10).unwrap();
        assert_eq!((chunk.len(), n), (BLOCK + 10, 1));
        assert!(q.pop());
        assert!(q.is_empty() && q.take(1).is_none());
        // An emptied block with no room left is replaced, not kept in front.
        let mut q = Outbound::default();
        let fill = vec![1u8; BLOCK];
        q.push(&fill);
        assert!(q.take(usize::MAX).is_some());
        q.push(b"c");
        assert_eq!(q.blocks.len(), 1);
        assert!(q.pop() && q.is_empty());
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
