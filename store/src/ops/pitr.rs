//! Point-in-time recovery: UpdateContinuousBackups,
//! DescribeContinuousBackups, RestoreTableToPointInTime, and the store's
//! "items of a table as of a time" read that exports build on.
//!
//! Mechanism (docs/point-in-time-recovery.md): every committed change is
//! already in the change log with its old image. Enabling recovery keeps a
//! table's change records for its recovery window (instead of the 24 hours
//! Streams need), and the state at time `T` is the current state with the
//! changes after `T` undone (`engine::as_of`). No periodic snapshots are
//! needed; the disk cost is the table's change log over the window.

use super::restore::restored_meta;
use super::Store;
use crate::api::backup_types::{
    ContinuousBackupsDescription, ContinuousBackupsOutput, PointInTimeRecoveryDescription,
    RestoreTableToPointInTimeInput, Status, UpdateContinuousBackupsInput,
};
use crate::api::types::TableNameInput;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::engine::{Abort, EngineError};
use crate::model::table::{PitrMeta, RestoreMeta, RestoreSource, TableMeta};
use crate::model::value::Item;

/// DynamoDB's default (and longest) recovery window, in days.
const DEFAULT_PERIOD_DAYS: u32 = 35;

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

fn table_not_found(name: &str) -> ApiError {
    ApiError::new(ErrorCode::TableNotFound, format!("Table not found: {name}"))
}

fn pitr_unavailable(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PointInTimeRecoveryUnavailable,
        format!("Point in time recovery is not enabled for table '{name}'"),
    )
}

/// The table named by an ARN (`arn:aws:dynamodb:<region>:<account>:table/<name>`).
fn table_from_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_, tail) = rest.split_once(":table/")?;
    Some(tail.split('/').next().unwrap_or(tail))
}

impl Store {
    fn continuous_backups(&self, meta: &TableMeta) -> ContinuousBackupsOutput {
        let now = self.engine.clock().now_ms();
        let pitr = match &meta.pitr {
            Some(p) => PointInTimeRecoveryDescription {
                point_in_time_recovery_status: Status::Enabled,
                recovery_period_in_days: Some(p.period_days),
                earliest_restorable_date_time: Some(seconds(p.earliest_ms(now))),
                latest_restorable_date_time: Some(seconds(now)),
            },
            None => PointInTimeRecoveryDescription {
                point_in_time_recovery_status: Status::Disabled,
                recovery_period_in_days: None,
                earliest_restorable_date_time: None,
                latest_restorable_date_time: None,
            },
        };
        ContinuousBackupsOutput {
            continuous_backups_description: ContinuousBackupsDescription {
                // On-demand backups are always available.
                continuous_backups_status: Status::Enabled,
                point_in_time_recovery_description: pitr,
            },
        }
    }

    pub(super) fn describe_continuous_backups(&self, input: TableNameInput) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        v.finish()?;
        let name = input.table_name.as_deref().unwrap_or_default();
        let meta = self
            .engine
            .table(name)
            .ok_or_else(|| table_not_found(name))?;
        encode(&self.continuous_backups(&meta))
    }

    pub(super) async fn update_continuous_backups(
        &self,
        input: UpdateContinuousBackupsInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        v.table_name_or_arn(input.table_name.as_deref(), "tableName");
        let spec = input.point_in_time_recovery_specification.as_ref();
        match spec {
            None => v.null("pointInTimeRecoverySpecification"),
            Some(s) => {
                if s.point_in_time_recovery_enabled.is_none() {
                    v.null("pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled");
                }
                v.in_range(
                    s.recovery_period_in_days,
                    "pointInTimeRecoverySpecification.recoveryPeriodInDays",
                    1,
                    i64::from(DEFAULT_PERIOD_DAYS),
                );
            }
        }
        v.finish_in(&["tableName", "pointInTimeRecoverySpecification"])?;
        let name = input.table_name.clone().unwrap_or_default();
        let spec = spec.cloned().unwrap_or_default();
        let enable = spec.point_in_time_recovery_enabled == Some(true);
        let period = spec.recovery_period_in_days.map(|d| d as u32);
        if !enable && period.is_some() {
            return Err(ApiError::validation(
                "RecoveryPeriodInDays can only be specified when PointInTimeRecoveryEnabled is true",
            ));
        }
        let updated = self
            .engine
            .write(move |ctx| {
                let Some(meta) = ctx.table(&name) else {
                    return Err(Abort::Op(table_not_found(&name)));
                };
                if meta.is_creating() {
                    return Err(Abort::Op(ApiError::new(
                        ErrorCode::ContinuousBackupsUnavailable,
                        format!(
                            "Backups are being enabled for the table: {name}. Please retry later"
                        ),
                    )));
                }
                let now = ctx.now_ms();
                let mut meta = (*meta).clone();
                meta.pitr = match (&meta.pitr, enable) {
                    (_, false) => None,
                    (None, true) => Some(PitrMeta {
                        complete_since_ms: now,
                        period_days: period.unwrap_or(DEFAULT_PERIOD_DAYS),
                    }),
                    // Already on: the log is complete from the current
                    // window's start, whatever the new length.
                    (Some(p), true) => Some(PitrMeta {
                        complete_since_ms: p.earliest_ms(now),
                        period_days: period.unwrap_or(p.period_days),
                    }),
                };
                ctx.put_table(meta.clone())?;
                Ok(meta)
            })
            .await
            .map_err(super::abort_to_api)?;
        encode(&self.continuous_backups(&updated))
    }

    /// The recovery window of `table` — earliest and latest restorable
    /// times, milliseconds since the Unix epoch — or why there is none
    /// (TableNotFoundException, PointInTimeRecoveryUnavailableException).
    pub fn point_in_time_window(&self, table: &str) -> ApiResult<(u64, u64)> {
        let meta = self
            .engine
            .table(table)
            .ok_or_else(|| table_not_found(table))?;
        let p = meta.pitr.as_ref().ok_or_else(|| pitr_unavailable(table))?;
        let now = self.engine.clock().now_ms();
        Ok((p.earliest_ms(now), now))
    }

    /// Visit every item of `table` as it was at `time_ms` (every change
    /// committed at or before it applied, none after), in one read
    /// transaction, until `visit` returns false. `time_ms` must lie in the
    /// table's recovery window (InvalidRestoreTimeException otherwise).
    /// Reads the whole table: call it from a blocking task.
    pub fn items_as_of(
        &self,
        table: &str,
        time_ms: u64,
        visit: impl FnMut(Item) -> Result<bool, EngineError>,
    ) -> ApiResult<()> {
        let (earliest, latest) = self.point_in_time_window(table)?;
        if time_ms < earliest || time_ms > latest {
            return Err(invalid_time());
        }
        let meta = self
            .engine
            .table(table)
            .ok_or_else(|| table_not_found(table))?;
        Ok(self.engine.read(|r| r.items_as_of(&meta, time_ms, visit))?)
    }

    pub(super) async fn restore_table_to_point_in_time(
        &self,
        input: RestoreTableToPointInTimeInput,
    ) -> ApiResult<Vec<u8>> {
        let mut v = Violations::new();
        if let Some(arn) = input.source_table_arn.as_deref() {
            if arn.is_empty() {
                v.push(
                    "''",
                    "sourceTableArn",
                    "Member must have length greater than or equal to 1",
                );
            }
        }
        if let Some(name) = input.source_table_name.as_deref() {
            v.table_name(Some(name), "sourceTableName");
        }
        v.table_name(input.target_table_name.as_deref(), "targetTableName");
        let billing_mode = v.parse(
            input.overrides.billing_mode_override.as_deref(),
            "billingModeOverride",
        );
        v.finish_in(&["sourceTableArn", "sourceTableName", "targetTableName"])?;
        let source = match (&input.source_table_name, &input.source_table_arn) {
            (Some(n), None) => n.clone(),
            (None, Some(arn)) => table_from_arn(arn)
                .map(str::to_owned)
                .ok_or_else(|| ApiError::validation(format!("Invalid TableArn: {arn}")))?,
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "Only one of SourceTableArn or SourceTableName can be specified",
                ))
            }
            (None, None) => {
                return Err(ApiError::validation(
                    "Either SourceTableArn or SourceTableName must be specified",
                ))
            }
        };
        let latest = input.use_latest_restorable_time == Some(true);
        let time_ms = match (input.restore_date_time, latest) {
            (Some(_), true) => {
                return Err(ApiError::validation(
                    "Only one of RestoreDateTime or UseLatestRestorableTime can be specified",
                ))
            }
            (None, false) => {
                return Err(ApiError::validation(
                    "Either RestoreDateTime or UseLatestRestorableTime must be specified",
                ))
            }
            (Some(t), false) if !t.is_finite() || t < 0.0 => return Err(invalid_time()),
            (Some(t), false) => Some((t * 1000.0).round() as u64),
            (None, true) => None,
        };
        let target = input.target_table_name.clone().unwrap_or_default();
        let meta = self
            .engine
            .table(&source)
            .ok_or_else(|| table_not_found(&source))?;
        if meta.pitr.is_none() {
            return Err(pitr_unavailable(&source));
        }
        let (earliest, now) = self.point_in_time_window(&source)?;
        let time_ms = time_ms.unwrap_or(now);
        if time_ms < earliest || time_ms > now {
            return Err(invalid_time());
        }
        if let Some(existing) = self.engine.table(&target) {
            let (code, what) = if existing.is_restoring() {
                (ErrorCode::TableInUse, "Table is being restored")
            } else {
                (ErrorCode::TableAlreadyExists, "Table already exists")
            };
            return Err(ApiError::new(code, format!("{what}: {target}")));
        }
        let new_meta = restored_meta(&meta, &target, billing_mode, &input.overrides)?;
        let restore = RestoreMeta {
            source: RestoreSource::PointInTime {
                table_name: source.clone(),
                table_id: meta.id,
                time_ms,
            },
            restore_ms: time_ms,
            in_progress: true,
            snapshot: None,
            resume_offset: 0,
        };
        self.begin_restore(new_meta, restore).await
    }
}

fn invalid_time() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRestoreTime,
        "RestoreDateTime must be between EarliestRestorableDateTime and LatestRestorableDateTime",
    )
}
