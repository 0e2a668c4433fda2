//! The wire model of the control-plane operations that sit next to the data
//! path: tagging, Time to Live and the account's limits and endpoints (the
//! Streams API's is in `streams`).
//!
//! Kept apart from `types` (the table and item operations) so that each
//! family's wire model can grow without touching the other's. Same rules as
//! there: every member optional, missing required members are reported by
//! the operation as ValidationExceptions, wrong JSON types by serde as
//! SerializationExceptions.

use serde::{Deserialize, Serialize};

use super::types::Tag;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    pub resource_arn: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOfResourceInput {
    pub resource_arn: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecification {
    pub enabled: Option<bool>,
    pub attribute_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveInput {
    pub table_name: Option<String>,
    pub time_to_live_specification: Option<TimeToLiveSpecification>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateTimeToLiveOutput<'a> {
    pub time_to_live_specification: TimeToLiveSpecificationOut<'a>,
}

/// The specification as UpdateTimeToLive echoes it (both members present).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveSpecificationOut<'a> {
    pub attribute_name: &'a str,
    pub enabled: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTimeToLiveOutput<'a> {
    pub time_to_live_description: TimeToLiveDescription<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLiveDescription<'a> {
    pub time_to_live_status: TimeToLiveStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeToLiveStatus {
    Enabled,
    Disabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOfResourceOutput<'a> {
    pub tags: Vec<TagOut<'a>>,
}

/// A tag as ListTagsOfResource answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagOut<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLimitsOutput {
    pub account_max_read_capacity_units: u64,
    pub account_max_write_capacity_units: u64,
    pub table_max_read_capacity_units: u64,
    pub table_max_write_capacity_units: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeEndpointsOutput<'a> {
    pub endpoints: [Endpoint<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint<'a> {
    pub address: &'a str,
    pub cache_period_in_minutes: u64,
}
