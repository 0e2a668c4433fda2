//! DynamoDB's `TableDescription` of a table, with its indexes' status and
//! counters. Pure rendering: the callers read the counters.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::engine::Stats;
use crate::model::key::KeySchema;
use crate::model::table::{Billing, ProjectionMeta, RestoreSource, TableMeta};

/// The key schema as it was given: HASH elements, then RANGE elements.
fn key_schema_json(key: &KeySchema) -> Value {
    let hash = key
        .partition_attrs()
        .map(|a| json!({"AttributeName": a.name, "KeyType": "HASH"}));
    let range = key
        .sort_attrs()
        .map(|a| json!({"AttributeName": a.name, "KeyType": "RANGE"}));
    Value::Array(hash.chain(range).collect())
}

fn projection_json(p: &ProjectionMeta) -> Value {
    let mut m = Map::new();
    m.insert("ProjectionType".into(), json!(p.projection_type));
    if !p.non_key_attributes.is_empty() {
        m.insert("NonKeyAttributes".into(), json!(p.non_key_attributes));
    }
    Value::Object(m)
}

fn throughput_json(read: u64, write: u64) -> Value {
    json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write})
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
pub(super) fn describe(
    meta: &TableMeta,
    stats: Stats,
    indexes: &IndexStats,
    status: &str,
) -> Value {
    let arn = meta.arn();
    let mut t = Map::new();
    t.insert(
        "AttributeDefinitions".into(),
        Value::Array(
            meta.attribute_definitions
                .iter()
                .map(|(n, ty)| json!({"AttributeName": n, "AttributeType": ty.as_str()}))
                .collect(),
        ),
    );
    t.insert("TableName".into(), json!(meta.name));
    t.insert("KeySchema".into(), key_schema_json(&meta.key));
    t.insert("TableStatus".into(), json!(status));
    t.insert("CreationDateTime".into(), json!(seconds(meta.created_ms)));
    let (read, write) = match meta.billing {
        Billing::PayPerRequest => (0, 0),
        Billing::Provisioned { read, write } => (read, write),
    };
    t.insert("ProvisionedThroughput".into(), throughput_json(read, write));
    t.insert("TableSizeBytes".into(), json!(stats.size_bytes));
    t.insert("ItemCount".into(), json!(stats.item_count));
    t.insert("TableArn".into(), json!(arn));
    t.insert("TableId".into(), json!(meta.uuid));
    match meta.billing {
        Billing::PayPerRequest => t.insert(
            "BillingModeSummary".into(),
            json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": seconds(meta.billing_changed_ms)}),
        ),
        Billing::Provisioned { .. } => t.insert("BillingModeSummary".into(), json!({"BillingMode": "PROVISIONED"})),
    };
    if !meta.local_indexes.is_empty() {
        let lsis: Vec<Value> = meta
            .local_indexes
            .iter()
            .map(|i| {
                let s = indexes.get(&i.id).copied().unwrap_or_default();
                json!({
                    "IndexName": i.name,
                    "KeySchema": key_schema_json(&i.key),
                    "Projection": projection_json(&i.projection),
                    "IndexSizeBytes": s.size_bytes,
                    "ItemCount": s.item_count,
                    "IndexArn": format!("{arn}/index/{}", i.name),
                })
            })
            .collect();
        t.insert("LocalSecondaryIndexes".into(), Value::Array(lsis));
    }
    if !meta.global_indexes.is_empty() {
        let gsis: Vec<Value> = meta
            .global_indexes
            .iter()
            .map(|i| {
                let (r, w) = i.provisioned.unwrap_or((0, 0));
                let s = indexes.get(&i.id).copied().unwrap_or_default();
                let mut d = json!({
                    "IndexName": i.name,
                    "KeySchema": key_schema_json(&i.key),
                    "Projection": projection_json(&i.projection),
                    "IndexStatus": if i.backfill.is_some() { "CREATING" } else { "ACTIVE" },
                    "ProvisionedThroughput": throughput_json(r, w),
                    "IndexSizeBytes": s.size_bytes,
                    "ItemCount": s.item_count,
                    "IndexArn": format!("{arn}/index/{}", i.name),
                });
                if let (Some(_), Value::Object(m)) = (&i.backfill, &mut d) {
                    m.insert("Backfilling".into(), json!(true));
                }
                d
            })
            .collect();
        t.insert("GlobalSecondaryIndexes".into(), Value::Array(gsis));
    }
    if let Some(s) = &meta.stream {
        if s.enabled {
            t.insert(
                "StreamSpecification".into(),
                json!({"StreamEnabled": true, "StreamViewType": s.view_type}),
            );
        }
        t.insert("LatestStreamLabel".into(), json!(s.label));
        t.insert(
            "LatestStreamArn".into(),
            json!(format!("{arn}/stream/{}", s.label)),
        );
    }
    if let Some(sse) = &meta.sse {
        t.insert(
            "SSEDescription".into(),
            json!({
                "Status": "ENABLED",
                "SSEType": sse.sse_type.clone().unwrap_or_else(|| "KMS".to_owned()),
                "KMSMasterKeyArn": sse.kms_master_key_id.clone().unwrap_or_else(|| format!(
                    "arn:aws:kms:{}:{}:key/ferrodyn-managed", crate::model::table::REGION, crate::model::table::ACCOUNT)),
            }),
        );
    }
    if let Some(class) = &meta.table_class {
        t.insert("TableClassSummary".into(), json!({"TableClass": class}));
    }
    t.insert(
        "DeletionProtectionEnabled".into(),
        json!(meta.deletion_protection),
    );
    if let Some(r) = &meta.restore {
        let (member, source) = match &r.source {
            RestoreSource::Backup { arn } => ("SourceBackupArn", arn.clone()),
            RestoreSource::PointInTime { table_name, .. } => {
                ("SourceTableArn", crate::model::table::table_arn(table_name))
            }
        };
        t.insert(
            "RestoreSummary".into(),
            json!({member: source, "RestoreDateTime": seconds(r.restore_ms), "RestoreInProgress": r.in_progress}),
        );
    }
    Value::Object(t)
}
