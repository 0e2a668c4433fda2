//! Which tables a write names, read from only the members that name them:
//! the fallback of the cache layers for a write they cannot decode in full
//! (an upstream may accept what the store's types refuse), which then drop
//! whole tables; the tables any request names, for the Streams follower
//! ([`crate::named_tables`]); and whether a name could be a table at all
//! ([`is_table_name`]), so that per-table state is never created for names
//! any DynamoDB-API upstream would refuse.

use std::collections::BTreeMap;

use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::server::BackendRequest;
use serde::Deserialize;

/// Longest table ARN DynamoDB accepts where a table name is expected.
const MAX_TABLE_ARN: usize = 1024;

/// Whether `name` is a table name DynamoDB accepts (3 to 255 characters of
/// `a-z A-Z 0-9 _ - .`) or a table ARN (data-plane operations accept one).
/// Everything else is refused by the upstream, so the caches keep no state
/// for it: a client cannot grow the proxy's memory with made-up names.
pub fn is_table_name(name: &str) -> bool {
    api::validate::is_table_name(name) || (name.starts_with("arn:") && name.len() <= MAX_TABLE_ARN)
}

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

/// The tables `req` names (BatchWriteItem's and BatchGetItem's
/// RequestItems, each TransactWriteItems or TransactGetItems action's
/// TableName, else the request's TableName); empty when none can be read.
pub fn tables_named(req: &BackendRequest) -> Vec<String> {
    match req.op {
        Operation::BatchWriteItem | Operation::BatchGetItem => {
            api::decode::<BatchWriteTables>(&req.body)
                .ok()
                .and_then(|b| b.request_items)
                .map(|m| m.into_keys().collect())
                .unwrap_or_default()
        }
        Operation::TransactWriteItems | Operation::TransactGetItems => {
            api::decode::<TransactTables>(&req.body)
                .ok()
                .and_then(|t| t.transact_items)
                .map(|items| {
                    items
                        .into_iter()
                        .flat_map(|m| m.into_values())
                        .filter_map(|t| t.table_name)
                        .collect()
                })
                .unwrap_or_default()
        }
        _ => api::decode::<TableNameOnly>(&req.body)
            .ok()
            .and_then(|t| t.table_name)
            .into_iter()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_table_name;

    #[test]
    fn table_names_follow_dynamodb_rules() {
        assert!(is_table_name("Orders-2024.v1_x"));
        assert!(is_table_name(
            "arn:aws:dynamodb:us-east-1:123456789012:table/Orders"
        ));
        assert!(!is_table_name("ab"));
        assert!(!is_table_name(&"a".repeat(256)));
        assert!(!is_table_name("with space"));
        assert!(!is_table_name(&format!("arn:{}", "a".repeat(1100))));
    }
}
