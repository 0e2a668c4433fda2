//! A cached entry ([`Entry`]), the place the cache keeps a key's entry
//! in ([`Held`]), and how the size bound's evictions are counted
//! ([`Evictions`]): a `Held` carries a [`Tally`] and counts itself when it
//! is dropped, unless the cache let it go for another reason. Also each
//! presence slot's count of live entries, which tells a key that cannot
//! have an entry without a lookup.
//!
//! The cache's table and its coherence protocol are the parent module's.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use ferrodyn_store::model::codec;
use ferrodyn_store::model::stored::StoredItem;
use ferrodyn_store::model::value::Item;

use super::CacheKey;

/// A cached GetItem answer: the full item, or none for "no such item".
///
/// The item is kept in the store's binary encoding ([`codec`]): about its
/// DynamoDB size, where a decoded item of small attributes takes several
/// times that in maps and strings. Hits without a projection send the
/// encoded answer; the few that need the item decode it.
#[derive(Debug)]
pub struct Entry {
    pub(super) stored: Option<Box<[u8]>>,
    /// The GetItem answer for this entry without a projection, encoded by
    /// the first hit that needs it (most hits then send these bytes as they
    /// are). Not when the entry is made: an entry a write-through stores
    /// may be replaced before anyone reads it. With its CRC32, which the
    /// answer's `x-amz-crc32` header carries.
    body: OnceLock<(Bytes, u32)>,
}

impl Entry {
    pub fn new(item: Option<Item>) -> Entry {
        Entry::encoded(item.as_ref().map(encode))
    }

    /// An entry of an item already in the stored encoding ([`encode`]).
    pub fn encoded(stored: Option<Box<[u8]>>) -> Entry {
        Entry {
            stored,
            body: OnceLock::new(),
        }
    }

    /// How many bytes the item takes in its stored encoding (0: no item).
    pub(super) fn stored_len(&self) -> usize {
        self.stored.as_ref().map_or(0, |stored| stored.len())
    }

    /// Whether the entry holds an item (not "no such item").
    pub fn has_item(&self) -> bool {
        self.stored.is_some()
    }

    /// The item, decoded.
    pub fn item(&self) -> Option<Item> {
        // The bytes were encoded by `Entry::new`: they decode.
        codec::Reader::new(self.stored.as_deref()?).item().ok()
    }

    /// Whether the entry holds exactly the item encoded as `item` (or no
    /// item, for `None`). The encoding is canonical: equal items, equal
    /// bytes.
    pub fn holds(&self, item: Option<&[u8]>) -> bool {
        self.stored.as_deref() == item
    }

    /// The GetItem answer without a projection: `{"Item":<item>}`, or `{}`.
    pub fn body(&self) -> &Bytes {
        &self.answer().0
    }

    /// [`Entry::body`] and its CRC32.
    pub fn answer(&self) -> &(Bytes, u32) {
        self.body.get_or_init(|| {
            let body = self.encode_body();
            let crc32 = crc32fast::hash(&body);
            (body, crc32)
        })
    }

    fn encode_body(&self) -> Bytes {
        let Some(stored) = self.stored.as_deref() else {
            return Bytes::from_static(b"{}");
        };
        let mut out = Vec::with_capacity(2 * stored.len() + 16);
        out.extend_from_slice(br#"{"Item":"#);
        match StoredItem(stored).write_json(&mut out) {
            Ok(()) => {
                out.push(b'}');
                // Kept at its length: what the weigher counted in advance.
                out.shrink_to_fit();
                Bytes::from(out)
            }
            Err(_) => Bytes::from_static(b"{}"),
        }
    }

    /// The item's JSON as encoded in [`Entry::body`] (`{"Item":<item>}`),
    /// if there is an item.
    pub fn item_json(&self) -> Option<&[u8]> {
        self.stored.as_ref()?;
        self.body().strip_prefix(br#"{"Item":"#)?.strip_suffix(b"}")
    }
}

/// What the cache holds for a key: the key's entry, which a write-through
/// of the key swaps in place ([`Held::swap`]) rather than inserting a new
/// one in the cache (most of what a cached overwrite cost), and the
/// weight and eviction tally the cache counted when the key's entry was
/// put in.
#[derive(Debug)]
pub(super) struct Held {
    entry: ArcSwap<Entry>,
    tally: Tally,
}

impl Held {
    /// `entry`, about to be put in the cache (counted in its presence
    /// slot from now until it is dropped).
    pub(super) fn new(entry: Arc<Entry>, tally: Tally) -> Held {
        tally.evictions.entered(tally.slot);
        Held {
            entry: ArcSwap::new(entry),
            tally,
        }
    }

    /// The key's entry now.
    pub(super) fn entry(&self) -> Arc<Entry> {
        self.entry.load_full()
    }

    /// Whether the key's entry holds exactly the item encoded as `item`
    /// (see [`Entry::holds`]).
    pub(super) fn holds(&self, item: Option<&[u8]>) -> bool {
        self.entry.load().holds(item)
    }

    /// The weight the cache counted for this key.
    pub(super) fn weight(&self) -> u32 {
        self.tally.weight
    }

    /// Whether an entry weighing `weight` may replace the key's entry in
    /// place ([`Held::swap`]): if it weighs no more than the weight counted
    /// for the key and at least half of it. The size bound then still
    /// holds, and a key whose item shrank far is put in the cache again at
    /// its new weight instead.
    pub(super) fn fits(&self, weight: usize) -> bool {
        let counted = self.tally.weight as usize;
        weight <= counted && weight >= counted / 2
    }

    /// Make `entry` the key's entry, in place (it [`Held::fits`]). The time
    /// to live still runs from when the key was put in the cache: a key
    /// written over and over is put in again once it expires.
    pub(super) fn swap(&self, entry: Entry) {
        self.entry.store(Arc::new(entry));
    }

    /// The cache let the entry go (removed it): its drop is no
    /// eviction.
    pub(super) fn release(&self) {
        self.tally.released.store(true, Ordering::Relaxed);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let t = &self.tally;
        let e = &t.evictions;
        e.left(t.slot);
        let expired = e.now_ms() >= t.put_ms.saturating_add(e.ttl_ms);
        if !t.released.load(Ordering::Relaxed)
            && !expired
            && e.generation.load(Ordering::Relaxed) == t.generation
            && e.replaced[t.slot as usize].load(Ordering::Relaxed) == t.replaced
        {
            e.entries.fetch_add(1, Ordering::Relaxed);
            e.bytes.fetch_add(u64::from(t.weight), Ordering::Relaxed);
        }
    }
}

/// Counts what the size bound evicts. moka would report it to an eviction
/// listener, but with one it locks every key it inserts or removes (to
/// order the notifications), which under write-through churn costs more
/// than the rest of a write's bookkeeping together. Instead an entry put
/// in the cache counts itself when it is dropped, unless it went for
/// another reason: removed by the cache ([`Entry::release`]), replaced
/// (see `replaced`), expired, or dropped with every other entry.
///
/// The counts are close, not exact: an entry evicted after another key of
/// its slot was stored over an entry is not counted, and one replaced
/// exactly a multiple of 256 times over in its slot is.
#[derive(Debug)]
pub(super) struct Evictions {
    pub(super) entries: AtomicU64,
    pub(super) bytes: AtomicU64,
    /// Bumped when every entry goes at once (the cache is emptied or
    /// dropped): entries put in before do not count.
    pub(super) generation: AtomicU64,
    /// Entries live at most this long (moka's time to live).
    pub(super) ttl_ms: u64,
    pub(super) start: Instant,
    /// How many entries put in the cache and not yet dropped hash to each
    /// slot (by their key's hash; a count at `u8::MAX` stays there). A
    /// key whose slot counts none has no entry: storing under it replaces
    /// nothing, and a write into a full cache need not look for the key's
    /// entry (`ItemCache::admits`).
    pub(super) present: Box<[AtomicU8]>,
    /// For each slot of `present`, a (wrapping) count of the entries
    /// stored under its keys while a key of the slot may have held one:
    /// an entry whose slot's count moved since it was put in was most
    /// likely replaced, not evicted. The cache replaces an entry by
    /// inserting over it; looking the old one up first to tell it apart
    /// would cost moka a removal (a tombstone its table later rehashes
    /// away) or a recorded read.
    pub(super) replaced: Box<[AtomicU8]>,
}

impl Evictions {
    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(super) fn slot(&self, key: &CacheKey) -> u32 {
        // The slot count is a power of two below 2^32.
        (key.hash & (self.present.len() as u64 - 1)) as u32
    }

    /// Whether an entry under a key of `slot` may be in the cache.
    pub(super) fn may_hold(&self, slot: u32) -> bool {
        self.present[slot as usize].load(Ordering::Acquire) != 0
    }

    /// An entry is about to be stored over whatever a key of `slot`
    /// holds; returns the slot's count of such stores, this one included.
    pub(super) fn replacing(&self, slot: u32) -> u8 {
        self.replaced[slot as usize]
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1)
    }

    /// The slot's count of stores over an entry ([`Evictions::replacing`]).
    pub(super) fn replacements(&self, slot: u32) -> u8 {
        self.replaced[slot as usize].load(Ordering::Relaxed)
    }

    /// An entry of `slot` is being put in the cache.
    pub(super) fn entered(&self, slot: u32) {
        let _ =
            self.present[slot as usize]
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_add(1));
    }

    /// An entry of `slot` put in the cache is dropped.
    pub(super) fn left(&self, slot: u32) {
        let _ =
            self.present[slot as usize].fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n != u8::MAX).then(|| n.saturating_sub(1))
            });
    }
}

/// Slots of [`Evictions::present`] for a cache of `max_bytes`: about one
/// per 512 bytes (an entry weighs more), between 2^10 and 2^22.
pub(super) fn presence_slots(max_bytes: u64) -> usize {
    let wanted = usize::try_from(max_bytes / 512).unwrap_or(usize::MAX);
    wanted.clamp(1 << 10, 1 << 22).next_power_of_two()
}

/// What a [`Held`] keeps to count its own eviction.
#[derive(Debug)]
pub(super) struct Tally {
    pub(super) evictions: Arc<Evictions>,
    pub(super) weight: u32,
    pub(super) generation: u64,
    /// When it was put in ([`Evictions::now_ms`]).
    pub(super) put_ms: u64,
    pub(super) released: AtomicBool,
    /// Its key's slot in [`Evictions::present`].
    pub(super) slot: u32,
    /// The slot's count of replacements when it was put in
    /// ([`Evictions::replaced`]).
    pub(super) replaced: u8,
}

/// `item` in the store's encoding, as entries keep it: encoded into a
/// vector sized for it in advance, then fitted.
pub fn encode(item: &Item) -> Box<[u8]> {
    codec::encoded_item(item).into_boxed_slice()
}
