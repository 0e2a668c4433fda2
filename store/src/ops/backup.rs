//! On-demand backups: CreateBackup, DescribeBackup, ListBackups,
//! DeleteBackup and RestoreTableFromBackup.
//!
//! CreateBackup opens one read transaction — the backup's instant — before
//! it answers, and a blocking task writes the table's items from that
//! transaction to the backup's snapshot file while writers go on (LMDB
//! readers never block the writer). The backup is CREATING until the file
//! is complete and synced, then AVAILABLE. Records and files live in
//! [`crate::backup::Backups`]; restores are built by [`super::restore`].

use std::sync::Arc;

use super::restore::{key_elements, restored_meta};
use super::Store;
use crate::api::backup_types::{
    BackupArnInput, BackupDescription, BackupDescriptionOutput, BackupDetails, BackupStatus,
    BackupSummary, BackupType, BillingMode, CreateBackupInput, CreateBackupOutput, IndexInfo,
    ListBackupsInput, ListBackupsOutput, RestoreTableFromBackupInput, SourceTableDetails,
    SourceTableFeatureDetails, Status, StreamSpecificationOut, ThroughputOut,
    TimeToLiveDescription,
};
use crate::api::types::Projection;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::backup::snapshot::SnapshotWriter;
use crate::backup::{BackupRecord, BackupState, Backups, RECORD_FORMAT};
use crate::engine::EngineError;
use crate::model::table::{table_arn, Billing, IndexMeta, RestoreMeta, RestoreSource};

/// Most ListBackups results per page.
const MAX_LIST: usize = 100;

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// Backup names follow the table-name rules (3 to 255 of `[a-zA-Z0-9_.-]`).
fn check_backup_name(name: Option<&str>, v: &mut Violations) {
    v.table_name(name, "backupName");
}

/// BackupArn's own constraint (length 37 to 1024).
fn check_arn(arn: Option<&str>, path: &str, v: &mut Violations) {
    match arn {
        None => v.null(path),
        Some(a) if a.len() < 37 => v.push(
            &format!("'{a}'"),
            path,
            "Member must have length greater than or equal to 37",
        ),
        Some(a) if a.len() > 1024 => v.push(
            &format!("'{a}'"),
            path,
            "Member must have length less than or equal to 1024",
        ),
        Some(_) => {}
    }
}

fn backup_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::BackupNotFound,
        format!("Backup not found: {arn}"),
    )
}

fn status(r: &BackupRecord) -> BackupStatus {
    match r.state {
        BackupState::Creating => BackupStatus::Creating,
        BackupState::Available => BackupStatus::Available,
    }
}

fn details(r: &BackupRecord) -> BackupDetails {
    BackupDetails {
        backup_arn: r.arn.clone(),
        backup_name: r.name.clone(),
        backup_size_bytes: r.size_bytes,
        backup_status: status(r),
        backup_type: BackupType::User,
        backup_creation_date_time: seconds(r.created_ms),
    }
}

fn throughput(billing: &Billing) -> ThroughputOut {
    let (read, write) = match billing {
        Billing::PayPerRequest => (0, 0),
        Billing::Provisioned { read, write } => (*read, *write),
    };
    ThroughputOut {
        read_capacity_units: read,
        write_capacity_units: write,
    }
}

fn index_info(i: &IndexMeta, global: bool) -> IndexInfo {
    IndexInfo {
        index_name: i.name.clone(),
        key_schema: key_elements(&i.key),
        projection: Projection {
            projection_type: Some(i.projection.projection_type.clone()),
            non_key_attributes: (!i.projection.non_key_attributes.is_empty())
                .then(|| i.projection.non_key_attributes.clone()),
        },
        provisioned_throughput: global.then(|| {
            let (r, w) = i.provisioned.unwrap_or((0, 0));
            ThroughputOut {
                read_capacity_units: r,
                write_capacity_units: w,
            }
        }),
    }
}

fn description(r: &BackupRecord, state: Option<BackupStatus>) -> BackupDescription {
    let t = &r.table;
    let mut d = details(r);
    if let Some(s) = state {
        d.backup_status = s;
    }
    BackupDescription {
        backup_details: d,
        source_table_details: SourceTableDetails {
            table_name: t.name.clone(),
            table_id: t.uuid.clone(),
            table_arn: t.arn(),
            table_size_bytes: r.table_size_bytes,
            key_schema: key_elements(&t.key),
            table_creation_date_time: seconds(t.created_ms),
            provisioned_throughput: throughput(&t.billing),
            item_count: r.item_count,
            billing_mode: BillingMode::of(&t.billing),
        },
        source_table_feature_details: SourceTableFeatureDetails {
            local_secondary_indexes: (!t.local_indexes.is_empty()).then(|| {
                t.local_indexes
                    .iter()
                    .map(|i| index_info(i, false))
                    .collect()
            }),
            global_secondary_indexes: (!t.global_indexes.is_empty()).then(|| {
                t.global_indexes
                    .iter()
                    .map(|i| index_info(i, true))
                    .collect()
            }),
            stream_description: t.stream.as_ref().filter(|s| s.enabled).map(|s| {
                StreamSpecificationOut {
                    stream_enabled: true,
                    stream_view_type: s.view_type.clone(),
                }
            }),
            time_to_live_description: t.ttl_attribute.as_ref().map(|a| TimeToLiveDescription {
                time_to_live_status: Status::Enabled,
                attribute_name: a.clone(),
            }),
        },
    }
}

/// `<millis>-<8 hex>`: the tail of a backup ARN.
fn backup_id(now_ms: u64) -> String {
    let random = uuid::Uuid::new_v4().as_u128() as u32;
    format!("{now_ms:013}-{random:08x}")
}

impl Store {
    fn backups(&self) -> ApiResult<&Arc<Backups>> {
        self.backups.as_ref().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other("this store has no backup directory"))
        })
    }

    /// DeleteTable's check: a table cannot be deleted while it is being
    /// backed up (DynamoDB's rule).
    pub(super) fn refuse_while_backing_up(&self, table: &str) -> ApiResult<()> {
        match &self.backups {
            Some(b) if b.creating_for(table) => Err(ApiError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being backed up: {table}"
            ))),
            _ => Ok(()),
        }
    }

    pub(super) async fn create_backup(&self, input: CreateBackupInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        check_backup_name(input.backup_name.as_deref(), &mut v);
        v.finish_in(&["tableName", "backupName"])?;
        let name = input.table_name.unwrap_or_default();
        let backup_name = input.backup_name.unwrap_or_default();
        let backups = self.backups()?.clone();
        let Some(meta) = self.engine.table(&name) else {
            return Err(ApiError::new(
                ErrorCode::TableNotFound,
                format!("Table not found: {name}"),
            ));
        };
        if meta.is_creating() {
            return Err(ApiError::new(
                ErrorCode::TableInUse,
                format!("Table is being created: {name}"),
            ));
        }
        let now = self.engine.clock().now_ms();
        let id = backup_id(now);
        let arn = format!("{}/backup/{id}", table_arn(&name));
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        let engine = self.engine.clone();
        let path = backups.snapshot_path(&id);
        let record = BackupRecord {
            format: RECORD_FORMAT,
            id: id.clone(),
            arn: arn.clone(),
            name: backup_name,
            state: BackupState::Creating,
            created_ms: now,
            table: (*meta).clone(),
            item_count: 0,
            table_size_bytes: 0,
            size_bytes: None,
            checksum: None,
        };
        backups
            .begin(record.clone())
            .map_err(|e| ApiError::internal(&e))?;
        let task_backups = backups.clone();
        let task_arn = arn.clone();
        let table_id = meta.id;
        tokio::task::spawn_blocking(move || {
            let mut opened_tx = Some(opened_tx);
            let written = engine.read(|r| {
                // The read transaction is open: this is the backup's instant.
                let stats = r.stats(table_id)?;
                task_backups.set_counts(&task_arn, stats.item_count, stats.size_bytes);
                if let Some(tx) = opened_tx.take() {
                    let _ = tx.send(stats);
                }
                let io = |e: crate::backup::snapshot::SnapshotError| EngineError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(e.to_string()),
                };
                let mut w = SnapshotWriter::create(&path).map_err(io)?;
                let first = table_id.to_be_bytes();
                let end = (table_id + 1).to_be_bytes();
                r.range(
                    std::ops::Bound::Included(&first[..]),
                    std::ops::Bound::Excluded(&end[..]),
                    false,
                    None,
                    |_, item| {
                        w.add(&item).map_err(io)?;
                        Ok(true)
                    },
                )?;
                w.finish().map_err(io)
            });
            match written {
                Ok(summary) => {
                    if let Err(e) = task_backups.complete(&task_arn, summary) {
                        tracing::error!(backup = %task_arn, error = %e, "cannot mark backup AVAILABLE");
                        task_backups.remove(&task_arn);
                    }
                }
                Err(e) => {
                    tracing::error!(backup = %task_arn, error = %e, "backup failed");
                    task_backups.remove(&task_arn);
                }
            }
        });
        if opened.await.is_err() {
            return Err(ApiError::internal(&std::io::Error::other(
                "the backup could not read the table",
            )));
        }
        encode(&CreateBackupOutput {
            backup_details: details(&record),
        })
    }

    pub(super) fn describe_backup(&self, input: BackupArnInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        check_arn(input.backup_arn.as_deref(), "backupArn", &mut v);
        v.finish()?;
        let arn = input.backup_arn.unwrap_or_default();
        let record = self
            .backups()?
            .get(&arn)
            .ok_or_else(|| backup_not_found(&arn))?;
        encode(&BackupDescriptionOutput {
            backup_description: description(&record, None),
        })
    }

    pub(super) fn delete_backup(&self, input: BackupArnInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        check_arn(input.backup_arn.as_deref(), "backupArn", &mut v);
        v.finish()?;
        let arn = input.backup_arn.unwrap_or_default();
        let backups = self.backups()?;
        let record = backups.get(&arn).ok_or_else(|| backup_not_found(&arn))?;
        let restoring = self.engine.tables().iter().any(|t| {
            t.is_restoring()
                && matches!(&t.restore, Some(RestoreMeta { source: RestoreSource::Backup { arn: a }, .. }) if *a == arn)
        });
        if record.state == BackupState::Creating || restoring {
            return Err(ApiError::new(
                ErrorCode::BackupInUse,
                format!("Backup is being used: {arn}"),
            ));
        }
        let record = backups.remove(&arn).ok_or_else(|| backup_not_found(&arn))?;
        encode(&BackupDescriptionOutput {
            backup_description: description(&record, Some(BackupStatus::Deleted)),
        })
    }

    pub(super) fn list_backups(&self, input: ListBackupsInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if let Some(t) = input.table_name.as_deref() {
            v.table_name_or_arn(Some(t), "tableName");
        }
        v.in_range(input.limit, "limit", 1, MAX_LIST as i64);
        if input.exclusive_start_backup_arn.is_some() {
            check_arn(
                input.exclusive_start_backup_arn.as_deref(),
                "exclusiveStartBackupArn",
                &mut v,
            );
        }
        v.one_of(
            input.backup_type.as_deref(),
            "backupType",
            &["USER", "SYSTEM", "AWS_BACKUP", "ALL"],
        );
        v.finish()?;
        let limit = input.limit.map_or(MAX_LIST, |l| l as usize);
        // Every backup Ferrodyn makes is a USER backup.
        let wants_user = matches!(input.backup_type.as_deref(), None | Some("USER" | "ALL"));
        let lower = input
            .time_range_lower_bound
            .map(|s| (s * 1000.0).round() as u64);
        let upper = input
            .time_range_upper_bound
            .map(|s| (s * 1000.0).round() as u64);
        let all = self.backups()?.all();
        let matching: Vec<&BackupRecord> = all
            .iter()
            .filter(|_| wants_user)
            .filter(|r| {
                input
                    .table_name
                    .as_deref()
                    .is_none_or(|t| r.table.name == t)
            })
            .filter(|r| lower.is_none_or(|l| r.created_ms >= l))
            .filter(|r| upper.is_none_or(|u| r.created_ms <= u))
            .collect();
        let start = match input.exclusive_start_backup_arn.as_deref() {
            Some(after) => matching
                .iter()
                .position(|r| r.arn == after)
                .map_or(0, |i| i + 1),
            None => 0,
        };
        let page: Vec<&BackupRecord> = matching[start..].iter().take(limit).copied().collect();
        let more = start + page.len() < matching.len();
        encode(&ListBackupsOutput {
            backup_summaries: page
                .iter()
                .map(|r| BackupSummary {
                    table_name: r.table.name.clone(),
                    table_id: r.table.uuid.clone(),
                    table_arn: r.table.arn(),
                    backup_arn: r.arn.clone(),
                    backup_name: r.name.clone(),
                    backup_creation_date_time: seconds(r.created_ms),
                    backup_status: status(r),
                    backup_type: BackupType::User,
                    backup_size_bytes: r.size_bytes,
                })
                .collect(),
            last_evaluated_backup_arn: more.then(|| page.last().map(|r| r.arn.clone())).flatten(),
        })
    }

    pub(super) async fn restore_table_from_backup(
        &self,
        input: RestoreTableFromBackupInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name(input.target_table_name.as_deref(), "targetTableName");
        check_arn(input.backup_arn.as_deref(), "backupArn", &mut v);
        let billing_mode = v.parse(
            input.overrides.billing_mode_override.as_deref(),
            "billingModeOverride",
        );
        v.finish_in(&["targetTableName", "backupArn"])?;
        let target = input.target_table_name.unwrap_or_default();
        let arn = input.backup_arn.unwrap_or_default();
        let backups = self.backups()?;
        let record = backups.get(&arn).ok_or_else(|| backup_not_found(&arn))?;
        if record.state == BackupState::Creating {
            return Err(ApiError::new(
                ErrorCode::BackupInUse,
                format!("Backup is being created: {arn}"),
            ));
        }
        if self.engine.table(&target).is_some() {
            return Err(ApiError::new(
                ErrorCode::TableAlreadyExists,
                format!("Table already exists: {target}"),
            ));
        }
        let meta = restored_meta(&record.table, &target, billing_mode, &input.overrides)?;
        let restore = RestoreMeta {
            source: RestoreSource::Backup { arn: arn.clone() },
            restore_ms: record.created_ms,
            in_progress: true,
            snapshot: Some(backups.snapshot_path(&record.id)),
            resume_offset: 0,
        };
        self.begin_restore(meta, restore).await
    }
}
