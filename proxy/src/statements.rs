//! What a PartiQL request (ExecuteStatement, BatchExecuteStatement,
//! ExecuteTransaction) reads or writes, found with the store's own parser
//! and planner and the table's key schema — the same plan the store runs,
//! so the caches classify a statement exactly as the JSON operation it
//! compiles to.

use ferrodyn_store::api::partiql::{
    BatchExecuteStatementInput, ExecuteStatementInput, ExecuteTransactionInput,
};
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::model::value::{AttributeValue, Item};
use ferrodyn_store::partiql::{self, Plan};
use ferrodyn_store::server::BackendRequest;

use crate::request_tables::is_table_name;
use crate::schemas::KeySchemas;
use crate::service::Inner;

/// One statement's text and parameters.
type Statement = (String, Vec<AttributeValue>);

/// The statements of a PartiQL request; `None` for any other request or one
/// that does not decode (the upstream refuses it, changing nothing).
pub fn statements(req: &BackendRequest) -> Option<Vec<Statement>> {
    let one = |s: Option<String>, p: Option<Vec<AttributeValue>>| Some((s?, p.unwrap_or_default()));
    match req.op {
        Operation::ExecuteStatement => {
            let i: ExecuteStatementInput = api::decode(&req.body).ok()?;
            Some(one(i.statement, i.parameters).into_iter().collect())
        }
        Operation::BatchExecuteStatement => {
            let i: BatchExecuteStatementInput = api::decode(&req.body).ok()?;
            Some(
                i.statements?
                    .into_iter()
                    .filter_map(|s| one(s.statement, s.parameters))
                    .collect(),
            )
        }
        Operation::ExecuteTransaction => {
            let i: ExecuteTransactionInput = api::decode(&req.body).ok()?;
            Some(
                i.transact_statements?
                    .into_iter()
                    .filter_map(|s| one(s.statement, s.parameters))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// What one written statement touches.
pub enum Write {
    /// The table and the primary key of the item written (an INSERT's whole
    /// item: its key attributes name it).
    Key(String, Item),
    /// The table, when the item cannot be named (key schema unknown, a
    /// statement the planner refuses but the upstream might accept).
    Table(String),
}

/// The items a PartiQL request may write, in statement order; `None` when it
/// writes nothing (all reads, or nothing that parses).
pub async fn writes<S>(
    req: &BackendRequest,
    schemas: &KeySchemas,
    upstream: &S,
) -> Option<Vec<Write>>
where
    S: Inner,
{
    let mut out = Vec::new();
    for (text, params) in statements(req)? {
        let Ok(stmt) = partiql::parse(&text) else {
            continue;
        };
        if stmt.is_read() || !is_table_name(stmt.table()) {
            continue;
        }
        let table = stmt.table().to_owned();
        let Some(keys) = schemas.get(&table, upstream).await else {
            out.push(Write::Table(table));
            continue;
        };
        let key = match partiql::plan(&stmt, &params, &keys) {
            Ok(Plan::Insert(put)) => put.item.map(|i| keys.key_of(&i)),
            Ok(Plan::Update(u)) => u.key,
            Ok(Plan::Delete(d)) => d.key,
            _ => None,
        };
        out.push(match key {
            Some(k) => Write::Key(table, k),
            None => Write::Table(table),
        });
    }
    (!out.is_empty()).then_some(out)
}
