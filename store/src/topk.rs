//! A streaming top-K summary with bounded memory: the Space-Saving
//! algorithm (Metwally, Agrawal and El Abbadi, 2005).
//!
//! A summary keeps at most `capacity` counters, however many distinct keys
//! it is shown. A key already counted is incremented; a new key takes over
//! the smallest counter and inherits its count, which it records as its
//! `error` (how much its count may overstate the truth). Every key whose
//! true weight exceeds `total / capacity` is guaranteed to be present, and
//! a key counted since the summary had room for it is counted exactly.
//!
//! The counters live in fixed slots; a binary min-heap of slot numbers
//! orders them by count, and a hash map finds a key's slot. Recording a
//! key already counted costs one hash lookup plus O(log capacity) swaps of
//! slot numbers (no hashing); replacing the smallest counter never scans,
//! and reuses the evicted key's allocations. Both contributor insights (the
//! store's per-table rules) and the proxy's hottest keys use it.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// One counted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Weight counted for the key (an upper bound of its true weight).
    pub count: u64,
    /// How much `count` may overstate the true weight.
    pub error: u64,
}

#[derive(Debug, Clone)]
struct Slot<K> {
    key: K,
    counter: Counter,
    /// Where this slot sits in `heap`.
    at: usize,
}

/// The summary. Not synchronised: callers hold it behind their own lock.
#[derive(Debug, Clone)]
pub struct TopK<K> {
    capacity: usize,
    /// The counters; a slot keeps its number until its key is evicted.
    slots: Vec<Slot<K>>,
    /// Slot numbers, a min-heap on their `counter.count`.
    heap: Vec<usize>,
    /// Key → its slot (foldhash: recording is on the request path).
    index: HashMap<K, usize, foldhash::fast::RandomState>,
    total: u64,
}

impl<K: Hash + Eq + Clone> TopK<K> {
    /// A summary of at most `capacity` counters (at least one).
    pub fn new(capacity: usize) -> TopK<K> {
        TopK {
            capacity: capacity.max(1),
            slots: Vec::new(),
            heap: Vec::new(),
            index: HashMap::default(),
            total: 0,
        }
    }

    /// Count `weight` more for `key`. Allocates only while the summary has
    /// room (to own the new key); a key that takes over a counter reuses
    /// the evicted key's memory where `ToOwned::clone_into` can.
    pub fn record<Q>(&mut self, key: &Q, weight: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        self.total = self.total.saturating_add(weight);
        if let Some(&slot) = self.index.get(key) {
            let c = &mut self.slots[slot].counter;
            c.count = c.count.saturating_add(weight);
            self.sift_down(self.slots[slot].at);
            return;
        }
        if self.slots.len() < self.capacity {
            let (slot, at) = (self.slots.len(), self.heap.len());
            self.slots.push(Slot {
                key: key.to_owned(),
                counter: Counter {
                    count: weight,
                    error: 0,
                },
                at,
            });
            self.heap.push(slot);
            self.index.insert(key.to_owned(), slot);
            self.sift_up(at);
            return;
        }
        // Full: the new key takes over the smallest counter (the root).
        let slot = self.heap[0];
        let entry = &mut self.slots[slot];
        let min = entry.counter.count;
        entry.counter = Counter {
            count: min.saturating_add(weight),
            error: min,
        };
        let mut owned = match self.index.remove_entry::<K>(&entry.key) {
            Some((owned, _)) => owned,
            None => key.to_owned(),
        };
        key.clone_into(&mut owned);
        key.clone_into(&mut entry.key);
        self.index.insert(owned, slot);
        self.sift_down(0);
    }

    /// Total weight recorded, counted keys or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of counters in use (never more than the capacity).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every counted key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, Counter)> {
        self.slots.iter().map(|e| (&e.key, e.counter))
    }

    /// The `n` heaviest keys, heaviest first; equal counts by key.
    pub fn top(&self, n: usize) -> Vec<(&K, Counter)>
    where
        K: Ord,
    {
        let mut all: Vec<(&K, Counter)> = self.iter().collect();
        all.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    fn count_at(&self, at: usize) -> u64 {
        self.slots[self.heap[at]].counter.count
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slots[self.heap[a]].at = a;
        self.slots[self.heap[b]].at = b;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.count_at(i) >= self.count_at(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < self.heap.len() && self.count_at(l) < self.count_at(smallest) {
                smallest = l;
            }
            if r < self.heap.len() && self.count_at(r) < self.count_at(smallest) {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.swap(i, smallest);
            i = smallest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_ok<K: Hash + Eq + Clone>(t: &TopK<K>) -> bool {
        (1..t.heap.len()).all(|i| t.count_at((i - 1) / 2) <= t.count_at(i))
            && t.heap
                .iter()
                .enumerate()
                .all(|(i, &slot)| t.slots[slot].at == i)
            && t.slots
                .iter()
                .enumerate()
                .all(|(slot, e)| t.index[&e.key] == slot)
            && t.index.len() == t.slots.len()
            && t.heap.len() == t.slots.len()
    }

    #[test]
    fn counts_are_exact_while_keys_fit() {
        let mut t: TopK<String> = TopK::new(16);
        for n in 0..10u64 {
            for _ in 0..=n {
                t.record(format!("k{n}").as_str(), 1);
            }
        }
        let top = t.top(2);
        assert_eq!(top[0].0, "k9");
        assert_eq!(
            top[0].1,
            Counter {
                count: 10,
                error: 0
            }
        );
        assert_eq!(top[1].1, Counter { count: 9, error: 0 });
        assert_eq!(t.total(), 55);
        assert!(heap_ok(&t));
    }

    #[test]
    fn heavy_hitters_survive_a_long_tail() {
        let mut t: TopK<u64> = TopK::new(32);
        for i in 0..10_000u64 {
            t.record(&(1_000_000 + i), 1);
            if i % 10 == 0 {
                t.record(&1, 1);
            }
            if i % 20 == 0 {
                t.record(&2, 1);
            }
            if i % 40 == 0 {
                t.record(&3, 3);
            }
        }
        let top: Vec<u64> = t.top(3).into_iter().map(|(k, _)| *k).collect();
        assert_eq!(top, [1, 3, 2]);
        for (_, c) in t.iter() {
            assert!(c.count >= c.error);
        }
        assert!(heap_ok(&t));
    }

    /// A million distinct keys never grow the summary past its capacity,
    /// and the keys heavier than total / capacity are all still there.
    #[test]
    fn a_million_distinct_keys_stay_within_capacity() {
        let mut t: TopK<u64> = TopK::new(64);
        for i in 0..1_000_000u64 {
            t.record(&(10 + i), 1);
            if i % 5 == 0 {
                t.record(&((i / 5) % 5), 1);
            }
            assert!(t.len() <= 64);
        }
        assert_eq!(t.len(), 64);
        assert_eq!(t.index.len(), 64);
        assert!(t.slots.capacity() <= 128 && t.heap.capacity() <= 128);
        let top: Vec<u64> = t.top(5).into_iter().map(|(k, _)| *k).collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3, 4]);
        assert!(heap_ok(&t));
    }

    #[test]
    fn weights_and_errors_bound_the_truth() {
        let mut t: TopK<u32> = TopK::new(2);
        t.record(&1, 5);
        t.record(&2, 1);
        t.record(&3, 1);
        // 3 replaced 2 (the smallest) and inherited its count as error.
        let c: HashMap<u32, Counter> = t.iter().map(|(k, c)| (*k, c)).collect();
        assert_eq!(c[&1], Counter { count: 5, error: 0 });
        assert_eq!(c[&3], Counter { count: 2, error: 1 });
        assert!(!c.contains_key(&2));
    }
}
