//! DynamoDB's `TableDescription` of a table, with its indexes' status and
//! counters. Pure rendering: the callers read the counters.

use std::collections::HashMap;

use super::throughput;
use crate::api::tables::{
    AttributeDefinition, BillingMode, BillingModeSummary, GlobalSecondaryIndexDescription,
    IndexStatus, KeySchemaElement, KeyType, LocalSecondaryIndexDescription, Projection,
    ProvisionedThroughputDescription, RestoreSummary, SseDescription, StreamSpecification,
    TableClassSummary, TableDescription,
};
use crate::engine::Stats;
use crate::model::key::KeySchema;
use crate::model::table::{Billing, ProjectionMeta, RestoreSource, TableMeta};

/// The key schema as it was given: HASH elements, then RANGE elements.
fn key_schema(key: &KeySchema) -> Vec<KeySchemaElement<'_>> {
    let hash = key.partition_attrs().map(|a| KeySchemaElement {
        attribute_name: &a.name,
        key_type: KeyType::Hash,
    });
    let range = key.sort_attrs().map(|a| KeySchemaElement {
        attribute_name: &a.name,
        key_type: KeyType::Range,
    });
    hash.chain(range).collect()
}

fn projection(p: &ProjectionMeta) -> Projection<'_> {
    Projection {
        projection_type: &p.projection_type,
        non_key_attributes: (!p.non_key_attributes.is_empty())
            .then_some(p.non_key_attributes.as_slice()),
    }
}

/// A GSI's ProvisionedThroughput (its changes are not tracked).
fn index_throughput(read: u64, write: u64) -> ProvisionedThroughputDescription {
    ProvisionedThroughputDescription {
        last_increase_date_time: None,
        last_decrease_date_time: None,
        number_of_decreases_today: 0,
        read_capacity_units: read,
        write_capacity_units: write,
    }
}

/// The table's ProvisionedThroughput, with the times of its last changes.
fn table_throughput(meta: &TableMeta, read: u64, write: u64) -> ProvisionedThroughputDescription {
    let c = &meta.throughput_changes;
    ProvisionedThroughputDescription {
        last_increase_date_time: c.last_increase_ms.map(seconds),
        last_decrease_date_time: c.last_decrease_ms.map(seconds),
        number_of_decreases_today: throughput::decreases_today(c, super::now_ms()),
        read_capacity_units: read,
        write_capacity_units: write,
    }
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Counters of a table's secondary indexes, by key-space id.
pub(super) type IndexStats = HashMap<u32, Stats>;

/// Read the counters of every secondary index of `meta` through `read`.
pub(super) fn index_stats(
    meta: &TableMeta,
    mut read: impl FnMut(u32) -> Result<Stats, crate::engine::EngineError>,
) -> Result<IndexStats, crate::engine::EngineError> {
    let mut out = IndexStats::new();
    for index in meta.local_indexes.iter().chain(&meta.global_indexes) {
        out.insert(index.id, read(index.id)?);
    }
    Ok(out)
}

/// DynamoDB's `TableDescription`.
pub(super) fn describe<'a>(
    meta: &'a TableMeta,
    stats: Stats,
    indexes: &IndexStats,
    status: &'a str,
) -> TableDescription<'a> {
    let arn = meta.arn();
    let (read, write) = match meta.billing {
        Billing::PayPerRequest => (0, 0),
        Billing::Provisioned { read, write } => (read, write),
    };
    let (billing_mode_summary, on_demand_throughput, provisioned) = match meta.billing {
        Billing::PayPerRequest => (
            BillingModeSummary {
                billing_mode: BillingMode::PayPerRequest,
                last_update_to_pay_per_request_date_time: Some(seconds(meta.billing_changed_ms)),
            },
            Some(throughput::on_demand_description(meta.on_demand)),
            None,
        ),
        Billing::Provisioned { read, write } => (
            BillingModeSummary {
                billing_mode: BillingMode::Provisioned,
                last_update_to_pay_per_request_date_time: None,
            },
            None,
            Some((read, write)),
        ),
    };
    let local_secondary_indexes = (!meta.local_indexes.is_empty()).then(|| {
        meta.local_indexes
            .iter()
            .map(|i| {
                let s = indexes.get(&i.id).copied().unwrap_or_default();
                LocalSecondaryIndexDescription {
                    index_name: &i.name,
                    key_schema: key_schema(&i.key),
                    projection: projection(&i.projection),
                    index_size_bytes: s.size_bytes,
                    item_count: s.item_count,
                    index_arn: format!("{arn}/index/{}", i.name),
                }
            })
            .collect()
    });
    let global_secondary_indexes = (!meta.global_indexes.is_empty()).then(|| {
        meta.global_indexes
            .iter()
            .map(|i| {
                let (r, w) = i.provisioned.unwrap_or((0, 0));
                let s = indexes.get(&i.id).copied().unwrap_or_default();
                GlobalSecondaryIndexDescription {
                    index_name: &i.name,
                    key_schema: key_schema(&i.key),
                    projection: projection(&i.projection),
                    index_status: if i.backfill.is_some() {
                        IndexStatus::Creating
                    } else {
                        IndexStatus::Active
                    },
                    backfilling: i.backfill.is_some().then_some(true),
                    provisioned_throughput: index_throughput(r, w),
                    index_size_bytes: s.size_bytes,
                    item_count: s.item_count,
                    index_arn: format!("{arn}/index/{}", i.name),
                    on_demand_throughput: (meta.billing == Billing::PayPerRequest)
                        .then(|| throughput::on_demand_description(i.on_demand)),
                    warm_throughput: throughput::warm_description(i.warm, i.provisioned),
                }
            })
            .collect()
    });
    let restore_summary = meta.restore.as_ref().map(|r| {
        let (source_backup_arn, source_table_arn) = match &r.source {
            RestoreSource::Backup { arn } => (Some(arn.clone()), None),
            RestoreSource::PointInTime { table_name, .. } => {
                (None, Some(crate::model::table::table_arn(table_name)))
            }
        };
        RestoreSummary {
            source_backup_arn,
            source_table_arn,
            restore_date_time: seconds(r.restore_ms),
            restore_in_progress: r.in_progress,
        }
    });
    TableDescription {
        attribute_definitions: Some(
            meta.attribute_definitions
                .iter()
                .map(|(n, ty)| AttributeDefinition {
                    attribute_name: n,
                    attribute_type: ty.as_str(),
                })
                .collect(),
        ),
        table_name: &meta.name,
        key_schema: Some(key_schema(&meta.key)),
        table_status: status,
        creation_date_time: Some(seconds(meta.created_ms)),
        provisioned_throughput: table_throughput(meta, read, write),
        table_size_bytes: stats.size_bytes,
        item_count: stats.item_count,
        table_id: &meta.uuid,
        billing_mode_summary,
        on_demand_throughput,
        warm_throughput: throughput::warm_description(meta.warm, provisioned),
        local_secondary_indexes,
        global_secondary_indexes,
        stream_specification: meta.stream.as_ref().filter(|s| s.enabled).map(|s| {
            StreamSpecification {
                stream_enabled: true,
                stream_view_type: &s.view_type,
            }
        }),
        latest_stream_label: meta.stream.as_ref().map(|s| s.label.as_str()),
        latest_stream_arn: meta
            .stream
            .as_ref()
            .map(|s| format!("{arn}/stream/{}", s.label)),
        sse_description: meta.sse.as_ref().map(|sse| SseDescription {
            status: "ENABLED",
            sse_type: sse.sse_type.clone().unwrap_or_else(|| "KMS".to_owned()),
            kms_master_key_arn: sse.kms_master_key_id.clone().unwrap_or_else(|| {
                format!(
                    "arn:aws:kms:{}:{}:key/ferrodyn-managed",
                    crate::model::table::REGION,
                    crate::model::table::ACCOUNT
                )
            }),
        }),
        table_class_summary: meta
            .table_class
            .as_deref()
            .map(|class| TableClassSummary { table_class: class }),
        deletion_protection_enabled: meta.deletion_protection,
        restore_summary,
        table_arn: arn,
    }
}
