//! `Operation`: what a request asks for, parsed once from `X-Amz-Target`.

/// Target prefix of the DynamoDB API.
pub const DYNAMODB_PREFIX: &str = "DynamoDB_20120810.";
/// Target prefix of the DynamoDB Streams API (served on the same port).
pub const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810.";
/// Target prefix of Ferrodyn's own change-feed extension (same port).
pub const FEED_PREFIX: &str = "FerrodynFeed_20240101.";

macro_rules! operations {
    ($( $variant:ident => $prefix:ident $name:literal ),* $(,)?) => {
        /// Every operation Ferrodyn knows by name, implemented or not.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $( $variant, )*
        }

        impl Operation {
            /// Parse an `X-Amz-Target` header value.
            pub fn from_target(target: &str) -> Option<Operation> {
                $(
                    if let Some(rest) = target.strip_prefix($prefix) {
                        if rest == $name {
                            return Some(Operation::$variant);
                        }
                    }
                )*
                None
            }

            /// The operation's name as it appears after the target prefix.
            pub fn name(self) -> &'static str {
                match self {
                    $( Operation::$variant => $name, )*
                }
            }
        }
    };
}

operations! {
    BatchExecuteStatement => DYNAMODB_PREFIX "BatchExecuteStatement",
    BatchGetItem => DYNAMODB_PREFIX "BatchGetItem",
    BatchWriteItem => DYNAMODB_PREFIX "BatchWriteItem",
    CreateBackup => DYNAMODB_PREFIX "CreateBackup",
    CreateGlobalTable => DYNAMODB_PREFIX "CreateGlobalTable",
    CreateTable => DYNAMODB_PREFIX "CreateTable",
    DeleteBackup => DYNAMODB_PREFIX "DeleteBackup",
    DeleteItem => DYNAMODB_PREFIX "DeleteItem",
    DeleteResourcePolicy => DYNAMODB_PREFIX "DeleteResourcePolicy",
    DeleteTable => DYNAMODB_PREFIX "DeleteTable",
    DescribeBackup => DYNAMODB_PREFIX "DescribeBackup",
    DescribeContinuousBackups => DYNAMODB_PREFIX "DescribeContinuousBackups",
    DescribeContributorInsights => DYNAMODB_PREFIX "DescribeContributorInsights",
    DescribeEndpoints => DYNAMODB_PREFIX "DescribeEndpoints",
    DescribeExport => DYNAMODB_PREFIX "DescribeExport",
    DescribeGlobalTable => DYNAMODB_PREFIX "DescribeGlobalTable",
    DescribeImport => DYNAMODB_PREFIX "DescribeImport",
    DescribeKinesisStreamingDestination => DYNAMODB_PREFIX "DescribeKinesisStreamingDestination",
    DescribeLimits => DYNAMODB_PREFIX "DescribeLimits",
    DescribeTable => DYNAMODB_PREFIX "DescribeTable",
    DescribeTableReplicaAutoScaling => DYNAMODB_PREFIX "DescribeTableReplicaAutoScaling",
    DescribeTimeToLive => DYNAMODB_PREFIX "DescribeTimeToLive",
    ExecuteStatement => DYNAMODB_PREFIX "ExecuteStatement",
    ExecuteTransaction => DYNAMODB_PREFIX "ExecuteTransaction",
    ExportTableToPointInTime => DYNAMODB_PREFIX "ExportTableToPointInTime",
    GetItem => DYNAMODB_PREFIX "GetItem",
    GetResourcePolicy => DYNAMODB_PREFIX "GetResourcePolicy",
    ImportTable => DYNAMODB_PREFIX "ImportTable",
    ListBackups => DYNAMODB_PREFIX "ListBackups",
    ListContributorInsights => DYNAMODB_PREFIX "ListContributorInsights",
    ListExports => DYNAMODB_PREFIX "ListExports",
    ListGlobalTables => DYNAMODB_PREFIX "ListGlobalTables",
    ListImports => DYNAMODB_PREFIX "ListImports",
    ListTables => DYNAMODB_PREFIX "ListTables",
    ListTagsOfResource => DYNAMODB_PREFIX "ListTagsOfResource",
    PutItem => DYNAMODB_PREFIX "PutItem",
    PutResourcePolicy => DYNAMODB_PREFIX "PutResourcePolicy",
    Query => DYNAMODB_PREFIX "Query",
    RestoreTableFromBackup => DYNAMODB_PREFIX "RestoreTableFromBackup",
    RestoreTableToPointInTime => DYNAMODB_PREFIX "RestoreTableToPointInTime",
    Scan => DYNAMODB_PREFIX "Scan",
    TagResource => DYNAMODB_PREFIX "TagResource",
    TransactGetItems => DYNAMODB_PREFIX "TransactGetItems",
    TransactWriteItems => DYNAMODB_PREFIX "TransactWriteItems",
    UntagResource => DYNAMODB_PREFIX "UntagResource",
    UpdateContinuousBackups => DYNAMODB_PREFIX "UpdateContinuousBackups",
    UpdateContributorInsights => DYNAMODB_PREFIX "UpdateContributorInsights",
    UpdateGlobalTable => DYNAMODB_PREFIX "UpdateGlobalTable",
    UpdateGlobalTableSettings => DYNAMODB_PREFIX "UpdateGlobalTableSettings",
    UpdateItem => DYNAMODB_PREFIX "UpdateItem",
    UpdateKinesisStreamingDestination => DYNAMODB_PREFIX "UpdateKinesisStreamingDestination",
    UpdateTable => DYNAMODB_PREFIX "UpdateTable",
    UpdateTableReplicaAutoScaling => DYNAMODB_PREFIX "UpdateTableReplicaAutoScaling",
    UpdateTimeToLive => DYNAMODB_PREFIX "UpdateTimeToLive",
    DescribeStream => STREAMS_PREFIX "DescribeStream",
    GetRecords => STREAMS_PREFIX "GetRecords",
    GetShardIterator => STREAMS_PREFIX "GetShardIterator",
    ListStreams => STREAMS_PREFIX "ListStreams",
    GetChanges => FEED_PREFIX "GetChanges",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_targets_and_rejects_others() {
        assert_eq!(
            Operation::from_target("DynamoDB_20120810.PutItem"),
            Some(Operation::PutItem)
        );
        assert_eq!(
            Operation::from_target("DynamoDBStreams_20120810.GetRecords"),
            Some(Operation::GetRecords)
        );
        assert_eq!(Operation::from_target("DynamoDB_20120810.GetRecords"), None);
        assert_eq!(Operation::from_target("DynamoDB_20120810.Nope"), None);
        assert_eq!(Operation::from_target("PutItem"), None);
    }
}
