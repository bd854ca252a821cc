//! Duplicate suppression between broker-rs endpoints (protocol version 2):
//! each message carries its origin endpoint and a per-origin sequence
//! number, and a message seen before through another path is dropped.

use super::EndpointId;
use super::wire::Origin;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// How far back duplicate suppression remembers per origin.
const DEDUP_WINDOW: u64 = 4096;
/// How many origins duplicate suppression tracks at most.
const MAX_ORIGINS: usize = 4096;

/// The origins seen lately, with the sequence numbers seen from each.
#[derive(Default)]
pub(super) struct Dedup {
    seen: HashMap<EndpointId, SeenWindow>,
    /// The origin of the last message, whose window is checked first: most
    /// messages come in runs from one origin.
    last: Option<(EndpointId, SeenWindow)>,
}

impl Dedup {
    /// Records `origin`; false if it was seen before (or is too old to
    /// tell). Past [`MAX_ORIGINS`] origins, everything is forgotten: a peer
    /// inventing origins costs duplicates at worst, never memory.
    pub(super) fn first_sight(&mut self, origin: Origin) -> bool {
        if let Some((endpoint, window)) = &mut self.last
            && *endpoint == origin.endpoint
        {
            return window.insert(origin.seq);
        }
        // Another origin: park the cached one in the map, take this one's.
        if let Some((endpoint, window)) = self.last.take() {
            self.seen.insert(endpoint, window);
        }
        if self.seen.len() >= MAX_ORIGINS && !self.seen.contains_key(&origin.endpoint) {
            self.seen.clear();
        }
        let mut window = self.seen.remove(&origin.endpoint).unwrap_or_default();
        let fresh = window.insert(origin.seq);
        self.last = Some((origin.endpoint, window));
        fresh
    }

    /// How many origins are remembered.
    #[cfg(test)]
    fn origins(&self) -> usize {
        self.seen.len() + usize::from(self.last.is_some())
    }
}

/// Sequence numbers seen from one origin: the highest, and a bitmap below it.
#[derive(Default)]
struct SeenWindow {
    highest: u64,
    bits: Vec<u64>,
}

impl SeenWindow {
    /// Records `seq`; false if it was seen before (or is too old to tell).
    fn insert(&mut self, seq: u64) -> bool {
        if self.bits.is_empty() {
            self.bits = vec![0; (DEDUP_WINDOW / 64) as usize];
        }
        if seq > self.highest {
            let shift = seq - self.highest;
            if shift >= DEDUP_WINDOW {
                self.bits.iter_mut().for_each(|w| *w = 0);
            } else {
                for s in self.highest + 1..=seq {
                    self.clear(s);
                }
            }
            self.highest = seq;
        } else if self.highest - seq >= DEDUP_WINDOW {
            return false;
        }
        let (word, bit) = Self::slot(seq);
        let fresh = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        fresh
    }

    fn clear(&mut self, seq: u64) {
        let (word, bit) = Self::slot(seq);
        self.bits[word] &= !bit;
    }

    fn slot(seq: u64) -> (usize, u64) {
        let i = seq % DEDUP_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(n: u8, seq: u64) -> Origin {
        Origin {
            endpoint: EndpointId::from_bytes([n; 16]),
            seq,
        }
    }

    #[test]
    fn a_message_is_new_once() {
        let mut d = Dedup::default();
        assert!(d.first_sight(origin(1, 5)));
        assert!(!d.first_sight(origin(1, 5)));
        assert!(d.first_sight(origin(2, 5)), "another origin");
        assert!(
            d.first_sight(origin(1, 4)),
            "out of order, within the window"
        );
        assert!(!d.first_sight(origin(1, 4)));
        // Each origin's window survives the others' turns.
        assert!(!d.first_sight(origin(2, 5)));
        assert!(!d.first_sight(origin(1, 5)));
        assert!(d.first_sight(origin(2, 6)));
    }

    #[test]
    fn too_old_counts_as_seen_and_a_jump_clears_the_window() {
        let mut d = Dedup::default();
        assert!(d.first_sight(origin(1, 10_000)));
        assert!(!d.first_sight(origin(1, 10_000 - DEDUP_WINDOW)));
        assert!(d.first_sight(origin(1, 10_000 + DEDUP_WINDOW)));
        assert!(
            d.first_sight(origin(1, 10_000 + 1)),
            "within the new window"
        );
    }

    #[test]
    fn invented_origins_never_grow_past_the_limit() {
        let mut d = Dedup::default();
        for i in 0..(MAX_ORIGINS as u64 * 3) {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&i.to_le_bytes());
            d.first_sight(Origin {
                endpoint: EndpointId::from_bytes(bytes),
                seq: 1,
            });
            assert!(d.origins() <= MAX_ORIGINS + 1);
        }
    }
}
