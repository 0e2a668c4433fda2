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
//!   removal of the key's entry, if it may have one) after the upstream
//!   answered;
//! * a single-item write that succeeded may then store what it wrote, but
//!   only if nothing but its own echo from the change feed touched the key
//!   while it was in flight (see [`ItemCache::finish_write`]), and only if
//!   the key holds an entry or the cache has room (`ItemCache::admits`).
//!
//! Whatever the interleaving, an entry read before a write cannot survive the
//! write's completion. Table-wide changes (DeleteTable, batch writes whose
//! keys are not tracked) bump the table's epoch, which makes every entry of
//! the table unreachable.
//!
//! Fills are allowed only while the cache is *open*: the change feed opens
//! it once it knows its position in the upstream's log (a fill made before
//! that could miss a change the feed will never deliver) and closes it while
//! it cannot follow the log. Opening and closing bump a global epoch, part
//! of every key, so nothing filled before either survives it.
//!
//! `entry` holds what an entry is and how it counts its own eviction.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::gate::Gate;
use crate::read_mostly::ReadMostly;

mod entry;

pub use entry::{encode, Entry};
use entry::{presence_slots, Evictions, Held, Tally};

const STRIPES: usize = 4096;

/// Each table's epoch, looked up by name on every hit (hence foldhash).
type Epochs = HashMap<Arc<str>, u64, foldhash::fast::RandomState>;

/// Tables whose epochs are tracked before tracking starts over (see
/// [`ItemCache::invalidate_table`]).
const MAX_TABLES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The hash of the table and key, computed once when the key is made:
    /// the maps keyed by it use it as it is ([`KeyHash`]), so neither a
    /// lookup nor moka's rehashing of its table hashes the bytes again.
    /// First, so comparisons of different keys usually stop here.
    hash: u64,
    epoch: u64,
    /// The cache-wide epoch when the key was made.
    global: u64,
    /// How many leading bytes of `text` are the table's name.
    table_len: u32,
    /// The table's name, then the primary key in canonical DynamoDB JSON
    /// (attribute names sorted, numbers canonical), so equal keys are equal
    /// bytes. One allocation, so a lookup that finds the key reads one
    /// more place in memory besides moka's bucket, and a clone (moka keeps
    /// one) is a reference count.
    text: Arc<[u8]>,
}

impl CacheKey {
    /// The table's name.
    fn table(&self) -> &str {
        // Made from a `&str` (see `ItemCache::key`): it is UTF-8.
        self.text
            .get(..self.table_len as usize)
            .and_then(|name| std::str::from_utf8(name).ok())
            .unwrap_or_default()
    }
}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The hasher of maps keyed by [`CacheKey`]: it passes the key's
/// precomputed hash through (already a seeded foldhash, so well mixed).
pub type KeyHash = BuildHasherDefault<KeyHasher>;

/// See [`KeyHash`]. Anything but one `u64` (which a `CacheKey` writes) is
/// still mixed in, so the hasher stays correct for any key.
#[derive(Debug, Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }
}

/// What [`ItemCache::finish_write`] did with what a write left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// It is the key's entry now.
    Stored,
    /// Not stored (the write failed, its result is unknown, or something
    /// else touched the key meanwhile); the key's entry is dropped.
    Dropped,
    /// Not stored, though the write succeeded: the cache is full and the
    /// key holds no entry (see `ItemCache::admits`), or the cache keeps
    /// nothing (size or time to live zero).
    NoRoom,
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

/// What happened to a key while writes of it were in flight.
#[derive(Default)]
struct PendingWrite {
    writers: u32,
    /// Invalidated by something other than a change-feed record.
    spoiled: bool,
    /// New images the change feed reported meanwhile, encoded (`None`:
    /// removed).
    seen: Vec<Option<Box<[u8]>>>,
}

const PENDING_SHARDS: usize = 64;

/// Memory one cached entry holds besides its item: moka's node, its
/// frequency-sketch and timer-wheel share, the key's and the entry's own
/// allocations. Measured with `proxy-memory` (benches/) as 560 bytes before
/// each key's entry was kept in a [`Held`] with its eviction tally, which
/// is added here (with the `Held`'s reference counts).
const ENTRY_OVERHEAD: usize = 560 + std::mem::size_of::<Held>() + 16;

/// What an entry costs in memory: the weigher's unit is real bytes, so
/// `--item-cache-bytes` bounds the process's memory, not a billing size.
fn weight(key: &CacheKey, entry: &Entry) -> usize {
    weight_of(key, entry.stored_len())
}

/// [`weight`] of an entry whose item is `stored` bytes long (0: no item).
fn weight_of(key: &CacheKey, stored: usize) -> usize {
    // The stored bytes, the answer the first hit encodes (counted in
    // advance: JSON's quotes, braces and type names, and base64 for binary
    // data, stay within twice the stored bytes) and what the allocator keeps
    // around them under churn: four times the stored bytes, measured with
    // `proxy-memory` (1 KB items) and `data-growth` (200 B items).
    ENTRY_OVERHEAD + key.text.len() + 4 * stored
}

/// A number no other cache of this process has: a counter, mixed with
/// the process's random hash keys.
fn new_origin() -> u64 {
    static CACHES: AtomicU64 = AtomicU64::new(0);
    let n = CACHES.fetch_add(1, Ordering::Relaxed);
    std::collections::hash_map::RandomState::new().hash_one(n) | 1
}

type Entries = moka::sync::Cache<CacheKey, Arc<Held>, KeyHash>;

pub struct ItemCache {
    entries: Option<Entries>,
    /// The size bound (moka's maximum capacity).
    max_bytes: u64,
    /// Entries evicted to stay within the size bound, and their weight.
    evictions: Arc<Evictions>,
    stripes: Box<[AtomicU64]>,
    /// Writes in flight, sharded by stripe. Invalidating a key takes its
    /// shard's lock, so a write's final check and an invalidation are
    /// ordered.
    pending: Box<[Mutex<HashMap<CacheKey, PendingWrite, KeyHash>>]>,
    /// Each table's epoch (0 if absent). Read on every hit, so without a
    /// lock shared by all requests ([`ReadMostly`]); changed only by
    /// table-wide invalidations.
    epochs: ReadMostly<Epochs>,
    /// Open or closed, and the cache-wide epoch (see the module doc).
    gate: Gate,
    hasher: foldhash::fast::RandomState,
    /// Names this cache's writes to an in-process store (see [`ItemCache::origin`]).
    origin: u64,
}

impl ItemCache {
    /// A cache of at most `max_bytes` (approximate item sizes) whose entries
    /// live at most `ttl`. A zero size or TTL disables caching. It starts
    /// open: a proxy closes it until its change feed is positioned.
    pub fn new(max_bytes: u64, ttl: Duration) -> ItemCache {
        let slots = presence_slots(max_bytes);
        let evictions = Arc::new(Evictions {
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            start: Instant::now(),
            present: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            replaced: (0..slots).map(|_| AtomicU8::new(0)).collect(),
        });
        let entries = (max_bytes > 0 && !ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                .weigher(|_: &CacheKey, held: &Arc<Held>| held.weight())
                .build_with_hasher(KeyHash::default())
        });
        ItemCache {
            entries,
            max_bytes,
            evictions,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            pending: (0..PENDING_SHARDS).map(|_| Mutex::default()).collect(),
            epochs: ReadMostly::new(Epochs::default()),
            gate: Gate::default(),
            hasher: foldhash::fast::RandomState::default(),
            origin: new_origin(),
        }
    }

    /// What this cache's single-item writes are stamped with in an
    /// in-process store's change log (`BackendRequest::origin`): the change
    /// feed passes over their changes, whose results the writes store
    /// themselves. Distinct for each cache of the process.
    pub fn origin(&self) -> u64 {
        self.origin
    }

    /// Make every entry unreachable and keep no fill until [`ItemCache::open`].
    pub fn close(&self) {
        self.gate.close();
        self.free_entries();
    }

    /// Keep fills again; whatever was read before this call is not kept.
    pub fn open(&self) {
        self.free_entries();
        self.gate.open();
    }

    /// Free the memory of every entry (they are unreachable already).
    fn free_entries(&self) {
        if let Some(entries) = &self.entries {
            self.evictions.generation.fetch_add(1, Ordering::Relaxed);
            entries.invalidate_all();
        }
    }

    /// Put `entry` in the cache under `key`, replacing what the key holds.
    fn put(&self, entries: &Entries, key: &CacheKey, entry: Arc<Entry>) {
        let e = &self.evictions;
        let slot = e.slot(key);
        // The insert replaces whatever the key holds; the count tells the
        // replaced entry it was not evicted.
        let replaced = if e.may_hold(slot) {
            e.replacing(slot)
        } else {
            e.replacements(slot)
        };
        let tally = Tally {
            evictions: e.clone(),
            weight: u32::try_from(weight(key, &entry)).unwrap_or(u32::MAX),
            generation: e.generation.load(Ordering::Relaxed),
            put_ms: e.now_ms(),
            released: AtomicBool::new(false),
            slot,
            replaced,
        };
        entries.insert(key.clone(), Arc::new(Held::new(entry, tally)));
    }

    /// Drop what `key` holds.
    fn remove(&self, entries: &Entries, key: &CacheKey) {
        if let Some(old) = entries.remove(key) {
            old.release();
        }
    }

    /// Make every entry unreachable (and free their memory).
    pub fn drop_all(&self) {
        self.gate.bump();
        self.free_entries();
    }

    /// Whether an entry for `key` may be stored now.
    fn current(&self, key: &CacheKey) -> bool {
        self.gate.is_open()
            && self.gate.epoch() == key.global
            && self.epoch(key.table()) == key.epoch
    }

    fn epoch(&self, table: &str) -> u64 {
        self.epochs
            .read(|epochs| epochs.get(table).copied().unwrap_or(0))
    }

    /// The key of `key` (canonical primary-key JSON) in `table`.
    pub fn key(&self, table: &str, key: impl AsRef<[u8]>) -> CacheKey {
        let key = key.as_ref();
        let text: Arc<[u8]> = {
            // Joined on the stack when short (most keys), so the shared
            // slice is the one allocation.
            let mut joined = [0u8; 192];
            let len = table.len() + key.len();
            match joined.get_mut(..len) {
                Some(buf) => {
                    let (name, rest) = buf.split_at_mut(table.len());
                    name.copy_from_slice(table.as_bytes());
                    rest.copy_from_slice(key);
                    Arc::from(&*buf)
                }
                None => Arc::from([table.as_bytes(), key].concat()),
            }
        };
        // Table names are at most 255 bytes where DynamoDB accepts them; a
        // longer one only makes a key no entry will ever match.
        let table_len = u32::try_from(table.len()).unwrap_or(u32::MAX);
        CacheKey {
            hash: self.hasher.hash_one((table_len, &text)),
            epoch: self.epoch(table),
            global: self.gate.epoch(),
            table_len,
            text,
        }
    }

    fn stripe(&self, key: &CacheKey) -> usize {
        (key.hash as usize) % STRIPES
    }

    /// The entry for `key`; none while the cache is closed.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Entry>> {
        if !self.gate.is_open() {
            return None;
        }
        Some(self.entries.as_ref()?.get(key)?.entry())
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
            c.stripes[lease.stripe].load(Ordering::Acquire) == lease.generation && c.current(&key)
        };
        if !valid(self) {
            return false;
        }
        self.put(entries, &key, entry);
        // Paired with the fence in `finish_write` (see there).
        fence(Ordering::SeqCst);
        if valid(self) {
            return true;
        }
        // A write raced with the insert: it may have removed the entry before
        // we inserted it, so remove it ourselves.
        self.remove(entries, &key);
        false
    }

    /// A write to `key` is about to be forwarded or has just completed, or
    /// the feed reported a change of it.
    pub fn invalidate(&self, key: &CacheKey) {
        self.invalidate_fills(key);
        if let Some(entries) = &self.entries {
            self.remove(entries, key);
        }
    }

    /// A write of `key` is about to be forwarded: reads in flight may no
    /// longer fill it (as [`ItemCache::invalidate`]), but its entry stays
    /// until [`ItemCache::finish_write`] replaces or drops it — a read
    /// concurrent with an unacknowledged write may see the item before it.
    pub fn invalidate_fills(&self, key: &CacheKey) {
        let stripe = self.stripe(key);
        let mut pending = self.pending(stripe);
        if let Some(record) = pending.get_mut(key) {
            record.spoiled = true;
        }
        self.stripes[stripe].fetch_add(1, Ordering::AcqRel);
    }

    /// A write of `key` is about to be forwarded (after its invalidation):
    /// from now until [`ItemCache::finish_write`], anything that invalidates
    /// the key is remembered, so the write knows whether what it produced
    /// may be cached.
    pub fn begin_write(&self, key: &CacheKey) {
        let stripe = self.stripe(key);
        let mut pending = self.pending(stripe);
        let record = pending.entry(key.clone()).or_default();
        record.writers += 1;
        // Two writes of one key in flight: which one the upstream applied
        // last is unknown, so neither may fill.
        if record.writers > 1 {
            record.spoiled = true;
        }
    }

    /// The write begun with [`ItemCache::begin_write`] is answered:
    /// `written` is what the key now holds if it succeeded (`Some(None)`: a
    /// deletion), `None` if it failed or its result is unknown. Returns
    /// what became of `written`.
    ///
    /// The key is invalidated either way (so reads that started before the
    /// answer cannot fill). `written` is stored only if, while the write was
    /// in flight, nothing invalidated the key except change-feed records
    /// whose new image is exactly `written` — the echo of this write, which
    /// the feed often delivers before the answer arrives (or another write
    /// leaving the same item: as good). Whatever changed the key before the
    /// write was forwarded is older than the write; whatever the feed has
    /// not delivered yet will be judged by [`ItemCache::invalidate_unless_equal`]
    /// when it arrives.
    pub fn finish_write(&self, key: &CacheKey, written: Option<Option<Box<[u8]>>>) -> Finished {
        let stripe = self.stripe(key);
        // Everything happens under the shard's lock, which every
        // invalidation of the key also takes: an invalidation is either
        // recorded before this check or sees the stored entry after it.
        let mut pending = self.pending(stripe);
        let clean = match pending.get_mut(key) {
            Some(record) => {
                record.writers = record.writers.saturating_sub(1);
                let clean = !record.spoiled
                    && written
                        .as_ref()
                        .is_some_and(|w| record.seen.iter().all(|s| s == w));
                if record.writers == 0 {
                    pending.remove(key);
                }
                clean
            }
            None => false,
        };
        self.stripes[stripe].fetch_add(1, Ordering::AcqRel);
        // Paired with the fence in `fill` between its insert and its check
        // of this counter: either the fill sees this bump (and removes what
        // it put in) or what follows here sees the fill's entry.
        fence(Ordering::SeqCst);
        let Some(entries) = &self.entries else {
            // A cache of size (or time to live) zero has room for nothing.
            return match written {
                Some(_) => Finished::NoRoom,
                None => Finished::Dropped,
            };
        };
        // Storing replaces whatever the key held; otherwise it is dropped.
        match written {
            Some(item) if clean && self.current(key) => self.store_written(entries, key, item),
            _ => {
                self.remove(entries, key);
                Finished::Dropped
            }
        }
    }

    /// Make what a write left (`item`) the entry of `key`, which the
    /// caller may store: in place if the key holds an entry it fits
    /// ([`Held::swap`]), else put in the cache.
    ///
    /// A key the cache does not hold gets no entry from a write while the
    /// cache is full ([`Finished::NoRoom`]), because TinyLFU would not keep
    /// it: moka admits a candidate in place of the entries it would evict
    /// only if it was read more often than they were, and a write is not a
    /// read. Making the entry anyway costs its allocations, moka's insert
    /// and then its removal, which under a stream of new keys is most of
    /// what the cache adds to a write. A later read of the key is a miss
    /// that fills it (and counts as a read).
    ///
    /// The lookup of a key that may be held counts in moka's frequency
    /// sketch like a read (its only lookup that returns the entry does): a
    /// key written through the cache weighs a little more when moka next
    /// chooses what to evict.
    fn store_written(
        &self,
        entries: &Entries,
        key: &CacheKey,
        item: Option<Box<[u8]>>,
    ) -> Finished {
        let entry = Entry::encoded(item);
        let weight = weight(key, &entry);
        // The presence count first: it rules most new keys out without a
        // lookup.
        let e = &self.evictions;
        let held = if e.may_hold(e.slot(key)) {
            entries.get(key)
        } else {
            None
        };
        // If the cache lets the found entry go before the swap (an
        // eviction, or a removal that does not wait for the shard's lock),
        // the swapped item goes with it: the key then holds nothing, which
        // is never stale.
        match held {
            Some(held) if held.fits(weight) => held.swap(entry),
            Some(_) => self.put(entries, key, Arc::new(entry)),
            None if entries.weighted_size().saturating_add(weight as u64) <= self.max_bytes => {
                self.put(entries, key, Arc::new(entry));
            }
            None => return Finished::NoRoom,
        }
        Finished::Stored
    }

    fn pending(&self, stripe: usize) -> MutexGuard<'_, HashMap<CacheKey, PendingWrite, KeyHash>> {
        self.pending[stripe % PENDING_SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
    pub fn invalidate_unless_equal(&self, key: &CacheKey, new: Option<&[u8]>) {
        let stripe = self.stripe(key);
        // The entry is judged under the shard's lock, which
        // `finish_write` holds while it stores: otherwise the entry judged
        // could be the one before the write, and the one removed the
        // write's own (a fill lost for nothing).
        let mut pending = self.pending(stripe);
        if let Some(record) = pending.get_mut(key) {
            record.seen.push(new.map(Box::from));
        }
        self.stripes[stripe].fetch_add(1, Ordering::AcqRel);
        let Some(entries) = &self.entries else {
            return;
        };
        // An absent entry needs no invalidation (a new key's change often
        // arrives before its write-through fills it): a fill racing with
        // this change was stopped by the stripe's counter above.
        if entries.get(key).is_some_and(|held| !held.holds(new)) {
            self.remove(entries, key);
        }
        drop(pending);
    }

    /// Make every entry of `table` unreachable.
    ///
    /// Names no upstream accepts have no entries (nothing was ever filled
    /// for them), so they leave no trace. Past `MAX_TABLES` tracked tables
    /// every entry is dropped and tracking starts again, so the map stays
    /// bounded whatever names clients send.
    pub fn invalidate_table(&self, table: &str) {
        if !crate::request_tables::is_table_name(table) {
            return;
        }
        self.epochs.update(|epochs| {
            let mut next = if epochs.len() >= MAX_TABLES && !epochs.contains_key(table) {
                // Entries keep their table's epoch: forgetting the epochs
                // would make old ones reachable again, unless the global
                // epoch moves first.
                self.drop_all();
                Epochs::default()
            } else {
                epochs.clone()
            };
            *next.entry(Arc::from(table)).or_insert(0) += 1;
            next
        });
    }

    /// Tables with an epoch of their own (a bounded number).
    pub fn tracked_tables(&self) -> usize {
        self.epochs.read(HashMap::len)
    }

    /// Entries evicted to stay within the size bound, since start.
    pub fn evictions(&self) -> u64 {
        self.evictions.entries.load(Ordering::Relaxed)
    }

    /// Bytes (entry weights) evicted to stay within the size bound, since start.
    pub fn evicted_bytes(&self) -> u64 {
        self.evictions.bytes.load(Ordering::Relaxed)
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

impl Drop for ItemCache {
    fn drop(&mut self) {
        // The entries go with the cache: none of them is evicted.
        self.evictions.generation.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
