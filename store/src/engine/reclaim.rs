//! Freeing the storage of deleted tables and indexes, in the background.
//!
//! DeleteTable (and UpdateTable deleting a GSI) removes the table or index
//! from the catalog at once, but only *records* its key spaces here; a
//! maintenance task then deletes their entries a bounded chunk per writer
//! transaction. A large table therefore never becomes one huge transaction
//! that holds every other write back (and grows the map by its own size).
//!
//! Key-space ids are never reused (see `store::next_id`), so entries still
//! waiting to be freed are invisible to every table: a table created again
//! under the same name gets new ids and starts empty.
//!
//! Pending work is kept in the meta database under `reclaim/<kind><id>`,
//! committed in the same transaction as the deletion, so it survives a
//! restart.

use std::ops::Bound;

use heed::{RoTxn, RwTxn};

use super::{Dbs, EngineError};

const PREFIX: &[u8] = b"reclaim/";

/// A key space whose entries are to be freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Space {
    /// Items of a table, or entries of one of its indexes (items database).
    Items(u32),
    /// Change records of a table (change-log database).
    Log(u32),
    /// Item-collection sizes of a table with local secondary indexes (meta
    /// database, see `COLLECTION_PREFIX`).
    Collections(u32),
}

impl Space {
    fn marker(self) -> Vec<u8> {
        let (kind, id) = match self {
            Space::Items(id) => (b'i', id),
            Space::Log(id) => (b'l', id),
            Space::Collections(id) => (b'c', id),
        };
        let mut k = PREFIX.to_vec();
        k.push(kind);
        k.extend_from_slice(&id.to_be_bytes());
        k
    }

    fn from_marker(key: &[u8]) -> Option<Space> {
        let rest = key.strip_prefix(PREFIX)?;
        let (&kind, id) = rest.split_first()?;
        let id = u32::from_be_bytes(id.try_into().ok()?);
        match kind {
            b'i' => Some(Space::Items(id)),
            b'l' => Some(Space::Log(id)),
            b'c' => Some(Space::Collections(id)),
            _ => None,
        }
    }

    fn database(self, dbs: &Dbs) -> heed::Database<heed::types::Bytes, heed::types::Bytes> {
        match self {
            Space::Items(_) => dbs.items,
            Space::Log(_) => dbs.changelog,
            Space::Collections(_) => dbs.meta,
        }
    }

    /// The items and change-log databases key a space's entries by its id
    /// (4 bytes, big endian) first; the collection sizes follow their
    /// prefix in the meta database. The end is exclusive.
    fn bounds(self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            Space::Items(id) | Space::Log(id) => (
                id.to_be_bytes().to_vec(),
                id.checked_add(1).map(|n| n.to_be_bytes().to_vec()),
            ),
            Space::Collections(id) => {
                let at = |n: u32| [super::COLLECTION_PREFIX, &n.to_be_bytes()].concat();
                let end = match id.checked_add(1) {
                    Some(n) => at(n),
                    // The prefix's successor: "coll0".
                    None => b"coll0".to_vec(),
                };
                (at(id), Some(end))
            }
        }
    }
}

/// Record that `space` is to be freed.
pub(crate) fn schedule(txn: &mut RwTxn, dbs: &Dbs, space: Space) -> Result<(), EngineError> {
    dbs.meta.put(txn, &space.marker(), &[])?;
    Ok(())
}

/// The first space waiting to be freed, if any.
pub(crate) fn next(txn: &RoTxn, dbs: &Dbs) -> Result<Option<Space>, EngineError> {
    let mut iter = dbs.meta.prefix_iter(txn, PREFIX)?;
    Ok(match iter.next().transpose()? {
        Some((key, _)) => Space::from_marker(key),
        None => None,
    })
}

/// Free at most `limit` entries of the first pending space; returns how
/// many were freed and whether work remains.
pub(crate) fn step(txn: &mut RwTxn, dbs: &Dbs, limit: usize) -> Result<(usize, bool), EngineError> {
    let Some(space) = next(txn, dbs)? else {
        return Ok((0, false));
    };
    let db = space.database(dbs);
    let (start, end) = space.bounds();
    let end_bound = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    let range = (Bound::Included(start.as_slice()), end_bound);
    // The key of the `limit`-th entry, if the space holds that many.
    let mut last: Option<Vec<u8>> = None;
    let mut count = 0;
    for entry in db.range(txn, &range)? {
        let (key, _) = entry?;
        count += 1;
        if count == limit.max(1) {
            last = Some(key.to_vec());
            break;
        }
    }
    match last {
        Some(last) => {
            let chunk = (
                Bound::Included(start.as_slice()),
                Bound::Included(last.as_slice()),
            );
            db.delete_range(txn, &chunk)?;
        }
        None => {
            db.delete_range(txn, &range)?;
            dbs.meta.delete(txn, &space.marker())?;
        }
    }
    Ok((count, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        for space in [
            Space::Items(0),
            Space::Items(7),
            Space::Log(u32::MAX),
            Space::Collections(3),
        ] {
            assert_eq!(Space::from_marker(&space.marker()), Some(space));
        }
        assert_eq!(Space::from_marker(b"reclaim/x\0\0\0\x01"), None);
        assert_eq!(Space::from_marker(b"stats/\0\0\0\x01"), None);
    }
}
