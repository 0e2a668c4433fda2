//! ItemCollectionMetrics: for a table with local secondary indexes, the
//! size of the item collection a write touched (every item under its
//! partition key, plus what each LSI holds of them), as DynamoDB reports it
//! when asked with `ReturnItemCollectionMetrics: SIZE`.
//!
//! The size is measured by reading the collection after the write, so only
//! requests that ask for the metrics pay for it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Store;
use crate::api::ApiResult;
use crate::model::key::{index_entry_key, partition_hash, Key};
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

const GIB: f64 = (1u64 << 30) as f64;

/// `ReturnItemCollectionMetrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Metrics {
    None,
    Size,
}

impl Metrics {
    pub(super) fn parse(value: Option<&str>) -> Metrics {
        match value {
            Some("SIZE") => Metrics::Size,
            _ => Metrics::None,
        }
    }
}

/// One item collection's metrics.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ItemCollectionMetrics {
    pub item_collection_key: Item,
    #[serde(rename = "SizeEstimateRangeGB")]
    pub size_estimate_range_gb: [f64; 2],
}

/// Per table, as BatchWriteItem and TransactWriteItems report them.
pub(super) type MetricsByTable = BTreeMap<String, Vec<ItemCollectionMetrics>>;

/// DynamoDB's estimate: the whole gigabytes the collection holds, and one
/// more.
fn estimate(bytes: u64) -> [f64; 2] {
    let low = (bytes as f64 / GIB).floor();
    [low, low + 1.0]
}

impl Store {
    /// The metrics of the collection holding `key`, if `table` has LSIs and
    /// `wanted` asks for them.
    pub(super) fn item_collection_metrics(
        &self,
        wanted: Metrics,
        table: &TableMeta,
        key: &Key,
    ) -> ApiResult<Option<ItemCollectionMetrics>> {
        if wanted == Metrics::None || table.local_indexes.is_empty() {
            return Ok(None);
        }
        let raw = key.partition_bytes();
        let mut prefix = table.id.to_be_bytes().to_vec();
        prefix.extend_from_slice(&partition_hash(&raw));
        let mut bytes = 0u64;
        self.engine.read(|view| {
            view.range(
                std::ops::Bound::Included(prefix.as_slice()),
                std::ops::Bound::Unbounded,
                false,
                Some(&raw),
                |storage_key, item| {
                    if !storage_key.starts_with(&prefix) {
                        return Ok(false);
                    }
                    bytes += item_size(&item) as u64;
                    for index in &table.local_indexes {
                        if index_entry_key(index.id, &index.key, key, &item).is_some() {
                            bytes += index.entry_size(&table.key, &item) as u64;
                        }
                    }
                    Ok(true)
                },
            )
        })?;
        let mut collection_key = Item::new();
        collection_key.insert(table.key.partition.name.clone(), key.partition.clone());
        Ok(Some(ItemCollectionMetrics {
            item_collection_key: collection_key,
            size_estimate_range_gb: estimate(bytes),
        }))
    }

    /// The metrics of every collection `keys` touched, per table (each
    /// collection once).
    pub(super) fn item_collection_metrics_by_table<'a>(
        &self,
        wanted: Metrics,
        keys: impl IntoIterator<Item = (&'a TableMeta, &'a Key)>,
    ) -> ApiResult<Option<MetricsByTable>> {
        if wanted == Metrics::None {
            return Ok(None);
        }
        let mut out = MetricsByTable::new();
        for (table, key) in keys {
            let Some(m) = self.item_collection_metrics(wanted, table, key)? else {
                continue;
            };
            let list = out.entry(table.name.clone()).or_default();
            if !list
                .iter()
                .any(|e| e.item_collection_key == m.item_collection_key)
            {
                list.push(m);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::estimate;

    #[test]
    fn estimate_brackets_the_size_in_whole_gigabytes() {
        assert_eq!(estimate(0), [0.0, 1.0]);
        assert_eq!(estimate(1 << 20), [0.0, 1.0]);
        assert_eq!(estimate(3 << 30), [3.0, 4.0]);
        assert_eq!(estimate((10 << 30) - 1), [9.0, 10.0]);
    }
}
