//! Global secondary indexes added and removed by UpdateTable, and the
//! background backfill that fills a new index.
//!
//! A GSI created by UpdateTable enters the catalog at once, with a
//! [`Backfill`] marker: from that commit on every ordinary write maintains
//! its entries, while the supervised backfill task walks the base table in
//! bounded chunks through the writer, adding the entries of items written
//! before the index existed. Each chunk commits its progress in the
//! table's catalog entry, so a restarted store resumes where it stopped.
//! When the walk reaches the end of the table the marker is removed and the
//! index is ACTIVE. Queries and scans on an index still backfilling are
//! refused, as DynamoDB does.
//!
//! Deleting a GSI removes it from the catalog and all its entries in one
//! write job.

use std::sync::{Arc, Weak};

use tokio::sync::Notify;

use crate::api::types::{SecondaryIndex, UpdateTableInput};
use crate::api::{ApiError, ApiResult, ErrorCode};
use crate::engine::{Abort, Engine, WriteCtx};
use crate::model::key::ScalarType;
use crate::model::table::{Backfill, Billing, TableMeta};

const INVALID: &str = "One or more parameter values were invalid: ";

/// Most GSIs a table may have.
const MAX_GSIS: usize = 20;

/// Base-table items indexed per backfill chunk: small enough that one
/// chunk holds the writer for a few milliseconds only.
const CHUNK: usize = 500;

/// The one index operation of an UpdateTable request.
#[derive(Debug, Clone)]
pub(super) enum GsiChange {
    Create(SecondaryIndex),
    Update(SecondaryIndex),
    Delete(String),
}

/// Check the shape of `GlobalSecondaryIndexUpdates`: each entry names
/// exactly one known operation, and one request changes at most one index.
pub(super) fn plan(input: &UpdateTableInput) -> ApiResult<Option<GsiChange>> {
    let Some(updates) = input.global_secondary_index_updates.as_deref() else {
        return Ok(None);
    };
    let mut changes = Vec::new();
    for u in updates {
        if let Some(name) = u.unknown.keys().next() {
            return Err(ApiError::validation(format!(
                "{INVALID}GlobalSecondaryIndexUpdate has an unknown operation: {name}"
            )));
        }
        let given = [u.create.is_some(), u.update.is_some(), u.delete.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given != 1 {
            return Err(ApiError::validation(format!(
                "{INVALID}a GlobalSecondaryIndexUpdate must hold exactly one of Create, Update or Delete"
            )));
        }
        if let Some(c) = &u.create {
            changes.push(GsiChange::Create(c.clone()));
        } else if let Some(c) = &u.update {
            changes.push(GsiChange::Update(c.clone()));
        } else if let Some(d) = &u.delete {
            let Some(name) = d.index_name.clone() else {
                return Err(ApiError::validation(
                    "1 validation error detected: Value null at 'globalSecondaryIndexUpdates.1.member.delete.indexName' failed to satisfy constraint: Member must not be null",
                ));
            };
            changes.push(GsiChange::Delete(name));
        }
    }
    let creates_or_deletes = changes
        .iter()
        .filter(|c| !matches!(c, GsiChange::Update(_)))
        .count();
    if creates_or_deletes > 1 {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    if changes.len() > 1 {
        return Err(ApiError::validation(format!(
            "{INVALID}one UpdateTable request may change only one global secondary index"
        )));
    }
    Ok(changes.pop())
}

/// Apply `change` to `meta` inside the writer. A created index gets a fresh
/// key space and starts backfilling; a deleted one loses its entries.
pub(super) fn apply(
    ctx: &mut WriteCtx<'_, '_>,
    meta: &mut TableMeta,
    change: &GsiChange,
    input: &UpdateTableInput,
) -> Result<(), Abort<ApiError>> {
    match change {
        GsiChange::Create(index) => create(ctx, meta, index, input),
        GsiChange::Update(index) => update(meta, index).map_err(Abort::Op),
        GsiChange::Delete(name) => {
            let Some(pos) = meta.global_indexes.iter().position(|i| i.name == *name) else {
                return Err(Abort::Op(ApiError::not_found(format!(
                    "Requested resource not found: Index: {name} not found on table {}",
                    meta.name
                ))));
            };
            let removed = meta.global_indexes.remove(pos);
            ctx.drop_index_entries(removed.id)?;
            prune_definitions(meta);
            Ok(())
        }
    }
}

fn create(
    ctx: &mut WriteCtx<'_, '_>,
    meta: &mut TableMeta,
    index: &SecondaryIndex,
    input: &UpdateTableInput,
) -> Result<(), Abort<ApiError>> {
    let name = index.index_name.clone().unwrap_or_default();
    let exists = meta
        .global_indexes
        .iter()
        .chain(&meta.local_indexes)
        .any(|i| i.name == name);
    if exists {
        return Err(Abort::Op(ApiError::validation(format!(
            "{INVALID}an index named {name} already exists on table {}",
            meta.name
        ))));
    }
    if meta.global_indexes.len() >= MAX_GSIS {
        return Err(Abort::Op(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("Subscriber limit exceeded: a table may have at most {MAX_GSIS} global secondary indexes"),
        )));
    }
    // The new index's key attributes must be defined in this request, even
    // those the table already defines (with the same type).
    let mut defs: Vec<(String, ScalarType)> = Vec::new();
    for d in input.attribute_definitions.as_deref().unwrap_or_default() {
        let (Some(n), Some(t)) = (
            d.attribute_name.as_deref(),
            d.attribute_type.as_deref().and_then(ScalarType::parse),
        ) else {
            continue;
        };
        let existing = meta.attribute_definitions.iter().find(|(e, _)| e == n);
        if let Some((_, old)) = existing.filter(|(_, old)| *old != t) {
            return Err(Abort::Op(ApiError::validation(format!(
                "{INVALID}attribute {n} is defined as {} and cannot be redefined as {}",
                old.as_str(),
                t.as_str()
            ))));
        }
        defs.push((n.to_owned(), t));
    }
    let mut created =
        super::schema::index_meta(index, &defs, &meta.billing, true).map_err(Abort::Op)?;
    created.id = ctx.next_id()?;
    created.backfill = Some(Backfill::default());
    for attr in created.key.attributes() {
        if !meta
            .attribute_definitions
            .iter()
            .any(|(n, _)| *n == attr.name)
        {
            meta.attribute_definitions
                .push((attr.name.clone(), attr.scalar));
        }
    }
    meta.global_indexes.push(created);
    Ok(())
}

fn update(meta: &mut TableMeta, index: &SecondaryIndex) -> ApiResult<()> {
    let name = index.index_name.clone().unwrap_or_default();
    let table = meta.name.clone();
    let billing = meta.billing.clone();
    let Some(gsi) = meta.global_indexes.iter_mut().find(|i| i.name == name) else {
        return Err(ApiError::not_found(format!(
            "Requested resource not found: Index: {name} not found on table {table}"
        )));
    };
    let others = index.on_demand_throughput.is_some() || index.warm_throughput.is_some();
    gsi.on_demand =
        super::throughput::on_demand(gsi.on_demand, index.on_demand_throughput.as_ref());
    gsi.warm = super::throughput::warm(gsi.warm, index.warm_throughput.as_ref());
    if others && index.provisioned_throughput.is_none() {
        return Ok(());
    }
    match (&billing, &index.provisioned_throughput) {
        (Billing::PayPerRequest, _) => Err(ApiError::validation(format!(
            "{INVALID}ProvisionedThroughput cannot be changed for index {name}: table {table} is PAY_PER_REQUEST"
        ))),
        (_, None) => Err(ApiError::validation(format!(
            "{INVALID}ProvisionedThroughput is required to update index {name}"
        ))),
        (_, Some(pt)) => {
            gsi.provisioned = Some((
                pt.read_capacity_units.unwrap_or(1).max(1) as u64,
                pt.write_capacity_units.unwrap_or(1).max(1) as u64,
            ));
            Ok(())
        }
    }
}

/// Keep only the attribute definitions some key still uses.
fn prune_definitions(meta: &mut TableMeta) {
    let used: Vec<String> = meta
        .key
        .names()
        .chain(
            meta.local_indexes
                .iter()
                .chain(&meta.global_indexes)
                .flat_map(|i| i.key.names()),
        )
        .map(str::to_owned)
        .collect();
    meta.attribute_definitions.retain(|(n, _)| used.contains(n));
}

/// The backfill task: runs every pending backfill to its end, then sleeps
/// until woken (a GSI was created) or a second passes. Returns when the
/// engine is gone.
pub(super) async fn backfill_loop(engine: Weak<Engine>, wake: Arc<Notify>) {
    let pending = |engine: &Engine| -> Vec<(String, u32)> {
        engine
            .tables()
            .iter()
            .flat_map(|t| {
                t.global_indexes
                    .iter()
                    .filter(|i| i.backfill.is_some())
                    .map(|i| (t.name.clone(), i.id))
            })
            .collect()
    };
    let run = |(table, index): (String, u32)| {
        let engine = &engine;
        async move {
            if let Err(e) = backfill(engine, &table, index).await {
                tracing::warn!(error = %e, table, "GSI backfill chunk failed; retrying later");
            }
        }
    };
    super::rounds::work_through(&engine, &wake, pending, run).await;
}

/// Run the backfill of index `index_id` of `table` chunk by chunk until it
/// is done, or the index, the table or the engine is gone. The engine is
/// held only during a chunk, so closing the store is never delayed long.
async fn backfill(engine: &Weak<Engine>, table: &str, index_id: u32) -> Result<(), ApiError> {
    loop {
        let Some(engine) = engine.upgrade() else {
            return Ok(());
        };
        let name = table.to_owned();
        let more = engine
            .write(move |ctx| {
                let Some(meta) = ctx.table(&name) else {
                    return Ok(false);
                };
                let Some(pos) = meta.global_indexes.iter().position(|i| i.id == index_id) else {
                    return Ok(false);
                };
                let index = &meta.global_indexes[pos];
                let Some(progress) = &index.backfill else {
                    return Ok(false);
                };
                let next =
                    ctx.backfill_index(&meta, index, progress.resume_after.as_deref(), CHUNK)?;
                let more = next.is_some();
                let mut updated = (*meta).clone();
                updated.global_indexes[pos].backfill = next.map(|k| Backfill {
                    resume_after: Some(k),
                });
                ctx.put_table(updated)?;
                Ok::<bool, Abort<ApiError>>(more)
            })
            .await
            .map_err(super::abort_to_api)?;
        drop(engine);
        if !more {
            return Ok(());
        }
        // Let foreground requests queue up before the next chunk.
        tokio::task::yield_now().await;
    }
}
