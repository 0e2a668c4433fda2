//! Layout of the LMDB databases and the functions that read and write them.
//!
//! Stored item value: `format byte | varint length + partition key raw bytes |
//! item encoding` (see `model::codec`). The partition key bytes let a reader
//! tell a hash collision from a hit.

use std::ops::Bound;
use std::sync::Arc;

use heed::{RoTxn, RwTxn};

use super::{with_scratch, Dbs, EngineError, COLLECTION_PREFIX};
use crate::model::codec::{self, Reader};
use crate::model::key::{index_entry_key, Key};
use crate::model::table::TableMeta;
use crate::model::value::Item;

pub(crate) const FORMAT_KEY: &[u8] = b"format";
/// 16 random bytes created with the data directory: its identity.
pub(crate) const DATA_ID_KEY: &[u8] = b"data_id";
const NEXT_ID_KEY: &[u8] = b"next_id";
const STATS_PREFIX: &[u8] = b"stats/";

/// Version byte of a stored item value. Never reuse a value.
const ITEM_FORMAT: u8 = 1;

/// Per-table and per-index counters, maintained in the same transaction as
/// the items (an index's are kept under its key-space id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub item_count: u64,
    pub size_bytes: u64,
}

/// A stored item with its storage key.
#[derive(Debug, Clone)]
pub struct ItemRecord {
    pub storage_key: Vec<u8>,
    pub item: Item,
}

/// Read access within one read (or write) transaction.
pub struct ReadView<'t> {
    pub(crate) txn: &'t RoTxn<'t>,
    pub(crate) dbs: &'t Dbs,
}

impl ReadView<'_> {
    pub fn get_item(&self, table: &TableMeta, key: &Key) -> Result<Option<Item>, EngineError> {
        get_item(self.txn, self.dbs, table, key)
    }

    /// [`ReadView::get_item`] as the item's stored bytes
    /// ([`crate::model::stored::StoredItem`]), not decoded.
    pub fn get_item_stored(
        &self,
        table: &TableMeta,
        key: &Key,
    ) -> Result<Option<&[u8]>, EngineError> {
        get_stored(self.txn, self.dbs, table, key)
    }

    pub fn stats(&self, table_id: u32) -> Result<Stats, EngineError> {
        stats(self.txn, self.dbs, table_id)
    }

    /// Whether deleted tables or indexes still have entries to free.
    pub fn reclaim_pending(&self) -> Result<bool, EngineError> {
        Ok(super::reclaim::next(self.txn, self.dbs)?.is_some())
    }

    /// How many item-collection sizes are recorded, for every table.
    pub fn collection_sizes(&self) -> Result<usize, EngineError> {
        let mut n = 0;
        for entry in self.dbs.meta.prefix_iter(self.txn, COLLECTION_PREFIX)? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// Visit the items whose storage keys lie between `start` and `end`, in
    /// key order (descending if `reverse`), until `visit` returns false.
    ///
    /// `partition`: if given, items stored under the same hash for another
    /// partition key (a hash collision) are skipped rather than visited.
    /// `visit` gets the storage key, the item and its stored size.
    pub fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        partition: Option<&[u8]>,
        mut visit: impl FnMut(&[u8], Item) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        self.range_stored(start, end, reverse, partition, |key, stored| {
            visit(key, Reader::new(stored).item()?)
        })
    }

    /// [`ReadView::range`], handing each item over as its stored bytes
    /// ([`crate::model::stored::StoredItem`]) instead of decoding it.
    pub fn range_stored(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        partition: Option<&[u8]>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        if bounds_empty(start, end) {
            return Ok(());
        }
        let range = (start, end);
        let mut step = |key: &[u8], bytes: &[u8]| -> Result<bool, EngineError> {
            let (pk, stored) = split_entry(bytes)?;
            if partition.is_some_and(|p| p != pk) {
                return Ok(true);
            }
            visit(key, stored)
        };
        if reverse {
            for entry in self.dbs.items.rev_range(self.txn, &range)? {
                let (key, bytes) = entry?;
                if !step(key, bytes)? {
                    break;
                }
            }
        } else {
            for entry in self.dbs.items.range(self.txn, &range)? {
                let (key, bytes) = entry?;
                if !step(key, bytes)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The change log, for streams and feeds.
    pub fn changes(&self) -> super::changelog::ChangeView<'_> {
        super::changelog::ChangeView {
            txn: self.txn,
            dbs: self.dbs,
        }
    }
}

/// Whether no key can lie between the bounds (LMDB cursors want start <= end).
fn bounds_empty(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}

pub(crate) fn load_catalog(txn: &RoTxn, dbs: &Dbs) -> Result<super::Catalog, EngineError> {
    let mut tables = super::Catalog::default();
    for entry in dbs.catalog.iter(txn)? {
        let (name, bytes) = entry?;
        let meta: TableMeta = serde_json::from_slice(bytes).map_err(EngineError::CorruptCatalog)?;
        tables.insert(name.to_owned(), Arc::new(meta));
    }
    Ok(tables)
}

pub(crate) fn put_catalog(txn: &mut RwTxn, dbs: &Dbs, meta: &TableMeta) -> Result<(), EngineError> {
    let bytes = serde_json::to_vec(meta).map_err(EngineError::CorruptCatalog)?;
    dbs.catalog.put(txn, &meta.name, &bytes)?;
    Ok(())
}

pub(crate) fn delete_catalog(txn: &mut RwTxn, dbs: &Dbs, name: &str) -> Result<(), EngineError> {
    dbs.catalog.delete(txn, name)?;
    Ok(())
}

/// Allocate a key-space id (tables and indexes share one counter).
pub(crate) fn next_id(txn: &mut RwTxn, dbs: &Dbs) -> Result<u32, EngineError> {
    let current = match dbs.meta.get(txn, NEXT_ID_KEY)? {
        Some(b) if b.len() == 4 => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        _ => 1,
    };
    dbs.meta
        .put(txn, NEXT_ID_KEY, &(current + 1).to_be_bytes())?;
    Ok(current)
}

fn stats_key(table_id: u32) -> Vec<u8> {
    let mut k = STATS_PREFIX.to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

pub(crate) fn stats(txn: &RoTxn, dbs: &Dbs, table_id: u32) -> Result<Stats, EngineError> {
    Ok(match dbs.meta.get(txn, &stats_key(table_id))? {
        Some(b) if b.len() == 16 => {
            let mut c = [0u8; 8];
            let mut s = [0u8; 8];
            c.copy_from_slice(&b[..8]);
            s.copy_from_slice(&b[8..]);
            Stats {
                item_count: u64::from_be_bytes(c),
                size_bytes: u64::from_be_bytes(s),
            }
        }
        _ => Stats::default(),
    })
}

fn adjust_stats(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table_id: u32,
    count: i64,
    bytes: i64,
) -> Result<(), EngineError> {
    let s = stats(txn, dbs, table_id)?;
    let item_count = s.item_count.saturating_add_signed(count);
    let size_bytes = s.size_bytes.saturating_add_signed(bytes);
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&item_count.to_be_bytes());
    v[8..].copy_from_slice(&size_bytes.to_be_bytes());
    dbs.meta.put(txn, &stats_key(table_id), &v)?;
    Ok(())
}

pub(crate) fn delete_stats(txn: &mut RwTxn, dbs: &Dbs, table_id: u32) -> Result<(), EngineError> {
    dbs.meta.delete(txn, &stats_key(table_id))?;
    Ok(())
}

/// Store an item under `key` in the items database: the stored value is
/// the raw bytes of the partition key it is stored under (the table's, or
/// an index's for an index entry), then `encoded`, the item's encoding
/// ([`codec::encoded_item`]), made once for all the entries of a write and
/// its change record. The value is put together in a buffer the thread
/// (the writer) keeps: LMDB copies it into its page.
fn put_value(
    txn: &mut RwTxn,
    dbs: &Dbs,
    key: &[u8],
    partition: &[u8],
    encoded: &[u8],
) -> Result<(), EngineError> {
    with_scratch(|value| {
        value.push(ITEM_FORMAT);
        codec::put_bytes(value, partition);
        value.extend_from_slice(encoded);
        dbs.items.put(txn, key, value)?;
        Ok(())
    })
}

/// Decode a stored value, checking it belongs to `partition` (if given).
pub(crate) fn decode_value(bytes: &[u8], partition: Option<&[u8]>) -> Result<Item, EngineError> {
    let (pk, item) = decode_entry(bytes)?;
    if partition.is_some_and(|p| p != pk) {
        return Err(EngineError::HashCollision);
    }
    Ok(item)
}

/// Decode a stored value into its partition key bytes and its item.
fn decode_entry(bytes: &[u8]) -> Result<(&[u8], Item), EngineError> {
    let (pk, stored) = split_entry(bytes)?;
    Ok((pk, Reader::new(stored).item()?))
}

/// A stored entry's partition key bytes and its item's stored bytes.
fn split_entry(bytes: &[u8]) -> Result<(&[u8], &[u8]), EngineError> {
    let mut r = Reader::new(bytes);
    if r.u8()? != ITEM_FORMAT {
        return Err(EngineError::Corrupt(codec::CodecError {
            offset: 0,
            what: "unknown item format",
        }));
    }
    let pk = r.bytes()?;
    Ok((pk, r.rest()))
}

pub(crate) fn get_item(
    txn: &RoTxn,
    dbs: &Dbs,
    table: &TableMeta,
    key: &Key,
) -> Result<Option<Item>, EngineError> {
    match get_stored(txn, dbs, table, key)? {
        Some(stored) => Ok(Some(Reader::new(stored).item()?)),
        None => Ok(None),
    }
}

/// The stored bytes of the item under `key` (its partition checked against
/// the entry's, so a hash collision is an error, not another item).
fn get_stored<'t>(
    txn: &'t RoTxn,
    dbs: &Dbs,
    table: &TableMeta,
    key: &Key,
) -> Result<Option<&'t [u8]>, EngineError> {
    let Some(bytes) = dbs.items.get(txn, &key.storage_key(table.id))? else {
        return Ok(None);
    };
    let (pk, stored) = split_entry(bytes)?;
    if *pk != *key.partition_raw() {
        return Err(EngineError::HashCollision);
    }
    Ok(Some(stored))
}

/// Write `item` under `key`, replacing what is there; `old` is the current
/// item (for the table's counters). With `collection_limit`, a write that
/// would grow its item collection past it is refused before anything is
/// written (shrinking one that is over it is always allowed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn put_item(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table: &TableMeta,
    key: &Key,
    item: &Item,
    encoded: &[u8],
    old: Option<&Item>,
    collection_limit: Option<u64>,
) -> Result<(), EngineError> {
    let collection = if table.local_indexes.is_empty() {
        None
    } else {
        let grows =
            collection_share(table, key, item) - old.map_or(0, |o| collection_share(table, key, o));
        let now = collection_size(txn, dbs, table.id, key)?;
        if collection_limit
            .is_some_and(|limit| grows > 0 && now.saturating_add(grows as u64) > limit)
        {
            return Err(EngineError::CollectionTooLarge);
        }
        Some(now.saturating_add_signed(grows))
    };
    put_value(
        txn,
        dbs,
        &key.storage_key(table.id),
        &key.partition_raw(),
        encoded,
    )?;
    let new_size = crate::model::value::item_size(item) as i64;
    let old_size = old.map_or(0, |o| crate::model::value::item_size(o) as i64);
    for index in table.local_indexes.iter().chain(&table.global_indexes) {
        let old_entry = old.and_then(|o| index_entry_key(index.id, &index.key, key, o));
        // An entry can be missing although the old item qualifies: a GSI
        // still being backfilled has not reached it yet. Count only what
        // is really removed, so the counters stay exact.
        if let Some((k, _)) = &old_entry {
            if dbs.items.delete(txn, k)? {
                adjust_stats(txn, dbs, index.id, -1, -old_size)?;
            }
        }
        if let Some((k, raw)) = index_entry_key(index.id, &index.key, key, item) {
            put_value(txn, dbs, &k, &raw, encoded)?;
            adjust_stats(txn, dbs, index.id, 1, new_size)?;
        }
    }
    match old {
        Some(_) => adjust_stats(txn, dbs, table.id, 0, new_size - old_size)?,
        None => adjust_stats(txn, dbs, table.id, 1, new_size)?,
    }
    if let Some(size) = collection {
        set_collection(txn, dbs, table.id, key, size)?;
    }
    Ok(())
}

pub(crate) fn delete_item(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table: &TableMeta,
    key: &Key,
    old: &Item,
) -> Result<(), EngineError> {
    dbs.items.delete(txn, &key.storage_key(table.id))?;
    let size = crate::model::value::item_size(old) as i64;
    for index in table.local_indexes.iter().chain(&table.global_indexes) {
        if let Some((k, _)) = index_entry_key(index.id, &index.key, key, old) {
            if dbs.items.delete(txn, &k)? {
                adjust_stats(txn, dbs, index.id, -1, -size)?;
            }
        }
    }
    adjust_stats(txn, dbs, table.id, -1, -size)?;
    if !table.local_indexes.is_empty() {
        let size = collection_size(txn, dbs, table.id, key)?
            .saturating_add_signed(-collection_share(table, key, old));
        set_collection(txn, dbs, table.id, key, size)?;
    }
    Ok(())
}

fn collection_key(table_id: u32, key: &Key) -> Vec<u8> {
    let pk = key.partition_bytes();
    let mut k = Vec::with_capacity(COLLECTION_PREFIX.len() + 4 + pk.len());
    k.extend_from_slice(COLLECTION_PREFIX);
    k.extend_from_slice(&table_id.to_be_bytes());
    k.extend_from_slice(&pk);
    k
}

/// Bytes `item` adds to its item collection (tables with local secondary
/// indexes): itself and its entries in those indexes.
fn collection_share(table: &TableMeta, key: &Key, item: &Item) -> i64 {
    let own = crate::model::value::item_size(item);
    let entries: usize = table
        .local_indexes
        .iter()
        .filter(|i| index_entry_key(i.id, &i.key, key, item).is_some())
        .map(|i| i.entry_size(&table.key, item))
        .sum();
    (own + entries) as i64
}

/// Bytes of the item collection of `key`'s partition key, as counted by
/// the writes since the table was created.
fn collection_size(txn: &RoTxn, dbs: &Dbs, table_id: u32, key: &Key) -> Result<u64, EngineError> {
    Ok(match dbs.meta.get(txn, &collection_key(table_id, key))? {
        Some(v) => u64::from_be_bytes(
            v.try_into()
                .map_err(|_| EngineError::CorruptMeta("item collection size"))?,
        ),
        None => 0,
    })
}

fn set_collection(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table_id: u32,
    key: &Key,
    size: u64,
) -> Result<(), EngineError> {
    let k = collection_key(table_id, key);
    if size == 0 {
        dbs.meta.delete(txn, &k)?;
    } else {
        dbs.meta.put(txn, &k, &size.to_be_bytes())?;
    }
    Ok(())
}

/// Index up to `limit` items of `table` that follow `after` (a storage key
/// of the table; `None`: from the start) into `index`, and return the last
/// key visited if the table may have more items.
///
/// Runs inside the writer, so it sees every item as of its place in the
/// write order: an item that already has its entry (written by an ordinary
/// write since the index was added) is left alone, any other gets the entry
/// its current value calls for. Ordinary writes keep entries up to date
/// from the moment the index exists, so when the last chunk is done the
/// index holds exactly the entries of the table's items.
pub(crate) fn backfill_chunk(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table: &TableMeta,
    index: &crate::model::table::IndexMeta,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Option<Vec<u8>>, EngineError> {
    let first = table.id.to_be_bytes();
    let end = (table.id + 1).to_be_bytes();
    let start = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Included(&first[..]),
    };
    let mut batch = Vec::with_capacity(limit);
    if !bounds_empty(start, Bound::Excluded(&end[..])) {
        for entry in dbs.items.range(txn, &(start, Bound::Excluded(&end[..])))? {
            let (k, bytes) = entry?;
            let (_, item) = decode_entry(bytes)?;
            batch.push((k.to_vec(), item));
            if batch.len() >= limit {
                break;
            }
        }
    }
    let more = batch.len() >= limit;
    let last = batch.last().map(|(k, _)| k.clone());
    for (_, item) in &batch {
        // Stored items always carry their key; one that does not cannot
        // have an index entry either.
        let Ok(key) = table.key.key_of_item(item) else {
            continue;
        };
        if !crate::model::key::index_key_fits(&index.key, item) {
            continue;
        }
        let Some((k, raw)) = index_entry_key(index.id, &index.key, &key, item) else {
            continue;
        };
        if dbs.items.get(txn, &k)?.is_none() {
            put_value(txn, dbs, &k, &raw, &codec::encoded_item(item))?;
            let size = crate::model::value::item_size(item) as i64;
            adjust_stats(txn, dbs, index.id, 1, size)?;
        }
    }
    Ok(if more { last } else { None })
}
