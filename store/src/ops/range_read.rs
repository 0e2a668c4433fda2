//! One page of a Query or Scan: the planned range read ([`RangeRead`]),
//! the loop that reads it in one read transaction ([`RangeRead::run`]),
//! and the page's answer ([`ReadOutput`]).

use std::ops::Bound;
use std::sync::Arc;

use serde::ser::SerializeSeq;
use serde::Serialize;

use super::capacity::ConsumedCapacity;
use crate::engine::{EngineError, ReadView};
use crate::expr::{Condition, KeyCondition, Projection};
use crate::model::codec::CodecError;
use crate::model::stored::StoredItem;
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// A page ends once the items read reach this many bytes.
pub const PAGE_BYTES: usize = 1024 * 1024;

/// Items a page of whole items reserves room for at its first item (when
/// the request's Limit is not smaller).
const PAGE_ITEMS_RESERVED: usize = 1000;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReadOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<PageItems>,
    pub count: usize,
    pub scanned_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_key: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumed_capacity: Option<ConsumedCapacity>,
}

/// A planned range read.
pub(super) struct RangeRead {
    pub table: Arc<TableMeta>,
    /// The index read, if any: whether it is global, and its name.
    pub index: Option<(bool, String)>,
    /// Attributes of LastEvaluatedKey: the table's key, and the index's.
    pub key_names: Vec<String>,
    /// The sort key attributes of the table or index read, in key order
    /// (debug builds check every item against the key condition).
    pub sort_names: Vec<String>,
    /// An index's projection, applied before the request's.
    pub index_projection: Option<Projection>,
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
    pub reverse: bool,
    /// Query: the partition's raw key bytes (to skip hash collisions).
    pub partition: Option<Vec<u8>>,
    /// Query: the key condition. The range bounds are exactly the keys it
    /// selects (`query_tests` proves the planning), so items are not
    /// checked against it, except in debug builds.
    pub key_condition: Option<KeyCondition>,
    pub filter: Option<Condition>,
    pub projection: Option<Projection>,
    pub count_only: bool,
    pub limit: Option<usize>,
}

#[derive(Default)]
pub(super) struct Page {
    pub items: PageItems,
    pub count: usize,
    pub scanned: usize,
    pub bytes: usize,
    pub last_key: Option<Item>,
}

impl RangeRead {
    pub fn run(&self, view: &ReadView<'_>) -> Result<Page, EngineError> {
        if self.filter.is_none()
            && self.projection.is_none()
            && self.index_projection.is_none()
            && !self.count_only
        {
            return self.run_stored(view);
        }
        let mut page = Page::default();
        let mut items = Vec::new();
        view.range(
            as_ref(&self.start),
            as_ref(&self.end),
            self.reverse,
            self.partition.as_deref(),
            |_, item| {
                debug_assert!(
                    self.key_condition
                        .as_ref()
                        .is_none_or(|kc| kc.sort_matches_item(&item, &self.sort_names)),
                    "an item outside the planned key condition"
                );
                page.scanned += 1;
                page.bytes += item_size(&item);
                let full =
                    self.limit.is_some_and(|l| page.scanned >= l) || page.bytes >= PAGE_BYTES;
                if full {
                    page.last_key = Some(key_of(&self.key_names, &item));
                }
                let matched = match &self.filter {
                    Some(f) => f.evaluate(&item).unwrap_or(false),
                    None => true,
                };
                if matched {
                    page.count += 1;
                    if !self.count_only {
                        let item = match &self.index_projection {
                            Some(p) => p.apply(&item),
                            None => item,
                        };
                        items.push(match &self.projection {
                            Some(p) => p.apply(&item),
                            None => item,
                        });
                    }
                }
                Ok(!full)
            },
        )?;
        page.items = PageItems::Decoded(items);
        Ok(page)
    }

    /// [`RangeRead::run`] when whole items are returned (no filter, no
    /// projection): each item is read from its stored bytes and copied into
    /// the page as they are; only the key attributes the paging needs are
    /// decoded.
    fn run_stored(&self, view: &ReadView<'_>) -> Result<Page, EngineError> {
        let mut page = Page::default();
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        view.range_stored(
            as_ref(&self.start),
            as_ref(&self.end),
            self.reverse,
            self.partition.as_deref(),
            |_, raw| {
                let stored = StoredItem(raw);
                debug_assert!(
                    self.key_condition.as_ref().is_none_or(|kc| stored
                        .pick(&self.sort_names)
                        .is_ok_and(|key| kc.sort_matches_item(&key, &self.sort_names))),
                    "an item outside the planned key condition"
                );
                if bytes.is_empty() {
                    // Room for the page at this item's size: no regrowth.
                    let items = self.limit.unwrap_or(usize::MAX).min(PAGE_ITEMS_RESERVED);
                    bytes.reserve(raw.len().saturating_mul(items).min(PAGE_BYTES));
                    ends.reserve(items);
                }
                page.scanned += 1;
                page.bytes += stored.size()?;
                let full =
                    self.limit.is_some_and(|l| page.scanned >= l) || page.bytes >= PAGE_BYTES;
                if full {
                    page.last_key = Some(stored.pick(&self.key_names)?);
                }
                page.count += 1;
                bytes.extend_from_slice(raw);
                ends.push(bytes.len());
                Ok(!full)
            },
        )?;
        page.items = PageItems::Stored { bytes, ends };
        Ok(page)
    }
}

/// The items of a page: decoded (a filter or a projection needed them), or
/// the stored bytes of whole items, written out as DynamoDB JSON directly.
pub(super) enum PageItems {
    Decoded(Vec<Item>),
    Stored { bytes: Vec<u8>, ends: Vec<usize> },
}

impl Default for PageItems {
    fn default() -> PageItems {
        PageItems::Decoded(Vec::new())
    }
}

impl PageItems {
    /// The JSON array of the items of a `Stored` page, written from their
    /// stored bytes.
    pub fn write_stored(bytes: &[u8], ends: &[usize], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.reserve(bytes.len() * 2);
        out.push(b'[');
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            StoredItem(&bytes[start..end]).write_json(out)?;
            start = end;
        }
        out.push(b']');
        Ok(())
    }
}

impl Serialize for PageItems {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PageItems::Decoded(items) => items.serialize(s),
            PageItems::Stored { bytes, ends } => {
                let mut seq = s.serialize_seq(Some(ends.len()))?;
                let mut start = 0;
                for &end in ends {
                    seq.serialize_element(&StoredItem(&bytes[start..end]))?;
                    start = end;
                }
                seq.end()
            }
        }
    }
}

pub(super) fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The named (key) attributes of an item.
pub(super) fn key_of(names: &[String], item: &Item) -> Item {
    names
        .iter()
        .filter_map(|n| item.get(n).map(|v| (n.clone(), v.clone())))
        .collect()
}
