//! Request types, with AWS's member names, decoded from JSON once.
//!
//! Every member is optional here: DynamoDB reports a missing required member
//! as a ValidationException ("Value null at 'tableName' failed to satisfy
//! constraint: Member must not be null"), which the operations check with
//! [`super::validate::Violations`]; a member of the wrong JSON type is a
//! SerializationException, which serde reports.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::validate::WireEnum;
pub use crate::expr::legacy::ConditionalOperator;
use crate::model::value::{AttributeValue, Item};

pub type Names = HashMap<String, String>;
pub type Values = HashMap<String, AttributeValue>;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: Option<String>,
    pub key_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: Option<String>,
    pub attribute_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedThroughput {
    pub read_capacity_units: Option<i64>,
    pub write_capacity_units: Option<i64>,
}

/// `OnDemandThroughput`: -1 removes a maximum.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnDemandThroughput {
    pub max_read_request_units: Option<i64>,
    pub max_write_request_units: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughput {
    pub read_units_per_second: Option<i64>,
    pub write_units_per_second: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Projection {
    pub projection_type: Option<String>,
    pub non_key_attributes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecondaryIndex {
    pub index_name: Option<String>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub projection: Option<Projection>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub on_demand_throughput: Option<OnDemandThroughput>,
    pub warm_throughput: Option<WarmThroughput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_enabled: Option<bool>,
    pub stream_view_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseSpecification {
    pub enabled: Option<bool>,
    #[serde(rename = "SSEType")]
    pub sse_type: Option<String>,
    #[serde(rename = "KMSMasterKeyId")]
    pub kms_master_key_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub key_schema: Option<Vec<KeySchemaElement>>,
    pub local_secondary_indexes: Option<Vec<SecondaryIndex>>,
    pub global_secondary_indexes: Option<Vec<SecondaryIndex>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<SseSpecification>,
    pub tags: Option<Vec<Tag>>,
    pub table_class: Option<String>,
    pub deletion_protection_enabled: Option<bool>,
    pub on_demand_throughput: Option<OnDemandThroughput>,
    pub warm_throughput: Option<WarmThroughput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableNameInput {
    pub table_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTablesInput {
    pub exclusive_start_table_name: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalSecondaryIndexUpdate {
    pub create: Option<SecondaryIndex>,
    pub update: Option<SecondaryIndex>,
    pub delete: Option<SecondaryIndex>,
    /// Members DynamoDB does not know (rejected by validation).
    #[serde(flatten)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTableInput {
    pub table_name: Option<String>,
    pub attribute_definitions: Option<Vec<AttributeDefinition>>,
    pub billing_mode: Option<String>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<SseSpecification>,
    pub table_class: Option<String>,
    pub deletion_protection_enabled: Option<bool>,
    pub global_secondary_index_updates: Option<Vec<GlobalSecondaryIndexUpdate>>,
    pub replica_updates: Option<serde_json::Value>,
    pub on_demand_throughput: Option<OnDemandThroughput>,
    pub warm_throughput: Option<WarmThroughput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExpectedAttributeValue {
    pub value: Option<AttributeValue>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<String>,
    pub attribute_value_list: Option<Vec<AttributeValue>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValueUpdate {
    pub value: Option<AttributeValue>,
    pub action: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutItemInput {
    pub table_name: Option<String>,
    pub item: Option<Item>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    #[serde(default, deserialize_with = "crate::model::wire::expression_values")]
    pub expression_attribute_values: Option<Values>,
    pub expected: Option<std::collections::BTreeMap<String, ExpectedAttributeValue>>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetItemInput {
    pub table_name: Option<String>,
    pub key: Option<Item>,
    pub consistent_read: Option<bool>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    pub attributes_to_get: Option<Vec<String>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteItemInput {
    pub table_name: Option<String>,
    pub key: Option<Item>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    #[serde(default, deserialize_with = "crate::model::wire::expression_values")]
    pub expression_attribute_values: Option<Values>,
    pub expected: Option<std::collections::BTreeMap<String, ExpectedAttributeValue>>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateItemInput {
    pub table_name: Option<String>,
    pub key: Option<Item>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    #[serde(default, deserialize_with = "crate::model::wire::expression_values")]
    pub expression_attribute_values: Option<Values>,
    pub attribute_updates: Option<std::collections::BTreeMap<String, AttributeValueUpdate>>,
    pub expected: Option<std::collections::BTreeMap<String, ExpectedAttributeValue>>,
    pub conditional_operator: Option<String>,
    pub return_values: Option<String>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub return_values_on_condition_check_failure: Option<String>,
}

/// One legacy condition of KeyConditions, QueryFilter or ScanFilter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Condition {
    pub attribute_value_list: Option<Vec<AttributeValue>>,
    pub comparison_operator: Option<String>,
}

pub type Conditions = std::collections::BTreeMap<String, Condition>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueryInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub select: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub consistent_read: Option<bool>,
    pub key_conditions: Option<Conditions>,
    pub query_filter: Option<Conditions>,
    pub conditional_operator: Option<String>,
    pub scan_index_forward: Option<bool>,
    pub exclusive_start_key: Option<Item>,
    pub return_consumed_capacity: Option<String>,
    pub projection_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub key_condition_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    pub expression_attribute_values: Option<Values>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScanInput {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub attributes_to_get: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub select: Option<String>,
    pub scan_filter: Option<Conditions>,
    pub conditional_operator: Option<String>,
    pub exclusive_start_key: Option<Item>,
    pub return_consumed_capacity: Option<String>,
    pub total_segments: Option<i64>,
    pub segment: Option<i64>,
    pub projection_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    pub expression_attribute_values: Option<Values>,
    pub consistent_read: Option<bool>,
}

/// The per-table part of a BatchGetItem request.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeysAndAttributes {
    pub keys: Option<Vec<Item>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes_to_get: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent_read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression_attribute_names: Option<Names>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetItemInput {
    pub request_items: Option<std::collections::BTreeMap<String, KeysAndAttributes>>,
    pub return_consumed_capacity: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRequest {
    pub item: Option<Item>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteRequest {
    pub key: Option<Item>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WriteRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_request: Option<PutRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_request: Option<DeleteRequest>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchWriteItemInput {
    pub request_items: Option<std::collections::BTreeMap<String, Vec<WriteRequest>>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
}

/// The members shared by the four kinds of transactional write.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TransactAction {
    pub table_name: Option<String>,
    pub key: Option<Item>,
    pub item: Option<Item>,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
    pub expression_attribute_values: Option<Values>,
    pub return_values_on_condition_check_failure: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItem {
    pub condition_check: Option<TransactAction>,
    pub put: Option<TransactAction>,
    pub delete: Option<TransactAction>,
    pub update: Option<TransactAction>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TransactWriteItemsInput {
    pub transact_items: Option<Vec<TransactWriteItem>>,
    pub return_consumed_capacity: Option<String>,
    pub return_item_collection_metrics: Option<String>,
    pub client_request_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGet {
    pub table_name: Option<String>,
    pub key: Option<Item>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Option<Names>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItem {
    pub get: Option<TransactGet>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TransactGetItemsInput {
    pub transact_items: Option<Vec<TransactGetItem>>,
    pub return_consumed_capacity: Option<String>,
}

/// One entry of a TransactionCanceledException's `CancellationReasons`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancellationReason<'a> {
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<&'a Item>,
}

/// `ReturnValues` of PutItem, UpdateItem and DeleteItem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

impl WireEnum for ReturnValues {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("ALL_NEW", ReturnValues::AllNew),
        ("UPDATED_OLD", ReturnValues::UpdatedOld),
        ("ALL_OLD", ReturnValues::AllOld),
        ("NONE", ReturnValues::None),
        ("UPDATED_NEW", ReturnValues::UpdatedNew),
    ];
}

/// `ReturnConsumedCapacity` of every data-plane operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnConsumedCapacity {
    #[default]
    None,
    Total,
    Indexes,
}

impl WireEnum for ReturnConsumedCapacity {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("INDEXES", ReturnConsumedCapacity::Indexes),
        ("TOTAL", ReturnConsumedCapacity::Total),
        ("NONE", ReturnConsumedCapacity::None),
    ];
}

impl ReturnConsumedCapacity {
    /// What a request whose member is `value` asks for (an absent member
    /// asks for `NONE`); `None` outside the enumeration.
    pub fn requested(value: Option<&str>) -> Option<ReturnConsumedCapacity> {
        value.map_or(Some(ReturnConsumedCapacity::None), Self::from_wire)
    }
}

/// `ConditionalOperator`, which joins the legacy conditions of `Expected`,
/// `QueryFilter` and `ScanFilter`.
impl WireEnum for ConditionalOperator {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("OR", ConditionalOperator::Or),
        ("AND", ConditionalOperator::And),
    ];
}

/// `Select` of Query and Scan: which attributes the answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    AllAttributes,
    /// An index's projected attributes (the default when reading an index).
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

impl WireEnum for Select {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("SPECIFIC_ATTRIBUTES", Select::SpecificAttributes),
        ("COUNT", Select::Count),
        ("ALL_ATTRIBUTES", Select::AllAttributes),
        ("ALL_PROJECTED_ATTRIBUTES", Select::AllProjectedAttributes),
    ];
}

/// `StreamViewType` of a `StreamSpecification`: what each stream record
/// carries of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl WireEnum for StreamViewType {
    const VALUES: &'static [(&'static str, Self)] = &[
        ("NEW_IMAGE", StreamViewType::NewImage),
        ("OLD_IMAGE", StreamViewType::OldImage),
        ("NEW_AND_OLD_IMAGES", StreamViewType::NewAndOldImages),
        ("KEYS_ONLY", StreamViewType::KeysOnly),
    ];
}

impl StreamViewType {
    /// Whether records carry the old image and the new image.
    pub fn images(self) -> (bool, bool) {
        match self {
            StreamViewType::KeysOnly => (false, false),
            StreamViewType::NewImage => (false, true),
            StreamViewType::OldImage => (true, false),
            StreamViewType::NewAndOldImages => (true, true),
        }
    }
}
