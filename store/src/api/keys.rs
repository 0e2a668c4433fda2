//! Key schemas as the caches in front of a store need them: which
//! attributes form a table's primary key and each secondary index's key,
//! by name and in key order. The store answers them for its own tables
//! (`Store::table_keys`); a proxy in front of another engine learns them
//! from DescribeTable.

use crate::model::value::{AttributeValue, Item};

/// The key attributes of one table and of its secondary indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableKeys {
    pub partition: String,
    pub sort: Option<String>,
    /// `None`: the indexes' keys are not known (an index key this proxy
    /// cannot represent), so index partitions cannot be told apart.
    pub indexes: Option<Vec<IndexKeys>>,
}

/// A secondary index's key attributes, in key order (a GSI's key may have
/// up to four partition and four sort attributes; an LSI's, one of each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKeys {
    pub name: String,
    pub partition: Vec<String>,
    pub sort: Vec<String>,
}

impl IndexKeys {
    /// The index partition `item` belongs to (its partition attributes'
    /// values, in key order); `None` if it lacks one, and so is not in the
    /// index.
    pub fn partition_of<'a>(&self, item: &'a Item) -> Option<Vec<&'a AttributeValue>> {
        self.partition.iter().map(|n| item.get(n)).collect()
    }
}

impl TableKeys {
    /// The primary key of `item` (its key attributes only).
    pub fn key_of(&self, item: &Item) -> Item {
        std::iter::once(&self.partition)
            .chain(self.sort.as_ref())
            .filter_map(|n| item.get(n).map(|v| (n.clone(), v.clone())))
            .collect()
    }

    /// The base table's partition key value in `keys`.
    pub fn partition_of<'a>(&self, keys: &'a Item) -> Option<&'a AttributeValue> {
        keys.get(&self.partition)
    }

    /// The partition and sort attributes of the table (`None`) or of the
    /// named index, in key order.
    pub fn target(&self, index: Option<&str>) -> Option<(Vec<String>, Vec<String>)> {
        match index {
            None => Some((
                vec![self.partition.clone()],
                self.sort.iter().cloned().collect(),
            )),
            Some(name) => self
                .indexes
                .as_ref()?
                .iter()
                .find(|i| i.name == name)
                .map(|i| (i.partition.clone(), i.sort.clone())),
        }
    }
}
