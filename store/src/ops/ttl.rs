//! Time to Live: UpdateTimeToLive, DescribeTimeToLive, and the sweep that
//! deletes expired items.
//!
//! The TTL attribute is part of the table's catalog entry. Expired items are
//! deleted by [`Store::sweep_expired`], which the background sweeper
//! (`ops::maintenance`) calls at a configurable rate: it finds expired items
//! with a bounded read scan and deletes each one through the writer,
//! re-checking its expiry there, so the deletion is an ordinary durable write
//! whose change record is marked as a service deletion. Until it is swept an
//! expired item is still returned by reads, as in DynamoDB.

use std::collections::HashMap;

use super::table::table_operation_name;
use super::{abort_to_api, Store};
use crate::api::control_types::{
    DescribeTimeToLiveOutput, TimeToLiveDescription, TimeToLiveSpecificationOut, TimeToLiveStatus,
    UpdateTimeToLiveInput, UpdateTimeToLiveOutput,
};
use crate::api::types::TableNameInput;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult};
use crate::engine::{is_expired, Abort, EngineError};

const MAX_ATTRIBUTE_NAME: usize = 255;

/// Where each table's sweep continues: table id → last storage key scanned.
pub type SweepCursors = HashMap<u32, Vec<u8>>;

impl Store {
    pub(super) async fn update_time_to_live(
        &self,
        input: UpdateTimeToLiveInput,
    ) -> ApiResult<Vec<u8>> {
        let name = table_operation_name(input.table_name.as_deref(), true)?.to_owned();
        let mut v = Violations::new();
        match &input.time_to_live_specification {
            None => v.null("timeToLiveSpecification"),
            Some(spec) => {
                let path = "timeToLiveSpecification.attributeName";
                match &spec.attribute_name {
                    None => v.null(path),
                    Some(a) if a.is_empty() => v.push(
                        &format!("'{a}'"),
                        path,
                        "Member must have length greater than or equal to 1",
                    ),
                    Some(a) if a.len() > MAX_ATTRIBUTE_NAME => v.push(
                        &format!("'{a}'"),
                        path,
                        "Member must have length less than or equal to 255",
                    ),
                    Some(_) => {}
                }
                if spec.enabled.is_none() {
                    v.null("timeToLiveSpecification.enabled");
                }
            }
        }
        v.finish()?;
        let spec = input.time_to_live_specification.unwrap_or_default();
        let attr = spec.attribute_name.unwrap_or_default();
        let enable = spec.enabled.unwrap_or(false);
        let job_attr = attr.clone();
        self.engine
            .write(move |ctx| {
                let Some(table) = ctx.table(&name) else {
                    return Err(Abort::Op(ApiError::table_not_found(&name)));
                };
                let mut meta = (*table).clone();
                match (&meta.ttl_attribute, enable) {
                    (Some(current), true) if *current == job_attr => {
                        return Err(Abort::Op(ApiError::validation(
                            "TimeToLive is already enabled",
                        )))
                    }
                    (Some(current), _) if *current != job_attr => {
                        return Err(Abort::Op(ApiError::validation(format!(
                            "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                        ))))
                    }
                    (None, false) => {
                        return Err(Abort::Op(ApiError::validation(
                            "TimeToLive is already disabled",
                        )))
                    }
                    _ => {}
                }
                meta.ttl_attribute = enable.then(|| job_attr.clone());
                ctx.put_table(meta)?;
                Ok(())
            })
            .await
            .map_err(abort_to_api)?;
        encode(&UpdateTimeToLiveOutput {
            time_to_live_specification: TimeToLiveSpecificationOut {
                attribute_name: &attr,
                enabled: enable,
            },
        })
    }

    pub(super) fn describe_time_to_live(&self, input: TableNameInput) -> ApiResult<Vec<u8>> {
        let name = table_operation_name(input.table_name.as_deref(), true)?;
        let table = self
            .engine
            .table(name)
            .ok_or_else(|| ApiError::table_not_found(name))?;
        let status = match table.ttl_attribute {
            Some(_) => TimeToLiveStatus::Enabled,
            None => TimeToLiveStatus::Disabled,
        };
        encode(&DescribeTimeToLiveOutput {
            time_to_live_description: TimeToLiveDescription {
                time_to_live_status: status,
                attribute_name: table.ttl_attribute.as_deref(),
            },
        })
    }

    /// One round of TTL expiry over every table with TTL enabled: scan up to
    /// `scan_limit` items per table from where the last round stopped, and
    /// delete the expired ones. Returns how many items were deleted.
    pub async fn sweep_expired(
        &self,
        cursors: &mut SweepCursors,
        scan_limit: usize,
    ) -> Result<usize, EngineError> {
        let now_secs = (self.engine.clock().now_ms() / 1000) as i64;
        let mut deleted = 0;
        for name in self.engine.table_names() {
            let Some(table) = self.engine.table(&name) else {
                continue;
            };
            let Some(attr) = table.ttl_attribute.clone() else {
                cursors.remove(&table.id);
                continue;
            };
            let cursor = cursors.remove(&table.id);
            let batch = self.engine.read(|r| {
                r.expired_items(&table, &attr, now_secs, cursor.as_deref(), scan_limit)
            })?;
            if let Some(c) = batch.cursor {
                cursors.insert(table.id, c);
            }
            let keys: Vec<_> = batch
                .items
                .iter()
                .filter_map(|item| table.key.key_of_item(item).ok())
                .collect();
            if keys.is_empty() {
                continue;
            }
            // One write job per round and table: its deletions share a commit.
            let table_name = table.name.clone();
            let removed = self
                .engine
                .write(move |ctx| {
                    let Some(live) = ctx.table(&table_name) else {
                        return Ok::<usize, Abort<()>>(0);
                    };
                    if live.ttl_attribute.as_deref() != Some(attr.as_str()) {
                        return Ok(0);
                    }
                    let mut n = 0;
                    for key in &keys {
                        // Re-check: the item may have changed since the scan.
                        let Some(old) = ctx.get_item(&live, key)? else {
                            continue;
                        };
                        if is_expired(&old, &attr, now_secs) {
                            ctx.delete_expired_item(&live, key, &old)?;
                            n += 1;
                        }
                    }
                    Ok(n)
                })
                .await;
            match removed {
                Ok(n) => {
                    if n > 0 {
                        self.telemetry.ttl_deleted(&table.name, n);
                    }
                    deleted += n;
                }
                Err(Abort::Op(())) => {}
                Err(Abort::Engine(e)) => return Err(e),
            }
        }
        Ok(deleted)
    }
}
