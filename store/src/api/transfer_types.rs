//! Wire model of export to and import from S3: ExportTableToPointInTime,
//! DescribeExport, ListExports, ImportTable, DescribeImport, ListImports.
//!
//! Inputs follow the api layer's rule (every member optional, enumerations
//! as strings so that a bad value gets DynamoDB's ValidationException rather
//! than a SerializationException); outputs are typed, with enums for the
//! enumerated members. Descriptions are also what `transfer::jobs` keeps on
//! disk for each export and import, so they deserialize as well.

use serde::{Deserialize, Serialize};

use super::types::{
    AttributeDefinition, KeySchemaElement, ProvisionedThroughput, SecondaryIndex, SseSpecification,
};

/// Timestamps travel as seconds since the Unix epoch (a JSON number).
pub type Timestamp = f64;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, as DynamoDB lists them in its messages.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

wire_enum!(
    /// Format of exported data files.
    ExportFormat { DynamodbJson = "DYNAMODB_JSON", Ion = "ION" }
);
wire_enum!(ExportType {
    FullExport = "FULL_EXPORT",
    IncrementalExport = "INCREMENTAL_EXPORT",
});
wire_enum!(ExportViewType {
    NewImage = "NEW_IMAGE",
    NewAndOldImages = "NEW_AND_OLD_IMAGES",
});
wire_enum!(ExportStatus {
    InProgress = "IN_PROGRESS",
    Completed = "COMPLETED",
    Failed = "FAILED",
});
wire_enum!(
    /// Format of the files an import reads.
    InputFormat { DynamodbJson = "DYNAMODB_JSON", Ion = "ION", Csv = "CSV" }
);
wire_enum!(InputCompressionType {
    Gzip = "GZIP",
    Zstd = "ZSTD",
    None = "NONE",
});
wire_enum!(ImportStatus {
    InProgress = "IN_PROGRESS",
    Completed = "COMPLETED",
    Cancelling = "CANCELLING",
    Cancelled = "CANCELLED",
    Failed = "FAILED",
});
wire_enum!(S3SseAlgorithm {
    Aes256 = "AES256",
    Kms = "KMS",
});

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IncrementalExportSpecificationInput {
    pub export_from_time: Option<Timestamp>,
    pub export_to_time: Option<Timestamp>,
    pub export_view_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportTableToPointInTimeInput {
    pub table_arn: Option<String>,
    pub export_time: Option<Timestamp>,
    pub client_token: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_bucket_owner: Option<String>,
    pub s3_prefix: Option<String>,
    pub s3_sse_algorithm: Option<String>,
    pub s3_sse_kms_key_id: Option<String>,
    pub export_format: Option<String>,
    pub export_type: Option<String>,
    pub incremental_export_specification: Option<IncrementalExportSpecificationInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IncrementalExportSpecification {
    pub export_from_time: Timestamp,
    pub export_to_time: Timestamp,
    pub export_view_type: ExportViewType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportDescription {
    pub export_arn: String,
    pub export_status: ExportStatus,
    pub start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Key of the manifest-summary.json object, once the export completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_manifest: Option<String>,
    pub table_arn: String,
    pub table_id: String,
    pub export_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub s3_bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_bucket_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
    pub s3_sse_algorithm: S3SseAlgorithm,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_sse_kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    pub export_format: ExportFormat,
    pub billed_size_bytes: u64,
    pub item_count: u64,
    pub export_type: ExportType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental_export_specification: Option<IncrementalExportSpecification>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportTableToPointInTimeOutput {
    pub export_description: ExportDescription,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeExportInput {
    pub export_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeExportOutput {
    pub export_description: ExportDescription,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListExportsInput {
    pub table_arn: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportSummary {
    pub export_arn: String,
    pub export_status: ExportStatus,
    pub export_type: ExportType,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListExportsOutput {
    pub export_summaries: Vec<ExportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3BucketSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_bucket_owner: Option<String>,
    pub s3_bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CsvOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_list: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputFormatOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvOptions>,
}

/// CreateTable's parameters as ImportTable takes them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableCreationParameters {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    #[serde(rename = "SSESpecification", skip_serializing_if = "Option::is_none")]
    pub sse_specification: Option<SseSpecification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<Vec<SecondaryIndex>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportTableInput {
    pub client_token: Option<String>,
    pub s3_bucket_source: Option<S3BucketSource>,
    pub input_format: Option<String>,
    pub input_format_options: Option<InputFormatOptions>,
    pub input_compression_type: Option<String>,
    pub table_creation_parameters: Option<TableCreationParameters>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportTableDescription {
    pub import_arn: String,
    pub import_status: ImportStatus,
    pub table_arn: String,
    pub table_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub s3_bucket_source: S3BucketSource,
    pub error_count: u64,
    pub cloud_watch_log_group_arn: String,
    pub input_format: InputFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_format_options: Option<InputFormatOptions>,
    pub input_compression_type: InputCompressionType,
    pub table_creation_parameters: TableCreationParameters,
    pub start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    pub processed_size_bytes: u64,
    pub processed_item_count: u64,
    pub imported_item_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportTableOutput {
    pub import_table_description: ImportTableDescription,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImportInput {
    pub import_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImportOutput {
    pub import_table_description: ImportTableDescription,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImportsInput {
    pub table_arn: Option<String>,
    pub page_size: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImportSummary {
    pub import_arn: String,
    pub import_status: ImportStatus,
    pub table_arn: String,
    pub s3_bucket_source: S3BucketSource,
    pub cloud_watch_log_group_arn: String,
    pub input_format: InputFormat,
    pub start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListImportsOutput {
    pub import_summary_list: Vec<ImportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
