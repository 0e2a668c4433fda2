//! Wire types of the backup and point-in-time recovery operations:
//! CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
//! RestoreTableFromBackup, UpdateContinuousBackups,
//! DescribeContinuousBackups and RestoreTableToPointInTime.
//!
//! Inputs keep every member optional (missing ones are reported by
//! validation, as DynamoDB does); enumerated request members stay strings
//! until validated, because an unknown value is a ValidationException, not a
//! SerializationException. Timestamps are seconds since the Unix epoch.

use serde::{Deserialize, Serialize};

pub use super::tables::BillingMode;
use super::types::{KeySchemaElement, ProvisionedThroughput, SecondaryIndex, SseSpecification};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBackupInput {
    pub table_name: Option<String>,
    pub backup_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupArnInput {
    pub backup_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBackupsInput {
    pub table_name: Option<String>,
    pub limit: Option<i64>,
    pub time_range_lower_bound: Option<f64>,
    pub time_range_upper_bound: Option<f64>,
    pub exclusive_start_backup_arn: Option<String>,
    pub backup_type: Option<String>,
}

/// The overrides both restore operations accept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreOverrides {
    pub billing_mode_override: Option<String>,
    pub global_secondary_index_override: Option<Vec<SecondaryIndex>>,
    pub local_secondary_index_override: Option<Vec<SecondaryIndex>>,
    pub provisioned_throughput_override: Option<ProvisionedThroughput>,
    #[serde(rename = "SSESpecificationOverride")]
    pub sse_specification_override: Option<SseSpecification>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableFromBackupInput {
    pub target_table_name: Option<String>,
    pub backup_arn: Option<String>,
    #[serde(flatten)]
    pub overrides: RestoreOverrides,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableToPointInTimeInput {
    pub source_table_arn: Option<String>,
    pub source_table_name: Option<String>,
    pub target_table_name: Option<String>,
    pub use_latest_restorable_time: Option<bool>,
    pub restore_date_time: Option<f64>,
    #[serde(flatten)]
    pub overrides: RestoreOverrides,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecoverySpecification {
    pub point_in_time_recovery_enabled: Option<bool>,
    pub recovery_period_in_days: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContinuousBackupsInput {
    pub table_name: Option<String>,
    pub point_in_time_recovery_specification: Option<PointInTimeRecoverySpecification>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupStatus {
    Creating,
    Deleted,
    Available,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BackupType {
    User,
    System,
    AwsBackup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupDetails {
    pub backup_arn: String,
    pub backup_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_size_bytes: Option<u64>,
    pub backup_status: BackupStatus,
    pub backup_type: BackupType,
    pub backup_creation_date_time: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBackupOutput {
    pub backup_details: BackupDetails,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ThroughputOut {
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceTableDetails {
    pub table_name: String,
    pub table_id: String,
    pub table_arn: String,
    pub table_size_bytes: u64,
    pub key_schema: Vec<KeySchemaElement>,
    pub table_creation_date_time: f64,
    pub provisioned_throughput: ThroughputOut,
    pub item_count: u64,
    pub billing_mode: BillingMode,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexInfo {
    pub index_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub projection: super::types::Projection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput: Option<ThroughputOut>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecificationOut {
    pub stream_enabled: bool,
    pub stream_view_type: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveDescription {
    pub time_to_live_status: Status,
    pub attribute_name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceTableFeatureDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<Vec<IndexInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<Vec<IndexInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_description: Option<StreamSpecificationOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_live_description: Option<TimeToLiveDescription>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupDescription {
    pub backup_details: BackupDetails,
    pub source_table_details: SourceTableDetails,
    pub source_table_feature_details: SourceTableFeatureDetails,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupDescriptionOutput {
    pub backup_description: BackupDescription,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupSummary {
    pub table_name: String,
    pub table_id: String,
    pub table_arn: String,
    pub backup_arn: String,
    pub backup_name: String,
    pub backup_creation_date_time: f64,
    pub backup_status: BackupStatus,
    pub backup_type: BackupType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_size_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBackupsOutput {
    pub backup_summaries: Vec<BackupSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_backup_arn: Option<String>,
}

/// The restore operations answer with the new table's `TableDescription`
/// (built by `ops::description`, shared with the table operations).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableOutput<'a> {
    pub table_description: super::tables::TableDescription<'a>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecoveryDescription {
    pub point_in_time_recovery_status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_restorable_date_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_restorable_date_time: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContinuousBackupsDescription {
    pub continuous_backups_status: Status,
    pub point_in_time_recovery_description: PointInTimeRecoveryDescription,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContinuousBackupsOutput {
    pub continuous_backups_description: ContinuousBackupsDescription,
}
