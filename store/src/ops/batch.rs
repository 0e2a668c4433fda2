//! BatchGetItem and BatchWriteItem.
//!
//! Both validate the whole request before touching storage: table names,
//! keys and items, projections, and DynamoDB's rule that a key appears at
//! most once per table. A BatchGetItem reads every key in one read
//! transaction; keys beyond the 16 MB response limit come back in
//! `UnprocessedKeys` with their table's parameters. A BatchWriteItem runs as
//! one writer job, so all of its puts and deletes commit together (the
//! request is atomic even though DynamoDB only promises per-item atomicity),
//! and `UnprocessedItems` holds only the writes refused for lack of
//! capacity (as do `UnprocessedKeys` for reads): a batch fails with the
//! throttling error only when every one of its items is refused.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::capacity::{self, ConsumedCapacity, Spent};
use super::collection::{Metrics, MetricsByTable};
use super::item::{
    check_index_keys, live_table, read_projection, request_key, validate_item, MAX_ITEM_BYTES,
};
use super::table::checked_table_name;
use super::telemetry_hooks::Throttlee;
use super::{abort_to_api, Store};
use crate::api::types::{
    BatchGetItemInput, BatchWriteItemInput, KeysAndAttributes, ReturnConsumedCapacity, WriteRequest,
};
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult};
use crate::capacity::{Access, Throttled};
use crate::expr::Projection;
use crate::model::key::{Key, KeyError};
use crate::model::table::TableMeta;
use crate::model::value::{item_size, Item};

/// Most keys one BatchGetItem may read.
const MAX_GET_KEYS: usize = 100;
/// Most requests one BatchWriteItem may carry.
const MAX_WRITES: usize = 25;
/// A BatchGetItem response stops growing at this size; the rest is unprocessed.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

const DUPLICATES: &str = "Provided list of item keys contains duplicates";

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGetOutput {
    responses: BTreeMap<String, Vec<Item>>,
    unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<Vec<ConsumedCapacity>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchWriteOutput {
    unprocessed_items: BTreeMap<String, Vec<WriteRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<Vec<ConsumedCapacity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_collection_metrics: Option<MetricsByTable>,
}

/// One table's share of a BatchGetItem, validated.
struct TableGet {
    name: String,
    table: Arc<TableMeta>,
    keys: Vec<Key>,
    projection: Option<Projection>,
    consistent: bool,
    params: KeysAndAttributes,
}

enum Write {
    Put(Key, Arc<Item>),
    Delete(Key),
}

impl Write {
    fn key(&self) -> &Key {
        match self {
            Write::Put(k, _) | Write::Delete(k) => k,
        }
    }

    /// Write units this write costs whatever the item it replaces.
    fn least_units(&self) -> f64 {
        match self {
            Write::Put(_, item) => capacity::write_units(item_size(item)),
            Write::Delete(_) => capacity::write_units(0),
        }
    }
}

/// One table's validated writes, each with the request it came from (to
/// hand back if it is throttled).
type TableWrites<'a> = (Arc<TableMeta>, Vec<(Write, &'a WriteRequest)>);

/// Record one table's key, failing on a duplicate.
fn unique(seen: &mut HashSet<Vec<u8>>, table: &TableMeta, key: &Key) -> ApiResult<()> {
    if seen.insert(key.storage_key(table.id)) {
        Ok(())
    } else {
        Err(ApiError::validation(DUPLICATES))
    }
}

/// The order in which BatchGetItem lists its members' violations.
const GET_MEMBER_ORDER: &[&str] = &["returnConsumedCapacity", "requestItems"];
/// The order in which BatchWriteItem lists its members' violations.
const WRITE_MEMBER_ORDER: &[&str] = &[
    "returnConsumedCapacity",
    "returnItemCollectionMetrics",
    "requestItems",
];

impl Store {
    pub(super) fn batch_get_item(&self, input: BatchGetItemInput) -> ApiResult<Vec<u8>> {
        // The length of RequestItems and of each table's Keys is checked
        // first, on its own, in the form that names the member without its
        // value.
        if let Some(r) = &input.request_items {
            if r.is_empty() {
                return Err(ApiError::validation(
                    "1 validation error detected: Value at 'RequestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            for (name, ka) in r {
                let bound = match ka.keys.as_ref().map(Vec::len) {
                    Some(0) => "greater than or equal to 1",
                    Some(n) if n > MAX_GET_KEYS => "less than or equal to 100",
                    _ => continue,
                };
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value at 'RequestItems.{name}.member.Keys' failed to satisfy constraint: Member must have length {bound}"
                )));
            }
        }
        let mut v = Violations::new();
        match &input.request_items {
            None => v.null("requestItems"),
            Some(r) => {
                for (name, ka) in r {
                    if ka.keys.is_none() {
                        v.null(&format!("requestItems.{name}.member.keys"));
                    }
                }
            }
        }
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.finish_in(GET_MEMBER_ORDER)?;
        let requests = input.request_items.unwrap_or_default();
        let total: usize = requests
            .values()
            .map(|ka| ka.keys.as_ref().map_or(0, Vec::len))
            .sum();
        if total > MAX_GET_KEYS {
            return Err(ApiError::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let mut gets = Vec::with_capacity(requests.len());
        for (name, params) in requests {
            let table = self.table(checked_table_name(Some(&name))?)?;
            let projection = read_projection(
                params.projection_expression.as_deref(),
                params.attributes_to_get.as_deref(),
                params.expression_attribute_names.as_ref(),
            )?;
            let mut seen = HashSet::new();
            let mut keys = Vec::new();
            for k in params.keys.iter().flatten() {
                let key = request_key(&table, Some(k))?;
                unique(&mut seen, &table, &key)?;
                keys.push(key);
            }
            gets.push(TableGet {
                name,
                table,
                keys,
                projection,
                consistent: params.consistent_read.unwrap_or(false),
                params,
            });
        }
        let mut responses: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        let mut unprocessed: BTreeMap<String, KeysAndAttributes> = BTreeMap::new();
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        let mut size = 0usize;
        // Keys refused for lack of capacity come back unprocessed; only
        // when every key is refused does the request fail.
        let mut first_throttle: Option<Throttled> = None;
        let mut processed = 0usize;
        self.engine.read(|view| {
            for get in &gets {
                let found = responses.entry(get.name.clone()).or_default();
                for key in &get.keys {
                    let partition = self.capacity.partition_of(|| key.partition_bytes());
                    let admitted = match self.admit(
                        &get.table,
                        None,
                        Access::Read,
                        partition.as_deref(),
                        Throttlee::Key(key),
                    ) {
                        Ok(()) => true,
                        Err(t) => {
                            first_throttle.get_or_insert(t);
                            false
                        }
                    };
                    if size >= MAX_RESPONSE_BYTES || !admitted {
                        let rest = unprocessed.entry(get.name.clone()).or_insert_with(|| {
                            KeysAndAttributes {
                                keys: Some(Vec::new()),
                                ..get.params.clone()
                            }
                        });
                        if let Some(keys) = rest.keys.as_mut() {
                            keys.push(key.to_item(&get.table.key));
                        }
                        continue;
                    }
                    let item = view.get_item(&get.table, key)?;
                    processed += 1;
                    let bytes = item.as_ref().map_or(0, item_size);
                    let cost = capacity::read_units(bytes, get.consistent);
                    self.capacity.charge(
                        &get.table,
                        None,
                        Access::Read,
                        cost,
                        partition.as_deref(),
                    );
                    *units.entry(get.name.clone()).or_default() += cost;
                    self.count_key_access(&get.table, key, cost);
                    if let Some(item) = item {
                        size += bytes;
                        found.push(match &get.projection {
                            Some(p) => p.apply(&item),
                            None => item,
                        });
                    }
                }
            }
            Ok(())
        })?;
        if let (0, Some(t)) = (processed, first_throttle) {
            return Err(t.into());
        }
        self.count_units(&units, false);
        encode(&BatchGetOutput {
            responses,
            unprocessed_keys: unprocessed,
            consumed_capacity: capacity_list(mode, units),
        })
    }

    pub(super) async fn batch_write_item(&self, input: BatchWriteItemInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        match &input.request_items {
            None => v.null("requestItems"),
            Some(r) => {
                for (name, list) in r {
                    for (i, request) in list.iter().enumerate() {
                        let path = format!("requestItems.{name}.member.{}.member", i + 1);
                        if let Some(delete) = &request.delete_request {
                            if delete.key.is_none() {
                                v.null(&format!("{path}.deleteRequest.key"));
                            }
                        }
                        if let Some(put) = &request.put_request {
                            if put.item.is_none() {
                                v.null(&format!("{path}.putRequest.item"));
                            }
                        }
                    }
                }
            }
        }
        let mode = capacity::requested(input.return_consumed_capacity.as_deref(), &mut v);
        v.one_of(
            input.return_item_collection_metrics.as_deref(),
            "returnItemCollectionMetrics",
            &["SIZE", "NONE"],
        );
        v.finish_in(WRITE_MEMBER_ORDER)?;
        let requests = input.request_items.unwrap_or_default();
        if requests.is_empty() {
            return Err(ApiError::validation(
                "The requestItems parameter is required for BatchWriteItem",
            ));
        }
        for (name, list) in &requests {
            if list.is_empty() && requests.len() == 1 {
                // DynamoDB echoes the whole map here; with one empty list the
                // echo is exact.
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{{{name}=[]}}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_WRITES}, Member must have length greater than or equal to 1]"
                )));
            }
            let bound = match list.len() {
                0 => "greater than or equal to 1".to_owned(),
                n if n > MAX_WRITES => format!("less than or equal to {MAX_WRITES}"),
                _ => continue,
            };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'RequestItems.{name}.member' failed to satisfy constraint: Member must have length {bound}"
            )));
        }
        let total: usize = requests.values().map(Vec::len).sum();
        if total > MAX_WRITES {
            return Err(ApiError::validation(
                "Too many items requested for the BatchWriteItem call",
            ));
        }
        let mut plan: Vec<TableWrites<'_>> = Vec::with_capacity(requests.len());
        let mut unprocessed: BTreeMap<String, Vec<WriteRequest>> = BTreeMap::new();
        let mut first_throttle: Option<Throttled> = None;
        for (name, list) in &requests {
            let table = self.table(checked_table_name(Some(name))?)?;
            let mut seen = HashSet::new();
            let mut writes = Vec::with_capacity(list.len());
            for request in list {
                let write = match (&request.put_request, &request.delete_request) {
                    (Some(put), None) => {
                        let item = put.item.clone().unwrap_or_default();
                        validate_item(&item)?;
                        // Unlike PutItem, a batch names no attribute when an
                        // item's key does not fit: every mismatch is the
                        // generic one.
                        let key = table.key.key_of_item(&item).map_err(|e| {
                            let e = match e {
                                KeyError::MissingInItem(_) | KeyError::TypeMismatch { .. } => {
                                    KeyError::SchemaMismatch
                                }
                                other => other,
                            };
                            ApiError::validation(e.to_string())
                        })?;
                        if item_size(&item) > MAX_ITEM_BYTES {
                            return Err(ApiError::validation(
                                "Item size has exceeded the maximum allowed size",
                            ));
                        }
                        check_index_keys(&table, &item)?;
                        Write::Put(key, Arc::new(item))
                    }
                    (None, Some(delete)) => {
                        Write::Delete(request_key(&table, delete.key.as_ref())?)
                    }
                    _ => {
                        return Err(ApiError::validation(
                            "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                        ))
                    }
                };
                unique(&mut seen, &table, write.key())?;
                writes.push((write, request));
            }
            plan.push((table, writes));
        }
        // Every write validated: now each one asks for capacity; those
        // refused come back unprocessed (all refused: the request fails).
        let mut admitted_plan = Vec::with_capacity(plan.len());
        for (table, writes) in plan {
            let mut admitted = Vec::with_capacity(writes.len());
            for (write, request) in writes {
                let partition = self.capacity.partition_of(|| write.key().partition_bytes());
                match self.admit(
                    &table,
                    None,
                    Access::Write,
                    partition.as_deref(),
                    Throttlee::Key(write.key()),
                ) {
                    Ok(()) => {
                        // Reserve what the write will at least cost, so the
                        // next write of this batch sees it; the rest is paid
                        // once the old item is known.
                        let reserved = write.least_units();
                        self.capacity.charge(
                            &table,
                            None,
                            Access::Write,
                            reserved,
                            partition.as_deref(),
                        );
                        admitted.push((write, partition));
                    }
                    Err(t) => {
                        first_throttle.get_or_insert(t);
                        unprocessed
                            .entry(table.name.clone())
                            .or_default()
                            .push(request.clone());
                    }
                }
            }
            if !admitted.is_empty() {
                admitted_plan.push((table, admitted));
            }
        }
        if admitted_plan.is_empty() {
            if let Some(t) = first_throttle {
                return Err(t.into());
            }
        }
        let partitions: Vec<Vec<Option<Vec<u8>>>> = admitted_plan
            .iter_mut()
            .map(|(_, writes)| writes.iter_mut().map(|(_, p)| p.take()).collect())
            .collect();
        let plan: Vec<(Arc<TableMeta>, Vec<Write>)> = admitted_plan
            .into_iter()
            .map(|(t, writes)| (t, writes.into_iter().map(|(w, _)| w).collect()))
            .collect();
        let plan = Arc::new(plan);
        let job_plan = plan.clone();
        let spent: Vec<(Arc<TableMeta>, Spent)> = self
            .engine
            .write(move |ctx| {
                let mut spent = Vec::new();
                for (validated, writes) in job_plan.iter() {
                    let table = live_table(ctx.table(&validated.name), validated)?;
                    for write in writes {
                        let old = ctx.get_item(&table, write.key())?;
                        let old_size = old.as_ref().map_or(0, item_size);
                        match write {
                            Write::Put(key, item) => {
                                ctx.put_item(&table, key, item, old.as_ref())?;
                                let units = capacity::write_units(old_size.max(item_size(item)));
                                let s = Spent::write(&table, key, old.as_ref(), Some(item), units);
                                spent.push((table.clone(), s));
                            }
                            Write::Delete(key) => {
                                if let Some(o) = &old {
                                    ctx.delete_item(&table, key, o)?;
                                }
                                let units = capacity::write_units(old_size);
                                let s = Spent::write(&table, key, old.as_ref(), None, units);
                                spent.push((table.clone(), s));
                            }
                        }
                    }
                }
                Ok(spent)
            })
            .await
            .map_err(abort_to_api)?;
        let mut per_table: BTreeMap<String, Spent> = BTreeMap::new();
        let writes = plan.iter().flat_map(|(_, writes)| writes);
        for (((table, s), partition), write) in
            spent.iter().zip(partitions.iter().flatten()).zip(writes)
        {
            // What admission reserved is already paid.
            let mut rest = s.clone();
            rest.table = s.table.map(|u| (u - write.least_units()).max(0.0));
            rest.charge(&self.capacity, table, Access::Write, partition.as_deref());
            per_table.entry(table.name.clone()).or_default().add(s);
        }
        for (name, s) in &per_table {
            self.count_write(name, s, None);
        }
        let consumed = (mode != ReturnConsumedCapacity::None).then(|| {
            per_table
                .iter()
                .filter_map(|(name, s)| capacity::report_parts(mode, name, s))
                .collect()
        });
        let metrics = self.item_collection_metrics_by_table(
            Metrics::parse(input.return_item_collection_metrics.as_deref()),
            plan.iter()
                .flat_map(|(table, writes)| writes.iter().map(move |w| (&**table, w.key()))),
        )?;
        encode(&BatchWriteOutput {
            unprocessed_items: unprocessed,
            consumed_capacity: consumed,
            item_collection_metrics: metrics,
        })
    }
}

/// Per-table consumed capacity, as the batch and transaction operations report it.
pub(super) fn capacity_list(
    mode: ReturnConsumedCapacity,
    units: BTreeMap<String, f64>,
) -> Option<Vec<ConsumedCapacity>> {
    if mode == ReturnConsumedCapacity::None {
        return None;
    }
    Some(
        units
            .into_iter()
            .filter_map(|(name, u)| capacity::report(mode, &name, u))
            .collect(),
    )
}
