//! The change log: one record per committed item change, written in the same
//! nested transaction as the change itself.
//!
//! Owns the `changelog` database, the global sequence counter and the
//! per-table trim watermark. It does not know about stream view types or the
//! Streams wire format (that is `ops::streams`); it stores full old and new
//! images and lets readers pick.
//!
//! Invariants:
//! * Sequence numbers come from one counter in `meta`, incremented in the
//!   writer's transaction, so they are strictly increasing in commit order
//!   and never reused; an aborted request's nested transaction takes its
//!   increment with it.
//! * A record is visible to readers exactly when the data change is.
//! * A write that leaves the item as it was (a put of an identical item, an
//!   update that changes nothing) produces no record, as in DynamoDB Streams.
//! * Trimming removes a prefix of each table's records and raises that
//!   table's watermark, so a reader can tell "trimmed" from "not yet written".

use bytes::Bytes;
use heed::{RoTxn, RwTxn};

use super::{Dbs, EngineError};
use crate::model::codec::{self, CodecError, Reader};
use crate::model::stored::EncodedItem;
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

const SEQ_KEY: &[u8] = b"changelog/seq";
const TRIM_PREFIX: &[u8] = b"changelog/trimmed/";

/// Version byte of a stored change record. Never reuse a value.
const RECORD_FORMAT: u8 = 1;

/// What a change did to the item. Stored as a byte: never reorder or reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChangeKind {
    Insert = 1,
    Modify = 2,
    Remove = 3,
}

impl ChangeKind {
    fn from_byte(b: u8) -> Option<ChangeKind> {
        match b {
            1 => Some(ChangeKind::Insert),
            2 => Some(ChangeKind::Modify),
            3 => Some(ChangeKind::Remove),
            _ => None,
        }
    }
}

/// Record flag: the change was made by the service (TTL expiry), not a user.
const FLAG_SERVICE: u8 = 1;
/// Record flag: the record ends with the 8-byte origin of the write (see
/// [`ChangeRecord::origin`]). At the end, so that a reader that does not
/// know the flag reads the rest as before.
const FLAG_ORIGIN: u8 = 2;

/// One committed change, its items decoded (`I` = [`Item`]) or left in the
/// stored encoding ([`EncodedItem`], for readers that pass them on).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord<I = Item> {
    pub seq: u64,
    pub table_id: u32,
    pub kind: ChangeKind,
    /// The change was made by the service itself (a TTL deletion).
    pub by_service: bool,
    /// Commit time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub keys: I,
    pub old: Option<I>,
    pub new: Option<I>,
    /// Who made the write, when its maker asked to be told its own changes
    /// apart (an in-process cache that already holds what it wrote).
    pub origin: Option<u64>,
}

fn record_key(table_id: u32, seq: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&table_id.to_be_bytes());
    k[4..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn trim_key(table_id: u32) -> Vec<u8> {
    let mut k = TRIM_PREFIX.to_vec();
    k.extend_from_slice(&table_id.to_be_bytes());
    k
}

fn read_u64(bytes: Option<&[u8]>) -> u64 {
    match bytes {
        Some(b) if b.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        }
        _ => 0,
    }
}

/// The sequence number the next record will get (the first is 1).
pub(crate) fn next_seq(txn: &RoTxn, dbs: &Dbs) -> Result<u64, EngineError> {
    Ok(read_u64(dbs.meta.get(txn, SEQ_KEY)?) + 1)
}

/// Highest sequence number trimmed from `table_id` (0: nothing trimmed).
pub(crate) fn trimmed_through(txn: &RoTxn, dbs: &Dbs, table_id: u32) -> Result<u64, EngineError> {
    Ok(read_u64(dbs.meta.get(txn, &trim_key(table_id))?))
}

/// Record a change of the item under `keys`, unless nothing changed.
/// Returns the record's sequence number, `None` when nothing changed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table: &TableMeta,
    keys: Item,
    old: Option<&Item>,
    new: Option<(&Item, &[u8])>,
    by_service: bool,
    origin: Option<u64>,
    time_ms: u64,
) -> Result<Option<u64>, EngineError> {
    let kind = match (old, new) {
        (None, Some(_)) => ChangeKind::Insert,
        (Some(o), Some((n, _))) if o == n => return Ok(None),
        (Some(_), Some(_)) => ChangeKind::Modify,
        (Some(_), None) => ChangeKind::Remove,
        (None, None) => return Ok(None),
    };
    let seq = next_seq(txn, dbs)?;
    dbs.meta.put(txn, SEQ_KEY, &seq.to_be_bytes())?;
    super::with_scratch(|value| {
        encode_record(value, kind, by_service, origin, time_ms, &keys, old, new);
        dbs.changelog.put(txn, &record_key(table.id, seq), value)?;
        Ok(Some(seq))
    })
}

/// A change record's stored value (see [`decode_with`]).
#[allow(clippy::too_many_arguments)]
fn encode_record(
    value: &mut Vec<u8>,
    kind: ChangeKind,
    by_service: bool,
    origin: Option<u64>,
    time_ms: u64,
    keys: &Item,
    old: Option<&Item>,
    new: Option<(&Item, &[u8])>,
) {
    value.push(RECORD_FORMAT);
    value.push(kind as u8);
    let mut flags = if by_service { FLAG_SERVICE } else { 0 };
    if origin.is_some() {
        flags |= FLAG_ORIGIN;
    }
    value.push(flags);
    codec::put_varint(value, time_ms);
    codec::encode_item(keys, value);
    match old {
        Some(i) => {
            value.push(1);
            codec::encode_item(i, value);
        }
        None => value.push(0),
    }
    match new {
        Some((_, encoded)) => {
            value.push(1);
            value.extend_from_slice(encoded);
        }
        None => value.push(0),
    }
    if let Some(origin) = origin {
        value.extend_from_slice(&origin.to_be_bytes());
    }
}

fn corrupt(what: &'static str) -> EngineError {
    EngineError::Corrupt(CodecError { offset: 0, what })
}

fn decode(key: &[u8], value: &[u8]) -> Result<ChangeRecord, EngineError> {
    decode_with(key, value, |r| r.item())
}

/// A record whose items stay encoded: sliced out of one copy of the stored
/// record instead of decoded into maps and strings.
fn decode_encoded(key: &[u8], value: &[u8]) -> Result<ChangeRecord<EncodedItem>, EngineError> {
    let whole = Bytes::copy_from_slice(value);
    decode_with(key, &whole, |r| EncodedItem::read(r, &whole))
}

fn decode_with<I>(
    key: &[u8],
    value: &[u8],
    mut item: impl FnMut(&mut Reader<'_>) -> Result<I, CodecError>,
) -> Result<ChangeRecord<I>, EngineError> {
    if key.len() != 12 {
        return Err(corrupt("bad change-log key"));
    }
    let mut id = [0u8; 4];
    id.copy_from_slice(&key[..4]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&key[4..]);
    let mut r = Reader::new(value);
    if r.u8()? != RECORD_FORMAT {
        return Err(corrupt("unknown change record format"));
    }
    let kind = ChangeKind::from_byte(r.u8()?).ok_or_else(|| corrupt("unknown change kind"))?;
    let flags = r.u8()?;
    let time_ms = r.varint()?;
    let keys = item(&mut r)?;
    let mut images = [None, None];
    for image in &mut images {
        if r.u8()? == 1 {
            *image = Some(item(&mut r)?);
        }
    }
    let [old, new] = images;
    let origin = if flags & FLAG_ORIGIN != 0 {
        let bytes: [u8; 8] = r
            .rest()
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| corrupt("truncated change origin"))?;
        Some(u64::from_be_bytes(bytes))
    } else {
        None
    };
    Ok(ChangeRecord {
        seq: u64::from_be_bytes(seq),
        table_id: u32::from_be_bytes(id),
        kind,
        by_service: flags & FLAG_SERVICE != 0,
        time_ms,
        keys,
        old,
        new,
        origin,
    })
}

/// Turns a stored record (key, value) into a [`ChangeRecord`].
type RecordDecoder<I> = fn(&[u8], &[u8]) -> Result<ChangeRecord<I>, EngineError>;

/// Records of `table_id` in `from..until` (`until` exclusive; `None`: no
/// upper bound), in order, made by `decode`: at most `limit`, and no more
/// once their stored bytes reach `max_bytes` (at least one record is
/// returned). The flag says whether it stopped before `until` for either
/// bound, so the caller knows whether more may follow.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read<I>(
    txn: &RoTxn,
    dbs: &Dbs,
    table_id: u32,
    from: u64,
    until: Option<u64>,
    limit: usize,
    max_bytes: usize,
    decode: RecordDecoder<I>,
) -> Result<(Vec<ChangeRecord<I>>, bool), EngineError> {
    let start = record_key(table_id, from);
    let end = match until {
        Some(u) => record_key(table_id, u),
        None => record_key(table_id, u64::MAX),
    };
    let range = (
        std::ops::Bound::Included(&start[..]),
        std::ops::Bound::Excluded(&end[..]),
    );
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for entry in dbs.changelog.range(txn, &range)? {
        // Checked before decoding: a cap that decodes first bounds nothing.
        if out.len() >= limit || (!out.is_empty() && bytes >= max_bytes) {
            return Ok((out, true));
        }
        let (k, v) = entry?;
        bytes = bytes.saturating_add(v.len());
        out.push(decode(k, v)?);
    }
    Ok((out, false))
}

/// Visit the records of `table_id` newest first, until `visit` returns
/// false.
pub(crate) fn for_each_newest_first(
    txn: &RoTxn,
    dbs: &Dbs,
    table_id: u32,
    mut visit: impl FnMut(ChangeRecord) -> Result<bool, EngineError>,
) -> Result<(), EngineError> {
    let start = record_key(table_id, 0);
    let end = record_key(table_id, u64::MAX);
    let range = (
        std::ops::Bound::Included(&start[..]),
        std::ops::Bound::Included(&end[..]),
    );
    for entry in dbs.changelog.rev_range(txn, &range)? {
        let (k, v) = entry?;
        if !visit(decode(k, v)?)? {
            break;
        }
    }
    Ok(())
}

/// Delete up to `limit` records of `table_id` older than `cutoff_ms`;
/// returns how many went.
pub(crate) fn trim(
    txn: &mut RwTxn,
    dbs: &Dbs,
    table_id: u32,
    cutoff_ms: u64,
    limit: usize,
) -> Result<usize, EngineError> {
    let (old, _) = read(txn, dbs, table_id, 0, None, limit, usize::MAX, decode)?;
    let mut removed = 0;
    let mut last = None;
    for rec in old.iter().take_while(|r| r.time_ms < cutoff_ms) {
        dbs.changelog.delete(txn, &record_key(table_id, rec.seq))?;
        last = Some(rec.seq);
        removed += 1;
    }
    if let Some(seq) = last {
        dbs.meta.put(txn, &trim_key(table_id), &seq.to_be_bytes())?;
    }
    Ok(removed)
}

/// Forget every record of a dropped table.
/// The records themselves are freed in the background (see `reclaim`).
pub(crate) fn drop_table(txn: &mut RwTxn, dbs: &Dbs, table_id: u32) -> Result<(), EngineError> {
    super::reclaim::schedule(txn, dbs, super::reclaim::Space::Log(table_id))?;
    dbs.meta.delete(txn, &trim_key(table_id))?;
    Ok(())
}

/// Pin a table's stream to the log: a newly enabled stream starts at the
/// next sequence number, a disabled one ends there, and a stream replaced by
/// a new one is kept (closed) among the table's previous streams until all
/// its records have been trimmed.
pub(crate) fn on_table_change(
    txn: &RoTxn,
    dbs: &Dbs,
    old: Option<&TableMeta>,
    new: &mut TableMeta,
) -> Result<(), EngineError> {
    let next = next_seq(txn, dbs)?;
    let trimmed = trimmed_through(txn, dbs, new.id)?;
    let previous = old.and_then(|o| o.stream.clone());
    let replaced = match (&previous, &new.stream) {
        (Some(p), Some(n)) => p.label != n.label,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if replaced {
        if let Some(mut p) = previous.clone() {
            p.enabled = false;
            p.end_seq.get_or_insert(next);
            if !new.previous_streams.iter().any(|s| s.label == p.label) {
                new.previous_streams.push(p);
            }
        }
    }
    // A closed stream whose every record is trimmed has nothing left to read.
    new.previous_streams
        .retain(|s| !matches!(s.end_seq, Some(end) if end <= trimmed + 1));
    let Some(stream) = new.stream.as_mut() else {
        return Ok(());
    };
    if !matches!(&previous, Some(p) if p.label == stream.label) {
        stream.start_seq = next;
        stream.end_seq = None;
    }
    let was_enabled = !replaced && previous.as_ref().is_some_and(|p| p.enabled);
    if was_enabled && !stream.enabled && stream.end_seq.is_none() {
        stream.end_seq = Some(next);
    }
    Ok(())
}

/// Bytes of a record as DynamoDB counts a stream record's size: keys plus
/// whichever images are shown.
pub fn record_size(keys: &Item, old: Option<&Item>, new: Option<&Item>) -> usize {
    item_size(keys) + old.map_or(0, item_size) + new.map_or(0, item_size)
}

/// Read access to the change log within one read transaction.
pub struct ChangeView<'t> {
    pub(crate) txn: &'t RoTxn<'t>,
    pub(crate) dbs: &'t Dbs,
}

impl ChangeView<'_> {
    /// Records of `table_id` in `from..until`, in order, within `limit`
    /// records and about `max_bytes` (see this module's function `read`);
    /// the flag says whether it stopped early.
    pub fn read(
        &self,
        table_id: u32,
        from: u64,
        until: Option<u64>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<ChangeRecord>, bool), EngineError> {
        read(
            self.txn, self.dbs, table_id, from, until, limit, max_bytes, decode,
        )
    }

    /// Records of all `table_ids` with sequence numbers `>= from`, merged
    /// in sequence order, at most about `limit` records and `max_bytes` of
    /// them per table, their items left encoded. Returns the records, the
    /// cursor to continue from (every record below it has been returned) and
    /// whether records at or after it were already committed (read again
    /// without waiting).
    pub fn read_since(
        &self,
        table_ids: &[u32],
        from: u64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<ChangeRecord<EncodedItem>>, u64, bool), EngineError> {
        // Read the end first: records committed after this read transaction
        // began are not visible in it, so nothing below `end` can be missed.
        let end = self.next_seq()?;
        let mut out = Vec::new();
        let mut cursor = end;
        for &id in table_ids {
            let (records, early) = read(
                self.txn,
                self.dbs,
                id,
                from,
                Some(end),
                limit,
                max_bytes,
                decode_encoded,
            )?;
            if early {
                // This table may have more: stop the merged answer after its last.
                if let Some(last) = records.last() {
                    cursor = cursor.min(last.seq + 1);
                }
            }
            out.extend(records);
        }
        out.retain(|r| r.seq < cursor);
        out.sort_by_key(|r| r.seq);
        Ok((out, cursor.max(from), cursor < end))
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> Result<u64, EngineError> {
        next_seq(self.txn, self.dbs)
    }

    /// Highest sequence number trimmed from `table_id` (0: none).
    pub fn trimmed_through(&self, table_id: u32) -> Result<u64, EngineError> {
        trimmed_through(self.txn, self.dbs, table_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::engine::{Abort, Engine, EngineOptions};
    use crate::model::value::AttributeValue;

    fn table_meta() -> TableMeta {
        let json = r#"{"format":1,"id":0,"name":"t","uuid":"u",
            "key":{"partition":{"name":"p","scalar":"S"},"sort":null},
            "attribute_definitions":[["p","S"]],"billing":"PayPerRequest",
            "local_indexes":[],"global_indexes":[],"stream":null,
            "tags":[],"sse":null,"table_class":null,"deletion_protection":false,
            "created_ms":1,"billing_changed_ms":1}"#;
        serde_json::from_str(json).expect("table meta")
    }

    fn item(p: &str, x: &str) -> Item {
        let mut i = Item::new();
        i.insert("p".into(), AttributeValue::S(p.into()));
        i.insert("x".into(), AttributeValue::S(x.into()));
        i
    }

    /// Table "t" of [`table_meta`], created: its id.
    async fn create_table(engine: &Engine) -> u32 {
        engine
            .write(|ctx| {
                let mut meta = table_meta();
                meta.id = ctx.next_id()?;
                ctx.put_table(meta).map_err(Abort::<()>::Engine)
            })
            .await
            .expect("create table");
        engine.table("t").map(|t| t.id).unwrap_or_default()
    }

    async fn put(engine: &Engine, p: &'static str, x: &'static str, fail: bool) {
        put_from(engine, p, x, fail, None).await;
    }

    async fn put_from(
        engine: &Engine,
        p: &'static str,
        x: &'static str,
        fail: bool,
        origin: Option<u64>,
    ) {
        let _ = engine
            .write(move |ctx| {
                ctx.set_origin(origin);
                let table = ctx.table("t").ok_or(Abort::Op(()))?;
                let new = item(p, x);
                let key = table.key.key_of_item(&new).map_err(|_| Abort::Op(()))?;
                let old = ctx.get_item(&table, &key)?;
                ctx.put_item(&table, &key, &new, old.as_ref())?;
                if fail {
                    return Err(Abort::Op(()));
                }
                Ok(())
            })
            .await;
    }

    #[tokio::test]
    async fn a_records_origin_is_kept_and_other_records_have_none() {
        let dir = tempfile::tempdir().expect("dir");
        let engine = Engine::open(dir.path(), EngineOptions::default()).expect("open");
        let id = create_table(&engine).await;
        put_from(&engine, "a", "1", false, Some(u64::MAX - 7)).await;
        put(&engine, "a", "2", false).await;
        put_from(&engine, "b", "1", false, Some(1)).await;
        let (recs, _) = engine
            .read(|r| r.changes().read(id, 0, None, 100, usize::MAX))
            .expect("read");
        let origins: Vec<_> = recs.iter().map(|r| r.origin).collect();
        assert_eq!(origins, vec![Some(u64::MAX - 7), None, Some(1)]);
        // The images before it read as ever.
        assert_eq!(recs[0].new, Some(item("a", "1")));
        assert_eq!(recs[2].new, Some(item("b", "1")));
    }

    #[tokio::test]
    async fn records_commit_with_their_writes_and_trim_raises_the_watermark() {
        let dir = std::env::temp_dir().join(format!(
            "ferrodyn-changelog-{}-{}",
            std::process::id(),
            ManualClock::starting_now().now_ms()
        ));
        let clock = ManualClock::new(1_000_000);
        let options = EngineOptions {
            initial_map_size: 1 << 24,
            clock: clock.clone(),
            ..EngineOptions::default()
        };
        let engine = Engine::open(&dir, options).expect("open");
        let id = create_table(&engine).await;

        put(&engine, "a", "1", false).await;
        put(&engine, "a", "2", true).await; // aborted: neither item nor record
        put(&engine, "a", "1", false).await; // unchanged: no record
        clock.advance_ms(10_000);
        put(&engine, "a", "3", false).await;

        let (recs, early) = engine
            .read(|r| r.changes().read(id, 0, None, 100, usize::MAX))
            .expect("read");
        assert!(!early);
        let kinds: Vec<_> = recs.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, vec![ChangeKind::Insert, ChangeKind::Modify]);
        assert_eq!(recs[1].seq, recs[0].seq + 1);
        assert_eq!(recs[1].old, Some(item("a", "1")));
        assert_eq!(recs[1].new, Some(item("a", "3")));
        assert_eq!((recs[0].time_ms, recs[1].time_ms), (1_000_000, 1_010_000));

        let removed = engine
            .write(move |ctx| {
                ctx.trim_changelog(id, 1_005_000, 10)
                    .map_err(Abort::<()>::Engine)
            })
            .await
            .expect("trim");
        assert_eq!(removed, 1);
        let (left, watermark) = engine
            .read(|r| {
                let c = r.changes();
                Ok((
                    c.read(id, 0, None, 100, usize::MAX)?.0,
                    c.trimmed_through(id)?,
                ))
            })
            .expect("read");
        assert_eq!(left.len(), 1);
        assert_eq!(watermark, recs[0].seq);
        // A byte budget stops the read after the record that reaches it,
        // and says so; a single record always comes back.
        let (one, early) = engine
            .read(|r| r.changes().read(id, 0, None, 100, 1))
            .expect("read");
        assert_eq!((one.len(), early), (1, false));
        put(&engine, "b", "1", false).await;
        let (one, early) = engine
            .read(|r| r.changes().read(id, 0, None, 100, 1))
            .expect("read");
        assert_eq!((one.len(), early), (1, true));
        drop(engine);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
