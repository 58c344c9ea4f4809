//! A map kept as a vector sorted by key, for the core's small maps.
//!
//! `BTreeMap` compiles to several kilobytes of WebAssembly per key and value type (node
//! splitting, merging, stealing between nodes, its iterators): about 6 KB a map in the browser
//! build, where the core's and the driver's maps made up 31 % of the shipped `.wasm`. This map
//! is a binary search over a `Vec<(K, V)>`, a few hundred bytes per type. Inserting and removing
//! move the entries after the slot, so it is for maps whose size a rule bounds and whose entries
//! are not touched once per message: subscriptions, topic aliases, requests and responses
//! waiting for their answer (the session's large or per-message maps, the inflight window and
//! the completions of publishes, stay `BTreeMap`s). Appending a key greater than every key in
//! the map (ids handed out in increasing order) is a push.

use alloc::vec::Vec;
use core::borrow::Borrow;

/// A map sorted by key (see the module docs for when to use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VecMap<K, V> {
    items: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { items: Vec::new() }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub(crate) const fn new() -> Self {
        VecMap { items: Vec::new() }
    }

    #[inline]
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.items.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The number of entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the map has no entry.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.items[i].1)
    }

    /// The value of `key`, to change it.
    pub(crate) fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.items[i].1)
    }

    /// Whether `key` has a value.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets the value of `key`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if self.items.last().is_none_or(|(last, _)| *last < key) {
            self.items.push((key, value));
            return None;
        }
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.items[i].1, value)),
            Err(i) => {
                self.items.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted first as `V::default()` when there is none.
    pub(crate) fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.items.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.items[i].1
    }

    /// Removes `key`; returns its value.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.items.remove(i).1)
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// The keys in order.
    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.items.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.items.iter().map(|(_, v)| v)
    }
}

impl<K, V> VecMap<K, V> {
    /// The values in key order, the map consumed.
    pub(crate) fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.items.into_iter().map(|(_, v)| v)
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter =
        core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    /// The entries in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Ord, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;

    /// The entries in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// `(key, position)` of every item, sorted: equal keys in their original order (the pairs are
/// distinct, so the unstable sort is stable here). The one sort instantiation of the crate:
/// every sort sorts these pairs and moves its items after them (a sort compiles to a few
/// kilobytes per element type).
fn sorted_order<T>(items: &[T], key: impl Fn(&T) -> u64) -> Vec<(u64, usize)> {
    let mut order: Vec<(u64, usize)> = items.iter().map(key).zip(0..).collect();
    order.sort_unstable();
    order
}

/// `items` in the order of their keys (equal keys keep their order).
pub(crate) fn sorted_by_key<T>(items: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    let order = sorted_order(&items, key);
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&(_, at)| slots.get_mut(at).and_then(Option::take))
        .collect()
}

/// `items` sorted by id, one item per id: of items with equal ids the last one wins, as
/// inserting them into a map in order would leave it. For what is gathered in any order and
/// then read in id order (the records a session resumes from), instead of a map.
pub(crate) fn sort_last_wins<T>(items: Vec<(u64, T)>) -> Vec<(u64, T)> {
    let order = sorted_order(&items, |(id, _)| *id);
    let mut slots: Vec<Option<(u64, T)>> = items.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(order.len());
    for (n, &(id, at)) in order.iter().enumerate() {
        let superseded = order.get(n + 1).is_some_and(|&(next, _)| next == id);
        if let Some(item) = slots.get_mut(at).and_then(Option::take) {
            if !superseded {
                out.push(item);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::VecMap;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    #[test]
    fn behaves_as_a_btreemap_under_a_mixed_sequence() {
        let mut ours: VecMap<u16, u32> = VecMap::new();
        let mut theirs = alloc::collections::BTreeMap::new();
        // A deterministic mix of inserts (ascending, descending, repeated keys) and removals.
        let mut x: u32 = 12345;
        for step in 0..20_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = ((x >> 16) % 97) as u16;
            match step % 5 {
                0..=2 => assert_eq!(ours.insert(key, step), theirs.insert(key, step)),
                3 => assert_eq!(ours.remove(&key), theirs.remove(&key)),
                _ => {
                    if let Some(v) = ours.get_mut(&key) {
                        *v += 1;
                    }
                    if let Some(v) = theirs.get_mut(&key) {
                        *v += 1;
                    }
                }
            }
            assert_eq!(ours.len(), theirs.len());
            assert_eq!(ours.get(&key), theirs.get(&key));
            assert_eq!(ours.contains_key(&key), theirs.contains_key(&key));
        }
        let a: Vec<(u16, u32)> = ours.iter().map(|(k, v)| (*k, *v)).collect();
        let b: Vec<(u16, u32)> = theirs.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(a, b);
        assert!(ours.into_iter().eq(theirs));
    }

    #[test]
    fn sort_last_wins_keeps_the_last_of_each_key_in_key_order() {
        let v = alloc::vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e'), (3, 'f')];
        assert_eq!(super::sort_last_wins(v), [(1, 'e'), (2, 'd'), (3, 'f')]);
        assert!(super::sort_last_wins(Vec::<(u64, u8)>::new()).is_empty());
    }

    #[test]
    fn sorted_by_key_orders_by_the_key_and_keeps_equal_keys_in_order() {
        let v = alloc::vec![
            (3, 'a'),
            (1, 'b'),
            (2, 'c'),
            (1, 'd'),
            (u64::MAX, 'e'),
            (0, 'f')
        ];
        let sorted = super::sorted_by_key(v, |(k, _)| *k);
        let want = [
            (0, 'f'),
            (1, 'b'),
            (1, 'd'),
            (2, 'c'),
            (3, 'a'),
            (u64::MAX, 'e'),
        ];
        assert_eq!(sorted, want);
        assert!(super::sorted_by_key(Vec::<u8>::new(), |_| 0).is_empty());
    }

    #[test]
    fn string_keys_are_found_by_str_and_entries_default() {
        let mut m: VecMap<String, Vec<u8>> = VecMap::default();
        m.entry_or_default("b".to_string()).push(1);
        m.entry_or_default("a".to_string()).push(2);
        m.entry_or_default("b".to_string()).push(3);
        assert_eq!(m.get("b"), Some(&alloc::vec![1, 3]));
        assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.remove("a"), Some(alloc::vec![2]));
        assert!(!m.contains_key("a"));
        assert_eq!(m.len(), 1);
        assert_eq!(m.into_values().collect::<Vec<_>>(), [alloc::vec![1, 3]]);
    }
}
