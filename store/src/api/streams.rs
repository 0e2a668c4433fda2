//! The DynamoDB Streams API's wire model: ListStreams, DescribeStream,
//! GetShardIterator and GetRecords, their inputs and outputs.
//!
//! Outputs borrow what they can from the store's catalog and change log;
//! they are encoded once, by `api::encode`. Member names are the Streams
//! API's own: PascalCase, except a record's lower-camel-case envelope.

use serde::{Deserialize, Serialize};

pub use super::tables::{KeySchemaElement, KeyType};
use crate::model::value::Item;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    pub table_name: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_stream_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    pub stream_arn: Option<String>,
    pub limit: Option<i64>,
    pub exclusive_start_shard_id: Option<String>,
    pub shard_filter: Option<ShardFilter>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    #[serde(rename = "Type")]
    pub filter_type: Option<String>,
    pub shard_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    pub stream_arn: Option<String>,
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub sequence_number: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput<'a> {
    pub streams: Vec<StreamSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_stream_arn: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSummary<'a> {
    pub stream_arn: String,
    pub table_name: &'a str,
    pub stream_label: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput<'a> {
    pub stream_description: StreamDescription<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription<'a> {
    pub stream_arn: String,
    pub stream_label: &'a str,
    pub stream_status: StreamStatus,
    pub stream_view_type: &'a str,
    /// Seconds since the epoch.
    pub creation_request_date_time: f64,
    pub table_name: &'a str,
    pub key_schema: Vec<KeySchemaElement<'a>>,
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Enabled,
    Disabled,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    pub sequence_number_range: SequenceNumberRange,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ending_sequence_number: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput<'a> {
    pub records: Vec<Record<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_shard_iterator: Option<String>,
}

/// One stream record.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    pub aws_region: &'static str,
    pub dynamodb: StreamRecord<'a>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub event_name: EventName,
    pub event_source: &'static str,
    pub event_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<Identity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

/// The change itself: keys, images as the stream's view type shows them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamRecord<'a> {
    /// Seconds since the epoch.
    pub approximate_creation_date_time: u64,
    pub keys: &'a Item,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_image: Option<&'a Item>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_image: Option<&'a Item>,
    pub sequence_number: String,
    pub size_bytes: usize,
    pub stream_view_type: &'a str,
}

/// Who made a change: present only for DynamoDB's own (TTL) deletions.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identity {
    pub principal_id: &'static str,
    #[serde(rename = "Type")]
    pub kind: &'static str,
}
