//! The item cache's storage: full items (or their absence) keyed by
//! (table, table epoch, primary key), bounded in bytes, with the coherence
//! bookkeeping that keeps a slow fill from overwriting a newer write.
//!
//! Coherence (the lease idea from memcache at Facebook, with striped
//! generations instead of per-key leases so memory stays bounded):
//! * every key hashes to one of `STRIPES` generation counters;
//! * a miss takes a [`Lease`] (the stripe's generation) *before* asking the
//!   upstream, and its fill is kept only if the generation is unchanged
//!   after the insert — otherwise the fill removes itself;
//! * a write bumps the stripe before it is forwarded and again (plus a
//!   removal) after the upstream answered.
//!
//! Whatever the interleaving, an entry read before a write cannot survive the
//! write's completion. Table-wide changes (DeleteTable, batch writes whose
//! keys are not tracked) bump the table's epoch, which makes every entry of
//! the table unreachable.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::model::value::{heap_size, Item};

const STRIPES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    table: Arc<str>,
    epoch: u64,
    /// The primary key in canonical DynamoDB JSON (attribute names sorted,
    /// numbers canonical), so equal keys are equal bytes.
    key: Bytes,
}

/// A cached GetItem answer: the full item, or `None` for "no such item".
#[derive(Debug)]
pub struct Entry {
    pub item: Option<Item>,
}

/// Permission to fill one key, taken before the upstream read.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    stripe: usize,
    generation: u64,
}

impl Lease {
    /// The key's generation when the lease was taken: reads that share it
    /// may share one upstream request.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Memory one cached entry holds besides its item: moka's node, its
/// frequency-sketch and timer-wheel share, the key's and the entry's own
/// allocations. Measured with `proxy-memory` (benches/).
const ENTRY_OVERHEAD: usize = 560;

/// What an entry costs in memory: the weigher's unit is real bytes, so
/// `--item-cache-bytes` bounds the process's memory, not a billing size.
fn weight(key: &CacheKey, entry: &Entry) -> usize {
    ENTRY_OVERHEAD + key.key.len() + key.table.len() + entry.item.as_ref().map_or(0, heap_size)
}

pub struct ItemCache {
    entries: Option<moka::sync::Cache<CacheKey, Arc<Entry>>>,
    stripes: Box<[AtomicU64]>,
    epochs: RwLock<HashMap<Arc<str>, u64>>,
    hasher: std::collections::hash_map::RandomState,
}

impl ItemCache {
    /// A cache of at most `max_bytes` (approximate item sizes) whose entries
    /// live at most `ttl`. A zero size or TTL disables caching.
    pub fn new(max_bytes: u64, ttl: Duration) -> ItemCache {
        let entries = (max_bytes > 0 && !ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                .weigher(|k: &CacheKey, v: &Arc<Entry>| {
                    u32::try_from(weight(k, v)).unwrap_or(u32::MAX)
                })
                .build()
        });
        ItemCache {
            entries,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epochs: RwLock::new(HashMap::new()),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn epoch(&self, table: &str) -> u64 {
        self.epochs
            .read()
            .ok()
            .and_then(|e| e.get(table).copied())
            .unwrap_or(0)
    }

    pub fn key(&self, table: &str, key: Bytes) -> CacheKey {
        CacheKey {
            table: Arc::from(table),
            epoch: self.epoch(table),
            key,
        }
    }

    fn stripe(&self, key: &CacheKey) -> usize {
        let mut h = self.hasher.build_hasher();
        key.table.hash(&mut h);
        key.key.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    pub fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        self.entries.as_ref()?.get(key)
    }

    pub fn lease(&self, key: &CacheKey) -> Lease {
        let stripe = self.stripe(key);
        Lease {
            stripe,
            generation: self.stripes[stripe].load(Ordering::Acquire),
        }
    }

    /// Keep what a miss read, unless a write touched the key (or its table)
    /// since the lease was taken. Returns whether the entry was kept.
    pub fn fill(&self, key: CacheKey, lease: Lease, entry: Arc<Entry>) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        let valid = |c: &ItemCache| {
            c.stripes[lease.stripe].load(Ordering::Acquire) == lease.generation
                && c.epoch(&key.table) == key.epoch
        };
        if !valid(self) {
            return false;
        }
        entries.insert(key.clone(), entry);
        if valid(self) {
            return true;
        }
        // A write raced with the insert: it may have removed the entry before
        // we inserted it, so remove it ourselves.
        entries.invalidate(&key);
        false
    }

    /// A write to `key` is about to be forwarded or has just completed.
    pub fn invalidate(&self, key: &CacheKey) {
        let stripe = self.stripe(key);
        self.stripes[stripe].fetch_add(1, Ordering::AcqRel);
        if let Some(entries) = &self.entries {
            entries.invalidate(key);
        }
    }

    /// Make every entry of `table` unreachable.
    pub fn invalidate_table(&self, table: &str) {
        if let Ok(mut epochs) = self.epochs.write() {
            *epochs.entry(Arc::from(table)).or_insert(0) += 1;
        }
    }

    /// Approximate bytes held, and entry count.
    pub fn usage(&self) -> (u64, u64) {
        match &self.entries {
            Some(e) => {
                e.run_pending_tasks();
                (e.weighted_size(), e.entry_count())
            }
            None => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Arc<Entry> {
        Arc::new(Entry { item: None })
    }

    #[test]
    fn fill_after_invalidation_is_discarded() {
        let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        let lease = cache.lease(&key);
        cache.invalidate(&key);
        assert!(!cache.fill(key.clone(), lease, entry()));
        assert!(cache.get(&key).is_none());
        let lease = cache.lease(&key);
        assert!(cache.fill(key.clone(), lease, entry()));
        assert!(cache.get(&key).is_some());
    }

    #[test]
    fn table_invalidation_hides_old_entries_and_stale_fills() {
        let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        assert!(cache.fill(key.clone(), cache.lease(&key), entry()));
        let lease = cache.lease(&key);
        cache.invalidate_table("t");
        assert!(cache
            .get(&cache.key("t", Bytes::from_static(b"k")))
            .is_none());
        assert!(!cache.fill(key, lease, entry()));
    }

    #[test]
    fn zero_size_disables_the_cache() {
        let cache = ItemCache::new(0, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        assert!(!cache.fill(key.clone(), cache.lease(&key), entry()));
        assert!(cache.get(&key).is_none());
    }
}
