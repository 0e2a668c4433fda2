//! Key schemas of the upstream's tables: which attributes form a table's
//! primary key and each secondary index's key. The caches need them to find
//! the key of a PutItem's item, the partition a Query reads, and the index
//! partitions a change touches.
//!
//! * Embedded store: asked on every call (`Store::table_keys`: always
//!   current, nothing to refresh).
//! * Remote upstream: learned with a plain DescribeTable (so any
//!   DynamoDB-API endpoint works) the first time a table is needed, and kept
//!   until [`KeySchemas::forget`] — called when a table-management request
//!   passes through the proxy or the change feed reports the table dropped or
//!   re-created.
//!
//! [`KeySchemas::cached`] never does I/O (the change feed calls it); a
//! caller that gets `None` must act as if it knew nothing about the table's
//! keys (invalidate coarsely, or not cache).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use ferrodyn_store::api::Operation;
use ferrodyn_store::server::BackendRequest;
use ferrodyn_store::Store;
use serde::{Deserialize, Serialize};

use crate::service::Inner;

pub use ferrodyn_store::api::keys::{IndexKeys, TableKeys};

/// Where key schemas come from.
#[derive(Clone)]
pub enum KeySchemas {
    Embedded(Store),
    /// Learned from the upstream with DescribeTable.
    Remote(Arc<RwLock<HashMap<String, Arc<TableKeys>>>>),
}

impl KeySchemas {
    pub fn remote() -> KeySchemas {
        KeySchemas::Remote(Arc::default())
    }

    /// The table's keys if known without asking anyone.
    pub fn cached(&self, table: &str) -> Option<Arc<TableKeys>> {
        match self {
            KeySchemas::Embedded(store) => store.table_keys(table),
            KeySchemas::Remote(known) => known.read().ok()?.get(table).cloned(),
        }
    }

    /// The table's keys, asking `upstream` (DescribeTable) when they are not
    /// known yet. `None` when the upstream cannot tell (no such table, an
    /// error, an answer this proxy does not understand). Most calls find
    /// the keys known.
    pub async fn get<S>(&self, table: &str, upstream: &S) -> Option<Arc<TableKeys>>
    where
        S: Inner,
    {
        if let Some(keys) = self.cached(table) {
            return Some(keys);
        }
        let KeySchemas::Remote(known) = self else {
            return None;
        };
        let keys = Arc::new(describe(table, upstream).await?);
        if let Ok(mut known) = known.write() {
            known.insert(table.to_owned(), keys.clone());
        }
        Some(keys)
    }

    /// The table changed shape or went away: learn its keys again next time.
    pub fn forget(&self, table: &str) {
        if let KeySchemas::Remote(known) = self {
            if let Ok(mut known) = known.write() {
                known.remove(table);
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeInput<'a> {
    table_name: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    table: DescribedTable,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedTable {
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    local_secondary_indexes: Vec<DescribedIndex>,
    #[serde(default)]
    global_secondary_indexes: Vec<DescribedIndex>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedIndex {
    index_name: String,
    key_schema: Vec<KeyElement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

/// The HASH and RANGE attributes, in the order listed (which is key order
/// for multi-attribute keys); `None` without a HASH element or with an
/// element type this proxy does not know.
fn key_attrs(elements: &[KeyElement]) -> Option<(Vec<String>, Vec<String>)> {
    let mut partition = Vec::new();
    let mut sort = Vec::new();
    for e in elements {
        match e.key_type.as_str() {
            "HASH" => partition.push(e.attribute_name.clone()),
            "RANGE" => sort.push(e.attribute_name.clone()),
            _ => return None,
        }
    }
    (!partition.is_empty()).then_some((partition, sort))
}

fn parse_description(body: &[u8]) -> Option<TableKeys> {
    let out: DescribeOutput = serde_json::from_slice(body).ok()?;
    let (mut partition, mut sort) = key_attrs(&out.table.key_schema)?;
    // A table's key has one attribute of each kind.
    if partition.len() != 1 || sort.len() > 1 {
        return None;
    }
    let (partition, sort) = (partition.pop()?, sort.pop());
    // An index whose key this proxy cannot read makes every index of the
    // table "unknown": changes then invalidate all index entries.
    let indexes = out
        .table
        .local_secondary_indexes
        .iter()
        .chain(&out.table.global_secondary_indexes)
        .map(|i| {
            key_attrs(&i.key_schema).map(|(partition, sort)| IndexKeys {
                name: i.index_name.clone(),
                partition,
                sort,
            })
        })
        .collect();
    Some(TableKeys {
        partition,
        sort,
        indexes,
    })
}

async fn describe<S>(table: &str, upstream: &S) -> Option<TableKeys>
where
    S: Inner,
{
    let body = serde_json::to_vec(&DescribeInput { table_name: table }).ok()?;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-target",
        http::HeaderValue::from_static("DynamoDB_20120810.DescribeTable"),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    let resp = upstream
        .call(BackendRequest::new(
            Operation::DescribeTable,
            headers,
            Bytes::from(body),
        ))
        .await;
    if !resp.status.is_success() {
        return None;
    }
    parse_description(&resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_with_indexes_parses() {
        let body = br#"{"Table":{"TableName":"t","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],
            "GlobalSecondaryIndexes":[{"IndexName":"g","KeySchema":[{"AttributeName":"gp","KeyType":"HASH"}]}]}}"#;
        let keys = parse_description(body).expect("parses");
        assert_eq!(keys.partition, "pk");
        assert_eq!(keys.sort.as_deref(), Some("sk"));
        assert_eq!(
            keys.target(Some("g")),
            Some((vec!["gp".to_owned()], vec![]))
        );
        assert_eq!(keys.target(Some("nope")), None);
    }

    #[test]
    fn multi_attribute_index_keys_keep_their_order() {
        let body = br#"{"Table":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
            "GlobalSecondaryIndexes":[{"IndexName":"g","KeySchema":[{"AttributeName":"b","KeyType":"HASH"},{"AttributeName":"a","KeyType":"HASH"},{"AttributeName":"s","KeyType":"RANGE"}]}]}}"#;
        let keys = parse_description(body).expect("parses");
        assert_eq!(
            keys.target(Some("g")),
            Some((vec!["b".to_owned(), "a".to_owned()], vec!["s".to_owned()]))
        );
    }

    #[test]
    fn unknown_key_element_makes_indexes_unknown() {
        let body = br#"{"Table":{"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
            "GlobalSecondaryIndexes":[{"IndexName":"g","KeySchema":[{"AttributeName":"a","KeyType":"SIDEWAYS"}]}]}}"#;
        let keys = parse_description(body).expect("parses");
        assert_eq!(keys.indexes, None);
    }
}
