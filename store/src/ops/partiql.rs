//! ExecuteStatement: a PartiQL statement, planned as the JSON operation
//! that does the same thing and run through that operation, so reads,
//! writes, conditions, indexes, the change log and capacity behave exactly
//! as they do for GetItem, Query, Scan, PutItem, UpdateItem and DeleteItem.
//!
//! Paging: a Query or Scan plan that stops early answers a `NextToken`
//! holding the last evaluated key and a checksum of the statement, so a
//! token only continues the statement that produced it.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::capacity;
use super::{ConsumedCapacity, Store};
use crate::api::partiql::{ExecuteStatementInput, ExecuteStatementOutput};
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::model::value::{AttributeValue, Item};
use crate::partiql::{self, Plan, MAX_STATEMENT_CHARS};

/// DynamoDB's message for an INSERT of a key that exists.
pub(super) const DUPLICATE_ITEM: &str = "Duplicate primary key exists in table";

/// The members of an operation's answer that a statement's answer uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Answer {
    pub(super) item: Option<Item>,
    pub(super) items: Option<Vec<Item>>,
    pub(super) attributes: Option<Item>,
    pub(super) last_evaluated_key: Option<Item>,
    pub(super) consumed_capacity: Option<ConsumedCapacity>,
}

/// What a NextToken carries.
#[derive(Serialize, Deserialize)]
struct PageToken {
    /// CRC32 of the statement's text.
    s: u32,
    k: Item,
}

/// The options of one statement's execution besides its text.
#[derive(Debug, Clone, Default)]
pub(super) struct Options {
    pub(super) consistent_read: Option<bool>,
    pub(super) limit: Option<i64>,
    pub(super) start_key: Option<Item>,
    pub(super) return_consumed_capacity: Option<String>,
    pub(super) on_failure: Option<String>,
}

/// Checks a statement's text and parameters the way DynamoDB validates
/// the members (`path`: the member path, e.g. `statement` or
/// `statements.1.member.statement`).
pub(super) fn statement_violations(
    text: Option<&str>,
    params: Option<&[AttributeValue]>,
    path: &str,
    params_path: &str,
    v: &mut Violations,
) {
    match text {
        None => v.null(path),
        Some("") => v.push(
            "''",
            path,
            "Member must have length greater than or equal to 1",
        ),
        Some(t) if t.chars().count() > MAX_STATEMENT_CHARS => v.push(
            &format!("'{t}'"),
            path,
            "Member must have length less than or equal to 8192",
        ),
        Some(_) => {}
    }
    if params.is_some_and(|p| p.is_empty()) {
        v.push(
            "'[]'",
            params_path,
            "Member must have length greater than or equal to 1",
        );
    }
}

impl Store {
    pub(super) async fn execute_statement(
        &self,
        input: ExecuteStatementInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        statement_violations(
            input.statement.as_deref(),
            input.parameters.as_deref(),
            "statement",
            "parameters",
            &mut v,
        );
        if let Some(l) = input.limit.filter(|l| *l < 1) {
            v.push(
                &format!("'{l}'"),
                "limit",
                "Member must have value greater than or equal to 1",
            );
        }
        capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.one_of(
            input.return_values_on_condition_check_failure.as_deref(),
            "returnValuesOnConditionCheckFailure",
            &["ALL_OLD", "NONE"],
        );
        v.finish()?;
        let text = input.statement.unwrap_or_default();
        let checksum = crc32fast::hash(text.as_bytes());
        let start_key = match &input.next_token {
            None => None,
            Some(t) => Some(decode_token(t, checksum)?),
        };
        let params = input.parameters.unwrap_or_default();
        let plan = self.plan_statement(&text, &params)?;
        let options = Options {
            consistent_read: input.consistent_read,
            limit: input.limit,
            start_key,
            return_consumed_capacity: input.return_consumed_capacity,
            on_failure: input.return_values_on_condition_check_failure,
        };
        let answer = self.run_plan(plan, options).await?;
        let next_token = answer
            .last_evaluated_key
            .as_ref()
            .map(|k| encode_token(checksum, k))
            .transpose()?;
        let items = match (answer.items, answer.item, answer.attributes) {
            (Some(items), _, _) => items,
            (None, Some(item), _) | (None, None, Some(item)) => vec![item],
            (None, None, None) => Vec::new(),
        };
        encode(&ExecuteStatementOutput {
            items,
            next_token,
            consumed_capacity: answer.consumed_capacity,
            last_evaluated_key: answer.last_evaluated_key,
        })
    }

    /// Parse `text` (through the statement cache) and plan it against its
    /// table's keys.
    pub(super) fn plan_statement(&self, text: &str, params: &[AttributeValue]) -> ApiResult<Plan> {
        let stmt = partiql::parse(text)?;
        let keys = self
            .table_keys(stmt.table())
            .ok_or_else(ApiError::resource_not_found)?;
        Ok(partiql::plan(&stmt, params, &keys)?)
    }

    /// Run `plan` through the operation it names.
    pub(super) async fn run_plan(&self, plan: Plan, o: Options) -> ApiResult<Answer> {
        let body = match plan {
            Plan::Get(mut i) => {
                i.consistent_read = o.consistent_read;
                i.return_consumed_capacity = o.return_consumed_capacity;
                self.get_item(i)?
            }
            Plan::Query(mut i) => {
                i.consistent_read = o.consistent_read;
                i.limit = o.limit;
                i.exclusive_start_key = o.start_key;
                i.return_consumed_capacity = o.return_consumed_capacity;
                self.query(i)?
            }
            Plan::Scan(mut i) => {
                i.consistent_read = o.consistent_read;
                i.limit = o.limit;
                i.exclusive_start_key = o.start_key;
                i.return_consumed_capacity = o.return_consumed_capacity;
                self.scan(i)?
            }
            Plan::Insert(mut i) => {
                i.return_consumed_capacity = o.return_consumed_capacity;
                i.return_values_on_condition_check_failure = o.on_failure;
                self.put_item(i, None, None).await.map_err(duplicate_item)?
            }
            Plan::Update(mut i) => {
                i.return_consumed_capacity = o.return_consumed_capacity;
                i.return_values_on_condition_check_failure = o.on_failure;
                self.update_item(i, None).await?
            }
            Plan::Delete(mut i) => {
                i.return_consumed_capacity = o.return_consumed_capacity;
                i.return_values_on_condition_check_failure = o.on_failure;
                self.delete_item(i, None).await?
            }
        };
        serde_json::from_slice(&body).map_err(|e| ApiError::internal(&e))
    }
}

/// An INSERT's failed "key absent" condition is DynamoDB's
/// DuplicateItemException.
pub(super) fn duplicate_item(e: ApiError) -> ApiError {
    if e.code == ErrorCode::ConditionalCheckFailed {
        ApiError::new(ErrorCode::DuplicateItem, DUPLICATE_ITEM)
    } else {
        e
    }
}

fn encode_token(checksum: u32, key: &Item) -> ApiResult<String> {
    let json = serde_json::to_vec(&PageToken {
        s: checksum,
        k: key.clone(),
    })
    .map_err(|e| ApiError::internal(&e))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(json))
}

fn decode_token(token: &str, checksum: u32) -> ApiResult<Item> {
    let invalid = || ApiError::validation("Invalid NextToken");
    let json = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| invalid())?;
    let t: PageToken = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if t.s != checksum {
        return Err(invalid());
    }
    Ok(t.k)
}
