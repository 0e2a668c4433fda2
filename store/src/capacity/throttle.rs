//! A throttling decision as the client sees it: the exception, its message
//! and its `ThrottlingReasons` (`<Table|Index><Read|Write><LimitType>` with
//! the ARN of the table or index).

use serde::Serialize;

use super::Access;
use crate::api::{ApiError, ErrorCode};

/// Why a limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitType {
    /// A provisioned table's or GSI's RCU/WCU.
    ProvisionedThroughputExceeded,
    /// An on-demand table's MaxRead/MaxWriteRequestUnits.
    MaxOnDemandThroughputExceeded,
    /// One partition key value over the per-partition maximum.
    KeyRangeThroughputExceeded,
}

impl LimitType {
    fn as_str(self) -> &'static str {
        match self {
            LimitType::ProvisionedThroughputExceeded => "ProvisionedThroughputExceeded",
            LimitType::MaxOnDemandThroughputExceeded => "MaxOnDemandThroughputExceeded",
            LimitType::KeyRangeThroughputExceeded => "KeyRangeThroughputExceeded",
        }
    }
}

/// The resource whose limit was hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Table { arn: String },
    Index { arn: String },
}

/// One throttling reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub resource: Resource,
    pub access: Access,
    pub limit: LimitType,
}

impl Reason {
    /// `TableReadProvisionedThroughputExceeded` and the like.
    pub fn code(&self) -> String {
        let resource = match self.resource {
            Resource::Table { .. } => "Table",
            Resource::Index { .. } => "Index",
        };
        let access = match self.access {
            Access::Read => "Read",
            Access::Write => "Write",
        };
        format!("{resource}{access}{}", self.limit.as_str())
    }

    fn arn(&self) -> &str {
        match &self.resource {
            Resource::Table { arn } | Resource::Index { arn } => arn,
        }
    }
}

/// A request refused for lack of capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub reason: Reason,
}

#[derive(Serialize)]
struct WireReason<'a> {
    reason: String,
    resource: &'a str,
}

const TABLE_MESSAGE: &str = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";
const INDEX_MESSAGE: &str = "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API";
const KEY_RANGE_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.";
const ON_DEMAND_MESSAGE: &str =
    "Throughput exceeds the maximum OnDemandThroughput configured on table or index";

impl Throttled {
    /// The code and message of a transaction's cancellation reason for
    /// the action this throttled.
    pub fn cancellation(&self) -> (&'static str, &'static str) {
        match (self.reason.limit, &self.reason.resource) {
            (LimitType::ProvisionedThroughputExceeded, Resource::Table { .. }) => {
                ("ProvisionedThroughputExceeded", TABLE_MESSAGE)
            }
            (LimitType::ProvisionedThroughputExceeded, Resource::Index { .. }) => {
                ("ProvisionedThroughputExceeded", INDEX_MESSAGE)
            }
            _ => ("ThrottlingError", KEY_RANGE_MESSAGE),
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(t: Throttled) -> ApiError {
        let reason = &t.reason;
        // ProvisionedThroughputExceededException spells the member
        // `ThrottlingReasons`; ThrottlingException `throttlingReasons`.
        let (code, message, member) = match (reason.limit, &reason.resource) {
            (LimitType::ProvisionedThroughputExceeded, Resource::Table { .. }) => (
                ErrorCode::ProvisionedThroughputExceeded,
                TABLE_MESSAGE,
                "ThrottlingReasons",
            ),
            (LimitType::ProvisionedThroughputExceeded, Resource::Index { .. }) => (
                ErrorCode::ProvisionedThroughputExceeded,
                INDEX_MESSAGE,
                "ThrottlingReasons",
            ),
            (LimitType::KeyRangeThroughputExceeded, _) => (
                ErrorCode::ProvisionedThroughputExceeded,
                KEY_RANGE_MESSAGE,
                "ThrottlingReasons",
            ),
            (LimitType::MaxOnDemandThroughputExceeded, _) => (
                ErrorCode::Throttling,
                ON_DEMAND_MESSAGE,
                "throttlingReasons",
            ),
        };
        let mut err = ApiError::new(code, message);
        let wire = [WireReason {
            reason: reason.code(),
            resource: reason.arn(),
        }];
        if let Ok(list) = serde_json::to_value(wire) {
            let mut extra = serde_json::Map::new();
            extra.insert(member.to_owned(), list);
            err.extra = Some(extra);
        }
        err
    }
}
