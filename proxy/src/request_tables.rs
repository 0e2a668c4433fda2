//! Which tables a write names, read from only the members that name them:
//! the fallback of the cache layers for a write they cannot decode in full
//! (an upstream may accept what the store's types refuse), which then drop
//! whole tables.

use std::collections::BTreeMap;

use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::server::BackendRequest;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchWriteTables {
    request_items: Option<BTreeMap<String, serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactTables {
    transact_items: Option<Vec<BTreeMap<String, TableNameOnly>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableNameOnly {
    table_name: Option<String>,
}

/// The tables `req` names (BatchWriteItem's RequestItems, each
/// TransactWriteItems action's TableName, else the request's TableName);
/// empty when none can be read.
pub fn tables_named(req: &BackendRequest) -> Vec<String> {
    match req.op {
        Operation::BatchWriteItem => api::decode::<BatchWriteTables>(&req.body)
            .ok()
            .and_then(|b| b.request_items)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default(),
        Operation::TransactWriteItems => api::decode::<TransactTables>(&req.body)
            .ok()
            .and_then(|t| t.transact_items)
            .map(|items| {
                items
                    .into_iter()
                    .flat_map(|m| m.into_values())
                    .filter_map(|t| t.table_name)
                    .collect()
            })
            .unwrap_or_default(),
        _ => api::decode::<TableNameOnly>(&req.body)
            .ok()
            .and_then(|t| t.table_name)
            .into_iter()
            .collect(),
    }
}
