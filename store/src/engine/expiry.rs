//! Finding items whose Time to Live has passed.
//!
//! A bounded scan of one table's key space from a cursor, for the TTL
//! sweeper: it reads in a short read transaction and never deletes. The
//! deletions go through the writer like any other write (see
//! `WriteCtx::delete_expired_item`), which re-checks each item, so an item
//! updated between the scan and the delete is not lost.

use super::store::{decode_value, ReadView};
use super::EngineError;
use crate::model::number::Number;
use crate::model::table::TableMeta;
use crate::model::value::{AttributeValue, Item};

/// DynamoDB leaves alone items whose expiry is more than five years past:
/// such a value is more likely not a TTL timestamp at all.
const MAX_AGE_SECS: i64 = 5 * 365 * 24 * 3600;

/// Whether `item` has expired at `now_secs` by its attribute `attr`: a
/// Number of seconds since the epoch, in the past but not by more than five
/// years. Absent or non-numeric attributes never expire.
pub fn is_expired(item: &Item, attr: &str, now_secs: i64) -> bool {
    let Some(AttributeValue::N(n)) = item.get(attr) else {
        return false;
    };
    *n < Number::from_i64(now_secs) && *n >= Number::from_i64(now_secs - MAX_AGE_SECS)
}

/// One round of a scan: what expired, and where to continue.
pub struct ExpiredBatch {
    pub items: Vec<Item>,
    /// Storage key to continue after; `None` when the table was scanned to its end.
    pub cursor: Option<Vec<u8>>,
}

impl ReadView<'_> {
    /// Scan up to `scan_limit` items of `table` after `cursor` and return
    /// the expired ones.
    pub fn expired_items(
        &self,
        table: &TableMeta,
        attr: &str,
        now_secs: i64,
        cursor: Option<&[u8]>,
        scan_limit: usize,
    ) -> Result<ExpiredBatch, EngineError> {
        let start = table.id.to_be_bytes();
        let end = (table.id + 1).to_be_bytes();
        let lower = match cursor {
            Some(c) => std::ops::Bound::Excluded(c),
            None => std::ops::Bound::Included(&start[..]),
        };
        let range = (lower, std::ops::Bound::Excluded(&end[..]));
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut last = None;
        for entry in self.dbs.items.range(self.txn, &range)? {
            let (key, value) = entry?;
            let item = decode_value(value, None)?;
            if is_expired(&item, attr, now_secs) {
                items.push(item);
            }
            scanned += 1;
            if scanned >= scan_limit {
                last = Some(key.to_vec());
                break;
            }
        }
        Ok(ExpiredBatch {
            items,
            cursor: last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: AttributeValue) -> Item {
        let mut i = Item::new();
        i.insert("exp".to_owned(), v);
        i
    }

    #[test]
    fn only_recent_past_numbers_expire() {
        let now = 1_700_000_000;
        let n = |s: &str| AttributeValue::N(Number::parse(s).expect("number"));
        assert!(is_expired(&item(n("1699999999")), "exp", now));
        assert!(is_expired(&item(n("1699999999.5")), "exp", now));
        assert!(!is_expired(&item(n("1700000000")), "exp", now));
        assert!(!is_expired(&item(n("1800000000")), "exp", now));
        assert!(!is_expired(&item(n("1")), "exp", now));
        assert!(!is_expired(
            &item(AttributeValue::S("1".into())),
            "exp",
            now
        ));
        assert!(!is_expired(&Item::new(), "exp", now));
    }
}
