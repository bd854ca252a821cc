//! [`Set`] and [`Table`]: Broker's ordered containers.
//!
//! Both keep their entries sorted in one vector. Values arrive sorted from
//! the wire (Broker writes sets and tables in order) and are mostly read,
//! iterated and dropped, which a vector does with one allocation and no
//! pointer chasing; decoding a set of ten strings costs a tenth of building
//! a B-tree from them. A container that grows past [`TREE_FROM`] entries by
//! insertions or removals away from its end becomes a `BTreeMap`, so that
//! building a large table one entry at a time in any order stays
//! `O(n log n)`. Which form a container has is not observable except in
//! speed: order, equality, hashing and iteration are the same.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::iter::FusedIterator;
use std::ops::Index;
use std::{mem, slice, vec};

use super::Data;

/// A sorted vector with at least this many entries becomes a B-tree when an
/// entry is inserted or removed anywhere but at its end (shifting the rest
/// would then cost more than a B-tree update).
pub(crate) const TREE_FROM: usize = 256;

/// Entries sorted by key without repeats, in a vector or a B-tree. The
/// tree is boxed so that the enum fits in the space of the vector (its
/// capacity has a niche for the tag) and `Data` stays four words.
#[derive(Clone)]
enum Store<V> {
    Sorted(Vec<(Data, V)>),
    // The box keeps `Data` at four words (tested below); the extra
    // allocation is only paid by large containers edited in the middle.
    #[allow(clippy::box_collection)]
    Tree(Box<BTreeMap<Data, V>>),
}

impl<V> Store<V> {
    const fn new() -> Store<V> {
        Store::Sorted(Vec::new())
    }

    fn len(&self) -> usize {
        match self {
            Store::Sorted(v) => v.len(),
            Store::Tree(t) => t.len(),
        }
    }

    fn find(entries: &[(Data, V)], key: &Data) -> Result<usize, usize> {
        entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    fn get(&self, key: &Data) -> Option<(&Data, &V)> {
        match self {
            Store::Sorted(v) => Self::find(v, key).ok().map(|i| (&v[i].0, &v[i].1)),
            Store::Tree(t) => t.get_key_value(key),
        }
    }

    fn get_mut(&mut self, key: &Data) -> Option<&mut V> {
        match self {
            Store::Sorted(v) => Self::find(v, key).ok().map(|i| &mut v[i].1),
            Store::Tree(t) => t.get_mut(key),
        }
    }

    /// The B-tree, converting the vector first.
    fn tree(&mut self) -> &mut BTreeMap<Data, V> {
        if let Store::Sorted(v) = self {
            *self = Store::Tree(Box::new(mem::take(v).into_iter().collect()));
        }
        match self {
            Store::Tree(t) => t,
            Store::Sorted(_) => unreachable!("converted above"),
        }
    }

    /// Inserts or replaces; like `BTreeMap::insert`, a replaced entry keeps
    /// its old key and the old value is returned.
    fn insert(&mut self, key: Data, value: V) -> Option<V> {
        let Store::Sorted(v) = self else {
            return self.tree().insert(key, value);
        };
        if v.last().is_none_or(|(last, _)| *last < key) {
            v.push((key, value));
            return None;
        }
        match Self::find(v, &key) {
            Ok(i) => Some(mem::replace(&mut v[i].1, value)),
            Err(i) if v.len() < TREE_FROM => {
                v.insert(i, (key, value));
                None
            }
            Err(_) => self.tree().insert(key, value),
        }
    }

    fn get_or_insert_with(&mut self, key: Data, default: impl FnOnce() -> V) -> &mut V {
        if let Store::Sorted(v) = self
            && v.len() >= TREE_FROM
            && matches!(Self::find(v, &key), Err(i) if i < v.len())
        {
            self.tree();
        }
        match self {
            Store::Sorted(v) => {
                let i = Self::find(v, &key).unwrap_or_else(|i| {
                    v.insert(i, (key, default()));
                    i
                });
                &mut v[i].1
            }
            Store::Tree(t) => t.entry(key).or_insert_with(default),
        }
    }

    fn remove(&mut self, key: &Data) -> Option<(Data, V)> {
        let Store::Sorted(v) = self else {
            return self.tree().remove_entry(key);
        };
        let i = Self::find(v, key).ok()?;
        if i + 1 == v.len() {
            v.pop()
        } else if v.len() < TREE_FROM {
            Some(v.remove(i))
        } else {
            self.tree().remove_entry(key)
        }
    }

    fn first(&self) -> Option<(&Data, &V)> {
        match self {
            Store::Sorted(v) => v.first().map(|(k, v)| (k, v)),
            Store::Tree(t) => t.first_key_value(),
        }
    }

    fn last(&self) -> Option<(&Data, &V)> {
        match self {
            Store::Sorted(v) => v.last().map(|(k, v)| (k, v)),
            Store::Tree(t) => t.last_key_value(),
        }
    }

    fn clear(&mut self) {
        *self = Store::new();
    }

    fn retain(&mut self, mut keep: impl FnMut(&Data, &mut V) -> bool) {
        match self {
            Store::Sorted(v) => v.retain_mut(|(k, v)| keep(k, v)),
            Store::Tree(t) => t.retain(|k, v| keep(k, v)),
        }
    }

    fn iter(&self) -> Entries<'_, V> {
        match self {
            Store::Sorted(v) => Entries::Sorted(v.iter()),
            Store::Tree(t) => Entries::Tree(t.iter()),
        }
    }

    fn iter_mut(&mut self) -> EntriesMut<'_, V> {
        match self {
            Store::Sorted(v) => EntriesMut::Sorted(v.iter_mut()),
            Store::Tree(t) => EntriesMut::Tree(t.iter_mut()),
        }
    }

    fn into_entries(mut self) -> IntoEntries<V> {
        match &mut self {
            Store::Sorted(v) => IntoEntries::Sorted(mem::take(v).into_iter()),
            Store::Tree(t) => IntoEntries::Tree(mem::take(&mut **t).into_iter()),
        }
    }

    /// Sorts `entries` by key and drops repeated keys, keeping the last
    /// entry of each (as `BTreeMap`'s `FromIterator` does).
    fn from_vec(mut entries: Vec<(Data, V)>) -> Store<V> {
        if !is_strictly_sorted(&entries) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    mem::swap(later, kept);
                }
                same
            });
        }
        Store::Sorted(entries)
    }

    /// Sorts `entries` by key; `None` if a key repeats.
    fn from_unique_vec(mut entries: Vec<(Data, V)>) -> Option<Store<V>> {
        if !is_strictly_sorted(&entries) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            if !is_strictly_sorted(&entries) {
                return None;
            }
        }
        Some(Store::Sorted(entries))
    }
}

/// Dropping a decoded set of short strings called the destructor of `Data`
/// once per element, which then found nothing to free; a fifth of the time a
/// receiver spent on a table of sets went there. Entries whose key owns no
/// memory and whose value needs no destructor (sets) are forgotten instead.
impl<V> Drop for Store<V> {
    fn drop(&mut self) {
        let Store::Sorted(entries) = self else {
            return;
        };
        if !mem::needs_drop::<V>() && entries.iter().all(|(key, _)| !key.owns_heap()) {
            // SAFETY: shrinking the length to zero is always sound (no
            // element becomes readable that was not initialized); it only
            // skips the destructors of the entries, which own no memory:
            // keys for which `owns_heap` is false are fixed-size values or
            // inline strings, and `V` has no destructor. The vector still
            // frees its buffer. (A wrong `owns_heap` would leak, never free
            // twice; `tests/decode_memory.rs` checks that nothing leaks.)
            #[allow(unsafe_code)]
            unsafe {
                entries.set_len(0);
            }
            return;
        }
        for (key, value) in entries.drain(..) {
            drop(value);
            if !key.owns_heap() {
                mem::forget(key);
            }
        }
    }
}

fn is_strictly_sorted<V>(entries: &[(Data, V)]) -> bool {
    entries.windows(2).all(|w| w[0].0 < w[1].0)
}

impl<V: PartialEq> PartialEq for Store<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<V: Eq> Eq for Store<V> {}

impl<V: Ord> PartialOrd for Store<V> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<V: Ord> Ord for Store<V> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl<V: Hash> Hash for Store<V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for (k, v) in self.iter() {
            k.hash(state);
            v.hash(state);
        }
    }
}

#[derive(Clone)]
enum Entries<'a, V> {
    Sorted(slice::Iter<'a, (Data, V)>),
    Tree(btree_map::Iter<'a, Data, V>),
}

impl<'a, V> Iterator for Entries<'a, V> {
    type Item = (&'a Data, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Sorted(i) => i.next().map(|(k, v)| (k, v)),
            Entries::Tree(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Entries::Sorted(i) => i.size_hint(),
            Entries::Tree(i) => i.size_hint(),
        }
    }

    /// One dispatch on the form for the whole iteration (`for_each`,
    /// `sum`, … go through here).
    fn fold<B, F: FnMut(B, Self::Item) -> B>(self, init: B, mut f: F) -> B {
        match self {
            Entries::Sorted(i) => i.fold(init, |acc, (k, v)| f(acc, (k, v))),
            Entries::Tree(i) => i.fold(init, f),
        }
    }
}

impl<V> DoubleEndedIterator for Entries<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Entries::Sorted(i) => i.next_back().map(|(k, v)| (k, v)),
            Entries::Tree(i) => i.next_back(),
        }
    }
}

enum EntriesMut<'a, V> {
    Sorted(slice::IterMut<'a, (Data, V)>),
    Tree(btree_map::IterMut<'a, Data, V>),
}

impl<'a, V> Iterator for EntriesMut<'a, V> {
    type Item = (&'a Data, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            EntriesMut::Sorted(i) => i.next().map(|(k, v)| (&*k, v)),
            EntriesMut::Tree(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            EntriesMut::Sorted(i) => i.size_hint(),
            EntriesMut::Tree(i) => i.size_hint(),
        }
    }
}

impl<V> DoubleEndedIterator for EntriesMut<'_, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            EntriesMut::Sorted(i) => i.next_back().map(|(k, v)| (&*k, v)),
            EntriesMut::Tree(i) => i.next_back(),
        }
    }
}

enum IntoEntries<V> {
    Sorted(vec::IntoIter<(Data, V)>),
    Tree(btree_map::IntoIter<Data, V>),
}

impl<V> Iterator for IntoEntries<V> {
    type Item = (Data, V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IntoEntries::Sorted(i) => i.next(),
            IntoEntries::Tree(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            IntoEntries::Sorted(i) => i.size_hint(),
            IntoEntries::Tree(i) => i.size_hint(),
        }
    }
}

impl<V> DoubleEndedIterator for IntoEntries<V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            IntoEntries::Sorted(i) => i.next_back(),
            IntoEntries::Tree(i) => i.next_back(),
        }
    }
}

/// Defines a public iterator type over one of the entry iterators above.
macro_rules! iterator {
    ($(#[$doc:meta])* $name:ident<$($lt:lifetime)?> ($inner:ty) -> $item:ty, |$e:pat_param| $map:expr) => {
        $(#[$doc])*
        pub struct $name<$($lt)?>($inner);

        impl<$($lt)?> Iterator for $name<$($lt)?> {
            type Item = $item;

            #[inline]
            fn next(&mut self) -> Option<$item> {
                self.0.next().map(|$e| $map)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }

            fn fold<B, F: FnMut(B, $item) -> B>(self, init: B, mut f: F) -> B {
                self.0.fold(init, |acc, $e| f(acc, $map))
            }
        }

        impl<$($lt)?> DoubleEndedIterator for $name<$($lt)?> {
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back().map(|$e| $map)
            }
        }

        impl<$($lt)?> ExactSizeIterator for $name<$($lt)?> {}

        impl<$($lt)?> FusedIterator for $name<$($lt)?> {}

        impl<$($lt)?> fmt::Debug for $name<$($lt)?> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

iterator!(
    /// The elements of a [`Set`], in order.
    SetIter<'a>(Entries<'a, ()>) -> &'a Data, |(k, _)| k
);
iterator!(
    /// The elements of a [`Set`], in order, by value.
    SetIntoIter<>(IntoEntries<()>) -> Data, |(k, _)| k
);
iterator!(
    /// The entries of a [`Table`], in key order.
    TableIter<'a>(Entries<'a, Data>) -> (&'a Data, &'a Data), |e| e
);
iterator!(
    /// The entries of a [`Table`], in key order, with mutable values.
    TableIterMut<'a>(EntriesMut<'a, Data>) -> (&'a Data, &'a mut Data), |e| e
);
iterator!(
    /// The entries of a [`Table`], in key order, by value.
    TableIntoIter<>(IntoEntries<Data>) -> (Data, Data), |e| e
);
iterator!(
    /// The keys of a [`Table`], in order.
    Keys<'a>(Entries<'a, Data>) -> &'a Data, |(k, _)| k
);
iterator!(
    /// The values of a [`Table`], in key order.
    Values<'a>(Entries<'a, Data>) -> &'a Data, |(_, v)| v
);
iterator!(
    /// The values of a [`Table`], in key order, mutable.
    ValuesMut<'a>(EntriesMut<'a, Data>) -> &'a mut Data, |(_, v)| v
);

impl Clone for SetIter<'_> {
    fn clone(&self) -> Self {
        SetIter(self.0.clone())
    }
}

impl Clone for TableIter<'_> {
    fn clone(&self) -> Self {
        TableIter(self.0.clone())
    }
}

/// A Broker set: values in order, without repeats.
///
/// It works like a `BTreeSet<Data>` (and converts to and from one), but
/// keeps its elements in a sorted vector, which is what decoding and
/// iterating want. Built one element at a time, it stays fast: appending in
/// order is a push, and a set of 256 or more elements that changes away from
/// its end becomes a B-tree inside.
///
/// ```
/// use broker_core::data::{Data, Set};
///
/// let mut ports: Set = [Data::Count(443), Data::Count(80)].into_iter().collect();
/// assert!(ports.insert(Data::Count(22)));
/// assert!(!ports.insert(Data::Count(80)));
/// let order: Vec<u64> = ports.iter().filter_map(Data::as_count).collect();
/// assert_eq!(order, [22, 80, 443]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Set(Store<()>);

impl<V> Default for Store<V> {
    fn default() -> Self {
        Store::new()
    }
}

impl Set {
    /// An empty set.
    pub const fn new() -> Set {
        Set(Store::new())
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `value` is an element.
    pub fn contains(&self, value: &Data) -> bool {
        self.0.get(value).is_some()
    }

    /// The element equal to `value`.
    pub fn get(&self, value: &Data) -> Option<&Data> {
        self.0.get(value).map(|(k, _)| k)
    }

    /// Adds `value`; `false` (and the set unchanged) if it was already there.
    pub fn insert(&mut self, value: Data) -> bool {
        self.0.insert(value, ()).is_none()
    }

    /// Removes `value`; `false` if it was not there.
    pub fn remove(&mut self, value: &Data) -> bool {
        self.0.remove(value).is_some()
    }

    /// Removes and returns the element equal to `value`.
    pub fn take(&mut self, value: &Data) -> Option<Data> {
        self.0.remove(value).map(|(k, _)| k)
    }

    /// The smallest element.
    pub fn first(&self) -> Option<&Data> {
        self.0.first().map(|(k, _)| k)
    }

    /// The largest element.
    pub fn last(&self) -> Option<&Data> {
        self.0.last().map(|(k, _)| k)
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps only the elements for which `keep` returns `true`.
    pub fn retain(&mut self, mut keep: impl FnMut(&Data) -> bool) {
        self.0.retain(|k, _| keep(k));
    }

    /// The elements in order.
    pub fn iter(&self) -> SetIter<'_> {
        SetIter(self.0.iter())
    }

    /// A set of `items`, sorted, with repeats dropped. `None` if an element
    /// repeats: decoders use this to reject such input.
    pub(crate) fn from_unique(items: Vec<(Data, ())>) -> Option<Set> {
        Store::from_unique_vec(items).map(Set)
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Data> for Set {
    fn from_iter<I: IntoIterator<Item = Data>>(iter: I) -> Set {
        Set(Store::from_vec(iter.into_iter().map(|k| (k, ())).collect()))
    }
}

impl Extend<Data> for Set {
    fn extend<I: IntoIterator<Item = Data>>(&mut self, iter: I) {
        for item in iter {
            self.insert(item);
        }
    }
}

impl<const N: usize> From<[Data; N]> for Set {
    fn from(items: [Data; N]) -> Set {
        items.into_iter().collect()
    }
}

impl From<Vec<Data>> for Set {
    /// Sorts the elements and drops repeats.
    fn from(items: Vec<Data>) -> Set {
        items.into_iter().collect()
    }
}

impl From<BTreeSet<Data>> for Set {
    fn from(items: BTreeSet<Data>) -> Set {
        Set(Store::Sorted(items.into_iter().map(|k| (k, ())).collect()))
    }
}

impl From<Set> for BTreeSet<Data> {
    fn from(set: Set) -> BTreeSet<Data> {
        set.into_iter().collect()
    }
}

impl IntoIterator for Set {
    type Item = Data;
    type IntoIter = SetIntoIter;

    fn into_iter(self) -> SetIntoIter {
        SetIntoIter(self.0.into_entries())
    }
}

impl<'a> IntoIterator for &'a Set {
    type Item = &'a Data;
    type IntoIter = SetIter<'a>;

    fn into_iter(self) -> SetIter<'a> {
        self.iter()
    }
}

/// A Broker table: a map from values to values, in key order.
///
/// It works like a `BTreeMap<Data, Data>` (and converts to and from one),
/// but keeps its entries in a sorted vector; see [`Set`].
///
/// ```
/// use broker_core::data::{Data, Table};
///
/// let mut hosts = Table::new();
/// hosts.insert(Data::from("b"), Data::Count(2));
/// hosts.insert(Data::from("a"), Data::Count(1));
/// assert_eq!(hosts.get(&Data::from("a")), Some(&Data::Count(1)));
/// assert_eq!(hosts.insert(Data::from("a"), Data::Count(3)), Some(Data::Count(1)));
/// let keys: Vec<&str> = hosts.keys().filter_map(Data::as_str).collect();
/// assert_eq!(keys, ["a", "b"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Table(Store<Data>);

impl Table {
    /// An empty table.
    pub const fn new() -> Table {
        Table(Store::new())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`.
    pub fn get(&self, key: &Data) -> Option<&Data> {
        self.0.get(key).map(|(_, v)| v)
    }

    /// The entry of `key`.
    pub fn get_key_value(&self, key: &Data) -> Option<(&Data, &Data)> {
        self.0.get(key)
    }

    /// The value of `key`, mutable.
    pub fn get_mut(&mut self, key: &Data) -> Option<&mut Data> {
        self.0.get_mut(key)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &Data) -> bool {
        self.0.get(key).is_some()
    }

    /// Sets the value of `key`, returning the value it replaced (the key
    /// itself is kept).
    pub fn insert(&mut self, key: Data, value: Data) -> Option<Data> {
        self.0.insert(key, value)
    }

    /// The value of `key`, inserted from `default` first if missing.
    pub fn get_or_insert_with(&mut self, key: Data, default: impl FnOnce() -> Data) -> &mut Data {
        self.0.get_or_insert_with(key, default)
    }

    /// Removes the entry of `key`, returning its value.
    pub fn remove(&mut self, key: &Data) -> Option<Data> {
        self.0.remove(key).map(|(_, v)| v)
    }

    /// Removes the entry of `key` and returns it.
    pub fn remove_entry(&mut self, key: &Data) -> Option<(Data, Data)> {
        self.0.remove(key)
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&Data, &Data)> {
        self.0.first()
    }

    /// The entry with the largest key.
    pub fn last_key_value(&self) -> Option<(&Data, &Data)> {
        self.0.last()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Keeps only the entries for which `keep` returns `true`.
    pub fn retain(&mut self, keep: impl FnMut(&Data, &mut Data) -> bool) {
        self.0.retain(keep);
    }

    /// The entries in key order.
    pub fn iter(&self) -> TableIter<'_> {
        TableIter(self.0.iter())
    }

    /// The entries in key order, with mutable values.
    pub fn iter_mut(&mut self) -> TableIterMut<'_> {
        TableIterMut(self.0.iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> Keys<'_> {
        Keys(self.0.iter())
    }

    /// The values in key order.
    pub fn values(&self) -> Values<'_> {
        Values(self.0.iter())
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> ValuesMut<'_> {
        ValuesMut(self.0.iter_mut())
    }

    /// A table of `entries`, sorted by key. `None` if a key repeats:
    /// decoders use this to reject such input.
    pub(crate) fn from_unique(entries: Vec<(Data, Data)>) -> Option<Table> {
        Store::from_unique_vec(entries).map(Table)
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<Q: Borrow<Data> + ?Sized> Index<&Q> for Table {
    type Output = Data;

    /// The value of `key`.
    ///
    /// # Panics
    ///
    /// If `key` has no entry.
    #[allow(clippy::panic)] // `Index` reports a missing entry by panicking
    fn index(&self, key: &Q) -> &Data {
        match self.get(key.borrow()) {
            Some(value) => value,
            None => panic!("no entry for the key in the table"),
        }
    }
}

impl FromIterator<(Data, Data)> for Table {
    /// Repeated keys keep the last value, as with `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (Data, Data)>>(iter: I) -> Table {
        Table(Store::from_vec(iter.into_iter().collect()))
    }
}

impl Extend<(Data, Data)> for Table {
    fn extend<I: IntoIterator<Item = (Data, Data)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<const N: usize> From<[(Data, Data); N]> for Table {
    fn from(entries: [(Data, Data); N]) -> Table {
        entries.into_iter().collect()
    }
}

impl From<Vec<(Data, Data)>> for Table {
    /// Sorts the entries by key; repeated keys keep the last value.
    fn from(entries: Vec<(Data, Data)>) -> Table {
        Table(Store::from_vec(entries))
    }
}

impl From<BTreeMap<Data, Data>> for Table {
    fn from(entries: BTreeMap<Data, Data>) -> Table {
        Table(Store::Sorted(entries.into_iter().collect()))
    }
}

impl From<Table> for BTreeMap<Data, Data> {
    fn from(table: Table) -> BTreeMap<Data, Data> {
        table.into_iter().collect()
    }
}

impl IntoIterator for Table {
    type Item = (Data, Data);
    type IntoIter = TableIntoIter;

    fn into_iter(self) -> TableIntoIter {
        TableIntoIter(self.0.into_entries())
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = (&'a Data, &'a Data);
    type IntoIter = TableIter<'a>;

    fn into_iter(self) -> TableIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Table {
    type Item = (&'a Data, &'a mut Data);
    type IntoIter = TableIterMut<'a>;

    fn into_iter(self) -> TableIterMut<'a> {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_tree<V>(store: &Store<V>) -> bool {
        matches!(store, Store::Tree(_))
    }

    fn counts(set: &Set) -> Vec<u64> {
        set.iter().filter_map(Data::as_count).collect()
    }

    #[test]
    fn containers_keep_data_at_four_words() {
        // As small as with std's containers: sets, tables and every
        // element of them stay compact.
        assert_eq!(std::mem::size_of::<Set>(), 24);
        assert_eq!(std::mem::size_of::<Table>(), 24);
        assert_eq!(std::mem::size_of::<Data>(), 32);
    }

    #[test]
    fn set_keeps_order_and_rejects_repeats() {
        let mut set = Set::new();
        for n in [5, 1, 9, 1, 3, 9] {
            set.insert(Data::Count(n));
        }
        assert_eq!(counts(&set), [1, 3, 5, 9]);
        assert!(set.contains(&Data::Count(3)));
        assert!(!set.contains(&Data::Count(4)));
        assert!(set.remove(&Data::Count(3)));
        assert!(!set.remove(&Data::Count(3)));
        assert_eq!(set.first(), Some(&Data::Count(1)));
        assert_eq!(set.last(), Some(&Data::Count(9)));
        assert_eq!(set.iter().next_back(), Some(&Data::Count(9)));
        assert_eq!(set.iter().len(), 3);
    }

    #[test]
    fn large_out_of_order_growth_becomes_a_tree_and_stays_correct() {
        // Descending inserts: each goes to the front of the vector.
        let n = 3 * TREE_FROM as u64;
        let mut set = Set::new();
        for i in (0..n).rev() {
            assert!(set.insert(Data::Count(i)));
        }
        assert!(is_tree(&set.0));
        assert_eq!(counts(&set), (0..n).collect::<Vec<_>>());
        // The same elements built from sorted input stay a vector, and the
        // two forms are equal, ordered and hashed alike.
        let sorted: Set = (0..n).map(Data::Count).collect();
        assert!(!is_tree(&sorted.0));
        assert_eq!(set, sorted);
        assert_eq!(set.cmp(&sorted), Ordering::Equal);
        let hash = |s: &Set| {
            let mut h = std::hash::DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&set), hash(&sorted));
    }

    #[test]
    fn appending_in_order_stays_a_vector() {
        let n = 4 * TREE_FROM as u64;
        let mut table = Table::new();
        for i in 0..n {
            table.insert(Data::Count(i), Data::Count(i * 2));
        }
        assert!(!is_tree(&table.0));
        assert_eq!(table.len(), n as usize);
        assert_eq!(table[&Data::Count(7)], Data::Count(14));
        // Removing at the end keeps the vector; in the middle of a large
        // one converts.
        assert_eq!(
            table.remove(&Data::Count(n - 1)),
            Some(Data::Count(2 * (n - 1)))
        );
        assert!(!is_tree(&table.0));
        assert_eq!(table.remove(&Data::Count(3)), Some(Data::Count(6)));
        assert!(is_tree(&table.0));
        assert!(!table.contains_key(&Data::Count(3)));
        assert_eq!(table.len(), n as usize - 2);
    }

    #[test]
    fn get_or_insert_with_finds_or_inserts_in_both_forms() {
        let n = 2 * TREE_FROM as u64;
        let mut table: Table = (0..n)
            .map(|i| (Data::Count(2 * i), Data::Count(i)))
            .collect();
        assert!(!is_tree(&table.0));
        // An existing key: found, the default is not called.
        let found = table.get_or_insert_with(Data::Count(4), || unreachable!("present"));
        assert_eq!(*found, Data::Count(2));
        // A missing key in the middle of a large vector: converts, inserts.
        *table.get_or_insert_with(Data::Count(5), || Data::Count(0)) = Data::Count(99);
        assert!(is_tree(&table.0));
        assert_eq!(table.get(&Data::Count(5)), Some(&Data::Count(99)));
        assert_eq!(table.len(), n as usize + 1);
        let keys: Vec<u64> = table.keys().filter_map(Data::as_count).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn table_insert_replaces_values_and_keeps_keys() {
        let mut table = Table::new();
        assert_eq!(table.insert(Data::from("a"), Data::Count(1)), None);
        assert_eq!(
            table.insert(Data::from("a"), Data::Count(2)),
            Some(Data::Count(1))
        );
        *table.get_mut(&Data::from("a")).unwrap() = Data::Count(3);
        *table.get_or_insert_with(Data::from("b"), || Data::Count(0)) = Data::Count(4);
        for v in table.values_mut() {
            if let Data::Count(n) = v {
                *n += 10;
            }
        }
        let entries: Vec<_> = table.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(
            entries,
            [
                (Data::from("a"), Data::Count(13)),
                (Data::from("b"), Data::Count(14))
            ]
        );
        table.retain(|k, _| k.as_str() == Some("b"));
        assert_eq!(table.len(), 1);
        assert_eq!(format!("{table:?}"), r#"{String("b"): Count(14)}"#);
    }

    #[test]
    fn collecting_sorts_and_keeps_the_last_of_repeated_keys() {
        let table: Table = [
            (Data::Count(2), Data::from("x")),
            (Data::Count(1), Data::from("y")),
            (Data::Count(2), Data::from("z")),
        ]
        .into();
        let std: BTreeMap<Data, Data> = [
            (Data::Count(2), Data::from("x")),
            (Data::Count(1), Data::from("y")),
            (Data::Count(2), Data::from("z")),
        ]
        .into();
        assert_eq!(table, Table::from(std.clone()));
        assert_eq!(BTreeMap::from(table), std);
    }

    #[test]
    fn from_unique_rejects_repeats_in_any_order() {
        let entries = |ns: &[u64]| ns.iter().map(|&n| (Data::Count(n), ())).collect::<Vec<_>>();
        assert!(Set::from_unique(entries(&[1, 2, 3])).is_some());
        assert_eq!(
            Set::from_unique(entries(&[3, 1, 2])).map(|s| counts(&s)),
            Some(vec![1, 2, 3])
        );
        assert!(Set::from_unique(entries(&[1, 2, 2])).is_none());
        assert!(Set::from_unique(entries(&[2, 1, 2])).is_none());
    }
}
