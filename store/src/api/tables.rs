//! The wire model of the table operations' answers: DynamoDB's
//! `TableDescription` and its parts, shared by CreateTable, DescribeTable,
//! UpdateTable, DeleteTable and the restores (built by
//! `ops::description`), and the key schema the Streams API repeats.

use serde::Serialize;

use crate::model::table::Billing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    Hash,
    Range,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement<'a> {
    pub attribute_name: &'a str,
    pub key_type: KeyType,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition<'a> {
    pub attribute_name: &'a str,
    pub attribute_type: &'static str,
}

/// DynamoDB's `TableDescription`. DeleteTable's answer leaves out the
/// schema, the indexes and the creation time (the `Option`s here).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDescription<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_definitions: Option<Vec<AttributeDefinition<'a>>>,
    pub table_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_schema: Option<Vec<KeySchemaElement<'a>>>,
    pub table_status: &'a str,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date_time: Option<f64>,
    pub provisioned_throughput: ProvisionedThroughputDescription,
    pub table_size_bytes: u64,
    pub item_count: u64,
    pub table_arn: String,
    pub table_id: &'a str,
    pub billing_mode_summary: BillingModeSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_throughput: Option<OnDemandThroughputDescription>,
    pub warm_throughput: WarmThroughputDescription,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_secondary_indexes: Option<Vec<LocalSecondaryIndexDescription<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_secondary_indexes: Option<Vec<GlobalSecondaryIndexDescription<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_stream_label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_stream_arn: Option<String>,
    #[serde(rename = "SSEDescription", skip_serializing_if = "Option::is_none")]
    pub sse_description: Option<SseDescription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_class_summary: Option<TableClassSummary<'a>>,
    pub deletion_protection_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_summary: Option<RestoreSummary>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughputDescription {
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_increase_date_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_decrease_date_time: Option<f64>,
    pub number_of_decreases_today: u32,
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
}

/// `BillingMode`: of a description, and of the requests that set it
/// (CreateTable, UpdateTable, the restores' `BillingModeOverride`, an
/// import's table parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    /// The mode of a table billed as `billing`.
    pub fn of(billing: &Billing) -> BillingMode {
        match billing {
            Billing::PayPerRequest => BillingMode::PayPerRequest,
            Billing::Provisioned { .. } => BillingMode::Provisioned,
        }
    }
}

impl super::validate::WireEnum for BillingMode {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("PROVISIONED", BillingMode::Provisioned),
        ("PAY_PER_REQUEST", BillingMode::PayPerRequest),
    ];
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BillingModeSummary {
    pub billing_mode: BillingMode,
    /// Seconds since the epoch (on-demand tables only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_to_pay_per_request_date_time: Option<f64>,
}

/// `OnDemandThroughput` of a description: -1 for no maximum.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnDemandThroughputDescription {
    pub max_read_request_units: i64,
    pub max_write_request_units: i64,
}

/// `WarmThroughput` of a TableDescription or of a GSI's description.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputDescription {
    pub read_units_per_second: u64,
    pub write_units_per_second: u64,
    pub status: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection<'a> {
    pub projection_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_key_attributes: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LocalSecondaryIndexDescription<'a> {
    pub index_name: &'a str,
    pub key_schema: Vec<KeySchemaElement<'a>>,
    pub projection: Projection<'a>,
    pub index_size_bytes: u64,
    pub item_count: u64,
    pub index_arn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IndexStatus {
    Creating,
    Active,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndexDescription<'a> {
    pub index_name: &'a str,
    pub key_schema: Vec<KeySchemaElement<'a>>,
    pub projection: Projection<'a>,
    pub index_status: IndexStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfilling: Option<bool>,
    pub provisioned_throughput: ProvisionedThroughputDescription,
    pub index_size_bytes: u64,
    pub item_count: u64,
    pub index_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_throughput: Option<OnDemandThroughputDescription>,
    pub warm_throughput: WarmThroughputDescription,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification<'a> {
    pub stream_enabled: bool,
    pub stream_view_type: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SseDescription {
    #[serde(rename = "Status")]
    pub status: &'static str,
    #[serde(rename = "SSEType")]
    pub sse_type: String,
    #[serde(rename = "KMSMasterKeyArn")]
    pub kms_master_key_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableClassSummary<'a> {
    pub table_class: &'a str,
}

/// Where a restored table came from: a backup or a table (point in time).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_backup_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_table_arn: Option<String>,
    /// Seconds since the epoch.
    pub restore_date_time: f64,
    pub restore_in_progress: bool,
}

/// CreateTable's, UpdateTable's and DeleteTable's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDescriptionOutput<'a> {
    pub table_description: TableDescription<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTableOutput<'a> {
    pub table: TableDescription<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesOutput<'a> {
    pub table_names: Vec<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_table_name: Option<&'a str>,
}
