//! Restores: the new table a restore makes, and the background task that
//! builds it.
//!
//! A restore (from a backup, or to a point in time) validates the target's
//! definition — the source table's, with the request's overrides — and puts
//! the table in the catalog at once with a [`RestoreMeta`] marking it
//! CREATING; item operations refuse it until it is ACTIVE. The supervised
//! restore task then:
//!
//! 1. for a point-in-time restore, writes the source table's items as of
//!    the chosen time to a snapshot file (one read transaction, see
//!    `engine::as_of`), and records its path in the table's marker;
//! 2. checks the snapshot's checksum;
//! 3. loads it in bounded chunks through the writer, each chunk committing
//!    its items (with their index entries) together with the offset reached
//!    in the marker, so a restarted store resumes exactly where it stopped;
//! 4. clears the in-progress flag: the table is ACTIVE.
//!
//! A restore that cannot finish (damaged snapshot, source gone) drops the
//! half-built table, so nothing half-done ever becomes ACTIVE.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use tokio::sync::Notify;

use super::description::{describe, IndexStats};
use super::table::validate_create;
use super::{abort_to_api, Store};
use crate::api::backup_types::{RestoreOverrides, RestoreTableOutput};
use crate::api::tables::BillingMode;
use crate::api::types::{
    AttributeDefinition, CreateTableInput, KeySchemaElement, OnDemandThroughput, Projection,
    ProvisionedThroughput, SecondaryIndex, SseSpecification,
};
use crate::api::validate::WireEnum;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::backup::snapshot::{self, SnapshotWriter};
use crate::backup::Backups;
use crate::engine::{Abort, Engine, EngineError, Stats};
use crate::model::key::KeySchema;
use crate::model::table::{Billing, IndexMeta, RestoreMeta, RestoreSource, TableMeta};

/// Items loaded per chunk, and the bytes that also end a chunk: small
/// enough that one chunk holds the writer for a few milliseconds only.
const CHUNK_ITEMS: usize = 1000;
const CHUNK_BYTES: usize = 4 << 20;

/// Key schema elements of `key`, as the wire states them.
pub(super) fn key_elements(key: &KeySchema) -> Vec<KeySchemaElement> {
    let element = |name: &str, kind: &str| KeySchemaElement {
        attribute_name: Some(name.to_owned()),
        key_type: Some(kind.to_owned()),
    };
    key.partition_attrs()
        .map(|a| element(&a.name, "HASH"))
        .chain(key.sort_attrs().map(|a| element(&a.name, "RANGE")))
        .collect()
}

fn index_input(i: &IndexMeta) -> SecondaryIndex {
    SecondaryIndex {
        index_name: Some(i.name.clone()),
        key_schema: Some(key_elements(&i.key)),
        projection: Some(Projection {
            projection_type: Some(i.projection.projection_type.clone()),
            non_key_attributes: if i.projection.non_key_attributes.is_empty() {
                None
            } else {
                Some(i.projection.non_key_attributes.clone())
            },
        }),
        provisioned_throughput: i.provisioned.map(|(r, w)| ProvisionedThroughput {
            read_capacity_units: Some(r as i64),
            write_capacity_units: Some(w as i64),
        }),
        on_demand_throughput: on_demand_input(i.on_demand),
        warm_throughput: None,
    }
}

/// A source's on-demand maximum as a request states it (`None`: no maximum).
fn on_demand_input(o: crate::model::table::OnDemandMeta) -> Option<OnDemandThroughput> {
    (o.max_read.is_some() || o.max_write.is_some()).then(|| OnDemandThroughput {
        max_read_request_units: o.max_read.map(|n| n as i64),
        max_write_request_units: o.max_write.map(|n| n as i64),
    })
}

/// The definition of a table restored from `source` under `target`, with
/// the request's overrides, validated as CreateTable validates. Streams,
/// TTL, tags, point-in-time recovery and deletion protection are not
/// carried over, as DynamoDB does not carry them.
/// `billing_mode` is the request's `BillingModeOverride`, checked.
pub(super) fn restored_meta(
    source: &TableMeta,
    target: &str,
    billing_mode: Option<BillingMode>,
    o: &RestoreOverrides,
) -> ApiResult<TableMeta> {
    let billing_mode = billing_mode.unwrap_or(BillingMode::of(&source.billing));
    let provisioned = billing_mode == BillingMode::Provisioned;
    let throughput = o
        .provisioned_throughput_override
        .clone()
        .or(match source.billing {
            Billing::Provisioned { read, write } if provisioned => Some(ProvisionedThroughput {
                read_capacity_units: Some(read as i64),
                write_capacity_units: Some(write as i64),
            }),
            _ => None,
        });
    let mut gsis = o
        .global_secondary_index_override
        .clone()
        .unwrap_or_else(|| source.global_indexes.iter().map(index_input).collect());
    if !provisioned {
        for g in &mut gsis {
            g.provisioned_throughput = None;
        }
    } else {
        for g in &mut gsis {
            g.on_demand_throughput = None;
        }
    }
    let lsis = o
        .local_secondary_index_override
        .clone()
        .unwrap_or_else(|| source.local_indexes.iter().map(index_input).collect());
    // Only the attributes some key uses may be defined (CreateTable's rule).
    let used: Vec<String> = key_elements(&source.key)
        .into_iter()
        .chain(
            gsis.iter()
                .chain(&lsis)
                .flat_map(|i| i.key_schema.clone().unwrap_or_default()),
        )
        .filter_map(|k| k.attribute_name)
        .collect();
    let defs = source
        .attribute_definitions
        .iter()
        .filter(|(n, _)| used.contains(n))
        .map(|(n, t)| AttributeDefinition {
            attribute_name: Some(n.clone()),
            attribute_type: Some(t.as_str().to_owned()),
        })
        .collect();
    let sse = o.sse_specification_override.clone().or_else(|| {
        source.sse.as_ref().map(|s| SseSpecification {
            enabled: Some(s.enabled),
            sse_type: s.sse_type.clone(),
            kms_master_key_id: s.kms_master_key_id.clone(),
        })
    });
    let input = CreateTableInput {
        table_name: Some(target.to_owned()),
        attribute_definitions: Some(defs),
        key_schema: Some(key_elements(&source.key)),
        local_secondary_indexes: (!lsis.is_empty()).then_some(lsis),
        global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
        billing_mode: Some(billing_mode.wire_name().to_owned()),
        provisioned_throughput: throughput,
        stream_specification: None,
        sse_specification: sse,
        tags: None,
        table_class: source.table_class.clone(),
        deletion_protection_enabled: None,
        on_demand_throughput: if provisioned {
            None
        } else {
            on_demand_input(source.on_demand)
        },
        warm_throughput: None,
    };
    validate_create(input)
}

/// A restore's refusal of a target table name in use.
fn restore_target_exists(existing: &TableMeta) -> ApiError {
    let (code, what) = if existing.is_restoring() {
        (ErrorCode::TableInUse, "Table is being restored")
    } else {
        (ErrorCode::TableAlreadyExists, "Table already exists")
    };
    ApiError::new(code, format!("{what}: {}", existing.name))
}

impl Store {
    /// Put the restored table in the catalog as CREATING and wake the
    /// restore task; answers with its description.
    pub(super) async fn begin_restore(
        &self,
        meta: TableMeta,
        restore: RestoreMeta,
    ) -> ApiResult<Vec<u8>> {
        let meta = TableMeta {
            restore: Some(restore),
            ..meta
        };
        let created = self.add_table(meta, restore_target_exists).await?;
        self.restore_wake.notify_one();
        encode(&RestoreTableOutput {
            table_description: describe(&created, Stats::default(), &IndexStats::new(), "CREATING"),
        })
    }
}

/// Start the restore task on the current tokio runtime (if there is one);
/// it also resumes restores a restart cut short.
pub(super) fn spawn(engine: &Arc<Engine>, backups: Arc<Backups>, wake: Arc<Notify>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(engine);
    runtime.spawn(super::maintenance::supervise("restore", move || {
        restore_loop(weak.clone(), backups.clone(), wake.clone())
    }));
}

/// The restore task: builds every table marked CREATING by a restore, one
/// after the other; sleeps until woken (or a second passes). Stops when the
/// engine is gone.
pub(super) async fn restore_loop(engine: Weak<Engine>, backups: Arc<Backups>, wake: Arc<Notify>) {
    let pending = |engine: &Engine| -> Vec<(String, u32)> {
        engine
            .tables()
            .iter()
            .filter(|t| t.is_restoring())
            .map(|t| (t.name.clone(), t.id))
            .collect()
    };
    let run = |(table, id): (String, u32)| {
        let (engine, backups) = (&engine, &backups);
        async move {
            match build(engine, backups, &table, id).await {
                Ok(()) => {}
                Err(Failure::Retry(e)) => {
                    tracing::warn!(error = %e, table, "restore chunk failed; retrying later");
                }
                Err(Failure::Fatal(why)) => {
                    tracing::error!(table, reason = %why, "restore failed; dropping the half-built table");
                    if let Some(engine) = engine.upgrade() {
                        let _ = drop_restoring(&engine, &table, id).await;
                    }
                }
            }
        }
    };
    super::rounds::work_through(&engine, &wake, pending, run).await;
}

enum Failure {
    /// A passing fault (storage full, ...): try again later.
    Retry(ApiError),
    /// The restore cannot succeed.
    Fatal(String),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::Retry(e)
    }
}

async fn drop_restoring(engine: &Engine, name: &str, id: u32) -> ApiResult<()> {
    let name = name.to_owned();
    engine
        .write(move |ctx| {
            if let Some(meta) = ctx.table(&name) {
                if meta.id == id && meta.is_restoring() {
                    ctx.drop_table(&meta)?;
                }
            }
            Ok::<(), Abort<ApiError>>(())
        })
        .await
        .map_err(abort_to_api)
}

/// The table `name` if it is still the restoring table `id`.
fn restoring(engine: &Engine, name: &str, id: u32) -> Option<Arc<TableMeta>> {
    engine
        .table(name)
        .filter(|t| t.id == id && t.is_restoring())
}

/// Where a point-in-time restore writes its snapshot.
pub(super) fn pitr_snapshot_path(backups: &Backups, target: &TableMeta) -> PathBuf {
    backups
        .dir()
        .join("restores")
        .join(format!("{}.snap", target.uuid))
}

/// Build the restoring table `name` (key space `id`) to the end.
async fn build(
    engine: &Weak<Engine>,
    backups: &Backups,
    name: &str,
    id: u32,
) -> Result<(), Failure> {
    let Some(strong) = engine.upgrade() else {
        return Ok(());
    };
    let Some(meta) = restoring(&strong, name, id) else {
        return Ok(());
    };
    let Some(restore) = meta.restore.clone() else {
        return Ok(());
    };
    let path = match (&restore.snapshot, &restore.source) {
        (Some(p), _) => p.clone(),
        (
            None,
            RestoreSource::PointInTime {
                table_name,
                table_id,
                time_ms,
            },
        ) => {
            let path = pitr_snapshot_path(backups, &meta);
            write_as_of(&strong, table_name, *table_id, *time_ms, &path).await?;
            let p = path.clone();
            let n = name.to_owned();
            strong
                .write(move |ctx| {
                    let Some(t) = ctx.table(&n).filter(|t| t.id == id) else {
                        return Ok(());
                    };
                    let mut t = (*t).clone();
                    if let Some(r) = t.restore.as_mut() {
                        r.snapshot = Some(p.clone());
                    }
                    ctx.put_table(t)?;
                    Ok::<(), Abort<ApiError>>(())
                })
                .await
                .map_err(abort_to_api)?;
            path
        }
        (None, RestoreSource::Backup { arn }) => {
            return Err(Failure::Fatal(format!("backup {arn} has no snapshot")));
        }
    };
    drop(strong);
    let p = path.clone();
    match tokio::task::spawn_blocking(move || snapshot::verify(&p)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(Failure::Fatal(e.to_string())),
        Err(e) => return Err(Failure::Fatal(e.to_string())),
    }
    loop {
        let Some(strong) = engine.upgrade() else {
            return Ok(());
        };
        let Some(meta) = restoring(&strong, name, id) else {
            return Ok(());
        };
        let offset = meta.restore.as_ref().map_or(0, |r| r.resume_offset);
        let p = path.clone();
        let (items, next) = tokio::task::spawn_blocking(move || {
            snapshot::read_chunk(&p, offset, CHUNK_ITEMS, CHUNK_BYTES)
        })
        .await
        .map_err(|e| Failure::Fatal(e.to_string()))?
        .map_err(|e| Failure::Fatal(e.to_string()))?;
        let n = name.to_owned();
        let loaded = strong
            .write(move |ctx| {
                let Some(t) = ctx.table(&n).filter(|t| t.id == id && t.is_restoring()) else {
                    return Ok(false);
                };
                if t.restore.as_ref().map(|r| r.resume_offset) != Some(offset) {
                    return Ok(false);
                }
                for item in &items {
                    let key = t.key.key_of_item(item).map_err(|e| {
                        Abort::Op(ApiError::validation(format!("snapshot item: {e}")))
                    })?;
                    ctx.load_item(&t, &key, item)?;
                }
                let mut t = (*t).clone();
                if let Some(r) = t.restore.as_mut() {
                    match next {
                        Some(o) => r.resume_offset = o,
                        None => {
                            r.in_progress = false;
                            r.snapshot = None;
                            r.resume_offset = 0;
                        }
                    }
                }
                ctx.put_table(t)?;
                Ok::<bool, Abort<ApiError>>(true)
            })
            .await;
        match loaded {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(Abort::Op(e)) if e.code == ErrorCode::Validation => {
                return Err(Failure::Fatal(e.message));
            }
            Err(e) => return Err(Failure::Retry(abort_to_api(e))),
        }
        if next.is_none() {
            if matches!(restore.source, RestoreSource::PointInTime { .. }) {
                let _ = std::fs::remove_file(&path);
            }
            tracing::info!(table = name, "restore complete");
            return Ok(());
        }
        drop(strong);
        tokio::task::yield_now().await;
    }
}

/// Write the items of table `name` (key space `id`) as of `time_ms` to a
/// snapshot at `path`.
async fn write_as_of(
    engine: &Arc<Engine>,
    name: &str,
    id: u32,
    time_ms: u64,
    path: &Path,
) -> Result<(), Failure> {
    let Some(source) = engine.table(name).filter(|t| t.id == id) else {
        return Err(Failure::Fatal(format!("source table {name} is gone")));
    };
    let engine = engine.clone();
    let path = path.to_owned();
    let written = tokio::task::spawn_blocking(move || -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut w = SnapshotWriter::create(&path).map_err(|e| e.to_string())?;
        engine
            .read(|r| {
                r.items_as_of(&source, time_ms, |item| {
                    w.add(&item).map_err(|e| EngineError::Io {
                        path: path.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
                    Ok(true)
                })
            })
            .map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        Ok(())
    })
    .await
    .map_err(|e| Failure::Fatal(e.to_string()))?;
    written.map_err(Failure::Fatal)
}
