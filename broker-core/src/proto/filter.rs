//! Topic filters: sets of subscribed prefixes, and a prefix index whose
//! matching cost does not grow with the number of prefixes.

use std::collections::{BTreeMap, HashMap};

use crate::topic::Topic;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Maps topic prefixes to values and finds every value whose prefix matches
/// a topic.
///
/// Matching looks up the topic's prefix of each length that occurs among the
/// stored prefixes: one hash lookup per distinct prefix length, however many
/// prefixes there are. (Broker scans its prefixes linearly; with 10,000
/// subscriptions that costs it two orders of magnitude.)
///
/// ```
/// use broker_core::proto::filter::PrefixIndex;
///
/// let mut index = PrefixIndex::new();
/// index.insert("a", 1);
/// index.insert("zeek/events", 2);
/// let hits: Vec<_> = index.matches(b"alice").copied().collect();
/// assert_eq!(hits, [1]);
/// assert!(index.any_match(b"zeek/events/errors"));
/// assert!(!index.any_match(b"bob"));
/// ```
#[derive(Clone, Debug)]
pub struct PrefixIndex<V> {
    entries: FastMap<Box<[u8]>, Vec<V>>,
    /// Distinct prefix lengths, with how many prefixes have each.
    lengths: BTreeMap<usize, usize>,
}

impl<V> Default for PrefixIndex<V> {
    fn default() -> Self {
        PrefixIndex {
            entries: FastMap::default(),
            lengths: BTreeMap::new(),
        }
    }
}

impl<V: PartialEq> PrefixIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` under `prefix`.
    pub fn insert(&mut self, prefix: &str, value: V) {
        let key: Box<[u8]> = prefix.as_bytes().into();
        let values = self.entries.entry(key).or_default();
        if values.is_empty() {
            *self.lengths.entry(prefix.len()).or_default() += 1;
        }
        values.push(value);
    }

    /// Removes one `value` stored under `prefix`; true if it was there.
    pub fn remove(&mut self, prefix: &str, value: &V) -> bool {
        let Some(values) = self.entries.get_mut(prefix.as_bytes()) else {
            return false;
        };
        let Some(pos) = values.iter().position(|v| v == value) else {
            return false;
        };
        values.swap_remove(pos);
        if values.is_empty() {
            self.entries.remove(prefix.as_bytes());
            if let Some(n) = self.lengths.get_mut(&prefix.len()) {
                *n -= 1;
                if *n == 0 {
                    self.lengths.remove(&prefix.len());
                }
            }
        }
        true
    }

    /// Every value whose prefix is a prefix of `topic`.
    pub fn matches<'a>(&'a self, topic: &'a [u8]) -> impl Iterator<Item = &'a V> + 'a {
        self.lengths
            .range(..=topic.len())
            .filter_map(move |(&len, _)| self.entries.get(&topic[..len]))
            .flatten()
    }

    /// Whether any prefix matches `topic`.
    pub fn any_match(&self, topic: &[u8]) -> bool {
        self.lengths
            .range(..=topic.len())
            .any(|(&len, _)| self.entries.contains_key(&topic[..len]))
    }

    /// The number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The distinct prefixes, in no particular order.
    pub fn prefixes(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.keys().map(|k| &k[..])
    }
}

impl PrefixIndex<()> {
    /// An index of a peer's filter.
    pub fn from_filter<'a>(filter: impl IntoIterator<Item = &'a Topic>) -> Self {
        let mut index = PrefixIndex::new();
        for topic in filter {
            if !index.any_exact(topic.as_str()) {
                index.insert(topic.as_str(), ());
            }
        }
        index
    }

    fn any_exact(&self, prefix: &str) -> bool {
        self.entries.contains_key(prefix.as_bytes())
    }
}

/// The minimal, sorted form of a set of prefixes: a prefix covered by a
/// shorter one is dropped, as Broker normalizes filters before sending them.
///
/// ```
/// use broker_core::proto::filter::normalize;
/// use broker_core::topic::Topic;
///
/// let t = |s: &str| Topic::new(s).unwrap();
/// let filter = normalize([t("/test/ping"), t("zeek/event/a"), t("/test")]);
/// assert_eq!(filter, [t("/test"), t("zeek/event/a")]);
/// ```
pub fn normalize(prefixes: impl IntoIterator<Item = Topic>) -> Vec<Topic> {
    let mut all: Vec<Topic> = prefixes.into_iter().collect();
    all.sort();
    all.dedup();
    let mut out: Vec<Topic> = Vec::with_capacity(all.len());
    for topic in all {
        // Sorted order puts every extension of a kept prefix right after it.
        if out.last().is_some_and(|kept| kept.is_prefix_of(&topic)) {
            continue;
        }
        out.push(topic);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Topic {
        Topic::new(s).unwrap()
    }

    #[test]
    fn adding_a_less_specific_prefix_covers_more_specific_ones() {
        assert_eq!(normalize([t("a/b"), t("a/c"), t("a")]), [t("a")]);
        assert_eq!(normalize([t("a"), t("b")]), [t("a"), t("b")]);
        assert_eq!(normalize([t("a"), t("a")]), [t("a")]);
        assert_eq!(normalize([t("ab"), t("a/b"), t("a")]), [t("a")]);
        assert_eq!(normalize([t(""), t("x")]), [t("")]);
    }

    #[test]
    fn index_matches_bytewise_prefixes() {
        let mut index = PrefixIndex::new();
        index.insert("alice/dogs", 1);
        index.insert("", 2);
        index.insert("alice/dogs", 3);
        let mut hits: Vec<_> = index.matches(b"alice/dogsarecool").copied().collect();
        hits.sort();
        assert_eq!(hits, [1, 2, 3]);
        let hits: Vec<_> = index.matches(b"alice/dog").copied().collect();
        assert_eq!(hits, [2]);
    }

    #[test]
    fn removing_values_updates_lengths() {
        let mut index = PrefixIndex::new();
        index.insert("abc", 1);
        assert!(index.remove("abc", &1));
        assert!(!index.remove("abc", &1));
        assert!(!index.any_match(b"abcdef"));
        assert!(index.lengths.is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn matching_cost_depends_on_distinct_lengths_only() {
        let mut index = PrefixIndex::new();
        for i in 0..10_000 {
            index.insert(&format!("/topic/{i:05}"), ());
        }
        assert_eq!(index.lengths.len(), 1);
        assert!(index.any_match(b"/topic/04242/x"));
        assert!(!index.any_match(b"/topic/9999"));
    }
}
