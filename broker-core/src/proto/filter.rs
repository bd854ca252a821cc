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

    /// How many times `value` is stored under exactly `prefix`.
    pub fn count_of(&self, prefix: &str, value: &V) -> usize {
        self.entries
            .get(prefix.as_bytes())
            .map_or(0, |values| values.iter().filter(|v| *v == value).count())
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

/// The prefixes an endpoint advertises: the minimal form of a multiset of
/// subscribed prefixes, maintained incrementally so that adding or removing
/// one prefix does not cost a pass over all of them.
///
/// ```
/// use broker_core::proto::filter::LocalFilter;
/// use broker_core::topic::Topic;
///
/// let t = |s: &str| Topic::new(s).unwrap();
/// let mut filter = LocalFilter::default();
/// assert!(filter.add(t("/a/b")));
/// assert!(filter.add(t("/a")));      // covers /a/b
/// assert!(!filter.add(t("/a/c")));   // covered: nothing changes
/// assert_eq!(filter.to_vec(), [t("/a")]);
/// assert!(filter.remove(&t("/a")));  // /a/b and /a/c come back
/// assert_eq!(filter.to_vec(), [t("/a/b"), t("/a/c")]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalFilter {
    /// Every prefix added, with how often.
    all: BTreeMap<Topic, usize>,
    /// The minimal subset: no entry is a prefix of another.
    minimal: std::collections::BTreeSet<Topic>,
    /// `minimal` again, for prefix lookups.
    index: PrefixIndex<()>,
}

impl LocalFilter {
    /// Adds one occurrence of `prefix`; true if the minimal form changed.
    pub fn add(&mut self, prefix: Topic) -> bool {
        let count = self.all.entry(prefix.clone()).or_default();
        *count += 1;
        if *count > 1 || self.index.any_match(prefix.as_str().as_bytes()) {
            return false;
        }
        let covered: Vec<Topic> = self
            .minimal
            .range(prefix.clone()..)
            .take_while(|t| prefix.is_prefix_of(t))
            .cloned()
            .collect();
        for t in covered {
            self.minimal.remove(&t);
            self.index.remove(t.as_str(), &());
        }
        self.index.insert(prefix.as_str(), ());
        self.minimal.insert(prefix);
        true
    }

    /// Removes one occurrence of `prefix`; true if the minimal form changed.
    pub fn remove(&mut self, prefix: &Topic) -> bool {
        let Some(count) = self.all.get_mut(prefix) else {
            return false;
        };
        *count -= 1;
        if *count > 0 {
            return false;
        }
        self.all.remove(prefix);
        if !self.minimal.remove(prefix) {
            return false;
        }
        self.index.remove(prefix.as_str(), &());
        // What `prefix` covered is uncovered now (nothing else covers it:
        // `prefix` itself was minimal).
        let mut last: Option<Topic> = None;
        let uncovered: Vec<Topic> = self
            .all
            .range(prefix.clone()..)
            .take_while(|(t, _)| prefix.is_prefix_of(t))
            .map(|(t, _)| t.clone())
            .collect();
        for t in uncovered {
            if last.as_ref().is_some_and(|kept| kept.is_prefix_of(&t)) {
                continue;
            }
            self.index.insert(t.as_str(), ());
            self.minimal.insert(t.clone());
            last = Some(t);
        }
        true
    }

    /// Every prefix added, with how often (sorted).
    pub fn counts(&self) -> impl Iterator<Item = (&Topic, usize)> {
        self.all.iter().map(|(t, n)| (t, *n))
    }

    /// How many prefixes are advertised.
    pub fn advertised_len(&self) -> usize {
        self.minimal.len()
    }

    /// The minimal prefixes, sorted.
    pub fn to_vec(&self) -> Vec<Topic> {
        self.minimal.iter().cloned().collect()
    }

    /// Whether nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }
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
    fn local_filter_matches_normalize_after_any_sequence() {
        let names = ["a", "a/b", "ab", "a/b/c", "b", "", "b/x", "a/c"];
        let mut filter = LocalFilter::default();
        let mut multiset: Vec<Topic> = Vec::new();
        // A fixed pseudo-random walk of adds and removes.
        let mut x: u32 = 7;
        for _ in 0..500 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let name = t(names[(x >> 16) as usize % names.len()]);
            if x & 1 == 0 || multiset.is_empty() {
                filter.add(name.clone());
                multiset.push(name);
            } else {
                let victim = multiset.swap_remove((x >> 8) as usize % multiset.len());
                filter.remove(&victim);
            }
            assert_eq!(filter.to_vec(), normalize(multiset.iter().cloned()));
        }
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
