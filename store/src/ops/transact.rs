//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is validated completely first (every table, key,
//! item and expression; at most 100 actions; no item named twice), then runs
//! as ONE writer job. The writer runs jobs one at a time, each seeing the
//! effects of every job before it, so the whole transaction — all of its
//! condition checks and all of its writes — happens at a single point of the
//! writer's serial order: nothing can interleave with it, which makes
//! transactions serializable with each other and with every other write.
//! The job first evaluates every condition against the current items; if
//! any fails it aborts its nested transaction and nothing is written. The
//! transaction's writes commit in one LMDB commit: all or nothing.
//!
//! A read transaction reads all of its items in one LMDB read transaction,
//! i.e. from one consistent snapshot.
//!
//! `ClientRequestToken` makes a write transaction idempotent for ten
//! minutes: a repeat of the same request (same body) gets the first answer
//! without running again; a different request with the same token is
//! refused. Tokens live in memory: a restarted store forgets them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::batch::capacity_list;
use super::capacity;
use super::collection::{Metrics, MetricsByTable};
use super::item::{
    check, check_index_keys, live_table, read_projection, return_on_failure, updated_item,
    validate_item, write_condition, OnFailure, MAX_ITEM_BYTES,
};
use super::table::checked_table_name;
use super::telemetry_hooks::Throttlee;
use super::{abort_to_api, Store};
use crate::api::types::{
    CancellationReason, ReturnConsumedCapacity, TransactAction, TransactGetItemsInput,
    TransactWriteItem, TransactWriteItemsInput,
};
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::capacity::Access;
use crate::engine::{Abort, EngineError};
use crate::expr::{Condition, Projection, Update};
use crate::model::key::{Key, KeyError};
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// Most actions in one transaction.
const MAX_ACTIONS: usize = 100;
/// Largest total size of the items a transaction writes.
const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// Longest ClientRequestToken.
const MAX_TOKEN_CHARS: usize = 36;
/// How long a ClientRequestToken is remembered.
const TOKEN_TTL: Duration = Duration::from_secs(600);
/// How often expired tokens are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Remembered ClientRequestTokens: the request each was first used with and,
/// once it succeeded, its response.
#[derive(Default)]
pub(super) struct Tokens(Mutex<TokenMap>);

#[derive(Default)]
struct TokenMap {
    entries: HashMap<String, TokenEntry>,
    /// When expired entries were last dropped: sweeping the whole map on
    /// every request would make each transaction cost O(tokens).
    swept: Option<Instant>,
}

struct TokenEntry {
    at: Instant,
    /// Hash of the request body: SDKs fill in a token for every call and
    /// resend the same body on retry, so remembering only a fingerprint
    /// keeps ten minutes of tokens small whatever the transactions' size.
    fingerprint: [u8; 16],
    /// `None` while the first request is still running.
    response: Option<Vec<u8>>,
}

enum TokenState {
    New,
    Done(Vec<u8>),
}

impl Tokens {
    fn begin(&self, token: &str, fingerprint: [u8; 16]) -> ApiResult<TokenState> {
        let mut map = self
            .0
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::InternalServer, "Internal server error"))?;
        let now = Instant::now();
        let sweep_due = match map.swept {
            Some(t) => now.duration_since(t) >= SWEEP_EVERY,
            None => true,
        };
        if sweep_due {
            map.entries
                .retain(|_, e| now.duration_since(e.at) < TOKEN_TTL);
            map.swept = Some(now);
        }
        let live = map
            .entries
            .get(token)
            .filter(|e| now.duration_since(e.at) < TOKEN_TTL);
        match live {
            Some(e) if e.fingerprint != fingerprint => Err(ApiError::new(
                ErrorCode::IdempotentParameterMismatch,
                "Request parameters do not match the parameters of the original request with the same ClientRequestToken",
            )),
            Some(TokenEntry {
                response: Some(r), ..
            }) => Ok(TokenState::Done(r.clone())),
            Some(_) => Err(ApiError::new(
                ErrorCode::TransactionInProgress,
                "Transaction with the same ClientRequestToken is still in progress",
            )),
            None => {
                map.entries.insert(
                    token.to_owned(),
                    TokenEntry {
                        at: now,
                        fingerprint,
                        response: None,
                    },
                );
                Ok(TokenState::New)
            }
        }
    }

    fn finish(&self, token: &str, response: Option<&[u8]>) {
        if let Ok(mut map) = self.0.lock() {
            match response {
                Some(r) => {
                    if let Some(e) = map.entries.get_mut(token) {
                        e.response = Some(r.to_vec());
                    }
                }
                None => {
                    map.entries.remove(token);
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Check,
    Put,
    Delete,
    Update,
}

/// One validated action.
struct Action {
    kind: Kind,
    table: Arc<TableMeta>,
    key: Key,
    key_item: Item,
    item: Option<Item>,
    update: Option<Update>,
    condition: Option<Arc<Condition>>,
    on_failure: OnFailure,
}

/// A write action checked as far as it can be without its table.
struct Shape<'a> {
    kind: Kind,
    action: &'a TransactAction,
    on_failure: OnFailure,
    condition: Option<Arc<Condition>>,
    update: Option<Update>,
}

/// Why one action cancelled the transaction (`None`: it did not).
enum Reason {
    None,
    ConditionalCheckFailed(Option<Item>),
    Validation(String),
    /// Refused for lack of capacity: the code and message.
    Throttled(&'static str, &'static str),
    /// The write would grow its item collection past the limit.
    CollectionTooLarge,
}

impl Reason {
    fn code(&self) -> &'static str {
        match self {
            Reason::None => "None",
            Reason::ConditionalCheckFailed(_) => "ConditionalCheckFailed",
            Reason::Validation(_) => "ValidationError",
            Reason::Throttled(code, _) => code,
            Reason::CollectionTooLarge => "ItemCollectionSizeLimitExceeded",
        }
    }

    fn wire(&self) -> CancellationReason<'_> {
        let message = match self {
            Reason::None => None,
            Reason::ConditionalCheckFailed(_) => Some("The conditional request failed"),
            Reason::Validation(msg) => Some(msg.as_str()),
            Reason::Throttled(_, msg) => Some(*msg),
            Reason::CollectionTooLarge => Some("Item collection size limit exceeded"),
        };
        let item = match self {
            Reason::ConditionalCheckFailed(item) => item.as_ref(),
            _ => None,
        };
        CancellationReason {
            code: self.code(),
            message,
            item,
        }
    }
}

fn cancelled(reasons: &[Reason]) -> ApiError {
    let codes: Vec<&str> = reasons.iter().map(Reason::code).collect();
    let mut err = ApiError::new(
        ErrorCode::TransactionCanceled,
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    );
    let mut extra = Map::new();
    extra.insert(
        "CancellationReasons".into(),
        Value::Array(
            reasons
                .iter()
                .filter_map(|r| serde_json::to_value(r.wire()).ok())
                .collect(),
        ),
    );
    err.extra = Some(extra);
    err
}

const ONE_ITEM: &str = "Transaction request cannot include multiple operations on one item";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WriteOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<Vec<capacity::ConsumedCapacity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_collection_metrics: Option<MetricsByTable>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetOutput {
    responses: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<Vec<capacity::ConsumedCapacity>>,
}

/// The order in which the transactions list their members' violations.
const MEMBER_ORDER: &[&str] = &[
    "clientRequestToken",
    "returnConsumedCapacity",
    "returnItemCollectionMetrics",
    "transactItems",
];

/// More than 100 actions is refused first and alone, in the form that names
/// the member without its value; an empty list is one violation among the
/// others.
fn transact_items_length(n: Option<usize>, v: &mut Violations) -> ApiResult<()> {
    match n {
        None => v.null("transactItems"),
        Some(0) => v.push(
            "'[]'",
            "transactItems",
            "Member must have length greater than or equal to 1",
        ),
        Some(n) if n > MAX_ACTIONS => {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'TransactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
            ))
        }
        Some(_) => {}
    }
    Ok(())
}

/// How a transaction reports an action's key that does not fit its table:
/// an empty key value is refused up front, for the whole request; any other
/// mismatch is the action's own failure, its cancellation reason (`Ok`).
fn key_failure(e: KeyError) -> ApiResult<String> {
    match e {
        KeyError::Empty { .. } => Err(ApiError::validation(e.to_string())),
        other => Ok(other.to_string()),
    }
}

/// The key an action's `Key` names (its presence was checked with the
/// other members).
fn lookup_key(table: &TableMeta, key: Option<&Item>) -> Result<Key, KeyError> {
    key.map_or(Err(KeyError::SchemaMismatch), |k| {
        table.key.key_of_request(k)
    })
}

/// A cancellation whose reason is the validation failure of action `i`:
/// validation stops at the first bad action, the others were not looked at.
fn cancelled_by(i: usize, actions: usize, message: String) -> ApiError {
    let mut reasons: Vec<Reason> = (0..actions).map(|_| Reason::None).collect();
    if let Some(r) = reasons.get_mut(i) {
        *r = Reason::Validation(message);
    }
    cancelled(&reasons)
}

impl Store {
    /// The checks of one write action (`i`: its position, for messages)
    /// that need no table: its members, its item's shape and its
    /// expressions. DynamoDB makes them for every action before it looks up
    /// any table, so a malformed expression in a later action is reported
    /// ahead of a missing table in an earlier one.
    fn action_shape(i: usize, w: &TransactWriteItem) -> ApiResult<Shape<'_>> {
        let (kind, a, member): (Kind, &TransactAction, &str) =
            match (&w.condition_check, &w.put, &w.delete, &w.update) {
                (Some(a), None, None, None) => (Kind::Check, a, "conditionCheck"),
                (None, Some(a), None, None) => (Kind::Put, a, "put"),
                (None, None, Some(a), None) => (Kind::Delete, a, "delete"),
                (None, None, None, Some(a)) => (Kind::Update, a, "update"),
                _ => {
                    return Err(ApiError::validation(
                        "TransactItems can only contain one of Check, Put, Update or Delete",
                    ))
                }
            };
        let path = format!("transactItems.{}.member.{member}", i + 1);
        let mut v = Violations::new();
        v.table_name(a.table_name.as_deref(), &format!("{path}.tableName"));
        match kind {
            Kind::Put if a.item.is_none() => v.null(&format!("{path}.item")),
            Kind::Check | Kind::Delete | Kind::Update if a.key.is_none() => {
                v.null(&format!("{path}.key"))
            }
            _ => {}
        }
        if kind == Kind::Check && a.condition_expression.is_none() {
            v.null(&format!("{path}.conditionExpression"));
        }
        if kind == Kind::Update && a.update_expression.is_none() {
            v.null(&format!("{path}.updateExpression"));
        }
        let on_failure = return_on_failure(
            a.return_values_on_condition_check_failure.as_deref(),
            &mut v,
        );
        v.finish()?;
        if let Some(item) = &a.item {
            validate_item(item)?;
        }
        let (condition, update) = write_condition(
            a.condition_expression.as_deref(),
            None,
            None,
            a.expression_attribute_names.as_ref(),
            a.expression_attribute_values.as_ref(),
            a.update_expression.as_deref(),
            kind == Kind::Update,
        )?;
        Ok(Shape {
            kind,
            action: a,
            on_failure,
            condition,
            update,
        })
    }

    /// The checks of one write action against its table. The inner error
    /// is a problem with the action's item or key, which DynamoDB reports
    /// as that action's cancellation reason.
    fn transact_action(&self, shape: Shape<'_>) -> ApiResult<Result<Action, String>> {
        let Shape {
            kind,
            action: a,
            on_failure,
            condition,
            update,
        } = shape;
        let table = self.table(checked_table_name(a.table_name.as_deref())?)?;
        let (key, item) = match (kind, &a.item) {
            (Kind::Put, Some(item)) => {
                let key = match table.key.key_of_item(item) {
                    Ok(k) => k,
                    Err(e) => return key_failure(e).map(Err),
                };
                if item_size(item) > MAX_ITEM_BYTES {
                    return Ok(Err(
                        "Item size has exceeded the maximum allowed size".to_owned()
                    ));
                }
                if let Err(e) = check_index_keys(&table, item) {
                    return Ok(Err(e.message));
                }
                (key, Some(item.clone()))
            }
            _ => match lookup_key(&table, a.key.as_ref()) {
                Ok(k) => (k, None),
                Err(e) => return key_failure(e).map(Err),
            },
        };
        if let Some(u) = &update {
            let names: Vec<&str> = table.key.names().collect();
            u.check_keys(&names)?;
        }
        let key_item = key.to_item(&table.key);
        Ok(Ok(Action {
            kind,
            table,
            key,
            key_item,
            item,
            update,
            condition,
            on_failure,
        }))
    }

    pub(super) async fn transact_write_items(
        &self,
        input: TransactWriteItemsInput,
        fingerprint: [u8; 16],
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        transact_items_length(input.transact_items.as_ref().map(Vec::len), &mut v)?;
        v.one_of(
            input.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            &["SIZE", "NONE"],
        );
        if let Some(t) = &input.client_request_token {
            let n = t.chars().count();
            if n == 0 {
                v.push(
                    "''",
                    "clientRequestToken",
                    "Member must have length greater than or equal to 1",
                );
            }
            if n > MAX_TOKEN_CHARS {
                v.push(
                    &format!("'{t}'"),
                    "clientRequestToken",
                    "Member must have length less than or equal to 36",
                );
            }
        }
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(MEMBER_ORDER)?;
        let items = input.transact_items.unwrap_or_default();
        let mut actions = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        let mut total = 0usize;
        let shapes = items
            .iter()
            .enumerate()
            .map(|(i, w)| Self::action_shape(i, w))
            .collect::<ApiResult<Vec<_>>>()?;
        for (i, shape) in shapes.into_iter().enumerate() {
            let action = match self.transact_action(shape)? {
                Ok(a) => a,
                Err(message) => return Err(cancelled_by(i, items.len(), message)),
            };
            if !seen.insert((action.table.id, action.key.storage_key(action.table.id))) {
                return Err(ApiError::validation(ONE_ITEM));
            }
            total += action.item.as_ref().map_or(0, item_size);
            actions.push(action);
        }
        if total > MAX_TRANSACTION_BYTES {
            return Err(ApiError::validation("Transaction size cannot exceed 4 MB"));
        }
        let token = input.client_request_token.clone();
        if let Some(t) = &token {
            if let TokenState::Done(response) = self.tokens.begin(t, fingerprint)? {
                return Ok(response);
            }
        }
        let metrics = Metrics::parse(input.return_item_collection_metrics.as_deref());
        let result = self.run_transaction(actions, mode, metrics).await;
        if let Some(t) = &token {
            self.tokens
                .finish(t, result.as_ref().ok().map(Vec::as_slice));
        }
        result
    }

    /// Ask capacity for every item of a transaction; one refused cancels
    /// it with a throttling reason at that item (the partition-key bytes of
    /// each item returned, for the charge).
    fn admit_all<'a>(
        &self,
        items: impl ExactSizeIterator<Item = (&'a TableMeta, &'a Key)>,
        access: Access,
    ) -> ApiResult<Vec<Option<Vec<u8>>>> {
        let n = items.len();
        let mut partitions = Vec::with_capacity(n);
        let mut reasons: Vec<Reason> = Vec::new();
        for (i, (table, key)) in items.enumerate() {
            let partition = self.capacity.partition_of(|| key.partition_bytes());
            if let Err(t) = self.admit(
                table,
                None,
                access,
                partition.as_deref(),
                Throttlee::Key(key),
            ) {
                if reasons.is_empty() {
                    reasons = (0..n).map(|_| Reason::None).collect();
                }
                let (code, message) = t.cancellation();
                reasons[i] = Reason::Throttled(code, message);
            }
            partitions.push(partition);
        }
        if reasons.is_empty() {
            Ok(partitions)
        } else {
            Err(cancelled(&reasons))
        }
    }

    async fn run_transaction(
        &self,
        actions: Vec<Action>,
        mode: ReturnConsumedCapacity,
        metrics: Metrics,
    ) -> ApiResult<Vec<u8>> {
        let partitions =
            self.admit_all(actions.iter().map(|a| (&*a.table, &a.key)), Access::Write)?;
        let actions = Arc::new(actions);
        let job = actions.clone();
        let sizes: Vec<(String, usize)> = self
            .engine
            .write(move |ctx| {
                // Phase 1: every condition, against the items as they are now.
                let mut olds = Vec::with_capacity(job.len());
                let mut reasons = Vec::with_capacity(job.len());
                for a in job.iter() {
                    let table = live_table(ctx.table(&a.table.name), &a.table)?;
                    let old = ctx.get_item(&table, &a.key)?;
                    let reason = match check(a.condition.as_ref(), old.as_ref(), a.on_failure) {
                        Ok(()) => Reason::None,
                        Err(Abort::Op(e)) if e.code == ErrorCode::ConditionalCheckFailed => {
                            let item = (a.on_failure == OnFailure::AllOld)
                                .then(|| old.clone())
                                .flatten();
                            Reason::ConditionalCheckFailed(item)
                        }
                        Err(Abort::Op(e)) => Reason::Validation(e.message),
                        Err(e) => return Err(e),
                    };
                    reasons.push(reason);
                    olds.push((table, old));
                }
                if reasons.iter().any(|r| !matches!(r, Reason::None)) {
                    return Err(Abort::Op(cancelled(&reasons)));
                }
                // Phase 2: the writes. A failure here aborts the job's nested
                // transaction, undoing the writes already made.
                let mut sizes = Vec::with_capacity(job.len());
                let n = job.len();
                for (i, (a, (table, old))) in job.iter().zip(olds).enumerate() {
                    let old_size = old.as_ref().map_or(0, item_size);
                    let size = (|| -> Result<usize, Abort<ApiError>> {
                        Ok(match a.kind {
                            Kind::Check => 0,
                            Kind::Put => {
                                let item = a.item.as_ref().ok_or_else(|| {
                                    Abort::Op(ApiError::validation("Missing item"))
                                })?;
                                ctx.put_item(&table, &a.key, item, old.as_ref())?;
                                old_size.max(item_size(item))
                            }
                            Kind::Delete => {
                                if let Some(o) = &old {
                                    ctx.delete_item(&table, &a.key, o)?;
                                }
                                old_size
                            }
                            Kind::Update => {
                                match updated_item(
                                    &table,
                                    a.update.as_ref(),
                                    old.as_ref(),
                                    &a.key_item,
                                )
                                .map_err(Abort::Op)?
                                {
                                    Some(new) => {
                                        ctx.put_item(&table, &a.key, &new, old.as_ref())?;
                                        old_size.max(item_size(&new))
                                    }
                                    None => old_size,
                                }
                            }
                        })
                    })();
                    let size = match size {
                        Err(Abort::Engine(EngineError::CollectionTooLarge)) => {
                            let mut reasons: Vec<Reason> = (0..n).map(|_| Reason::None).collect();
                            reasons[i] = Reason::CollectionTooLarge;
                            return Err(Abort::Op(cancelled(&reasons)));
                        }
                        other => other?,
                    };
                    sizes.push((table.name.clone(), size));
                }
                Ok(sizes)
            })
            .await
            .map_err(abort_to_api)?;
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        for ((name, size), (a, partition)) in sizes.into_iter().zip(actions.iter().zip(&partitions))
        {
            // A transactional write costs two write units per KB.
            let cost = 2.0 * capacity::write_units(size);
            self.capacity
                .charge(&a.table, None, Access::Write, cost, partition.as_deref());
            *units.entry(name).or_default() += cost;
        }
        // A ConditionCheck writes nothing: its collection is not reported.
        let written = actions
            .iter()
            .filter(|a| !matches!(a.kind, Kind::Check))
            .map(|a| (&*a.table, &a.key));

        self.count_units(&units, true);
        encode(&WriteOutput {
            consumed_capacity: capacity_list(mode, units),
            item_collection_metrics: self.item_collection_metrics_by_table(metrics, written)?,
        })
    }

    pub(super) fn transact_get_items(&self, input: TransactGetItemsInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        transact_items_length(input.transact_items.as_ref().map(Vec::len), &mut v)?;
        match &input.transact_items {
            None => {}
            Some(items) => {
                for (i, g) in items.iter().enumerate() {
                    match &g.get {
                        None => v.null(&format!("transactItems.{}.member.get", i + 1)),
                        Some(get) => {
                            let path = format!("transactItems.{}.member.get", i + 1);
                            v.table_name(get.table_name.as_deref(), &format!("{path}.tableName"));
                            if get.key.is_none() {
                                v.null(&format!("{path}.key"));
                            }
                        }
                    }
                }
            }
        }
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(MEMBER_ORDER)?;
        let mut gets: Vec<(Arc<TableMeta>, Key, Option<Projection>)> = Vec::new();
        let mut seen = HashSet::new();
        let items = input.transact_items.unwrap_or_default();
        for (i, g) in items.iter().enumerate() {
            let Some(get) = &g.get else { continue };
            let table = self.table(checked_table_name(get.table_name.as_deref())?)?;
            // A key that does not fit its table is the action's own failure,
            // reported as its cancellation reason, as for a write action.
            let key = match lookup_key(&table, get.key.as_ref()) {
                Ok(k) => k,
                Err(e) => return Err(cancelled_by(i, items.len(), key_failure(e)?)),
            };
            if !seen.insert((table.id, key.storage_key(table.id))) {
                return Err(ApiError::validation(ONE_ITEM));
            }
            let projection = read_projection(
                get.projection_expression.as_deref(),
                None,
                get.expression_attribute_names.as_ref(),
            )?;
            gets.push((table, key, projection));
        }
        let partitions = self.admit_all(
            gets.iter().map(|(table, key, _)| (&**table, key)),
            Access::Read,
        )?;
        // One read transaction: every item from the same snapshot.
        let items = self.engine.read(|view| {
            gets.iter()
                .map(|(table, key, _)| view.get_item(table, key))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        let mut responses = Vec::with_capacity(items.len());
        for (((table, _, projection), item), partition) in gets.iter().zip(items).zip(&partitions) {
            let cost = 2.0 * capacity::read_units(item.as_ref().map_or(0, item_size), true);
            self.capacity
                .charge(table, None, Access::Read, cost, partition.as_deref());
            *units.entry(table.name.clone()).or_default() += cost;
            let mut m = Map::new();
            if let Some(item) = item {
                let item = match projection {
                    Some(p) => p.apply(&item),
                    None => item,
                };
                if let Ok(v) = serde_json::to_value(&item) {
                    m.insert("Item".into(), v);
                }
            }
            responses.push(Value::Object(m));
        }
        self.count_units(&units, false);
        encode(&GetOutput {
            responses,
            consumed_capacity: capacity_list(mode, units),
        })
    }
}
