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
use ferrodyn_store::model::value::{item_size, Item};

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
                    let size =
                        64 + k.key.len() + k.table.len() + v.item.as_ref().map_or(0, item_size);
                    u32::try_from(size).unwrap_or(u32::MAX)
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

    /// A write to `key`, forwarded after `lease` was taken, has been
    /// acknowledged: invalidate the key (so reads that started before the
    /// acknowledgement cannot fill) and, if nothing else touched its stripe
    /// since `lease`, return a lease for storing what the write produced.
    pub fn invalidate_and_lease(&self, key: &CacheKey, lease: Lease) -> Option<Lease> {
        let next = lease.generation.wrapping_add(1);
        let won = self.stripes[lease.stripe]
            .compare_exchange(lease.generation, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if let Some(entries) = &self.entries {
            entries.invalidate(key);
        }
        if !won {
            self.invalidate(key);
            return None;
        }
        Some(Lease {
            stripe: lease.stripe,
            generation: next,
        })
    }

    /// The change feed reports that `key` now holds `new` (`None`: absent).
    ///
    /// The key's generation is bumped as for any invalidation (reads in
    /// flight must not fill), but an entry that already equals `new` is kept
    /// — typically the echo of a write made through this proxy. That is
    /// safe: the feed delivers a key's changes in commit order and the
    /// store records no change that leaves an item as it was, so an entry
    /// equal to this change's new image cannot be the state *before* it
    /// (that is the old image, which differs); it is the state after this
    /// change or after a later one, and every later change is still to be
    /// delivered and will be judged the same way.
    pub fn invalidate_unless_equal(&self, key: &CacheKey, new: Option<&Item>) {
        let stripe = self.stripe(key);
        self.stripes[stripe].fetch_add(1, Ordering::AcqRel);
        let Some(entries) = &self.entries else {
            return;
        };
        let keep = entries.get(key).is_some_and(|e| e.item.as_ref() == new);
        if !keep {
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

    fn item(v: &str) -> Item {
        let mut i = Item::new();
        i.insert(
            "a".to_owned(),
            ferrodyn_store::model::value::AttributeValue::S(v.to_owned()),
        );
        i
    }

    #[test]
    fn written_item_is_kept_only_if_nothing_touched_the_key_meanwhile() {
        let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        // Quiet: the write's lease survives, a reader's older lease does not.
        cache.invalidate(&key);
        let write = cache.lease(&key);
        let reader = cache.lease(&key);
        let lease = cache.invalidate_and_lease(&key, write).expect("quiet key");
        assert!(!cache.fill(key.clone(), reader, entry()));
        assert!(cache.fill(
            key.clone(),
            lease,
            Arc::new(Entry {
                item: Some(item("new"))
            })
        ));
        // A change reported while the write was in flight: no fill.
        let write = cache.lease(&key);
        cache.invalidate(&key);
        assert!(cache.invalidate_and_lease(&key, write).is_none());
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn feed_echo_keeps_an_equal_entry_and_drops_a_different_one() {
        let cache = ItemCache::new(1 << 20, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        let fill = |v: &str| {
            let lease = cache.lease(&key);
            assert!(cache.fill(
                key.clone(),
                lease,
                Arc::new(Entry {
                    item: Some(item(v))
                })
            ));
        };
        fill("x");
        let reader = cache.lease(&key);
        cache.invalidate_unless_equal(&key, Some(&item("x")));
        assert!(cache.get(&key).is_some());
        // A read in flight across the change still cannot fill.
        assert!(!cache.fill(key.clone(), reader, entry()));
        fill("x");
        cache.invalidate_unless_equal(&key, Some(&item("y")));
        assert!(cache.get(&key).is_none());
        fill("x");
        cache.invalidate_unless_equal(&key, None);
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn zero_size_disables_the_cache() {
        let cache = ItemCache::new(0, Duration::from_secs(60));
        let key = cache.key("t", Bytes::from_static(b"k"));
        assert!(!cache.fill(key.clone(), cache.lease(&key), entry()));
        assert!(cache.get(&key).is_none());
    }
}
