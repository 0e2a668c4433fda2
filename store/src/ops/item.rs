//! Single-item operations: PutItem, GetItem, DeleteItem, UpdateItem.
//!
//! Each write is validated completely (key, item, expressions) before it is
//! submitted; the job the writer runs only reads the current item, checks the
//! condition, computes the new item with a pure function and stores it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Map;

use super::capacity::{self, ConsumedCapacity, Spent};
use super::collection::{ItemCollectionMetrics, Metrics};
pub(super) use super::item_checks::{check_index_keys, validate_item};
use super::item_checks::{check_name, too_deep};
use super::legacy_params::{convert_expected, convert_updates};
use super::table::checked_table_name;
use super::{abort_to_api, Store};
use crate::api::types::{
    self, ConditionalOperator, DeleteItemInput, GetItemInput, Names, PutItemInput,
    ReturnConsumedCapacity, ReturnValues, UpdateItemInput, Values,
};
use crate::api::validate::Violations;
use crate::api::{encode, encode_with_first, ApiError, ApiResult};
use crate::capacity::Access;
use crate::engine::{Abort, WriteCtx};
use crate::expr::{self, legacy, Condition, Projection, Resolver, Update, UpdateAction};
use crate::model::key::Key;
use crate::model::stored::StoredItem;
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// Largest item, in bytes by DynamoDB's size rules.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// ReturnItemCollectionMetrics' enum, in the order DynamoDB's messages list it.
const RETURN_ITEM_COLLECTION_METRICS: &[&str] = &["SIZE", "NONE"];

/// The order in which each operation lists its members' violations.
const PUT_MEMBER_ORDER: &[&str] = &[
    "returnConsumedCapacity",
    "tableName",
    "item",
    "returnValues",
    "returnItemCollectionMetrics",
    "conditionalOperator",
];
const GET_MEMBER_ORDER: &[&str] = &[
    "attributesToGet",
    "returnConsumedCapacity",
    "key",
    "tableName",
];
const DELETE_MEMBER_ORDER: &[&str] = &[
    "returnConsumedCapacity",
    "tableName",
    "returnValues",
    "returnItemCollectionMetrics",
    "conditionalOperator",
    "key",
];
const UPDATE_MEMBER_ORDER: &[&str] = &[
    "returnConsumedCapacity",
    "tableName",
    "returnItemCollectionMetrics",
    "returnValues",
    "conditionalOperator",
    "key",
];

/// An empty TableName on a request whose other required members are all
/// present is refused first and alone, in the form that names the member
/// without its value; otherwise it is one violation among the others.
pub(super) fn refuse_empty_table_name(name: Option<&str>, others_present: bool) -> ApiResult<()> {
    if name == Some("") && others_present {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'TableName' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(())
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct WriteOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<ConsumedCapacity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_collection_metrics: Option<ItemCollectionMetrics>,
}

impl GetOutput<'_> {
    /// The answer for `item` of `size` bytes (0: none), and the read units
    /// it costs.
    fn answer(
        item: Option<GetItem<'_>>,
        size: usize,
        consistent: bool,
        mode: ReturnConsumedCapacity,
        table: &str,
    ) -> (f64, ApiResult<Vec<u8>>) {
        let units = capacity::read_units(size, consistent);
        let mut output = GetOutput {
            item: None,
            consumed_capacity: capacity::report(mode, table, units),
        };
        let answer = match item {
            Some(GetItem::Stored(s)) => {
                encode_with_first("Item", s.0.len(), |o| s.write_json(o), &output)
            }
            item => {
                output.item = item;
                encode(&output)
            }
        };
        (units, answer)
    }
}

/// GetItem's item: written from its stored bytes, or decoded (projected).
#[derive(Serialize)]
#[serde(untagged)]
enum GetItem<'a> {
    Stored(StoredItem<'a>),
    Decoded(Item),
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct GetOutput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<GetItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<ConsumedCapacity>,
}

impl Store {
    /// The table an item operation names, or DynamoDB's
    /// ResourceNotFoundException for item operations.
    pub(super) fn table(&self, name: &str) -> ApiResult<Arc<TableMeta>> {
        // A table still being built by a restore or an import is CREATING: not usable yet.
        self.engine
            .table(name)
            .filter(|t| !t.is_creating())
            .ok_or_else(ApiError::resource_not_found)
    }

    pub(super) async fn put_item(
        &self,
        input: PutItemInput,
        origin: Option<u64>,
        encoded: Option<Bytes>,
    ) -> ApiResult<Vec<u8>> {
        let members = write_members!(input, item);
        let options = members.check(PUT_MEMBER_ORDER)?;
        let return_old = returns_old_item(options.return_values)?;
        let table = self.table(checked_table_name(members.table_name)?)?;
        let item = input.item.unwrap_or_default();
        validate_item(&item)?;
        let key = table
            .key
            .key_of_item(&item)
            .map_err(|e| ApiError::validation(e.to_string()))?;
        if item_size(&item) > MAX_ITEM_BYTES {
            return Err(ApiError::validation(
                "Item size has exceeded the maximum allowed size",
            ));
        }
        check_index_keys(&table, &item)?;
        let (cond, _) = members.condition(&options, None, false)?;
        let write = self.item_write(table, key, options, origin)?;
        // Encoded here, not in the writer thread every write waits for;
        // an in-process cache that keeps the item encoded it already.
        let encoded =
            encoded.unwrap_or_else(|| Bytes::from(crate::model::codec::encoded_item(&item)));
        debug_assert_eq!(*encoded, *crate::model::codec::encoded_item(&item));
        let item = Arc::new(item);
        let stored = item.clone();
        let old = self
            .run_item_write(&write, cond, move |ctx, table, key, old| {
                ctx.put_item_encoded(table, key, &stored, &encoded, old.as_ref())?;
                Ok(old)
            })
            .await?;
        let spent = write.spent(old.as_ref(), Some(&item));
        let attributes = if return_old { old } else { None };
        self.answer_write(&write, &spent, Some(&item), attributes)
    }

    pub(super) fn get_item(&self, input: GetItemInput) -> ApiResult<Vec<u8>> {
        refuse_empty_table_name(input.table_name.as_deref(), input.key.is_some())?;
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        if input.key.is_none() {
            v.null("key");
        }
        if input
            .attributes_to_get
            .as_ref()
            .is_some_and(|a| a.is_empty())
        {
            v.push(
                "'[]'",
                "attributesToGet",
                "Member must have length greater than or equal to 1",
            );
        }
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(GET_MEMBER_ORDER)?;
        let name = checked_table_name(input.table_name.as_deref())?;
        let table = self.table(name)?;
        let key = owned_request_key(&table, input.key)?;
        let projection = read_projection(
            input.projection_expression.as_deref(),
            input.attributes_to_get.as_deref(),
            input.expression_attribute_names.as_ref(),
        )?;
        let partition = self.admit_key(&table, Access::Read, &key)?;
        let consistent = input.consistent_read.unwrap_or(false);
        let (units, answer) = match projection {
            // The whole item: written out from its stored bytes, within
            // the read, without decoding it.
            None => self.engine.read(|r| {
                let stored = r.get_item_stored(&table, &key)?;
                let size = capacity::read_size(stored.map(StoredItem))?;
                let item = stored.map(|s| GetItem::Stored(StoredItem(s)));
                Ok(GetOutput::answer(item, size, consistent, mode, &table.name))
            })?,
            Some(projection) => {
                let item = self.engine.read(|r| r.get_item(&table, &key))?;
                let size = item.as_ref().map_or(0, item_size);
                let item = item.map(|i| GetItem::Decoded(projection.apply(&i)));
                GetOutput::answer(item, size, consistent, mode, &table.name)
            }
        };
        self.capacity
            .charge(&table, None, Access::Read, units, partition.as_deref());
        self.count_key_read(&table, &capacity::Spent::table(units), &key);
        answer
    }

    pub(super) async fn delete_item(
        &self,
        input: DeleteItemInput,
        origin: Option<u64>,
    ) -> ApiResult<Vec<u8>> {
        let members = write_members!(input, key);
        let options = members.check(DELETE_MEMBER_ORDER)?;
        let return_old = returns_old_item(options.return_values)?;
        let table = self.table(checked_table_name(members.table_name)?)?;
        let key = request_key(&table, input.key.as_ref())?;
        let (cond, _) = members.condition(&options, None, false)?;
        let write = self.item_write(table, key, options, origin)?;
        let old = self
            .run_item_write(&write, cond, |ctx, table, key, old| {
                if let Some(o) = &old {
                    ctx.delete_item(table, key, o)?;
                }
                Ok(old)
            })
            .await?;
        let spent = write.spent(old.as_ref(), None);
        let attributes = if return_old { old } else { None };
        self.answer_write(&write, &spent, input.key.as_ref(), attributes)
    }

    pub(super) async fn update_item(
        &self,
        input: UpdateItemInput,
        origin: Option<u64>,
    ) -> ApiResult<Vec<u8>> {
        let members = write_members!(input, key);
        let options = members.check(UPDATE_MEMBER_ORDER)?;
        // UpdateItem (unlike the transactions) also refuses a value that
        // would be too deep even if it is only compared, never stored.
        let too_deep = input
            .expression_attribute_values
            .iter()
            .flat_map(|values| values.values())
            .any(|value| too_deep(value, 1));
        if too_deep {
            return Err(ApiError::validation(
                "1 validation error detected: Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
            ));
        }
        let table = self.table(checked_table_name(members.table_name)?)?;
        let key = request_key(&table, input.key.as_ref())?;
        if input.update_expression.is_some() && input.attribute_updates.is_some() {
            return Err(mixed(&["AttributeUpdates"], &["UpdateExpression"]));
        }
        let legacy_update = match &input.attribute_updates {
            Some(u) => {
                for name in u.keys() {
                    check_name(name)?;
                }
                if input.condition_expression.is_some() {
                    return Err(mixed(&["AttributeUpdates"], &["ConditionExpression"]));
                }
                Some(legacy::attribute_updates(&convert_updates(u))?)
            }
            None => None,
        };
        let (cond, update) = members.condition(
            &options,
            input.update_expression.as_deref(),
            input.attribute_updates.is_none(),
        )?;
        let update = update.or(legacy_update).map(Arc::new);
        let key_item = key.to_item(&table.key);
        let return_values = options.return_values;
        let write = self.item_write(table, key, options, origin)?;
        let (old, new) = self
            .run_item_write(&write, cond, move |ctx, table, key, old| {
                let Some(new) = updated_item(table, update.as_deref(), old.as_ref(), &key_item)
                    .map_err(Abort::Op)?
                else {
                    return Ok((old, None));
                };
                ctx.put_item(table, key, &new, old.as_ref())?;
                Ok((old, Some(new)))
            })
            .await?;
        let spent = write.spent(old.as_ref(), new.as_ref());
        let update = input.update_expression.is_some() || input.attribute_updates.is_some();
        let attributes = match return_values {
            ReturnValues::AllOld => old,
            ReturnValues::AllNew => new,
            ReturnValues::UpdatedOld | ReturnValues::UpdatedNew if update => {
                let source = if return_values == ReturnValues::UpdatedOld {
                    old
                } else {
                    new
                };
                source.and_then(|s| {
                    let part = updated_part(&input, &write.table, &s);
                    (!part.is_empty()).then_some(part)
                })
            }
            _ => None,
        };
        self.answer_write(&write, &spent, input.key.as_ref(), attributes)
    }

    /// A single-item write to `key` of `table`, admitted; its change
    /// record will carry `origin` (see `BackendRequest::origin`).
    fn item_write(
        &self,
        table: Arc<TableMeta>,
        key: Key,
        options: WriteOptions,
        origin: Option<u64>,
    ) -> ApiResult<ItemWrite> {
        let partition = self.admit_key(&table, Access::Write, &key)?;
        Ok(ItemWrite {
            table,
            key,
            partition,
            options,
            origin,
        })
    }

    /// Run `apply` in one write job: it gets the item at the write's key
    /// (`None`: none) once `cond` holds for it, stores the change and gives
    /// what the operation answers with.
    async fn run_item_write<R, F>(
        &self,
        write: &ItemWrite,
        cond: Option<Arc<Condition>>,
        apply: F,
    ) -> ApiResult<R>
    where
        R: Send + 'static,
        F: Fn(&mut WriteCtx<'_, '_>, &TableMeta, &Key, Option<Item>) -> Result<R, Abort<ApiError>>
            + Send
            + 'static,
    {
        let validated = write.table.clone();
        let key = write.key.clone();
        let on_failure = write.options.on_failure;
        let origin = write.origin;
        self.engine
            .write(move |ctx| {
                ctx.set_origin(origin);
                let table = live_table(ctx.table(&validated.name), &validated)?;
                let old = ctx.get_item(&table, &key)?;
                check(cond.as_ref(), old.as_ref(), on_failure)?;
                apply(ctx, &table, &key, old)
            })
            .await
            .map_err(abort_to_api)
    }

    /// Charge and count a single-item write's `spent` capacity (telemetry
    /// counts the access under `counted`, the request's key or item) and
    /// answer with `attributes`, the capacity report and the item
    /// collection metrics asked for.
    fn answer_write(
        &self,
        write: &ItemWrite,
        spent: &Spent,
        counted: Option<&Item>,
        attributes: Option<Item>,
    ) -> ApiResult<Vec<u8>> {
        let table = &write.table;
        spent.charge(
            &self.capacity,
            table,
            Access::Write,
            write.partition.as_deref(),
        );
        self.count_write(&table.name, spent, counted);
        encode(&WriteOutput {
            attributes,
            consumed_capacity: capacity::report_parts(write.options.mode, &table.name, spent),
            item_collection_metrics: self.item_collection_metrics(
                write.options.metrics,
                table,
                &write.key,
            )?,
        })
    }
}

/// A single-item write once its members are valid and it is admitted.
struct ItemWrite {
    table: Arc<TableMeta>,
    key: Key,
    /// The partition admission charged, if capacity is tracked per partition.
    partition: Option<Vec<u8>>,
    options: WriteOptions,
    origin: Option<u64>,
}

impl ItemWrite {
    /// The capacity a write that replaced `old` by `new` spent: write units
    /// of the larger of the two, on the table and the indexes they touch.
    fn spent(&self, old: Option<&Item>, new: Option<&Item>) -> Spent {
        let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
        Spent::write(
            &self.table,
            &self.key,
            old,
            new,
            capacity::write_units(size),
        )
    }
}

/// The item an update makes of `old` (or of the bare key, if there is no
/// item); `None` if it writes nothing (only removals applied to no item).
pub(super) fn updated_item(
    table: &TableMeta,
    update: Option<&Update>,
    old: Option<&Item>,
    key_item: &Item,
) -> ApiResult<Option<Item>> {
    let base = old.cloned().unwrap_or_else(|| key_item.clone());
    let new = match update {
        Some(u) => {
            let key_names: Vec<&str> = table.key.names().collect();
            u.apply(&base, &key_names)?
        }
        None => base,
    };
    if item_size(&new) > MAX_ITEM_BYTES {
        return Err(ApiError::validation(
            "Item size to update has exceeded the maximum allowed size",
        ));
    }
    // Each value of an update is checked when parsed, but a value set into
    // an already nested path can push the item past the limit.
    if update.is_some() {
        validate_item(&new)?;
    }
    check_index_keys(table, &new)?;
    if old.is_none() && update.is_some_and(only_removes) {
        return Ok(None);
    }
    Ok(Some(new))
}

/// Whether an update only takes things away: applied to a missing item, such
/// an update creates nothing (SET and ADD create the item, even when empty).
fn only_removes(update: &Update) -> bool {
    !update.actions().is_empty()
        && update.actions().iter().all(|a| {
            matches!(
                a,
                UpdateAction::Remove(_) | UpdateAction::Delete(..) | UpdateAction::LegacyDelete(..)
            )
        })
}

/// The attributes an update touched, as UPDATED_OLD/UPDATED_NEW return them.
/// (Resolving again is cheap: the parsed expressions are cached.)
fn updated_part(input: &UpdateItemInput, _table: &TableMeta, item: &Item) -> Item {
    let update = match (&input.update_expression, &input.attribute_updates) {
        (Some(text), _) => Resolver::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        )
        .and_then(|mut r| r.update(text)),
        (None, Some(u)) => legacy::attribute_updates(&convert_updates(u)),
        (None, None) => return Item::new(),
    };
    match update {
        Ok(u) => u.updated_part(item),
        Err(_) => Item::new(),
    }
}

/// The table the job must write to: still the table that was validated
/// against (not deleted, not re-created under the same name meanwhile).
pub(super) fn live_table(
    current: Option<Arc<TableMeta>>,
    validated: &TableMeta,
) -> Result<Arc<TableMeta>, Abort<ApiError>> {
    match current {
        Some(t) if t.id == validated.id && !t.is_creating() => Ok(t),
        _ => Err(Abort::Op(ApiError::resource_not_found())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFailure {
    None,
    AllOld,
}

/// The [`WriteMembers`] of a PutItem, DeleteItem or UpdateItem input whose
/// member naming what is written is `$target` (`item` or `key`).
macro_rules! write_members {
    ($input:ident, $target:ident) => {
        WriteMembers {
            table_name: $input.table_name.as_deref(),
            target: (stringify!($target), $input.$target.is_some()),
            return_values: $input.return_values.as_deref(),
            return_item_collection_metrics: $input.return_item_collection_metrics.as_deref(),
            conditional_operator: $input.conditional_operator.as_deref(),
            return_values_on_condition_check_failure: $input
                .return_values_on_condition_check_failure
                .as_deref(),
            return_consumed_capacity: $input.return_consumed_capacity.as_deref(),
            condition_expression: $input.condition_expression.as_deref(),
            expected: $input.expected.as_ref(),
            names: $input.expression_attribute_names.as_ref(),
            values: $input.expression_attribute_values.as_ref(),
        }
    };
}
use write_members;

/// The members PutItem, DeleteItem and UpdateItem share.
struct WriteMembers<'a> {
    table_name: Option<&'a str>,
    /// The member naming what is written (`item` or `key`), and whether
    /// the request has it.
    target: (&'static str, bool),
    return_values: Option<&'a str>,
    return_item_collection_metrics: Option<&'a str>,
    conditional_operator: Option<&'a str>,
    return_values_on_condition_check_failure: Option<&'a str>,
    return_consumed_capacity: Option<&'a str>,
    condition_expression: Option<&'a str>,
    expected: Option<&'a BTreeMap<String, types::ExpectedAttributeValue>>,
    names: Option<&'a Names>,
    values: Option<&'a Values>,
}

/// What the shared members ask for, once they are valid.
struct WriteOptions {
    return_values: ReturnValues,
    conditional_operator: Option<ConditionalOperator>,
    on_failure: OnFailure,
    mode: ReturnConsumedCapacity,
    metrics: Metrics,
}

impl WriteMembers<'_> {
    /// Validate the shared members, reporting every violation at once in
    /// the operation's member `order`.
    fn check(&self, order: &[&str]) -> ApiResult<WriteOptions> {
        let (target, present) = self.target;
        refuse_empty_table_name(self.table_name, present)?;
        let mut v = Violations::new();
        v.table_name_or_arn(self.table_name, "tableName");
        if !present {
            v.null(target);
        }
        let return_values = v
            .parse(self.return_values, "returnValues")
            .unwrap_or_default();
        v.one_of(
            self.return_item_collection_metrics,
            "returnItemCollectionMetrics",
            RETURN_ITEM_COLLECTION_METRICS,
        );
        let conditional_operator = v.parse(self.conditional_operator, "conditionalOperator");
        let on_failure = return_on_failure(self.return_values_on_condition_check_failure, &mut v);
        let mode = capacity::requested(self.return_consumed_capacity, &mut v);
        v.finish_in(order)?;
        Ok(WriteOptions {
            return_values,
            conditional_operator,
            on_failure,
            mode,
            metrics: Metrics::parse(self.return_item_collection_metrics),
        })
    }

    /// The write's condition (ConditionExpression, or Expected with the
    /// ConditionalOperator `options` hold) and UpdateItem's `update`
    /// expression, resolved (see [`write_condition`]).
    fn condition(
        &self,
        options: &WriteOptions,
        update: Option<&str>,
        update_op: bool,
    ) -> ApiResult<(Option<Arc<Condition>>, Option<Update>)> {
        write_condition(
            self.condition_expression,
            self.expected,
            options.conditional_operator,
            self.names,
            self.values,
            update,
            update_op,
        )
    }
}

/// PutItem and DeleteItem can return only the old item.
fn returns_old_item(return_values: ReturnValues) -> ApiResult<bool> {
    match return_values {
        ReturnValues::None => Ok(false),
        ReturnValues::AllOld => Ok(true),
        _ => Err(ApiError::validation("Return values set to invalid value")),
    }
}

pub(super) fn return_on_failure(value: Option<&str>, v: &mut Violations) -> OnFailure {
    v.one_of(
        value,
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    );
    match value {
        Some("ALL_OLD") => OnFailure::AllOld,
        _ => OnFailure::None,
    }
}

/// Evaluate the write's condition against the current item.
pub(super) fn check(
    cond: Option<&Arc<Condition>>,
    old: Option<&Item>,
    on_failure: OnFailure,
) -> Result<(), Abort<ApiError>> {
    let Some(cond) = cond else { return Ok(()) };
    let empty = Item::new();
    let ok = cond
        .evaluate(old.unwrap_or(&empty))
        .map_err(|e| Abort::Op(ApiError::from(e)))?;
    if ok {
        return Ok(());
    }
    let mut err = ApiError::conditional_check_failed();
    if let (OnFailure::AllOld, Some(item)) = (on_failure, old) {
        let mut extra = Map::new();
        if let Ok(v) = serde_json::to_value(item) {
            extra.insert("Item".into(), v);
        }
        err.extra = Some(extra);
    }
    Err(Abort::Op(err))
}

/// DynamoDB's error for mixing legacy and expression parameters.
pub(super) fn mixed(legacy: &[&str], expression: &[&str]) -> ApiError {
    ApiError::validation(format!(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        legacy.join(", "),
        expression.join(", ")
    ))
}

/// Resolve a write's condition (ConditionExpression or Expected) and, for
/// UpdateItem, its UpdateExpression, checking names/values usage.
pub(super) fn write_condition(
    condition: Option<&str>,
    expected: Option<&BTreeMap<String, types::ExpectedAttributeValue>>,
    conditional_operator: Option<ConditionalOperator>,
    names: Option<&Names>,
    values: Option<&Values>,
    update: Option<&str>,
    update_op: bool,
) -> ApiResult<(Option<Arc<Condition>>, Option<Update>)> {
    if condition.is_some() && expected.is_some() {
        return Err(mixed(&["Expected"], &["ConditionExpression"]));
    }
    if update.is_some() && expected.is_some() {
        return Err(mixed(&["Expected"], &["UpdateExpression"]));
    }
    if conditional_operator.is_some() && condition.is_some() {
        return Err(mixed(&["ConditionalOperator"], &["ConditionExpression"]));
    }
    if condition.is_none() && update.is_none() {
        let params: &[&str] = if update_op {
            &["UpdateExpression", "ConditionExpression"]
        } else {
            &["ConditionExpression"]
        };
        if names.is_some() {
            return Err(expr::only_with_expressions_error(false, params).into());
        }
        if values.is_some() {
            return Err(expr::only_with_expressions_error(true, params).into());
        }
        let cond = match expected {
            Some(e) => Some(Arc::new(legacy::expected(
                &convert_expected(e),
                conditional_operator,
            )?)),
            None => {
                if conditional_operator.is_some() {
                    return Err(legacy::conditional_operator_alone_error().into());
                }
                None
            }
        };
        return Ok((cond, None));
    }
    let mut r = Resolver::new(names, values)?;
    let upd = match update {
        Some(t) => Some(r.update(t)?),
        None => None,
    };
    let cond = match condition {
        Some(t) => Some(Arc::new(r.condition(t)?)),
        None => None,
    };
    r.finish()?;
    Ok((cond, upd))
}

/// The projection of a read: ProjectionExpression or AttributesToGet.
pub fn read_projection(
    expression: Option<&str>,
    attributes: Option<&[String]>,
    names: Option<&Names>,
) -> ApiResult<Option<Projection>> {
    match (expression, attributes) {
        (Some(_), Some(_)) => Err(mixed(&["AttributesToGet"], &["ProjectionExpression"])),
        (Some(text), None) => {
            let mut r = Resolver::new(names, None)?;
            let p = r.projection(text)?;
            r.finish()?;
            Ok(Some(p))
        }
        (None, attrs) => {
            for name in attrs.into_iter().flatten() {
                check_name(name)?;
            }
            if names.is_some() {
                return Err(ApiError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            match attrs {
                Some(a) => Ok(Some(legacy::attributes_to_get(a)?)),
                None => Ok(None),
            }
        }
    }
}

/// The `Key` parameter of a request, validated against the table's schema.
/// [`request_key`] for a `Key` the request owns (its values are moved).
fn owned_request_key(table: &TableMeta, key: Option<Item>) -> ApiResult<Key> {
    table
        .key
        .take_key_of_request(key.ok_or_else(null_key)?)
        .map_err(|e| ApiError::validation(e.to_string()))
}

fn null_key() -> ApiError {
    ApiError::validation("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
}

pub(super) fn request_key(table: &TableMeta, key: Option<&Item>) -> ApiResult<Key> {
    let key = key.ok_or_else(null_key)?;
    table
        .key
        .key_of_request(key)
        .map_err(|e| ApiError::validation(e.to_string()))
}
