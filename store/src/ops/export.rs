//! ExportTableToPointInTime, DescribeExport, ListExports: validation, the
//! export's record, and starting the job (`transfer::export`) in the
//! background.
//!
//! As in DynamoDB, the table must have point-in-time recovery enabled: a
//! full export is the table as of ExportTime (default: the call), read with
//! `ReadView::items_as_of` from one read transaction — the current items
//! with the changes committed after ExportTime undone from the change log's
//! old images; an incremental export reads the change log over its window.
//! Both times must lie in the recovery window.

use std::sync::Arc;

use super::transfer::{
    arn_next_token, check_arn_length, page_after, parse_table_arn, Transfers, MAX_CONCURRENT,
};
use super::Store;
use crate::api::transfer_types::{
    DescribeExportInput, DescribeExportOutput, ExportDescription, ExportFormat, ExportStatus,
    ExportSummary, ExportTableToPointInTimeInput, ExportTableToPointInTimeOutput, ExportType,
    ExportViewType, IncrementalExportSpecification, ListExportsInput, ListExportsOutput,
    S3SseAlgorithm,
};
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::transfer::export::{self, ExportJob, ExportKind};
use crate::transfer::{job_id, now_ms};

/// Member order of ExportTableToPointInTime's validation message.
const EXPORT_ORDER: &[&str] = &[
    "tableArn",
    "s3Bucket",
    "exportFormat",
    "exportType",
    "s3SseAlgorithm",
    "incrementalExportSpecification.exportViewType",
];

fn invalid_time(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidExportTime, message)
}

fn ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

impl Store {
    pub(super) fn transfers(&self) -> ApiResult<&Arc<Transfers>> {
        self.transfers.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::InternalServer,
                "Exports and imports are not available in this process",
            )
        })
    }

    pub(super) async fn export_table_to_point_in_time(
        &self,
        input: ExportTableToPointInTimeInput,
    ) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?.clone();
        let mut v = Violations::new();
        if input.table_arn.is_none() {
            v.null("tableArn");
        }
        if input.s3_bucket.is_none() {
            v.null("s3Bucket");
        }
        v.one_of(
            input.export_format.as_deref(),
            "exportFormat",
            ExportFormat::ALL,
        );
        v.one_of(input.export_type.as_deref(), "exportType", ExportType::ALL);
        v.one_of(
            input.s3_sse_algorithm.as_deref(),
            "s3SseAlgorithm",
            S3SseAlgorithm::ALL,
        );
        let spec = input.incremental_export_specification.clone();
        v.one_of(
            spec.as_ref().and_then(|s| s.export_view_type.as_deref()),
            "incrementalExportSpecification.exportViewType",
            ExportViewType::ALL,
        );
        v.finish_in(EXPORT_ORDER)?;
        let arn = input.table_arn.as_deref().unwrap_or_default();
        let bucket = input.s3_bucket.clone().unwrap_or_default();
        let name = parse_table_arn(arn)?;
        let table = self
            .engine
            .table(name)
            .filter(|t| !t.is_creating())
            .ok_or_else(|| {
                ApiError::new(ErrorCode::TableNotFound, format!("Table not found: {arn}"))
            })?;
        // DynamoDB exports from the point-in-time recovery data: it must be
        // enabled (PointInTimeRecoveryUnavailableException otherwise).
        let window = self.point_in_time_window(name)?;
        let format = input
            .export_format
            .as_deref()
            .and_then(ExportFormat::parse)
            .unwrap_or(ExportFormat::DynamodbJson);
        let export_type = input
            .export_type
            .as_deref()
            .and_then(ExportType::parse)
            .unwrap_or(ExportType::FullExport);
        let now = now_ms();
        let (kind, export_time, incremental) = match export_type {
            ExportType::FullExport => {
                if spec.is_some() {
                    return Err(ApiError::validation(
                        "IncrementalExportSpecification is only valid for INCREMENTAL_EXPORT",
                    ));
                }
                let at = input.export_time.map_or(now, ms).min(window.1);
                self.check_export_time(window, input.export_time.map_or(now, ms))?;
                (ExportKind::Full { time_ms: at }, at, None)
            }
            ExportType::IncrementalExport => {
                if input.export_time.is_some() {
                    return Err(ApiError::validation(
                        "ExportTime is not valid for INCREMENTAL_EXPORT; use IncrementalExportSpecification",
                    ));
                }
                let spec = spec.unwrap_or_default();
                let Some(from) = spec.export_from_time.map(ms) else {
                    return Err(ApiError::validation(
                        "IncrementalExportSpecification.ExportFromTime must be provided for INCREMENTAL_EXPORT",
                    ));
                };
                let to = spec.export_to_time.map_or(now, ms);
                let view = spec
                    .export_view_type
                    .as_deref()
                    .and_then(ExportViewType::parse)
                    .unwrap_or(ExportViewType::NewAndOldImages);
                self.check_incremental_window(window, from, to)?;
                (
                    ExportKind::Incremental {
                        from_ms: from,
                        to_ms: to,
                        view,
                    },
                    to,
                    Some(IncrementalExportSpecification {
                        export_from_time: from as f64 / 1000.0,
                        export_to_time: to as f64 / 1000.0,
                        export_view_type: view,
                    }),
                )
            }
        };
        let id = job_id(now);
        let description = ExportDescription {
            export_arn: format!("{}/export/{id}", table.arn()),
            export_status: ExportStatus::InProgress,
            start_time: now as f64 / 1000.0,
            end_time: None,
            export_manifest: None,
            table_arn: table.arn(),
            table_id: table.uuid.clone(),
            export_time: export_time as f64 / 1000.0,
            client_token: input.client_token.clone(),
            s3_bucket: bucket.clone(),
            s3_bucket_owner: input.s3_bucket_owner.clone(),
            s3_prefix: input.s3_prefix.clone(),
            s3_sse_algorithm: input
                .s3_sse_algorithm
                .as_deref()
                .and_then(S3SseAlgorithm::parse)
                .unwrap_or(S3SseAlgorithm::Aes256),
            s3_sse_kms_key_id: input.s3_sse_kms_key_id.clone(),
            failure_code: None,
            failure_message: None,
            export_format: format,
            billed_size_bytes: 0,
            item_count: 0,
            export_type,
            incremental_export_specification: incremental,
        };
        let exports = transfers.jobs.exports();
        if let Some(token) = input.client_token.as_deref() {
            if let Some(same) = exports
                .iter()
                .find(|e| e.client_token.as_deref() == Some(token))
            {
                let equal = same.table_arn == description.table_arn
                    && same.s3_bucket == description.s3_bucket
                    && same.s3_prefix == description.s3_prefix
                    && same.export_type == description.export_type
                    && same.export_format == description.export_format;
                if !equal {
                    return Err(ApiError::new(
                        ErrorCode::ExportConflict,
                        "Idempotent parameter mismatch: the client token was used by another export request",
                    ));
                }
                return encode(&ExportTableToPointInTimeOutput {
                    export_description: same.clone(),
                });
            }
        }
        let running = exports
            .iter()
            .filter(|e| e.export_status == ExportStatus::InProgress)
            .count();
        if running >= MAX_CONCURRENT {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("There are already {running} exports in progress; the limit is {MAX_CONCURRENT}"),
            ));
        }
        let counters = transfers.jobs.add_export(description.clone());
        let job = ExportJob {
            engine: self.engine.clone(),
            table,
            description: description.clone(),
            kind,
            counters,
        };
        spawn_export(transfers, job, bucket);
        encode(&ExportTableToPointInTimeOutput {
            export_description: description,
        })
    }

    /// ExportTime must lie in the table's point-in-time recovery window.
    fn check_export_time(&self, window: (u64, u64), at: u64) -> ApiResult<()> {
        if at > window.1 + 1000 {
            return Err(invalid_time("ExportTime cannot be in the future"));
        }
        if at < window.0 {
            return Err(invalid_time(
                "ExportTime must not be earlier than the table's EarliestRestorableDateTime",
            ));
        }
        Ok(())
    }

    fn check_incremental_window(&self, window: (u64, u64), from: u64, to: u64) -> ApiResult<()> {
        if to > window.1 + 1000 {
            return Err(invalid_time("ExportToTime cannot be in the future"));
        }
        if from >= to {
            return Err(invalid_time(
                "ExportFromTime must be earlier than ExportToTime",
            ));
        }
        if from < window.0 {
            return Err(invalid_time(
                "ExportFromTime must not be earlier than the table's EarliestRestorableDateTime",
            ));
        }
        Ok(())
    }

    pub(super) fn describe_export(&self, input: DescribeExportInput) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?;
        let mut v = Violations::new();
        match input.export_arn.as_deref() {
            None => v.null("exportArn"),
            Some(arn) => check_arn_length(arn, "exportArn", &mut v),
        }
        v.finish()?;
        let arn = input.export_arn.as_deref().unwrap_or_default();
        let description = transfers.jobs.export(arn).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ExportNotFound,
                format!("Export not found: {arn}"),
            )
        })?;
        encode(&DescribeExportOutput {
            export_description: description,
        })
    }

    pub(super) fn list_exports(&self, input: ListExportsInput) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?;
        let mut v = Violations::new();
        v.in_range_unquoted(input.max_results, "maxResults", 1, 25);
        v.finish()?;
        let limit = input.max_results.unwrap_or(25) as usize;
        let all: Vec<ExportDescription> = transfers
            .jobs
            .exports()
            .into_iter()
            .filter(|e| input.table_arn.as_ref().is_none_or(|t| &e.table_arn == t))
            .collect();
        let arns: Vec<&str> = all.iter().map(|e| e.export_arn.as_str()).collect();
        let start = page_after(&arns, input.next_token.as_deref())?;
        let page: Vec<&ExportDescription> = all[start..].iter().take(limit).collect();
        let next_token = (start + page.len() < all.len())
            .then(|| page.last().map(|e| arn_next_token(&e.export_arn)))
            .flatten();
        encode(&ListExportsOutput {
            export_summaries: page
                .into_iter()
                .map(|e| ExportSummary {
                    export_arn: e.export_arn.clone(),
                    export_status: e.export_status,
                    export_type: e.export_type,
                })
                .collect(),
            next_token,
        })
    }
}

/// Run the export in the background and record how it ended.
fn spawn_export(transfers: Arc<Transfers>, job: ExportJob, bucket: String) {
    let arn = job.description.export_arn.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::spawn(async move {
        let result = match transfers.locations.bucket(&bucket, true) {
            Ok(store) => {
                let handle = handle.clone();
                tokio::task::spawn_blocking(move || export::run(job, store, handle))
                    .await
                    .unwrap_or_else(|e| {
                        Err(crate::transfer::TransferError::Invalid(format!(
                            "the export task failed: {e}"
                        )))
                    })
            }
            Err(e) => Err(e),
        };
        let end = now_ms() as f64 / 1000.0;
        match result {
            Ok(done) => {
                tracing::info!(export = %arn, items = done.item_count, "export completed");
                transfers.jobs.update_export(&arn, |d| {
                    d.export_status = ExportStatus::Completed;
                    d.end_time = Some(end);
                    d.item_count = done.item_count;
                    d.billed_size_bytes = done.billed_size_bytes;
                    d.export_manifest = Some(done.manifest_key);
                });
            }
            Err(error) => {
                tracing::warn!(export = %arn, %error, "export failed");
                let (code, message) = super::transfer::failure(&error);
                transfers.jobs.update_export(&arn, |d| {
                    d.export_status = ExportStatus::Failed;
                    d.end_time = Some(end);
                    d.failure_code = Some(code);
                    d.failure_message = Some(message);
                });
            }
        }
    });
}
