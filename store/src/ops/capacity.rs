//! Consumed capacity by DynamoDB's unit rules: reads in 4 KB units (half for
//! eventually consistent reads), writes in 1 KB units, rounded up, at least one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::types::ReturnConsumedCapacity;
use crate::api::validate::Violations;
use crate::capacity::{Access, Capacity};
use crate::model::codec::CodecError;
use crate::model::key::{index_entry_key, Key};
use crate::model::stored::StoredItem;
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// What `ReturnConsumedCapacity` asks for (`NONE` when absent); a value
/// outside the enumeration is recorded in `v`.
pub fn requested(value: Option<&str>, v: &mut Violations) -> ReturnConsumedCapacity {
    v.parse(value, "returnConsumedCapacity").unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumedCapacity {
    pub table_name: String,
    pub capacity_units: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Units>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<BTreeMap<String, Units>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<BTreeMap<String, Units>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Units {
    pub capacity_units: f64,
}

/// The bytes one read unit reads (strongly consistent).
pub const READ_UNIT_BYTES: usize = 4096;

pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

/// The size to price the read of a stored item (`None`: absent) by: its
/// size, unless its bound ([`StoredItem::size_at_most`]) is within the first
/// read unit, where every size prices the same (then 1, without walking
/// the item).
pub fn read_size(item: Option<StoredItem<'_>>) -> Result<usize, CodecError> {
    match item {
        Some(s) if s.size_at_most() > READ_UNIT_BYTES => s.size(),
        found => Ok(usize::from(found.is_some())),
    }
}

pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

pub fn report(mode: ReturnConsumedCapacity, table: &str, units: f64) -> Option<ConsumedCapacity> {
    report_parts(mode, table, &Spent::table(units))
}

/// Units one request spent on a table, split between the table itself
/// (`None`: a read of an index only) and its indexes by name.
#[derive(Debug, Clone, Default)]
pub struct Spent {
    pub table: Option<f64>,
    pub global: BTreeMap<String, f64>,
    pub local: BTreeMap<String, f64>,
}

impl Spent {
    pub fn table(units: f64) -> Spent {
        Spent {
            table: Some(units),
            ..Spent::default()
        }
    }

    /// A write of the item under `key` from `old` to `new` (`None`: absent):
    /// `units` on the table, and on every index that held or now holds an
    /// entry for it.
    pub fn write(
        table: &TableMeta,
        key: &Key,
        old: Option<&Item>,
        new: Option<&Item>,
        units: f64,
    ) -> Spent {
        let mut spent = Spent::table(units);
        spent.add_index_writes(table, key, old, new);
        spent
    }

    pub fn add_index_writes(
        &mut self,
        table: &TableMeta,
        key: &Key,
        old: Option<&Item>,
        new: Option<&Item>,
    ) {
        let indexes = table
            .global_indexes
            .iter()
            .map(|i| (true, i))
            .chain(table.local_indexes.iter().map(|i| (false, i)));
        for (global, index) in indexes {
            let size = [old, new]
                .into_iter()
                .flatten()
                .filter(|i| index_entry_key(index.id, &index.key, key, i).is_some())
                .map(item_size)
                .max();
            if let Some(size) = size {
                let map = if global {
                    &mut self.global
                } else {
                    &mut self.local
                };
                *map.entry(index.name.clone()).or_default() += write_units(size);
            }
        }
    }

    pub fn add(&mut self, other: &Spent) {
        if let Some(t) = other.table {
            *self.table.get_or_insert(0.0) += t;
        }
        for (n, u) in &other.global {
            *self.global.entry(n.clone()).or_default() += u;
        }
        for (n, u) in &other.local {
            *self.local.entry(n.clone()).or_default() += u;
        }
    }

    /// Pay these units on `table`'s meters: the table's own units and its
    /// LSIs' on the table, each GSI's on that GSI. `partition` (the bytes of
    /// the partition key read or written) counts against the table's
    /// partition, or for a read of a GSI, the GSI's.
    pub fn charge(
        &self,
        capacity: &Capacity,
        table: &TableMeta,
        access: Access,
        partition: Option<&[u8]>,
    ) {
        let own = self.table.unwrap_or(0.0) + self.local.values().sum::<f64>();
        let gsi_partition = if access == Access::Read {
            partition
        } else {
            None
        };
        if self.table.is_some() || !self.local.is_empty() {
            capacity.charge(table, None, access, own, partition);
        }
        for (name, units) in &self.global {
            capacity.charge(table, Some(name), access, *units, gsi_partition);
        }
    }

    fn total(&self) -> f64 {
        self.table.unwrap_or(0.0)
            + self.global.values().sum::<f64>()
            + self.local.values().sum::<f64>()
    }
}

fn units_map(m: &BTreeMap<String, f64>) -> Option<BTreeMap<String, Units>> {
    (!m.is_empty()).then(|| {
        m.iter()
            .map(|(n, u)| (n.clone(), Units { capacity_units: *u }))
            .collect()
    })
}

/// What ReturnConsumedCapacity asked to see of `spent`.
pub fn report_parts(
    mode: ReturnConsumedCapacity,
    table: &str,
    spent: &Spent,
) -> Option<ConsumedCapacity> {
    match mode {
        ReturnConsumedCapacity::None => None,
        ReturnConsumedCapacity::Total => Some(ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: spent.total(),
            table: None,
            global_secondary_indexes: None,
            local_secondary_indexes: None,
        }),
        ReturnConsumedCapacity::Indexes => Some(ConsumedCapacity {
            table_name: table.to_owned(),
            capacity_units: spent.total(),
            table: spent.table.map(|u| Units { capacity_units: u }),
            global_secondary_indexes: units_map(&spent.global),
            local_secondary_indexes: units_map(&spent.local),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::codec::encode_item;
    use crate::model::value::AttributeValue;

    fn stored(text_bytes: usize) -> Vec<u8> {
        let item = Item::from([
            ("p".to_owned(), AttributeValue::S("k".to_owned())),
            ("v".to_owned(), AttributeValue::S("x".repeat(text_bytes))),
        ]);
        let mut bytes = Vec::new();
        encode_item(&item, &mut bytes);
        bytes
    }

    #[test]
    fn reads_are_priced_by_size_past_the_first_unit() {
        assert_eq!(read_size(None).expect("absent"), 0);
        let small = stored(100);
        let small_size = read_size(Some(StoredItem(&small))).expect("small");
        assert_eq!(read_units(small_size, true), 1.0);
        // Just within the first unit by size, past it by the bound: walked.
        let near = stored(4000);
        assert_eq!(read_size(Some(StoredItem(&near))).expect("near"), 4003);
        assert_eq!(read_units(4003, true), 1.0);
        let large = stored(9000);
        assert_eq!(read_size(Some(StoredItem(&large))).expect("large"), 9003);
        assert_eq!(read_units(9003, false), 1.5);
    }
}
