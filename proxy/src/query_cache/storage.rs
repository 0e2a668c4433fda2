//! The query cache's storage: Query and Scan response bodies keyed by the
//! canonical request, bounded in bytes, each tagged with what it read.
//!
//! Tags and coherence (the item cache's lease idea, per tag):
//! * a Query reads one partition of the table or of one index: its entry
//!   depends on that partition's generation (partitions hash onto
//!   `STRIPES` counters, so memory stays bounded; a collision only costs
//!   an extra miss) and on a per-table counter covering every partition of
//!   the base table (`base`) or of all its indexes (`indexes`);
//! * a Scan reads the whole table or index: it depends on the table's `any`
//!   counter, which every change to the table bumps;
//! * a miss takes a [`Lease`] — a snapshot of the counters its entry will
//!   depend on — *before* asking the upstream; the entry keeps the snapshot
//!   and is valid only while every counter still has its snapshot value.
//!   A fill is refused if the snapshot is already stale, and a `get` treats
//!   (and removes) an entry whose snapshot went stale as a miss.
//!
//! So a slow fill can never outlive an invalidation that happened after its
//! lease was taken, whatever the interleaving, and invalidating is a few
//! atomic increments — no scan over the entries. Stale entries linger (and
//! count in the byte bound) until read, evicted or expired.
//!
//! As in the item cache, leases are granted only while the cache is open
//! (the change feed knows its position in the log), and every lease also
//! depends on a global counter that opening, closing and dropping
//! everything bump.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;

use crate::gate::Gate;
use ferrodyn_store::model::value::{AttributeValue, Item};
use moka::notification::RemovalCause;
use prometheus::IntCounter;

use crate::schemas::TableKeys;

const STRIPES: usize = 4096;

/// Tables with their own counters before the map starts over (see
/// `QueryCache::table`).
const MAX_TABLES: usize = 10_000;

/// What one cached result read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadTag {
    /// A Query: one partition of the table (`index: None`) or of an index.
    Partition {
        table: String,
        index: Option<String>,
        /// The partition, as [`partition_tag`] names it.
        value: Bytes,
    },
    /// A Scan of the table or of one of its indexes.
    Table { table: String },
}

/// A partition's name in tags: its partition key values (one per partition
/// attribute, in key order) in canonical DynamoDB JSON, so equal values are
/// equal bytes whether they come from a request or from an item.
pub fn partition_tag(values: &[&AttributeValue]) -> Option<Bytes> {
    serde_json::to_vec(values).ok().map(Bytes::from)
}

/// The per-table counters.
#[derive(Default)]
struct TableGens {
    /// Set for good by the first lease of a read of the table: until then
    /// no result of it can be cached, so writes and changes to it have
    /// nothing to invalidate (see [`QueryCache::may_hold`]).
    leased: AtomicBool,
    /// Bumped when any base-table partition may have changed unseen.
    base: AtomicU64,
    /// Bumped when any index partition may have changed unseen.
    indexes: AtomicU64,
    /// Bumped by every change to the table.
    any: AtomicU64,
}

/// A read of the table `gens` counts for is being leased: from now on its
/// writes and changes invalidate (see [`QueryCache::may_hold`]).
fn mark_leased(gens: &TableGens) {
    gens.leased.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}

#[derive(Clone)]
enum Counter {
    /// The cache-wide counter.
    Global,
    Stripe(usize),
    Base(Arc<TableGens>),
    Indexes(Arc<TableGens>),
    Any(Arc<TableGens>),
}

/// The counters a result depends on, as they were before it was read.
#[derive(Clone)]
pub struct Lease {
    deps: Vec<(Counter, u64)>,
}

struct Entry {
    body: Bytes,
    /// The body's CRC32, which each hit's `x-amz-crc32` header carries.
    crc32: u32,
    lease: Lease,
}

/// Counters this storage records (registered by the query-cache layer's
/// metrics, which owns the names).
#[derive(Clone)]
pub struct StorageMetrics {
    pub evictions: IntCounter,
    pub evicted_bytes: IntCounter,
    pub invalidations: IntCounter,
}

/// Memory one entry holds besides its key and body: moka's node and its
/// bookkeeping share (the item cache's measured overhead, same node shape),
/// plus the entry and its lease's counters.
const ENTRY_OVERHEAD: usize = 560;

/// What an entry costs in memory (real bytes, so `--query-cache-bytes`
/// bounds the process's memory). Bodies are kept as received, so their
/// length is their size.
fn weight(key: &Bytes, entry: &Entry) -> usize {
    ENTRY_OVERHEAD
        + key.len()
        + entry.body.len()
        + entry.lease.deps.len() * std::mem::size_of::<(Counter, u64)>()
}

pub struct QueryCache {
    entries: Option<moka::sync::Cache<Bytes, Arc<Entry>>>,
    stripes: Box<[AtomicU64]>,
    tables: RwLock<HashMap<String, Arc<TableGens>, foldhash::fast::RandomState>>,
    /// Open or closed, and the cache-wide counter (see the module doc).
    gate: Gate,
    hasher: foldhash::fast::RandomState,
    metrics: StorageMetrics,
}

impl QueryCache {
    /// At most `max_bytes` of results, each kept at most `ttl`; zero for
    /// either disables the cache.
    pub fn new(max_bytes: u64, ttl: Duration, metrics: StorageMetrics) -> QueryCache {
        let evictions = metrics.evictions.clone();
        let evicted_bytes = metrics.evicted_bytes.clone();
        let entries = (max_bytes > 0 && !ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                .weigher(|k: &Bytes, v: &Arc<Entry>| {
                    u32::try_from(weight(k, v)).unwrap_or(u32::MAX)
                })
                .eviction_listener(move |k, v, cause| {
                    if cause == RemovalCause::Size {
                        evictions.inc();
                        evicted_bytes.inc_by(weight(&k, &v) as u64);
                    }
                })
                .build()
        });
        QueryCache {
            entries,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            tables: RwLock::new(HashMap::default()),
            gate: Gate::default(),
            hasher: foldhash::fast::RandomState::default(),
            metrics,
        }
    }

    /// Invalidate everything and grant no lease until [`QueryCache::open`].
    pub fn close(&self) {
        self.gate.close();
        self.free_entries();
    }

    /// Grant leases again; reads leased before this call cannot fill.
    pub fn open(&self) {
        self.free_entries();
        self.gate.open();
    }

    /// Free the memory of every entry (they are unreachable already).
    fn free_entries(&self) {
        if let Some(entries) = &self.entries {
            entries.invalidate_all();
        }
    }

    /// Invalidate every entry (and free their memory).
    pub fn drop_all(&self) {
        self.gate.bump();
        self.free_entries();
        self.metrics.invalidations.inc();
    }

    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The counters of `table`. A name no upstream accepts gets throwaway
    /// counters (no result of it is ever filled), so clients cannot grow
    /// the map with made-up names; past [`MAX_TABLES`] tables every result
    /// is invalidated and the map starts over.
    fn table(&self, table: &str) -> Arc<TableGens> {
        if let Some(t) = self.tables.read().ok().and_then(|t| t.get(table).cloned()) {
            return t;
        }
        if !crate::request_tables::is_table_name(table) {
            return Arc::new(TableGens::default());
        }
        match self.tables.write() {
            Ok(mut t) => {
                if t.len() >= MAX_TABLES && !t.contains_key(table) {
                    // Leases hold their tables' counters: the global counter
                    // invalidates them before the map forgets those.
                    self.bump(&Counter::Global);
                    t.clear();
                }
                t.entry(table.to_owned()).or_default().clone()
            }
            // A poisoned map: `lease` and `get` refuse to work from now on,
            // so these throwaway counters protect nothing that matters.
            Err(_) => Arc::new(TableGens::default()),
        }
    }

    /// Tables with counters of their own (a bounded number).
    pub fn tracked_tables(&self) -> usize {
        self.tables.read().map_or(0, |t| t.len())
    }

    fn stripe(&self, table: &str, index: Option<&str>, value: &[u8]) -> usize {
        let mut h = self.hasher.build_hasher();
        table.hash(&mut h);
        index.hash(&mut h);
        value.hash(&mut h);
        (h.finish() as usize) % STRIPES
    }

    fn load(&self, c: &Counter) -> u64 {
        match c {
            Counter::Global => self.gate.epoch(),
            Counter::Stripe(s) => self.stripes[*s].load(Ordering::Acquire),
            Counter::Base(t) => t.base.load(Ordering::Acquire),
            Counter::Indexes(t) => t.indexes.load(Ordering::Acquire),
            Counter::Any(t) => t.any.load(Ordering::Acquire),
        }
    }

    /// Snapshot what a read tagged `tag` will depend on. `None` when the
    /// bookkeeping is unusable (then the result must not be cached).
    pub fn lease(&self, tag: &ReadTag) -> Option<Lease> {
        if self.tables.is_poisoned() || !self.gate.is_open() {
            return None;
        }
        let mut counters = vec![Counter::Global];
        counters.extend(match tag {
            ReadTag::Partition {
                table,
                index,
                value,
            } => {
                let gens = self.table(table);
                mark_leased(&gens);
                let wide = match index {
                    None => Counter::Base(gens),
                    Some(_) => Counter::Indexes(gens),
                };
                vec![
                    Counter::Stripe(self.stripe(table, index.as_deref(), value)),
                    wide,
                ]
            }
            ReadTag::Table { table } => {
                let gens = self.table(table);
                mark_leased(&gens);
                vec![Counter::Any(gens)]
            }
        });
        Some(Lease {
            deps: counters
                .into_iter()
                .map(|c| {
                    let g = self.load(&c);
                    (c, g)
                })
                .collect(),
        })
    }

    /// Whether a result of `table` may be cached: a read of it has been
    /// leased (since its counters were made). If not, a write or change to
    /// the table needs no invalidation, provided it was committed before
    /// this call: a read leased after the call cannot have read what the
    /// change replaced. The lease marks its table before it snapshots the
    /// counters and this reads the mark after the change, each behind a
    /// `SeqCst` fence, so at least one of them sees the other.
    pub fn may_hold(&self, table: &str) -> bool {
        fence(Ordering::SeqCst);
        match self.tables.read() {
            Ok(tables) => tables
                .get(table)
                .is_some_and(|gens| gens.leased.load(Ordering::SeqCst)),
            // Poisoned: no lease is granted any more.
            Err(_) => false,
        }
    }

    /// A write to `table` forwarded without [`QueryCache::invalidate_write`]
    /// (no result of the table could be cached then) is answered. A read
    /// leased while it was in flight may have read what it replaced, and
    /// the partitions it wrote are not known here: every result of the
    /// table goes.
    pub fn finish_unheld_write(&self, table: &str) {
        if self.may_hold(table) {
            self.drop_table(table);
        }
    }

    fn valid(&self, lease: &Lease) -> bool {
        lease.deps.iter().all(|(c, g)| self.load(c) == *g)
    }

    /// The cached body for `key` and its CRC32, if its lease still holds.
    pub fn get(&self, key: &Bytes) -> Option<(Bytes, u32)> {
        let entries = self.entries.as_ref()?;
        if self.tables.is_poisoned() || !self.gate.is_open() {
            return None;
        }
        let entry = entries.get(key)?;
        if self.valid(&entry.lease) {
            return Some((entry.body.clone(), entry.crc32));
        }
        entries.invalidate(key);
        None
    }

    /// Keep a result read under `lease`. Returns whether it was kept.
    pub fn fill(&self, key: Bytes, lease: Lease, body: Bytes) -> bool {
        let Some(entries) = &self.entries else {
            return false;
        };
        if !self.gate.is_open() || !self.valid(&lease) {
            return false;
        }
        // An invalidation racing with this insert is caught by `get`, which
        // re-checks the lease the entry carries.
        let crc32 = crc32fast::hash(&body);
        entries.insert(key, Arc::new(Entry { body, crc32, lease }));
        true
    }

    fn bump(&self, c: &Counter) {
        match c {
            Counter::Global => {
                self.gate.bump();
                0
            }
            Counter::Stripe(s) => self.stripes[*s].fetch_add(1, Ordering::AcqRel),
            Counter::Base(t) => t.base.fetch_add(1, Ordering::AcqRel),
            Counter::Indexes(t) => t.indexes.fetch_add(1, Ordering::AcqRel),
            Counter::Any(t) => t.any.fetch_add(1, Ordering::AcqRel),
        };
    }

    fn bump_partition(&self, table: &str, index: Option<&str>, values: &[&AttributeValue]) {
        match partition_tag(values) {
            Some(bytes) => self.bump(&Counter::Stripe(self.stripe(table, index, &bytes))),
            // Cannot name the partition: every partition of its kind goes.
            None => {
                let gens = self.table(table);
                self.bump(&match index {
                    None => Counter::Base(gens),
                    Some(_) => Counter::Indexes(gens),
                });
            }
        }
    }

    /// A write through the proxy to the items in the base-table partitions
    /// `partitions` of `table` (`None`: unknown, the whole table). The
    /// old images are unknown here, so every index entry of the table goes.
    pub fn invalidate_write(&self, table: &str, partitions: Option<&[AttributeValue]>) {
        let gens = self.table(table);
        match partitions {
            Some(values) => values
                .iter()
                .for_each(|v| self.bump_partition(table, None, &[v])),
            None => self.bump(&Counter::Base(gens.clone())),
        }
        self.bump(&Counter::Indexes(gens.clone()));
        self.bump(&Counter::Any(gens));
        self.metrics.invalidations.inc();
    }

    /// One committed change from a change feed: the base partition of
    /// `keys`, and each index partition the item was in before or is in
    /// after (`images`: the old and new image, `None` for "absent"), or
    /// every index entry of the table when the images (`images: None`) or
    /// the index keys are unknown.
    pub fn invalidate_change(
        &self,
        table: &str,
        keys: &Item,
        images: Option<[Option<&Item>; 2]>,
        schema: Option<&TableKeys>,
    ) {
        let gens = self.table(table);
        self.bump(&Counter::Any(gens.clone()));
        self.metrics.invalidations.inc();
        let Some(schema) = schema else {
            self.bump(&Counter::Base(gens.clone()));
            self.bump(&Counter::Indexes(gens));
            return;
        };
        match schema.partition_of(keys) {
            Some(v) => self.bump_partition(table, None, &[v]),
            None => self.bump(&Counter::Base(gens.clone())),
        }
        match (&schema.indexes, images) {
            (Some(indexes), _) if indexes.is_empty() => {}
            (Some(indexes), Some(images)) => {
                for index in indexes {
                    for image in images.into_iter().flatten() {
                        // An image without the index's partition key is not
                        // in the index (sparse index): nothing to invalidate.
                        if let Some(values) = index.partition_of(image) {
                            self.bump_partition(table, Some(&index.name), &values);
                        }
                    }
                }
            }
            _ => self.bump(&Counter::Indexes(gens)),
        }
    }

    /// Nothing cached for `table` can be vouched for any more.
    pub fn drop_table(&self, table: &str) {
        let gens = self.table(table);
        self.bump(&Counter::Base(gens.clone()));
        self.bump(&Counter::Indexes(gens.clone()));
        self.bump(&Counter::Any(gens));
        self.metrics.invalidations.inc();
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
impl QueryCache {
    /// A 1 MB cache with a minute's TTL and unregistered metrics.
    pub(crate) fn for_tests() -> QueryCache {
        QueryCache::new(
            1 << 20,
            Duration::from_secs(60),
            StorageMetrics {
                evictions: IntCounter::new("e", "e").expect("counter"),
                evicted_bytes: IntCounter::new("eb", "eb").expect("counter"),
                invalidations: IntCounter::new("i", "i").expect("counter"),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas::IndexKeys;

    fn cache() -> QueryCache {
        QueryCache::for_tests()
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    fn part(index: Option<&str>, v: &str) -> ReadTag {
        ReadTag::Partition {
            table: "tbl".into(),
            index: index.map(str::to_owned),
            value: partition_tag(&[&s(v)]).expect("json"),
        }
    }

    fn schema() -> TableKeys {
        TableKeys {
            partition: "pk".into(),
            sort: None,
            indexes: Some(vec![IndexKeys {
                name: "g".into(),
                partition: vec!["gp".into()],
                sort: Vec::new(),
            }]),
        }
    }

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), s(v))).collect()
    }

    fn fill(c: &QueryCache, key: &'static [u8], tag: &ReadTag) {
        let lease = c.lease(tag).expect("lease");
        assert!(c.fill(Bytes::from_static(key), lease, Bytes::from_static(b"{}")));
    }

    fn hit(c: &QueryCache, key: &'static [u8]) -> bool {
        c.get(&Bytes::from_static(key)).is_some()
    }

    #[test]
    fn fill_is_refused_after_an_invalidation_of_its_partition() {
        let c = cache();
        let tag = part(None, "a");
        let lease = c.lease(&tag).expect("lease");
        c.invalidate_write("tbl", Some(&[s("a")]));
        assert!(!c.fill(Bytes::from_static(b"q"), lease, Bytes::new()));
        assert!(!hit(&c, b"q"));
    }

    #[test]
    fn entry_filled_before_a_racing_invalidation_is_not_served() {
        let c = cache();
        let tag = part(None, "a");
        let lease = c.lease(&tag).expect("lease");
        // The fill wins the race to insert; the invalidation lands after.
        assert!(c.fill(Bytes::from_static(b"q"), lease, Bytes::new()));
        c.invalidate_change("tbl", &item(&[("pk", "a")]), None, Some(&schema()));
        assert!(!hit(&c, b"q"));
    }

    #[test]
    fn a_closed_cache_serves_and_leases_nothing_until_opened() {
        let c = cache();
        fill(&c, b"a", &part(None, "a"));
        let before = c.lease(&part(None, "b")).expect("lease");
        c.close();
        assert!(!hit(&c, b"a"));
        assert!(c.lease(&part(None, "b")).is_none());
        c.open();
        // Read before opening: refused; a new lease fills.
        assert!(!c.fill(Bytes::from_static(b"b"), before, Bytes::new()));
        assert!(!hit(&c, b"a"));
        fill(&c, b"b", &part(None, "b"));
        assert!(hit(&c, b"b"));
    }

    #[test]
    fn a_change_keeps_other_partitions_and_drops_scans() {
        let c = cache();
        fill(&c, b"a", &part(None, "a"));
        fill(&c, b"b", &part(None, "b"));
        fill(
            &c,
            b"scan",
            &ReadTag::Table {
                table: "tbl".into(),
            },
        );
        let new = item(&[("pk", "a"), ("gp", "x")]);
        c.invalidate_change(
            "tbl",
            &item(&[("pk", "a")]),
            Some([None, Some(&new)]),
            Some(&schema()),
        );
        assert!(!hit(&c, b"a"));
        assert!(hit(&c, b"b"));
        assert!(!hit(&c, b"scan"));
    }

    #[test]
    fn a_change_moving_an_item_between_index_partitions_drops_both() {
        let c = cache();
        fill(&c, b"x", &part(Some("g"), "x"));
        fill(&c, b"y", &part(Some("g"), "y"));
        fill(&c, b"z", &part(Some("g"), "z"));
        let old = item(&[("pk", "a"), ("gp", "x")]);
        let new = item(&[("pk", "a"), ("gp", "y")]);
        c.invalidate_change(
            "tbl",
            &item(&[("pk", "a")]),
            Some([Some(&old), Some(&new)]),
            Some(&schema()),
        );
        assert!(!hit(&c, b"x"));
        assert!(!hit(&c, b"y"));
        assert!(hit(&c, b"z"));
    }

    #[test]
    fn a_multi_attribute_index_partition_is_named_by_all_its_values() {
        let c = cache();
        let schema = TableKeys {
            partition: "pk".into(),
            sort: None,
            indexes: Some(vec![IndexKeys {
                name: "m".into(),
                partition: vec!["a".into(), "b".into()],
                sort: Vec::new(),
            }]),
        };
        let tag = |a: &str, b: &str| ReadTag::Partition {
            table: "tbl".into(),
            index: Some("m".into()),
            value: partition_tag(&[&s(a), &s(b)]).expect("json"),
        };
        fill(&c, b"xy", &tag("x", "y"));
        fill(&c, b"xz", &tag("x", "z"));
        let old = item(&[("pk", "k"), ("a", "x"), ("b", "y")]);
        // Only `a` present in the new image: the item left the index.
        let new = item(&[("pk", "k"), ("a", "x")]);
        c.invalidate_change(
            "tbl",
            &item(&[("pk", "k")]),
            Some([Some(&old), Some(&new)]),
            Some(&schema),
        );
        assert!(!hit(&c, b"xy"));
        assert!(hit(&c, b"xz"));
    }

    #[test]
    fn unknown_images_or_schema_drop_every_index_entry() {
        let c = cache();
        fill(&c, b"x", &part(Some("g"), "x"));
        fill(&c, b"b", &part(None, "b"));
        c.invalidate_change("tbl", &item(&[("pk", "a")]), None, Some(&schema()));
        assert!(!hit(&c, b"x"));
        assert!(hit(&c, b"b"));
        fill(&c, b"x", &part(Some("g"), "x"));
        c.invalidate_change("tbl", &item(&[("pk", "a")]), None, None);
        assert!(!hit(&c, b"x"));
        assert!(!hit(&c, b"b"));
    }

    #[test]
    fn a_write_through_the_proxy_keeps_other_base_partitions() {
        let c = cache();
        fill(&c, b"a", &part(None, "a"));
        fill(&c, b"b", &part(None, "b"));
        fill(&c, b"x", &part(Some("g"), "x"));
        c.invalidate_write("tbl", Some(&[s("a")]));
        assert!(!hit(&c, b"a"));
        assert!(hit(&c, b"b"));
        assert!(!hit(&c, b"x"));
    }

    #[test]
    fn dropping_a_table_drops_everything_of_it_only() {
        let c = cache();
        fill(&c, b"a", &part(None, "a"));
        fill(&c, b"other", &ReadTag::Table { table: "u".into() });
        c.drop_table("tbl");
        assert!(!hit(&c, b"a"));
        assert!(hit(&c, b"other"));
    }
}
