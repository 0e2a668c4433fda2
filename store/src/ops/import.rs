//! ImportTable, DescribeImport, ListImports: validation, creating the new
//! table (CREATING until the import ends), the import's record, and the
//! job (`transfer::import`) in the background.
//!
//! As in DynamoDB, lines that fail validation are skipped and counted: the
//! table becomes ACTIVE with the other items and the import ends FAILED
//! with `ItemValidationError`. Any other failure (the bucket or an object
//! cannot be read, a stop of the store) deletes the table.

use std::sync::Arc;

use super::item::{check_index_keys, validate_item, MAX_ITEM_BYTES};
use super::table::{table_exists, validate_create};
use super::transfer::{
    arn_next_token, check_arn_length, failure, page_after, Transfers, MAX_CONCURRENT,
};
use super::{abort_to_api, Store};
use crate::api::transfer_types::{
    DescribeImportInput, DescribeImportOutput, ImportStatus, ImportSummary, ImportTableDescription,
    ImportTableInput, ImportTableOutput, InputCompressionType, InputFormat, ListImportsInput,
    ListImportsOutput,
};
use crate::api::types::CreateTableInput;
use crate::api::validate::Violations;
use crate::api::{encode, ApiError, ApiResult, ErrorCode};
use crate::engine::Abort;
use crate::model::table::{TableMeta, ACCOUNT, REGION};
use crate::model::value::item_size;
use crate::transfer::import::{self, ImportJob, ItemCheck};
use crate::transfer::jobs::Counters;
use crate::transfer::{job_id, now_ms};

/// DynamoDB's FailureCode and FailureMessage when items were skipped.
const ITEM_ERROR_CODE: &str = "ItemValidationError";
const ITEM_ERROR_MESSAGE: &str = "Some of the items failed validation checks and were not imported. Please check CloudWatch error logs for more details.";

const IMPORT_ORDER: &[&str] = &[
    "s3BucketSource",
    "s3BucketSource.s3Bucket",
    "inputFormat",
    "inputCompressionType",
    "tableCreationParameters",
    "inputFormatOptions.csv.delimiter",
];

/// The log group DynamoDB reports for imports.
fn log_group_arn() -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws-dynamodb/imports:*")
}

/// An imported item must pass what PutItem checks.
fn item_check() -> ItemCheck {
    Arc::new(|table: &TableMeta, item| {
        validate_item(item).map_err(|e| e.message)?;
        let key = table.key.key_of_item(item).map_err(|e| e.to_string())?;
        if item_size(item) > MAX_ITEM_BYTES {
            return Err("Item size has exceeded the maximum allowed size".to_owned());
        }
        check_index_keys(table, item).map_err(|e| e.message)?;
        Ok(key)
    })
}

impl Store {
    pub(super) async fn import_table(&self, input: ImportTableInput) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?.clone();
        let mut v = Violations::new();
        match &input.s3_bucket_source {
            None => v.null("s3BucketSource"),
            Some(s) if s.s3_bucket.is_none() => v.null("s3BucketSource.s3Bucket"),
            Some(_) => {}
        }
        match input.input_format.as_deref() {
            None => v.null("inputFormat"),
            f => v.one_of(f, "inputFormat", InputFormat::ALL),
        }
        v.one_of(
            input.input_compression_type.as_deref(),
            "inputCompressionType",
            InputCompressionType::ALL,
        );
        if input.table_creation_parameters.is_none() {
            v.null("tableCreationParameters");
        }
        let csv = input
            .input_format_options
            .as_ref()
            .and_then(|o| o.csv.clone());
        if let Some(d) = csv.as_ref().and_then(|c| c.delimiter.as_deref()) {
            if d.chars().count() != 1 || !",;:|\t ".contains(d) {
                v.push(
                    &format!("'{d}'"),
                    "inputFormatOptions.csv.delimiter",
                    "Member must satisfy regular expression pattern: [,;:|\\t ]",
                );
            }
        }
        v.finish_in(IMPORT_ORDER)?;
        let format = input
            .input_format
            .as_deref()
            .and_then(InputFormat::parse)
            .unwrap_or(InputFormat::DynamodbJson);
        if csv.is_some() && format != InputFormat::Csv {
            return Err(ApiError::validation(
                "InputFormatOptions.Csv can only be used with InputFormat CSV",
            ));
        }
        let compression = input
            .input_compression_type
            .as_deref()
            .and_then(InputCompressionType::parse)
            .unwrap_or(InputCompressionType::None);
        let source = input.s3_bucket_source.clone().unwrap_or_default();
        let params = input.table_creation_parameters.clone().unwrap_or_default();

        let imports = transfers.jobs.imports();
        if let Some(token) = input.client_token.as_deref() {
            if let Some(same) = imports
                .iter()
                .find(|i| i.client_token.as_deref() == Some(token))
            {
                let equal = same.s3_bucket_source == source
                    && same.input_format == format
                    && same.table_creation_parameters.table_name == params.table_name;
                if !equal {
                    return Err(ApiError::new(
                        ErrorCode::ImportConflict,
                        "There was a conflict when importing from the specified S3 source: the client token was used by another import request",
                    ));
                }
                return encode(&ImportTableOutput {
                    import_table_description: same.clone(),
                });
            }
        }
        let running = imports
            .iter()
            .filter(|i| i.import_status == ImportStatus::InProgress)
            .count();
        if running >= MAX_CONCURRENT {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("There are already {running} imports in progress; the limit is {MAX_CONCURRENT}"),
            ));
        }

        let mut meta = validate_create(CreateTableInput {
            table_name: params.table_name.clone(),
            attribute_definitions: params.attribute_definitions.clone(),
            key_schema: params.key_schema.clone(),
            global_secondary_indexes: params.global_secondary_indexes.clone(),
            billing_mode: params.billing_mode.clone(),
            provisioned_throughput: params.provisioned_throughput.clone(),
            sse_specification: params.sse_specification.clone(),
            ..Default::default()
        })?;
        let now = now_ms();
        let arn = format!("{}/import/{}", meta.arn(), job_id(now));
        meta.importing = Some(arn.clone());
        let created = self.add_table(meta, table_exists).await?;
        let description = ImportTableDescription {
            import_arn: arn.clone(),
            import_status: ImportStatus::InProgress,
            table_arn: created.arn(),
            table_id: created.uuid.clone(),
            client_token: input.client_token.clone(),
            s3_bucket_source: source.clone(),
            error_count: 0,
            cloud_watch_log_group_arn: log_group_arn(),
            input_format: format,
            input_format_options: input.input_format_options.clone(),
            input_compression_type: compression,
            table_creation_parameters: params,
            start_time: now as f64 / 1000.0,
            end_time: None,
            processed_size_bytes: 0,
            processed_item_count: 0,
            imported_item_count: 0,
            failure_code: None,
            failure_message: None,
        };
        let counters = transfers.jobs.add_import(description.clone());
        let job = ImportJob {
            engine: self.engine.clone(),
            bucket_name: source.s3_bucket.clone().unwrap_or_default(),
            prefix: source.s3_key_prefix.clone(),
            table_name: created.name.clone(),
            import_arn: arn.clone(),
            format,
            compression,
            csv,
            counters: counters.clone(),
            error_log: transfers.jobs.import_error_log(&arn),
            check: item_check(),
        };
        let store = self.clone();
        tokio::spawn(async move { store.finish_import(transfers, job, counters).await });
        encode(&ImportTableOutput {
            import_table_description: description,
        })
    }

    /// Run the import job and record how it ended: the table becomes
    /// ACTIVE, or is deleted.
    async fn finish_import(
        self,
        transfers: Arc<Transfers>,
        job: ImportJob,
        counters: Arc<Counters>,
    ) {
        let arn = job.import_arn.clone();
        let name = job.table_name.clone();
        let handle = tokio::runtime::Handle::current();
        let result = match transfers.locations.bucket(&job.bucket_name, false) {
            Ok(bucket) => tokio::task::spawn_blocking(move || import::run(job, bucket, handle))
                .await
                .unwrap_or_else(|e| {
                    Err(crate::transfer::TransferError::Invalid(format!(
                        "the import task failed: {e}"
                    )))
                }),
            Err(e) => Err(e),
        };
        let outcome = match result {
            Ok(errors) => match self.activate_import_table(&name, &arn).await {
                Ok(()) if errors == 0 => Ok(None),
                Ok(()) => Ok(Some((
                    ITEM_ERROR_CODE.to_owned(),
                    ITEM_ERROR_MESSAGE.to_owned(),
                ))),
                Err(e) => Err((String::from("InternalError"), e.message)),
            },
            Err(error) => Err(failure(&error)),
        };
        if outcome.is_err() {
            if let Err(e) = self.drop_import_table(&name, &arn).await {
                tracing::error!(import = %arn, error = %e.message, "cannot delete the table of a failed import");
            }
        }
        let end = now_ms() as f64 / 1000.0;
        transfers.jobs.update_import(&arn, |d| {
            d.end_time = Some(end);
            d.processed_item_count = Counters::get(&counters.items);
            d.processed_size_bytes = Counters::get(&counters.bytes);
            d.imported_item_count = Counters::get(&counters.imported);
            d.error_count = Counters::get(&counters.errors);
            let failed = match outcome {
                Ok(None) => None,
                Ok(Some(f)) | Err(f) => Some(f),
            };
            match failed {
                None => d.import_status = ImportStatus::Completed,
                Some((code, message)) => {
                    tracing::warn!(import = %arn, code, message, "import failed");
                    d.import_status = ImportStatus::Failed;
                    d.failure_code = Some(code);
                    d.failure_message = Some(message);
                }
            }
        });
    }

    /// The import is done: the table becomes ACTIVE.
    async fn activate_import_table(&self, name: &str, import_arn: &str) -> ApiResult<()> {
        let name = name.to_owned();
        let arn = import_arn.to_owned();
        self.engine
            .write(move |ctx| {
                let Some(t) = ctx.table(&name) else {
                    return Err(Abort::Op(ApiError::table_not_found(&name)));
                };
                if t.importing.as_deref() != Some(arn.as_str()) {
                    return Err(Abort::Op(ApiError::table_not_found(&name)));
                }
                let mut meta = (*t).clone();
                meta.importing = None;
                ctx.put_table(meta)?;
                Ok(())
            })
            .await
            .map_err(abort_to_api)
    }

    pub(super) fn describe_import(&self, input: DescribeImportInput) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?;
        let mut v = Violations::new();
        match input.import_arn.as_deref() {
            None => v.null("importArn"),
            Some(arn) => check_arn_length(arn, "importArn", &mut v),
        }
        v.finish()?;
        let arn = input.import_arn.as_deref().unwrap_or_default();
        let description = transfers.jobs.import(arn).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ImportNotFound,
                format!("Import not found: {arn}"),
            )
        })?;
        encode(&DescribeImportOutput {
            import_table_description: description,
        })
    }

    pub(super) fn list_imports(&self, input: ListImportsInput) -> ApiResult<Vec<u8>> {
        let transfers = self.transfers()?;
        let mut v = Violations::new();
        v.in_range_unquoted(input.page_size, "pageSize", 1, 25);
        v.finish()?;
        let limit = input.page_size.unwrap_or(25) as usize;
        let all: Vec<ImportTableDescription> = transfers
            .jobs
            .imports()
            .into_iter()
            .filter(|i| input.table_arn.as_ref().is_none_or(|t| &i.table_arn == t))
            .collect();
        let arns: Vec<&str> = all.iter().map(|i| i.import_arn.as_str()).collect();
        let start = page_after(&arns, input.next_token.as_deref())?;
        let page: Vec<&ImportTableDescription> = all[start..].iter().take(limit).collect();
        let next_token = (start + page.len() < all.len())
            .then(|| page.last().map(|i| arn_next_token(&i.import_arn)))
            .flatten();
        encode(&ListImportsOutput {
            import_summary_list: page
                .into_iter()
                .map(|i| ImportSummary {
                    import_arn: i.import_arn.clone(),
                    import_status: i.import_status,
                    table_arn: i.table_arn.clone(),
                    s3_bucket_source: i.s3_bucket_source.clone(),
                    cloud_watch_log_group_arn: i.cloud_watch_log_group_arn.clone(),
                    input_format: i.input_format,
                    start_time: i.start_time,
                    end_time: i.end_time,
                })
                .collect(),
            next_token,
        })
    }
}
