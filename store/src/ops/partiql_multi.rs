//! BatchExecuteStatement and ExecuteTransaction.
//!
//! A batch runs each statement on its own, in order, through the same
//! plans as ExecuteStatement: one statement's failure is its own entry in
//! `Responses` (`Error {Code, Message, Item?}`) and does not stop the
//! others. A batch is all reads or all writes, and its reads name whole
//! keys.
//!
//! A transaction is planned statement by statement, then runs as ONE
//! TransactGetItems (all SELECTs, each a whole key) or ONE
//! TransactWriteItems (INSERT → Put conditioned on the key being absent,
//! UPDATE → Update conditioned on it being present, DELETE → Delete), so it
//! is all-or-nothing and honours `ClientRequestToken` exactly as the JSON
//! transactions do. A cancelled INSERT reports `DuplicateItem`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::batch::capacity_list;
use super::capacity;
use super::partiql::{statement_violations, Options, DUPLICATE_ITEM};
use super::Store;
use crate::api::partiql::{
    BatchExecuteStatementInput, BatchExecuteStatementOutput, BatchStatementError,
    BatchStatementErrorCode, BatchStatementResponse, ExecuteTransactionInput,
    ExecuteTransactionOutput,
};
use crate::api::types::{
    ReturnConsumedCapacity, TransactAction, TransactGet, TransactGetItem, TransactGetItemsInput,
    TransactWriteItem, TransactWriteItemsInput,
};
use crate::api::validate::{Violations, WireEnum};
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::model::value::{AttributeValue, Item};
use crate::partiql::{self, Plan};

/// Most statements in one batch.
const MAX_BATCH: usize = 25;
/// Most statements in one transaction.
const MAX_TRANSACTION: usize = 100;

const MIXED_BATCH: &str =
    "Batch can only contain read statements or only write statements, not both";
const MIXED_TRANSACTION: &str =
    "Transaction can only contain read statements or only write statements, not both";
const READ_NEEDS_KEY: &str =
    "Select statements in a batch or a transaction must specify the whole primary key by equality";

/// The batch error code for a statement's failure.
fn batch_code(code: ErrorCode) -> BatchStatementErrorCode {
    use BatchStatementErrorCode as B;
    match code {
        ErrorCode::ConditionalCheckFailed => B::ConditionalCheckFailed,
        ErrorCode::ItemCollectionSizeLimitExceeded => B::ItemCollectionSizeLimitExceeded,
        ErrorCode::RequestLimitExceeded => B::RequestLimitExceeded,
        ErrorCode::ProvisionedThroughputExceeded => B::ProvisionedThroughputExceeded,
        ErrorCode::TransactionConflict => B::TransactionConflict,
        ErrorCode::Throttling => B::ThrottlingError,
        ErrorCode::InternalServer => B::InternalServerError,
        ErrorCode::ResourceNotFound | ErrorCode::TableNotFound => B::ResourceNotFound,
        ErrorCode::AccessDenied => B::AccessDenied,
        ErrorCode::DuplicateItem => B::DuplicateItem,
        _ => B::ValidationError,
    }
}

/// A list of statements (`path`: `statements` or `transactStatements`),
/// each its text and parameters: the list's length (empty is one violation
/// among others, more than `max` is refused alone) and each statement's
/// members.
fn statement_list_violations<'a>(
    statements: Option<
        impl ExactSizeIterator<Item = (Option<&'a str>, Option<&'a [AttributeValue]>)>,
    >,
    max: usize,
    path: &str,
    v: &mut Violations,
) -> ApiResult<()> {
    match statements.as_ref().map(ExactSizeIterator::len) {
        None => v.null(path),
        Some(0) => v.push(
            "'[]'",
            path,
            "Member must have length greater than or equal to 1",
        ),
        Some(n) if n > max => {
            let mut member = path.to_owned();
            if let Some(first) = member.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
            )));
        }
        Some(_) => {}
    }
    for (i, (text, params)) in statements.into_iter().flatten().enumerate() {
        let member = format!("{path}.{}.member", i + 1);
        statement_violations(
            text,
            params,
            &format!("{member}.statement"),
            &format!("{member}.parameters"),
            v,
        );
    }
    Ok(())
}

/// The [`TransactAction`] of a planned PutItem, UpdateItem or DeleteItem
/// `$input`: the members every write action has, with `$on_failure`, and
/// the input's own `$member`s (its item, or its key and update).
macro_rules! transact_action {
    ($input:ident, $on_failure:expr, $($member:ident),+) => {
        TransactAction {
            table_name: $input.table_name,
            condition_expression: $input.condition_expression,
            expression_attribute_names: $input.expression_attribute_names,
            expression_attribute_values: $input.expression_attribute_values,
            return_values_on_condition_check_failure: $on_failure,
            $($member: $input.$member,)+
            ..Default::default()
        }
    };
}

impl Store {
    pub(super) async fn batch_execute_statement(
        &self,
        input: BatchExecuteStatementInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        let statements = input.statements.as_ref().map(|list| {
            list.iter()
                .map(|s| (s.statement.as_deref(), s.parameters.as_deref()))
        });
        statement_list_violations(statements, MAX_BATCH, "statements", &mut v)?;
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish()?;
        let statements = input.statements.unwrap_or_default();
        let kinds: Vec<Option<bool>> = statements
            .iter()
            .map(|s| {
                partiql::parse(s.statement.as_deref().unwrap_or_default())
                    .ok()
                    .map(|st| st.is_read())
            })
            .collect();
        let reads = kinds.contains(&Some(true));
        if reads && kinds.contains(&Some(false)) {
            return Err(ApiError::validation(MIXED_BATCH));
        }
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        let mut responses = Vec::with_capacity(statements.len());
        for s in statements {
            let text = s.statement.unwrap_or_default();
            let params = s.parameters.unwrap_or_default();
            let options = Options {
                consistent_read: s.consistent_read,
                return_consumed_capacity: Some(ReturnConsumedCapacity::Total.wire_name().into()),
                on_failure: s.return_values_on_condition_check_failure,
                ..Options::default()
            };
            let run = async {
                let plan = self.plan_statement(&text, &params)?;
                let table = match &plan {
                    Plan::Get(g) => g.table_name.clone(),
                    Plan::Query(_) | Plan::Scan(_) => {
                        return Err(ApiError::validation(READ_NEEDS_KEY))
                    }
                    _ => None,
                };
                Ok((table, self.run_plan(plan, options).await?))
            };
            match run.await {
                Ok((table, answer)) => {
                    if let Some(c) = &answer.consumed_capacity {
                        *units.entry(c.table_name.clone()).or_default() += c.capacity_units;
                    }
                    responses.push(BatchStatementResponse {
                        error: None,
                        item: answer.item,
                        table_name: table,
                    });
                }
                Err(e) => responses.push(BatchStatementResponse {
                    error: Some(BatchStatementError {
                        code: batch_code(e.code),
                        item: error_item(&e),
                        message: e.message,
                    }),
                    table_name: None,
                    item: None,
                }),
            }
        }
        encode(&BatchExecuteStatementOutput {
            responses,
            consumed_capacity: capacity_list(mode, units),
        })
    }

    pub(super) async fn execute_transaction(
        &self,
        input: ExecuteTransactionInput,
        fingerprint: [u8; 16],
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        let statements = input.transact_statements.as_ref().map(|list| {
            list.iter()
                .map(|s| (s.statement.as_deref(), s.parameters.as_deref()))
        });
        statement_list_violations(statements, MAX_TRANSACTION, "transactStatements", &mut v)?;
        v.finish()?;
        let statements = input.transact_statements.unwrap_or_default();
        let mut plans = Vec::with_capacity(statements.len());
        for s in &statements {
            let text = s.statement.as_deref().unwrap_or_default();
            let params = s.parameters.as_deref().unwrap_or_default();
            let stmt = partiql::parse(text)?;
            if let partiql::Statement::Update(u) = stmt.as_ref() {
                if u.returning.is_some() {
                    return Err(ApiError::validation(
                        "RETURNING is not supported in transactions",
                    ));
                }
            }
            plans.push(self.plan_statement(text, params)?);
        }
        let reads = plans.iter().filter(|p| p.is_read()).count();
        if reads > 0 && reads < plans.len() {
            return Err(ApiError::validation(MIXED_TRANSACTION));
        }
        if reads > 0 {
            let mut items = Vec::with_capacity(plans.len());
            for p in plans {
                let Plan::Get(g) = p else {
                    return Err(ApiError::validation(READ_NEEDS_KEY));
                };
                items.push(TransactGetItem {
                    get: Some(TransactGet {
                        table_name: g.table_name,
                        key: g.key,
                        projection_expression: g.projection_expression,
                        expression_attribute_names: g.expression_attribute_names,
                    }),
                });
            }
            let body = self.transact_get_items(TransactGetItemsInput {
                transact_items: Some(items),
                return_consumed_capacity: input.return_consumed_capacity,
            })?;
            let out: ExecuteTransactionOutput =
                serde_json::from_slice(&body).map_err(|e| ApiError::internal(&e))?;
            return encode(&out);
        }
        let mut inserts = Vec::new();
        let mut items = Vec::with_capacity(plans.len());
        for (i, (p, s)) in plans.into_iter().zip(&statements).enumerate() {
            let on_failure = s.return_values_on_condition_check_failure.clone();
            let mut item = TransactWriteItem::default();
            match p {
                Plan::Insert(put) => {
                    inserts.push(i);
                    item.put = Some(transact_action!(put, on_failure, item));
                }
                Plan::Update(u) => {
                    item.update = Some(transact_action!(u, on_failure, key, update_expression));
                }
                Plan::Delete(d) => {
                    item.delete = Some(transact_action!(d, on_failure, key));
                }
                Plan::Get(_) | Plan::Query(_) | Plan::Scan(_) => {
                    return Err(ApiError::validation(MIXED_TRANSACTION))
                }
            }
            items.push(item);
        }
        let body = self
            .transact_write_items(
                TransactWriteItemsInput {
                    transact_items: Some(items),
                    return_consumed_capacity: input.return_consumed_capacity,
                    return_item_collection_metrics: None,
                    client_request_token: input.client_request_token,
                },
                fingerprint,
            )
            .await
            .map_err(|e| duplicates_in_cancellation(e, &inserts))?;
        let out: ExecuteTransactionOutput =
            serde_json::from_slice(&body).map_err(|e| ApiError::internal(&e))?;
        encode(&out)
    }
}

/// The item a failed statement reports (ReturnValuesOnConditionCheckFailure).
fn error_item(e: &ApiError) -> Option<Item> {
    let v = e.extra.as_ref()?.get("Item")?;
    serde_json::from_value(v.clone()).ok()
}

/// A cancelled transaction's reasons, with each INSERT's failed "key
/// absent" condition reported as DynamoDB reports it: `DuplicateItem`.
fn duplicates_in_cancellation(mut e: ApiError, inserts: &[usize]) -> ApiError {
    if e.code != ErrorCode::TransactionCanceled {
        return e;
    }
    let Some(Value::Array(reasons)) = e
        .extra
        .as_mut()
        .and_then(|x| x.get_mut("CancellationReasons"))
    else {
        return e;
    };
    for &i in inserts {
        if let Some(Value::Object(r)) = reasons.get_mut(i) {
            if r.get("Code").and_then(Value::as_str) == Some("ConditionalCheckFailed") {
                r.insert("Code".into(), Value::from("DuplicateItem"));
                r.insert("Message".into(), Value::from(DUPLICATE_ITEM));
            }
        }
    }
    let codes: Vec<String> = reasons
        .iter()
        .map(|r| {
            r.get("Code")
                .and_then(Value::as_str)
                .unwrap_or("None")
                .to_owned()
        })
        .collect();
    e.message = format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    );
    e
}
