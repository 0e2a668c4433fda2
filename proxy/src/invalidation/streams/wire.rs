//! The DynamoDB and DynamoDB Streams requests the follower makes, the
//! members of their answers it reads, and how a failed call is classified.

use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::model::value::Item;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::invalidation::Interruption;
use crate::upstream::{HttpUpstream, Unreachable};

/// One request's time limit.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why one step of following failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum FollowError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("{op}: {kind}: {message}")]
    Api {
        op: &'static str,
        kind: String,
        message: String,
    },
    #[error("{op}: unexpected answer")]
    Decode {
        op: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl FollowError {
    /// Worth retrying the same request: the position in the stream is
    /// still good.
    pub(super) fn is_transient(&self) -> bool {
        match self {
            FollowError::Unreachable(_) => true,
            FollowError::Api { kind, .. } => {
                matches!(
                    kind.as_str(),
                    "LimitExceededException"
                        | "ThrottlingException"
                        | "ProvisionedThroughputExceededException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                ) || kind.starts_with("HTTP 5")
            }
            FollowError::Decode { .. } => false,
        }
    }

    /// The error type DynamoDB answered with, if it answered with one.
    pub(super) fn kind(&self) -> Option<&str> {
        match self {
            FollowError::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Why a follow that failed with this error stopped.
    pub(super) fn interruption(&self) -> Interruption {
        match self.kind() {
            Some("ExpiredIteratorException") => Interruption::ExpiredIterator,
            Some("TrimmedDataAccessException") => Interruption::Trimmed,
            Some("ResourceNotFoundException") => Interruption::StreamNotFound,
            _ if self.is_transient() => Interruption::Unavailable,
            _ => Interruption::Other,
        }
    }
}

/// DynamoDB's error body; the type's namespace (`...#`) is dropped.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

/// One call as the proxy itself (signed with its own signer).
pub(super) async fn call<T: DeserializeOwned>(
    endpoint: &HttpUpstream,
    op: &'static str,
    target: &'static str,
    body: &impl Serialize,
) -> Result<T, FollowError> {
    let body = serde_json::to_vec(body).map_err(|source| FollowError::Decode { op, source })?;
    let resp = endpoint
        .call(target, Bytes::from(body), CALL_TIMEOUT)
        .await?;
    if !resp.status.is_success() {
        let parsed: Option<ErrorBody> = serde_json::from_slice(&resp.body).ok();
        let (kind, message) = match parsed {
            Some(ErrorBody { kind, message }) => (
                kind.map(|k| k.rsplit('#').next().unwrap_or_default().to_owned())
                    .unwrap_or_else(|| format!("HTTP {}", resp.status.as_u16())),
                message.unwrap_or_default(),
            ),
            None => (
                format!("HTTP {}", resp.status.as_u16()),
                String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)]).into_owned(),
            ),
        };
        return Err(FollowError::Api { op, kind, message });
    }
    serde_json::from_slice(&resp.body).map_err(|source| FollowError::Decode { op, source })
}

// Only the members the follower uses.

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTablesInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_table_name: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTablesOutput {
    #[serde(default)]
    pub table_names: Vec<String>,
    pub last_evaluated_table_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TableNameInput<'a> {
    pub table_name: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeTableOutput {
    pub table: TableDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TableDescription {
    pub latest_stream_arn: Option<String>,
    pub stream_specification: Option<StreamSpecification>,
}

impl TableDescription {
    /// The stream's ARN, if the table's stream is enabled.
    pub fn enabled_stream(self) -> Option<String> {
        let enabled = self
            .stream_specification
            .as_ref()
            .is_some_and(|s| s.stream_enabled);
        self.latest_stream_arn.filter(|_| enabled)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamSpecification {
    #[serde(default)]
    pub stream_enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeStreamInput<'a> {
    pub stream_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_shard_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_filter: Option<ShardFilter<'a>>,
}

/// DescribeStream's `ShardFilter`: the children of one shard.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ShardFilter<'a> {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub shard_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeStreamOutput {
    pub stream_description: StreamDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamDescription {
    #[serde(default)]
    pub shards: Vec<Shard>,
    pub last_evaluated_shard_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Shard {
    pub shard_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetShardIteratorInput<'a> {
    pub stream_arn: &'a str,
    pub shard_id: &'a str,
    pub shard_iterator_type: &'static str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetShardIteratorOutput {
    pub shard_iterator: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetRecordsInput<'a> {
    pub shard_iterator: &'a str,
    pub limit: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetRecordsOutput {
    #[serde(default)]
    pub records: Vec<Record>,
    pub next_shard_iterator: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Record {
    pub dynamodb: Option<StreamRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamRecord {
    pub keys: Option<Item>,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
    pub approximate_creation_date_time: Option<Timestamp>,
}

/// Epoch seconds (DynamoDB, moto); anything else is ignored rather than
/// failing the record.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Timestamp {
    Seconds(f64),
    Other(IgnoredAny),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_records_decode_with_or_without_images() {
        let page: GetRecordsOutput = serde_json::from_str(
            r#"{"Records":[{"eventName":"MODIFY","dynamodb":{"Keys":{"p":{"S":"k"}},
                "NewImage":{"p":{"S":"k"},"v":{"N":"2"}},"OldImage":{"p":{"S":"k"},"v":{"N":"1"}},
                "ApproximateCreationDateTime":1.7e9,"SequenceNumber":"1"}},
               {"dynamodb":{"Keys":{"p":{"S":"j"}},"ApproximateCreationDateTime":"soon"}}],
               "NextShardIterator":null}"#,
        )
        .expect("decode");
        assert_eq!(page.records.len(), 2);
        assert!(page.next_shard_iterator.is_none());
        let first = page.records[0].dynamodb.as_ref().expect("record");
        assert!(first.new_image.is_some() && first.old_image.is_some());
        assert!(matches!(
            first.approximate_creation_date_time,
            Some(Timestamp::Seconds(_))
        ));
        let second = page.records[1].dynamodb.as_ref().expect("record");
        assert!(second.new_image.is_none());
    }

    #[test]
    fn failures_are_classified_by_error_type() {
        let api = |kind: &str| FollowError::Api {
            op: "GetRecords",
            kind: kind.to_owned(),
            message: String::new(),
        };
        assert_eq!(
            api("ExpiredIteratorException").interruption(),
            Interruption::ExpiredIterator
        );
        assert_eq!(
            api("TrimmedDataAccessException").interruption(),
            Interruption::Trimmed
        );
        assert_eq!(
            api("ResourceNotFoundException").interruption(),
            Interruption::StreamNotFound
        );
        assert_eq!(
            api("LimitExceededException").interruption(),
            Interruption::Unavailable
        );
        assert_eq!(
            api("AccessDeniedException").interruption(),
            Interruption::Other
        );
    }
}
